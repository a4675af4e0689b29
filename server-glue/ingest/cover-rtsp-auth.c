/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-rtsp-auth.h"

#include <string.h>

#include "cover-ingest-private.h"
#include "cover-push-factory.h"

#define COVER_TYPE_RTSP_AUTH (cover_rtsp_auth_get_type ())
G_DECLARE_FINAL_TYPE (
    CoverRtspAuth, cover_rtsp_auth, COVER, RTSP_AUTH, GstRTSPAuth);

struct _CoverRtspAuth
{
  GstRTSPAuth parent;
  CoverAppTable *apps;
  CoverRtspAuthAccepted accepted;
  gpointer user_data;
};

G_DEFINE_TYPE (CoverRtspAuth, cover_rtsp_auth, GST_TYPE_RTSP_AUTH);

#define REALM "coversnap"
/* a token is far shorter; bounds what is decoded */
#define MAX_CREDENTIALS 1024

static gboolean
refuse (GstRTSPContext *ctx, GstRTSPStatusCode code)
{
  gst_rtsp_message_init_response (
      ctx->response, code, gst_rtsp_status_as_text (code), ctx->request);
  /* pushers that cannot add a query give the token as a password */
  if (code == GST_RTSP_STS_UNAUTHORIZED)
    gst_rtsp_message_add_header (ctx->response, GST_RTSP_HDR_WWW_AUTHENTICATE,
        "Basic realm=\"" REALM "\"");
  gst_rtsp_client_send_message (ctx->client, ctx->session, ctx->response);
  return FALSE;
}

/* The value of token= in the URL's query, up to the next '&' or '/':
 * ffmpeg (and libavformat-based firmware) appends a stream's control path
 * to the whole URL, query included ("?token=T/streamid=0") (transfer full) */
static gchar *
token_of_query (const gchar *query)
{
  const gchar *p;

  for (p = query; p && *p; p += strcspn (p, "&"), p += *p == '&') {
    if (g_str_has_prefix (p, "token="))
      return g_strndup (p + 6, strcspn (p + 6, "&/"));
  }
  return NULL;
}

/* Authorization: Basic base64(user:password), the password being the token
 * (the user name is not used: anything, or the client id); a user name
 * that is itself a token with an empty password is taken too
 * (transfer full) */
static gchar *
token_of_basic (const gchar *header)
{
  g_autofree guchar *plain = NULL;
  g_autofree gchar *text = NULL;
  const gchar *colon;
  gsize len = 0;

  if (!header || g_ascii_strncasecmp (header, "Basic ", 6) != 0 ||
      strlen (header) > MAX_CREDENTIALS)
    return NULL;
  plain = g_base64_decode (header + 6, &len);
  if (!plain || !len)
    return NULL;
  text = g_strndup ((const gchar *) plain, len);
  colon = strchr (text, ':');
  if (!colon)
    return NULL;
  if (colon[1])
    return g_strdup (colon + 1);
  return g_strndup (text, colon - text);
}

/* the token of the request: the query, else the Basic credentials, else
 * NULL (transfer full) */
static gchar *
token_of (const CoverRtspAuthRequest *req)
{
  gchar *token = token_of_query (req->uri->query);
  gchar *header = NULL;

  if (token)
    return token;
  if (req->request &&
      gst_rtsp_message_get_header (
          req->request, GST_RTSP_HDR_AUTHORIZATION, &header, 0) == GST_RTSP_OK)
    return token_of_basic (header);
  return NULL;
}

/* an ANNOUNCE whose SDP has no video we can make covers of: 415 */
static GstRTSPStatusCode
check_sdp (const CoverRtspAuthRequest *req, guint32 cid)
{
  g_autofree gchar *offered = NULL;
  guint8 *data = NULL;
  guint size = 0, n_media = 0;

  if (req->request)
    gst_rtsp_message_get_body (req->request, &data, &size);
  if (cover_push_factory_probe_sdp (data, size, &offered, &n_media) !=
          COVER_CODEC_NONE &&
      n_media <= COVER_PUSH_MAX_MEDIA)
    return GST_RTSP_STS_OK;
  g_message ("ANNOUNCE " COVER_INGEST_MOUNT_PATH "/%u from %s refused (415): "
             "no H.264, H.265 or JPEG video among %u media (offered: %s)",
      cid, req->peer ? req->peer : "?", n_media, offered);
  return GST_RTSP_STS_UNSUPPORTED_MEDIA_TYPE;
}

static GQuark
session_owner_quark (void)
{
  return g_quark_from_static_string ("cover-rtsp-session-owner");
}

static GQuark
client_cids_quark (void)
{
  return g_quark_from_static_string ("cover-rtsp-client-cids");
}

static void
weak_ref_free (gpointer ref)
{
  g_weak_ref_clear (ref);
  g_free (ref);
}

void
cover_rtsp_auth_set_session_owner (
    GstRTSPSession *session, GstRTSPClient *client)
{
  GWeakRef *ref;

  g_return_if_fail (GST_IS_RTSP_SESSION (session));
  g_return_if_fail (GST_IS_RTSP_CLIENT (client));

  ref = g_new0 (GWeakRef, 1);
  g_weak_ref_init (ref, client);
  g_object_set_qdata_full (
      G_OBJECT (session), session_owner_quark (), ref, weak_ref_free);
}

gboolean
cover_rtsp_auth_session_is_owned_by (
    GstRTSPSession *session, GstRTSPClient *client)
{
  GWeakRef *ref;
  g_autoptr (GObject) owner = NULL;

  g_return_val_if_fail (GST_IS_RTSP_SESSION (session), FALSE);

  ref = g_object_get_qdata (G_OBJECT (session), session_owner_quark ());
  owner = ref ? g_weak_ref_get (ref) : NULL;
  return owner && owner == (GObject *) client;
}

static GstRTSPFilterResult
unwatch_one (GstRTSPClient *client, GstRTSPSession *sess, gpointer session)
{
  return sess == session ? GST_RTSP_FILTER_REMOVE : GST_RTSP_FILTER_KEEP;
}

void
cover_rtsp_auth_unwatch_foreign (GstRTSPClient *client, GstRTSPSession *session)
{
  gboolean drop_backlog = FALSE;

  g_return_if_fail (GST_IS_RTSP_CLIENT (client));

  if (!session || cover_rtsp_auth_session_is_owned_by (session, client))
    return;
  /* With drop-backlog (the default, which the ingest keeps) a REMOVE only
   * ends the client's watch of the session; without it gst-rtsp-server
   * would unlink the session's media right here, the very harm avoided:
   * then the watch stays, and the close-time drop_session() in
   * cover-ingest.c is all that is left. */
  g_object_get (client, "drop-backlog", &drop_backlog, NULL);
  if (!drop_backlog) {
    g_warning ("RTSP client without drop-backlog: cannot unwatch a session "
               "it does not own");
    return;
  }
  gst_rtsp_client_session_filter (client, unwatch_one, session);
}

/* the client ids a token was accepted for on @client's connection */
static void
client_add_cid (GstRTSPClient *client, guint32 cid)
{
  GHashTable *cids =
      g_object_get_qdata (G_OBJECT (client), client_cids_quark ());

  if (!cids) {
    cids = g_hash_table_new (g_direct_hash, g_direct_equal);
    g_object_set_qdata_full (G_OBJECT (client), client_cids_quark (), cids,
        (GDestroyNotify) g_hash_table_unref);
  }
  g_hash_table_add (cids, GUINT_TO_POINTER (cid));
}

/* A request without a token: on the connection that presented one only.
 * The session id is not logged (it is the session's only secret). */
static GstRTSPStatusCode
check_without_token (
    const CoverRtspAuthRequest *req, const gchar *method, guint32 cid)
{
  const gchar *peer = req->peer ? req->peer : "?";

  if (req->has_session) {
    if (req->owns_session)
      return GST_RTSP_STS_OK;
    g_message ("%s " COVER_INGEST_MOUNT_PATH "/%u from %s refused (454): no "
               "token, and the session it names is not this connection's",
        method, cid, peer);
    return GST_RTSP_STS_SESSION_NOT_FOUND;
  }
  if (req->method == GST_RTSP_OPTIONS ||
      (req->accepted_cids &&
          g_hash_table_contains (req->accepted_cids, GUINT_TO_POINTER (cid))))
    return GST_RTSP_STS_OK;
  g_message ("%s " COVER_INGEST_MOUNT_PATH "/%u from %s refused (401): no "
             "token, and none was accepted on this connection",
      method, cid, peer);
  return GST_RTSP_STS_UNAUTHORIZED;
}

GstRTSPStatusCode
cover_rtsp_auth_decide (CoverAppTable *apps, const CoverRtspAuthRequest *req,
    gint64 now, guint32 *cid, gboolean *token_accepted)
{
  const gchar *method;
  g_autofree gchar *token = NULL;
  g_autofree gchar *redacted = NULL;
  CoverTokenStatus status;
  gboolean announce;
  GstRTSPStatusCode code;

  g_return_val_if_fail (apps != NULL, GST_RTSP_STS_INTERNAL_SERVER_ERROR);
  g_return_val_if_fail (req != NULL, GST_RTSP_STS_INTERNAL_SERVER_ERROR);
  g_return_val_if_fail (cid != NULL, GST_RTSP_STS_INTERNAL_SERVER_ERROR);
  g_return_val_if_fail (
      token_accepted != NULL, GST_RTSP_STS_INTERNAL_SERVER_ERROR);

  *cid = 0;
  *token_accepted = FALSE;
  /* OPTIONS * and the like */
  if (!req->uri)
    return GST_RTSP_STS_OK;

  method = req->method ? gst_rtsp_method_as_text (req->method) : "?";
  announce = req->method == GST_RTSP_ANNOUNCE;
  if (!cover_ingest_cid_from_path (req->uri->abspath, !announce, cid)) {
    g_message ("%s %s: not " COVER_INGEST_MOUNT_PATH "/<client_id>", method,
        req->uri->abspath);
    return GST_RTSP_STS_NOT_FOUND;
  }
  token = token_of (req);
  if (!token && !announce && req->method != GST_RTSP_DESCRIBE)
    return check_without_token (req, method, *cid);

  status = cover_token_authorize (apps, token, *cid, req->peer, now, 0, NULL);
  if (status != COVER_TOKEN_OK) {
    redacted = cover_token_redact (token);
    g_message ("%s " COVER_INGEST_MOUNT_PATH "/%u from %s: token %s refused: "
               "%s",
        method, *cid, req->peer ? req->peer : "?",
        redacted ? redacted : "(none)", cover_token_status_to_string (status));
    return cover_token_status_is_forbidden (status) ? GST_RTSP_STS_FORBIDDEN
                                                    : GST_RTSP_STS_UNAUTHORIZED;
  }
  if (announce && (code = check_sdp (req, *cid)) != GST_RTSP_STS_OK)
    return code;
  *token_accepted = TRUE;
  return GST_RTSP_STS_OK;
}

static gboolean
cover_rtsp_auth_check (
    GstRTSPAuth *auth, GstRTSPContext *ctx, const gchar *check)
{
  CoverRtspAuth *self = COVER_RTSP_AUTH (auth);
  CoverRtspAuthRequest req = { 0 };
  GstRTSPConnection *conn;
  GstRTSPStatusCode code;
  gboolean token_accepted;
  guint32 cid;

  /* first, whatever the request and the decision: the session it names is
   * already watched by this connection (see cover_rtsp_auth_unwatch_foreign)
   */
  if (ctx->client)
    cover_rtsp_auth_unwatch_foreign (ctx->client, ctx->session);
  if (strcmp (check, GST_RTSP_AUTH_CHECK_URL) != 0)
    return TRUE;

  conn = ctx->client ? gst_rtsp_client_get_connection (ctx->client) : NULL;
  req.method = ctx->method;
  req.uri = ctx->uri;
  req.request = ctx->request;
  req.peer = conn ? gst_rtsp_connection_get_ip (conn) : NULL;
  req.has_session = ctx->session != NULL;
  req.owns_session = ctx->session && ctx->client &&
      cover_rtsp_auth_session_is_owned_by (ctx->session, ctx->client);
  req.accepted_cids = ctx->client
      ? g_object_get_qdata (G_OBJECT (ctx->client), client_cids_quark ())
      : NULL;
  code = cover_rtsp_auth_decide (self->apps, &req,
      g_get_real_time () / G_USEC_PER_SEC, &cid, &token_accepted);
  if (code != GST_RTSP_STS_OK)
    return refuse (ctx, code);
  if (token_accepted) {
    client_add_cid (ctx->client, cid);
    if (ctx->method == GST_RTSP_ANNOUNCE && self->accepted)
      self->accepted (cid, self->user_data);
  }
  return TRUE;
}

static void
cover_rtsp_auth_class_init (CoverRtspAuthClass *klass)
{
  GST_RTSP_AUTH_CLASS (klass)->check = cover_rtsp_auth_check;
}

static void
cover_rtsp_auth_init (CoverRtspAuth *auth)
{
}

GstRTSPAuth *
cover_rtsp_auth_new (
    CoverAppTable *apps, CoverRtspAuthAccepted accepted, gpointer user_data)
{
  CoverRtspAuth *auth;

  g_return_val_if_fail (apps != NULL, NULL);

  auth = g_object_new (COVER_TYPE_RTSP_AUTH, NULL);
  auth->apps = apps;
  auth->accepted = accepted;
  auth->user_data = user_data;
  return GST_RTSP_AUTH (auth);
}
