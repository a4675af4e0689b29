/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#include "robust-util.h"

#include <gst/app/gstappsink.h>
#include <math.h>

static gchar *
launch_line (MediaKind kind, guint width, guint height, const gchar *pattern,
    guint n_frames, guint key_int)
{
  const gchar *encode;

  /* the raw format is pinned: x264enc would pick 4:4:4 10-bit otherwise */
  switch (kind) {
    case MEDIA_H264:
      encode = "x264enc tune=zerolatency speed-preset=ultrafast bframes=0 "
               "key-int-max=%u ! h264parse config-interval=-1 ! "
               "video/x-h264,stream-format=byte-stream,alignment=au";
      break;
    case MEDIA_H265:
      encode = "x265enc tune=zerolatency speed-preset=ultrafast "
               "key-int-max=%u ! h265parse config-interval=-1 ! "
               "video/x-h265,stream-format=byte-stream,alignment=au";
      break;
    case MEDIA_RAW:
    default:
      encode = "identity name=unused%u";
      break;
  }
  {
    gchar *enc = g_strdup_printf (encode, key_int);
    gchar *line = g_strdup_printf (
        "videotestsrc %s num-buffers=%u ! "
        "video/x-raw,format=I420,width=%u,height=%u,framerate=25/1 ! %s ! "
        "appsink name=sink sync=false",
        pattern, n_frames, width, height, enc);

    g_free (enc);
    return line;
  }
}

EncodedStream *
encoded_stream_new (MediaKind kind, guint width, guint height, guint32 argb,
    guint n_frames, guint key_int)
{
  gchar *pattern =
      g_strdup_printf ("pattern=solid-color foreground-color=%u", argb);
  EncodedStream *s = encoded_stream_new_pattern (
      kind, width, height, pattern, n_frames, key_int);

  g_free (pattern);
  return s;
}

EncodedStream *
encoded_stream_new_pattern (MediaKind kind, guint width, guint height,
    const gchar *pattern, guint n_frames, guint key_int)
{
  EncodedStream *s = g_new0 (EncodedStream, 1);
  gchar *line = launch_line (kind, width, height, pattern, n_frames, key_int);
  GError *err = NULL;
  GstElement *pipeline, *sink;
  GstSample *sample;
  GstMessage *msg;
  GstBus *bus;

  pipeline = gst_parse_launch (line, &err);
  fail_unless (pipeline != NULL, "cannot build '%s': %s", line,
      err ? err->message : "?");
  g_clear_error (&err);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  fail_unless (sink != NULL);
  s->aus = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PLAYING),
      GST_STATE_CHANGE_ASYNC);
  while ((sample = gst_app_sink_try_pull_sample (
              GST_APP_SINK (sink), 10 * GST_SECOND))) {
    GstBuffer *buf = gst_sample_get_buffer (sample);

    /* raw frames come from a pool of the source: keep copies */
    if (kind == MEDIA_RAW)
      g_ptr_array_add (s->aus, gst_buffer_copy_deep (buf));
    else
      g_ptr_array_add (s->aus, gst_buffer_ref (buf));
    gst_caps_replace (&s->caps, gst_sample_get_caps (sample));
    gst_sample_unref (sample);
  }
  fail_unless (gst_app_sink_is_eos (GST_APP_SINK (sink)),
      "'%s' did not reach EOS", line);

  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg == NULL, "'%s' posted an error", line);
  gst_object_unref (bus);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);

  fail_unless_equals_int (s->aus->len, n_frames);
  fail_unless (s->caps != NULL);
  GST_INFO ("%s: %u units, caps %" GST_PTR_FORMAT, line, s->aus->len, s->caps);
  g_free (line);
  return s;
}

void
encoded_stream_free (EncodedStream *s)
{
  if (!s)
    return;
  g_ptr_array_unref (s->aus);
  gst_clear_caps (&s->caps);
  g_free (s);
}

GstBuffer *
encoded_stream_get (EncodedStream *s, guint i)
{
  fail_unless (i < s->aus->len);
  return g_ptr_array_index (s->aus, i);
}

gchar *
store_dir_new (void)
{
  return cs_test_make_tmpdir ("coversnap-robust-XXXXXX");
}

void
store_dir_remove (gchar *dir)
{
  if (!dir)
    return;
  cs_test_rm_rf (dir);
  fail_if (g_file_test (dir, G_FILE_TEST_EXISTS), "%s stays", dir);
  g_free (dir);
}

GstElement *
tap_new (guint32 client_id, const gchar *dir, GstClockTime min_interval)
{
  GstElement *tap = gst_element_factory_make ("covertap", NULL);

  fail_unless (tap != NULL, "covertap not found (GST_PLUGIN_PATH?)");
  g_object_set (tap, "client-id", (gint64) client_id, "store-dir", dir,
      "min-interval", (guint64) min_interval, NULL);
  return tap;
}

GstHarness *
tap_harness_new (guint32 client_id, const gchar *dir, GstClockTime min_interval,
    GstCaps *caps, GstBus **bus)
{
  GstElement *tap = tap_new (client_id, dir, min_interval);
  GstHarness *h;

  /* the harness sets the element to PLAYING at once: client-id and
   * store-dir must be there before */
  if (bus) {
    *bus = gst_bus_new ();
    gst_element_set_bus (tap, *bus);
  }
  h = gst_harness_new_with_element (tap, "sink", "src");
  gst_object_unref (tap);
  if (caps)
    gst_harness_set_src_caps (h, gst_caps_ref (caps));
  return h;
}

guint64
tap_get (GstElement *tap, const gchar *counter)
{
  guint64 v = 0;

  g_object_get (tap, counter, &v, NULL);
  return v;
}

typedef struct
{
  GstElement *tap;
  guint64 n;
} WaitHandled;

static gboolean
handled (gpointer data)
{
  WaitHandled *w = data;

  return tap_get (w->tap, "covers-published") +
      tap_get (w->tap, "keyframes-failed") >=
      w->n;
}

gboolean
tap_wait_handled (GstElement *tap, guint64 n, gint64 timeout_us)
{
  WaitHandled w = { tap, n };

  return cs_test_poll (handled, &w, timeout_us, 2000);
}

GstBuffer *
au_copy (GstBuffer *au, GstClockTime pts)
{
  GstBuffer *b = gst_buffer_copy (au);

  GST_BUFFER_PTS (b) = pts;
  GST_BUFFER_DTS (b) = pts;
  return b;
}

GBytes *
cover_read (
    const gchar *dir, guint32 client_id, CoverInfo *info, GError **error)
{
  CoverStoreReader *r = cover_store_reader_open (dir, client_id, error);
  GBytes *bytes;

  if (!r)
    return NULL;
  bytes = cover_store_reader_read (r, 5 * G_USEC_PER_SEC, info, error);
  cover_store_reader_free (r);
  return bytes;
}

static guint8 *
decode (GBytes *jpeg, guint *width, guint *height)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (jpeg, &size);

  return cs_test_image_decode (data, size, width, height);
}

void
assert_cover_colour (GBytes *jpeg, guint width, guint height, guint32 argb)
{
  const gint want[3] = { (argb >> 16) & 0xff, (argb >> 8) & 0xff, argb & 0xff };
  guint w, h, c;
  guint8 *px = decode (jpeg, &w, &h);
  gsize i, n, off = 0;
  gdouble mean[3] = { 0, 0, 0 };

  fail_unless_equals_int (w, width);
  fail_unless_equals_int (h, height);
  n = (gsize) w * h;
  for (i = 0; i < n; i++) {
    gboolean far = FALSE;

    for (c = 0; c < 3; c++) {
      mean[c] += px[3 * i + c];
      if (ABS ((gint) px[3 * i + c] - want[c]) > 2 * COLOUR_TOLERANCE)
        far = TRUE;
    }
    off += far;
  }
  g_free (px);
  for (c = 0; c < 3; c++)
    mean[c] /= n;
  for (c = 0; c < 3; c++) {
    fail_unless (fabs (mean[c] - want[c]) <= COLOUR_TOLERANCE,
        "cover colour (%.0f,%.0f,%.0f), expected (%d,%d,%d)", mean[0], mean[1],
        mean[2], want[0], want[1], want[2]);
  }
  /* one solid colour, not a concealed or half-decoded picture */
  fail_unless (off <= n / 100,
      "%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
      " pixels are far from (%d,%d,%d)",
      off, n, want[0], want[1], want[2]);
}

guint
bus_count (GstBus *bus, GstMessageType type)
{
  GstMessage *msg;
  guint n = 0;

  while ((msg = gst_bus_pop (bus))) {
    if (GST_MESSAGE_TYPE (msg) & type) {
      n++;
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
        g_autofree gchar *text = cs_test_message_text (msg);

        GST_WARNING ("error from %s: %s", GST_MESSAGE_SRC_NAME (msg), text);
      }
    }
    gst_message_unref (msg);
  }
  return n;
}
