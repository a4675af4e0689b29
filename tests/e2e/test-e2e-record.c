/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* coversnapd end to end, the ingest's recording and its live timeout:
 *  - record=true: a push of a few seconds leaves MP4 segments under
 *    <data-dir>/recordings/<client_id>/ that demux and parse to the end,
 *    and recording thumbnails;
 *  - a pusher that stays connected but sends nothing (SIGSTOP) is ended
 *    after the live timeout: the log says so, the cover stops being live and
 *    the client id can push again.
 * Real processes on 127.0.0.1; every wait is bounded; children are killed
 * in teardown. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "e2e-util.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

#include "cover-token.h"

#define KEY "e2e-app-key"
#define CID 42
/* bounds: they only stop a broken test */
#define WAIT_S 20
#define NO_DATA_WAIT_S 10
/* how long the recording test pushes */
#define PUSH_S 5

typedef struct
{
  gchar *root;
  gchar *store_dir;
  gchar *data_dir;
  gchar *log_path; /* coversnapd's stderr: its log */
  GSubprocess *server;
  guint16 http_port;
  guint16 rtsp_port;
  SoupSession *session;
  GPtrArray *pushers; /* GSubprocess, killed in teardown */
} Fixture;

static GSubprocess *
spawn (GSubprocessFlags flags, const gchar *stderr_path, GError **error,
    const gchar *first, ...)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const gchar *arg;
  va_list ap;

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  if (stderr_path)
    g_subprocess_launcher_set_stderr_file_path (launcher, stderr_path);
  va_start (ap, first);
  for (arg = first; arg; arg = va_arg (ap, const gchar *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  return g_subprocess_launcher_spawnv (
      launcher, (const gchar *const *) argv->pdata, error);
}

static gchar *
token_for (guint32 cid)
{
  CoverToken t = { 0 };

  t.cid = cid;
  t.expire = g_get_real_time () / G_USEC_PER_SEC + 3600;
  return cover_token_mint (KEY, &t);
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
fixture_new (const gchar *live_timeout, const gchar *stream_settings)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr (GError) err = NULL;
  g_autofree gchar *config = NULL, *config_path = NULL;
  g_autoptr (GDataInputStream) in = NULL;
  const gchar *coversnapd = g_getenv ("COVERSNAPD");

  g_assert_nonnull (coversnapd);
  f->root = g_dir_make_tmp ("coversnap-e2e-rec-XXXXXX", &err);
  g_assert_no_error (err);
  f->store_dir = g_build_filename (f->root, "store", NULL);
  f->data_dir = g_build_filename (f->root, "data", NULL);
  f->log_path = g_build_filename (f->root, "coversnapd.log", NULL);
  g_assert_cmpint (g_mkdir (f->store_dir, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (f->data_dir, 0700), ==, 0);
  config = g_strdup_printf ("[server]\n"
                            "listen-address=127.0.0.1\n"
                            "port=0\n"
                            "data-dir=%s\n"
                            "store-dir=%s\n"
                            "live-timeout=%s\n"
                            "[app.e2e]\n"
                            "key=" KEY "\n"
                            "cids=42\n"
                            "[ingest]\n"
                            "rtsp-port=0\n"
                            "[stream.default]\n"
                            "min-interval=0\n"
                            "%s",
      f->data_dir, f->store_dir, live_timeout, stream_settings);
  config_path = g_build_filename (f->root, "coversnapd.ini", NULL);
  g_assert_true (g_file_set_contents (config_path, config, -1, NULL));

  f->server = spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE, f->log_path, &err,
      coversnapd, "--config", config_path, NULL);
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
  g_autofree gchar *log = NULL;
  guint i;

  for (i = 0; i < f->pushers->len; i++) {
    GSubprocess *p = g_ptr_array_index (f->pushers, i);

    /* SIGKILL: also ends a stopped (SIGSTOP) pusher */
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
  /* what coversnapd said, for the test log */
  if (g_file_get_contents (f->log_path, &log, NULL, NULL))
    g_test_message ("coversnapd:\n%s", log);
  g_object_unref (f->server);
  g_object_unref (f->session);
  rm_rf (f->root);
  g_free (f->root);
  g_free (f->store_dir);
  g_free (f->data_dir);
  g_free (f->log_path);
  g_free (f);
}

/* gst-launch-1.0 pushing a solid red H.264 stream (1 s GOP) to /live/@cid */
static GSubprocess *
push (Fixture *f, guint32 cid)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *token = token_for (cid);
  g_autofree gchar *location =
      g_strdup_printf ("location=rtsp://127.0.0.1:%u/live/%u?token=%s",
          f->rtsp_port, cid, token);
  GSubprocess *p;

  p = spawn (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, NULL, &err, "gst-launch-1.0",
      "-q", "videotestsrc", "pattern=red", "is-live=true", "!",
      "video/x-raw,format=I420,width=320,height=240,framerate=25/1", "!",
      "x264enc", "tune=zerolatency", "key-int-max=25", "!", "rtspclientsink",
      location, NULL);
  g_assert_no_error (err);
  g_ptr_array_add (f->pushers, p);
  return p;
}

/* the X-Cover-Source of GET cover, or NULL (404 and the like) */
static gchar *
cover_source (Fixture *f, guint32 cid)
{
  g_autofree gchar *token = token_for (cid);
  g_autofree gchar *uri =
      g_strdup_printf ("http://127.0.0.1:%u/v2/snapshots/%u/cover"
                       "?client_token=%s",
          f->http_port, cid, token);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) body = NULL;

  body = soup_session_send_and_read (f->session, msg, NULL, &err);
  g_assert_no_error (err);
  if (soup_message_get_status (msg) != 200)
    return NULL;
  return g_strdup (soup_message_headers_get_one (
      soup_message_get_response_headers (msg), "X-Cover-Source"));
}

static gboolean
cover_is_live (Fixture *f, guint32 cid)
{
  g_autofree gchar *source = cover_source (f, cid);

  return g_strcmp0 (source, "live") == 0;
}

static void
wait_live (Fixture *f, guint32 cid)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;

  while (!cover_is_live (f, cid)) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (100 * 1000);
  }
}

static gboolean
log_contains (Fixture *f, const gchar *text)
{
  g_autofree gchar *log = NULL;

  if (!g_file_get_contents (f->log_path, &log, NULL, NULL))
    return FALSE;
  return strstr (log, text) != NULL;
}

static void
wait_log (Fixture *f, const gchar *text, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (!log_contains (f, text)) {
    if (g_get_monotonic_time () > deadline) {
      g_autofree gchar *log = NULL;

      g_file_get_contents (f->log_path, &log, NULL, NULL);
      g_printerr ("waited for \"%s\" in the log:\n%s\n", text, log);
      g_assert_not_reached ();
    }
    g_usleep (100 * 1000);
  }
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar *const *) a, *(const gchar *const *) b);
}

/* the files of @dir ending with @suffix, sorted */
static GPtrArray *
list_files (const gchar *dir, const gchar *suffix)
{
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while (d && (name = g_dir_read_name (d))) {
    if (g_str_has_suffix (name, suffix))
      g_ptr_array_add (files, g_build_filename (dir, name, NULL));
  }
  g_ptr_array_sort (files, compare_names);
  return files;
}

static GstPadProbeReturn
count_buffers (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  (*(guint *) data)++;
  return GST_PAD_PROBE_OK;
}

/* Plays @path with filesrc ! qtdemux ! h264parse ! fakesink: the number of
 * H.264 access units that reached the sink, and whether EOS did. */
static guint
play_mp4 (const gchar *path, gboolean *eos)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstPad) pad = NULL;
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GstMessage) msg = NULL;
  g_autofree gchar *launch = NULL;
  g_autofree gchar *quoted = g_strescape (path, NULL);
  guint n = 0;

  launch = g_strdup_printf ("filesrc location=\"%s\" ! qtdemux ! "
                            "h264parse ! fakesink name=sink sync=false",
      quoted);
  pipeline = gst_parse_launch (launch, &err);
  g_assert_no_error (err);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffers, &n, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (
      bus, WAIT_S * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  *eos = msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
  if (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) perr = NULL;

    gst_message_parse_error (msg, &perr, NULL);
    g_printerr ("%s: %s\n", path, perr->message);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return n;
}

/* record=true, record-segment=2: ~5 s of H.264 make at least two MP4
 * segments, each of them playable to the end, and thumbnails. */
static void
test_record_segments (void)
{
  Fixture *f = fixture_new ("3",
      "[stream.42]\n"
      "record=true\n"
      "record-segment=2\n"
      "thumbnails=true\n");
  g_autofree gchar *rec_dir = NULL, *thumb_dir = NULL;
  g_autoptr (GPtrArray) segments = NULL;
  g_autoptr (GPtrArray) thumbs = NULL;
  gint64 started = g_get_monotonic_time ();
  gint64 left;
  GSubprocess *p;
  guint i;

  p = push (f, CID);
  wait_live (f, CID);
  left = started + PUSH_S * G_USEC_PER_SEC - g_get_monotonic_time ();
  if (left > 0)
    g_usleep (left);
  /* SIGINT: gst-launch stops its pipeline, rtspclientsink tears down; the
   * media gets EOS, which finishes the last segment */
  g_subprocess_send_signal (p, SIGINT);
  wait_child (p, WAIT_S);
  wait_log (f, "stream 42: stopped", WAIT_S);

  rec_dir = g_build_filename (f->data_dir, "recordings", "42", NULL);
  segments = list_files (rec_dir, ".mp4");
  for (i = 0; i < segments->len; i++)
    g_test_message ("segment %s", (gchar *) g_ptr_array_index (segments, i));
  g_assert_cmpuint (segments->len, >=, 2);
  for (i = 0; i < segments->len; i++) {
    gboolean eos = FALSE;
    guint n = play_mp4 (g_ptr_array_index (segments, i), &eos);

    g_assert_true (eos);
    g_assert_cmpuint (n, >, 0);
  }

  thumb_dir = g_build_filename (f->data_dir, "thumbnails", "42", NULL);
  thumbs = list_files (thumb_dir, ".jpg");
  g_test_message ("%u thumbnails", thumbs->len);
  /* one per segment (interval = segment length) and one at the end */
  g_assert_cmpuint (thumbs->len, >=, 2);
  fixture_free (f);
}

/* live-timeout=2: a pusher stopped with SIGSTOP keeps its connection but
 * sends nothing; the ingest ends its stream, says why, and the client id
 * can push again. */
static void
test_no_data_timeout (void)
{
  Fixture *f = fixture_new ("2", "");
  gint64 deadline;
  GSubprocess *p;

  p = push (f, CID);
  wait_live (f, CID);
  g_subprocess_send_signal (p, SIGSTOP);

  deadline = g_get_monotonic_time () + NO_DATA_WAIT_S * G_USEC_PER_SEC;
  while (cover_is_live (f, CID) ||
      !log_contains (f, "stream 42: stopped (no data for")) {
    if (g_get_monotonic_time () > deadline) {
      g_autofree gchar *log = NULL;

      g_file_get_contents (f->log_path, &log, NULL, NULL);
      g_printerr ("log:\n%s\n", log);
      g_assert_not_reached ();
    }
    g_usleep (100 * 1000);
  }
  g_assert_false (cover_is_live (f, CID));

  /* the stopped pusher no longer holds the client id */
  push (f, CID);
  wait_live (f, CID);
  fixture_free (f);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/record-segments", test_record_segments);
  g_test_add_func ("/e2e/no-data-timeout", test_no_data_timeout);
  return g_test_run ();
}
