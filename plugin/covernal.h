/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_NAL_H__
#define __COVER_NAL_H__

#include <gst/gst.h>

#include "covercodec.h"

G_BEGIN_DECLS

/* Parameter sets, as bits of CoverAuInfo.found */
#define COVER_NAL_VPS (1u << 0) /* H.265 only */
#define COVER_NAL_SPS (1u << 1)
#define COVER_NAL_PPS (1u << 2)

/* What the NAL units in front of an access unit's picture data say. */
typedef struct
{
  guint found;      /* the parameter sets it carries (COVER_NAL_*) */
  gboolean slice;   /* a slice was reached */
  guint8 slice_nal; /* then: the first byte of its NAL header */
  gint recovery;    /* the count of a recovery point SEI, or -1 */
  gboolean intra;   /* the first slice is an I or SI slice (H.264 only) */
} CoverAuInfo;

void cover_au_info_init (CoverAuInfo *info);
/* The parameter sets a decoder needs in front of a keyframe of @codec. */
guint cover_nal_needed_parameter_sets (CoverCodec codec);

/* IDR (H.264); IRAP: BLA, IDR, CRA (H.265): a picture that needs nothing
 * before it. */
gboolean cover_nal_is_random_access (CoverCodec codec, guint8 header);
/* Whether the unit @info describes starts a picture that covertap can
 * decode without the units before it, as a parser would flag it (not
 * DELTA_UNIT): a random access picture, a recovery point SEI (periodic
 * intra refresh, open GOP), or an H.264 I slice.  For units straight from
 * a depayloader, which flags only IDR and IRAP pictures. */
gboolean cover_nal_starts_picture (CoverCodec codec, const CoverAuInfo *info);
/* A picture later ones refer to (H.264 nal_ref_idc); every H.265 one. */
gboolean cover_nal_is_reference (CoverCodec codec, guint8 header);

/* Walks the NAL units of @size bytes of byte-stream (one memory of an
 * access unit, hostile input: every length is checked) up to the first
 * slice, appending the parameter sets to @params (transfer none) with
 * 4-byte start codes and filling @info, which the caller initialised with
 * cover_au_info_init().  Returns TRUE once a slice was seen. */
gboolean cover_nal_scan_byte_stream (CoverCodec codec, const guint8 *data,
    gsize size, GByteArray *params, CoverAuInfo *info);
/* The same for a packetized (avc, avc3, hvc1, hev1) access unit @buf
 * (transfer none) whose NAL units have @nal_length_size-byte lengths in
 * front; initialises @info itself.  Reads only a few header bytes. */
void cover_nal_scan_packetized (
    CoverCodec codec, GstBuffer *buf, guint nal_length_size, CoverAuInfo *info);

G_END_DECLS

#endif /* __COVER_NAL_H__ */
