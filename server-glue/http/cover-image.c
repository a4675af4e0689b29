/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Uploaded images: what they are (from their bytes, by the image
 * libraries themselves), their pixels for resizing, and storing them so
 * that a crash or a full disk never costs the previous cover.
 *
 * Everything here may see hostile bytes: the libraries read from memory
 * with their errors turned into GErrors, and no image larger than
 * MAX_DIMENSION on a side is accepted, so a 2 MiB upload cannot make us
 * allocate more than MAX_DIMENSION² pixels when it is decoded. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-image.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <png.h>
#include <turbojpeg.h>

G_DEFINE_QUARK (cover-image-error-quark, cover_image_error);

/* Per side.  A well-compressed 16384² JPEG fits in a 2 MiB upload; its RGB
 * is 768 MiB, which is the most decode_rgb() will ever ask for. */
#define MAX_DIMENSION 16384

/* libpng's cap on one chunk's allocation (also on a decompressed zTXt or
 * iCCP); uploads are far smaller than this. */
#define PNG_CHUNK_MALLOC_MAX (8 * 1024 * 1024)

static const guint8 png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
  '\n' };

CoverImageType
cover_image_type_from_magic (const guint8 *data, gsize size)
{
  if (data == NULL)
    return COVER_IMAGE_TYPE_UNKNOWN;
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
    return COVER_IMAGE_TYPE_JPEG;
  if (size >= sizeof (png_signature) &&
      memcmp (data, png_signature, sizeof (png_signature)) == 0)
    return COVER_IMAGE_TYPE_PNG;
  return COVER_IMAGE_TYPE_UNKNOWN;
}

/* Unknown is not an image type a response can claim: callers that serve
 * bytes of an unknown type get the neutral binary type. */
const gchar *
cover_image_type_to_mime (CoverImageType type)
{
  switch (type) {
    case COVER_IMAGE_TYPE_JPEG:
      return "image/jpeg";
    case COVER_IMAGE_TYPE_PNG:
      return "image/png";
    default:
      return "application/octet-stream";
  }
}

/* What the bytes claim to be, more loosely than type_from_magic(): a JPEG
 * is claimed by its SOI marker alone and a PNG by the first four bytes of
 * its signature, so that a JPEG cut after 2 bytes or a PNG cut inside its
 * signature is reported as a broken JPEG/PNG rather than as some other
 * type. */
static CoverImageType
claimed_type (const guint8 *data, gsize size)
{
  if (size >= 2 && data[0] == 0xff && data[1] == 0xd8)
    return COVER_IMAGE_TYPE_JPEG;
  if (size >= 4 && memcmp (data, png_signature, 4) == 0)
    return COVER_IMAGE_TYPE_PNG;
  return COVER_IMAGE_TYPE_UNKNOWN;
}

static gboolean
check_dimensions (const gchar *what, guint width, guint height, GError **error)
{
  if (width == 0 || height == 0) {
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_CORRUPT,
        "%s header declares an empty image (%ux%u)", what, width, height);
    return FALSE;
  }
  /* A real image, but not one we take: UNSUPPORTED rather than CORRUPT. */
  if (width > MAX_DIMENSION || height > MAX_DIMENSION) {
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_UNSUPPORTED,
        "%s image of %ux%u is larger than %ux%u", what, width, height,
        MAX_DIMENSION, MAX_DIMENSION);
    return FALSE;
  }
  return TRUE;
}

/* ---- JPEG (TurboJPEG) ---- */

static gboolean
read_jpeg_header (tjhandle tj, const guint8 *data, gsize size, guint *width,
    guint *height, int *colorspace, GError **error)
{
  int w = 0, h = 0, subsamp = -1, cs = -1;

  /* jpeg_read_header() underneath reads markers up to the first SOS, so
   * this needs the SOF (and stops with an error at the end of the data
   * without one); the entropy-coded data after it is not looked at.  A
   * JPEG cut somewhere inside its scan therefore still sniffs as a JPEG
   * (and decodes with the missing part grey): a full decode is not what
   * sniffing promises. */
  if (tjDecompressHeader3 (tj, data, size, &w, &h, &subsamp, &cs) != 0) {
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_CORRUPT,
        "JPEG header does not parse: %s", tjGetErrorStr2 (tj));
    return FALSE;
  }
  if (w < 0 || h < 0) {
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_CORRUPT,
        "JPEG header declares a negative size (%dx%d)", w, h);
    return FALSE;
  }
  if (!check_dimensions ("JPEG", w, h, error))
    return FALSE;
  *width = w;
  *height = h;
  if (colorspace)
    *colorspace = cs;
  return TRUE;
}

static gboolean
sniff_jpeg (
    const guint8 *data, gsize size, guint *width, guint *height, GError **error)
{
  tjhandle tj = tjInitDecompress ();
  gboolean ok;

  if (tj == NULL) {
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_UNSUPPORTED,
        "Could not create a JPEG decompressor: %s", tjGetErrorStr2 (NULL));
    return FALSE;
  }
  ok = read_jpeg_header (tj, data, size, width, height, NULL, error);
  tjDestroy (tj);
  return ok;
}

static guint8 *
decode_jpeg (
    const guint8 *data, gsize size, guint *width, guint *height, GError **error)
{
  tjhandle tj = tjInitDecompress ();
  guint w, h;
  int cs;
  gboolean cmyk;
  guint8 *out = NULL, *pixels = NULL;
  gsize n_pixels, i;

  if (tj == NULL) {
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_UNSUPPORTED,
        "Could not create a JPEG decompressor: %s", tjGetErrorStr2 (NULL));
    return NULL;
  }
  if (!read_jpeg_header (tj, data, size, &w, &h, &cs, error))
    goto done;

  n_pixels = (gsize) w * h;
  /* libjpeg-turbo has no CMYK → RGB conversion: take CMYK and convert
   * here the way its own tools do (Adobe's inverted CMYK, as nearly every
   * CMYK JPEG is written). */
  cmyk = (cs == TJCS_CMYK || cs == TJCS_YCCK);
  pixels = g_try_malloc (n_pixels * (cmyk ? 4 : 3));
  if (pixels == NULL) {
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_UNSUPPORTED,
        "Not enough memory to decode a %ux%u JPEG", w, h);
    goto done;
  }
  /* LIMITSCANS: a progressive JPEG with thousands of scans would otherwise
   * burn CPU for seconds on a few KiB.  A warning (data cut short, a
   * corrupt segment) still leaves a whole image, the damaged part filled
   * in, and is accepted; an error is not. */
  if (tjDecompress2 (tj, data, size, pixels, w, 0, h,
          cmyk ? TJPF_CMYK : TJPF_RGB, TJFLAG_LIMITSCANS) != 0 &&
      tjGetErrorCode (tj) != TJERR_WARNING) {
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_CORRUPT,
        "JPEG does not decode: %s", tjGetErrorStr2 (tj));
    g_free (pixels);
    goto done;
  }

  if (cmyk) {
    for (i = 0; i < n_pixels; i++) {
      guint k = pixels[4 * i + 3];

      pixels[3 * i + 0] = (pixels[4 * i + 0] * k + 127) / 255;
      pixels[3 * i + 1] = (pixels[4 * i + 1] * k + 127) / 255;
      pixels[3 * i + 2] = (pixels[4 * i + 2] * k + 127) / 255;
    }
    pixels = g_realloc (pixels, n_pixels * 3);
  }
  out = pixels;
  *width = w;
  *height = h;

done:
  tjDestroy (tj);
  return out;
}

/* ---- PNG (libpng) ---- */

typedef struct
{
  const guint8 *data;
  gsize size;
  gsize pos;
  gchar message[128];
  png_uint_32 width;
  png_uint_32 height;
} PngSniff;

static void
on_png_error (png_structp png, png_const_charp message)
{
  PngSniff *s = png_get_error_ptr (png);

  g_strlcpy (s->message, message, sizeof (s->message));
  png_longjmp (png, 1);
}

static void
on_png_warning (png_structp png, png_const_charp message)
{
  /* benign (a bad ancillary chunk, an odd profile): not our concern */
}

static void
read_png_bytes (png_structp png, png_bytep out, size_t length)
{
  PngSniff *s = png_get_io_ptr (png);

  if (length > s->size - s->pos)
    png_error (png, "data ends early");
  memcpy (out, s->data + s->pos, length);
  s->pos += length;
}

/* Kept apart from sniff_png() so that nothing it owns lives across the
 * setjmp(): all state is in @s (memory, not registers). */
static gboolean
read_png_info (png_structp png, png_infop info, PngSniff *s)
{
  if (setjmp (png_jmpbuf (png)))
    return FALSE;

  /* Critical chunks with a bad CRC (IHDR among them) are errors, bad
   * ancillary ones are dropped; this is libpng's default, said here
   * because the sniffing contract depends on it. */
  png_set_crc_action (png, PNG_CRC_DEFAULT, PNG_CRC_DEFAULT);
  png_set_chunk_malloc_max (png, PNG_CHUNK_MALLOC_MAX);
  /* Reads the signature, IHDR (checked by png_check_IHDR) and every chunk
   * up to the first IDAT's header: a PNG cut before its image data does
   * not sniff, one cut inside it does. */
  png_read_info (png, info);
  s->width = png_get_image_width (png, info);
  s->height = png_get_image_height (png, info);
  return TRUE;
}

static gboolean
sniff_png (
    const guint8 *data, gsize size, guint *width, guint *height, GError **error)
{
  PngSniff s = { data, size, 0, "", 0, 0 };
  png_structp png;
  png_infop info;
  gboolean ok;

  png = png_create_read_struct (
      PNG_LIBPNG_VER_STRING, &s, on_png_error, on_png_warning);
  if (png == NULL) {
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_UNSUPPORTED,
        "Could not create a PNG reader");
    return FALSE;
  }
  info = png_create_info_struct (png);
  if (info == NULL) {
    png_destroy_read_struct (&png, NULL, NULL);
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_UNSUPPORTED,
        "Could not create a PNG reader");
    return FALSE;
  }
  png_set_read_fn (png, &s, read_png_bytes);

  ok = read_png_info (png, info, &s);
  png_destroy_read_struct (&png, &info, NULL);

  if (!ok) {
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_CORRUPT,
        "PNG header does not parse: %s", s.message);
    return FALSE;
  }
  if (!check_dimensions ("PNG", s.width, s.height, error))
    return FALSE;
  *width = s.width;
  *height = s.height;
  return TRUE;
}

static guint8 *
decode_png (
    const guint8 *data, gsize size, guint *width, guint *height, GError **error)
{
  /* Transparent pixels come out on white, as on the page around a cover. */
  static const png_color white = { 255, 255, 255 };
  png_image image;
  guint8 *pixels;

  memset (&image, 0, sizeof (image));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory (&image, data, size)) {
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_CORRUPT,
        "PNG header does not parse: %s", image.message);
    png_image_free (&image);
    return NULL;
  }
  if (!check_dimensions ("PNG", image.width, image.height, error)) {
    png_image_free (&image);
    return NULL;
  }
  /* 8-bit sRGB whatever the file holds (palette, grey, 16 bits, gamma) */
  image.format = PNG_FORMAT_RGB;
  pixels = g_try_malloc (PNG_IMAGE_SIZE (image));
  if (pixels == NULL) {
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_UNSUPPORTED,
        "Not enough memory to decode a %ux%u PNG", (guint) image.width,
        (guint) image.height);
    png_image_free (&image);
    return NULL;
  }
  if (!png_image_finish_read (&image, &white, pixels, 0, NULL)) {
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_CORRUPT,
        "PNG does not decode: %s", image.message);
    png_image_free (&image);
    g_free (pixels);
    return NULL;
  }
  *width = image.width;
  *height = image.height;
  png_image_free (&image);
  return pixels;
}

/* ---- the API ---- */

static void
set_unsupported (GError **error, const guint8 *data, gsize size)
{
  if (size == 0)
    g_set_error_literal (error, COVER_IMAGE_ERROR,
        COVER_IMAGE_ERROR_UNSUPPORTED, "Empty data is not an image");
  else
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_UNSUPPORTED,
        "Neither JPEG nor PNG (starts with 0x%02x)", data[0]);
}

/* The readers of each type */
typedef struct
{
  gboolean (*sniff) (const guint8 *data, gsize size, guint *width,
      guint *height, GError **error);
  guint8 *(*decode) (const guint8 *data, gsize size, guint *width,
      guint *height, GError **error);
} ImageCodec;

static const ImageCodec codecs[] = {
  [COVER_IMAGE_TYPE_JPEG] = { sniff_jpeg, decode_jpeg },
  [COVER_IMAGE_TYPE_PNG] = { sniff_png, decode_png },
};

/* The readers of what @data claims to be, or NULL with @error set. */
static const ImageCodec *
claimed_codec (
    const guint8 *data, gsize size, CoverImageType *type, GError **error)
{
  *type = data ? claimed_type (data, size) : COVER_IMAGE_TYPE_UNKNOWN;
  if (*type == COVER_IMAGE_TYPE_UNKNOWN) {
    set_unsupported (error, data, size);
    return NULL;
  }
  return &codecs[*type];
}

/* the optional size out-parameters of the API */
static void
set_size (guint *width, guint *height, guint w, guint h)
{
  if (width)
    *width = w;
  if (height)
    *height = h;
}

CoverImageType
cover_image_sniff (
    const guint8 *data, gsize size, guint *width, guint *height, GError **error)
{
  const ImageCodec *codec;
  CoverImageType type;
  guint w = 0, h = 0;

  g_return_val_if_fail (data != NULL || size == 0, COVER_IMAGE_TYPE_UNKNOWN);
  g_return_val_if_fail (
      error == NULL || *error == NULL, COVER_IMAGE_TYPE_UNKNOWN);

  set_size (width, height, 0, 0);
  codec = claimed_codec (data, size, &type, error);
  if (!codec || !codec->sniff (data, size, &w, &h, error))
    return COVER_IMAGE_TYPE_UNKNOWN;
  set_size (width, height, w, h);
  return type;
}

guint8 *
cover_image_decode_rgb (
    const guint8 *data, gsize size, guint *width, guint *height, GError **error)
{
  const ImageCodec *codec;
  CoverImageType type;
  guint8 *pixels;
  guint w = 0, h = 0;

  g_return_val_if_fail (data != NULL || size == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  set_size (width, height, 0, 0);
  codec = claimed_codec (data, size, &type, error);
  pixels = codec ? codec->decode (data, size, &w, &h, error) : NULL;
  if (pixels)
    set_size (width, height, w, h);
  return pixels;
}

/* ---- durable storing ---- */

static gboolean
write_all (int fd, const guint8 *data, gsize size)
{
  while (size > 0) {
    ssize_t n = write (fd, data, MIN (size, (gsize) G_MAXSSIZE));

    if (n < 0) {
      if (errno == EINTR)
        continue;
      return FALSE;
    }
    if (n == 0) {
      /* write() makes no progress only when there is no room */
      errno = ENOSPC;
      return FALSE;
    }
    data += n;
    size -= n;
  }
  return TRUE;
}

static int
fsync_retry (int fd)
{
  int ret;

  do
    ret = fsync (fd);
  while (ret < 0 && errno == EINTR);
  return ret;
}

static gboolean
io_error (GError **error, const gchar *doing, const gchar *path, int errsv)
{
  g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_IO,
      "Could not %s “%s”: %s", doing, path, g_strerror (errsv));
  return FALSE;
}

gboolean
cover_image_store_durably (
    const gchar *path, GBytes *data, guint mode, GError **error)
{
  g_autofree gchar *dir = NULL;
  g_autofree gchar *base = NULL;
  g_autofree gchar *tmp = NULL;
  const guint8 *bytes;
  gsize size;
  int fd = -1, dir_fd = -1, errsv;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  dir = g_path_get_dirname (path);
  base = g_path_get_basename (path);
  if (g_mkdir_with_parents (dir, 0750) < 0)
    return io_error (error, "create the directory", dir, errno);

  /* The directory is opened before anything is renamed, so that nothing
   * that can fail before the rename is left for after it. */
  dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    return io_error (error, "open the directory", dir, errno);

  /* Same directory: rename() is atomic only within one filesystem.  The
   * leading dot keeps half-written files out of plain listings. */
  tmp = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    errsv = errno;
    g_close (dir_fd, NULL);
    return io_error (error, "create a temporary file for", path, errsv);
  }

  bytes = g_bytes_get_data (data, &size);
  if (!write_all (fd, bytes, size)) {
    errsv = errno;
    io_error (error, "write", path, errsv);
    goto fail;
  }
  /* The mode before the fsync, so that it is durable with the data. */
  if (fchmod (fd, mode & 07777) < 0) {
    errsv = errno;
    io_error (error, "set the mode of", path, errsv);
    goto fail;
  }
  if (fsync_retry (fd) < 0) {
    errsv = errno;
    io_error (error, "sync", path, errsv);
    goto fail;
  }
  /* close() can report a deferred write error (NFS and the like) */
  if (!g_close (fd, NULL)) {
    fd = -1;
    errsv = errno;
    io_error (error, "close", path, errsv);
    goto fail;
  }
  fd = -1;
  if (g_rename (tmp, path) < 0) {
    errsv = errno;
    io_error (error, "replace", path, errsv);
    goto fail;
  }

  /* The rename is done: @path already holds the new bytes and no failure
   * from here on can give the old ones back.  An error still says that
   * the new name may not survive a crash.  EINVAL: a filesystem that
   * cannot sync directories, where there is nothing more to do. */
  if (fsync_retry (dir_fd) < 0 && errno != EINVAL) {
    errsv = errno;
    g_close (dir_fd, NULL);
    return io_error (error, "sync the directory of", path, errsv);
  }
  g_close (dir_fd, NULL);
  return TRUE;

fail:
  if (fd >= 0)
    g_close (fd, NULL);
  g_unlink (tmp);
  g_close (dir_fd, NULL);
  return FALSE;
}
