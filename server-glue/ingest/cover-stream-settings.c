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
  /* a TEXT: its errors never quote the value (credentials) */
  STREAM_KEY ("pull", TEXT, pull, 0, 0, NULL),
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
  gchar *rtmp_url;
  gchar *hook_allow;
  gint64 pull_retry_min_us;
  gint64 pull_retry_max_us;
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
  { "rtmp-url", COVER_CONFIG_KIND_TEXT, G_STRUCT_OFFSET (IngestKeys, rtmp_url),
      0, 0, 0, "rtmp://127.0.0.1:1935", NULL, FALSE },
  { "hook-allow", COVER_CONFIG_KIND_TEXT,
      G_STRUCT_OFFSET (IngestKeys, hook_allow), 0, 0, 0, "127.0.0.1,::1", NULL,
      FALSE },
  { "pull-retry-min", COVER_CONFIG_KIND_SECONDS,
      G_STRUCT_OFFSET (IngestKeys, pull_retry_min_us), 1,
      G_GUINT64_CONSTANT (3600) * G_USEC_PER_SEC, G_USEC_PER_SEC, "1", NULL,
      FALSE },
  { "pull-retry-max", COVER_CONFIG_KIND_SECONDS,
      G_STRUCT_OFFSET (IngestKeys, pull_retry_max_us), 1,
      G_GUINT64_CONSTANT (3600) * G_USEC_PER_SEC, G_USEC_PER_SEC, "30", NULL,
      FALSE },
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
  GPtrArray *hook_allow; /* GInetAddressMask */
};

static void
stream_free (gpointer data)
{
  cover_config_table_clear (&stream_table, data);
  g_free (data);
}

/* the schemes a pull= URL may have: rtspsrc's and rtmp2src's */
static gboolean
is_pull_url (const gchar *text, const gchar *const *schemes)
{
  g_autoptr (GUri) uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);

  return uri && g_uri_get_host (uri) && *g_uri_get_host (uri) &&
      g_strv_contains (schemes, g_uri_get_scheme (uri));
}

static gboolean
check_url (const gchar *group, const gchar *key, const gchar *text,
    const gchar *const *schemes, GError **error)
{
  g_autofree gchar *list = NULL;

  if (!text || is_pull_url (text, schemes))
    return TRUE;
  list = g_strjoinv ("://, ", (gchar **) schemes);
  /* never the value: it may hold a password */
  g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
      "[%s] %s: not a URL with a host (%s://)", group, key, list);
  return FALSE;
}

static const gchar *const pull_schemes[] = { "rtsp", "rtsps", "rtspt", "rtmp",
  "rtmps", NULL };
static const gchar *const rtmp_schemes[] = { "rtmp", "rtmps", NULL };

/* hook-allow: addresses or address/prefix, separated by commas or blanks */
static gboolean
parse_hook_allow (CoverIngestSettings *settings, GError **error)
{
  g_auto (GStrv) items =
      g_regex_split_simple ("[,\\s]+", settings->ingest.hook_allow, 0, 0);
  guint i;

  for (i = 0; items[i]; i++) {
    GInetAddressMask *mask;

    if (!*items[i])
      continue;
    mask = g_inet_address_mask_new_from_string (items[i], NULL);
    if (!mask) {
      g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
          "[ingest] hook-allow: \"%s\" is not an address or address/prefix",
          items[i]);
      return FALSE;
    }
    g_ptr_array_add (settings->hook_allow, mask);
  }
  return TRUE;
}

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
  return cover_config_table_load (&stream_table, s, file, group, error) &&
      check_url (group, "pull", s->pull, pull_schemes, error);
}

CoverIngestSettings *
cover_ingest_settings_new (GKeyFile *file, GError **error)
{
  CoverIngestSettings *settings = g_new0 (CoverIngestSettings, 1);
  g_auto (GStrv) groups = NULL;
  guint i;

  settings->streams =
      g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, stream_free);
  settings->hook_allow = g_ptr_array_new_with_free_func (g_object_unref);
  cover_config_table_init (&ingest_table, &settings->ingest);
  cover_config_table_init (&stream_table, &settings->defaults);
  if (!file) {
    parse_hook_allow (settings, NULL);
    return settings;
  }

  if (!cover_config_table_load (
          &ingest_table, &settings->ingest, file, "ingest", error) ||
      !cover_config_table_load (
          &stream_table, &settings->defaults, file, "stream.default", error))
    goto failed;
  if (settings->defaults.pull) {
    /* one camera is one client id */
    g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
        "[stream.default] pull: only in [stream.<client_id>]");
    goto failed;
  }
  if (!check_url ("ingest", "rtmp-url", settings->ingest.rtmp_url, rtmp_schemes,
          error) ||
      !parse_hook_allow (settings, error))
    goto failed;
  if (settings->ingest.pull_retry_max_us < settings->ingest.pull_retry_min_us) {
    g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
        "[ingest] pull-retry-max: less than pull-retry-min");
    goto failed;
  }
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

const gchar *
cover_ingest_settings_get_rtmp_url (const CoverIngestSettings *settings)
{
  g_return_val_if_fail (settings != NULL, NULL);

  return settings->ingest.rtmp_url;
}

gboolean
cover_ingest_settings_hook_allowed (
    const CoverIngestSettings *settings, GInetAddress *address)
{
  guint i;

  g_return_val_if_fail (settings != NULL, FALSE);
  g_return_val_if_fail (G_IS_INET_ADDRESS (address), FALSE);

  for (i = 0; i < settings->hook_allow->len; i++) {
    if (g_inet_address_mask_matches (
            g_ptr_array_index (settings->hook_allow, i), address))
      return TRUE;
  }
  return FALSE;
}

void
cover_ingest_settings_get_pull_retry (
    const CoverIngestSettings *settings, gint64 *min_us, gint64 *max_us)
{
  g_return_if_fail (settings != NULL && min_us != NULL && max_us != NULL);

  *min_us = settings->ingest.pull_retry_min_us;
  *max_us = settings->ingest.pull_retry_max_us;
}

void
cover_ingest_settings_foreach_pull (const CoverIngestSettings *settings,
    CoverIngestPullFunc func, gpointer data)
{
  GHashTableIter iter;
  gpointer key, value;

  g_return_if_fail (settings != NULL && func != NULL);

  g_hash_table_iter_init (&iter, settings->streams);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    const CoverStreamSettings *s = value;

    if (s->pull)
      func (GPOINTER_TO_UINT (key), s, data);
  }
}

void
cover_ingest_settings_free (CoverIngestSettings *settings)
{
  if (!settings)
    return;
  g_hash_table_unref (settings->streams);
  g_ptr_array_unref (settings->hook_allow);
  cover_config_table_clear (&ingest_table, &settings->ingest);
  cover_config_table_clear (&stream_table, &settings->defaults);
  g_free (settings);
}

gboolean
cover_stream_settings_is_given (
    const CoverStreamSettings *settings, const gchar *key)
{
  g_return_val_if_fail (settings != NULL && key != NULL, FALSE);

  return cover_config_table_is_given (&stream_table, settings, key);
}
