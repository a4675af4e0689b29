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
 * keyframe with the best decoder the system has for it, scales it to fit
 * #GstCoverTap:max-width x #GstCoverTap:max-height, encodes it with
 * libjpeg-turbo and publishes it.  If a worker is still busy with this
 * stream, a newer keyframe replaces the one waiting: the streaming thread
 * never waits and memory stays bounded.  A keyframe that cannot be decoded
 * is counted, logged and skipped; the previous cover stays.
 *
 * Each publish posts an element message named `covertap-published` with
 * the fields `client-id` (uint), `generation` (guint64), `width` and
 * `height` (uint), `bytes` (guint64), `latency` (guint64, nanoseconds from
 * keyframe to publish) and `capture-time` (gint64, wall clock µs).
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
 * stream as a JPEG in /dev/shm/coversnap.42; `coversnap-cat 42 > cover.jpg`
 * copies it out.
 */
/* clang-format on */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>
#include <gst/base/gstbytereader.h>
#include <gst/video/video.h>
#include <string.h>

#include "gstcoversnapelements.h"
#include "covercodec.h"
#include "coverpool.h"
#include "coverthumbnail.h"

GST_DEBUG_CATEGORY_STATIC (gst_cover_tap_debug);
#define GST_CAT_DEFAULT gst_cover_tap_debug

#define DEFAULT_CLIENT_ID -1
#define DEFAULT_STORE_DIR COVERSNAP_DEFAULT_STORE_DIR
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
};

#define GST_TYPE_COVER_TAP (gst_cover_tap_get_type ())
G_DECLARE_FINAL_TYPE (
    GstCoverTap, gst_cover_tap, GST, COVER_TAP, GstBaseTransform);

struct _GstCoverTap
{
  GstBaseTransform parent;

  /* properties, under the object lock */
  gint64 client_id;
  gchar *store_dir;
  guint store_mode;
  gboolean unlink_on_stop;
  guint quality;
  GstClockTime min_interval;
  guint max_width;
  guint max_height;
  gboolean enabled;
  gchar *thumbnail_dir;
  guint thumbnail_interval;
  guint thumbnail_max_files;
  guint thumbnail_max_age;

  /* statistics, atomic: workers update them */
  guint64 keyframes_seen;
  guint64 keyframes_skipped;
  guint64 keyframes_failed;
  guint64 covers_published;
  guint64 last_latency;
  guint64 thumbnails_written;
  gint64 last_warning;
  gint64 last_thumbnail_warning;

  /* streaming thread only (and start/stop, when it is not running) */
  CoverStream *stream; /* NULL: no cover segment, buffers just pass */
  GstCaps *caps;
  CoverCodec codec;
  gboolean byte_stream;
  GstBuffer *params; /* last complete set of parameter sets */
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
  "video/x-h264, parsed = (boolean) true, alignment = (string) au, " \
  "stream-format = (string) { byte-stream, avc, avc3 }; " \
  "video/x-h265, parsed = (boolean) true, alignment = (string) au, " \
  "stream-format = (string) { byte-stream, hvc1, hev1 }; " \
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
  g_object_class_install_property (gobject_class, PROP_CLIENT_ID,
      g_param_spec_int64 ("client-id", "Client id",
          "Device (client) id of the stream, 0..4294967295 (-1 = unset, "
          "required)",
          -1, G_MAXUINT32, DEFAULT_CLIENT_ID,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
              GST_PARAM_MUTABLE_READY));
  /**
   * GstCoverTap:store-dir:
   *
   * Directory of the cover store, normally on tmpfs.  The segment is the
   * file `coversnap.<client-id>` in it.
   */
  g_object_class_install_property (gobject_class, PROP_STORE_DIR,
      g_param_spec_string ("store-dir", "Store directory",
          "Directory (on tmpfs) holding the cover segments", DEFAULT_STORE_DIR,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
              GST_PARAM_MUTABLE_READY));
  /**
   * GstCoverTap:store-mode:
   *
   * Permission bits of the segment file, e.g. 0640 (416) to let a group of
   * readers in.
   */
  g_object_class_install_property (gobject_class, PROP_STORE_MODE,
      g_param_spec_uint ("store-mode", "Store mode",
          "Permission bits of the cover segment (0600 = 384)", 0, 0777,
          DEFAULT_STORE_MODE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
              GST_PARAM_MUTABLE_READY));
  /**
   * GstCoverTap:unlink-on-stop:
   *
   * Remove the segment when the element stops instead of leaving it, marked
   * ended, for readers that still want the last picture.
   */
  g_object_class_install_property (gobject_class, PROP_UNLINK_ON_STOP,
      g_param_spec_boolean ("unlink-on-stop", "Unlink on stop",
          "Remove the cover segment when the element stops",
          DEFAULT_UNLINK_ON_STOP,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
              GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstCoverTap:quality:
   *
   * JPEG quality of the covers.
   */
  g_object_class_install_property (gobject_class, PROP_QUALITY,
      g_param_spec_uint ("quality", "Quality", "JPEG quality of the covers", 1,
          100, DEFAULT_QUALITY,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
              GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstCoverTap:min-interval:
   *
   * Minimum time between two keyframes handed to the workers, in
   * nanoseconds of the pipeline clock (monotonic time without one).  0 takes
   * every keyframe.
   */
  g_object_class_install_property (gobject_class, PROP_MIN_INTERVAL,
      g_param_spec_uint64 ("min-interval", "Minimum interval",
          "Minimum time between two covers in nanoseconds (0 = every "
          "keyframe)",
          0, G_MAXUINT64, DEFAULT_MIN_INTERVAL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
              GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstCoverTap:max-width:
   *
   * Covers are scaled down (keeping the display aspect ratio, never up) to
   * fit this width.  0 = no limit.
   */
  g_object_class_install_property (gobject_class, PROP_MAX_WIDTH,
      g_param_spec_uint ("max-width", "Maximum width",
          "Maximum width of a cover (0 = no limit)", 0, G_MAXUINT16,
          DEFAULT_MAX_WIDTH,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
              GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstCoverTap:max-height:
   *
   * Covers are scaled down (keeping the display aspect ratio, never up) to
   * fit this height.  0 = no limit.
   */
  g_object_class_install_property (gobject_class, PROP_MAX_HEIGHT,
      g_param_spec_uint ("max-height", "Maximum height",
          "Maximum height of a cover (0 = no limit)", 0, G_MAXUINT16,
          DEFAULT_MAX_HEIGHT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
              GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstCoverTap:enabled:
   *
   * When false, buffers still pass and the segment still says the stream
   * is live, but no new covers are made.
   */
  g_object_class_install_property (gobject_class, PROP_ENABLED,
      g_param_spec_boolean ("enabled", "Enabled", "Make covers",
          DEFAULT_ENABLED,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
              GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstCoverTap:thumbnail-dir:
   *
   * When set, recording thumbnails are saved into
   * `<thumbnail-dir>/<client-id>/`: a JPEG every
   * #GstCoverTap:thumbnail-interval seconds and one at the end of the stream,
   * named by capture time in UTC (`20261128T213300.123Z.jpg`, so names sort
   * by time), each written to a temporary file and renamed into place.
   */
  g_object_class_install_property (gobject_class, PROP_THUMBNAIL_DIR,
      g_param_spec_string ("thumbnail-dir", "Thumbnail directory",
          "Save recording thumbnails into <thumbnail-dir>/<client-id>/ "
          "(NULL = no thumbnails)",
          DEFAULT_THUMBNAIL_DIR,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
              GST_PARAM_MUTABLE_READY));
  /**
   * GstCoverTap:thumbnail-interval:
   *
   * Seconds between two thumbnails (of the pipeline clock, as
   * #GstCoverTap:min-interval); the first keyframe makes one.
   */
  g_object_class_install_property (gobject_class, PROP_THUMBNAIL_INTERVAL,
      g_param_spec_uint ("thumbnail-interval", "Thumbnail interval",
          "Seconds between two recording thumbnails", 1, 86400,
          DEFAULT_THUMBNAIL_INTERVAL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
              GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstCoverTap:thumbnail-max-files:
   *
   * Thumbnails kept per client (the oldest go first); 0 = no limit.
   */
  g_object_class_install_property (gobject_class, PROP_THUMBNAIL_MAX_FILES,
      g_param_spec_uint ("thumbnail-max-files", "Thumbnail max files",
          "Recording thumbnails kept per client (0 = no limit)", 0, G_MAXINT,
          DEFAULT_THUMBNAIL_MAX_FILES,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
              GST_PARAM_MUTABLE_READY));
  /**
   * GstCoverTap:thumbnail-max-age:
   *
   * Thumbnails older than this many seconds (by mtime) are removed when a
   * new one is saved; 0 = no limit.
   */
  g_object_class_install_property (gobject_class, PROP_THUMBNAIL_MAX_AGE,
      g_param_spec_uint ("thumbnail-max-age", "Thumbnail max age",
          "Seconds a recording thumbnail is kept (0 = no limit)", 0, G_MAXINT,
          DEFAULT_THUMBNAIL_MAX_AGE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
              GST_PARAM_MUTABLE_READY));
  /**
   * GstCoverTap:thumbnails-written:
   *
   * Recording thumbnails saved since the element started.
   */
  g_object_class_install_property (gobject_class, PROP_THUMBNAILS_WRITTEN,
      g_param_spec_uint64 ("thumbnails-written", "Thumbnails written",
          "Recording thumbnails saved since start", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstCoverTap:keyframes-seen:
   *
   * Keyframes that went through the element since it started.
   */
  g_object_class_install_property (gobject_class, PROP_KEYFRAMES_SEEN,
      g_param_spec_uint64 ("keyframes-seen", "Keyframes seen",
          "Keyframes seen since start", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstCoverTap:keyframes-skipped:
   *
   * Keyframes not turned into covers on purpose: inside min-interval, while
   * disabled, or replaced by a newer one while waiting for a worker.
   */
  g_object_class_install_property (gobject_class, PROP_KEYFRAMES_SKIPPED,
      g_param_spec_uint64 ("keyframes-skipped", "Keyframes skipped",
          "Keyframes skipped (interval, disabled, or replaced by a newer one)",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstCoverTap:keyframes-failed:
   *
   * Keyframes that could not be decoded, encoded or published.
   */
  g_object_class_install_property (gobject_class, PROP_KEYFRAMES_FAILED,
      g_param_spec_uint64 ("keyframes-failed", "Keyframes failed",
          "Keyframes that failed to decode, encode or publish", 0, G_MAXUINT64,
          0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstCoverTap:covers-published:
   *
   * Covers published in the store since the element started.
   */
  g_object_class_install_property (gobject_class, PROP_COVERS_PUBLISHED,
      g_param_spec_uint64 ("covers-published", "Covers published",
          "Covers published since start", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstCoverTap:last-latency:
   *
   * Nanoseconds from the arrival of the last published keyframe to its
   * publication (queueing, decoding, scaling, encoding, copying).
   */
  g_object_class_install_property (gobject_class, PROP_LAST_LATENCY,
      g_param_spec_uint64 ("last-latency", "Last latency",
          "Keyframe-to-publish time of the last cover in nanoseconds", 0,
          G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

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
  self->client_id = DEFAULT_CLIENT_ID;
  self->store_dir = g_strdup (DEFAULT_STORE_DIR);
  self->store_mode = DEFAULT_STORE_MODE;
  self->unlink_on_stop = DEFAULT_UNLINK_ON_STOP;
  self->quality = DEFAULT_QUALITY;
  self->min_interval = DEFAULT_MIN_INTERVAL;
  self->max_width = DEFAULT_MAX_WIDTH;
  self->max_height = DEFAULT_MAX_HEIGHT;
  self->enabled = DEFAULT_ENABLED;
  self->thumbnail_dir = g_strdup (DEFAULT_THUMBNAIL_DIR);
  self->thumbnail_interval = DEFAULT_THUMBNAIL_INTERVAL;
  self->thumbnail_max_files = DEFAULT_THUMBNAIL_MAX_FILES;
  self->thumbnail_max_age = DEFAULT_THUMBNAIL_MAX_AGE;
  self->last_submit = GST_CLOCK_TIME_NONE;
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}

static void
gst_cover_tap_finalize (GObject *object)
{
  GstCoverTap *self = GST_COVER_TAP (object);

  g_free (self->store_dir);
  g_free (self->thumbnail_dir);
  G_OBJECT_CLASS (gst_cover_tap_parent_class)->finalize (object);
}

static void
gst_cover_tap_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstCoverTap *self = GST_COVER_TAP (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_CLIENT_ID:
      self->client_id = g_value_get_int64 (value);
      break;
    case PROP_STORE_DIR:
      g_free (self->store_dir);
      self->store_dir = g_value_dup_string (value);
      if (!self->store_dir)
        self->store_dir = g_strdup (DEFAULT_STORE_DIR);
      break;
    case PROP_STORE_MODE:
      self->store_mode = g_value_get_uint (value);
      break;
    case PROP_UNLINK_ON_STOP:
      self->unlink_on_stop = g_value_get_boolean (value);
      break;
    case PROP_QUALITY:
      self->quality = g_value_get_uint (value);
      break;
    case PROP_MIN_INTERVAL:
      self->min_interval = g_value_get_uint64 (value);
      break;
    case PROP_MAX_WIDTH:
      self->max_width = g_value_get_uint (value);
      break;
    case PROP_MAX_HEIGHT:
      self->max_height = g_value_get_uint (value);
      break;
    case PROP_ENABLED:
      self->enabled = g_value_get_boolean (value);
      break;
    case PROP_THUMBNAIL_DIR:
      g_free (self->thumbnail_dir);
      self->thumbnail_dir = g_value_dup_string (value);
      break;
    case PROP_THUMBNAIL_INTERVAL:
      self->thumbnail_interval = g_value_get_uint (value);
      break;
    case PROP_THUMBNAIL_MAX_FILES:
      self->thumbnail_max_files = g_value_get_uint (value);
      break;
    case PROP_THUMBNAIL_MAX_AGE:
      self->thumbnail_max_age = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static guint64
stat_get (guint64 *stat)
{
  return __atomic_load_n (stat, __ATOMIC_RELAXED);
}

static void
stat_add (guint64 *stat, guint64 n)
{
  __atomic_fetch_add (stat, n, __ATOMIC_RELAXED);
}

static void
gst_cover_tap_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstCoverTap *self = GST_COVER_TAP (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_CLIENT_ID:
      g_value_set_int64 (value, self->client_id);
      break;
    case PROP_STORE_DIR:
      g_value_set_string (value, self->store_dir);
      break;
    case PROP_STORE_MODE:
      g_value_set_uint (value, self->store_mode);
      break;
    case PROP_UNLINK_ON_STOP:
      g_value_set_boolean (value, self->unlink_on_stop);
      break;
    case PROP_QUALITY:
      g_value_set_uint (value, self->quality);
      break;
    case PROP_MIN_INTERVAL:
      g_value_set_uint64 (value, self->min_interval);
      break;
    case PROP_MAX_WIDTH:
      g_value_set_uint (value, self->max_width);
      break;
    case PROP_MAX_HEIGHT:
      g_value_set_uint (value, self->max_height);
      break;
    case PROP_ENABLED:
      g_value_set_boolean (value, self->enabled);
      break;
    case PROP_THUMBNAIL_DIR:
      g_value_set_string (value, self->thumbnail_dir);
      break;
    case PROP_THUMBNAIL_INTERVAL:
      g_value_set_uint (value, self->thumbnail_interval);
      break;
    case PROP_THUMBNAIL_MAX_FILES:
      g_value_set_uint (value, self->thumbnail_max_files);
      break;
    case PROP_THUMBNAIL_MAX_AGE:
      g_value_set_uint (value, self->thumbnail_max_age);
      break;
    case PROP_THUMBNAILS_WRITTEN:
      g_value_set_uint64 (value, stat_get (&self->thumbnails_written));
      break;
    case PROP_KEYFRAMES_SEEN:
      g_value_set_uint64 (value, stat_get (&self->keyframes_seen));
      break;
    case PROP_KEYFRAMES_SKIPPED:
      g_value_set_uint64 (value, stat_get (&self->keyframes_skipped));
      break;
    case PROP_KEYFRAMES_FAILED:
      g_value_set_uint64 (value, stat_get (&self->keyframes_failed));
      break;
    case PROP_COVERS_PUBLISHED:
      g_value_set_uint64 (value, stat_get (&self->covers_published));
      break;
    case PROP_LAST_LATENCY:
      g_value_set_uint64 (value, stat_get (&self->last_latency));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* Worker callbacks: any thread, strong ref held by the caller. */

static void
on_published (GObject *owner, const CoverResult *res)
{
  GstCoverTap *self = GST_COVER_TAP (owner);
  GstStructure *s;
  gint64 client_id;

  stat_add (&self->covers_published, 1);
  __atomic_store_n (&self->last_latency, (guint64) res->latency * GST_USECOND,
      __ATOMIC_RELAXED);
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

  stat_add (&self->keyframes_failed, 1);
  GST_WARNING_OBJECT (self, "keyframe skipped: %s", error->message);
  /* one bus warning per burst of failures, not one per keyframe */
  if (last == 0 || now - last >= WARNING_INTERVAL) {
    __atomic_store_n (&self->last_warning, now, __ATOMIC_RELAXED);
    GST_ELEMENT_WARNING (self, STREAM, DECODE,
        ("Could not make a cover from a keyframe; the previous cover stays."),
        ("%s", error->message));
  }
}

static void
on_thumbnail (GObject *owner, const gchar *path, const GError *error)
{
  GstCoverTap *self = GST_COVER_TAP (owner);

  if (path) {
    stat_add (&self->thumbnails_written, 1);
    GST_DEBUG_OBJECT (self, "thumbnail %s", path);
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

static gboolean
gst_cover_tap_start (GstBaseTransform *trans)
{
  GstCoverTap *self = GST_COVER_TAP (trans);
  GError *err = NULL;
  g_autofree gchar *thumbnail_dir = NULL;
  guint max_files, max_age;
  gint64 client_id;
  gchar *dir;
  guint mode;

  GST_OBJECT_LOCK (self);
  client_id = self->client_id;
  dir = g_strdup (self->store_dir);
  mode = self->store_mode;
  thumbnail_dir = g_strdup (self->thumbnail_dir);
  max_files = self->thumbnail_max_files;
  max_age = self->thumbnail_max_age;
  GST_OBJECT_UNLOCK (self);

  if (client_id < 0)
    goto no_client_id;

  self->keyframes_seen = self->keyframes_skipped = 0;
  self->keyframes_failed = self->covers_published = 0;
  self->last_latency = 0;
  self->last_warning = 0;
  self->last_thumbnail_warning = 0;
  self->last_submit = GST_CLOCK_TIME_NONE;
  self->last_thumbnail = GST_CLOCK_TIME_NONE;
  self->thumbnails_written = 0;
  self->thumbnails = FALSE;

  self->stream = cover_stream_new (
      G_OBJECT (self), dir, client_id, mode, &callbacks, &err);
  if (!self->stream)
    goto no_store;
  GST_INFO_OBJECT (
      self, "covers of client %" G_GINT64_FORMAT " go to %s", client_id, dir);
  self->active_client_id = client_id;
  if (thumbnail_dir && *thumbnail_dir) {
    g_autofree gchar *path = cover_thumbnail_dir (thumbnail_dir, client_id);

    cover_stream_set_thumbnails (self->stream, path, max_files, max_age);
    self->thumbnails = TRUE;
    GST_INFO_OBJECT (self, "thumbnails go to %s", path);
  }
  g_free (dir);
  return TRUE;

  /* ERRORS */
no_client_id : {
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
      ("No client-id set: covertap needs the device id of the stream."),
      (NULL));
  g_free (dir);
  return FALSE;
}
no_store : {
  /* the stream matters more than its cover: pass it through */
  GST_ELEMENT_WARNING (self, RESOURCE, OPEN_WRITE,
      ("Could not create the cover segment of client %" G_GINT64_FORMAT
       " in %s; the stream passes without covers.",
          client_id, dir),
      ("%s", err->message));
  g_error_free (err);
  g_free (dir);
  return TRUE;
}
}

static gboolean
gst_cover_tap_stop (GstBaseTransform *trans)
{
  GstCoverTap *self = GST_COVER_TAP (trans);
  gboolean unlink_segment;

  GST_OBJECT_LOCK (self);
  unlink_segment = self->unlink_on_stop;
  GST_OBJECT_UNLOCK (self);

  if (self->stream)
    cover_stream_close (self->stream, unlink_segment);
  self->stream = NULL;
  gst_clear_caps (&self->caps);
  gst_clear_buffer (&self->params);
  gst_clear_object (&self->last_clock);
  self->codec = COVER_CODEC_NONE;
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

  GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT, incaps);
  /* parameter sets of another codec are of no use */
  if (codec != self->codec)
    gst_clear_buffer (&self->params);
  self->codec = codec;
  self->byte_stream = g_strcmp0 (format, "byte-stream") == 0;
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
        cover_stream_set_ended (self->stream, FALSE);
        break;
      default:
        break;
    }
  }
  return GST_BASE_TRANSFORM_CLASS (gst_cover_tap_parent_class)
      ->sink_event (trans, event);
}

static gboolean
nal_is_slice (CoverCodec codec, guint8 header)
{
  if (codec == COVER_CODEC_H264)
    return (header & 0x1f) >= 1 && (header & 0x1f) <= 5;
  return ((header >> 1) & 0x3f) <= 31;
}

/* bit 0: VPS (H.265 only), 1: SPS, 2: PPS */
static guint
nal_param_bit (CoverCodec codec, guint8 header)
{
  guint type;

  if (codec == COVER_CODEC_H264) {
    type = header & 0x1f;
    return type == 7 ? 2 : type == 8 ? 4 : 0;
  }
  type = (header >> 1) & 0x3f;
  return type == 32 ? 1 : type == 33 ? 2 : type == 34 ? 4 : 0;
}

static void
append_parameter_set (GByteArray *params, const guint8 *nal, gsize size)
{
  static const guint8 start_code[4] = { 0, 0, 0, 1 };

  g_byte_array_append (params, start_code, 4);
  g_byte_array_append (params, nal, size);
}

/* Where the start code of the next NAL unit at or after @offset begins, or
 * -1.  A start code that ends the memory, with no NAL header after it, only
 * ends the unit before it. */
static gint
next_start_code (GstByteReader *br, guint offset, gboolean *has_nal)
{
  guint size = gst_byte_reader_get_size (br);
  GstByteReader end = *br;
  guint32 tail;
  gint sc;

  *has_nal = TRUE;
  if (offset >= size)
    return -1;
  sc = gst_byte_reader_masked_scan_uint32 (
      br, 0xffffff00, 0x00000100, offset, size - offset);
  if (sc >= 0)
    return sc;
  *has_nal = FALSE;
  if (size - offset >= 3 && gst_byte_reader_set_pos (&end, size - 3) &&
      gst_byte_reader_peek_uint24_be (&end, &tail) && tail == 1)
    return size - 3;
  return -1;
}

/* Walks the NAL units of one memory of a byte-stream access unit up to its
 * first slice, collecting parameter sets in @params (with 4-byte start
 * codes).  Reads only the headers that come before the picture data.
 * Returns TRUE once a slice was seen. */
static gboolean
scan_nals (CoverCodec codec, const guint8 *data, gsize size, GByteArray *params,
    guint *found)
{
  GstByteReader br = GST_BYTE_READER_INIT (data, size);
  gsize nal = 0, end;
  gboolean in_nal = FALSE, has_nal;
  gint sc;

  for (;;) {
    sc = next_start_code (&br, in_nal ? nal : 0, &has_nal);
    end = sc < 0 ? size : (gsize) sc;
    /* the zero of a 4-byte start code is not the previous unit's */
    if (sc > 0 && data[sc - 1] == 0)
      end--;
    if (in_nal && nal_param_bit (codec, data[nal]))
      append_parameter_set (params, data + nal, end - nal);
    if (sc < 0 || !has_nal)
      return FALSE;
    nal = sc + 3;
    in_nal = TRUE;
    if (nal_is_slice (codec, data[nal]))
      return TRUE;
    *found |= nal_param_bit (codec, data[nal]);
  }
}

/* Remembers the stream's parameter sets, and says whether @buf carries a
 * whole set itself.  Cameras often send SPS/PPS only with the first
 * keyframe, or in buffers of their own; the decoder needs them in front of
 * every keyframe we hand it. */
static gboolean
track_parameter_sets (GstCoverTap *self, GstBuffer *buf, gboolean *slice)
{
  guint needed = self->codec == COVER_CODEC_H265 ? 7 : 6, found = 0, i, n;
  GByteArray *params = g_byte_array_new ();

  *slice = FALSE;
  n = gst_buffer_n_memory (buf);
  for (i = 0; i < n && !*slice; i++) {
    GstMemory *mem = gst_buffer_peek_memory (buf, i);
    GstMapInfo map;

    /* one memory at a time: mapping the whole buffer could merge (copy) */
    if (!gst_memory_map (mem, &map, GST_MAP_READ))
      break;
    *slice = scan_nals (self->codec, map.data, map.size, params, &found);
    gst_memory_unmap (mem, &map);
  }

  if ((found & needed) == needed &&
      (!self->params || gst_buffer_get_size (self->params) != params->len ||
          gst_buffer_memcmp (self->params, 0, params->data, params->len))) {
    guint len = params->len;

    GST_DEBUG_OBJECT (self, "new parameter sets, %u bytes", len);
    gst_clear_buffer (&self->params);

    self->params =
        gst_buffer_new_wrapped (g_byte_array_free (params, FALSE), len);
  } else {
    g_byte_array_free (params, TRUE);
  }
  return (found & needed) == needed;
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

static GstFlowReturn
gst_cover_tap_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstCoverTap *self = GST_COVER_TAP (trans);
  gboolean has_params = TRUE, slice = TRUE, enabled;
  guint quality, max_width, max_height;
  GstClockTime min_interval, thumbnail_interval, now;
  gboolean thumbnail;
  CoverJob *job;

  if (!self->stream || !self->caps)
    return GST_FLOW_OK;

  cover_stream_heartbeat (self->stream);

  if (self->codec != COVER_CODEC_RAW &&
      GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT)) {
    /* parameter sets may travel on their own, flagged as headers */
    if (self->byte_stream &&
        GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_HEADER))
      track_parameter_sets (self, buf, &slice);
    return GST_FLOW_OK;
  }
  if (self->byte_stream) {
    has_params = track_parameter_sets (self, buf, &slice);
    if (!slice)
      return GST_FLOW_OK;
  }

  stat_add (&self->keyframes_seen, 1);

  GST_OBJECT_LOCK (self);
  enabled = self->enabled;
  min_interval = self->min_interval;
  thumbnail_interval = self->thumbnail_interval * GST_SECOND;
  quality = self->quality;
  max_width = self->max_width;
  max_height = self->max_height;
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
  if (cover_stream_submit (self->stream, job)) {
    GST_LOG_OBJECT (self, "a waiting keyframe was replaced by a newer one");
    stat_add (&self->keyframes_skipped, 1);
  }
  return GST_FLOW_OK;

skip:
  stat_add (&self->keyframes_skipped, 1);
  return GST_FLOW_OK;
}
