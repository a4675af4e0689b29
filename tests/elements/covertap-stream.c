/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* How covertap behaves in a stream: parameter sets sent once, the bus
 * message, the end of a stream (EOS, stop, unlink-on-stop), bad settings,
 * and the passthrough of every buffer untouched. */

#include "covertap-util.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/check/gstharness.h>
#include <string.h>

#define CLIENT_ID 777

static const guint8 colours[3][3] = {
  { 255, 0, 0 },
  { 0, 255, 0 },
  { 0, 0, 255 },
};

#define GOP 10

/* GOP k is painted colours[k % 3]: a cover tells which keyframe it is. */
static void
paint_gop (guint index, guint8 *rgb, guint width, guint height, gpointer data)
{
  ct_paint_bands (rgb, width, height, &colours[(index / GOP) % 3], 1);
}

/* Encodes @n frames painted by paint_gop with x264enc (byte-stream, one
 * access unit per buffer) and returns the buffers. */
static GPtrArray *
encode_h264 (guint n)
{
  GPtrArray *out =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  GstElement *pipeline, *src, *sink;
  GstSample *sample;

  pipeline = gst_parse_launch ("appsrc name=src ! videoconvert ! "
                               "video/x-raw,format=I420 ! " CT_X264 (
                                   10) "bframes=0 ! video/x-h264,stream-format="
                                       "byte-stream,alignment=au ! appsink "
                                       "name=sink sync=false",
      NULL);
  fail_unless (pipeline != NULL);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  ct_push_raw_frames (src, n, 320, 240, paint_gop, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while ((sample = gst_app_sink_try_pull_sample (
              GST_APP_SINK (sink), 30 * GST_SECOND))) {
    g_ptr_array_add (out, gst_buffer_ref (gst_sample_get_buffer (sample)));
    gst_sample_unref (sample);
  }
  fail_unless (gst_app_sink_is_eos (GST_APP_SINK (sink)));
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  fail_unless_equals_int (out->len, n);
  return out;
}

typedef struct
{
  GByteArray *out;
  gboolean strip;
  guint sps, pps, slices;
} Strip;

static void
strip_nal (const guint8 *data, gsize offset, gsize size, gpointer user_data)
{
  static const guint8 start_code[4] = { 0, 0, 0, 1 };
  Strip *st = user_data;
  guint type = ct_h264_nal_type (data + offset);

  st->sps += type == 7;
  st->pps += type == 8;
  st->slices += type >= 1 && type <= 5;
  if (st->strip && (type == 7 || type == 8))
    return;
  g_byte_array_append (st->out, start_code, 4);
  g_byte_array_append (st->out, data + offset, size);
}

/* A copy of @buf without its SPS and PPS NAL units (when @strip), with the
 * same timestamps and flags; counts what it saw in @st. */
static GstBuffer *
rebuild_au (GstBuffer *buf, gboolean strip, Strip *st)
{
  GstMapInfo map;
  GstBuffer *copy;
  guint len;

  memset (st, 0, sizeof (*st));
  st->out = g_byte_array_new ();
  st->strip = strip;
  gst_buffer_map (buf, &map, GST_MAP_READ);
  ct_walk_annexb (map.data, map.size, strip_nal, st);
  gst_buffer_unmap (buf, &map);
  len = st->out->len;
  copy = gst_buffer_new_wrapped (g_byte_array_free (st->out, FALSE), len);
  st->out = NULL;
  gst_buffer_copy_into (
      copy, buf, GST_BUFFER_COPY_FLAGS | GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  return copy;
}

GST_START_TEST (test_parameter_sets_only_at_start)
{
  gchar *dir = ct_make_tmpdir ();
  GPtrArray *aus = encode_h264 (4 * GOP);
  GstElement *tap;
  GstHarness *h;
  gchar *launch;
  guint64 first_generation = 0;
  guint i, keyframes = 0;

  launch = g_strdup_printf (
      "covertap name=tap client-id=%u store-dir=%s min-interval=0", CLIENT_ID,
      dir);
  h = gst_harness_new_parse (launch);
  tap = gst_bin_get_by_name (GST_BIN (h->element), "tap");
  gst_harness_set_src_caps_str (h,
      "video/x-h264, stream-format=byte-stream, alignment=au, parsed=true, "
      "width=320, height=240, framerate=30/1");

  for (i = 0; i < aus->len; i++) {
    GstBuffer *au = g_ptr_array_index (aus, i);
    gboolean key = !GST_BUFFER_FLAG_IS_SET (au, GST_BUFFER_FLAG_DELTA_UNIT);
    Strip st;
    GstBuffer *in = rebuild_au (au, keyframes > 0, &st);

    if (key) {
      /* x264 repeats SPS/PPS on every keyframe: what we strip */
      fail_unless (st.sps >= 1 && st.pps >= 1,
          "keyframe %u came without SPS/PPS from x264enc", keyframes);
      fail_unless_equals_int (i % GOP, 0);
    }
    fail_unless (st.slices >= 1);
    fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));

    if (key) {
      guint64 published;
      CtCover cover;
      gchar *what;

      keyframes++;
      /* wait for this keyframe's cover before the next one can replace
       * it: each keyframe must make its own */
      published = ct_wait_cover (tap, keyframes, 0, CT_TIMEOUT_US);
      fail_unless_equals_uint64 (published, keyframes);
      ct_read_cover (dir, CLIENT_ID, &cover);
      /* one new image per keyframe, not the first one again */
      if (keyframes == 1)
        first_generation = cover.info.generation;
      fail_unless_equals_uint64 (
          cover.info.generation, first_generation + keyframes - 1);
      fail_unless_equals_int (cover.width, 320);
      fail_unless_equals_int (cover.height, 240);
      what = g_strdup_printf ("cover of keyframe %u", keyframes);
      ct_assert_region_colour (
          &cover, 0, 0, 1, 1, colours[(i / GOP) % 3], 10, what);
      g_free (what);
      ct_cover_clear (&cover);
    }
  }
  fail_unless_equals_int (keyframes, 4);
  {
    guint64 seen, failed, skipped;

    g_object_get (tap, "keyframes-seen", &seen, "keyframes-failed", &failed,
        "keyframes-skipped", &skipped, NULL);
    fail_unless_equals_uint64 (seen, keyframes);
    fail_unless_equals_uint64 (failed, 0);
    fail_unless_equals_uint64 (skipped, 0);
  }

  gst_object_unref (tap);
  gst_harness_teardown (h);
  g_ptr_array_unref (aus);
  g_free (launch);
  ct_remove_tmpdir (dir);
}

GST_END_TEST;

GST_START_TEST (test_published_message)
{
  gchar *dir = ct_make_tmpdir ();
  GstElement *pipeline, *tap;
  guint64 last_gen = 0, published;
  CtBusLog log;
  CtCover cover;
  gchar *desc;
  guint i;

  desc = g_strdup_printf (
      "videotestsrc num-buffers=40 pattern=green ! " CT_I420 (
          320, 240) " ! " CT_X264 (10) "! h264parse ! covertap name=tap "
                                       "client-id=%u store-dir=%s "
                                       "min-interval=0 ! fakesink",
      CLIENT_ID, dir);
  pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  tap = gst_bin_get_by_name (GST_BIN (pipeline), "tap");
  ct_bus_log_init (&log);
  ct_play_to_end (pipeline, &log);
  fail_unless (log.eos && !log.error);
  fail_unless (log.published->len >= 1);

  for (i = 0; i < log.published->len; i++) {
    const GstStructure *s = g_ptr_array_index (log.published, i);
    guint client_id = 0, width = 0, height = 0;
    guint64 gen = 0, bytes = 0, latency = 0;
    gint64 capture = 0;

    fail_unless (gst_structure_get (s, "client-id", G_TYPE_UINT, &client_id,
                     "generation", G_TYPE_UINT64, &gen, "width", G_TYPE_UINT,
                     &width, "height", G_TYPE_UINT, &height, "bytes",
                     G_TYPE_UINT64, &bytes, "latency", G_TYPE_UINT64, &latency,
                     "capture-time", G_TYPE_INT64, &capture, NULL),
        "message lacks a field: %" GST_PTR_FORMAT, s);
    fail_unless_equals_int (client_id, CLIENT_ID);
    fail_unless (gen > last_gen,
        "generation %" G_GUINT64_FORMAT " after %" G_GUINT64_FORMAT, gen,
        last_gen);
    last_gen = gen;
    fail_unless_equals_int (width, 320);
    fail_unless_equals_int (height, 240);
    fail_unless (bytes > 100);
    /* decoding and encoding take some time */
    fail_unless (latency > 0);
    fail_unless (capture > 0);
  }

  /* the last message describes what the store holds */
  ct_read_cover (dir, CLIENT_ID, &cover);
  {
    const GstStructure *s =
        g_ptr_array_index (log.published, log.published->len - 1);
    guint64 gen, bytes;
    gint64 capture;

    gst_structure_get (s, "generation", G_TYPE_UINT64, &gen, "bytes",
        G_TYPE_UINT64, &bytes, "capture-time", G_TYPE_INT64, &capture, NULL);
    fail_unless_equals_uint64 (cover.info.generation, gen);
    fail_unless_equals_uint64 (bytes, g_bytes_get_size (cover.jpeg));
    fail_unless_equals_uint64 (bytes, cover.info.size);
    fail_unless_equals_int64 (capture, cover.info.capture_time);
  }
  ct_assert_region_colour (
      &cover, 0, 0, 1, 1, colours[1], 10, "published cover");
  g_object_get (tap, "covers-published", &published, NULL);
  fail_unless_equals_uint64 (published, log.published->len);

  ct_cover_clear (&cover);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  ct_bus_log_clear (&log);
  gst_object_unref (tap);
  gst_object_unref (pipeline);
  g_free (desc);
  ct_remove_tmpdir (dir);
}

GST_END_TEST;

static gpointer
close_writer_later (gpointer writer)
{
  g_usleep (500 * 1000);
  cover_store_writer_close (writer, TRUE);
  return NULL;
}

/* A push taken over before the old pipeline let go of the segment: the new
 * tap starts while another live writer holds it, warns, and takes the
 * segment over as soon as it is free (it used to pass the whole stream
 * without covers). */
GST_START_TEST (test_segment_taken_over_when_free)
{
  gchar *dir = ct_make_tmpdir ();
  GstElement *pipeline, *tap;
  CoverStoreWriter *old;
  GError *err = NULL;
  GThread *closer;
  guint64 published;
  CtBusLog log;
  CtCover cover;
  gchar *desc;

  old = cover_store_writer_open (dir, CLIENT_ID, 0600, &err);
  fail_unless (old != NULL, "%s", err ? err->message : "");
  desc = g_strdup_printf (
      "videotestsrc is-live=true num-buffers=60 pattern=green ! " CT_I420 (
          320, 240) " ! " CT_X264 (10) "! h264parse ! covertap name=tap "
                                       "client-id=%u store-dir=%s "
                                       "min-interval=0 ! fakesink",
      CLIENT_ID, dir);
  pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  tap = gst_bin_get_by_name (GST_BIN (pipeline), "tap");
  closer = g_thread_new ("closer", close_writer_later, old);
  ct_bus_log_init (&log);
  ct_play_to_end (pipeline, &log);
  g_thread_join (closer);
  fail_unless (log.eos && !log.error);
  fail_unless (log.warnings->len >= 1, "no warning about the held segment");
  g_object_get (tap, "covers-published", &published, NULL);
  fail_unless (published >= 1, "no cover once the segment was free");
  ct_read_cover (dir, CLIENT_ID, &cover);
  ct_assert_region_colour (&cover, 0, 0, 1, 1, colours[1], 10, "taken over");

  ct_cover_clear (&cover);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  ct_bus_log_clear (&log);
  gst_object_unref (tap);
  gst_object_unref (pipeline);
  g_free (desc);
  ct_remove_tmpdir (dir);
}

GST_END_TEST;

/* EOS drains: with a slow worker, the last keyframe is still waiting when
 * EOS arrives; it must be published (and the segment marked ended) before
 * EOS leaves the element. */
GST_START_TEST (test_eos_publishes_last_keyframe)
{
  gchar *dir = ct_make_tmpdir ();
  GstElement *pipeline, *src;
  CoverStoreReader *reader;
  CoverInfo info;
  CtBusLog log;
  CtCover cover;
  gchar *desc;

  /* read once by the pool, which this forked test process starts */
  g_setenv ("COVERSNAP_WORKER_DELAY_MS", "200", TRUE);
  desc =
      g_strdup_printf ("appsrc name=src ! videoconvert ! "
                       "video/x-raw,format=I420 ! " CT_X264 (
                           10) "bframes=0 ! h264parse ! covertap client-id=%u "
                               "store-dir=%s min-interval=0 ! fakesink",
          CLIENT_ID, dir);
  pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  /* GOPs red, green, blue: the last keyframe is blue */
  ct_push_raw_frames (src, 3 * GOP, 320, 240, paint_gop, NULL);
  ct_bus_log_init (&log);
  ct_play_to_end (pipeline, &log);
  fail_unless (log.eos && !log.error);

  /* still PLAYING: only EOS can have ended the segment */
  ct_read_cover (dir, CLIENT_ID, &cover);
  fail_unless (cover.info.ended, "segment not marked ended at EOS");
  fail_unless (!cover.info.live, "segment still live after EOS");
  ct_assert_region_colour (
      &cover, 0, 0, 1, 1, colours[2], 10, "cover after EOS (last keyframe)");
  ct_cover_clear (&cover);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  reader = cover_store_reader_open (dir, CLIENT_ID, NULL);
  fail_unless (reader != NULL);
  fail_unless (
      cover_store_reader_get_info (reader, CT_LIVE_TIMEOUT_US, &info, NULL));
  fail_unless (info.ended && !info.live);
  cover_store_reader_free (reader);

  ct_bus_log_clear (&log);
  gst_object_unref (src);
  gst_object_unref (pipeline);
  g_free (desc);
  ct_remove_tmpdir (dir);
}

GST_END_TEST;

/* A live stream, stopped while running: the segment stays (with its last
 * picture) but says ended; with unlink-on-stop it goes away. */
static void
check_stop (gboolean unlink_on_stop)
{
  gchar *dir = ct_make_tmpdir ();
  gchar *path = cover_store_path (dir, CLIENT_ID);
  GstElement *pipeline, *tap;
  CoverStoreReader *reader;
  GError *err = NULL;
  CoverInfo info;
  CtCover cover;
  gchar *desc;

  desc = g_strdup_printf ("videotestsrc is-live=true pattern=white ! " CT_I420 (
                              320, 240) " ! x264enc tune=zerolatency "
                                        "speed-preset=ultrafast "
                                        "key-int-max=10 ! h264parse ! "
                                        "covertap name=tap client-id=%u "
                                        "store-dir=%s unlink-on-stop=%s ! "
                                        "fakesink",
      CLIENT_ID, dir, unlink_on_stop ? "true" : "false");
  pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  tap = gst_bin_get_by_name (GST_BIN (pipeline), "tap");
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  fail_unless (ct_wait_cover (tap, 1, 0, CT_TIMEOUT_US) >= 1,
      "no cover from a live stream");

  ct_read_cover (dir, CLIENT_ID, &cover);
  fail_unless (cover.info.live, "a flowing stream is not live");
  fail_unless (!cover.info.ended);
  fail_unless_equals_int (cover.info.writer_pid, getpid ());
  ct_assert_region_colour (
      &cover, 0, 0, 1, 1, (const guint8[3]){ 255, 255, 255 }, 10, "live cover");
  ct_cover_clear (&cover);

  reader = cover_store_reader_open (dir, CLIENT_ID, NULL);
  fail_unless (reader != NULL);
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  if (!unlink_on_stop) {
    fail_unless (g_file_test (path, G_FILE_TEST_EXISTS));
    fail_unless (
        cover_store_reader_get_info (reader, CT_LIVE_TIMEOUT_US, &info, NULL));
    fail_unless (info.ended, "segment not marked ended when stopped");
    fail_unless (!info.live, "segment live after the element stopped");
    /* the last picture stays for readers */
    ct_read_cover (dir, CLIENT_ID, &cover);
    ct_cover_clear (&cover);
  } else {
    CoverStoreReader *again;

    fail_if (g_file_test (path, G_FILE_TEST_EXISTS),
        "%s still there with unlink-on-stop", path);
    again = cover_store_reader_open (dir, CLIENT_ID, &err);
    fail_unless (again == NULL);
    fail_unless (
        g_error_matches (err, COVER_STORE_ERROR, COVER_STORE_ERROR_NOT_FOUND),
        "unexpected error: %s", err ? err->message : "none");
    g_clear_error (&err);
    /* a reader that had it open sees it ended, not live */
    if (cover_store_reader_get_info (reader, CT_LIVE_TIMEOUT_US, &info, NULL))
      fail_unless (!info.live);
  }
  cover_store_reader_free (reader);

  gst_object_unref (tap);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (path);
  ct_remove_tmpdir (dir);
}

GST_START_TEST (test_stop_marks_ended)
{
  check_stop (FALSE);
}

GST_END_TEST;

GST_START_TEST (test_unlink_on_stop)
{
  check_stop (TRUE);
}

GST_END_TEST;

GST_START_TEST (test_missing_client_id)
{
  gchar *dir = ct_make_tmpdir ();
  gchar *desc = g_strdup_printf ("videotestsrc num-buffers=5 ! covertap "
                                 "name=tap store-dir=%s ! fakesink",
      dir);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  GstStateChangeReturn ret;
  GstMessage *msg;
  GError *err = NULL;
  GstBus *bus;

  fail_unless (pipeline != NULL);
  bus = gst_element_get_bus (pipeline);
  ret = gst_element_set_state (pipeline, GST_STATE_PLAYING);
  fail_unless_equals_int (ret, GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error message for a missing client-id");
  fail_unless_equals_string (GST_MESSAGE_SRC_NAME (msg), "tap");
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (
      g_error_matches (err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS),
      "unexpected error %s", err->message);
  fail_unless (strstr (err->message, "client-id") != NULL,
      "error does not name the property: %s", err->message);
  /* nothing created in the store */
  {
    GDir *d = g_dir_open (dir, 0, NULL);

    fail_unless (d != NULL);
    fail_unless (g_dir_read_name (d) == NULL, "the store is not empty");
    g_dir_close (d);
  }

  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_free (desc);
  ct_remove_tmpdir (dir);
}

GST_END_TEST;

static void
count_handoff (GstElement *sink, GstBuffer *buf, GstPad *pad, gpointer data)
{
  g_atomic_int_inc ((gint *) data);
}

GST_START_TEST (test_unusable_store_dir)
{
  gchar *dir = ct_make_tmpdir ();
  gchar *missing = g_build_filename (dir, "no", "such", "dir", NULL);
  GstElement *pipeline, *sink, *tap;
  gboolean warned = FALSE;
  gint handoffs = 0;
  guint64 published;
  CtBusLog log;
  gchar *desc;
  guint i;

  desc = g_strdup_printf (
      "videotestsrc num-buffers=20 ! " CT_I420 (320, 240) " ! " CT_X264 (
          5) "! h264parse ! covertap name=tap client-id=%u "
             "store-dir=%s min-interval=0 ! fakesink name=sink "
             "signal-handoffs=true",
      CLIENT_ID, missing);
  pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  tap = gst_bin_get_by_name (GST_BIN (pipeline), "tap");
  g_signal_connect (sink, "handoff", G_CALLBACK (count_handoff), &handoffs);
  ct_bus_log_init (&log);
  ct_play_to_end (pipeline, &log);
  fail_unless (!log.error, "the stream failed over its cover store");
  fail_unless (log.eos);
  fail_unless_equals_int (g_atomic_int_get (&handoffs), 20);

  for (i = 0; i < log.warnings->len; i++) {
    GstMessage *m = g_ptr_array_index (log.warnings, i);
    GError *err = NULL;

    gst_message_parse_warning (m, &err, NULL);
    if (GST_MESSAGE_SRC (m) == GST_OBJECT (tap) &&
        err->domain == GST_RESOURCE_ERROR)
      warned = TRUE;
    g_error_free (err);
  }
  fail_unless (warned, "no RESOURCE warning from covertap");
  g_object_get (tap, "covers-published", &published, NULL);
  fail_unless_equals_uint64 (published, 0);
  fail_if (g_file_test (missing, G_FILE_TEST_EXISTS));

  gst_element_set_state (pipeline, GST_STATE_NULL);
  ct_bus_log_clear (&log);
  gst_object_unref (sink);
  gst_object_unref (tap);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (missing);
  ct_remove_tmpdir (dir);
}

GST_END_TEST;

typedef struct
{
  GstBuffer *ptr;
  GstBufferFlags flags;
  GstClockTime pts, dts, duration;
  guint64 offset, offset_end;
  gpointer data;
  gsize size;
} Snapshot;

static void
snapshot_take (Snapshot *s, GstBuffer *buf)
{
  s->ptr = buf;
  s->flags = GST_BUFFER_FLAGS (buf);
  s->pts = GST_BUFFER_PTS (buf);
  s->dts = GST_BUFFER_DTS (buf);
  s->duration = GST_BUFFER_DURATION (buf);
  s->offset = GST_BUFFER_OFFSET (buf);
  s->offset_end = GST_BUFFER_OFFSET_END (buf);
  gst_buffer_extract_dup (buf, 0, -1, &s->data, &s->size);
}

static void
snapshot_check (Snapshot *s, GstBuffer *out)
{
  fail_unless (
      out == s->ptr, "a different buffer came out (%p, not %p)", out, s->ptr);
  fail_unless_equals_int (GST_BUFFER_FLAGS (out), s->flags);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), s->pts);
  fail_unless_equals_uint64 (GST_BUFFER_DTS (out), s->dts);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), s->duration);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (out), s->offset);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (out), s->offset_end);
  fail_unless_equals_uint64 (gst_buffer_get_size (out), s->size);
  fail_unless (gst_buffer_memcmp (out, 0, s->data, s->size) == 0,
      "buffer contents changed");
}

static void
snapshot_clear (Snapshot *s)
{
  g_free (s->data);
  s->data = NULL;
}

GST_START_TEST (test_passthrough_raw)
{
  gchar *dir = ct_make_tmpdir ();
  gchar *launch = g_strdup_printf (
      "covertap name=tap client-id=%u store-dir=%s min-interval=0", CLIENT_ID,
      dir);
  GstHarness *h = gst_harness_new_parse (launch);
  GstElement *tap = gst_bin_get_by_name (GST_BIN (h->element), "tap");
  guint i;

  gst_harness_set_src_caps_str (h, CT_I420 (320, 240));
  for (i = 0; i < 5; i++) {
    GstBuffer *buf = gst_harness_create_buffer (h, 320 * 240 * 3 / 2);
    GstBuffer *out;
    GstMapInfo map;
    Snapshot snap;
    gsize j;

    gst_buffer_map (buf, &map, GST_MAP_WRITE);
    for (j = 0; j < map.size; j++)
      map.data[j] = (j * 7 + i) & 0xff;
    gst_buffer_unmap (buf, &map);
    GST_BUFFER_PTS (buf) = i * GST_SECOND / 30;
    GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
    GST_BUFFER_OFFSET (buf) = i;
    GST_BUFFER_OFFSET_END (buf) = i + 1;
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_MARKER);
    if (i == 0)
      GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    snapshot_take (&snap, buf);

    /* keep a ref: the element must not need a writable buffer either */
    fail_unless_equals_int (
        gst_harness_push (h, gst_buffer_ref (buf)), GST_FLOW_OK);
    out = gst_harness_pull (h);
    snapshot_check (&snap, out);
    gst_buffer_unref (out);

    /* a worker reading the same buffer does not change it either */
    fail_unless (ct_wait_cover (tap, i + 1, 0, CT_TIMEOUT_US) >= i + 1);
    fail_unless (gst_buffer_memcmp (buf, 0, snap.data, snap.size) == 0);
    snapshot_clear (&snap);
    gst_buffer_unref (buf);
  }

  gst_object_unref (tap);
  gst_harness_teardown (h);
  g_free (launch);
  ct_remove_tmpdir (dir);
}

GST_END_TEST;

GST_START_TEST (test_passthrough_h264)
{
  gchar *dir = ct_make_tmpdir ();
  gchar *launch = g_strdup_printf (
      "covertap name=tap client-id=%u store-dir=%s min-interval=0", CLIENT_ID,
      dir);
  GstHarness *h = gst_harness_new_parse (launch);
  GstElement *tap = gst_bin_get_by_name (GST_BIN (h->element), "tap");
  guint i, keyframes = 0;
  guint64 seen;

  gst_harness_add_src_parse (h,
      "videotestsrc num-buffers=20 pattern=ball ! " CT_I420 (
          320, 240) " ! " CT_X264 (5) "! h264parse",
      FALSE);
  /* a source is not started by the harness on its own */
  gst_harness_play (h->src_harness);
  for (i = 0; i < 20; i++) {
    GstBuffer *buf = gst_harness_pull (h->src_harness);
    GstBuffer *out;
    Snapshot snap;

    fail_unless (buf != NULL, "encoder gave %u buffers", i);
    if (!GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
      keyframes++;
    snapshot_take (&snap, buf);
    fail_unless_equals_int (
        gst_harness_push (h, gst_buffer_ref (buf)), GST_FLOW_OK);
    out = gst_harness_pull (h);
    snapshot_check (&snap, out);
    gst_buffer_unref (out);
    snapshot_clear (&snap);
    gst_buffer_unref (buf);
  }
  fail_unless (keyframes >= 4);
  g_object_get (tap, "keyframes-seen", &seen, NULL);
  fail_unless_equals_uint64 (seen, keyframes);
  fail_unless (ct_wait_cover (tap, 1, 0, CT_TIMEOUT_US) >= 1);

  gst_object_unref (tap);
  gst_harness_teardown (h);
  g_free (launch);
  ct_remove_tmpdir (dir);
}

GST_END_TEST;

/* The segment's heartbeat; no cover is needed (an empty segment still
 * has its writer's fields). */
static gint64
read_heartbeat (CoverStoreReader *reader)
{
  GError *err = NULL;
  CoverInfo info;

  if (!cover_store_reader_get_info (reader, CT_LIVE_TIMEOUT_US, &info, &err)) {
    fail_unless (
        g_error_matches (err, COVER_STORE_ERROR, COVER_STORE_ERROR_EMPTY), "%s",
        err->message);
    g_error_free (err);
  }
  return info.heartbeat;
}

/* Every buffer says the stream is alive, but the segment's heartbeat (a
 * cache line readers on other cores load) is written at most every 100 ms,
 * and still follows a stream that goes on. */
GST_START_TEST (test_heartbeat_rate_limited)
{
  gchar *dir = ct_make_tmpdir ();
  gchar *launch = g_strdup_printf (
      "covertap client-id=%u store-dir=%s enabled=false", CLIENT_ID, dir);
  GstHarness *h = gst_harness_new_parse (launch);
  CoverStoreReader *reader;
  gint64 start, elapsed, heartbeat, last = 0;
  guint i, changes = 0;

  gst_harness_set_src_caps_str (h, CT_I420 (64, 48));
  reader = cover_store_reader_open (dir, CLIENT_ID, NULL);
  fail_unless (reader != NULL);
  start = g_get_monotonic_time ();
  for (i = 0; i < 200; i++) {
    gst_buffer_unref (gst_harness_push_and_pull (
        h, gst_harness_create_buffer (h, 64 * 48 * 3 / 2)));
    heartbeat = read_heartbeat (reader);
    if (heartbeat != last)
      changes++;
    last = heartbeat;
  }
  elapsed = g_get_monotonic_time () - start;
  GST_INFO ("200 buffers in %" G_GINT64_FORMAT " µs: %u heartbeats", elapsed,
      changes);
  /* one per 100 ms, and the first buffer's */
  fail_unless (changes <= elapsed / (G_USEC_PER_SEC / 10) + 2,
      "%u heartbeats written for 200 buffers in %" G_GINT64_FORMAT " µs",
      changes, elapsed);

  /* a buffer after the interval moves it on */
  g_usleep (G_USEC_PER_SEC / 5);
  gst_buffer_unref (gst_harness_push_and_pull (
      h, gst_harness_create_buffer (h, 64 * 48 * 3 / 2)));
  heartbeat = read_heartbeat (reader);
  fail_unless (heartbeat >= last + G_USEC_PER_SEC / 5,
      "heartbeat %" G_GINT64_FORMAT " not moved on from %" G_GINT64_FORMAT,
      heartbeat, last);

  cover_store_reader_free (reader);
  gst_harness_teardown (h);
  g_free (launch);
  ct_remove_tmpdir (dir);
}

GST_END_TEST;

static Suite *
covertap_stream_suite (void)
{
  Suite *s = suite_create ("covertap-stream");
  TCase *tc;

  tc = tcase_create ("parameter-sets");
  tcase_add_test (tc, test_parameter_sets_only_at_start);
  suite_add_tcase (s, tc);

  tc = tcase_create ("message");
  tcase_add_test (tc, test_published_message);
  tcase_add_test (tc, test_segment_taken_over_when_free);
  suite_add_tcase (s, tc);

  tc = tcase_create ("lifecycle");
  tcase_add_test (tc, test_eos_publishes_last_keyframe);
  tcase_add_test (tc, test_stop_marks_ended);
  tcase_add_test (tc, test_unlink_on_stop);
  tcase_add_test (tc, test_missing_client_id);
  tcase_add_test (tc, test_unusable_store_dir);
  suite_add_tcase (s, tc);

  tc = tcase_create ("passthrough");
  tcase_add_test (tc, test_passthrough_raw);
  tcase_add_test (tc, test_passthrough_h264);
  tcase_add_test (tc, test_heartbeat_rate_limited);
  suite_add_tcase (s, tc);

  return s;
}

CT_CHECK_MAIN (covertap_stream);
