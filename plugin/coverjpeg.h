/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_JPEG_H__
#define __COVER_JPEG_H__

#include <glib.h>

G_BEGIN_DECLS

#define COVER_JPEG_ERROR (cover_jpeg_error_quark ())
GQuark cover_jpeg_error_quark (void);

typedef enum
{
  COVER_JPEG_ERROR_FORMAT, /* a frame format we cannot turn into JPEG */
  COVER_JPEG_ERROR_ENCODE, /* TurboJPEG refused */
  COVER_JPEG_ERROR_DECODE, /* not a JPEG, or a corrupt one */
} CoverJpegError;

/* GLib types only, so the server side can resize without GStreamer's video
 * headers; encoding a GstVideoFrame is in coverjpeg-frame.h. */

/* One per thread: it owns a TurboJPEG handle, a cached GstVideoConverter and
 * scratch frames, all reused from one frame to the next. */
typedef struct _CoverEncoder CoverEncoder;

/* (transfer full), or NULL when TurboJPEG cannot make a compressor */
CoverEncoder *cover_encoder_new (void);
void cover_encoder_free (CoverEncoder *enc);

/* Resizing, a service of the core for whoever holds a decoded picture (the
 * HTTP side's ?width=&height=): scales packed RGB @rgb (@width x @height,
 * rows of @width * 3 bytes) to fit @max_width x @max_height (0: no limit;
 * never enlarged) and encodes it with @quality.  Returns the JPEG
 * (transfer full) and its size, or NULL with @error set.  The caller has
 * called gst_init(). */
GBytes *cover_image_resize (CoverEncoder *enc, const guint8 *rgb, guint width,
    guint height, guint quality, guint max_width, guint max_height,
    guint *out_width, guint *out_height, GError **error);

void cover_fit_size (guint width, guint height, gint par_n, gint par_d,
    guint max_width, guint max_height, guint *out_width, guint *out_height);

/* Reads the dimensions of a JPEG from its header (no pixel decoding). */
gboolean cover_jpeg_get_size (const guint8 *data, gsize size, guint *width,
    guint *height, GError **error);

/* Whether @data is a JPEG that every viewer shows as it is, so that it may
 * be published without decoding: baseline (SOF0), 8-bit, grey or YCbCr
 * (not Adobe RGB) sampled 4:2:0, 4:2:2 or 4:4:4, whole (ends with EOI).
 * Reads the headers only.  Sets its size when TRUE. */
gboolean cover_jpeg_is_baseline (
    const guint8 *data, gsize size, guint *width, guint *height);

/* The most pixels cover_jpeg_decode_rgb() decodes: 8192 x 8192 (192 MiB of
 * RGB), above any camera's frame. */
#define COVER_JPEG_MAX_DECODE_PIXELS (8192u * 8192u)

/* Decodes a whole JPEG into packed RGB (3 bytes a pixel) (transfer full:
 * g_free() it). */
guint8 *cover_jpeg_decode_rgb (const guint8 *data, gsize size, guint *width,
    guint *height, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CoverEncoder, cover_encoder_free);

G_END_DECLS

#endif /* __COVER_JPEG_H__ */
