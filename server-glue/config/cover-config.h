/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_CONFIG_H__
#define __COVER_CONFIG_H__

#include <glib.h>

#include "cover-token.h"

G_BEGIN_DECLS

#define COVER_CONFIG_ERROR (cover_config_error_quark ())
GQuark cover_config_error_quark (void);

typedef enum
{
  COVER_CONFIG_ERROR_INVALID, /* a bad value; the message names the key */
  COVER_CONFIG_ERROR_UNKNOWN_KEY,
} CoverConfigError;

/* The largest upload the upload source reads back: the bound of [server]
 * max-upload-size. */
#define COVER_CONFIG_MAX_UPLOAD_SIZE (32 * 1024 * 1024)

/* The cover service's settings: [server] and [app.NAME] of a GKeyFile (see
 * gst-docs/configuration.md), or filled in from code.  Other groups
 * ([stream.*], ...) belong to the media server and are ignored here. */
typedef struct
{
  gchar *listen_address; /* [server] listen-address */
  guint port;            /* [server] port; 0: any free port */
  guint threads;         /* [server] http-threads */
  gchar *data_dir;       /* [server] data-dir */
  gchar *upload_dir;     /* [server] upload-dir, default data-dir/uploads */
  gchar
      *thumbnail_dir; /* [server] thumbnail-dir, default data-dir/thumbnails */
  gchar *store_dir;   /* [server] store-dir */
  gint64 live_timeout_us;           /* [server] live-timeout, seconds */
  gsize max_upload_size;            /* [server] max-upload-size, bytes */
  gboolean require_view_permission; /* [server] require-view-permission */
  guint max_resize; /* [server] max-resize: largest width/height asked */
  guint resize_cache_entries; /* [server] resize-cache-entries */
  guint resize_queue;         /* [server] resize-queue: resizes pending */
  guint max_connections;      /* [server] max-connections */
  guint listen_backlog;       /* [server] listen-backlog */
  gint64 idle_timeout_us;     /* [server] idle-timeout: socket inactivity */
  gint64 header_timeout_us;   /* [server] header-timeout */
  gint64 body_timeout_us;     /* [server] body-timeout */
  gint64 shutdown_timeout_us; /* [server] shutdown-timeout: streams' EOS */
  CoverAppTable *apps;        /* [app.NAME] key, cids */

  /* private: which [server] keys were given (bit per row of the table) */
  guint64 given;
} CoverConfig;

/* Every [server] key at its default, no application (transfer full). */
CoverConfig *cover_config_new (void);
gboolean cover_config_load_key_file (
    CoverConfig *config, GKeyFile *file, GError **error);
gboolean cover_config_load_file (
    CoverConfig *config, const gchar *path, GError **error);
/* Sets one [server] key from text, as the key file would (command-line
 * overrides use this). */
gboolean cover_config_set (
    CoverConfig *config, const gchar *key, const gchar *value, GError **error);
/* Whether [server] @key was given (by a file or cover_config_set()), rather
 * than left at its default. */
gboolean cover_config_is_given (const CoverConfig *config, const gchar *key);
void cover_config_free (CoverConfig *config);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CoverConfig, cover_config_free);

G_END_DECLS

#endif /* __COVER_CONFIG_H__ */
