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

#include "http-util.h"

#include <errno.h>
#include <stdlib.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <string.h>

static guint warnings_seen;

/* The service says why a source or a store failed with a g_warning() in
 * its log domain: some tests make them fail on purpose.  Those are
 * counted; any other warning still ends the test program.  (A fatal
 * handler cannot do this: GLib resets it before every test case.) */
static void
log_handler (const gchar *domain, GLogLevelFlags level, const gchar *message,
    gpointer user_data)
{
  g_log_default_handler (domain, level, message, user_data);
  if (!(level & G_LOG_LEVEL_WARNING))
    return;
  if (g_strcmp0 (domain, "coversnap-http") == 0)
    g_atomic_int_inc (&warnings_seen);
  else
    abort ();
}

void
ht_init (int *argc, char ***argv)
{
  g_test_init (argc, argv, NULL);
  /* the service's caller initializes GStreamer (resizing scales with it) */
  gst_init (argc, argv);
  /* criticals stay fatal; warnings go through log_handler */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_log_set_default_handler (log_handler, NULL);

  /* a failing test aborts before it cleans up: under meson, everything
   * goes below one directory of the build tree, emptied at the start */
  if (g_getenv ("COVERSNAP_HTTP_TMPDIR"))
    cs_test_tmp_root_set (g_getenv ("COVERSNAP_HTTP_TMPDIR"));
}

int
ht_run (void)
{
  int ret = g_test_run ();

  cs_test_tmp_root_remove ();
  return ret;
}

guint
ht_warnings_seen (void)
{
  return g_atomic_int_get (&warnings_seen);
}

/* Service */

HtSvc *
ht_svc_dirs_new (void)
{
  HtSvc *svc = g_new0 (HtSvc, 1);

  svc->root = cs_test_make_tmpdir ("coversnap-http-XXXXXX");
  svc->data_dir = g_build_filename (svc->root, "data", NULL);
  svc->store_dir = g_build_filename (svc->root, "store", NULL);
  g_assert_cmpint (g_mkdir (svc->data_dir, 0750), ==, 0);
  g_assert_cmpint (g_mkdir (svc->store_dir, 0750), ==, 0);
  svc->session = cs_test_session_new (HT_TIMEOUT_S);
  return svc;
}

static void
set_key (CoverConfig *c, const gchar *key, const gchar *value)
{
  g_autoptr (GError) err = NULL;

  g_assert_true (cover_config_set (c, key, value, &err));
  g_assert_no_error (err);
}

static CoverConfig *
config_newv (HtSvc *svc, const gchar *first_key, va_list ap)
{
  CoverConfig *c = cover_config_new ();
  g_autoptr (GError) err = NULL;
  const gchar *key;

  set_key (c, "listen-address", "127.0.0.1");
  set_key (c, "port", "0");
  set_key (c, "data-dir", svc->data_dir);
  set_key (c, "store-dir", svc->store_dir);
  g_assert_true (
      cover_app_table_add (c->apps, "topvdn", HT_KEY_A, HT_CIDS_A, &err));
  g_assert_true (
      cover_app_table_add (c->apps, "lab", HT_KEY_B, HT_CIDS_B, &err));
  g_assert_no_error (err);

  for (key = first_key; key; key = va_arg (ap, const gchar *))
    set_key (c, key, va_arg (ap, const gchar *));

  g_free (svc->upload_dir);
  g_free (svc->thumb_dir);
  svc->upload_dir = g_strdup (c->upload_dir);
  svc->thumb_dir = g_strdup (c->thumbnail_dir);
  return c;
}

CoverConfig *
ht_config_new (HtSvc *svc, const gchar *first_key, ...)
{
  CoverConfig *c;
  va_list ap;

  va_start (ap, first_key);
  c = config_newv (svc, first_key, ap);
  va_end (ap);
  return c;
}

HtSvc *
ht_svc_new (const gchar *first_key, ...)
{
  HtSvc *svc = ht_svc_dirs_new ();
  g_autoptr (GError) err = NULL;
  CoverConfig *c;
  va_list ap;

  va_start (ap, first_key);
  c = config_newv (svc, first_key, ap);
  va_end (ap);

  svc->service = cover_service_new (c, &err);
  g_assert_no_error (err);
  cover_service_listen (svc->service, &err);
  g_assert_no_error (err);
  svc->port = cover_service_get_port (svc->service);
  g_assert_cmpuint (svc->port, >, 0);
  svc->base = g_strdup_printf ("http://127.0.0.1:%u", svc->port);
  return svc;
}

void
ht_svc_free (HtSvc *svc)
{
  if (!svc)
    return;
  g_clear_object (&svc->session);
  g_clear_pointer (&svc->service, cover_service_free);
  cs_test_rm_rf (svc->root);
  g_free (svc->root);
  g_free (svc->data_dir);
  g_free (svc->store_dir);
  g_free (svc->upload_dir);
  g_free (svc->thumb_dir);
  g_free (svc->base);
  g_free (svc);
}

/* Tokens */

const gchar *
ht_key_for (guint32 cid)
{
  if ((cid >= 20000000 && cid <= 20000099) || cid == 7)
    return HT_KEY_B;
  return HT_KEY_A;
}

gchar *
ht_token_full (guint32 cid, guint32 control, gint64 expire, gboolean has_ip,
    guint32 ip, const gchar *key)
{
  return cs_test_token_mint (key, cid, control, expire, has_ip, ip);
}

gchar *
ht_token (guint32 cid)
{
  return ht_token_full (cid, 0, g_get_real_time () / G_USEC_PER_SEC + 3600,
      FALSE, 0, ht_key_for (cid));
}

gchar *
ht_token_independent (guint32 cid, guint32 control, guint32 expire,
    gboolean has_ip, guint32 ip, const gchar *key)
{
  return cs_test_token_spec (key, cid, control, expire, has_ip, ip);
}

gchar *
ht_cover_path (guint32 cid, const gchar *token, const gchar *extra)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "/v2/snapshots/%u/cover", cid);
  if (token)
    g_string_append_printf (s, "?client_token=%s", token);
  if (extra)
    g_string_append_printf (s, "%s%s", token ? "&" : "?", extra);
  return g_string_free (s, FALSE);
}

gchar *
ht_upload_path (guint32 cid, const gchar *token)
{
  if (!token)
    return g_strdup_printf ("/v2/devices/%u/snapshots", cid);
  return g_strdup_printf (
      "/v2/devices/%u/snapshots?client_token=%s", cid, token);
}

/* Requests */

SoupMessage *
ht_message (HtSvc *svc, const gchar *method, const gchar *path)
{
  g_autofree gchar *uri = g_strconcat (svc->base, path, NULL);
  SoupMessage *msg = soup_message_new (method, uri);

  g_assert_nonnull (msg);
  return msg;
}

static void
assert_hex32 (const gchar *id)
{
  guint i;

  g_assert_nonnull (id);
  g_assert_cmpuint (strlen (id), ==, 32);
  for (i = 0; i < 32; i++)
    g_assert_true (g_ascii_isdigit (id[i]) || (id[i] >= 'a' && id[i] <= 'f'));
}

HtResp *
ht_send_full (SoupSession *session, SoupMessage *msg, gboolean no_request_id)
{
  HtResp *resp = g_new0 (HtResp, 1);
  g_autoptr (GError) err = NULL;

  resp->body = soup_session_send_and_read (session, msg, NULL, &err);
  g_assert_no_error (err);
  resp->status = soup_message_get_status (msg);
  resp->headers =
      soup_message_headers_ref (soup_message_get_response_headers (msg));
  resp->request_id =
      g_strdup (soup_message_headers_get_one (resp->headers, "X-Request-ID"));
  if (!no_request_id)
    assert_hex32 (resp->request_id);
  return resp;
}

HtResp *
ht_send (HtSvc *svc, SoupMessage *msg)
{
  return ht_send_full (svc->session, msg, FALSE);
}

HtResp *
ht_request (HtSvc *svc, const gchar *method, const gchar *path)
{
  g_autoptr (SoupMessage) msg = ht_message (svc, method, path);

  return ht_send (svc, msg);
}

HtResp *
ht_get (HtSvc *svc, const gchar *path)
{
  return ht_request (svc, "GET", path);
}

HtResp *
ht_get_cover (HtSvc *svc, guint32 cid, const gchar *extra)
{
  g_autofree gchar *token = ht_token (cid);
  g_autofree gchar *path = ht_cover_path (cid, token, extra);

  return ht_get (svc, path);
}

HtResp *
ht_upload (HtSvc *svc, guint32 cid, GBytes *file)
{
  g_autofree gchar *token = ht_token (cid);
  g_autofree gchar *path = ht_upload_path (cid, token);
  g_autofree gchar *uri = g_strconcat (svc->base, path, NULL);
  g_autoptr (SoupMessage) msg = cs_test_upload_message (
      uri, "file", "cover.jpg", "application/octet-stream", file);

  return ht_send (svc, msg);
}

HtResp *
ht_upload_body (HtSvc *svc, guint32 cid, const gchar *content_type,
    GBytes *body, gboolean chunked)
{
  g_autofree gchar *token = ht_token (cid);
  g_autofree gchar *path = ht_upload_path (cid, token);
  g_autoptr (SoupMessage) msg = ht_message (svc, "POST", path);

  if (chunked) {
    g_autoptr (GInputStream) in = g_memory_input_stream_new_from_bytes (body);

    /* unknown length: libsoup sends it chunked, without Content-Length */
    soup_message_set_request_body (msg, content_type, in, -1);
  } else {
    soup_message_set_request_body_from_bytes (msg, content_type, body);
  }
  return ht_send (svc, msg);
}

void
ht_resp_free (HtResp *resp)
{
  if (!resp)
    return;
  g_clear_pointer (&resp->headers, soup_message_headers_unref);
  g_clear_pointer (&resp->body, g_bytes_unref);
  g_free (resp->request_id);
  g_free (resp);
}

const gchar *
ht_header (HtResp *resp, const gchar *name)
{
  return soup_message_headers_get_one (resp->headers, name);
}

gchar *
ht_assert_error (HtResp *resp, guint status, const gchar *code)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) err = NULL;
  const gchar *ct = soup_message_headers_get_content_type (resp->headers, NULL);
  JsonObject *obj;
  JsonNode *root;
  const gchar *message;

  ht_assert_status (resp, status);
  g_assert_cmpstr (ct, ==, "application/json");
  g_assert_true (
      json_parser_load_from_data (parser, g_bytes_get_data (resp->body, NULL),
          g_bytes_get_size (resp->body), &err));
  g_assert_no_error (err);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  obj = json_node_get_object (root);
  g_assert_cmpuint (json_object_get_size (obj), ==, 3);
  g_assert_true (json_object_has_member (obj, "request_id"));
  g_assert_true (json_object_has_member (obj, "error"));
  g_assert_true (json_object_has_member (obj, "message"));
  assert_hex32 (json_object_get_string_member (obj, "request_id"));
  g_assert_cmpstr (
      json_object_get_string_member (obj, "request_id"), ==, resp->request_id);
  g_assert_cmpstr (json_object_get_string_member (obj, "error"), ==, code);
  message = json_object_get_string_member (obj, "message");
  g_assert_nonnull (message);
  g_assert_cmpuint (strlen (message), >, 0);
  return g_strdup (message);
}

void
ht_assert_cover (
    HtResp *resp, GBytes *expected, const gchar *mime, const gchar *source)
{
  ht_assert_status (resp, 200);
  g_assert_cmpstr (
      soup_message_headers_get_content_type (resp->headers, NULL), ==, mime);
  g_assert_cmpstr (ht_header (resp, "X-Cover-Source"), ==, source);
  g_assert_cmpstr (ht_header (resp, "Cache-Control"), ==, "no-cache");
  g_assert_nonnull (ht_header (resp, "ETag"));
  g_assert_nonnull (ht_header (resp, "Last-Modified"));
  g_assert_cmpint (soup_message_headers_get_content_length (resp->headers), ==,
      g_bytes_get_size (resp->body));
  if (expected)
    g_assert_true (g_bytes_equal (resp->body, expected));
}

/* Raw HTTP */

static gssize
find_header_end (const guint8 *data, gsize len)
{
  gsize i;

  for (i = 0; i + 3 < len; i++) {
    if (memcmp (data + i, "\r\n\r\n", 4) == 0)
      return i;
  }
  return -1;
}

HtResp *
ht_raw (guint16 port, const gchar *request, gsize len)
{
  HtResp *resp = ht_raw_full (port, request, len, HT_TIMEOUT_S);

  g_assert_nonnull (resp);
  return resp;
}

/* Reads one answer: headers, then as much body as they announce (or up to
 * EOF).  NULL when the headers did not come before the socket's timeout. */
static HtResp *
read_answer (GInputStream *in)
{
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  g_autoptr (GError) err = NULL;
  g_autofree gchar *head = NULL;
  HtResp *resp = g_new0 (HtResp, 1);
  gssize end = -1, n;
  goffset want = -1;
  guint8 chunk[16384];

  for (;;) {
    if (end < 0) {
      end = find_header_end (buf->data, buf->len);
      if (end >= 0) {
        resp->headers =
            soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
        head = g_strndup ((const gchar *) buf->data, end + 2);
        g_assert_true (soup_headers_parse_response (
            head, end + 2, resp->headers, NULL, &resp->status, NULL));
        g_assert_cmpint (soup_message_headers_get_encoding (resp->headers), !=,
            SOUP_ENCODING_CHUNKED);
        if (soup_message_headers_get_encoding (resp->headers) ==
            SOUP_ENCODING_CONTENT_LENGTH)
          want = soup_message_headers_get_content_length (resp->headers);
        if (resp->status == 304 || resp->status == 204)
          want = 0;
      }
    }
    if (end >= 0 && want >= 0 && (goffset) buf->len >= end + 4 + want)
      break;
    n = g_input_stream_read (in, chunk, sizeof (chunk), NULL, &err);
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) && end < 0) {
      ht_resp_free (resp);
      return NULL;
    }
    g_assert_no_error (err);
    if (n == 0)
      break;
    g_byte_array_append (buf, chunk, n);
  }
  g_assert_cmpint (end, >=, 0);
  if (want < 0)
    want = buf->len - (end + 4);
  g_assert_cmpint ((goffset) buf->len, >=, end + 4 + want);
  resp->body = g_bytes_new (buf->data + end + 4, want);
  resp->request_id =
      g_strdup (soup_message_headers_get_one (resp->headers, "X-Request-ID"));
  return resp;
}

HtResp *
ht_raw_full (guint16 port, const gchar *request, gsize len, guint timeout_s)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GError) err = NULL;

  g_socket_client_set_timeout (client, timeout_s);
  conn =
      g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &err);
  g_assert_no_error (err);
  g_assert_true (g_output_stream_write_all (
      g_io_stream_get_output_stream (G_IO_STREAM (conn)), request, len, NULL,
      NULL, &err));
  g_assert_no_error (err);
  return read_answer (g_io_stream_get_input_stream (G_IO_STREAM (conn)));
}

HtResp *
ht_raw_stream (guint16 port, const gchar *head, gsize chunk_size,
    guint n_chunks, gboolean chunked)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree guint8 *chunk = g_malloc (chunk_size);
  GOutputStream *out;
  HtResp *resp;
  guint i;

  memset (chunk, 'x', chunk_size);
  g_socket_client_set_timeout (client, HT_TIMEOUT_S);
  conn =
      g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &err);
  g_assert_no_error (err);
  out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  g_assert_true (
      g_output_stream_write_all (out, head, strlen (head), NULL, NULL, &err));
  for (i = 0; i < n_chunks && !err; i++) {
    if (chunked) {
      g_autofree gchar *size =
          g_strdup_printf ("%" G_GSIZE_MODIFIER "x\r\n", chunk_size);

      g_output_stream_write_all (out, size, strlen (size), NULL, NULL, &err);
    }
    if (!err)
      g_output_stream_write_all (out, chunk, chunk_size, NULL, NULL, &err);
    if (!err && chunked)
      g_output_stream_write_all (out, "\r\n", 2, NULL, NULL, &err);
  }
  if (!err && chunked)
    g_output_stream_write_all (out, "0\r\n\r\n", 5, NULL, NULL, &err);
  /* the server may answer and close before it has it all */
  g_clear_error (&err);
  resp = read_answer (g_io_stream_get_input_stream (G_IO_STREAM (conn)));
  g_assert_nonnull (resp);
  return resp;
}

gsize
ht_peak_rss (void)
{
  g_autofree gchar *status = NULL;
  const gchar *line;

  g_assert_true (
      g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "VmHWM:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + 6, NULL, 10) * 1024;
}

/* Images */

GBytes *
ht_jpeg_of_size (gsize size)
{
  g_autoptr (GBytes) base = ht_jpeg (64, 48, 200, 40, 90);
  const guint8 *b = g_bytes_get_data (base, NULL);
  gsize blen = g_bytes_get_size (base), left;
  GByteArray *out = g_byte_array_sized_new (size);
  guint8 seg[65537];

  g_assert_cmpuint (size, >=, blen + 4);
  g_byte_array_append (out, b, 2); /* SOI */
  left = size - blen;
  memset (seg, 'c', sizeof (seg));
  while (left > 0) {
    /* a COM segment is 4 bytes at least and 65537 at most */
    gsize n = MIN (left, 60000);

    if (left - n > 0 && left - n < 4)
      n -= 4;
    g_assert_cmpuint (n, >=, 4);
    seg[0] = 0xff;
    seg[1] = 0xfe;
    seg[2] = (n - 2) >> 8;
    seg[3] = (n - 2) & 0xff;
    g_byte_array_append (out, seg, n);
    left -= n;
  }
  g_byte_array_append (out, b + 2, blen - 2);
  g_assert_cmpuint (out->len, ==, size);
  return g_byte_array_free_to_bytes (out);
}

void
ht_image_size (GBytes *image, guint *w, guint *h)
{
  g_autoptr (GError) err = NULL;

  g_assert_cmpint (cover_image_sniff (g_bytes_get_data (image, NULL),
                       g_bytes_get_size (image), w, h, &err),
      !=, COVER_IMAGE_TYPE_UNKNOWN);
  g_assert_no_error (err);
}

/* Metrics */

gint64
ht_metric (const gchar *text, const gchar *sample)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  gsize len = strlen (sample);
  guint i;

  for (i = 0; lines[i]; i++) {
    if (strncmp (lines[i], sample, len) == 0 && lines[i][len] == ' ')
      return g_ascii_strtoll (lines[i] + len + 1, NULL, 10);
  }
  return -1;
}

gchar *
ht_metrics (HtSvc *svc)
{
  g_autoptr (HtResp) resp = ht_get (svc, "/metrics");

  ht_assert_status (resp, 200);
  return g_strndup (
      g_bytes_get_data (resp->body, NULL), g_bytes_get_size (resp->body));
}

void
ht_write_file (const gchar *path, GBytes *data)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *dir = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0750), ==, 0);
  g_assert_true (g_file_set_contents (
      path, g_bytes_get_data (data, NULL), g_bytes_get_size (data), &err));
  g_assert_no_error (err);
}

/* curl */

gboolean
ht_have_curl (void)
{
  g_autofree gchar *curl = g_find_program_in_path ("curl");

  return curl != NULL;
}

guint
ht_curl (HtSvc *svc, const gchar *const *args, GBytes **body)
{
  g_autofree gchar *curl = g_find_program_in_path ("curl");
  g_autofree gchar *out = g_build_filename (svc->root, "curl.out", NULL);
  g_autofree gchar *std_out = NULL, *std_err = NULL, *data = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) err = NULL;
  gint status = 0;
  gsize len;
  guint i;

  g_assert_nonnull (curl);
  g_ptr_array_add (argv, curl);
  g_ptr_array_add (argv, "-sS");
  g_ptr_array_add (argv, "--noproxy");
  g_ptr_array_add (argv, "*");
  g_ptr_array_add (argv, "--max-time");
  g_ptr_array_add (argv, G_STRINGIFY (HT_TIMEOUT_S));
  g_ptr_array_add (argv, "-o");
  g_ptr_array_add (argv, out);
  g_ptr_array_add (argv, "-w");
  g_ptr_array_add (argv, "%{http_code}");
  for (i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  g_unlink (out);
  g_assert_true (g_spawn_sync (NULL, (gchar **) argv->pdata, NULL,
      G_SPAWN_DEFAULT, NULL, NULL, &std_out, &std_err, &status, &err));
  g_assert_no_error (err);
  if (!g_spawn_check_wait_status (status, &err))
    g_printerr ("curl: %s: %s\n", err->message, std_err);
  g_assert_no_error (err);
  g_assert_true (g_file_get_contents (out, &data, &len, &err));
  g_assert_no_error (err);
  if (!g_str_equal (std_out, "200"))
    g_printerr ("curl: answer %s: %s\n", std_out, data);
  *body = g_bytes_new_take (g_steal_pointer (&data), len);
  return g_ascii_strtoull (std_out, NULL, 10);
}
