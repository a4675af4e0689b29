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
 * ANNOUNCE and DESCRIBE must carry a token; a later request of a push
 * (SETUP, RECORD, TEARDOWN, ...) without one is taken only on the
 * connection whose token was accepted: one naming a session only on the
 * connection that created the session (454 on any other: a session id is
 * no credential), one without a session only on a connection whose token
 * was accepted for that client id (401 on any other).  A request with a
 * valid token is taken from any connection.
 * @apps is not taken and must outlive the auth (transfer full). */
GstRTSPAuth *cover_rtsp_auth_new (
    CoverAppTable *apps, CoverRtspAuthAccepted accepted, gpointer user_data);
/* Records @client as the creator of @session (the client's "new-session"):
 * the only connection whose requests may name it without a token. */
void cover_rtsp_auth_set_session_owner (
    GstRTSPSession *session, GstRTSPClient *client);
/* Whether @client created @session. */
gboolean cover_rtsp_auth_session_is_owned_by (
    GstRTSPSession *session, GstRTSPClient *client);
/* Makes @client stop watching @session (when not NULL) unless @client
 * created it.  gst-rtsp-server (1.22) adds any session a message names to
 * the connection's watched sessions before any hook runs (handle_request:
 * the pool lookup and client_watch_session, then the auth check;
 * handle_response: the same, with no check at all), and a closing
 * connection unlinks the media of every session it watches
 * (client_watch_notify, cleanup_session) before "closed" is emitted.  So a
 * connection that merely named a device's session would end it by closing.
 * The auth's check calls this first, for every request, whatever it then
 * decides; the ingest's client class calls it for every response a client
 * sends.  A session is thus watched by its creator only.
 * Why there: no hook runs before the lookup (handle_request is no vfunc,
 * the pool's find is not virtual, so a foreign lookup cannot be made to
 * miss) nor on the close path (client_watch_notify); the auth check is the
 * first code of ours after the lookup, on the thread that reads the
 * connection, so its close cannot come in between. */
void cover_rtsp_auth_unwatch_foreign (
    GstRTSPClient *client, GstRTSPSession *session);

/* One request as the auth's decision sees it, taken from the request's
 * context by the auth, or built from raw bytes without any server
 * (tests/fuzz/fuzz-rtsp-auth.c). */
typedef struct
{
  GstRTSPMethod method;
  const GstRTSPUrl *uri;   /* NULL for "*" */
  GstRTSPMessage *request; /* its Authorization header and body, or NULL */
  const gchar *peer;       /* the connection's address, or NULL */
  gboolean has_session;    /* it names a live session ... */
  gboolean owns_session;   /* ... that this connection created */
  /* the client ids a token was accepted for on this connection (keys
   * GUINT_TO_POINTER), or NULL */
  GHashTable *accepted_cids;
} CoverRtspAuthRequest;

/* The decision of the auth described above, on @req at @now (Unix
 * seconds): GST_RTSP_STS_OK to take it, else the status to refuse it with
 * (404, 401, 403, 415, 454; logged, never with a session id or a token's
 * digest).  @cid is set to the request's client id when its path has one;
 * @token_accepted to whether a token was accepted for it (the connection's
 * to remember; an ANNOUNCE's to mount).  Pure but for the log. */
GstRTSPStatusCode cover_rtsp_auth_decide (CoverAppTable *apps,
    const CoverRtspAuthRequest *req, gint64 now, guint32 *cid,
    gboolean *token_accepted);

G_END_DECLS

#endif /* __COVER_RTSP_AUTH_H__ */
