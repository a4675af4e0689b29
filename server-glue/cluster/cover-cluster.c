/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The node's part of the registry.  Keys (all under [cluster] key-prefix):
 *   node:<node-id>   → public URL            PX ttl, SET every heartbeat
 *   live:<cid>       → node-id               PX ttl, claimed / refreshed
 *   thumb:<cid>      → "<time µs> <node-id>" PX THUMB_TTL, only if newer
 *   upload:<cid>     → hash data/etag/time   no TTL (the cluster's store)
 * What spans a read and a write is one Lua script of the table below, so
 * that two nodes never interleave inside it. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-cluster.h"

#include <string.h>

#include "coverid.h"
#include "coverthumbnail.h"

/* a thumbnail entry outlives its node's heartbeat: the files are still on
 * that node's disk when it comes back; a node that is not live is skipped */
#define THUMB_TTL_MS (G_GINT64_CONSTANT (30) * 24 * 3600 * 1000)
/* the streams whose newest thumbnail is registered again at the next
 * heartbeat, after their end: the last thumbnail is written while the
 * pipeline shuts down */
#define MAX_RECENT 4096

typedef enum
{
  SCRIPT_CLAIM,
  SCRIPT_RELEASE,
  SCRIPT_THUMB,
  SCRIPT_LOCATE,
  SCRIPT_UPLOAD_GET,
  N_SCRIPTS
} Script;

/* KEYS and ARGV of each are said above it. */
static const gchar *const scripts[N_SCRIPTS] = {
  /* live:<cid>; node-id, ttl ms, node key prefix.  1: ours (set or
   * refreshed), 0: another node that lives holds it */
  [SCRIPT_CLAIM] =
      "local v = redis.call('GET', KEYS[1]) "
      "if v and v ~= ARGV[1] and redis.call('EXISTS', ARGV[3] .. v) == 1 "
      "then return 0 end "
      "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1",
  /* live:<cid>; node-id.  Compare and delete. */
  [SCRIPT_RELEASE] = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                     "return redis.call('DEL', KEYS[1]) end return 0",
  /* thumb:<cid>; time µs, node-id, ttl ms, node key prefix.  Only if newer
   * than the entry, or the entry's node is not live. */
  [SCRIPT_THUMB] =
      "local v = redis.call('GET', KEYS[1]) "
      "if v then local t, n = string.match(v, '^(%d+) (.+)$') "
      "if t and tonumber(t) >= tonumber(ARGV[1]) and "
      "redis.call('EXISTS', ARGV[4] .. n) == 1 then return 0 end end "
      "redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[3]) "
      "return 1",
  /* live:<cid>, thumb:<cid>; node key prefix.  {live node, its URL, thumb
   * node, its URL, thumb time}, '' where none or not live */
  [SCRIPT_LOCATE] = "local r = {'', '', '', '', ''} "
                    "local o = redis.call('GET', KEYS[1]) "
                    "if o then local u = redis.call('GET', ARGV[1] .. o) "
                    "if u then r[1] = o r[2] = u end end "
                    "local t = redis.call('GET', KEYS[2]) "
                    "if t then local tm, n = string.match(t, '^(%d+) (.+)$') "
                    "if n then local u = redis.call('GET', ARGV[1] .. n) "
                    "if u then r[3] = n r[4] = u r[5] = tm end end end "
                    "return r",
  /* upload:<cid>; the ETag known.  {} none, {etag} unchanged, else
   * {etag, time, data} */
  [SCRIPT_UPLOAD_GET] =
      "local e = redis.call('HGET', KEYS[1], 'etag') "
      "if not e then return {} end "
      "if e == ARGV[1] then return {e} end "
      "return redis.call('HMGET', KEYS[1], 'etag', 'time', 'data')",
};

struct _CoverCluster
{
  CoverClusterConfig *config;
  gchar *thumbnail_dir;
  CoverRegistry *registry;
  gchar *node_key;
  gchar *node_prefix; /* <prefix>node: */
  gchar *ttl_ms;
  GSource *heartbeat; /* on the registry's context */

  GMutex lock;
  GHashTable *held;   /* cid: claimed by this node */
  GHashTable *recent; /* cid: ended since the last heartbeat */
};

static gchar *
key_for (CoverCluster *c, const gchar *kind, guint32 cid)
{
  return g_strdup_printf ("%s%s:%u", c->config->key_prefix, kind, cid);
}

/* EVAL of @script with @keys (NULL-terminated, @n_keys of them) and @args */
static void
eval (CoverCluster *c, Script script, GMainContext *context,
    CoverRegistryFunc func, gpointer data, const gchar *const *keys,
    guint n_keys, const gchar *const *args, guint n_args)
{
  const gchar *argv[16];
  g_autofree gchar *numkeys = g_strdup_printf ("%u", n_keys);
  guint argc = 0;

  g_assert (3 + n_keys + n_args <= G_N_ELEMENTS (argv));
  argv[argc++] = "EVAL";
  argv[argc++] = scripts[script];
  argv[argc++] = numkeys;
  for (guint i = 0; i < n_keys; i++)
    argv[argc++] = keys[i];
  for (guint i = 0; i < n_args; i++)
    argv[argc++] = args[i];
  cover_registry_command (c->registry, context, func, data, argc, argv, NULL);
}

static void
log_failure (
    const CoverRegistryReply *reply, const GError *error, gpointer what)
{
  if (error)
    g_debug ("registry: %s: %s", (const gchar *) what, error->message);
}

static void
on_claim_refresh (
    const CoverRegistryReply *reply, const GError *error, gpointer data)
{
  if (reply && reply->type == COVER_REGISTRY_INTEGER && reply->integer == 0)
    g_warning ("registry: another node holds a stream this node pushes "
               "(it was claimed while this node could not refresh it)");
}

static void
claim_async (CoverCluster *c, guint32 cid)
{
  g_autofree gchar *key = key_for (c, "live", cid);
  const gchar *keys[] = { key };
  const gchar *args[] = { c->config->node_id, c->ttl_ms, c->node_prefix };

  eval (c, SCRIPT_CLAIM, NULL, on_claim_refresh, NULL, keys, 1, args, 3);
}

static void register_thumbnail_time (
    CoverCluster *c, guint32 cid, gint64 capture_time);

/* The newest thumbnail of @cid in this node's directory, if any, as the
 * registry's entry (only if newer). */
static void
register_thumbnail (CoverCluster *c, guint32 cid)
{
  g_autofree gchar *dir = cover_thumbnail_dir (c->thumbnail_dir, cid);
  g_autofree gchar *name = cover_thumbnail_newest (dir);
  gint64 capture_time;

  if (name && cover_thumbnail_name_parse (name, &capture_time))
    register_thumbnail_time (c, cid, capture_time);
}

/* The registry's newest thumbnail of @cid: this node's, captured at
 * @capture_time (µs), when that is newer (the script decides). */
static void
register_thumbnail_time (CoverCluster *c, guint32 cid, gint64 capture_time)
{
  g_autofree gchar *key = NULL;
  g_autofree gchar *time = NULL;
  g_autofree gchar *ttl = NULL;

  key = key_for (c, "thumb", cid);
  time = g_strdup_printf ("%" G_GINT64_FORMAT, capture_time);
  ttl = g_strdup_printf ("%" G_GINT64_FORMAT, THUMB_TTL_MS);
  {
    const gchar *keys[] = { key };
    const gchar *args[] = { time, c->config->node_id, ttl, c->node_prefix };

    eval (c, SCRIPT_THUMB, NULL, log_failure, (gpointer) "thumbnail", keys, 1,
        args, 4);
  }
}

/* Every heartbeat and after each (re)connection, on the registry's
 * thread: this node lives, and holds what it holds. */
static void
register_all (CoverCluster *c)
{
  const gchar *node[] = { "SET", c->node_key, c->config->public_url, "PX",
    c->ttl_ms };
  g_autoptr (GArray) held = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (GArray) recent = g_array_new (FALSE, FALSE, sizeof (guint32));
  GHashTableIter it;
  gpointer k;

  if (!cover_registry_is_connected (c->registry))
    return;
  cover_registry_command (c->registry, NULL, log_failure, (gpointer) "node",
      G_N_ELEMENTS (node), node, NULL);
  g_mutex_lock (&c->lock);
  g_hash_table_iter_init (&it, c->held);
  while (g_hash_table_iter_next (&it, &k, NULL)) {
    guint32 cid = GPOINTER_TO_UINT (k);
    g_array_append_val (held, cid);
  }
  g_hash_table_iter_init (&it, c->recent);
  while (g_hash_table_iter_next (&it, &k, NULL)) {
    guint32 cid = GPOINTER_TO_UINT (k);
    g_array_append_val (recent, cid);
  }
  g_hash_table_remove_all (c->recent);
  g_mutex_unlock (&c->lock);
  for (guint i = 0; i < held->len; i++) {
    claim_async (c, g_array_index (held, guint32, i));
    register_thumbnail (c, g_array_index (held, guint32, i));
  }
  for (guint i = 0; i < recent->len; i++)
    register_thumbnail (c, g_array_index (recent, guint32, i));
}

static gboolean
on_heartbeat (gpointer data)
{
  register_all (data);
  return G_SOURCE_CONTINUE;
}

/* After a (re)connection: the newest thumbnail of every client id in this
 * node's directory (a node that restarts still has them; a Redis that
 * restarted empty gets them back). */
static void
register_thumbnails_on_disk (CoverCluster *c)
{
  g_autoptr (GDir) dir = g_dir_open (c->thumbnail_dir, 0, NULL);
  const gchar *name;
  guint32 cid;

  while (dir && (name = g_dir_read_name (dir)))
    if (cover_client_id_parse (name, -1, &cid))
      register_thumbnail (c, cid);
}

static void
on_connected (CoverRegistry *registry, gpointer data)
{
  register_all (data);
  register_thumbnails_on_disk (data);
}

static gboolean
start_heartbeat (gpointer data)
{
  CoverCluster *c = data;

  c->heartbeat = g_timeout_source_new (MAX (1, c->config->heartbeat_us / 1000));
  g_source_set_callback (c->heartbeat, on_heartbeat, c, NULL);
  g_source_attach (c->heartbeat, cover_registry_get_context (c->registry));
  return G_SOURCE_REMOVE;
}

CoverCluster *
cover_cluster_new (CoverClusterConfig *config, const gchar *thumbnail_dir)
{
  CoverCluster *c;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (thumbnail_dir != NULL, NULL);

  c = g_new0 (CoverCluster, 1);
  c->config = config;
  c->thumbnail_dir = g_strdup (thumbnail_dir);
  c->node_key =
      g_strdup_printf ("%snode:%s", config->key_prefix, config->node_id);
  c->node_prefix = g_strdup_printf ("%snode:", config->key_prefix);
  c->ttl_ms = g_strdup_printf ("%" G_GINT64_FORMAT, config->ttl_us / 1000);
  g_mutex_init (&c->lock);
  c->held = g_hash_table_new (NULL, NULL);
  c->recent = g_hash_table_new (NULL, NULL);
  c->registry = cover_registry_new (config, on_connected, c);
  g_main_context_invoke (
      cover_registry_get_context (c->registry), start_heartbeat, c);
  cover_registry_start (c->registry);
  return c;
}

const CoverClusterConfig *
cover_cluster_get_config (CoverCluster *c)
{
  g_return_val_if_fail (c != NULL, NULL);

  return c->config;
}

CoverRegistry *
cover_cluster_get_registry (CoverCluster *c)
{
  g_return_val_if_fail (c != NULL, NULL);

  return c->registry;
}

/* Claims */

gboolean
cover_cluster_claim_live (CoverCluster *c, guint32 cid)
{
  g_autofree gchar *key = NULL;
  g_autoptr (CoverRegistryReply) reply = NULL;
  g_autoptr (GError) err = NULL;
  gboolean granted = TRUE;

  g_return_val_if_fail (c != NULL, TRUE);

  if (cover_registry_is_connected (c->registry)) {
    g_autofree gchar *numkeys = g_strdup ("1");
    const gchar *argv[] = { "EVAL", scripts[SCRIPT_CLAIM], numkeys, NULL,
      c->config->node_id, c->ttl_ms, c->node_prefix };

    key = key_for (c, "live", cid);
    argv[3] = key;
    reply = cover_registry_command_sync (
        c->registry, G_N_ELEMENTS (argv), argv, NULL, &err);
    if (reply && reply->type == COVER_REGISTRY_INTEGER)
      granted = reply->integer != 0;
    else
      g_warning ("stream %u: the registry could not be asked (%s): pushed "
                 "here without a cluster-wide claim",
          cid, err ? err->message : "unexpected reply");
  }
  if (granted) {
    g_mutex_lock (&c->lock);
    g_hash_table_add (c->held, GUINT_TO_POINTER (cid));
    g_mutex_unlock (&c->lock);
  } else {
    g_message ("stream %u: refused, another node of the cluster holds it", cid);
  }
  return granted;
}

typedef struct
{
  CoverCluster *cluster;
  guint32 cid;
  CoverClusterClaimedFunc func;
  gpointer user_data;
} ClaimJob;

static void
on_claimed (const CoverRegistryReply *reply, const GError *error, gpointer data)
{
  ClaimJob *job = data;
  CoverCluster *c = job->cluster;
  gboolean granted = TRUE;

  if (reply && reply->type == COVER_REGISTRY_INTEGER)
    granted = reply->integer != 0;
  else
    g_warning ("stream %u: the registry could not be asked (%s): streamed "
               "here without a cluster-wide claim",
        job->cid, error ? error->message : "unexpected reply");
  if (granted) {
    g_mutex_lock (&c->lock);
    g_hash_table_add (c->held, GUINT_TO_POINTER (job->cid));
    g_mutex_unlock (&c->lock);
  } else {
    g_message (
        "stream %u: refused, another node of the cluster holds it", job->cid);
  }
  job->func (granted, job->user_data);
  g_free (job);
}

void
cover_cluster_claim_live_async (CoverCluster *c, guint32 cid,
    GMainContext *context, CoverClusterClaimedFunc func, gpointer user_data)
{
  ClaimJob *job;

  g_return_if_fail (c != NULL);
  g_return_if_fail (func != NULL);

  job = g_new0 (ClaimJob, 1);
  job->cluster = c;
  job->cid = cid;
  job->func = func;
  job->user_data = user_data;
  /* not connected: the registry answers "down" at once (granted) */
  {
    g_autofree gchar *key = key_for (c, "live", cid);
    const gchar *keys[] = { key };
    const gchar *args[] = { c->config->node_id, c->ttl_ms, c->node_prefix };

    eval (c, SCRIPT_CLAIM, context, on_claimed, job, keys, 1, args, 3);
  }
}

void
cover_cluster_thumbnail_saved (
    CoverCluster *c, guint32 cid, gint64 capture_time)
{
  g_return_if_fail (c != NULL);

  /* else registered from the directory at the next (re)connection */
  if (cover_registry_is_connected (c->registry))
    register_thumbnail_time (c, cid, capture_time);
}

typedef struct
{
  CoverCluster *cluster;
  guint32 cid;
} ReleaseJob;

static gboolean
release_in_registry (gpointer data)
{
  ReleaseJob *job = data;
  CoverCluster *c = job->cluster;
  g_autofree gchar *key = key_for (c, "live", job->cid);
  const gchar *keys[] = { key };
  const gchar *args[] = { c->config->node_id };

  eval (c, SCRIPT_RELEASE, NULL, log_failure, (gpointer) "release", keys, 1,
      args, 1);
  register_thumbnail (c, job->cid);
  return G_SOURCE_REMOVE;
}

void
cover_cluster_release_live (CoverCluster *c, guint32 cid)
{
  ReleaseJob *job;

  g_return_if_fail (c != NULL);

  g_mutex_lock (&c->lock);
  g_hash_table_remove (c->held, GUINT_TO_POINTER (cid));
  if (g_hash_table_size (c->recent) < MAX_RECENT)
    g_hash_table_add (c->recent, GUINT_TO_POINTER (cid));
  g_mutex_unlock (&c->lock);
  job = g_new0 (ReleaseJob, 1);
  job->cluster = c;
  job->cid = cid;
  /* the thumbnail directory is read on the registry's thread */
  g_main_context_invoke_full (cover_registry_get_context (c->registry),
      G_PRIORITY_DEFAULT, release_in_registry, job, g_free);
}

gboolean
cover_cluster_holds_live (CoverCluster *c, guint32 cid)
{
  gboolean held;

  g_return_val_if_fail (c != NULL, FALSE);

  g_mutex_lock (&c->lock);
  held = g_hash_table_contains (c->held, GUINT_TO_POINTER (cid));
  g_mutex_unlock (&c->lock);
  return held;
}

/* Lookups */

/* a caller's callback, carried through a registry command */
typedef struct
{
  gpointer func;
  gpointer user_data;
} Callback;

static Callback *
callback_new (gpointer func, gpointer user_data)
{
  Callback *cb = g_new (Callback, 1);

  cb->func = func;
  cb->user_data = user_data;
  return cb;
}

static gchar *
nonempty (const CoverRegistryReply *reply, guint index)
{
  gchar *s = cover_registry_reply_dup_string (reply, index);

  if (s && !*s)
    g_clear_pointer (&s, g_free);
  return s;
}

static void
on_located (const CoverRegistryReply *reply, const GError *error, gpointer data)
{
  Callback *l = data;
  CoverClusterWhere w = { 0 };
  g_autofree gchar *time = NULL;

  if (reply && reply->type == COVER_REGISTRY_ARRAY && reply->n_elements == 5) {
    w.live_node = nonempty (reply, 0);
    w.live_url = nonempty (reply, 1);
    w.thumb_node = nonempty (reply, 2);
    w.thumb_url = nonempty (reply, 3);
    time = nonempty (reply, 4);
    if (time)
      w.thumb_time = g_ascii_strtoll (time, NULL, 10);
  }
  ((CoverClusterWhereFunc) l->func) (error ? NULL : &w, error, l->user_data);
  g_free (w.live_node);
  g_free (w.live_url);
  g_free (w.thumb_node);
  g_free (w.thumb_url);
  g_free (l);
}

void
cover_cluster_locate (CoverCluster *c, guint32 cid, GMainContext *context,
    CoverClusterWhereFunc func, gpointer user_data)
{
  g_autofree gchar *live = NULL;
  g_autofree gchar *thumb = NULL;
  Callback *l;

  g_return_if_fail (c != NULL);
  g_return_if_fail (func != NULL);

  live = key_for (c, "live", cid);
  thumb = key_for (c, "thumb", cid);
  l = callback_new (func, user_data);
  {
    const gchar *keys[] = { live, thumb };
    const gchar *args[] = { c->node_prefix };

    eval (c, SCRIPT_LOCATE, context, on_located, l, keys, 2, args, 1);
  }
}

/* Uploads */

static void
on_stored (const CoverRegistryReply *reply, const GError *error, gpointer data)
{
  Callback *st = data;

  ((CoverClusterStoredFunc) st->func) (error, st->user_data);
  g_free (st);
}

void
cover_cluster_store_upload (CoverCluster *c, guint32 cid, GBytes *image,
    GMainContext *context, CoverClusterStoredFunc func, gpointer user_data)
{
  g_autofree gchar *key = NULL;
  g_autofree gchar *etag = NULL;
  g_autofree gchar *hex = cover_random_hex (8);
  g_autofree gchar *time = NULL;
  const gchar *argv[8];
  gsize argvlen[8];
  Callback *st;

  g_return_if_fail (c != NULL);
  g_return_if_fail (image != NULL);
  g_return_if_fail (func != NULL);

  key = key_for (c, "upload", cid);
  etag = g_strdup_printf ("\"C%s\"", hex);
  time = g_strdup_printf (
      "%" G_GINT64_FORMAT, g_get_real_time () / G_USEC_PER_SEC);
  argv[0] = "HSET";
  argv[1] = key;
  argv[2] = "etag";
  argv[3] = etag;
  argv[4] = "time";
  argv[5] = time;
  argv[6] = "data";
  argv[7] = g_bytes_get_data (image, &argvlen[7]);
  for (guint i = 0; i < 7; i++)
    argvlen[i] = strlen (argv[i]);
  st = callback_new (func, user_data);
  /* one HSET of every field: the previous upload is replaced whole, at
   * once */
  cover_registry_command (
      c->registry, context, on_stored, st, G_N_ELEMENTS (argv), argv, argvlen);
}

static void
on_fetched (const CoverRegistryReply *reply, const GError *error, gpointer data)
{
  Callback *f = data;
  CoverClusterUpload u = { 0 };
  g_autofree gchar *time = NULL;
  g_autoptr (GError) bad = NULL;
  gboolean found = FALSE;

  if (reply && reply->type == COVER_REGISTRY_ARRAY && reply->n_elements >= 1) {
    u.etag = cover_registry_reply_dup_string (reply, 0);
    if (reply->n_elements == 3) {
      time = cover_registry_reply_dup_string (reply, 1);
      if (reply->element[2]->type == COVER_REGISTRY_STRING)
        u.data = g_bytes_ref (reply->element[2]->string);
      u.time = time ? g_ascii_strtoll (time, NULL, 10) : 0;
    }
    found = u.etag && (reply->n_elements == 1 || u.data);
    if (!found && !error)
      bad = g_error_new (COVER_REGISTRY_ERROR, COVER_REGISTRY_ERROR_REPLY,
          "registry: an upload entry without its fields");
  }
  ((CoverClusterUploadFunc) f->func) (
      found ? &u : NULL, error ? error : bad, f->user_data);
  g_free (u.etag);
  g_clear_pointer (&u.data, g_bytes_unref);
  g_free (f);
}

void
cover_cluster_fetch_upload (CoverCluster *c, guint32 cid,
    const gchar *known_etag, GMainContext *context, CoverClusterUploadFunc func,
    gpointer user_data)
{
  g_autofree gchar *key = NULL;
  Callback *f;

  g_return_if_fail (c != NULL);
  g_return_if_fail (func != NULL);

  key = key_for (c, "upload", cid);
  f = callback_new (func, user_data);
  {
    const gchar *keys[] = { key };
    const gchar *args[] = { known_etag ? known_etag : "" };

    eval (c, SCRIPT_UPLOAD_GET, context, on_fetched, f, keys, 1, args, 1);
  }
}

/* Life */

static gboolean
stop_heartbeat (gpointer data)
{
  CoverCluster *c = data;

  if (c->heartbeat) {
    g_source_destroy (c->heartbeat);
    g_clear_pointer (&c->heartbeat, g_source_unref);
  }
  return G_SOURCE_REMOVE;
}

void
cover_cluster_free (CoverCluster *c)
{
  g_autoptr (GList) held = NULL;

  if (!c)
    return;
  g_main_context_invoke (
      cover_registry_get_context (c->registry), stop_heartbeat, c);
  /* a clean stop: the others need not wait for the TTLs */
  g_mutex_lock (&c->lock);
  held = g_hash_table_get_keys (c->held);
  g_mutex_unlock (&c->lock);
  if (cover_registry_is_connected (c->registry)) {
    const gchar *del[] = { "DEL", c->node_key };
    g_autoptr (CoverRegistryReply) r = NULL;

    for (GList *l = held; l; l = l->next) {
      g_autofree gchar *key = key_for (c, "live", GPOINTER_TO_UINT (l->data));
      const gchar *argv[] = { "EVAL", scripts[SCRIPT_RELEASE], "1", key,
        c->config->node_id };
      g_autoptr (CoverRegistryReply) rr =
          cover_registry_command_sync (c->registry, 5, argv, NULL, NULL);
    }
    r = cover_registry_command_sync (c->registry, 2, del, NULL, NULL);
  }
  cover_registry_free (c->registry);
  g_hash_table_unref (c->held);
  g_hash_table_unref (c->recent);
  g_mutex_clear (&c->lock);
  g_free (c->node_key);
  g_free (c->node_prefix);
  g_free (c->ttl_ms);
  g_free (c->thumbnail_dir);
  cover_config_cluster_free (c->config);
  g_free (c);
}
