/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_SESSION_POOL_H__
#define __COVER_SESSION_POOL_H__

#include <gst/rtsp-server/rtsp-server.h>

G_BEGIN_DECLS

/* A GstRTSPSessionPool whose session ids come from the kernel's CSPRNG
 * (getrandom, 128 bits as 32 hex digits) instead of GLib's PRNG, whose
 * state a client can learn from other ids it sees, holding at most 16384
 * sessions (transfer full). */
GstRTSPSessionPool *cover_session_pool_new (void);

G_END_DECLS

#endif /* __COVER_SESSION_POOL_H__ */
