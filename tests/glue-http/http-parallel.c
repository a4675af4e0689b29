/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Threads of the HTTP tests: a SoupServer the test runs itself (its own
 * thread and main context) with the service attached, and parallel clients
 * against a live cover that a writer thread republishes as fast as it can. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "http-util.h"

#include "coverstore.h"

/* A server of our own */

static gpointer
own_server_thread (gpointer data)
{
  HtOwnServer *o = data;
  g_autoptr (GError) err = NULL;
  SoupServer *server;
  GSList *uris;

  g_main_context_push_thread_default (o->context);
  server = soup_server_new (NULL, NULL);
  cover_service_attach (o->service, server);
  soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &err);
  g_assert_no_error (err);
  uris = soup_server_get_uris (server);
  g_assert_nonnull (uris);

  g_mutex_lock (&o->lock);
  o->port = g_uri_get_port (uris->data);
  o->ready = TRUE;
  g_cond_signal (&o->cond);
  g_mutex_unlock (&o->lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_main_loop_run (o->loop);

  soup_server_disconnect (server);
  g_object_unref (server);
  g_main_context_pop_thread_default (o->context);
  return NULL;
}

HtOwnServer *
ht_own_server_start (CoverService *service)
{
  HtOwnServer *o = g_new0 (HtOwnServer, 1);
  gint64 deadline = g_get_monotonic_time () + HT_TIMEOUT_S * G_USEC_PER_SEC;

  o->service = service;
  o->context = g_main_context_new ();
  o->loop = g_main_loop_new (o->context, FALSE);
  g_mutex_init (&o->lock);
  g_cond_init (&o->cond);
  o->thread = g_thread_new ("own-server", own_server_thread, o);

  g_mutex_lock (&o->lock);
  while (!o->ready)
    g_assert_true (g_cond_wait_until (&o->cond, &o->lock, deadline));
  g_mutex_unlock (&o->lock);
  g_assert_cmpuint (o->port, >, 0);
  return o;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
ht_own_server_stop (HtOwnServer *o)
{
  g_main_context_invoke (o->context, quit_loop, o->loop);
  g_thread_join (o->thread);
  g_main_loop_unref (o->loop);
  g_main_context_unref (o->context);
  g_mutex_clear (&o->lock);
  g_cond_clear (&o->cond);
  g_free (o);
}

/* Parallel GETs */

#define N_IMAGES 4
#define N_CLIENTS 8
#define N_RESIZERS 2
#define MAX_REQUESTS 400
#define MAX_RESIZES 60
#define CLIENT_SECONDS 2

typedef struct
{
  HtSvc *svc;
  guint32 cid;
  GBytes *images[N_IMAGES];
  gint stop_writer;
  guint64 published;
  guint publish_errors;

  GMutex lock;
  GHashTable *etags; /* ETag → body, over all clients */
  guint ok;
  guint resized_ok;
  guint bad_status;
  guint bad_body;
  guint bad_etag;
  guint seen[N_IMAGES];
} Shared;

typedef struct
{
  Shared *sh;
  gchar *uri;
} Client;

static gpointer
writer_thread (gpointer data)
{
  Shared *sh = data;
  g_autoptr (GError) err = NULL;
  CoverStoreWriter *w =
      cover_store_writer_open (sh->svc->store_dir, sh->cid, 0600, &err);
  guint i = 0;

  g_assert_no_error (err);
  while (!g_atomic_int_get (&sh->stop_writer)) {
    GBytes *img = sh->images[i++ % N_IMAGES];

    if (!cover_store_writer_publish (w, g_bytes_get_data (img, NULL),
            g_bytes_get_size (img), 640, 360, g_get_real_time (), NULL, &err)) {
      g_printerr ("publish: %s\n", err->message);
      g_clear_error (&err);
      sh->publish_errors++;
    }
    sh->published++;
    /* a new image about every 0.2 ms: far faster than any real stream */
    g_usleep (200);
  }
  cover_store_writer_close (w, TRUE);
  return NULL;
}

static void
note_failure (Shared *sh, HtResp *resp)
{
  g_mutex_lock (&sh->lock);
  sh->bad_status++;
  g_mutex_unlock (&sh->lock);
  g_printerr ("answer %u (%s): %.*s\n", resp->status,
      ht_header (resp, "X-Cover-Source"),
      (int) MIN (g_bytes_get_size (resp->body), 300),
      (const char *) g_bytes_get_data (resp->body, NULL));
}

static gpointer
client_thread (gpointer data)
{
  Client *c = data;
  Shared *sh = c->sh;
  g_autoptr (SoupSession) session = cs_test_session_new (HT_TIMEOUT_S);
  gint64 end = g_get_monotonic_time () + CLIENT_SECONDS * G_USEC_PER_SEC;
  guint n;

  for (n = 0; n < MAX_REQUESTS && g_get_monotonic_time () < end; n++) {
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", c->uri);
    g_autoptr (HtResp) resp = ht_send_full (session, msg, FALSE);
    const gchar *etag = ht_header (resp, "ETag");
    GBytes *known;
    gint match = -1;
    guint i;

    if (resp->status != 200 ||
        g_strcmp0 (ht_header (resp, "X-Cover-Source"), "live") != 0) {
      note_failure (sh, resp);
      continue;
    }
    for (i = 0; i < N_IMAGES; i++) {
      if (g_bytes_equal (resp->body, sh->images[i]))
        match = i;
    }
    g_mutex_lock (&sh->lock);
    if (match < 0) {
      sh->bad_body++;
    } else {
      sh->ok++;
      sh->seen[match]++;
    }
    /* one tag, one image */
    known = etag ? g_hash_table_lookup (sh->etags, etag) : NULL;
    if (!etag || (known && !g_bytes_equal (known, resp->body)))
      sh->bad_etag++;
    else if (!known)
      g_hash_table_insert (
          sh->etags, g_strdup (etag), g_bytes_ref (resp->body));
    g_mutex_unlock (&sh->lock);
  }
  return NULL;
}

static gpointer
resize_thread (gpointer data)
{
  Client *c = data;
  Shared *sh = c->sh;
  g_autoptr (SoupSession) session = cs_test_session_new (HT_TIMEOUT_S);
  gint64 end = g_get_monotonic_time () + CLIENT_SECONDS * G_USEC_PER_SEC;
  guint n;

  for (n = 0; n < MAX_RESIZES && g_get_monotonic_time () < end; n++) {
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", c->uri);
    g_autoptr (HtResp) resp = ht_send_full (session, msg, FALSE);
    g_autoptr (GError) err = NULL;
    g_autofree guint8 *px = NULL;
    guint w = 0, h = 0;

    if (resp->status == 200 &&
        cover_image_sniff (g_bytes_get_data (resp->body, NULL),
            g_bytes_get_size (resp->body), &w, &h,
            &err) == COVER_IMAGE_TYPE_JPEG &&
        w == 160 && h == 90)
      px = cover_image_decode_rgb (g_bytes_get_data (resp->body, NULL),
          g_bytes_get_size (resp->body), &w, &h, &err);
    if (!px) {
      note_failure (sh, resp);
      continue;
    }
    g_mutex_lock (&sh->lock);
    sh->resized_ok++;
    g_mutex_unlock (&sh->lock);
  }
  return NULL;
}

void
ht_parallel_gets (HtSvc *svc, const guint16 *ports, guint n_ports, guint32 cid)
{
  Shared sh = { 0 };
  Client clients[N_CLIENTS + N_RESIZERS];
  GThread *threads[N_CLIENTS + N_RESIZERS];
  g_autofree gchar *token = ht_token (cid);
  g_autofree gchar *path = ht_cover_path (cid, token, NULL);
  g_autofree gchar *resize_path = ht_cover_path (cid, token, "width=160");
  g_autofree gchar *metrics = NULL;
  GThread *writer;
  guint i, kinds = 0;
  gint64 deadline;

  sh.svc = svc;
  sh.cid = cid;
  g_mutex_init (&sh.lock);
  sh.etags = g_hash_table_new_full (
      g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_bytes_unref);
  for (i = 0; i < N_IMAGES; i++)
    sh.images[i] = ht_jpeg (640, 360, 60 * i, 255 - 60 * i, 30 + 40 * i);

  writer = g_thread_new ("writer", writer_thread, &sh);
  /* live before the clients start */
  deadline = g_get_monotonic_time () + HT_TIMEOUT_S * G_USEC_PER_SEC;
  for (;;) {
    g_autoptr (HtResp) resp = ht_get_cover (svc, cid, NULL);

    if (resp->status == 200)
      break;
    ht_assert_status (resp, 404);
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (10 * 1000);
  }

  for (i = 0; i < N_CLIENTS + N_RESIZERS; i++) {
    clients[i].sh = &sh;
    clients[i].uri = g_strdup_printf ("http://127.0.0.1:%u%s",
        ports[i % n_ports], i < N_CLIENTS ? path : resize_path);
    threads[i] = g_thread_new (i < N_CLIENTS ? "client" : "resizer",
        i < N_CLIENTS ? client_thread : resize_thread, &clients[i]);
  }
  for (i = 0; i < N_CLIENTS + N_RESIZERS; i++) {
    g_thread_join (threads[i]);
    g_free (clients[i].uri);
  }
  g_atomic_int_set (&sh.stop_writer, 1);
  g_thread_join (writer);

  g_test_message ("%u GETs, %u resized, %" G_GUINT64_FORMAT
                  " publishes, %u tags",
      sh.ok, sh.resized_ok, sh.published, g_hash_table_size (sh.etags));
  g_assert_cmpuint (sh.publish_errors, ==, 0);
  g_assert_cmpuint (sh.bad_status, ==, 0);
  g_assert_cmpuint (sh.bad_body, ==, 0);
  g_assert_cmpuint (sh.bad_etag, ==, 0);
  g_assert_cmpuint (sh.ok, >=, N_CLIENTS);
  g_assert_cmpuint (sh.resized_ok, >=, N_RESIZERS);
  for (i = 0; i < N_IMAGES; i++)
    kinds += sh.seen[i] > 0;
  /* the cover did change under the clients */
  g_assert_cmpuint (kinds, >=, 2);
  g_assert_cmpuint (g_hash_table_size (sh.etags), >=, 2);

  metrics = ht_metrics (svc);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_http_requests_total{endpoint=\"cover\","
                       "status=\"200\",source=\"live\"}"),
      >=, sh.ok + sh.resized_ok);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_http_requests_total{endpoint=\"cover\","
                       "status=\"500\",source=\"none\"}"),
      ==, -1);

  for (i = 0; i < N_IMAGES; i++)
    g_bytes_unref (sh.images[i]);
  g_hash_table_unref (sh.etags);
  g_mutex_clear (&sh.lock);
}
