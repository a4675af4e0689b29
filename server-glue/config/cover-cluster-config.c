/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The [cluster] table, through the one table layer (cover-config-keys.c),
 * then the checks that span keys (ttl above heartbeat) and the parse of the
 * Redis address. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-cluster-config.h"

#include "cover-config-keys.h"
#include "cover-config.h"

#include <string.h>

#define CLUSTER_KEY(name, kind, field, min, max, fallback, required)           \
  {                                                                            \
    name, COVER_CONFIG_KIND_##kind,                                            \
        G_STRUCT_OFFSET (CoverClusterConfig, field), min, max, G_USEC_PER_SEC, \
        fallback, NULL, required                                               \
  }

#define HOUR_US (G_GUINT64_CONSTANT (3600) * G_USEC_PER_SEC)

/* [cluster]: every key, its bounds and its default (gst-docs/
 * configuration.md has a row for each) */
static const CoverConfigKey cluster_keys[] = {
  CLUSTER_KEY ("redis", TEXT, redis, 0, 0, "redis://127.0.0.1:6379/0", FALSE),
  CLUSTER_KEY ("password", TEXT, password, 0, 0, NULL, FALSE),
  CLUSTER_KEY ("node-id", TEXT, node_id, 0, 0, NULL, FALSE),
  CLUSTER_KEY ("public-url", TEXT, public_url, 0, 0, NULL, TRUE),
  CLUSTER_KEY ("heartbeat", SECONDS, heartbeat_us, G_USEC_PER_SEC / 10, HOUR_US,
      "2", FALSE),
  CLUSTER_KEY ("ttl", SECONDS, ttl_us, G_USEC_PER_SEC / 5, HOUR_US, "6", FALSE),
  CLUSTER_KEY ("forward", TEXT, forward, 0, 0, "redirect", FALSE),
  CLUSTER_KEY ("key-prefix", TEXT, key_prefix, 0, 0, "coversnap:", FALSE),
  CLUSTER_KEY ("timeout", SECONDS, timeout_us, G_USEC_PER_SEC / 1000,
      60 * G_USEC_PER_SEC, "0.5", FALSE),
};

static const CoverConfigTable cluster_table = {
  cluster_keys,
  G_N_ELEMENTS (cluster_keys),
  G_STRUCT_OFFSET (CoverClusterConfig, given),
  NULL,
};

static gboolean
invalid (GError **error, const gchar *key, const gchar *value, const gchar *why)
{
  g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
      "[cluster] %s: \"%s\" %s", key, value, why);
  return FALSE;
}

/* redis://[:PASSWORD@]HOST[:PORT][/DB] or /path/to/socket */
static gboolean
parse_redis (CoverClusterConfig *c, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  const gchar *path, *password;
  guint64 db = 0;

  if (g_path_is_absolute (c->redis)) {
    c->socket_path = g_strdup (c->redis);
    return TRUE;
  }
  uri = g_uri_parse (c->redis, G_URI_FLAGS_HAS_PASSWORD, NULL);
  if (!uri || g_strcmp0 (g_uri_get_scheme (uri), "redis") != 0 ||
      !g_uri_get_host (uri) || !*g_uri_get_host (uri))
    return invalid (error, "redis", c->redis,
        "is not redis://[:PASSWORD@]HOST[:PORT][/DB] nor the absolute path "
        "of a unix socket");
  path = g_uri_get_path (uri);
  if (path && *path && !g_str_equal (path, "/") &&
      !g_ascii_string_to_unsigned (path + 1, 10, 0, 1024, &db, NULL))
    return invalid (error, "redis", c->redis,
        "names no database number (0-1024) after the host");
  c->host = g_strdup (g_uri_get_host (uri));
  c->port = g_uri_get_port (uri) > 0 ? (guint) g_uri_get_port (uri) : 6379;
  c->db = db;
  password = g_uri_get_password (uri);
  if (password && *password && !c->password)
    c->password = g_strdup (password);
  return TRUE;
}

static gboolean
check (CoverClusterConfig *c, GError **error)
{
  g_autoptr (GUri) url = NULL;

  if (!c->node_id)
    c->node_id = g_strdup (g_get_host_name ());
  /* it is a part of key names and of a Lua pattern's input */
  for (const gchar *p = c->node_id; *p; p++) {
    if (!g_ascii_isalnum (*p) && !strchr ("-_.", *p))
      return invalid (error, "node-id", c->node_id,
          "may hold only letters, digits, '-', '_' and '.'");
  }
  url = g_uri_parse (c->public_url, G_URI_FLAGS_NONE, NULL);
  if (!url ||
      (g_strcmp0 (g_uri_get_scheme (url), "http") != 0 &&
          g_strcmp0 (g_uri_get_scheme (url), "https") != 0) ||
      !g_uri_get_host (url) || g_uri_get_query (url))
    return invalid (error, "public-url", c->public_url,
        "is not an http:// or https:// base URL without a query");
  if (g_str_has_suffix (c->public_url, "/"))
    c->public_url[strlen (c->public_url) - 1] = '\0';
  if (g_str_equal (c->forward, "proxy"))
    c->proxy = TRUE;
  else if (!g_str_equal (c->forward, "redirect"))
    return invalid (
        error, "forward", c->forward, "is neither redirect nor proxy");
  if (c->ttl_us <= c->heartbeat_us) {
    g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
        "[cluster] ttl: must be longer than heartbeat (the owner refreshes "
        "its keys every heartbeat)");
    return FALSE;
  }
  return parse_redis (c, error);
}

CoverClusterConfig *
cover_config_cluster_load (GKeyFile *file, GError **error)
{
  g_autoptr (CoverClusterConfig) c = NULL;

  g_return_val_if_fail (file != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!g_key_file_has_group (file, "cluster"))
    return NULL;
  c = g_new0 (CoverClusterConfig, 1);
  cover_config_table_init (&cluster_table, c);
  if (!cover_config_table_load (&cluster_table, c, file, "cluster", error) ||
      !check (c, error))
    return NULL;
  return g_steal_pointer (&c);
}

void
cover_config_cluster_free (CoverClusterConfig *c)
{
  if (!c)
    return;
  cover_config_table_clear (&cluster_table, c);
  g_free (c->host);
  g_free (c->socket_path);
  g_free (c);
}
