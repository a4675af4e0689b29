/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cs-test-image.h"

#include <png.h>
#include <string.h>
#include <turbojpeg.h>

guint8 *
cs_test_rgb_solid (guint w, guint h, guint8 r, guint8 g, guint8 b)
{
  guint8 *rgb = g_malloc ((gsize) w * h * 3);
  gsize i;

  for (i = 0; i < (gsize) w * h; i++) {
    rgb[3 * i] = r;
    rgb[3 * i + 1] = g;
    rgb[3 * i + 2] = b;
  }
  return rgb;
}

GBytes *
cs_test_jpeg_encode (
    const guint8 *rgb, guint w, guint h, int subsamp, int quality)
{
  tjhandle tj = tjInitCompress ();
  unsigned char *jpeg = NULL;
  unsigned long len = 0;
  GBytes *bytes;

  g_return_val_if_fail (rgb != NULL, NULL);

  g_assert_nonnull (tj);
  g_assert_cmpint (tjCompress2 (tj, rgb, w, 0, h, TJPF_RGB, &jpeg, &len,
                       subsamp, quality, 0),
      ==, 0);
  bytes = g_bytes_new (jpeg, len);
  tjFree (jpeg);
  tjDestroy (tj);
  return bytes;
}

GBytes *
cs_test_jpeg_solid (guint w, guint h, guint8 r, guint8 g, guint8 b)
{
  g_autofree guint8 *rgb = cs_test_rgb_solid (w, h, r, g, b);

  return cs_test_jpeg_encode (rgb, w, h, TJSAMP_420, 90);
}

GBytes *
cs_test_png_encode (const guint8 *pixels, guint w, guint h, guint32 format)
{
  png_image image;
  png_alloc_size_t size = 0;
  guint8 *buf;

  g_return_val_if_fail (pixels != NULL, NULL);

  memset (&image, 0, sizeof (image));
  image.version = PNG_IMAGE_VERSION;
  image.width = w;
  image.height = h;
  image.format = format;
  /* the first call only measures */
  g_assert_true (
      png_image_write_to_memory (&image, NULL, &size, 0, pixels, 0, NULL));
  buf = g_malloc (size);
  g_assert_true (
      png_image_write_to_memory (&image, buf, &size, 0, pixels, 0, NULL));
  return g_bytes_new_take (buf, size);
}

GBytes *
cs_test_png_solid (guint w, guint h, guint8 r, guint8 g, guint8 b)
{
  g_autofree guint8 *rgb = cs_test_rgb_solid (w, h, r, g, b);

  return cs_test_png_encode (rgb, w, h, PNG_FORMAT_RGB);
}

static guint8 *
decode_png (const guint8 *data, gsize size, guint *w, guint *h)
{
  png_image image;
  guint8 *rgb;

  memset (&image, 0, sizeof (image));
  image.version = PNG_IMAGE_VERSION;
  g_assert_true (png_image_begin_read_from_memory (&image, data, size));
  image.format = PNG_FORMAT_RGB;
  rgb = g_malloc (PNG_IMAGE_SIZE (image));
  g_assert_true (png_image_finish_read (&image, NULL, rgb, 0, NULL));
  *w = image.width;
  *h = image.height;
  return rgb;
}

guint8 *
cs_test_image_decode (const guint8 *data, gsize size, guint *w, guint *h)
{
  static const guint8 png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n',
    0x1a, '\n' };
  tjhandle tj;
  int jw = 0, jh = 0, sub = 0, cs = 0;
  guint8 *rgb;

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (w != NULL && h != NULL, NULL);

  if (size >= 8 && memcmp (data, png_signature, 8) == 0)
    return decode_png (data, size, w, h);

  tj = tjInitDecompress ();
  g_assert_nonnull (tj);
  g_assert_cmpint (
      tjDecompressHeader3 (tj, data, size, &jw, &jh, &sub, &cs), ==, 0);
  rgb = g_malloc ((gsize) jw * jh * 3);
  g_assert_cmpint (tjDecompress2 (tj, data, size, rgb, jw, 0, jh, TJPF_RGB,
                       TJFLAG_STOPONWARNING),
      ==, 0);
  tjDestroy (tj);
  *w = jw;
  *h = jh;
  return rgb;
}

void
cs_test_rgb_mean (const guint8 *rgb, guint w, guint x0, guint y0, guint x1,
    guint y1, gdouble mean[3])
{
  gdouble sum[3] = { 0, 0, 0 };
  guint x, y, c;
  gsize n;

  g_return_if_fail (rgb != NULL);
  g_return_if_fail (x1 > x0 && y1 > y0 && x1 <= w);

  for (y = y0; y < y1; y++) {
    const guint8 *row = rgb + (gsize) y * w * 3;

    for (x = x0; x < x1; x++) {
      for (c = 0; c < 3; c++)
        sum[c] += row[x * 3 + c];
    }
  }
  n = (gsize) (x1 - x0) * (y1 - y0);
  for (c = 0; c < 3; c++)
    mean[c] = sum[c] / n;
}

void
cs_test_image_mean (GBytes *image, guint *w, guint *h, gdouble mean[3])
{
  g_autofree guint8 *rgb = NULL;
  gsize size;
  const guint8 *data;

  g_return_if_fail (image != NULL);

  data = g_bytes_get_data (image, &size);
  rgb = cs_test_image_decode (data, size, w, h);
  cs_test_rgb_mean (rgb, *w, 0, 0, *w, *h, mean);
}

void
cs_test_assert_image_colour (GBytes *image, guint w, guint h, gdouble r,
    gdouble g, gdouble b, gdouble tol)
{
  gdouble mean[3];
  guint iw, ih;

  cs_test_image_mean (image, &iw, &ih, mean);
  if (w)
    g_assert_cmpuint (iw, ==, w);
  if (h)
    g_assert_cmpuint (ih, ==, h);
  g_assert_cmpfloat_with_epsilon (mean[0], r, tol);
  g_assert_cmpfloat_with_epsilon (mean[1], g, tol);
  g_assert_cmpfloat_with_epsilon (mean[2], b, tol);
}
