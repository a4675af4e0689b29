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

#include "cover-config.h"
#include "cover-config-keys.h"
#include "coverstore.h"

#include <string.h>

G_DEFINE_QUARK (cover-config-error-quark, cover_config_error);

#define SERVER_KEY(name, kind, field, min, max, fallback)                      \
  {                                                                            \
    name, COVER_CONFIG_KIND_##kind, G_STRUCT_OFFSET (CoverConfig, field), min, \
        max, G_USEC_PER_SEC, fallback, NULL, FALSE                             \
  }

/* [server]: every key, its bounds and its default (gst-docs/configuration.md
 * has a row for each) */
static const CoverConfigKey server_keys[] = {
  SERVER_KEY ("listen-address", ADDRESS, listen_address, 0, 0, "0.0.0.0"),
  SERVER_KEY ("port", UINT, port, 0, 65535, "8080"),
  SERVER_KEY ("http-threads", UINT, threads, 1, 64, "1"),
  SERVER_KEY ("data-dir", PATH, data_dir, 0, 0, "/var/lib/coversnap"),
  { "upload-dir", COVER_CONFIG_KIND_PATH,
      G_STRUCT_OFFSET (CoverConfig, upload_dir), 0, 0, 0, "uploads", "data-dir",
      FALSE },
  { "thumbnail-dir", COVER_CONFIG_KIND_PATH,
      G_STRUCT_OFFSET (CoverConfig, thumbnail_dir), 0, 0, 0, "thumbnails",
      "data-dir", FALSE },
  /* default: cover_store_default_dir(), set by cover_config_new() */
  SERVER_KEY ("store-dir", PATH, store_dir, 0, 0, NULL),
  SERVER_KEY ("live-timeout", SECONDS, live_timeout_us, 1,
      G_GUINT64_CONSTANT (86400) * G_USEC_PER_SEC, "10"),
  SERVER_KEY ("max-upload-size", SIZE, max_upload_size, 1,
      COVER_CONFIG_MAX_UPLOAD_SIZE, "2097152"),
  SERVER_KEY ("require-view-permission", BOOLEAN, require_view_permission, 0, 1,
      "false"),
  SERVER_KEY ("max-resize", UINT, max_resize, 16, 3840, "1920"),
  SERVER_KEY ("resize-queue", UINT, resize_queue, 1, 4096, "32"),
  SERVER_KEY (
      "resize-cache-entries", UINT, resize_cache_entries, 0, 1 << 20, "256"),
  SERVER_KEY ("max-connections", UINT, max_connections, 1, 1 << 20, "512"),
  SERVER_KEY ("listen-backlog", UINT, listen_backlog, 1, 65535, "1024"),
  SERVER_KEY ("idle-timeout", SECONDS, idle_timeout_us, G_USEC_PER_SEC,
      G_GUINT64_CONSTANT (86400) * G_USEC_PER_SEC, "30"),
  SERVER_KEY ("header-timeout", SECONDS, header_timeout_us, 1,
      G_GUINT64_CONSTANT (86400) * G_USEC_PER_SEC, "10"),
  SERVER_KEY ("body-timeout", SECONDS, body_timeout_us, 1,
      G_GUINT64_CONSTANT (86400) * G_USEC_PER_SEC, "60"),
  SERVER_KEY ("shutdown-timeout", SECONDS, shutdown_timeout_us,
      G_USEC_PER_SEC / 10, G_GUINT64_CONSTANT (3600) * G_USEC_PER_SEC, "5"),
};

static const CoverConfigTable server_table = {
  server_keys,
  G_N_ELEMENTS (server_keys),
  G_STRUCT_OFFSET (CoverConfig, given),
  NULL,
};

/* [app.NAME] */
typedef struct
{
  gchar *key;
  gchar *cids;
  guint64 given;
} AppKeys;

static const CoverConfigKey app_keys[] = {
  { "key", COVER_CONFIG_KIND_TEXT, G_STRUCT_OFFSET (AppKeys, key), 0, 0, 0,
      NULL, NULL, TRUE },
  { "cids", COVER_CONFIG_KIND_TEXT, G_STRUCT_OFFSET (AppKeys, cids), 0, 0, 0,
      NULL, NULL, TRUE },
};

static const CoverConfigTable app_table = {
  app_keys,
  G_N_ELEMENTS (app_keys),
  G_STRUCT_OFFSET (AppKeys, given),
  " (an application has key and cids)",
};

void
cover_config_free (CoverConfig *c)
{
  if (!c)
    return;
  cover_config_table_clear (&server_table, c);
  cover_app_table_free (c->apps);
  g_free (c);
}

CoverConfig *
cover_config_new (void)
{
  CoverConfig *c = g_new0 (CoverConfig, 1);

  cover_config_table_init (&server_table, c);
  /* the directory covertap and coversnap-cat use without options, which
   * depends on the user and the session: no text default fits */
  c->store_dir = cover_store_default_dir ();
  c->apps = cover_app_table_new ();
  return c;
}

gboolean
cover_config_set (
    CoverConfig *c, const gchar *key, const gchar *value, GError **error)
{
  g_return_val_if_fail (c != NULL, FALSE);

  return cover_config_table_set (&server_table, c, "server", key, value, error);
}

gboolean
cover_config_is_given (const CoverConfig *c, const gchar *key)
{
  g_return_val_if_fail (c != NULL, FALSE);

  return cover_config_table_is_given (&server_table, c, key);
}

static gboolean
load_app (CoverConfig *c, GKeyFile *file, const gchar *group, GError **error)
{
  const gchar *name = group + strlen ("app.");
  AppKeys app = { 0 };
  GError *err = NULL;
  gboolean ok = FALSE;

  if (!*name) {
    g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
        "[%s]: an application needs a name, as in [app.myapp]", group);
    return FALSE;
  }
  if (!cover_config_table_load (&app_table, &app, file, group, error))
    goto out;
  if (!cover_app_table_add (c->apps, name, app.key, app.cids, &err)) {
    g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
        "[%s] cids: %s", group, err->message);
    g_error_free (err);
    goto out;
  }
  ok = TRUE;
out:
  cover_config_table_clear (&app_table, &app);
  return ok;
}

gboolean
cover_config_load_key_file (CoverConfig *c, GKeyFile *file, GError **error)
{
  g_auto (GStrv) groups = NULL;
  guint i;

  g_return_val_if_fail (c != NULL && file != NULL, FALSE);

  groups = g_key_file_get_groups (file, NULL);
  for (i = 0; groups[i]; i++) {
    if (g_str_equal (groups[i], "server")) {
      if (!cover_config_table_load (&server_table, c, file, "server", error))
        return FALSE;
    } else if (g_str_has_prefix (groups[i], "app.")) {
      if (!load_app (c, file, groups[i], error))
        return FALSE;
    }
  }
  return TRUE;
}

gboolean
cover_config_load_file (CoverConfig *c, const gchar *path, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  GError *err = NULL;

  g_return_val_if_fail (c != NULL && path != NULL, FALSE);

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &err)) {
    g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
        "%s: %s", path, err->message);
    g_error_free (err);
    return FALSE;
  }
  if (!cover_config_load_key_file (c, file, &err)) {
    g_set_error (error, err->domain, err->code, "%s: %s", path, err->message);
    g_error_free (err);
    return FALSE;
  }
  return TRUE;
}
