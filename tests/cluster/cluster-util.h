/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __CLUSTER_UTIL_H__
#define __CLUSTER_UTIL_H__

#include <gio/gio.h>

G_BEGIN_DECLS

/* bounds: they only stop a broken test */
#define CL_WAIT_S 20

/* A real redis-server on a unix socket in @dir (no port to collide with
 * other suites), persistence off unless @durable (then appendonly with
 * appendfsync always: what gst-docs/cluster.md advises). */
typedef struct
{
  gchar *dir;
  gchar *socket_path;
  gboolean durable;
  GSubprocess *proc;
} ClRedis;

ClRedis *cl_redis_start (const gchar *dir, gboolean durable);
/* SIGKILL, reaped; cl_redis_restart() starts it again on the same
 * socket and directory. */
void cl_redis_kill (ClRedis *r);
void cl_redis_restart (ClRedis *r);
/* SIGSTOP / SIGCONT: a Redis that does not answer. */
void cl_redis_pause (ClRedis *r, gboolean paused);
/* redis-cli's answer to @command (space-separated words), stripped
 * (transfer full). */
gchar *cl_redis_cli (ClRedis *r, const gchar *command);
void cl_redis_free (ClRedis *r);

/* A free TCP port of 127.0.0.1 (bound and closed: good enough for a
 * server started right after). */
guint16 cl_free_port (void);

G_END_DECLS

#endif /* __CLUSTER_UTIL_H__ */
