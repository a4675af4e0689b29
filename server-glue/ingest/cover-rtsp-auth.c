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

static gboolean
refuse (GstRTSPContext *ctx, GstRTSPStatusCode code)
{
  gst_rtsp_message_init_response (
      ctx->response, code, gst_rtsp_status_as_text (code), ctx->request);
  gst_rtsp_client_send_message (ctx->client, ctx->session, ctx->response);
  return FALSE;
}

/* the value of token= in the URL's query, or NULL (transfer full) */
static gchar *
token_of (const GstRTSPUrl *uri)
{
  g_autoptr (GHashTable) params = NULL;

  if (!uri->query)
    return NULL;
  params = g_uri_parse_params (uri->query, -1, "&", G_URI_PARAMS_NONE, NULL);
  return params ? g_strdup (g_hash_table_lookup (params, "token")) : NULL;
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
  token = token_of (ctx->uri);
  if (!token && !announce && ctx->method != GST_RTSP_DESCRIBE)
    return TRUE;

  peer =
      gst_rtsp_connection_get_ip (gst_rtsp_client_get_connection (ctx->client));
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
