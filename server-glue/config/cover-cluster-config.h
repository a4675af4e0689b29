/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_CLUSTER_CONFIG_H__
#define __COVER_CLUSTER_CONFIG_H__

#include <glib.h>

G_BEGIN_DECLS

/* The [cluster] group (gst-docs/configuration.md, gst-docs/cluster.md):
 * several coversnapd nodes sharing one Redis registry.  Without the group
 * a node is alone, as before. */
typedef struct
{
  gchar *redis;        /* [cluster] redis: redis://[:PASSWORD@]HOST[:PORT][/DB]
                        * or the absolute path of a unix socket */
  gchar *password;     /* [cluster] password (or in the URL), or NULL */
  gchar *node_id;      /* [cluster] node-id, default: the host name */
  gchar *public_url;   /* [cluster] public-url, e.g. http://10.0.0.2:8080 */
  gint64 heartbeat_us; /* [cluster] heartbeat */
  gint64 ttl_us;       /* [cluster] ttl */
  gchar *forward;      /* [cluster] forward: redirect or proxy */
  gchar *key_prefix;   /* [cluster] key-prefix */
  gint64 timeout_us;   /* [cluster] timeout: a registry round trip */

  /* parsed from redis */
  gchar *host; /* or NULL with a unix socket */
  guint port;
  gchar *socket_path; /* or NULL */
  guint db;
  gboolean proxy; /* forward = proxy */

  /* private: which keys were given */
  guint64 given;
} CoverClusterConfig;

/* [cluster] of @file (not taken), checked: NULL without an error when the
 * file has no [cluster] group; NULL with a COVER_CONFIG_ERROR naming the
 * key when a value is bad (transfer full). */
CoverClusterConfig *cover_config_cluster_load (GKeyFile *file, GError **error);
void cover_config_cluster_free (CoverClusterConfig *config);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CoverClusterConfig, cover_config_cluster_free);

G_END_DECLS

#endif /* __COVER_CLUSTER_CONFIG_H__ */
