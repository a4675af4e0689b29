/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* A keyframe decoder built from whatever the registry offers: the
 * highest-ranked parser and decoder for the codec (hardware decoders rank
 * above software ones where they are installed).  No pipeline, no threads
 * of its own: the elements sit in a bare bin between two pads of ours, so a
 * push runs the parser and decoder in the caller's (worker's) thread, and
 * EOS drains the decoder synchronously.  A flush then resets it for the next
 * keyframe, which may come from another stream.
 *
 * covertap hands over whole access units: when the decoder takes a job's
 * caps as they are (libav's decoders take byte-stream and avc/hvc1/hev1
 * access units), the units go to it directly and the parser is left out
 * (parsing each keyframe again cost covertap 4-5 %, bench/README.md);
 * otherwise (avc3 for avdec_h264, a decoder that wants more in its caps)
 * they go through the parser.  The route is chosen per keyframe. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "coverdecoder.h"

#include <gst/video/video.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (cover_decoder_debug);
#define GST_CAT_DEFAULT cover_decoder_debug

G_DEFINE_QUARK (cover-decoder-error-quark, cover_decoder_error);

struct _CoverDecoder
{
  gchar *codec;
  GstElement *bin;
  GstElement *parser;
  GstElement *decoder;
  GstBus *bus;
  GstPad *srcpad;  /* ours, feeds the parser or the decoder */
  GstPad *sinkpad; /* ours, receives raw frames */
  GstPad *parser_sink, *parser_src, *decoder_sink;
  gboolean direct; /* srcpad is linked to the decoder itself */
  gboolean started;
  gboolean broken;
  guint32 group_id;

  /* filled by the sink pad while a keyframe is pushed */
  GstBuffer *out;
  GstCaps *out_caps;
};

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw"));

static void
init_debug (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (
        cover_decoder_debug, "coverdecoder", 0, "coversnap keyframe decoders");
    g_once_init_leave (&done, 1);
  }
}

static GstElementFactory *
find_factory (GstElementFactoryListType type, const gchar *codec)
{
  GstElementFactory *found = NULL;
  GList *all, *matching, *l;
  GstCaps *caps = gst_caps_new_empty_simple (codec);

  all = gst_element_factory_list_get_elements (
      type | GST_ELEMENT_FACTORY_TYPE_MEDIA_VIDEO, GST_RANK_MARGINAL);
  matching = gst_element_factory_list_filter (all, caps, GST_PAD_SINK, FALSE);
  for (l = matching; l; l = l->next) {
    GstElementFactory *f = l->data;
    const gchar *klass =
        gst_element_factory_get_metadata (f, GST_ELEMENT_METADATA_KLASS);

    /* decodebin and friends claim everything */
    if (klass && strstr (klass, "Generic"))
      continue;
    found = gst_object_ref (f);
    break;
  }
  gst_plugin_feature_list_free (matching);
  gst_plugin_feature_list_free (all);
  gst_caps_unref (caps);
  return found;
}

static GstFlowReturn
sink_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  CoverDecoder *dec = gst_pad_get_element_private (pad);

  /* latest wins: one keyframe in should give one frame out */
  gst_buffer_replace (&dec->out, buffer);
  gst_buffer_unref (buffer);
  return GST_FLOW_OK;
}

static gboolean
sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  CoverDecoder *dec = gst_pad_get_element_private (pad);

  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    GstCaps *caps;

    gst_event_parse_caps (event, &caps);
    gst_caps_replace (&dec->out_caps, caps);
  }
  gst_event_unref (event);
  return TRUE;
}

static gboolean
caps_are_system_memory (GstCaps *caps)
{
  GstCapsFeatures *f;

  if (!gst_caps_is_fixed (caps))
    return FALSE;
  f = gst_caps_get_features (caps, 0);
  return !f ||
      gst_caps_features_is_equal (f, GST_CAPS_FEATURES_MEMORY_SYSTEM_MEMORY);
}

static gboolean
sink_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS: {
      GstCaps *filter, *caps = gst_caps_new_empty_simple ("video/x-raw");

      gst_query_parse_caps (query, &filter);
      if (filter) {
        GstCaps *tmp =
            gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref (caps);
        caps = tmp;
      }
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    }
    case GST_QUERY_ACCEPT_CAPS: {
      GstCaps *caps;

      gst_query_parse_accept_caps (query, &caps);
      gst_query_set_accept_caps_result (query,
          caps_are_system_memory (caps) &&
              gst_structure_has_name (
                  gst_caps_get_structure (caps, 0), "video/x-raw"));
      return TRUE;
    }
    case GST_QUERY_ALLOCATION:
      /* lets decoders hand out their padded frames without a copy */
      gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);
      return TRUE;
    default:
      return FALSE;
  }
}

static void
set_if_exists (GstElement *e, const gchar *prop, const gchar *value)
{
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (e), prop))
    gst_util_set_object_arg (G_OBJECT (e), prop, value);
}

/* Decoder settings per codec, where the decoder has the property, for
 * the decoders of random access pictures (IDR, IRAP: they decode alone),
 * of any keyframe covertap takes, or both.  They are chosen so that a lone
 * keyframe of any common shape gives a picture, and are tested
 * (tests/elements/covertap-shapes.c):
 * - H.264, any keyframe: libav's decoder without frame threads gives no
 *   picture for a non-IDR I-frame that has B-frames around it (open GOP:
 *   x264 open-gop=1, or a stream joined mid-GOP); with frame threads (two
 *   are enough, one is the same as none) it does.  The delay frame threads
 *   add is drained by EOS, so it costs no wait here.
 * - H.264, IDR pictures: slice threads.  Frame threads hand each picture
 *   over between threads: an IDR costs about 8 % more with them (720p, one
 *   keyframe per job, as the pool decodes them), for nothing.
 * - H.265: CRA and BLA pictures decode alone with slice threads.
 * - All: at most two threads a decoder.  The pool has a worker per core
 *   already; libav's default, a thread per core, would make cores² threads
 *   for a speed-up only multi-slice pictures could use.
 * - All: a frame the decoder knows is corrupt (a picture before its
 *   recovery point) must not become a cover. */
enum
{
  ANY_KEYFRAME,
  RANDOM_ACCESS,
  BOTH
};
static const struct
{
  const gchar *codec;
  gint input;
  const gchar *prop;
  const gchar *value;
} decoder_settings[] = {
  { "video/x-h264", ANY_KEYFRAME, "thread-type", "frame" },
  { "video/x-h264", RANDOM_ACCESS, "thread-type", "slice" },
  { "video/x-h265", BOTH, "thread-type", "slice" },
  { NULL, BOTH, "max-threads", "2" },
  { NULL, BOTH, "output-corrupt", "false" },
};

gboolean
cover_decoder_has_random_access_settings (const GstCaps *caps)
{
  const gchar *codec;
  guint i;

  g_return_val_if_fail (GST_IS_CAPS (caps) && !gst_caps_is_empty (caps), FALSE);

  codec = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  for (i = 0; i < G_N_ELEMENTS (decoder_settings); i++) {
    if (decoder_settings[i].codec && decoder_settings[i].input != BOTH &&
        g_str_equal (decoder_settings[i].codec, codec))
      return TRUE;
  }
  return FALSE;
}

static void
apply_settings (GstElement *decoder, const gchar *codec, gint input)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (decoder_settings); i++) {
    if ((!decoder_settings[i].codec ||
            g_str_equal (decoder_settings[i].codec, codec)) &&
        (decoder_settings[i].input == BOTH ||
            decoder_settings[i].input == input))
      set_if_exists (
          decoder, decoder_settings[i].prop, decoder_settings[i].value);
  }
}

CoverDecoder *
cover_decoder_new (const GstCaps *caps, gboolean random_access, GError **error)
{
  CoverDecoder *dec;
  GstElementFactory *pf, *df;
  const gchar *codec;

  g_return_val_if_fail (GST_IS_CAPS (caps) && !gst_caps_is_empty (caps), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  init_debug ();
  codec = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  df = find_factory (GST_ELEMENT_FACTORY_TYPE_DECODER, codec);
  if (!df) {
    g_set_error (error, COVER_DECODER_ERROR, COVER_DECODER_ERROR_NO_DECODER,
        "No decoder for %s is installed", codec);
    return NULL;
  }
  pf = find_factory (GST_ELEMENT_FACTORY_TYPE_PARSER, codec);

  dec = g_new0 (CoverDecoder, 1);
  dec->codec = g_strdup (codec);
  dec->group_id = gst_util_group_id_next ();
  dec->bin = gst_object_ref_sink (gst_bin_new (NULL));
  dec->bus = gst_bus_new ();
  gst_element_set_bus (dec->bin, dec->bus);
  /* the bin owns whatever was created, whatever fails next */
  dec->decoder = gst_element_factory_create (df, NULL);
  if (dec->decoder)
    gst_bin_add (GST_BIN (dec->bin), dec->decoder);
  if (pf && (dec->parser = gst_element_factory_create (pf, NULL)))
    gst_bin_add (GST_BIN (dec->bin), dec->parser);
  if (!dec->decoder || (pf && !dec->parser))
    goto create_failed;

  apply_settings (
      dec->decoder, codec, random_access ? RANDOM_ACCESS : ANY_KEYFRAME);

  if (dec->parser && !gst_element_link (dec->parser, dec->decoder))
    goto create_failed;

  dec->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  dec->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_object_ref_sink (dec->srcpad);
  gst_object_ref_sink (dec->sinkpad);
  gst_pad_set_element_private (dec->sinkpad, dec);
  gst_pad_set_chain_function (dec->sinkpad, sink_chain);
  gst_pad_set_event_function (dec->sinkpad, sink_event);
  gst_pad_set_query_function (dec->sinkpad, sink_query);
  dec->decoder_sink = gst_element_get_static_pad (dec->decoder, "sink");
  if (dec->parser) {
    dec->parser_sink = gst_element_get_static_pad (dec->parser, "sink");
    dec->parser_src = gst_element_get_static_pad (dec->parser, "src");
  }
  dec->direct = !dec->parser;
  {
    GstPad *out = gst_element_get_static_pad (dec->decoder, "src");
    GstPadLinkReturn r1 = gst_pad_link (
        dec->srcpad, dec->parser ? dec->parser_sink : dec->decoder_sink);
    GstPadLinkReturn r2 = gst_pad_link (out, dec->sinkpad);

    gst_object_unref (out);
    if (r1 != GST_PAD_LINK_OK || r2 != GST_PAD_LINK_OK)
      goto create_failed;
  }
  gst_pad_set_active (dec->srcpad, TRUE);
  gst_pad_set_active (dec->sinkpad, TRUE);
  if (gst_element_set_state (dec->bin, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE)
    goto create_failed;

  GST_INFO ("new %s decoder (%s): %s ! %s", codec,
      random_access ? "random access pictures" : "any keyframe",
      pf ? GST_OBJECT_NAME (pf) : "(no parser)", GST_OBJECT_NAME (df));
  gst_clear_object (&pf);
  gst_object_unref (df);
  return dec;

create_failed:
  g_set_error (error, COVER_DECODER_ERROR, COVER_DECODER_ERROR_NO_DECODER,
      "Could not set up %s%s%s for %s", pf ? GST_OBJECT_NAME (pf) : "",
      pf ? " ! " : "", GST_OBJECT_NAME (df), codec);
  gst_clear_object (&pf);
  gst_object_unref (df);
  cover_decoder_free (dec);
  return NULL;
}

static const gchar *
decoder_name (CoverDecoder *dec)
{
  return GST_OBJECT_NAME (gst_element_get_factory (dec->decoder));
}

gboolean
cover_decoder_is_usable (CoverDecoder *dec)
{
  g_return_val_if_fail (dec != NULL, FALSE);

  return !dec->broken;
}

/* The bus collects what the elements said during the last keyframe. */
static gchar *
pop_bus_error (CoverDecoder *dec)
{
  GstMessage *msg;
  gchar *text = NULL;

  while ((msg = gst_bus_pop (dec->bus))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR ||
        GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
      GError *err = NULL;

      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
        gst_message_parse_error (msg, &err, NULL);
      else
        gst_message_parse_warning (msg, &err, NULL);
      if (!text)
        text = g_strdup (err->message);
      g_error_free (err);
    }
    gst_message_unref (msg);
  }
  return text;
}

/* Links our source pad to the decoder itself (@direct) or to the parser in
 * front of it; FALSE if the links could not be made. */
static gboolean
route (CoverDecoder *dec, gboolean direct)
{
  gboolean ok;

  if (direct == dec->direct)
    return TRUE;
  if (direct) {
    gst_pad_unlink (dec->srcpad, dec->parser_sink);
    gst_pad_unlink (dec->parser_src, dec->decoder_sink);
    ok = gst_pad_link (dec->srcpad, dec->decoder_sink) == GST_PAD_LINK_OK;
  } else {
    gst_pad_unlink (dec->srcpad, dec->decoder_sink);
    ok = gst_pad_link (dec->parser_src, dec->decoder_sink) == GST_PAD_LINK_OK &&
        gst_pad_link (dec->srcpad, dec->parser_sink) == GST_PAD_LINK_OK;
  }
  GST_DEBUG ("%s keyframes go %s", dec->codec,
      direct ? "to the decoder directly" : "through the parser");
  dec->direct = direct;
  return ok;
}

/* Units go in at this pace: the decoder wants growing timestamps. */
#define UNIT_DURATION (GST_SECOND / 25)

GstSample *
cover_decoder_decode (
    CoverDecoder *dec, GstCaps *caps, GstBufferList *units, GError **error)
{
  GstFlowReturn ret = GST_FLOW_OK;
  GstSample *sample = NULL;
  GstSegment segment;
  guint i, n;
  gsize bytes = 0;
  gchar *why;

  g_return_val_if_fail (dec != NULL, NULL);
  g_return_val_if_fail (!dec->broken, NULL);
  g_return_val_if_fail (GST_IS_CAPS (caps), NULL);
  g_return_val_if_fail (
      units != NULL && gst_buffer_list_length (units) > 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!dec->started) {
    GstEvent *ev = gst_event_new_stream_start ("coversnap-keyframes");

    gst_event_set_group_id (ev, dec->group_id);
    gst_pad_push_event (dec->srcpad, ev);
    dec->started = TRUE;
  }
  /* the parser only where the decoder does not take the units as they
   * are (sticky events go to a new peer before the caps below) */
  if (!route (dec,
          !dec->parser ||
              gst_pad_query_accept_caps (dec->decoder_sink, caps))) {
    dec->broken = TRUE;
    g_set_error (error, COVER_DECODER_ERROR, COVER_DECODER_ERROR_DECODE,
        "%s: could not link the parser", decoder_name (dec));
    return NULL;
  }
  /* Caps go down every time: the flush below may have reset the parser's
   * idea of the stream, and the next keyframe may be another stream's. */
  gst_pad_push_event (dec->srcpad, gst_event_new_caps (caps));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (dec->srcpad, gst_event_new_segment (&segment));

  n = gst_buffer_list_length (units);
  for (i = 0; i < n && (ret == GST_FLOW_OK || ret == GST_FLOW_EOS); i++) {
    GstBuffer *unit = gst_buffer_list_get (units, i);
    /* a fresh buffer sharing the unit's memory: the stream's own buffer
     * keeps its timestamps and flags, ours start the segment */
    GstBuffer *in = gst_buffer_new ();

    gst_buffer_copy_into (in, unit, GST_BUFFER_COPY_MEMORY, 0, -1);
    GST_BUFFER_PTS (in) = GST_BUFFER_DTS (in) = i * UNIT_DURATION;
    GST_BUFFER_DURATION (in) = UNIT_DURATION;
    bytes += gst_buffer_get_size (unit);
    ret = gst_pad_push (dec->srcpad, in);
  }
  gst_pad_push_event (dec->srcpad, gst_event_new_eos ());

  /* the last picture out is the newest: the keyframe, or the picture a
   * recovery point recovers */
  if (dec->out && dec->out_caps)
    sample = gst_sample_new (dec->out, dec->out_caps, NULL, NULL);
  gst_clear_buffer (&dec->out);

  gst_pad_push_event (dec->srcpad, gst_event_new_flush_start ());
  gst_pad_push_event (dec->srcpad, gst_event_new_flush_stop (TRUE));

  why = pop_bus_error (dec);
  if (ret != GST_FLOW_OK && ret != GST_FLOW_EOS)
    dec->broken = TRUE;
  if (!sample) {
    g_set_error (error, COVER_DECODER_ERROR, COVER_DECODER_ERROR_DECODE,
        "%s produced no picture from %u %s access unit%s of %" G_GSIZE_FORMAT
        " bytes (%s)%s%s",
        decoder_name (dec), n, dec->codec, n == 1 ? "" : "s", bytes,
        gst_flow_get_name (ret), why ? ": " : "", why ? why : "");
  }
  g_free (why);
  return sample;
}

void
cover_decoder_free (CoverDecoder *dec)
{
  if (!dec)
    return;
  gst_element_set_state (dec->bin, GST_STATE_NULL);
  if (dec->srcpad) {
    gst_pad_set_active (dec->srcpad, FALSE);
    gst_object_unref (dec->srcpad);
  }
  if (dec->sinkpad) {
    gst_pad_set_active (dec->sinkpad, FALSE);
    gst_object_unref (dec->sinkpad);
  }
  gst_clear_object (&dec->parser_sink);
  gst_clear_object (&dec->parser_src);
  gst_clear_object (&dec->decoder_sink);
  gst_element_set_bus (dec->bin, NULL);
  gst_object_unref (dec->bin);
  gst_clear_object (&dec->bus);
  gst_clear_buffer (&dec->out);
  gst_clear_caps (&dec->out_caps);
  g_free (dec->codec);
  g_free (dec);
}
