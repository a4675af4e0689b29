/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_SERVICE_H__
#define __COVER_SERVICE_H__

#include <libsoup/soup.h>

#include "cover-config.h"
#include "cover-source.h"

G_BEGIN_DECLS

#define COVER_SERVICE_ERROR (cover_service_error_quark ())
GQuark cover_service_error_quark (void);

typedef enum
{
  COVER_SERVICE_ERROR_LISTEN,
} CoverServiceError;

/* The device-snapshot Web API:
 *   GET|HEAD /v2/snapshots/{client_id}/cover[?width=&height=]
 *   POST     /v2/devices/{client_id}/snapshots   (multipart, field "file")
 *   GET      /healthz, /metrics
 * Thread-safe: one service may serve several SoupServers, each on its own
 * main context (that is how cover_service_listen() spreads connections).
 * The caller calls gst_init() first: resized covers are scaled with
 * GStreamer's video converter. */
typedef struct _CoverService CoverService;

/* @config (transfer full).  Returns (transfer full). */
CoverService *cover_service_new (CoverConfig *config, GError **error);
/* (transfer none) */
const CoverConfig *cover_service_get_config (CoverService *service);

/* Adds the handlers to a server the caller runs (e.g. a media server's);
 * requests are handled on that server's main context. */
void cover_service_attach (CoverService *service, SoupServer *server);

/* Or: listen on [server] listen-address:port with [server] http-threads
 * threads, each with its own main context and SoupServer on a shared
 * SO_REUSEPORT socket.  Returns once all listen.  Once at a time: call
 * cover_service_stop() before listening again. */
gboolean cover_service_listen (CoverService *service, GError **error);
/* The port listened on, 0 when not listening. */
guint16 cover_service_get_port (CoverService *service);
void cover_service_stop (CoverService *service);

/* Puts @source (transfer full) at @position in the fallback chain (-1:
 * last).  The default chain is live, record, upload. */
void cover_service_insert_source (
    CoverService *service, CoverSource *source, gint position);

/* Extension points for the libraries around the service (the ingest's
 * RTMP hooks, the cluster registry).  Call them before
 * cover_service_attach() / cover_service_listen(): the servers get the
 * handlers when they are attached.  @user_data must outlive the service. */

/* Serves @path (a prefix, as soup_server_add_handler()) on every server
 * the service is attached to, on that server's main context. */
void cover_service_add_handler (CoverService *service, const gchar *path,
    SoupServerCallback callback, gpointer user_data);
/* The same as soup_server_add_early_handler(): called once the headers
 * are read, before the body, so that a handler can refuse a request (or
 * bound its body) before it is buffered. */
void cover_service_add_early_handler (CoverService *service, const gchar *path,
    SoupServerCallback callback, gpointer user_data);

/* Appends Prometheus text (HELP/TYPE lines and samples) to @out on each
 * /metrics scrape; called on any HTTP thread, so it locks for itself. */
typedef void (*CoverServiceMetricsFunc) (GString *out, gpointer user_data);
void cover_service_add_metrics (
    CoverService *service, CoverServiceMetricsFunc func, gpointer user_data);

/* A part of /healthz: returns FALSE when the part is unhealthy (the
 * answer is then 503) and appends one line "NAME: state\n" to @out;
 * called on any HTTP thread. */
typedef gboolean (*CoverServiceHealthFunc) (GString *out, gpointer user_data);
void cover_service_add_health (
    CoverService *service, CoverServiceHealthFunc func, gpointer user_data);

/* Where uploads go instead of the durable local file (the cluster's
 * store): @store is called on the main context of the request with the
 * checked image (transfer none: ref it to keep it) and calls @stored once,
 * on @context, never from inside the call: without an error the upload
 * is answered 200, with one 503 "unavailable" (the previous cover stays).
 * The upload source of the chain should then read the same store. */
typedef void (*CoverUploadStoredFunc) (const GError *error, gpointer data);
typedef void (*CoverUploadStoreFunc) (gpointer user_data, guint32 client_id,
    GBytes *image, GMainContext *context, CoverUploadStoredFunc stored,
    gpointer stored_data);
void cover_service_set_upload_store (
    CoverService *service, CoverUploadStoreFunc store, gpointer user_data);
/* Puts @source (transfer full) in the place of the chain's source named
 * @name (e.g. "upload" when the uploads live elsewhere), or last when there
 * is none by that name. */
void cover_service_replace_source (
    CoverService *service, const gchar *name, CoverSource *source);

void cover_service_free (CoverService *service);

G_END_DECLS

#endif /* __COVER_SERVICE_H__ */
