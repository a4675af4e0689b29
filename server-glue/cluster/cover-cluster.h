/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_CLUSTER_H__
#define __COVER_CLUSTER_H__

#include <glib.h>

#include "cover-cluster-config.h"
#include "cover-registry.h"

G_BEGIN_DECLS

/* This node in the cluster (gst-docs/cluster.md): its registry entries
 * (node → public URL, live client id → node, newest thumbnail → node and
 * time), refreshed every heartbeat and again after each reconnection, and
 * the uploads in the cluster's store.  Thread-safe. */
typedef struct _CoverCluster CoverCluster;

/* @config (transfer full); @thumbnail_dir: [server] thumbnail-dir, read
 * for the newest thumbnail of the streams this node held.  Returns
 * (transfer full). */
CoverCluster *cover_cluster_new (
    CoverClusterConfig *config, const gchar *thumbnail_dir);
/* (transfer none) */
const CoverClusterConfig *cover_cluster_get_config (CoverCluster *cluster);
/* (transfer none) */
CoverRegistry *cover_cluster_get_registry (CoverCluster *cluster);

/* Ingest: claims @client_id for this node when its push is accepted,
 * waiting for the registry at most [cluster] timeout on the calling thread
 * (an RTSP client's).  FALSE: another live node holds it (refuse the
 * push).  Redis down or slow: TRUE (the node serves its pushes alone; the
 * claim is made when the registry is back). */
gboolean cover_cluster_claim_live (CoverCluster *cluster, guint32 client_id);
/* The same without waiting (an RTMP publish's hook, a camera pulled):
 * @func gets the answer on @context, never from inside this call.  Redis
 * down or slow (past [cluster] timeout): TRUE, as above. */
typedef void (*CoverClusterClaimedFunc) (gboolean granted, gpointer user_data);
void cover_cluster_claim_live_async (CoverCluster *cluster, guint32 client_id,
    GMainContext *context, CoverClusterClaimedFunc func, gpointer user_data);
/* A thumbnail of @client_id captured at @capture_time (µs) was saved on
 * this node: the registry's newest thumbnail entry names it, if newer (no
 * wait; any thread). */
void cover_cluster_thumbnail_saved (
    CoverCluster *cluster, guint32 client_id, gint64 capture_time);
/* The push of @client_id ended: the claim goes (only if this node still
 * holds it) and the stream's newest thumbnail is registered. */
void cover_cluster_release_live (CoverCluster *cluster, guint32 client_id);
/* Whether this node holds the claim of @client_id. */
gboolean cover_cluster_holds_live (CoverCluster *cluster, guint32 client_id);

/* Where the registry says a client's covers are: NULL strings for none
 * (or a node that is not live any more). */
typedef struct
{
  gchar *live_node;
  gchar *live_url; /* the node's public URL */
  gchar *thumb_node;
  gchar *thumb_url;
  gint64 thumb_time; /* capture time, µs */
} CoverClusterWhere;

typedef void (*CoverClusterWhereFunc) (
    const CoverClusterWhere *where, const GError *error, gpointer user_data);
/* Calls @func on @context with the answer (or an error). */
void cover_cluster_locate (CoverCluster *cluster, guint32 client_id,
    GMainContext *context, CoverClusterWhereFunc func, gpointer user_data);

/* An upload in the cluster's store. */
typedef struct
{
  GBytes *data; /* NULL when unchanged since @known_etag */
  gchar *etag;  /* strong, with its quotes */
  gint64 time;  /* Unix seconds */
} CoverClusterUpload;

typedef void (*CoverClusterStoredFunc) (const GError *error, gpointer data);
/* Replaces the upload of @client_id (one HSET: atomic) and calls @func on
 * @context once Redis acknowledged it, or with an error. */
void cover_cluster_store_upload (CoverCluster *cluster, guint32 client_id,
    GBytes *image, GMainContext *context, CoverClusterStoredFunc func,
    gpointer user_data);
/* @upload is NULL when there is none. */
typedef void (*CoverClusterUploadFunc) (
    const CoverClusterUpload *upload, const GError *error, gpointer user_data);
/* The upload of @client_id; its data only when its ETag is not
 * @known_etag (may be NULL). */
void cover_cluster_fetch_upload (CoverCluster *cluster, guint32 client_id,
    const gchar *known_etag, GMainContext *context, CoverClusterUploadFunc func,
    gpointer user_data);

/* Releases what this node holds (bounded by [cluster] timeout), then
 * disconnects. */
void cover_cluster_free (CoverCluster *cluster);

G_END_DECLS

#endif /* __COVER_CLUSTER_H__ */
