/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* covertap in another process: gst-launch-1.0 writes, coversnap-cat reads,
 * as ops use them; and the launch line of the element's documentation runs
 * as written. */

#include "covertap-util.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_ID 31337

typedef struct
{
  gint status; /* exit status, -1 when it did not exit normally */
  GBytes *out;
  gchar *err;
} CatResult;

static gchar **
child_environ (void)
{
  const gchar *plugin_path = g_getenv ("GST_PLUGIN_PATH_1_0");
  gchar **env = g_get_environ ();

  fail_unless (plugin_path != NULL, "GST_PLUGIN_PATH_1_0 is not set");
  env = g_environ_setenv (env, "GST_PLUGIN_PATH", plugin_path, TRUE);
  return env;
}

/* Runs coversnap-cat [--info] --store-dir DIR ID and collects its output. */
static void
run_cat (const gchar *dir, const gchar *id, gboolean info, CatResult *res)
{
  const gchar *argv[6];
  CsTestRun run;
  guint n = 0;

  argv[n++] = cs_test_program ("COVERSNAP_CAT");
  if (info)
    argv[n++] = "--info";
  argv[n++] = "--store-dir";
  argv[n++] = dir;
  argv[n++] = id;
  argv[n] = NULL;
  cs_test_run (&run, argv, NULL, NULL);
  res->status = run.status;
  res->out = run.out;
  res->err = run.err;
}

static void
cat_result_clear (CatResult *res)
{
  g_clear_pointer (&res->out, g_bytes_unref);
  g_clear_pointer (&res->err, g_free);
}

/* "key: value" lines of coversnap-cat --info */
static gchar *
info_value (const CatResult *res, const gchar *key)
{
  g_autofree gchar *text = cs_test_bytes_to_string (res->out);

  return cs_test_info_value (text, key);
}

static guint64
info_uint (const CatResult *res, const gchar *key)
{
  gchar *v = info_value (res, key);
  guint64 n = 0;

  fail_unless (v != NULL, "coversnap-cat --info printed no '%s'", key);
  fail_unless (g_ascii_string_to_unsigned (v, 10, 0, G_MAXUINT64, &n, NULL),
      "%s: '%s' is not a number", key, v);
  g_free (v);
  return n;
}

static void
assert_info_is (const CatResult *res, const gchar *key, const gchar *want)
{
  gchar *v = info_value (res, key);

  fail_unless (v != NULL, "coversnap-cat --info printed no '%s'", key);
  fail_unless (g_str_equal (v, want), "%s: '%s', expected '%s'", key, v, want);
  g_free (v);
}

/* Decodes what coversnap-cat wrote and checks it against --info. */
static void
check_cat_jpeg (
    const CatResult *res, guint want_w, guint want_h, CtCover *cover)
{
  GError *err = NULL;
  const guint8 *data;
  gsize size;

  memset (cover, 0, sizeof (*cover));
  fail_unless_equals_int (res->status, 0);
  data = g_bytes_get_data (res->out, &size);
  fail_unless (size > 4 && data[0] == 0xff && data[1] == 0xd8,
      "coversnap-cat did not write a JPEG (%" G_GSIZE_FORMAT " bytes)", size);
  cover->jpeg = g_bytes_ref (res->out);
  cover->rgb =
      cover_jpeg_decode_rgb (data, size, &cover->width, &cover->height, &err);
  fail_unless (cover->rgb != NULL, "JPEG from coversnap-cat: %s",
      err ? err->message : "?");
  if (want_w)
    fail_unless_equals_int (cover->width, want_w);
  if (want_h)
    fail_unless_equals_int (cover->height, want_h);
}

/* A child process and whether it has exited (GSubprocess asserts when asked
 * about a child that is still running). */
typedef struct
{
  GSubprocess *proc;
  gboolean exited;
} Child;

static void
on_waited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Child *child = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  child->exited = TRUE;
}

static gboolean
child_exited (Child *child)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return child->exited;
}

/* Waits (bounded) for the child to exit; kills it when it does not.
 * Returns TRUE when it exited by itself. */
static gboolean
wait_child (Child *child, gint64 timeout_us)
{
  gint64 deadline = g_get_monotonic_time () + timeout_us;
  gboolean in_time;

  while (!child_exited (child) && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  in_time = child->exited;
  if (!in_time) {
    g_subprocess_force_exit (child->proc);
    /* on_waited holds the child: let it run */
    while (!child->exited)
      g_main_context_iteration (NULL, TRUE);
  }
  return in_time;
}

static gboolean
child_succeeded (Child *child)
{
  return child->exited && g_subprocess_get_if_exited (child->proc) &&
      g_subprocess_get_exit_status (child->proc) == 0;
}

static gchar *
read_log (const gchar *path)
{
  gchar *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    text = g_strdup ("");
  return text;
}

/* A test that fails exits at once: its gst-launch-1.0 must not outlive it
 * (cs_test_spawnv). */
static void
spawn_launch (const gchar *const *argv, const gchar *log_path, Child *child)
{
  gchar **env = child_environ ();
  GError *err = NULL;
  GSubprocess *proc;

  proc = cs_test_spawnv (G_SUBPROCESS_FLAGS_STDERR_MERGE,
      (const gchar *const *) env, log_path, NULL, argv, &err);
  fail_unless (
      proc != NULL, "cannot run %s: %s", argv[0], err ? err->message : "?");
  g_strfreev (env);
  child->proc = proc;
  child->exited = FALSE;
  g_subprocess_wait_async (proc, NULL, on_waited, child);
}

GST_START_TEST (test_cross_process)
{
  gchar *tmp = ct_make_tmpdir ();
  gchar *dir = g_build_filename (tmp, "store", NULL);
  gchar *log_path = g_build_filename (tmp, "gst-launch.log", NULL);
  gchar *client = g_strdup_printf ("%u", CLIENT_ID);
  gchar *id_prop = g_strdup_printf ("client-id=%u", CLIENT_ID);
  gchar *dir_prop;
  gint64 deadline;
  gboolean live = FALSE;
  Child child;
  CatResult res = {
    0,
  };
  CtCover cover;
  gchar *log, *pid;
  guint64 bytes;

  fail_unless (g_mkdir (dir, 0700) == 0);
  dir_prop = g_strdup_printf ("store-dir=%s", dir);
  {
    /* -e: SIGINT sends EOS, as an operator stopping the stream would;
     * num-buffers only bounds its life should the test not get there */
    const gchar *argv[] = { "gst-launch-1.0", "-e", "videotestsrc",
      "is-live=true", "num-buffers=1800", "pattern=red", "!",
      "video/x-raw,format=I420,width=320,height=240,framerate=30/1", "!",
      "x264enc", "tune=zerolatency", "speed-preset=ultrafast", "key-int-max=15",
      "!", "h264parse", "!", "covertap", id_prop, dir_prop, "min-interval=0",
      "!", "fakesink", NULL };

    spawn_launch (argv, log_path, &child);
  }

  /* the stream is live while the child runs */
  deadline = g_get_monotonic_time () + CT_TIMEOUT_US;
  while (!live && g_get_monotonic_time () < deadline) {
    gchar *v;

    fail_if (child_exited (&child), "gst-launch-1.0 ended early: %s",
        (log = read_log (log_path)));
    run_cat (dir, client, TRUE, &res);
    v = res.status == 0 ? info_value (&res, "live") : NULL;
    live = v && g_str_equal (v, "yes");
    g_free (v);
    if (!live) {
      cat_result_clear (&res);
      g_usleep (50000);
    }
  }
  fail_unless (live, "no live cover from gst-launch-1.0: %s",
      (log = read_log (log_path)));
  assert_info_is (&res, "ended", "no");
  pid = info_value (&res, "writer-pid");
  fail_unless_equals_string (pid, g_subprocess_get_identifier (child.proc));
  g_free (pid);
  fail_unless_equals_int (info_uint (&res, "client-id"), CLIENT_ID);
  fail_unless_equals_int (info_uint (&res, "width"), 320);
  fail_unless_equals_int (info_uint (&res, "height"), 240);
  fail_unless (info_uint (&res, "generation") >= 1);
  cat_result_clear (&res);

  run_cat (dir, client, FALSE, &res);
  check_cat_jpeg (&res, 320, 240, &cover);
  ct_assert_region_colour (&cover, 0, 0, 1, 1, (const guint8[3]){ 255, 0, 0 },
      16, "cover read while live");
  ct_cover_clear (&cover);
  cat_result_clear (&res);

  /* stop it: EOS, then the segment says ended */
  g_subprocess_send_signal (child.proc, SIGINT);
  fail_unless (wait_child (&child, CT_TIMEOUT_US),
      "gst-launch-1.0 did not stop on SIGINT");
  log = read_log (log_path);
  fail_unless (child_succeeded (&child), "gst-launch-1.0 failed: %s", log);
  g_free (log);

  run_cat (dir, client, TRUE, &res);
  fail_unless_equals_int (res.status, 0);
  assert_info_is (&res, "live", "no");
  assert_info_is (&res, "ended", "yes");
  bytes = info_uint (&res, "bytes");
  cat_result_clear (&res);
  run_cat (dir, client, FALSE, &res);
  check_cat_jpeg (&res, 320, 240, &cover);
  fail_unless_equals_uint64 (g_bytes_get_size (res.out), bytes);
  ct_assert_region_colour (&cover, 0, 0, 1, 1, (const guint8[3]){ 255, 0, 0 },
      16, "cover after the stream ended");
  ct_cover_clear (&cover);
  cat_result_clear (&res);

  /* no such client: a clear failure */
  run_cat (dir, "4000000000", FALSE, &res);
  fail_unless_equals_int (res.status, 1);
  fail_unless_equals_int (g_bytes_get_size (res.out), 0);
  fail_unless (strstr (res.err, "4000000000") != NULL,
      "coversnap-cat's message does not name the client: %s", res.err);
  cat_result_clear (&res);

  g_object_unref (child.proc);
  g_free (dir_prop);
  g_free (id_prop);
  g_free (client);
  g_free (log_path);
  g_free (dir);
  ct_remove_tmpdir (tmp);
}

GST_END_TEST;

/* The lines between "|[" and "]|" after "## Example launch line" in the
 * element's doc block, joined. */
static gchar *
doc_launch_line (void)
{
  const gchar *root = g_getenv ("COVERSNAP_SOURCE_ROOT");
  gchar *path, *text = NULL, **lines, *section;
  GString *line = NULL;
  GError *err = NULL;
  guint i;

  fail_unless (root != NULL, "COVERSNAP_SOURCE_ROOT is not set");
  path = g_build_filename (root, "elements", "gstcovertap.c", NULL);
  fail_unless (g_file_get_contents (path, &text, NULL, &err), "%s: %s", path,
      err ? err->message : "?");
  section = strstr (text, "## Example launch line");
  fail_unless (section != NULL, "%s has no '## Example launch line'", path);
  lines = g_strsplit (section, "\n", -1);
  for (i = 1; lines[i]; i++) {
    gchar *l = g_strstrip (lines[i]);

    if (g_str_has_prefix (l, "*/"))
      break;
    if (*l == '*')
      l = g_strstrip (l + 1);
    if (!line) {
      if (g_str_has_prefix (l, "|["))
        line = g_string_new (NULL);
      else if (*l)
        break; /* prose before the example: no example there */
      continue;
    }
    if (g_str_has_prefix (l, "]|"))
      break;
    if (*l) {
      if (line->len)
        g_string_append_c (line, ' ');
      g_string_append (line, l);
    }
  }
  g_strfreev (lines);
  g_free (text);
  g_free (path);
  fail_unless (line != NULL && line->len > 0,
      "no '|[ ... ]|' launch line after '## Example launch line'");
  return g_string_free (line, FALSE);
}

GST_START_TEST (test_doc_launch_line)
{
  gchar *launch = doc_launch_line ();
  gchar *tmp = ct_make_tmpdir ();
  gchar *log_path = g_build_filename (tmp, "gst-launch.log", NULL);
  gchar *dir_prop = g_strdup_printf ("store-dir=%s", tmp);
  gchar **argv = NULL, *client = NULL, *log;
  GPtrArray *args = g_ptr_array_new ();
  guint want_w = 0, want_h = 0, i;
  GError *err = NULL;
  gboolean tap = FALSE, in_tap = FALSE;
  Child child;
  CatResult res = {
    0,
  };
  CtCover cover;

  GST_INFO ("doc launch line: %s", launch);
  fail_unless (g_shell_parse_argv (launch, NULL, &argv, &err),
      "cannot parse the doc launch line '%s': %s", launch,
      err ? err->message : "?");
  fail_unless_equals_string (argv[0], "gst-launch-1.0");

  /* covertap's own properties end at the next "!": our store-dir goes last
   * there so it wins over one the doc may give */
  for (i = 0; argv[i]; i++) {
    if (in_tap && g_str_equal (argv[i], "!")) {
      g_ptr_array_add (args, dir_prop);
      in_tap = FALSE;
    }
    g_ptr_array_add (args, argv[i]);
    if (g_str_equal (argv[i], "covertap")) {
      fail_if (tap, "two covertaps in the doc launch line");
      tap = in_tap = TRUE;
    } else if (in_tap && g_str_has_prefix (argv[i], "client-id=")) {
      client = argv[i] + strlen ("client-id=");
    } else if (g_str_has_prefix (argv[i], "video/x-raw")) {
      const gchar *w = strstr (argv[i], "width="),
                  *h = strstr (argv[i], "height=");

      if (w)
        want_w = atoi (w + strlen ("width="));
      if (h)
        want_h = atoi (h + strlen ("height="));
    }
  }
  if (in_tap)
    g_ptr_array_add (args, dir_prop);
  g_ptr_array_add (args, NULL);
  fail_unless (tap, "the doc launch line has no covertap: %s", launch);
  fail_unless (client != NULL, "the doc launch line sets no client-id");
  /* a finite stream, or the test would wait for ever */
  fail_unless (strstr (launch, "num-buffers=") != NULL,
      "the doc launch line does not end by itself: %s", launch);

  spawn_launch ((const gchar *const *) args->pdata, log_path, &child);
  fail_unless (wait_child (&child, CT_TIMEOUT_US),
      "the doc launch line did not finish: %s", launch);
  log = read_log (log_path);
  fail_unless (child_succeeded (&child), "the doc launch line failed: %s\n%s",
      launch, log);
  /* gst-launch-1.0 prints bus warnings: a working example has none */
  fail_unless (strstr (log, "WARNING: from element") == NULL,
      "the doc launch line posted a warning:\n%s", log);
  /* nor does it trip GLib warnings (a property value out of range, ...) */
  fail_unless (strstr (log, "-WARNING **") == NULL &&
          strstr (log, "-CRITICAL **") == NULL,
      "the doc launch line logs a GLib warning:\n%s", log);
  g_free (log);

  run_cat (tmp, client, TRUE, &res);
  fail_unless_equals_int (res.status, 0);
  assert_info_is (&res, "ended", "yes");
  if (want_w && want_h && want_w <= 1920 && want_h <= 1080 &&
      !strstr (launch, "max-width") && !strstr (launch, "max-height")) {
    fail_unless_equals_int (info_uint (&res, "width"), want_w);
    fail_unless_equals_int (info_uint (&res, "height"), want_h);
  }
  want_w = info_uint (&res, "width");
  want_h = info_uint (&res, "height");
  cat_result_clear (&res);
  run_cat (tmp, client, FALSE, &res);
  check_cat_jpeg (&res, want_w, want_h, &cover);
  ct_cover_clear (&cover);
  cat_result_clear (&res);

  g_object_unref (child.proc);
  g_ptr_array_unref (args);
  g_strfreev (argv);
  g_free (dir_prop);
  g_free (log_path);
  g_free (launch);
  ct_remove_tmpdir (tmp);
}

GST_END_TEST;

static Suite *
covertap_process_suite (void)
{
  Suite *s = suite_create ("covertap-process");
  TCase *tc = tcase_create ("process");

  tcase_add_test (tc, test_cross_process);
  tcase_add_test (tc, test_doc_launch_line);
  suite_add_tcase (s, tc);
  return s;
}

CT_CHECK_MAIN (covertap_process);
