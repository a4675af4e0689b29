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

#include <gst/rtp/gstrtpbuffer.h>
#include <gst/sdp/sdp.h>
#include <string.h>

#include "cover-ingest-private.h"
#include "cover-push-media.h"
#include "cover-tap-branch.h"

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

/* the encoding name of @fmt in @media: its rtpmap, else the static payload
 * types of RFC 3551 that pushers send without one (transfer full) */
static gchar *
encoding_of (const GstSDPMedia *media, const gchar *fmt)
{
  guint i;

  for (i = 0; i < gst_sdp_media_attributes_len (media); i++) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (media, i);
    const gchar *name;

    if (g_strcmp0 (a->key, "rtpmap") != 0 || !a->value ||
        !g_str_has_prefix (a->value, fmt) || a->value[strlen (fmt)] != ' ')
      continue;
    name = a->value + strlen (fmt) + 1;
    return g_ascii_strup (name, strcspn (name, "/"));
  }
  if (g_str_equal (fmt, "0"))
    return g_strdup ("PCMU");
  if (g_str_equal (fmt, "8"))
    return g_strdup ("PCMA");
  if (g_str_equal (fmt, "26"))
    return g_strdup ("JPEG");
  return NULL;
}

/* How one SDP media is received: a depayloader (and parser) feeding the
 * cover, an audio chain the recording muxes, or dropped. */
typedef struct
{
  CoverCodec codec;     /* the cover's video, or NONE */
  const gchar *audio;   /* a chain ending in a parsed stream mp4mux takes */
  const gchar *encoder; /* of G.711 audio */
} MediaPlan;

/* audio mp4mux takes as it is (AAC, Opus) or after a cheap transcode
 * (G.711 to AAC with @encoder): a format of the media's index (%u) and, for
 * G.711, the encoder (%s); NULL for audio we drop */
static const gchar *
audio_chain (const gchar *encoding, const gchar *encoder)
{
  if (g_str_equal (encoding, "MPEG4-GENERIC"))
    return "rtpmp4gdepay name=depay%u ! aacparse";
  if (g_str_equal (encoding, "MP4A-LATM"))
    return "rtpmp4adepay name=depay%u ! aacparse";
  if (g_str_equal (encoding, "OPUS"))
    return "rtpopusdepay name=depay%u ! opusparse";
  if (encoder && g_str_equal (encoding, "PCMA"))
    return "rtppcmadepay name=depay%u ! alawdec ! audioconvert ! "
           "audioresample ! %s ! aacparse";
  if (encoder && g_str_equal (encoding, "PCMU"))
    return "rtppcmudepay name=depay%u ! mulawdec ! audioconvert ! "
           "audioresample ! %s ! aacparse";
  return NULL;
}

static const gchar *
aac_encoder (void)
{
  static const gchar *const names[] = { "avenc_aac", "voaacenc", "fdkaacenc" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autoptr (GstElementFactory) f = gst_element_factory_find (names[i]);

    if (f)
      return names[i];
  }
  return NULL;
}

CoverCodec
cover_push_factory_probe_sdp (
    const guint8 *data, gsize size, gchar **offered, guint *n_media)
{
  g_autoptr (GstSDPMessage) sdp = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  CoverCodec codec = COVER_CODEC_NONE;
  guint i, j;

  if (offered)
    *offered = NULL;
  if (n_media)
    *n_media = 0;
  g_return_val_if_fail (data != NULL || size == 0, COVER_CODEC_NONE);

  if (!size || size > G_MAXUINT || gst_sdp_message_new (&sdp) != GST_SDP_OK ||
      gst_sdp_message_parse_buffer (data, size, sdp) != GST_SDP_OK)
    return COVER_CODEC_NONE;
  for (i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (sdp, i);
    const gchar *kind = gst_sdp_media_get_media (media);

    for (j = 0; j < gst_sdp_media_formats_len (media) && j < 8; j++) {
      g_autofree gchar *enc =
          encoding_of (media, gst_sdp_media_get_format (media, j));
      CoverCodec c =
          enc ? cover_codec_from_encoding_name (enc) : COVER_CODEC_NONE;

      if (text->len < 256)
        g_string_append_printf (text, "%s%s %s", text->len ? ", " : "",
            kind ? kind : "?", enc ? enc : gst_sdp_media_get_format (media, j));
      if (codec == COVER_CODEC_NONE && g_strcmp0 (kind, "video") == 0 &&
          c != COVER_CODEC_NONE && j == 0)
        codec = c;
    }
  }
  if (offered)
    *offered = g_strdup (text->len ? text->str : "nothing");
  if (n_media)
    *n_media = gst_sdp_message_medias_len (sdp);
  return codec;
}

/* One plan per media of the ANNOUNCE being handled; the cover's video is
 * the first video media whose first format is a codec covertap takes. */
static GArray *
plan_of_request (GstRTSPContext *ctx, CoverCodec *codec)
{
  g_autoptr (GstSDPMessage) sdp = NULL;
  const gchar *encoder = aac_encoder ();
  GArray *plans;
  guint8 *data = NULL;
  guint size = 0, i;

  *codec = COVER_CODEC_NONE;
  if (!ctx || !ctx->request || ctx->method != GST_RTSP_ANNOUNCE)
    return NULL;
  gst_rtsp_message_get_body (ctx->request, &data, &size);
  if (!data || !size || gst_sdp_message_new (&sdp) != GST_SDP_OK ||
      gst_sdp_message_parse_buffer (data, size, sdp) != GST_SDP_OK ||
      gst_sdp_message_medias_len (sdp) > COVER_PUSH_MAX_MEDIA)
    return NULL;
  plans = g_array_new (FALSE, TRUE, sizeof (MediaPlan));
  for (i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (sdp, i);
    const gchar *fmt = gst_sdp_media_formats_len (media) > 0
        ? gst_sdp_media_get_format (media, 0)
        : "";
    g_autofree gchar *enc = encoding_of (media, fmt);
    MediaPlan plan = { COVER_CODEC_NONE, NULL, encoder };

    if (enc && g_strcmp0 (gst_sdp_media_get_media (media), "video") == 0 &&
        *codec == COVER_CODEC_NONE) {
      plan.codec = cover_codec_from_encoding_name (enc);
      *codec = plan.codec;
    } else if (enc &&
        g_strcmp0 (gst_sdp_media_get_media (media), "audio") == 0) {
      plan.audio = audio_chain (enc, encoder);
    }
    g_array_append_val (plans, plan);
  }
  return plans;
}

/* One branch per SDP media, in SDP order (gst-rtsp-server pairs media i
 * with the element named depay<i>): the video into covertap (and, teed,
 * the recording), audio into the recording or, without one, like every
 * media we do not use, into a fakesink: received, never decoded. */
static gchar *
pipeline_description (GArray *plans, gboolean record)
{
  GString *d = g_string_new ("( ");
  guint i, n_audio = 0;

  if (record)
    g_string_append (d, "splitmuxsink name=rec ");
  for (i = 0; i < plans->len; i++) {
    const MediaPlan *p = &g_array_index (plans, MediaPlan, i);
    const gchar *depay, *parse, *timestamper;

    if (cover_tap_branch_video_chain (p->codec, &depay, &parse, &timestamper)) {
      g_string_append_printf (d, "%s name=depay%u ! ", depay, i);
      cover_tap_branch_append (d, p->codec, record);
    } else if (record && p->audio) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
      /* a format of audio_chain()'s: the index, then the encoder */
      g_string_append_printf (d, p->audio, i, p->encoder);
#pragma GCC diagnostic pop
      g_string_append_printf (
          d, " ! queue name=aq%u ! rec.audio_%u ", n_audio, n_audio);
      n_audio++;
    } else {
      g_string_append_printf (
          d, "fakesink name=depay%u sync=false async=false ", i);
    }
  }
  g_string_append (d, ")");
  return g_string_free (d, FALSE);
}

/* mp4mux refuses a buffer without PTS as an error: the first AUs of an RTP
 * packet carrying several (AAC) get none until the parser has one to count
 * from; they are dropped */
static GstPadProbeReturn
drop_untimed (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  return GST_BUFFER_PTS_IS_VALID (buf) ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
}

static void
guard_audio (GstElement *bin)
{
  guint i;

  for (i = 0; i < COVER_PUSH_MAX_MEDIA; i++) {
    g_autofree gchar *name = g_strdup_printf ("aq%u", i);
    g_autoptr (GstElement) q = gst_bin_get_by_name (GST_BIN (bin), name);
    g_autoptr (GstPad) sink = NULL;

    if (!q)
      break;
    sink = gst_element_get_static_pad (q, "sink");
    gst_pad_add_probe (
        sink, GST_PAD_PROBE_TYPE_BUFFER, drop_untimed, NULL, NULL);
  }
}

/* RFC 2435 3.1.8: with Q >= 128 the first packet of a frame carries its
 * quantization tables: one that all components share (ffmpeg's MJPEG) or
 * two, luma and chroma.  rtpjpegdepay (1.22) always reads two and gives
 * the second to both chroma components: after a single table that is the
 * first 64 bytes of scan data, and the colours of the cover are wrong.
 * The packet is given its table twice, as the sender meant; the scan data
 * stays as it came.  Returns that copy of @buf, or NULL when it needs
 * none. */
static GstBuffer *
jpeg_shared_qtable (GstBuffer *buf)
{
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  GstMapInfo in, out;
  GstBuffer *fixed;
  const guint8 *p;
  guint len, hdr, off, size = 0, at;
  guint8 precision = 0;

  if (!gst_rtp_buffer_map (buf, GST_MAP_READ, &rtp))
    return NULL;
  p = gst_rtp_buffer_get_payload (&rtp);
  len = gst_rtp_buffer_get_payload_len (&rtp);
  hdr = gst_rtp_buffer_get_header_len (&rtp);
  /* the main header: type-specific, fragment offset, type, Q, width,
   * height; then, as the depayloader reads it, a restart marker header for
   * types above 63 */
  off = len >= 8 && p[4] > 63 ? 12 : 8;
  if (len >= off + 4 && p[1] == 0 && p[2] == 0 && p[3] == 0 && p[5] >= 128) {
    precision = p[off + 1];
    size = (precision & 1) ? 128 : 64;
    if (GST_READ_UINT16_BE (p + off + 2) != size || off + 4 + size > len)
      size = 0;
  }
  gst_rtp_buffer_unmap (&rtp);
  if (!size)
    return NULL;

  if (!gst_buffer_map (buf, &in, GST_MAP_READ))
    return NULL;
  fixed = gst_buffer_new_allocate (NULL, in.size + size, NULL);
  gst_buffer_map (fixed, &out, GST_MAP_WRITE);
  at = hdr + off + 4 + size;
  memcpy (out.data, in.data, at);
  memcpy (out.data + at, in.data + hdr + off + 4, size);
  memcpy (out.data + at + size, in.data + at, in.size - at);
  /* the chroma table's precision is the luma one's (bit 1, bit 0) */
  out.data[hdr + off + 1] = precision | ((precision & 1) << 1);
  GST_WRITE_UINT16_BE (out.data + hdr + off + 2, 2 * size);
  gst_buffer_unmap (fixed, &out);
  gst_buffer_unmap (buf, &in);
  gst_buffer_copy_into (fixed, buf, GST_BUFFER_COPY_METADATA, 0, -1);
  return fixed;
}

static gboolean
share_qtable_in_list (GstBuffer **buf, guint idx, gpointer data)
{
  GstBuffer *fixed = jpeg_shared_qtable (*buf);

  if (fixed) {
    gst_buffer_unref (*buf);
    *buf = fixed;
  }
  return TRUE;
}

static GstPadProbeReturn
share_qtable (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    GstBuffer *fixed = jpeg_shared_qtable (buf);

    if (fixed) {
      gst_buffer_unref (buf);
      GST_PAD_PROBE_INFO_DATA (info) = fixed;
    }
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list =
        gst_buffer_list_make_writable (GST_PAD_PROBE_INFO_BUFFER_LIST (info));

    GST_PAD_PROBE_INFO_DATA (info) = list;
    gst_buffer_list_foreach (list, share_qtable_in_list, NULL);
  }
  return GST_PAD_PROBE_OK;
}

static GstElement *
cover_push_factory_create_element (
    GstRTSPMediaFactory *factory, const GstRTSPUrl *url)
{
  CoverPushFactory *self = COVER_PUSH_FACTORY (factory);
  g_autoptr (GError) err = NULL;
  g_autoptr (GstElement) depay = NULL;
  g_autoptr (GstPad) depay_src = NULL;
  g_autofree gchar *launch = NULL;
  g_autoptr (GArray) plans = NULL;
  g_autofree gchar *depay_name = NULL;
  CoverStreamSettings s;
  CoverLiveness *liveness;
  GstElement *bin;
  guint32 cid, i;
  CoverCodec codec;
  gboolean record;

  if (!cover_ingest_cid_from_path (url->abspath, FALSE, &cid))
    return NULL;
  plans = plan_of_request (gst_rtsp_context_get_current (), &codec);
  if (codec == COVER_CODEC_NONE) {
    g_message ("/live/%u: no H.264, H.265 or JPEG video in the ANNOUNCE", cid);
    return NULL;
  }

  cover_ingest_settings_lookup (self->settings, cid, &s);
  record = cover_tap_branch_records (cid, &s, codec);
  launch = pipeline_description (plans, record);
  bin = gst_parse_launch_full (launch, NULL,
      GST_PARSE_FLAG_PLACE_IN_BIN | GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (!bin) {
    g_warning ("/live/%u: cannot make the pipeline: %s", cid,
        err ? err->message : "?");
    return NULL;
  }
  if (!cover_tap_branch_setup (bin, self->config, cid, &s, record)) {
    gst_object_unref (bin);
    return NULL;
  }
  guard_audio (bin);
  if (record)
    cover_push_media_keep_timing (bin);

  /* when data last came: the live-timeout check of the pushers */
  liveness = cover_liveness_new ();
  for (i = 0; i < plans->len; i++)
    if (g_array_index (plans, MediaPlan, i).codec == codec)
      break;
  depay_name = g_strdup_printf ("depay%u", i);
  depay = gst_bin_get_by_name (GST_BIN (bin), depay_name);
  depay_src = gst_element_get_static_pad (depay, "src");
  cover_liveness_watch_pad (liveness, depay_src);
  if (codec == COVER_CODEC_JPEG) {
    g_autoptr (GstPad) depay_sink = gst_element_get_static_pad (depay, "sink");

    gst_pad_add_probe (depay_sink,
        GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
        share_qtable, NULL, NULL);
  }
  g_object_set_data_full (
      G_OBJECT (bin), DATA_LIVENESS, liveness, cover_liveness_unref);
  g_object_set_data (G_OBJECT (bin), DATA_CODEC, GINT_TO_POINTER (codec));
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
  /* no EOS on unprepare until the push RECORDs (cover_pushers_set_recording
   * turns it on): a media that never played waits for an EOS that cannot
   * come, and keeps its pipeline, threads and sockets for good */
  gst_rtsp_media_factory_set_eos_shutdown (factory, FALSE);
  /* its rtpbin without the threads a TCP push does not need */
  gst_rtsp_media_factory_set_media_gtype (
      factory, cover_push_media_get_type ());
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
