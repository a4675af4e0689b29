/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* clang-format off */
/**
 * SECTION:element-covertap
 * @title: covertap
 *
 * covertap sits in a camera stream and keeps the latest keyframe of that
 * stream as a JPEG in a shared-memory cover store, where any process on
 * the host can read it (coversnap-cat, the coversnap HTTP service).
 *
 * Buffers pass through untouched: the element only takes a reference to a
 * keyframe (at most one every #GstCoverTap:min-interval) and hands it to a
 * process-wide pool of snapshot workers.  A worker decodes that single
 * keyframe (for periodic intra refresh: the access units from a recovery
 * point to the picture it recovers; for MJPEG nothing, when the JPEG can
 * be published as it is) with the best decoder the system has for it,
 * scales it to fit
 * #GstCoverTap:max-width x #GstCoverTap:max-height, encodes it with
 * libjpeg-turbo and publishes it.  If a worker is still busy with this
 * stream, a newer keyframe replaces the one waiting: the streaming thread
 * never waits and memory stays bounded.  A keyframe that cannot be decoded
 * is counted, logged and skipped; the previous cover stays.
 *
 * H.264 and H.265 come access-unit aligned, from a parser or straight from
 * a depayloader (rtph264depay, rtph265depay: no parser is needed in front
 * of covertap).  Without `parsed=true` in the caps covertap finds the
 * keyframes itself from the NAL headers before the first slice: IDR and
 * IRAP pictures, recovery point SEIs (periodic intra refresh, open GOP)
 * and H.264 I slices, the pictures h264parse and h265parse flag.
 *
 * Each publish posts an element message named `covertap-published` with
 * the fields `client-id` (uint), `generation` (guint64), `width` and
 * `height` (uint), `bytes` (guint64), `latency` (guint64, nanoseconds from
 * keyframe to publish) and `capture-time` (gint64, wall clock µs).
 * Each recording thumbnail saved posts an element message named
 * `covertap-thumbnail` with the fields `client-id` (uint), `path` (string,
 * the file written) and `capture-time` (gint64, wall clock µs, the time its
 * name says).
 *
 * The segment is marked ended at EOS and when the element stops, so readers
 * stop calling the stream live at once.  The store layout is described in
 * the cover-store page of the documentation.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=100 !
 * video/x-raw,format=I420,width=640,height=360 ! x264enc key-int-max=25 ! h264parse !
 * covertap client-id=42 ! fakesink
 * ]| Encodes 100 frames of test pattern, keeping the newest keyframe of the
 * stream as a JPEG in the default store directory
 * ($XDG_RUNTIME_DIR/coversnap/coversnap.42, or /run/coversnap/coversnap.42
 * for root); `coversnap-cat 42 > cover.jpg` copies it out.
 */
/* clang-format on */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>
#include <gst/video/video.h>
#include <string.h>

#include "gstcoversnapelements.h"
#include "covercodec.h"
#include "covernal.h"
#include "coverpool.h"
#include "coverstore.h"
#include "coverthumbnail.h"

GST_DEBUG_CATEGORY_STATIC (gst_cover_tap_debug);
#define GST_CAT_DEFAULT gst_cover_tap_debug

#define DEFAULT_CLIENT_ID -1
/* NULL: cover_store_default_dir(), resolved at start */
#define DEFAULT_STORE_DIR NULL
#define DEFAULT_STORE_MODE 0600
#define DEFAULT_UNLINK_ON_STOP FALSE
#define DEFAULT_QUALITY 85
#define DEFAULT_MIN_INTERVAL GST_SECOND
#define DEFAULT_MAX_WIDTH 1920
#define DEFAULT_MAX_HEIGHT 1080
#define DEFAULT_ENABLED TRUE
#define DEFAULT_THUMBNAIL_DIR NULL
#define DEFAULT_THUMBNAIL_INTERVAL 60
#define DEFAULT_THUMBNAIL_MAX_FILES 1000
#define DEFAULT_THUMBNAIL_MAX_AGE 0

/* a decoder that keeps failing posts one bus warning per this interval */
#define WARNING_INTERVAL (10 * G_USEC_PER_SEC)
/* EOS waits this long at most for the last keyframe to be published */
#define EOS_DRAIN_TIMEOUT (2 * G_USEC_PER_SEC)
/* how often a tap whose segment another live writer holds tries again */
#define OPEN_RETRY_INTERVAL (G_USEC_PER_SEC / 2)
/* The budget of a recovery point (periodic intra refresh): the access
 * units from it to the picture it recovers, 10 s at 30 fps, 32 MiB.  A
 * recovery point that needs more makes no cover. */
#define MAX_RUN_UNITS 300
#define MAX_RUN_BYTES (32 << 20)
/* bytes of an SEI NAL unit read for a recovery point, after unescaping */

/* The settings come first: their values live in GstCoverTap.settings,
 * indexed by property id; the statistics after them, in .stats. */
enum
{
  PROP_0,
  PROP_CLIENT_ID,
  PROP_STORE_DIR,
  PROP_STORE_MODE,
  PROP_UNLINK_ON_STOP,
  PROP_QUALITY,
  PROP_MIN_INTERVAL,
  PROP_MAX_WIDTH,
  PROP_MAX_HEIGHT,
  PROP_ENABLED,
  PROP_THUMBNAIL_DIR,
  PROP_THUMBNAIL_INTERVAL,
  PROP_THUMBNAIL_MAX_FILES,
  PROP_THUMBNAIL_MAX_AGE,
  PROP_KEYFRAMES_SEEN,
  PROP_KEYFRAMES_SKIPPED,
  PROP_KEYFRAMES_FAILED,
  PROP_COVERS_PUBLISHED,
  PROP_LAST_LATENCY,
  PROP_THUMBNAILS_WRITTEN,
  N_PROPS
};

#define N_SETTINGS PROP_KEYFRAMES_SEEN
#define N_STATS (N_PROPS - N_SETTINGS)

static GParamSpec *properties[N_PROPS];

#define GST_TYPE_COVER_TAP (gst_cover_tap_get_type ())
G_DECLARE_FINAL_TYPE (
    GstCoverTap, gst_cover_tap, GST, COVER_TAP, GstBaseTransform);

struct _GstCoverTap
{
  GstBaseTransform parent;

  /* the settings' values by property id, under the object lock */
  GValue settings[N_SETTINGS];
  /* statistics by property id - N_SETTINGS, atomic: workers update them */
  guint64 stats[N_STATS];
  gint64 last_warning;
  gint64 last_thumbnail_warning;

  /* streaming thread only (and start/stop, when it is not running) */
  CoverStream *stream; /* NULL: no cover segment, buffers just pass */
  /* another live writer held the segment at start (a push taken over
   * before the old pipeline let go): when to try again, or 0 */
  gint64 open_retry_at;
  GstCaps *caps;
  CoverCodec codec;
  gboolean byte_stream;
  /* no parser flagged the keyframes (caps without parsed=true): every
   * unit's NAL headers say whether it is one */
  gboolean find_keyframes;
  guint nal_length_size; /* avc, hvc1 ...: of the NAL unit lengths, or 0 */
  GstBuffer *params;     /* last complete set of parameter sets */
  GByteArray *scan;      /* the parameter sets of the buffer being scanned */
  /* a recovery point waiting for the access units up to the picture it
   * recovers (then submitted), or NULL; run_left: reference pictures
   * still to come before that picture */
  CoverJob *run;
  guint run_left;
  GstClockTime last_submit;
  GstClockTime last_thumbnail;
  gboolean thumbnails;      /* thumbnail-dir was set at start */
  GstClock *last_clock;     /* the time base of last_submit */
  guint32 active_client_id; /* the segment's, while started */
};

G_DEFINE_TYPE (GstCoverTap, gst_cover_tap, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (
    covertap, "covertap", GST_RANK_NONE, GST_TYPE_COVER_TAP);

/* *INDENT-OFF* */
/* clang-format off */
#define COVER_TAP_CAPS \
  "video/x-h264, alignment = (string) au, " \
  "stream-format = (string) { byte-stream, avc, avc3 }; " \
  "video/x-h265, alignment = (string) au, " \
  "stream-format = (string) { byte-stream, hvc1, hev1 }; " \
  "image/jpeg; " \
  "video/x-raw"
/* clang-format on */
/* *INDENT-ON* */

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (COVER_TAP_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (COVER_TAP_CAPS));

static void gst_cover_tap_finalize (GObject *object);
static void gst_cover_tap_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec);
static void gst_cover_tap_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec);
static gboolean gst_cover_tap_start (GstBaseTransform *trans);
static gboolean gst_cover_tap_stop (GstBaseTransform *trans);
static gboolean gst_cover_tap_set_caps (
    GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps);
static gboolean gst_cover_tap_sink_event (
    GstBaseTransform *trans, GstEvent *event);
static GstFlowReturn gst_cover_tap_transform_ip (
    GstBaseTransform *trans, GstBuffer *buf);

/* The statistics: read-only counters from 0. */
static GParamSpec *
stat_spec (const gchar *name, const gchar *nick, const gchar *blurb)
{
  return g_param_spec_uint64 (name, nick, blurb, 0, G_MAXUINT64, 0,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

static void
gst_cover_tap_class_init (GstCoverTapClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->finalize = gst_cover_tap_finalize;
  gobject_class->set_property = gst_cover_tap_set_property;
  gobject_class->get_property = gst_cover_tap_get_property;

  /**
   * GstCoverTap:client-id:
   *
   * The device (client) id of the stream, an unsigned 32-bit integer.  It
   * names the cover segment; the element refuses to start without it.
   */
  properties[PROP_CLIENT_ID] = g_param_spec_int64 ("client-id", "Client id",
      "Device (client) id of the stream, 0..4294967295 (-1 = unset, "
      "required)",
      -1, G_MAXUINT32, DEFAULT_CLIENT_ID,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  /**
   * GstCoverTap:store-dir:
   *
   * Directory of the cover store, normally on tmpfs.  The segment is the
   * file `coversnap.<client-id>` in it.  NULL (the default) is the private
   * directory that coversnap-cat and coversnapd use by default too:
   * `$XDG_RUNTIME_DIR/coversnap`, else `/run/coversnap` for root, else
   * `/dev/shm/coversnap-<uid>`, created with mode 0700 at start and
   * refused if it is not a directory of ours that only we may write.
   */
  properties[PROP_STORE_DIR] =
      g_param_spec_string ("store-dir", "Store directory",
          "Directory (on tmpfs) holding the cover segments (NULL: "
          "$XDG_RUNTIME_DIR/coversnap, /run/coversnap for root)",
          DEFAULT_STORE_DIR,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  /**
   * GstCoverTap:store-mode:
   *
   * Permission bits of the segment file, e.g. 0640 (416) to let a group of
   * readers in.
   */
  properties[PROP_STORE_MODE] = g_param_spec_uint ("store-mode", "Store mode",
      "Permission bits of the cover segment (0600 = 384)", 0, 0777,
      DEFAULT_STORE_MODE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  /**
   * GstCoverTap:unlink-on-stop:
   *
   * Remove the segment when the element stops instead of leaving it, marked
   * ended, for readers that still want the last picture.
   */
  properties[PROP_UNLINK_ON_STOP] = g_param_spec_boolean ("unlink-on-stop",
      "Unlink on stop", "Remove the cover segment when the element stops",
      DEFAULT_UNLINK_ON_STOP,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  /**
   * GstCoverTap:quality:
   *
   * JPEG quality of the covers.
   */
  properties[PROP_QUALITY] = g_param_spec_uint ("quality", "Quality",
      "JPEG quality of the covers", 1, 100, DEFAULT_QUALITY,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  /**
   * GstCoverTap:min-interval:
   *
   * Minimum time between two keyframes handed to the workers, in
   * nanoseconds of the pipeline clock (monotonic time without one).  0 takes
   * every keyframe.
   */
  properties[PROP_MIN_INTERVAL] = g_param_spec_uint64 ("min-interval",
      "Minimum interval",
      "Minimum time between two covers in nanoseconds (0 = every "
      "keyframe)",
      0, G_MAXUINT64, DEFAULT_MIN_INTERVAL,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  /**
   * GstCoverTap:max-width:
   *
   * Covers are scaled down (keeping the display aspect ratio, never up) to
   * fit this width.  0 = no limit.
   */
  properties[PROP_MAX_WIDTH] = g_param_spec_uint ("max-width", "Maximum width",
      "Maximum width of a cover (0 = no limit)", 0, G_MAXUINT16,
      DEFAULT_MAX_WIDTH,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  /**
   * GstCoverTap:max-height:
   *
   * Covers are scaled down (keeping the display aspect ratio, never up) to
   * fit this height.  0 = no limit.
   */
  properties[PROP_MAX_HEIGHT] = g_param_spec_uint ("max-height",
      "Maximum height", "Maximum height of a cover (0 = no limit)", 0,
      G_MAXUINT16, DEFAULT_MAX_HEIGHT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  /**
   * GstCoverTap:enabled:
   *
   * When false, buffers still pass and the segment still says the stream
   * is live, but no new covers are made.
   */
  properties[PROP_ENABLED] = g_param_spec_boolean ("enabled", "Enabled",
      "Make covers", DEFAULT_ENABLED,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  /**
   * GstCoverTap:thumbnail-dir:
   *
   * When set, recording thumbnails are saved into
   * `<thumbnail-dir>/<client-id>/`: a JPEG every
   * #GstCoverTap:thumbnail-interval seconds and one at the end of the stream,
   * named by capture time in UTC (`20261128T213300.123Z.jpg`, so names sort
   * by time), each written to a temporary file and renamed into place.
   */
  properties[PROP_THUMBNAIL_DIR] =
      g_param_spec_string ("thumbnail-dir", "Thumbnail directory",
          "Save recording thumbnails into <thumbnail-dir>/<client-id>/ "
          "(NULL = no thumbnails)",
          DEFAULT_THUMBNAIL_DIR,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  /**
   * GstCoverTap:thumbnail-interval:
   *
   * Seconds between two thumbnails (of the pipeline clock, as
   * #GstCoverTap:min-interval); the first keyframe makes one.
   */
  properties[PROP_THUMBNAIL_INTERVAL] = g_param_spec_uint ("thumbnail-interval",
      "Thumbnail interval", "Seconds between two recording thumbnails", 1,
      86400, DEFAULT_THUMBNAIL_INTERVAL,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  /**
   * GstCoverTap:thumbnail-max-files:
   *
   * Thumbnails kept per client (the oldest go first); 0 = no limit.
   */
  properties[PROP_THUMBNAIL_MAX_FILES] =
      g_param_spec_uint ("thumbnail-max-files", "Thumbnail max files",
          "Recording thumbnails kept per client (0 = no limit)", 0, G_MAXINT,
          DEFAULT_THUMBNAIL_MAX_FILES,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  /**
   * GstCoverTap:thumbnail-max-age:
   *
   * Thumbnails older than this many seconds (by mtime) are removed when a
   * new one is saved; 0 = no limit.
   */
  properties[PROP_THUMBNAIL_MAX_AGE] =
      g_param_spec_uint ("thumbnail-max-age", "Thumbnail max age",
          "Seconds a recording thumbnail is kept (0 = no limit)", 0, G_MAXINT,
          DEFAULT_THUMBNAIL_MAX_AGE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  /**
   * GstCoverTap:thumbnails-written:
   *
   * Recording thumbnails saved since the element started.
   */
  properties[PROP_THUMBNAILS_WRITTEN] = stat_spec ("thumbnails-written",
      "Thumbnails written", "Recording thumbnails saved since start");
  /**
   * GstCoverTap:keyframes-seen:
   *
   * Keyframes that went through the element since it started.
   */
  properties[PROP_KEYFRAMES_SEEN] = stat_spec (
      "keyframes-seen", "Keyframes seen", "Keyframes seen since start");
  /**
   * GstCoverTap:keyframes-skipped:
   *
   * Keyframes not turned into covers on purpose: inside min-interval, while
   * disabled, or replaced by a newer one while waiting for a worker.
   */
  properties[PROP_KEYFRAMES_SKIPPED] =
      stat_spec ("keyframes-skipped", "Keyframes skipped",
          "Keyframes skipped (interval, disabled, or replaced by a newer one)");
  /**
   * GstCoverTap:keyframes-failed:
   *
   * Keyframes that could not be decoded, encoded or published.
   */
  properties[PROP_KEYFRAMES_FAILED] = stat_spec ("keyframes-failed",
      "Keyframes failed", "Keyframes that failed to decode, encode or publish");
  /**
   * GstCoverTap:covers-published:
   *
   * Covers published in the store since the element started.
   */
  properties[PROP_COVERS_PUBLISHED] = stat_spec (
      "covers-published", "Covers published", "Covers published since start");
  /**
   * GstCoverTap:last-latency:
   *
   * Nanoseconds from the arrival of the last published keyframe to its
   * publication (queueing, decoding, scaling, encoding, copying).
   */
  properties[PROP_LAST_LATENCY] = stat_spec ("last-latency", "Last latency",
      "Keyframe-to-publish time of the last cover in nanoseconds");
  g_object_class_install_properties (gobject_class, N_PROPS, properties);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Cover tap",
      "Filter/Video",
      "Keeps the latest keyframe of a stream as a JPEG in "
      "shared memory",
      "coversnap authors");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_cover_tap_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_cover_tap_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_cover_tap_set_caps);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_cover_tap_sink_event);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_cover_tap_transform_ip);
  trans_class->passthrough_on_same_caps = TRUE;
  trans_class->transform_ip_on_passthrough = TRUE;

  GST_DEBUG_CATEGORY_INIT (
      gst_cover_tap_debug, "covertap", 0, "keyframe to shared-memory JPEG tap");
}

static void
gst_cover_tap_init (GstCoverTap *self)
{
  guint i;

  for (i = 1; i < N_SETTINGS; i++) {
    g_value_init (&self->settings[i], G_PARAM_SPEC_VALUE_TYPE (properties[i]));
    g_param_value_set_default (properties[i], &self->settings[i]);
  }
  self->last_submit = GST_CLOCK_TIME_NONE;
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}

static void
gst_cover_tap_finalize (GObject *object)
{
  GstCoverTap *self = GST_COVER_TAP (object);
  guint i;

  for (i = 1; i < N_SETTINGS; i++)
    g_value_unset (&self->settings[i]);
  G_OBJECT_CLASS (gst_cover_tap_parent_class)->finalize (object);
}

/* Settings are GValues of their pspecs' types, so one copy serves them all;
 * GObject has checked and converted @value. */
static void
gst_cover_tap_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstCoverTap *self = GST_COVER_TAP (object);

  if (prop_id == PROP_0 || prop_id >= N_SETTINGS) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    return;
  }
  GST_OBJECT_LOCK (self);
  /* NULL for a directory means its default (none, for thumbnail-dir) */
  if (G_VALUE_HOLDS_STRING (value) && !g_value_get_string (value))
    g_param_value_set_default (pspec, &self->settings[prop_id]);
  else
    g_value_copy (value, &self->settings[prop_id]);
  GST_OBJECT_UNLOCK (self);
}

static guint64
stat_get (GstCoverTap *self, guint prop_id)
{
  return __atomic_load_n (&self->stats[prop_id - N_SETTINGS], __ATOMIC_RELAXED);
}

static void
stat_add (GstCoverTap *self, guint prop_id, guint64 n)
{
  __atomic_fetch_add (&self->stats[prop_id - N_SETTINGS], n, __ATOMIC_RELAXED);
}

static void
gst_cover_tap_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstCoverTap *self = GST_COVER_TAP (object);

  if (prop_id == PROP_0 || prop_id >= N_PROPS) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  } else if (prop_id >= N_SETTINGS) {
    g_value_set_uint64 (value, stat_get (self, prop_id));
  } else {
    GST_OBJECT_LOCK (self);
    g_value_copy (&self->settings[prop_id], value);
    GST_OBJECT_UNLOCK (self);
  }
}

/* Worker callbacks: any thread, strong ref held by the caller. */

static void
on_published (GObject *owner, const CoverResult *res)
{
  GstCoverTap *self = GST_COVER_TAP (owner);
  GstStructure *s;
  gint64 client_id;

  stat_add (self, PROP_COVERS_PUBLISHED, 1);
  __atomic_store_n (&self->stats[PROP_LAST_LATENCY - N_SETTINGS],
      (guint64) res->latency * GST_USECOND, __ATOMIC_RELAXED);
  __atomic_store_n (&self->last_warning, 0, __ATOMIC_RELAXED);

  /* the id of the segment, whatever the property says now */
  client_id = self->active_client_id;

  GST_LOG_OBJECT (self,
      "published cover %" G_GUINT64_FORMAT ": %ux%u, %" G_GSIZE_FORMAT
      " bytes, %" G_GINT64_FORMAT " µs",
      res->generation, res->width, res->height, res->size, res->latency);
  s = gst_structure_new ("covertap-published", "client-id", G_TYPE_UINT,
      (guint) client_id, "generation", G_TYPE_UINT64, res->generation, "width",
      G_TYPE_UINT, res->width, "height", G_TYPE_UINT, res->height, "bytes",
      G_TYPE_UINT64, (guint64) res->size, "latency", G_TYPE_UINT64,
      (guint64) res->latency * GST_USECOND, "capture-time", G_TYPE_INT64,
      res->capture_time, NULL);
  gst_element_post_message (
      GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

static void
on_failed (GObject *owner, const GError *error)
{
  GstCoverTap *self = GST_COVER_TAP (owner);
  gint64 now = g_get_monotonic_time ();
  gint64 last = __atomic_load_n (&self->last_warning, __ATOMIC_RELAXED);

  stat_add (self, PROP_KEYFRAMES_FAILED, 1);
  GST_WARNING_OBJECT (self, "keyframe skipped: %s", error->message);
  /* one bus warning per burst of failures, not one per keyframe */
  if (last == 0 || now - last >= WARNING_INTERVAL) {
    __atomic_store_n (&self->last_warning, now, __ATOMIC_RELAXED);
    /* every keyframe tries again: covers come back with the room */
    if (g_error_matches (error, COVER_STORE_ERROR, COVER_STORE_ERROR_NO_SPACE))
      GST_ELEMENT_WARNING (self, RESOURCE, NO_SPACE_LEFT,
          ("The cover store is full; the previous cover stays until there "
           "is room again."),
          ("%s", error->message));
    else
      GST_ELEMENT_WARNING (self, STREAM, DECODE,
          ("Could not make a cover from a keyframe; the previous cover "
           "stays."),
          ("%s", error->message));
  }
}

static void
on_thumbnail (GObject *owner, const gchar *path, const GError *error)
{
  GstCoverTap *self = GST_COVER_TAP (owner);

  if (path) {
    g_autofree gchar *name = g_path_get_basename (path);
    gint64 capture_time = 0;

    stat_add (self, PROP_THUMBNAILS_WRITTEN, 1);
    GST_DEBUG_OBJECT (self, "thumbnail %s", path);
    /* the application learns of it now (the cluster's registry), without
     * scanning the directory; the time is the one the name says */
    cover_thumbnail_name_parse (name, &capture_time);
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_element (GST_OBJECT (self),
            gst_structure_new ("covertap-thumbnail", "client-id", G_TYPE_UINT,
                (guint) self->active_client_id, "path", G_TYPE_STRING, path,
                "capture-time", G_TYPE_INT64, capture_time, NULL)));
    return;
  }
  GST_WARNING_OBJECT (self, "thumbnail not saved: %s", error->message);
  /* as for covers: one bus warning per burst of failures */
  {
    gint64 now = g_get_monotonic_time ();
    gint64 last =
        __atomic_load_n (&self->last_thumbnail_warning, __ATOMIC_RELAXED);

    if (last == 0 || now - last >= WARNING_INTERVAL) {
      __atomic_store_n (&self->last_thumbnail_warning, now, __ATOMIC_RELAXED);
      GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
          ("Could not save a recording thumbnail."), ("%s", error->message));
    }
  }
}

static const CoverStreamCallbacks callbacks = {
  on_published,
  on_failed,
  on_thumbnail,
};

/* Opens the cover segment (and the thumbnail directory) from the current
 * settings. */
static gboolean
open_stream (GstCoverTap *self, GError **error)
{
  g_autofree gchar *thumbnail_dir = NULL;
  g_autofree gchar *dir = NULL;
  guint max_files, max_age, mode;
  gint64 client_id;

  GST_OBJECT_LOCK (self);
  client_id = g_value_get_int64 (&self->settings[PROP_CLIENT_ID]);
  dir = g_value_dup_string (&self->settings[PROP_STORE_DIR]);
  mode = g_value_get_uint (&self->settings[PROP_STORE_MODE]);
  thumbnail_dir = g_value_dup_string (&self->settings[PROP_THUMBNAIL_DIR]);
  max_files = g_value_get_uint (&self->settings[PROP_THUMBNAIL_MAX_FILES]);
  max_age = g_value_get_uint (&self->settings[PROP_THUMBNAIL_MAX_AGE]);
  GST_OBJECT_UNLOCK (self);

  {
    /* NULL, or the default named (as the ingest names it): made private */
    gchar *resolved = cover_store_resolve_dir (dir, error);

    if (!resolved)
      return FALSE;
    g_free (dir);
    dir = resolved;
  }
  self->stream = cover_stream_new (
      G_OBJECT (self), dir, client_id, mode, &callbacks, error);
  if (!self->stream)
    return FALSE;
  GST_INFO_OBJECT (
      self, "covers of client %" G_GINT64_FORMAT " go to %s", client_id, dir);
  self->active_client_id = client_id;
  if (thumbnail_dir && *thumbnail_dir) {
    g_autofree gchar *path = cover_thumbnail_dir (thumbnail_dir, client_id);

    cover_stream_set_thumbnails (self->stream, path, max_files, max_age);
    self->thumbnails = TRUE;
    GST_INFO_OBJECT (self, "thumbnails go to %s", path);
  }
  return TRUE;
}

/* Whether a failed open_stream() may work later: another live writer holds
 * the segment (a push taken over before the old pipeline let go), or the
 * store is full. */
static gboolean
open_may_pass (const GError *err)
{
  return g_error_matches (err, COVER_STORE_ERROR, COVER_STORE_ERROR_IN_USE) ||
      g_error_matches (err, COVER_STORE_ERROR, COVER_STORE_ERROR_NO_SPACE);
}

/* Streaming thread: the segment was held by another live writer at start,
 * or the store was full; at most once per OPEN_RETRY_INTERVAL, try again
 * (quietly: start warned). */
static void
retry_open_stream (GstCoverTap *self)
{
  g_autoptr (GError) err = NULL;
  gint64 now;

  /* the clock only while there is something to retry */
  if (!self->open_retry_at ||
      (now = g_get_monotonic_time ()) < self->open_retry_at)
    return;
  if (open_stream (self, &err)) {
    self->open_retry_at = 0;
    GST_INFO_OBJECT (self, "the segment could be made at last: covers start");
  } else if (open_may_pass (err)) {
    self->open_retry_at = now + OPEN_RETRY_INTERVAL;
  } else {
    self->open_retry_at = 0;
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_WRITE,
        ("Could not create the cover segment; the stream passes without "
         "covers."),
        ("%s", err->message));
  }
}

static gboolean
gst_cover_tap_start (GstBaseTransform *trans)
{
  GstCoverTap *self = GST_COVER_TAP (trans);
  GError *err = NULL;
  gint64 client_id;

  GST_OBJECT_LOCK (self);
  client_id = g_value_get_int64 (&self->settings[PROP_CLIENT_ID]);
  GST_OBJECT_UNLOCK (self);

  if (client_id < 0)
    goto no_client_id;

  memset (self->stats, 0, sizeof (self->stats));
  self->last_warning = 0;
  self->last_thumbnail_warning = 0;
  self->last_submit = GST_CLOCK_TIME_NONE;
  self->last_thumbnail = GST_CLOCK_TIME_NONE;
  self->thumbnails = FALSE;

  self->open_retry_at = 0;
  if (!open_stream (self, &err)) {
    if (open_may_pass (err))
      self->open_retry_at = g_get_monotonic_time () + OPEN_RETRY_INTERVAL;
    goto no_store;
  }
  return TRUE;

  /* ERRORS */
no_client_id : {
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
      ("No client-id set: covertap needs the device id of the stream."),
      (NULL));
  return FALSE;
}
no_store : {
  /* the stream matters more than its cover: pass it through */
  if (g_error_matches (err, COVER_STORE_ERROR, COVER_STORE_ERROR_NO_SPACE))
    GST_ELEMENT_WARNING (self, RESOURCE, NO_SPACE_LEFT,
        ("The cover store is full: no cover segment for client "
         "%" G_GINT64_FORMAT " until there is room again.",
            client_id),
        ("%s", err->message));
  else
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_WRITE,
        ("Could not create the cover segment of client %" G_GINT64_FORMAT
         "; the stream passes without covers%s.",
            client_id,
            self->open_retry_at ? " until the other writer lets go" : ""),
        ("%s", err->message));
  g_error_free (err);
  return TRUE;
}
}

static gboolean
gst_cover_tap_stop (GstBaseTransform *trans)
{
  GstCoverTap *self = GST_COVER_TAP (trans);
  gboolean unlink_segment;

  GST_OBJECT_LOCK (self);
  unlink_segment = g_value_get_boolean (&self->settings[PROP_UNLINK_ON_STOP]);
  GST_OBJECT_UNLOCK (self);

  if (self->stream)
    cover_stream_close (self->stream, unlink_segment);
  self->stream = NULL;
  gst_clear_caps (&self->caps);
  gst_clear_buffer (&self->params);
  g_clear_pointer (&self->scan, g_byte_array_unref);
  g_clear_pointer (&self->run, cover_job_free);
  gst_clear_object (&self->last_clock);
  self->codec = COVER_CODEC_NONE;
  self->nal_length_size = 0;
  return TRUE;
}

static gboolean
gst_cover_tap_set_caps (
    GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstCoverTap *self = GST_COVER_TAP (trans);
  const GstStructure *s = gst_caps_get_structure (incaps, 0);
  const gchar *format = gst_structure_get_string (s, "stream-format");
  CoverCodec codec = cover_codec_from_caps (incaps);
  gboolean parsed = FALSE;

  GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT, incaps);
  /* parameter sets of another codec are of no use */
  if (codec != self->codec)
    gst_clear_buffer (&self->params);
  /* nor are units of other caps */
  g_clear_pointer (&self->run, cover_job_free);
  self->codec = codec;
  self->byte_stream = g_strcmp0 (format, "byte-stream") == 0;
  self->find_keyframes =
      (codec == COVER_CODEC_H264 || codec == COVER_CODEC_H265) &&
      !(gst_structure_get_boolean (s, "parsed", &parsed) && parsed);
  self->nal_length_size = 0;
  if (!self->byte_stream &&
      (codec == COVER_CODEC_H264 || codec == COVER_CODEC_H265)) {
    const GValue *v = gst_structure_get_value (s, "codec_data");
    /* lengthSizeMinusOne: avcC byte 4, hvcC byte 21 */
    guint at = codec == COVER_CODEC_H264 ? 4 : 21;
    guint8 b;

    self->nal_length_size = 4;
    if (v && G_VALUE_HOLDS (v, GST_TYPE_BUFFER) &&
        gst_buffer_extract (gst_value_get_buffer (v), at, &b, 1) == 1)
      self->nal_length_size = (b & 3) + 1;
  }
  gst_caps_replace (&self->caps, incaps);
  return TRUE;
}

static gboolean
gst_cover_tap_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstCoverTap *self = GST_COVER_TAP (trans);

  if (self->stream) {
    switch (GST_EVENT_TYPE (event)) {
      case GST_EVENT_EOS:
        /* a recovery point that never reached its picture makes none */
        g_clear_pointer (&self->run, cover_job_free);
        /* readers stop calling the stream live at once; the last keyframe
         * of a stream is still its best cover, so EOS goes on once it is
         * published (a few ms, bounded) */
        GST_DEBUG_OBJECT (self, "EOS: segment marked ended");
        cover_stream_set_ended (self->stream, TRUE);
        /* the stream's last picture is its last recording thumbnail */
        if (self->thumbnails)
          cover_stream_save_thumbnail (self->stream);
        if (!cover_stream_drain (self->stream, EOS_DRAIN_TIMEOUT))
          GST_WARNING_OBJECT (self, "last keyframe still not published");
        break;
      case GST_EVENT_STREAM_START:
      case GST_EVENT_FLUSH_STOP:
        g_clear_pointer (&self->run, cover_job_free);
        cover_stream_set_ended (self->stream, FALSE);
        break;
      default:
        break;
    }
  }
  return GST_BASE_TRANSFORM_CLASS (gst_cover_tap_parent_class)
      ->sink_event (trans, event);
}

/* Remembers the stream's parameter sets, and says whether @buf carries a
 * whole set itself.  Cameras often send SPS/PPS only with the first
 * keyframe, or in buffers of their own; the decoder needs them in front of
 * every keyframe we hand it.  @info tells the rest of what came before the
 * picture data. */
static gboolean
track_parameter_sets (GstCoverTap *self, GstBuffer *buf, CoverAuInfo *info)
{
  guint needed = cover_nal_needed_parameter_sets (self->codec), i, n;
  GByteArray *params;
  guint found;

  /* one array while the element runs: no allocation per keyframe once it
   * has grown to the stream's parameter sets */
  if (!self->scan)
    self->scan = g_byte_array_new ();
  params = self->scan;
  g_byte_array_set_size (params, 0);

  cover_au_info_init (info);
  n = gst_buffer_n_memory (buf);
  for (i = 0; i < n && !info->slice; i++) {
    GstMemory *mem = gst_buffer_peek_memory (buf, i);
    GstMapInfo map;

    /* one memory at a time: mapping the whole buffer could merge (copy) */
    if (!gst_memory_map (mem, &map, GST_MAP_READ))
      break;
    info->slice = cover_nal_scan_byte_stream (
        self->codec, map.data, map.size, params, info);
    gst_memory_unmap (mem, &map);
  }
  found = info->found;

  if ((found & needed) == needed &&
      (!self->params || gst_buffer_get_size (self->params) != params->len ||
          gst_buffer_memcmp (self->params, 0, params->data, params->len))) {
    GST_DEBUG_OBJECT (self, "new parameter sets, %u bytes", params->len);
    gst_clear_buffer (&self->params);
    self->params = gst_buffer_new_memdup (params->data, params->len);
  }
  return (found & needed) == needed;
}

/* Walks the NAL units of @buf in front of its first slice into @info;
 * says whether the decoder has the parameter sets it needs for it (in
 * @buf, or in the caps' codec_data for packetized streams, where a unit
 * that cannot be walked is still handed over alone). */
static gboolean
scan_unit (GstCoverTap *self, GstBuffer *buf, CoverAuInfo *info)
{
  if (self->byte_stream)
    return track_parameter_sets (self, buf, info);
  if (self->nal_length_size) {
    cover_nal_scan_packetized (self->codec, buf, self->nal_length_size, info);
    if (!info->slice)
      info->recovery = -1;
  }
  return TRUE;
}

/* The pipeline clock's time, or monotonic time without one.  A change of
 * time base (prerolled without a clock, then a pipeline clock that started
 * at 0) restarts the interval instead of skipping keyframes for hours. */
static GstClockTime
current_time (GstCoverTap *self)
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (self));
  GstClockTime now;

  if (clock != self->last_clock) {
    gst_object_replace ((GstObject **) &self->last_clock, (GstObject *) clock);
    self->last_submit = GST_CLOCK_TIME_NONE;
    self->last_thumbnail = GST_CLOCK_TIME_NONE;
  }
  if (!clock)
    return g_get_monotonic_time () * GST_USECOND;
  now = gst_clock_get_time (clock);
  gst_object_unref (clock);
  return now;
}

/* Whether @now is still inside @interval after @last.  Keyframes come at
 * the GOP's pace with some jitter: an interval equal to the GOP must not
 * skip every other keyframe, so the last eighth of it counts as elapsed.
 * A clock that went backwards restarts the interval. */
static gboolean
within_interval (GstClockTime now, GstClockTime last, GstClockTime interval)
{
  if (!GST_CLOCK_TIME_IS_VALID (last) || interval == 0 || now < last)
    return FALSE;
  return now - last < interval - interval / 8;
}

/* Hands @job (transfer full) to the workers. */
static void
submit_job (GstCoverTap *self, CoverJob *job)
{
  if (cover_stream_submit (self->stream, job)) {
    GST_LOG_OBJECT (self, "a waiting keyframe was replaced by a newer one");
    stat_add (self, PROP_KEYFRAMES_SKIPPED, 1);
  }
}

static void
run_failed (GstCoverTap *self, const gchar *why)
{
  GError *err = g_error_new (GST_STREAM_ERROR, GST_STREAM_ERROR_DECODE,
      "recovery point skipped: %s", why);

  g_clear_pointer (&self->run, cover_job_free);
  on_failed (G_OBJECT (self), err);
  g_error_free (err);
}

/* The run has its unit described by @info: the picture the recovery point
 * recovers (then the run goes to the workers), or one before it. */
static void
run_step (GstCoverTap *self, const CoverAuInfo *info)
{
  if (self->run_left == 0) {
    GST_LOG_OBJECT (self, "recovery point complete, %u access units",
        gst_buffer_list_length (self->run->units));
    cover_job_restamp (self->run);
    submit_job (self, g_steal_pointer (&self->run));
  } else if (cover_nal_is_reference (self->codec, info->slice_nal)) {
    self->run_left--;
  }
}

static void
run_add (GstCoverTap *self, GstBuffer *buf, const CoverAuInfo *info)
{
  if (gst_buffer_list_length (self->run->units) >= MAX_RUN_UNITS ||
      self->run->bytes + gst_buffer_get_size (buf) > MAX_RUN_BYTES) {
    run_failed (self, "more access units to its picture than the budget");
    return;
  }
  cover_job_add_unit (self->run, buf);
  run_step (self, info);
}

static GstFlowReturn
gst_cover_tap_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstCoverTap *self = GST_COVER_TAP (trans);
  gboolean has_params = TRUE, enabled, needs_run, random_access;
  guint quality, max_width, max_height;
  GstClockTime min_interval, thumbnail_interval, now;
  CoverAuInfo info = { 0, TRUE, 0, -1 };
  gboolean thumbnail, picture;
  CoverJob *job;

  if (!self->stream)
    retry_open_stream (self);
  if (!self->stream || !self->caps)
    return GST_FLOW_OK;

  cover_stream_heartbeat (self->stream);

  /* raw video and JPEG: every buffer is a picture */
  picture = self->codec == COVER_CODEC_RAW || self->codec == COVER_CODEC_JPEG;
  if (!picture && !self->find_keyframes &&
      GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT)) {
    /* parameter sets may travel on their own, flagged as headers; a run
     * counts the pictures that follow its recovery point */
    if (self->byte_stream &&
        (self->run || GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_HEADER)))
      track_parameter_sets (self, buf, &info);
    else if (self->run && self->nal_length_size)
      cover_nal_scan_packetized (
          self->codec, buf, self->nal_length_size, &info);
    if (self->run && info.slice)
      run_add (self, buf, &info);
    return GST_FLOW_OK;
  }
  if (!picture) {
    has_params = scan_unit (self, buf, &info);
    if (self->find_keyframes) {
      /* no parser flagged it (straight from a depayloader): the NAL headers
       * say whether the unit starts a picture that decodes alone */
      if (!info.slice)
        return GST_FLOW_OK;
      if (!cover_nal_starts_picture (self->codec, &info)) {
        if (self->run)
          run_add (self, buf, &info);
        return GST_FLOW_OK;
      }
    } else if (self->byte_stream && !info.slice) {
      return GST_FLOW_OK;
    }
  }
  /* A recovery point that is not a random access picture (periodic intra
   * refresh: a P picture) only gives a whole picture some units later;
   * an IDR, CRA/BLA or an I picture (open GOP: count 0) decodes alone. */
  random_access = picture ||
      (info.slice && cover_nal_is_random_access (self->codec, info.slice_nal));
  needs_run = info.recovery > 0 && !random_access;

  stat_add (self, PROP_KEYFRAMES_SEEN, 1);
  if (self->run) {
    /* the next recovery point of a refresh in progress: part of the run */
    if (needs_run) {
      stat_add (self, PROP_KEYFRAMES_SKIPPED, 1);
      run_add (self, buf, &info);
      return GST_FLOW_OK;
    }
    /* a picture that decodes alone beats a run still waiting */
    g_clear_pointer (&self->run, cover_job_free);
    stat_add (self, PROP_KEYFRAMES_SKIPPED, 1);
  }

  GST_OBJECT_LOCK (self);
  enabled = g_value_get_boolean (&self->settings[PROP_ENABLED]);
  min_interval = g_value_get_uint64 (&self->settings[PROP_MIN_INTERVAL]);
  thumbnail_interval =
      g_value_get_uint (&self->settings[PROP_THUMBNAIL_INTERVAL]) * GST_SECOND;
  quality = g_value_get_uint (&self->settings[PROP_QUALITY]);
  max_width = g_value_get_uint (&self->settings[PROP_MAX_WIDTH]);
  max_height = g_value_get_uint (&self->settings[PROP_MAX_HEIGHT]);
  GST_OBJECT_UNLOCK (self);

  if (!enabled)
    goto skip;
  now = current_time (self);
  /* a thumbnail that is due goes whatever min-interval says */
  thumbnail = self->thumbnails &&
      !within_interval (now, self->last_thumbnail, thumbnail_interval);
  /* a clock that went backwards restarts the interval too */
  if (!thumbnail && within_interval (now, self->last_submit, min_interval))
    goto skip;
  self->last_submit = now;
  if (thumbnail)
    self->last_thumbnail = now;

  job = cover_job_new (buf, self->caps, has_params ? NULL : self->params);
  job->quality = quality;
  job->max_width = max_width;
  job->max_height = max_height;
  job->thumbnail = thumbnail;
  job->random_access = random_access;
  if (!needs_run) {
    submit_job (self, job);
    return GST_FLOW_OK;
  }
  self->run = job;
  self->run_left = info.recovery;
  if (info.recovery >= MAX_RUN_UNITS) {
    run_failed (self, "its picture is too far away");
    return GST_FLOW_OK;
  }
  GST_LOG_OBJECT (self, "recovery point, picture in %d", info.recovery);
  run_step (self, &info);
  return GST_FLOW_OK;

skip:
  stat_add (self, PROP_KEYFRAMES_SKIPPED, 1);
  return GST_FLOW_OK;
}
