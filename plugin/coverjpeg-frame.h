/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_JPEG_FRAME_H__
#define __COVER_JPEG_FRAME_H__

#include <gst/video/video.h>

#include "coverjpeg.h"

G_BEGIN_DECLS

/* Encodes @frame (transfer none) scaled to fit @max_width x @max_height (0:
 * no limit; never upscaled; square pixels), with limited-range YUV expanded
 * to the full range JPEG viewers assume.  *@jpeg (transfer none) points into
 * @enc and stays valid until the next call. */
gboolean cover_encoder_encode (CoverEncoder *enc, GstVideoFrame *frame,
    guint quality, guint max_width, guint max_height, const guint8 **jpeg,
    gsize *jpeg_size, guint *width, guint *height, GError **error);

G_END_DECLS

#endif /* __COVER_JPEG_FRAME_H__ */
