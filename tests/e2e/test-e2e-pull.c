/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Pull mode end to end: an IP camera (e2e-camera: gst-rtsp-server with
 * RTSP Basic authentication, a solid colour in H.264) and coversnapd with
 * [stream.42] pull=rtsp://USER:PASSWORD@127.0.0.1:PORT/cam.  The cover is
 * live in the camera's colour; the camera killed and started again on the
 * same port (another colour) → pulled again, live again; a wrong password
 * never gives a cover.  The password is in none of coversnapd's log (at
 * the default GST_DEBUG and at GST_DEBUG=4), /metrics, or error bodies. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "e2e-ingest-util.h"

#include <signal.h>
#include <string.h>

#define CID 42
#define CAM_USER "viewer"
/* distinctive: grepped for in everything coversnapd says */
#define CAM_PASSWORD "Pw-7f3c9e1b5ad2"
#define WRONG_PASSWORD "Wrong-0b9d44e6c1"
/* a secret in the camera URL's query: redacted too */
#define QUERY_TOKEN "Qt-5e8a21c07b"

typedef struct
{
  GSubprocess *proc;
  guint16 port;
} Camera;

/* e2e-camera on @port (0: any free), H.264 or H.265 */
static Camera *
camera_start_codec (guint16 port, const gchar *pattern, gboolean h265)
{
  Camera *c = g_new0 (Camera, 1);
  g_autofree gchar *port_text = g_strdup_printf ("%u", port);
  g_autoptr (GDataInputStream) in = NULL;
  g_autoptr (GError) err = NULL;

  c->proc = e2e_spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE, NULL, &err,
      cs_test_program ("E2E_CAMERA"), port_text, CAM_USER, CAM_PASSWORD,
      pattern, h265 ? "h265" : NULL, NULL);
  g_assert_no_error (err);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (c->proc));
  c->port = e2e_read_port (in, "rtsp on ");
  g_assert_cmpuint (c->port, >, 0);
  return c;
}

static Camera *
camera_start (guint16 port, const gchar *pattern)
{
  return camera_start_codec (port, pattern, FALSE);
}

/* SIGKILL: a camera that drops, no TEARDOWN */
static void
camera_kill (Camera *c)
{
  cs_test_kill_child (c->proc);
  g_clear_object (&c->proc);
}

static void
camera_free (Camera *c)
{
  if (c->proc)
    camera_kill (c);
  g_free (c);
}

static gchar *
pull_settings (Camera *c, const gchar *password)
{
  /* a quick backoff: the restart is seen within the test's bounds */
  return g_strdup_printf ("[ingest]\n"
                          "pull-retry-min=0.2\n"
                          "pull-retry-max=1\n"
                          "[stream.%u]\n"
                          "pull=rtsp://" CAM_USER
                          ":%s@127.0.0.1:%u/cam?token=" QUERY_TOKEN "\n",
      CID, password, c->port);
}

/* GET @path on the server: the body (transfer full) */
static gchar *
http_get (E2eServer *f, const gchar *path, guint *status)
{
  g_autofree gchar *uri =
      g_strdup_printf ("http://127.0.0.1:%u%s", f->http_port, path);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) body =
      soup_session_send_and_read (f->session, msg, NULL, &err);

  g_assert_no_error (err);
  if (status)
    *status = soup_message_get_status (msg);
  return cs_test_bytes_to_string (body);
}

static gboolean
metrics_say (E2eServer *f, const gchar *line)
{
  g_autofree gchar *text = e2e_ingest_metrics (f);

  return strstr (text, line) != NULL;
}

/* the value of the sample @series, or -1 */
static gdouble
metrics_value (E2eServer *f, const gchar *series)
{
  g_autofree gchar *text = e2e_ingest_metrics (f);
  g_autofree gchar *prefix = g_strdup_printf ("\n%s ", series);
  const gchar *at = strstr (text, prefix);

  return at ? g_ascii_strtod (at + strlen (prefix), NULL) : -1;
}

typedef struct
{
  E2eServer *f;
  const gchar *line;
  gdouble at_least; /* with a series: its value, else the line */
} MetricsWait;

static gboolean
metrics_have (gpointer data)
{
  MetricsWait *w = data;

  if (w->at_least > 0)
    return metrics_value (w->f, w->line) >= w->at_least;
  return metrics_say (w->f, w->line);
}

static void
wait_metrics_value (E2eServer *f, const gchar *series, gdouble at_least)
{
  MetricsWait w = { f, series, at_least };

  if (!cs_test_poll (
          metrics_have, &w, E2E_WAIT_S * G_USEC_PER_SEC, 100 * 1000)) {
    g_autofree gchar *text = e2e_ingest_metrics (f);

    g_printerr ("/metrics: %s < %g:\n%s\n", series, at_least, text);
    g_assert_not_reached ();
  }
}

static void
wait_metrics (E2eServer *f, const gchar *line)
{
  MetricsWait w = { f, line, 0 };

  if (!cs_test_poll (
          metrics_have, &w, E2E_WAIT_S * G_USEC_PER_SEC, 100 * 1000)) {
    g_autofree gchar *text = e2e_ingest_metrics (f);

    g_printerr ("/metrics without %s:\n%s\n", line, text);
    g_assert_not_reached ();
  }
}

/* Nothing coversnapd said or answers holds a password: its log, /metrics,
 * an error body (a cover request with a bad token), a hook's refusal. */
static void
assert_no_secret (E2eServer *f, const gchar *password)
{
  g_autofree gchar *log = NULL;
  g_autofree gchar *m = e2e_ingest_metrics (f);
  g_autofree gchar *err_body = NULL;
  g_autofree gchar *hook_body = NULL;
  guint status;

  g_assert_true (g_file_get_contents (f->log_path, &log, NULL, NULL));
  g_assert_null (strstr (log, password));
  g_assert_null (strstr (log, QUERY_TOKEN));
  /* the pull is in the log, without its credentials */
  g_assert_nonnull (strstr (log, "rtsp://127.0.0.1:"));
  g_assert_null (strstr (log, CAM_USER ":"));
  g_assert_null (strstr (m, password));
  err_body =
      http_get (f, "/v2/snapshots/42/cover?client_token=1_2_3_x", &status);
  g_assert_cmpuint (status, ==, 401);
  g_assert_null (strstr (err_body, password));
  hook_body = http_get (f, "/hooks/rtmp/on_publish", &status);
  g_assert_cmpuint (status, ==, 405);
  g_assert_null (strstr (hook_body, password));
}

/* on_publish of CID with a good token, as nginx-rtmp sends it */
static guint
publish_hook (E2eServer *f)
{
  g_autofree gchar *token = e2e_token_for (CID, E2E_KEY);
  g_autofree gchar *body =
      g_strdup_printf ("app=live&call=publish&name=%u&token=%s", CID, token);

  return e2e_ingest_post_hook (
      f, "on_publish", "application/x-www-form-urlencoded", body, NULL);
}

/* live red; the camera drops (killed) → not live; the camera back on the
 * same port in blue → pulled again and live in blue, a reconnect counted */
static void
run_live_and_restart (const gchar *gst_debug)
{
  Camera *cam = camera_start (0, "red");
  g_autofree gchar *settings = pull_settings (cam, CAM_PASSWORD);
  guint16 port = cam->port;
  E2eServer *f;

  if (gst_debug)
    g_setenv ("GST_DEBUG", gst_debug, TRUE);
  else
    g_unsetenv ("GST_DEBUG");
  f = e2e_server_new (2, settings, TRUE);
  g_unsetenv ("GST_DEBUG");

  e2e_ingest_wait_cover (f, CID, "red");
  g_assert_true (metrics_say (f,
      "coversnap_pull_state{client_id=\"42\",kind=\"camera\","
      "state=\"streaming\"} 1"));
  /* the camera keeps its client id: an RTMP publish of it is refused */
  g_assert_cmpuint (publish_hook (f), ==, 409);

  camera_kill (cam);
  e2e_ingest_wait_cover (f, CID, NULL);
  wait_metrics (f,
      "coversnap_pull_state{client_id=\"42\",kind=\"camera\","
      "state=\"streaming\"} 0");

  camera_free (cam);
  cam = camera_start (port, "blue");
  e2e_ingest_wait_cover (f, CID, "blue");
  g_assert_cmpfloat (metrics_value (f,
                         "coversnap_pull_reconnects_total{client_id=\"42\","
                         "kind=\"camera\"}"),
      >=, 1);

  assert_no_secret (f, CAM_PASSWORD);
  camera_free (cam);
  e2e_server_free (f);
}

static void
test_live_and_restart (void)
{
  run_live_and_restart (NULL);
}

/* GST_DEBUG=4 (up to INFO: the documented safe level) leaks no
 * credentials either */
static void
test_live_and_restart_debug4 (void)
{
  run_live_and_restart ("4");
}

/* The camera answers 401: no cover, attempts go on (backoff), the
 * refused password in no log line (GST_DEBUG=3) */
static void
test_wrong_password (void)
{
  Camera *cam = camera_start (0, "red");
  g_autofree gchar *settings = pull_settings (cam, WRONG_PASSWORD);
  E2eServer *f;
  E2eResp *r;

  g_setenv ("GST_DEBUG", "3", TRUE);
  f = e2e_server_new (2, settings, TRUE);
  g_unsetenv ("GST_DEBUG");

  /* tried, refused, tried again */
  wait_metrics_value (f,
      "coversnap_pull_reconnects_total{client_id=\"42\",kind=\"camera\"}", 2);
  r = e2e_get_cover (f, CID);
  g_assert_cmpuint (r->status, ==, 404);
  e2e_resp_free (r);
  assert_no_secret (f, WRONG_PASSWORD);
  camera_free (cam);
  e2e_server_free (f);
}

typedef struct
{
  gchar *dir;
  guint at_least;
} DirWait;

static gboolean
has_files (gpointer data)
{
  DirWait *w = data;

  return g_file_test (w->dir, G_FILE_TEST_IS_DIR) &&
      cs_test_count_dir (w->dir, ".mp4") >= w->at_least;
}

/* an MP4 box type anywhere in @data (binary: not a string search) */
static gboolean
has_box (const gchar *data, gsize len, const gchar *type)
{
  gsize i;

  for (i = 0; i + 4 <= len; i++) {
    if (memcmp (data + i, type, 4) == 0)
      return TRUE;
  }
  return FALSE;
}

/* every MP4 file in @dir has its index (moov): none left open */
static gboolean
all_finished (gpointer dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while (d && (name = g_dir_read_name (d))) {
    g_autofree gchar *path = g_build_filename (dir, name, NULL);
    g_autofree gchar *data = NULL;
    gsize len;

    if (!g_file_get_contents (path, &data, &len, NULL) ||
        !has_box (data, len, "moov"))
      return FALSE;
  }
  return d != NULL;
}

/* record=true: a pulled camera is recorded as a push is, MP4 segments
 * (video) in <data-dir>/recordings/<client_id>/ */
static void
test_record (void)
{
  Camera *cam = camera_start (0, "red");
  g_autofree gchar *pull = pull_settings (cam, CAM_PASSWORD);
  g_autofree gchar *settings =
      g_strdup_printf ("%srecord=true\nrecord-segment=1\n", pull);
  E2eServer *f = e2e_server_new (2, settings, TRUE);
  DirWait w = { g_build_filename (f->data_dir, "recordings", "42", NULL), 2 };
  g_autoptr (GDir) dir = NULL;
  g_autofree gchar *first = NULL;
  g_autofree gchar *path = NULL;
  g_autofree gchar *data = NULL;
  const gchar *name;
  gsize len;

  e2e_ingest_wait_cover (f, CID, "red");
  /* a second segment: the first one is complete */
  g_assert_true (
      cs_test_poll (has_files, &w, E2E_WAIT_S * G_USEC_PER_SEC, 100 * 1000));
  dir = g_dir_open (w.dir, 0, NULL);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir))) {
    if (!first || strcmp (name, first) < 0) {
      g_free (first);
      first = g_strdup (name);
    }
  }
  path = g_build_filename (w.dir, first, NULL);
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  g_assert_cmpuint (len, >, 1000);
  g_assert_cmpmem (data + 4, 4, "ftyp", 4);
  /* the camera drops: EOS finishes the last segment (its index written) */
  camera_kill (cam);
  e2e_ingest_wait_cover (f, CID, NULL);
  g_assert_true (cs_test_poll (
      all_finished, w.dir, E2E_WAIT_S * G_USEC_PER_SEC, 100 * 1000));
  camera_free (cam);
  e2e_server_free (f);
  g_free (w.dir);
}

/* H.265: depayloader and parser follow the caps */
static void
test_h265 (void)
{
  Camera *cam = camera_start_codec (0, "blue", TRUE);
  g_autofree gchar *settings = pull_settings (cam, CAM_PASSWORD);
  E2eServer *f = e2e_server_new (2, settings, TRUE);
  g_autofree gchar *log = NULL;

  e2e_ingest_wait_cover (f, CID, "blue");
  g_assert_true (g_file_get_contents (f->log_path, &log, NULL, NULL));
  g_assert_nonnull (strstr (log, "stream 42: H.265 video from"));
  camera_free (cam);
  e2e_server_free (f);
}

/* A bad [ingest] or pull value stops the start with an error naming the
 * key, never quoting a URL (it may hold a password). */
static void
test_bad_config (void)
{
  static const struct
  {
    const gchar *text;
    const gchar *error;
  } cases[] = {
    { "[stream.default]\npull=rtsp://u:" CAM_PASSWORD "@127.0.0.1/x\n",
        "[stream.default] pull: only in [stream.<client_id>]" },
    { "[stream.42]\npull=http://u:" CAM_PASSWORD "@127.0.0.1/x\n",
        "[stream.42] pull: not a URL with a host" },
    { "[stream.42]\npull=rtsp:///" CAM_PASSWORD "\n",
        "[stream.42] pull: not a URL with a host" },
    { "[ingest]\nrtmp-url=rtsp://127.0.0.1:1935\n",
        "[ingest] rtmp-url: not a URL with a host (rtmp://, rtmps://)" },
    { "[ingest]\nhook-allow=127.0.0.1, 300.1.2.3\n",
        "[ingest] hook-allow: \"300.1.2.3\" is not an address or "
        "address/prefix" },
    { "[ingest]\npull-retry-min=10\npull-retry-max=5\n",
        "[ingest] pull-retry-max: less than pull-retry-min" },
    { "[ingest]\npull-retry-min=0\n",
        "[ingest] pull-retry-min: \"0\" is not a number of seconds" },
  };
  g_autofree gchar *dir = cs_test_make_tmpdir ("coversnap-pull-XXXXXX");
  g_autofree gchar *path = g_build_filename (dir, "bad.ini", NULL);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *config = g_strdup_printf ("[server]\n"
                                                "listen-address=127.0.0.1\n"
                                                "port=0\n"
                                                "data-dir=%s\n"
                                                "store-dir=%s\n"
                                                "%s",
        dir, dir, cases[i].text);
    const gchar *argv[] = { cs_test_program ("COVERSNAPD"), "--config", path,
      NULL };
    g_auto (CsTestRun) run = { 0 };

    g_assert_true (g_file_set_contents (path, config, -1, NULL));
    cs_test_run (&run, argv, NULL, NULL);
    g_assert_cmpint (run.status, ==, 1);
    g_assert_nonnull (strstr (run.err, cases[i].error));
    g_assert_null (strstr (run.err, CAM_PASSWORD));
  }
  cs_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/pull/live-and-restart", test_live_and_restart);
  g_test_add_func (
      "/e2e/pull/live-and-restart-debug4", test_live_and_restart_debug4);
  g_test_add_func ("/e2e/pull/wrong-password", test_wrong_password);
  g_test_add_func ("/e2e/pull/record", test_record);
  g_test_add_func ("/e2e/pull/h265", test_h265);
  g_test_add_func ("/e2e/pull/bad-config", test_bad_config);
  return g_test_run ();
}
