/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* What ends up in the cover: real H.264/H.265 streams (every stream format
 * the element takes) and raw video in several formats, solid colours that
 * must come out as that colour (full range), scaling, pixel aspect ratio and
 * multi-slice keyframes. */

#include "covertap-util.h"

#include <gst/app/gstappsrc.h>
#include <string.h>

#define CLIENT_ID 4242

typedef struct
{
  const gchar *pattern;
  guint8 rgb[3];
  gdouble tol;
} Solid;

/* White and black within 6: without the limited → full range expansion
 * they come out at 235 and 16.  Colours within 10: a wrong matrix (BT.709
 * read as BT.601 or the reverse) or a missing range expansion moves some
 * channel of a primary by 15 or more. */
static const Solid solids[] = {
  { "red", { 255, 0, 0 }, 10 },
  { "green", { 0, 255, 0 }, 10 },
  { "blue", { 0, 0, 255 }, 10 },
  { "white", { 255, 255, 255 }, 6 },
  { "black", { 0, 0, 0 }, 6 },
};

#define H264_BYTE_STREAM                                                       \
  CT_X264 (10)                                                                 \
  "! h264parse ! "                                                             \
  "video/x-h264,stream-format=byte-stream,alignment=au"
#define H265_BYTE_STREAM                                                       \
  CT_X265 (10)                                                                 \
  "! h265parse ! "                                                             \
  "video/x-h265,stream-format=byte-stream,alignment=au"

/* Runs videotestsrc @pattern at @width x @height (I420) through @chain into
 * covertap with @tap_props, and returns the cover. */
static void
run_to_cover (const gchar *pattern, guint width, guint height,
    const gchar *chain, const gchar *tap_props, guint n_frames, CtCover *cover)
{
  gchar *dir = ct_make_tmpdir ();
  CtBusLog log;
  gchar *desc;
  guint i;

  desc = g_strdup_printf ("videotestsrc num-buffers=%u pattern=%s ! "
                          "video/x-raw,format=I420,width=%u,height=%u,"
                          "framerate=30/1 ! %s%s covertap client-id=%u "
                          "store-dir=%s %s ! fakesink",
      n_frames, pattern, width, height, chain ? chain : "", chain ? " !" : "",
      CLIENT_ID, dir, tap_props ? tap_props : "");
  GST_INFO ("running %s", desc);
  ct_bus_log_init (&log);
  ct_run_launch (desc, &log);
  fail_unless (log.published->len >= 1, "no cover published by '%s'", desc);
  for (i = 0; i < log.warnings->len; i++) {
    GstMessage *m = g_ptr_array_index (log.warnings, i);
    GError *err = NULL;

    gst_message_parse_warning (m, &err, NULL);
    fail ("warning from %s: %s", GST_MESSAGE_SRC_NAME (m), err->message);
    g_error_free (err);
  }
  ct_read_cover (dir, CLIENT_ID, cover);
  ct_bus_log_clear (&log);
  g_free (desc);
  ct_remove_tmpdir (dir);
}

static void
check_solid (const gchar *chain, const Solid *solid)
{
  CtCover cover;

  run_to_cover (solid->pattern, 320, 240, chain, "min-interval=0", 12, &cover);
  fail_unless_equals_int (cover.width, 320);
  fail_unless_equals_int (cover.height, 240);
  /* the whole picture, borders included: a solid colour everywhere */
  ct_assert_region_colour (
      &cover, 0.0, 0.0, 1.0, 1.0, solid->rgb, solid->tol, solid->pattern);
  ct_cover_clear (&cover);
}

GST_START_TEST (test_h264_solid_colours)
{
  check_solid (H264_BYTE_STREAM, &solids[__i__]);
}

GST_END_TEST;

GST_START_TEST (test_h265_solid_colours)
{
  check_solid (H265_BYTE_STREAM, &solids[__i__]);
}

GST_END_TEST;

/* HD sizes default to BT.709 (and x264 signals it in the VUI), while JPEG
 * is BT.601: the colours must survive the change of matrix, scaled or at
 * the frame's own size (the colour step then runs on the decoder's frame
 * as it is).  The last colour is one nothing saturates: BT.709 (200, 40,
 * 40) read as BT.601 is off by 14 in red and 17 in green. */
static const Solid hd_solids[] = {
  { "red", { 255, 0, 0 }, 10 },
  { "green", { 0, 255, 0 }, 10 },
  { "blue", { 0, 0, 255 }, 10 },
  { "solid-color foreground-color=0xffc82828", { 200, 40, 40 }, 8 },
};

static void
check_hd (const Solid *solid, const gchar *tap_props, guint width, guint height)
{
  CtCover cover;

  run_to_cover (
      solid->pattern, 1280, 720, H264_BYTE_STREAM, tap_props, 6, &cover);
  fail_unless_equals_int (cover.width, width);
  fail_unless_equals_int (cover.height, height);
  ct_assert_region_colour (
      &cover, 0, 0, 1, 1, solid->rgb, solid->tol, solid->pattern);
  ct_cover_clear (&cover);
}

GST_START_TEST (test_h264_hd_colours)
{
  check_hd (&hd_solids[__i__], "min-interval=0 max-width=320", 320, 180);
}

GST_END_TEST;

GST_START_TEST (test_h264_hd_colours_unscaled)
{
  check_hd (&hd_solids[__i__], "min-interval=0", 1280, 720);
}

GST_END_TEST;

static const gchar *stream_formats[] = {
  CT_X264 (10) "! h264parse ! video/x-h264,stream-format=avc,alignment=au",
  CT_X264 (10) "! h264parse ! video/x-h264,stream-format=avc3,alignment=au",
  CT_X265 (10) "! h265parse ! video/x-h265,stream-format=hvc1,alignment=au",
  CT_X265 (10) "! h265parse ! video/x-h265,stream-format=hev1,alignment=au",
};

GST_START_TEST (test_packetized_stream_formats)
{
  /* two colours per format: the range and the chroma both matter */
  check_solid (stream_formats[__i__], &solids[__i__ % 3]);
  check_solid (stream_formats[__i__], &solids[3]);
}

GST_END_TEST;

/* One process, its pooled decoders: avc3 (which avdec_h264 takes only
 * through h264parse), then byte-stream and avc (which it takes directly),
 * then avc3 again: each keyframe goes the way its caps need, and the way
 * back works too. */
GST_START_TEST (test_decoder_routes)
{
  const gchar *order[] = { stream_formats[1], H264_BYTE_STREAM,
    stream_formats[0], stream_formats[1] };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (order); i++)
    check_solid (order[i], &solids[i % G_N_ELEMENTS (solids)]);
}

GST_END_TEST;

/* The colour GStreamer itself gives a frame (videoconvert to RGB): the
 * reference for raw formats, whose range comes from their caps. */
static void
reference_colour (const gchar *format, const gchar *pattern, gdouble mean[3])
{
  gchar *desc = g_strdup_printf ("videotestsrc num-buffers=1 pattern=%s ! "
                                 "video/x-raw,format=%s,width=64,height=48 ! "
                                 "videoconvert ! video/x-raw,format=RGB ! "
                                 "appsink name=sink sync=false",
      pattern, format);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  GstElement *sink;
  GstSample *sample;
  GstMapInfo map;
  GstBuffer *buf;
  gsize i;

  fail_unless (pipeline != NULL);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  g_signal_emit_by_name (sink, "try-pull-sample", 30 * GST_SECOND, &sample);
  fail_unless (sample != NULL, "no reference frame from '%s'", desc);
  buf = gst_sample_get_buffer (sample);
  gst_buffer_map (buf, &map, GST_MAP_READ);
  mean[0] = mean[1] = mean[2] = 0;
  /* 64 * 3 is a multiple of 4: no row padding */
  for (i = 0; i + 2 < map.size; i += 3) {
    mean[0] += map.data[i];
    mean[1] += map.data[i + 1];
    mean[2] += map.data[i + 2];
  }
  for (i = 0; i < 3; i++)
    mean[i] /= map.size / 3;
  gst_buffer_unmap (buf, &map);
  gst_sample_unref (sample);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
}

static const gchar *raw_formats[] = {
  "I420",
  "NV12",
  "RGB",
  "BGRx",
  "GRAY8",
  "Y444",
  "YUY2",
  "Y42B",
};

GST_START_TEST (test_raw_formats)
{
  const gchar *format = raw_formats[__i__];
  gboolean gray = g_str_equal (format, "GRAY8");
  guint s;

  for (s = 0; s < G_N_ELEMENTS (solids); s++) {
    const Solid *solid = &solids[s];
    gchar *dir = ct_make_tmpdir ();
    gchar *desc, *what;
    gdouble ref[3];
    guint8 want[3];
    CtBusLog log;
    CtCover cover;
    guint c;

    desc = g_strdup_printf ("videotestsrc num-buffers=3 pattern=%s ! "
                            "video/x-raw,format=%s,width=320,height=240,"
                            "framerate=30/1 ! covertap client-id=%u "
                            "store-dir=%s ! fakesink",
        solid->pattern, format, CLIENT_ID, dir);
    ct_bus_log_init (&log);
    ct_run_launch (desc, &log);
    fail_unless (log.published->len >= 1, "nothing published by '%s'", desc);
    ct_read_cover (dir, CLIENT_ID, &cover);
    fail_unless_equals_int (cover.width, 320);
    fail_unless_equals_int (cover.height, 240);

    what = g_strdup_printf ("%s %s", format, solid->pattern);
    reference_colour (format, solid->pattern, ref);
    for (c = 0; c < 3; c++)
      want[c] = CLAMP (ref[c] + 0.5, 0, 255);
    ct_assert_region_colour (&cover, 0, 0, 1, 1, want, 10, what);
    if (!gray) {
      /* and the reference itself is the colour asked for */
      ct_assert_region_colour (
          &cover, 0, 0, 1, 1, solid->rgb, solid->tol, what);
    } else {
      gdouble mean[3];

      ct_cover_mean (&cover, 0, 0, 1, 1, mean);
      fail_unless (ABS (mean[0] - mean[1]) < 2 && ABS (mean[1] - mean[2]) < 2,
          "grey cover is not grey: %f %f %f", mean[0], mean[1], mean[2]);
    }
    g_free (what);
    ct_cover_clear (&cover);
    ct_bus_log_clear (&log);
    ct_remove_tmpdir (dir);
    g_free (desc);
  }
}

GST_END_TEST;

typedef struct
{
  const gchar *chain; /* NULL: raw */
  guint width, height;
  const gchar *props;
  guint want_width, want_height;
} ScaleCase;

static const ScaleCase scale_cases[] = {
  { H264_BYTE_STREAM, 640, 360, "max-width=320", 320, 180 },
  { H264_BYTE_STREAM, 320, 240, "max-width=1920 max-height=1080", 320, 240 },
  { H264_BYTE_STREAM, 640, 360, "max-width=0 max-height=90", 160, 90 },
  { H265_BYTE_STREAM, 640, 360, "max-width=320", 320, 180 },
  { NULL, 640, 480, "max-width=320 max-height=120", 160, 120 },
  { NULL, 320, 240, "max-width=0 max-height=0", 320, 240 },
  { NULL, 320, 240, "max-width=4000 max-height=4000", 320, 240 },
};

GST_START_TEST (test_scaling)
{
  const ScaleCase *sc = &scale_cases[__i__];
  CtCover cover;
  gchar *props = g_strdup_printf ("min-interval=0 %s", sc->props);

  run_to_cover ("blue", sc->width, sc->height, sc->chain, props,
      sc->chain ? 12 : 3, &cover);
  fail_unless_equals_int (cover.width, sc->want_width);
  fail_unless_equals_int (cover.height, sc->want_height);
  ct_assert_region_colour (
      &cover, 0, 0, 1, 1, solids[2].rgb, solids[2].tol, "scaled");
  ct_cover_clear (&cover);
  g_free (props);
}

GST_END_TEST;

typedef struct
{
  gboolean h264;
  gint par_n, par_d;
  const gchar *props;
  guint want_width, want_height;
} ParCase;

static const ParCase par_cases[] = {
  { FALSE, 2, 1, "", 640, 240 },
  { FALSE, 1, 2, "", 160, 240 },
  { FALSE, 2, 1, "max-width=320", 320, 120 },
  { TRUE, 3, 2, "", 480, 240 },
};

/* Left half red, right half blue, so a picture squeezed the wrong way or
 * cropped shows. */
static void
paint_halves (
    guint index, guint8 *rgb, guint width, guint height, gpointer user_data)
{
  guint x, y;

  for (y = 0; y < height; y++) {
    guint8 *row = rgb + (gsize) y * width * 3;

    for (x = 0; x < width; x++) {
      const guint8 *c = x < width / 2 ? solids[0].rgb : solids[2].rgb;

      memcpy (row + x * 3, c, 3);
    }
  }
}

GST_START_TEST (test_pixel_aspect_ratio)
{
  const ParCase *pc = &par_cases[__i__];
  gchar *dir = ct_make_tmpdir ();
  GstElement *pipeline, *src;
  CtBusLog log;
  CtCover cover;
  gchar *desc;

  /* the pixel aspect ratio comes from the source: a converter asked to
   * change it would add borders of its own */
  desc = g_strdup_printf ("appsrc name=src ! videoconvert ! "
                          "video/x-raw,format=I420 ! %s covertap "
                          "client-id=%u store-dir=%s min-interval=0 %s ! "
                          "fakesink",
      pc->h264 ? CT_X264 (10) "! h264parse ! video/x-h264,"
                              "stream-format=byte-stream ! "
               : "",
      CLIENT_ID, dir, pc->props);
  pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL, "cannot parse %s", desc);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  ct_push_raw_frames_par (src, pc->h264 ? 12 : 3, 320, 240, pc->par_n,
      pc->par_d, paint_halves, NULL);
  ct_bus_log_init (&log);
  ct_play_to_end (pipeline, &log);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  fail_unless (log.eos && !log.error, "pipeline '%s' failed", desc);
  fail_unless (log.published->len >= 1);

  ct_read_cover (dir, CLIENT_ID, &cover);
  fail_unless_equals_int (cover.width, pc->want_width);
  fail_unless_equals_int (cover.height, pc->want_height);
  ct_assert_region_colour (
      &cover, 0.05, 0.05, 0.45, 0.95, solids[0].rgb, 10, "left half");
  ct_assert_region_colour (
      &cover, 0.55, 0.05, 0.95, 0.95, solids[2].rgb, 10, "right half");

  ct_cover_clear (&cover);
  ct_bus_log_clear (&log);
  gst_object_unref (src);
  gst_object_unref (pipeline);
  ct_remove_tmpdir (dir);
  g_free (desc);
}

GST_END_TEST;

/* Multi-slice keyframes: four horizontal bands, encoded in (at least) as
 * many slices; a decoder fed only part of the access unit shows garbage or
 * grey in the lower bands. */
static const guint8 bands[4][3] = {
  { 255, 0, 0 },
  { 0, 255, 0 },
  { 0, 0, 255 },
  { 255, 255, 255 },
};

static void
paint_bands (
    guint index, guint8 *rgb, guint width, guint height, gpointer user_data)
{
  ct_paint_bands (rgb, width, height, bands, G_N_ELEMENTS (bands));
}

typedef struct
{
  gboolean h265;
  guint max_slices; /* most VCL NAL units seen in one keyframe */
} SliceCount;

typedef struct
{
  SliceCount *count;
  guint n;
} SliceWalk;

static void
on_nal (const guint8 *data, gsize offset, gsize size, gpointer user_data)
{
  SliceWalk *w = user_data;
  guint type;

  if (size == 0)
    return;
  if (w->count->h265) {
    type = ct_h265_nal_type (data + offset);
    if (type <= 31)
      w->n++;
  } else {
    type = ct_h264_nal_type (data + offset);
    if (type >= 1 && type <= 5)
      w->n++;
  }
}

static GstPadProbeReturn
slice_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  SliceCount *sc = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  SliceWalk w = { sc, 0 };
  GstMapInfo map;

  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
    return GST_PAD_PROBE_OK;
  gst_buffer_map (buf, &map, GST_MAP_READ);
  ct_walk_annexb (map.data, map.size, on_nal, &w);
  gst_buffer_unmap (buf, &map);
  sc->max_slices = MAX (sc->max_slices, w.n);
  return GST_PAD_PROBE_OK;
}

static const gchar *sliced_encoders[] = {
  "x264enc speed-preset=ultrafast sliced-threads=true threads=4 "
  "key-int-max=5 ! h264parse ! "
  "video/x-h264,stream-format=byte-stream,alignment=au",
  "x264enc speed-preset=ultrafast option-string=slices=4 key-int-max=5 "
  "! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au",
  "x265enc speed-preset=ultrafast key-int-max=5 option-string=slices=4 ! "
  "h265parse ! video/x-h265,stream-format=byte-stream,alignment=au",
};

GST_START_TEST (test_multi_slice_keyframes)
{
  const gchar *encoder = sliced_encoders[__i__];
  SliceCount sc = { g_strrstr (encoder, "x265") != NULL, 0 };
  gchar *dir = ct_make_tmpdir ();
  GstElement *pipeline, *src, *tap;
  GstPad *pad;
  CtBusLog log;
  CtCover cover;
  gchar *desc;
  guint b;

  desc = g_strdup_printf ("appsrc name=src ! videoconvert ! "
                          "video/x-raw,format=I420 ! %s ! covertap name=tap "
                          "client-id=%u store-dir=%s min-interval=0 ! "
                          "fakesink",
      encoder, CLIENT_ID, dir);
  pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL, "cannot parse %s", desc);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  tap = gst_bin_get_by_name (GST_BIN (pipeline), "tap");
  pad = gst_element_get_static_pad (tap, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, slice_probe, &sc, NULL);
  ct_push_raw_frames (src, 12, 320, 240, paint_bands, NULL);
  ct_bus_log_init (&log);
  ct_play_to_end (pipeline, &log);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  fail_unless (log.eos && !log.error, "pipeline '%s' failed", desc);

  /* the test is only worth something if the keyframes are sliced */
  fail_unless (sc.max_slices >= 2, "encoder made %u slice(s) per keyframe",
      sc.max_slices);
  fail_unless (log.published->len >= 1);
  ct_read_cover (dir, CLIENT_ID, &cover);
  fail_unless_equals_int (cover.width, 320);
  fail_unless_equals_int (cover.height, 240);
  for (b = 0; b < G_N_ELEMENTS (bands); b++) {
    gchar *what = g_strdup_printf ("band %u of %u slices", b, sc.max_slices);

    /* the middle of each band, away from chroma bleeding at the edges */
    ct_assert_region_colour (
        &cover, 0.05, (b + 0.2) / 4, 0.95, (b + 0.8) / 4, bands[b], 10, what);
    g_free (what);
  }

  ct_cover_clear (&cover);
  ct_bus_log_clear (&log);
  gst_object_unref (pad);
  gst_object_unref (tap);
  gst_object_unref (src);
  gst_object_unref (pipeline);
  ct_remove_tmpdir (dir);
  g_free (desc);
}

GST_END_TEST;

static Suite *
covertap_content_suite (void)
{
  Suite *s = suite_create ("covertap-content");
  TCase *tc;

  tc = tcase_create ("h264");
  tcase_add_loop_test (tc, test_h264_solid_colours, 0, G_N_ELEMENTS (solids));
  tcase_add_loop_test (tc, test_h264_hd_colours, 0, G_N_ELEMENTS (hd_solids));
  tcase_add_loop_test (
      tc, test_h264_hd_colours_unscaled, 0, G_N_ELEMENTS (hd_solids));
  suite_add_tcase (s, tc);

  tc = tcase_create ("h265");
  tcase_add_loop_test (tc, test_h265_solid_colours, 0, G_N_ELEMENTS (solids));
  suite_add_tcase (s, tc);

  tc = tcase_create ("stream-formats");
  tcase_add_loop_test (
      tc, test_packetized_stream_formats, 0, G_N_ELEMENTS (stream_formats));
  tcase_add_test (tc, test_decoder_routes);
  suite_add_tcase (s, tc);

  tc = tcase_create ("raw");
  tcase_add_loop_test (tc, test_raw_formats, 0, G_N_ELEMENTS (raw_formats));
  suite_add_tcase (s, tc);

  tc = tcase_create ("scaling");
  tcase_add_loop_test (tc, test_scaling, 0, G_N_ELEMENTS (scale_cases));
  tcase_add_loop_test (
      tc, test_pixel_aspect_ratio, 0, G_N_ELEMENTS (par_cases));
  suite_add_tcase (s, tc);

  tc = tcase_create ("slices");
  tcase_add_loop_test (
      tc, test_multi_slice_keyframes, 0, G_N_ELEMENTS (sliced_encoders));
  suite_add_tcase (s, tc);

  return s;
}

CT_CHECK_MAIN (covertap_content);
