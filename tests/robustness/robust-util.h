/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Shared helpers of the robustness tests: real encoded input made with
 * x264enc / x265enc / videotestsrc, temporary cover stores, the element's
 * counters, and covers read back with the core reader and decoded. */

#ifndef __ROBUST_UTIL_H__
#define __ROBUST_UTIL_H__

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "coverstore.h"
#include "cs-test-gst.h"
#include "cs-test-image.h"
#include "cs-test-util.h"

G_BEGIN_DECLS

/* opaque ARGB, as videotestsrc's foreground-color wants it */
#define ARGB(r, g, b)                                                          \
  (0xff000000u | ((guint32) (r) << 16) | ((guint32) (g) << 8) | (guint32) (b))

/* how far a decoded solid colour may drift through YUV 4:2:0, the codec
 * and JPEG, per RGB channel */
#define COLOUR_TOLERANCE 24

/* how long any wait for a worker may take before the test fails: bounded,
 * and generous because two cores run many tests at once */
#define WAIT_TIMEOUT_US (20 * G_USEC_PER_SEC)

typedef struct
{
  GstCaps *caps;  /* of the last sample */
  GPtrArray *aus; /* GstBuffer *, one access unit (or raw frame) each */
} EncodedStream;

typedef enum
{
  MEDIA_H264,
  MEDIA_H265,
  MEDIA_RAW,
} MediaKind;

/* Runs "videotestsrc pattern=solid-color ... ! encoder ! parser ! appsink"
 * and keeps every sample.  @key_int: frames between keyframes (1 = all). */
EncodedStream *encoded_stream_new (MediaKind kind, guint width, guint height,
    guint32 argb, guint n_frames, guint key_int);
/* The same with any videotestsrc properties, e.g. "pattern=snow": picture
 * content that makes real slice data. */
EncodedStream *encoded_stream_new_pattern (MediaKind kind, guint width,
    guint height, const gchar *pattern, guint n_frames, guint key_int);
void encoded_stream_free (EncodedStream *s);
GstBuffer *encoded_stream_get (EncodedStream *s, guint i);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EncodedStream, encoded_stream_free);

gchar *store_dir_new (void);
void store_dir_remove (gchar *dir);

/* A covertap with client-id, store-dir and min-interval set, ready to be
 * put in a harness or a pipeline. */
GstElement *tap_new (
    guint32 client_id, const gchar *dir, GstClockTime min_interval);
/* A harness around tap_new() with @caps set (may be NULL) and a bus on the
 * element so that its messages can be checked. */
GstHarness *tap_harness_new (guint32 client_id, const gchar *dir,
    GstClockTime min_interval, GstCaps *caps, GstBus **bus);

guint64 tap_get (GstElement *tap, const gchar *counter);
/* Waits until covers-published + keyframes-failed reaches @n. */
gboolean tap_wait_handled (GstElement *tap, guint64 n, gint64 timeout_us);

/* A keyframe (or delta unit) of @s, with fresh timestamps. */
GstBuffer *au_copy (GstBuffer *au, GstClockTime pts);

/* Reads the cover with the core reader; NULL and @error on failure. */
GBytes *cover_read (
    const gchar *dir, guint32 client_id, CoverInfo *info, GError **error);
/* Decodes @jpeg and checks it is @width x @height of one solid colour
 * near @argb. */
void assert_cover_colour (
    GBytes *jpeg, guint width, guint height, guint32 argb);
/* Mean colour of a decoded JPEG (tests/common). */
#define jpeg_mean_rgb cs_test_image_mean

/* Pops every pending message of @bus and counts those of @type. */
guint bus_count (GstBus *bus, GstMessageType type);

G_END_DECLS

#endif /* __ROBUST_UTIL_H__ */
