/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Every status code of both endpoints with its exact body, the seed's own
 * requests byte for byte over a raw socket (and with curl when it is
 * installed), /healthz and /metrics, and a service attached to a SoupServer
 * the test runs itself. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "coverstore.h"
#include "http-util.h"

#define SEED_BOUNDARY "----WebKitFormBoundary7MA4YWxkTrZu0gW"

static void
upload_ok (HtSvc *svc, guint32 cid, GBytes *file)
{
  g_autoptr (HtResp) resp = ht_upload (svc, cid, file);

  ht_assert_status (resp, 200);
}

/* {"request_id": "<32 hex>"} and nothing else, the id of the header */
static void
assert_upload_answer (HtResp *resp)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) err = NULL;
  JsonObject *obj;

  ht_assert_status (resp, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (resp->headers, NULL),
      ==, "application/json");
  g_assert_true (
      json_parser_load_from_data (parser, g_bytes_get_data (resp->body, NULL),
          g_bytes_get_size (resp->body), &err));
  obj = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpuint (json_object_get_size (obj), ==, 1);
  g_assert_cmpstr (
      json_object_get_string_member (obj, "request_id"), ==, resp->request_id);
}

/* GET cover: 200 304 400 401 403 404 405 */

static void
test_cover_status_codes (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autofree gchar *token = ht_token (HT_SEED_CID);
  g_autofree gchar *t416 = ht_token (HT_SEED_CID + 1);
  g_autoptr (GBytes) jpeg = ht_jpeg (320, 180, 90, 20, 200);
  const gchar *bad_ids[] = { "abc", "-1", "4294967296", "1.5", "+5", "0x10",
    "10000415abc", "99999999999999999999", "%20" };
  const gchar *bad_sizes[] = { "width=0", "width=abc", "width=99999",
    "height=0", "width=-5", "width=", "width=1.5", "height=1921",
    "width=160&height=x" };
  const gchar *methods[] = { "POST", "PUT", "DELETE", "PATCH" };
  g_autofree gchar *etag = NULL;
  HtResp *resp;
  guint i;

  /* 404: authorized, nothing anywhere */
  resp = ht_get_cover (svc, HT_SEED_CID, NULL);
  g_free (ht_assert_error (resp, 404, "no_cover"));
  ht_resp_free (resp);

  upload_ok (svc, HT_SEED_CID, jpeg);

  /* 200 */
  resp = ht_get_cover (svc, HT_SEED_CID, NULL);
  ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
  etag = g_strdup (ht_header (resp, "ETag"));
  ht_resp_free (resp);

  /* 304 */
  {
    g_autofree gchar *path = ht_cover_path (HT_SEED_CID, token, NULL);
    g_autoptr (SoupMessage) msg = ht_message (svc, "GET", path);

    soup_message_headers_append (
        soup_message_get_request_headers (msg), "If-None-Match", etag);
    resp = ht_send (svc, msg);
    ht_assert_status (resp, 304);
    g_assert_cmpuint (g_bytes_get_size (resp->body), ==, 0);
    g_assert_cmpstr (ht_header (resp, "ETag"), ==, etag);
    ht_resp_free (resp);
  }

  /* 400: the client id, before the token is even looked at */
  for (i = 0; i < G_N_ELEMENTS (bad_ids); i++) {
    g_autofree gchar *path = g_strdup_printf (
        "/v2/snapshots/%s/cover?client_token=%s", bad_ids[i], token);
    g_autofree gchar *nopath =
        g_strdup_printf ("/v2/snapshots/%s/cover", bad_ids[i]);

    resp = ht_get (svc, path);
    g_free (ht_assert_error (resp, 400, "bad_client_id"));
    ht_resp_free (resp);
    resp = ht_get (svc, nopath);
    g_free (ht_assert_error (resp, 400, "bad_client_id"));
    ht_resp_free (resp);
  }
  /* 400: width / height */
  for (i = 0; i < G_N_ELEMENTS (bad_sizes); i++) {
    g_autofree gchar *path = ht_cover_path (HT_SEED_CID, token, bad_sizes[i]);

    resp = ht_get (svc, path);
    g_free (ht_assert_error (resp, 400, "bad_size"));
    ht_resp_free (resp);
  }

  /* 401, 403 */
  {
    g_autofree gchar *path = ht_cover_path (HT_SEED_CID, NULL, NULL);
    g_autofree gchar *other = ht_cover_path (HT_SEED_CID, t416, NULL);

    resp = ht_get (svc, path);
    g_free (ht_assert_error (resp, 401, "invalid_token"));
    ht_resp_free (resp);
    resp = ht_get (svc, other);
    g_free (ht_assert_error (resp, 403, "forbidden"));
    ht_resp_free (resp);
  }

  /* 405, with Allow */
  for (i = 0; i < G_N_ELEMENTS (methods); i++) {
    g_autofree gchar *path = ht_cover_path (HT_SEED_CID, token, NULL);

    resp = ht_request (svc, methods[i], path);
    g_free (ht_assert_error (resp, 405, "method_not_allowed"));
    g_assert_cmpstr (ht_header (resp, "Allow"), ==, "GET, HEAD");
    ht_resp_free (resp);
  }
  /* a POST with a body, too */
  {
    g_autofree gchar *path = ht_cover_path (HT_SEED_CID, token, NULL);
    g_autoptr (SoupMessage) msg = ht_message (svc, "POST", path);

    soup_message_set_request_body_from_bytes (msg, "image/jpeg", jpeg);
    resp = ht_send (svc, msg);
    g_free (ht_assert_error (resp, 405, "method_not_allowed"));
    g_assert_cmpstr (ht_header (resp, "Allow"), ==, "GET, HEAD");
    ht_resp_free (resp);
  }

  /* still the same cover */
  resp = ht_get_cover (svc, HT_SEED_CID, NULL);
  ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
  ht_resp_free (resp);
  ht_svc_free (svc);
}

/* An empty client id is a bad client id (400), like any other that is not
 * a u32, not an unknown path. */
static void
test_empty_client_id (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autofree gchar *token = ht_token (HT_SEED_CID);
  g_autofree gchar *get =
      g_strdup_printf ("/v2/snapshots//cover?client_token=%s", token);
  g_autofree gchar *post =
      g_strdup_printf ("/v2/devices//snapshots?client_token=%s", token);
  HtResp *resp;

  resp = ht_get (svc, get);
  g_free (ht_assert_error (resp, 400, "bad_client_id"));
  ht_resp_free (resp);
  resp = ht_request (svc, "POST", post);
  g_free (ht_assert_error (resp, 400, "bad_client_id"));
  ht_resp_free (resp);
  ht_svc_free (svc);
}

/* 500: a source fails and no other has a cover */
static void
test_cover_500 (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  guint32 cid = 10000500, cid2 = 10000501;
  g_autofree gchar *dir = NULL, *dir2 = NULL, *bad = NULL, *garbage = NULL;
  g_autofree gchar *good = NULL;
  g_autoptr (GBytes) junk = g_bytes_new_static ("not a jpeg at all", 17);
  g_autoptr (GBytes) thumb = ht_jpeg (160, 90, 0, 250, 0);
  g_autoptr (GBytes) up = ht_jpeg (64, 64, 250, 0, 0);
  guint warnings = ht_warnings_seen ();
  HtResp *resp;

  /* the newest "thumbnail" is a directory */
  dir = g_strdup_printf ("%s/%u", svc->thumb_dir, cid);
  bad = g_build_filename (dir, "20261128T000000Z.jpg", NULL);
  g_assert_cmpint (g_mkdir_with_parents (bad, 0750), ==, 0);
  resp = ht_get_cover (svc, cid, NULL);
  g_free (ht_assert_error (resp, 500, "internal"));
  ht_resp_free (resp);
  g_assert_cmpuint (ht_warnings_seen (), >, warnings);
  /* again: the failure is not cached as "nothing there" */
  resp = ht_get_cover (svc, cid, NULL);
  g_free (ht_assert_error (resp, 500, "internal"));
  ht_resp_free (resp);

  /* a file of garbage with a .jpg name */
  dir2 = g_strdup_printf ("%s/%u", svc->thumb_dir, cid2);
  garbage = g_build_filename (dir2, "20261128T000000Z.jpg", NULL);
  ht_write_file (garbage, junk);
  resp = ht_get_cover (svc, cid2, NULL);
  g_free (ht_assert_error (resp, 500, "internal"));
  ht_resp_free (resp);

  /* a source after the failing one has a cover: it is served */
  upload_ok (svc, cid2, up);
  resp = ht_get_cover (svc, cid2, NULL);
  ht_assert_cover (resp, up, "image/jpeg", "upload");
  ht_resp_free (resp);

  /* a good, newer thumbnail: the record source recovers */
  good = g_build_filename (dir2, "20261128T000100Z.jpg", NULL);
  ht_write_file (good, thumb);
  resp = ht_get_cover (svc, cid2, NULL);
  ht_assert_cover (resp, thumb, "image/jpeg", "record");
  ht_resp_free (resp);

  /* the directory went away: 404 again for the first one */
  ht_rm_rf (dir);
  resp = ht_get_cover (svc, cid, NULL);
  g_free (ht_assert_error (resp, 404, "no_cover"));
  ht_resp_free (resp);
  ht_svc_free (svc);
}

static void
test_not_found (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  const gchar *paths[] = { "/", "/v2", "/v2/", "/v2/snapshots",
    "/v2/snapshots/10000415", "/v2/snapshots/10000415/", "/v2/snapshots/cover",
    "/v2/snapshots/10000415/cover/", "/v2/snapshots/10000415/cover/x",
    "/v2/snapshots/1/2/cover", "/v2/devices", "/v2/devices/10000415",
    "/v2/devices/10000415/snapshot", "/v2/devices/10000415/snapshots/1",
    "/v3/snapshots/10000415/cover", "/healthz/x", "/metricsx", "/favicon.ico" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (paths); i++) {
    g_autoptr (HtResp) get = ht_get (svc, paths[i]);
    g_autoptr (HtResp) post = ht_request (svc, "POST", paths[i]);

    g_free (ht_assert_error (get, 404, "not_found"));
    g_free (ht_assert_error (post, 404, "not_found"));
  }
  ht_svc_free (svc);
}

/* POST upload: 200 400 401 403 405 406 413 */

#define MP_TYPE "multipart/form-data; boundary=" SEED_BOUNDARY

static void
test_upload_status_codes (void)
{
  HtSvc *svc = ht_svc_new ("max-upload-size", "100000", NULL);
  guint32 cid = HT_SEED_CID;
  g_autofree gchar *token = ht_token (cid);
  g_autofree gchar *t416 = ht_token (cid + 1);
  g_autoptr (GBytes) jpeg = ht_jpeg (200, 100, 30, 60, 90);
  g_autoptr (GBytes) text = g_bytes_new_static ("hello, world\n", 13);
  g_autoptr (GBytes) big = ht_jpeg_of_size (100001);
  g_autoptr (GBytes) body = NULL;
  const gchar *methods[] = { "GET", "PUT", "DELETE" };
  g_autofree gchar *metrics = NULL;
  HtResp *resp;
  guint i;

  /* 200 */
  resp = ht_upload (svc, cid, jpeg);
  assert_upload_answer (resp);
  ht_resp_free (resp);

  /* 400: bad id, not multipart, no boundary, no file part, empty file */
  {
    g_autofree gchar *path =
        g_strdup_printf ("/v2/devices/abc/snapshots?client_token=%s", token);
    g_autoptr (SoupMessage) msg = ht_message (svc, "POST", path);

    body = cs_test_multipart_body (
        SEED_BOUNDARY, "file", "a.jpg", "image/jpeg", jpeg, TRUE);
    soup_message_set_request_body_from_bytes (msg, MP_TYPE, body);
    resp = ht_send (svc, msg);
    g_free (ht_assert_error (resp, 400, "bad_client_id"));
    ht_resp_free (resp);
    g_clear_pointer (&body, g_bytes_unref);
  }
  resp = ht_upload_body (svc, cid, "image/jpeg", jpeg, FALSE);
  g_free (ht_assert_error (resp, 400, "bad_request"));
  ht_resp_free (resp);
  body = cs_test_multipart_body (
      SEED_BOUNDARY, "file", "a.jpg", "image/jpeg", jpeg, TRUE);
  resp = ht_upload_body (svc, cid, "multipart/form-data", body, FALSE);
  g_free (ht_assert_error (resp, 400, "bad_request"));
  ht_resp_free (resp);
  /* the boundary of the header is not the body's */
  resp = ht_upload_body (
      svc, cid, "multipart/form-data; boundary=XYZXYZ", body, FALSE);
  g_free (ht_assert_error (resp, 400, "bad_request"));
  ht_resp_free (resp);
  g_clear_pointer (&body, g_bytes_unref);
  body = cs_test_multipart_body (
      SEED_BOUNDARY, "image", "a.jpg", "image/jpeg", jpeg, TRUE);
  resp = ht_upload_body (svc, cid, MP_TYPE, body, FALSE);
  g_free (ht_assert_error (resp, 400, "bad_request"));
  ht_resp_free (resp);
  g_clear_pointer (&body, g_bytes_unref);
  body = cs_test_multipart_body (
      SEED_BOUNDARY, "file", "a.jpg", "image/jpeg", NULL, TRUE);
  resp = ht_upload_body (svc, cid, MP_TYPE, body, FALSE);
  g_free (ht_assert_error (resp, 400, "bad_request"));
  ht_resp_free (resp);
  g_clear_pointer (&body, g_bytes_unref);
  body = g_bytes_new_static ("", 0);
  resp = ht_upload_body (svc, cid, MP_TYPE, body, FALSE);
  g_free (ht_assert_error (resp, 400, "bad_request"));
  ht_resp_free (resp);
  g_clear_pointer (&body, g_bytes_unref);
  /* a url-encoded form is not multipart */
  body = g_bytes_new_static ("file=abc", 8);
  resp = ht_upload_body (
      svc, cid, "application/x-www-form-urlencoded", body, FALSE);
  g_free (ht_assert_error (resp, 400, "bad_request"));
  ht_resp_free (resp);
  g_clear_pointer (&body, g_bytes_unref);

  /* 401, 403 */
  {
    g_autofree gchar *path = ht_upload_path (cid, NULL);
    g_autoptr (SoupMessage) msg = ht_message (svc, "POST", path);

    body = cs_test_multipart_body (
        SEED_BOUNDARY, "file", "a.jpg", "image/jpeg", jpeg, TRUE);
    soup_message_set_request_body_from_bytes (msg, MP_TYPE, body);
    resp = ht_send (svc, msg);
    g_free (ht_assert_error (resp, 401, "invalid_token"));
    ht_resp_free (resp);
  }
  {
    g_autofree gchar *path = ht_upload_path (cid, t416);
    g_autoptr (SoupMessage) msg = ht_message (svc, "POST", path);

    soup_message_set_request_body_from_bytes (msg, MP_TYPE, body);
    resp = ht_send (svc, msg);
    g_free (ht_assert_error (resp, 403, "forbidden"));
    ht_resp_free (resp);
    g_clear_pointer (&body, g_bytes_unref);
  }

  /* 405 */
  for (i = 0; i < G_N_ELEMENTS (methods); i++) {
    g_autofree gchar *path = ht_upload_path (cid, token);

    resp = ht_request (svc, methods[i], path);
    g_free (ht_assert_error (resp, 405, "method_not_allowed"));
    g_assert_cmpstr (ht_header (resp, "Allow"), ==, "POST");
    ht_resp_free (resp);
  }

  /* 406 */
  resp = ht_upload (svc, cid, text);
  g_free (ht_assert_error (resp, 406, "unsupported_image"));
  ht_resp_free (resp);

  /* 413 */
  resp = ht_upload (svc, cid, big);
  g_free (ht_assert_error (resp, 413, "too_large"));
  ht_resp_free (resp);

  /* nothing refused replaced the first upload */
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
  ht_resp_free (resp);

  metrics = ht_metrics (svc);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_http_requests_total{endpoint=\"upload\","
                       "status=\"200\",source=\"none\"}"),
      ==, 1);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_http_requests_total{endpoint=\"upload\","
                       "status=\"400\",source=\"none\"}"),
      ==, 8);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_http_requests_total{endpoint=\"upload\","
                       "status=\"406\",source=\"none\"}"),
      ==, 1);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_http_requests_total{endpoint=\"upload\","
                       "status=\"413\",source=\"none\"}"),
      ==, 1);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_http_requests_total{endpoint=\"upload\","
                       "status=\"405\",source=\"none\"}"),
      ==, G_N_ELEMENTS (methods));
  g_assert_cmpint (ht_metric (metrics, "coversnap_upload_bytes_total"), ==,
      g_bytes_get_size (jpeg));
  ht_svc_free (svc);
}

/* The seed's requests, byte for byte */

static gchar *
seed_get (const gchar *token)
{
  return g_strdup_printf (
      "GET /v2/snapshots/10000415/cover?client_token=%s HTTP/1.1\r\n"
      "Host: api.topvdn.com\r\n"
      "Cache-Control: no-cache\r\n"
      "\r\n",
      token);
}

/* The seed's POST.  Its text has no Content-Length (curl sends one; without
 * it an HTTP/1.1 request has no body): @content_length adds it. */
static GBytes *
seed_post (const gchar *token, GBytes *file, gboolean content_length)
{
  GByteArray *b = g_byte_array_new ();
  GString *body = g_string_new (NULL);
  g_autofree gchar *head = NULL;

  g_string_append (body,
      "------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
      "Content-Disposition: form-data; name=\"file\"; "
      "filename=\"\"\r\n"
      "Content-Type: \r\n"
      "\r\n");
  if (file)
    g_string_append_len (
        body, g_bytes_get_data (file, NULL), g_bytes_get_size (file));
  g_string_append (body, "\r\n------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n");

  head = g_strdup_printf (
      "POST /v2/devices/10000415/snapshots?client_token=%s HTTP/1.1\r\n"
      "Host: api.topvdn.com\r\n"
      "Cache-Control: no-cache\r\n"
      "Content-Type: multipart/form-data; "
      "boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW\r\n",
      token);
  g_byte_array_append (b, (const guint8 *) head, strlen (head));
  if (content_length) {
    g_autofree gchar *cl =
        g_strdup_printf ("Content-Length: %" G_GSIZE_FORMAT "\r\n", body->len);

    g_byte_array_append (b, (const guint8 *) cl, strlen (cl));
  }
  g_byte_array_append (b, (const guint8 *) "\r\n", 2);
  g_byte_array_append (b, (const guint8 *) body->str, body->len);
  g_string_free (body, TRUE);
  return g_byte_array_free_to_bytes (b);
}

static HtResp *
raw_bytes (HtSvc *svc, GBytes *request)
{
  return ht_raw (
      svc->port, g_bytes_get_data (request, NULL), g_bytes_get_size (request));
}

static void
test_seed_requests (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autofree gchar *token = ht_token (HT_SEED_CID);
  g_autofree gchar *get = seed_get (token);
  g_autoptr (GBytes) jpeg = ht_jpeg (640, 360, 200, 100, 50);
  g_autoptr (GBytes) req = NULL;
  g_autofree gchar *message = NULL;
  HtResp *resp;

  /* GET: nothing yet */
  resp = ht_raw (svc->port, get, strlen (get));
  g_free (ht_assert_error (resp, 404, "no_cover"));
  ht_resp_free (resp);

  /* POST, exactly the seed's part: filename="", an empty part type, an
   * empty file */
  req = seed_post (token, NULL, TRUE);
  resp = raw_bytes (svc, req);
  message = ht_assert_error (resp, 400, "bad_request");
  g_assert_nonnull (strstr (message, "empty"));
  ht_resp_free (resp);
  g_clear_pointer (&req, g_bytes_unref);

  /* the seed's text as it is, without Content-Length: no body at all */
  req = seed_post (token, NULL, FALSE);
  resp = raw_bytes (svc, req);
  g_free (ht_assert_error (resp, 400, "bad_request"));
  ht_resp_free (resp);
  g_clear_pointer (&req, g_bytes_unref);

  /* the same shape with a real JPEG */
  req = seed_post (token, jpeg, TRUE);
  resp = raw_bytes (svc, req);
  assert_upload_answer (resp);
  ht_resp_free (resp);
  g_clear_pointer (&req, g_bytes_unref);

  /* and the seed's GET returns it, byte for byte */
  resp = ht_raw (svc->port, get, strlen (get));
  ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
  g_assert_nonnull (resp->request_id);
  g_assert_cmpuint (strlen (resp->request_id), ==, 32);
  ht_resp_free (resp);

  /* the same through libsoup */
  resp = ht_get_cover (svc, HT_SEED_CID, NULL);
  ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
  ht_resp_free (resp);
  ht_svc_free (svc);
}

/* curl itself: plain -F uploads of a JPEG and a PNG, and the seed's GET
 * command.  (The seed's POST command is in test-http-known-bugs.c.) */
static void
test_curl (void)
{
  HtSvc *svc;
  g_autofree gchar *token = NULL, *file = NULL, *url = NULL;
  g_autofree gchar *get_url = NULL, *form = NULL;
  g_autoptr (GBytes) jpeg = ht_jpeg (320, 240, 10, 120, 230);
  g_autoptr (GBytes) png = ht_png (120, 80, 240, 10, 10);
  HtResp *resp;
  guint k;

  if (!ht_have_curl ()) {
    g_test_skip ("curl is not installed");
    return;
  }
  svc = ht_svc_new (NULL);
  token = ht_token (HT_SEED_CID);
  file = g_build_filename (svc->root, "10000415.jpg", NULL);
  form = g_strdup_printf ("file=@%s", file);
  url = g_strdup_printf (
      "%s/v2/devices/10000415/snapshots?client_token=%s", svc->base, token);
  get_url = g_strdup_printf (
      "%s/v2/snapshots/10000415/cover?client_token=%s", svc->base, token);

  for (k = 0; k < 2; k++) {
    GBytes *image = k == 0 ? jpeg : png;
    const gchar *args[] = { "-F", form, url, NULL };
    g_autoptr (GBytes) answer = NULL;

    ht_write_file (file, image);
    g_assert_cmpuint (ht_curl (svc, args, &answer), ==, 200);
    g_assert_nonnull (g_strstr_len (g_bytes_get_data (answer, NULL),
        g_bytes_get_size (answer), "\"request_id\""));

    resp = ht_get_cover (svc, HT_SEED_CID, NULL);
    ht_assert_cover (
        resp, image, k == 0 ? "image/jpeg" : "image/png", "upload");
    ht_resp_free (resp);
  }

  /* the seed's GET command */
  {
    const gchar *args[] = { "-X", "GET", "-H", "Cache-Control: no-cache",
      get_url, NULL };
    g_autoptr (GBytes) got = NULL;

    g_assert_cmpuint (ht_curl (svc, args, &got), ==, 200);
    g_assert_true (g_bytes_equal (got, png));
  }
  ht_svc_free (svc);
}

/* /healthz, /metrics */

static void
test_health_and_metrics (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autoptr (GBytes) jpeg = ht_jpeg (100, 100, 1, 2, 3);
  g_autofree gchar *m0 = NULL, *m1 = NULL, *m2 = NULL;
  const gchar *metric_names[] = { "coversnap_http_requests_total",
    "coversnap_token_failures_total", "coversnap_upload_bytes_total",
    "coversnap_live_covers_read_total" };
  HtResp *resp;
  guint i;

  resp = ht_get (svc, "/healthz");
  ht_assert_status (resp, 200);
  g_assert_cmpmem (g_bytes_get_data (resp->body, NULL),
      g_bytes_get_size (resp->body), "ok\n", 3);
  g_assert_cmpstr (soup_message_headers_get_content_type (resp->headers, NULL),
      ==, "text/plain");
  ht_resp_free (resp);
  resp = ht_request (svc, "HEAD", "/healthz");
  ht_assert_status (resp, 200);
  g_assert_cmpuint (g_bytes_get_size (resp->body), ==, 0);
  ht_resp_free (resp);
  resp = ht_request (svc, "POST", "/healthz");
  g_free (ht_assert_error (resp, 405, "method_not_allowed"));
  g_assert_cmpstr (ht_header (resp, "Allow"), ==, "GET, HEAD");
  ht_resp_free (resp);
  resp = ht_request (svc, "DELETE", "/metrics");
  g_free (ht_assert_error (resp, 405, "method_not_allowed"));
  ht_resp_free (resp);

  m0 = ht_metrics (svc);
  for (i = 0; i < G_N_ELEMENTS (metric_names); i++) {
    g_autofree gchar *help = g_strdup_printf ("# HELP %s ", metric_names[i]);
    g_autofree gchar *type =
        g_strdup_printf ("# TYPE %s counter\n", metric_names[i]);

    g_assert_nonnull (strstr (m0, help));
    g_assert_nonnull (strstr (m0, type));
  }
  g_assert_cmpint (ht_metric (m0,
                       "coversnap_http_requests_total{endpoint=\"healthz\","
                       "status=\"200\",source=\"none\"}"),
      ==, 2);
  g_assert_cmpint (ht_metric (m0,
                       "coversnap_http_requests_total{endpoint=\"healthz\","
                       "status=\"405\",source=\"none\"}"),
      ==, 1);
  g_assert_cmpint (ht_metric (m0,
                       "coversnap_http_requests_total{endpoint=\"metrics\","
                       "status=\"405\",source=\"none\"}"),
      ==, 1);
  /* the scrape counts itself */
  g_assert_cmpint (ht_metric (m0,
                       "coversnap_http_requests_total{endpoint=\"metrics\","
                       "status=\"200\",source=\"none\"}"),
      ==, 1);
  g_assert_cmpint (ht_metric (m0, "coversnap_upload_bytes_total"), ==, 0);
  g_assert_cmpint (ht_metric (m0, "coversnap_live_covers_read_total"), >=, 0);

  /* requests change the counters exactly */
  resp = ht_get_cover (svc, 42, NULL);
  ht_assert_status (resp, 404);
  ht_resp_free (resp);
  upload_ok (svc, 42, jpeg);
  upload_ok (svc, 42, jpeg);
  for (i = 0; i < 3; i++) {
    resp = ht_get_cover (svc, 42, NULL);
    ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
    ht_resp_free (resp);
  }
  resp = ht_get (svc, "/nowhere");
  ht_assert_status (resp, 404);
  ht_resp_free (resp);
  resp = ht_get (svc, "/v2/snapshots/42/cover?client_token=1_2_3_4");
  ht_assert_status (resp, 401);
  ht_resp_free (resp);

  m1 = ht_metrics (svc);
  g_assert_cmpint (ht_metric (m1,
                       "coversnap_http_requests_total{endpoint=\"cover\","
                       "status=\"404\",source=\"none\"}"),
      ==, 1);
  g_assert_cmpint (ht_metric (m1,
                       "coversnap_http_requests_total{endpoint=\"cover\","
                       "status=\"200\",source=\"upload\"}"),
      ==, 3);
  g_assert_cmpint (ht_metric (m1,
                       "coversnap_http_requests_total{endpoint=\"upload\","
                       "status=\"200\",source=\"none\"}"),
      ==, 2);
  g_assert_cmpint (ht_metric (m1,
                       "coversnap_http_requests_total{endpoint=\"other\","
                       "status=\"404\",source=\"none\"}"),
      ==, 1);
  g_assert_cmpint (ht_metric (m1,
                       "coversnap_http_requests_total{endpoint=\"cover\","
                       "status=\"401\",source=\"none\"}"),
      ==, 1);
  g_assert_cmpint (ht_metric (m1,
                       "coversnap_http_requests_total{endpoint=\"metrics\","
                       "status=\"200\",source=\"none\"}"),
      ==, 2);
  g_assert_cmpint (ht_metric (m1, "coversnap_upload_bytes_total"), ==,
      2 * g_bytes_get_size (jpeg));
  g_assert_cmpint (
      ht_metric (m1, "coversnap_token_failures_total{reason=\"malformed\"}"),
      ==, 1);

  /* a live cover: published counts once per new image, not per request */
  {
    g_autoptr (GError) err = NULL;
    g_autoptr (GBytes) live = ht_jpeg (64, 32, 5, 5, 5);
    CoverStoreWriter *w =
        cover_store_writer_open (svc->store_dir, 42, 0600, &err);
    gint64 before;

    g_assert_no_error (err);
    before = ht_metric (m1, "coversnap_live_covers_read_total");
    g_assert_true (cover_store_writer_publish (w, g_bytes_get_data (live, NULL),
        g_bytes_get_size (live), 64, 32, g_get_real_time (), NULL, &err));
    for (i = 0; i < 3; i++) {
      resp = ht_get_cover (svc, 42, NULL);
      ht_assert_cover (resp, live, "image/jpeg", "live");
      ht_resp_free (resp);
    }
    m2 = ht_metrics (svc);
    g_assert_cmpint (
        ht_metric (m2, "coversnap_live_covers_read_total"), ==, before + 1);
    g_assert_cmpint (ht_metric (m2,
                         "coversnap_http_requests_total{endpoint=\"cover\","
                         "status=\"200\",source=\"live\"}"),
        ==, 3);
    cover_store_writer_close (w, TRUE);
  }
  ht_svc_free (svc);
}

/* cover_service_attach() to a SoupServer the test runs on its own thread
 * and main context */
static void
test_attach (void)
{
  HtSvc *svc = ht_svc_dirs_new ();
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) jpeg = ht_jpeg (640, 360, 128, 64, 32);
  g_autofree gchar *etag = NULL;
  HtOwnServer *own;
  HtResp *resp;

  svc->service = cover_service_new (ht_config_new (svc, NULL), &err);
  g_assert_no_error (err);
  own = ht_own_server_start (svc->service);
  svc->port = own->port;
  svc->base = g_strdup_printf ("http://127.0.0.1:%u", own->port);
  /* the service did not listen by itself */
  g_assert_cmpuint (cover_service_get_port (svc->service), ==, 0);

  resp = ht_get_cover (svc, HT_SEED_CID, NULL);
  g_free (ht_assert_error (resp, 404, "no_cover"));
  ht_resp_free (resp);
  /* the upload and the resize go through the worker pool and come back to
   * this server's own context */
  upload_ok (svc, HT_SEED_CID, jpeg);
  resp = ht_get_cover (svc, HT_SEED_CID, NULL);
  ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
  etag = g_strdup (ht_header (resp, "ETag"));
  ht_resp_free (resp);
  resp = ht_get_cover (svc, HT_SEED_CID, "width=160");
  ht_assert_status (resp, 200);
  {
    guint w, h;

    ht_image_size (resp->body, &w, &h);
    g_assert_cmpuint (w, ==, 160);
    g_assert_cmpuint (h, ==, 90);
    g_assert_cmpstr (ht_header (resp, "ETag"), !=, etag);
  }
  ht_resp_free (resp);
  resp = ht_get (svc, "/healthz");
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  resp = ht_get (svc, "/elsewhere");
  g_free (ht_assert_error (resp, 404, "not_found"));
  ht_resp_free (resp);

  ht_own_server_stop (own);
  ht_svc_free (svc);
}

/* The extension points: an extra path on the service's servers, extra
 * /metrics text and a /healthz part that can make it 503. */
static void
extension_handler (SoupServer *server, SoupServerMessage *msg, const char *path,
    GHashTable *query, gpointer user_data)
{
  soup_server_message_set_status (msg, SOUP_STATUS_ACCEPTED, NULL);
  soup_server_message_set_response (
      msg, "text/plain", SOUP_MEMORY_COPY, user_data, strlen (user_data));
}

static void
extension_metrics (GString *out, gpointer user_data)
{
  g_string_append_printf (out,
      "# TYPE test_extension gauge\ntest_extension %d\n",
      g_atomic_int_get ((gint *) user_data));
}

static gboolean
extension_health (GString *out, gpointer user_data)
{
  gboolean ok = g_atomic_int_get ((gint *) user_data) == 0;

  g_string_append_printf (out, "extension: %s\n", ok ? "ok" : "down");
  return ok;
}

static void
test_extensions (void)
{
  HtSvc *svc = ht_svc_dirs_new ();
  g_autoptr (GError) err = NULL;
  g_autofree gchar *m = NULL;
  gint state = 0;
  HtOwnServer *own;
  HtResp *resp;

  svc->service = cover_service_new (ht_config_new (svc, NULL), &err);
  g_assert_no_error (err);
  cover_service_add_handler (
      svc->service, "/hooks/test", extension_handler, (gpointer) "hooked");
  cover_service_add_metrics (svc->service, extension_metrics, &state);
  cover_service_add_health (svc->service, extension_health, &state);
  own = ht_own_server_start (svc->service);
  svc->port = own->port;
  svc->base = g_strdup_printf ("http://127.0.0.1:%u", own->port);

  resp = ht_request (svc, "POST", "/hooks/test/x");
  ht_assert_status (resp, 202);
  g_assert_cmpmem (g_bytes_get_data (resp->body, NULL),
      g_bytes_get_size (resp->body), "hooked", 6);
  ht_resp_free (resp);
  /* the service's own paths are still its own */
  resp = ht_get (svc, "/hooks");
  g_free (ht_assert_error (resp, 404, "not_found"));
  ht_resp_free (resp);

  resp = ht_get (svc, "/healthz");
  ht_assert_status (resp, 200);
  g_assert_cmpmem (g_bytes_get_data (resp->body, NULL),
      g_bytes_get_size (resp->body), "ok\nextension: ok\n", 17);
  ht_resp_free (resp);
  g_atomic_int_set (&state, 7);
  resp = ht_get (svc, "/healthz");
  ht_assert_status (resp, 503);
  g_assert_cmpmem (g_bytes_get_data (resp->body, NULL),
      g_bytes_get_size (resp->body), "unhealthy\nextension: down\n", 26);
  ht_resp_free (resp);

  m = ht_metrics (svc);
  g_assert_cmpint (ht_metric (m, "test_extension"), ==, 7);
  g_assert_nonnull (strstr (m, "coversnap_http_requests_total"));

  ht_own_server_stop (own);
  ht_svc_free (svc);
}

/* A client id has one spelling: "042" is not client 42 (400, as the
 * ingest refuses it), for a GET and for an upload with a good token and a
 * good form; "42" itself is served. */
static void
test_leading_zero_client_id (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autofree gchar *token = ht_token (42);
  g_autoptr (GBytes) jpeg = ht_jpeg (64, 48, 10, 20, 30);
  const gchar *spellings[] = { "042", "0042", "00" };
  HtResp *resp;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (spellings); i++) {
    g_autofree gchar *get = g_strdup_printf (
        "/v2/snapshots/%s/cover?client_token=%s", spellings[i], token);
    g_autofree gchar *post = g_strdup_printf (
        "/v2/devices/%s/snapshots?client_token=%s", spellings[i], token);
    g_autoptr (SoupMessage) msg = ht_message (svc, "POST", post);
    g_autoptr (GBytes) body = cs_test_multipart_body (
        SEED_BOUNDARY, "file", "a.jpg", "image/jpeg", jpeg, TRUE);

    resp = ht_get (svc, get);
    g_free (ht_assert_error (resp, 400, "bad_client_id"));
    ht_resp_free (resp);
    soup_message_set_request_body_from_bytes (msg, MP_TYPE, body);
    resp = ht_send (svc, msg);
    g_free (ht_assert_error (resp, 400, "bad_client_id"));
    ht_resp_free (resp);
  }
  /* nothing was stored for client 42 by those */
  resp = ht_get_cover (svc, 42, NULL);
  g_free (ht_assert_error (resp, 404, "no_cover"));
  ht_resp_free (resp);
  upload_ok (svc, 42, jpeg);
  resp = ht_get_cover (svc, 42, NULL);
  ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
  ht_resp_free (resp);
  ht_svc_free (svc);
}

int
main (int argc, char **argv)
{
  ht_init (&argc, &argv);

  g_test_add_func ("/http/cover/status-codes", test_cover_status_codes);
  g_test_add_func ("/http/cover/empty-client-id", test_empty_client_id);
  g_test_add_func ("/http/client-id/leading-zero", test_leading_zero_client_id);
  g_test_add_func ("/http/cover/500", test_cover_500);
  g_test_add_func ("/http/not-found", test_not_found);
  g_test_add_func ("/http/upload/status-codes", test_upload_status_codes);
  g_test_add_func ("/http/seed/raw", test_seed_requests);
  g_test_add_func ("/http/seed/curl", test_curl);
  g_test_add_func ("/http/health-and-metrics", test_health_and_metrics);
  g_test_add_func ("/http/attach", test_attach);
  g_test_add_func ("/http/extensions", test_extensions);
  return ht_run ();
}
