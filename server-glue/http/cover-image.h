/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_IMAGE_H__
#define __COVER_IMAGE_H__

#include <glib.h>

G_BEGIN_DECLS

#define COVER_IMAGE_ERROR (cover_image_error_quark ())
GQuark cover_image_error_quark (void);

typedef enum
{
  COVER_IMAGE_ERROR_UNSUPPORTED, /* neither JPEG nor PNG */
  COVER_IMAGE_ERROR_CORRUPT, /* says JPEG/PNG but its header does not parse */
  COVER_IMAGE_ERROR_IO,      /* storing failed */
} CoverImageError;

typedef enum
{
  COVER_IMAGE_TYPE_UNKNOWN,
  COVER_IMAGE_TYPE_JPEG,
  COVER_IMAGE_TYPE_PNG,
} CoverImageType;

/* Type from the magic bytes only (cheap; for files we stored ourselves). */
CoverImageType cover_image_type_from_magic (const guint8 *data, gsize size);
const gchar *cover_image_type_to_mime (CoverImageType type);

/* Sniffs an uploaded image from its bytes, never from headers: JPEG or PNG
 * whose header really parses, with its dimensions read by the image library
 * (TurboJPEG, libpng; a PNG's IHDR CRC is checked).  The whole image need
 * not decode, but a JPEG must have its SOF and a PNG its IHDR. */
CoverImageType cover_image_sniff (const guint8 *data, gsize size, guint *width,
    guint *height, GError **error);

/* Decodes a JPEG or PNG into packed RGB (3 bytes a pixel); g_free() it. */
guint8 *cover_image_decode_rgb (const guint8 *data, gsize size, guint *width,
    guint *height, GError **error);

/* Writes @data to @path durably and atomically: a temporary file in the
 * same directory, written fully, fsync()ed, renamed over @path, and the
 * directory fsync()ed.  On any failure before the rename @path is untouched
 * (the previous file stays byte for byte) and the temporary file is
 * removed; only a failing directory fsync() comes after it.  Creates the
 * directory (0750) when missing.  Blocking: call it off the main loop. */
gboolean cover_image_store_durably (
    const gchar *path, GBytes *data, guint mode, GError **error);

G_END_DECLS

#endif /* __COVER_IMAGE_H__ */
