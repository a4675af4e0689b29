/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Real images for the tests and a look at their pixels: JPEGs made and
 * decoded with TurboJPEG, PNGs with libpng's simplified API, and the mean
 * colour of a picture or of a part of it.  Independent of the product's
 * own image code on purpose: a test checks that code against these.  No
 * GStreamer. */

#ifndef __CS_TEST_IMAGE_H__
#define __CS_TEST_IMAGE_H__

#include <glib.h>

G_BEGIN_DECLS

/* Packed RGB (stride 3 * @w) of one colour (transfer full, g_free). */
guint8 *cs_test_rgb_solid (guint w, guint h, guint8 r, guint8 g, guint8 b);

/* A JPEG of packed RGB @rgb; @subsamp is a TJSAMP_* value (transfer
 * full). */
GBytes *cs_test_jpeg_encode (
    const guint8 *rgb, guint w, guint h, int subsamp, int quality);
/* A solid-colour JPEG, 4:2:0 at quality 90 (transfer full). */
GBytes *cs_test_jpeg_solid (guint w, guint h, guint8 r, guint8 g, guint8 b);

/* A PNG of @pixels in libpng's @format (PNG_FORMAT_RGB, _RGBA, _GRAY...;
 * packed rows) (transfer full). */
GBytes *cs_test_png_encode (
    const guint8 *pixels, guint w, guint h, guint32 format);
/* A solid-colour RGB PNG (transfer full). */
GBytes *cs_test_png_solid (guint w, guint h, guint8 r, guint8 g, guint8 b);

/* Decodes a JPEG or PNG to packed RGB, failing the test when it does not
 * decode (TurboJPEG stops on warnings: a damaged JPEG fails too).
 * Returns the pixels (transfer full, g_free). */
guint8 *cs_test_image_decode (
    const guint8 *data, gsize size, guint *w, guint *h);

/* Mean RGB over the rectangle [@x0,@x1) x [@y0,@y1) of packed RGB @rgb
 * that is @w pixels wide. */
void cs_test_rgb_mean (const guint8 *rgb, guint w, guint x0, guint y0, guint x1,
    guint y1, gdouble mean[3]);
/* Decodes @image (JPEG or PNG) and averages all of it; @w and @h get its
 * size. */
void cs_test_image_mean (GBytes *image, guint *w, guint *h, gdouble mean[3]);
/* Fails unless @image is @w x @h (0: any) and its mean colour is within
 * @tol of (@r, @g, @b) on every channel. */
void cs_test_assert_image_colour (GBytes *image, guint w, guint h, gdouble r,
    gdouble g, gdouble b, gdouble tol);

G_END_DECLS

#endif /* __CS_TEST_IMAGE_H__ */
