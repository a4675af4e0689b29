/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* coversnapd --demo, as the README's first command runs it: no
 * configuration, HOME and XDG_CACHE_HOME in a temporary directory.  The
 * curl it prints is followed with libsoup: the cover is a live 1280x720
 * JPEG of the simulated camera; the upload it prints is accepted; then the
 * server stops by itself (--demo-seconds) with status 0, having left its
 * thumbnails in the cache and removed its cover store.  Every wait is
 * bounded (the server bounds its own run); the server is killed with the
 * test. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "e2e-util.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

#include "coverjpeg.h"

#define DEMO_SECONDS "20"
/* bounds: they only stop a broken test; the demo's 20 s, then its
 * shutdown, inside meson's 90 s with time for the stacks of a hang (20 s
 * at most) */
#define EXIT_WAIT_S 45

/* The quoted URL after @prefix in @line, or NULL. */
static gchar *
quoted_after (const gchar *line, const gchar *prefix)
{
  const gchar *start = strstr (line, prefix);
  const gchar *end;

  if (!start)
    return NULL;
  start += strlen (prefix);
  end = strchr (start, '"');
  return end ? g_strndup (start, end - start) : NULL;
}

/* A launcher for coversnapd --demo as a user runs it in @root: HOME, the
 * cache (root/cache) and the runtime dir (@runtime, made here) are the
 * user's and nothing else decides where the data goes (the plugin path and
 * registry come from the test's environment); its stderr goes to
 * @log_path, read once it has stopped (a pipe nobody reads while it runs
 * could fill up). */
static GSubprocessLauncher *
demo_launcher (GSubprocessFlags flags, const gchar *root, const gchar *runtime,
    const gchar *log_path)
{
  g_autofree gchar *cache = g_build_filename (root, "cache", NULL);
  GSubprocessLauncher *launcher = cs_test_launcher_new (flags);

  g_assert_cmpint (g_mkdir (runtime, 0700), ==, 0);
  g_subprocess_launcher_setenv (launcher, "HOME", root, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CACHE_HOME", cache, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", runtime, TRUE);
  g_subprocess_launcher_set_stderr_file_path (launcher, log_path);
  return launcher;
}

static void
test_demo (void)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *root = g_dir_make_tmp ("coversnap-demo-XXXXXX", &err);
  g_autofree gchar *cache = NULL, *data_dir = NULL, *thumbs = NULL;
  g_autofree gchar *store = NULL, *cover_url = NULL, *upload_url = NULL;
  g_autofree gchar *http_prefix = NULL;
  g_autofree gchar *log_path = NULL, *log = NULL;
  const gchar *shutdown, *ended;
  gint status;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) server = NULL;
  g_autoptr (GDataInputStream) in = NULL;
  g_autoptr (SoupSession) session = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (SoupMessage) post = NULL;
  g_autoptr (SoupMultipart) multipart = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GBytes) reply = NULL;
  g_autofree guint8 *rgb = NULL;
  const gchar *coversnapd = g_getenv ("COVERSNAPD");
  g_autofree gchar *runtime = NULL, *store_base = NULL;
  const gchar *source, *type;
  gchar *line;
  guint width = 0, height = 0;
  guint16 http_port = 0;

  g_assert_no_error (err);
  g_assert_nonnull (coversnapd);
  cache = g_build_filename (root, "cache", NULL);
  data_dir = g_build_filename (cache, "coversnap-demo", NULL);
  thumbs = g_build_filename (data_dir, "thumbnails", "42", NULL);
  runtime = g_build_filename (root, "run", NULL);
  /* the store every default names: below the session's runtime dir */
  store_base = g_build_filename (runtime, "coversnap", NULL);
  log_path = g_build_filename (root, "coversnapd.log", NULL);
  launcher =
      demo_launcher (G_SUBPROCESS_FLAGS_STDOUT_PIPE, root, runtime, log_path);
  server = g_subprocess_launcher_spawn (launcher, &err, coversnapd, "--demo",
      "--demo-seconds", DEMO_SECONDS, NULL);
  g_assert_no_error (err);
  {
    g_autofree gchar *name = g_strdup_printf (
        "coversnap-demo-%s", g_subprocess_get_identifier (server));

    store = g_build_filename (store_base, name, NULL);
  }

  /* the server prints its ports, then the commands once the cover is live;
   * it ends by itself (ready timeout, --demo-seconds): EOF bounds this */
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server));
  while (!cover_url || !upload_url) {
    line = g_data_input_stream_read_line (in, NULL, NULL, &err);
    g_assert_no_error (err);
    if (!line)
      break;
    g_test_message ("coversnapd: %s", line);
    if (g_str_has_prefix (line, "http on 127.0.0.1:"))
      http_port = g_ascii_strtoull (strrchr (line, ':') + 1, NULL, 10);
    if (!cover_url)
      cover_url = quoted_after (line, "curl -o cover.jpg \"");
    if (!upload_url)
      upload_url = quoted_after (line, "curl -F file=@cover.jpg \"");
    g_free (line);
  }
  g_assert_cmpuint (http_port, >, 0);
  g_assert_nonnull (cover_url);
  g_assert_nonnull (upload_url);
  http_prefix = g_strdup_printf ("http://127.0.0.1:%u/", http_port);
  g_assert_true (g_str_has_prefix (cover_url, http_prefix));
  g_assert_true (strstr (cover_url, "/v2/snapshots/42/cover?client_token=42_"));
  g_assert_true (g_str_has_prefix (upload_url, http_prefix));
  g_assert_true (
      strstr (upload_url, "/v2/devices/42/snapshots?client_token=42_"));
  /* where it said: data under the user's cache, covers in a store of its
   * own */
  g_assert_true (g_file_test (data_dir, G_FILE_TEST_IS_DIR));
  g_assert_true (g_file_test (store, G_FILE_TEST_IS_DIR));
  {
    GStatBuf st;

    /* made private by the demo */
    g_assert_cmpint (g_lstat (store_base, &st), ==, 0);
    g_assert_true (S_ISDIR (st.st_mode));
    g_assert_cmpuint (st.st_mode & 07777, ==, 0700);
  }

  /* the printed curl, done with libsoup */
  session = soup_session_new_with_options ("timeout", 10, NULL);
  soup_session_set_proxy_resolver (session, NULL);
  msg = soup_message_new ("GET", cover_url);
  g_assert_nonnull (msg);
  body = soup_session_send_and_read (session, msg, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  source = soup_message_headers_get_one (
      soup_message_get_response_headers (msg), "X-Cover-Source");
  g_assert_cmpstr (source, ==, "live");
  type = soup_message_headers_get_content_type (
      soup_message_get_response_headers (msg), NULL);
  g_assert_cmpstr (type, ==, "image/jpeg");
  rgb = cover_jpeg_decode_rgb (g_bytes_get_data (body, NULL),
      g_bytes_get_size (body), &width, &height, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (width, ==, 1280);
  g_assert_cmpuint (height, ==, 720);

  /* the printed upload, with that cover */
  multipart = soup_multipart_new ("multipart/form-data");
  soup_multipart_append_form_file (
      multipart, "file", "cover.jpg", "image/jpeg", body);
  post = soup_message_new_from_multipart (upload_url, multipart);
  g_assert_nonnull (post);
  reply = soup_session_send_and_read (session, post, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (soup_message_get_status (post), ==, 200);

  /* it stops by itself (bounded: a hung server is killed, its stacks in
   * the log); then the rest of its output, which the exit ended */
  status = cs_test_wait_child (server, EXIT_WAIT_S);
  while ((line = g_data_input_stream_read_line (in, NULL, NULL, &err))) {
    g_test_message ("coversnapd: %s", line);
    g_free (line);
  }
  g_assert_no_error (err);
  /* its log goes to the test's before anything about it is asserted */
  g_assert_true (g_file_get_contents (log_path, &log, NULL, NULL));
  g_test_message ("coversnapd's log:\n%s", log);
  g_assert_cmpint (status, ==, 0);

  /* the shutdown ended the simulated camera's stream as any device's (its
   * connection closed by the ingest, EOS), before the server stopped */
  shutdown = strstr (log, "shutting down");
  g_assert_nonnull (shutdown);
  ended = strstr (shutdown, "stream 42: stopped (pusher gone)");
  g_assert_nonnull (ended);
  g_assert_nonnull (strstr (ended, ": stopped\n"));
  g_assert_null (strstr (log, "still running at shutdown"));

  /* thumbnails on: the stream's end left at least one; the store is gone */
  g_assert_cmpuint (cs_test_count_dir (thumbs, ".jpg"), >=, 1);
  g_assert_false (g_file_test (store, G_FILE_TEST_EXISTS));
  cs_test_rm_rf (root);
}

/* A demo whose simulated camera cannot start (no system plugins: no
 * videotestsrc, x264enc, rtspclientsink) says so and exits 1 at once; it
 * used to wait for a signal with status 0 to come. */
static void
test_demo_pusher_missing (void)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *root = g_dir_make_tmp ("coversnap-demo-XXXXXX", &err);
  g_autofree gchar *runtime = NULL, *registry = NULL;
  g_autofree gchar *log_path = NULL, *log = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) server = NULL;
  const gchar *coversnapd = g_getenv ("COVERSNAPD");
  gint status;

  g_assert_no_error (err);
  g_assert_nonnull (coversnapd);
  runtime = g_build_filename (root, "run", NULL);
  registry = g_build_filename (root, "registry.bin", NULL);
  log_path = g_build_filename (root, "coversnapd.log", NULL);
  launcher = demo_launcher (
      G_SUBPROCESS_FLAGS_STDOUT_SILENCE, root, runtime, log_path);
  /* covertap (GST_PLUGIN_PATH) and nothing else */
  g_subprocess_launcher_setenv (
      launcher, "GST_PLUGIN_SYSTEM_PATH_1_0", "", TRUE);
  g_subprocess_launcher_setenv (launcher, "GST_REGISTRY", registry, TRUE);
  server = g_subprocess_launcher_spawn (launcher, &err, coversnapd, "--demo",
      "--http-port", "0", "--rtsp-port", "0", NULL);
  g_assert_no_error (err);

  status = cs_test_wait_child (server, EXIT_WAIT_S);
  g_assert_true (g_file_get_contents (log_path, &log, NULL, NULL));
  g_test_message ("coversnapd's log:\n%s", log);
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (log, "coversnapd: the demo pusher"));
  g_assert_nonnull (strstr (log, "videotestsrc"));
  cs_test_rm_rf (root);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/demo", test_demo);
  g_test_add_func ("/e2e/demo-pusher-missing", test_demo_pusher_missing);
  return g_test_run ();
}
