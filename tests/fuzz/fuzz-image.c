/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* cover_image_sniff() and, when it accepts, cover_image_decode_rgb(): a
 * decoded image has the sniffed size. */

#include <stdint.h>

#include "cover-image.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint w = 0, h = 0, dw = 0, dh = 0;
  guint8 *rgb;

  if (cover_image_sniff (data, size, &w, &h, NULL) == COVER_IMAGE_TYPE_UNKNOWN)
    return 0;
  /* what the resizer would take (cover-resize-cache.c) */
  if ((guint64) w * h > 4 * 1024 * 1024)
    return 0;
  rgb = cover_image_decode_rgb (data, size, &dw, &dh, NULL);
  if (rgb) {
    g_assert_cmpuint (dw, ==, w);
    g_assert_cmpuint (dh, ==, h);
  }
  g_free (rgb);
  return 0;
}
