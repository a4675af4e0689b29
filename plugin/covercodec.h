/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_CODEC_H__
#define __COVER_CODEC_H__

#include <gst/gst.h>

G_BEGIN_DECLS

/* The video codecs a cover can be made from: the one list that the element,
 * the ingest (SDP encoding names) and the tools share. */
typedef enum
{
  COVER_CODEC_NONE, /* unknown, or not a video codec we take */
  COVER_CODEC_H264,
  COVER_CODEC_H265,
  COVER_CODEC_RAW,  /* video/x-raw: no decoding */
  COVER_CODEC_JPEG, /* image/jpeg: MJPEG, each frame its own keyframe */
  COVER_CODEC_LAST,
} CoverCodec;

/* From caps (the first structure's name); COVER_CODEC_NONE for others. */
CoverCodec cover_codec_from_caps (const GstCaps *caps);
/* From an RTP encoding name ("H264", "H265", any case, as in an SDP
 * rtpmap: "H264", "H265", "JPEG"); COVER_CODEC_NONE for others. */
CoverCodec cover_codec_from_encoding_name (const gchar *name);
/* "H.264", "H.265", "raw", "none": for people and logs. */
const gchar *cover_codec_to_string (CoverCodec codec);
/* The caps media type ("video/x-h264", ...), or NULL for NONE. */
const gchar *cover_codec_to_media_type (CoverCodec codec);

G_END_DECLS

#endif /* __COVER_CODEC_H__ */
