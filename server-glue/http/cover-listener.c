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
#include <sys/socket.h>

typedef struct
{
  CoverListener *listener;
  GThread *thread;
  GMainLoop *loop; /* owns the thread's main context */
  GSocket *socket; /* the thread's until it listens */
  GError *error;
  gboolean ready;
} HttpThread;

struct _CoverListener
{
  CoverService *service;
  GMutex lock; /* the threads' startup */
  GCond cond;
  GPtrArray *threads; /* HttpThread* */
  guint16 port;
};

static GSocket *
listen_socket (const gchar *address, guint16 port, GError **error)
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
  if (!g_socket_listen (sock, error))
    goto fail;
  return sock;

fail:
  g_object_unref (sock);
  return NULL;
}

static gpointer
http_thread (gpointer data)
{
  HttpThread *t = data;
  CoverListener *l = t->listener;
  GMainContext *context = g_main_loop_get_context (t->loop);
  SoupServer *server;
  gboolean listening;

  g_main_context_push_thread_default (context);
  server = soup_server_new ("server-header", "coversnap ", NULL);
  cover_service_attach (l->service, server);
  /* t->error belongs to the starting thread once ready is set */
  listening = soup_server_listen_socket (server, t->socket, 0, &t->error);
  g_clear_object (&t->socket);

  g_mutex_lock (&l->lock);
  t->ready = TRUE;
  g_cond_broadcast (&l->cond);
  g_mutex_unlock (&l->lock);

  if (listening)
    g_main_loop_run (t->loop);

  soup_server_disconnect (server);
  g_object_unref (server);
  g_main_context_pop_thread_default (context);
  return NULL;
}

/* Starts one thread on its own socket; FALSE with @error if it cannot
 * listen. */
static gboolean
start_thread (CoverListener *l, const gchar *address, GError **error)
{
  GSocket *sock = listen_socket (address, l->port, error);
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
  if (t->error) {
    g_propagate_error (error, g_steal_pointer (&t->error));
    return FALSE;
  }
  return TRUE;
}

/* g_main_loop_quit() wakes the thread's context up */
static void
http_thread_join (HttpThread *t)
{
  g_main_loop_quit (t->loop);
  g_thread_join (t->thread);
  g_main_loop_unref (t->loop);
  g_free (t);
}

CoverListener *
cover_listener_start (CoverService *service, const gchar *address, guint16 port,
    guint threads, GError **error)
{
  CoverListener *l;
  guint i;

  g_return_val_if_fail (service != NULL, NULL);
  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  l = g_new0 (CoverListener, 1);
  l->service = service;
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
