/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Robustness and scheduling of covertap with workers at full speed:
 * min-interval against a test clock, caps changes mid-stream, corrupt and
 * truncated keyframes, streams without (leading) keyframes, and many
 * streams sharing the worker pool.  The slow-worker cases live in
 * test-slow-worker.c, a process of its own started with
 * COVERSNAP_WORKER_DELAY_MS. */

#include "robust-util.h"

#include <gst/app/gstappsrc.h>
#include <string.h>

#define RED ARGB (255, 0, 0)
#define GREEN ARGB (0, 255, 0)
#define BLUE ARGB (0, 0, 255)
#define YELLOW ARGB (255, 255, 0)
#define MAGENTA ARGB (255, 0, 255)

/* --- 1. min-interval ---------------------------------------------------- */

GST_START_TEST (test_min_interval_test_clock)
{
  g_autoptr (EncodedStream) s =
      encoded_stream_new (MEDIA_H264, 160, 120, BLUE, 10, 1);
  gchar *dir = store_dir_new ();
  GstBus *bus;
  GstHarness *h = tap_harness_new (1001, dir, GST_SECOND, s->caps, &bus);
  GstClockTime last = GST_CLOCK_TIME_NONE;
  guint i, handed = 0, skipped = 0;
  CoverInfo info;
  GBytes *cover;
  GError *err = NULL;

  gst_harness_use_testclock (h);
  /* keyframes 400 ms apart against a 1 s interval: taken at 0, 1.2, 2.4
   * and 3.6 s, the six in between skipped */
  for (i = 0; i < s->aus->len; i++) {
    GstClockTime now = i * 400 * GST_MSECOND;
    gboolean due = !GST_CLOCK_TIME_IS_VALID (last) || now >= last + GST_SECOND;

    fail_unless (GST_BUFFER_FLAG_IS_SET (encoded_stream_get (s, i),
                     GST_BUFFER_FLAG_DELTA_UNIT) == FALSE,
        "unit %u is not a keyframe", i);
    fail_unless (gst_harness_set_time (h, now));
    fail_unless_equals_int (
        gst_harness_push (h, au_copy (encoded_stream_get (s, i), now)),
        GST_FLOW_OK);
    if (due) {
      last = now;
      handed++;
      /* a keyframe still waiting would be replaced (and counted skipped)
       * by the next one taken: let the worker have it first */
      fail_unless (tap_wait_handled (h->element, handed, WAIT_TIMEOUT_US),
          "keyframe %u was not handed to a worker", i);
    } else {
      skipped++;
    }
    /* interval skips are counted on the streaming thread, at once */
    fail_unless_equals_uint64 (
        tap_get (h->element, "keyframes-skipped"), skipped);
    fail_unless_equals_uint64 (tap_get (h->element, "keyframes-seen"), i + 1);
  }
  fail_unless_equals_int (handed, 4);
  fail_unless_equals_int (skipped, 6);

  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_uint64 (tap_get (h->element, "covers-published") +
          tap_get (h->element, "keyframes-failed"),
      4);
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-failed"), 0);
  fail_unless_equals_uint64 (tap_get (h->element, "covers-published"), 4);
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-skipped"), 6);

  cover = cover_read (dir, 1001, &info, &err);
  fail_unless (cover != NULL, "no cover: %s", err ? err->message : "?");
  fail_unless_equals_uint64 (info.generation, 4);
  fail_unless (info.ended);
  assert_cover_colour (cover, 160, 120, BLUE);
  g_bytes_unref (cover);

  fail_unless_equals_int (bus_count (bus, GST_MESSAGE_ERROR), 0);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  store_dir_remove (dir);
}

GST_END_TEST;

/* With the test clock frozen, only min-interval=0 lets a second keyframe
 * through. */
static guint64
published_with_frozen_clock (EncodedStream *s, guint32 client_id,
    GstClockTime min_interval, guint64 *skipped)
{
  gchar *dir = store_dir_new ();
  GstBus *bus;
  GstHarness *h = tap_harness_new (client_id, dir, min_interval, s->caps, &bus);
  guint i;
  guint64 published, handled = 0;

  gst_harness_use_testclock (h);
  fail_unless (gst_harness_set_time (h, 5 * GST_SECOND));
  for (i = 0; i < s->aus->len; i++) {
    fail_unless_equals_int (
        gst_harness_push (
            h, au_copy (encoded_stream_get (s, i), i * 40 * GST_MSECOND)),
        GST_FLOW_OK);
    if (min_interval == 0) {
      fail_unless (tap_wait_handled (h->element, ++handled, WAIT_TIMEOUT_US));
    }
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  published = tap_get (h->element, "covers-published");
  *skipped = tap_get (h->element, "keyframes-skipped");
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-failed"), 0);
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-seen"), 6);
  fail_unless_equals_int (bus_count (bus, GST_MESSAGE_ERROR), 0);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  store_dir_remove (dir);
  return published;
}

GST_START_TEST (test_min_interval_zero_takes_every_keyframe)
{
  g_autoptr (EncodedStream) s =
      encoded_stream_new (MEDIA_H264, 160, 120, GREEN, 6, 1);
  guint64 skipped;

  fail_unless_equals_uint64 (
      published_with_frozen_clock (s, 1002, 0, &skipped), 6);
  fail_unless_equals_uint64 (skipped, 0);
  /* the same input against the default interval: one cover */
  fail_unless_equals_uint64 (
      published_with_frozen_clock (s, 1003, GST_SECOND, &skipped), 1);
  fail_unless_equals_uint64 (skipped, 5);
}

GST_END_TEST;

/* Without waiting for the workers: every keyframe is accounted for
 * (published, failed or replaced), and EOS leaves the last one as the
 * cover. */
GST_START_TEST (test_min_interval_zero_burst)
{
  g_autoptr (EncodedStream) s =
      encoded_stream_new (MEDIA_H264, 160, 120, YELLOW, 12, 1);
  gchar *dir = store_dir_new ();
  GstBus *bus;
  GstHarness *h = tap_harness_new (1004, dir, 0, s->caps, &bus);
  guint64 published, skipped;
  CoverInfo info;
  GBytes *cover;
  guint i;

  for (i = 0; i < s->aus->len; i++)
    fail_unless_equals_int (
        gst_harness_push (h, au_copy (encoded_stream_get (s, i), 0)),
        GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));

  published = tap_get (h->element, "covers-published");
  skipped = tap_get (h->element, "keyframes-skipped");
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-seen"), 12);
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-failed"), 0);
  fail_unless_equals_uint64 (published + skipped, 12);
  fail_unless (published >= 1);

  cover = cover_read (dir, 1004, &info, NULL);
  fail_unless (cover != NULL);
  fail_unless_equals_uint64 (info.generation, published);
  assert_cover_colour (cover, 160, 120, YELLOW);
  g_bytes_unref (cover);

  fail_unless_equals_int (bus_count (bus, GST_MESSAGE_ERROR), 0);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  store_dir_remove (dir);
}

GST_END_TEST;

/* --- 3. caps changes ---------------------------------------------------- */

static void
push_and_check (GstHarness *h, const gchar *dir, guint32 client_id,
    EncodedStream *s, guint64 n, guint width, guint height, guint32 argb)
{
  CoverInfo info;
  GBytes *cover;
  GError *err = NULL;

  gst_harness_set_src_caps (h, gst_caps_ref (s->caps));
  fail_unless_equals_int (
      gst_harness_push (h, au_copy (encoded_stream_get (s, 0), n * GST_SECOND)),
      GST_FLOW_OK);
  fail_unless (tap_wait_handled (h->element, n, WAIT_TIMEOUT_US));
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-failed"), 0);
  fail_unless_equals_uint64 (tap_get (h->element, "covers-published"), n);

  cover = cover_read (dir, client_id, &info, &err);
  fail_unless (cover != NULL, "no cover: %s", err ? err->message : "?");
  fail_unless_equals_uint64 (info.generation, n);
  fail_unless_equals_int (info.width, width);
  fail_unless_equals_int (info.height, height);
  assert_cover_colour (cover, width, height, argb);
  g_bytes_unref (cover);
}

GST_START_TEST (test_caps_change_mid_stream)
{
  g_autoptr (EncodedStream) big =
      encoded_stream_new (MEDIA_H264, 640, 360, RED, 1, 1);
  g_autoptr (EncodedStream) small =
      encoded_stream_new (MEDIA_H264, 320, 240, GREEN, 1, 1);
  g_autoptr (EncodedStream) raw =
      encoded_stream_new (MEDIA_RAW, 320, 180, BLUE, 1, 1);
  g_autoptr (EncodedStream) hevc =
      encoded_stream_new (MEDIA_H265, 352, 288, YELLOW, 1, 1);
  gchar *dir = store_dir_new ();
  GstBus *bus;
  GstHarness *h = tap_harness_new (1010, dir, 0, NULL, &bus);

  /* resolution change, same codec */
  push_and_check (h, dir, 1010, big, 1, 640, 360, RED);
  push_and_check (h, dir, 1010, small, 2, 320, 240, GREEN);
  /* codec changes: H.264 -> raw -> H.265 -> H.264 again */
  push_and_check (h, dir, 1010, raw, 3, 320, 180, BLUE);
  push_and_check (h, dir, 1010, hevc, 4, 352, 288, YELLOW);
  push_and_check (h, dir, 1010, big, 5, 640, 360, RED);
  push_and_check (h, dir, 1010, small, 6, 320, 240, GREEN);

  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-seen"), 6);
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-skipped"), 0);
  fail_unless_equals_int (
      bus_count (bus, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING), 0);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  store_dir_remove (dir);
}

GST_END_TEST;

/* --- 4. corrupt input --------------------------------------------------- */

/* offset of the first IDR slice NAL header of a byte-stream access unit */
static gsize
find_idr_slice (const guint8 *d, gsize n)
{
  gsize i;

  for (i = 0; i + 3 < n; i++) {
    if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1 && (d[i + 3] & 0x1f) == 5)
      return i + 3;
  }
  fail ("no IDR slice in the access unit");
  return 0;
}

static GstBuffer *
keyframe_from_bytes (guint8 *data, gsize size)
{
  /* a fresh buffer has no DELTA_UNIT flag: a keyframe */
  return gst_buffer_new_wrapped (data, size);
}

static GstBuffer *
flip_slice_bytes (GstBuffer *au, GRand *rand, guint n_flips)
{
  gsize size, slice, i;
  guint8 *data;

  gst_buffer_extract_dup (au, 0, -1, (gpointer *) &data, &size);
  slice = find_idr_slice (data, size);
  fail_unless (size > slice + 64);
  for (i = 0; i < n_flips; i++) {
    /* past the slice header, into the macroblock data */
    gsize pos = g_rand_int_range (rand, slice + 8, size);

    data[pos] ^= (guint8) g_rand_int_range (rand, 1, 256);
  }
  return keyframe_from_bytes (data, size);
}

static GstBuffer *
truncate_au (GstBuffer *au, guint percent)
{
  gsize size = gst_buffer_get_size (au) * percent / 100;

  return gst_buffer_copy_region (au, GST_BUFFER_COPY_ALL, 0, size);
}

/* Random bytes without a zero byte, so without a start code either;
 * @fake_slice puts a start code and an IDR slice header byte in front. */
static GstBuffer *
garbage (GRand *rand, gsize size, gboolean fake_slice)
{
  guint8 *data = g_malloc (size);
  gsize i, start = 0;

  if (fake_slice) {
    static const guint8 idr[] = { 0, 0, 0, 1, 0x65, 0x88 };

    memcpy (data, idr, sizeof (idr));
    start = sizeof (idr);
  }
  for (i = start; i < size; i++)
    data[i] = g_rand_int_range (rand, 1, 256);
  return keyframe_from_bytes (data, size);
}

typedef struct
{
  const gchar *what;
  GstBuffer *buf;
  gboolean must_fail; /* no decoder can make a picture of it */
} CorruptCase;

static gboolean
bytes_equal (GBytes *a, GBytes *b)
{
  return g_bytes_compare (a, b) == 0;
}

GST_START_TEST (test_corrupt_keyframes_harness)
{
  g_autoptr (EncodedStream) good1 =
      encoded_stream_new (MEDIA_H264, 320, 240, RED, 1, 1);
  g_autoptr (EncodedStream) good2 =
      encoded_stream_new (MEDIA_H264, 320, 240, GREEN, 1, 1);
  /* noise makes a big IDR, so that damage lands in macroblock data */
  g_autoptr (EncodedStream) noise =
      encoded_stream_new_pattern (MEDIA_H264, 320, 240, "pattern=snow", 1, 1);
  GRand *rand = g_rand_new_with_seed (20260);
  GstBuffer *src = encoded_stream_get (noise, 0);
  CorruptCase cases[] = {
    { "32 bytes flipped in the slice", flip_slice_bytes (src, rand, 32),
        FALSE },
    { "200 bytes flipped in the slice", flip_slice_bytes (src, rand, 200),
        FALSE },
    { "truncated to 10%", truncate_au (src, 10), FALSE },
    { "truncated to 30%", truncate_au (src, 30), FALSE },
    { "truncated to 50%", truncate_au (src, 50), FALSE },
    { "an IDR slice header then garbage", garbage (rand, 4000, TRUE), TRUE },
    { "pure garbage", garbage (rand, 4000, FALSE), TRUE },
    { "one byte", keyframe_from_bytes (g_memdup2 ("\x65", 1), 1), TRUE },
  };
  gchar *dir = store_dir_new ();
  GstBus *bus;
  GstHarness *h = tap_harness_new (1020, dir, 0, good1->caps, &bus);
  GBytes *cover, *good_cover;
  CoverInfo info, good_info;
  guint64 handled = 1, published = 1, failed = 0;
  guint i;

  fail_unless_equals_int (
      gst_harness_push (h, au_copy (encoded_stream_get (good1, 0), 0)),
      GST_FLOW_OK);
  fail_unless (tap_wait_handled (h->element, 1, WAIT_TIMEOUT_US));
  fail_unless_equals_uint64 (tap_get (h->element, "covers-published"), 1);
  good_cover = cover_read (dir, 1020, &good_info, NULL);
  fail_unless (good_cover != NULL);
  assert_cover_colour (good_cover, 320, 240, RED);

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    guint64 seen = tap_get (h->element, "keyframes-seen");
    guint64 now_failed, now_published;

    GST_DEBUG ("pushing %s (%" G_GSIZE_FORMAT " bytes)", cases[i].what,
        gst_buffer_get_size (cases[i].buf));
    GST_BUFFER_PTS (cases[i].buf) = (i + 1) * GST_SECOND;
    fail_unless_equals_int (
        gst_harness_push (h, g_steal_pointer (&cases[i].buf)), GST_FLOW_OK);
    if (tap_get (h->element, "keyframes-seen") > seen) {
      handled++;
      fail_unless (tap_wait_handled (h->element, handled, WAIT_TIMEOUT_US),
          "%s: never handled", cases[i].what);
    }
    now_failed = tap_get (h->element, "keyframes-failed");
    now_published = tap_get (h->element, "covers-published");
    GST_DEBUG ("%s: %" G_GUINT64_FORMAT " failed, %" G_GUINT64_FORMAT
               " published so far",
        cases[i].what, now_failed, now_published);

    cover = cover_read (dir, 1020, &info, NULL);
    fail_unless (cover != NULL);
    if (cases[i].must_fail) {
      fail_unless (
          now_published == published, "%s became a cover", cases[i].what);
    }
    if (now_published == published) {
      /* failed or not even a keyframe: the good cover stays, untouched */
      fail_unless_equals_uint64 (info.generation, good_info.generation);
      fail_unless (bytes_equal (cover, good_cover),
          "%s: the previous cover changed", cases[i].what);
    } else {
      /* the decoder concealed the damage: at least a valid JPEG of the
       * stream's size took its place */
      guint w, hh;
      gdouble rgb[3];

      fail_unless_equals_uint64 (now_published, published + 1);
      jpeg_mean_rgb (cover, &w, &hh, rgb);
      fail_unless_equals_int (w, 320);
      fail_unless_equals_int (hh, 240);
      g_bytes_unref (good_cover);
      good_cover = g_bytes_ref (cover);
      good_info = info;
    }
    g_bytes_unref (cover);
    published = now_published;
    failed = now_failed;
  }
  GST_INFO ("%" G_GUINT64_FORMAT " corrupt keyframes failed", failed);
  /* the garbage after an IDR slice header reached a decoder and failed */
  fail_unless (failed >= 1);

  /* a good keyframe afterwards publishes again */
  fail_unless_equals_int (
      gst_harness_push (
          h, au_copy (encoded_stream_get (good2, 0), 100 * GST_SECOND)),
      GST_FLOW_OK);
  fail_unless (tap_wait_handled (h->element, handled + 1, WAIT_TIMEOUT_US));
  fail_unless_equals_uint64 (
      tap_get (h->element, "covers-published"), published + 1);
  cover = cover_read (dir, 1020, &info, NULL);
  fail_unless (cover != NULL);
  fail_unless_equals_uint64 (info.generation, good_info.generation + 1);
  assert_cover_colour (cover, 320, 240, GREEN);
  g_bytes_unref (cover);

  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_int (bus_count (bus, GST_MESSAGE_ERROR), 0);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_bytes_unref (good_cover);
  g_rand_free (rand);
  store_dir_remove (dir);
}

GST_END_TEST;

static GstPadProbeReturn
count_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  g_atomic_int_inc ((gint *) user_data);
  return GST_PAD_PROBE_OK;
}

/* Waits until @n buffers went through @tap and every keyframe it saw was
 * published, failed or skipped. */
static void
wait_passed_and_handled (GstElement *tap, gint *passed, gint n)
{
  gint64 end = g_get_monotonic_time () + WAIT_TIMEOUT_US;

  for (;;) {
    guint64 seen = tap_get (tap, "keyframes-seen");
    guint64 done = tap_get (tap, "covers-published") +
        tap_get (tap, "keyframes-failed") + tap_get (tap, "keyframes-skipped");

    if (g_atomic_int_get (passed) >= n && done >= seen)
      return;
    fail_unless (g_get_monotonic_time () < end,
        "buffer %d: %d passed, %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
        " keyframes handled",
        n, g_atomic_int_get (passed), done, seen);
    g_usleep (2000);
  }
}

/* The same damage in a real pipeline: the bus sees no error, the stream
 * reaches EOS and the last good keyframe is the cover. */
GST_START_TEST (test_corrupt_keyframes_pipeline)
{
  g_autoptr (EncodedStream) good1 =
      encoded_stream_new (MEDIA_H264, 320, 240, BLUE, 1, 1);
  g_autoptr (EncodedStream) good2 =
      encoded_stream_new (MEDIA_H264, 320, 240, MAGENTA, 1, 1);
  g_autoptr (EncodedStream) noise =
      encoded_stream_new_pattern (MEDIA_H264, 320, 240, "pattern=snow", 1, 1);
  GRand *rand = g_rand_new_with_seed (4242);
  gchar *dir = store_dir_new ();
  gchar *line = g_strdup_printf ("appsrc name=src format=time ! "
                                 "covertap name=tap client-id=1021 "
                                 "store-dir=%s min-interval=0 ! fakesink",
      dir);
  GstElement *pipeline = gst_parse_launch (line, NULL);
  GstElement *src, *tap;
  GstBuffer *bufs[7];
  GstMessage *msg;
  GstBus *bus;
  GBytes *cover;
  CoverInfo info;
  guint i, n_errors = 0;
  gboolean eos = FALSE;
  gint passed = 0;
  GstPad *pad;

  fail_unless (pipeline != NULL);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  tap = gst_bin_get_by_name (GST_BIN (pipeline), "tap");
  g_object_set (src, "caps", good1->caps, NULL);
  bus = gst_element_get_bus (pipeline);
  pad = gst_element_get_static_pad (tap, "src");
  gst_pad_add_probe (
      pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffer, &passed, NULL);
  gst_object_unref (pad);

  bufs[0] = gst_buffer_ref (encoded_stream_get (good1, 0));
  bufs[1] = flip_slice_bytes (encoded_stream_get (noise, 0), rand, 64);
  bufs[2] = truncate_au (encoded_stream_get (noise, 0), 20);
  bufs[3] = garbage (rand, 3000, TRUE);
  bufs[4] = garbage (rand, 3000, FALSE);
  bufs[5] = truncate_au (encoded_stream_get (noise, 0), 40);
  bufs[6] = gst_buffer_ref (encoded_stream_get (good2, 0));

  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  for (i = 0; i < G_N_ELEMENTS (bufs); i++) {
    GstBuffer *b = au_copy (bufs[i], i * 40 * GST_MSECOND);

    gst_buffer_unref (bufs[i]);
    fail_unless_equals_int (
        gst_app_src_push_buffer (GST_APP_SRC (src), b), GST_FLOW_OK);
    /* one at a time, so that no keyframe replaces another: each one
     * reaches a decoder */
    wait_passed_and_handled (tap, &passed, i + 1);
  }
  fail_unless_equals_int (
      gst_app_src_end_of_stream (GST_APP_SRC (src)), GST_FLOW_OK);

  while (!eos &&
      (msg = gst_bus_timed_pop_filtered (
           bus, 30 * GST_SECOND, GST_MESSAGE_ERROR | GST_MESSAGE_EOS))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *err = NULL;

      gst_message_parse_error (msg, &err, NULL);
      GST_ERROR ("error: %s", err->message);
      g_error_free (err);
      n_errors++;
    } else {
      eos = TRUE;
    }
    gst_message_unref (msg);
  }
  fail_unless_equals_int (n_errors, 0);
  fail_unless (eos, "no EOS");

  /* every keyframe the element recognised is accounted for */
  {
    guint64 seen = tap_get (tap, "keyframes-seen");
    guint64 done = tap_get (tap, "covers-published") +
        tap_get (tap, "keyframes-failed") + tap_get (tap, "keyframes-skipped");

    fail_unless (seen >= 6, "only %" G_GUINT64_FORMAT " keyframes seen", seen);
    fail_unless_equals_uint64 (done, seen);
    fail_unless_equals_uint64 (tap_get (tap, "keyframes-skipped"), 0);
    /* the good ones at least */
    fail_unless (tap_get (tap, "covers-published") >= 2);
    /* the garbage behind an IDR slice header at least */
    fail_unless (tap_get (tap, "keyframes-failed") >= 1);
  }
  fail_unless_equals_int (passed, G_N_ELEMENTS (bufs));
  cover = cover_read (dir, 1021, &info, NULL);
  fail_unless (cover != NULL);
  fail_unless (info.ended);
  assert_cover_colour (cover, 320, 240, MAGENTA);
  g_bytes_unref (cover);

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (bus_count (bus, GST_MESSAGE_ERROR), 0);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (tap);
  gst_object_unref (pipeline);
  g_free (line);
  g_rand_free (rand);
  store_dir_remove (dir);
}

GST_END_TEST;

/* --- 5. no (leading) keyframe ------------------------------------------- */

static EncodedStream *
two_gops (void)
{
  EncodedStream *s = encoded_stream_new (MEDIA_H264, 320, 240, MAGENTA, 20, 10);
  guint i;

  for (i = 0; i < s->aus->len; i++) {
    gboolean key = i % 10 == 0;

    fail_unless (GST_BUFFER_FLAG_IS_SET (encoded_stream_get (s, i),
                     GST_BUFFER_FLAG_DELTA_UNIT) == !key,
        "unexpected GOP structure at unit %u", i);
  }
  return s;
}

GST_START_TEST (test_starts_with_delta_units)
{
  g_autoptr (EncodedStream) s = two_gops ();
  gchar *dir = store_dir_new ();
  GstBus *bus;
  GstHarness *h = tap_harness_new (1030, dir, 0, s->caps, &bus);
  GError *err = NULL;
  CoverInfo info;
  GBytes *cover;
  guint i;

  /* joined mid-GOP: the tail of the first GOP, no parameter sets yet */
  for (i = 1; i < 10; i++) {
    fail_unless_equals_int (
        gst_harness_push (
            h, au_copy (encoded_stream_get (s, i), i * GST_MSECOND)),
        GST_FLOW_OK);
  }
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-seen"), 0);
  cover = cover_read (dir, 1030, &info, &err);
  fail_unless (cover == NULL);
  fail_unless (
      g_error_matches (err, COVER_STORE_ERROR, COVER_STORE_ERROR_EMPTY),
      "expected EMPTY, got %s", err ? err->message : "a cover");
  g_clear_error (&err);

  for (i = 10; i < 20; i++) {
    fail_unless_equals_int (
        gst_harness_push (
            h, au_copy (encoded_stream_get (s, i), i * GST_MSECOND)),
        GST_FLOW_OK);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-seen"), 1);
  fail_unless_equals_uint64 (tap_get (h->element, "covers-published"), 1);
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-failed"), 0);
  cover = cover_read (dir, 1030, &info, &err);
  fail_unless (cover != NULL, "no cover: %s", err ? err->message : "?");
  assert_cover_colour (cover, 320, 240, MAGENTA);
  g_bytes_unref (cover);

  fail_unless_equals_int (
      bus_count (bus, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING), 0);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  store_dir_remove (dir);
}

GST_END_TEST;

GST_START_TEST (test_never_a_keyframe)
{
  g_autoptr (EncodedStream) s = two_gops ();
  gchar *dir = store_dir_new ();
  GstBus *bus;
  GstHarness *h = tap_harness_new (1031, dir, 0, s->caps, &bus);
  CoverStoreReader *r;
  GError *err = NULL;
  CoverInfo info;
  guint i, round;

  /* only delta units, twice over */
  for (round = 0; round < 2; round++) {
    for (i = 0; i < 20; i++) {
      if (i % 10 == 0)
        continue;
      fail_unless_equals_int (gst_harness_push (h,
                                  au_copy (encoded_stream_get (s, i),
                                      (round * 20 + i) * GST_MSECOND)),
          GST_FLOW_OK);
    }
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-seen"), 0);
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-skipped"), 0);
  fail_unless_equals_uint64 (tap_get (h->element, "keyframes-failed"), 0);
  fail_unless_equals_uint64 (tap_get (h->element, "covers-published"), 0);
  /* every buffer went through */
  fail_unless_equals_int (gst_harness_buffers_received (h), 36);

  r = cover_store_reader_open (dir, 1031, &err);
  fail_unless (r != NULL, "no segment: %s", err ? err->message : "?");
  fail_unless (
      cover_store_reader_read (r, 5 * G_USEC_PER_SEC, &info, &err) == NULL);
  fail_unless (
      g_error_matches (err, COVER_STORE_ERROR, COVER_STORE_ERROR_EMPTY),
      "expected EMPTY, got %s", err ? err->message : "a cover");
  g_clear_error (&err);
  fail_if (cover_store_reader_get_info (r, 5 * G_USEC_PER_SEC, &info, &err));
  g_clear_error (&err);
  fail_unless (info.ended);
  fail_if (info.live);
  cover_store_reader_free (r);

  fail_unless_equals_int (
      bus_count (bus, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING), 0);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  store_dir_remove (dir);
}

GST_END_TEST;

/* --- 6. many streams sharing the pool ----------------------------------- */

#define N_STREAMS 16

typedef struct
{
  GstElement *pipeline;
  GstElement *tap;
  GstBus *bus;
  guint32 client_id;
  guint32 argb;
  guint n_messages;
  guint n_foreign_messages;
} Stream;

static guint32
palette (guint i)
{
  static const guint8 v[3] = { 0, 128, 255 };

  /* 16 of the 27 colours of a 3-level cube: any two differ by >= 127 in
   * at least one channel, far beyond what coding changes */
  return ARGB (v[i % 3], v[(i / 3) % 3], v[(i / 9) % 3]);
}

GST_START_TEST (test_many_streams_share_the_pool)
{
  gchar *dir = store_dir_new ();
  Stream st[N_STREAMS];
  gint64 deadline;
  guint i, j;

  for (i = 0; i < N_STREAMS; i++) {
    gchar *line;

    st[i].client_id = 2000 + i;
    st[i].argb = palette (i);
    st[i].n_messages = st[i].n_foreign_messages = 0;
    line = g_strdup_printf (
        "videotestsrc is-live=true pattern=solid-color foreground-color=%u "
        "num-buffers=24 "
        "! video/x-raw,format=I420,width=160,height=120,framerate=25/1 ! "
        "x264enc tune=zerolatency speed-preset=ultrafast bframes=0 "
        "key-int-max=3 threads=1 ! h264parse ! covertap name=tap "
        "client-id=%u store-dir=%s min-interval=0 ! fakesink sync=false",
        st[i].argb, st[i].client_id, dir);
    st[i].pipeline = gst_parse_launch (line, NULL);
    fail_unless (st[i].pipeline != NULL, "cannot build %s", line);
    g_free (line);
    st[i].tap = gst_bin_get_by_name (GST_BIN (st[i].pipeline), "tap");
    st[i].bus = gst_element_get_bus (st[i].pipeline);
  }
  /* all of them at once */
  for (i = 0; i < N_STREAMS; i++) {
    fail_unless (gst_element_set_state (st[i].pipeline, GST_STATE_PLAYING) !=
        GST_STATE_CHANGE_FAILURE);
  }

  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  for (i = 0; i < N_STREAMS; i++) {
    gboolean eos = FALSE;

    while (!eos) {
      gint64 left = deadline - g_get_monotonic_time ();
      GstMessage *msg =
          gst_bus_timed_pop (st[i].bus, MAX (left, 0) * GST_USECOND);

      fail_unless (msg != NULL, "stream %u did not finish", i);
      switch (GST_MESSAGE_TYPE (msg)) {
        case GST_MESSAGE_ERROR: {
          GError *err = NULL;

          gst_message_parse_error (msg, &err, NULL);
          fail ("stream %u: error from %s: %s", i, GST_MESSAGE_SRC_NAME (msg),
              err->message);
          g_error_free (err);
          break;
        }
        case GST_MESSAGE_WARNING:
          fail ("stream %u: warning from %s", i, GST_MESSAGE_SRC_NAME (msg));
          break;
        case GST_MESSAGE_EOS:
          eos = TRUE;
          break;
        case GST_MESSAGE_ELEMENT: {
          const GstStructure *s = gst_message_get_structure (msg);
          guint id = 0;

          if (gst_structure_has_name (s, "covertap-published")) {
            fail_unless (gst_structure_get_uint (s, "client-id", &id));
            st[i].n_messages++;
            if (id != st[i].client_id)
              st[i].n_foreign_messages++;
          }
          break;
        }
        default:
          break;
      }
      gst_message_unref (msg);
    }
  }

  for (i = 0; i < N_STREAMS; i++) {
    GError *err = NULL;
    CoverInfo info;
    GBytes *cover;
    guint64 published = tap_get (st[i].tap, "covers-published");

    fail_unless_equals_uint64 (tap_get (st[i].tap, "keyframes-seen"), 8);
    fail_unless_equals_uint64 (tap_get (st[i].tap, "keyframes-failed"), 0);
    fail_unless (published >= 1);
    fail_unless_equals_uint64 (
        published + tap_get (st[i].tap, "keyframes-skipped"), 8);
    GST_INFO ("stream %u: %" G_GUINT64_FORMAT " covers, %u messages", i,
        published, st[i].n_messages);
    fail_unless_equals_int (st[i].n_foreign_messages, 0);
    fail_unless_equals_int (st[i].n_messages, published);

    cover = cover_read (dir, st[i].client_id, &info, &err);
    fail_unless (cover != NULL, "stream %u: %s", i, err ? err->message : "?");
    fail_unless_equals_int (info.client_id, st[i].client_id);
    fail_unless_equals_uint64 (info.generation, published);
    /* its own colour, hence nobody else's */
    assert_cover_colour (cover, 160, 120, st[i].argb);
    g_bytes_unref (cover);
  }

  for (i = 0; i < N_STREAMS; i++) {
    fail_unless_equals_int (
        gst_element_set_state (st[i].pipeline, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    gst_object_unref (st[i].tap);
    gst_object_unref (st[i].bus);
    gst_object_unref (st[i].pipeline);
  }
  for (i = 0; i < N_STREAMS; i++)
    for (j = i + 1; j < N_STREAMS; j++)
      fail_if (palette (i) == palette (j));
  store_dir_remove (dir);
}

GST_END_TEST;

static Suite *
robustness_suite (void)
{
  Suite *s = suite_create ("covertap-robustness");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_min_interval_test_clock);
  tcase_add_test (tc, test_min_interval_zero_takes_every_keyframe);
  tcase_add_test (tc, test_min_interval_zero_burst);
  tcase_add_test (tc, test_caps_change_mid_stream);
  tcase_add_test (tc, test_corrupt_keyframes_harness);
  tcase_add_test (tc, test_corrupt_keyframes_pipeline);
  tcase_add_test (tc, test_starts_with_delta_units);
  tcase_add_test (tc, test_never_a_keyframe);
  tcase_add_test (tc, test_many_streams_share_the_pool);
  return s;
}

GST_CHECK_MAIN (robustness);
