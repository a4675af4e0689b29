/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_STREAM_SETTINGS_H__
#define __COVER_STREAM_SETTINGS_H__

#include <gio/gio.h>

G_BEGIN_DECLS

/* The ingest's part of the key file: [ingest] and the per-stream settings
 * of [stream.default] overlaid by [stream.<client_id>], read through the
 * configuration layer's tables (cover-config-keys.h). */

/* covertap's settings of one stream, and how it is recorded */
typedef struct
{
  guint quality;
  gint64 min_interval_ns;
  guint max_width;
  guint max_height;
  gboolean thumbnails;
  guint thumbnail_interval;
  guint thumbnail_max_files;
  guint thumbnail_max_age;
  gboolean record;
  guint record_segment; /* seconds */
  /* pull=: the URL a camera (RTSP server) is pulled from, or NULL; owned
   * by the settings, with its credentials: never logged as it is */
  const gchar *pull;
  /* which keys a group gave: only those override covertap's defaults */
  guint64 given;
} CoverStreamSettings;

typedef struct _CoverIngestSettings CoverIngestSettings;

/* [ingest]'s bounds on RTSP connections that have not reached RECORD */
typedef struct
{
  guint max_pending;             /* max-pending-sessions, all addresses */
  guint max_pending_per_address; /* max-pending-per-address */
  guint pending_timeout_s;       /* pending-timeout: closed after that */
  guint threads; /* threads: RTSP client and media loops, 0: one per core */
} CoverIngestLimits;

/* Reads [ingest] and every [stream.*] group of @file (NULL: defaults);
 * an error (COVER_CONFIG_ERROR) names the group and the key
 * (transfer full). */
CoverIngestSettings *cover_ingest_settings_new (GKeyFile *file, GError **error);
/* [ingest] rtsp-port */
guint cover_ingest_settings_get_rtsp_port (const CoverIngestSettings *settings);
/* [ingest] max-pending-sessions, max-pending-per-address, pending-timeout */
void cover_ingest_settings_get_limits (
    const CoverIngestSettings *settings, CoverIngestLimits *out);
/* The settings of a push of @client_id. */
void cover_ingest_settings_lookup (const CoverIngestSettings *settings,
    guint32 client_id, CoverStreamSettings *out);
/* [ingest] rtmp-url: where the RTMP server (nginx-rtmp) is played from,
 * rtmp://HOST[:PORT] (transfer none) */
const gchar *cover_ingest_settings_get_rtmp_url (
    const CoverIngestSettings *settings);
/* Whether [ingest] hook-allow (addresses and address/prefix, default
 * loopback) holds @address. */
gboolean cover_ingest_settings_hook_allowed (
    const CoverIngestSettings *settings, GInetAddress *address);
/* [ingest] pull-retry-min, pull-retry-max: the reconnect backoff of
 * pulled cameras, µs */
void cover_ingest_settings_get_pull_retry (
    const CoverIngestSettings *settings, gint64 *min_us, gint64 *max_us);
/* Calls @func for every [stream.<client_id>] with pull= (in no order). */
typedef void (*CoverIngestPullFunc) (
    guint32 client_id, const CoverStreamSettings *settings, gpointer data);
void cover_ingest_settings_foreach_pull (const CoverIngestSettings *settings,
    CoverIngestPullFunc func, gpointer data);
void cover_ingest_settings_free (CoverIngestSettings *settings);

/* Whether the stream's groups gave @key (a [stream.*] key name). */
gboolean cover_stream_settings_is_given (
    const CoverStreamSettings *settings, const gchar *key);

G_END_DECLS

#endif /* __COVER_STREAM_SETTINGS_H__ */
