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
 * The change of matrix and range is one pass of our own over the planes
 * (colour_pass_run()), into the planes TurboJPEG then encodes as they are
 * (tjCompressFromYUVPlanes(), no RGB in between): Y' = a·Y + b·Cb + c·Cr + d
 * and Cb', Cr' likewise from Cb and Cr, in 16-bit SIMD lanes, what a chroma
 * sample adds to its luma pixels computed once per chroma sample (so a
 * luma pixel takes the chroma sample it is coded with, as a 4:2:0 decoder
 * without chroma upsampling shows it).  Measured on the covertap
 * benchmark's 1080p BT.709 keyframes (bench/README.md, "the colour step"):
 * TurboJPEG's encode takes 4.0 ms, GstVideoConverter's BT.709 → BT.601
 * pass added as much again (4.0 ms), this pass adds 0.4-0.5 ms.  TurboJPEG
 * fed RGB instead (what it takes natively besides YUV planes) adds 2.7 ms:
 * a YUV → RGB pass, then its own RGB → YCbCr and chroma downsampling.  The
 * decoders (libav) have no output matrix to choose.
 *
 * GstVideoConverter still does what it does fast: format and size changes
 * (NV12, 10-bit, scaling), keeping the matrix and range, so that the colour
 * pass then runs on the (smaller) result.  It also does the whole job for
 * matrices the pass does not know. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "coverjpeg-frame.h"

#include <math.h>
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

  GstBuffer *scratch; /* holds a converted or colour-converted frame */

  /* the colour pass: per row, what each chroma sample adds to its luma */
  gint16 *luma_terms;
  gsize luma_terms_len;
};

CoverEncoder *
cover_encoder_new (void)
{
  CoverEncoder *enc = g_new0 (CoverEncoder, 1);

  enc->tj = tjInitCompress ();
  if (!enc->tj) {
    g_free (enc);
    return NULL;
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
  g_free (enc->luma_terms);
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

/* Format and size; YUV keeps its matrix and range for the colour pass,
 * unless @jfif: then the converter does the JFIF matrix and range too. */
static gboolean
convert_frame (CoverEncoder *enc, GstVideoFrame *in, GstVideoFormat format,
    guint width, guint height, gboolean jfif, GstVideoFrame *out)
{
  GstVideoInfo info;

  gst_video_info_set_format (&info, format, width, height);
  /* the converter insists on the same rate and interlacing on both sides */
  info.fps_n = in->info.fps_n;
  info.fps_d = in->info.fps_d;
  info.interlace_mode = in->info.interlace_mode;
  info.chroma_site = in->info.chroma_site;
  if (GST_VIDEO_INFO_IS_YUV (&info) && GST_VIDEO_INFO_IS_YUV (&in->info) &&
      !jfif)
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

/* The colour pass: planar 8-bit YUV of a known matrix and range → BT.601
 * full range.  For each output component o, with Cb, Cr centred on 0:
 *   o = k[o][Y] · Y + k[o][Cb] · Cb + k[o][Cr] · Cr + c[o]
 * (chroma does not depend on Y in any YCbCr matrix change).  All in 16-bit
 * lanes, 8 a vector, through high-half multiplies (pmulhw / pmulhuw, which
 * GCC and clang find in the form below): the samples scaled by 2^8, the
 * factors by 2^14 give products (and sums) scaled by 2^6, 1/64 of a level;
 * the factors are exact to 2^-14. */
#define COLOUR_FRAC 6
#define COLOUR_K(v) ((gint) ((v) * (1 << 14) + ((v) < 0 ? -0.5 : 0.5)))
/* The loops work in chunks of a fixed count, which GCC's -O2 vectorizes
 * (its cost model there only takes loops of a known count, and only in
 * the form for (k = 0; k < N; k++) a[x + k]); the rest of a row goes one
 * by one.  The passes read and write each sample at one index, so they may
 * run in place: no dependency between iterations. */
#define COLOUR_CHUNK 16
#if defined(__GNUC__) && !defined(__clang__)
#define COLOUR_IVDEP _Pragma ("GCC ivdep")
#else
#define COLOUR_IVDEP
#endif

typedef struct
{
  guint16 y_y;                                   /* < 2 */
  gint16 y_cb, y_cr, cb_cb, cb_cr, cr_cb, cr_cr; /* |k| < 2 */
  gint16 y_1, cb_1, cr_1;                        /* scaled by 2^6 */
} ColourPass;

/* Normalised (Y 0..1, Cb/Cr -0.5..0.5) YCbCr of matrix @kr, @kb → BT.601:
 * through RGB, for the three basis vectors.  m[out][in]. */
static void
matrix_to_bt601 (gdouble kr, gdouble kb, gdouble m[3][3])
{
  guint i;

  for (i = 0; i < 3; i++) {
    gdouble y = i == 0, cb = i == 1, cr = i == 2;
    gdouble r = y + 2 * (1 - kr) * cr;
    gdouble b = y + 2 * (1 - kb) * cb;
    gdouble g = (y - kr * r - kb * b) / (1 - kr - kb);
    gdouble y601 = 0.299 * r + 0.587 * g + 0.114 * b;

    m[0][i] = y601;
    m[1][i] = (b - y601) / 1.772;
    m[2][i] = (r - y601) / 1.402;
  }
}

/* Sets up @pass for YUV of @info's colorimetry (run on the 8-bit planes
 * the frame has or is converted to).  FALSE when the frame needs none
 * (BT.601, full range) or has a matrix we do not know (the converter's
 * job). */
static gboolean
colour_pass_init (ColourPass *pass, const GstVideoInfo *info)
{
  gdouble kr, kb, m[3][3], ys, y0, cs, k[3][3], c[3], most;
  gboolean limited = is_limited_range (info);
  guint o, i;

  if (!GST_VIDEO_INFO_IS_YUV (info) ||
      !gst_video_color_matrix_get_Kr_Kb (info->colorimetry.matrix, &kr, &kb))
    return FALSE;
  if (is_bt601 (info) && !limited)
    return FALSE;
  matrix_to_bt601 (kr, kb, m);
  /* limited range: Y 16..235, Cb/Cr 16..240 around 128 */
  y0 = limited ? 16 : 0;
  ys = limited ? 219 : 255;
  cs = limited ? 224 : 255;
  for (o = 0; o < 3; o++) {
    k[o][0] = o ? 0 : 255 * m[0][0] / ys;
    for (i = 1; i < 3; i++) {
      k[o][i] = 255 * m[o][i] / cs;
      if (fabs (k[o][i]) >= 1.99)
        return FALSE;
    }
    /* the offsets, half a level to round, and half a step for each of the
     * three truncating multiplies */
    c[o] = (o ? 128 : -k[0][0] * y0) + 0.5 + 1.5 / (1 << COLOUR_FRAC);
    /* the largest sum a sample can make must fit the 16-bit lanes (it
     * does by far for every matrix GStreamer knows) */
    most =
        255 * k[o][0] + 128 * (fabs (k[o][1]) + fabs (k[o][2])) + fabs (c[o]);
    if (most * (1 << COLOUR_FRAC) >= G_MAXINT16)
      return FALSE;
  }
  pass->y_y = COLOUR_K (k[0][0]);
  pass->y_cb = COLOUR_K (k[0][1]);
  pass->y_cr = COLOUR_K (k[0][2]);
  pass->cb_cb = COLOUR_K (k[1][1]);
  pass->cb_cr = COLOUR_K (k[1][2]);
  pass->cr_cb = COLOUR_K (k[2][1]);
  pass->cr_cr = COLOUR_K (k[2][2]);
  pass->y_1 = (gint) floor (c[0] * (1 << COLOUR_FRAC));
  pass->cb_1 = (gint) floor (c[1] * (1 << COLOUR_FRAC));
  pass->cr_1 = (gint) floor (c[2] * (1 << COLOUR_FRAC));
  return TRUE;
}

/* The high half of a 16 x 16-bit product, as pmulhw / pmulhuw */
#define MULHI(a, b) ((gint16) (((gint32) (a) * (b)) >> 16))
#define MULHI_U(a, b) ((gint16) (((guint32) (a) * (b)) >> 16))

static inline guint8
colour_clamp (gint16 v)
{
  v >>= COLOUR_FRAC;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/* One row of chroma samples: converts them, and stores what each adds to
 * its luma pixels in @terms, once per pixel (@pairs: two pixels a sample,
 * 4:2:0 and 4:2:2). */
static void
colour_row_chroma (const ColourPass *p, const guint8 *cb, const guint8 *cr,
    guint8 *out_cb, guint8 *out_cr, gint16 *terms, gint n, gboolean pairs)
{
  const ColourPass q = *p; /* in registers, whatever the stores alias */
  gint x = 0, k;

  /* one loop per layout of @terms: no branch inside */
#define COLOUR_CHROMA(i, per)                                                  \
  G_STMT_START                                                                 \
  {                                                                            \
    gint16 b = (gint16) ((cb[i] - 128) * 256);                                 \
    gint16 r = (gint16) ((cr[i] - 128) * 256);                                 \
    gint16 t = MULHI (b, q.y_cb) + MULHI (r, q.y_cr) + q.y_1;                  \
                                                                               \
    terms[(per) * (i)] = t;                                                    \
    terms[(per) * (i) + (per) -1] = t;                                         \
    out_cb[i] =                                                                \
        colour_clamp (MULHI (b, q.cb_cb) + MULHI (r, q.cb_cr) + q.cb_1);       \
    out_cr[i] =                                                                \
        colour_clamp (MULHI (b, q.cr_cb) + MULHI (r, q.cr_cr) + q.cr_1);       \
  }                                                                            \
  G_STMT_END
#define COLOUR_CHROMA_ROW(per)                                                 \
  G_STMT_START                                                                 \
  {                                                                            \
    for (; x + COLOUR_CHUNK <= n; x += COLOUR_CHUNK) {                         \
      COLOUR_IVDEP                                                             \
      for (k = 0; k < COLOUR_CHUNK; k++)                                       \
        COLOUR_CHROMA (x + k, per);                                            \
    }                                                                          \
    for (; x < n; x++)                                                         \
      COLOUR_CHROMA (x, per);                                                  \
  }                                                                            \
  G_STMT_END

  if (pairs)
    COLOUR_CHROMA_ROW (2);
  else
    COLOUR_CHROMA_ROW (1);
#undef COLOUR_CHROMA_ROW
#undef COLOUR_CHROMA
}

static void
colour_row_luma (const ColourPass *p, const guint8 *y, const gint16 *terms,
    guint8 *out, gint n)
{
  const guint16 y_y = p->y_y;
  gint x = 0, k;

#define COLOUR_LUMA(i)                                                         \
  (out[i] = colour_clamp (MULHI_U ((guint16) (y[i] << 8), y_y) + terms[i]))
  for (; x + COLOUR_CHUNK <= n; x += COLOUR_CHUNK) {
    COLOUR_IVDEP
    for (k = 0; k < COLOUR_CHUNK; k++)
      COLOUR_LUMA (x + k);
  }
  for (; x < n; x++)
    COLOUR_LUMA (x);
#undef COLOUR_LUMA
}

/* @src → @dst (the same frame, or one of its format and size).  Each chroma
 * row is read before it is written, and before the luma rows it covers:
 * it may run in place. */
static void
colour_pass_run (CoverEncoder *enc, const ColourPass *pass, GstVideoFrame *src,
    GstVideoFrame *dst)
{
  gint width = GST_VIDEO_FRAME_COMP_WIDTH (src, 0);
  gint height = GST_VIDEO_FRAME_COMP_HEIGHT (src, 0);
  gint cw = GST_VIDEO_FRAME_COMP_WIDTH (src, 1);
  gint ch = GST_VIDEO_FRAME_COMP_HEIGHT (src, 1);
  gint hs = GST_VIDEO_FORMAT_INFO_W_SUB (src->info.finfo, 1);
  gint vs = GST_VIDEO_FORMAT_INFO_H_SUB (src->info.finfo, 1);
  gsize need = (gsize) cw << hs;
  gint cy, y;

  if (enc->luma_terms_len < need) {
    g_free (enc->luma_terms);
    enc->luma_terms = g_new (gint16, need);
    enc->luma_terms_len = need;
  }
  for (cy = 0; cy < ch; cy++) {
    colour_row_chroma (pass,
        (const guint8 *) GST_VIDEO_FRAME_COMP_DATA (src, 1) +
            (gsize) cy * GST_VIDEO_FRAME_COMP_STRIDE (src, 1),
        (const guint8 *) GST_VIDEO_FRAME_COMP_DATA (src, 2) +
            (gsize) cy * GST_VIDEO_FRAME_COMP_STRIDE (src, 2),
        (guint8 *) GST_VIDEO_FRAME_COMP_DATA (dst, 1) +
            (gsize) cy * GST_VIDEO_FRAME_COMP_STRIDE (dst, 1),
        (guint8 *) GST_VIDEO_FRAME_COMP_DATA (dst, 2) +
            (gsize) cy * GST_VIDEO_FRAME_COMP_STRIDE (dst, 2),
        enc->luma_terms, cw, hs == 1);
    for (y = cy << vs; y < MIN ((cy + 1) << vs, height); y++)
      colour_row_luma (pass,
          (const guint8 *) GST_VIDEO_FRAME_COMP_DATA (src, 0) +
              (gsize) y * GST_VIDEO_FRAME_COMP_STRIDE (src, 0),
          enc->luma_terms,
          (guint8 *) GST_VIDEO_FRAME_COMP_DATA (dst, 0) +
              (gsize) y * GST_VIDEO_FRAME_COMP_STRIDE (dst, 0),
          width);
  }
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
  gboolean mapped = FALSE, colour;
  ColourPass pass = { 0 };
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

  /* YUV of a matrix the colour pass does not know: the converter's */
  colour = GST_VIDEO_INFO_IS_YUV (in) && colour_pass_init (&pass, in);
  if (format != GST_VIDEO_INFO_FORMAT (in) ||
      out_w != (guint) GST_VIDEO_INFO_WIDTH (in) ||
      out_h != (guint) GST_VIDEO_INFO_HEIGHT (in) ||
      (GST_VIDEO_INFO_IS_YUV (in) && !colour && !is_bt601 (in))) {
    if (!convert_frame (enc, frame, format, out_w, out_h,
            GST_VIDEO_INFO_IS_YUV (in) && !colour, &scratch))
      goto convert_failed;
    src = &scratch;
    mapped = TRUE;
  }

  if (colour && subsamp >= 0 && subsamp != TJSAMP_GRAY) {
    if (!mapped) {
      if (!map_scratch (enc, &frame->info, &scratch))
        goto convert_failed;
      mapped = TRUE;
    }
    /* in place when src is already the scratch frame */
    colour_pass_run (enc, &pass, src, &scratch);
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
