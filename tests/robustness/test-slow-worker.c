/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* covertap with one slow snapshot worker: run with COVERSNAP_WORKERS=1 and
 * COVERSNAP_WORKER_DELAY_MS=300 (the worker sleeps that long before each
 * keyframe).  Latest wins while the worker is busy, the streaming thread
 * never waits for it, and stopping while it is busy is clean. */

#include "robust-util.h"

#include <gst/app/gstappsrc.h>
#include <stdlib.h>

#define N_KEYFRAMES 8

static guint
worker_delay_ms (void)
{
  const gchar *env = g_getenv ("COVERSNAP_WORKER_DELAY_MS");

  return env ? atoi (env) : 0;
}

static void
check_environment (void)
{
  /* the expectations below hold for one worker slow enough that the
   * pushes of a burst all land while it sleeps */
  fail_unless (
      worker_delay_ms () >= 100, "run with COVERSNAP_WORKER_DELAY_MS >= 100");
  /* the setting, not a question to the pool: this executable has its own
   * copy of the core, and the plugin's pool is another one */
  fail_unless_equals_string (g_getenv ("COVERSNAP_WORKERS"), "1");
}

static guint32
burst_colour (guint i)
{
  static const guint32 colours[N_KEYFRAMES] = {
    ARGB (255, 0, 0),
    ARGB (0, 255, 0),
    ARGB (0, 0, 255),
    ARGB (255, 255, 0),
    ARGB (255, 0, 0),
    ARGB (0, 255, 0),
    ARGB (0, 0, 255),
    /* only the last keyframe is magenta */
    ARGB (255, 0, 255),
  };

  return colours[i];
}

GST_START_TEST (test_latest_wins_under_slow_worker)
{
  EncodedStream *s[N_KEYFRAMES];
  gchar *dir = store_dir_new ();
  GstBus *bus;
  GstHarness *h;
  guint64 skipped_after_second = 0, expect_published;
  gboolean first_taken;
  CoverInfo info;
  GBytes *cover;
  GError *err = NULL;
  guint i;

  check_environment ();
  for (i = 0; i < N_KEYFRAMES; i++)
    s[i] = encoded_stream_new (MEDIA_H264, 160, 120, burst_colour (i), 1, 1);
  h = tap_harness_new (3001, dir, 0, s[0]->caps, &bus);

  fail_unless_equals_int (
      gst_harness_push (h, au_copy (encoded_stream_get (s[0], 0), 0)),
      GST_FLOW_OK);
  /* not an assertion: gives the idle worker time to take the first
   * keyframe, which the counters below then tell for sure */
  g_usleep (worker_delay_ms () * 1000 / 4);
  for (i = 1; i < N_KEYFRAMES; i++) {
    fail_unless_equals_int (
        gst_harness_push (
            h, au_copy (encoded_stream_get (s[i], 0), i * 40 * GST_MSECOND)),
        GST_FLOW_OK);
    if (i == 1)
      skipped_after_second = tap_get (h->element, "keyframes-skipped");
  }
  /* the streaming thread never waited: the worker is still asleep on the
   * first keyframe while all eight went by */
  fail_unless_equals_uint64 (tap_get (h->element, "covers-published"), 0);
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-failed"), 0);
  fail_unless_equals_int (gst_harness_buffers_received (h), N_KEYFRAMES);
  fail_unless_equals_uint64 (
      tap_get (h->element, "keyframes-seen"), N_KEYFRAMES);

  /* either the worker held the first keyframe when the second came (the
   * second did not replace anything), or the first was still waiting */
  first_taken = skipped_after_second == 0;
  expect_published = first_taken ? 2 : 1;
  GST_INFO ("first keyframe taken before the second came: %d", first_taken);
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-skipped"),
      N_KEYFRAMES - expect_published);

  /* EOS waits for the last keyframe */
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_uint64 (
      tap_get (h->element, "covers-published"), expect_published);
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-failed"), 0);
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-skipped"),
      N_KEYFRAMES - expect_published);

  cover = cover_read (dir, 3001, &info, &err);
  fail_unless (cover != NULL, "no cover: %s", err ? err->message : "?");
  fail_unless_equals_uint64 (info.generation, expect_published);
  fail_unless (info.ended);
  assert_cover_colour (cover, 160, 120, burst_colour (N_KEYFRAMES - 1));
  g_bytes_unref (cover);

  fail_unless_equals_int (bus_count (bus, GST_MESSAGE_ERROR), 0);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  for (i = 0; i < N_KEYFRAMES; i++)
    encoded_stream_free (s[i]);
  store_dir_remove (dir);
}

GST_END_TEST;

/* appsrc ! covertap ! fakesink, PLAYING */
static GstElement *
tap_pipeline (guint32 client_id, const gchar *dir, GstCaps *caps,
    GstElement **src, GstElement **tap)
{
  gchar *line = g_strdup_printf ("appsrc name=src format=time ! "
                                 "covertap name=tap client-id=%u "
                                 "store-dir=%s min-interval=0 ! fakesink",
      client_id, dir);
  GstElement *pipeline = gst_parse_launch (line, NULL);

  fail_unless (pipeline != NULL);
  g_free (line);
  *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  *tap = gst_bin_get_by_name (GST_BIN (pipeline), "tap");
  g_object_set (*src, "caps", caps, NULL);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  return pipeline;
}

static void
push_and_wait_seen (
    GstElement *src, GstElement *tap, GstBuffer *au, guint64 seen)
{
  gint64 end = g_get_monotonic_time () + WAIT_TIMEOUT_US;

  fail_unless_equals_int (
      gst_app_src_push_buffer (GST_APP_SRC (src), au), GST_FLOW_OK);
  /* appsrc delivers from its own thread */
  while (tap_get (tap, "keyframes-seen") < seen) {
    fail_unless (g_get_monotonic_time () < end, "keyframe never arrived");
    g_usleep (1000);
  }
}

static gboolean
bus_has_error (GstElement *pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  guint n = bus_count (bus, GST_MESSAGE_ERROR);

  gst_object_unref (bus);
  return n > 0;
}

/* Stops the pipeline while the worker sleeps on its keyframe (and, with
 * @pending, while a second keyframe waits behind it), then checks the
 * element is gone cleanly and a new writer takes the client id over. */
static void
stop_while_busy (guint32 client_id, gboolean pending)
{
  g_autoptr (EncodedStream) red =
      encoded_stream_new (MEDIA_H264, 160, 120, ARGB (255, 0, 0), 1, 1);
  g_autoptr (EncodedStream) green =
      encoded_stream_new (MEDIA_H264, 160, 120, ARGB (0, 255, 0), 1, 1);
  g_autoptr (EncodedStream) blue =
      encoded_stream_new (MEDIA_H264, 160, 120, ARGB (0, 0, 255), 1, 1);
  gchar *dir = store_dir_new ();
  GstElement *pipeline, *src, *tap;
  CoverStoreReader *r;
  CoverInfo info, after;
  GBytes *cover;
  GError *err = NULL;
  guint64 generation = 0, published;
  gint64 first_start;

  check_environment ();
  pipeline = tap_pipeline (client_id, dir, red->caps, &src, &tap);
  g_object_add_weak_pointer (G_OBJECT (tap), (gpointer *) &tap);

  r = cover_store_reader_open (dir, client_id, &err);
  fail_unless (r != NULL, "no segment: %s", err ? err->message : "?");
  fail_if (cover_store_reader_get_info (r, 5 * G_USEC_PER_SEC, &info, NULL));
  first_start = info.writer_start;
  fail_unless (info.live);

  push_and_wait_seen (src, tap, au_copy (encoded_stream_get (red, 0), 0), 1);
  if (pending) {
    /* not an assertion: lets the worker take the red keyframe */
    g_usleep (worker_delay_ms () * 1000 / 4);
    push_and_wait_seen (
        src, tap, au_copy (encoded_stream_get (green, 0), 40 * GST_MSECOND), 2);
  }
  /* the worker is asleep on a keyframe now */
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  published = tap_get (tap, "covers-published");
  fail_unless (published <= 1);
  fail_unless_equals_uint64 (tap_get (tap, "keyframes-failed"), 0);
  fail_if (bus_has_error (pipeline));

  /* the segment says ended, and holds the red keyframe or nothing: never
   * the green one that was still waiting */
  cover = cover_store_reader_read (r, 5 * G_USEC_PER_SEC, &info, &err);
  if (cover) {
    fail_unless_equals_uint64 (published, 1);
    generation = info.generation;
    fail_unless_equals_uint64 (generation, 1);
    assert_cover_colour (cover, 160, 120, ARGB (255, 0, 0));
    g_bytes_unref (cover);
  } else {
    fail_unless (
        g_error_matches (err, COVER_STORE_ERROR, COVER_STORE_ERROR_EMPTY), "%s",
        err->message);
    fail_unless_equals_uint64 (published, 0);
    g_clear_error (&err);
    fail_if (cover_store_reader_get_info (r, 5 * G_USEC_PER_SEC, &info, NULL));
  }
  fail_unless (info.ended);
  fail_if (info.live);

  /* the element goes away with its last reference: no worker keeps it */
  {
    GstElement *ref = tap;

    gst_object_unref (ref);
  }
  gst_object_unref (src);
  gst_object_unref (pipeline);
  /* no worker keeps it: gone at once, or after a reference another thread
   * holds for a moment (a message being posted) is dropped */
  {
    gint64 end = g_get_monotonic_time () + WAIT_TIMEOUT_US;

    while (tap != NULL && g_get_monotonic_time () < end)
      g_usleep (1000);
  }
  fail_unless (tap == NULL, "covertap was not finalized");

  /* longer than a worker takes for a keyframe: a publish left over from
   * the stopped element would show now (not a timing assertion: nothing
   * may change however long we wait) */
  g_usleep (2 * worker_delay_ms () * 1000);
  cover = cover_store_reader_read (r, 5 * G_USEC_PER_SEC, &after, &err);
  if (generation) {
    fail_unless (cover != NULL);
    fail_unless_equals_uint64 (after.generation, generation);
    g_bytes_unref (cover);
  } else {
    fail_unless (cover == NULL);
    g_clear_error (&err);
    fail_if (cover_store_reader_get_info (r, 5 * G_USEC_PER_SEC, &after, NULL));
  }
  fail_unless (after.ended);

  /* a new element for the same client takes over with a fresh segment */
  pipeline = tap_pipeline (client_id, dir, blue->caps, &src, &tap);
  fail_if (cover_store_reader_get_info (r, 5 * G_USEC_PER_SEC, &info, NULL));
  fail_unless (info.writer_start > first_start);
  fail_unless (info.live);
  fail_if (info.ended);

  push_and_wait_seen (src, tap, au_copy (encoded_stream_get (blue, 0), 0), 1);
  fail_unless_equals_int (
      gst_app_src_end_of_stream (GST_APP_SRC (src)), GST_FLOW_OK);
  {
    GstBus *bus = gst_element_get_bus (pipeline);
    GstMessage *msg = gst_bus_timed_pop_filtered (
        bus, 30 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);

    fail_unless (msg != NULL);
    fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
    gst_message_unref (msg);
    gst_object_unref (bus);
  }
  fail_unless_equals_uint64 (tap_get (tap, "covers-published"), 1);
  cover = cover_store_reader_read (r, 5 * G_USEC_PER_SEC, &info, &err);
  fail_unless (cover != NULL, "no cover: %s", err ? err->message : "?");
  /* generations never repeat for a client id */
  fail_unless_equals_uint64 (info.generation, generation + 1);
  fail_unless (info.ended);
  assert_cover_colour (cover, 160, 120, ARGB (0, 0, 255));
  g_bytes_unref (cover);

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  fail_if (bus_has_error (pipeline));
  gst_object_unref (src);
  gst_object_unref (tap);
  gst_object_unref (pipeline);
  cover_store_reader_free (r);
  store_dir_remove (dir);
}

GST_START_TEST (test_stop_while_worker_busy)
{
  stop_while_busy (3002, FALSE);
}

GST_END_TEST;

GST_START_TEST (test_stop_with_keyframe_waiting)
{
  stop_while_busy (3003, TRUE);
}

GST_END_TEST;

static Suite *
slow_worker_suite (void)
{
  Suite *s = suite_create ("covertap-slow-worker");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_latest_wins_under_slow_worker);
  tcase_add_test (tc, test_stop_while_worker_busy);
  tcase_add_test (tc, test_stop_with_keyframe_waiting);
  return s;
}

GST_CHECK_MAIN (slow_worker);
