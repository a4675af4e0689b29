/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_RTSP_AUTH_H__
#define __COVER_RTSP_AUTH_H__

#include <gst/rtsp-server/rtsp-server.h>

#include "cover-token.h"

G_BEGIN_DECLS

/* Called for each ANNOUNCE whose token is accepted, before the server looks
 * its mount point up. */
typedef void (*CoverRtspAuthAccepted) (guint32 client_id, gpointer user_data);

/* RTSP authorization by device tokens, with the policy HTTP uses
 * (cover_token_authorize()): the path must be /live/<client_id> (404), the
 * token in ?token= is refused with 401 when missing or untrusted and with
 * 403 when it may not push there (another device, another address).
 * ANNOUNCE and DESCRIBE must carry a token; the later requests of a push
 * (SETUP, RECORD, TEARDOWN) act on the session the ANNOUNCE made, so their
 * token is checked only when there is one.
 * @apps is not taken and must outlive the auth (transfer full). */
GstRTSPAuth *cover_rtsp_auth_new (
    CoverAppTable *apps, CoverRtspAuthAccepted accepted, gpointer user_data);

G_END_DECLS

#endif /* __COVER_RTSP_AUTH_H__ */
