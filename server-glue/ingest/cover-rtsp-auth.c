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
token_of (GstRTSPContext *ctx)
{
  gchar *token = token_of_query (ctx->uri->query);
  gchar *header = NULL;

  if (token)
    return token;
  if (ctx->request &&
      gst_rtsp_message_get_header (
          ctx->request, GST_RTSP_HDR_AUTHORIZATION, &header, 0) == GST_RTSP_OK)
    return token_of_basic (header);
  return NULL;
}

/* an ANNOUNCE whose SDP has no video we can make covers of: 415 */
static gboolean
check_sdp (GstRTSPContext *ctx, guint32 cid, const gchar *peer)
{
  g_autofree gchar *offered = NULL;
  guint8 *data = NULL;
  guint size = 0, n_media = 0;

  gst_rtsp_message_get_body (ctx->request, &data, &size);
  if (cover_push_factory_probe_sdp (data, size, &offered, &n_media) !=
          COVER_CODEC_NONE &&
      n_media <= COVER_PUSH_MAX_MEDIA)
    return TRUE;
  g_message ("ANNOUNCE " COVER_INGEST_MOUNT_PATH "/%u from %s refused (415): "
             "no H.264, H.265 or JPEG video among %u media (offered: %s)",
      cid, peer ? peer : "?", n_media, offered);
  return refuse (ctx, GST_RTSP_STS_UNSUPPORTED_MEDIA_TYPE);
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

static gboolean
client_has_cid (GstRTSPClient *client, guint32 cid)
{
  GHashTable *cids =
      g_object_get_qdata (G_OBJECT (client), client_cids_quark ());

  return cids && g_hash_table_contains (cids, GUINT_TO_POINTER (cid));
}

/* A request without a token: on the connection that presented one only.
 * The session id is not logged (it is the session's only secret). */
static gboolean
check_without_token (
    GstRTSPContext *ctx, const gchar *method, guint32 cid, const gchar *peer)
{
  if (ctx->session) {
    if (cover_rtsp_auth_session_is_owned_by (ctx->session, ctx->client))
      return TRUE;
    g_message ("%s " COVER_INGEST_MOUNT_PATH "/%u from %s refused (454): no "
               "token, and the session it names is not this connection's",
        method, cid, peer ? peer : "?");
    return refuse (ctx, GST_RTSP_STS_SESSION_NOT_FOUND);
  }
  if (ctx->method == GST_RTSP_OPTIONS || client_has_cid (ctx->client, cid))
    return TRUE;
  g_message ("%s " COVER_INGEST_MOUNT_PATH "/%u from %s refused (401): no "
             "token, and none was accepted on this connection",
      method, cid, peer ? peer : "?");
  return refuse (ctx, GST_RTSP_STS_UNAUTHORIZED);
}

static gboolean
cover_rtsp_auth_check (
    GstRTSPAuth *auth, GstRTSPContext *ctx, const gchar *check)
{
  CoverRtspAuth *self = COVER_RTSP_AUTH (auth);
  const gchar *method;
  g_autofree gchar *token = NULL;
  g_autofree gchar *redacted = NULL;
  CoverTokenStatus status;
  const gchar *peer;
  guint32 cid;
  gboolean announce;

  /* first, whatever the request and the decision: the session it names is
   * already watched by this connection (see cover_rtsp_auth_unwatch_foreign)
   */
  if (ctx->client)
    cover_rtsp_auth_unwatch_foreign (ctx->client, ctx->session);
  if (strcmp (check, GST_RTSP_AUTH_CHECK_URL) != 0)
    return TRUE;
  /* OPTIONS * and the like */
  if (!ctx->uri)
    return TRUE;

  method = ctx->method ? gst_rtsp_method_as_text (ctx->method) : "?";
  announce = ctx->method == GST_RTSP_ANNOUNCE;
  if (!cover_ingest_cid_from_path (ctx->uri->abspath, !announce, &cid)) {
    g_message ("%s %s: not " COVER_INGEST_MOUNT_PATH "/<client_id>", method,
        ctx->uri->abspath);
    return refuse (ctx, GST_RTSP_STS_NOT_FOUND);
  }
  token = token_of (ctx);
  peer =
      gst_rtsp_connection_get_ip (gst_rtsp_client_get_connection (ctx->client));
  if (!token && !announce && ctx->method != GST_RTSP_DESCRIBE)
    return check_without_token (ctx, method, cid, peer);

  status = cover_token_authorize (self->apps, token, cid, peer,
      g_get_real_time () / G_USEC_PER_SEC, 0, NULL);
  if (status != COVER_TOKEN_OK) {
    redacted = cover_token_redact (token);
    g_message ("%s " COVER_INGEST_MOUNT_PATH "/%u from %s: token %s refused: "
               "%s",
        method, cid, peer ? peer : "?", redacted ? redacted : "(none)",
        cover_token_status_to_string (status));
    return refuse (ctx,
        cover_token_status_is_forbidden (status) ? GST_RTSP_STS_FORBIDDEN
                                                 : GST_RTSP_STS_UNAUTHORIZED);
  }
  if (announce && !check_sdp (ctx, cid, peer))
    return FALSE;
  client_add_cid (ctx->client, cid);
  if (announce && self->accepted)
    self->accepted (cid, self->user_data);
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
