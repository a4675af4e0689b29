/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* What the cluster suites share: their own redis-server, free ports. */

#include "cluster-util.h"

#include <glib/gstdio.h>
#include <signal.h>

#include "cs-test-proc.h"
#include "cs-test-util.h"

static gboolean
redis_answers (gpointer data)
{
  g_autofree gchar *pong = cl_redis_cli (data, "PING");

  return g_strcmp0 (pong, "PONG") == 0;
}

static void
redis_spawn (ClRedis *r)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *log = g_build_filename (r->dir, "redis.log", NULL);
  const gchar *argv[] = { "redis-server", "--port", "0", "--unixsocket",
    r->socket_path, "--save", "", "--appendonly", r->durable ? "yes" : "no",
    "--appendfsync", "always", "--dir", r->dir, NULL };

  r->proc = cs_test_spawnv (
      G_SUBPROCESS_FLAGS_STDOUT_SILENCE, NULL, NULL, log, argv, &err);
  g_assert_no_error (err);
  g_assert_true (
      cs_test_poll (redis_answers, r, CL_WAIT_S * G_USEC_PER_SEC, 20 * 1000));
}

ClRedis *
cl_redis_start (const gchar *dir, gboolean durable)
{
  ClRedis *r = g_new0 (ClRedis, 1);

  r->dir = g_strdup (dir);
  r->socket_path = g_build_filename (dir, "redis.sock", NULL);
  r->durable = durable;
  redis_spawn (r);
  return r;
}

void
cl_redis_kill (ClRedis *r)
{
  cs_test_kill_child (r->proc);
  g_clear_object (&r->proc);
}

void
cl_redis_restart (ClRedis *r)
{
  g_assert_null (r->proc);
  g_unlink (r->socket_path);
  redis_spawn (r);
}

void
cl_redis_pause (ClRedis *r, gboolean paused)
{
  g_subprocess_send_signal (r->proc, paused ? SIGSTOP : SIGCONT);
}

gchar *
cl_redis_cli (ClRedis *r, const gchar *command)
{
  g_auto (GStrv) words = g_strsplit (command, " ", 16);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  CsTestRun run = { 0 };
  gchar *out;

  g_ptr_array_add (argv, (gpointer) "redis-cli");
  g_ptr_array_add (argv, (gpointer) "-s");
  g_ptr_array_add (argv, r->socket_path);
  for (guint i = 0; words[i]; i++)
    g_ptr_array_add (argv, words[i]);
  g_ptr_array_add (argv, NULL);
  cs_test_run (&run, (const gchar *const *) argv->pdata, NULL, NULL);
  out = g_strstrip (cs_test_bytes_to_string (run.out));
  cs_test_run_clear (&run);
  return out;
}

void
cl_redis_free (ClRedis *r)
{
  if (r->proc)
    cl_redis_kill (r);
  g_free (r->dir);
  g_free (r->socket_path);
  g_free (r);
}

guint16
cl_free_port (void)
{
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GInetAddress) lo =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) err = NULL;

  sock = g_socket_new (
      G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &err);
  g_assert_no_error (err);
  g_assert_true (g_socket_bind (sock, any, TRUE, &err));
  bound = g_socket_get_local_address (sock, &err);
  g_assert_no_error (err);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}
