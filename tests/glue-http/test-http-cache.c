/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* What HTTP caches and clients see: ETag and If-None-Match (exact, lists,
 * "*", weak), HEAD, Last-Modified, Cache-Control, and the resized variants
 * (fit inside, never upscaled, PNG to JPEG) with their own cache. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib/gstdio.h>
#include <utime.h>

#include "coverstore.h"
#include "http-util.h"

static HtResp *
get_inm (HtSvc *svc, guint32 cid, const gchar *extra, const gchar *method,
    const gchar *if_none_match)
{
  g_autofree gchar *token = ht_token (cid);
  g_autofree gchar *path = ht_cover_path (cid, token, extra);
  g_autoptr (SoupMessage) msg = ht_message (svc, method, path);

  if (if_none_match)
    soup_message_headers_append (
        soup_message_get_request_headers (msg), "If-None-Match", if_none_match);
  return ht_send (svc, msg);
}

static void
assert_304 (HtSvc *svc, guint32 cid, const gchar *extra, const gchar *inm,
    const gchar *etag, const gchar *source)
{
  g_autoptr (HtResp) resp = get_inm (svc, cid, extra, "GET", inm);

  ht_assert_status (resp, 304);
  g_assert_cmpuint (g_bytes_get_size (resp->body), ==, 0);
  g_assert_cmpstr (ht_header (resp, "ETag"), ==, etag);
  g_assert_cmpstr (ht_header (resp, "X-Cover-Source"), ==, source);
  g_assert_cmpstr (ht_header (resp, "Cache-Control"), ==, "no-cache");
  g_assert_nonnull (ht_header (resp, "Last-Modified"));
}

static gchar *
etag_of (HtResp *resp)
{
  const gchar *etag = ht_header (resp, "ETag");

  /* strong: quoted, no W/ */
  g_assert_nonnull (etag);
  g_assert_cmpuint (strlen (etag), >=, 3);
  g_assert_cmpint (etag[0], ==, '"');
  g_assert_cmpint (etag[strlen (etag) - 1], ==, '"');
  return g_strdup (etag);
}

static CoverStoreWriter *
live_writer (HtSvc *svc, guint32 cid)
{
  g_autoptr (GError) err = NULL;
  CoverStoreWriter *w =
      cover_store_writer_open (svc->store_dir, cid, 0600, &err);

  g_assert_no_error (err);
  return w;
}

static void
publish (CoverStoreWriter *w, GBytes *jpeg, gint64 capture_time)
{
  g_autoptr (GError) err = NULL;
  guint w_, h_;

  ht_image_size (jpeg, &w_, &h_);
  g_assert_true (cover_store_writer_publish (w, g_bytes_get_data (jpeg, NULL),
      g_bytes_get_size (jpeg), w_, h_, capture_time, NULL, &err));
  g_assert_no_error (err);
}

static void
test_etag (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  guint32 cid = 10000042, live_cid = 10000043;
  g_autoptr (GBytes) a = ht_jpeg (200, 100, 10, 10, 10);
  g_autoptr (GBytes) b = ht_jpeg (200, 100, 20, 20, 20);
  g_autoptr (GBytes) l = ht_jpeg (64, 64, 30, 30, 30);
  g_autofree gchar *ea = NULL, *eb = NULL, *el1 = NULL, *el2 = NULL;
  g_autofree gchar *list = NULL, *weak = NULL, *unquoted = NULL;
  g_autoptr (HtResp) r = NULL;
  CoverStoreWriter *w;
  HtResp *resp;

  {
    g_autoptr (HtResp) up = ht_upload (svc, cid, a);

    ht_assert_status (up, 200);
  }
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, a, "image/jpeg", "upload");
  ea = etag_of (resp);
  ht_resp_free (resp);
  /* stable while the cover stays */
  resp = ht_get_cover (svc, cid, NULL);
  g_assert_cmpstr (ht_header (resp, "ETag"), ==, ea);
  ht_resp_free (resp);

  assert_304 (svc, cid, NULL, ea, ea, "upload");
  list = g_strdup_printf ("\"nope\", %s", ea);
  assert_304 (svc, cid, NULL, list, ea, "upload");
  g_free (list);
  list = g_strdup_printf ("%s,\"nope\"", ea);
  assert_304 (svc, cid, NULL, list, ea, "upload");
  g_free (list);
  list = g_strdup_printf ("\"a\" ,\t%s , \"b\"", ea);
  assert_304 (svc, cid, NULL, list, ea, "upload");
  assert_304 (svc, cid, NULL, "*", ea, "upload");
  /* If-None-Match compares weakly */
  weak = g_strdup_printf ("W/%s", ea);
  assert_304 (svc, cid, NULL, weak, ea, "upload");
  /* HEAD too */
  resp = get_inm (svc, cid, NULL, "HEAD", ea);
  ht_assert_status (resp, 304);
  ht_resp_free (resp);

  /* not matching: the image */
  resp = get_inm (svc, cid, NULL, "GET", "\"nope\"");
  ht_assert_cover (resp, a, "image/jpeg", "upload");
  ht_resp_free (resp);
  unquoted = g_strndup (ea + 1, strlen (ea) - 2);
  resp = get_inm (svc, cid, NULL, "GET", unquoted);
  ht_assert_cover (resp, a, "image/jpeg", "upload");
  ht_resp_free (resp);

  /* a new upload: a new tag, the old one no longer matches */
  {
    g_autoptr (HtResp) up = ht_upload (svc, cid, b);

    ht_assert_status (up, 200);
  }
  resp = get_inm (svc, cid, NULL, "GET", ea);
  ht_assert_cover (resp, b, "image/jpeg", "upload");
  eb = etag_of (resp);
  g_assert_cmpstr (eb, !=, ea);
  ht_resp_free (resp);
  assert_304 (svc, cid, NULL, eb, eb, "upload");

  /* live: every published image is a new tag, even with the same bytes */
  w = live_writer (svc, live_cid);
  publish (w, l, g_get_real_time ());
  resp = ht_get_cover (svc, live_cid, NULL);
  ht_assert_cover (resp, l, "image/jpeg", "live");
  el1 = etag_of (resp);
  ht_resp_free (resp);
  assert_304 (svc, live_cid, NULL, el1, el1, "live");
  publish (w, l, g_get_real_time ());
  r = get_inm (svc, live_cid, NULL, "GET", el1);
  ht_assert_cover (r, l, "image/jpeg", "live");
  el2 = etag_of (r);
  g_assert_cmpstr (el2, !=, el1);
  cover_store_writer_close (w, TRUE);
  ht_svc_free (svc);
}

static void
assert_head_like_get (HtSvc *svc, guint32 cid, const gchar *extra)
{
  g_autoptr (HtResp) get = get_inm (svc, cid, extra, "GET", NULL);
  g_autoptr (HtResp) head = get_inm (svc, cid, extra, "HEAD", NULL);

  ht_assert_status (get, 200);
  ht_assert_status (head, 200);
  g_assert_cmpuint (g_bytes_get_size (head->body), ==, 0);
  g_assert_cmpint (soup_message_headers_get_content_length (head->headers), ==,
      g_bytes_get_size (get->body));
  g_assert_cmpstr (ht_header (head, "ETag"), ==, ht_header (get, "ETag"));
  g_assert_cmpstr (
      ht_header (head, "Content-Type"), ==, ht_header (get, "Content-Type"));
  g_assert_cmpstr (ht_header (head, "X-Cover-Source"), ==,
      ht_header (get, "X-Cover-Source"));
  g_assert_cmpstr (
      ht_header (head, "Last-Modified"), ==, ht_header (get, "Last-Modified"));
  g_assert_cmpstr (ht_header (head, "Cache-Control"), ==, "no-cache");
}

static void
test_head (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autoptr (GBytes) png = ht_png (400, 300, 100, 150, 200);
  g_autoptr (GBytes) live = ht_jpeg (640, 360, 5, 100, 5);
  CoverStoreWriter *w;
  HtResp *resp;

  /* errors: status and X-Request-ID, no body */
  resp = get_inm (svc, 10000042, NULL, "HEAD", NULL);
  ht_assert_status (resp, 404);
  g_assert_cmpuint (g_bytes_get_size (resp->body), ==, 0);
  ht_resp_free (resp);
  {
    g_autoptr (SoupMessage) msg =
        ht_message (svc, "HEAD", "/v2/snapshots/10000042/cover");

    resp = ht_send (svc, msg);
    ht_assert_status (resp, 401);
    ht_resp_free (resp);
  }

  {
    g_autoptr (HtResp) up = ht_upload (svc, 10000042, png);

    ht_assert_status (up, 200);
  }
  assert_head_like_get (svc, 10000042, NULL);
  assert_head_like_get (svc, 10000042, "width=100");

  w = live_writer (svc, 10000042);
  publish (w, live, g_get_real_time ());
  assert_head_like_get (svc, 10000042, NULL);
  assert_head_like_get (svc, 10000042, "height=45");
  cover_store_writer_close (w, TRUE);
  ht_svc_free (svc);
}

static gint64
last_modified (HtResp *resp)
{
  g_autoptr (GDateTime) dt = NULL;
  const gchar *text = ht_header (resp, "Last-Modified");

  g_assert_nonnull (text);
  g_assert_true (g_str_has_suffix (text, " GMT"));
  dt = soup_date_time_new_from_http_string (text);
  g_assert_nonnull (dt);
  return g_date_time_to_unix (dt);
}

static void
test_last_modified (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autoptr (GBytes) jpeg = ht_jpeg (50, 50, 1, 1, 1);
  g_autofree gchar *upload = NULL, *thumb = NULL;
  struct utimbuf times = { 1700000000, 1700000000 };
  CoverStoreWriter *w;
  GStatBuf st;
  HtResp *resp;

  /* upload: the file's mtime */
  {
    g_autoptr (HtResp) up = ht_upload (svc, 10000042, jpeg);

    ht_assert_status (up, 200);
  }
  upload = g_strdup_printf ("%s/10000042", svc->upload_dir);
  g_assert_cmpint (g_stat (upload, &st), ==, 0);
  resp = ht_get_cover (svc, 10000042, NULL);
  ht_assert_status (resp, 200);
  g_assert_cmpint (last_modified (resp), ==, st.st_mtime);
  ht_resp_free (resp);

  /* record: the thumbnail's mtime */
  thumb = g_strdup_printf ("%s/10000043/20261128T000000Z.jpg", svc->thumb_dir);
  ht_write_file (thumb, jpeg);
  g_assert_cmpint (utime (thumb, &times), ==, 0);
  resp = ht_get_cover (svc, 10000043, NULL);
  ht_assert_cover (resp, jpeg, "image/jpeg", "record");
  g_assert_cmpint (last_modified (resp), ==, 1700000000);
  ht_resp_free (resp);

  /* live: the capture time (2026-01-01T00:00:00.123456Z) */
  w = live_writer (svc, 10000044);
  publish (w, jpeg, G_GINT64_CONSTANT (1767225600123456));
  resp = ht_get_cover (svc, 10000044, NULL);
  ht_assert_cover (resp, jpeg, "image/jpeg", "live");
  g_assert_cmpint (last_modified (resp), ==, 1767225600);
  g_assert_cmpstr (
      ht_header (resp, "Last-Modified"), ==, "Thu, 01 Jan 2026 00:00:00 GMT");
  ht_resp_free (resp);
  cover_store_writer_close (w, TRUE);
  ht_svc_free (svc);
}

static void
assert_colour (GBytes *image, guint8 r, guint8 g, guint8 b)
{
  gdouble rgb[3];
  guint w, h;

  ht_mean_rgb (image, &w, &h, rgb);
  g_assert_cmpfloat_with_epsilon (rgb[0], r, 12);
  g_assert_cmpfloat_with_epsilon (rgb[1], g, 12);
  g_assert_cmpfloat_with_epsilon (rgb[2], b, 12);
}

/* GET cover?@extra → a JPEG of @w x @h (0: any), from @source */
static HtResp *
get_resized (HtSvc *svc, guint32 cid, const gchar *extra, guint *w, guint *h,
    const gchar *source)
{
  HtResp *resp = ht_get_cover (svc, cid, extra);

  ht_assert_status (resp, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (resp->headers, NULL),
      ==, "image/jpeg");
  g_assert_cmpstr (ht_header (resp, "X-Cover-Source"), ==, source);
  g_assert_cmpstr (ht_header (resp, "Cache-Control"), ==, "no-cache");
  g_assert_cmpint (soup_message_headers_get_content_length (resp->headers), ==,
      g_bytes_get_size (resp->body));
  ht_image_size (resp->body, w, h);
  return resp;
}

static void
test_resize (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autoptr (GBytes) live1 = ht_jpeg (640, 360, 220, 40, 40);
  g_autoptr (GBytes) live2 = ht_jpeg (640, 360, 40, 40, 220);
  g_autoptr (GBytes) png = ht_png (400, 300, 30, 200, 90);
  g_autofree gchar *orig_etag = NULL, *small_etag = NULL;
  g_autoptr (GBytes) small = NULL;
  const gchar *not_smaller[] = { "width=640", "width=1000", "height=360",
    "height=1080", "width=1920&height=1080", "width=641&height=361" };
  CoverStoreWriter *w;
  HtResp *resp;
  guint i, rw, rh;

  w = live_writer (svc, 10000042);
  publish (w, live1, g_get_real_time ());
  resp = ht_get_cover (svc, 10000042, NULL);
  ht_assert_cover (resp, live1, "image/jpeg", "live");
  orig_etag = etag_of (resp);
  ht_resp_free (resp);

  /* width: 640x360 → 160x90 */
  resp = get_resized (svc, 10000042, "width=160", &rw, &rh, "live");
  g_assert_cmpuint (rw, ==, 160);
  g_assert_cmpuint (rh, ==, 90);
  assert_colour (resp->body, 220, 40, 40);
  small_etag = etag_of (resp);
  g_assert_cmpstr (small_etag, !=, orig_etag);
  small = g_bytes_ref (resp->body);
  ht_resp_free (resp);

  /* the same again: from the cache, the same tag and bytes */
  resp = get_resized (svc, 10000042, "width=160", &rw, &rh, "live");
  g_assert_cmpstr (ht_header (resp, "ETag"), ==, small_etag);
  g_assert_true (g_bytes_equal (resp->body, small));
  ht_resp_free (resp);
  assert_304 (svc, 10000042, "width=160", small_etag, small_etag, "live");
  /* the original's tag is not the variant's */
  resp = get_inm (svc, 10000042, "width=160", "GET", orig_etag);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);

  /* height alone, and a box */
  resp = get_resized (svc, 10000042, "height=90", &rw, &rh, "live");
  g_assert_cmpuint (rw, ==, 160);
  g_assert_cmpuint (rh, ==, 90);
  ht_resp_free (resp);
  resp = get_resized (svc, 10000042, "width=200&height=200", &rw, &rh, "live");
  g_assert_cmpuint (rw, ==, 200);
  g_assert_cmpuint (rh, >=, 112);
  g_assert_cmpuint (rh, <=, 113);
  ht_resp_free (resp);
  resp = get_resized (svc, 10000042, "width=100&height=20", &rw, &rh, "live");
  g_assert_cmpuint (rh, ==, 20);
  g_assert_cmpuint (rw, >=, 35);
  g_assert_cmpuint (rw, <=, 36);
  ht_resp_free (resp);

  /* never upscaled: the original itself */
  for (i = 0; i < G_N_ELEMENTS (not_smaller); i++) {
    resp = ht_get_cover (svc, 10000042, not_smaller[i]);
    ht_assert_cover (resp, live1, "image/jpeg", "live");
    g_assert_cmpstr (ht_header (resp, "ETag"), ==, orig_etag);
    ht_resp_free (resp);
  }

  /* a new live image: a new variant, with the new picture in it */
  publish (w, live2, g_get_real_time ());
  resp = get_resized (svc, 10000042, "width=160", &rw, &rh, "live");
  g_assert_cmpuint (rw, ==, 160);
  g_assert_cmpstr (ht_header (resp, "ETag"), !=, small_etag);
  assert_colour (resp->body, 40, 40, 220);
  ht_resp_free (resp);
  cover_store_writer_close (w, TRUE);

  /* a PNG upload resized is a JPEG */
  {
    g_autoptr (HtResp) up = ht_upload (svc, 10000043, png);

    ht_assert_status (up, 200);
  }
  resp = get_resized (svc, 10000043, "width=100", &rw, &rh, "upload");
  g_assert_cmpuint (rw, ==, 100);
  g_assert_cmpuint (rh, ==, 75);
  assert_colour (resp->body, 30, 200, 90);
  ht_resp_free (resp);
  /* and not resized, still the PNG */
  resp = ht_get_cover (svc, 10000043, "width=400");
  ht_assert_cover (resp, png, "image/png", "upload");
  ht_resp_free (resp);
  ht_svc_free (svc);
}

/* With the resize cache off, every variant is made again: the same tag,
 * and a JPEG of the right size each time. */
static void
test_resize_no_cache (void)
{
  HtSvc *svc = ht_svc_new ("resize-cache-entries", "0", NULL);
  g_autoptr (GBytes) jpeg = ht_jpeg (640, 360, 99, 99, 99);
  g_autofree gchar *etag = NULL;
  HtResp *resp;
  guint i, rw, rh;

  {
    g_autoptr (HtResp) up = ht_upload (svc, 10000042, jpeg);

    ht_assert_status (up, 200);
  }
  for (i = 0; i < 3; i++) {
    resp = get_resized (svc, 10000042, "width=320", &rw, &rh, "upload");
    g_assert_cmpuint (rw, ==, 320);
    g_assert_cmpuint (rh, ==, 180);
    if (!etag)
      etag = etag_of (resp);
    g_assert_cmpstr (ht_header (resp, "ETag"), ==, etag);
    ht_resp_free (resp);
  }
  ht_svc_free (svc);
}

/* A thumbnail replaced (atomically, by rename, as covertap writes them)
 * right after a GET: the next GET serves the new one with a new tag.  The
 * record source decides from the directory's stat whether to look again,
 * so this depends on the directory's mtime telling the two changes apart. */
static void
test_record_replaced (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  guint32 cid = 10000042;
  g_autofree gchar *path =
      g_strdup_printf ("%s/%u/20261128T000000Z.jpg", svc->thumb_dir, cid);
  g_autofree gchar *last_etag = NULL;
  guint i;

  for (i = 0; i < 40; i++) {
    /* same size, same name, another picture */
    g_autoptr (GBytes) thumb = ht_jpeg (64, 64, i * 6, 255 - i * 6, 128);
    g_autoptr (HtResp) resp = NULL;

    ht_write_file (path, thumb);
    resp = ht_get_cover (svc, cid, NULL);
    ht_assert_cover (resp, thumb, "image/jpeg", "record");
    g_assert_cmpstr (ht_header (resp, "ETag"), !=, last_etag);
    g_free (last_etag);
    last_etag = g_strdup (ht_header (resp, "ETag"));
  }
  ht_svc_free (svc);
}

int
main (int argc, char **argv)
{
  ht_init (&argc, &argv);

  g_test_add_func ("/http/cache/etag", test_etag);
  g_test_add_func ("/http/cache/head", test_head);
  g_test_add_func ("/http/cache/last-modified", test_last_modified);
  g_test_add_func ("/http/cache/resize", test_resize);
  g_test_add_func ("/http/cache/resize-no-cache", test_resize_no_cache);
  g_test_add_func ("/http/cache/record-replaced", test_record_replaced);
  return ht_run ();
}
