/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The connection to Redis.  hiredis' asynchronous API runs on a thread of
 * the registry's own, whose main context polls the socket; every command
 * comes in through that context and its reply goes back to the caller's.
 * So the HTTP and RTSP main contexts only ever queue and get called back,
 * and one connection carries the whole node's traffic, in order.
 *
 * Replies are copied out of hiredis (bounded in size and depth) before
 * they cross threads; a command has its own timer, so a slow Redis gives
 * a timeout error rather than a wait; a lost connection is made again
 * after a backoff (doubling, with jitter from getrandom) and the owner's
 * connected function runs again to re-register what the node holds. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-registry.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "cover-config.h"
#include "coverid.h"

G_DEFINE_QUARK (cover-registry-error-quark, cover_registry_error);

/* an upload and its fields are the largest reply */
#define MAX_REPLY_BYTES (COVER_CONFIG_MAX_UPLOAD_SIZE + 64 * 1024)
#define MAX_REPLY_ELEMENTS 64
#define MAX_REPLY_DEPTH 3
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* a connect that takes longer is given up */
#define MIN_CONNECT_TIMEOUT_MS 1000
/* commands sent and not answered by Redis yet; beyond it a command fails
 * at once (a Redis that stopped answering does not queue without bound) */
#define MAX_IN_FLIGHT 4096
/* round trips kept for the median */
#define N_SAMPLES 1024

/* the round-trip histogram's upper bounds, µs */
static const gint64 bucket_us[] = { 100, 250, 500, 1000, 2500, 5000, 10000,
  50000, 250000, 1000000 };
#define N_BUCKETS G_N_ELEMENTS (bucket_us)

struct _CoverRegistry
{
  const CoverClusterConfig *config;
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  CoverRegistryConnectedFunc connected_func;
  gpointer connected_data;

  /* the registry's thread only */
  redisAsyncContext *ac;
  GSource *ac_source;
  GSource *connect_timer;
  GSource *retry_timer;
  guint attempts;
  gboolean closing;
  guint in_flight;

  gint connected; /* atomic */

  GMutex lock; /* the figures below */
  guint64 errors;
  guint64 timeouts;
  guint64 reconnects;
  guint64 buckets[N_BUCKETS + 1];
  guint64 count;
  gint64 sum_us;
  gint64 samples[N_SAMPLES];
  guint n_samples;
  guint sample_pos;
};

typedef struct
{
  CoverRegistry *reg;
  GMainContext *context; /* the reply's, or NULL: the registry's thread */
  CoverRegistryFunc func;
  gpointer user_data;
  guint argc;
  gchar **argv;
  gsize *argvlen;
  gint64 queued; /* monotonic µs */
  GSource *timer;
  gboolean answered;
} Command;

typedef struct
{
  CoverRegistryFunc func;
  gpointer user_data;
  CoverRegistryReply *reply;
  GError *error;
} Delivery;

static void start_connect (CoverRegistry *reg);

/* destroys and drops a source of the registry's context (a timer, the
 * connection's) */
static void
clear_source (GSource **source)
{
  if (*source) {
    g_source_destroy (*source);
    g_clear_pointer (source, g_source_unref);
  }
}

/* Replies */

void
cover_registry_reply_free (CoverRegistryReply *r)
{
  if (!r)
    return;
  g_clear_pointer (&r->string, g_bytes_unref);
  for (guint i = 0; i < r->n_elements; i++)
    cover_registry_reply_free (r->element[i]);
  g_free (r->element);
  g_free (r);
}

static CoverRegistryReply *
reply_copy (const redisReply *in, guint depth, gsize *budget, GError **error)
{
  CoverRegistryReply *r = g_new0 (CoverRegistryReply, 1);

  switch (in->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      if (in->len > *budget)
        goto too_big;
      *budget -= in->len;
      r->type = COVER_REGISTRY_STRING;
      r->string = g_bytes_new (in->str, in->len);
      break;
    case REDIS_REPLY_INTEGER:
      r->type = COVER_REGISTRY_INTEGER;
      r->integer = in->integer;
      break;
    case REDIS_REPLY_ARRAY:
      if (depth >= MAX_REPLY_DEPTH || in->elements > MAX_REPLY_ELEMENTS)
        goto too_big;
      r->type = COVER_REGISTRY_ARRAY;
      r->element = g_new0 (CoverRegistryReply *, MAX (in->elements, 1));
      for (gsize i = 0; i < in->elements; i++) {
        r->element[i] = reply_copy (in->element[i], depth + 1, budget, error);
        if (!r->element[i]) {
          cover_registry_reply_free (r);
          return NULL;
        }
        r->n_elements++;
      }
      break;
    case REDIS_REPLY_NIL:
    default:
      r->type = COVER_REGISTRY_NIL;
      break;
  }
  return r;

too_big:
  cover_registry_reply_free (r);
  g_set_error (error, COVER_REGISTRY_ERROR, COVER_REGISTRY_ERROR_TOO_BIG,
      "a Redis reply is over the bound of %d bytes or %d elements",
      MAX_REPLY_BYTES, MAX_REPLY_ELEMENTS);
  return NULL;
}

static CoverRegistryReply *
reply_dup (const CoverRegistryReply *in)
{
  CoverRegistryReply *r = g_new0 (CoverRegistryReply, 1);

  r->type = in->type;
  r->integer = in->integer;
  r->string = in->string ? g_bytes_ref (in->string) : NULL;
  r->element = g_new0 (CoverRegistryReply *, MAX (in->n_elements, 1));
  for (r->n_elements = 0; r->n_elements < in->n_elements; r->n_elements++)
    r->element[r->n_elements] = reply_dup (in->element[r->n_elements]);
  return r;
}

gchar *
cover_registry_reply_dup_string (const CoverRegistryReply *reply, gint index)
{
  gconstpointer data;
  gsize size;

  g_return_val_if_fail (reply != NULL, NULL);

  if (index >= 0) {
    if (reply->type != COVER_REGISTRY_ARRAY ||
        (guint) index >= reply->n_elements)
      return NULL;
    reply = reply->element[index];
  }
  if (reply->type != COVER_REGISTRY_STRING)
    return NULL;
  data = g_bytes_get_data (reply->string, &size);
  return g_strndup (data, size);
}

/* Figures */

static void
count_round_trip (CoverRegistry *reg, gint64 us)
{
  guint b = 0;

  while (b < N_BUCKETS && us > bucket_us[b])
    b++;
  g_mutex_lock (&reg->lock);
  reg->buckets[b]++;
  reg->count++;
  reg->sum_us += us;
  reg->samples[reg->sample_pos] = us;
  reg->sample_pos = (reg->sample_pos + 1) % N_SAMPLES;
  reg->n_samples = MIN (reg->n_samples + 1, N_SAMPLES);
  g_mutex_unlock (&reg->lock);
}

static void
count_error (CoverRegistry *reg, const GError *error)
{
  g_mutex_lock (&reg->lock);
  reg->errors++;
  if (g_error_matches (
          error, COVER_REGISTRY_ERROR, COVER_REGISTRY_ERROR_TIMEOUT))
    reg->timeouts++;
  g_mutex_unlock (&reg->lock);
}

static gint
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

gint64
cover_registry_get_median_us (CoverRegistry *reg)
{
  gint64 copy[N_SAMPLES];
  guint n;

  g_return_val_if_fail (reg != NULL, 0);

  g_mutex_lock (&reg->lock);
  n = reg->n_samples;
  memcpy (copy, reg->samples, n * sizeof (gint64));
  g_mutex_unlock (&reg->lock);
  if (!n)
    return 0;
  qsort (copy, n, sizeof (gint64), compare_gint64);
  return copy[n / 2];
}

void
cover_registry_write_metrics (CoverRegistry *reg, GString *out)
{
  guint64 buckets[N_BUCKETS + 1], count, errors, timeouts, reconnects;
  gint64 sum_us, median;
  guint64 cumulative = 0;

  g_return_if_fail (reg != NULL);
  g_return_if_fail (out != NULL);

  median = cover_registry_get_median_us (reg);
  g_mutex_lock (&reg->lock);
  memcpy (buckets, reg->buckets, sizeof (buckets));
  count = reg->count;
  sum_us = reg->sum_us;
  errors = reg->errors;
  timeouts = reg->timeouts;
  reconnects = reg->reconnects;
  g_mutex_unlock (&reg->lock);

  g_string_append_printf (out,
      "# HELP coversnap_cluster_registry_errors_total Registry commands that "
      "failed (Redis down, timeout, error reply).\n"
      "# TYPE coversnap_cluster_registry_errors_total counter\n"
      "coversnap_cluster_registry_errors_total %" G_GUINT64_FORMAT "\n"
      "# HELP coversnap_cluster_registry_timeouts_total Registry commands "
      "without a reply within [cluster] timeout.\n"
      "# TYPE coversnap_cluster_registry_timeouts_total counter\n"
      "coversnap_cluster_registry_timeouts_total %" G_GUINT64_FORMAT "\n"
      "# HELP coversnap_cluster_registry_connects_total Connections made to "
      "Redis (the first and every reconnection).\n"
      "# TYPE coversnap_cluster_registry_connects_total counter\n"
      "coversnap_cluster_registry_connects_total %" G_GUINT64_FORMAT "\n"
      "# HELP coversnap_cluster_registry_up Whether the registry is "
      "connected.\n"
      "# TYPE coversnap_cluster_registry_up gauge\n"
      "coversnap_cluster_registry_up %d\n"
      "# HELP coversnap_cluster_registry_rtt_seconds Registry round trips "
      "(queued to answered).\n"
      "# TYPE coversnap_cluster_registry_rtt_seconds histogram\n",
      errors, timeouts, reconnects, cover_registry_is_connected (reg) ? 1 : 0);
  for (guint b = 0; b <= N_BUCKETS; b++) {
    cumulative += buckets[b];
    if (b < N_BUCKETS)
      g_string_append_printf (out,
          "coversnap_cluster_registry_rtt_seconds_bucket{le=\"%g\"} "
          "%" G_GUINT64_FORMAT "\n",
          bucket_us[b] / 1e6, cumulative);
    else
      g_string_append_printf (out,
          "coversnap_cluster_registry_rtt_seconds_bucket{le=\"+Inf\"} "
          "%" G_GUINT64_FORMAT "\n",
          cumulative);
  }
  g_string_append_printf (out,
      "coversnap_cluster_registry_rtt_seconds_sum %g\n"
      "coversnap_cluster_registry_rtt_seconds_count %" G_GUINT64_FORMAT "\n"
      "# HELP coversnap_cluster_registry_rtt_median_seconds The median of "
      "the last %d round trips.\n"
      "# TYPE coversnap_cluster_registry_rtt_median_seconds gauge\n"
      "coversnap_cluster_registry_rtt_median_seconds %g\n",
      sum_us / 1e6, count, N_SAMPLES, median / 1e6);
}

/* Answers */

static gboolean
deliver (gpointer data)
{
  Delivery *d = data;

  d->func (d->reply, d->error, d->user_data);
  return G_SOURCE_REMOVE;
}

static void
delivery_free (gpointer data)
{
  Delivery *d = data;

  cover_registry_reply_free (d->reply);
  g_clear_error (&d->error);
  g_free (d);
}

/* Answers @cmd once with @reply or @error (both transfer full). */
static void
command_answer (Command *cmd, CoverRegistryReply *reply, GError *error)
{
  Delivery *d;

  g_assert (!cmd->answered);
  cmd->answered = TRUE;
  if (error)
    count_error (cmd->reg, error);
  else
    count_round_trip (cmd->reg, g_get_monotonic_time () - cmd->queued);
  d = g_new0 (Delivery, 1);
  d->func = cmd->func;
  d->user_data = cmd->user_data;
  d->reply = reply;
  d->error = error;
  if (!cmd->context) {
    deliver (d);
    delivery_free (d);
  } else {
    g_main_context_invoke_full (
        cmd->context, G_PRIORITY_DEFAULT, deliver, d, delivery_free);
  }
}

static void
command_free (Command *cmd)
{
  clear_source (&cmd->timer);
  if (cmd->context)
    g_main_context_unref (cmd->context);
  g_strfreev (cmd->argv);
  g_free (cmd->argvlen);
  g_free (cmd);
}

static void
command_fail (Command *cmd, CoverRegistryError code, const gchar *message)
{
  command_answer (cmd, NULL,
      g_error_new (COVER_REGISTRY_ERROR, code, "registry: %s", message));
}

static gboolean
on_command_timeout (gpointer data)
{
  Command *cmd = data;

  if (!cmd->answered)
    command_fail (
        cmd, COVER_REGISTRY_ERROR_TIMEOUT, "no reply from Redis in time");
  g_clear_pointer (&cmd->timer, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* hiredis: the reply, or NULL when the connection went first */
static void
on_reply (redisAsyncContext *ac, void *r, void *privdata)
{
  Command *cmd = privdata;
  redisReply *reply = r;

  cmd->reg->in_flight--;
  if (!cmd->answered) {
    if (!reply) {
      command_fail (cmd, COVER_REGISTRY_ERROR_DOWN, "the connection was lost");
    } else if (reply->type == REDIS_REPLY_ERROR) {
      command_answer (cmd, NULL,
          g_error_new (COVER_REGISTRY_ERROR, COVER_REGISTRY_ERROR_REPLY,
              "Redis: %.*s", (int) MIN (reply->len, 200), reply->str));
    } else {
      gsize budget = MAX_REPLY_BYTES;
      GError *err = NULL;
      CoverRegistryReply *copy = reply_copy (reply, 0, &budget, &err);

      command_answer (cmd, copy, err);
    }
  }
  command_free (cmd);
}

static gboolean
send_in_thread (gpointer data)
{
  Command *cmd = data;
  CoverRegistry *reg = cmd->reg;

  if (!reg->ac || !g_atomic_int_get (&reg->connected)) {
    command_fail (cmd, COVER_REGISTRY_ERROR_DOWN, "not connected to Redis");
    command_free (cmd);
    return G_SOURCE_REMOVE;
  }
  if (reg->in_flight >= MAX_IN_FLIGHT) {
    command_fail (cmd, COVER_REGISTRY_ERROR_TIMEOUT,
        "too many commands waiting for Redis");
    command_free (cmd);
    return G_SOURCE_REMOVE;
  }
  if (redisAsyncCommandArgv (reg->ac, on_reply, cmd, cmd->argc,
          (const char **) cmd->argv, cmd->argvlen) != REDIS_OK) {
    command_fail (cmd, COVER_REGISTRY_ERROR_DOWN, "the connection is closing");
    command_free (cmd);
    return G_SOURCE_REMOVE;
  }
  reg->in_flight++;
  cmd->timer = g_timeout_source_new (MAX (1, reg->config->timeout_us / 1000));
  g_source_set_callback (cmd->timer, on_command_timeout, cmd, NULL);
  g_source_attach (cmd->timer, reg->context);
  return G_SOURCE_REMOVE;
}

void
cover_registry_command (CoverRegistry *reg, GMainContext *context,
    CoverRegistryFunc func, gpointer user_data, guint argc,
    const gchar *const *argv, const gsize *argvlen)
{
  Command *cmd;

  g_return_if_fail (reg != NULL);
  g_return_if_fail (func != NULL);
  g_return_if_fail (argc > 0 && argv != NULL);

  cmd = g_new0 (Command, 1);
  cmd->reg = reg;
  cmd->context = context ? g_main_context_ref (context) : NULL;
  cmd->func = func;
  cmd->user_data = user_data;
  cmd->argc = argc;
  cmd->argv = g_new0 (gchar *, argc + 1);
  cmd->argvlen = g_new (gsize, argc);
  for (guint i = 0; i < argc; i++) {
    cmd->argvlen[i] = argvlen ? argvlen[i] : strlen (argv[i]);
    /* binary-safe: hiredis reads argvlen bytes */
    cmd->argv[i] = g_malloc (cmd->argvlen[i] + 1);
    memcpy (cmd->argv[i], argv[i], cmd->argvlen[i]);
    cmd->argv[i][cmd->argvlen[i]] = '\0';
  }
  cmd->queued = g_get_monotonic_time ();
  g_main_context_invoke (reg->context, send_in_thread, cmd);
}

/* Waiting for one reply */

typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean done;
  CoverRegistryReply *reply;
  GError *error;
} SyncWait;

static void
sync_wait_clear (gpointer data)
{
  SyncWait *w = data;

  cover_registry_reply_free (w->reply);
  g_clear_error (&w->error);
  g_mutex_clear (&w->lock);
  g_cond_clear (&w->cond);
}

static void
sync_done (const CoverRegistryReply *reply, const GError *error, gpointer data)
{
  SyncWait *w = data;

  g_mutex_lock (&w->lock);
  w->reply = reply ? reply_dup (reply) : NULL;
  w->error = error ? g_error_copy (error) : NULL;
  w->done = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
  g_atomic_rc_box_release_full (w, sync_wait_clear);
}

CoverRegistryReply *
cover_registry_command_sync (CoverRegistry *reg, guint argc,
    const gchar *const *argv, const gsize *argvlen, GError **error)
{
  SyncWait *w;
  CoverRegistryReply *reply = NULL;
  /* the command's own timer answers first; this is the backstop */
  gint64 deadline = g_get_monotonic_time () + 2 * reg->config->timeout_us +
      G_USEC_PER_SEC / 10;

  g_return_val_if_fail (reg != NULL, NULL);
  g_return_val_if_fail (
      g_main_context_get_thread_default () != reg->context, NULL);

  w = g_atomic_rc_box_new0 (SyncWait);
  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);
  /* one reference for the reply */
  g_atomic_rc_box_acquire (w);
  cover_registry_command (reg, NULL, sync_done, w, argc, argv, argvlen);
  g_mutex_lock (&w->lock);
  while (!w->done)
    if (!g_cond_wait_until (&w->cond, &w->lock, deadline))
      break;
  if (w->done) {
    reply = g_steal_pointer (&w->reply);
    if (w->error)
      g_propagate_error (error, g_steal_pointer (&w->error));
  } else {
    g_set_error (error, COVER_REGISTRY_ERROR, COVER_REGISTRY_ERROR_TIMEOUT,
        "registry: no reply in time");
  }
  g_mutex_unlock (&w->lock);
  g_atomic_rc_box_release_full (w, sync_wait_clear);
  return reply;
}

/* The connection: a GSource polling hiredis' socket.  hiredis' own GLib
 * adapter (hiredis/adapters/glib.h of 0.14) reads its context again after
 * a write that failed and freed it; this one stops when the connection went
 * during the write. */

typedef struct
{
  GSource source;
  CoverRegistry *reg;
  redisAsyncContext *ac;
  GPollFD poll_fd;
} RedisSource;

static void
ev_set (void *data, gushort events, gboolean on)
{
  RedisSource *s = data;

  if (on)
    s->poll_fd.events |= events;
  else
    s->poll_fd.events &= ~events;
  g_main_context_wakeup (g_source_get_context ((GSource *) s));
}

static void
ev_add_read (void *data)
{
  ev_set (data, G_IO_IN, TRUE);
}

static void
ev_del_read (void *data)
{
  ev_set (data, G_IO_IN, FALSE);
}

static void
ev_add_write (void *data)
{
  ev_set (data, G_IO_OUT, TRUE);
}

static void
ev_del_write (void *data)
{
  ev_set (data, G_IO_OUT, FALSE);
}

static void
ev_cleanup (void *data)
{
  RedisSource *s = data;

  s->poll_fd.events = 0;
  if (s->poll_fd.fd >= 0 && !g_source_is_destroyed ((GSource *) s)) {
    g_source_remove_poll ((GSource *) s, &s->poll_fd);
    s->poll_fd.fd = -1;
  }
  s->ac = NULL;
}

static gboolean
redis_source_prepare (GSource *source, gint *timeout)
{
  RedisSource *s = (RedisSource *) source;

  *timeout = -1;
  return (s->poll_fd.events & s->poll_fd.revents) != 0;
}

static gboolean
redis_source_check (GSource *source)
{
  RedisSource *s = (RedisSource *) source;

  return (s->poll_fd.events & s->poll_fd.revents) != 0;
}

static gboolean
redis_source_dispatch (GSource *source, GSourceFunc cb, gpointer data)
{
  RedisSource *s = (RedisSource *) source;
  gushort revents = s->poll_fd.revents;

  s->poll_fd.revents = 0;
  if (s->ac && (revents & (G_IO_OUT | G_IO_ERR | G_IO_HUP)))
    redisAsyncHandleWrite (s->ac);
  /* (the write may have lost the connection: s->ac is NULL then) */
  if (s->ac && (revents & (G_IO_IN | G_IO_ERR | G_IO_HUP)))
    redisAsyncHandleRead (s->ac);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs redis_source_funcs = {
  redis_source_prepare,
  redis_source_check,
  redis_source_dispatch,
  NULL,
  NULL,
  NULL,
};

static void
attach_source (CoverRegistry *reg, redisAsyncContext *ac)
{
  RedisSource *s =
      (RedisSource *) g_source_new (&redis_source_funcs, sizeof (RedisSource));

  s->reg = reg;
  s->ac = ac;
  s->poll_fd.fd = ac->c.fd;
  g_source_add_poll ((GSource *) s, &s->poll_fd);
  ac->ev.addRead = ev_add_read;
  ac->ev.delRead = ev_del_read;
  ac->ev.addWrite = ev_add_write;
  ac->ev.delWrite = ev_del_write;
  ac->ev.cleanup = ev_cleanup;
  ac->ev.data = s;
  g_source_attach ((GSource *) s, reg->context);
  reg->ac_source = (GSource *) s;
}

static gboolean
on_retry (gpointer data)
{
  CoverRegistry *reg = data;

  g_clear_pointer (&reg->retry_timer, g_source_unref);
  start_connect (reg);
  return G_SOURCE_REMOVE;
}

/* The next attempt after a backoff that doubles up to BACKOFF_MAX_MS, with
 * jitter: nodes that lost the same Redis do not all come back at once. */
static void
schedule_retry (CoverRegistry *reg)
{
  guint delay;

  if (reg->closing || reg->retry_timer)
    return;
  delay =
      cover_random_backoff (BACKOFF_MIN_MS, BACKOFF_MAX_MS, ++reg->attempts);
  reg->retry_timer = g_timeout_source_new (delay);
  g_source_set_callback (reg->retry_timer, on_retry, reg, NULL);
  g_source_attach (reg->retry_timer, reg->context);
}

static void
lost (CoverRegistry *reg, const gchar *why)
{
  gboolean was = g_atomic_int_exchange (&reg->connected, FALSE);

  if (!reg->closing)
    g_log (G_LOG_DOMAIN, was ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_DEBUG,
        "registry: %s; reconnecting", why);
  reg->ac = NULL;
  clear_source (&reg->ac_source);
  clear_source (&reg->connect_timer);
  schedule_retry (reg);
}

static void
on_connect (const redisAsyncContext *ac, int status)
{
  CoverRegistry *reg = ac->data;

  if (status != REDIS_OK) {
    clear_source (&reg->connect_timer);
    /* hiredis frees the context after this callback */
    lost (reg, ac->errstr[0] ? ac->errstr : "could not connect");
  }
  /* connected once the PING after AUTH and SELECT is answered */
}

/* The PING queued after AUTH and SELECT: its PONG says that commands
 * work (a wrong password or database gives an error instead: the
 * connection is closed and made again later). */
static void
on_ping (redisAsyncContext *ac, void *r, void *privdata)
{
  CoverRegistry *reg = ac->data;
  redisReply *reply = r;

  if (!reply)
    return; /* the connection went first */
  clear_source (&reg->connect_timer);
  if (reply->type == REDIS_REPLY_ERROR) {
    g_warning ("registry: Redis refuses this node: %.*s",
        (int) MIN (reply->len, 200), reply->str);
    redisAsyncDisconnect (ac);
    return;
  }
  reg->attempts = 0;
  g_atomic_int_set (&reg->connected, TRUE);
  g_mutex_lock (&reg->lock);
  reg->reconnects++;
  g_mutex_unlock (&reg->lock);
  g_message ("registry: connected to Redis");
  if (reg->connected_func)
    reg->connected_func (reg, reg->connected_data);
}

static void
on_disconnect (const redisAsyncContext *ac, int status)
{
  CoverRegistry *reg = ac->data;

  lost (reg,
      status == REDIS_OK ? "disconnected"
                         : (ac->errstr[0] ? ac->errstr : "connection lost"));
}

static gboolean
on_connect_timeout (gpointer data)
{
  CoverRegistry *reg = data;
  redisAsyncContext *ac = reg->ac;

  g_clear_pointer (&reg->connect_timer, g_source_unref);
  /* not connected: hiredis calls no disconnect callback for it */
  reg->ac = NULL;
  if (ac)
    redisAsyncFree (ac);
  lost (reg, "connecting took too long");
  return G_SOURCE_REMOVE;
}

static void
on_setup_reply (redisAsyncContext *ac, void *r, void *privdata)
{
  redisReply *reply = r;

  if (reply && reply->type == REDIS_REPLY_ERROR)
    g_warning ("registry: %s: %.*s", (const gchar *) privdata,
        (int) MIN (reply->len, 200), reply->str);
}

static void
start_connect (CoverRegistry *reg)
{
  const CoverClusterConfig *c = reg->config;
  redisAsyncContext *ac;
  guint connect_ms = MAX (MIN_CONNECT_TIMEOUT_MS, c->timeout_us / 1000);

  if (reg->closing)
    return;
  ac = c->socket_path ? redisAsyncConnectUnix (c->socket_path)
                      : redisAsyncConnect (c->host, c->port);
  if (!ac || ac->err) {
    lost (reg, ac ? ac->errstr : "out of memory");
    if (ac)
      redisAsyncFree (ac);
    return;
  }
  ac->data = reg;
  reg->ac = ac;
  attach_source (reg, ac);
  redisAsyncSetConnectCallback (ac, on_connect);
  redisAsyncSetDisconnectCallback (ac, on_disconnect);
  /* queued first, so before anything the connected function sends; a
   * command is also what makes hiredis notice the connect */
  if (c->password)
    redisAsyncCommand (ac, on_setup_reply, "AUTH", "AUTH %s", c->password);
  if (c->db)
    redisAsyncCommand (ac, on_setup_reply, "SELECT", "SELECT %u", c->db);
  redisAsyncCommand (ac, on_ping, NULL, "PING");
  reg->connect_timer = g_timeout_source_new (connect_ms);
  g_source_set_callback (reg->connect_timer, on_connect_timeout, reg, NULL);
  g_source_attach (reg->connect_timer, reg->context);
}

static gpointer
registry_thread (gpointer data)
{
  CoverRegistry *reg = data;

  g_main_context_push_thread_default (reg->context);
  start_connect (reg);
  g_main_loop_run (reg->loop);
  g_main_context_pop_thread_default (reg->context);
  return NULL;
}

CoverRegistry *
cover_registry_new (const CoverClusterConfig *config,
    CoverRegistryConnectedFunc connected, gpointer user_data)
{
  CoverRegistry *reg;

  g_return_val_if_fail (config != NULL, NULL);

  reg = g_new0 (CoverRegistry, 1);
  reg->config = config;
  reg->connected_func = connected;
  reg->connected_data = user_data;
  g_mutex_init (&reg->lock);
  reg->context = g_main_context_new ();
  reg->loop = g_main_loop_new (reg->context, FALSE);
  return reg;
}

void
cover_registry_start (CoverRegistry *reg)
{
  g_return_if_fail (reg != NULL);
  g_return_if_fail (reg->thread == NULL);

  reg->thread = g_thread_new ("cover-registry", registry_thread, reg);
}

GMainContext *
cover_registry_get_context (CoverRegistry *reg)
{
  g_return_val_if_fail (reg != NULL, NULL);

  return reg->context;
}

gboolean
cover_registry_is_connected (CoverRegistry *reg)
{
  g_return_val_if_fail (reg != NULL, FALSE);

  return g_atomic_int_get (&reg->connected);
}

static gboolean
close_in_thread (gpointer data)
{
  CoverRegistry *reg = data;
  redisAsyncContext *ac = reg->ac;

  reg->closing = TRUE;
  clear_source (&reg->retry_timer);
  clear_source (&reg->connect_timer);
  if (ac) {
    /* answers the pending commands with NULL: "connection lost" */
    reg->ac = NULL;
    redisAsyncFree (ac);
  }
  clear_source (&reg->ac_source);
  g_atomic_int_set (&reg->connected, FALSE);
  g_main_loop_quit (reg->loop);
  return G_SOURCE_REMOVE;
}

void
cover_registry_free (CoverRegistry *reg)
{
  if (!reg)
    return;
  g_main_context_invoke (reg->context, close_in_thread, reg);
  if (reg->thread)
    g_thread_join (reg->thread);
  /* commands queued after the close: answered "not connected" */
  while (g_main_context_iteration (reg->context, FALSE))
    ;
  g_main_loop_unref (reg->loop);
  g_main_context_unref (reg->context);
  g_mutex_clear (&reg->lock);
  g_free (reg);
}
