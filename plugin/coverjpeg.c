/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Frame → JPEG with TurboJPEG, straight from the decoder's YUV planes when
 * they already are what JFIF means (planar 8-bit YUV, BT.601 matrix, full
 * range).  Decoded H.264 / H.265 is limited range, and BT.709 above SD,
 * while JPEG viewers assume full-range BT.601.
 *
 * GstVideoConverter does the format, size and matrix changes (its ORC
 * paths take about 2 ms for a 1080p BT.709 → BT.601 pass here).  It does
 * not, in 1.22, expand the range when the matrix stays the same (limited
 * BT.601 Y=235 comes out 235, also when scaling): that one step is a
 * 256-entry table lookup done here (expand_range()). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "coverjpeg-frame.h"

#include <string.h>
#include <turbojpeg.h>

G_DEFINE_QUARK (cover-jpeg-error-quark, cover_jpeg_error);

struct _CoverEncoder
{
  tjhandle tj;
  guint8 *jpeg; /* tjAlloc()ed, worst case for the last size */
  unsigned long jpeg_capacity;
  unsigned long jpeg_len;

  GstVideoConverter *convert;
  GstVideoInfo convert_in;
  GstVideoInfo convert_out;

  GstBuffer *scratch; /* holds a converted or range-expanded frame */

  guint8 luma[256];
  guint8 chroma[256];
};

CoverEncoder *
cover_encoder_new (void)
{
  CoverEncoder *enc = g_new0 (CoverEncoder, 1);
  int i;

  enc->tj = tjInitCompress ();
  if (!enc->tj) {
    g_free (enc);
    return NULL;
  }
  /* limited range: Y 16..235, Cb/Cr 16..240 around 128 */
  for (i = 0; i < 256; i++) {
    enc->luma[i] = CLAMP ((i - 16) * 255 / 219.0 + 0.5, 0, 255);
    enc->chroma[i] = CLAMP ((i - 128) * 255 / 224.0 + 128.5, 0, 255);
  }
  return enc;
}

void
cover_encoder_free (CoverEncoder *enc)
{
  if (!enc)
    return;
  if (enc->convert)
    gst_video_converter_free (enc->convert);
  gst_clear_buffer (&enc->scratch);
  tjFree (enc->jpeg);
  tjDestroy (enc->tj);
  g_free (enc);
}

void
cover_fit_size (guint width, guint height, gint par_n, gint par_d,
    guint max_width, guint max_height, guint *out_width, guint *out_height)
{
  gdouble w = width, h = height, scale = 1.0;

  g_return_if_fail (out_width != NULL && out_height != NULL);

  /* covers are shown with square pixels */
  if (par_n > 0 && par_d > 0 && par_n != par_d)
    w = w * par_n / par_d;
  if (max_width > 0 && w > max_width)
    scale = MIN (scale, max_width / w);
  if (max_height > 0 && h > max_height)
    scale = MIN (scale, max_height / h);
  *out_width = MAX (1, (guint) (w * scale + 0.5));
  *out_height = MAX (1, (guint) (h * scale + 0.5));
  if (max_width > 0)
    *out_width = MIN (*out_width, max_width);
  if (max_height > 0)
    *out_height = MIN (*out_height, max_height);
}

static int
yuv_subsampling (GstVideoFormat format)
{
  switch (format) {
    case GST_VIDEO_FORMAT_I420:
    case GST_VIDEO_FORMAT_YV12:
      return TJSAMP_420;
    case GST_VIDEO_FORMAT_Y42B:
      return TJSAMP_422;
    case GST_VIDEO_FORMAT_Y444:
      return TJSAMP_444;
    case GST_VIDEO_FORMAT_GRAY8:
      return TJSAMP_GRAY;
    default:
      return -1;
  }
}

static int
rgb_pixel_format (GstVideoFormat format)
{
  switch (format) {
    case GST_VIDEO_FORMAT_RGB:
      return TJPF_RGB;
    case GST_VIDEO_FORMAT_BGR:
      return TJPF_BGR;
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_RGBA:
      return TJPF_RGBX;
    case GST_VIDEO_FORMAT_BGRx:
    case GST_VIDEO_FORMAT_BGRA:
      return TJPF_BGRX;
    case GST_VIDEO_FORMAT_xRGB:
    case GST_VIDEO_FORMAT_ARGB:
      return TJPF_XRGB;
    case GST_VIDEO_FORMAT_xBGR:
    case GST_VIDEO_FORMAT_ABGR:
      return TJPF_XBGR;
    default:
      return -1;
  }
}

/* What TurboJPEG's YUV input means: BT.601 matrix, full range. */
static void
jfif_colorimetry (GstVideoColorimetry *c)
{
  gst_video_colorimetry_from_string (c, GST_VIDEO_COLORIMETRY_BT601);
  c->range = GST_VIDEO_COLOR_RANGE_0_255;
}

static gboolean
is_limited_range (const GstVideoInfo *info)
{
  /* GStreamer's convention: YUV of unknown range is limited range */
  return GST_VIDEO_INFO_IS_YUV (info) &&
      info->colorimetry.range != GST_VIDEO_COLOR_RANGE_0_255;
}

static gboolean
is_bt601 (const GstVideoInfo *info)
{
  return info->colorimetry.matrix == GST_VIDEO_COLOR_MATRIX_BT601;
}

/* The scratch frame gets a layout of its own: @like may describe a
 * decoder's padded buffer (strides from its video meta). */
static gboolean
map_scratch (CoverEncoder *enc, const GstVideoInfo *like, GstVideoFrame *frame)
{
  GstVideoInfo info;

  gst_video_info_set_format (&info, GST_VIDEO_INFO_FORMAT (like),
      GST_VIDEO_INFO_WIDTH (like), GST_VIDEO_INFO_HEIGHT (like));
  info.colorimetry = like->colorimetry;
  info.chroma_site = like->chroma_site;
  if (!enc->scratch || gst_buffer_get_size (enc->scratch) < info.size) {
    gst_clear_buffer (&enc->scratch);
    enc->scratch = gst_buffer_new_allocate (NULL, info.size, NULL);
  }
  return gst_video_frame_map (frame, &info, enc->scratch, GST_MAP_WRITE);
}

/* One pass: format, size, and for YUV of another matrix the JFIF matrix and
 * range.  BT.601 keeps its range here (see the top of the file). */
static gboolean
convert_frame (CoverEncoder *enc, GstVideoFrame *in, GstVideoFormat format,
    guint width, guint height, GstVideoFrame *out)
{
  GstVideoInfo info;

  gst_video_info_set_format (&info, format, width, height);
  /* the converter insists on the same rate and interlacing on both sides */
  info.fps_n = in->info.fps_n;
  info.fps_d = in->info.fps_d;
  info.interlace_mode = in->info.interlace_mode;
  info.chroma_site = in->info.chroma_site;
  if (GST_VIDEO_INFO_IS_YUV (&info) && GST_VIDEO_INFO_IS_YUV (&in->info) &&
      is_bt601 (&in->info))
    info.colorimetry = in->info.colorimetry;
  else if (GST_VIDEO_INFO_IS_YUV (&info))
    jfif_colorimetry (&info.colorimetry);

  if (!enc->convert || !gst_video_info_is_equal (&enc->convert_in, &in->info) ||
      !gst_video_info_is_equal (&enc->convert_out, &info)) {
    if (enc->convert)
      gst_video_converter_free (enc->convert);
    /* the worker pool already spreads work over the cores */
    enc->convert = gst_video_converter_new (&in->info, &info,
        gst_structure_new ("options", GST_VIDEO_CONVERTER_OPT_THREADS,
            G_TYPE_UINT, 1, GST_VIDEO_CONVERTER_OPT_DITHER_METHOD,
            GST_TYPE_VIDEO_DITHER_METHOD, GST_VIDEO_DITHER_NONE,
            /* cubic overshoots: flat areas brighten when shrinking 3:1 */
            GST_VIDEO_CONVERTER_OPT_RESAMPLER_METHOD,
            GST_TYPE_VIDEO_RESAMPLER_METHOD, GST_VIDEO_RESAMPLER_METHOD_LINEAR,
            NULL));
    if (!enc->convert)
      return FALSE;
    enc->convert_in = in->info;
    enc->convert_out = info;
  }
  if (!map_scratch (enc, &info, out))
    return FALSE;
  gst_video_converter_frame (enc->convert, in, out);
  return TRUE;
}

static void
lut_plane (const guint8 *lut, const guint8 *src, gint src_stride, guint8 *dst,
    gint dst_stride, gint width, gint height)
{
  gint x, y;

  for (y = 0; y < height; y++) {
    const guint8 *s = src + (gsize) y * src_stride;
    guint8 *d = dst + (gsize) y * dst_stride;

    for (x = 0; x < width; x++)
      d[x] = lut[s[x]];
  }
}

static void
expand_range (CoverEncoder *enc, GstVideoFrame *src, GstVideoFrame *dst)
{
  guint c;

  for (c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS (src); c++)
    lut_plane (c == 0 ? enc->luma : enc->chroma,
        GST_VIDEO_FRAME_COMP_DATA (src, c),
        GST_VIDEO_FRAME_COMP_STRIDE (src, c),
        GST_VIDEO_FRAME_COMP_DATA (dst, c),
        GST_VIDEO_FRAME_COMP_STRIDE (dst, c),
        GST_VIDEO_FRAME_COMP_WIDTH (src, c),
        GST_VIDEO_FRAME_COMP_HEIGHT (src, c));
}

static gboolean
ensure_jpeg_capacity (CoverEncoder *enc, gint width, gint height, int subsamp)
{
  unsigned long need = tjBufSize (width, height, subsamp);

  if (need == (unsigned long) -1)
    return FALSE;
  if (enc->jpeg_capacity >= need)
    return TRUE;
  tjFree (enc->jpeg);
  enc->jpeg = tjAlloc (need);
  enc->jpeg_capacity = enc->jpeg ? need : 0;
  return enc->jpeg != NULL;
}

gboolean
cover_encoder_encode (CoverEncoder *enc, GstVideoFrame *frame, guint quality,
    guint max_width, guint max_height, const guint8 **jpeg, gsize *jpeg_size,
    guint *width, guint *height, GError **error)
{
  GstVideoInfo *in = &frame->info;
  GstVideoFormat format = GST_VIDEO_INFO_FORMAT (in);
  GstVideoFrame scratch;
  GstVideoFrame *src = frame;
  gboolean mapped = FALSE;
  guint out_w, out_h, enc_w, enc_h;
  int subsamp, pf, res;

  g_return_val_if_fail (enc != NULL, FALSE);
  g_return_val_if_fail (frame != NULL, FALSE);
  g_return_val_if_fail (jpeg != NULL && jpeg_size != NULL, FALSE);
  g_return_val_if_fail (width != NULL && height != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  cover_fit_size (GST_VIDEO_INFO_WIDTH (in), GST_VIDEO_INFO_HEIGHT (in),
      GST_VIDEO_INFO_PAR_N (in), GST_VIDEO_INFO_PAR_D (in), max_width,
      max_height, &out_w, &out_h);

  subsamp = yuv_subsampling (format);
  pf = rgb_pixel_format (format);
  if (subsamp < 0 && pf < 0) {
    /* anything else: YUV → I420, grey → GRAY8, RGB-like → BGRx */
    if (GST_VIDEO_INFO_IS_YUV (in))
      format = GST_VIDEO_FORMAT_I420;
    else if (GST_VIDEO_INFO_IS_GRAY (in))
      format = GST_VIDEO_FORMAT_GRAY8;
    else
      format = GST_VIDEO_FORMAT_BGRx;
    subsamp = yuv_subsampling (format);
    pf = rgb_pixel_format (format);
  }

  if (format != GST_VIDEO_INFO_FORMAT (in) ||
      out_w != (guint) GST_VIDEO_INFO_WIDTH (in) ||
      out_h != (guint) GST_VIDEO_INFO_HEIGHT (in) ||
      (GST_VIDEO_INFO_IS_YUV (in) && !is_bt601 (in))) {
    if (!convert_frame (enc, frame, format, out_w, out_h, &scratch))
      goto convert_failed;
    src = &scratch;
    mapped = TRUE;
  }

  if (subsamp >= 0 && is_limited_range (&src->info)) {
    if (!mapped) {
      if (!map_scratch (enc, &frame->info, &scratch))
        goto convert_failed;
      mapped = TRUE;
    }
    /* in place when src is already the scratch frame */
    expand_range (enc, src, &scratch);
    src = &scratch;
  }

  enc_w = GST_VIDEO_FRAME_WIDTH (src);
  enc_h = GST_VIDEO_FRAME_HEIGHT (src);
  /* TurboJPEG reads subsampled planes up to even sizes: an odd last column
   * or row would pull in stride padding (or the next plane) and ring into
   * the picture.  A cover one pixel smaller is the better deal. */
  if ((subsamp == TJSAMP_420 || subsamp == TJSAMP_422) && enc_w > 1)
    enc_w &= ~1u;
  if (subsamp == TJSAMP_420 && enc_h > 1)
    enc_h &= ~1u;
  *width = enc_w;
  *height = enc_h;

  /* room for the worst case up front, so TurboJPEG never reallocates */
  if (!ensure_jpeg_capacity (
          enc, enc_w, enc_h, subsamp >= 0 ? subsamp : TJSAMP_420)) {
    res = -1;
  } else if (subsamp >= 0) {
    const unsigned char *planes[3];
    int strides[3];
    guint c, n = GST_VIDEO_FRAME_N_COMPONENTS (src);

    for (c = 0; c < 3; c++) {
      planes[c] = c < n ? GST_VIDEO_FRAME_COMP_DATA (src, c) : NULL;
      strides[c] = c < n ? GST_VIDEO_FRAME_COMP_STRIDE (src, c) : 0;
    }
    enc->jpeg_len = enc->jpeg_capacity;
    res = tjCompressFromYUVPlanes (enc->tj, planes, enc_w, strides, enc_h,
        subsamp, &enc->jpeg, &enc->jpeg_len, quality, TJFLAG_NOREALLOC);
  } else {
    enc->jpeg_len = enc->jpeg_capacity;
    res = tjCompress2 (enc->tj, GST_VIDEO_FRAME_PLANE_DATA (src, 0), enc_w,
        GST_VIDEO_FRAME_PLANE_STRIDE (src, 0), enc_h, pf, &enc->jpeg,
        &enc->jpeg_len, TJSAMP_420, quality, TJFLAG_NOREALLOC);
  }
  if (mapped)
    gst_video_frame_unmap (&scratch);
  if (res != 0)
    goto encode_failed;

  *jpeg = enc->jpeg;
  *jpeg_size = enc->jpeg_len;
  return TRUE;

  /* ERRORS */
convert_failed : {
  g_set_error (error, COVER_JPEG_ERROR, COVER_JPEG_ERROR_FORMAT,
      "Cannot convert %s %dx%d to %s %ux%u for JPEG",
      gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (in)),
      GST_VIDEO_INFO_WIDTH (in), GST_VIDEO_INFO_HEIGHT (in),
      gst_video_format_to_string (format), out_w, out_h);
  return FALSE;
}
encode_failed : {
  g_set_error (error, COVER_JPEG_ERROR, COVER_JPEG_ERROR_ENCODE,
      "TurboJPEG could not encode a %ux%u frame: %s", *width, *height,
      tjGetErrorStr2 (enc->tj));
  return FALSE;
}
}

gboolean
cover_jpeg_get_size (
    const guint8 *data, gsize size, guint *width, guint *height, GError **error)
{
  int w = 0, h = 0, subsamp = 0, colorspace = 0, res;
  tjhandle tj;

  g_return_val_if_fail (data != NULL || size == 0, FALSE);
  g_return_val_if_fail (width != NULL && height != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  tj = tjInitDecompress ();
  if (!tj) {
    g_set_error (error, COVER_JPEG_ERROR, COVER_JPEG_ERROR_DECODE,
        "Could not create a TurboJPEG decompressor");
    return FALSE;
  }
  res = tjDecompressHeader3 (tj, data, size, &w, &h, &subsamp, &colorspace);
  if (res != 0 || w <= 0 || h <= 0) {
    g_set_error (error, COVER_JPEG_ERROR, COVER_JPEG_ERROR_DECODE,
        "Not a JPEG image: %s", tjGetErrorStr2 (tj));
    tjDestroy (tj);
    return FALSE;
  }
  tjDestroy (tj);
  *width = w;
  *height = h;
  return TRUE;
}

/* Y sampling factors (h << 4 | v) of 4:2:0, 4:2:2 and 4:4:4, chroma 1x1 */
static gboolean
is_jfif_sampling (const guint8 *comps, guint n)
{
  guint8 y = comps[1];

  if (n == 1)
    return TRUE;
  return (y == 0x22 || y == 0x21 || y == 0x11) && comps[4] == 0x11 &&
      comps[7] == 0x11;
}

/* byte by byte: GST_READ_UINT16_BE() loads a (misaligned) guint16 */
static guint
read_be16 (const guint8 *p)
{
  return (guint) p[0] << 8 | p[1];
}

/* The frame header (SOF0): precision, height, width, components. */
static gboolean
read_sof0 (const guint8 *seg, guint len, guint *width, guint *height)
{
  guint n;

  if (len < 6 || seg[0] != 8)
    return FALSE;
  *height = read_be16 (seg + 1);
  *width = read_be16 (seg + 3);
  n = seg[5];
  /* a height of 0 (given later by DNL) is legal and shown by nobody */
  return *width > 0 && *height > 0 && (n == 1 || n == 3) && len >= 6 + 3 * n &&
      is_jfif_sampling (seg + 6, n);
}

gboolean
cover_jpeg_is_baseline (
    const guint8 *data, gsize size, guint *width, guint *height)
{
  gboolean sof = FALSE, rgb = FALSE;
  gsize pos = 2, end = size;

  g_return_val_if_fail (data != NULL || size == 0, FALSE);
  g_return_val_if_fail (width != NULL && height != NULL, FALSE);

  if (size < 4 || data[0] != 0xff || data[1] != 0xd8)
    return FALSE;
  /* some senders pad the frame after EOI */
  while (end > 4 && data[end - 1] == 0 && size - end < 16)
    end--;
  if (data[end - 2] != 0xff || data[end - 1] != 0xd9)
    return FALSE;

  while (pos + 4 <= end) {
    guint8 marker;
    guint len;

    if (data[pos] != 0xff)
      return FALSE;
    marker = data[pos + 1];
    if (marker == 0xff) { /* fill byte */
      pos++;
      continue;
    }
    len = read_be16 (data + pos + 2);
    if (len < 2 || pos + 2 + len > end)
      return FALSE;
    if (marker == 0xda) /* SOS: the headers are over */
      return sof && !rgb;
    if (marker == 0xc0) {
      if (sof || !read_sof0 (data + pos + 4, len - 2, width, height))
        return FALSE;
      sof = TRUE;
    } else if (marker >= 0xc1 && marker <= 0xcf && marker != 0xc4 &&
        marker != 0xc8 && marker != 0xcc) {
      return FALSE; /* progressive, extended, lossless, arithmetic */
    } else if (marker == 0xee && len >= 14 &&
        memcmp (data + pos + 4, "Adobe", 5) == 0) {
      /* Adobe transform 0 with three components: RGB, not YCbCr */
      rgb = data[pos + 4 + 11] == 0;
    }
    pos += 2 + len;
  }
  return FALSE;
}

guint8 *
cover_jpeg_decode_rgb (
    const guint8 *data, gsize size, guint *width, guint *height, GError **error)
{
  tjhandle tj;
  guint8 *rgb;
  guint w, h;

  g_return_val_if_fail (width != NULL && height != NULL, NULL);

  if (!cover_jpeg_get_size (data, size, &w, &h, error))
    return NULL;
  /* a header is 600 bytes; what it claims is not free to allocate */
  if ((guint64) w * h > COVER_JPEG_MAX_DECODE_PIXELS) {
    g_set_error (error, COVER_JPEG_ERROR, COVER_JPEG_ERROR_DECODE,
        "A %ux%u JPEG is too large to decode (at most %u pixels)", w, h,
        COVER_JPEG_MAX_DECODE_PIXELS);
    return NULL;
  }
  tj = tjInitDecompress ();
  if (!tj) {
    g_set_error (error, COVER_JPEG_ERROR, COVER_JPEG_ERROR_DECODE,
        "TurboJPEG cannot make a decompressor: %s", tjGetErrorStr2 (NULL));
    return NULL;
  }
  rgb = g_malloc ((gsize) w * h * 3);
  /* TJFLAG_STOPONWARNING: a truncated JPEG is an error, not a grey tail */
  if (tjDecompress2 (
          tj, data, size, rgb, w, 0, h, TJPF_RGB, TJFLAG_STOPONWARNING) != 0) {
    g_set_error (error, COVER_JPEG_ERROR, COVER_JPEG_ERROR_DECODE,
        "Corrupt JPEG image: %s", tjGetErrorStr2 (tj));
    g_free (rgb);
    tjDestroy (tj);
    return NULL;
  }
  tjDestroy (tj);
  *width = w;
  *height = h;
  return rgb;
}

GBytes *
cover_image_resize (CoverEncoder *enc, const guint8 *rgb, guint width,
    guint height, guint quality, guint max_width, guint max_height,
    guint *out_width, guint *out_height, GError **error)
{
  gsize size = (gsize) width * height * 3;
  const guint8 *jpeg;
  gsize jpeg_size;
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buf;
  gboolean ok;

  g_return_val_if_fail (enc != NULL, NULL);
  g_return_val_if_fail (rgb != NULL, NULL);
  g_return_val_if_fail (width > 0 && height > 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, width, height);
  /* our rows are packed; GStreamer's RGB wants 4-byte aligned rows */
  info.stride[0] = width * 3;
  info.size = size;
  buf = gst_buffer_new_wrapped_full (
      GST_MEMORY_FLAG_READONLY, (gpointer) rgb, size, 0, size, NULL, NULL);
  ok = gst_video_frame_map (&frame, &info, buf, GST_MAP_READ);
  if (!ok) {
    g_set_error (error, COVER_JPEG_ERROR, COVER_JPEG_ERROR_FORMAT,
        "Could not map a %ux%u RGB picture", width, height);
  } else {
    ok = cover_encoder_encode (enc, &frame, quality, max_width, max_height,
        &jpeg, &jpeg_size, out_width, out_height, error);
    gst_video_frame_unmap (&frame);
  }
  gst_buffer_unref (buf);
  return ok ? g_bytes_new (jpeg, jpeg_size) : NULL;
}
