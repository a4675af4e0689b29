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
/* a source's store that cannot be reached (COVER_SOURCE_ERROR_UNAVAILABLE):
 * its reconnection is tried within seconds */
#define UNAVAILABLE_RETRY_AFTER "5"

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

/* One GET cover walking the fallback chain.  Synchronous sources answer
 * at once; at an asynchronous one (the cluster's) the message is paused
 * and the walk goes on in its reply, on the same main context. */
typedef struct
{
  CoverRequest req;
  guint32 client_id;
  guint width, height;
  guint next;    /* the next source to ask */
  GError *error; /* the last source failure */
  gchar *path_and_query;
  GMainContext *context;
  gulong finished_id;
  gboolean finished; /* the client went away: answer nobody */
} CoverLookup;

static void
lookup_free (CoverLookup *l)
{
  if (l->finished_id)
    g_signal_handler_disconnect (l->req.msg, l->finished_id);
  g_object_unref (l->req.msg);
  g_clear_error (&l->error);
  g_free (l->path_and_query);
  g_main_context_unref (l->context);
  g_free (l);
}

static void
lookup_failed (CoverLookup *l, CoverSource *src, const GError *err)
{
  /* logged by the source, once per outage */
  if (!g_error_matches (
          err, COVER_SOURCE_ERROR, COVER_SOURCE_ERROR_UNAVAILABLE))
    g_warning ("%s cover of client %u: %s", cover_source_get_name (src),
        l->client_id, err->message);
  g_clear_error (&l->error);
  l->error = g_error_copy (err);
}

static void
lookup_answer (CoverLookup *l, CoverPicture *pic, const gchar *location)
{
  CoverService *s = l->req.service;

  if (location) {
    g_autoptr (JsonBuilder) b = json_builder_new ();

    soup_message_headers_replace (
        soup_server_message_get_response_headers (l->req.msg), "Location",
        location);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "request_id");
    json_builder_add_string_value (b, l->req.request_id);
    json_builder_set_member_name (b, "location");
    json_builder_add_string_value (b, location);
    json_builder_end_object (b);
    cover_request_respond_json (&l->req, SOUP_STATUS_FOUND, b);
  } else if (!pic &&
      g_error_matches (
          l->error, COVER_SOURCE_ERROR, COVER_SOURCE_ERROR_UNAVAILABLE)) {
    soup_message_headers_replace (
        soup_server_message_get_response_headers (l->req.msg), "Retry-After",
        UNAVAILABLE_RETRY_AFTER);
    cover_request_respond_error (&l->req, SOUP_STATUS_SERVICE_UNAVAILABLE,
        "unavailable",
        "The cover of client %u is not on this node and the cluster cannot "
        "be asked now; try again later.",
        l->client_id);
  } else if (!pic && l->error) {
    cover_request_respond_error (&l->req, SOUP_STATUS_INTERNAL_SERVER_ERROR,
        "internal", "The cover of client %u could not be read.", l->client_id);
  } else if (!pic) {
    cover_request_respond_error (&l->req, SOUP_STATUS_NOT_FOUND, "no_cover",
        "Client %u has no cover: not streaming, no recording thumbnail, no "
        "uploaded cover.",
        l->client_id);
  } else if (l->width || l->height) {
    cover_resize_cache_respond (
        s->resize_cache, &l->req, pic, l->width, l->height);
  } else {
    cover_request_respond_picture (&l->req, pic);
  }
}

static void lookup_reply (CoverPicture *pic, const gchar *location,
    const GError *error, gpointer data);

static void
on_lookup_finished (SoupServerMessage *msg, CoverLookup *l)
{
  l->finished = TRUE;
}

/* Asks the synchronous sources from l->next on, up to the first
 * asynchronous one.  Returns the picture found (transfer full), or NULL:
 * l->next is then the asynchronous source, or past the end. */
static CoverPicture *
lookup_sync (CoverLookup *l)
{
  CoverService *s = l->req.service;

  while (l->next < s->sources->len) {
    CoverSource *src = g_ptr_array_index (s->sources, l->next);
    CoverPicture *pic;
    GError *err = NULL;

    if (cover_source_is_async (src))
      return NULL;
    l->next++;
    pic = cover_source_lookup (src, l->client_id, &err);
    if (err) {
      lookup_failed (l, src, err);
      g_error_free (err);
    }
    if (pic)
      return pic;
  }
  return NULL;
}

/* Asks the sources from l->next on; frees @l once answered. */
static void
lookup_walk (CoverLookup *l)
{
  CoverService *s = l->req.service;
  CoverPicture *pic = lookup_sync (l);
  CoverSource *src;

  if (pic || l->next >= s->sources->len) {
    lookup_answer (l, pic, NULL);
    g_clear_pointer (&pic, cover_picture_unref);
    lookup_free (l);
    return;
  }
  src = g_ptr_array_index (s->sources, l->next++);
  {
    CoverSourceQuery q = { l->client_id, l->path_and_query,
      soup_message_headers_get_one (
          soup_server_message_get_request_headers (l->req.msg),
          "X-Client-Token"),
      l->context };

    if (!l->finished_id)
      l->finished_id = g_signal_connect (
          l->req.msg, "finished", G_CALLBACK (on_lookup_finished), l);
    soup_server_message_pause (l->req.msg);
    cover_source_lookup_async (src, &q, lookup_reply, l);
  }
}

static void
lookup_reply (CoverPicture *pic, const gchar *location, const GError *error,
    gpointer data)
{
  CoverLookup *l = data;
  CoverSource *src = g_ptr_array_index (l->req.service->sources, l->next - 1);

  if (l->finished) {
    g_clear_pointer (&pic, cover_picture_unref);
    lookup_free (l);
    return;
  }
  soup_server_message_unpause (l->req.msg);
  if (error)
    lookup_failed (l, src, error);
  if (pic || location) {
    lookup_answer (l, pic, location);
    g_clear_pointer (&pic, cover_picture_unref);
    lookup_free (l);
    return;
  }
  lookup_walk (l);
}

static void
handle_cover (SoupServer *server, SoupServerMessage *msg, const char *path,
    GHashTable *query, gpointer user_data)
{
  CoverService *s = user_data;
  g_autoptr (GHashTable) params = NULL;
  guint32 client_id;
  guint width, height;
  CoverRequest req;
  CoverLookup here = { 0 }, *l;
  CoverPicture *pic;
  GUri *uri;

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

  /* on the stack while only synchronous sources are asked (a node alone,
   * a live cover here) */
  here.req = req;
  here.client_id = client_id;
  here.width = width;
  here.height = height;
  pic = lookup_sync (&here);
  if (pic || here.next >= s->sources->len) {
    lookup_answer (&here, pic, NULL);
    g_clear_pointer (&pic, cover_picture_unref);
    g_clear_error (&here.error);
    return;
  }
  /* kept until an asynchronous source (the cluster's) replies */
  l = g_new (CoverLookup, 1);
  *l = here;
  g_object_ref (msg);
  uri = soup_server_message_get_uri (msg);
  l->path_and_query = g_uri_get_query (uri)
      ? g_strconcat (g_uri_get_path (uri), "?", g_uri_get_query (uri), NULL)
      : g_strdup (g_uri_get_path (uri));
  l->context = g_main_context_ref_thread_default ();
  lookup_walk (l);
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

/* An extension's path: its responses carry an X-Request-ID like every
 * other (the callback reads it from the response headers) and count in
 * the requests metric as "other". */
static void
handle_extension (SoupServer *server, SoupServerMessage *msg, const char *path,
    GHashTable *query, gpointer user_data)
{
  CoverServiceHandler *h = user_data;
  CoverRequest req;

  cover_request_init (&req, h->service, msg, COVER_ENDPOINT_OTHER);
  h->callback (server, msg, path, query, h->user_data);
  cover_request_count (&req, soup_server_message_get_status (msg));
}

/* The same before the body: an answer made there (a refusal) is counted
 * now; a request it lets through gets its id again from the normal
 * handler. */
static void
handle_extension_early (SoupServer *server, SoupServerMessage *msg,
    const char *path, GHashTable *query, gpointer user_data)
{
  CoverServiceHandler *h = user_data;
  CoverRequest req;

  cover_request_init (&req, h->service, msg, COVER_ENDPOINT_OTHER);
  h->callback (server, msg, path, query, h->user_data);
  if (soup_server_message_get_status (msg) != 0)
    cover_request_count (&req, soup_server_message_get_status (msg));
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
    CoverServiceHandler *h = g_ptr_array_index (s->handlers, i);

    if (h->early)
      soup_server_add_early_handler (
          server, h->path, handle_extension_early, h, NULL);
    else
      soup_server_add_handler (server, h->path, handle_extension, h, NULL);
  }
  soup_server_add_handler (server, NULL, handle_other, s, NULL);
}

static void
add_extension (CoverService *s, const gchar *path, SoupServerCallback callback,
    gpointer user_data, gboolean early)
{
  CoverServiceHandler *h;

  g_return_if_fail (s != NULL);
  g_return_if_fail (path != NULL && path[0] == '/');
  g_return_if_fail (callback != NULL);

  h = g_new (CoverServiceHandler, 1);
  h->service = s;
  h->path = g_strdup (path);
  h->callback = callback;
  h->user_data = user_data;
  h->early = early;
  g_ptr_array_add (s->handlers, h);
}

void
cover_service_add_handler (CoverService *s, const gchar *path,
    SoupServerCallback callback, gpointer user_data)
{
  add_extension (s, path, callback, user_data, FALSE);
}

void
cover_service_add_early_handler (CoverService *s, const gchar *path,
    SoupServerCallback callback, gpointer user_data)
{
  add_extension (s, path, callback, user_data, TRUE);
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

void
cover_service_set_upload_store (
    CoverService *s, CoverUploadStoreFunc store, gpointer user_data)
{
  g_return_if_fail (s != NULL);

  s->upload_store = store;
  s->upload_store_data = user_data;
}

static void
free_handler (gpointer data)
{
  CoverServiceHandler *h = data;

  g_free (h->path);
  g_free (h);
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
  s->handlers = g_ptr_array_new_with_free_func (free_handler);
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
cover_service_replace_source (
    CoverService *s, const gchar *name, CoverSource *source)
{
  g_return_if_fail (s != NULL);
  g_return_if_fail (name != NULL);
  g_return_if_fail (source != NULL);

  for (guint i = 0; i < s->sources->len; i++) {
    if (g_str_equal (
            cover_source_get_name (g_ptr_array_index (s->sources, i)), name)) {
      /* frees the source it replaces */
      g_ptr_array_remove_index (s->sources, i);
      g_ptr_array_insert (s->sources, i, source);
      return;
    }
  }
  g_ptr_array_add (s->sources, source);
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
  g_ptr_array_unref (s->handlers);
  g_array_unref (s->metrics_funcs);
  g_array_unref (s->health_funcs);
  cover_config_free (s->config);
  g_free (s);
}
