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

#include "cover-stream-settings.h"

#include <gst/gst.h>
#include <string.h>

#include "cover-config-keys.h"
#include "cover-config.h"
#include "coverid.h"

#define STREAM_KEY(name, kind, field, min, max, fallback)                      \
  {                                                                            \
    name, COVER_CONFIG_KIND_##kind,                                            \
        G_STRUCT_OFFSET (CoverStreamSettings, field), min, max, GST_SECOND,    \
        fallback, NULL, FALSE                                                  \
  }

/* [stream.default] and [stream.<client_id>] (gst-docs/coversnapd.md) */
static const CoverConfigKey stream_keys[] = {
  STREAM_KEY ("quality", UINT, quality, 1, 100, NULL),
  STREAM_KEY ("min-interval", SECONDS, min_interval_ns, 0,
      G_GUINT64_CONSTANT (86400) * GST_SECOND, NULL),
  STREAM_KEY ("max-width", UINT, max_width, 0, G_MAXUINT16, NULL),
  STREAM_KEY ("max-height", UINT, max_height, 0, G_MAXUINT16, NULL),
  STREAM_KEY ("thumbnails", BOOLEAN, thumbnails, 0, 1, NULL),
  STREAM_KEY ("thumbnail-interval", UINT, thumbnail_interval, 1, 86400, NULL),
  STREAM_KEY (
      "thumbnail-max-files", UINT, thumbnail_max_files, 0, G_MAXINT, NULL),
  STREAM_KEY ("thumbnail-max-age", UINT, thumbnail_max_age, 0, G_MAXINT, NULL),
  STREAM_KEY ("record", BOOLEAN, record, 0, 1, NULL),
  STREAM_KEY ("record-segment", UINT, record_segment, 1, 86400, "60"),
};

static const CoverConfigTable stream_table = {
  stream_keys,
  G_N_ELEMENTS (stream_keys),
  G_STRUCT_OFFSET (CoverStreamSettings, given),
  NULL,
};

/* [ingest] */
typedef struct
{
  guint rtsp_port;
  CoverIngestLimits limits;
  guint64 given;
} IngestKeys;

#define INGEST_KEY(name, field, min, max, fallback)                            \
  {                                                                            \
    name, COVER_CONFIG_KIND_UINT, G_STRUCT_OFFSET (IngestKeys, field), min,    \
        max, 0, fallback, NULL, FALSE                                          \
  }

static const CoverConfigKey ingest_keys[] = {
  INGEST_KEY ("rtsp-port", rtsp_port, 0, 65535, "8554"),
  INGEST_KEY ("max-pending-sessions", limits.max_pending, 1, 100000, "64"),
  INGEST_KEY ("max-pending-per-address", limits.max_pending_per_address, 1,
      100000, "8"),
  INGEST_KEY ("pending-timeout", limits.pending_timeout_s, 1, 3600, "10"),
  INGEST_KEY ("threads", limits.threads, 0, 256, "0"),
};

static const CoverConfigTable ingest_table = {
  ingest_keys,
  G_N_ELEMENTS (ingest_keys),
  G_STRUCT_OFFSET (IngestKeys, given),
  NULL,
};

struct _CoverIngestSettings
{
  IngestKeys ingest;
  CoverStreamSettings defaults;
  GHashTable *streams; /* client id → CoverStreamSettings (defaults overlaid) */
};

/* [stream.<client_id>]: the defaults, then the group's own keys */
static gboolean
load_stream (CoverIngestSettings *settings, GKeyFile *file, const gchar *group,
    GError **error)
{
  const gchar *id = group + strlen ("stream.");
  CoverStreamSettings *s;
  guint32 cid;

  if (!cover_client_id_parse (id, -1, &cid)) {
    g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
        "[%s]: not [stream.default] or [stream.<client_id>]", group);
    return FALSE;
  }
  s = g_memdup2 (&settings->defaults, sizeof (*s));
  g_hash_table_insert (settings->streams, GUINT_TO_POINTER (cid), s);
  return cover_config_table_load (&stream_table, s, file, group, error);
}

CoverIngestSettings *
cover_ingest_settings_new (GKeyFile *file, GError **error)
{
  CoverIngestSettings *settings = g_new0 (CoverIngestSettings, 1);
  g_auto (GStrv) groups = NULL;
  guint i;

  settings->streams =
      g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  cover_config_table_init (&ingest_table, &settings->ingest);
  cover_config_table_init (&stream_table, &settings->defaults);
  if (!file)
    return settings;

  if (!cover_config_table_load (
          &ingest_table, &settings->ingest, file, "ingest", error) ||
      !cover_config_table_load (
          &stream_table, &settings->defaults, file, "stream.default", error))
    goto failed;
  groups = g_key_file_get_groups (file, NULL);
  for (i = 0; groups[i]; i++) {
    if (g_str_has_prefix (groups[i], "stream.") &&
        !g_str_equal (groups[i], "stream.default") &&
        !load_stream (settings, file, groups[i], error))
      goto failed;
  }
  return settings;

failed:
  cover_ingest_settings_free (settings);
  return NULL;
}

guint
cover_ingest_settings_get_rtsp_port (const CoverIngestSettings *settings)
{
  g_return_val_if_fail (settings != NULL, 0);

  return settings->ingest.rtsp_port;
}

void
cover_ingest_settings_get_limits (
    const CoverIngestSettings *settings, CoverIngestLimits *out)
{
  g_return_if_fail (settings != NULL && out != NULL);

  *out = settings->ingest.limits;
}

void
cover_ingest_settings_lookup (const CoverIngestSettings *settings,
    guint32 client_id, CoverStreamSettings *out)
{
  const CoverStreamSettings *s;

  g_return_if_fail (settings != NULL && out != NULL);

  s = g_hash_table_lookup (settings->streams, GUINT_TO_POINTER (client_id));
  *out = s ? *s : settings->defaults;
}

void
cover_ingest_settings_free (CoverIngestSettings *settings)
{
  if (!settings)
    return;
  g_hash_table_unref (settings->streams);
  g_free (settings);
}

gboolean
cover_stream_settings_is_given (
    const CoverStreamSettings *settings, const gchar *key)
{
  g_return_val_if_fail (settings != NULL && key != NULL, FALSE);

  return cover_config_table_is_given (&stream_table, settings, key);
}
