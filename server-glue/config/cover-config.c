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

#include <gio/gio.h>
#include <string.h>

G_DEFINE_QUARK (cover-config-error-quark, cover_config_error);

#define DEFAULT_LISTEN_ADDRESS "0.0.0.0"
#define DEFAULT_PORT 8080
#define DEFAULT_THREADS 1
#define DEFAULT_DATA_DIR "/var/lib/coversnap"
#define DEFAULT_LIVE_TIMEOUT 10.0
#define DEFAULT_MAX_UPLOAD_SIZE (2 * 1024 * 1024)
#define DEFAULT_MAX_RESIZE 1920
#define DEFAULT_RESIZE_CACHE_ENTRIES 256

CoverConfig *
cover_config_new (void)
{
  CoverConfig *c = g_new0 (CoverConfig, 1);

  c->listen_address = g_strdup (DEFAULT_LISTEN_ADDRESS);
  c->port = DEFAULT_PORT;
  c->threads = DEFAULT_THREADS;
  c->data_dir = g_strdup (DEFAULT_DATA_DIR);
  c->upload_dir = g_build_filename (c->data_dir, "uploads", NULL);
  c->thumbnail_dir = g_build_filename (c->data_dir, "thumbnails", NULL);
  c->store_dir = g_strdup (COVERSNAP_DEFAULT_STORE_DIR);
  c->live_timeout_us = DEFAULT_LIVE_TIMEOUT * G_USEC_PER_SEC;
  c->max_upload_size = DEFAULT_MAX_UPLOAD_SIZE;
  c->max_resize = DEFAULT_MAX_RESIZE;
  c->resize_cache_entries = DEFAULT_RESIZE_CACHE_ENTRIES;
  c->apps = cover_app_table_new ();
  return c;
}

void
cover_config_free (CoverConfig *c)
{
  if (!c)
    return;
  g_free (c->listen_address);
  g_free (c->data_dir);
  g_free (c->upload_dir);
  g_free (c->thumbnail_dir);
  g_free (c->store_dir);
  cover_app_table_free (c->apps);
  g_free (c);
}

static gboolean
invalid (
    GError **error, const gchar *key, const gchar *value, const gchar *expected)
{
  g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
      "[server] %s: \"%s\" is not %s", key, value, expected);
  return FALSE;
}

static gboolean
parse_uint (const gchar *key, const gchar *value, guint64 min, guint64 max,
    guint64 *out, GError **error)
{
  if (!g_ascii_string_to_unsigned (value, 10, min, max, out, NULL)) {
    g_autofree gchar *expected = g_strdup_printf (
        "an integer from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT, min,
        max);
    return invalid (error, key, value, expected);
  }
  return TRUE;
}

static gboolean
parse_path (const gchar *key, const gchar *value, gchar **out, GError **error)
{
  if (!g_path_is_absolute (value))
    return invalid (error, key, value, "an absolute path");
  g_free (*out);
  *out = g_canonicalize_filename (value, NULL);
  return TRUE;
}

gboolean
cover_config_set (
    CoverConfig *c, const gchar *key, const gchar *value, GError **error)
{
  guint64 v;

  if (g_str_equal (key, "listen-address")) {
    g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (value);

    if (!addr)
      return invalid (error, key, value, "an IPv4 or IPv6 address");
    g_free (c->listen_address);
    c->listen_address = g_strdup (value);
  } else if (g_str_equal (key, "port")) {
    if (!parse_uint (key, value, 0, 65535, &v, error))
      return FALSE;
    c->port = v;
  } else if (g_str_equal (key, "http-threads")) {
    if (!parse_uint (key, value, 1, 64, &v, error))
      return FALSE;
    c->threads = v;
  } else if (g_str_equal (key, "data-dir")) {
    if (!parse_path (key, value, &c->data_dir, error))
      return FALSE;
    if (!c->upload_dir_set) {
      g_free (c->upload_dir);
      c->upload_dir = g_build_filename (c->data_dir, "uploads", NULL);
    }
    if (!c->thumbnail_dir_set) {
      g_free (c->thumbnail_dir);
      c->thumbnail_dir = g_build_filename (c->data_dir, "thumbnails", NULL);
    }
  } else if (g_str_equal (key, "upload-dir")) {
    if (!parse_path (key, value, &c->upload_dir, error))
      return FALSE;
    c->upload_dir_set = TRUE;
  } else if (g_str_equal (key, "thumbnail-dir")) {
    if (!parse_path (key, value, &c->thumbnail_dir, error))
      return FALSE;
    c->thumbnail_dir_set = TRUE;
  } else if (g_str_equal (key, "store-dir")) {
    if (!parse_path (key, value, &c->store_dir, error))
      return FALSE;
  } else if (g_str_equal (key, "live-timeout")) {
    gchar *end = NULL;
    gdouble d = g_ascii_strtod (value, &end);

    if (!*value || *end || !(d > 0 && d <= 86400))
      return invalid (error, key, value,
          "a number of seconds (0 < s <= "
          "86400)");
    c->live_timeout_us = d * G_USEC_PER_SEC;
  } else if (g_str_equal (key, "max-upload-size")) {
    if (!parse_uint (key, value, 1, 256 * 1024 * 1024, &v, error))
      return FALSE;
    c->max_upload_size = v;
  } else if (g_str_equal (key, "require-view-permission")) {
    if (g_str_equal (value, "true"))
      c->require_view_permission = TRUE;
    else if (g_str_equal (value, "false"))
      c->require_view_permission = FALSE;
    else
      return invalid (error, key, value, "true or false");
  } else if (g_str_equal (key, "max-resize")) {
    if (!parse_uint (key, value, 16, 8192, &v, error))
      return FALSE;
    c->max_resize = v;
  } else if (g_str_equal (key, "resize-cache-entries")) {
    if (!parse_uint (key, value, 0, 1 << 20, &v, error))
      return FALSE;
    c->resize_cache_entries = v;
  } else {
    g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_UNKNOWN_KEY,
        "[server] %s: unknown key", key);
    return FALSE;
  }
  return TRUE;
}

static gboolean
load_app (CoverConfig *c, GKeyFile *file, const gchar *group, GError **error)
{
  const gchar *name = group + strlen ("app.");
  g_auto (GStrv) keys = g_key_file_get_keys (file, group, NULL, NULL);
  g_autofree gchar *key = NULL;
  g_autofree gchar *cids = NULL;
  GError *err = NULL;
  guint i;

  if (!*name) {
    g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
        "[%s]: an application needs a name, as in [app.myapp]", group);
    return FALSE;
  }
  for (i = 0; keys && keys[i]; i++) {
    if (!g_str_equal (keys[i], "key") && !g_str_equal (keys[i], "cids")) {
      g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_UNKNOWN_KEY,
          "[%s] %s: unknown key (an application has key and cids)", group,
          keys[i]);
      return FALSE;
    }
  }
  key = g_key_file_get_value (file, group, "key", NULL);
  cids = g_key_file_get_value (file, group, "cids", NULL);
  if (!key || !*key) {
    g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
        "[%s] key: missing or empty", group);
    return FALSE;
  }
  if (!cids || !*cids) {
    g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
        "[%s] cids: missing or empty", group);
    return FALSE;
  }
  if (!cover_app_table_add (c->apps, name, key, cids, &err)) {
    g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
        "[%s] cids: %s", group, err->message);
    g_error_free (err);
    return FALSE;
  }
  return TRUE;
}

gboolean
cover_config_load_key_file (CoverConfig *c, GKeyFile *file, GError **error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (file, NULL);
  guint i, j;

  for (i = 0; groups[i]; i++) {
    if (g_str_equal (groups[i], "server")) {
      g_auto (GStrv) keys = g_key_file_get_keys (file, "server", NULL, NULL);

      for (j = 0; keys && keys[j]; j++) {
        g_autofree gchar *value =
            g_key_file_get_value (file, "server", keys[j], NULL);

        if (!cover_config_set (c, keys[j], g_strstrip (value), error))
          return FALSE;
      }
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
