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
#include <gst/gst.h>
#include <signal.h>
#include <string.h>

#define CID 42
/* bounds: they only stop a broken test */
#define NO_DATA_WAIT_S 10
/* how long the recording test pushes */
#define PUSH_S 5

/* gst-launch-1.0 pushing a solid red H.264 stream (1 s GOP) to /live/@cid */
static GSubprocess *
push (E2eServer *f, guint32 cid)
{
  g_autofree gchar *token = e2e_token_for (cid, E2E_KEY);

  return e2e_push (f, cid, token, "red", FALSE);
}

/* the X-Cover-Source of GET cover, or NULL (404 and the like) */
static gchar *
cover_source (E2eServer *f, guint32 cid)
{
  E2eResp *r = e2e_get_cover (f, cid);
  gchar *source = r->status == 200 ? g_strdup (r->source) : NULL;

  e2e_resp_free (r);
  return source;
}

static gboolean
cover_is_live (E2eServer *f, guint32 cid)
{
  g_autofree gchar *source = cover_source (f, cid);

  return g_strcmp0 (source, "live") == 0;
}

static void
wait_live (E2eServer *f, guint32 cid)
{
  gint64 deadline = g_get_monotonic_time () + E2E_WAIT_S * G_USEC_PER_SEC;

  while (!cover_is_live (f, cid)) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (100 * 1000);
  }
}

static gboolean
log_contains (E2eServer *f, const gchar *text)
{
  g_autofree gchar *log = NULL;

  if (!g_file_get_contents (f->log_path, &log, NULL, NULL))
    return FALSE;
  return strstr (log, text) != NULL;
}

static void
wait_log (E2eServer *f, const gchar *text, guint timeout_s)
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
      bus, E2E_WAIT_S * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
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
  E2eServer *f = e2e_server_new (3,
      "[stream.42]\n"
      "record=true\n"
      "record-segment=2\n"
      "thumbnails=true\n",
      TRUE);
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
  cs_test_wait_child (p, E2E_WAIT_S);
  wait_log (f, "stream 42: stopped", E2E_WAIT_S);

  rec_dir = g_build_filename (f->data_dir, "recordings", "42", NULL);
  segments = cs_test_list_dir (rec_dir, ".mp4", TRUE);
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
  thumbs = cs_test_list_dir (thumb_dir, ".jpg", TRUE);
  g_test_message ("%u thumbnails", thumbs->len);
  /* one per segment (interval = segment length) and one at the end */
  g_assert_cmpuint (thumbs->len, >=, 2);
  e2e_server_free (f);
}

/* live-timeout=2: a pusher stopped with SIGSTOP keeps its connection but
 * sends nothing; the ingest ends its stream, says why, and the client id
 * can push again. */
static void
test_no_data_timeout (void)
{
  E2eServer *f = e2e_server_new (2, "", TRUE);
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
  e2e_server_free (f);
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
