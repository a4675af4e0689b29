/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The branch every way in shares (push, pull, RTMP): [parser,] covertap and
 * the MP4 recording; moved out of cover-push-factory.c as it was. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-tap-branch.h"

#include <errno.h>

/* splitmuxsink::format-location: segments are named by the UTC time they
 * start, 20261128T222451.123Z.mp4, so that pushes after pushes never
 * overwrite each other and a plain sort is chronological */
static gchar *
segment_location (GstElement *splitmux, guint fragment_id, gpointer data)
{
  const gchar *dir = data;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *stamp = g_date_time_format (now, "%Y%m%dT%H%M%S");
  g_autofree gchar *name = g_strdup_printf (
      "%s.%03dZ.mp4", stamp, g_date_time_get_microsecond (now) / 1000);
  gchar *path = g_build_filename (dir, name, NULL);

  if (g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_free (path);
    g_free (name);
    name = g_strdup_printf ("%s.%03dZ-%u.mp4", stamp,
        g_date_time_get_microsecond (now) / 1000, fragment_id);
    path = g_build_filename (dir, name, NULL);
  }
  return path;
}

/* the recording branch's splitmuxsink: mp4mux, segments of @segment_s
 * seconds (split at the first key frame after that) into @dir */
static gboolean
setup_recording (
    GstElement *bin, guint32 cid, const gchar *dir, guint segment_s)
{
  g_autoptr (GstElement) rec = gst_bin_get_by_name (GST_BIN (bin), "rec");
  g_autoptr (GstElementFactory) mux = NULL;

  if (g_mkdir_with_parents (dir, 0700) != 0) {
    int e = errno;

    g_warning ("stream %u: cannot make the recording dir %s: %s", cid, dir,
        g_strerror (e));
    return FALSE;
  }
  /* splitmuxsink's default muxer (its pads are requested by the launch
   * line, before a "muxer" could be set) */
  mux = gst_element_factory_find ("mp4mux");
  if (!mux) {
    g_warning (
        "stream %u: no mp4mux (gst-plugins-good isom): not recording", cid);
    return FALSE;
  }
  g_object_set (rec, "max-size-time", (guint64) segment_s * GST_SECOND,
      "async-handling", TRUE, NULL);
  g_signal_connect_data (rec, "format-location", G_CALLBACK (segment_location),
      g_strdup (dir), (GClosureNotify) (void (*) (void)) g_free, 0);
  return TRUE;
}

/* whether mp4mux takes the video of @codec: H.264 and H.265, not JPEG
 * (1.22's mp4mux has no image/jpeg); TRUE without mp4mux, which
 * setup_recording() reports */
static gboolean
mp4_takes (CoverCodec codec)
{
  g_autoptr (GstElementFactory) mux = gst_element_factory_find ("mp4mux");
  g_autoptr (GstCaps) caps = NULL;

  if (!mux)
    return TRUE;
  caps = gst_caps_new_empty_simple (cover_codec_to_media_type (codec));
  return gst_element_factory_can_sink_any_caps (mux, caps);
}

/* covertap's properties named as the [stream.*] keys: set when given */
static void
set_given (GstElement *tap, const CoverStreamSettings *s, const gchar *key,
    guint64 value)
{
  GParamSpec *pspec;
  GValue v = G_VALUE_INIT;

  if (!cover_stream_settings_is_given (s, key))
    return;
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (tap), key);
  g_value_init (&v, G_TYPE_UINT64);
  g_value_set_uint64 (&v, value);
  if (pspec) {
    GValue converted = G_VALUE_INIT;

    g_value_init (&converted, pspec->value_type);
    if (g_value_transform (&v, &converted))
      g_object_set_property (G_OBJECT (tap), key, &converted);
    g_value_unset (&converted);
  }
  g_value_unset (&v);
}

static void
configure_tap (const CoverConfig *config, GstElement *tap, guint32 cid,
    const CoverStreamSettings *s)
{
  g_object_set (
      tap, "client-id", (gint64) cid, "store-dir", config->store_dir, NULL);
  set_given (tap, s, "quality", s->quality);
  set_given (tap, s, "min-interval", s->min_interval_ns);
  set_given (tap, s, "max-width", s->max_width);
  set_given (tap, s, "max-height", s->max_height);
  if (!s->thumbnails)
    return;
  g_object_set (tap, "thumbnail-dir", config->thumbnail_dir, NULL);
  if (!cover_stream_settings_is_given (s, "thumbnail-interval") && s->record)
    /* one thumbnail per segment */
    g_object_set (tap, "thumbnail-interval", s->record_segment, NULL);
  set_given (tap, s, "thumbnail-interval", s->thumbnail_interval);
  set_given (tap, s, "thumbnail-max-files", s->thumbnail_max_files);
  set_given (tap, s, "thumbnail-max-age", s->thumbnail_max_age);
}

/* the cover's chain of @codec: depayloader, parser; and what the recording
 * needs in front of the muxer: RTP carries presentation times only, and
 * with B-frames an MP4 needs decoding times too (the timestamper derives
 * them from the SPS's reordering depth) */
gboolean
cover_tap_branch_video_chain (CoverCodec codec, const gchar **depay,
    const gchar **parse, const gchar **timestamper)
{
  *timestamper = "identity";
  switch (codec) {
    case COVER_CODEC_H264:
      *depay = "rtph264depay";
      *parse = "h264parse";
      *timestamper = "h264timestamper";
      return TRUE;
    case COVER_CODEC_H265:
      *depay = "rtph265depay";
      *parse = "h265parse";
      *timestamper = "h265timestamper";
      return TRUE;
    case COVER_CODEC_JPEG:
      *depay = "rtpjpegdepay";
      *parse = "jpegparse";
      return TRUE;
    default:
      return FALSE;
  }
}

/* The timestamper (1.22) drains its window at EOS with decoding times that
 * go back (the last few frames of a push); mp4mux takes a DTS going back as
 * an error.  Those frames are dropped: a recording loses at most the
 * window (4 frames or so) at its very end. */
static GstPadProbeReturn
drop_dts_going_back (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstClockTime *last = data;

  if (!GST_BUFFER_DTS_IS_VALID (buf))
    return GST_PAD_PROBE_OK;
  if (GST_CLOCK_TIME_IS_VALID (*last) && GST_BUFFER_DTS (buf) <= *last)
    return GST_PAD_PROBE_DROP;
  *last = GST_BUFFER_DTS (buf);
  return GST_PAD_PROBE_OK;
}

static void
guard_video (GstElement *bin)
{
  g_autoptr (GstElement) vts = gst_bin_get_by_name (GST_BIN (bin), "vts");
  g_autoptr (GstPad) src = NULL;
  GstClockTime *last;

  if (!vts)
    return;
  src = gst_element_get_static_pad (vts, "src");
  last = g_new (GstClockTime, 1);
  *last = GST_CLOCK_TIME_NONE;
  gst_pad_add_probe (
      src, GST_PAD_PROBE_TYPE_BUFFER, drop_dts_going_back, last, g_free);
}

void
cover_tap_branch_append (GString *desc, CoverCodec codec, gboolean record)
{
  const gchar *depay, *parse, *timestamper;

  g_return_if_fail (desc != NULL);
  if (!cover_tap_branch_video_chain (codec, &depay, &parse, &timestamper))
    g_return_if_reached ();

  /* The depayloaders (and flvdemux, a tag an access unit) give covertap
   * what it takes: whole access units (or JPEG frames), and covertap finds
   * their keyframes itself.  A parser would cost each stream its NAL
   * parser state (~250 KiB for h264parse), more than the rest of the
   * branch.  The recording needs one: mp4mux takes parsed avc/hvc1, and
   * one parser serves both sides of the tee. */
  if (record)
    g_string_append_printf (desc,
        "%s ! tee name=t t. ! queue ! %s name=vts ! rec.video t. ! queue ! ",
        parse, timestamper);
  g_string_append (desc,
      "covertap name=tap ! fakesink sync=false "
      "async=false ");
}

gboolean
cover_tap_branch_records (
    guint32 cid, const CoverStreamSettings *s, CoverCodec codec)
{
  gboolean record;

  g_return_val_if_fail (s != NULL, FALSE);

  /* the cover (and thumbnails) without the segments rather than no stream */
  record = s->record && mp4_takes (codec);
  if (s->record && !record)
    g_message ("stream %u: not recording: MP4 segments take no %s", cid,
        cover_codec_to_string (codec));
  return record;
}

gboolean
cover_tap_branch_setup (GstElement *bin, const CoverConfig *config, guint32 cid,
    const CoverStreamSettings *s, gboolean record)
{
  g_autoptr (GstElement) tap = NULL;
  g_autofree gchar *rec_dir = NULL;

  g_return_val_if_fail (GST_IS_BIN (bin), FALSE);
  g_return_val_if_fail (config != NULL && s != NULL, FALSE);

  if (record) {
    g_autofree gchar *name = g_strdup_printf ("%u", cid);

    rec_dir = g_build_filename (config->data_dir, "recordings", name, NULL);
    if (!setup_recording (bin, cid, rec_dir, s->record_segment))
      return FALSE;
  }
  guard_video (bin);
  tap = gst_bin_get_by_name (GST_BIN (bin), "tap");
  configure_tap (config, tap, cid, s);
  if (record)
    g_message ("stream %u: recording %u s segments into %s", cid,
        s->record_segment, rec_dir);
  return TRUE;
}
