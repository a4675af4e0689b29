/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "covercodec.h"

static const struct
{
  CoverCodec codec;
  const gchar *media_type;
  const gchar *encoding_name;
  const gchar *text;
} codecs[] = {
  { COVER_CODEC_H264, "video/x-h264", "H264", "H.264" },
  { COVER_CODEC_H265, "video/x-h265", "H265", "H.265" },
  { COVER_CODEC_RAW, "video/x-raw", NULL, "raw" },
  { COVER_CODEC_JPEG, "image/jpeg", "JPEG", "MJPEG" },
};

CoverCodec
cover_codec_from_caps (const GstCaps *caps)
{
  const GstStructure *s;
  guint i;

  g_return_val_if_fail (GST_IS_CAPS (caps), COVER_CODEC_NONE);

  if (gst_caps_is_empty (caps) || gst_caps_is_any (caps))
    return COVER_CODEC_NONE;
  s = gst_caps_get_structure (caps, 0);
  for (i = 0; i < G_N_ELEMENTS (codecs); i++) {
    if (gst_structure_has_name (s, codecs[i].media_type))
      return codecs[i].codec;
  }
  return COVER_CODEC_NONE;
}

CoverCodec
cover_codec_from_encoding_name (const gchar *name)
{
  guint i;

  if (name == NULL)
    return COVER_CODEC_NONE;
  for (i = 0; i < G_N_ELEMENTS (codecs); i++) {
    if (codecs[i].encoding_name &&
        g_ascii_strcasecmp (name, codecs[i].encoding_name) == 0)
      return codecs[i].codec;
  }
  return COVER_CODEC_NONE;
}

static gint
find_codec (CoverCodec codec)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (codecs); i++) {
    if (codecs[i].codec == codec)
      return i;
  }
  return -1;
}

const gchar *
cover_codec_to_string (CoverCodec codec)
{
  gint i = find_codec (codec);

  return i < 0 ? "none" : codecs[i].text;
}

const gchar *
cover_codec_to_media_type (CoverCodec codec)
{
  gint i = find_codec (codec);

  return i < 0 ? NULL : codecs[i].media_type;
}
