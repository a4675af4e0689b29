/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The HTTP side of coversnap, on libsoup 3.  Every request is answered on
 * the main context of the server that received it; what could block (a
 * resize: decode, scale, encode; an upload: write, fsync, rename) runs in a
 * small worker pool while the message is paused, and the answer is handed
 * back to that main context.  Shared state (sources, the resize cache,
 * metrics) is locked, so any number of servers on any number of threads can
 * share one service. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-service.h"

#include <errno.h>
#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/socket.h>

#include "cover-image.h"
#include "cover-token.h"
#include "coverjpeg.h"

G_DEFINE_QUARK (cover-service-error-quark, cover_service_error);

#define WORKERS 2
#define RESIZE_QUALITY 85
#define MAX_RESIZE_SOURCE_PIXELS (64 * 1024 * 1024)

typedef enum
{
  ENDPOINT_COVER,
  ENDPOINT_UPLOAD,
  ENDPOINT_HEALTH,
  ENDPOINT_METRICS,
  ENDPOINT_OTHER,
} Endpoint;

static const gchar *endpoint_names[] = { "cover", "upload", "healthz",
  "metrics", "other" };

#define N_ENDPOINTS G_N_ELEMENTS (endpoint_names)
/* the statuses the service answers; anything else is counted as the last */
static const guint counted_statuses[] = { 200, 304, 400, 401, 403, 404, 405,
  406, 413, 500, 0 };

#define N_STATUSES G_N_ELEMENTS (counted_statuses)
static const gchar *source_names[] = { "live", "record", "upload", "remote",
  "none" };

#define N_SOURCES G_N_ELEMENTS (source_names)
G_STATIC_ASSERT (N_ENDPOINTS == 5 && N_STATUSES == 11 && N_SOURCES == 5);

typedef struct
{
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *server;
  GSocket *socket;
  GError *error;
  gboolean ready;
} HttpThread;

struct _CoverService
{
  CoverConfig *config;
  GPtrArray *sources; /* CoverSource*, in fallback order */
  GThreadPool *workers;

  GMutex lock; /* resize cache, metrics, threads' startup */
  GCond cond;
  GHashTable *resized;        /* "etag WxH" → CoverPicture */
  GQueue resized_order;       /* keys, oldest first */
  guint64 requests[5][11][5]; /* endpoint, status, source; atomic */
  GHashTable *token_failures; /* reason → count */
  guint64 upload_bytes;
  guint64 live_images;

  GPtrArray *threads; /* HttpThread* */
  guint16 port;
};

static GPrivate worker_encoder =
    G_PRIVATE_INIT ((GDestroyNotify) cover_encoder_free);

/* Requests */

typedef struct
{
  CoverService *service;
  SoupServerMessage *msg;
  gchar request_id[33];
  Endpoint endpoint;
  const gchar *source; /* for metrics: live/record/upload/none */
} Request;

static void
request_init (Request *req, CoverService *service, SoupServerMessage *msg,
    Endpoint endpoint)
{
  static const gchar hex[] = "0123456789abcdef";
  guint i;

  req->service = service;
  req->msg = msg;
  req->endpoint = endpoint;
  req->source = "none";
  /* 128 random bits as 32 lowercase hex digits */
  for (i = 0; i < 4; i++) {
    guint32 r = g_random_int ();
    guint j;

    for (j = 0; j < 8; j++, r >>= 4)
      req->request_id[i * 8 + j] = hex[r & 0xf];
  }
  req->request_id[32] = '\0';
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
      "X-Request-ID", req->request_id);
}

static guint
status_index (guint status)
{
  guint i;

  for (i = 0; i < N_STATUSES - 1; i++) {
    if (counted_statuses[i] == status)
      return i;
  }
  return N_STATUSES - 1;
}

static guint
source_index (const gchar *source)
{
  guint i;

  for (i = 0; i < N_SOURCES - 1; i++) {
    if (g_str_equal (source_names[i], source))
      return i;
  }
  return N_SOURCES - 1;
}

/* lock-free: one atomic counter per endpoint, status and source */
static void
count_request (Request *req, guint status)
{
  __atomic_fetch_add (&req->service->requests[req->endpoint][status_index (
                          status)][source_index (req->source)],
      1, __ATOMIC_RELAXED);
}

static void
respond_json (Request *req, guint status, JsonBuilder *b)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  gsize len;
  gchar *text;

  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, &len);
  soup_server_message_set_status (req->msg, status, NULL);
  soup_message_headers_replace (
      soup_server_message_get_response_headers (req->msg), "Cache-Control",
      "no-cache");
  soup_server_message_set_response (
      req->msg, "application/json", SOUP_MEMORY_TAKE, text, len);
  count_request (req, status);
}

/* {"request_id": ..., "error": code, "message": sentence} */
static void respond_error (Request *req, guint status, const gchar *code,
    const gchar *format, ...) G_GNUC_PRINTF (4, 5);

static void
respond_error (
    Request *req, guint status, const gchar *code, const gchar *format, ...)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree gchar *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "request_id");
  json_builder_add_string_value (b, req->request_id);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, code);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  respond_json (req, status, b);
}

static void
respond_method_not_allowed (Request *req, const gchar *allow)
{
  soup_message_headers_replace (
      soup_server_message_get_response_headers (req->msg), "Allow", allow);
  respond_error (req, SOUP_STATUS_METHOD_NOT_ALLOWED, "method_not_allowed",
      "%s is not allowed here; use %s.",
      soup_server_message_get_method (req->msg), allow);
}

/* "/v2/snapshots/" + id + "/cover": the id, strictly a decimal u32 */
static gboolean
parse_client_id (const gchar *text, gsize len, guint32 *id)
{
  gchar buf[16];
  guint64 v;

  if (len == 0 || len >= sizeof (buf))
    return FALSE;
  memcpy (buf, text, len);
  buf[len] = '\0';
  if (!g_ascii_string_to_unsigned (buf, 10, 0, G_MAXUINT32, &v, NULL))
    return FALSE;
  *id = v;
  return TRUE;
}

/* Splits @path as @prefix ID @suffix.  Returns FALSE if the shape differs
 * (→ 404); sets *bad_id when the shape is right but ID is not a u32. */
static gboolean
match_path (const gchar *path, const gchar *prefix, const gchar *suffix,
    guint32 *id, gboolean *bad_id)
{
  gsize plen = strlen (prefix), slen = strlen (suffix), len = strlen (path);
  const gchar *start, *end;

  *bad_id = FALSE;
  if (len < plen + slen || strncmp (path, prefix, plen) != 0 ||
      strcmp (path + len - slen, suffix) != 0)
    return FALSE;
  start = path + plen;
  end = path + len - slen;
  if (memchr (start, '/', end - start))
    return FALSE;
  *bad_id = !parse_client_id (start, end - start, id);
  return TRUE;
}

static GHashTable *
query_params (SoupServerMessage *msg)
{
  GUri *uri = soup_server_message_get_uri (msg);
  const gchar *query = g_uri_get_query (uri);

  if (!query)
    return NULL;
  return g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, NULL);
}

static void
count_token_failure (CoverService *s, const gchar *reason)
{
  gpointer old;

  g_mutex_lock (&s->lock);
  old = g_hash_table_lookup (s->token_failures, reason);
  g_hash_table_replace (s->token_failures, g_strdup (reason),
      GSIZE_TO_POINTER (GPOINTER_TO_SIZE (old) + 1));
  g_mutex_unlock (&s->lock);
}

static const gchar *
token_failure_message (CoverTokenStatus status)
{
  switch (status) {
    case COVER_TOKEN_MISSING:
      return "No device token: pass client_token or X-Client-Token.";
    case COVER_TOKEN_MALFORMED:
      return "The device token is malformed.";
    case COVER_TOKEN_UNKNOWN_APP:
      return "The device token belongs to no application of this server.";
    case COVER_TOKEN_BAD_DIGEST:
      return "The device token's digest does not match.";
    case COVER_TOKEN_EXPIRED:
      return "The device token has expired.";
    default:
      return "The device token was refused.";
  }
}

/* Answers 401/403 itself and returns FALSE when the request may not go on. */
static gboolean
authorize (
    Request *req, GHashTable *params, guint32 client_id, gboolean viewing)
{
  CoverService *s = req->service;
  const gchar *text =
      params ? g_hash_table_lookup (params, "client_token") : NULL;
  CoverTokenStatus status;
  CoverToken token;

  /* an empty query parameter does not hide the header */
  if (!text || !*text)
    text = soup_message_headers_get_one (
        soup_server_message_get_request_headers (req->msg), "X-Client-Token");
  status = cover_token_verify (
      s->config->apps, text, g_get_real_time () / G_USEC_PER_SEC, &token);
  if (status != COVER_TOKEN_OK) {
    const gchar *reason = cover_token_status_to_string (status);

    count_token_failure (s, reason);
    respond_error (req, SOUP_STATUS_UNAUTHORIZED, "invalid_token", "%s",
        token_failure_message (status));
    return FALSE;
  }
  if (token.cid != client_id) {
    count_token_failure (s, "wrong_device");
    respond_error (req, SOUP_STATUS_FORBIDDEN, "forbidden",
        "The device token is for client %u, not for client %u.", token.cid,
        client_id);
    return FALSE;
  }
  if (viewing && s->config->require_view_permission &&
      !(token.control & COVER_TOKEN_CONTROL_VIEW_SNAPSHOTS)) {
    count_token_failure (s, "no_permission");
    respond_error (req, SOUP_STATUS_FORBIDDEN, "forbidden",
        "The device token does not allow viewing snapshots.");
    return FALSE;
  }
  if (token.has_ip) {
    const gchar *peer = soup_server_message_get_remote_host (req->msg);
    guint32 ip;

    if (!peer || !cover_token_ip_from_string (peer, &ip) || ip != token.ip) {
      count_token_failure (s, "wrong_address");
      respond_error (req, SOUP_STATUS_FORBIDDEN, "forbidden",
          "The device token is bound to another IP address.");
      return FALSE;
    }
  }
  return TRUE;
}

/* Pausing: the work goes to the pool, the answer comes back here */

typedef struct
{
  Request req;
  GMainContext *context;
  gboolean finished; /* client went away: answer nobody */
  gulong finished_id;
  /* cover resize */
  CoverPicture *picture;
  guint width;
  guint height;
  gchar *cache_key;
  /* upload */
  GBytes *upload;
  guint32 client_id;
  /* result */
  CoverPicture *result;
  GError *error;
  void (*run) (gpointer job);
  void (*done) (gpointer job);
} Job;

static void
on_message_finished (SoupServerMessage *msg, Job *job)
{
  job->finished = TRUE;
}

static Job *
job_new (Request *req, void (*run) (gpointer), void (*done) (gpointer))
{
  Job *job = g_new0 (Job, 1);

  job->req = *req;
  g_object_ref (job->req.msg);
  job->context = g_main_context_ref_thread_default ();
  job->run = run;
  job->done = done;
  job->finished_id = g_signal_connect (
      job->req.msg, "finished", G_CALLBACK (on_message_finished), job);
  return job;
}

static void
job_free (Job *job)
{
  g_signal_handler_disconnect (job->req.msg, job->finished_id);
  g_object_unref (job->req.msg);
  g_main_context_unref (job->context);
  g_clear_pointer (&job->picture, cover_picture_unref);
  g_clear_pointer (&job->result, cover_picture_unref);
  g_clear_pointer (&job->upload, g_bytes_unref);
  g_clear_error (&job->error);
  g_free (job->cache_key);
  g_free (job);
}

static gboolean
job_done_in_context (gpointer data)
{
  Job *job = data;

  if (!job->finished) {
    job->done (job);
    soup_server_message_unpause (job->req.msg);
  }
  return G_SOURCE_REMOVE;
}

static void
worker_run (gpointer data, gpointer user_data)
{
  Job *job = data;

  job->run (job);
  g_main_context_invoke_full (job->context, G_PRIORITY_DEFAULT,
      job_done_in_context, job, (GDestroyNotify) job_free);
}

static void
job_start (Job *job)
{
  soup_server_message_pause (job->req.msg);
  g_thread_pool_push (job->req.service->workers, job, NULL);
}

/* GET cover */

static gboolean
etag_matches (const gchar *if_none_match, const gchar *etag)
{
  g_auto (GStrv) tags = NULL;
  guint i;

  if (!if_none_match)
    return FALSE;
  tags = g_strsplit (if_none_match, ",", -1);
  for (i = 0; tags[i]; i++) {
    gchar *t = g_strstrip (tags[i]);

    if (g_str_has_prefix (t, "W/"))
      t += 2;
    if (g_str_equal (t, "*") || g_str_equal (t, etag))
      return TRUE;
  }
  return FALSE;
}

static void
respond_picture (Request *req, CoverPicture *pic, CoverSourceKind kind)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (req->msg);
  const gchar *inm = soup_message_headers_get_one (
      soup_server_message_get_request_headers (req->msg), "If-None-Match");

  req->source = cover_source_kind_to_string (kind);
  soup_message_headers_replace (h, "ETag", pic->etag);
  soup_message_headers_replace (h, "Last-Modified", pic->last_modified_text);
  soup_message_headers_replace (h, "Cache-Control", "no-cache");
  soup_message_headers_replace (h, "X-Cover-Source", req->source);
  if (etag_matches (inm, pic->etag)) {
    soup_server_message_set_status (req->msg, SOUP_STATUS_NOT_MODIFIED, NULL);
    count_request (req, SOUP_STATUS_NOT_MODIFIED);
    return;
  }
  soup_server_message_set_status (req->msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (
      h, cover_image_type_to_mime (pic->type), NULL);
  /* the picture's own bytes: no copy per request */
  soup_message_body_append_bytes (
      soup_server_message_get_response_body (req->msg), pic->data);
  count_request (req, SOUP_STATUS_OK);
}

static CoverPicture *
resized_lookup (CoverService *s, const gchar *key)
{
  CoverPicture *pic;

  g_mutex_lock (&s->lock);
  pic = g_hash_table_lookup (s->resized, key);
  if (pic)
    cover_picture_ref (pic);
  g_mutex_unlock (&s->lock);
  return pic;
}

static void
resized_insert (CoverService *s, const gchar *key, CoverPicture *pic)
{
  if (s->config->resize_cache_entries == 0)
    return;
  g_mutex_lock (&s->lock);
  if (!g_hash_table_contains (s->resized, key)) {
    gchar *k = g_strdup (key);

    g_hash_table_insert (s->resized, k, cover_picture_ref (pic));
    g_queue_push_tail (&s->resized_order, k);
    while (g_queue_get_length (&s->resized_order) >
        s->config->resize_cache_entries)
      g_hash_table_remove (s->resized, g_queue_pop_head (&s->resized_order));
  }
  g_mutex_unlock (&s->lock);
}

static void
resize_run (gpointer data)
{
  Job *job = data;
  CoverEncoder *enc = g_private_get (&worker_encoder);
  g_autofree guint8 *rgb = NULL;
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buf;
  const guint8 *jpeg;
  gsize size;
  guint w, h, ow, oh;
  gboolean ok;

  if (!enc) {
    enc = cover_encoder_new ();
    g_private_set (&worker_encoder, enc);
  }
  rgb = cover_image_decode_rgb (g_bytes_get_data (job->picture->data, NULL),
      g_bytes_get_size (job->picture->data), &w, &h, &job->error);
  if (!rgb)
    return;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  buf = gst_buffer_new_wrapped_full (GST_MEMORY_FLAG_READONLY, rgb,
      (gsize) w * h * 3, 0, (gsize) w * h * 3, NULL, NULL);
  /* RGB rows are packed here; GStreamer's RGB wants 4-byte aligned rows */
  info.stride[0] = w * 3;
  info.size = (gsize) w * h * 3;
  ok = gst_video_frame_map (&frame, &info, buf, GST_MAP_READ);
  if (ok) {
    ok = cover_encoder_encode (enc, &frame, RESIZE_QUALITY, job->width,
        job->height, &jpeg, &size, &ow, &oh, &job->error);
    gst_video_frame_unmap (&frame);
  }
  gst_buffer_unref (buf);
  if (ok) {
    g_autoptr (GBytes) bytes = g_bytes_new (jpeg, size);
    g_autofree gchar *etag = g_strdup_printf ("\"%.*s-%ux%u\"",
        (int) strlen (job->picture->etag) - 2, job->picture->etag + 1, ow, oh);

    job->result = cover_picture_new (bytes, COVER_IMAGE_TYPE_JPEG, etag,
        job->picture->last_modified, job->picture->kind);
    resized_insert (job->req.service, job->cache_key, job->result);
  }
}

static void
resize_done (gpointer data)
{
  Job *job = data;

  if (!job->result) {
    g_warning ("coversnap: could not resize a cover: %s",
        job->error ? job->error->message : "unknown error");
    respond_error (&job->req, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal",
        "The cover could not be resized.");
    return;
  }
  respond_picture (&job->req, job->result, job->picture->kind);
}

static gboolean
parse_dimension (
    GHashTable *params, const gchar *name, guint max, guint *out, gboolean *bad)
{
  const gchar *text = params ? g_hash_table_lookup (params, name) : NULL;
  guint64 v;

  *out = 0;
  if (!text)
    return FALSE;
  if (!g_ascii_string_to_unsigned (text, 10, 1, max, &v, NULL)) {
    *bad = TRUE;
    return FALSE;
  }
  *out = v;
  return TRUE;
}

static void
handle_cover (CoverService *s, SoupServerMessage *msg, const gchar *path)
{
  g_autoptr (GHashTable) params = query_params (msg);
  g_autoptr (CoverPicture) pic = NULL;
  g_autoptr (GError) last_error = NULL;
  const gchar *method = soup_server_message_get_method (msg);
  gboolean bad_id, bad_size = FALSE, resize;
  guint32 client_id;
  guint width, height, pw, ph, fw, fh, i;
  Request req;

  request_init (&req, s, msg, ENDPOINT_COVER);
  if (!match_path (path, "/v2/snapshots/", "/cover", &client_id, &bad_id)) {
    req.endpoint = ENDPOINT_OTHER;
    respond_error (
        &req, SOUP_STATUS_NOT_FOUND, "not_found", "No such resource: %s", path);
    return;
  }
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    respond_method_not_allowed (&req, "GET, HEAD");
    return;
  }
  if (bad_id) {
    respond_error (&req, SOUP_STATUS_BAD_REQUEST, "bad_client_id",
        "client_id must be an unsigned 32-bit decimal number.");
    return;
  }
  resize = parse_dimension (
      params, "width", s->config->max_resize, &width, &bad_size);
  resize |= parse_dimension (
      params, "height", s->config->max_resize, &height, &bad_size);
  if (bad_size) {
    respond_error (&req, SOUP_STATUS_BAD_REQUEST, "bad_size",
        "width and height must be whole numbers from 1 to %u.",
        s->config->max_resize);
    return;
  }
  if (!authorize (&req, params, client_id, TRUE))
    return;

  for (i = 0; i < s->sources->len && !pic; i++) {
    CoverSource *src = g_ptr_array_index (s->sources, i);
    GError *err = NULL;

    pic = src->lookup (src, client_id, &err);
    if (err) {
      g_warning ("coversnap: %s cover of client %u: %s",
          cover_source_kind_to_string (src->kind), client_id, err->message);
      g_clear_error (&last_error);
      last_error = err;
    }
  }
  if (!pic && last_error) {
    respond_error (&req, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal",
        "The cover of client %u could not be read.", client_id);
    return;
  }
  if (!pic) {
    respond_error (&req, SOUP_STATUS_NOT_FOUND, "no_cover",
        "Client %u has no cover: not streaming, no recording thumbnail, no "
        "uploaded cover.",
        client_id);
    return;
  }

  /* a picture too big to decode safely is served as it is */
  if (resize &&
      cover_image_sniff (g_bytes_get_data (pic->data, NULL),
          g_bytes_get_size (pic->data), &pw, &ph, NULL) &&
      (guint64) pw * ph <= MAX_RESIZE_SOURCE_PIXELS) {
    cover_fit_size (pw, ph, 1, 1, width, height, &fw, &fh);
    if (fw < pw || fh < ph) {
      g_autofree gchar *key =
          g_strdup_printf ("%s %ux%u", pic->etag, width, height);
      g_autoptr (CoverPicture) cached = resized_lookup (s, key);
      Job *job;

      if (cached) {
        respond_picture (&req, cached, pic->kind);
        return;
      }
      /* decode, scale and encode off the main loop */
      job = job_new (&req, resize_run, resize_done);
      job->picture = cover_picture_ref (pic);
      job->width = width;
      job->height = height;
      job->cache_key = g_steal_pointer (&key);
      job_start (job);
      return;
    }
  }
  respond_picture (&req, pic, pic->kind);
}

/* POST upload */

typedef struct
{
  GByteArray *body;
  gsize total;
  gboolean too_big;
  gsize limit;
} UploadBody;

static void
upload_body_free (UploadBody *u)
{
  g_byte_array_unref (u->body);
  g_free (u);
}

static void
on_upload_chunk (SoupServerMessage *msg, GBytes *chunk, UploadBody *u)
{
  gsize n = g_bytes_get_size (chunk);

  u->total += n;
  if (u->total > u->limit) {
    /* counted, not kept: memory stays bounded whatever the client sends */
    u->too_big = TRUE;
    return;
  }
  g_byte_array_append (u->body, g_bytes_get_data (chunk, NULL), n);
}

/* The multipart body of an upload can be bigger than what we keep: the
 * early handler refuses a declared Content-Length over the limit before the
 * body is read, and otherwise counts the body as it comes. */
static void
upload_early_handler (SoupServer *server, SoupServerMessage *msg,
    const char *path, GHashTable *query, gpointer user_data)
{
  CoverService *s = user_data;
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  UploadBody *u;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    return;
  if (soup_message_headers_get_encoding (h) == SOUP_ENCODING_CONTENT_LENGTH &&
      soup_message_headers_get_content_length (h) >
          (goffset) s->config->max_upload_size + 64 * 1024) {
    Request req;

    request_init (&req, s, msg, ENDPOINT_UPLOAD);
    /* Answered now.  A client that asked (Expect: 100-continue) gets it
     * before sending the body; others send it anyway, and libsoup reads
     * it: drain it without keeping it, and close the connection after. */
    soup_message_body_set_accumulate (
        soup_server_message_get_request_body (msg), FALSE);
    soup_message_headers_replace (
        soup_server_message_get_response_headers (msg), "Connection", "close");
    respond_error (&req, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too_large",
        "The upload is over the limit of %" G_GSIZE_FORMAT " bytes.",
        s->config->max_upload_size);
    return;
  }
  u = g_new0 (UploadBody, 1);
  u->body = g_byte_array_new ();
  /* room for the multipart framing around the image */
  u->limit = s->config->max_upload_size + 64 * 1024;
  soup_message_body_set_accumulate (
      soup_server_message_get_request_body (msg), FALSE);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_upload_chunk), u);
  g_object_set_data_full (
      G_OBJECT (msg), "coversnap-upload", u, (GDestroyNotify) upload_body_free);
}

/* The seed's own curl example sets a Content-Type with a boundary *and*
 * uses -F, so curl sends two boundary parameters, and a body framed by the
 * second; libsoup takes the first.  Of the boundaries declared, use the one
 * the body opens with.  (A body framed by an undeclared boundary stays a
 * 400.) */
static SoupMultipart *
multipart_with_body_boundary (SoupServerMessage *msg, GBytes *body)
{
  const gchar *type = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Content-Type");
  g_autoptr (SoupMessageHeaders) h = NULL;
  g_autoptr (GHashTable) params = NULL;
  g_autofree gchar *boundary = NULL;
  g_autofree gchar *declared = NULL;
  const gchar *data = g_bytes_get_data (body, NULL);
  gsize size = g_bytes_get_size (body);
  const gchar *eol;

  if (!type || size < 4 || data[0] != '-' || data[1] != '-')
    return NULL;
  eol = memchr (data, '\r', MIN (size, 2 + 70 + 1));
  /* RFC 2046: 1 to 70 characters */
  if (!eol || eol - data < 3)
    return NULL;
  boundary = g_strndup (data + 2, eol - data - 2);
  declared = g_strdup_printf ("boundary=%s", boundary);
  if (!g_str_has_prefix (type, "multipart/form-data") ||
      !strstr (type, declared))
    return NULL;
  params = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (params, (gpointer) "boundary", boundary);
  h = soup_message_headers_new (SOUP_MESSAGE_HEADERS_MULTIPART);
  soup_message_headers_set_content_type (h, "multipart/form-data", params);
  return soup_multipart_new_from_message (h, body);
}

static void
store_run (gpointer data)
{
  Job *job = data;
  CoverService *s = job->req.service;
  g_autofree gchar *path =
      cover_upload_path (s->config->upload_dir, job->client_id);

  if (cover_image_store_durably (path, job->upload, 0640, &job->error)) {
    g_mutex_lock (&s->lock);
    s->upload_bytes += g_bytes_get_size (job->upload);
    g_mutex_unlock (&s->lock);
  }
}

static void
store_done (gpointer data)
{
  Job *job = data;
  g_autoptr (JsonBuilder) b = NULL;

  if (job->error) {
    g_warning ("coversnap: could not store the cover of client %u: %s",
        job->client_id, job->error->message);
    respond_error (&job->req, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal",
        "The cover could not be stored; the previous one stays.");
    return;
  }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "request_id");
  json_builder_add_string_value (b, job->req.request_id);
  json_builder_end_object (b);
  respond_json (&job->req, SOUP_STATUS_OK, b);
}

static void
handle_upload (CoverService *s, SoupServerMessage *msg, const gchar *path)
{
  g_autoptr (GHashTable) params = query_params (msg);
  g_autoptr (SoupMultipart) multipart = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GBytes) file = NULL;
  g_autoptr (GHashTable) fields = NULL;
  g_autoptr (GError) err = NULL;
  const gchar *method = soup_server_message_get_method (msg);
  UploadBody *u = g_object_get_data (G_OBJECT (msg), "coversnap-upload");
  CoverImageType type;
  gboolean bad_id;
  guint32 client_id;
  guint w, h;
  Request req;
  Job *job;

  request_init (&req, s, msg, ENDPOINT_UPLOAD);
  if (!match_path (path, "/v2/devices/", "/snapshots", &client_id, &bad_id)) {
    req.endpoint = ENDPOINT_OTHER;
    respond_error (
        &req, SOUP_STATUS_NOT_FOUND, "not_found", "No such resource: %s", path);
    return;
  }
  if (method != SOUP_METHOD_POST) {
    respond_method_not_allowed (&req, "POST");
    return;
  }
  if (bad_id) {
    respond_error (&req, SOUP_STATUS_BAD_REQUEST, "bad_client_id",
        "client_id must be an unsigned 32-bit decimal number.");
    return;
  }
  if (!authorize (&req, params, client_id, FALSE))
    return;
  if (!u || u->too_big) {
    respond_error (&req, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too_large",
        "The upload is over the limit of %" G_GSIZE_FORMAT " bytes.",
        s->config->max_upload_size);
    return;
  }

  body = g_byte_array_free_to_bytes (g_byte_array_ref (u->body));
  multipart = soup_multipart_new_from_message (
      soup_server_message_get_request_headers (msg), body);
  if (!multipart)
    multipart = multipart_with_body_boundary (msg, body);
  if (!multipart) {
    respond_error (&req, SOUP_STATUS_BAD_REQUEST, "bad_request",
        "The body must be multipart/form-data with a boundary, and complete.");
    return;
  }
  /* takes the multipart */
  fields = soup_form_decode_multipart (
      g_steal_pointer (&multipart), "file", NULL, NULL, &file);
  if (!file) {
    respond_error (&req, SOUP_STATUS_BAD_REQUEST, "bad_request",
        "The form has no \"file\" field.");
    return;
  }
  if (g_bytes_get_size (file) == 0) {
    respond_error (&req, SOUP_STATUS_BAD_REQUEST, "bad_request",
        "The \"file\" field is empty.");
    return;
  }
  if (g_bytes_get_size (file) > s->config->max_upload_size) {
    respond_error (&req, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too_large",
        "The image is over the limit of %" G_GSIZE_FORMAT " bytes.",
        s->config->max_upload_size);
    return;
  }
  /* the type comes from the bytes, never from the part's headers */
  type = cover_image_sniff (
      g_bytes_get_data (file, NULL), g_bytes_get_size (file), &w, &h, &err);
  if (type == COVER_IMAGE_TYPE_UNKNOWN) {
    respond_error (&req, SOUP_STATUS_NOT_ACCEPTABLE, "unsupported_image",
        "The file must be a JPEG or PNG image: %s", err->message);
    return;
  }

  job = job_new (&req, store_run, store_done);
  job->client_id = client_id;
  job->upload = g_steal_pointer (&file);
  job_start (job);
}

/* /healthz, /metrics, anything else */

static void
handle_health (CoverService *s, SoupServerMessage *msg)
{
  Request req;

  request_init (&req, s, msg, ENDPOINT_HEALTH);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (
      msg, "text/plain", SOUP_MEMORY_STATIC, "ok\n", 3);
  count_request (&req, SOUP_STATUS_OK);
}

static void
handle_metrics (CoverService *s, SoupServerMessage *msg)
{
  GString *out = g_string_new (NULL);
  GHashTableIter it;
  gpointer key, value;
  Request req;

  request_init (&req, s, msg, ENDPOINT_METRICS);
  /* count this scrape before rendering, so that it shows in itself */
  count_request (&req, SOUP_STATUS_OK);

  g_mutex_lock (&s->lock);
  g_string_append (out,
      "# HELP coversnap_http_requests_total HTTP requests "
      "by endpoint, status and cover source.\n"
      "# TYPE coversnap_http_requests_total counter\n");
  {
    guint e, st, so;

    for (e = 0; e < N_ENDPOINTS; e++)
      for (st = 0; st < N_STATUSES; st++)
        for (so = 0; so < N_SOURCES; so++) {
          guint64 n =
              __atomic_load_n (&s->requests[e][st][so], __ATOMIC_RELAXED);

          if (n == 0)
            continue;
          g_string_append_printf (out,
              "coversnap_http_requests_total{endpoint=\"%s\",status=\"%u\","
              "source=\"%s\"} %" G_GUINT64_FORMAT "\n",
              endpoint_names[e], counted_statuses[st], source_names[so], n);
        }
  }
  g_string_append (out,
      "# HELP coversnap_token_failures_total Refused "
      "device tokens by reason.\n"
      "# TYPE coversnap_token_failures_total counter\n");
  g_hash_table_iter_init (&it, s->token_failures);
  while (g_hash_table_iter_next (&it, &key, &value))
    g_string_append_printf (out,
        "coversnap_token_failures_total{reason=\"%s"
        "\"} %" G_GSIZE_FORMAT "\n",
        (gchar *) key, GPOINTER_TO_SIZE (value));
  g_string_append_printf (out,
      "# HELP coversnap_upload_bytes_total Bytes of "
      "uploaded covers stored.\n"
      "# TYPE coversnap_upload_bytes_total counter\n"
      "coversnap_upload_bytes_total %" G_GUINT64_FORMAT "\n",
      s->upload_bytes);
  g_mutex_unlock (&s->lock);
  g_string_append_printf (out,
      "# HELP coversnap_live_covers_published_total "
      "New live covers seen in the cover store.\n"
      "# TYPE coversnap_live_covers_published_total counter\n"
      "coversnap_live_covers_published_total %" G_GUINT64_FORMAT "\n",
      cover_live_source_get_images_read ());

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (
      msg, "text/plain; version=0.0.4", SOUP_MEMORY_TAKE, out->str, out->len);
  g_string_free (out, FALSE);
}

static void
server_handler (SoupServer *server, SoupServerMessage *msg, const char *path,
    GHashTable *query, gpointer user_data)
{
  CoverService *s = user_data;
  const gchar *method = soup_server_message_get_method (msg);
  Request req;

  if (g_str_has_prefix (path, "/v2/snapshots/")) {
    handle_cover (s, msg, path);
  } else if (g_str_has_prefix (path, "/v2/devices/")) {
    handle_upload (s, msg, path);
  } else if (g_str_equal (path, "/healthz") || g_str_equal (path, "/metrics")) {
    if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
      request_init (&req, s, msg,
          g_str_equal (path, "/healthz") ? ENDPOINT_HEALTH : ENDPOINT_METRICS);
      respond_method_not_allowed (&req, "GET, HEAD");
    } else if (g_str_equal (path, "/healthz")) {
      handle_health (s, msg);
    } else {
      handle_metrics (s, msg);
    }
  } else {
    request_init (&req, s, msg, ENDPOINT_OTHER);
    respond_error (
        &req, SOUP_STATUS_NOT_FOUND, "not_found", "No such resource: %s", path);
  }
}

void
cover_service_attach (CoverService *s, SoupServer *server)
{
  soup_server_add_early_handler (
      server, "/v2/devices", upload_early_handler, s, NULL);
  /* libsoup keeps one handler entry per path, early and normal: the path of
   * the early handler needs its normal handler too */
  soup_server_add_handler (server, "/v2/devices", server_handler, s, NULL);
  soup_server_add_handler (server, NULL, server_handler, s, NULL);
}

/* Threads */

static GSocket *
listen_socket (CoverService *s, guint16 port, GError **error)
{
  g_autoptr (GInetAddress) addr =
      g_inet_address_new_from_string (s->config->listen_address);
  g_autoptr (GSocketAddress) sa = NULL;
  GSocket *sock;

  sock = g_socket_new (g_inet_address_get_family (addr), G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, error);
  if (!sock)
    return NULL;
  /* every HTTP thread accepts on the same port; the kernel spreads the
   * connections */
  if (!g_socket_set_option (sock, SOL_SOCKET, SO_REUSEPORT, 1, error) ||
      !g_socket_set_option (sock, SOL_SOCKET, SO_REUSEADDR, 1, error))
    goto fail;
  sa = g_inet_socket_address_new (addr, port);
  /* bind(2) by hand: g_socket_bind() turns SO_REUSEPORT off again for TCP */
  {
    struct sockaddr_storage native;

    if (!g_socket_address_to_native (sa, &native, sizeof (native), error))
      goto fail;
    if (bind (g_socket_get_fd (sock), (struct sockaddr *) &native,
            g_socket_address_get_native_size (sa)) < 0) {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
          "Error binding to %s port %u: %s", s->config->listen_address, port,
          g_strerror (errsv));
      goto fail;
    }
  }
  if (!g_socket_listen (sock, error))
    goto fail;
  return sock;

fail:
  g_object_unref (sock);
  return NULL;
}

static gpointer
http_thread (gpointer data)
{
  HttpThread *t = data;
  CoverService *s =
      g_object_get_data (G_OBJECT (t->socket), "coversnap-service");

  g_main_context_push_thread_default (t->context);
  t->server = soup_server_new ("server-header", "coversnap ", NULL);
  cover_service_attach (s, t->server);
  soup_server_listen_socket (t->server, t->socket, 0, &t->error);

  g_mutex_lock (&s->lock);
  t->ready = TRUE;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);

  if (!t->error)
    g_main_loop_run (t->loop);

  soup_server_disconnect (t->server);
  g_clear_object (&t->server);
  g_main_context_pop_thread_default (t->context);
  return NULL;
}

gboolean
cover_service_listen (CoverService *s, GError **error)
{
  guint i;

  for (i = 0; i < s->config->threads; i++) {
    HttpThread *t = g_new0 (HttpThread, 1);
    g_autoptr (GSocketAddress) local = NULL;

    t->socket = listen_socket (s, s->port ? s->port : s->config->port, error);
    if (!t->socket) {
      g_free (t);
      goto fail;
    }
    if (!s->port) {
      local = g_socket_get_local_address (t->socket, NULL);
      s->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
    }
    g_object_set_data (G_OBJECT (t->socket), "coversnap-service", s);
    t->context = g_main_context_new ();
    t->loop = g_main_loop_new (t->context, FALSE);
    g_ptr_array_add (s->threads, t);
    t->thread = g_thread_new ("coversnap-http", http_thread, t);

    g_mutex_lock (&s->lock);
    while (!t->ready)
      g_cond_wait (&s->cond, &s->lock);
    g_mutex_unlock (&s->lock);
    if (t->error) {
      g_propagate_error (error, g_steal_pointer (&t->error));
      goto fail;
    }
  }
  return TRUE;

fail:
  g_prefix_error (error,
      "Could not listen on %s port %u: ", s->config->listen_address,
      s->config->port);
  cover_service_stop (s);
  return FALSE;
}

guint16
cover_service_get_port (CoverService *s)
{
  return s->port;
}

void
cover_service_stop (CoverService *s)
{
  guint i;

  for (i = 0; i < s->threads->len; i++) {
    HttpThread *t = g_ptr_array_index (s->threads, i);

    g_main_loop_quit (t->loop);
    g_main_context_wakeup (t->context);
    g_thread_join (t->thread);
    g_main_loop_unref (t->loop);
    g_main_context_unref (t->context);
    g_object_unref (t->socket);
    g_clear_error (&t->error);
    g_free (t);
  }
  g_ptr_array_set_size (s->threads, 0);
  s->port = 0;
}

/* Life */

CoverService *
cover_service_new (CoverConfig *config, GError **error)
{
  CoverService *s = g_new0 (CoverService, 1);

  /* GstVideoConverter scales resized covers */
  gst_init (NULL, NULL);

  s->config = config;
  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  s->sources =
      g_ptr_array_new_with_free_func ((GDestroyNotify) cover_source_free);
  g_ptr_array_add (s->sources,
      cover_live_source_new (config->store_dir, config->live_timeout_us));
  g_ptr_array_add (s->sources, cover_record_source_new (config->thumbnail_dir));
  g_ptr_array_add (s->sources, cover_upload_source_new (config->upload_dir));
  s->workers = g_thread_pool_new (worker_run, s, WORKERS, FALSE, error);
  if (!s->workers) {
    cover_service_free (s);
    return NULL;
  }
  s->resized = g_hash_table_new_full (
      g_str_hash, g_str_equal, g_free, (GDestroyNotify) cover_picture_unref);
  s->token_failures =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  s->threads = g_ptr_array_new ();
  return s;
}

const CoverConfig *
cover_service_get_config (CoverService *s)
{
  return s->config;
}

void
cover_service_insert_source (
    CoverService *s, CoverSource *source, gint position)
{
  g_ptr_array_insert (s->sources, position, source);
}

void
cover_service_free (CoverService *s)
{
  if (!s)
    return;
  if (s->threads)
    cover_service_stop (s);
  /* finishes queued work first */
  if (s->workers)
    g_thread_pool_free (s->workers, FALSE, TRUE);
  g_clear_pointer (&s->threads, g_ptr_array_unref);
  g_clear_pointer (&s->sources, g_ptr_array_unref);
  g_clear_pointer (&s->resized, g_hash_table_unref);
  g_queue_clear (&s->resized_order);
  g_clear_pointer (&s->token_failures, g_hash_table_unref);
  cover_config_free (s->config);
  g_cond_clear (&s->cond);
  g_mutex_clear (&s->lock);
  g_free (s);
}
