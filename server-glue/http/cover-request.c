/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* What every handler does with a request: give it an id, check its path,
 * method and device token, and answer it (JSON errors, pictures), counting
 * each answer once. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-request.h"

#include <string.h>

#include "cover-service-private.h"
#include "cover-source-private.h"
#include "coverid.h"

void
cover_request_init (CoverRequest *req, CoverService *service,
    SoupServerMessage *msg, CoverEndpoint endpoint)
{
  g_autofree gchar *id = cover_random_hex (16);

  g_return_if_fail (req != NULL);
  g_return_if_fail (service != NULL);
  g_return_if_fail (SOUP_IS_SERVER_MESSAGE (msg));

  req->service = service;
  req->msg = msg;
  req->endpoint = endpoint;
  req->source = "none";
  g_strlcpy (req->request_id, id, sizeof (req->request_id));
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
      "X-Request-ID", req->request_id);
}

void
cover_request_count (CoverRequest *req, guint status)
{
  cover_metrics_count_request (
      req->service->metrics, req->endpoint, status, req->source);
}

void
cover_request_respond_json (CoverRequest *req, guint status, JsonBuilder *b)
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
  cover_request_count (req, status);
}

void
cover_request_respond_error (CoverRequest *req, guint status, const gchar *code,
    const gchar *format, ...)
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
  cover_request_respond_json (req, status, b);
}

void
cover_request_respond_method_not_allowed (CoverRequest *req, const gchar *allow)
{
  soup_message_headers_replace (
      soup_server_message_get_response_headers (req->msg), "Allow", allow);
  cover_request_respond_error (req, SOUP_STATUS_METHOD_NOT_ALLOWED,
      "method_not_allowed", "%s is not allowed here; use %s.",
      soup_server_message_get_method (req->msg), allow);
}

void
cover_request_respond_not_found (CoverRequest *req)
{
  req->endpoint = COVER_ENDPOINT_OTHER;
  cover_request_respond_error (req, SOUP_STATUS_NOT_FOUND, "not_found",
      "No such resource: %s",
      g_uri_get_path (soup_server_message_get_uri (req->msg)));
}

/* Answers the raw way: libsoup reads a declared body before it writes an
 * answer, even one made in an early handler, so the answer (already set
 * on the message) goes out on the stolen connection, which then closes. */

typedef struct
{
  GIOStream *stream;
  GBytes *bytes;
} RawAnswer;

static void
on_raw_closed (GObject *stream, GAsyncResult *res, gpointer data)
{
  g_io_stream_close_finish (G_IO_STREAM (stream), res, NULL);
  g_object_unref (stream);
}

static void
on_raw_written (GObject *out, GAsyncResult *res, gpointer data)
{
  RawAnswer *raw = data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (out), res, NULL, NULL);
  /* takes the stream */
  g_io_stream_close_async (
      raw->stream, G_PRIORITY_DEFAULT, NULL, on_raw_closed, NULL);
  g_bytes_unref (raw->bytes);
  g_free (raw);
}

static void
add_raw_header (const char *name, const char *value, gpointer data)
{
  g_string_append_printf (data, "%s: %s\r\n", name, value);
}

void
cover_request_send_now_and_close (CoverRequest *req)
{
  SoupMessageBody *body = soup_server_message_get_response_body (req->msg);
  SoupMessageHeaders *h = soup_server_message_get_response_headers (req->msg);
  guint status = soup_server_message_get_status (req->msg);
  g_autoptr (GBytes) data = soup_message_body_flatten (body);
  GString *out = g_string_new (NULL);
  RawAnswer *raw = g_new0 (RawAnswer, 1);

  soup_message_headers_replace (h, "Connection", "close");
  soup_message_headers_set_content_length (h, g_bytes_get_size (data));
  g_string_append_printf (
      out, "HTTP/1.1 %u %s\r\n", status, soup_status_get_phrase (status));
  soup_message_headers_foreach (h, add_raw_header, out);
  g_string_append (out, "\r\n");
  g_string_append_len (
      out, g_bytes_get_data (data, NULL), g_bytes_get_size (data));
  raw->bytes = g_string_free_to_bytes (out);
  raw->stream = soup_server_message_steal_connection (req->msg);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (raw->stream),
      g_bytes_get_data (raw->bytes, NULL), g_bytes_get_size (raw->bytes),
      G_PRIORITY_DEFAULT, NULL, on_raw_written, raw);
}

/* @allow: methods separated by ", " */
static gboolean
method_allowed (const gchar *method, const gchar *allow)
{
  gsize len = strlen (method);
  const gchar *p = allow;

  while ((p = strstr (p, method))) {
    if ((p == allow || p[-1] == ' ') && (p[len] == ',' || p[len] == '\0'))
      return TRUE;
    p += len;
  }
  return FALSE;
}

gboolean
cover_request_begin_device (CoverRequest *req, const gchar *path,
    const gchar *prefix, const gchar *suffix, const gchar *allow,
    guint32 *client_id)
{
  /* HTTP/1.0 without Host: libsoup leaves the query in the path */
  gsize plen = strlen (prefix), slen = strlen (suffix),
        len = strcspn (path, "?");
  const gchar *start = path + plen, *end;

  end = len >= plen + slen ? path + len - slen : NULL;
  if (!end || strncmp (path, prefix, plen) != 0 ||
      strncmp (end, suffix, slen) != 0 || memchr (start, '/', end - start)) {
    cover_request_respond_not_found (req);
    return FALSE;
  }
  if (!method_allowed (soup_server_message_get_method (req->msg), allow)) {
    cover_request_respond_method_not_allowed (req, allow);
    return FALSE;
  }
  if (!cover_client_id_parse (start, end - start, client_id)) {
    cover_request_respond_error (req, SOUP_STATUS_BAD_REQUEST, "bad_client_id",
        "client_id must be an unsigned 32-bit decimal number without leading "
        "zeros.");
    return FALSE;
  }
  return TRUE;
}

GHashTable *
cover_request_query_params (CoverRequest *req)
{
  GUri *uri = soup_server_message_get_uri (req->msg);
  const gchar *query = g_uri_get_query (uri);

  /* HTTP/1.0 without Host: the query is still in the path */
  if (!query && (query = strchr (g_uri_get_path (uri), '?')))
    query++;
  if (!query)
    return NULL;
  return g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, NULL);
}

gboolean
cover_request_authorize (CoverRequest *req, GHashTable *params,
    guint32 client_id, guint32 required_control)
{
  const gchar *text =
      params ? g_hash_table_lookup (params, "client_token") : NULL;
  CoverTokenStatus status;

  /* an empty query parameter does not hide the header */
  if (!text || !*text)
    text = soup_message_headers_get_one (
        soup_server_message_get_request_headers (req->msg), "X-Client-Token");
  status = cover_token_authorize (req->service->config->apps, text, client_id,
      soup_server_message_get_remote_host (req->msg),
      g_get_real_time () / G_USEC_PER_SEC, required_control, NULL);
  if (status == COVER_TOKEN_OK)
    return TRUE;

  cover_metrics_count_token_failure (req->service->metrics, status);
  if (cover_token_status_is_forbidden (status))
    cover_request_respond_error (req, SOUP_STATUS_FORBIDDEN, "forbidden", "%s",
        cover_token_status_describe (status));
  else
    cover_request_respond_error (req, SOUP_STATUS_UNAUTHORIZED, "invalid_token",
        "%s", cover_token_status_describe (status));
  return FALSE;
}

/* If-None-Match: a list of ETags (weak ones compare by their opaque part),
 * or "*" */
static gboolean
etag_matches (const gchar *if_none_match, const gchar *etag)
{
  gsize etag_len = strlen (etag);
  const gchar *p = if_none_match;

  while (p && *p) {
    const gchar *comma = strchr (p, ',');
    const gchar *stop = comma ? comma : p + strlen (p);

    while (p < stop && g_ascii_isspace (*p))
      p++;
    while (stop > p && g_ascii_isspace (stop[-1]))
      stop--;
    if (stop - p >= 2 && p[0] == 'W' && p[1] == '/')
      p += 2;
    if ((stop - p == 1 && *p == '*') ||
        ((gsize) (stop - p) == etag_len && memcmp (p, etag, etag_len) == 0))
      return TRUE;
    p = comma ? comma + 1 : NULL;
  }
  return FALSE;
}

void
cover_request_respond_picture (CoverRequest *req, CoverPicture *pic)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (req->msg);
  const gchar *inm = soup_message_headers_get_one (
      soup_server_message_get_request_headers (req->msg), "If-None-Match");

  req->source = cover_source_kind_to_string (pic->kind);
  soup_message_headers_replace (h, "ETag", pic->etag);
  soup_message_headers_replace (h, "Last-Modified", pic->last_modified_text);
  soup_message_headers_replace (h, "Cache-Control", "no-cache");
  soup_message_headers_replace (h, "X-Cover-Source", req->source);
  if (etag_matches (inm, pic->etag)) {
    soup_server_message_set_status (req->msg, SOUP_STATUS_NOT_MODIFIED, NULL);
    cover_request_count (req, SOUP_STATUS_NOT_MODIFIED);
    return;
  }
  soup_server_message_set_status (req->msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (
      h, cover_image_type_to_mime (pic->type), NULL);
  /* the picture's own bytes: no copy per request */
  soup_message_body_append_bytes (
      soup_server_message_get_response_body (req->msg), pic->data);
  cover_request_count (req, SOUP_STATUS_OK);
}
