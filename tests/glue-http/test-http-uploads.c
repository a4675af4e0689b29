/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Uploads: JPEG and PNG stored and served back byte for byte; every kind of
 * refused upload (foreign, truncated, over the limit with and without
 * Content-Length, broken multipart) leaves the previous cover exactly as it
 * was; a store that fails (a real file size limit, an upload directory that
 * is not a directory) answers 500 and changes nothing. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include "http-util.h"

#define BOUNDARY "----WebKitFormBoundary7MA4YWxkTrZu0gW"
#define MP_TYPE "multipart/form-data; boundary=" BOUNDARY

static GBytes *
multipart (const gchar *name, GBytes *data, gboolean close)
{
  return cs_test_multipart_body (
      BOUNDARY, name, "cover", "image/jpeg", data, close);
}

typedef struct
{
  GBytes *data;
  gchar *etag;
  gchar *mime;
} Current;

static void
current_clear (Current *c)
{
  g_clear_pointer (&c->data, g_bytes_unref);
  g_clear_pointer (&c->etag, g_free);
  g_clear_pointer (&c->mime, g_free);
}

static void
remember (HtSvc *svc, guint32 cid, Current *c, GBytes *expected,
    const gchar *mime, const gchar *source)
{
  g_autoptr (HtResp) resp = ht_get_cover (svc, cid, NULL);

  ht_assert_cover (resp, expected, mime, source);
  current_clear (c);
  c->data = g_bytes_ref (resp->body);
  c->etag = g_strdup (ht_header (resp, "ETag"));
  c->mime = g_strdup (mime);
}

/* The cover is still @c, byte for byte, with the same ETag. */
static void
assert_unchanged (HtSvc *svc, guint32 cid, Current *c, const gchar *source)
{
  g_autoptr (HtResp) resp = ht_get_cover (svc, cid, NULL);

  ht_assert_cover (resp, c->data, c->mime, source);
  g_assert_cmpstr (ht_header (resp, "ETag"), ==, c->etag);
}

/* Only the device's file in the upload directory: no temporary leftovers. */
static void
assert_upload_dir_clean (HtSvc *svc, guint32 cid)
{
  g_autoptr (GDir) d = g_dir_open (svc->upload_dir, 0, NULL);
  g_autofree gchar *want = g_strdup_printf ("%u", cid);
  const gchar *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)))
    g_assert_cmpstr (name, ==, want);
}

static void
test_jpeg_and_png (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  guint32 cid = HT_SEED_CID;
  g_autoptr (GBytes) jpeg = ht_jpeg (321, 123, 255, 128, 0);
  g_autoptr (GBytes) png = ht_png (123, 321, 0, 128, 255);
  g_autofree gchar *path = NULL, *stored = NULL;
  g_autofree gchar *etag = NULL;
  gsize len;
  GStatBuf st;
  HtResp *resp;

  resp = ht_upload (svc, cid, jpeg);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
  etag = g_strdup (ht_header (resp, "ETag"));
  ht_resp_free (resp);

  /* on disk: the exact bytes, mode 0640, nothing else in the directory */
  path = g_strdup_printf ("%s/%u", svc->upload_dir, cid);
  g_assert_true (g_file_get_contents (path, &stored, &len, NULL));
  g_assert_cmpmem (
      stored, len, g_bytes_get_data (jpeg, NULL), g_bytes_get_size (jpeg));
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0640);
  assert_upload_dir_clean (svc, cid);

  /* a PNG replaces it, and is served as a PNG */
  resp = ht_upload (svc, cid, png);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, png, "image/png", "upload");
  g_assert_cmpstr (ht_header (resp, "ETag"), !=, etag);
  ht_resp_free (resp);
  assert_upload_dir_clean (svc, cid);

  /* each device has its own */
  resp = ht_upload (svc, cid + 1, jpeg);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  resp = ht_get_cover (svc, cid + 1, NULL);
  ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
  ht_resp_free (resp);
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, png, "image/png", "upload");
  ht_resp_free (resp);
  ht_svc_free (svc);
}

/* The bytes of a JPEG up to (not including) its SOF marker. */
static GBytes *
jpeg_cut_before_sof (GBytes *jpeg)
{
  const guint8 *d = g_bytes_get_data (jpeg, NULL);
  gsize n = g_bytes_get_size (jpeg), i = 2;

  while (i + 4 <= n) {
    g_assert_cmpuint (d[i], ==, 0xff);
    if (d[i + 1] >= 0xc0 && d[i + 1] <= 0xc2)
      return g_bytes_new (d, i);
    i += 2 + ((d[i + 2] << 8) | d[i + 3]);
  }
  g_assert_not_reached ();
  return NULL;
}

#define LIMIT 100000
#define FRAMING (64 * 1024)

static void
test_rejected_keep_previous (void)
{
  HtSvc *svc = ht_svc_new ("max-upload-size", G_STRINGIFY (LIMIT), NULL);
  guint32 cid = HT_SEED_CID;
  g_autoptr (GBytes) first = ht_jpeg (640, 360, 10, 20, 30);
  g_autoptr (GBytes) text = g_bytes_new_static ("GIF89a? no, text.", 17);
  g_autoptr (GBytes) cut = jpeg_cut_before_sof (first);
  g_autoptr (GBytes) soi = g_bytes_new_static ("\xff\xd8\xff\xe0", 4);
  g_autoptr (GBytes) exact = ht_jpeg_of_size (LIMIT);
  g_autoptr (GBytes) over = ht_jpeg_of_size (LIMIT + 1);
  g_autoptr (GBytes) far_over = ht_jpeg_of_size (LIMIT + FRAMING + 50000);
  g_autoptr (GBytes) png_garbage = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autofree gchar *token = ht_token (cid);
  Current cur = { 0 };
  HtResp *resp;
  guint8 garbage[200];

  memcpy (garbage, "\x89PNG\r\n\x1a\n", 8);
  memset (garbage + 8, 'x', sizeof (garbage) - 8);
  png_garbage = g_bytes_new (garbage, sizeof (garbage));

  resp = ht_upload (svc, cid, first);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  remember (svc, cid, &cur, first, "image/jpeg", "upload");

  /* 406: not an image, a JPEG without its SOF, a PNG that is only its
   * signature */
  resp = ht_upload (svc, cid, text);
  g_free (ht_assert_error (resp, 406, "unsupported_image"));
  ht_resp_free (resp);
  assert_unchanged (svc, cid, &cur, "upload");
  resp = ht_upload (svc, cid, cut);
  g_free (ht_assert_error (resp, 406, "unsupported_image"));
  ht_resp_free (resp);
  assert_unchanged (svc, cid, &cur, "upload");
  resp = ht_upload (svc, cid, soi);
  g_free (ht_assert_error (resp, 406, "unsupported_image"));
  ht_resp_free (resp);
  assert_unchanged (svc, cid, &cur, "upload");
  resp = ht_upload (svc, cid, png_garbage);
  g_free (ht_assert_error (resp, 406, "unsupported_image"));
  ht_resp_free (resp);
  assert_unchanged (svc, cid, &cur, "upload");

  /* 413: one byte over, with a Content-Length */
  resp = ht_upload (svc, cid, over);
  g_free (ht_assert_error (resp, 413, "too_large"));
  ht_resp_free (resp);
  assert_unchanged (svc, cid, &cur, "upload");

  /* 413: chunked, no Content-Length: one byte over, and far over */
  body = multipart ("file", over, TRUE);
  resp = ht_upload_body (svc, cid, MP_TYPE, body, TRUE);
  g_free (ht_assert_error (resp, 413, "too_large"));
  ht_resp_free (resp);
  assert_unchanged (svc, cid, &cur, "upload");
  g_clear_pointer (&body, g_bytes_unref);
  body = multipart ("file", far_over, TRUE);
  resp = ht_upload_body (svc, cid, MP_TYPE, body, TRUE);
  g_free (ht_assert_error (resp, 413, "too_large"));
  ht_resp_free (resp);
  assert_unchanged (svc, cid, &cur, "upload");

  /* 413 from the Content-Length alone (the client waits for 100 Continue,
   * as curl does for big bodies): the body is never sent */
  {
    g_autofree gchar *req = g_strdup_printf (
        "POST /v2/devices/%u/snapshots?client_token=%s HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "Content-Type: " MP_TYPE "\r\n"
        "Content-Length: %u\r\n"
        "Expect: 100-continue\r\n"
        "\r\n",
        cid, token, LIMIT + FRAMING + 1);

    resp = ht_raw (svc->port, req, strlen (req));
    g_assert_nonnull (resp->request_id);
    g_free (ht_assert_error (resp, 413, "too_large"));
    g_assert_true (soup_message_headers_header_contains (
        resp->headers, "Connection", "close"));
    ht_resp_free (resp);
  }
  assert_unchanged (svc, cid, &cur, "upload");
  /* a huge one sent in full is refused too, and the connection is usable
   * afterwards */
  {
    g_autoptr (GBytes) huge = multipart ("file", far_over, TRUE);

    resp = ht_upload_body (svc, cid, MP_TYPE, huge, FALSE);
    g_free (ht_assert_error (resp, 413, "too_large"));
    ht_resp_free (resp);
  }
  assert_unchanged (svc, cid, &cur, "upload");

  /* 400: no end boundary, not multipart, no file part, empty file */
  g_clear_pointer (&body, g_bytes_unref);
  body = multipart ("file", exact, FALSE);
  resp = ht_upload_body (svc, cid, MP_TYPE, body, FALSE);
  g_free (ht_assert_error (resp, 400, "bad_request"));
  ht_resp_free (resp);
  assert_unchanged (svc, cid, &cur, "upload");
  resp = ht_upload_body (svc, cid, "image/jpeg", exact, FALSE);
  g_free (ht_assert_error (resp, 400, "bad_request"));
  ht_resp_free (resp);
  assert_unchanged (svc, cid, &cur, "upload");
  g_clear_pointer (&body, g_bytes_unref);
  body = multipart ("picture", exact, TRUE);
  resp = ht_upload_body (svc, cid, MP_TYPE, body, FALSE);
  g_free (ht_assert_error (resp, 400, "bad_request"));
  ht_resp_free (resp);
  assert_unchanged (svc, cid, &cur, "upload");
  g_clear_pointer (&body, g_bytes_unref);
  body = multipart ("file", NULL, TRUE);
  resp = ht_upload_body (svc, cid, MP_TYPE, body, FALSE);
  g_free (ht_assert_error (resp, 400, "bad_request"));
  ht_resp_free (resp);
  assert_unchanged (svc, cid, &cur, "upload");
  assert_upload_dir_clean (svc, cid);

  /* exactly the limit: taken, and served back as it was sent */
  resp = ht_upload (svc, cid, exact);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  remember (svc, cid, &cur, exact, "image/jpeg", "upload");
  g_assert_cmpuint (g_bytes_get_size (cur.data), ==, LIMIT);

  /* a chunked upload within the limit is taken too */
  g_clear_pointer (&body, g_bytes_unref);
  body = multipart ("file", first, TRUE);
  resp = ht_upload_body (svc, cid, MP_TYPE, body, TRUE);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  remember (svc, cid, &cur, first, "image/jpeg", "upload");
  assert_upload_dir_clean (svc, cid);

  current_clear (&cur);
  ht_svc_free (svc);
}

/* A chunked body far over the limit is counted, not kept: 256 MiB sent,
 * 413, and this process (server included) never held it. */
static void
test_chunked_huge (void)
{
  HtSvc *svc = ht_svc_new ("max-upload-size", G_STRINGIFY (LIMIT), NULL);
  g_autofree gchar *token = ht_token (HT_SEED_CID);
  g_autofree gchar *head = g_strdup_printf (
      "POST /v2/devices/%u/snapshots?client_token=%s HTTP/1.1\r\n"
      "Host: 127.0.0.1\r\n"
      "Content-Type: " MP_TYPE "\r\n"
      "Transfer-Encoding: chunked\r\n"
      "\r\n",
      HT_SEED_CID, token);
  gsize before = ht_peak_rss (), after;
  HtResp *resp;

  resp = ht_raw_stream (svc->port, head, 1024 * 1024, 256, TRUE);
  after = ht_peak_rss ();
  ht_assert_status (resp, 413);
  ht_resp_free (resp);
  g_test_message ("peak RSS %" G_GSIZE_FORMAT " → %" G_GSIZE_FORMAT " KiB",
      before / 1024, after / 1024);
  g_assert_cmpuint (after - before, <, 64 * 1024 * 1024);

  resp = ht_get_cover (svc, HT_SEED_CID, NULL);
  g_free (ht_assert_error (resp, 404, "no_cover"));
  ht_resp_free (resp);
  ht_svc_free (svc);
}

/* The default limit is 2 MiB. */
static void
test_default_limit (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autoptr (GBytes) exact = ht_jpeg_of_size (2 * 1024 * 1024);
  g_autoptr (GBytes) over = ht_jpeg_of_size (2 * 1024 * 1024 + 1);
  Current cur = { 0 };
  HtResp *resp;

  resp = ht_upload (svc, 42, exact);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  remember (svc, 42, &cur, exact, "image/jpeg", "upload");
  resp = ht_upload (svc, 42, over);
  g_free (ht_assert_error (resp, 413, "too_large"));
  ht_resp_free (resp);
  assert_unchanged (svc, 42, &cur, "upload");
  current_clear (&cur);
  ht_svc_free (svc);
}

/* A store that fails half-way (a real file size limit: what a full disk
 * looks like to write()): 500, the previous upload stays byte for byte. */
static void
test_store_fails_write (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autoptr (GBytes) small = ht_jpeg (32, 32, 50, 60, 70);
  g_autoptr (GBytes) bigger = ht_jpeg_of_size (60000);
  guint warnings = ht_warnings_seen ();
  struct rlimit old, lim;
  Current cur = { 0 };
  HtResp *resp;

  resp = ht_upload (svc, 7, small);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  remember (svc, 7, &cur, small, "image/jpeg", "upload");
  g_assert_cmpuint (g_bytes_get_size (small), <, 16384);

  /* EFBIG instead of SIGXFSZ */
  signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &old), ==, 0);
  lim = old;
  lim.rlim_cur = 16384;
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &lim), ==, 0);
  resp = ht_upload (svc, 7, bigger);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &old), ==, 0);
  g_free (ht_assert_error (resp, 500, "internal"));
  ht_resp_free (resp);
  g_assert_cmpuint (ht_warnings_seen (), >, warnings);

  assert_unchanged (svc, 7, &cur, "upload");
  assert_upload_dir_clean (svc, 7);

  /* with the limit gone, the same upload goes through */
  resp = ht_upload (svc, 7, bigger);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  remember (svc, 7, &cur, bigger, "image/jpeg", "upload");
  current_clear (&cur);
  ht_svc_free (svc);
}

/* The upload directory is a regular file: no temporary file can be made.
 * The device's cover (a recording thumbnail) is what it was. */
static void
test_store_fails_dir (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  guint32 cid = 20000042;
  g_autoptr (GBytes) thumb = ht_jpeg (160, 90, 1, 1, 200);
  g_autoptr (GBytes) jpeg = ht_jpeg (64, 64, 200, 1, 1);
  g_autoptr (GBytes) blocker = g_bytes_new_static ("not a directory", 15);
  g_autofree gchar *thumb_path =
      g_strdup_printf ("%s/%u/20261128T000000Z.jpg", svc->thumb_dir, cid);
  g_autofree gchar *got = NULL;
  Current cur = { 0 };
  gsize len;
  HtResp *resp;

  ht_write_file (thumb_path, thumb);
  remember (svc, cid, &cur, thumb, "image/jpeg", "record");
  ht_rm_rf (svc->upload_dir);
  ht_write_file (svc->upload_dir, blocker);

  resp = ht_upload (svc, cid, jpeg);
  g_free (ht_assert_error (resp, 500, "internal"));
  ht_resp_free (resp);
  assert_unchanged (svc, cid, &cur, "record");
  g_assert_true (g_file_get_contents (svc->upload_dir, &got, &len, NULL));
  g_assert_cmpmem (got, len, "not a directory", 15);

  /* without the thumbnail: nothing to serve, and still nothing stored */
  ht_rm_rf (thumb_path);
  resp = ht_get_cover (svc, cid, NULL);
  g_free (ht_assert_error (resp, 404, "no_cover"));
  ht_resp_free (resp);

  /* the directory back: uploads work again */
  g_assert_cmpint (g_unlink (svc->upload_dir), ==, 0);
  resp = ht_upload (svc, cid, jpeg);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
  ht_resp_free (resp);
  current_clear (&cur);
  ht_svc_free (svc);
}

/* @dir/@name with an mtime @age_s seconds ago */
static gchar *
old_file (const gchar *dir, const gchar *name, gint64 age_s)
{
  g_autoptr (GBytes) junk = g_bytes_new_static ("half a cover", 12);
  gchar *path = g_build_filename (dir, name, NULL);
  gint64 t = g_get_real_time () / G_USEC_PER_SEC - age_s;
  struct utimbuf times = { t, t };

  ht_write_file (path, junk);
  g_assert_cmpint (g_utime (path, &times), ==, 0);
  return path;
}

/* Item 16: what uploads (and thumbnail saves) killed before their rename
 * left is removed at service start and when the device uploads again:
 * only our temporary names, only old ones, never through a link. */
static void
test_sweep_crashed (void)
{
  HtSvc *svc = ht_svc_dirs_new ();
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) jpeg = ht_jpeg (64, 64, 10, 200, 10);
  g_autofree gchar *thumbs = NULL, *outside = NULL, *link = NULL;
  g_autofree gchar *crashed = NULL, *other = NULL, *fresh = NULL;
  g_autofree gchar *notes = NULL, *odd = NULL, *thumb_tmp = NULL;
  g_autofree gchar *thumb = NULL, *later = NULL, *later_other = NULL;
  CoverConfig *c = ht_config_new (svc, NULL);
  guint32 cid = HT_SEED_CID;
  gchar name[64];
  HtResp *resp;

  g_snprintf (name, sizeof (name), ".%u.AbC123", cid);
  crashed = old_file (svc->upload_dir, name, 7200);
  other = old_file (svc->upload_dir, ".43.Qq1234", 7200);
  g_snprintf (name, sizeof (name), ".%u.Zz9999", cid);
  fresh = old_file (svc->upload_dir, name, 5);
  notes = old_file (svc->upload_dir, ".notes", 7200);
  odd = old_file (svc->upload_dir, ".44.Ab_123", 7200);
  outside = old_file (svc->root, "victim", 7200);
  link = g_build_filename (svc->upload_dir, ".45.AbC123", NULL);
  g_assert_cmpint (symlink (outside, link), ==, 0);
  thumbs = g_strdup_printf ("%s/%u", svc->thumb_dir, cid);
  thumb_tmp = old_file (thumbs, ".20261128T000000.000Z.jpg.tmp", 7200);
  thumb = old_file (thumbs, "20261128T000000.000Z.jpg", 7200);

  svc->service = cover_service_new (c, &err);
  g_assert_no_error (err);
  g_assert_false (g_file_test (crashed, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (other, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (thumb_tmp, G_FILE_TEST_EXISTS));
  /* a writer busy right now, other names, links: left alone */
  g_assert_true (g_file_test (fresh, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (notes, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (odd, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (link, G_FILE_TEST_IS_SYMLINK));
  g_assert_true (g_file_test (outside, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (thumb, G_FILE_TEST_IS_REGULAR));

  cover_service_listen (svc->service, &err);
  g_assert_no_error (err);
  svc->port = cover_service_get_port (svc->service);
  svc->base = g_strdup_printf ("http://127.0.0.1:%u", svc->port);

  /* crashed while the service ran: the device's next upload sweeps its
   * own, not another device's */
  g_snprintf (name, sizeof (name), ".%u.Later1", cid);
  later = old_file (svc->upload_dir, name, 7200);
  later_other = old_file (svc->upload_dir, ".46.Later1", 7200);
  resp = ht_upload (svc, cid, jpeg);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  g_assert_false (g_file_test (later, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (later_other, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (fresh, G_FILE_TEST_IS_REGULAR));
  ht_svc_free (svc);
}

int
main (int argc, char **argv)
{
  ht_init (&argc, &argv);

  g_test_add_func ("/http/upload/jpeg-and-png", test_jpeg_and_png);
  g_test_add_func (
      "/http/upload/rejected-keep-previous", test_rejected_keep_previous);
  g_test_add_func ("/http/upload/chunked-huge", test_chunked_huge);
  g_test_add_func ("/http/upload/default-limit", test_default_limit);
  g_test_add_func ("/http/upload/store-fails-write", test_store_fails_write);
  g_test_add_func ("/http/upload/store-fails-dir", test_store_fails_dir);
  g_test_add_func ("/http/upload/sweep-crashed", test_sweep_crashed);
  return ht_run ();
}
