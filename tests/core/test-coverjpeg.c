/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The JPEG helpers: output size, encoding from every kind of frame a
 * decoder hands over (with limited → full range expansion), padded strides,
 * and the header/decoder helpers on bad input.  Decoded pictures are
 * checked with TurboJPEG directly, not through the helpers under test. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include <turbojpeg.h>

#include <gst/gst.h>
#include <gst/video/video.h>

#include "coverjpeg-frame.h"
#include "cs-test-image.h"

/* cover_fit_size */

typedef struct
{
  guint w, h;
  gint par_n, par_d;
  guint max_w, max_h;
  guint out_w, out_h;
} FitCase;

static const FitCase fit_cases[] = {
  /* no limits: unchanged */
  { 1920, 1080, 1, 1, 0, 0, 1920, 1080 },
  { 1, 1, 1, 1, 0, 0, 1, 1 },
  /* never upscaled */
  { 640, 360, 1, 1, 1280, 720, 640, 360 },
  { 640, 360, 1, 1, 640, 360, 640, 360 },
  { 320, 240, 1, 1, 0, 10000, 320, 240 },
  /* aspect ratio kept, whichever limit binds */
  { 1920, 1080, 1, 1, 640, 360, 640, 360 },
  { 1920, 1080, 1, 1, 640, 0, 640, 360 },
  { 1920, 1080, 1, 1, 0, 360, 640, 360 },
  { 1920, 1080, 1, 1, 640, 640, 640, 360 },
  { 1080, 1920, 1, 1, 640, 640, 360, 640 },
  { 1280, 720, 1, 1, 1000, 1000, 1000, 563 },
  { 1000, 333, 1, 1, 500, 0, 500, 167 },
  { 4000, 3000, 1, 1, 1920, 1080, 1440, 1080 },
  /* non-square pixels become square */
  { 720, 576, 16, 15, 0, 0, 768, 576 },
  { 720, 576, 16, 15, 384, 0, 384, 288 },
  { 1440, 1080, 4, 3, 0, 0, 1920, 1080 },
  { 1440, 1080, 4, 3, 960, 960, 960, 540 },
  { 720, 480, 8, 9, 0, 0, 640, 480 },
  /* an unknown or degenerate PAR counts as square */
  { 640, 480, 0, 1, 0, 0, 640, 480 },
  { 640, 480, 1, 0, 0, 0, 640, 480 },
  { 640, 480, 3, 3, 0, 0, 640, 480 },
  /* never below one pixel */
  { 10000, 1, 1, 1, 100, 100, 100, 1 },
  { 1, 10000, 1, 1, 100, 100, 1, 100 },
  { 5000, 2, 1, 1, 10, 0, 10, 1 },
  { 2, 2, 1, 1, 1, 1, 1, 1 },
};

static void
test_fit_size (void)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (fit_cases); i++) {
    const FitCase *c = &fit_cases[i];
    guint w = 0xdead, h = 0xbeef;

    cover_fit_size (c->w, c->h, c->par_n, c->par_d, c->max_w, c->max_h, &w, &h);
    g_test_message ("%ux%u par %d/%d max %ux%u -> %ux%u", c->w, c->h, c->par_n,
        c->par_d, c->max_w, c->max_h, w, h);
    g_assert_cmpuint (w, ==, c->out_w);
    g_assert_cmpuint (h, ==, c->out_h);
    if (c->max_w)
      g_assert_cmpuint (w, <=, c->max_w);
    if (c->max_h)
      g_assert_cmpuint (h, <=, c->max_h);
  }
}

/* Frames */

typedef struct
{
  guint8 y, u, v; /* for YUV formats, in the frame's range */
  guint8 r, g, b; /* for RGB formats */
  guint8 grey;    /* for GRAY8 */
} Colour;

static void
fill_comp (GstVideoFrame *frame, guint comp, guint16 value)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  guint bits = GST_VIDEO_FORMAT_INFO_DEPTH (finfo, comp);
  guint pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, comp);
  gint w = GST_VIDEO_FRAME_COMP_WIDTH (frame, comp);
  gint h = GST_VIDEO_FRAME_COMP_HEIGHT (frame, comp);
  gint x, y;

  for (y = 0; y < h; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_COMP_DATA (frame, comp) +
        (gsize) y * GST_VIDEO_FRAME_COMP_STRIDE (frame, comp);

    for (x = 0; x < w; x++) {
      if (bits > 8)
        GST_WRITE_UINT16_LE (row + x * pstride, value);
      else
        row[x * pstride] = value;
    }
  }
}

/* Fills the visible area only: padding keeps whatever the buffer had. */
static void
fill_frame (GstVideoFrame *frame, const Colour *c)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  GstVideoFormat format = GST_VIDEO_FRAME_FORMAT (frame);

  if (GST_VIDEO_FORMAT_INFO_IS_YUV (finfo)) {
    guint shift = GST_VIDEO_FORMAT_INFO_DEPTH (finfo, 0) - 8;

    fill_comp (frame, GST_VIDEO_COMP_Y, c->y << shift);
    fill_comp (frame, GST_VIDEO_COMP_U, c->u << shift);
    fill_comp (frame, GST_VIDEO_COMP_V, c->v << shift);
  } else if (format == GST_VIDEO_FORMAT_GRAY8) {
    fill_comp (frame, 0, c->grey);
  } else {
    fill_comp (frame, GST_VIDEO_COMP_R, c->r);
    fill_comp (frame, GST_VIDEO_COMP_G, c->g);
    fill_comp (frame, GST_VIDEO_COMP_B, c->b);
    if (GST_VIDEO_FORMAT_INFO_N_COMPONENTS (finfo) > 3)
      fill_comp (frame, GST_VIDEO_COMP_A, 0x5a);
  }
}

/* What a viewer should see: BT.601 with the frame's range. */
static void
expected_rgb (
    GstVideoFormat format, gboolean limited, const Colour *c, gdouble rgb[3])
{
  const GstVideoFormatInfo *finfo = gst_video_format_get_info (format);

  if (GST_VIDEO_FORMAT_INFO_IS_YUV (finfo)) {
    gdouble y = c->y, u = c->u - 128.0, v = c->v - 128.0;

    if (limited) {
      y = (y - 16) * 255.0 / 219.0;
      u = u * 255.0 / 224.0;
      v = v * 255.0 / 224.0;
    }
    rgb[0] = y + 1.402 * v;
    rgb[1] = y - 0.344136 * u - 0.714136 * v;
    rgb[2] = y + 1.772 * u;
  } else if (format == GST_VIDEO_FORMAT_GRAY8) {
    rgb[0] = rgb[1] = rgb[2] = c->grey;
  } else {
    rgb[0] = c->r;
    rgb[1] = c->g;
    rgb[2] = c->b;
  }
}

static guint8 *
tj_decode (const guint8 *jpeg, gsize size, int *w, int *h)
{
  guint uw = 0, uh = 0;
  guint8 *rgb = cs_test_image_decode (jpeg, size, &uw, &uh);

  *w = uw;
  *h = uh;
  return rgb;
}

/* The largest difference between a channel of the @w x @h RGB picture and
 * @expect (clamped to 0..255). */
static gdouble
worst_deviation (const guint8 *rgb, int w, int h, const gdouble expect[3])
{
  gdouble worst = 0;
  gsize i;
  guint c;

  for (i = 0; i < (gsize) w * h; i++)
    for (c = 0; c < 3; c++)
      worst = MAX (worst, fabs (rgb[i * 3 + c] - CLAMP (expect[c], 0, 255)));
  return worst;
}

/* Every pixel of the decoded JPEG is within @tol of @expect. */
static void
assert_jpeg_solid (const guint8 *jpeg, gsize size, guint width, guint height,
    const gdouble expect[3], gdouble tol)
{
  g_autofree guint8 *rgb = NULL;
  gdouble worst = 0;
  int w, h;
  gsize i;

  g_assert_cmpuint (size, >, 2);
  g_assert_cmpuint (jpeg[0], ==, 0xff);
  g_assert_cmpuint (jpeg[1], ==, 0xd8);
  rgb = tj_decode (jpeg, size, &w, &h);
  g_assert_cmpint (w, ==, width);
  g_assert_cmpint (h, ==, height);
  for (i = 0; i < (gsize) w * h; i++) {
    guint c;

    for (c = 0; c < 3; c++) {
      gdouble e = CLAMP (expect[c], 0, 255);
      gdouble d = fabs (rgb[i * 3 + c] - e);

      if (d > worst)
        worst = d;
      if (d > tol)
        g_error ("pixel %" G_GSIZE_FORMAT " (%d,%d) channel %u is %u, "
                 "expected %.1f",
            i, (int) (i % w), (int) (i / w), c, rgb[i * 3 + c], e);
    }
  }
  g_test_message ("  worst deviation %.1f", worst);
}

static GstBuffer *
new_frame (GstVideoInfo *info, GstVideoFormat format, guint w, guint h,
    const GstVideoAlignment *align, GstVideoFrame *frame)
{
  GstBuffer *buf;
  GstMapInfo map;

  gst_video_info_set_format (info, format, w, h);
  if (align) {
    /* gst_video_info_align() may widen the padding it is given */
    GstVideoAlignment a = *align;

    g_assert_true (gst_video_info_align (info, &a));
  }
  buf = gst_buffer_new_allocate (NULL, info->size, NULL);
  /* what lies outside the picture must not get into the JPEG */
  g_assert_true (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  memset (map.data, 0, map.size);
  gst_buffer_unmap (buf, &map);
  g_assert_true (gst_video_frame_map (frame, info, buf, GST_MAP_READWRITE));
  return buf;
}

static void
encode_and_check (CoverEncoder *enc, GstVideoFormat format, guint w, guint h,
    gint par_n, gint par_d, gboolean full_range, const GstVideoAlignment *align,
    const Colour *colour, guint max_w, guint max_h, gdouble tol)
{
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buf;
  const guint8 *jpeg = NULL;
  gsize jpeg_size = 0;
  guint out_w = 0, out_h = 0, fit_w, fit_h;
  GError *err = NULL;
  gdouble expect[3];
  gboolean limited;

  buf = new_frame (&info, format, w, h, align, &frame);
  if (full_range)
    frame.info.colorimetry.range = GST_VIDEO_COLOR_RANGE_0_255;
  GST_VIDEO_INFO_PAR_N (&frame.info) = par_n;
  GST_VIDEO_INFO_PAR_D (&frame.info) = par_d;
  fill_frame (&frame, colour);
  limited = GST_VIDEO_INFO_IS_YUV (&frame.info) &&
      frame.info.colorimetry.range != GST_VIDEO_COLOR_RANGE_0_255;

  g_test_message ("%s %ux%u par %d/%d %s range, max %ux%u%s",
      gst_video_format_to_string (format), w, h, par_n, par_d,
      limited ? "limited" : "full", max_w, max_h, align ? ", padded" : "");
  g_assert_true (cover_encoder_encode (
      enc, &frame, 92, max_w, max_h, &jpeg, &jpeg_size, &out_w, &out_h, &err));
  g_assert_no_error (err);
  g_assert_nonnull (jpeg);

  cover_fit_size (w, h, par_n, par_d, max_w, max_h, &fit_w, &fit_h);
  g_assert_cmpuint (out_w, ==, fit_w);
  g_assert_cmpuint (out_h, ==, fit_h);

  expected_rgb (format, limited, colour, expect);
  assert_jpeg_solid (jpeg, jpeg_size, out_w, out_h, expect, tol);

  gst_video_frame_unmap (&frame);
  gst_buffer_unref (buf);
}

/* Limited range, BT.601: white, and a dark blue that nothing saturates
 * and where skipping the range expansion is off by 9..14 per channel. */
static const Colour white = { 235, 128, 128, 255, 255, 255, 255 };
static const Colour blue = { 60, 200, 100, 20, 70, 190, 90 };

static const GstVideoFormat formats[] = {
  GST_VIDEO_FORMAT_I420,
  GST_VIDEO_FORMAT_YV12,
  GST_VIDEO_FORMAT_Y42B,
  GST_VIDEO_FORMAT_Y444,
  GST_VIDEO_FORMAT_GRAY8,
  GST_VIDEO_FORMAT_NV12,
  GST_VIDEO_FORMAT_NV21,
  GST_VIDEO_FORMAT_YUY2,
  GST_VIDEO_FORMAT_RGB,
  GST_VIDEO_FORMAT_BGR,
  GST_VIDEO_FORMAT_BGRx,
  GST_VIDEO_FORMAT_RGBA,
  GST_VIDEO_FORMAT_I420_10LE,
};

static void
test_encode_formats (void)
{
  g_autoptr (CoverEncoder) enc = cover_encoder_new ();
  guint i;

  g_assert_nonnull (enc);
  /* one encoder through all formats: its cached converter and scratch
   * frames must follow each change */
  for (i = 0; i < G_N_ELEMENTS (formats); i++) {
    encode_and_check (
        enc, formats[i], 320, 240, 1, 1, FALSE, NULL, &white, 0, 0, 4);
    encode_and_check (
        enc, formats[i], 320, 240, 1, 1, FALSE, NULL, &blue, 0, 0, 4);
  }
}

static void
test_encode_limited_white_is_white (void)
{
  g_autoptr (CoverEncoder) enc = cover_encoder_new ();
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buf;
  const guint8 *jpeg;
  gsize size;
  guint w, h;
  g_autofree guint8 *rgb = NULL;
  int dw, dh;

  /* the washed-out cover bug, spelt out: Y=235 must come out as 255 */
  buf = new_frame (&info, GST_VIDEO_FORMAT_I420, 64, 48, NULL, &frame);
  fill_frame (&frame, &white);
  g_assert_true (
      cover_encoder_encode (enc, &frame, 95, 0, 0, &jpeg, &size, &w, &h, NULL));
  rgb = tj_decode (jpeg, size, &dw, &dh);
  g_assert_cmpuint (rgb[0], >=, 253);
  g_assert_cmpuint (rgb[1], >=, 253);
  g_assert_cmpuint (rgb[2], >=, 253);
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (buf);

  /* and Y=16 as 0 */
  {
    const Colour black = { 16, 128, 128, 0, 0, 0, 0 };
    g_autofree guint8 *rgb2 = NULL;

    buf = new_frame (&info, GST_VIDEO_FORMAT_NV12, 64, 48, NULL, &frame);
    fill_frame (&frame, &black);
    g_assert_true (cover_encoder_encode (
        enc, &frame, 95, 0, 0, &jpeg, &size, &w, &h, NULL));
    rgb2 = tj_decode (jpeg, size, &dw, &dh);
    g_assert_cmpuint (rgb2[0], <=, 2);
    g_assert_cmpuint (rgb2[1], <=, 2);
    g_assert_cmpuint (rgb2[2], <=, 2);
    gst_video_frame_unmap (&frame);
    gst_buffer_unref (buf);
  }
}

static void
test_encode_full_range (void)
{
  g_autoptr (CoverEncoder) enc = cover_encoder_new ();

  /* full-range YUV (JPEG-style) is taken as it is, not expanded again */
  encode_and_check (
      enc, GST_VIDEO_FORMAT_I420, 160, 120, 1, 1, TRUE, NULL, &white, 0, 0, 4);
  encode_and_check (
      enc, GST_VIDEO_FORMAT_I420, 160, 120, 1, 1, TRUE, NULL, &blue, 0, 0, 4);
  encode_and_check (
      enc, GST_VIDEO_FORMAT_NV12, 160, 120, 1, 1, TRUE, NULL, &blue, 0, 0, 4);
  encode_and_check (
      enc, GST_VIDEO_FORMAT_Y444, 160, 120, 1, 1, TRUE, NULL, &blue, 0, 0, 4);
}

static void
test_encode_scaled (void)
{
  g_autoptr (CoverEncoder) enc = cover_encoder_new ();
  guint i;

  /* alternate formats and sizes so the cached converter is rebuilt */
  for (i = 0; i < 2; i++) {
    encode_and_check (enc, GST_VIDEO_FORMAT_I420, 640, 360, 1, 1, FALSE, NULL,
        &blue, 320, 0, 5);
    encode_and_check (enc, GST_VIDEO_FORMAT_NV12, 640, 360, 1, 1, FALSE, NULL,
        &white, 0, 180, 5);
    encode_and_check (enc, GST_VIDEO_FORMAT_I420_10LE, 640, 480, 1, 1, FALSE,
        NULL, &blue, 200, 200, 5);
    encode_and_check (enc, GST_VIDEO_FORMAT_BGRx, 640, 480, 1, 1, FALSE, NULL,
        &blue, 160, 0, 5);
    encode_and_check (enc, GST_VIDEO_FORMAT_GRAY8, 640, 480, 1, 1, FALSE, NULL,
        &blue, 100, 100, 5);
  }
  /* anamorphic: 720x576 at 16:15 is shown 768x576 */
  encode_and_check (enc, GST_VIDEO_FORMAT_I420, 720, 576, 16, 15, FALSE, NULL,
      &blue, 0, 0, 5);
  encode_and_check (enc, GST_VIDEO_FORMAT_I420, 720, 576, 16, 15, FALSE, NULL,
      &blue, 384, 0, 5);
  /* tiny */
  encode_and_check (
      enc, GST_VIDEO_FORMAT_Y444, 1, 1, 1, 1, FALSE, NULL, &blue, 0, 0, 5);
  encode_and_check (
      enc, GST_VIDEO_FORMAT_I420, 2, 2, 1, 1, FALSE, NULL, &white, 0, 0, 5);
  encode_and_check (
      enc, GST_VIDEO_FORMAT_I420, 64, 64, 1, 1, FALSE, NULL, &blue, 2, 2, 5);
}

static void
test_encode_padded (void)
{
  g_autoptr (CoverEncoder) enc = cover_encoder_new ();
  GstVideoAlignment align;
  static const GstVideoFormat padded_formats[] = { GST_VIDEO_FORMAT_I420,
    GST_VIDEO_FORMAT_Y444, GST_VIDEO_FORMAT_GRAY8, GST_VIDEO_FORMAT_NV12,
    GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_I420_10LE };
  guint i, c;

  /* a decoder's buffer: rows padded to 64 bytes plus some, extra rows at
   * the bottom and columns at the left; the padding is zero (black/green),
   * so any stride mix-up shows in the picture */
  gst_video_alignment_reset (&align);
  align.padding_top = 2;
  align.padding_left = 16;
  align.padding_right = 38;
  align.padding_bottom = 14;
  for (c = 0; c < GST_VIDEO_MAX_PLANES; c++)
    align.stride_align[c] = 63;

  for (i = 0; i < G_N_ELEMENTS (padded_formats); i++) {
    GstVideoAlignment a = align;
    GstVideoInfo check;

    gst_video_info_set_format (&check, padded_formats[i], 316, 180);
    g_assert_true (gst_video_info_align (&check, &a));
    g_assert_cmpint (GST_VIDEO_INFO_PLANE_STRIDE (&check, 0), >,
        316 * GST_VIDEO_INFO_COMP_PSTRIDE (&check, 0));
    g_assert_cmpint (GST_VIDEO_INFO_PLANE_STRIDE (&check, 0) % 64, ==, 0);

    encode_and_check (
        enc, padded_formats[i], 316, 180, 1, 1, FALSE, &align, &blue, 0, 0, 4);
    encode_and_check (enc, padded_formats[i], 316, 180, 1, 1, FALSE, &align,
        &white, 158, 0, 5);
    encode_and_check (
        enc, padded_formats[i], 316, 180, 1, 1, FALSE, &align, &blue, 0, 90, 5);
  }
}

/* Subsampled JPEG planes have an even width (4:2:0, 4:2:2) and height
 * (4:2:0): for an odd-sized picture TurboJPEG's tjCompressFromYUVPlanes()
 * reads one column / row past the visible picture (it pads to the
 * subsampling factor, not by replicating the edge).  Whatever lies there --
 * a decoder's stride padding, a reused scratch frame's stale pixels --
 * bleeds into the last block of the cover.  Here that is zero (black)
 * next to white. */
static void
check_odd_edges (CoverEncoder *enc, GstVideoFormat format, guint w, guint h,
    gboolean full_range, const Colour *colour, GString *failures)
{
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buf;
  const guint8 *jpeg;
  gsize size;
  guint ow, oh;
  gdouble expect[3], worst;
  g_autofree guint8 *rgb = NULL;
  int dw, dh;

  buf = new_frame (&info, format, w, h, NULL, &frame);
  if (full_range)
    frame.info.colorimetry.range = GST_VIDEO_COLOR_RANGE_0_255;
  fill_frame (&frame, colour);
  g_assert_true (cover_encoder_encode (
      enc, &frame, 50, 0, 0, &jpeg, &size, &ow, &oh, NULL));
  /* subsampled planes are cropped to even sizes rather than let TurboJPEG
   * read past the picture */
  g_assert_cmpuint (
      ow, ==, format == GST_VIDEO_FORMAT_Y444 || w == 1 ? w : (w & ~1u));
  g_assert_cmpuint (
      oh, ==, format != GST_VIDEO_FORMAT_I420 || h == 1 ? h : (h & ~1u));
  rgb = tj_decode (jpeg, size, &dw, &dh);
  g_assert_cmpint (dw, ==, ow);
  g_assert_cmpint (dh, ==, oh);
  expected_rgb (format,
      GST_VIDEO_INFO_IS_YUV (&frame.info) &&
          frame.info.colorimetry.range != GST_VIDEO_COLOR_RANGE_0_255,
      colour, expect);
  worst = worst_deviation (rgb, dw, dh, expect);
  g_test_message ("%s %ux%u %s: worst deviation %.1f",
      gst_video_format_to_string (format), w, h,
      full_range ? "full" : "limited", worst);
  if (worst > 2)
    g_string_append_printf (failures, " %s %ux%u (off by %.0f);",
        gst_video_format_to_string (format), w, h, worst);
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (buf);
}

static void
test_encode_odd_size_edges (void)
{
  g_autoptr (CoverEncoder) enc = cover_encoder_new ();
  g_autoptr (GString) failures = g_string_new (NULL);
  const Colour full_white = { 255, 128, 128, 255, 255, 255, 255 };
  const Colour black = { 16, 128, 128, 0, 0, 0, 0 };

  /* straight from the frame: the stride padding is read */
  check_odd_edges (
      enc, GST_VIDEO_FORMAT_I420, 159, 120, TRUE, &full_white, failures);
  check_odd_edges (
      enc, GST_VIDEO_FORMAT_I420, 160, 119, TRUE, &full_white, failures);
  check_odd_edges (
      enc, GST_VIDEO_FORMAT_Y42B, 159, 120, TRUE, &full_white, failures);
  /* through the range expansion: the scratch frame of a previous, larger
   * black picture is reused and its stale column/row are read */
  check_odd_edges (
      enc, GST_VIDEO_FORMAT_I420, 162, 122, FALSE, &black, failures);
  check_odd_edges (
      enc, GST_VIDEO_FORMAT_I420, 161, 121, FALSE, &white, failures);
  /* unaffected: full-resolution chroma */
  check_odd_edges (
      enc, GST_VIDEO_FORMAT_Y444, 159, 119, TRUE, &full_white, failures);

  if (failures->len)
    g_test_fail_printf ("picture outside the visible area leaks into the "
                        "cover's edge:%s",
        failures->str);
}

/* A flat picture must stay flat when scaled down.  GstVideoConverter's
 * default resampler (cubic) is not normalised at some ratios -- 3:1, as
 * from 1080p to 640x360 -- and brightens flat areas by up to ~3% in a
 * periodic pattern; linear or sinc resampling keep them exact. */
static void
test_encode_scaled_flat_stays_flat (void)
{
  g_autoptr (CoverEncoder) enc = cover_encoder_new ();
  g_autoptr (GString) failures = g_string_new (NULL);
  const Colour grey = { 126, 128, 128, 128, 128, 128, 128 };
  static const struct
  {
    guint w, h, max_w, max_h;
  } sizes[] = { { 640, 360, 320, 0 }, { 960, 540, 320, 0 },
    { 1920, 1080, 640, 360 }, { 1280, 720, 640, 360 } };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (sizes); i++) {
    GstVideoInfo info;
    GstVideoFrame frame;
    GstBuffer *buf;
    const guint8 *jpeg;
    gsize size;
    guint ow, oh;
    gdouble expect[3], worst;
    g_autofree guint8 *rgb = NULL;
    int dw, dh;

    buf = new_frame (
        &info, GST_VIDEO_FORMAT_I420, sizes[i].w, sizes[i].h, NULL, &frame);
    fill_frame (&frame, &grey);
    g_assert_true (cover_encoder_encode (enc, &frame, 90, sizes[i].max_w,
        sizes[i].max_h, &jpeg, &size, &ow, &oh, NULL));
    rgb = tj_decode (jpeg, size, &dw, &dh);
    expected_rgb (GST_VIDEO_FORMAT_I420, TRUE, &grey, expect);
    worst = worst_deviation (rgb, dw, dh, expect);
    g_test_message ("%ux%u -> %ux%u: worst deviation %.1f", sizes[i].w,
        sizes[i].h, ow, oh, worst);
    /* HD sizes are BT.709: the 8-bit matrix pass to BT.601 rounds by up to
     * 2.1; cubic resampling was off by 8 */
    if (worst > 3)
      g_string_append_printf (failures, " %ux%u -> %ux%u (off by %.0f);",
          sizes[i].w, sizes[i].h, ow, oh, worst);
    gst_video_frame_unmap (&frame);
    gst_buffer_unref (buf);
  }
  if (failures->len)
    g_test_fail_printf (
        "a flat grey is not flat after scaling:%s", failures->str);
}

/* BT.709, as HD H.264 decodes to, limited or full range: R'G'B' → Y'CbCr. */
static Colour
bt709_colour (guint8 r, guint8 g, guint8 b, gboolean limited)
{
  gdouble y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  gdouble ys = limited ? 219 / 255.0 : 1, cs = limited ? 224 / 255.0 : 1;
  Colour c = { 0, 0, 0, r, g, b, 0 };

  c.y = (limited ? 16 : 0) + y * ys + 0.5;
  c.u = 128 + (b - y) / 1.8556 * cs + 0.5;
  c.v = 128 + (r - y) / 1.5748 * cs + 0.5;
  return c;
}

/* Colours nothing saturates, where reading BT.709 as BT.601 (dropping the
 * matrix change) is off by 14..20 in some channel, and dropping the range
 * expansion by 9 or more. */
static const guint8 bt709_rgb[][3] = {
  { 200, 40, 40 },
  { 40, 180, 60 },
  { 50, 60, 200 },
  { 180, 120, 40 },
  { 128, 128, 128 },
};

static void
check_bt709 (CoverEncoder *enc, GstVideoFormat format, guint w, guint h,
    gboolean limited, guint max_w, guint max_h, GString *failures)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bt709_rgb); i++) {
    const guint8 *want = bt709_rgb[i];
    Colour colour = bt709_colour (want[0], want[1], want[2], limited);
    GstVideoInfo info;
    GstVideoFrame frame;
    GstBuffer *buf;
    const guint8 *jpeg;
    const gdouble expect[3] = { want[0], want[1], want[2] };
    gsize size;
    guint ow, oh;
    gdouble worst;
    g_autofree guint8 *rgb = NULL;
    int dw, dh;

    buf = new_frame (&info, format, w, h, NULL, &frame);
    g_assert_true (gst_video_colorimetry_from_string (
        &frame.info.colorimetry, GST_VIDEO_COLORIMETRY_BT709));
    if (!limited)
      frame.info.colorimetry.range = GST_VIDEO_COLOR_RANGE_0_255;
    fill_frame (&frame, &colour);
    g_assert_true (cover_encoder_encode (
        enc, &frame, 92, max_w, max_h, &jpeg, &size, &ow, &oh, NULL));
    rgb = tj_decode (jpeg, size, &dw, &dh);
    worst = worst_deviation (rgb, dw, dh, expect);
    g_test_message ("%s %ux%u -> %ux%u BT.709 %s (%u, %u, %u): YUV %u %u %u, "
                    "worst deviation %.1f",
        gst_video_format_to_string (format), w, h, ow, oh,
        limited ? "limited" : "full", want[0], want[1], want[2], colour.y,
        colour.u, colour.v, worst);
    if (worst > 5)
      g_string_append_printf (failures,
          " %s %ux%u -> %ux%u %s (%u, %u, %u) off by %.0f;",
          gst_video_format_to_string (format), w, h, ow, oh,
          limited ? "limited" : "full", want[0], want[1], want[2], worst);
    gst_video_frame_unmap (&frame);
    gst_buffer_unref (buf);
  }
}

/* What a keyframe cover is made of: BT.709 YUV (limited range, or full) in
 * every layout a decoder hands over, at its own size and scaled, comes out
 * in the JPEG as the RGB it stands for. */
static void
test_encode_bt709_colours (void)
{
  g_autoptr (CoverEncoder) enc = cover_encoder_new ();
  g_autoptr (GString) failures = g_string_new (NULL);
  static const GstVideoFormat bt709_formats[] = { GST_VIDEO_FORMAT_I420,
    GST_VIDEO_FORMAT_YV12, GST_VIDEO_FORMAT_Y42B, GST_VIDEO_FORMAT_Y444,
    GST_VIDEO_FORMAT_NV12, GST_VIDEO_FORMAT_I420_10LE };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bt709_formats); i++) {
    /* an odd width: the rows' last samples go one by one */
    check_bt709 (enc, bt709_formats[i], 333, 240, TRUE, 0, 0, failures);
    check_bt709 (enc, bt709_formats[i], 320, 240, TRUE, 160, 0, failures);
    check_bt709 (enc, bt709_formats[i], 320, 240, FALSE, 0, 0, failures);
  }
  /* the frame a 720p H.264 keyframe decodes to, as it is */
  check_bt709 (enc, GST_VIDEO_FORMAT_I420, 1280, 720, TRUE, 0, 0, failures);
  if (failures->len)
    g_test_fail_printf (
        "BT.709 colours are off in the cover:%s", failures->str);
}

static void
test_encode_quality (void)
{
  g_autoptr (CoverEncoder) enc = cover_encoder_new ();
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buf;
  GRand *rand = g_rand_new_with_seed (42);
  const guint8 *jpeg;
  gsize low, high;
  guint w, h, i, size;
  g_autofree guint8 *rgb = NULL;
  int dw, dh;

  buf = new_frame (&info, GST_VIDEO_FORMAT_I420, 320, 240, NULL, &frame);
  size = GST_VIDEO_FRAME_SIZE (&frame);
  for (i = 0; i < size; i++)
    ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0))[i] =
        16 + g_rand_int_range (rand, 0, 220);

  g_assert_true (
      cover_encoder_encode (enc, &frame, 20, 0, 0, &jpeg, &low, &w, &h, NULL));
  g_free (tj_decode (jpeg, low, &dw, &dh));
  g_assert_true (
      cover_encoder_encode (enc, &frame, 95, 0, 0, &jpeg, &high, &w, &h, NULL));
  rgb = tj_decode (jpeg, high, &dw, &dh);
  g_assert_cmpint (dw, ==, 320);
  g_assert_cmpint (dh, ==, 240);
  g_assert_cmpuint (low * 2, <, high);

  gst_video_frame_unmap (&frame);
  gst_buffer_unref (buf);
  g_rand_free (rand);
}

/* Header and decode helpers */

static GBytes *
encode_gradient (guint w, guint h)
{
  g_autoptr (CoverEncoder) enc = cover_encoder_new ();
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buf;
  const guint8 *jpeg;
  gsize size;
  guint ow, oh, x, y;
  GBytes *bytes;

  buf = new_frame (&info, GST_VIDEO_FORMAT_RGB, w, h, NULL, &frame);
  for (y = 0; y < h; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
        y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);

    for (x = 0; x < w; x++) {
      row[x * 3] = x * 255 / w;
      row[x * 3 + 1] = y * 255 / h;
      row[x * 3 + 2] = 128;
    }
  }
  g_assert_true (cover_encoder_encode (
      enc, &frame, 90, 0, 0, &jpeg, &size, &ow, &oh, NULL));
  bytes = g_bytes_new (jpeg, size);
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (buf);
  return bytes;
}

static void
assert_get_size_fails (const guint8 *data, gsize size)
{
  GError *err = NULL;
  guint w = 7, h = 7;

  g_assert_false (cover_jpeg_get_size (data, size, &w, &h, &err));
  g_assert_error (err, COVER_JPEG_ERROR, COVER_JPEG_ERROR_DECODE);
  g_assert_nonnull (err->message);
  g_clear_error (&err);
}

static void
assert_decode_fails (const guint8 *data, gsize size)
{
  GError *err = NULL;
  guint w = 7, h = 7;

  g_assert_null (cover_jpeg_decode_rgb (data, size, &w, &h, &err));
  g_assert_error (err, COVER_JPEG_ERROR, COVER_JPEG_ERROR_DECODE);
  g_clear_error (&err);
}

static void
test_jpeg_helpers (void)
{
  g_autoptr (GBytes) jpeg = encode_gradient (200, 100);
  g_autofree guint8 *garbage = NULL;
  g_autofree guint8 *rgb = NULL;
  g_autofree guint8 *ref = NULL;
  const guint8 *data;
  GError *err = NULL;
  gsize size, i;
  guint w = 0, h = 0;
  int rw, rh;

  data = g_bytes_get_data (jpeg, &size);
  g_assert_true (cover_jpeg_get_size (data, size, &w, &h, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (w, ==, 200);
  g_assert_cmpuint (h, ==, 100);

  w = h = 0;
  rgb = cover_jpeg_decode_rgb (data, size, &w, &h, &err);
  g_assert_no_error (err);
  g_assert_nonnull (rgb);
  g_assert_cmpuint (w, ==, 200);
  g_assert_cmpuint (h, ==, 100);
  ref = tj_decode (data, size, &rw, &rh);
  g_assert_cmpmem (rgb, (gsize) w * h * 3, ref, (gsize) rw * rh * 3);
  /* and it is the gradient that was encoded */
  g_assert_cmpint (ABS ((int) rgb[(50 * 200 + 100) * 3] - 127), <=, 6);
  g_assert_cmpint (ABS ((int) rgb[(50 * 200 + 100) * 3 + 1] - 127), <=, 6);
  g_assert_cmpint (ABS ((int) rgb[(50 * 200 + 100) * 3 + 2] - 128), <=, 6);

  /* nothing, or almost nothing */
  assert_get_size_fails (data, 0);
  assert_get_size_fails (data, 2);
  assert_decode_fails (data, 0);
  /* cut inside the header */
  assert_get_size_fails (data, 100);
  assert_decode_fails (data, 100);
  /* cut inside the picture: the header reads, the picture does not */
  g_assert_true (cover_jpeg_get_size (data, size / 2, &w, &h, &err));
  g_assert_no_error (err);
  assert_decode_fails (data, size / 2);
  assert_decode_fails (data, size - 2);

  /* random bytes, and random bytes after a JPEG start marker */
  garbage = g_malloc (4096);
  for (i = 0; i < 4096; i++)
    garbage[i] = g_test_rand_int ();
  garbage[0] = 0x12;
  assert_get_size_fails (garbage, 4096);
  assert_decode_fails (garbage, 4096);
  garbage[0] = 0xff;
  garbage[1] = 0xd8;
  assert_get_size_fails (garbage, 4096);
  assert_decode_fails (garbage, 4096);
  /* a PNG signature is not a JPEG either */
  memcpy (garbage, "\x89PNG\r\n\x1a\n", 8);
  assert_get_size_fails (garbage, 4096);
}

/* A header claiming 60000x60000 (10.8 GB of RGB; libjpeg's own limit is
 * 65500 a side) is refused by its size,
 * before anything is allocated. */
static void
test_decode_refuses_huge_header (void)
{
  g_autoptr (GBytes) jpeg = cs_test_jpeg_solid (16, 16, 10, 20, 30);
  gsize size = g_bytes_get_size (jpeg), i;
  g_autofree guint8 *data = g_memdup2 (g_bytes_get_data (jpeg, NULL), size);
  g_autoptr (GError) err = NULL;
  guint w = 0, h = 0;
  guint8 *rgb;

  for (i = 0; i + 9 < size; i++) {
    if (data[i] == 0xff && data[i + 1] == 0xc0) {
      /* length (2), precision (1), then height and width */
      data[i + 5] = data[i + 7] = 0xea;
      data[i + 6] = data[i + 8] = 0x60;
      break;
    }
  }
  g_assert_cmpuint (i + 9, <, size);
  g_assert_true (cover_jpeg_get_size (data, size, &w, &h, NULL));
  g_assert_cmpuint (w, ==, 60000);
  rgb = cover_jpeg_decode_rgb (data, size, &w, &h, &err);
  g_assert_null (rgb);
  g_assert_error (err, COVER_JPEG_ERROR, COVER_JPEG_ERROR_DECODE);
  g_assert_nonnull (strstr (err->message, "too large"));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/coverjpeg/fit-size", test_fit_size);
  g_test_add_func (
      "/coverjpeg/decode-refuses-huge-header", test_decode_refuses_huge_header);
  g_test_add_func ("/coverjpeg/encode-formats", test_encode_formats);
  g_test_add_func (
      "/coverjpeg/limited-white-is-white", test_encode_limited_white_is_white);
  g_test_add_func ("/coverjpeg/encode-full-range", test_encode_full_range);
  g_test_add_func ("/coverjpeg/encode-scaled", test_encode_scaled);
  g_test_add_func ("/coverjpeg/encode-padded", test_encode_padded);
  g_test_add_func (
      "/coverjpeg/scaled-flat-stays-flat", test_encode_scaled_flat_stays_flat);
  g_test_add_func ("/coverjpeg/bt709-colours", test_encode_bt709_colours);
  g_test_add_func ("/coverjpeg/encode-quality", test_encode_quality);
  g_test_add_func ("/coverjpeg/odd-size-edges", test_encode_odd_size_edges);
  g_test_add_func ("/coverjpeg/jpeg-helpers", test_jpeg_helpers);

  return g_test_run ();
}
