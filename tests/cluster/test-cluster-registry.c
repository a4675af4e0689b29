/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The cluster library against a real redis-server (on a unix socket in a
 * temporary directory): two nodes in one process, each its own
 * CoverCluster with its own registry connection.
 *  - a live claim is one node's: the other is refused, cannot release it,
 *    gets it once it is released;
 *  - the newest thumbnail entry moves only to a newer one;
 *  - an upload comes back byte for byte (NULs included), and as "unchanged"
 *    with its ETag;
 *  - Redis down: claims are granted locally, uploads fail at once, and
 *    once Redis is back the node re-registers what it holds by itself. */

#include <glib/gstdio.h>

#include "cluster-util.h"
#include "cover-config.h"
#include "cover-cluster.h"
#include "coverthumbnail.h"
#include "cs-test-proc.h"
#include "cs-test-util.h"

typedef struct
{
  gchar *root;
  ClRedis *redis;
  CoverCluster *a, *b;
  gchar *thumbs_a, *thumbs_b;
} Fixture;

/* A node with a heartbeat of 0.2 s.  The command timeout and the ttl are
 * long (5 s) unless @timeout says otherwise: on a loaded machine (the
 * sanitizer build beside the e2e tests) a round trip of 0.5 s or a
 * heartbeat 1 s late happens, and would make a claim look granted or
 * expired. */
static CoverCluster *
node_new_full (Fixture *f, const gchar *name, const gchar *thumbs,
    const gchar *password, const gchar *timeout)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) err = NULL;
  g_autofree gchar *url = g_strdup_printf ("http://%s.example:8080", name);
  CoverClusterConfig *config;

  g_key_file_set_string (file, "cluster", "redis", f->redis->socket_path);
  g_key_file_set_string (file, "cluster", "node-id", name);
  g_key_file_set_string (file, "cluster", "public-url", url);
  g_key_file_set_string (file, "cluster", "heartbeat", "0.2");
  g_key_file_set_string (file, "cluster", "ttl", "5");
  g_key_file_set_string (file, "cluster", "timeout", timeout ? timeout : "5");
  if (password)
    g_key_file_set_string (file, "cluster", "password", password);
  config = cover_config_cluster_load (file, &err);
  g_assert_no_error (err);
  g_assert_nonnull (config);
  g_assert_cmpint (g_mkdir_with_parents (thumbs, 0700), ==, 0);
  return cover_cluster_new (config, thumbs);
}

static CoverCluster *
node_new (Fixture *f, const gchar *name, const gchar *thumbs)
{
  return node_new_full (f, name, thumbs, NULL, NULL);
}

static gboolean
connected (gpointer node)
{
  return cover_registry_is_connected (cover_cluster_get_registry (node));
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->root = cs_test_make_tmpdir ("coversnap-cluster-XXXXXX");
  f->redis = cl_redis_start (f->root, FALSE);
  f->thumbs_a = g_build_filename (f->root, "a", NULL);
  f->thumbs_b = g_build_filename (f->root, "b", NULL);
  f->a = node_new (f, "a", f->thumbs_a);
  f->b = node_new (f, "b", f->thumbs_b);
  g_assert_true (
      cs_test_poll (connected, f->a, CL_WAIT_S * G_USEC_PER_SEC, 10000));
  g_assert_true (
      cs_test_poll (connected, f->b, CL_WAIT_S * G_USEC_PER_SEC, 10000));
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  cover_cluster_free (f->a);
  cover_cluster_free (f->b);
  cl_redis_free (f->redis);
  cs_test_rm_rf (f->root);
  g_free (f->root);
  g_free (f->thumbs_a);
  g_free (f->thumbs_b);
}

/* Answers on the test's own context */

typedef struct
{
  gboolean done;
  gboolean failed;
  CoverClusterWhere where;
  GBytes *data;
  gchar *etag;
  gboolean found;
} Answer;

static void
answer_clear (Answer *a)
{
  g_free (a->where.live_node);
  g_free (a->where.live_url);
  g_free (a->where.thumb_node);
  g_free (a->where.thumb_url);
  g_clear_pointer (&a->data, g_bytes_unref);
  g_free (a->etag);
  memset (a, 0, sizeof (*a));
}

static void
wait_answer (GMainContext *ctx, Answer *a)
{
  gint64 deadline = g_get_monotonic_time () + CL_WAIT_S * G_USEC_PER_SEC;

  while (!a->done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (ctx, FALSE) || (g_usleep (1000), TRUE);
  g_assert_true (a->done);
}

static void
on_where (const CoverClusterWhere *w, const GError *error, gpointer data)
{
  Answer *a = data;

  a->done = TRUE;
  a->failed = error != NULL;
  if (w) {
    a->where.live_node = g_strdup (w->live_node);
    a->where.live_url = g_strdup (w->live_url);
    a->where.thumb_node = g_strdup (w->thumb_node);
    a->where.thumb_url = g_strdup (w->thumb_url);
    a->where.thumb_time = w->thumb_time;
  }
}

static void
locate (CoverCluster *c, guint32 cid, Answer *a)
{
  g_autoptr (GMainContext) ctx = g_main_context_new ();

  answer_clear (a);
  cover_cluster_locate (c, cid, ctx, on_where, a);
  wait_answer (ctx, a);
}

static void
test_claims (Fixture *f, gconstpointer data)
{
  Answer a = { 0 };

  g_assert_true (cover_cluster_claim_live (f->a, 7));
  /* twice: the owner's claim is a refresh */
  g_assert_true (cover_cluster_claim_live (f->a, 7));
  g_assert_false (cover_cluster_claim_live (f->b, 7));
  g_assert_false (cover_cluster_holds_live (f->b, 7));
  locate (f->b, 7, &a);
  g_assert_false (a.failed);
  g_assert_cmpstr (a.where.live_node, ==, "a");
  g_assert_cmpstr (a.where.live_url, ==, "http://a.example:8080");

  /* only the owner releases it (compare-and-delete) */
  cover_cluster_release_live (f->b, 7);
  locate (f->b, 7, &a);
  g_assert_cmpstr (a.where.live_node, ==, "a");
  cover_cluster_release_live (f->a, 7);
  /* a's release is done once a's next command is (one connection, in
   * order); b's connection is another, so ask a first */
  locate (f->a, 7, &a);
  locate (f->b, 7, &a);
  g_assert_null (a.where.live_node);
  g_assert_true (cover_cluster_claim_live (f->b, 7));
  locate (f->a, 7, &a);
  g_assert_cmpstr (a.where.live_node, ==, "b");
  answer_clear (&a);
}

static void
put_thumbnail (const gchar *base, guint32 cid, gint64 capture_time)
{
  g_autofree gchar *dir = cover_thumbnail_dir (base, cid);
  g_autofree gchar *name = cover_thumbnail_name (capture_time);
  g_autofree gchar *path = g_build_filename (dir, name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, "\xff\xd8 not read", -1, NULL));
}

typedef struct
{
  CoverCluster *node;
  guint32 cid;
  const gchar *want;
} WantThumb;

static gboolean
thumb_is (gpointer data)
{
  WantThumb *w = data;
  Answer a = { 0 };
  gboolean ok;

  locate (w->node, w->cid, &a);
  ok = g_strcmp0 (a.where.thumb_node, w->want) == 0;
  answer_clear (&a);
  return ok;
}

static void
test_thumbnail_newer (Fixture *f, gconstpointer data)
{
  gint64 t0 = G_GINT64_CONSTANT (1796000000) * G_USEC_PER_SEC;
  WantThumb want_a = { f->b, 9, "a" };
  Answer a = { 0 };

  /* a's newest thumbnail of 9 is newer than b's */
  put_thumbnail (f->thumbs_a, 9, t0 + 2 * G_USEC_PER_SEC);
  put_thumbnail (f->thumbs_b, 9, t0);
  g_assert_true (cover_cluster_claim_live (f->a, 9));
  cover_cluster_release_live (f->a, 9);
  g_assert_true (
      cs_test_poll (thumb_is, &want_a, CL_WAIT_S * G_USEC_PER_SEC, 10000));
  /* b's older one does not replace it */
  g_assert_true (cover_cluster_claim_live (f->b, 9));
  cover_cluster_release_live (f->b, 9);
  /* (the release and its thumbnail are done once a later command is) */
  locate (f->b, 9, &a);
  locate (f->b, 9, &a);
  g_assert_cmpstr (a.where.thumb_node, ==, "a");
  g_assert_cmpint (a.where.thumb_time, ==, t0 + 2 * G_USEC_PER_SEC);
  /* a newer one of b does */
  put_thumbnail (f->thumbs_b, 9, t0 + 5 * G_USEC_PER_SEC);
  g_assert_true (cover_cluster_claim_live (f->b, 9));
  cover_cluster_release_live (f->b, 9);
  want_a.want = "b";
  g_assert_true (
      cs_test_poll (thumb_is, &want_a, CL_WAIT_S * G_USEC_PER_SEC, 10000));
  locate (f->a, 9, &a);
  g_assert_cmpstr (a.where.thumb_url, ==, "http://b.example:8080");
  g_assert_cmpint (a.where.thumb_time, ==, t0 + 5 * G_USEC_PER_SEC);
  answer_clear (&a);
}

static void
on_stored (const GError *error, gpointer data)
{
  Answer *a = data;

  a->done = TRUE;
  a->failed = error != NULL;
}

static void
on_upload (const CoverClusterUpload *u, const GError *error, gpointer data)
{
  Answer *a = data;

  a->done = TRUE;
  a->failed = error != NULL;
  a->found = u != NULL;
  if (u) {
    a->data = u->data ? g_bytes_ref (u->data) : NULL;
    a->etag = g_strdup (u->etag);
  }
}

static gboolean
store (CoverCluster *c, guint32 cid, GBytes *image)
{
  g_autoptr (GMainContext) ctx = g_main_context_new ();
  Answer a = { 0 };

  cover_cluster_store_upload (c, cid, image, ctx, on_stored, &a);
  wait_answer (ctx, &a);
  return !a.failed;
}

static void
fetch (CoverCluster *c, guint32 cid, const gchar *etag, Answer *a)
{
  g_autoptr (GMainContext) ctx = g_main_context_new ();

  answer_clear (a);
  cover_cluster_fetch_upload (c, cid, etag, ctx, on_upload, a);
  wait_answer (ctx, a);
}

static void
test_upload (Fixture *f, gconstpointer data)
{
  static const guint8 image[] = { 0xff, 0xd8, 0, 1, 2, 0, 0xff, 0xd9 };
  g_autoptr (GBytes) bytes = g_bytes_new_static (image, sizeof (image));
  g_autoptr (GBytes) other = g_bytes_new_static (image, 4);
  g_autofree gchar *etag = NULL;
  Answer a = { 0 };

  fetch (f->b, 5, NULL, &a);
  g_assert_false (a.failed);
  g_assert_false (a.found);

  g_assert_true (store (f->a, 5, bytes));
  fetch (f->b, 5, NULL, &a);
  g_assert_false (a.failed);
  g_assert_true (a.found);
  g_assert_true (g_bytes_equal (a.data, bytes));
  g_assert_true (
      g_str_has_prefix (a.etag, "\"") && g_str_has_suffix (a.etag, "\""));
  etag = g_strdup (a.etag);
  /* unchanged: only the ETag comes back */
  fetch (f->b, 5, etag, &a);
  g_assert_true (a.found);
  g_assert_null (a.data);
  /* replaced: a new ETag, the new bytes */
  g_assert_true (store (f->b, 5, other));
  fetch (f->a, 5, etag, &a);
  g_assert_true (g_bytes_equal (a.data, other));
  g_assert_cmpstr (a.etag, !=, etag);
  answer_clear (&a);
}

static gboolean
fetch_works (gpointer node)
{
  Answer a = { 0 };
  gboolean ok;

  fetch (node, 5, NULL, &a);
  ok = !a.failed && !a.found;
  answer_clear (&a);
  return ok;
}

/* A reply over the bound (an entry someone else wrote, bigger than any
 * upload may be) is an error, not an allocation of its size */
static void
test_reply_bound (Fixture *f, gconstpointer data)
{
  gsize size = COVER_CONFIG_MAX_UPLOAD_SIZE + 128 * 1024;
  g_autofree gchar *big = g_malloc (size + 1);
  const gchar *argv[] = { "redis-cli", "-s", f->redis->socket_path, "-x",
    "HSET", "coversnap:upload:6", "data", NULL };
  g_auto (CsTestRun) run = { 0 };
  g_autofree gchar *set = NULL;
  Answer a = { 0 };

  memset (big, 'x', size);
  big[size] = '\0';
  cs_test_run (&run, argv, big, NULL);
  g_assert_cmpint (run.status, ==, 0);
  set = cl_redis_cli (f->redis, "HSET coversnap:upload:6 etag \"X\" time 1");
  fetch (f->b, 6, NULL, &a);
  g_assert_true (a.failed);
  g_assert_false (a.found);
  /* and the connection goes on (once it has read the big reply: on a
   * loaded machine that may take longer than a command's timeout) */
  g_assert_true (
      cs_test_poll (fetch_works, f->b, CL_WAIT_S * G_USEC_PER_SEC, 50 * 1000));
  answer_clear (&a);
}

/* A node is connected once Redis answers its commands: not with a wrong
 * password (AUTH refused, PING refused: the connection is made again
 * later), with the right one it is */
static void
test_password (Fixture *f, gconstpointer data)
{
  g_autofree gchar *set = cl_redis_cli (f->redis, "CONFIG SET requirepass pw");
  g_autofree gchar *thumbs = g_build_filename (f->root, "p", NULL);
  CoverCluster *wrong, *right;

  g_assert_cmpstr (set, ==, "OK");
  wrong = node_new_full (f, "w", thumbs, "not-pw", NULL);
  right = node_new_full (f, "p", thumbs, "pw", NULL);
  g_assert_true (
      cs_test_poll (connected, right, CL_WAIT_S * G_USEC_PER_SEC, 10000));
  g_assert_false (connected (wrong));
  g_assert_true (cover_cluster_claim_live (right, 31));
  cover_cluster_free (wrong);
  cover_cluster_free (right);
}

static gboolean
not_connected (gpointer node)
{
  return !connected (node);
}

typedef struct
{
  Fixture *f;
  guint32 cid;
} Reregistered;

static gboolean
live_is_a (gpointer data)
{
  Reregistered *r = data;
  Answer a = { 0 };
  gboolean ok;

  locate (r->f->b, r->cid, &a);
  ok = g_strcmp0 (a.where.live_node, "a") == 0;
  answer_clear (&a);
  return ok;
}

static void
test_redis_down (Fixture *f, gconstpointer data)
{
  static const guint8 image[] = { 0xff, 0xd8, 0xff, 0xd9 };
  g_autoptr (GBytes) bytes = g_bytes_new_static (image, sizeof (image));
  Reregistered rr = { f, 11 };
  Answer a = { 0 };

  g_assert_true (cover_cluster_claim_live (f->a, 11));
  cl_redis_kill (f->redis);
  g_assert_true (
      cs_test_poll (not_connected, f->a, CL_WAIT_S * G_USEC_PER_SEC, 10000));
  /* served locally meanwhile */
  g_assert_true (cover_cluster_claim_live (f->a, 12));
  g_assert_false (store (f->a, 13, bytes));
  locate (f->a, 11, &a);
  g_assert_true (a.failed);

  /* back: a nothing-persisted Redis is empty, and the node fills it again
   * with what it holds, by itself */
  cl_redis_restart (f->redis);
  g_assert_true (
      cs_test_poll (connected, f->a, CL_WAIT_S * G_USEC_PER_SEC, 10000));
  g_assert_true (
      cs_test_poll (live_is_a, &rr, CL_WAIT_S * G_USEC_PER_SEC, 10000));
  rr.cid = 12;
  g_assert_true (
      cs_test_poll (live_is_a, &rr, CL_WAIT_S * G_USEC_PER_SEC, 10000));
  g_assert_false (cover_cluster_claim_live (f->b, 12));
  g_assert_true (store (f->a, 13, bytes));
  answer_clear (&a);
}

static void
test_paused_redis_times_out (Fixture *f, gconstpointer data)
{
  static const guint8 image[] = { 0xff, 0xd8, 0xff, 0xd9 };
  g_autoptr (GBytes) bytes = g_bytes_new_static (image, sizeof (image));
  g_autofree gchar *thumbs = g_build_filename (f->root, "t", NULL);
  CoverCluster *c = node_new_full (f, "t", thumbs, NULL, "0.5");

  g_assert_true (
      cs_test_poll (connected, c, CL_WAIT_S * G_USEC_PER_SEC, 10000));
  /* a Redis that does not answer: the claim and the upload end with the
   * command timeout (0.5 s here, not a wait for ever) */
  cl_redis_pause (f->redis, TRUE);
  g_assert_true (cover_cluster_claim_live (c, 21));
  g_assert_false (store (c, 21, bytes));
  cl_redis_pause (f->redis, FALSE);
  g_assert_true (
      cs_test_poll (connected, c, CL_WAIT_S * G_USEC_PER_SEC, 10000));
  g_assert_true (store (c, 21, bytes));
  cover_cluster_free (c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* losing Redis is a warning of the library's (the tests cause it);
   * criticals stay fatal */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
#define ADD(path, func)                                                        \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/cluster/claims", test_claims);
  ADD ("/cluster/thumbnail-only-if-newer", test_thumbnail_newer);
  ADD ("/cluster/upload", test_upload);
  ADD ("/cluster/reply-bound", test_reply_bound);
  ADD ("/cluster/password", test_password);
  ADD ("/cluster/redis-down", test_redis_down);
  ADD ("/cluster/redis-paused", test_paused_redis_times_out);
  return g_test_run ();
}
