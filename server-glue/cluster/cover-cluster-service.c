/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The cluster behind the HTTP service's one source interface.  The chain
 * becomes: live (this node's store) → cluster (the registry: another node's
 * live stream, else another node's newest thumbnail: 302 or proxied) →
 * record (this node's thumbnails) → cluster-upload (the cluster's store).
 * A request that carries the forwarded marker is never forwarded again:
 * the node it was sent to answers with what it has (no loops while a
 * stream moves between nodes). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-cluster-service.h"

#include <libsoup/soup.h>
#include <string.h>

#include "cover-config.h"

/* a proxied cover is read up to this */
#define MAX_PROXIED_BYTES COVER_CONFIG_MAX_UPLOAD_SIZE
#define PROXY_CHUNK (64 * 1024)
/* the uploads read last, per node; beyond it the table starts again */
#define MAX_CACHED_UPLOADS 1024

struct _CoverClusterService
{
  CoverCluster *cluster;
  const CoverClusterConfig *config;
  gint64 proxy_timeout_us;

  GMutex lock;
  /* GMainContext → SoupSession: a session is used on the context it was
   * made on only (libsoup 3) */
  GHashTable *sessions;
  GHashTable *uploads; /* cid → CoverPicture */

  gint outage;            /* the registry's outage was logged; atomic */
  guint64 redirects;      /* atomic */
  guint64 proxied;        /* atomic */
  guint64 proxy_failures; /* atomic */
};

/* Whether @bytes open as a JPEG or a PNG (what the other nodes and the
 * store hand out: anything else is not served) */
static gboolean
is_image (GBytes *bytes)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  return size >= 8 &&
      ((data[0] == 0xff && data[1] == 0xd8) ||
          memcmp (data, "\x89PNG\r\n\x1a\n", 8) == 0);
}

/* The forwarded marker */

static gboolean
is_forwarded (const gchar *path_and_query)
{
  const gchar *q = strchr (path_and_query, '?');
  g_auto (GStrv) params = NULL;

  if (!q)
    return FALSE;
  params = g_strsplit (q + 1, "&", 64);
  for (guint i = 0; params[i]; i++)
    if (g_str_equal (params[i], COVER_CLUSTER_FORWARDED_PARAM "=1"))
      return TRUE;
  return FALSE;
}

/* @base + the path and query + the marker; without width/height when
 * @full_size (a proxied cover is resized here, as a local one) */
static gchar *
forwarded_url (
    const gchar *base, const gchar *path_and_query, gboolean full_size)
{
  const gchar *q = strchr (path_and_query, '?');
  GString *url = g_string_new (base);
  g_auto (GStrv) params = NULL;

  g_string_append_len (url, path_and_query,
      q ? (gssize) (q - path_and_query) : (gssize) strlen (path_and_query));
  g_string_append_c (url, '?');
  if (q) {
    params = g_strsplit (q + 1, "&", 64);
    for (guint i = 0; params[i]; i++) {
      if (!*params[i] ||
          (full_size &&
              (g_str_has_prefix (params[i], "width=") ||
                  g_str_has_prefix (params[i], "height="))))
        continue;
      g_string_append (url, params[i]);
      g_string_append_c (url, '&');
    }
  }
  g_string_append (url, COVER_CLUSTER_FORWARDED_PARAM "=1");
  return g_string_free (url, FALSE);
}

/* One asynchronous lookup */

typedef struct
{
  CoverClusterService *cs;
  guint32 cid;
  gchar *path_and_query;
  gchar *token_header;
  GMainContext *context;
  CoverSourceReplyFunc reply;
  gpointer reply_data;
  /* a proxied fetch */
  SoupMessage *msg;
  GInputStream *stream;
  GByteArray *body;
  GCancellable *cancellable;
  GSource *timer;
} Ask;

static Ask *
ask_new (CoverClusterService *cs, const CoverSourceQuery *q,
    CoverSourceReplyFunc reply, gpointer reply_data)
{
  Ask *a = g_new0 (Ask, 1);

  a->cs = cs;
  a->cid = q->client_id;
  a->path_and_query = g_strdup (q->path_and_query);
  a->token_header = g_strdup (q->token_header);
  a->context = g_main_context_ref (q->context);
  a->reply = reply;
  a->reply_data = reply_data;
  return a;
}

/* Replies (transfer full of @pic) and frees @a. */
static void
ask_finish (
    Ask *a, CoverPicture *pic, const gchar *location, const GError *error)
{
  a->reply (pic, location, error, a->reply_data);
  if (a->timer) {
    g_source_destroy (a->timer);
    g_source_unref (a->timer);
  }
  g_clear_object (&a->msg);
  g_clear_object (&a->stream);
  g_clear_object (&a->cancellable);
  if (a->body)
    g_byte_array_unref (a->body);
  g_main_context_unref (a->context);
  g_free (a->path_and_query);
  g_free (a->token_header);
  g_free (a);
}

static gboolean
ask_nothing (gpointer data)
{
  ask_finish (data, NULL, NULL, NULL);
  return G_SOURCE_REMOVE;
}

/* "nothing here", later: never from inside the lookup call */
static void
ask_nothing_later (Ask *a)
{
  GSource *idle = g_idle_source_new ();

  g_source_set_callback (idle, ask_nothing, a, NULL);
  g_source_attach (idle, a->context);
  g_source_unref (idle);
}

/* Proxy */

static SoupSession *
session_for_context (CoverClusterService *cs, GMainContext *context)
{
  SoupSession *session;

  g_mutex_lock (&cs->lock);
  session = g_hash_table_lookup (cs->sessions, context);
  if (!session) {
    /* made here, on @context: that is where it runs */
    session = soup_session_new_with_options ("timeout",
        (guint) MAX (1, cs->proxy_timeout_us / G_USEC_PER_SEC), "user-agent",
        "coversnapd-cluster", NULL);
    g_hash_table_insert (cs->sessions, g_main_context_ref (context), session);
  }
  g_mutex_unlock (&cs->lock);
  return session;
}

static void
proxy_failed (Ask *a, const gchar *why)
{
  __atomic_fetch_add (&a->cs->proxy_failures, 1, __ATOMIC_RELAXED);
  g_warning (
      "cover of client %u: the owner could not be fetched: %s", a->cid, why);
  /* as if nobody held it: the rest of the chain answers */
  ask_finish (a, NULL, NULL, NULL);
}

static CoverSourceKind
kind_from_header (const gchar *text)
{
  if (g_strcmp0 (text, "record") == 0)
    return COVER_SOURCE_RECORD;
  if (g_strcmp0 (text, "upload") == 0)
    return COVER_SOURCE_UPLOAD;
  return COVER_SOURCE_LIVE;
}

static void
proxy_done (Ask *a)
{
  SoupMessageHeaders *h = soup_message_get_response_headers (a->msg);
  const gchar *etag = soup_message_headers_get_one (h, "ETag");
  const gchar *modified = soup_message_headers_get_one (h, "Last-Modified");
  g_autoptr (GDateTime) dt =
      modified ? soup_date_time_new_from_http_string (modified) : NULL;
  g_autoptr (GBytes) bytes = g_byte_array_free_to_bytes (a->body);
  g_autofree gchar *own_etag = NULL;

  a->body = NULL;
  if (!is_image (bytes)) {
    proxy_failed (a, "the owner's answer is not a JPEG or PNG image");
    return;
  }
  if (!etag || etag[0] != '"')
    etag = own_etag =
        g_strdup_printf ("\"P%08x\"", g_str_hash (a->path_and_query));
  __atomic_fetch_add (&a->cs->proxied, 1, __ATOMIC_RELAXED);
  ask_finish (a,
      cover_picture_new (bytes, etag,
          dt ? g_date_time_to_unix (dt) : g_get_real_time () / G_USEC_PER_SEC,
          kind_from_header (
              soup_message_headers_get_one (h, "X-Cover-Source"))),
      NULL, NULL);
}

static void
on_proxy_read (GObject *stream, GAsyncResult *res, gpointer data)
{
  Ask *a = data;
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) chunk =
      g_input_stream_read_bytes_finish (G_INPUT_STREAM (stream), res, &err);

  if (!chunk) {
    proxy_failed (a, err->message);
    return;
  }
  if (g_bytes_get_size (chunk) == 0) {
    proxy_done (a);
    return;
  }
  if (a->body->len + g_bytes_get_size (chunk) > MAX_PROXIED_BYTES) {
    proxy_failed (a, "the owner's answer is too big");
    return;
  }
  g_byte_array_append (
      a->body, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
  g_input_stream_read_bytes_async (a->stream, PROXY_CHUNK, G_PRIORITY_DEFAULT,
      a->cancellable, on_proxy_read, a);
}

static void
on_proxy_sent (GObject *session, GAsyncResult *res, gpointer data)
{
  Ask *a = data;
  g_autoptr (GError) err = NULL;
  guint status;
  goffset length;

  a->stream = soup_session_send_finish (SOUP_SESSION (session), res, &err);
  if (!a->stream) {
    proxy_failed (a, err->message);
    return;
  }
  status = soup_message_get_status (a->msg);
  if (status == SOUP_STATUS_NOT_FOUND) {
    /* the owner has nothing any more (the stream just ended) */
    ask_finish (a, NULL, NULL, NULL);
    return;
  }
  if (status != SOUP_STATUS_OK) {
    g_autofree gchar *why = g_strdup_printf ("HTTP %u", status);

    proxy_failed (a, why);
    return;
  }
  length = soup_message_headers_get_content_length (
      soup_message_get_response_headers (a->msg));
  if (length > MAX_PROXIED_BYTES) {
    proxy_failed (a, "the owner's answer is too big");
    return;
  }
  a->body = g_byte_array_sized_new (length > 0 ? length : PROXY_CHUNK);
  g_input_stream_read_bytes_async (a->stream, PROXY_CHUNK, G_PRIORITY_DEFAULT,
      a->cancellable, on_proxy_read, a);
}

static gboolean
on_proxy_timeout (gpointer data)
{
  Ask *a = data;

  /* the pending operation fails with G_IO_ERROR_CANCELLED */
  g_cancellable_cancel (a->cancellable);
  g_clear_pointer (&a->timer, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
proxy_start (Ask *a, const gchar *url)
{
  SoupSession *session = session_for_context (a->cs, a->context);

  a->msg = soup_message_new (SOUP_METHOD_GET, url);
  if (!a->msg) {
    proxy_failed (a, "the owner's public URL is not a URL");
    return;
  }
  if (a->token_header)
    soup_message_headers_replace (soup_message_get_request_headers (a->msg),
        "X-Client-Token", a->token_header);
  a->cancellable = g_cancellable_new ();
  a->timer = g_timeout_source_new (MAX (1, a->cs->proxy_timeout_us / 1000));
  g_source_set_callback (a->timer, on_proxy_timeout, a, NULL);
  g_source_attach (a->timer, a->context);
  soup_session_send_async (
      session, a->msg, G_PRIORITY_DEFAULT, a->cancellable, on_proxy_sent, a);
}

/* The cluster source */

static void
on_where (const CoverClusterWhere *w, const GError *error, gpointer data)
{
  Ask *a = data;
  const gchar *self = a->cs->config->node_id;
  const gchar *target = NULL;
  g_autofree gchar *url = NULL;

  /* Redis down or slow: this node answers with what it has (counted in
   * the registry's errors) */
  if (w && w->live_node) {
    if (!g_str_equal (w->live_node, self))
      target = w->live_url;
  } else if (w && w->thumb_node && !g_str_equal (w->thumb_node, self)) {
    target = w->thumb_url;
  }
  if (!target) {
    ask_finish (a, NULL, NULL, NULL);
    return;
  }
  url = forwarded_url (target, a->path_and_query, a->cs->config->proxy);
  if (a->cs->config->proxy) {
    proxy_start (a, url);
    return;
  }
  __atomic_fetch_add (&a->cs->redirects, 1, __ATOMIC_RELAXED);
  ask_finish (a, NULL, url, NULL);
}

static void
cluster_lookup (gpointer user_data, const CoverSourceQuery *q,
    CoverSourceReplyFunc reply, gpointer reply_data)
{
  CoverClusterService *cs = user_data;
  Ask *a = ask_new (cs, q, reply, reply_data);

  if (is_forwarded (q->path_and_query)) {
    ask_nothing_later (a);
    return;
  }
  cover_cluster_locate (cs->cluster, q->client_id, q->context, on_where, a);
}

/* The cluster's uploads */

/* The registry cannot be asked (down, or no reply in time): the request
 * is answered 503 unavailable (COVER_SOURCE_ERROR_UNAVAILABLE), logged once
 * until the registry answers again, not once per request (transfer full) */
static GError *
registry_unavailable (CoverClusterService *cs, const GError *error)
{
  if (g_atomic_int_compare_and_exchange (&cs->outage, 0, 1))
    g_warning ("cluster: the registry cannot be asked (%s): covers that are "
               "not on this node are answered 503 until it is back",
        error->message);
  return g_error_new (COVER_SOURCE_ERROR, COVER_SOURCE_ERROR_UNAVAILABLE,
      "the registry cannot be asked: %s", error->message);
}

static void
on_upload (const CoverClusterUpload *u, const GError *error, gpointer data)
{
  Ask *a = data;
  CoverClusterService *cs = a->cs;
  CoverPicture *pic = NULL;
  g_autoptr (GError) unavailable = NULL;

  if (g_error_matches (
          error, COVER_REGISTRY_ERROR, COVER_REGISTRY_ERROR_DOWN) ||
      g_error_matches (
          error, COVER_REGISTRY_ERROR, COVER_REGISTRY_ERROR_TIMEOUT)) {
    unavailable = registry_unavailable (cs, error);
    error = unavailable;
  } else if (!error && g_atomic_int_compare_and_exchange (&cs->outage, 1, 0)) {
    g_message ("cluster: the registry answers again");
  }

  g_mutex_lock (&cs->lock);
  if (error || !u) {
    g_hash_table_remove (cs->uploads, GUINT_TO_POINTER (a->cid));
  } else if (!u->data) {
    /* unchanged since it was read (its ETag) */
    pic = g_hash_table_lookup (cs->uploads, GUINT_TO_POINTER (a->cid));
    if (pic)
      cover_picture_ref (pic);
  } else {
    if (is_image (u->data)) {
      pic = cover_picture_new (u->data, u->etag, u->time, COVER_SOURCE_UPLOAD);
      if (g_hash_table_size (cs->uploads) >= MAX_CACHED_UPLOADS)
        g_hash_table_remove_all (cs->uploads);
      g_hash_table_insert (
          cs->uploads, GUINT_TO_POINTER (a->cid), cover_picture_ref (pic));
    }
  }
  g_mutex_unlock (&cs->lock);
  ask_finish (a, pic, NULL, error);
}

static void
upload_lookup (gpointer user_data, const CoverSourceQuery *q,
    CoverSourceReplyFunc reply, gpointer reply_data)
{
  CoverClusterService *cs = user_data;
  Ask *a = ask_new (cs, q, reply, reply_data);
  g_autofree gchar *etag = NULL;
  CoverPicture *known;

  /* only the ETag comes back when the upload did not change */
  g_mutex_lock (&cs->lock);
  known = g_hash_table_lookup (cs->uploads, GUINT_TO_POINTER (q->client_id));
  if (known)
    etag = g_strdup (cover_picture_get_etag (known));
  g_mutex_unlock (&cs->lock);
  cover_cluster_fetch_upload (
      cs->cluster, q->client_id, etag, q->context, on_upload, a);
}

static void
store_upload (gpointer user_data, guint32 client_id, GBytes *image,
    GMainContext *context, CoverUploadStoredFunc stored, gpointer stored_data)
{
  CoverClusterService *cs = user_data;

  cover_cluster_store_upload (
      cs->cluster, client_id, image, context, stored, stored_data);
}

/* /metrics, /healthz */

static void
write_metrics (GString *out, gpointer data)
{
  CoverClusterService *cs = data;

  g_string_append_printf (out,
      "# HELP coversnap_cluster_redirects_total Cover requests answered "
      "with a 302 to the node that holds the cover.\n"
      "# TYPE coversnap_cluster_redirects_total counter\n"
      "coversnap_cluster_redirects_total %" G_GUINT64_FORMAT "\n"
      "# HELP coversnap_cluster_proxied_total Cover requests answered with "
      "the cover fetched from the node that holds it.\n"
      "# TYPE coversnap_cluster_proxied_total counter\n"
      "coversnap_cluster_proxied_total %" G_GUINT64_FORMAT "\n"
      "# HELP coversnap_cluster_proxy_failures_total Fetches from another "
      "node that failed (the rest of the chain answered).\n"
      "# TYPE coversnap_cluster_proxy_failures_total counter\n"
      "coversnap_cluster_proxy_failures_total %" G_GUINT64_FORMAT "\n",
      __atomic_load_n (&cs->redirects, __ATOMIC_RELAXED),
      __atomic_load_n (&cs->proxied, __ATOMIC_RELAXED),
      __atomic_load_n (&cs->proxy_failures, __ATOMIC_RELAXED));
  cover_registry_write_metrics (cover_cluster_get_registry (cs->cluster), out);
}

static gboolean
write_health (GString *out, gpointer data)
{
  CoverClusterService *cs = data;
  gboolean up =
      cover_registry_is_connected (cover_cluster_get_registry (cs->cluster));

  g_string_append_printf (out, "cluster: node %s, registry %s\n",
      cs->config->node_id, up ? "reachable" : "unreachable");
  return up;
}

CoverClusterService *
cover_cluster_service_attach (CoverCluster *cluster, CoverService *service)
{
  CoverClusterService *cs;

  g_return_val_if_fail (cluster != NULL, NULL);
  g_return_val_if_fail (service != NULL, NULL);

  cs = g_new0 (CoverClusterService, 1);
  cs->cluster = cluster;
  cs->config = cover_cluster_get_config (cluster);
  cs->proxy_timeout_us = MAX (G_USEC_PER_SEC, 4 * cs->config->timeout_us);
  g_mutex_init (&cs->lock);
  cs->sessions = g_hash_table_new_full (
      NULL, NULL, (GDestroyNotify) g_main_context_unref, g_object_unref);
  cs->uploads = g_hash_table_new_full (
      NULL, NULL, NULL, (GDestroyNotify) cover_picture_unref);
  /* after the live source: a live cover here always wins */
  cover_service_insert_source (
      service, cover_source_new_async ("cluster", cluster_lookup, cs, NULL), 1);
  cover_service_replace_source (service, "upload",
      cover_source_new_async ("cluster-upload", upload_lookup, cs, NULL));
  cover_service_set_upload_store (service, store_upload, cs);
  cover_service_add_metrics (service, write_metrics, cs);
  cover_service_add_health (service, write_health, cs);
  return cs;
}

void
cover_cluster_service_free (CoverClusterService *cs)
{
  if (!cs)
    return;
  g_hash_table_unref (cs->sessions);
  g_hash_table_unref (cs->uploads);
  g_mutex_clear (&cs->lock);
  g_free (cs);
}
