/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The core's JPEG header readers on hostile frames (an MJPEG stream is
 * published as it is when cover_jpeg_is_baseline() says so):
 * cover_jpeg_is_baseline() and cover_jpeg_get_size() must agree on the
 * size of what they both accept. */

#include <stdint.h>

#include "coverjpeg.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint w = 0, h = 0, w2 = 0, h2 = 0;

  if (cover_jpeg_is_baseline (data, size, &w, &h)) {
    g_assert_cmpuint (w, >, 0);
    g_assert_cmpuint (h, >, 0);
    if (cover_jpeg_get_size (data, size, &w2, &h2, NULL)) {
      g_assert_cmpuint (w2, ==, w);
      g_assert_cmpuint (h2, ==, h);
    }
  }
  return 0;
}
