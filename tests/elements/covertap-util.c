/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#include "covertap-util.h"

#include <gst/app/gstappsrc.h>
#include <math.h>
#include <string.h>

void
ct_bus_log_init (CtBusLog *log)
{
  memset (log, 0, sizeof (*log));
  log->published =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  log->warnings =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_message_unref);
}

void
ct_bus_log_clear (CtBusLog *log)
{
  g_clear_pointer (&log->published, g_ptr_array_unref);
  g_clear_pointer (&log->warnings, g_ptr_array_unref);
  gst_clear_message (&log->error);
}

gboolean
ct_bus_log_add (CtBusLog *log, GstMessage *msg)
{
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure (msg);

      if (s && gst_structure_has_name (s, "covertap-published"))
        g_ptr_array_add (log->published, gst_structure_copy (s));
      return FALSE;
    }
    case GST_MESSAGE_WARNING:
      g_ptr_array_add (log->warnings, gst_message_ref (msg));
      return FALSE;
    case GST_MESSAGE_ERROR:
      if (!log->error)
        log->error = gst_message_ref (msg);
      return TRUE;
    case GST_MESSAGE_EOS:
      log->eos = TRUE;
      return TRUE;
    default:
      return FALSE;
  }
}

void
ct_play_to_end (GstElement *pipeline, CtBusLog *log)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  gint64 deadline = g_get_monotonic_time () + CT_TIMEOUT_US;
  gboolean done = FALSE;

  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  while (!done) {
    gint64 left = deadline - g_get_monotonic_time ();
    GstMessage *msg;

    if (left <= 0)
      break;
    msg = gst_bus_timed_pop (bus, left * GST_USECOND);
    if (!msg)
      break;
    done = ct_bus_log_add (log, msg);
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
}

void
ct_run_launch (const gchar *description, CtBusLog *log)
{
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (description, &err);

  fail_unless (pipeline != NULL, "cannot parse '%s': %s", description,
      err ? err->message : "?");
  fail_if (err != NULL, "'%s': %s", description, err ? err->message : "");
  ct_play_to_end (pipeline, log);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  if (log->error) {
    gchar *text = cs_test_message_text (log->error);

    fail ("pipeline '%s' failed: %s", description, text);
    g_free (text);
  }
  fail_unless (log->eos, "pipeline '%s' did not reach EOS", description);
}

void
ct_read_cover (const gchar *dir, guint32 client_id, CtCover *cover)
{
  GError *err = NULL;
  CoverStoreReader *reader;
  const guint8 *data;
  gsize size;
  guint w = 0, h = 0;

  memset (cover, 0, sizeof (*cover));
  reader = cover_store_reader_open (dir, client_id, &err);
  fail_unless (reader != NULL, "no segment for client %u in %s: %s", client_id,
      dir, err ? err->message : "?");
  cover->jpeg =
      cover_store_reader_read (reader, CT_LIVE_TIMEOUT_US, &cover->info, &err);
  fail_unless (cover->jpeg != NULL, "no cover for client %u: %s", client_id,
      err ? err->message : "?");
  cover_store_reader_free (reader);

  data = g_bytes_get_data (cover->jpeg, &size);
  if (g_getenv ("CT_DUMP_COVER"))
    g_file_set_contents (
        g_getenv ("CT_DUMP_COVER"), (const gchar *) data, size, NULL);
  fail_unless_equals_uint64 (size, cover->info.size);
  fail_unless (size > 4 && data[0] == 0xff && data[1] == 0xd8,
      "cover does not start with a JPEG SOI marker");
  fail_unless (data[size - 2] == 0xff && data[size - 1] == 0xd9,
      "cover does not end with a JPEG EOI marker");
  fail_unless (cover_jpeg_get_size (data, size, &w, &h, &err),
      "cover header unreadable: %s", err ? err->message : "?");
  cover->rgb =
      cover_jpeg_decode_rgb (data, size, &cover->width, &cover->height, &err);
  fail_unless (cover->rgb != NULL, "cover does not decode: %s",
      err ? err->message : "?");
  fail_unless_equals_int (cover->width, w);
  fail_unless_equals_int (cover->height, h);
  fail_unless_equals_int (cover->info.width, w);
  fail_unless_equals_int (cover->info.height, h);
  fail_unless_equals_int (cover->info.client_id, client_id);
}

void
ct_cover_clear (CtCover *cover)
{
  g_clear_pointer (&cover->jpeg, g_bytes_unref);
  g_clear_pointer (&cover->rgb, g_free);
}

void
ct_cover_mean (const CtCover *cover, gdouble fx0, gdouble fy0, gdouble fx1,
    gdouble fy1, gdouble mean[3])
{
  guint x0 = fx0 * cover->width, x1 = fx1 * cover->width;
  guint y0 = fy0 * cover->height, y1 = fy1 * cover->height;

  fail_unless (x1 > x0 && y1 > y0 && x1 <= cover->width && y1 <= cover->height);
  cs_test_rgb_mean (cover->rgb, cover->width, x0, y0, x1, y1, mean);
}

void
ct_assert_region_colour (const CtCover *cover, gdouble fx0, gdouble fy0,
    gdouble fx1, gdouble fy1, const guint8 rgb[3], gdouble tol,
    const gchar *what)
{
  gdouble mean[3];
  guint c;

  ct_cover_mean (cover, fx0, fy0, fx1, fy1, mean);
  GST_INFO ("%s: mean (%.1f, %.1f, %.1f), want (%u, %u, %u) +- %.0f", what,
      mean[0], mean[1], mean[2], rgb[0], rgb[1], rgb[2], tol);
  for (c = 0; c < 3; c++)
    fail_unless (fabs (mean[c] - rgb[c]) <= tol,
        "%s: mean colour (%.1f, %.1f, %.1f), expected (%u, %u, %u) +- %.0f",
        what, mean[0], mean[1], mean[2], rgb[0], rgb[1], rgb[2], tol);
}

typedef struct
{
  GstElement *tap;
  guint64 published, failed, p;
} WaitCover;

static gboolean
cover_came (gpointer data)
{
  WaitCover *w = data;
  guint64 f = 0;

  g_object_get (
      w->tap, "covers-published", &w->p, "keyframes-failed", &f, NULL);
  return w->p >= w->published || f > w->failed;
}

guint64
ct_wait_cover (
    GstElement *tap, guint64 published, guint64 failed, gint64 timeout_us)
{
  WaitCover w = { tap, published, failed, 0 };

  cs_test_poll (cover_came, &w, timeout_us, 5000);
  return w.p;
}

void
ct_paint_bands (
    guint8 *rgb, guint width, guint height, const guint8 (*colours)[3], guint n)
{
  guint x, y;

  for (y = 0; y < height; y++) {
    const guint8 *c = colours[MIN (y * n / height, n - 1)];
    guint8 *row = rgb + (gsize) y * width * 3;

    for (x = 0; x < width; x++)
      memcpy (row + x * 3, c, 3);
  }
}

void
ct_push_raw_frames (GstElement *appsrc, guint n, guint width, guint height,
    CtPaintFunc paint, gpointer user_data)
{
  ct_push_raw_frames_par (appsrc, n, width, height, 1, 1, paint, user_data);
}

void
ct_push_raw_frames_par (GstElement *appsrc, guint n, guint width, guint height,
    gint par_n, gint par_d, CtPaintFunc paint, gpointer user_data)
{
  GstCaps *caps = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING,
      "RGB", "width", G_TYPE_INT, width, "height", G_TYPE_INT, height,
      "framerate", GST_TYPE_FRACTION, 30, 1, "pixel-aspect-ratio",
      GST_TYPE_FRACTION, par_n, par_d, NULL);
  guint i;

  g_object_set (appsrc, "caps", caps, "format", GST_FORMAT_TIME, "block", FALSE,
      "max-bytes", (guint64) 0, NULL);
  gst_caps_unref (caps);
  for (i = 0; i < n; i++) {
    /* RGB rows of an even width need no padding to 4 bytes only when
     * width * 3 is a multiple of 4: keep the widths used here so */
    GstBuffer *buf = gst_buffer_new_allocate (NULL, width * height * 3, NULL);
    GstMapInfo map;

    fail_unless ((width * 3) % 4 == 0);
    gst_buffer_map (buf, &map, GST_MAP_WRITE);
    paint (i, map.data, width, height, user_data);
    gst_buffer_unmap (buf, &map);
    GST_BUFFER_PTS (buf) = gst_util_uint64_scale (i, GST_SECOND, 30);
    GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
    fail_unless_equals_int (
        gst_app_src_push_buffer (GST_APP_SRC (appsrc), buf), GST_FLOW_OK);
  }
  fail_unless_equals_int (
      gst_app_src_end_of_stream (GST_APP_SRC (appsrc)), GST_FLOW_OK);
}

void
ct_walk_annexb (
    const guint8 *data, gsize size, CtNalFunc func, gpointer user_data)
{
  gsize i = 0, start = 0;
  gboolean in_nal = FALSE;

  while (i + 3 <= size) {
    if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1) {
      if (in_nal) {
        gsize end = i;

        /* a zero before 00 00 01 belongs to a 4-byte start code */
        while (end > start && data[end - 1] == 0)
          end--;
        func (data, start, end - start, user_data);
      }
      i += 3;
      start = i;
      in_nal = TRUE;
    } else {
      i++;
    }
  }
  if (in_nal && start < size)
    func (data, start, size - start, user_data);
}

guint
ct_h264_nal_type (const guint8 *nal)
{
  return nal[0] & 0x1f;
}

guint
ct_h265_nal_type (const guint8 *nal)
{
  return (nal[0] >> 1) & 0x3f;
}
