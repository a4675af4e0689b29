/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* coversnapd end to end, real processes on 127.0.0.1: the server on free
 * ports over temporary directories, devices pushing a solid colour with
 * gst-launch-1.0 ... ! rtspclientsink, the cover fetched with libsoup and
 * its colour checked with the core's JPEG decoder.  Every wait is bounded;
 * children are killed in teardown. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "e2e-util.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "coverjpeg.h"
#include "cover-token.h"

#define KEY "e2e-app-key"
#define OTHER_KEY "not-the-app-key"
#define CID 42
#define OTHER_CID 43
/* bounds: they only stop a broken test */
#define WAIT_S 20

typedef struct
{
  gchar *root;
  gchar *store_dir;
  gchar *data_dir;
  GSubprocess *server;
  guint16 http_port;
  guint16 rtsp_port;
  SoupSession *session;
  GPtrArray *pushers; /* GSubprocess, killed in teardown */
} Fixture;

static GSubprocess *
spawn (GSubprocessFlags flags, GError **error, const gchar *first, ...)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const gchar *arg;
  va_list ap;

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  va_start (ap, first);
  for (arg = first; arg; arg = va_arg (ap, const gchar *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  return g_subprocess_launcher_spawnv (
      launcher, (const gchar *const *) argv->pdata, error);
}

static gchar *
token_for (guint32 cid, const gchar *key)
{
  CoverToken t = { 0 };

  t.cid = cid;
  t.expire = g_get_real_time () / G_USEC_PER_SEC + 3600;
  return cover_token_mint (key, &t);
}

/* Reads "http on ADDR:PORT" / "rtsp on ADDR:PORT" from the server. */
static guint16
read_port (GDataInputStream *in, const gchar *what)
{
  g_autofree gchar *line = NULL;
  g_autoptr (GError) err = NULL;
  const gchar *colon;

  line = g_data_input_stream_read_line (in, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, what));
  colon = strrchr (line, ':');
  g_assert_nonnull (colon);
  return (guint16) g_ascii_strtoull (colon + 1, NULL, 10);
}

static Fixture *
fixture_new (const gchar *stream_settings)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr (GError) err = NULL;
  g_autofree gchar *config = NULL, *config_path = NULL;
  g_autoptr (GDataInputStream) in = NULL;
  const gchar *coversnapd = g_getenv ("COVERSNAPD");

  g_assert_nonnull (coversnapd);
  f->root = g_dir_make_tmp ("coversnap-e2e-XXXXXX", &err);
  g_assert_no_error (err);
  f->store_dir = g_build_filename (f->root, "store", NULL);
  f->data_dir = g_build_filename (f->root, "data", NULL);
  g_assert_cmpint (g_mkdir (f->store_dir, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (f->data_dir, 0700), ==, 0);
  config = g_strdup_printf ("[server]\n"
                            "listen-address=127.0.0.1\n"
                            "port=0\n"
                            "data-dir=%s\n"
                            "store-dir=%s\n"
                            "live-timeout=3\n"
                            "[app.e2e]\n"
                            "key=" KEY "\n"
                            "cids=42,43\n"
                            "[ingest]\n"
                            "rtsp-port=0\n"
                            "[stream.default]\n"
                            "min-interval=0\n"
                            "%s",
      f->data_dir, f->store_dir, stream_settings ? stream_settings : "");
  config_path = g_build_filename (f->root, "coversnapd.ini", NULL);
  g_assert_true (g_file_set_contents (config_path, config, -1, NULL));

  f->server = spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &err, coversnapd,
      "--config", config_path, NULL);
  g_assert_no_error (err);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (f->server));
  f->http_port = read_port (in, "http on ");
  f->rtsp_port = read_port (in, "rtsp on ");
  g_assert_cmpuint (f->http_port, >, 0);
  g_assert_cmpuint (f->rtsp_port, >, 0);
  f->session = soup_session_new_with_options ("timeout", 10, NULL);
  soup_session_set_proxy_resolver (f->session, NULL);
  f->pushers = g_ptr_array_new_with_free_func (g_object_unref);
  return f;
}

static void
fixture_free (Fixture *f)
{
  guint i;

  for (i = 0; i < f->pushers->len; i++) {
    GSubprocess *p = g_ptr_array_index (f->pushers, i);

    if (g_subprocess_get_identifier (p)) {
      g_subprocess_force_exit (p);
      g_subprocess_wait (p, NULL, NULL);
    }
  }
  g_ptr_array_unref (f->pushers);
  if (g_subprocess_get_identifier (f->server)) {
    /* a clean shutdown is part of the contract */
    g_subprocess_send_signal (f->server, SIGTERM);
    g_assert_cmpint (wait_child (f->server, WAIT_S), ==, 0);
  }
  g_object_unref (f->server);
  g_object_unref (f->session);
  rm_rf (f->root);
  g_free (f->root);
  g_free (f->store_dir);
  g_free (f->data_dir);
  g_free (f);
}

/* gst-launch-1.0 pushing a solid colour to /live/@cid with @token */
static GSubprocess *
push (Fixture *f, guint32 cid, const gchar *token, const gchar *pattern,
    gboolean h265)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *location =
      g_strdup_printf ("location=rtsp://127.0.0.1:%u/live/%u?token=%s",
          f->rtsp_port, cid, token);
  g_autofree gchar *pat = g_strdup_printf ("pattern=%s", pattern);
  GSubprocess *p;

  p = spawn (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &err, "gst-launch-1.0", "-q",
      "videotestsrc", pat, "is-live=true", "!",
      "video/x-raw,format=I420,width=320,height=240,framerate=25/1", "!",
      h265 ? "x265enc" : "x264enc", "tune=zerolatency",
      h265 ? "key-int-max=25" : "key-int-max=25", "!", "rtspclientsink",
      location, NULL);
  g_assert_no_error (err);
  g_ptr_array_add (f->pushers, p);
  return p;
}

typedef struct
{
  guint status;
  gchar *source;
  GBytes *body;
} Resp;

static void
resp_free (Resp *r)
{
  g_free (r->source);
  g_bytes_unref (r->body);
  g_free (r);
}

static Resp *
get_cover (Fixture *f, guint32 cid)
{
  g_autofree gchar *token = token_for (cid, KEY);
  g_autofree gchar *uri =
      g_strdup_printf ("http://127.0.0.1:%u/v2/snapshots/%u/cover"
                       "?client_token=%s",
          f->http_port, cid, token);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  g_autoptr (GError) err = NULL;
  Resp *r = g_new0 (Resp, 1);
  const gchar *src;

  r->body = soup_session_send_and_read (f->session, msg, NULL, &err);
  g_assert_no_error (err);
  r->status = soup_message_get_status (msg);
  src = soup_message_headers_get_one (
      soup_message_get_response_headers (msg), "X-Cover-Source");
  r->source = g_strdup (src);
  return r;
}

/* Polls until the cover's source is @source (NULL: until it is not
 * "live"); bounded. */
static Resp *
wait_cover (Fixture *f, guint32 cid, const gchar *source)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;

  for (;;) {
    Resp *r = get_cover (f, cid);
    gboolean done = source ? g_strcmp0 (r->source, source) == 0
                           : g_strcmp0 (r->source, "live") != 0;

    if (done)
      return r;
    if (g_get_monotonic_time () > deadline) {
      g_printerr ("cover of %u: %u %s, waited for %s\n", cid, r->status,
          r->source ? r->source : "-", source ? source : "not live");
      g_assert_not_reached ();
    }
    resp_free (r);
    g_usleep (100 * 1000);
  }
}

static void
mean_rgb (GBytes *jpeg, gdouble rgb[3])
{
  g_autoptr (GError) err = NULL;
  g_autofree guint8 *px = NULL;
  guint w, h;
  gsize i, n;

  px = cover_jpeg_decode_rgb (
      g_bytes_get_data (jpeg, NULL), g_bytes_get_size (jpeg), &w, &h, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (w, ==, 320);
  g_assert_cmpuint (h, ==, 240);
  n = (gsize) w * h;
  rgb[0] = rgb[1] = rgb[2] = 0;
  for (i = 0; i < n; i++) {
    rgb[0] += px[3 * i];
    rgb[1] += px[3 * i + 1];
    rgb[2] += px[3 * i + 2];
  }
  for (i = 0; i < 3; i++)
    rgb[i] /= n;
}

static void
assert_red (GBytes *jpeg)
{
  gdouble rgb[3];

  mean_rgb (jpeg, rgb);
  g_assert_cmpfloat (rgb[0], >, 200);
  g_assert_cmpfloat (rgb[1], <, 50);
  g_assert_cmpfloat (rgb[2], <, 50);
}

static void
assert_blue (GBytes *jpeg)
{
  gdouble rgb[3];

  mean_rgb (jpeg, rgb);
  g_assert_cmpfloat (rgb[0], <, 50);
  g_assert_cmpfloat (rgb[1], <, 50);
  g_assert_cmpfloat (rgb[2], >, 200);
}

static gboolean
segment_exists (Fixture *f, guint32 cid)
{
  g_autofree gchar *name = g_strdup_printf ("coversnap.%u", cid);
  g_autofree gchar *path = g_build_filename (f->store_dir, name, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* Red live cover; the pusher stops → not live any more (404: no thumbnails,
 * no upload). */
static void
test_live_red_then_gone (void)
{
  Fixture *f = fixture_new (NULL);
  g_autofree gchar *token = token_for (CID, KEY);
  GSubprocess *p;
  Resp *r;

  r = get_cover (f, CID);
  g_assert_cmpuint (r->status, ==, 404);
  resp_free (r);

  p = push (f, CID, token, "red", FALSE);
  r = wait_cover (f, CID, "live");
  g_assert_cmpuint (r->status, ==, 200);
  assert_red (r->body);
  resp_free (r);

  /* SIGINT: gst-launch stops its pipeline, rtspclientsink tears down */
  g_subprocess_send_signal (p, SIGINT);
  wait_child (p, WAIT_S);
  r = wait_cover (f, CID, NULL);
  g_assert_cmpuint (r->status, ==, 404);
  resp_free (r);
  fixture_free (f);
}

/* A new push after the first ended: blue replaces red. */
static void
test_red_then_blue (void)
{
  Fixture *f = fixture_new (NULL);
  g_autofree gchar *token = token_for (CID, KEY);
  GSubprocess *p;
  Resp *r;

  p = push (f, CID, token, "red", FALSE);
  r = wait_cover (f, CID, "live");
  assert_red (r->body);
  resp_free (r);
  g_subprocess_send_signal (p, SIGINT);
  wait_child (p, WAIT_S);
  resp_free (wait_cover (f, CID, NULL));

  push (f, CID, token, "blue", FALSE);
  r = wait_cover (f, CID, "live");
  assert_blue (r->body);
  resp_free (r);
  fixture_free (f);
}

/* Refused at the RTSP level: the pusher fails, no segment is made. */
static void
test_refused_tokens (void)
{
  Fixture *f = fixture_new (NULL);
  g_autofree gchar *bad = token_for (CID, OTHER_KEY);
  g_autofree gchar *other = token_for (OTHER_CID, KEY);
  Resp *r;

  /* bad digest: 401 */
  g_assert_cmpint (wait_child (push (f, CID, bad, "red", FALSE), WAIT_S), >, 0);
  /* a valid token for another client id: 403 */
  g_assert_cmpint (
      wait_child (push (f, CID, other, "red", FALSE), WAIT_S), >, 0);
  /* garbage */
  g_assert_cmpint (
      wait_child (push (f, CID, "nonsense", "red", FALSE), WAIT_S), >, 0);
  g_assert_false (segment_exists (f, CID));
  r = get_cover (f, CID);
  g_assert_cmpuint (r->status, ==, 404);
  resp_free (r);
  fixture_free (f);
}

/* One pusher per client id: the second is refused, the first goes on. */
static void
test_second_pusher_refused (void)
{
  Fixture *f = fixture_new (NULL);
  g_autofree gchar *token = token_for (CID, KEY);
  Resp *r;

  push (f, CID, token, "red", FALSE);
  resp_free (wait_cover (f, CID, "live"));
  g_assert_cmpint (
      wait_child (push (f, CID, token, "blue", FALSE), WAIT_S), >, 0);
  r = get_cover (f, CID);
  g_assert_cmpstr (r->source, ==, "live");
  assert_red (r->body);
  resp_free (r);
  fixture_free (f);
}

/* H.265, with thumbnails on for that client id only: after the push the
 * cover comes from the last recording thumbnail. */
static void
test_h265_thumbnails (void)
{
  Fixture *f = fixture_new ("[stream.43]\nthumbnails=true\n");
  g_autofree gchar *token = token_for (OTHER_CID, KEY);
  GSubprocess *p;
  Resp *r;

  p = push (f, OTHER_CID, token, "red", TRUE);
  r = wait_cover (f, OTHER_CID, "live");
  assert_red (r->body);
  resp_free (r);
  g_subprocess_send_signal (p, SIGINT);
  wait_child (p, WAIT_S);
  r = wait_cover (f, OTHER_CID, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (r->source, ==, "record");
  assert_red (r->body);
  resp_free (r);
  fixture_free (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/live-red-then-gone", test_live_red_then_gone);
  g_test_add_func ("/e2e/red-then-blue", test_red_then_blue);
  g_test_add_func ("/e2e/refused-tokens", test_refused_tokens);
  g_test_add_func ("/e2e/second-pusher-refused", test_second_pusher_refused);
  g_test_add_func ("/e2e/h265-thumbnails", test_h265_thumbnails);
  return g_test_run ();
}
