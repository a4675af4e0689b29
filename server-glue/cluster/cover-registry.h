/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_REGISTRY_H__
#define __COVER_REGISTRY_H__

#include <glib.h>

#include "cover-cluster-config.h"

G_BEGIN_DECLS

#define COVER_REGISTRY_ERROR (cover_registry_error_quark ())
GQuark cover_registry_error_quark (void);

typedef enum
{
  COVER_REGISTRY_ERROR_DOWN,    /* not connected (reconnecting) */
  COVER_REGISTRY_ERROR_TIMEOUT, /* no reply within [cluster] timeout */
  COVER_REGISTRY_ERROR_REPLY,   /* Redis answered an error */
  COVER_REGISTRY_ERROR_TOO_BIG, /* a reply over the bound */
} CoverRegistryError;

/* A Redis reply, copied out of hiredis: immutable, so it may be read on
 * any thread. */
typedef enum
{
  COVER_REGISTRY_NIL,
  COVER_REGISTRY_INTEGER,
  COVER_REGISTRY_STRING, /* a bulk string or a status ("OK") */
  COVER_REGISTRY_ARRAY,
} CoverRegistryReplyType;

typedef struct _CoverRegistryReply CoverRegistryReply;
struct _CoverRegistryReply
{
  CoverRegistryReplyType type;
  gint64 integer;
  GBytes *string;               /* STRING */
  CoverRegistryReply **element; /* ARRAY */
  guint n_elements;
};

/* The string of @reply (or of its element @index when @index >= 0) as a
 * NUL-terminated copy, NULL when it is not a string (transfer full). */
gchar *cover_registry_reply_dup_string (
    const CoverRegistryReply *reply, gint index);

/* The answer to one command: @reply (transfer none) or @error.  Called
 * once, on the context given with the command. */
typedef void (*CoverRegistryFunc) (
    const CoverRegistryReply *reply, const GError *error, gpointer user_data);

/* One connection to Redis, on a thread of its own with its own main
 * context (hiredis' GLib adapter), so that no caller's main context ever
 * waits for Redis: commands are queued from any thread and answered on the
 * caller's context.  Connect and command timeouts ([cluster] timeout);
 * when the connection is lost it is made again with backoff and jitter,
 * and the connected function runs again (re-register there). */
typedef struct _CoverRegistry CoverRegistry;

/* Called on the registry's thread after each (re)connection, once AUTH and
 * SELECT were sent. */
typedef void (*CoverRegistryConnectedFunc) (
    CoverRegistry *registry, gpointer user_data);

/* @config is not taken and must outlive the registry.  Returns (transfer
 * full). */
CoverRegistry *cover_registry_new (const CoverClusterConfig *config,
    CoverRegistryConnectedFunc connected, gpointer user_data);
/* Starts the thread, which connects. */
void cover_registry_start (CoverRegistry *registry);
/* The registry thread's context (for timers on it; transfer none). */
GMainContext *cover_registry_get_context (CoverRegistry *registry);
gboolean cover_registry_is_connected (CoverRegistry *registry);

/* Sends the command @argv (@argc strings, binary-safe with @argvlen, or
 * NUL-terminated when @argvlen is NULL; copied) and calls @func on
 * @context (NULL: the registry's own thread).  Any thread. */
void cover_registry_command (CoverRegistry *registry, GMainContext *context,
    CoverRegistryFunc func, gpointer user_data, guint argc,
    const gchar *const *argv, const gsize *argvlen);
/* The same, waiting for the reply on the calling thread at most the
 * [cluster] timeout (never call it on the registry's thread).  Returns the
 * reply (transfer full: cover_registry_reply_free()), or NULL with
 * @error. */
CoverRegistryReply *cover_registry_command_sync (CoverRegistry *registry,
    guint argc, const gchar *const *argv, const gsize *argvlen, GError **error);
void cover_registry_reply_free (CoverRegistryReply *reply);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CoverRegistryReply, cover_registry_reply_free);

/* Prometheus text: registry errors, reconnections, the round-trip
 * histogram and its median. */
void cover_registry_write_metrics (CoverRegistry *registry, GString *out);
/* The median of the last round trips, in µs (0: none yet). */
gint64 cover_registry_get_median_us (CoverRegistry *registry);

/* Stops the thread; commands not answered yet get COVER_REGISTRY_ERROR_DOWN
 * (on their contexts, if those still run). */
void cover_registry_free (CoverRegistry *registry);

G_END_DECLS

#endif /* __COVER_REGISTRY_H__ */
