/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* covertap's bitstream scan (plugin/covernal.c) on hostile access units:
 * byte 0 picks the codec (even: H.264, odd: H.265) and the NAL length size
 * of the packetized form ((byte 0 >> 1) % 4 + 1); the rest is scanned both
 * as byte-stream and as packetized.  Nothing may be read outside it. */

#include <gst/gst.h>
#include <stdint.h>

#include "covernal.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gboolean initialized;
  g_autoptr (GByteArray) params = g_byte_array_new ();
  g_autoptr (GstBuffer) buf = NULL;
  CoverCodec codec;
  CoverAuInfo info;

  if (!initialized) {
    gst_init (NULL, NULL);
    initialized = TRUE;
  }
  if (size < 1)
    return 0;
  codec = data[0] & 1 ? COVER_CODEC_H265 : COVER_CODEC_H264;
  cover_au_info_init (&info);
  info.slice =
      cover_nal_scan_byte_stream (codec, data + 1, size - 1, params, &info);
  g_assert_cmpint (info.recovery, >=, -1);
  /* I slices are H.264's; no slice, no picture */
  g_assert_true (!info.intra || (info.slice && codec == COVER_CODEC_H264));
  g_assert_true (info.slice || !cover_nal_starts_picture (codec, &info));
  /* the parameter sets come out whole, each behind a start code */
  g_assert_true (params->len == 0 || params->len > 4);

  if (size < 2)
    return 0;
  buf = gst_buffer_new_memdup (data + 1, size - 1);
  cover_nal_scan_packetized (codec, buf, (data[0] >> 1) % 4 + 1, &info);
  g_assert_cmpint (info.recovery, >=, -1);
  g_assert_true (!info.intra || (info.slice && codec == COVER_CODEC_H264));
  g_assert_true (info.slice || !cover_nal_starts_picture (codec, &info));
  return 0;
}
