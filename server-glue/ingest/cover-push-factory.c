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

#include "cover-push-factory.h"

#include <errno.h>
#include <gst/sdp/sdp.h>
#include <string.h>

#include "cover-ingest-private.h"

#define DATA_CODEC "cover-codec"
#define DATA_LIVENESS "cover-liveness"

#define COVER_TYPE_PUSH_FACTORY (cover_push_factory_get_type ())
G_DECLARE_FINAL_TYPE (CoverPushFactory, cover_push_factory, COVER, PUSH_FACTORY,
    GstRTSPMediaFactory);

struct _CoverPushFactory
{
  GstRTSPMediaFactory parent;
  const CoverConfig *config;
  const CoverIngestSettings *settings;
};

G_DEFINE_TYPE (
    CoverPushFactory, cover_push_factory, GST_TYPE_RTSP_MEDIA_FACTORY);

/* "96 H264/90000" → H.264 */
static CoverCodec
codec_of_rtpmap (const gchar *rtpmap)
{
  const gchar *name = rtpmap ? strchr (rtpmap, ' ') : NULL;
  g_autofree gchar *encoding = NULL;

  if (!name)
    return COVER_CODEC_NONE;
  name++;
  encoding = g_strndup (name, strcspn (name, "/"));
  return cover_codec_from_encoding_name (encoding);
}

/* the codec of the first media of the SDP in the request being handled */
static CoverCodec
codec_of_request (GstRTSPContext *ctx)
{
  g_autoptr (GstSDPMessage) sdp = NULL;
  const GstSDPMedia *media;
  guint8 *data = NULL;
  guint size = 0, i;

  if (!ctx || !ctx->request || ctx->method != GST_RTSP_ANNOUNCE)
    return COVER_CODEC_NONE;
  gst_rtsp_message_get_body (ctx->request, &data, &size);
  if (!data || !size || gst_sdp_message_new (&sdp) != GST_SDP_OK ||
      gst_sdp_message_parse_buffer (data, size, sdp) != GST_SDP_OK ||
      gst_sdp_message_medias_len (sdp) == 0)
    return COVER_CODEC_NONE;
  media = gst_sdp_message_get_media (sdp, 0);
  if (g_strcmp0 (gst_sdp_media_get_media (media), "video") != 0)
    return COVER_CODEC_NONE;
  for (i = 0; i < gst_sdp_media_attributes_len (media); i++) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (media, i);
    CoverCodec codec;

    if (g_strcmp0 (a->key, "rtpmap") != 0)
      continue;
    codec = codec_of_rtpmap (a->value);
    /* raw video is no push we take */
    if (codec == COVER_CODEC_H264 || codec == COVER_CODEC_H265)
      return codec;
  }
  return COVER_CODEC_NONE;
}

/* splitmuxsink::format-location: segments are named by the UTC time they
 * start, 20261128T222451.123Z.mp4, so that pushes after pushes never
 * overwrite each other and a plain sort is chronological */
static gchar *
segment_location (GstElement *splitmux, guint fragment_id, gpointer data)
{
  const gchar *dir = data;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *stamp = g_date_time_format (now, "%Y%m%dT%H%M%S");
  g_autofree gchar *name = g_strdup_printf (
      "%s.%03dZ.mp4", stamp, g_date_time_get_microsecond (now) / 1000);
  gchar *path = g_build_filename (dir, name, NULL);

  if (g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_free (path);
    g_free (name);
    name = g_strdup_printf ("%s.%03dZ-%u.mp4", stamp,
        g_date_time_get_microsecond (now) / 1000, fragment_id);
    path = g_build_filename (dir, name, NULL);
  }
  return path;
}

/* the recording branch's splitmuxsink: mp4mux, segments of @segment_s
 * seconds (split at the first key frame after that) into @dir */
static gboolean
setup_recording (
    GstElement *bin, guint32 cid, const gchar *dir, guint segment_s)
{
  g_autoptr (GstElement) rec = gst_bin_get_by_name (GST_BIN (bin), "rec");
  GstElement *mux;

  if (g_mkdir_with_parents (dir, 0700) != 0) {
    int e = errno;

    g_warning ("stream %u: cannot make the recording dir %s: %s", cid, dir,
        g_strerror (e));
    return FALSE;
  }
  mux = gst_element_factory_make ("mp4mux", NULL);
  if (!mux) {
    g_warning (
        "stream %u: no mp4mux (gst-plugins-good isom): not recording", cid);
    return FALSE;
  }
  g_object_set (rec, "muxer", mux, "max-size-time",
      (guint64) segment_s * GST_SECOND, "async-handling", TRUE, NULL);
  g_signal_connect_data (rec, "format-location", G_CALLBACK (segment_location),
      g_strdup (dir), (GClosureNotify) (void (*) (void)) g_free, 0);
  return TRUE;
}

/* covertap's properties named as the [stream.*] keys: set when given */
static void
set_given (GstElement *tap, const CoverStreamSettings *s, const gchar *key,
    guint64 value)
{
  GParamSpec *pspec;
  GValue v = G_VALUE_INIT;

  if (!cover_stream_settings_is_given (s, key))
    return;
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (tap), key);
  g_value_init (&v, G_TYPE_UINT64);
  g_value_set_uint64 (&v, value);
  if (pspec) {
    GValue converted = G_VALUE_INIT;

    g_value_init (&converted, pspec->value_type);
    if (g_value_transform (&v, &converted))
      g_object_set_property (G_OBJECT (tap), key, &converted);
    g_value_unset (&converted);
  }
  g_value_unset (&v);
}

static void
configure_tap (CoverPushFactory *self, GstElement *tap, guint32 cid,
    const CoverStreamSettings *s)
{
  g_object_set (tap, "client-id", (gint64) cid, "store-dir",
      self->config->store_dir, NULL);
  set_given (tap, s, "quality", s->quality);
  set_given (tap, s, "min-interval", s->min_interval_ns);
  set_given (tap, s, "max-width", s->max_width);
  set_given (tap, s, "max-height", s->max_height);
  if (!s->thumbnails)
    return;
  g_object_set (tap, "thumbnail-dir", self->config->thumbnail_dir, NULL);
  if (!cover_stream_settings_is_given (s, "thumbnail-interval") && s->record)
    /* one thumbnail per segment */
    g_object_set (tap, "thumbnail-interval", s->record_segment, NULL);
  set_given (tap, s, "thumbnail-interval", s->thumbnail_interval);
  set_given (tap, s, "thumbnail-max-files", s->thumbnail_max_files);
  set_given (tap, s, "thumbnail-max-age", s->thumbnail_max_age);
}

static gchar *
pipeline_description (CoverCodec codec, gboolean record)
{
  const gchar *depay =
      codec == COVER_CODEC_H264 ? "rtph264depay" : "rtph265depay";
  const gchar *parse = codec == COVER_CODEC_H264 ? "h264parse" : "h265parse";

  /* one parser for both branches: the tee agrees on a stream format mp4mux
   * and covertap both take (avc/hvc1) */
  if (record)
    return g_strdup_printf ("( %s name=depay0 ! %s ! tee name=t "
                            "t. ! queue ! covertap name=tap ! "
                            "fakesink sync=false async=false "
                            "t. ! queue ! splitmuxsink name=rec )",
        depay, parse);
  return g_strdup_printf ("( %s name=depay0 ! %s ! covertap name=tap ! "
                          "fakesink sync=false async=false )",
      depay, parse);
}

static GstElement *
cover_push_factory_create_element (
    GstRTSPMediaFactory *factory, const GstRTSPUrl *url)
{
  CoverPushFactory *self = COVER_PUSH_FACTORY (factory);
  g_autoptr (GError) err = NULL;
  g_autoptr (GstElement) tap = NULL;
  g_autoptr (GstElement) depay = NULL;
  g_autoptr (GstPad) depay_src = NULL;
  g_autofree gchar *launch = NULL;
  g_autofree gchar *rec_dir = NULL;
  CoverStreamSettings s;
  CoverLiveness *liveness;
  GstElement *bin;
  guint32 cid;
  CoverCodec codec;

  if (!cover_ingest_cid_from_path (url->abspath, FALSE, &cid))
    return NULL;
  codec = codec_of_request (gst_rtsp_context_get_current ());
  if (codec == COVER_CODEC_NONE) {
    g_message ("/live/%u: no H.264 or H.265 video in the ANNOUNCE", cid);
    return NULL;
  }

  cover_ingest_settings_lookup (self->settings, cid, &s);
  if (s.record) {
    g_autofree gchar *name = g_strdup_printf ("%u", cid);

    rec_dir =
        g_build_filename (self->config->data_dir, "recordings", name, NULL);
  }
  launch = pipeline_description (codec, s.record);
  bin = gst_parse_launch_full (launch, NULL,
      GST_PARSE_FLAG_PLACE_IN_BIN | GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (!bin) {
    g_warning ("/live/%u: cannot make the pipeline: %s", cid,
        err ? err->message : "?");
    return NULL;
  }
  if (s.record && !setup_recording (bin, cid, rec_dir, s.record_segment)) {
    gst_object_unref (bin);
    return NULL;
  }
  tap = gst_bin_get_by_name (GST_BIN (bin), "tap");
  configure_tap (self, tap, cid, &s);

  /* when data last came: the live-timeout check of the pushers */
  liveness = cover_liveness_new ();
  depay = gst_bin_get_by_name (GST_BIN (bin), "depay0");
  depay_src = gst_element_get_static_pad (depay, "src");
  cover_liveness_watch_pad (liveness, depay_src);
  g_object_set_data_full (
      G_OBJECT (bin), DATA_LIVENESS, liveness, cover_liveness_unref);
  g_object_set_data (G_OBJECT (bin), DATA_CODEC, GINT_TO_POINTER (codec));
  if (s.record)
    g_message ("stream %u: recording %u s segments into %s", cid,
        s.record_segment, rec_dir);
  return bin;
}

static void
cover_push_factory_class_init (CoverPushFactoryClass *klass)
{
  GST_RTSP_MEDIA_FACTORY_CLASS (klass)->create_element =
      cover_push_factory_create_element;
}

static void
cover_push_factory_init (CoverPushFactory *factory)
{
}

GstRTSPMediaFactory *
cover_push_factory_new (
    const CoverConfig *config, const CoverIngestSettings *settings)
{
  CoverPushFactory *self;
  GstRTSPMediaFactory *factory;

  g_return_val_if_fail (config != NULL && settings != NULL, NULL);

  self = g_object_new (COVER_TYPE_PUSH_FACTORY, NULL);
  self->config = config;
  self->settings = settings;
  factory = GST_RTSP_MEDIA_FACTORY (self);
  gst_rtsp_media_factory_set_transport_mode (
      factory, GST_RTSP_TRANSPORT_MODE_RECORD);
  /* an unprepared push gets EOS first: the last thumbnail, the segment
   * ended by covertap */
  gst_rtsp_media_factory_set_eos_shutdown (factory, TRUE);
  return factory;
}

CoverCodec
cover_push_factory_get_codec (GstElement *element)
{
  g_return_val_if_fail (GST_IS_ELEMENT (element), COVER_CODEC_NONE);

  return GPOINTER_TO_INT (g_object_get_data (G_OBJECT (element), DATA_CODEC));
}

CoverLiveness *
cover_push_factory_get_liveness (GstElement *element)
{
  g_return_val_if_fail (GST_IS_ELEMENT (element), NULL);

  return g_object_get_data (G_OBJECT (element), DATA_LIVENESS);
}
