/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The cluster end to end: a redis-server of the test's own (unix socket),
 * three coversnapd processes A, B, C on 127.0.0.1 (distinct ports; C with
 * forward=proxy), devices pushing with gst-launch-1.0 over RTSP, covers
 * fetched with libsoup (no redirect following) and curl (with and without
 * -L).
 *  - push red to B: A answers 302 to B, curl -L gets red; C proxies it
 *    (200, red); the push stopped, A sends to B's newest thumbnail; an
 *    upload via A, B stopped: C serves the upload byte for byte;
 *  - a second push of the same client id to C while B pushes: refused;
 *  - B SIGKILLed while it pushes: A stops sending clients to B within the
 *    ttl; B restarted registers itself again;
 *  - Redis killed: B still serves its live cover, an upload is 503 and
 *    replaces nothing; Redis back (appendfsync always): the claims are
 *    re-registered by the nodes, the earlier upload is intact;
 *  - the stream moves from B to C while A is asked: a redirected request
 *    is never redirected again. */

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "cluster-util.h"
#include "cs-test-http.h"
#include "coverthumbnail.h"
#include "cs-test-image.h"
#include "e2e-ingest-util.h"
#include "e2e-util.h"

#define CID 42
#define UPLOAD_CID 43
#define CAM_USER "viewer"
#define CAM_PASSWORD "Pw-3a9c"

typedef struct
{
  const gchar *name;
  gchar *root;
  gchar *config_path;
  gchar *log_path;
  guint16 http_port;
  guint16 rtsp_port;
  guint16 rtmp_port; /* of its nginx, when the test starts one */
  GSubprocess *proc;
} Node;

/* how a test's cluster is set up */
typedef struct
{
  gboolean durable;        /* Redis with appendfsync always */
  gboolean slow_heartbeat; /* 30 s: what is registered between comes from
                            * events, not from the heartbeat */
  gboolean camera;         /* B pulls CID from an RTSP camera (pull=) */
} Setup;

typedef struct
{
  gchar *root;
  ClRedis *redis;
  Node nodes[3]; /* A, B, C */
  SoupSession *session;
  GPtrArray *pushers;
  const Setup *setup;
  GSubprocess *camera; /* e2e-camera, with Setup camera */
  guint16 camera_port;
} Fixture;

#define A(f) (&(f)->nodes[0])
#define B(f) (&(f)->nodes[1])
#define C(f) (&(f)->nodes[2])

/* Reads stdout lines up to "@what ADDR:PORT" (the cluster line comes
 * first). */
static guint16
read_port (GDataInputStream *in, const gchar *what)
{
  for (guint i = 0; i < 8; i++) {
    g_autofree gchar *line = NULL;
    g_autoptr (GError) err = NULL;

    line = g_data_input_stream_read_line (in, NULL, NULL, &err);
    g_assert_no_error (err);
    g_assert_nonnull (line);
    if (g_str_has_prefix (line, what))
      return (guint16) g_ascii_strtoull (strrchr (line, ':') + 1, NULL, 10);
  }
  g_assert_not_reached ();
}

static void
node_start (Node *n)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GDataInputStream) in = NULL;

  n->proc = e2e_spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE, n->log_path, &err,
      cs_test_program ("COVERSNAPD"), "--config", n->config_path, NULL);
  g_assert_no_error (err);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (n->proc));
  g_assert_cmpuint (read_port (in, "http on "), ==, n->http_port);
  n->rtsp_port = read_port (in, "rtsp on ");
}

static void
node_set_up (Fixture *f, Node *n, const gchar *name, const gchar *forward,
    gboolean pulls)
{
  g_autofree gchar *config = NULL, *store = NULL, *data = NULL;
  g_autofree gchar *pull = NULL;

  n->name = name;
  n->root = g_build_filename (f->root, name, NULL);
  store = g_build_filename (n->root, "store", NULL);
  data = g_build_filename (n->root, "data", NULL);
  g_assert_cmpint (g_mkdir_with_parents (store, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (data, 0700), ==, 0);
  n->log_path = g_build_filename (n->root, "coversnapd.log", NULL);
  n->config_path = g_build_filename (n->root, "coversnapd.ini", NULL);
  n->http_port = cl_free_port ();
  n->rtmp_port = cl_free_port ();
  config = g_strdup_printf ("[server]\n"
                            "listen-address=127.0.0.1\n"
                            "port=%u\n"
                            "data-dir=%s\n"
                            "store-dir=%s\n"
                            "live-timeout=2\n"
                            "[app.e2e]\n"
                            "key=" E2E_KEY "\n"
                            "cids=42,43\n"
                            "[ingest]\n"
                            "rtsp-port=0\n"
                            "rtmp-url=rtmp://127.0.0.1:%u\n"
                            "[stream.default]\n"
                            "min-interval=0\n"
                            "thumbnails=true\n"
                            "thumbnail-interval=1\n"
                            "[cluster]\n"
                            "redis=%s\n"
                            "node-id=%s\n"
                            "public-url=http://127.0.0.1:%u\n"
                            "heartbeat=%s\n"
                            "ttl=%s\n"
                            /* a bound for a loaded machine, not a
                             * measurement */
                            "timeout=2\n"
                            "forward=%s\n",
      n->http_port, data, store, n->rtmp_port, f->redis->socket_path, name,
      n->http_port, f->setup->slow_heartbeat ? "30" : "0.5",
      f->setup->slow_heartbeat ? "90" : "2", forward);
  if (pulls) {
    pull = g_strdup_printf ("%s[stream.%u]\n"
                            "pull=rtsp://" CAM_USER ":" CAM_PASSWORD
                            "@127.0.0.1:%u/cam\n",
        config, CID, f->camera_port);
    g_free (config);
    config = g_steal_pointer (&pull);
  }
  g_assert_true (g_file_set_contents (n->config_path, config, -1, NULL));
  node_start (n);
}

static void
node_log (Node *n)
{
  g_autofree gchar *log = NULL;

  if (g_file_get_contents (n->log_path, &log, NULL, NULL))
    g_test_message ("coversnapd %s:\n%s", n->name, log);
}

/* lines of @n's log with @text */
static guint
log_count (Node *n, const gchar *text)
{
  g_autofree gchar *log = NULL;
  g_auto (GStrv) lines = NULL;
  guint count = 0;

  g_assert_true (g_file_get_contents (n->log_path, &log, NULL, NULL));
  lines = g_strsplit (log, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    count += strstr (lines[i], text) != NULL;
  return count;
}

/* SIGTERM: a clean stop (it releases what it holds) */
static void
node_stop (Node *n)
{
  if (!n->proc)
    return;
  if (g_subprocess_get_identifier (n->proc)) {
    g_subprocess_send_signal (n->proc, SIGTERM);
    g_assert_cmpint (cs_test_wait_child (n->proc, CL_WAIT_S), ==, 0);
  }
  g_clear_object (&n->proc);
}

static void
node_kill (Node *n)
{
  cs_test_kill_child (n->proc);
  g_clear_object (&n->proc);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->setup = data;
  f->root = cs_test_make_tmpdir ("coversnap-e2e-cluster-XXXXXX");
  f->redis = cl_redis_start (f->root, f->setup->durable);
  if (f->setup->camera) {
    g_autoptr (GDataInputStream) in = NULL;
    g_autoptr (GError) err = NULL;

    f->camera = e2e_spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE, NULL, &err,
        cs_test_program ("E2E_CAMERA"), "0", CAM_USER, CAM_PASSWORD, "red",
        NULL);
    g_assert_no_error (err);
    in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (f->camera));
    f->camera_port = e2e_read_port (in, "rtsp on ");
  }
  node_set_up (f, A (f), "a", "redirect", FALSE);
  node_set_up (f, B (f), "b", "redirect", f->setup->camera);
  node_set_up (f, C (f), "c", "proxy", FALSE);
  f->session = cs_test_session_new (10);
  f->pushers = g_ptr_array_new_with_free_func (g_object_unref);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < f->pushers->len; i++)
    cs_test_kill_child (g_ptr_array_index (f->pushers, i));
  g_ptr_array_unref (f->pushers);
  if (f->camera)
    cs_test_kill_child (f->camera);
  g_clear_object (&f->camera);
  for (guint i = 0; i < 3; i++) {
    Node *n = &f->nodes[i];

    node_stop (n);
    node_log (n);
    g_free (n->root);
    g_free (n->config_path);
    g_free (n->log_path);
  }
  cl_redis_free (f->redis);
  g_object_unref (f->session);
  cs_test_rm_rf (f->root);
  g_free (f->root);
}

/* Pushes and requests */

static GSubprocess *
push (Fixture *f, Node *n, const gchar *pattern)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *token = e2e_token_for (CID, E2E_KEY);
  g_autofree gchar *location =
      g_strdup_printf ("location=rtsp://127.0.0.1:%u/live/%u?token=%s",
          n->rtsp_port, CID, token);
  g_autofree gchar *pat = g_strdup_printf ("pattern=%s", pattern);
  GSubprocess *p;

  p = e2e_spawn (
      G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
      NULL, &err, "gst-launch-1.0", "-q", "videotestsrc", pat, "is-live=true",
      "!", "video/x-raw,format=I420,width=320,height=240,framerate=25/1", "!",
      "x264enc", "tune=zerolatency", "key-int-max=25", "!", "rtspclientsink",
      location, NULL);
  g_assert_no_error (err);
  g_ptr_array_add (f->pushers, p);
  return p;
}

typedef struct
{
  guint status;
  gchar *source;
  gchar *location;
  gchar *retry_after;
  GBytes *body;
} Resp;

static void
resp_free (Resp *r)
{
  g_free (r->source);
  g_free (r->location);
  g_free (r->retry_after);
  g_clear_pointer (&r->body, g_bytes_unref);
  g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Resp, resp_free);

static gchar *
cover_url (Node *n, guint32 cid)
{
  g_autofree gchar *token = e2e_token_for (cid, E2E_KEY);

  return g_strdup_printf ("http://127.0.0.1:%u/v2/snapshots/%u/cover"
                          "?client_token=%s",
      n->http_port, cid, token);
}

/* GET @url without following a redirect */
static Resp *
get_url (Fixture *f, const gchar *url)
{
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GError) err = NULL;
  SoupMessageHeaders *h;
  Resp *r = g_new0 (Resp, 1);

  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  r->body = soup_session_send_and_read (f->session, msg, NULL, &err);
  g_assert_no_error (err);
  r->status = soup_message_get_status (msg);
  h = soup_message_get_response_headers (msg);
  r->source = g_strdup (soup_message_headers_get_one (h, "X-Cover-Source"));
  r->location = g_strdup (soup_message_headers_get_one (h, "Location"));
  r->retry_after = g_strdup (soup_message_headers_get_one (h, "Retry-After"));
  return r;
}

static Resp *
get (Fixture *f, Node *n, guint32 cid)
{
  g_autofree gchar *url = cover_url (n, cid);

  return get_url (f, url);
}

typedef struct
{
  Fixture *f;
  Node *node;
  guint32 cid;
  guint status;
  const gchar *source; /* or NULL: any */
  Node *redirect_to;   /* with 302 */
} Want;

static gboolean
answers (gpointer data)
{
  Want *w = data;
  g_autoptr (Resp) r = get (w->f, w->node, w->cid);
  g_autofree gchar *prefix = NULL;

  g_test_message ("%s: %u %s %s", w->node->name, r->status,
      r->source ? r->source : "-", r->location ? r->location : "-");
  if (r->status != w->status)
    return FALSE;
  if (w->source && g_strcmp0 (r->source, w->source) != 0)
    return FALSE;
  if (w->redirect_to) {
    prefix =
        g_strdup_printf ("http://127.0.0.1:%u/", w->redirect_to->http_port);
    return r->location && g_str_has_prefix (r->location, prefix);
  }
  return TRUE;
}

static void
wait_answer (Fixture *f, Node *n, guint32 cid, guint status,
    const gchar *source, Node *redirect_to)
{
  Want w = { f, n, cid, status, source, redirect_to };

  g_assert_true (
      cs_test_poll (answers, &w, CL_WAIT_S * G_USEC_PER_SEC, 100 * 1000));
}

/* curl, a client nobody here wrote: "STATUS REDIRECT_URL" and the body in
 * @out_path */
static gchar *
curl (const gchar *url, gboolean follow, const gchar *out_path)
{
  const gchar *argv[] = { "curl", "-s", "--max-time", "10", "-o", out_path,
    "-w", "%{http_code} %{redirect_url}", follow ? "-L" : "-s", url, NULL };
  g_auto (CsTestRun) run = { 0 };

  cs_test_run (&run, argv, NULL, NULL);
  g_assert_cmpint (run.status, ==, 0);
  return g_strstrip (cs_test_bytes_to_string (run.out));
}

static guint
upload (Fixture *f, Node *n, guint32 cid, GBytes *image)
{
  g_autofree gchar *token = e2e_token_for (cid, E2E_KEY);
  g_autofree gchar *url = g_strdup_printf (
      "http://127.0.0.1:%u/v2/devices/%u/snapshots?client_token=%s",
      n->http_port, cid, token);
  g_autoptr (SoupMessage) msg =
      cs_test_upload_message (url, "file", "cover.png", "image/png", image);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) err = NULL;

  body = soup_session_send_and_read (f->session, msg, NULL, &err);
  g_assert_no_error (err);
  if (soup_message_get_status (msg) == SOUP_STATUS_SERVICE_UNAVAILABLE) {
    g_autofree gchar *text = cs_test_bytes_to_string (body);

    g_assert_nonnull (strstr (text, "\"unavailable\""));
  }
  return soup_message_get_status (msg);
}

/* The tests */

static void
test_forward (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = cover_url (A (f), CID);
  g_autofree gchar *out = g_build_filename (f->root, "curl.jpg", NULL);
  g_autofree gchar *b_url = g_strdup_printf (
      "http://127.0.0.1:%u/v2/snapshots/%u/cover?", B (f)->http_port, CID);
  g_autoptr (GBytes) png = cs_test_png_solid (16, 16, 0, 200, 0);
  g_autofree gchar *said = NULL;
  g_autofree gchar *jpeg = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (Resp) r = NULL;
  gsize len;

  push (f, B (f), "red");
  wait_answer (f, B (f), CID, 200, "live", NULL);

  /* A: 302 to B with the same path and query, marked */
  said = curl (url, FALSE, out);
  g_assert_true (g_str_has_prefix (said, "302 "));
  g_assert_true (g_str_has_prefix (said + 4, b_url));
  g_assert_nonnull (strstr (said, "client_token="));
  g_assert_true (g_str_has_suffix (said, "&forwarded=1"));
  g_clear_pointer (&said, g_free);
  /* followed: B's live cover */
  said = curl (url, TRUE, out);
  g_assert_cmpstr (said, ==, "200");
  g_assert_true (g_file_get_contents (out, &jpeg, &len, NULL));
  bytes = g_bytes_new_take (g_steal_pointer (&jpeg), len);
  e2e_assert_red (bytes, 320, 240);

  /* C proxies: 200 from C itself, red */
  r = get (f, C (f), CID);
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (r->source, ==, "live");
  e2e_assert_red (r->body, 320, 240);
  g_clear_pointer (&r, resp_free);

  /* the push stops: A sends clients to B's newest thumbnail */
  cs_test_kill_child (g_ptr_array_index (f->pushers, 0));
  wait_answer (f, B (f), CID, 200, "record", NULL);
  wait_answer (f, A (f), CID, 302, NULL, B (f));
  r = get (f, A (f), CID);
  {
    g_autoptr (Resp) followed = get_url (f, r->location);

    g_assert_cmpuint (followed->status, ==, 200);
    g_assert_cmpstr (followed->source, ==, "record");
  }
  g_clear_pointer (&r, resp_free);

  /* an upload via A; everything of B stops; C serves the upload */
  g_assert_cmpuint (upload (f, A (f), CID, png), ==, 200);
  node_stop (B (f));
  r = get (f, C (f), CID);
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (r->source, ==, "upload");
  g_assert_true (g_bytes_equal (r->body, png));
}

/* B still serves its red live cover, A still sends clients to B */
static void
assert_b_holds_red (Fixture *f)
{
  g_autoptr (Resp) r = get (f, B (f), CID);
  g_autoptr (Resp) a = get (f, A (f), CID);

  g_assert_cmpuint (r->status, ==, 200);
  e2e_assert_red (r->body, 320, 240);
  g_assert_cmpuint (a->status, ==, 302);
}

static void
test_one_pusher (Fixture *f, gconstpointer data)
{
  GSubprocess *second;

  push (f, B (f), "red");
  wait_answer (f, B (f), CID, 200, "live", NULL);
  /* the same client id on C while B's owner lives: refused (453), the
   * pusher gives up */
  second = push (f, C (f), "blue");
  g_assert_cmpint (cs_test_wait_child (second, CL_WAIT_S), >, 0);
  assert_b_holds_red (f);
}

static gboolean
has_thumbnail (gpointer data)
{
  Node *n = data;
  g_autofree gchar *dir =
      g_build_filename (n->root, "data", "thumbnails", "42", NULL);

  return g_file_test (dir, G_FILE_TEST_IS_DIR) &&
      cs_test_count_dir (dir, ".jpg") > 0;
}

static void
test_sigkill (Fixture *f, gconstpointer data)
{
  push (f, B (f), "red");
  wait_answer (f, B (f), CID, 200, "live", NULL);
  wait_answer (f, A (f), CID, 302, NULL, B (f));
  g_assert_true (cs_test_poll (
      has_thumbnail, B (f), CL_WAIT_S * G_USEC_PER_SEC, 100 * 1000));
  /* no clean stop: B's keys go with their TTL (2 s); A has no thumbnail
   * and no upload of its own */
  node_kill (B (f));
  /* C (proxy) asked while the registry may still name B: the fetch fails
   * at once and the rest of C's chain answers (nothing: 404), no 5xx */
  {
    g_autoptr (Resp) r = get (f, C (f), CID);

    g_assert_cmpuint (r->status, ==, 404);
  }
  wait_answer (f, A (f), CID, 404, NULL, NULL);
  /* B back on its port and data: it registers itself again, and its
   * thumbnails of the stream are what A sends clients to */
  node_start (B (f));
  wait_answer (f, A (f), CID, 302, NULL, B (f));
}

static gboolean
registry_reachable (gpointer data)
{
  Node *n = data;
  g_autofree gchar *url =
      g_strdup_printf ("http://127.0.0.1:%u/healthz", n->http_port);
  g_autoptr (SoupSession) session = cs_test_session_new (10);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body =
      soup_session_send_and_read (session, msg, NULL, NULL);
  g_autofree gchar *text = cs_test_bytes_to_string (body);

  return soup_message_get_status (msg) == 200 &&
      strstr (text, "registry reachable") != NULL;
}

static void
test_redis_down (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) first = cs_test_png_solid (16, 16, 0, 0, 200);
  g_autoptr (GBytes) second = cs_test_png_solid (16, 16, 200, 200, 0);
  g_autoptr (Resp) r = NULL;

  push (f, B (f), "red");
  wait_answer (f, B (f), CID, 200, "live", NULL);
  g_assert_cmpuint (upload (f, A (f), UPLOAD_CID, first), ==, 200);

  cl_redis_kill (f->redis);
  /* B serves its own live cover; uploads are refused, not half-stored */
  r = get (f, B (f), CID);
  g_assert_cmpuint (r->status, ==, 200);
  e2e_assert_red (r->body, 320, 240);
  g_assert_cmpuint (upload (f, A (f), UPLOAD_CID, second), ==, 503);
  g_assert_false (registry_reachable (A (f)));
  /* A has nothing of its own for the upload's client id: 503 with
   * Retry-After at once (not 500, no hang), one warning for the outage,
   * not one per request */
  for (guint i = 0; i < 3; i++) {
    g_autoptr (Resp) u = get (f, A (f), UPLOAD_CID);
    g_autofree gchar *text = cs_test_bytes_to_string (u->body);

    g_assert_cmpuint (u->status, ==, 503);
    g_assert_nonnull (strstr (text, "\"error\":\"unavailable\""));
    g_assert_nonnull (u->retry_after);
    g_assert_cmpuint (g_ascii_strtoull (u->retry_after, NULL, 10), >, 0);
  }
  g_assert_cmpuint (log_count (A (f), "cover of client 43"), ==, 0);
  g_assert_cmpuint (log_count (A (f), "the registry cannot be asked"), ==, 1);

  /* back (appendfsync always: what was acknowledged is there): the nodes
   * reconnect by themselves and register their streams again */
  cl_redis_restart (f->redis);
  wait_answer (f, A (f), CID, 302, NULL, B (f));
  /* (each node reconnects after its own backoff) */
  g_assert_true (cs_test_poll (
      registry_reachable, C (f), CL_WAIT_S * G_USEC_PER_SEC, 100 * 1000));
  g_clear_pointer (&r, resp_free);
  r = get (f, C (f), UPLOAD_CID);
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_true (g_bytes_equal (r->body, first));
  g_assert_cmpuint (upload (f, A (f), UPLOAD_CID, second), ==, 200);
}

typedef struct
{
  Fixture *f;
  guint redirects;
} Moving;

/* A once, and where it sends the client once: never a second 302 */
static void
ask_a (Moving *m)
{
  g_autoptr (Resp) r = get (m->f, A (m->f), CID);

  if (r->status == 302) {
    g_autoptr (Resp) again = get_url (m->f, r->location);

    g_assert_cmpuint (again->status, !=, 302);
    m->redirects++;
  }
}

static gboolean
live_key_gone (gpointer data)
{
  Moving *m = data;
  g_autofree gchar *owner = NULL;

  ask_a (m);
  owner = cl_redis_cli (m->f->redis, "GET coversnap:live:42");
  return *owner == '\0';
}

static gboolean
a_sends_to_c (gpointer data)
{
  Moving *m = data;
  Want w = { m->f, A (m->f), CID, 302, NULL, C (m->f) };

  ask_a (m);
  return answers (&w);
}

static void
test_no_loop (Fixture *f, gconstpointer data)
{
  Moving m = { f, 0 };
  g_autofree gchar *url = NULL;
  g_autoptr (Resp) r = NULL;

  push (f, B (f), "red");
  wait_answer (f, B (f), CID, 200, "live", NULL);
  wait_answer (f, A (f), CID, 302, NULL, B (f));
  /* the stream moves from B to C while A is asked */
  cs_test_kill_child (g_ptr_array_index (f->pushers, 0));
  g_assert_true (
      cs_test_poll (live_key_gone, &m, CL_WAIT_S * G_USEC_PER_SEC, 50 * 1000));
  push (f, C (f), "blue");
  g_assert_true (
      cs_test_poll (a_sends_to_c, &m, CL_WAIT_S * G_USEC_PER_SEC, 50 * 1000));
  g_assert_cmpuint (m.redirects, >, 0);
  /* B, asked with the marker, answers with what it has (its thumbnail),
   * not with a redirect to C */
  url = g_strdup_printf ("%s&forwarded=1", cover_url (B (f), CID));
  r = get_url (f, url);
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (r->source, ==, "record");
}

/* RTMP through nginx: a publish on B's nginx is claimed cluster-wide (A
 * sends clients to B); the same client id published via C's nginx is
 * refused by C's hook (409: nginx refuses, ffmpeg fails); the publish's
 * end releases the claim. */
static gboolean
live_key_empty (gpointer data)
{
  Fixture *f = data;
  g_autofree gchar *owner = cl_redis_cli (f->redis, "GET coversnap:live:42");

  return *owner == '\0';
}

static void
test_rtmp (Fixture *f, gconstpointer data)
{
  g_autofree gchar *token = e2e_token_for (CID, E2E_KEY);
  g_autofree gchar *owner = NULL;
  E2eNginx *nb = e2e_nginx_start (B (f)->rtmp_port, B (f)->http_port);
  E2eNginx *nc = e2e_nginx_start (C (f)->rtmp_port, C (f)->http_port);
  GSubprocess *pb, *pc;

  pb = e2e_rtmp_publish (nb, CID, token, "red", FALSE);
  g_ptr_array_add (f->pushers, pb);
  wait_answer (f, B (f), CID, 200, "live", NULL);
  owner = cl_redis_cli (f->redis, "GET coversnap:live:42");
  g_assert_cmpstr (owner, ==, "b");
  wait_answer (f, A (f), CID, 302, NULL, B (f));

  /* the same device via C's nginx: C's hook refuses it, ffmpeg fails by
   * itself (not killed at the bound) */
  pc = e2e_rtmp_publish (nc, CID, token, "blue", FALSE);
  g_ptr_array_add (f->pushers, pc);
  g_assert_cmpint (cs_test_wait_child (pc, CL_WAIT_S), >, 0);
  g_assert_cmpuint (
      log_count (C (f), "another node of the cluster streams client id 42"), >=,
      1);
  assert_b_holds_red (f);

  /* the publish ends ("q"): on_publish_done, B releases its claim at once
   * (long before the ttl would) */
  g_assert_true (g_output_stream_write_all (
      g_subprocess_get_stdin_pipe (pb), "q", 1, NULL, NULL, NULL));
  g_assert_cmpint (cs_test_wait_child (pb, CL_WAIT_S), >=, 0);
  g_assert_true (
      cs_test_poll (live_key_empty, f, CL_WAIT_S * G_USEC_PER_SEC, 50 * 1000));
  e2e_nginx_free (nc);
  e2e_nginx_free (nb);
}

/* the newest file of @n's thumbnails of CID, as "<capture time µs>" */
static gchar *
newest_thumbnail_time (Node *n)
{
  g_autofree gchar *dir =
      g_build_filename (n->root, "data", "thumbnails", "42", NULL);
  g_autofree gchar *name = cover_thumbnail_newest (dir);
  gint64 t = 0;

  if (!name || !cover_thumbnail_name_parse (name, &t))
    return NULL;
  return g_strdup_printf ("%" G_GINT64_FORMAT, t);
}

typedef struct
{
  Fixture *f;
  gchar *entry; /* the registry's thumb:42 last seen */
} ThumbWait;

static gboolean
thumb_entry_names_b (gpointer data)
{
  ThumbWait *w = data;

  g_free (w->entry);
  w->entry = cl_redis_cli (w->f->redis, "GET coversnap:thumb:42");
  return g_str_has_suffix (w->entry, " b");
}

/* A thumbnail saved on B is in the registry at once (its covertap message),
 * not at B's next heartbeat (30 s here) nor at the stream's end: with the
 * live entry gone, A sends clients to B's thumbnail while B still pushes. */
static void
test_thumbnail_registered (Fixture *f, gconstpointer data)
{
  ThumbWait w = { f, NULL };
  g_autofree gchar *newest = NULL;
  g_autofree gchar *del = NULL;
  gint64 entry_time, file_time;

  push (f, B (f), "red");
  wait_answer (f, B (f), CID, 200, "live", NULL);
  g_assert_true (cs_test_poll (
      has_thumbnail, B (f), CL_WAIT_S * G_USEC_PER_SEC, 100 * 1000));
  g_assert_true (
      cs_test_poll (thumb_entry_names_b, &w, 10 * G_USEC_PER_SEC, 50 * 1000));
  /* the entry is one of B's files, at most a thumbnail interval behind the
   * newest */
  newest = newest_thumbnail_time (B (f));
  g_assert_nonnull (newest);
  entry_time = g_ascii_strtoll (w.entry, NULL, 10);
  file_time = g_ascii_strtoll (newest, NULL, 10);
  g_assert_cmpint (entry_time, >, 0);
  g_assert_cmpint (entry_time, <=, file_time);
  g_assert_cmpint (file_time - entry_time, <=, 3 * G_USEC_PER_SEC);
  /* no live entry (the slow heartbeat does not bring it back): A sends
   * clients to B for its thumbnail */
  del = cl_redis_cli (f->redis, "DEL coversnap:live:42");
  wait_answer (f, A (f), CID, 302, NULL, B (f));
  g_free (w.entry);
}

/* A camera pulled by B (pull=) claims its client id once it streams: A
 * sends clients to B, a push of it on C is refused; the camera gone, B's
 * pull backs off and the claim goes with it. */
static void
test_camera_pull (Fixture *f, gconstpointer data)
{
  g_autofree gchar *owner = NULL;
  GSubprocess *second;

  wait_answer (f, B (f), CID, 200, "live", NULL);
  owner = cl_redis_cli (f->redis, "GET coversnap:live:42");
  g_assert_cmpstr (owner, ==, "b");
  wait_answer (f, A (f), CID, 302, NULL, B (f));
  second = push (f, C (f), "blue");
  g_assert_cmpint (cs_test_wait_child (second, CL_WAIT_S), >, 0);
  /* the camera drops: not live on B, nobody sent there for it */
  cs_test_kill_child (f->camera);
  g_clear_object (&f->camera);
  g_assert_true (
      cs_test_poll (live_key_empty, f, CL_WAIT_S * G_USEC_PER_SEC, 50 * 1000));
}

/* A push that ANNOUNCEs (the claim is taken then) and goes before RECORD
 * gives the claim back at once: it used to stay, refreshed by B's
 * heartbeat, so that B held the device for good. */
static void
test_gone_before_record (Fixture *f, gconstpointer data)
{
  E2eServer at_b = { 0 };
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *text = NULL, *owner = NULL;
  GString *reply = g_string_new (NULL);
  gchar buf[1024];
  gssize n;

  at_b.rtsp_port = B (f)->rtsp_port;
  text = e2e_announce_text (&at_b, CID, 1);
  g_socket_client_set_timeout (client, CL_WAIT_S);
  conn = g_socket_client_connect_to_host (
      client, "127.0.0.1", B (f)->rtsp_port, NULL, &err);
  g_assert_no_error (err);
  g_assert_true (g_output_stream_write_all (
      g_io_stream_get_output_stream (G_IO_STREAM (conn)), text, strlen (text),
      NULL, NULL, &err));
  g_assert_no_error (err);
  while (!strstr (reply->str, "\r\n\r\n") &&
      (n = g_input_stream_read (
           g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf, sizeof buf,
           NULL, NULL)) > 0)
    g_string_append_len (reply, buf, n);
  g_assert_true (g_str_has_prefix (reply->str, "RTSP/1.0 200"));
  g_string_free (reply, TRUE);
  owner = cl_redis_cli (f->redis, "GET coversnap:live:42");
  g_assert_cmpstr (owner, ==, "b");
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  g_assert_true (
      cs_test_poll (live_key_empty, f, CL_WAIT_S * G_USEC_PER_SEC, 50 * 1000));
  /* and another node may take the device */
  push (f, C (f), "blue");
  wait_answer (f, A (f), CID, 302, NULL, C (f));
}

int
main (int argc, char **argv)
{
  static const Setup plain = { FALSE, FALSE };
  static const Setup durable = { TRUE, FALSE };
  static const Setup slow_heartbeat = { FALSE, TRUE };
  static const Setup camera = { FALSE, FALSE, TRUE };

  g_test_init (&argc, &argv, NULL);
#define ADD(path, setup, func)                                                 \
  g_test_add (path, Fixture, &setup, fixture_set_up, func, fixture_tear_down)
  ADD ("/cluster/e2e/forward", plain, test_forward);
  ADD ("/cluster/e2e/one-pusher", plain, test_one_pusher);
  ADD ("/cluster/e2e/sigkill", plain, test_sigkill);
  ADD ("/cluster/e2e/redis-down", durable, test_redis_down);
  ADD ("/cluster/e2e/no-loop", plain, test_no_loop);
  ADD ("/cluster/e2e/rtmp", plain, test_rtmp);
  ADD ("/cluster/e2e/thumbnail-registered", slow_heartbeat,
      test_thumbnail_registered);
  ADD ("/cluster/e2e/camera-pull", camera, test_camera_pull);
  ADD ("/cluster/e2e/gone-before-record", plain, test_gone_before_record);
  return g_test_run ();
}
