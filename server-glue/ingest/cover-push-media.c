/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The media of a push: gst-rtsp-server's RECORD pipeline, receiving from
 * rtpbin, with what a camera pushing over RTSP/TCP does not need taken out,
 * because it costs threads per push (issue 12: 7 per push):
 *
 *  - the jitterbuffer of a push over TCP (a streaming thread and a timer
 *    thread per push): TCP delivers in order and loses nothing, so there
 *    is nothing to reorder or to wait for; a cover needs no RTP-derived
 *    timestamps (the arrival times appsrc gives are monotonic).  A push
 *    over UDP keeps it, and so does one that records: its MP4 timing comes
 *    from the RTP timestamps (B-frames included).
 *  - the RTCP receiver reports to the pusher: no pusher needs them (they
 *    only inform a sender's rate control); the first one started a
 *    sending thread of gst-rtsp-stream for the rest of the push, and
 *    rtpsession ran a thread to time them.  With no report bandwidth
 *    (rtcp-rr-bandwidth 0) rtpsession schedules none and its RTCP thread
 *    leaves at once.  RTCP from the pusher is still received as before.
 *
 * What stays per push (GStreamer 1.22): the two appsrc threads of
 * gst-rtsp-stream (RTP and RTCP from the connection, each pushed there
 * from the client's loop).
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-push-media.h"

#include <gst/base/gstbasetransform.h>

#define DATA_KEEP_TIMING "cover-keep-timing"
/* the interval of our RTCP reports: never, in practice (a century) */
#define NO_RTCP_NS (G_GUINT64_CONSTANT (100) * 365 * 24 * 3600 * GST_SECOND)

/* ---- a jitterbuffer that does nothing ----------------------------------- */

/* What rtpbin takes for a jitterbuffer ("request-jitterbuffer"): pads
 * "sink" and "src" and a "latency" property (set unconditionally); every
 * buffer goes through as it came, in the thread it came in. */
typedef struct
{
  GstBaseTransform parent;
  guint latency_ms;
} CoverPassJitter;
typedef GstBaseTransformClass CoverPassJitterClass;
static GType cover_pass_jitter_get_type (void);
G_DEFINE_TYPE (CoverPassJitter, cover_pass_jitter, GST_TYPE_BASE_TRANSFORM);

enum
{
  PROP_0,
  PROP_LATENCY,
};

static GstStaticPadTemplate pass_sink = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("application/x-rtp"));
static GstStaticPadTemplate pass_src = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("application/x-rtp"));

static void
cover_pass_jitter_set_property (
    GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CoverPassJitter *self = (CoverPassJitter *) object;

  if (id == PROP_LATENCY)
    self->latency_ms = g_value_get_uint (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cover_pass_jitter_get_property (
    GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CoverPassJitter *self = (CoverPassJitter *) object;

  if (id == PROP_LATENCY)
    g_value_set_uint (value, self->latency_ms);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cover_pass_jitter_class_init (CoverPassJitterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  object_class->set_property = cover_pass_jitter_set_property;
  object_class->get_property = cover_pass_jitter_get_property;
  g_object_class_install_property (object_class, PROP_LATENCY,
      g_param_spec_uint ("latency", "Latency", "Ignored (rtpbin sets it)", 0,
          G_MAXUINT, 0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  gst_element_class_add_static_pad_template (element_class, &pass_sink);
  gst_element_class_add_static_pad_template (element_class, &pass_src);
  gst_element_class_set_static_metadata (element_class,
      "Pass-through jitterbuffer", "Filter/Network/RTP",
      "Forwards RTP as it came (TCP-interleaved pushes)", "coversnap");
}

static void
cover_pass_jitter_init (CoverPassJitter *self)
{
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}

static GstRTSPFilterResult
find_tcp (GstRTSPStream *stream, GstRTSPStreamTransport *trans, gpointer data)
{
  const GstRTSPTransport *t = gst_rtsp_stream_transport_get_transport (trans);

  if (t && t->lower_transport == GST_RTSP_LOWER_TRANS_TCP)
    *(gboolean *) data = TRUE;
  return GST_RTSP_FILTER_KEEP;
}

/* Called as the first packet of the session's stream arrives (its SETUP
 * is done): the pass-through over TCP; NULL leaves rtpbin its
 * rtpjitterbuffer (UDP may reorder and lose) */
static GstElement *
request_jitterbuffer (GstElement *rtpbin, guint session, GstRTSPMedia *media)
{
  GstRTSPStream *stream = gst_rtsp_media_get_stream (media, session);
  gboolean tcp = FALSE;

  if (stream)
    g_list_free_full (gst_rtsp_stream_transport_filter (stream, find_tcp, &tcp),
        g_object_unref);
  return tcp ? g_object_new (cover_pass_jitter_get_type (), NULL) : NULL;
}

/* ---- the media ---------------------------------------------------------- */

typedef GstRTSPMedia CoverPushMedia;
typedef GstRTSPMediaClass CoverPushMediaClass;
G_DEFINE_TYPE (CoverPushMedia, cover_push_media, GST_TYPE_RTSP_MEDIA);

/* rtpbin's sessions are made as gst-rtsp-stream joins the bin, before the
 * first packet: the interval is in place before any report is scheduled */
static void
session_added (GstBin *rtpbin, GstElement *element, gpointer data)
{
  if (g_object_class_find_property (
          G_OBJECT_GET_CLASS (element), "rtcp-min-interval") &&
      g_object_class_find_property (
          G_OBJECT_GET_CLASS (element), "rtcp-rr-bandwidth"))
    g_object_set (
        element, "rtcp-min-interval", NO_RTCP_NS, "rtcp-rr-bandwidth", 0, NULL);
}

static gboolean
cover_push_media_setup_rtpbin (GstRTSPMedia *media, GstElement *rtpbin)
{
  GstRTSPMediaClass *parent =
      GST_RTSP_MEDIA_CLASS (cover_push_media_parent_class);
  g_autoptr (GstElement) element = gst_rtsp_media_get_element (media);

  if (parent->setup_rtpbin && !parent->setup_rtpbin (media, rtpbin))
    return FALSE;
  if (gst_rtsp_media_get_transport_mode (media) !=
      GST_RTSP_TRANSPORT_MODE_RECORD)
    return TRUE;
  if (!element || !g_object_get_data (G_OBJECT (element), DATA_KEEP_TIMING))
    g_signal_connect (rtpbin, "request-jitterbuffer",
        G_CALLBACK (request_jitterbuffer), media);
  g_signal_connect (rtpbin, "element-added", G_CALLBACK (session_added), NULL);
  return TRUE;
}

/* The outermost pad @sink takes data from (through the ghost pads of the
 * bins around it), when nothing feeds it (transfer full), or NULL. */
static GstPad *
unfed_pad (GstPad *sink)
{
  GstPad *pad = gst_object_ref (sink);

  for (;;) {
    GstPad *peer = gst_pad_get_peer (pad);
    GstObject *ghost;

    if (!peer)
      return pad;
    gst_object_unref (pad);
    /* a ghost pad's inside: what feeds the ghost pad feeds us */
    ghost = GST_IS_PROXY_PAD (peer) ? gst_pad_get_parent (peer) : NULL;
    gst_object_unref (peer);
    if (!ghost || !GST_IS_GHOST_PAD (ghost)) {
      g_clear_object (&ghost);
      return NULL;
    }
    pad = GST_PAD (ghost);
  }
}

/* A push ends (eos-shutdown) with EOS into its sources, and its media
 * unprepares once every sink has it.  rtpbin links a stream to its
 * depayloader at the stream's first RTP packet: a stream none came in for
 * yet (ffmpeg's audio behind its video, or a pusher stopped early: its
 * RTCP alone makes the SSRC's pad, which ends at rtpptdemux) leaves its
 * depayloader unlinked, the EOS never reaches that branch and the media
 * never unprepares: its covertap keeps the device's cover (the device's
 * next push gets none) and its recording stays open.  Those branches get
 * their EOS here. */
static void
eos_unlinked_branches (GstRTSPMedia *media)
{
  g_autoptr (GstElement) element = gst_rtsp_media_get_element (media);
  guint i, n = gst_rtsp_media_n_streams (media);

  for (i = 0; element && i < n; i++) {
    g_autofree gchar *name = g_strdup_printf ("depay%u", i);
    g_autoptr (GstElement) depay =
        gst_bin_get_by_name (GST_BIN (element), name);
    g_autoptr (GstPad) sink =
        depay ? gst_element_get_static_pad (depay, "sink") : NULL;
    g_autoptr (GstPad) unfed = sink ? unfed_pad (sink) : NULL;

    if (unfed) {
      GST_INFO_OBJECT (media, "stream %u had no RTP: EOS to %s", i, name);
      gst_pad_send_event (unfed, gst_event_new_eos ());
    }
  }
}

static gboolean
cover_push_media_unprepare (GstRTSPMedia *media)
{
  GstRTSPMediaClass *parent =
      GST_RTSP_MEDIA_CLASS (cover_push_media_parent_class);
  gboolean eos = gst_rtsp_media_is_eos_shutdown (media) &&
      gst_rtsp_media_get_transport_mode (media) ==
          GST_RTSP_TRANSPORT_MODE_RECORD;

  if (!parent->unprepare (media))
    return FALSE;
  if (eos)
    eos_unlinked_branches (media);
  return TRUE;
}

static void
cover_push_media_class_init (CoverPushMediaClass *klass)
{
  klass->setup_rtpbin = cover_push_media_setup_rtpbin;
  klass->unprepare = cover_push_media_unprepare;
}

static void
cover_push_media_init (CoverPushMedia *media)
{
}

void
cover_push_media_keep_timing (GstElement *element)
{
  g_return_if_fail (GST_IS_ELEMENT (element));

  g_object_set_data (G_OBJECT (element), DATA_KEEP_TIMING, GINT_TO_POINTER (1));
}
