/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The RTSP push ingest: gst-rtsp-server in RECORD mode.
 *
 * Who checks what, in the order a push goes:
 *  - every request with a URL: CoverIngestAuth::check (URL) — the path must
 *    be /live/<client_id> (strict u32), the token in ?token= is verified with
 *    cover_token_verify() (401) and must be for that client id (403).
 *    ANNOUNCE must carry a token; later requests of the same push (SETUP,
 *    RECORD, TEARDOWN) act on the session the ANNOUNCE made, so a token is
 *    only checked when there is one.
 *  - the media: CoverIngestFactory::create_element reads the ANNOUNCE's SDP
 *    (the request being handled) and picks the H.264 or H.265 depayloader
 *    and parser; anything else, or no ANNOUNCE, makes no media.
 *  - "pre-announce-request": one pusher per client id (453 while another
 *    lives); the media is registered until it is unprepared or finalized.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <gst/sdp/sdp.h>
#include <errno.h>
#include <string.h>

#include "cover-ingest.h"
#include "cover-token.h"

#define DEFAULT_RTSP_PORT 8554
#define MOUNT_PATH "/live"
/* sessions of pushers gone silent are dropped after this (RTSP timeout) */
#define SESSION_CLEANUP_INTERVAL_S 2
/* how often pushers are checked for data (live-timeout) */
#define LIVENESS_CHECK_INTERVAL_MS 500
#define DEFAULT_RECORD_SEGMENT_S 60

G_DEFINE_QUARK (cover-ingest-error-quark, cover_ingest_error);

typedef enum
{
  CODEC_UNKNOWN,
  CODEC_H264,
  CODEC_H265,
} Codec;

/* covertap's settings of one stream */
typedef struct
{
  guint quality;
  guint64 min_interval_ns;
  guint max_width;
  guint max_height;
  gboolean thumbnails;
  guint thumbnail_interval;
  guint thumbnail_max_files;
  guint thumbnail_max_age;
  gboolean record;
  guint record_segment; /* seconds */
  /* which of the above were set (a [stream.N] group overrides only those) */
  guint set;
} StreamSettings;

enum
{
  SET_QUALITY = 1 << 0,
  SET_MIN_INTERVAL = 1 << 1,
  SET_MAX_WIDTH = 1 << 2,
  SET_MAX_HEIGHT = 1 << 3,
  SET_THUMBNAILS = 1 << 4,
  SET_THUMBNAIL_INTERVAL = 1 << 5,
  SET_THUMBNAIL_MAX_FILES = 1 << 6,
  SET_THUMBNAIL_MAX_AGE = 1 << 7,
  SET_RECORD = 1 << 8,
  SET_RECORD_SEGMENT = 1 << 9,
};

/* When a push last gave data: set by a probe on the depayloader's output
 * (streaming thread), read by the periodic check (ingest's context).
 * Shared by the probe, the media's bin and the pusher's Active. */
typedef struct
{
  gint64 last_data; /* monotonic µs; atomic */
} Liveness;

typedef struct
{
  guint32 cid;
  GstRTSPMedia *media; /* not owned: weak ref */
  gint64 started;      /* monotonic µs */
  Codec codec;
  gchar *peer;
  Liveness *liveness; /* a reference, or NULL */
  GWeakRef client;    /* the pusher's GstRTSPClient */
  GWeakRef media_ref; /* a->media, safe to take from the check */
  gchar *stop_reason; /* set when the ingest ended the push itself */
} Active;

struct _CoverIngest
{
  const CoverConfig *config;
  gchar *address;
  guint port;
  StreamSettings defaults;
  GHashTable *overrides; /* cid → StreamSettings (merged) */

  GstRTSPServer *server;
  GstRTSPMediaFactory *factory;
  GHashTable *mounted; /* cids with a mount point /live/<cid> (lock) */
  GMainContext *context;
  guint server_source;
  guint cleanup_source;
  guint liveness_source;
  gboolean stopped;

  GMutex lock;
  GHashTable *active; /* cid → Active */
};

static const gchar *
codec_name (Codec codec)
{
  switch (codec) {
    case CODEC_H264:
      return "H.264";
    case CODEC_H265:
      return "H.265";
    default:
      return "unknown";
  }
}

/* ---- settings ---------------------------------------------------------- */

static gboolean
parse_uint (GKeyFile *file, const gchar *group, const gchar *key, guint64 min,
    guint64 max, guint64 *out, GError **error)
{
  g_autofree gchar *text = g_key_file_get_value (file, group, key, NULL);
  g_autofree gchar *stripped = g_strstrip (g_strdup (text ? text : ""));

  if (!g_ascii_string_to_unsigned (stripped, 10, min, max, out, NULL)) {
    g_set_error (error, COVER_INGEST_ERROR, COVER_INGEST_ERROR_INVALID,
        "[%s] %s: \"%s\" is not a whole number in %" G_GUINT64_FORMAT
        "..%" G_GUINT64_FORMAT,
        group, key, text ? text : "", min, max);
    return FALSE;
  }
  return TRUE;
}

typedef enum
{
  KEY_UINT,    /* guint, min..max */
  KEY_BOOLEAN, /* gboolean */
  KEY_SECONDS, /* guint64 nanoseconds, from 0..max seconds */
} KeyKind;

/* The [stream.*] keys: one row each, for loading and for overlaying. */
static const struct
{
  const gchar *name;
  KeyKind kind;
  guint64 min;
  guint64 max;
  gsize offset;
  guint flag;
} stream_keys[] = {
  { "quality", KEY_UINT, 1, 100, G_STRUCT_OFFSET (StreamSettings, quality),
      SET_QUALITY },
  { "min-interval", KEY_SECONDS, 0, 86400,
      G_STRUCT_OFFSET (StreamSettings, min_interval_ns), SET_MIN_INTERVAL },
  { "max-width", KEY_UINT, 0, G_MAXUINT16,
      G_STRUCT_OFFSET (StreamSettings, max_width), SET_MAX_WIDTH },
  { "max-height", KEY_UINT, 0, G_MAXUINT16,
      G_STRUCT_OFFSET (StreamSettings, max_height), SET_MAX_HEIGHT },
  { "thumbnails", KEY_BOOLEAN, 0, 1,
      G_STRUCT_OFFSET (StreamSettings, thumbnails), SET_THUMBNAILS },
  { "thumbnail-interval", KEY_UINT, 1, 86400,
      G_STRUCT_OFFSET (StreamSettings, thumbnail_interval),
      SET_THUMBNAIL_INTERVAL },
  { "thumbnail-max-files", KEY_UINT, 0, G_MAXINT,
      G_STRUCT_OFFSET (StreamSettings, thumbnail_max_files),
      SET_THUMBNAIL_MAX_FILES },
  { "thumbnail-max-age", KEY_UINT, 0, G_MAXINT,
      G_STRUCT_OFFSET (StreamSettings, thumbnail_max_age),
      SET_THUMBNAIL_MAX_AGE },
  { "record", KEY_BOOLEAN, 0, 1, G_STRUCT_OFFSET (StreamSettings, record),
      SET_RECORD },
  { "record-segment", KEY_UINT, 1, 86400,
      G_STRUCT_OFFSET (StreamSettings, record_segment), SET_RECORD_SEGMENT },
};

static gboolean
load_key (GKeyFile *file, const gchar *group, guint row, StreamSettings *s,
    GError **error)
{
  const gchar *key = stream_keys[row].name;
  gpointer field = G_STRUCT_MEMBER_P (s, stream_keys[row].offset);
  g_autoptr (GError) err = NULL;
  guint64 v;

  switch (stream_keys[row].kind) {
    case KEY_UINT:
      if (!parse_uint (file, group, key, stream_keys[row].min,
              stream_keys[row].max, &v, error))
        return FALSE;
      *(guint *) field = v;
      break;
    case KEY_BOOLEAN:
      *(gboolean *) field = g_key_file_get_boolean (file, group, key, &err);
      if (err) {
        g_set_error (error, COVER_INGEST_ERROR, COVER_INGEST_ERROR_INVALID,
            "[%s] %s: not true or false", group, key);
        return FALSE;
      }
      break;
    case KEY_SECONDS: {
      g_autofree gchar *text = g_key_file_get_value (file, group, key, NULL);
      gchar *end = NULL;
      gdouble secs;

      g_strstrip (text);
      secs = g_ascii_strtod (text, &end);
      if (!*text || *end || !(secs >= 0 && secs <= stream_keys[row].max)) {
        g_set_error (error, COVER_INGEST_ERROR, COVER_INGEST_ERROR_INVALID,
            "[%s] %s: \"%s\" is not a number of seconds (0 <= s <= "
            "%" G_GUINT64_FORMAT ")",
            group, key, text, stream_keys[row].max);
        return FALSE;
      }
      *(guint64 *) field = (guint64) (secs * GST_SECOND);
      break;
    }
  }
  s->set |= stream_keys[row].flag;
  return TRUE;
}

static gboolean
load_settings (
    GKeyFile *file, const gchar *group, StreamSettings *s, GError **error)
{
  g_auto (GStrv) keys = g_key_file_get_keys (file, group, NULL, NULL);
  guint i, row;

  for (i = 0; keys && keys[i]; i++) {
    for (row = 0; row < G_N_ELEMENTS (stream_keys); row++) {
      if (g_str_equal (keys[i], stream_keys[row].name))
        break;
    }
    if (row == G_N_ELEMENTS (stream_keys)) {
      g_set_error (error, COVER_INGEST_ERROR, COVER_INGEST_ERROR_INVALID,
          "[%s] %s: unknown key", group, keys[i]);
      return FALSE;
    }
    if (!load_key (file, group, row, s, error))
      return FALSE;
  }
  return TRUE;
}

static void
merge_settings (StreamSettings *dst, const StreamSettings *src)
{
  guint row;

  for (row = 0; row < G_N_ELEMENTS (stream_keys); row++) {
    gsize size = stream_keys[row].kind == KEY_SECONDS ? sizeof (guint64)
        : stream_keys[row].kind == KEY_BOOLEAN        ? sizeof (gboolean)
                                                      : sizeof (guint);

    if (src->set & stream_keys[row].flag)
      memcpy (G_STRUCT_MEMBER_P (dst, stream_keys[row].offset),
          G_STRUCT_MEMBER_P ((gpointer) src, stream_keys[row].offset), size);
  }
  dst->set |= src->set;
}

/* "42" → 42; no sign, no spaces, no leading zeros, at most G_MAXUINT32 */
static gboolean
parse_cid (const gchar *text, gsize len, guint32 *cid)
{
  guint64 v = 0;
  gsize i;

  if (len == 0 || len > 10 || (text[0] == '0' && len > 1))
    return FALSE;
  for (i = 0; i < len; i++) {
    if (!g_ascii_isdigit (text[i]))
      return FALSE;
    v = v * 10 + (text[i] - '0');
  }
  if (v > G_MAXUINT32)
    return FALSE;
  *cid = v;
  return TRUE;
}

/* "/live/<cid>", optionally followed by "/..." (a stream's control path)
 * when @sub is allowed */
static gboolean
cid_from_path (const gchar *path, gboolean sub, guint32 *cid)
{
  const gchar *p, *end;

  if (!path || !g_str_has_prefix (path, MOUNT_PATH "/"))
    return FALSE;
  p = path + strlen (MOUNT_PATH "/");
  end = strchr (p, '/');
  if (end && !sub)
    return FALSE;
  return parse_cid (p, end ? (gsize) (end - p) : strlen (p), cid);
}

/* the value of "token=" in a query string, or NULL */
static gchar *
token_from_query (const gchar *query)
{
  g_auto (GStrv) parts = NULL;
  guint i;

  if (!query)
    return NULL;
  parts = g_strsplit (query, "&", -1);
  for (i = 0; parts[i]; i++) {
    if (g_str_has_prefix (parts[i], "token="))
      return g_uri_unescape_string (parts[i] + strlen ("token="), NULL);
  }
  return NULL;
}

static void
settings_for (CoverIngest *ingest, guint32 cid, StreamSettings *out)
{
  StreamSettings *s =
      g_hash_table_lookup (ingest->overrides, GUINT_TO_POINTER (cid));

  *out = s ? *s : ingest->defaults;
}

/* ---- authentication ---------------------------------------------------- */

/* The mount points match an ANNOUNCE's path exactly: a client id gets its
 * /live/<cid> when it first pushes (kept: a few bytes per device). */
static void
ensure_mount (CoverIngest *ingest, guint32 cid)
{
  g_autoptr (GstRTSPMountPoints) mounts = NULL;
  g_autofree gchar *path = NULL;

  g_mutex_lock (&ingest->lock);
  if (!g_hash_table_contains (ingest->mounted, GUINT_TO_POINTER (cid))) {
    mounts = gst_rtsp_server_get_mount_points (ingest->server);
    path = g_strdup_printf (MOUNT_PATH "/%u", cid);
    gst_rtsp_mount_points_add_factory (
        mounts, path, g_object_ref (ingest->factory));
    g_hash_table_add (ingest->mounted, GUINT_TO_POINTER (cid));
  }
  g_mutex_unlock (&ingest->lock);
}

#define COVER_TYPE_INGEST_AUTH (cover_ingest_auth_get_type ())
G_DECLARE_FINAL_TYPE (
    CoverIngestAuth, cover_ingest_auth, COVER, INGEST_AUTH, GstRTSPAuth);

struct _CoverIngestAuth
{
  GstRTSPAuth parent;
  CoverIngest *ingest;
};

G_DEFINE_TYPE (CoverIngestAuth, cover_ingest_auth, GST_TYPE_RTSP_AUTH);

static void
send_status (GstRTSPContext *ctx, GstRTSPStatusCode code)
{
  gst_rtsp_message_init_response (
      ctx->response, code, gst_rtsp_status_as_text (code), ctx->request);
  gst_rtsp_client_send_message (ctx->client, ctx->session, ctx->response);
}

static const gchar *
method_name (GstRTSPContext *ctx)
{
  return ctx->method ? gst_rtsp_method_as_text (ctx->method) : "?";
}

static gboolean
cover_ingest_auth_check (
    GstRTSPAuth *auth, GstRTSPContext *ctx, const gchar *check)
{
  CoverIngest *ingest = COVER_INGEST_AUTH (auth)->ingest;
  g_autofree gchar *token = NULL;
  g_autofree gchar *redacted = NULL;
  CoverTokenStatus status;
  CoverToken parsed;
  guint32 cid;
  gboolean announce;

  if (strcmp (check, GST_RTSP_AUTH_CHECK_URL) != 0)
    return TRUE;
  /* OPTIONS * and the like */
  if (!ctx->uri)
    return TRUE;

  announce = ctx->method == GST_RTSP_ANNOUNCE;
  token = token_from_query (ctx->uri->query);
  if (!cid_from_path (ctx->uri->abspath, !announce, &cid)) {
    g_message ("rtsp: %s %s: not /live/<client_id>", method_name (ctx),
        ctx->uri->abspath);
    send_status (ctx, GST_RTSP_STS_NOT_FOUND);
    return FALSE;
  }
  if (!token) {
    if (!announce && ctx->method != GST_RTSP_DESCRIBE)
      return TRUE;
    g_message ("rtsp: %s /live/%u: no token", method_name (ctx), cid);
    send_status (ctx, GST_RTSP_STS_UNAUTHORIZED);
    return FALSE;
  }

  status = cover_token_verify (ingest->config->apps, token,
      g_get_real_time () / G_USEC_PER_SEC, &parsed);
  redacted = cover_token_redact (token);
  if (status != COVER_TOKEN_OK) {
    g_message ("rtsp: %s /live/%u: token %s refused: %s", method_name (ctx),
        cid, redacted, cover_token_status_to_string (status));
    send_status (ctx, GST_RTSP_STS_UNAUTHORIZED);
    return FALSE;
  }
  if (parsed.cid != cid) {
    g_message ("rtsp: %s /live/%u: token %s is for client %u",
        method_name (ctx), cid, redacted, parsed.cid);
    send_status (ctx, GST_RTSP_STS_FORBIDDEN);
    return FALSE;
  }
  /* control bit 2: the pusher's address must be the token's */
  if (parsed.has_ip) {
    const gchar *peer = gst_rtsp_connection_get_ip (
        gst_rtsp_client_get_connection (ctx->client));
    guint32 ip;

    if (!peer || !cover_token_ip_from_string (peer, &ip) || ip != parsed.ip) {
      g_message ("rtsp: %s /live/%u: token %s is for another address than %s",
          method_name (ctx), cid, redacted, peer ? peer : "?");
      send_status (ctx, GST_RTSP_STS_FORBIDDEN);
      return FALSE;
    }
  }
  if (announce)
    ensure_mount (ingest, cid);
  return TRUE;
}

static void
cover_ingest_auth_class_init (CoverIngestAuthClass *klass)
{
  GST_RTSP_AUTH_CLASS (klass)->check = cover_ingest_auth_check;
}

static void
cover_ingest_auth_init (CoverIngestAuth *auth)
{
}

/* ---- media factory ----------------------------------------------------- */

#define COVER_TYPE_INGEST_FACTORY (cover_ingest_factory_get_type ())
G_DECLARE_FINAL_TYPE (CoverIngestFactory, cover_ingest_factory, COVER,
    INGEST_FACTORY, GstRTSPMediaFactory);

struct _CoverIngestFactory
{
  GstRTSPMediaFactory parent;
  CoverIngest *ingest;
};

G_DEFINE_TYPE (
    CoverIngestFactory, cover_ingest_factory, GST_TYPE_RTSP_MEDIA_FACTORY);

/* the codec of the first media of the SDP in the request being handled */
static Codec
codec_of_request (GstRTSPContext *ctx)
{
  g_autoptr (GstSDPMessage) sdp = NULL;
  const GstSDPMedia *media;
  guint8 *data = NULL;
  guint size = 0, i;

  if (!ctx || !ctx->request || ctx->method != GST_RTSP_ANNOUNCE)
    return CODEC_UNKNOWN;
  gst_rtsp_message_get_body (ctx->request, &data, &size);
  if (!data || !size || gst_sdp_message_new (&sdp) != GST_SDP_OK ||
      gst_sdp_message_parse_buffer (data, size, sdp) != GST_SDP_OK ||
      gst_sdp_message_medias_len (sdp) == 0)
    return CODEC_UNKNOWN;
  media = gst_sdp_message_get_media (sdp, 0);
  if (g_strcmp0 (gst_sdp_media_get_media (media), "video") != 0)
    return CODEC_UNKNOWN;
  for (i = 0; i < gst_sdp_media_attributes_len (media); i++) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (media, i);
    const gchar *enc;

    if (g_strcmp0 (a->key, "rtpmap") != 0 || !a->value)
      continue;
    enc = strchr (a->value, ' ');
    if (!enc)
      continue;
    enc++;
    if (!g_ascii_strncasecmp (enc, "H264/", 5))
      return CODEC_H264;
    if (!g_ascii_strncasecmp (enc, "H265/", 5))
      return CODEC_H265;
  }
  return CODEC_UNKNOWN;
}

static Liveness *
liveness_ref (Liveness *l)
{
  return g_atomic_rc_box_acquire (l);
}

static void
liveness_unref (gpointer l)
{
  g_atomic_rc_box_release (l);
}

static void
liveness_touch (Liveness *l)
{
  __atomic_store_n (&l->last_data, g_get_monotonic_time (), __ATOMIC_RELAXED);
}

static GstPadProbeReturn
data_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Liveness *l = data;

  liveness_touch (l);
  return GST_PAD_PROBE_OK;
}

static gint64
liveness_last_data (Liveness *l)
{
  return __atomic_load_n (&l->last_data, __ATOMIC_RELAXED);
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

static GstElement *
cover_ingest_factory_create_element (
    GstRTSPMediaFactory *factory, const GstRTSPUrl *url)
{
  CoverIngest *ingest = COVER_INGEST_FACTORY (factory)->ingest;
  GstRTSPContext *ctx = gst_rtsp_context_get_current ();
  g_autoptr (GError) err = NULL;
  g_autoptr (GstElement) tap = NULL;
  g_autofree gchar *launch = NULL;
  g_autofree gchar *rec_dir = NULL;
  g_autoptr (GstElement) depay = NULL;
  g_autoptr (GstPad) depay_src = NULL;
  StreamSettings s;
  Liveness *liveness;
  GstElement *bin;
  guint32 cid;
  Codec codec;

  if (!cid_from_path (url->abspath, FALSE, &cid))
    return NULL;
  codec = codec_of_request (ctx);
  if (codec == CODEC_UNKNOWN) {
    g_message ("rtsp: /live/%u: no H.264 or H.265 video in the ANNOUNCE", cid);
    return NULL;
  }

  settings_for (ingest, cid, &s);
  if (s.record) {
    g_autofree gchar *name = g_strdup_printf ("%u", cid);

    rec_dir =
        g_build_filename (ingest->config->data_dir, "recordings", name, NULL);
    /* one parser for both branches: the tee agrees on a stream format
     * mp4mux and covertap both take (avc/hvc1) */
    launch = g_strdup_printf ("( %s name=depay0 ! %s ! tee name=t "
                              "t. ! queue ! covertap name=tap ! "
                              "fakesink sync=false async=false "
                              "t. ! queue ! splitmuxsink name=rec )",
        codec == CODEC_H264 ? "rtph264depay" : "rtph265depay",
        codec == CODEC_H264 ? "h264parse" : "h265parse");
  } else {
    launch = g_strdup_printf ("( %s name=depay0 ! %s ! covertap name=tap ! "
                              "fakesink sync=false async=false )",
        codec == CODEC_H264 ? "rtph264depay" : "rtph265depay",
        codec == CODEC_H264 ? "h264parse" : "h265parse");
  }
  bin = gst_parse_launch_full (launch, NULL,
      GST_PARSE_FLAG_PLACE_IN_BIN | GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (!bin) {
    g_warning ("rtsp: /live/%u: cannot make the pipeline: %s", cid,
        err ? err->message : "?");
    return NULL;
  }
  if (s.record && !setup_recording (bin, cid, rec_dir, s.record_segment)) {
    gst_object_unref (bin);
    return NULL;
  }
  tap = gst_bin_get_by_name (GST_BIN (bin), "tap");
  g_object_set (tap, "client-id", (gint64) cid, "store-dir",
      ingest->config->store_dir, NULL);
  if (s.set & SET_QUALITY)
    g_object_set (tap, "quality", s.quality, NULL);
  if (s.set & SET_MIN_INTERVAL)
    g_object_set (tap, "min-interval", s.min_interval_ns, NULL);
  if (s.set & SET_MAX_WIDTH)
    g_object_set (tap, "max-width", s.max_width, NULL);
  if (s.set & SET_MAX_HEIGHT)
    g_object_set (tap, "max-height", s.max_height, NULL);
  if (s.thumbnails) {
    g_object_set (tap, "thumbnail-dir", ingest->config->thumbnail_dir, NULL);
    if (s.set & SET_THUMBNAIL_INTERVAL)
      g_object_set (tap, "thumbnail-interval", s.thumbnail_interval, NULL);
    else if (s.record)
      /* one thumbnail per segment */
      g_object_set (tap, "thumbnail-interval", s.record_segment, NULL);
    if (s.set & SET_THUMBNAIL_MAX_FILES)
      g_object_set (tap, "thumbnail-max-files", s.thumbnail_max_files, NULL);
    if (s.set & SET_THUMBNAIL_MAX_AGE)
      g_object_set (tap, "thumbnail-max-age", s.thumbnail_max_age, NULL);
  }
  /* when data last came: the live-timeout check (see check_liveness) */
  liveness = g_atomic_rc_box_new0 (Liveness);
  liveness_touch (liveness);
  depay = gst_bin_get_by_name (GST_BIN (bin), "depay0");
  depay_src = gst_element_get_static_pad (depay, "src");
  gst_pad_add_probe (depay_src,
      GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, data_probe,
      liveness_ref (liveness), liveness_unref);
  g_object_set_data_full (
      G_OBJECT (bin), "cover-liveness", liveness, liveness_unref);
  /* remembered for the log line of pre-announce */
  g_object_set_data (G_OBJECT (bin), "cover-codec", GINT_TO_POINTER (codec));
  if (s.record)
    g_message ("stream %u: recording %u s segments into %s", cid,
        s.record_segment, rec_dir);
  return bin;
}

static void
cover_ingest_factory_class_init (CoverIngestFactoryClass *klass)
{
  GST_RTSP_MEDIA_FACTORY_CLASS (klass)->create_element =
      cover_ingest_factory_create_element;
}

static void
cover_ingest_factory_init (CoverIngestFactory *factory)
{
}

/* ---- pushers ----------------------------------------------------------- */

static void
active_free (Active *a)
{
  g_free (a->peer);
  if (a->liveness)
    liveness_unref (a->liveness);
  g_weak_ref_clear (&a->client);
  g_weak_ref_clear (&a->media_ref);
  g_free (a->stop_reason);
  g_free (a);
}

/* Removes @media's entry (if it is still the registered one); logs the end. */
static void
forget_media (CoverIngest *ingest, GstRTSPMedia *media, const gchar *why)
{
  GHashTableIter iter;
  Active *a;

  g_mutex_lock (&ingest->lock);
  g_hash_table_iter_init (&iter, ingest->active);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &a)) {
    if (a->media != media)
      continue;
    g_message ("stream %u: stopped (%s) after %.1f s", a->cid,
        a->stop_reason ? a->stop_reason : why,
        (g_get_monotonic_time () - a->started) / (gdouble) G_USEC_PER_SEC);
    g_hash_table_iter_remove (&iter);
    break;
  }
  g_mutex_unlock (&ingest->lock);
}

static void
media_finalized (gpointer data, GObject *where_the_media_was)
{
  forget_media (data, (GstRTSPMedia *) where_the_media_was, "released");
}

static void
media_unprepared (GstRTSPMedia *media, gpointer data)
{
  CoverIngest *ingest = data;

  forget_media (ingest, media, "pusher gone");
  /* nothing to watch any more */
  g_signal_handlers_disconnect_by_data (media, ingest);
  g_object_weak_unref (G_OBJECT (media), media_finalized, ingest);
}

static GstRTSPStatusCode
pre_announce (GstRTSPClient *client, GstRTSPContext *ctx, CoverIngest *ingest)
{
  g_autoptr (GstElement) element = NULL;
  const gchar *peer;
  Active *a;
  guint32 cid;
  Codec codec = CODEC_UNKNOWN;

  if (!ctx->uri || !ctx->media ||
      !cid_from_path (ctx->uri->abspath, FALSE, &cid))
    return GST_RTSP_STS_NOT_FOUND;
  element = gst_rtsp_media_get_element (ctx->media);
  if (element)
    codec =
        GPOINTER_TO_INT (g_object_get_data (G_OBJECT (element), "cover-codec"));
  peer = gst_rtsp_connection_get_ip (gst_rtsp_client_get_connection (client));

  g_mutex_lock (&ingest->lock);
  a = g_hash_table_lookup (ingest->active, GUINT_TO_POINTER (cid));
  if (a) {
    g_message ("stream %u: push from %s refused: %s is pushing it", cid,
        peer ? peer : "?", a->peer ? a->peer : "?");
    g_mutex_unlock (&ingest->lock);
    return GST_RTSP_STS_NOT_ENOUGH_BANDWIDTH;
  }
  a = g_new0 (Active, 1);
  a->cid = cid;
  a->media = ctx->media;
  a->started = g_get_monotonic_time ();
  a->codec = codec;
  a->peer = g_strdup (peer);
  if (element) {
    Liveness *l = g_object_get_data (G_OBJECT (element), "cover-liveness");

    if (l) {
      a->liveness = liveness_ref (l);
      /* counted from the ANNOUNCE */
      liveness_touch (l);
    }
  }
  g_weak_ref_init (&a->client, client);
  g_weak_ref_init (&a->media_ref, ctx->media);
  g_hash_table_insert (ingest->active, GUINT_TO_POINTER (cid), a);
  g_object_weak_ref (G_OBJECT (ctx->media), media_finalized, ingest);
  g_signal_connect (
      ctx->media, "unprepared", G_CALLBACK (media_unprepared), ingest);
  g_message ("stream %u: started (%s) from %s", cid, codec_name (codec),
      peer ? peer : "?");
  g_mutex_unlock (&ingest->lock);
  return GST_RTSP_STS_OK;
}

static void
client_connected (
    GstRTSPServer *server, GstRTSPClient *client, CoverIngest *ingest)
{
  g_signal_connect (
      client, "pre-announce-request", G_CALLBACK (pre_announce), ingest);
}

static gboolean
cleanup_sessions (gpointer data)
{
  CoverIngest *ingest = data;
  g_autoptr (GstRTSPSessionPool) pool =
      gst_rtsp_server_get_session_pool (ingest->server);

  gst_rtsp_session_pool_cleanup (pool);
  return G_SOURCE_CONTINUE;
}

/* A pusher that stays connected but sends nothing for the live timeout is
 * ended as if it had gone: its connection is closed, which removes its
 * session and unprepares its media (EOS first, see eos-shutdown). */
static gboolean
check_liveness (gpointer data)
{
  CoverIngest *ingest = data;
  gint64 timeout = ingest->config->live_timeout_us;
  gint64 now = g_get_monotonic_time ();
  GPtrArray *clients = g_ptr_array_new_with_free_func (g_object_unref);
  GPtrArray *medias = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  Active *a;
  guint i;

  if (timeout <= 0)
    goto done;
  g_mutex_lock (&ingest->lock);
  g_hash_table_iter_init (&iter, ingest->active);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &a)) {
    GstRTSPClient *client;
    gint64 idle;

    if (a->stop_reason || !a->liveness)
      continue;
    idle = now - liveness_last_data (a->liveness);
    if (idle < timeout)
      continue;
    a->stop_reason = g_strdup_printf (
        "no data for %g s", timeout / (gdouble) G_USEC_PER_SEC);
    g_message ("stream %u: no data for %.1f s: ending it", a->cid,
        idle / (gdouble) G_USEC_PER_SEC);
    client = g_weak_ref_get (&a->client);
    if (client) {
      g_ptr_array_add (clients, client);
    } else {
      GstRTSPMedia *media = g_weak_ref_get (&a->media_ref);

      if (media)
        g_ptr_array_add (medias, media);
    }
  }
  g_mutex_unlock (&ingest->lock);

  for (i = 0; i < clients->len; i++)
    gst_rtsp_client_close (g_ptr_array_index (clients, i));
  for (i = 0; i < medias->len; i++)
    gst_rtsp_media_unprepare (g_ptr_array_index (medias, i));
done:
  g_ptr_array_unref (clients);
  g_ptr_array_unref (medias);
  return G_SOURCE_CONTINUE;
}

/* ---- server and clients ------------------------------------------------ */

/* The token rides in the query of every URL the pusher derives from the one
 * it was given: rtspclientsink's SETUP goes to
 * rtsp://H:P/live/42/stream=0?token=...; the query is no part of the
 * session's paths (the default keeps it, and then finds no "stream=0"). */
#define COVER_TYPE_INGEST_CLIENT (cover_ingest_client_get_type ())
G_DECLARE_FINAL_TYPE (CoverIngestClient, cover_ingest_client, COVER,
    INGEST_CLIENT, GstRTSPClient);

struct _CoverIngestClient
{
  GstRTSPClient parent;
};

G_DEFINE_TYPE (CoverIngestClient, cover_ingest_client, GST_TYPE_RTSP_CLIENT);

static gchar *
cover_ingest_client_make_path_from_uri (
    GstRTSPClient *client, const GstRTSPUrl *uri)
{
  return g_strdup (uri->abspath && uri->abspath[0] ? uri->abspath : "/");
}

static void
cover_ingest_client_class_init (CoverIngestClientClass *klass)
{
  GST_RTSP_CLIENT_CLASS (klass)->make_path_from_uri =
      cover_ingest_client_make_path_from_uri;
}

static void
cover_ingest_client_init (CoverIngestClient *client)
{
}

#define COVER_TYPE_INGEST_SERVER (cover_ingest_server_get_type ())
G_DECLARE_FINAL_TYPE (CoverIngestServer, cover_ingest_server, COVER,
    INGEST_SERVER, GstRTSPServer);

struct _CoverIngestServer
{
  GstRTSPServer parent;
};

G_DEFINE_TYPE (CoverIngestServer, cover_ingest_server, GST_TYPE_RTSP_SERVER);

/* what the default does, with our client class */
static GstRTSPClient *
cover_ingest_server_create_client (GstRTSPServer *server)
{
  GstRTSPClient *client = g_object_new (COVER_TYPE_INGEST_CLIENT, NULL);
  g_autoptr (GstRTSPSessionPool) pool =
      gst_rtsp_server_get_session_pool (server);
  g_autoptr (GstRTSPMountPoints) mounts =
      gst_rtsp_server_get_mount_points (server);
  g_autoptr (GstRTSPAuth) auth = gst_rtsp_server_get_auth (server);
  g_autoptr (GstRTSPThreadPool) threads =
      gst_rtsp_server_get_thread_pool (server);

  gst_rtsp_client_set_session_pool (client, pool);
  gst_rtsp_client_set_content_length_limit (
      client, gst_rtsp_server_get_content_length_limit (server));
  gst_rtsp_client_set_mount_points (client, mounts);
  gst_rtsp_client_set_auth (client, auth);
  gst_rtsp_client_set_thread_pool (client, threads);
  return client;
}

static void
cover_ingest_server_class_init (CoverIngestServerClass *klass)
{
  GST_RTSP_SERVER_CLASS (klass)->create_client =
      cover_ingest_server_create_client;
}

static void
cover_ingest_server_init (CoverIngestServer *server)
{
}

/* ---- the ingest -------------------------------------------------------- */

CoverIngest *
cover_ingest_new (const CoverConfig *config, GKeyFile *file, GError **error)
{
  CoverIngest *ingest = g_new0 (CoverIngest, 1);
  g_auto (GStrv) groups = NULL;
  guint i;

  ingest->config = config;
  ingest->address = g_strdup (config->listen_address);
  ingest->port = DEFAULT_RTSP_PORT;
  ingest->overrides =
      g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  ingest->mounted = g_hash_table_new (g_direct_hash, g_direct_equal);
  ingest->active = g_hash_table_new_full (
      g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) active_free);
  g_mutex_init (&ingest->lock);
  ingest->defaults.record_segment = DEFAULT_RECORD_SEGMENT_S;

  if (!file)
    return ingest;

  if (g_key_file_has_group (file, "ingest")) {
    g_auto (GStrv) keys = g_key_file_get_keys (file, "ingest", NULL, NULL);

    for (i = 0; keys && keys[i]; i++) {
      guint64 v;

      if (!strcmp (keys[i], "rtsp-port")) {
        if (!parse_uint (file, "ingest", "rtsp-port", 0, 65535, &v, error))
          goto failed;
        ingest->port = v;
      } else {
        g_set_error (error, COVER_INGEST_ERROR, COVER_INGEST_ERROR_INVALID,
            "[ingest] %s: unknown key", keys[i]);
        goto failed;
      }
    }
  }

  if (g_key_file_has_group (file, "stream.default") &&
      !load_settings (file, "stream.default", &ingest->defaults, error))
    goto failed;

  groups = g_key_file_get_groups (file, NULL);
  for (i = 0; groups[i]; i++) {
    const gchar *name = groups[i];
    StreamSettings *s;
    guint32 cid;

    if (!g_str_has_prefix (name, "stream.") || !strcmp (name, "stream.default"))
      continue;
    if (!parse_cid (name + 7, strlen (name + 7), &cid)) {
      g_set_error (error, COVER_INGEST_ERROR, COVER_INGEST_ERROR_INVALID,
          "[%s]: not [stream.default] or [stream.<client_id>]", name);
      goto failed;
    }
    s = g_new0 (StreamSettings, 1);
    *s = ingest->defaults;
    g_hash_table_insert (ingest->overrides, GUINT_TO_POINTER (cid), s);
    {
      StreamSettings own = { 0 };

      if (!load_settings (file, name, &own, error))
        goto failed;
      merge_settings (s, &own);
    }
  }
  return ingest;

failed:
  cover_ingest_free (ingest);
  return NULL;
}

void
cover_ingest_set_port (CoverIngest *ingest, guint port)
{
  ingest->port = port;
}

gboolean
cover_ingest_start (CoverIngest *ingest, GError **error)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *service = NULL;
  CoverIngestFactory *factory;
  CoverIngestAuth *auth;
  GSource *source;

  g_return_val_if_fail (ingest->server == NULL, FALSE);

  if (!gst_element_factory_find ("covertap")) {
    g_set_error (error, COVER_INGEST_ERROR, COVER_INGEST_ERROR_LISTEN,
        "the covertap element is not installed (GST_PLUGIN_PATH?)");
    return FALSE;
  }

  ingest->server = g_object_new (COVER_TYPE_INGEST_SERVER, NULL);
  gst_rtsp_server_set_address (ingest->server, ingest->address);
  service = g_strdup_printf ("%u", ingest->port);
  gst_rtsp_server_set_service (ingest->server, service);

  factory = g_object_new (COVER_TYPE_INGEST_FACTORY, NULL);
  factory->ingest = ingest;
  gst_rtsp_media_factory_set_transport_mode (
      GST_RTSP_MEDIA_FACTORY (factory), GST_RTSP_TRANSPORT_MODE_RECORD);
  /* an unprepared push gets EOS first: the last thumbnail, the segment
   * ended by covertap */
  gst_rtsp_media_factory_set_eos_shutdown (
      GST_RTSP_MEDIA_FACTORY (factory), TRUE);
  /* mounted per client id by ensure_mount() */
  ingest->factory = GST_RTSP_MEDIA_FACTORY (factory);

  auth = g_object_new (COVER_TYPE_INGEST_AUTH, NULL);
  auth->ingest = ingest;
  gst_rtsp_server_set_auth (ingest->server, GST_RTSP_AUTH (auth));
  g_object_unref (auth);

  g_signal_connect (ingest->server, "client-connected",
      G_CALLBACK (client_connected), ingest);

  ingest->context = g_main_context_ref_thread_default ();
  source = gst_rtsp_server_create_source (ingest->server, NULL, &err);
  if (!source) {
    g_set_error (error, COVER_INGEST_ERROR, COVER_INGEST_ERROR_LISTEN,
        "cannot listen for RTSP on %s:%u: %s", ingest->address, ingest->port,
        err ? err->message : "?");
    g_clear_object (&ingest->server);
    return FALSE;
  }
  ingest->server_source = g_source_attach (source, ingest->context);
  g_source_unref (source);

  source = g_timeout_source_new_seconds (SESSION_CLEANUP_INTERVAL_S);
  g_source_set_callback (source, cleanup_sessions, ingest, NULL);
  ingest->cleanup_source = g_source_attach (source, ingest->context);
  g_source_unref (source);

  source = g_timeout_source_new (LIVENESS_CHECK_INTERVAL_MS);
  g_source_set_callback (source, check_liveness, ingest, NULL);
  ingest->liveness_source = g_source_attach (source, ingest->context);
  g_source_unref (source);
  return TRUE;
}

guint16
cover_ingest_get_port (CoverIngest *ingest)
{
  return ingest->server ? gst_rtsp_server_get_bound_port (ingest->server) : 0;
}

guint
cover_ingest_get_n_streams (CoverIngest *ingest)
{
  guint n;

  g_mutex_lock (&ingest->lock);
  n = g_hash_table_size (ingest->active);
  g_mutex_unlock (&ingest->lock);
  return n;
}

static GstRTSPFilterResult
close_client (GstRTSPServer *server, GstRTSPClient *client, gpointer data)
{
  return GST_RTSP_FILTER_REMOVE;
}

static void
remove_source (GMainContext *context, guint *id)
{
  GSource *source;

  if (!*id)
    return;
  source = g_main_context_find_source_by_id (context, *id);
  if (source)
    g_source_destroy (source);
  *id = 0;
}

static void
wait_streams (CoverIngest *ingest, gint64 deadline)
{
  while (cover_ingest_get_n_streams (ingest) > 0 &&
      g_get_monotonic_time () < deadline) {
    if (!g_main_context_iteration (ingest->context, FALSE))
      g_usleep (10 * 1000);
  }
}

void
cover_ingest_stop (CoverIngest *ingest, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * (gint64) 1000;

  if (!ingest->server || ingest->stopped)
    return;
  ingest->stopped = TRUE;
  /* no new pushers */
  remove_source (ingest->context, &ingest->server_source);
  /* closing a pusher's connection removes its session, which unprepares its
   * media (EOS first, see eos-shutdown) */
  gst_rtsp_server_client_filter (ingest->server, close_client, NULL);
  wait_streams (ingest, deadline - timeout_ms * (gint64) 500);
  /* an ANNOUNCE without RECORD, or a client that did not go: unprepare */
  if (cover_ingest_get_n_streams (ingest) > 0) {
    GPtrArray *medias = g_ptr_array_new_with_free_func (g_object_unref);
    GHashTableIter iter;
    Active *a;
    guint i;

    g_mutex_lock (&ingest->lock);
    g_hash_table_iter_init (&iter, ingest->active);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &a))
      g_ptr_array_add (medias, g_object_ref (a->media));
    g_mutex_unlock (&ingest->lock);
    for (i = 0; i < medias->len; i++)
      gst_rtsp_media_unprepare (g_ptr_array_index (medias, i));
    g_ptr_array_unref (medias);
    wait_streams (ingest, deadline);
  }
  if (timeout_ms > 0 && cover_ingest_get_n_streams (ingest) > 0)
    g_warning ("rtsp: %u stream(s) still running at shutdown",
        cover_ingest_get_n_streams (ingest));
  remove_source (ingest->context, &ingest->cleanup_source);
  remove_source (ingest->context, &ingest->liveness_source);
}

void
cover_ingest_free (CoverIngest *ingest)
{
  GHashTableIter iter;
  Active *a;

  if (!ingest)
    return;
  cover_ingest_stop (ingest, 0);
  g_mutex_lock (&ingest->lock);
  g_hash_table_iter_init (&iter, ingest->active);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &a)) {
    g_signal_handlers_disconnect_by_data (a->media, ingest);
    g_object_weak_unref (G_OBJECT (a->media), media_finalized, ingest);
  }
  g_hash_table_remove_all (ingest->active);
  g_mutex_unlock (&ingest->lock);
  g_clear_object (&ingest->server);
  if (ingest->context)
    g_main_context_unref (ingest->context);
  g_hash_table_unref (ingest->active);
  g_hash_table_unref (ingest->mounted);
  g_clear_object (&ingest->factory);
  g_hash_table_unref (ingest->overrides);
  g_mutex_clear (&ingest->lock);
  g_free (ingest->address);
  g_free (ingest);
}
