/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The cover service and its router: one handler per path, the fallback
 * chain of sources behind GET cover, /healthz and /metrics.  Every request
 * is answered on the main context of the server that received it; what
 * could block runs as a CoverWork (cover-work.c).  The parts (metrics, resize
 * cache, sources) lock for themselves, so any number of servers on any
 * number of threads can share one service.  The caller has called
 * gst_init(): resizing uses GStreamer's video converter. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-service.h"

#include "cover-file-source.h"
#include "cover-work.h"
#include "cover-live-source.h"
#include "cover-request.h"
#include "cover-service-private.h"
#include "cover-source-private.h"
#include "cover-upload.h"

#include <string.h>

G_DEFINE_QUARK (cover-service-error-quark, cover_service_error);

#define WORKERS 2

/* GET cover */

/* Sets *@out from the parameter @name (1..@max), 0 when it is absent;
 * FALSE when it is there but bad. */
static gboolean
parse_dimension (GHashTable *params, const gchar *name, guint max, guint *out)
{
  const gchar *text = params ? g_hash_table_lookup (params, name) : NULL;
  guint64 v = 0;

  *out = 0;
  if (text && !g_ascii_string_to_unsigned (text, 10, 1, max, &v, NULL))
    return FALSE;
  *out = v;
  return TRUE;
}

/* The first picture of the fallback chain (transfer full); NULL when none
 * has one, with @error set when a source failed. */
static CoverPicture *
lookup_picture (CoverService *s, guint32 client_id, GError **error)
{
  CoverPicture *pic = NULL;
  guint i;

  for (i = 0; i < s->sources->len && !pic; i++) {
    CoverSource *src = g_ptr_array_index (s->sources, i);
    GError *err = NULL;

    pic = cover_source_lookup (src, client_id, &err);
    if (err) {
      g_warning ("%s cover of client %u: %s", cover_source_get_name (src),
          client_id, err->message);
      g_clear_error (error);
      g_propagate_error (error, err);
    }
  }
  if (pic)
    g_clear_error (error);
  return pic;
}

static void
handle_cover (SoupServer *server, SoupServerMessage *msg, const char *path,
    GHashTable *query, gpointer user_data)
{
  CoverService *s = user_data;
  g_autoptr (GHashTable) params = NULL;
  g_autoptr (CoverPicture) pic = NULL;
  g_autoptr (GError) err = NULL;
  guint32 client_id;
  guint width, height;
  CoverRequest req;

  cover_request_init (&req, s, msg, COVER_ENDPOINT_COVER);
  if (!cover_request_begin_device (
          &req, path, "/v2/snapshots/", "/cover", "GET, HEAD", &client_id))
    return;
  params = cover_request_query_params (&req);
  if (!parse_dimension (params, "width", s->config->max_resize, &width) ||
      !parse_dimension (params, "height", s->config->max_resize, &height)) {
    cover_request_respond_error (&req, SOUP_STATUS_BAD_REQUEST, "bad_size",
        "width and height must be whole numbers from 1 to %u.",
        s->config->max_resize);
    return;
  }
  if (!cover_request_authorize (&req, params, client_id,
          s->config->require_view_permission
              ? COVER_TOKEN_CONTROL_VIEW_SNAPSHOTS
              : 0))
    return;

  pic = lookup_picture (s, client_id, &err);
  if (!pic && err) {
    cover_request_respond_error (&req, SOUP_STATUS_INTERNAL_SERVER_ERROR,
        "internal", "The cover of client %u could not be read.", client_id);
    return;
  }
  if (!pic) {
    cover_request_respond_error (&req, SOUP_STATUS_NOT_FOUND, "no_cover",
        "Client %u has no cover: not streaming, no recording thumbnail, no "
        "uploaded cover.",
        client_id);
    return;
  }
  if (width || height)
    cover_resize_cache_respond (s->resize_cache, &req, pic, width, height);
  else
    cover_request_respond_picture (&req, pic);
}

/* /healthz, /metrics, anything else */

/* The path handlers match by prefix: "/healthz" also gets "/healthzz".
 * Returns FALSE when it answered the request. */
static gboolean
begin_plain (CoverRequest *req, const gchar *path, const gchar *want)
{
  const gchar *method = soup_server_message_get_method (req->msg);

  /* (HTTP/1.0 without Host: the query is still in the path) */
  if (strlen (want) != strcspn (path, "?") ||
      strncmp (path, want, strlen (want)) != 0) {
    cover_request_respond_not_found (req);
    return FALSE;
  }
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    cover_request_respond_method_not_allowed (req, "GET, HEAD");
    return FALSE;
  }
  return TRUE;
}

static void
handle_health (SoupServer *server, SoupServerMessage *msg, const char *path,
    GHashTable *query, gpointer user_data)
{
  CoverService *s = user_data;
  CoverRequest req;
  GString *out;
  gboolean healthy = TRUE;
  guint status;
  gsize len;

  cover_request_init (&req, s, msg, COVER_ENDPOINT_HEALTH);
  if (!begin_plain (&req, path, "/healthz"))
    return;
  out = g_string_new (NULL);
  for (guint i = 0; i < s->health_funcs->len; i++) {
    CoverServiceHook *h = &g_array_index (s->health_funcs, CoverServiceHook, i);

    if (!((CoverServiceHealthFunc) h->func) (out, h->user_data))
      healthy = FALSE;
  }
  g_string_prepend (out, healthy ? "ok\n" : "unhealthy\n");
  status = healthy ? SOUP_STATUS_OK : SOUP_STATUS_SERVICE_UNAVAILABLE;
  len = out->len;
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (
      msg, "text/plain", SOUP_MEMORY_TAKE, g_string_free (out, FALSE), len);
  cover_request_count (&req, status);
}

static void
handle_metrics (SoupServer *server, SoupServerMessage *msg, const char *path,
    GHashTable *query, gpointer user_data)
{
  CoverService *s = user_data;
  CoverRequest req;
  GString *out;
  gsize len;

  cover_request_init (&req, s, msg, COVER_ENDPOINT_METRICS);
  if (!begin_plain (&req, path, "/metrics"))
    return;
  /* counted before rendering, so that the scrape shows in itself */
  cover_request_count (&req, SOUP_STATUS_OK);
  out = cover_metrics_render (s->metrics);
  for (guint i = 0; i < s->metrics_funcs->len; i++) {
    CoverServiceHook *h =
        &g_array_index (s->metrics_funcs, CoverServiceHook, i);

    ((CoverServiceMetricsFunc) h->func) (out, h->user_data);
  }
  len = out->len;
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain; version=0.0.4",
      SOUP_MEMORY_TAKE, g_string_free (out, FALSE), len);
}

static void
handle_other (SoupServer *server, SoupServerMessage *msg, const char *path,
    GHashTable *query, gpointer user_data)
{
  CoverRequest req;

  cover_request_init (&req, user_data, msg, COVER_ENDPOINT_OTHER);
  cover_request_respond_not_found (&req);
}

void
cover_service_attach (CoverService *s, SoupServer *server)
{
  g_return_if_fail (s != NULL);
  g_return_if_fail (SOUP_IS_SERVER (server));

  soup_server_add_handler (server, "/v2/snapshots/", handle_cover, s, NULL);
  /* libsoup keeps one entry per path for the early and the normal handler */
  soup_server_add_early_handler (
      server, "/v2/devices/", cover_upload_early_handler, s, NULL);
  soup_server_add_handler (
      server, "/v2/devices/", cover_upload_handler, s, NULL);
  soup_server_add_handler (server, "/healthz", handle_health, s, NULL);
  soup_server_add_handler (server, "/metrics", handle_metrics, s, NULL);
  for (guint i = 0; i < s->handlers->len; i++) {
    CoverServiceHandler *h =
        &g_array_index (s->handlers, CoverServiceHandler, i);

    soup_server_add_handler (server, h->path, h->callback, h->user_data, NULL);
  }
  soup_server_add_handler (server, NULL, handle_other, s, NULL);
}

void
cover_service_add_handler (CoverService *s, const gchar *path,
    SoupServerCallback callback, gpointer user_data)
{
  CoverServiceHandler h = { g_strdup (path), callback, user_data };

  g_return_if_fail (s != NULL);
  g_return_if_fail (path != NULL && path[0] == '/');
  g_return_if_fail (callback != NULL);

  g_array_append_val (s->handlers, h);
}

void
cover_service_add_metrics (
    CoverService *s, CoverServiceMetricsFunc func, gpointer user_data)
{
  CoverServiceHook h = { (GCallback) func, user_data };

  g_return_if_fail (s != NULL);
  g_return_if_fail (func != NULL);

  g_array_append_val (s->metrics_funcs, h);
}

void
cover_service_add_health (
    CoverService *s, CoverServiceHealthFunc func, gpointer user_data)
{
  CoverServiceHook h = { (GCallback) func, user_data };

  g_return_if_fail (s != NULL);
  g_return_if_fail (func != NULL);

  g_array_append_val (s->health_funcs, h);
}

static void
clear_handler (gpointer data)
{
  g_free (((CoverServiceHandler *) data)->path);
}

/* Listening */

static void
attach_to (gpointer service, SoupServer *server)
{
  cover_service_attach (service, server);
}

gboolean
cover_service_listen (CoverService *s, GError **error)
{
  g_return_val_if_fail (s != NULL, FALSE);
  g_return_val_if_fail (s->listener == NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  s->listener = cover_listener_start (s->config, attach_to, s,
      s->config->listen_address, s->config->port, s->config->threads, error);
  return s->listener != NULL;
}

guint16
cover_service_get_port (CoverService *s)
{
  g_return_val_if_fail (s != NULL, 0);

  return cover_listener_get_port (s->listener);
}

void
cover_service_stop (CoverService *s)
{
  g_return_if_fail (s != NULL);

  g_clear_pointer (&s->listener, cover_listener_stop);
}

/* Life */

CoverService *
cover_service_new (CoverConfig *config, GError **error)
{
  CoverService *s;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  s = g_new0 (CoverService, 1);
  s->config = config;
  s->sources =
      g_ptr_array_new_with_free_func ((GDestroyNotify) cover_source_free);
  g_ptr_array_add (s->sources,
      cover_live_source_new (config->store_dir, config->live_timeout_us));
  g_ptr_array_add (s->sources, cover_record_source_new (config->thumbnail_dir));
  g_ptr_array_add (s->sources, cover_upload_source_new (config->upload_dir));
  cover_upload_sweep (config->upload_dir, config->thumbnail_dir);
  s->resize_cache = cover_resize_cache_new (config->resize_cache_entries);
  s->metrics = cover_metrics_new ();
  s->handlers = g_array_new (FALSE, FALSE, sizeof (CoverServiceHandler));
  g_array_set_clear_func (s->handlers, clear_handler);
  s->metrics_funcs = g_array_new (FALSE, FALSE, sizeof (CoverServiceHook));
  s->health_funcs = g_array_new (FALSE, FALSE, sizeof (CoverServiceHook));
  s->workers = cover_work_pool_new (WORKERS, error);
  if (!s->workers) {
    cover_service_free (s);
    return NULL;
  }
  return s;
}

const CoverConfig *
cover_service_get_config (CoverService *s)
{
  g_return_val_if_fail (s != NULL, NULL);

  return s->config;
}

void
cover_service_insert_source (
    CoverService *s, CoverSource *source, gint position)
{
  g_return_if_fail (s != NULL);
  g_return_if_fail (source != NULL);

  g_ptr_array_insert (s->sources, position, source);
}

void
cover_service_free (CoverService *s)
{
  if (!s)
    return;
  cover_service_stop (s);
  /* finishes queued work first: the jobs use the rest */
  if (s->workers)
    g_thread_pool_free (s->workers, FALSE, TRUE);
  g_ptr_array_unref (s->sources);
  cover_resize_cache_free (s->resize_cache);
  cover_metrics_free (s->metrics);
  g_array_unref (s->handlers);
  g_array_unref (s->metrics_funcs);
  g_array_unref (s->health_funcs);
  cover_config_free (s->config);
  g_free (s);
}
