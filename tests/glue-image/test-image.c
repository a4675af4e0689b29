/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The image module: sniffing uploads (real JPEGs made with TurboJPEG, real
 * PNGs made with libpng, and every kind of broken or foreign bytes, plus
 * random mutations), decoding to RGB, and durable storing (a real file
 * size limit in a child process makes the write fail half-way). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <png.h>
#include <turbojpeg.h>

#include "cover-image.h"
#include "cs-test-image.h"
#include "cs-test-util.h"

#define MAX_DIMENSION 16384

/* ---- making images ---- */

/* A pattern in which every pixel differs from its neighbours. */
static guint8 *
make_pattern (guint w, guint h, guint channels)
{
  guint8 *px = g_malloc (w * h * channels);
  guint x, y, c;

  for (y = 0; y < h; y++)
    for (x = 0; x < w; x++)
      for (c = 0; c < channels; c++)
        px[(y * w + x) * channels + c] = (x * 7 + y * 13 + c * 85) & 0xff;
  return px;
}

static GBytes *
make_jpeg (guint w, guint h, guint8 r, guint8 g, guint8 b)
{
  g_autofree guint8 *rgb = cs_test_rgb_solid (w, h, r, g, b);

  return cs_test_jpeg_encode (rgb, w, h, TJSAMP_444, 95);
}

static GBytes *
make_png (guint w, guint h)
{
  g_autofree guint8 *px = make_pattern (w, h, 3);

  return cs_test_png_encode (px, w, h, PNG_FORMAT_RGB);
}

/* Offset of the first JPEG segment with @marker (walks the segments, so a
 * byte that looks like a marker inside another segment is not found). */
static gsize
jpeg_find_marker (const guint8 *d, gsize len, guint8 marker)
{
  gsize i = 2;

  while (i + 4 <= len) {
    g_assert_cmpuint (d[i], ==, 0xff);
    if (d[i + 1] == marker)
      return i;
    g_assert_cmpuint (d[i + 1], !=, 0xda); /* SOS: no SOF before it */
    i += 2 + ((d[i + 2] << 8) | d[i + 3]);
  }
  g_assert_not_reached ();
  return 0;
}

/* Offset of the first byte of entropy-coded data (after the SOS header). */
static gsize
jpeg_scan_start (const guint8 *d, gsize len)
{
  gsize i = 2;

  while (i + 4 <= len) {
    gsize seg = 2 + ((d[i + 2] << 8) | d[i + 3]);

    g_assert_cmpuint (d[i], ==, 0xff);
    if (d[i + 1] == 0xda)
      return i + seg;
    i += seg;
  }
  g_assert_not_reached ();
  return 0;
}

static guint32
crc32_png (const guint8 *d, gsize len)
{
  guint32 crc = 0xffffffff;
  gsize i;
  int k;

  for (i = 0; i < len; i++) {
    crc ^= d[i];
    for (k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return crc ^ 0xffffffff;
}

static void
put_be32 (guint8 *d, guint32 v)
{
  d[0] = v >> 24;
  d[1] = v >> 16;
  d[2] = v >> 8;
  d[3] = v;
}

/* IHDR is the first chunk: length at 8, type at 12, data 16..28, CRC 29. */
static GBytes *
png_with_size (GBytes *png, guint32 w, guint32 h)
{
  gsize len;
  const guint8 *src = g_bytes_get_data (png, &len);
  guint8 *d = g_memdup2 (src, len);

  g_assert_cmpmem (d + 12, 4, "IHDR", 4);
  put_be32 (d + 16, w);
  put_be32 (d + 20, h);
  put_be32 (d + 29, crc32_png (d + 12, 17));
  return g_bytes_new_take (d, len);
}

static GBytes *
jpeg_with_size (GBytes *jpeg, guint w, guint h)
{
  gsize len, sof;
  const guint8 *src = g_bytes_get_data (jpeg, &len);
  guint8 *d = g_memdup2 (src, len);

  sof = jpeg_find_marker (d, len, 0xc0);
  /* FF C0 len(2) precision(1) height(2) width(2) */
  d[sof + 5] = h >> 8;
  d[sof + 6] = h & 0xff;
  d[sof + 7] = w >> 8;
  d[sof + 8] = w & 0xff;
  return g_bytes_new_take (d, len);
}

/* ---- checking ---- */

static void
assert_sniff_ok (GBytes *b, CoverImageType type, guint w, guint h)
{
  g_autoptr (GError) err = NULL;
  gsize len;
  const guint8 *d = g_bytes_get_data (b, &len);
  guint gw = 1234, gh = 1234;

  g_assert_cmpint (cover_image_sniff (d, len, &gw, &gh, &err), ==, type);
  g_assert_no_error (err);
  g_assert_cmpuint (gw, ==, w);
  g_assert_cmpuint (gh, ==, h);
}

static void
assert_sniff_fails (const guint8 *d, gsize len, gint code)
{
  g_autoptr (GError) err = NULL;
  guint w = 1234, h = 1234;

  g_assert_cmpint (
      cover_image_sniff (d, len, &w, &h, &err), ==, COVER_IMAGE_TYPE_UNKNOWN);
  g_assert_error (err, COVER_IMAGE_ERROR, code);
  g_assert_nonnull (err->message);
  g_assert_cmpuint (w, ==, 0);
  g_assert_cmpuint (h, ==, 0);
}

static void
assert_sniff_fails_bytes (GBytes *b, gint code)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (b, &len);

  assert_sniff_fails (d, len, code);
}

static void
assert_decode_fails (const guint8 *d, gsize len, gint code)
{
  g_autoptr (GError) err = NULL;
  guint w = 1234, h = 1234;

  g_assert_null (cover_image_decode_rgb (d, len, &w, &h, &err));
  g_assert_error (err, COVER_IMAGE_ERROR, code);
  g_assert_cmpuint (w, ==, 0);
  g_assert_cmpuint (h, ==, 0);
}

/* ---- magic and MIME ---- */

static void
test_magic (void)
{
  g_autoptr (GBytes) jpeg = make_jpeg (16, 16, 1, 2, 3);
  g_autoptr (GBytes) png = make_png (16, 16);
  gsize len;
  const guint8 *d;

  d = g_bytes_get_data (jpeg, &len);
  g_assert_cmpint (
      cover_image_type_from_magic (d, len), ==, COVER_IMAGE_TYPE_JPEG);
  g_assert_cmpint (
      cover_image_type_from_magic (d, 3), ==, COVER_IMAGE_TYPE_JPEG);
  g_assert_cmpint (
      cover_image_type_from_magic (d, 2), ==, COVER_IMAGE_TYPE_UNKNOWN);
  d = g_bytes_get_data (png, &len);
  g_assert_cmpint (
      cover_image_type_from_magic (d, len), ==, COVER_IMAGE_TYPE_PNG);
  g_assert_cmpint (
      cover_image_type_from_magic (d, 8), ==, COVER_IMAGE_TYPE_PNG);
  g_assert_cmpint (
      cover_image_type_from_magic (d, 7), ==, COVER_IMAGE_TYPE_UNKNOWN);
  g_assert_cmpint (cover_image_type_from_magic ((const guint8 *) "GIF89a", 6),
      ==, COVER_IMAGE_TYPE_UNKNOWN);
  g_assert_cmpint (
      cover_image_type_from_magic (NULL, 0), ==, COVER_IMAGE_TYPE_UNKNOWN);

  g_assert_cmpstr (
      cover_image_type_to_mime (COVER_IMAGE_TYPE_JPEG), ==, "image/jpeg");
  g_assert_cmpstr (
      cover_image_type_to_mime (COVER_IMAGE_TYPE_PNG), ==, "image/png");
  g_assert_cmpstr (cover_image_type_to_mime (COVER_IMAGE_TYPE_UNKNOWN), ==,
      "application/octet-stream");
}

/* ---- sniffing ---- */

static void
test_sniff_valid (void)
{
  g_autoptr (GBytes) jpeg = make_jpeg (64, 48, 200, 30, 90);
  g_autoptr (GBytes) jpeg420 = NULL;
  g_autoptr (GBytes) grey = NULL;
  g_autoptr (GBytes) png = make_png (33, 17);
  g_autoptr (GBytes) rgba = NULL;
  g_autoptr (GBytes) grey_png = NULL;
  g_autofree guint8 *px = make_pattern (31, 7, 4);
  g_autofree guint8 *rgb = make_pattern (1, 1, 3);
  g_autoptr (GError) err = NULL;
  gsize len;
  const guint8 *d;

  assert_sniff_ok (jpeg, COVER_IMAGE_TYPE_JPEG, 64, 48);
  jpeg420 = cs_test_jpeg_encode (rgb, 1, 1, TJSAMP_420, 95);
  assert_sniff_ok (jpeg420, COVER_IMAGE_TYPE_JPEG, 1, 1);
  grey = cs_test_jpeg_encode (px, 5, 9, TJSAMP_GRAY, 95);
  assert_sniff_ok (grey, COVER_IMAGE_TYPE_JPEG, 5, 9);

  assert_sniff_ok (png, COVER_IMAGE_TYPE_PNG, 33, 17);
  rgba = cs_test_png_encode (px, 31, 7, PNG_FORMAT_RGBA);
  assert_sniff_ok (rgba, COVER_IMAGE_TYPE_PNG, 31, 7);
  grey_png = cs_test_png_encode (px, 3, 2, PNG_FORMAT_GRAY);
  assert_sniff_ok (grey_png, COVER_IMAGE_TYPE_PNG, 3, 2);

  /* width/height are optional */
  d = g_bytes_get_data (png, &len);
  g_assert_cmpint (
      cover_image_sniff (d, len, NULL, NULL, &err), ==, COVER_IMAGE_TYPE_PNG);
  g_assert_no_error (err);
  /* so is the error */
  g_assert_cmpint (
      cover_image_sniff ((const guint8 *) "x", 1, NULL, NULL, NULL), ==,
      COVER_IMAGE_TYPE_UNKNOWN);
}

static void
test_sniff_unsupported (void)
{
  static const gchar text[] = "Hello, this is not an image at all.\n";
  /* a whole 1x1 GIF */
  static const guint8 gif[] = { 'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80,
    0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21, 0xf9, 4, 1, 0, 0, 0, 0, 0x2c, 0, 0,
    0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3b };
  /* BITMAPFILEHEADER + BITMAPINFOHEADER of a 1x1 24-bit BMP, and its pixel */
  static const guint8 bmp[] = { 'B', 'M', 58, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0,
    40, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 24, 0, 0, 0, 0, 0, 4, 0, 0, 0,
    0x13, 0x0b, 0, 0, 0x13, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0 };
  static const guint8 one_ff[] = { 0xff };
  static const guint8 one_89[] = { 0x89 };
  static const guint8 png3[] = { 0x89, 'P', 'N' };
  static const guint8 riff[] = "RIFF\x10\0\0\0WEBPVP8 ";

  assert_sniff_fails (
      (const guint8 *) text, strlen (text), COVER_IMAGE_ERROR_UNSUPPORTED);
  assert_sniff_fails (NULL, 0, COVER_IMAGE_ERROR_UNSUPPORTED);
  assert_sniff_fails ((const guint8 *) "", 0, COVER_IMAGE_ERROR_UNSUPPORTED);
  assert_sniff_fails (one_ff, 1, COVER_IMAGE_ERROR_UNSUPPORTED);
  assert_sniff_fails (one_89, 1, COVER_IMAGE_ERROR_UNSUPPORTED);
  assert_sniff_fails (png3, 3, COVER_IMAGE_ERROR_UNSUPPORTED);
  assert_sniff_fails (gif, sizeof (gif), COVER_IMAGE_ERROR_UNSUPPORTED);
  assert_sniff_fails (gif, 6, COVER_IMAGE_ERROR_UNSUPPORTED);
  assert_sniff_fails (bmp, sizeof (bmp), COVER_IMAGE_ERROR_UNSUPPORTED);
  assert_sniff_fails (riff, sizeof (riff) - 1, COVER_IMAGE_ERROR_UNSUPPORTED);
}

static void
test_sniff_corrupt_png (void)
{
  g_autoptr (GBytes) png = make_png (20, 10);
  gsize len;
  const guint8 *d = g_bytes_get_data (png, &len);
  guint8 buf[64];
  g_autofree guint8 *bad_crc = NULL;
  g_autoptr (GBytes) zero = NULL;
  g_autoptr (GBytes) insane = NULL;
  gsize cut;

  g_assert_cmpuint (len, >, 33 + 12);

  /* signature + garbage */
  memcpy (buf, d, 8);
  memset (buf + 8, 'x', sizeof (buf) - 8);
  assert_sniff_fails (buf, sizeof (buf), COVER_IMAGE_ERROR_CORRUPT);
  /* signature + a chunk that is not IHDR, with a good CRC */
  memcpy (buf + 8, "\0\0\0\0IDAT", 8);
  put_be32 (buf + 16, crc32_png (buf + 12, 4));
  assert_sniff_fails (buf, 20, COVER_IMAGE_ERROR_CORRUPT);
  /* the signature damaged after its 4th byte (a text-mode transfer) */
  memcpy (buf, d, 33);
  buf[4] = '\n';
  assert_sniff_fails (buf, 33, COVER_IMAGE_ERROR_CORRUPT);

  /* IHDR's CRC wrong: one bit of the CRC, then one bit of the width */
  bad_crc = g_memdup2 (d, len);
  bad_crc[32] ^= 0x01;
  assert_sniff_fails (bad_crc, len, COVER_IMAGE_ERROR_CORRUPT);
  bad_crc[32] ^= 0x01;
  bad_crc[19] ^= 0x04;
  assert_sniff_fails (bad_crc, len, COVER_IMAGE_ERROR_CORRUPT);
  bad_crc[19] ^= 0x04;
  assert_sniff_ok (png, COVER_IMAGE_TYPE_PNG, 20, 10);

  /* cut anywhere from the 4th signature byte to the end of IHDR, and
   * before the header of the chunk after IHDR is whole */
  for (cut = 4; cut < 33 + 8; cut++)
    assert_sniff_fails (d, cut, COVER_IMAGE_ERROR_CORRUPT);

  /* a valid CRC over impossible values */
  zero = png_with_size (png, 0, 10);
  assert_sniff_fails_bytes (zero, COVER_IMAGE_ERROR_CORRUPT);
  insane = png_with_size (png, 0x80000000u, 10);
  assert_sniff_fails_bytes (insane, COVER_IMAGE_ERROR_CORRUPT);
}

static void
test_sniff_corrupt_jpeg (void)
{
  g_autoptr (GBytes) jpeg = make_jpeg (64, 48, 10, 20, 30);
  g_autoptr (GError) err = NULL;
  gsize len, sof, scan, i;
  const guint8 *d = g_bytes_get_data (jpeg, &len);
  static const gsize cuts[] = { 2, 3, 10, 100 };
  guint8 garbage[256];
  GRand *rand = g_rand_new_with_seed (42);
  guint w, h;

  sof = jpeg_find_marker (d, len, 0xc0);
  /* the cuts below really are before the SOF */
  g_assert_cmpuint (sof, >, 100);

  for (i = 0; i < G_N_ELEMENTS (cuts); i++)
    assert_sniff_fails (d, cuts[i], COVER_IMAGE_ERROR_CORRUPT);
  /* cut inside the SOF itself */
  assert_sniff_fails (d, sof + 6, COVER_IMAGE_ERROR_CORRUPT);

  /* SOI followed by garbage, with and without a marker's 0xFF */
  garbage[0] = 0xff;
  garbage[1] = 0xd8;
  for (i = 2; i < sizeof (garbage); i++)
    garbage[i] = g_rand_int_range (rand, 0, 0xff);
  assert_sniff_fails (garbage, sizeof (garbage), COVER_IMAGE_ERROR_CORRUPT);
  garbage[2] = 0xff;
  garbage[3] = 0xe0;
  assert_sniff_fails (garbage, sizeof (garbage), COVER_IMAGE_ERROR_CORRUPT);
  /* SOI, then at once EOI */
  garbage[2] = 0xff;
  garbage[3] = 0xd9;
  assert_sniff_fails (garbage, 4, COVER_IMAGE_ERROR_CORRUPT);

  /* Documented: sniffing reads the header only, so a JPEG cut after its
   * SOF but inside the scan is still a JPEG (decode_rgb() fills in grey). */
  scan = jpeg_scan_start (d, len);
  g_assert_cmpuint (scan, <, len - 2);
  g_assert_cmpint (
      cover_image_sniff (d, scan + 1, &w, &h, &err), ==, COVER_IMAGE_TYPE_JPEG);
  g_assert_no_error (err);
  g_assert_cmpuint (w, ==, 64);
  g_assert_cmpuint (h, ==, 48);

  g_rand_free (rand);
}

static void
test_sniff_huge (void)
{
  g_autoptr (GBytes) png = make_png (8, 8);
  g_autoptr (GBytes) jpeg = make_jpeg (8, 8, 0, 0, 0);
  /* a real image too big for us is unsupported, not corrupt; libjpeg
   * itself refuses sides over 65500 (its error: corrupt) */
  const gint unsupported = COVER_IMAGE_ERROR_UNSUPPORTED;
  struct
  {
    guint w, h;
    gint png_code, jpeg_code; /* -1: accepted */
  } sizes[] = {
    { 20000, 20000, unsupported, unsupported },
    { MAX_DIMENSION + 1, 1, unsupported, unsupported },
    { 1, MAX_DIMENSION + 1, unsupported, unsupported },
    { 65500, 65500, unsupported, unsupported },
    { 65535, 65535, unsupported, COVER_IMAGE_ERROR_CORRUPT },
    { 1000000, 1000000, unsupported, -1 /* not representable */ },
    { MAX_DIMENSION, 16, -1, -1 },
    { 16, MAX_DIMENSION, -1, -1 },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (sizes); i++) {
    g_autoptr (GBytes) p = png_with_size (png, sizes[i].w, sizes[i].h);
    gsize len;
    const guint8 *d;

    g_test_message ("%ux%u", sizes[i].w, sizes[i].h);
    if (sizes[i].png_code < 0) {
      assert_sniff_ok (p, COVER_IMAGE_TYPE_PNG, sizes[i].w, sizes[i].h);
    } else {
      assert_sniff_fails_bytes (p, sizes[i].png_code);
      /* and decode refuses before allocating anything */
      d = g_bytes_get_data (p, &len);
      assert_decode_fails (d, len, sizes[i].png_code);
    }

    if (sizes[i].w > 65535)
      continue;
    {
      g_autoptr (GBytes) j = jpeg_with_size (jpeg, sizes[i].w, sizes[i].h);

      if (sizes[i].jpeg_code < 0) {
        assert_sniff_ok (j, COVER_IMAGE_TYPE_JPEG, sizes[i].w, sizes[i].h);
      } else {
        assert_sniff_fails_bytes (j, sizes[i].jpeg_code);
        d = g_bytes_get_data (j, &len);
        assert_decode_fails (d, len, sizes[i].jpeg_code);
      }
    }
  }
}

static GBytes *
mutate (GRand *rand, GBytes *orig)
{
  gsize len, n, i;
  const guint8 *src = g_bytes_get_data (orig, &len);
  guint8 *d = g_memdup2 (src, len);

  switch (g_rand_int_range (rand, 0, 4)) {
    case 0: /* truncate */
      len = g_rand_int_range (rand, 0, len);
      break;
    case 1: /* flip a few bits */
      n = g_rand_int_range (rand, 1, 9);
      for (i = 0; i < n; i++)
        d[g_rand_int_range (rand, 0, len)] ^= 1
            << g_rand_int_range (rand, 0, 8);
      break;
    case 2: /* a run of random bytes, often in the header */
      i = g_rand_boolean (rand) ? g_rand_int_range (rand, 0, 200)
                                : g_rand_int_range (rand, 0, len);
      n = g_rand_int_range (rand, 1, 17);
      for (; n > 0 && i < len; n--, i++)
        d[i] = g_rand_int_range (rand, 0, 256);
      break;
    default: /* both */
      d[g_rand_int_range (rand, 0, len)] = g_rand_int_range (rand, 0, 256);
      len = g_rand_int_range (rand, 0, len);
      break;
  }
  return g_bytes_new_take (d, len);
}

static void
test_sniff_fuzz (void)
{
  g_autoptr (GBytes) jpeg = make_jpeg (40, 30, 90, 180, 20);
  g_autoptr (GBytes) png = make_png (40, 30);
  guint32 seed = 0xc0ffee;
  GRand *rand = g_rand_new_with_seed (seed);
  guint i, accepted = 0, decoded = 0;

  g_test_message ("seed %u", seed);
  for (i = 0; i < 2000; i++) {
    g_autoptr (GBytes) m = mutate (rand, i % 2 ? png : jpeg);
    g_autoptr (GError) err = NULL;
    gsize len;
    const guint8 *d = g_bytes_get_data (m, &len);
    guint w = 0, h = 0;
    CoverImageType type = cover_image_sniff (d, len, &w, &h, &err);

    if (type == COVER_IMAGE_TYPE_UNKNOWN) {
      g_assert_nonnull (err);
      g_assert_true (err->domain == COVER_IMAGE_ERROR);
      g_assert_true (err->code == COVER_IMAGE_ERROR_UNSUPPORTED ||
          err->code == COVER_IMAGE_ERROR_CORRUPT);
      g_assert_cmpuint (w, ==, 0);
      continue;
    }
    g_assert_no_error (err);
    g_assert_cmpuint (w, >=, 1);
    g_assert_cmpuint (h, >=, 1);
    g_assert_cmpuint (w, <=, MAX_DIMENSION);
    g_assert_cmpuint (h, <=, MAX_DIMENSION);
    accepted++;

    /* decode the small ones too (a mutated SOF can legally say 16000x9000,
     * which decodes, slowly, to grey) */
    if ((gsize) w * h <= 1024 * 1024) {
      guint8 *rgb = cover_image_decode_rgb (d, len, &w, &h, &err);

      if (rgb) {
        g_assert_no_error (err);
        g_assert_cmpuint (w, >=, 1);
        decoded++;
      } else {
        g_assert_nonnull (err);
      }
      g_free (rgb);
    }
  }
  g_test_message (
      "%u of 2000 mutations sniffed as images, %u decoded", accepted, decoded);
  /* the loop did exercise both outcomes */
  g_assert_cmpuint (accepted, >, 0);
  g_assert_cmpuint (accepted, <, 2000);
  g_rand_free (rand);
}

/* ---- decoding ---- */

static void
test_decode_jpeg (void)
{
  g_autoptr (GBytes) jpeg = make_jpeg (32, 24, 200, 30, 90);
  g_autofree guint8 *grey_in = make_pattern (9, 5, 1);
  g_autoptr (GBytes) grey = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree guint8 *rgb = NULL;
  g_autofree guint8 *grey_rgb = NULL;
  g_autofree guint8 *cut_rgb = NULL;
  gsize len;
  const guint8 *d = g_bytes_get_data (jpeg, &len);
  guint w = 0, h = 0, i;

  rgb = cover_image_decode_rgb (d, len, &w, &h, &err);
  g_assert_no_error (err);
  g_assert_nonnull (rgb);
  g_assert_cmpuint (w, ==, 32);
  g_assert_cmpuint (h, ==, 24);
  for (i = 0; i < w * h; i++) {
    g_assert_cmpint (ABS (rgb[3 * i] - 200), <=, 6);
    g_assert_cmpint (ABS (rgb[3 * i + 1] - 30), <=, 6);
    g_assert_cmpint (ABS (rgb[3 * i + 2] - 90), <=, 6);
  }

  /* grey JPEG → RGB with equal channels */
  {
    tjhandle tj = tjInitCompress ();
    unsigned char *buf = NULL;
    unsigned long blen = 0;

    g_assert_cmpint (tjCompress2 (tj, grey_in, 9, 0, 5, TJPF_GRAY, &buf, &blen,
                         TJSAMP_GRAY, 100, 0),
        ==, 0);
    grey = g_bytes_new (buf, blen);
    tjFree (buf);
    tjDestroy (tj);
  }
  d = g_bytes_get_data (grey, &len);
  grey_rgb = cover_image_decode_rgb (d, len, &w, &h, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (w, ==, 9);
  g_assert_cmpuint (h, ==, 5);
  for (i = 0; i < w * h; i++) {
    g_assert_cmpuint (grey_rgb[3 * i], ==, grey_rgb[3 * i + 1]);
    g_assert_cmpuint (grey_rgb[3 * i], ==, grey_rgb[3 * i + 2]);
    g_assert_cmpint (ABS (grey_rgb[3 * i] - grey_in[i]), <=, 3);
  }

  /* CMYK (TurboJPEG writes it as YCCK), in libjpeg-turbo's inverted
   * convention: R = C·K/255 and so on */
  {
    tjhandle tj = tjInitCompress ();
    guint8 cmyk_in[8 * 8 * 4];
    unsigned char *buf = NULL;
    unsigned long blen = 0;
    g_autofree guint8 *cmyk_rgb = NULL;

    for (i = 0; i < 8 * 8; i++) {
      cmyk_in[4 * i] = 255;
      cmyk_in[4 * i + 1] = 128;
      cmyk_in[4 * i + 2] = 0;
      cmyk_in[4 * i + 3] = 200;
    }
    g_assert_cmpint (tjCompress2 (tj, cmyk_in, 8, 0, 8, TJPF_CMYK, &buf, &blen,
                         TJSAMP_444, 100, 0),
        ==, 0);
    cmyk_rgb = cover_image_decode_rgb (buf, blen, &w, &h, &err);
    g_assert_no_error (err);
    g_assert_cmpuint (w, ==, 8);
    g_assert_cmpuint (h, ==, 8);
    for (i = 0; i < w * h; i++) {
      g_assert_cmpint (ABS (cmyk_rgb[3 * i] - 200), <=, 3);
      g_assert_cmpint (ABS (cmyk_rgb[3 * i + 1] - 100), <=, 3);
      g_assert_cmpint (ABS (cmyk_rgb[3 * i + 2] - 0), <=, 3);
    }
    tjFree (buf);
    tjDestroy (tj);
  }

  /* Documented: a JPEG cut inside its scan decodes (libjpeg's warning),
   * the missing part filled in. */
  d = g_bytes_get_data (jpeg, &len);
  cut_rgb =
      cover_image_decode_rgb (d, jpeg_scan_start (d, len) + 1, &w, &h, &err);
  g_assert_no_error (err);
  g_assert_nonnull (cut_rgb);
  g_assert_cmpuint (w, ==, 32);
}

static void
test_decode_png (void)
{
  g_autofree guint8 *px = make_pattern (37, 11, 3);
  g_autofree guint8 *rgba = make_pattern (4, 1, 4);
  g_autoptr (GBytes) png = cs_test_png_encode (px, 37, 11, PNG_FORMAT_RGB);
  g_autoptr (GBytes) alpha = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree guint8 *rgb = NULL;
  g_autofree guint8 *alpha_rgb = NULL;
  gsize len;
  const guint8 *d = g_bytes_get_data (png, &len);
  guint w = 0, h = 0;

  rgb = cover_image_decode_rgb (d, len, &w, &h, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (w, ==, 37);
  g_assert_cmpuint (h, ==, 11);
  g_assert_cmpmem (rgb, 37 * 11 * 3, px, 37 * 11 * 3);

  /* alpha is composited onto white: transparent → white, opaque → itself */
  rgba[3] = 0;
  rgba[7] = 255;
  rgba[8] = 0;
  rgba[9] = 0;
  rgba[10] = 0;
  rgba[11] = 0;
  rgba[15] = 255;
  alpha = cs_test_png_encode (rgba, 4, 1, PNG_FORMAT_RGBA);
  d = g_bytes_get_data (alpha, &len);
  alpha_rgb = cover_image_decode_rgb (d, len, &w, &h, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (w, ==, 4);
  g_assert_cmpuint (h, ==, 1);
  g_assert_cmpmem (alpha_rgb, 3, "\xff\xff\xff", 3);
  g_assert_cmpmem (alpha_rgb + 3, 3, rgba + 4, 3);
  g_assert_cmpmem (alpha_rgb + 6, 3, "\xff\xff\xff", 3);
  g_assert_cmpmem (alpha_rgb + 9, 3, rgba + 12, 3);
}

static void
test_decode_errors (void)
{
  g_autoptr (GBytes) png = make_png (64, 64);
  g_autoptr (GBytes) jpeg = make_jpeg (16, 16, 1, 1, 1);
  gsize len;
  const guint8 *d;
  guint8 buf[64];

  assert_decode_fails (
      (const guint8 *) "plain text", 10, COVER_IMAGE_ERROR_UNSUPPORTED);
  assert_decode_fails (NULL, 0, COVER_IMAGE_ERROR_UNSUPPORTED);

  d = g_bytes_get_data (png, &len);
  memcpy (buf, d, 8);
  memset (buf + 8, 0x5a, sizeof (buf) - 8);
  assert_decode_fails (buf, sizeof (buf), COVER_IMAGE_ERROR_CORRUPT);
  assert_decode_fails (d, 20, COVER_IMAGE_ERROR_CORRUPT);
  /* PNG's image data is checked as it is read: a cut one is an error */
  assert_decode_fails (d, len / 2, COVER_IMAGE_ERROR_CORRUPT);

  d = g_bytes_get_data (jpeg, &len);
  assert_decode_fails (d, 10, COVER_IMAGE_ERROR_CORRUPT);
  memcpy (buf, d, 2);
  memset (buf + 2, 0x5a, sizeof (buf) - 2);
  assert_decode_fails (buf, sizeof (buf), COVER_IMAGE_ERROR_CORRUPT);
}

/* ---- durable storing ---- */

typedef struct
{
  gchar *dir;
} StoreFixture;

static void
store_setup (StoreFixture *f, gconstpointer data)
{
  f->dir = cs_test_make_tmpdir ("coversnap-image-XXXXXX");
}

static void
store_teardown (StoreFixture *f, gconstpointer data)
{
  cs_test_tmpdir_free (f->dir);
}

/* The sorted names in @dir, hidden ones included, joined by spaces. */
static gchar *
list_dir (const gchar *dir)
{
  g_autoptr (GPtrArray) names = NULL;

  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  names = cs_test_list_dir (dir, NULL, FALSE);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (gchar **) names->pdata);
}

static void
assert_file_is (const gchar *path, GBytes *want)
{
  g_autofree gchar *got = NULL;
  gsize got_len = 0;
  gsize want_len;
  const guint8 *w = g_bytes_get_data (want, &want_len);

  g_assert_true (g_file_get_contents (path, &got, &got_len, NULL));
  g_assert_cmpmem (got, got_len, w, want_len);
}

static GBytes *
random_bytes (gsize len, guint32 seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  guint8 *d = g_malloc (len ? len : 1);
  gsize i;

  for (i = 0; i < len; i++)
    d[i] = g_rand_int_range (rand, 0, 256);
  g_rand_free (rand);
  return g_bytes_new_take (d, len);
}

static void
test_store_new (StoreFixture *f, gconstpointer unused)
{
  g_autofree gchar *sub = g_build_filename (f->dir, "uploads", "12", NULL);
  g_autofree gchar *path = g_build_filename (sub, "cover.jpg", NULL);
  g_autofree gchar *names = NULL;
  g_autoptr (GBytes) data = random_bytes (100000, 1);
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GError) err = NULL;
  GStatBuf st;

  /* the directory is missing, two levels deep */
  g_assert_true (cover_image_store_durably (path, data, 0640, &err));
  g_assert_no_error (err);
  assert_file_is (path, data);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0640);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (g_stat (sub, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0750);
  names = list_dir (sub);
  g_assert_cmpstr (names, ==, "cover.jpg");

  /* the mode is the one asked for, not the temporary file's or umask's */
  g_assert_true (cover_image_store_durably (path, data, 0604, &err));
  g_assert_no_error (err);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0604);

  /* empty data is stored as an empty file */
  g_assert_true (cover_image_store_durably (path, empty, 0600, &err));
  g_assert_no_error (err);
  assert_file_is (path, empty);
  g_free (names);
  names = list_dir (sub);
  g_assert_cmpstr (names, ==, "cover.jpg");
}

static void
test_store_replace (StoreFixture *f, gconstpointer unused)
{
  g_autofree gchar *path = g_build_filename (f->dir, "cover.png", NULL);
  g_autofree gchar *names = NULL;
  g_autoptr (GBytes) old = random_bytes (5000, 2);
  g_autoptr (GBytes) new = random_bytes (7000, 3);
  g_autoptr (GError) err = NULL;
  guint8 buf[5000 + 1];
  GStatBuf st_old, st_new;
  int fd;

  g_assert_true (cover_image_store_durably (path, old, 0644, &err));
  g_assert_no_error (err);
  g_assert_cmpint (g_stat (path, &st_old), ==, 0);
  /* a reader that opened the old cover before the replacement */
  fd = g_open (path, O_RDONLY, 0);
  g_assert_cmpint (fd, >=, 0);

  g_assert_true (cover_image_store_durably (path, new, 0644, &err));
  g_assert_no_error (err);
  assert_file_is (path, new);
  names = list_dir (f->dir);
  g_assert_cmpstr (names, ==, "cover.png");

  /* replaced by rename: a new inode, and the old reader still sees every
   * old byte (the old file was never written in place) */
  g_assert_cmpint (g_stat (path, &st_new), ==, 0);
  g_assert_cmpuint (st_new.st_ino, !=, st_old.st_ino);
  g_assert_cmpint (read (fd, buf, sizeof (buf)), ==, 5000);
  g_assert_cmpmem (buf, 5000, g_bytes_get_data (old, NULL), 5000);
  close (fd);
}

/* In a child: a file size limit below the data, SIGXFSZ ignored so that
 * write() fails with EFBIG.  Exit codes say what went wrong. */
static int
store_under_fsize_limit (const gchar *path, GBytes *data)
{
  struct rlimit lim = { 4096, 4096 };
  GError *err = NULL;

  signal (SIGXFSZ, SIG_IGN);
  if (setrlimit (RLIMIT_FSIZE, &lim) < 0)
    return 10;
  if (cover_image_store_durably (path, data, 0644, &err))
    return 11;
  if (err == NULL || err->domain != COVER_IMAGE_ERROR)
    return 12;
  if (err->code != COVER_IMAGE_ERROR_IO)
    return 13;
  /* the message names the file and the reason */
  if (strstr (err->message, path) == NULL)
    return 14;
  if (strstr (err->message, g_strerror (EFBIG)) == NULL)
    return 15;
  g_error_free (err);
  return 0;
}

static void
test_store_failure_keeps_old (StoreFixture *f, gconstpointer unused)
{
  g_autofree gchar *path = g_build_filename (f->dir, "cover.jpg", NULL);
  g_autofree gchar *names = NULL;
  g_autoptr (GBytes) old = random_bytes (3000, 4);
  g_autoptr (GBytes) big = random_bytes (64 * 1024, 5);
  g_autoptr (GError) err = NULL;
  int status = 0;
  pid_t pid;

  g_assert_true (cover_image_store_durably (path, old, 0644, &err));
  g_assert_no_error (err);

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (store_under_fsize_limit (path, big));
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);

  /* the old cover byte for byte, and no temporary file left */
  assert_file_is (path, old);
  names = list_dir (f->dir);
  g_assert_cmpstr (names, ==, "cover.jpg");

  /* and without the limit the same data goes in */
  g_assert_true (cover_image_store_durably (path, big, 0644, &err));
  g_assert_no_error (err);
  assert_file_is (path, big);
}

static void
test_store_bad_paths (StoreFixture *f, gconstpointer unused)
{
  g_autofree gchar *file = g_build_filename (f->dir, "plain", NULL);
  g_autofree gchar *under_file = g_build_filename (file, "cover.jpg", NULL);
  g_autofree gchar *deeper = g_build_filename (file, "a", "cover.jpg", NULL);
  g_autofree gchar *subdir = g_build_filename (f->dir, "adir", NULL);
  g_autofree gchar *names = NULL;
  g_autoptr (GBytes) data = random_bytes (100, 6);
  GError *err = NULL;

  g_assert_true (g_file_set_contents (file, "not a directory", -1, NULL));

  /* the path's directory is a regular file */
  g_assert_false (cover_image_store_durably (under_file, data, 0644, &err));
  g_assert_error (err, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_IO);
  g_assert_nonnull (strstr (err->message, file));
  g_clear_error (&err);
  g_assert_false (cover_image_store_durably (deeper, data, 0644, &err));
  g_assert_error (err, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_IO);
  g_clear_error (&err);

  /* the path is a directory: the rename fails, nothing is left behind */
  g_assert_cmpint (g_mkdir (subdir, 0755), ==, 0);
  g_assert_false (cover_image_store_durably (subdir, data, 0644, &err));
  g_assert_error (err, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_IO);
  g_assert_nonnull (strstr (err->message, subdir));
  g_clear_error (&err);

  names = list_dir (f->dir);
  g_assert_cmpstr (names, ==, "adir plain");
  g_free (names);
  names = list_dir (subdir);
  g_assert_cmpstr (names, ==, "");
}

int
main (int argc, char **argv)
{
  /* directories are checked against the 0750 asked for */
  umask (022);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/image/magic", test_magic);
  g_test_add_func ("/image/sniff/valid", test_sniff_valid);
  g_test_add_func ("/image/sniff/unsupported", test_sniff_unsupported);
  g_test_add_func ("/image/sniff/corrupt-png", test_sniff_corrupt_png);
  g_test_add_func ("/image/sniff/corrupt-jpeg", test_sniff_corrupt_jpeg);
  g_test_add_func ("/image/sniff/huge", test_sniff_huge);
  g_test_add_func ("/image/sniff/fuzz", test_sniff_fuzz);
  g_test_add_func ("/image/decode/jpeg", test_decode_jpeg);
  g_test_add_func ("/image/decode/png", test_decode_png);
  g_test_add_func ("/image/decode/errors", test_decode_errors);
  g_test_add ("/image/store/new", StoreFixture, NULL, store_setup,
      test_store_new, store_teardown);
  g_test_add ("/image/store/replace", StoreFixture, NULL, store_setup,
      test_store_replace, store_teardown);
  g_test_add ("/image/store/failure-keeps-old", StoreFixture, NULL, store_setup,
      test_store_failure_keeps_old, store_teardown);
  g_test_add ("/image/store/bad-paths", StoreFixture, NULL, store_setup,
      test_store_bad_paths, store_teardown);

  return g_test_run ();
}
