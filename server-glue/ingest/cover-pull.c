/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Pulled streams: one Pull per client id, one pipeline per attempt
 *   rtspsrc (TCP) ! depay ! <tap branch>        a camera (pull=)
 *   rtmp2src ! flvdemux ! <tap branch>           RTMP from nginx-rtmp
 * built when the source's pads appear (the codec is known from their
 * caps), and a state machine on the pulls' main context:
 *   connecting → streaming (first buffer) → backoff (error, EOS, silence)
 *   → connecting ... → stopped (removed, or an RTMP pull that failed too
 *   often).  Pipelines change state off that context
 *   (gst_element_call_async): a camera that hangs never stalls it. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-pull.h"

#include <gst/rtsp/rtsp.h>
#include <string.h>

#include "cover-tap-branch.h"
#include "coverid.h"

/* RTMP from a local nginx: playable a moment after on_publish; then
 * retried quickly, a bounded number of times (on_publish_done ends it) */
#define RTMP_RETRY_MIN_US (200 * 1000)
#define RTMP_RETRY_MAX_US (2 * G_USEC_PER_SEC)
#define RTMP_MAX_FAILURES 20
/* an attempt that gives no data this long failed (rtspsrc's own TCP
 * timeout says it sooner when the camera does not answer) */
#define CONNECT_TIMEOUT_US (20 * G_USEC_PER_SEC)
#define RTSP_TCP_TIMEOUT_US (10 * G_USEC_PER_SEC)
/* covers need no jitter buffering; a little absorbs a camera's bursts */
#define RTSP_LATENCY_MS 200
/* EOS at a stop has this long to finish the segments, then NULL */
#define STOP_GRACE_US (3 * G_USEC_PER_SEC)
#define CHECK_INTERVAL_MS 250
/* the application message of an attempt's first buffer */
#define MSG_FIRST_DATA "cover-pull-first-data"

/* What an attempt's streaming threads share with its pull: owned by the
 * pipeline's signal handlers and probes, and by the pull. */
typedef struct
{
  const CoverConfig *config;
  CoverStreamSettings settings;
  guint32 cid;
  gint64 last_data; /* monotonic µs, 0 before data; atomic */
  gint first_data;  /* atomic */
  gint linked;      /* the cover branch is linked; atomic */
  gint chosen;      /* rtspsrc's stream for the cover (select-stream) */
  gchar *shown;     /* the redacted URL */
  /* to_playing() and to_null() run on GStreamer's pool, in any order:
   * once down, the pipeline never plays again */
  GMutex state_lock;
  gboolean down;
} Attempt;

static Attempt *
attempt_ref (Attempt *a)
{
  return g_atomic_rc_box_acquire (a);
}

static void
attempt_clear (gpointer data)
{
  Attempt *a = data;

  g_free (a->shown);
  g_mutex_clear (&a->state_lock);
}

static void
attempt_unref (gpointer a)
{
  g_atomic_rc_box_release_full (a, attempt_clear);
}

typedef struct
{
  CoverPulls *pulls;
  guint32 cid;
  CoverPullKind kind;
  gchar *location; /* without userinfo */
  gchar *user;
  gchar *password;
  gchar *shown;       /* redacted, for every log line */
  GPtrArray *secrets; /* what a message must never show */
  CoverStreamSettings settings;
  gint64 retry_min_us;
  gint64 retry_max_us;
  guint max_failures; /* consecutive; 0: for ever */

  /* the pulls' context only */
  GstElement *pipeline;
  Attempt *attempt;
  GSource *bus_source;
  GSource *timer;
  gint64 attempt_since;
  guint failures;
  gboolean stopping; /* EOS sent: tear down at EOS or stop_deadline */
  gint64 stop_deadline;
  gboolean removed;  /* out of the table: finished once down */
  gboolean finished; /* down for good */

  /* pulls->lock */
  gboolean claimed; /* the cluster's claim of the cid is this pull's */
  CoverPullState state;
  guint64 reconnects;
  gint64 last_data; /* the attempt's, copied by the periodic check */
} Pull;

struct _CoverPulls
{
  const CoverConfig *config;
  const CoverIngestSettings *settings;
  GMainContext *context;
  GSource *check;

  GMutex lock;
  GHashTable *by_cid; /* cid → Pull (lock) */
  gboolean stopped;   /* lock */
  /* the context only: every Pull not yet freed, in the table or not */
  GPtrArray *alive;

  /* the cluster's, or NULL; set before the first pull */
  CoverIngestClaimAsyncFunc claim_async;
  CoverIngestReleaseFunc release;
  CoverIngestThumbnailFunc thumbnail;
  gpointer cluster_data;
};

/* pipelines going to NULL on GStreamer's pool, of all pulls (atomic): a
 * pull's teardown may outlive it */
static gint teardowns;

static void pull_attempt (Pull *p);
static void pull_end_attempt (Pull *p, const gchar *why);

/* ---- URLs and what is shown of them ------------------------------------ */

static gboolean
is_secret_arg (const gchar *name, gsize len)
{
  static const gchar *const words[] = { "token", "pass", "pwd", "secret", "key",
    "auth", "sig", NULL };
  g_autofree gchar *lower = g_ascii_strdown (name, len);
  guint i;

  for (i = 0; words[i]; i++) {
    if (strstr (lower, words[i]))
      return TRUE;
  }
  return FALSE;
}

/* @query with the values of secret arguments replaced; @values (may be
 * NULL) gets those values */
static gchar *
redact_query (const gchar *query, GPtrArray *values)
{
  g_auto (GStrv) args = g_strsplit (query, "&", -1);
  GString *out = g_string_new (NULL);
  guint i;

  for (i = 0; args[i]; i++) {
    const gchar *eq = strchr (args[i], '=');

    if (i)
      g_string_append_c (out, '&');
    if (eq && is_secret_arg (args[i], eq - args[i])) {
      g_string_append_len (out, args[i], eq + 1 - args[i]);
      g_string_append (out, "REDACTED");
      if (values && eq[1])
        g_ptr_array_add (values, g_strdup (eq + 1));
    } else {
      g_string_append (out, args[i]);
    }
  }
  return g_string_free (out, FALSE);
}

static GUri *
parse_url (const gchar *url)
{
  return g_uri_parse (url,
      G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED | G_URI_FLAGS_NON_DNS,
      NULL);
}

gchar *
cover_pull_redact_url (const gchar *url)
{
  g_autoptr (GUri) uri = NULL;
  g_autofree gchar *query = NULL;

  g_return_val_if_fail (url != NULL, NULL);

  uri = parse_url (url);
  /* never the text itself: it may be anything */
  if (!uri)
    return g_strdup ("(not a URL)");
  if (g_uri_get_query (uri))
    query = redact_query (g_uri_get_query (uri), NULL);
  return g_uri_join (G_URI_FLAGS_ENCODED, g_uri_get_scheme (uri), NULL,
      g_uri_get_host (uri), g_uri_get_port (uri), g_uri_get_path (uri), query,
      NULL);
}

/* @text with every secret of @p replaced (transfer full) */
static gchar *
scrub (Pull *p, const gchar *text)
{
  GString *s;
  guint i;

  if (!text)
    return NULL;
  s = g_string_new (text);
  g_string_replace (s, p->location, p->shown, 0);
  for (i = 0; i < p->secrets->len; i++)
    g_string_replace (s, g_ptr_array_index (p->secrets, i), "REDACTED", 0);
  return g_string_free (s, FALSE);
}

const gchar *
cover_pull_state_to_string (CoverPullState state)
{
  switch (state) {
    case COVER_PULL_CONNECTING:
      return "connecting";
    case COVER_PULL_STREAMING:
      return "streaming";
    case COVER_PULL_BACKOFF:
      return "backoff";
    case COVER_PULL_STOPPED:
      return "stopped";
  }
  return "?";
}

static const gchar *
kind_to_string (CoverPullKind kind)
{
  return kind == COVER_PULL_RTMP ? "rtmp" : "camera";
}

/* ---- the pipeline of an attempt (streaming threads) -------------------- */

static GstPadProbeReturn
on_data (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Attempt *a = data;

  __atomic_store_n (&a->last_data, g_get_monotonic_time (), __ATOMIC_RELAXED);
  if (g_atomic_int_compare_and_exchange (&a->first_data, 0, 1)) {
    g_autoptr (GstElement) parent = gst_pad_get_parent_element (pad);

    if (parent)
      gst_element_post_message (parent,
          gst_message_new_application (
              GST_OBJECT (parent), gst_structure_new_empty (MSG_FIRST_DATA)));
  }
  return GST_PAD_PROBE_OK;
}

static void
link_fakesink (GstElement *pipeline, GstPad *pad)
{
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);
  g_autoptr (GstPad) sinkpad = NULL;

  g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add (GST_BIN (pipeline), sink);
  sinkpad = gst_element_get_static_pad (sink, "sink");
  gst_pad_link (pad, sinkpad);
  gst_element_sync_state_with_parent (sink);
}

/* [depay !] <the tap branch> as a bin with a ghost sink pad, linked to
 * @pad and playing */
static gboolean
link_branch (Attempt *a, GstElement *pipeline, GstPad *pad, CoverCodec codec,
    gboolean rtp)
{
  g_autoptr (GString) desc = g_string_new (NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (GstPad) sinkpad = NULL;
  g_autoptr (GstElement) in = NULL;
  g_autoptr (GstPad) in_sink = NULL;
  const gchar *depay, *parse, *timestamper;
  gboolean record;
  GstElement *bin;

  if (!cover_tap_branch_video_chain (codec, &depay, &parse, &timestamper))
    return FALSE;
  record = cover_tap_branch_records (a->cid, &a->settings, codec);
  if (record)
    g_string_append (desc, "splitmuxsink name=rec ");
  /* the demuxer's thread is not held by the branch */
  g_string_append_printf (desc, "%s name=in ! ", rtp ? depay : "queue");
  cover_tap_branch_append (desc, codec, record);
  /* no ghosting of unlinked pads: it would take splitmuxsink's inner
   * muxer pad before splitmuxsink links it */
  bin = gst_parse_bin_from_description_full (
      desc->str, FALSE, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (!bin) {
    g_warning ("stream %u: cannot make the pipeline: %s", a->cid,
        err ? err->message : "?");
    return FALSE;
  }
  /* added to a playing pipeline: the bin itself goes on to PLAYING once
   * splitmuxsink's async change is done (its parent would not) */
  g_object_set (bin, "async-handling", TRUE, NULL);
  in = gst_bin_get_by_name (GST_BIN (bin), "in");
  in_sink = gst_element_get_static_pad (in, "sink");
  gst_element_add_pad (bin, gst_ghost_pad_new ("sink", in_sink));
  if (!cover_tap_branch_setup (bin, a->config, a->cid, &a->settings, record)) {
    gst_object_unref (bin);
    return FALSE;
  }
  gst_bin_add (GST_BIN (pipeline), bin);
  sinkpad = gst_element_get_static_pad (bin, "sink");
  gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_BUFFER, on_data,
      attempt_ref (a), attempt_unref);
  gst_element_sync_state_with_parent (bin);
  if (gst_pad_link (pad, sinkpad) != GST_PAD_LINK_OK) {
    g_warning ("stream %u: cannot link %s video", a->cid,
        cover_codec_to_string (codec));
    return FALSE;
  }
  g_message ("stream %u: %s video from %s", a->cid,
      cover_codec_to_string (codec), a->shown);
  return TRUE;
}

/* rtspsrc: SETUP only the cover's video, the first video stream of a codec
 * covertap takes */
static gboolean
select_stream (GstElement *src, guint num, GstCaps *caps, gpointer data)
{
  Attempt *a = data;
  const GstStructure *st = gst_caps_get_structure (caps, 0);
  const gchar *media = gst_structure_get_string (st, "media");
  const gchar *enc = gst_structure_get_string (st, "encoding-name");

  if (a->chosen >= 0)
    return (gint) num == a->chosen;
  if (g_strcmp0 (media, "video") != 0 || !enc ||
      cover_codec_from_encoding_name (enc) == COVER_CODEC_NONE)
    return FALSE;
  a->chosen = num;
  return TRUE;
}

static void
pad_added (GstElement *element, GstPad *pad, gpointer data)
{
  Attempt *a = data;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  g_autoptr (GstElement) pipeline = NULL;
  const GstStructure *st;
  CoverCodec codec = COVER_CODEC_NONE;
  gboolean rtp = FALSE;

  if (!caps)
    caps = gst_pad_query_caps (pad, NULL);
  pipeline = GST_ELEMENT (gst_element_get_parent (element));
  if (!pipeline)
    return;
  st = gst_caps_get_structure (caps, 0);
  if (st && gst_structure_has_name (st, "application/x-rtp")) {
    const gchar *enc = gst_structure_get_string (st, "encoding-name");

    rtp = TRUE;
    if (enc && g_strcmp0 (gst_structure_get_string (st, "media"), "video") == 0)
      codec = cover_codec_from_encoding_name (enc);
  } else if (st && g_str_has_prefix (gst_structure_get_name (st), "video/")) {
    codec = cover_codec_from_caps (caps);
  }
  /* RTP JPEG needs the push factory's quantization-table fix: pulled
   * MJPEG is not taken */
  if (codec == COVER_CODEC_JPEG && rtp)
    codec = COVER_CODEC_NONE;
  if (codec != COVER_CODEC_NONE &&
      g_atomic_int_compare_and_exchange (&a->linked, 0, 1) &&
      link_branch (a, pipeline, pad, codec, rtp))
    return;
  if (codec == COVER_CODEC_NONE && st &&
      (g_str_has_prefix (gst_structure_get_name (st), "video/") ||
          g_strcmp0 (gst_structure_get_string (st, "media"), "video") == 0))
    g_message ("stream %u: %s sends video covertap does not take (%s)", a->cid,
        a->shown, gst_structure_get_name (st));
  /* audio, other streams: received and dropped */
  link_fakesink (pipeline, pad);
}

static GstElement *
make_pipeline (Pull *p)
{
  GstElement *pipeline = gst_pipeline_new (NULL);
  Attempt *a = p->attempt;
  GstElement *src;

  if (p->kind == COVER_PULL_CAMERA && !g_str_has_prefix (p->location, "rtmp")) {
    src = gst_element_factory_make ("rtspsrc", NULL);
    if (!src)
      goto missing;
    /* TCP: no UDP ports to open through NAT, no packet loss to break the
     * keyframes covers are made of */
    g_object_set (src, "location", p->location, "protocols",
        GST_RTSP_LOWER_TRANS_TCP, "latency", (guint) RTSP_LATENCY_MS,
        "tcp-timeout", (guint64) RTSP_TCP_TIMEOUT_US, NULL);
    if (p->user)
      g_object_set (src, "user-id", p->user, NULL);
    if (p->password)
      g_object_set (src, "user-pw", p->password, NULL);
    g_signal_connect_data (src, "select-stream", G_CALLBACK (select_stream),
        attempt_ref (a), (GClosureNotify) (void (*) (void)) attempt_unref, 0);
    g_signal_connect_data (src, "pad-added", G_CALLBACK (pad_added),
        attempt_ref (a), (GClosureNotify) (void (*) (void)) attempt_unref, 0);
    gst_bin_add (GST_BIN (pipeline), src);
  } else {
    GstElement *demux;

    src = gst_element_factory_make ("rtmp2src", NULL);
    demux = gst_element_factory_make ("flvdemux", NULL);
    if (!src || !demux) {
      g_clear_object (&demux);
      goto missing;
    }
    g_object_set (src, "location", p->location, NULL);
    if (p->user)
      g_object_set (src, "username", p->user, NULL);
    if (p->password)
      g_object_set (src, "password", p->password, NULL);
    g_signal_connect_data (demux, "pad-added", G_CALLBACK (pad_added),
        attempt_ref (a), (GClosureNotify) (void (*) (void)) attempt_unref, 0);
    gst_bin_add_many (GST_BIN (pipeline), src, demux, NULL);
    gst_element_link (src, demux);
  }
  return pipeline;

missing:
  g_warning ("stream %u: no %s element (gst-plugins-good/bad): not pulling",
      p->cid, p->kind == COVER_PULL_RTMP ? "rtmp2src/flvdemux" : "rtspsrc");
  g_clear_object (&src);
  gst_object_unref (pipeline);
  return NULL;
}

/* ---- the state machine (the pulls' context) ---------------------------- */

static void
set_state (Pull *p, CoverPullState state)
{
  g_mutex_lock (&p->pulls->lock);
  p->state = state;
  g_mutex_unlock (&p->pulls->lock);
}

static void
to_null (GstElement *pipeline, gpointer data)
{
  Attempt *a = data;

  g_mutex_lock (&a->state_lock);
  a->down = TRUE;
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_mutex_unlock (&a->state_lock);
  g_atomic_int_add (&teardowns, -1);
}

static void
send_eos (GstElement *pipeline, gpointer data)
{
  gst_element_send_event (pipeline, gst_event_new_eos ());
}

static void
to_playing (GstElement *pipeline, gpointer data)
{
  Attempt *a = data;

  g_mutex_lock (&a->state_lock);
  /* a failure is posted on the bus as an error */
  if (!a->down)
    gst_element_set_state (pipeline, GST_STATE_PLAYING);
  g_mutex_unlock (&a->state_lock);
}

static void
teardown (Pull *p)
{
  if (p->bus_source) {
    g_source_destroy (p->bus_source);
    g_clear_pointer (&p->bus_source, g_source_unref);
  }
  if (p->pipeline) {
    g_atomic_int_inc (&teardowns);
    /* the call holds its own reference of the pipeline until done */
    gst_element_call_async (
        p->pipeline, to_null, attempt_ref (p->attempt), attempt_unref);
    gst_clear_object (&p->pipeline);
  }
  g_clear_pointer (&p->attempt, attempt_unref);
  p->stopping = FALSE;
  g_mutex_lock (&p->pulls->lock);
  p->last_data = 0;
  g_mutex_unlock (&p->pulls->lock);
}

static void
cancel_timer (Pull *p)
{
  if (p->timer) {
    g_source_destroy (p->timer);
    g_clear_pointer (&p->timer, g_source_unref);
  }
}

static void
pull_clear (gpointer data)
{
  Pull *p = data;

  g_free (p->location);
  g_free (p->user);
  g_free (p->password);
  g_free (p->shown);
  g_ptr_array_unref (p->secrets);
}

/* Held by the table (while there), the context's list of pulls alive,
 * and each call handed to the context: the context may finish a pull
 * (given up) while an HTTP thread takes it out of the table. */
static Pull *
pull_ref (Pull *p)
{
  return g_atomic_rc_box_acquire (p);
}

static void
pull_unref (gpointer p)
{
  g_atomic_rc_box_release_full (p, pull_clear);
}

/* Nothing of @p streams any more: the cluster's claim goes, unless a pull
 * that took the client id over holds it now. */
static void
pull_release (Pull *p)
{
  CoverPulls *pulls = p->pulls;
  Pull *now;
  gboolean release;

  g_mutex_lock (&pulls->lock);
  release = p->claimed;
  p->claimed = FALSE;
  now = g_hash_table_lookup (pulls->by_cid, GUINT_TO_POINTER (p->cid));
  if (now && now != p && now->claimed)
    release = FALSE;
  g_mutex_unlock (&pulls->lock);
  if (release && pulls->release)
    pulls->release (p->cid, pulls->cluster_data);
}

typedef struct
{
  Pull *pull;       /* a reference */
  Attempt *attempt; /* a reference: the attempt that asked */
} PullClaim;

static void
on_pull_claimed (gboolean granted, gpointer data)
{
  PullClaim *pc = data;
  Pull *p = pc->pull;

  if (p->attempt == pc->attempt && !p->finished && !p->stopping &&
      !p->removed) {
    if (granted) {
      g_mutex_lock (&p->pulls->lock);
      p->claimed = TRUE;
      g_mutex_unlock (&p->pulls->lock);
    } else {
      g_message ("stream %u: %s: another node of the cluster streams the "
                 "client id",
          p->cid, p->shown);
      pull_end_attempt (p, "refused by the cluster");
    }
  } else if (granted) {
    /* the attempt ended meanwhile: nothing of it streams here */
    g_mutex_lock (&p->pulls->lock);
    p->claimed = TRUE;
    g_mutex_unlock (&p->pulls->lock);
    pull_release (p);
  }
  attempt_unref (pc->attempt);
  pull_unref (p);
  g_free (pc);
}

/* a camera that streams: claimed in the cluster, without waiting here (the
 * pulls' context serves every pull and the RTSP server) */
static void
pull_claim (Pull *p)
{
  PullClaim *pc;

  if (!p->pulls->claim_async || p->kind != COVER_PULL_CAMERA)
    return;
  pc = g_new0 (PullClaim, 1);
  pc->pull = pull_ref (p);
  pc->attempt = attempt_ref (p->attempt);
  p->pulls->claim_async (
      p->cid, p->pulls->context, on_pull_claimed, pc, p->pulls->cluster_data);
}

/* down for good: out of the table (if still there) and of the list */
static void
pull_finish (Pull *p)
{
  CoverPulls *pulls = p->pulls;
  gboolean in_table = FALSE;

  p->finished = TRUE;
  teardown (p);
  cancel_timer (p);
  set_state (p, COVER_PULL_STOPPED);
  pull_release (p);
  g_mutex_lock (&pulls->lock);
  if (g_hash_table_lookup (pulls->by_cid, GUINT_TO_POINTER (p->cid)) == p)
    in_table = g_hash_table_steal (pulls->by_cid, GUINT_TO_POINTER (p->cid));
  g_mutex_unlock (&pulls->lock);
  g_message ("stream %u: pull of %s stopped", p->cid, p->shown);
  if (in_table)
    pull_unref (p);
  if (g_ptr_array_remove_fast (pulls->alive, p))
    pull_unref (p);
}

static gboolean
on_bus (GstBus *bus, GstMessage *msg, gpointer data)
{
  Pull *p = data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
    case GST_MESSAGE_WARNING: {
      g_autoptr (GError) err = NULL;
      g_autofree gchar *debug = NULL;
      g_autofree gchar *text = NULL;
      g_autofree gchar *detail = NULL;
      gboolean error = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR;

      if (error)
        gst_message_parse_error (msg, &err, &debug);
      else
        gst_message_parse_warning (msg, &err, &debug);
      text = scrub (p, err ? err->message : "?");
      detail = scrub (p, debug);
      g_message ("stream %u: %s from %s: %s%s%s%s", p->cid,
          error ? "error" : "warning", p->shown, text, detail ? " (" : "",
          detail ? detail : "", detail ? ")" : "");
      if (error)
        pull_end_attempt (p, "error");
      return G_SOURCE_CONTINUE;
    }
    case GST_MESSAGE_EOS:
      if (p->stopping)
        pull_finish (p);
      else
        pull_end_attempt (p, "end of stream");
      return G_SOURCE_CONTINUE;
    case GST_MESSAGE_APPLICATION:
      if (gst_message_has_name (msg, MSG_FIRST_DATA) && !p->stopping) {
        p->failures = 0;
        set_state (p, COVER_PULL_STREAMING);
        g_message ("stream %u: streaming from %s", p->cid, p->shown);
        pull_claim (p);
      }
      return G_SOURCE_CONTINUE;
    case GST_MESSAGE_ELEMENT: {
      guint32 cid;
      gint64 capture_time;

      if (p->pulls->thumbnail &&
          cover_pulls_parse_thumbnail (msg, &cid, &capture_time))
        p->pulls->thumbnail (cid, capture_time, p->pulls->cluster_data);
      return G_SOURCE_CONTINUE;
    }
    default:
      return G_SOURCE_CONTINUE;
  }
}

static gboolean
retry_due (gpointer data)
{
  Pull *p = data;

  g_clear_pointer (&p->timer, g_source_unref);
  pull_attempt (p);
  return G_SOURCE_REMOVE;
}

static void
pull_end_attempt (Pull *p, const gchar *why)
{
  gint64 delay;

  teardown (p);
  /* a camera in backoff is not live: the cluster sends nobody here (an
   * RTMP publish is live until on_publish_done) */
  if (p->kind == COVER_PULL_CAMERA)
    pull_release (p);
  if (p->removed) {
    pull_finish (p);
    return;
  }
  p->failures++;
  if (p->max_failures && p->failures > p->max_failures) {
    g_message ("stream %u: %s: %s, %u attempts failed: giving up", p->cid,
        p->shown, why, p->max_failures);
    pull_finish (p);
    return;
  }
  delay = cover_random_backoff (p->retry_min_us, p->retry_max_us, p->failures);
  set_state (p, COVER_PULL_BACKOFF);
  g_message ("stream %u: %s: %s; next attempt in %.1f s", p->cid, p->shown, why,
      delay / (gdouble) G_USEC_PER_SEC);
  cancel_timer (p);
  p->timer = g_timeout_source_new (delay / 1000);
  g_source_set_callback (p->timer, retry_due, p, NULL);
  g_source_attach (p->timer, p->pulls->context);
}

static void
pull_attempt (Pull *p)
{
  g_autoptr (GstBus) bus = NULL;
  Attempt *a;

  a = g_atomic_rc_box_new0 (Attempt);
  a->config = p->pulls->config;
  a->settings = p->settings;
  a->cid = p->cid;
  a->chosen = -1;
  a->shown = g_strdup (p->shown);
  g_mutex_init (&a->state_lock);
  p->attempt = a;

  g_mutex_lock (&p->pulls->lock);
  p->state = COVER_PULL_CONNECTING;
  if (p->attempt_since)
    p->reconnects++;
  g_mutex_unlock (&p->pulls->lock);
  p->attempt_since = g_get_monotonic_time ();
  g_message ("stream %u: pulling %s (%s)", p->cid, p->shown,
      p->failures ? "reconnecting" : "connecting");

  p->pipeline = make_pipeline (p);
  if (!p->pipeline) {
    pull_end_attempt (p, "no pipeline");
    return;
  }
  bus = gst_element_get_bus (p->pipeline);
  p->bus_source = gst_bus_create_watch (bus);
  g_source_set_callback (
      p->bus_source, (GSourceFunc) (void (*) (void)) on_bus, p, NULL);
  g_source_attach (p->bus_source, p->pulls->context);
  gst_element_call_async (
      p->pipeline, to_playing, attempt_ref (a), attempt_unref);
}

/* EOS first when it streams (the last segment and thumbnail), then down */
static void
pull_stop (Pull *p)
{
  cancel_timer (p);
  p->removed = TRUE;
  if (p->pipeline && !p->stopping && p->attempt &&
      __atomic_load_n (&p->attempt->last_data, __ATOMIC_RELAXED)) {
    p->stopping = TRUE;
    p->stop_deadline = g_get_monotonic_time () + STOP_GRACE_US;
    gst_element_call_async (p->pipeline, send_eos, NULL, NULL);
    return;
  }
  if (!p->stopping)
    pull_finish (p);
}

/* silence, connections that never give data, EOS that does not come */
static gboolean
check_pulls (gpointer data)
{
  CoverPulls *pulls = data;
  gint64 now = g_get_monotonic_time ();
  gint64 live_timeout = pulls->config->live_timeout_us;
  guint i;

  /* backwards: a pull finished here leaves the array */
  for (i = pulls->alive->len; i-- > 0;) {
    Pull *p = g_ptr_array_index (pulls->alive, i);
    gint64 last;

    if (!p->pipeline || !p->attempt)
      continue;
    last = __atomic_load_n (&p->attempt->last_data, __ATOMIC_RELAXED);
    g_mutex_lock (&pulls->lock);
    p->last_data = last;
    g_mutex_unlock (&pulls->lock);
    if (p->stopping) {
      if (now > p->stop_deadline)
        pull_finish (p);
    } else if (!last && now - p->attempt_since > CONNECT_TIMEOUT_US) {
      pull_end_attempt (p, "no data since connecting");
    } else if (last && live_timeout > 0 && now - last > live_timeout) {
      pull_end_attempt (p, "no data for live-timeout");
    }
  }
  return G_SOURCE_CONTINUE;
}

/* ---- the table (any thread) -------------------------------------------- */

CoverPulls *
cover_pulls_new (const CoverConfig *config, const CoverIngestSettings *settings)
{
  CoverPulls *pulls;

  g_return_val_if_fail (config != NULL && settings != NULL, NULL);

  pulls = g_new0 (CoverPulls, 1);
  pulls->config = config;
  pulls->settings = settings;
  pulls->context = g_main_context_ref_thread_default ();
  g_mutex_init (&pulls->lock);
  pulls->by_cid = g_hash_table_new (g_direct_hash, g_direct_equal);
  pulls->alive = g_ptr_array_new ();
  pulls->check = g_timeout_source_new (CHECK_INTERVAL_MS);
  g_source_set_callback (pulls->check, check_pulls, pulls, NULL);
  g_source_attach (pulls->check, pulls->context);
  return pulls;
}

static Pull *
pull_new (CoverPulls *pulls, guint32 cid, CoverPullKind kind, const gchar *url)
{
  g_autoptr (GUri) uri = parse_url (url);
  g_autofree gchar *query = NULL;
  Pull *p;

  if (!uri)
    return NULL;
  p = g_atomic_rc_box_new0 (Pull);
  p->pulls = pulls;
  p->cid = cid;
  p->kind = kind;
  p->secrets = g_ptr_array_new_with_free_func (g_free);
  /* rtspsrc and rtmp2src take credentials as properties: the location
   * (which they log) has none */
  if (g_uri_get_user (uri))
    p->user = g_uri_unescape_string (g_uri_get_user (uri), NULL);
  if (g_uri_get_password (uri) && *g_uri_get_password (uri)) {
    p->password = g_uri_unescape_string (g_uri_get_password (uri), NULL);
    g_ptr_array_add (p->secrets, g_strdup (g_uri_get_password (uri)));
    if (p->password && *p->password)
      g_ptr_array_add (p->secrets, g_strdup (p->password));
  }
  if (g_uri_get_query (uri))
    g_free (redact_query (g_uri_get_query (uri), p->secrets));
  p->location = g_uri_join (G_URI_FLAGS_ENCODED, g_uri_get_scheme (uri), NULL,
      g_uri_get_host (uri), g_uri_get_port (uri), g_uri_get_path (uri),
      g_uri_get_query (uri), NULL);
  p->shown = cover_pull_redact_url (url);
  cover_ingest_settings_lookup (pulls->settings, cid, &p->settings);
  if (kind == COVER_PULL_RTMP) {
    p->retry_min_us = RTMP_RETRY_MIN_US;
    p->retry_max_us = RTMP_RETRY_MAX_US;
    p->max_failures = RTMP_MAX_FAILURES;
  } else {
    cover_ingest_settings_get_pull_retry (
        pulls->settings, &p->retry_min_us, &p->retry_max_us);
  }
  return p;
}

static gboolean
start_in_context (gpointer data)
{
  Pull *p = data;

  /* stopped by cover_pulls_stop_all() before it could start */
  if (p->finished)
    return G_SOURCE_REMOVE;
  g_ptr_array_add (p->pulls->alive, pull_ref (p));
  if (p->removed)
    pull_finish (p);
  else
    pull_attempt (p);
  return G_SOURCE_REMOVE;
}

static gboolean
stop_in_context (gpointer data)
{
  Pull *p = data;

  if (!p->finished)
    pull_stop (p);
  return G_SOURCE_REMOVE;
}

/* @p: a reference the call takes */
static void
invoke (CoverPulls *pulls, GSourceFunc func, Pull *p)
{
  g_main_context_invoke_full (
      pulls->context, G_PRIORITY_DEFAULT, func, p, pull_unref);
}

/* under the lock (the Attempt is the context's) */
static gboolean
pull_is_fresh (Pull *p, gint64 stale_us)
{
  return p->state == COVER_PULL_STREAMING && p->last_data &&
      g_get_monotonic_time () - p->last_data < stale_us;
}

void
cover_pulls_set_cluster_funcs (CoverPulls *pulls,
    CoverIngestClaimAsyncFunc claim_async, CoverIngestReleaseFunc release,
    CoverIngestThumbnailFunc thumbnail, gpointer user_data)
{
  g_return_if_fail (pulls != NULL);

  pulls->claim_async = claim_async;
  pulls->release = release;
  pulls->thumbnail = thumbnail;
  pulls->cluster_data = user_data;
}

gboolean
cover_pulls_claim (CoverPulls *pulls, guint32 client_id, GMainContext *context,
    CoverIngestClaimedFunc done, gpointer done_data)
{
  g_return_val_if_fail (pulls != NULL && done != NULL, FALSE);

  if (!pulls->claim_async)
    return FALSE;
  pulls->claim_async (client_id, context, done, done_data, pulls->cluster_data);
  return TRUE;
}

void
cover_pulls_unclaim (CoverPulls *pulls, guint32 client_id)
{
  Pull *p;
  gboolean held;

  g_return_if_fail (pulls != NULL);

  g_mutex_lock (&pulls->lock);
  p = g_hash_table_lookup (pulls->by_cid, GUINT_TO_POINTER (client_id));
  held = p && p->claimed;
  g_mutex_unlock (&pulls->lock);
  if (!held && pulls->release)
    pulls->release (client_id, pulls->cluster_data);
}

gboolean
cover_pulls_parse_thumbnail (
    GstMessage *msg, guint32 *client_id, gint64 *capture_time)
{
  const GstStructure *st;
  guint cid;

  g_return_val_if_fail (GST_IS_MESSAGE (msg), FALSE);

  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ELEMENT ||
      !gst_message_has_name (msg, "covertap-thumbnail"))
    return FALSE;
  st = gst_message_get_structure (msg);
  if (!gst_structure_get_uint (st, "client-id", &cid) ||
      !gst_structure_get_int64 (st, "capture-time", capture_time))
    return FALSE;
  *client_id = cid;
  return TRUE;
}

gboolean
cover_pulls_add (CoverPulls *pulls, guint32 client_id, CoverPullKind kind,
    const gchar *url, gint64 stale_us)
{
  Pull *p, *old;

  g_return_val_if_fail (pulls != NULL && url != NULL, FALSE);

  p = pull_new (pulls, client_id, kind, url);
  if (!p)
    return FALSE;
  g_mutex_lock (&pulls->lock);
  old = g_hash_table_lookup (pulls->by_cid, GUINT_TO_POINTER (client_id));
  /* a camera of pull= stays the client id's: an RTMP publish of it is
   * refused rather than ending the camera's pull for good */
  if (pulls->stopped ||
      (old && (pull_is_fresh (old, stale_us) || old->kind != kind))) {
    g_mutex_unlock (&pulls->lock);
    pull_unref (p);
    return FALSE;
  }
  /* the table's reference of the old one is now ours */
  if (old)
    g_hash_table_steal (pulls->by_cid, GUINT_TO_POINTER (client_id));
  /* an RTMP publish was claimed by its hook (cover_pulls_claim()) */
  p->claimed = kind == COVER_PULL_RTMP && pulls->claim_async;
  g_hash_table_insert (pulls->by_cid, GUINT_TO_POINTER (client_id), p);
  g_mutex_unlock (&pulls->lock);
  /* in order: the old one's end before the new one's start */
  if (old) {
    g_message ("stream %u: pull of %s taken over by %s", client_id, old->shown,
        p->shown);
    invoke (pulls, stop_in_context, old);
  }
  invoke (pulls, start_in_context, pull_ref (p));
  return TRUE;
}

gboolean
cover_pulls_remove (
    CoverPulls *pulls, guint32 client_id, CoverPullKind kind, const gchar *url)
{
  g_autofree gchar *location = NULL;
  Pull *p;

  g_return_val_if_fail (pulls != NULL, FALSE);

  if (url) {
    g_autoptr (GUri) uri = parse_url (url);

    if (!uri)
      return FALSE;
    location = g_uri_join (G_URI_FLAGS_ENCODED, g_uri_get_scheme (uri), NULL,
        g_uri_get_host (uri), g_uri_get_port (uri), g_uri_get_path (uri),
        g_uri_get_query (uri), NULL);
  }
  g_mutex_lock (&pulls->lock);
  p = g_hash_table_lookup (pulls->by_cid, GUINT_TO_POINTER (client_id));
  /* the table's reference is now ours */
  if (p && p->kind == kind &&
      (!location || g_str_equal (location, p->location)))
    g_hash_table_steal (pulls->by_cid, GUINT_TO_POINTER (client_id));
  else
    p = NULL;
  g_mutex_unlock (&pulls->lock);
  if (p)
    invoke (pulls, stop_in_context, p);
  return p != NULL;
}

gboolean
cover_pulls_is_streaming (CoverPulls *pulls, guint32 client_id, gint64 stale_us)
{
  gboolean streaming;
  Pull *p;

  g_return_val_if_fail (pulls != NULL, FALSE);

  g_mutex_lock (&pulls->lock);
  p = g_hash_table_lookup (pulls->by_cid, GUINT_TO_POINTER (client_id));
  streaming = p && pull_is_fresh (p, stale_us);
  g_mutex_unlock (&pulls->lock);
  return streaming;
}

void
cover_pulls_write_metrics (GString *out, gpointer data)
{
  CoverPulls *pulls = data;
  GHashTableIter iter;
  Pull *p;
  guint s;

  g_return_if_fail (out != NULL && pulls != NULL);

  g_string_append (out,
      "# HELP coversnap_pull_state State of a pulled stream (1: the one it "
      "is in)\n"
      "# TYPE coversnap_pull_state gauge\n");
  g_mutex_lock (&pulls->lock);
  g_hash_table_iter_init (&iter, pulls->by_cid);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &p)) {
    for (s = COVER_PULL_CONNECTING; s <= COVER_PULL_STOPPED; s++)
      g_string_append_printf (out,
          "coversnap_pull_state{client_id=\"%u\",kind=\"%s\",state=\"%s\"} "
          "%d\n",
          p->cid, kind_to_string (p->kind), cover_pull_state_to_string (s),
          p->state == s);
  }
  g_string_append (out,
      "# HELP coversnap_pull_reconnects_total Attempts after the first of a "
      "pulled stream\n"
      "# TYPE coversnap_pull_reconnects_total counter\n");
  g_hash_table_iter_init (&iter, pulls->by_cid);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &p))
    g_string_append_printf (out,
        "coversnap_pull_reconnects_total{client_id=\"%u\",kind=\"%s\"} "
        "%" G_GUINT64_FORMAT "\n",
        p->cid, kind_to_string (p->kind), p->reconnects);
  g_mutex_unlock (&pulls->lock);
}

void
cover_pulls_stop_all (CoverPulls *pulls, gint64 deadline)
{
  g_autoptr (GPtrArray) all = g_ptr_array_new_with_free_func (pull_unref);
  GHashTableIter iter;
  Pull *p;
  guint i;

  g_return_if_fail (pulls != NULL);

  g_mutex_lock (&pulls->lock);
  pulls->stopped = TRUE;
  g_hash_table_iter_init (&iter, pulls->by_cid);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &p))
    g_ptr_array_add (all, p);
  /* the table's references are now the array's */
  g_hash_table_steal_all (pulls->by_cid);
  g_mutex_unlock (&pulls->lock);
  /* the starts and stops still queued run first (bounded: a stream's bus
   * keeps the context busy) */
  for (i = 0; i < 1000 && g_main_context_iteration (pulls->context, FALSE); i++)
    ;
  for (i = 0; i < all->len; i++) {
    p = g_ptr_array_index (all, i);
    if (!p->finished)
      pull_stop (p);
  }
  while ((pulls->alive->len > 0 || g_atomic_int_get (&teardowns) > 0) &&
      g_get_monotonic_time () < deadline) {
    if (!g_main_context_iteration (pulls->context, FALSE))
      g_usleep (10 * 1000);
  }
  /* past the deadline: down without waiting for EOS */
  while (pulls->alive->len > 0)
    pull_finish (g_ptr_array_index (pulls->alive, 0));
}

void
cover_pulls_free (CoverPulls *pulls)
{
  if (!pulls)
    return;
  cover_pulls_stop_all (pulls, g_get_monotonic_time ());
  g_source_destroy (pulls->check);
  g_source_unref (pulls->check);
  g_ptr_array_unref (pulls->alive);
  g_hash_table_unref (pulls->by_cid);
  g_mutex_clear (&pulls->lock);
  g_main_context_unref (pulls->context);
  g_free (pulls);
}
