/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The one codec list: caps, SDP encoding names, names for people. */

#include <gst/gst.h>

#include "covercodec.h"

static CoverCodec
codec_of (const gchar *caps_text)
{
  g_autoptr (GstCaps) caps = gst_caps_from_string (caps_text);

  g_assert_nonnull (caps);
  return cover_codec_from_caps (caps);
}

static void
test_from_caps (void)
{
  g_assert_cmpint (codec_of ("video/x-h264, stream-format=byte-stream"), ==,
      COVER_CODEC_H264);
  g_assert_cmpint (codec_of ("video/x-h265"), ==, COVER_CODEC_H265);
  g_assert_cmpint (codec_of ("video/x-raw, format=I420"), ==, COVER_CODEC_RAW);
  g_assert_cmpint (codec_of ("image/jpeg, parsed=true"), ==, COVER_CODEC_JPEG);
  /* the first structure decides */
  g_assert_cmpint (
      codec_of ("video/x-h265; video/x-h264"), ==, COVER_CODEC_H265);
  g_assert_cmpint (codec_of ("video/x-vp8"), ==, COVER_CODEC_NONE);
  g_assert_cmpint (codec_of ("audio/x-raw"), ==, COVER_CODEC_NONE);
  g_assert_cmpint (codec_of ("EMPTY"), ==, COVER_CODEC_NONE);
  g_assert_cmpint (codec_of ("ANY"), ==, COVER_CODEC_NONE);
}

static void
test_from_encoding_name (void)
{
  g_assert_cmpint (
      cover_codec_from_encoding_name ("H264"), ==, COVER_CODEC_H264);
  g_assert_cmpint (
      cover_codec_from_encoding_name ("h264"), ==, COVER_CODEC_H264);
  g_assert_cmpint (
      cover_codec_from_encoding_name ("H265"), ==, COVER_CODEC_H265);
  g_assert_cmpint (
      cover_codec_from_encoding_name ("h265"), ==, COVER_CODEC_H265);
  g_assert_cmpint (
      cover_codec_from_encoding_name ("JPEG"), ==, COVER_CODEC_JPEG);
  /* raw video has no RTP encoding name of ours */
  g_assert_cmpint (
      cover_codec_from_encoding_name ("RAW"), ==, COVER_CODEC_NONE);
  g_assert_cmpint (
      cover_codec_from_encoding_name ("H264 "), ==, COVER_CODEC_NONE);
  g_assert_cmpint (
      cover_codec_from_encoding_name ("VP8"), ==, COVER_CODEC_NONE);
  g_assert_cmpint (cover_codec_from_encoding_name (""), ==, COVER_CODEC_NONE);
  g_assert_cmpint (cover_codec_from_encoding_name (NULL), ==, COVER_CODEC_NONE);
}

static void
test_names (void)
{
  static const CoverCodec all[] = { COVER_CODEC_H264, COVER_CODEC_H265,
    COVER_CODEC_RAW, COVER_CODEC_JPEG };
  guint i;

  g_assert_cmpstr (cover_codec_to_string (COVER_CODEC_H264), ==, "H.264");
  g_assert_cmpstr (cover_codec_to_string (COVER_CODEC_H265), ==, "H.265");
  g_assert_cmpstr (cover_codec_to_string (COVER_CODEC_RAW), ==, "raw");
  g_assert_cmpstr (cover_codec_to_string (COVER_CODEC_JPEG), ==, "MJPEG");
  g_assert_cmpstr (cover_codec_to_string (COVER_CODEC_NONE), ==, "none");
  g_assert_cmpstr (
      cover_codec_to_media_type (COVER_CODEC_H264), ==, "video/x-h264");
  g_assert_cmpstr (
      cover_codec_to_media_type (COVER_CODEC_H265), ==, "video/x-h265");
  g_assert_cmpstr (
      cover_codec_to_media_type (COVER_CODEC_RAW), ==, "video/x-raw");
  g_assert_null (cover_codec_to_media_type (COVER_CODEC_NONE));

  /* media type and caps lookup agree for every codec */
  for (i = 0; i < G_N_ELEMENTS (all); i++)
    g_assert_cmpint (codec_of (cover_codec_to_media_type (all[i])), ==, all[i]);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/covercodec/from-caps", test_from_caps);
  g_test_add_func ("/covercodec/from-encoding-name", test_from_encoding_name);
  g_test_add_func ("/covercodec/names", test_names);
  return g_test_run ();
}
