/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Covers from every common bitstream shape, made by real encoders: periodic
 * intra refresh (a recovery point SEI, no IDR after the first), open GOP
 * (non-IDR I pictures, also as the first picture of a stream), HEVC CRA,
 * MJPEG (published as it is, or encoded again), 4K 10-bit H.265.  Each
 * stream changes colour; the last cover must show the new colour. */

#include "covertap-util.h"

#include <gst/app/gstappsrc.h>
#include <string.h>
#include <turbojpeg.h>

#define CLIENT_ID 4343

static const guint8 red[3] = { 255, 0, 0 };
static const guint8 blue[3] = { 0, 0, 255 };

typedef struct
{
  guint change; /* first frame of the second colour */
  const guint8 *before;
  const guint8 *after;
} Change;

static void
paint_change (
    guint index, guint8 *rgb, guint width, guint height, gpointer data)
{
  const Change *c = data;
  const guint8 (*colour)[3] =
      (const guint8 (*)[3]) (index < c->change ? c->before : c->after);

  ct_paint_bands (rgb, width, height, colour, 1);
}

/* What went through the tap: keyframes by NAL unit type of their first
 * slice, and the last buffer. */
typedef struct
{
  gboolean h265;
  guint keyframes;
  guint first_slice; /* of the keyframe being walked */
  guint idr;         /* IDR (H.264) / IDR or BLA (H.265) keyframes */
  guint non_idr;     /* keyframes with another first slice */
  guint cra;
  guint drop_until_key; /* drop buffers before this keyframe (0: none) */
  gboolean strip_sei;   /* byte-stream: SEI NAL units are taken out */
  gboolean all_delta;   /* every buffer after the first is flagged DELTA */
  GstBuffer *last;
} Seen;

/* on_nal() for strip_sei: copies every NAL unit but SEIs into a byte
 * array, with 4-byte start codes */
typedef struct
{
  Seen *seen;
  GByteArray *out;
} Strip;

static void
strip_nal (const guint8 *data, gsize offset, gsize size, gpointer user_data)
{
  static const guint8 sc[4] = { 0, 0, 0, 1 };
  Strip *strip = user_data;
  gboolean sei = strip->seen->h265 ? ct_h265_nal_type (data + offset) == 39
                                   : ct_h264_nal_type (data + offset) == 6;

  if (sei)
    return;
  g_byte_array_append (strip->out, sc, 4);
  g_byte_array_append (strip->out, data + offset, size);
}

/* A camera that sends no SEI at all: @buf again without its SEI units. */
static GstBuffer *
strip_sei (Seen *seen, GstBuffer *buf)
{
  Strip strip = { seen, g_byte_array_new () };
  GstBuffer *out;
  GstMapInfo map;
  gsize size;

  gst_buffer_map (buf, &map, GST_MAP_READ);
  ct_walk_annexb (map.data, map.size, strip_nal, &strip);
  gst_buffer_unmap (buf, &map);
  size = strip.out->len;
  out = gst_buffer_new_wrapped (g_byte_array_free (strip.out, FALSE), size);
  gst_buffer_copy_into (out, buf, GST_BUFFER_COPY_METADATA, 0, -1);
  return out;
}

static void
on_nal (const guint8 *data, gsize offset, gsize size, gpointer user_data)
{
  Seen *seen = user_data;
  guint type = seen->h265 ? ct_h265_nal_type (data + offset)
                          : ct_h264_nal_type (data + offset);
  gboolean slice = seen->h265 ? type <= 31 : type >= 1 && type <= 5;

  if (slice && !seen->first_slice)
    seen->first_slice = type + 1;
}

static GstPadProbeReturn
seen_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  Seen *seen = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  gboolean key = !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  GstMapInfo map;

  if (seen->strip_sei) {
    buf = strip_sei (seen, buf);
    gst_buffer_unref (GST_PAD_PROBE_INFO_BUFFER (info));
    GST_PAD_PROBE_INFO_DATA (info) = buf;
  }
  /* what the depayloader flags varies (rtph264depay flags access units
   * with an SPS as keyframes): none but the first is, so that every cover
   * after it is one covertap found itself */
  if (seen->all_delta && seen->last) {
    buf = gst_buffer_make_writable (buf);
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
    GST_PAD_PROBE_INFO_DATA (info) = buf;
  }
  if (key) {
    seen->keyframes++;
    seen->first_slice = 0;
    gst_buffer_map (buf, &map, GST_MAP_READ);
    ct_walk_annexb (map.data, map.size, on_nal, seen);
    gst_buffer_unmap (buf, &map);
  }
  /* joining a stream mid-GOP: everything before that keyframe is lost */
  if (seen->drop_until_key && seen->keyframes < seen->drop_until_key)
    return GST_PAD_PROBE_DROP;
  if (key && seen->first_slice) {
    guint type = seen->first_slice - 1;

    if (seen->h265 ? type >= 16 && type <= 20 : type == 5)
      seen->idr++;
    else
      seen->non_idr++;
    if (seen->h265 && type == 21)
      seen->cra++;
  }
  gst_buffer_replace (&seen->last, buf);
  return GST_PAD_PROBE_OK;
}

/* Runs @n frames of @change at 320x240 through @chain (raw RGB in,
 * byte-stream access units out) into covertap with @tap_props; returns the
 * last cover and what the tap saw. */
static void
run_change (const gchar *chain, const gchar *tap_props, guint n,
    const Change *change, Seen *seen, CtCover *cover, guint64 *published)
{
  gchar *dir = ct_make_tmpdir ();
  GstElement *pipeline, *src, *tap;
  guint64 failed = 0;
  GstPad *pad;
  CtBusLog log;
  gchar *desc;

  desc = g_strdup_printf ("appsrc name=src ! videoconvert ! %s ! "
                          "covertap name=tap client-id=%u store-dir=%s "
                          "min-interval=0 %s ! fakesink",
      chain, CLIENT_ID, dir, tap_props ? tap_props : "");
  GST_INFO ("running %s", desc);
  pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL, "cannot build %s", desc);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  tap = gst_bin_get_by_name (GST_BIN (pipeline), "tap");
  pad = gst_element_get_static_pad (tap, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, seen_probe, seen, NULL);
  gst_object_unref (pad);
  ct_push_raw_frames (src, n, 320, 240, paint_change, (gpointer) change);

  ct_bus_log_init (&log);
  ct_play_to_end (pipeline, &log);
  fail_unless (log.error == NULL, "error from %s", desc);
  g_object_get (
      tap, "covers-published", published, "keyframes-failed", &failed, NULL);
  fail_unless_equals_uint64 (failed, 0);
  ct_read_cover (dir, CLIENT_ID, cover);
  gst_element_set_state (pipeline, GST_STATE_NULL);

  ct_bus_log_clear (&log);
  gst_object_unref (src);
  gst_object_unref (tap);
  gst_object_unref (pipeline);
  g_free (desc);
  ct_remove_tmpdir (dir);
}

#define H264_AU                                                                \
  "h264parse ! video/x-h264,stream-format=byte-stream,alignment=au"
#define H265_AU                                                                \
  "h265parse ! video/x-h265,stream-format=byte-stream,alignment=au"

/* x264 periodic intra refresh: one IDR, then a recovery point SEI on a P
 * picture every refresh period (30 frames; the picture it recovers comes
 * 18 frames later).  The colour changes at frame 45; the stream ends at
 * frame 105, two periods later: the recovery point of frame 60 must have
 * made a cover of the new colour. */
static void
check_intra_refresh (const gchar *format)
{
  Change change = { 45, red, blue };
  Seen seen = { FALSE };
  guint64 published;
  CtCover cover;
  gchar *chain =
      g_strdup_printf ("video/x-raw,format=I420 ! " CT_X264 (
                           30) "intra-refresh=true ! h264parse ! "
                               "video/x-h264,stream-format=%s,alignment=au",
          format);

  run_change (chain, NULL, 105, &change, &seen, &cover, &published);
  /* the shape (the probe reads start codes): one IDR, the rest recovery
   * points on P pictures */
  if (g_str_equal (format, "byte-stream")) {
    fail_unless_equals_int (seen.idr, 1);
    fail_unless (seen.non_idr >= 2, "%u recovery points", seen.non_idr);
  }
  /* the IDR's cover and at least one from a recovery point */
  fail_unless (published >= 2, "%" G_GUINT64_FORMAT " covers", published);
  ct_assert_region_colour (&cover, 0, 0, 1, 1, blue, 10, "after the change");
  ct_cover_clear (&cover);
  gst_clear_buffer (&seen.last);
  g_free (chain);
}

GST_START_TEST (test_intra_refresh)
{
  check_intra_refresh ("byte-stream");
}

GST_END_TEST;

/* the same in avc form (what h264parse gives when nothing asks for
 * byte-stream): NAL units with lengths in front */
GST_START_TEST (test_intra_refresh_avc)
{
  check_intra_refresh ("avc");
}

GST_END_TEST;

/* x264 open GOP with B-pictures: every keyframe after the first is a
 * non-IDR I picture whose leading B-pictures refer to the GOP before. */
#define OPEN_GOP                                                               \
  "video/x-raw,format=I420 ! " CT_X264 (                                       \
      10) "bframes=2 "                                                         \
          "option-string=open-gop=1 ! " H264_AU

/* @join: the keyframe the stream is joined at (0: from its start; 2: it
 * starts with a non-IDR I picture and its leading B-pictures, whose
 * references never came). */
static void
check_open_gop (guint join)
{
  Change change = { 25, red, blue };
  Seen seen = { FALSE };
  guint64 published;
  CtCover cover;

  seen.drop_until_key = join;
  run_change (OPEN_GOP, NULL, 40, &change, &seen, &cover, &published);
  fail_unless_equals_int (seen.idr, join ? 0 : 1);
  fail_unless (seen.non_idr >= 2, "%u non-IDR I pictures", seen.non_idr);
  /* every keyframe (min-interval=0) made a cover, or was replaced by a
   * newer one: none failed (run_change checks) */
  fail_unless (published >= 1, "%" G_GUINT64_FORMAT " covers", published);
  ct_assert_region_colour (&cover, 0, 0, 1, 1, blue, 10, "after the change");
  ct_cover_clear (&cover);
  gst_clear_buffer (&seen.last);
}

GST_START_TEST (test_open_gop)
{
  check_open_gop (0);
}

GST_END_TEST;

GST_START_TEST (test_open_gop_joined)
{
  check_open_gop (2);
}

GST_END_TEST;

/* x265's default GOP is open: keyframes after the first are CRA pictures
 * with RASL pictures after them. */
GST_START_TEST (test_hevc_cra)
{
  Change change = { 25, red, blue };
  Seen seen = { TRUE };
  guint64 published;
  CtCover cover;

  run_change ("video/x-raw,format=I420 ! " CT_X265 (
                  10) "option-string=open-gop=1:bframes=3 ! " H265_AU,
      NULL, 40, &change, &seen, &cover, &published);
  fail_unless_equals_int (seen.idr, 1);
  fail_unless (seen.cra >= 2, "%u CRA pictures", seen.cra);
  fail_unless (published >= 2, "%" G_GUINT64_FORMAT " covers", published);
  ct_assert_region_colour (&cover, 0, 0, 1, 1, blue, 10, "after the change");
  ct_cover_clear (&cover);
  gst_clear_buffer (&seen.last);
}

GST_END_TEST;

/* Straight from a depayloader, with no parser (what coversnapd's pushes
 * give covertap): rtph264depay and rtph265depay flag IDR/IRAP pictures
 * (and access units with an SPS) as keyframes, not recovery points or I
 * pictures, so covertap finds those itself.  The flags are taken off all
 * but the first buffer: every later cover is covertap's own find. */
#define RTP_H264(format)                                                       \
  "rtph264pay ! rtph264depay ! video/x-h264,stream-format=" format             \
  ",alignment=au"

static void
check_depayloaded (const gchar *chain, Seen *seen, guint change_at, guint n,
    guint64 min_published)
{
  Change change = { change_at, red, blue };
  guint64 published;
  CtCover cover;

  seen->all_delta = TRUE;
  run_change (chain, NULL, n, &change, seen, &cover, &published);
  fail_unless (
      published >= min_published, "%" G_GUINT64_FORMAT " covers", published);
  ct_assert_region_colour (&cover, 0, 0, 1, 1, blue, 10, "after the change");
  ct_cover_clear (&cover);
  gst_clear_buffer (&seen->last);
}

GST_START_TEST (test_depayloaded_intra_refresh)
{
  const gchar *formats[] = { "byte-stream", "avc" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (formats); i++) {
    Seen seen = { FALSE };
    gchar *rtp = g_strdup_printf (RTP_H264 ("%s"), formats[i]);
    gchar *chain = g_strdup_printf (
        "video/x-raw,format=I420 ! " CT_X264 (30) "intra-refresh=true ! %s",
        rtp);

    check_depayloaded (chain, &seen, 45, 105, 2);
    g_free (chain);
    g_free (rtp);
  }
}

GST_END_TEST;

/* open GOP: non-IDR I pictures, and no SEI at all (x264 puts a recovery
 * point on them only in some presets; many cameras send no SEI): the
 * slice type says it */
GST_START_TEST (test_depayloaded_i_slices)
{
  Seen seen = { FALSE };

  seen.strip_sei = TRUE;
  check_depayloaded (
      "video/x-raw,format=I420 ! " CT_X264 (
          10) "bframes=2 "
              "option-string=open-gop=1 ! " RTP_H264 ("byte-stream"),
      &seen, 25, 40, 2);
}

GST_END_TEST;

GST_START_TEST (test_depayloaded_hevc_cra)
{
  Seen seen = { TRUE };

  check_depayloaded ("video/x-raw,format=I420 ! " CT_X265 (
                         10) "option-string=open-gop=1:"
                             "bframes=3 ! rtph265pay ! rtph265depay ! "
                             "video/x-h265,stream-format=hvc1,alignment=au",
      &seen, 25, 40, 2);
}

GST_END_TEST;

/* what coversnapd gets from nginx-rtmp: flvdemux's avc, one access unit
 * per FLV tag, caps without alignment, no parser */
GST_START_TEST (test_flvdemux)
{
  Seen seen = { FALSE };

  check_depayloaded ("video/x-raw,format=I420 ! " CT_X264 (
                         10) "! flvmux streamable=true ! flvdemux",
      &seen, 25, 40, 2);
}

GST_END_TEST;

/* 4K 10-bit H.265 (x265 Main 10): the cover is 8-bit JPEG of the right
 * colour, scaled to the default 1920x1080 box. */
GST_START_TEST (test_hevc_4k_10bit)
{
  gchar *dir = ct_make_tmpdir ();
  CtBusLog log;
  CtCover cover;
  gchar *desc;

  desc = g_strdup_printf (
      "videotestsrc num-buffers=2 pattern=red ! "
      "video/x-raw,format=I420_10LE,width=3840,height=2160,framerate=30/1 ! "
      "x265enc speed-preset=ultrafast key-int-max=1 ! "
      "video/x-h265,profile=main-10 ! " H265_AU " ! "
      "covertap client-id=%u store-dir=%s min-interval=0 ! fakesink",
      CLIENT_ID, dir);
  ct_bus_log_init (&log);
  ct_run_launch (desc, &log);
  fail_unless (log.published->len >= 1, "no cover");
  fail_unless_equals_int (log.warnings->len, 0);
  ct_read_cover (dir, CLIENT_ID, &cover);
  fail_unless_equals_int (cover.width, 1920);
  fail_unless_equals_int (cover.height, 1080);
  ct_assert_region_colour (&cover, 0, 0, 1, 1, red, 10, "red");
  ct_cover_clear (&cover);
  ct_bus_log_clear (&log);
  g_free (desc);
  ct_remove_tmpdir (dir);
}

GST_END_TEST;

/* MJPEG from jpegenc (baseline 4:2:0), parsed or not: published as it is
 * when it fits, encoded again (smaller) when max-width says so. */
static void
check_mjpeg (const gchar *parser, const gchar *tap_props, gboolean identical)
{
  Change change = { 10, red, blue };
  Seen seen = { FALSE };
  guint64 published;
  CtCover cover;
  gchar *chain = g_strdup_printf (
      /* full range, as cameras send: jpegenc takes the range it gets */
      "video/x-raw,format=I420,colorimetry=1:4:0:0 ! jpegenc quality=80 %s",
      parser);
  gsize size;
  const guint8 *data;

  run_change (chain, tap_props, 20, &change, &seen, &cover, &published);
  fail_unless (seen.last != NULL);
  fail_unless (published >= 1);
  data = g_bytes_get_data (cover.jpeg, &size);
  if (identical) {
    fail_unless_equals_int (cover.width, 320);
    fail_unless_equals_int (cover.height, 240);
    fail_unless_equals_uint64 (size, gst_buffer_get_size (seen.last));
    fail_unless (gst_buffer_memcmp (seen.last, 0, data, size) == 0,
        "the cover is not the last JPEG frame as it was");
  } else {
    fail_unless_equals_int (cover.width, 160);
    fail_unless_equals_int (cover.height, 120);
    fail_if (size == gst_buffer_get_size (seen.last) &&
            gst_buffer_memcmp (seen.last, 0, data, size) == 0,
        "a resized cover is the input frame");
  }
  ct_assert_region_colour (&cover, 0, 0, 1, 1, blue, 10, "after the change");
  ct_cover_clear (&cover);
  gst_clear_buffer (&seen.last);
  g_free (chain);
}

GST_START_TEST (test_mjpeg_as_is)
{
  check_mjpeg ("", NULL, TRUE);
  check_mjpeg ("! jpegparse", NULL, TRUE);
}

GST_END_TEST;

GST_START_TEST (test_mjpeg_resized)
{
  check_mjpeg ("! jpegparse", "max-width=160", FALSE);
}

GST_END_TEST;

/* A progressive JPEG (libjpeg-turbo's encoder) is not shown by every
 * viewer: it is decoded and encoded again, at the same size. */
GST_START_TEST (test_mjpeg_progressive)
{
  gchar *dir = ct_make_tmpdir ();
  guint8 *rgb = g_malloc (320 * 240 * 3);
  unsigned char *jpeg = NULL;
  unsigned long jpeg_size = 0;
  GstElement *pipeline, *src;
  const guint8 *data;
  tjhandle tj;
  CtBusLog log;
  CtCover cover;
  GstCaps *caps;
  gchar *desc;
  gsize size;
  guint i;

  ct_paint_bands (rgb, 320, 240, (const guint8 (*)[3]) blue, 1);
  tj = tjInitCompress ();
  fail_unless (tjCompress2 (tj, rgb, 320, 0, 240, TJPF_RGB, &jpeg, &jpeg_size,
                   TJSAMP_420, 85, TJFLAG_PROGRESSIVE) == 0);
  /* SOF2 and not SOF0: it is progressive */
  for (i = 2; i + 1 < jpeg_size && !(jpeg[i] == 0xff && jpeg[i + 1] == 0xc2);
       i++)
    ;
  fail_unless (i + 1 < jpeg_size, "libjpeg-turbo made no progressive JPEG");

  desc = g_strdup_printf ("appsrc name=src format=time ! covertap "
                          "client-id=%u store-dir=%s min-interval=0 ! fakesink",
      CLIENT_ID, dir);
  pipeline = gst_parse_launch (desc, NULL);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  caps = gst_caps_from_string (
      "image/jpeg,width=320,height=240,framerate=30/1,parsed=true");
  g_object_set (src, "caps", caps, NULL);
  gst_caps_unref (caps);
  {
    GstBuffer *buf = gst_buffer_new_memdup (jpeg, jpeg_size);

    GST_BUFFER_PTS (buf) = 0;
    gst_app_src_push_buffer (GST_APP_SRC (src), buf);
    gst_app_src_end_of_stream (GST_APP_SRC (src));
  }
  ct_bus_log_init (&log);
  ct_play_to_end (pipeline, &log);
  fail_unless_equals_int (log.published->len, 1);
  ct_read_cover (dir, CLIENT_ID, &cover);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  data = g_bytes_get_data (cover.jpeg, &size);
  fail_unless_equals_int (cover.width, 320);
  fail_unless_equals_int (cover.height, 240);
  fail_unless (cover_jpeg_is_baseline (data, size, &cover.width, &cover.height),
      "the cover is not baseline");
  ct_assert_region_colour (&cover, 0, 0, 1, 1, blue, 10, "blue");

  ct_cover_clear (&cover);
  ct_bus_log_clear (&log);
  gst_object_unref (src);
  gst_object_unref (pipeline);
  tjFree (jpeg);
  tjDestroy (tj);
  g_free (rgb);
  g_free (desc);
  ct_remove_tmpdir (dir);
}

GST_END_TEST;

static Suite *
covertap_shapes_suite (void)
{
  Suite *s = suite_create ("covertap-shapes");
  TCase *tc = tcase_create ("shapes");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_intra_refresh);
  tcase_add_test (tc, test_intra_refresh_avc);
  tcase_add_test (tc, test_open_gop);
  tcase_add_test (tc, test_open_gop_joined);
  tcase_add_test (tc, test_hevc_cra);
  tcase_add_test (tc, test_depayloaded_intra_refresh);
  tcase_add_test (tc, test_depayloaded_i_slices);
  tcase_add_test (tc, test_depayloaded_hevc_cra);
  tcase_add_test (tc, test_flvdemux);
  tcase_add_test (tc, test_hevc_4k_10bit);
  tcase_add_test (tc, test_mjpeg_as_is);
  tcase_add_test (tc, test_mjpeg_resized);
  tcase_add_test (tc, test_mjpeg_progressive);
  return s;
}

CT_CHECK_MAIN (covertap_shapes);
