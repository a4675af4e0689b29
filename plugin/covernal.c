/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The bitstream facts covertap needs from H.264 and H.265 access units,
 * read from the few NAL units in front of the picture data: parameter sets,
 * the first slice's NAL header, a recovery point SEI. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "covernal.h"

#include <gst/base/gstbitreader.h>
#include <gst/base/gstbytereader.h>
#include <string.h>

/* an SEI's payload read, at most: a recovery point is a few bytes */
#define MAX_SEI_BYTES 512

void
cover_au_info_init (CoverAuInfo *info)
{
  g_return_if_fail (info != NULL);

  memset (info, 0, sizeof (*info));
  info->recovery = -1;
}

guint
cover_nal_needed_parameter_sets (CoverCodec codec)
{
  return codec == COVER_CODEC_H265
      ? COVER_NAL_VPS | COVER_NAL_SPS | COVER_NAL_PPS
      : COVER_NAL_SPS | COVER_NAL_PPS;
}

static gboolean
nal_is_slice (CoverCodec codec, guint8 header)
{
  if (codec == COVER_CODEC_H264)
    return (header & 0x1f) >= 1 && (header & 0x1f) <= 5;
  return ((header >> 1) & 0x3f) <= 31;
}

/* COVER_NAL_VPS (H.265 only), _SPS, _PPS, or 0 */
static guint
nal_param_bit (CoverCodec codec, guint8 header)
{
  guint type;

  if (codec == COVER_CODEC_H264) {
    type = header & 0x1f;
    return type == 7 ? COVER_NAL_SPS : type == 8 ? COVER_NAL_PPS : 0;
  }
  type = (header >> 1) & 0x3f;
  return type == 32 ? COVER_NAL_VPS
      : type == 33  ? COVER_NAL_SPS
      : type == 34  ? COVER_NAL_PPS
                    : 0;
}

static gboolean
nal_is_sei (CoverCodec codec, guint8 header)
{
  if (codec == COVER_CODEC_H264)
    return (header & 0x1f) == 6;
  return ((header >> 1) & 0x3f) == 39; /* prefix SEI */
}

/* IDR (H.264); IRAP: BLA, IDR, CRA (H.265): a picture that needs nothing
 * before it and nothing after it */
gboolean
cover_nal_is_random_access (CoverCodec codec, guint8 header)
{
  guint type;

  if (codec == COVER_CODEC_H264)
    return (header & 0x1f) == 5;
  type = (header >> 1) & 0x3f;
  return type >= 16 && type <= 23;
}

gboolean
cover_nal_starts_picture (CoverCodec codec, const CoverAuInfo *info)
{
  g_return_val_if_fail (info != NULL, FALSE);

  if (!info->slice)
    return FALSE;
  return cover_nal_is_random_access (codec, info->slice_nal) ||
      info->recovery >= 0 || info->intra;
}

/* A picture later ones refer to (H.264 nal_ref_idc): frame_num counts
 * them.  H.265 counts pictures (POC), so every one is counted. */
gboolean
cover_nal_is_reference (CoverCodec codec, guint8 header)
{
  return codec != COVER_CODEC_H264 || (header & 0x60) != 0;
}

static gboolean
read_ue (GstBitReader *br, guint *value)
{
  guint zeros = 0;
  guint32 bits;
  guint8 bit = 0;

  while (gst_bit_reader_get_bits_uint8 (br, &bit, 1) && !bit)
    if (++zeros > 16)
      return FALSE;
  if (!bit)
    return FALSE;
  if (!gst_bit_reader_get_bits_uint32 (br, &bits, zeros))
    return FALSE;
  *value = (1u << zeros) - 1 + bits;
  return TRUE;
}

/* Copies at most @max bytes of the payload of NAL unit @nal (@size bytes
 * from its header) into @rbsp, the header skipped and the emulation
 * prevention bytes taken out; returns how many. */
static gsize
nal_payload (
    CoverCodec codec, const guint8 *nal, gsize size, guint8 *rbsp, gsize max)
{
  gsize i, n = 0, zeros = 0;

  for (i = codec == COVER_CODEC_H264 ? 1 : 2; i < size && n < max; i++) {
    if (zeros >= 2 && nal[i] == 3) {
      zeros = 0;
      continue;
    }
    zeros = nal[i] == 0 ? zeros + 1 : 0;
    rbsp[n++] = nal[i];
  }
  return n;
}

/* Whether the H.264 slice NAL unit @nal of @size bytes (from its header)
 * is an I or SI slice: slice_header() starts with first_mb_in_slice and
 * slice_type, both ue(v).  Reads at most 8 bytes of it. */
static gboolean
slice_is_intra (CoverCodec codec, const guint8 *nal, gsize size)
{
  guint8 rbsp[8];
  GstBitReader br;
  guint first_mb, type;

  if (codec != COVER_CODEC_H264)
    return FALSE;
  gst_bit_reader_init (
      &br, rbsp, nal_payload (codec, nal, size, rbsp, sizeof (rbsp)));
  if (!read_ue (&br, &first_mb) || !read_ue (&br, &type) || type > 9)
    return FALSE;
  /* 2, 7: I; 4, 9: SI */
  return type % 5 == 2 || type % 5 == 4;
}

/* The recovery point SEI message (payload type 6, both codecs) of an SEI
 * NAL unit: its recovery_frame_cnt (H.264) or recovery_poc_cnt (H.265),
 * or -1.  Reads at most MAX_SEI_BYTES. */
static gint
sei_recovery_count (CoverCodec codec, const guint8 *nal, gsize size)
{
  guint8 rbsp[MAX_SEI_BYTES];
  gsize n = nal_payload (codec, nal, size, rbsp, sizeof (rbsp)), pos = 0;

  /* sei_message()s until the trailing bits */
  while (pos < n && rbsp[pos] != 0x80) {
    guint type = 0, len = 0;

    while (pos < n && rbsp[pos] == 0xff)
      type += rbsp[pos++];
    if (pos >= n)
      break;
    type += rbsp[pos++];
    while (pos < n && rbsp[pos] == 0xff)
      len += rbsp[pos++];
    if (pos >= n)
      break;
    len += rbsp[pos++];
    if (type == 6) {
      GstBitReader br = GST_BIT_READER_INIT (rbsp + pos, MIN (len, n - pos));
      guint count;
      gint32 poc;

      if (codec == COVER_CODEC_H264)
        return read_ue (&br, &count) && count <= G_MAXINT ? (gint) count : -1;
      /* H.265: recovery_poc_cnt is se(v); a negative one is a past picture */
      if (!read_ue (&br, &count))
        return -1;
      poc = count & 1 ? (gint32) ((count + 1) / 2) : -(gint32) (count / 2);
      return MAX (poc, 0);
    }
    pos += len;
  }
  return -1;
}

static void
append_parameter_set (GByteArray *params, const guint8 *nal, gsize size)
{
  static const guint8 start_code[4] = { 0, 0, 0, 1 };

  g_byte_array_append (params, start_code, 4);
  g_byte_array_append (params, nal, size);
}

/* Where the start code of the next NAL unit at or after @offset begins, or
 * -1.  A start code that ends the memory, with no NAL header after it, only
 * ends the unit before it. */
static gint
next_start_code (GstByteReader *br, guint offset, gboolean *has_nal)
{
  guint size = gst_byte_reader_get_size (br);
  GstByteReader end = *br;
  guint32 tail;
  gint sc;

  *has_nal = TRUE;
  if (offset >= size)
    return -1;
  sc = gst_byte_reader_masked_scan_uint32 (
      br, 0xffffff00, 0x00000100, offset, size - offset);
  if (sc >= 0)
    return sc;
  *has_nal = FALSE;
  if (size - offset >= 3 && gst_byte_reader_set_pos (&end, size - 3) &&
      gst_byte_reader_peek_uint24_be (&end, &tail) && tail == 1)
    return size - 3;
  return -1;
}

/* Walks the NAL units of one memory of a byte-stream access unit up to its
 * first slice, collecting parameter sets in @params (with 4-byte start
 * codes) and what @info asks.  Reads only the headers that come before the
 * picture data.  Returns TRUE once a slice was seen. */
gboolean
cover_nal_scan_byte_stream (CoverCodec codec, const guint8 *data, gsize size,
    GByteArray *params, CoverAuInfo *info)
{
  GstByteReader br = GST_BYTE_READER_INIT (data, size);
  gsize nal = 0, end;
  gboolean in_nal = FALSE, has_nal;
  gint sc;

  g_return_val_if_fail (data != NULL || size == 0, FALSE);
  g_return_val_if_fail (params != NULL, FALSE);
  g_return_val_if_fail (info != NULL, FALSE);

  for (;;) {
    sc = next_start_code (&br, in_nal ? nal : 0, &has_nal);
    end = sc < 0 ? size : (gsize) sc;
    /* the zero of a 4-byte start code is not the previous unit's */
    if (sc > 0 && data[sc - 1] == 0)
      end--;
    if (in_nal && nal_param_bit (codec, data[nal]))
      append_parameter_set (params, data + nal, end - nal);
    if (in_nal && nal_is_sei (codec, data[nal]) && info->recovery < 0)
      info->recovery = sei_recovery_count (codec, data + nal, end - nal);
    if (sc < 0 || !has_nal)
      return FALSE;
    nal = sc + 3;
    in_nal = TRUE;
    if (nal_is_slice (codec, data[nal])) {
      /* the slice header's first bytes only: its end is not looked for
       * (that would read the picture data) */
      info->slice_nal = data[nal];
      info->intra = slice_is_intra (codec, data + nal, MIN (size - nal, 16));
      return TRUE;
    }
    info->found |= nal_param_bit (codec, data[nal]);
  }
}

/* The same for a packetized (avc, avc3, hvc1, hev1) access unit: its NAL
 * units have lengths in front.  Extracts the few header bytes it reads,
 * whatever the memory layout. */
void
cover_nal_scan_packetized (
    CoverCodec codec, GstBuffer *buf, guint nal_length_size, CoverAuInfo *info)
{
  guint len_size = nal_length_size, i, n;
  gsize size, pos = 0;

  g_return_if_fail (GST_IS_BUFFER (buf));
  g_return_if_fail (nal_length_size >= 1 && nal_length_size <= 4);
  g_return_if_fail (info != NULL);

  size = gst_buffer_get_size (buf);
  cover_au_info_init (info);
  /* the units before a picture's first slice are few */
  for (n = 0; n < 64 && pos + len_size < size; n++) {
    guint8 head[4], nal;
    gsize len = 0;

    gst_buffer_extract (buf, pos, head, len_size);
    for (i = 0; i < len_size; i++)
      len = len << 8 | head[i];
    pos += len_size;
    if (len == 0 || len > size - pos)
      return;
    gst_buffer_extract (buf, pos, &nal, 1);
    if (nal_is_slice (codec, nal)) {
      guint8 head_bytes[9];
      gsize got = gst_buffer_extract (
          buf, pos, head_bytes, MIN (len, sizeof (head_bytes)));

      info->slice = TRUE;
      info->slice_nal = nal;
      info->intra = slice_is_intra (codec, head_bytes, got);
      return;
    }
    info->found |= nal_param_bit (codec, nal);
    if (nal_is_sei (codec, nal) && info->recovery < 0) {
      guint8 sei[MAX_SEI_BYTES];
      gsize got = gst_buffer_extract (buf, pos, sei, MIN (len, sizeof (sei)));

      info->recovery = sei_recovery_count (codec, sei, got);
    }
    pos += len;
  }
}
