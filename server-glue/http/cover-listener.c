/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The listening threads of cover_service_listen(). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-listener.h"

#include <errno.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* Accepting is ours, not libsoup's: a SoupServer that listens itself
 * drops its accept watch for good on the first failed accept() (EMFILE,
 * ENFILE), which took /healthz down with it.  Each thread accepts on its
 * socket, hands the connection to its SoupServer with
 * soup_server_accept_iostream(), and keeps the limits of [server]: a cap on
 * connections (the oldest idle one goes first), an inactivity timeout on
 * every socket, and timers for the headers and the body of each request. */

/* accept() failed for want of fds: wait, from this, doubling, up to the
 * most, and free an idle connection meanwhile */
#define ACCEPT_RETRY_FIRST_MS 20
#define ACCEPT_RETRY_MAX_MS 1000

typedef struct _HttpThread HttpThread;

/* One accepted connection; freed when libsoup lets go of its stream. */
typedef struct
{
  HttpThread *thread;
  GObject *stream;        /* not a ref: libsoup's */
  GSocket *socket;        /* not a ref: the stream's */
  GSocketAddress *remote; /* the one libsoup holds: identifies it */
  gboolean busy;          /* between a request's headers and its end */
  gboolean closing;       /* shut down, libsoup not done with it yet */
} HttpConn;

struct _HttpThread
{
  CoverListener *listener;
  GThread *thread;
  GMainLoop *loop; /* owns the thread's main context */
  GSocket *socket; /* the listening socket */
  GSource *accept_source;
  GSource *retry_source;
  guint retry_ms;
  SoupServer *server;
  GQueue conns; /* HttpConn*, oldest first */
  guint max_conns;
  gboolean ready;
};

struct _CoverListener
{
  const CoverConfig *config;
  CoverListenerAttachFunc attach;
  gpointer attach_data;
  GMutex lock; /* the threads' startup */
  GCond cond;
  GPtrArray *threads; /* HttpThread* */
  guint16 port;
};

static GSocket *
listen_socket (
    const gchar *address, guint16 port, guint backlog, GError **error)
{
  g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (address);
  g_autoptr (GSocketAddress) sa = NULL;
  struct sockaddr_storage native;
  GSocket *sock;

  if (!addr) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "%s is not an IP address", address);
    return NULL;
  }
  sock = g_socket_new (g_inet_address_get_family (addr), G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, error);
  if (!sock)
    return NULL;
  /* every HTTP thread accepts on the same port */
  if (!g_socket_set_option (sock, SOL_SOCKET, SO_REUSEPORT, 1, error) ||
      !g_socket_set_option (sock, SOL_SOCKET, SO_REUSEADDR, 1, error))
    goto fail;
  sa = g_inet_socket_address_new (addr, port);
  /* bind(2) by hand: g_socket_bind() turns SO_REUSEPORT off again for TCP */
  if (!g_socket_address_to_native (sa, &native, sizeof (native), error))
    goto fail;
  if (bind (g_socket_get_fd (sock), (struct sockaddr *) &native,
          g_socket_address_get_native_size (sa)) < 0) {
    int errsv = errno;

    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
        "Error binding to %s port %u: %s", address, port, g_strerror (errsv));
    goto fail;
  }
  /* GLib's default is 10: a burst of connections would get resets */
  g_socket_set_listen_backlog (sock, backlog);
  if (!g_socket_listen (sock, error))
    goto fail;
  g_socket_set_blocking (sock, FALSE);
  return sock;

fail:
  g_object_unref (sock);
  return NULL;
}

static const CoverConfig *
thread_config (HttpThread *t)
{
  return t->listener->config;
}

/* Shuts the socket down: libsoup's pending read or write fails, and it
 * drops the connection as it does for a client that went away. */
static void
conn_close (HttpConn *c)
{
  if (c->closing)
    return;
  c->closing = TRUE;
  g_socket_shutdown (c->socket, TRUE, TRUE, NULL);
}

static HttpConn *
find_conn (HttpThread *t, GSocketAddress *remote)
{
  GList *l;

  for (l = t->conns.head; l; l = l->next) {
    HttpConn *c = l->data;

    if (c->remote == remote)
      return c;
  }
  return NULL;
}

/* The oldest connection waiting for a request; FALSE when all are busy. */
static gboolean
close_oldest_idle (HttpThread *t)
{
  GList *l;

  for (l = t->conns.head; l; l = l->next) {
    HttpConn *c = l->data;

    if (!c->busy && !c->closing) {
      conn_close (c);
      return TRUE;
    }
  }
  return FALSE;
}

static guint
open_conns (HttpThread *t)
{
  guint n = 0;
  GList *l;

  for (l = t->conns.head; l; l = l->next)
    n += !((HttpConn *) l->data)->closing;
  return n;
}

static void
conn_gone (gpointer data, GObject *stream)
{
  HttpConn *c = data;

  g_queue_remove (&c->thread->conns, c);
  g_object_unref (c->remote);
  g_free (c);
}

/* Request timers: the headers within header-timeout of the request's
 * start, the body within body-timeout of the headers. */

#define TIMER_KEY "coversnap-request-timer"

typedef struct
{
  HttpThread *thread;
  GSocketAddress *remote;
  GSource *timer;
} RequestTimer;

static void
request_timer_stop (RequestTimer *rt)
{
  if (rt->timer) {
    g_source_destroy (rt->timer);
    g_clear_pointer (&rt->timer, g_source_unref);
  }
}

static void
request_timer_free (RequestTimer *rt)
{
  request_timer_stop (rt);
  g_clear_object (&rt->remote);
  g_free (rt);
}

static gboolean
on_request_timeout (gpointer data)
{
  RequestTimer *rt = data;
  HttpConn *c = find_conn (rt->thread, rt->remote);

  g_clear_pointer (&rt->timer, g_source_unref);
  if (c)
    conn_close (c);
  return G_SOURCE_REMOVE;
}

static void
request_timer_start (RequestTimer *rt, gint64 timeout_us)
{
  request_timer_stop (rt);
  rt->timer = g_timeout_source_new (MAX (timeout_us / 1000, 1));
  g_source_set_callback (rt->timer, on_request_timeout, rt, NULL);
  g_source_attach (rt->timer, g_main_loop_get_context (rt->thread->loop));
}

static void
on_got_headers (SoupServerMessage *msg, RequestTimer *rt)
{
  HttpConn *c = find_conn (rt->thread, rt->remote);

  if (c)
    c->busy = TRUE;
  request_timer_start (rt, thread_config (rt->thread)->body_timeout_us);
}

static void
on_got_body (SoupServerMessage *msg, RequestTimer *rt)
{
  request_timer_stop (rt);
}

static void
on_request_started (SoupServer *server, SoupServerMessage *msg, HttpThread *t)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  HttpConn *c = remote ? find_conn (t, remote) : NULL;
  RequestTimer *rt;

  if (!c)
    return;
  c->busy = FALSE;
  rt = g_new0 (RequestTimer, 1);
  rt->thread = t;
  rt->remote = g_object_ref (remote);
  g_object_set_data_full (
      G_OBJECT (msg), TIMER_KEY, rt, (GDestroyNotify) request_timer_free);
  g_signal_connect (msg, "got-headers", G_CALLBACK (on_got_headers), rt);
  g_signal_connect (msg, "got-body", G_CALLBACK (on_got_body), rt);
  request_timer_start (rt, thread_config (t)->header_timeout_us);
}

static void
on_request_done (SoupServer *server, SoupServerMessage *msg, HttpThread *t)
{
  RequestTimer *rt = g_object_get_data (G_OBJECT (msg), TIMER_KEY);
  HttpConn *c;

  if (!rt)
    return;
  request_timer_stop (rt);
  c = find_conn (t, rt->remote);
  if (c)
    c->busy = FALSE;
}

/* Accepting */

static void
serve_socket (HttpThread *t, GSocket *sock)
{
  const CoverConfig *config = thread_config (t);
  g_autoptr (GSocketConnection) stream = NULL;
  g_autoptr (GSocketAddress) local = NULL;
  g_autoptr (GError) err = NULL;
  HttpConn *c;

  if (open_conns (t) >= t->max_conns && !close_oldest_idle (t)) {
    /* every connection is answering: refuse this one */
    g_socket_close (sock, NULL);
    return;
  }
  g_socket_set_timeout (
      sock, MAX (config->idle_timeout_us / G_USEC_PER_SEC, 1));
  /* libsoup writes a response's head and a small body apart: with Nagle,
   * the body of a 302 or a JSON error on a kept-alive connection waited
   * for the client's delayed ACK (40 ms each) */
  if (g_socket_get_family (sock) != G_SOCKET_FAMILY_UNIX)
    g_socket_set_option (sock, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  stream = g_socket_connection_factory_create_connection (sock);
  local = g_socket_get_local_address (sock, NULL);
  c = g_new0 (HttpConn, 1);
  c->thread = t;
  c->socket = sock;
  c->remote = g_socket_get_remote_address (sock, NULL);
  if (!local || !c->remote) {
    /* the peer is gone already */
    g_clear_object (&c->remote);
    g_free (c);
    return;
  }
  c->stream = G_OBJECT (stream);
  g_queue_push_tail (&t->conns, c);
  g_object_weak_ref (c->stream, conn_gone, c);
  if (!soup_server_accept_iostream (
          t->server, G_IO_STREAM (stream), local, c->remote, &err))
    g_warning ("could not serve a connection: %s", err->message);
}

static gboolean on_acceptable (GSocket *sock, GIOCondition cond, gpointer data);

static void
watch_accept (HttpThread *t)
{
  t->accept_source = g_socket_create_source (t->socket, G_IO_IN, NULL);
  g_source_set_callback (
      t->accept_source, (GSourceFunc) (void (*) (void)) on_acceptable, t, NULL);
  g_source_attach (t->accept_source, g_main_loop_get_context (t->loop));
}

static gboolean
on_accept_retry (gpointer data)
{
  HttpThread *t = data;

  g_clear_pointer (&t->retry_source, g_source_unref);
  watch_accept (t);
  return G_SOURCE_REMOVE;
}

static gboolean
on_acceptable (GSocket *listening, GIOCondition cond, gpointer data)
{
  HttpThread *t = data;
  GError *err = NULL;
  GSocket *sock;

  /* bounded, so that one busy listener does not starve its connections */
  for (guint i = 0; i < 64; i++) {
    sock = g_socket_accept (listening, NULL, &err);
    if (sock) {
      t->retry_ms = 0;
      serve_socket (t, sock);
      g_object_unref (sock);
      continue;
    }
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ||
        g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)) {
      g_clear_error (&err);
      return G_SOURCE_CONTINUE;
    }
    /* EMFILE, ENFILE, ENOBUFS...: stop watching (the socket stays readable
     * and would spin), free an fd, and come back after a pause */
    if (t->retry_ms == 0)
      g_warning ("HTTP accept failed, retrying: %s", err->message);
    g_clear_error (&err);
    close_oldest_idle (t);
    t->retry_ms =
        CLAMP (t->retry_ms * 2, ACCEPT_RETRY_FIRST_MS, ACCEPT_RETRY_MAX_MS);
    g_clear_pointer (&t->accept_source, g_source_unref);
    t->retry_source = g_timeout_source_new (t->retry_ms);
    g_source_set_callback (t->retry_source, on_accept_retry, t, NULL);
    g_source_attach (t->retry_source, g_main_loop_get_context (t->loop));
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
clear_source (GSource **source)
{
  if (*source) {
    g_source_destroy (*source);
    g_clear_pointer (source, g_source_unref);
  }
}

/* libsoup keeps a connection alive after a response only while its
 * server has a listener (soup-server.c, request_finished(): "...&&
 * priv->listeners"); ours accepts by itself and hands the connections
 * over with soup_server_accept_iostream(), so without one every
 * connection would close after its first response.  The listener given
 * here is a Unix socket whose path is removed at once: nothing can ever
 * connect to it, it only keeps libsoup's keep-alive on. */
static void
anchor_keepalive (SoupServer *server)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GSocketAddress) addr = NULL;
  g_autofree gchar *dir = NULL, *path = NULL;

  dir = g_dir_make_tmp ("coversnap-http-XXXXXX", &err);
  if (!dir)
    goto failed;
  path = g_build_filename (dir, "anchor", NULL);
  sock = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_DEFAULT, &err);
  addr = g_unix_socket_address_new (path);
  if (sock && g_socket_bind (sock, addr, FALSE, &err) &&
      g_socket_listen (sock, &err))
    soup_server_listen_socket (server, sock, 0, &err);
  g_unlink (path);
  g_rmdir (dir);
  if (!err)
    return;

failed:
  g_warning ("HTTP keep-alive is off, every connection closes after one "
             "response: %s",
      err->message);
}

static gpointer
http_thread (gpointer data)
{
  HttpThread *t = data;
  CoverListener *l = t->listener;
  GMainContext *context = g_main_loop_get_context (t->loop);

  g_main_context_push_thread_default (context);
  t->server = soup_server_new ("server-header", "coversnap ", NULL);
  l->attach (l->attach_data, t->server);
  anchor_keepalive (t->server);
  g_signal_connect (
      t->server, "request-started", G_CALLBACK (on_request_started), t);
  g_signal_connect (
      t->server, "request-finished", G_CALLBACK (on_request_done), t);
  g_signal_connect (
      t->server, "request-aborted", G_CALLBACK (on_request_done), t);
  watch_accept (t);

  g_mutex_lock (&l->lock);
  t->ready = TRUE;
  g_cond_broadcast (&l->cond);
  g_mutex_unlock (&l->lock);

  g_main_loop_run (t->loop);

  clear_source (&t->accept_source);
  clear_source (&t->retry_source);
  g_socket_close (t->socket, NULL);
  g_clear_object (&t->socket);
  soup_server_disconnect (t->server);
  g_clear_object (&t->server);
  /* what libsoup still held went with it */
  while (g_main_context_iteration (context, FALSE))
    ;
  /* a paused message (a job) may hold a connection past us */
  while (!g_queue_is_empty (&t->conns)) {
    HttpConn *c = g_queue_peek_head (&t->conns);

    g_object_weak_unref (c->stream, conn_gone, c);
    conn_gone (c, NULL);
  }
  g_main_context_pop_thread_default (context);
  return NULL;
}

/* Starts one thread on its own socket; FALSE with @error if it cannot
 * listen. */
static gboolean
start_thread (CoverListener *l, const gchar *address, GError **error)
{
  const CoverConfig *config = l->config;
  GSocket *sock =
      listen_socket (address, l->port, config->listen_backlog, error);
  HttpThread *t;

  if (!sock)
    return FALSE;
  if (!l->port) {
    g_autoptr (GSocketAddress) local = g_socket_get_local_address (sock, NULL);

    l->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  }
  t = g_new0 (HttpThread, 1);
  t->listener = l;
  t->socket = sock;
  t->max_conns = MAX (config->max_connections / MAX (config->threads, 1), 1);
  g_queue_init (&t->conns);
  {
    g_autoptr (GMainContext) context = g_main_context_new ();

    t->loop = g_main_loop_new (context, FALSE);
  }
  g_ptr_array_add (l->threads, t);
  t->thread = g_thread_new ("coversnap-http", http_thread, t);

  g_mutex_lock (&l->lock);
  while (!t->ready)
    g_cond_wait (&l->cond, &l->lock);
  g_mutex_unlock (&l->lock);
  return TRUE;
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/* The quit goes through the thread's context: a g_main_loop_quit() from
 * here before the thread reached g_main_loop_run() (a stop right after the
 * start: t->ready is set just before it) would be lost, and the join would
 * wait for ever. */
static void
http_thread_join (HttpThread *t)
{
  GSource *quit = g_idle_source_new ();

  g_source_set_priority (quit, G_PRIORITY_HIGH);
  g_source_set_callback (quit, quit_loop, t->loop, NULL);
  g_source_attach (quit, g_main_loop_get_context (t->loop));
  g_source_unref (quit);
  g_thread_join (t->thread);
  g_main_loop_unref (t->loop);
  g_free (t);
}

CoverListener *
cover_listener_start (const CoverConfig *config, CoverListenerAttachFunc attach,
    gpointer data, const gchar *address, guint16 port, guint threads,
    GError **error)
{
  CoverListener *l;
  guint i;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (attach != NULL, NULL);
  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  l = g_new0 (CoverListener, 1);
  l->config = config;
  l->attach = attach;
  l->attach_data = data;
  l->port = port;
  g_mutex_init (&l->lock);
  g_cond_init (&l->cond);
  l->threads =
      g_ptr_array_new_with_free_func ((GDestroyNotify) http_thread_join);
  for (i = 0; i < threads; i++) {
    if (!start_thread (l, address, error)) {
      g_prefix_error (error, "Could not listen on %s port %u: ", address, port);
      cover_listener_stop (l);
      return NULL;
    }
  }
  return l;
}

guint16
cover_listener_get_port (CoverListener *l)
{
  /* NULL is a listener that is not listening */
  return l ? l->port : 0;
}

void
cover_listener_stop (CoverListener *l)
{
  g_return_if_fail (l != NULL);

  /* joins every thread */
  g_ptr_array_unref (l->threads);
  g_cond_clear (&l->cond);
  g_mutex_clear (&l->lock);
  g_free (l);
}
