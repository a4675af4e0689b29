/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* coversnap-cat as ops run it: the binary from the build tree (env
 * COVERSNAP_CAT), over a store directory this test writes to. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <turbojpeg.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "coverstore.h"
#include "cs-test-image.h"
#include "cs-test-proc.h"
#include "cs-test-util.h"

typedef struct
{
  gint status;
  GBytes *out;
  gchar *err;
} CatResult;

static void
cat_result_clear (CatResult *res)
{
  g_clear_pointer (&res->out, g_bytes_unref);
  g_clear_pointer (&res->err, g_free);
}

/* Runs coversnap-cat with @args (NULL-terminated). */
static void
run_cat (CatResult *res, const gchar *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_auto (CsTestRun) run = { 0 };
  const gchar *arg;
  va_list va;

  g_ptr_array_add (argv, (gpointer) cs_test_program ("COVERSNAP_CAT"));
  va_start (va, first);
  for (arg = first; arg; arg = va_arg (va, const gchar *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (va);
  g_ptr_array_add (argv, NULL);

  cs_test_run (&run, (const gchar *const *) argv->pdata, NULL, NULL);
  g_assert_cmpint (run.status, >=, 0);
  res->status = run.status;
  res->out = g_steal_pointer (&run.out);
  res->err = g_steal_pointer (&run.err);
  {
    g_autofree gchar *cmd = g_strjoinv ("' '", (gchar **) argv->pdata + 1);

    g_test_message (
        "coversnap-cat '%s' -> %d, stderr: %s", cmd, res->status, res->err);
  }
}

static void
test_usage (void)
{
  static const gchar *bad_ids[] = { "abc", "4294967296", "99999999999999999999",
    "-1", "-5", "12x", "0x10", "", " 7", "+7", "1.5", "042" };
  CatResult res = {
    0,
  };
  guint i;

  run_cat (&res, NULL);
  g_assert_cmpint (res.status, ==, 2);
  g_assert_cmpuint (g_bytes_get_size (res.out), ==, 0);
  g_assert_nonnull (strstr (res.err, "CLIENT_ID"));
  cat_result_clear (&res);

  for (i = 0; i < G_N_ELEMENTS (bad_ids); i++) {
    run_cat (&res, "--store-dir", "/nonexistent", bad_ids[i], NULL);
    g_assert_cmpint (res.status, ==, 2);
    g_assert_cmpuint (g_bytes_get_size (res.out), ==, 0);
    g_assert_cmpuint (strlen (res.err), >, 0);
    cat_result_clear (&res);
  }

  /* two ids, an unknown option, a bad timeout */
  run_cat (&res, "--store-dir", "/nonexistent", "1", "2", NULL);
  g_assert_cmpint (res.status, ==, 2);
  cat_result_clear (&res);
  run_cat (&res, "--bogus", "1", NULL);
  g_assert_cmpint (res.status, ==, 2);
  cat_result_clear (&res);
  run_cat (
      &res, "--store-dir", "/nonexistent", "--live-timeout", "-3", "1", NULL);
  g_assert_cmpint (res.status, ==, 2);
  cat_result_clear (&res);

  /* the biggest id is a valid one: it gets past parsing to "no cover" */
  run_cat (&res, "--store-dir", "/nonexistent", "4294967295", NULL);
  g_assert_cmpint (res.status, ==, 1);
  g_assert_nonnull (strstr (res.err, "no cover for client 4294967295"));
  cat_result_clear (&res);
}

static GBytes *
make_jpeg (guint w, guint h)
{
  g_autofree guint8 *rgb = g_malloc ((gsize) w * h * 3);
  gsize i;

  for (i = 0; i < (gsize) w * h * 3; i++)
    rgb[i] = (i * 7) ^ (i / 3 / w);
  return cs_test_jpeg_encode (rgb, w, h, TJSAMP_420, 90);
}

/* "key: value" from --info output */
static gchar *
info_value (GBytes *out, const gchar *key)
{
  g_autofree gchar *text = cs_test_bytes_to_string (out);

  return cs_test_info_value (text, key);
}

static void
assert_info (GBytes *out, const gchar *key, const gchar *expect)
{
  g_autofree gchar *value = info_value (out, key);

  g_assert_cmpstr (value, ==, expect);
}

static void
test_store (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("coversnap-cat-XXXXXX", NULL);
  g_autoptr (GBytes) jpeg1 = make_jpeg (320, 240);
  g_autoptr (GBytes) jpeg2 = make_jpeg (640, 480);
  g_autofree gchar *size_text = NULL;
  CoverStoreWriter *w;
  CatResult res = {
    0,
  };
  GError *err = NULL;
  gsize size;
  const guint8 *data;

  g_assert_nonnull (dir);

  /* no segment */
  run_cat (&res, "--store-dir", dir, "77", NULL);
  g_assert_cmpint (res.status, ==, 1);
  g_assert_cmpuint (g_bytes_get_size (res.out), ==, 0);
  g_assert_nonnull (strstr (res.err, "no cover for client 77"));
  cat_result_clear (&res);
  run_cat (&res, "--store-dir", dir, "--info", "77", NULL);
  g_assert_cmpint (res.status, ==, 1);
  g_assert_nonnull (strstr (res.err, "no cover for client 77"));
  cat_result_clear (&res);

  /* a segment with no image yet */
  w = cover_store_writer_open (dir, 77, 0600, &err);
  g_assert_no_error (err);
  run_cat (&res, "--store-dir", dir, "77", NULL);
  g_assert_cmpint (res.status, ==, 1);
  g_assert_cmpuint (g_bytes_get_size (res.out), ==, 0);
  g_assert_nonnull (strstr (res.err, "no cover for client 77"));
  cat_result_clear (&res);
  /* --info still tells what it knows: a live writer, no image */
  run_cat (&res, "-d", dir, "-i", "77", NULL);
  g_assert_cmpint (res.status, ==, 1);
  assert_info (res.out, "live", "yes");
  assert_info (res.out, "image", "none");
  cat_result_clear (&res);

  /* a published cover: the exact bytes on stdout */
  data = g_bytes_get_data (jpeg1, &size);
  g_assert_true (cover_store_writer_publish (
      w, data, size, 320, 240, g_get_real_time (), NULL, &err));
  g_assert_no_error (err);
  run_cat (&res, "--store-dir", dir, "77", NULL);
  g_assert_cmpint (res.status, ==, 0);
  g_assert_true (g_bytes_equal (res.out, jpeg1));
  g_assert_cmpstr (res.err, ==, "");
  cat_result_clear (&res);
  /* another client id has nothing */
  run_cat (&res, "--store-dir", dir, "78", NULL);
  g_assert_cmpint (res.status, ==, 1);
  g_assert_nonnull (strstr (res.err, "no cover for client 78"));
  cat_result_clear (&res);

  /* the newer image, and its metadata */
  data = g_bytes_get_data (jpeg2, &size);
  g_assert_true (cover_store_writer_publish (
      w, data, size, 640, 480, g_get_real_time (), NULL, &err));
  run_cat (&res, "--store-dir", dir, "77", NULL);
  g_assert_cmpint (res.status, ==, 0);
  g_assert_true (g_bytes_equal (res.out, jpeg2));
  cat_result_clear (&res);

  run_cat (&res, "--store-dir", dir, "--info", "77", NULL);
  g_assert_cmpint (res.status, ==, 0);
  size_text = g_strdup_printf ("%" G_GSIZE_FORMAT, size);
  assert_info (res.out, "client-id", "77");
  assert_info (res.out, "live", "yes");
  assert_info (res.out, "ended", "no");
  assert_info (res.out, "generation", "2");
  assert_info (res.out, "width", "640");
  assert_info (res.out, "height", "480");
  assert_info (res.out, "bytes", size_text);
  {
    g_autofree gchar *pid = g_strdup_printf ("%d", (int) getpid ());

    assert_info (res.out, "writer-pid", pid);
  }
  cat_result_clear (&res);

  /* ended: not live, the cover still comes out */
  cover_store_writer_set_ended (w, TRUE);
  run_cat (&res, "--store-dir", dir, "--info", "77", NULL);
  g_assert_cmpint (res.status, ==, 0);
  assert_info (res.out, "live", "no");
  assert_info (res.out, "ended", "yes");
  assert_info (res.out, "generation", "2");
  cat_result_clear (&res);
  cover_store_writer_set_ended (w, FALSE);

  /* a stale heartbeat with a short --live-timeout */
  g_usleep (300 * 1000);
  run_cat (
      &res, "--store-dir", dir, "--info", "--live-timeout", "0.1", "77", NULL);
  g_assert_cmpint (res.status, ==, 0);
  assert_info (res.out, "live", "no");
  assert_info (res.out, "ended", "no");
  cat_result_clear (&res);

  /* the writer gone with its segment */
  cover_store_writer_close (w, TRUE);
  run_cat (&res, "--store-dir", dir, "77", NULL);
  g_assert_cmpint (res.status, ==, 1);
  g_assert_nonnull (strstr (res.err, "no cover for client 77"));
  cat_result_clear (&res);

  /* garbage where a segment should be */
  {
    g_autofree gchar *path = cover_store_path (dir, 77);

    g_assert_true (g_file_set_contents (path, "not a segment", -1, NULL));
    run_cat (&res, "--store-dir", dir, "77", NULL);
    g_assert_cmpint (res.status, ==, 1);
    g_assert_nonnull (strstr (res.err, "no cover for client 77"));
    cat_result_clear (&res);
    g_unlink (path);
  }

  /* the biggest client id */
  w = cover_store_writer_open (dir, G_MAXUINT32, 0600, &err);
  g_assert_no_error (err);
  data = g_bytes_get_data (jpeg1, &size);
  g_assert_true (cover_store_writer_publish (
      w, data, size, 320, 240, g_get_real_time (), NULL, &err));
  run_cat (&res, "--store-dir", dir, "4294967295", NULL);
  g_assert_cmpint (res.status, ==, 0);
  g_assert_true (g_bytes_equal (res.out, jpeg1));
  cat_result_clear (&res);
  cover_store_writer_close (w, TRUE);

  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* Item 18: no path out of coversnap-cat leaks (valgrind's "definitely
 * lost"), the refusals of bad usage included. */
static void
test_no_leaks (void)
{
  g_autofree gchar *valgrind = g_find_program_in_path ("valgrind");
  g_autofree gchar *dir = cs_test_make_tmpdir ("cat-leaks-XXXXXX");
  const gchar *cat = cs_test_program ("COVERSNAP_CAT");
  /* each after "coversnap-cat" */
  const gchar *const runs[][6] = {
    { "--store-dir", dir, "--live-timeout", "-3", "1", NULL },
    { "--store-dir", dir, "1", "2", NULL },
    { "--store-dir", dir, "abc", NULL },
    { "--store-dir", dir, "--info", "7", NULL },
    { "--store-dir", dir, "7", NULL },
  };
  guint i;

  /* scripts/install-deps.sh installs it */
  g_assert_nonnull (valgrind);
  for (i = 0; i < G_N_ELEMENTS (runs); i++) {
    g_auto (CsTestRun) run = { 0 };
    const gchar *argv[16] = { valgrind, "-q", "--leak-check=full",
      "--errors-for-leak-kinds=definite", "--error-exitcode=99", cat };
    guint n = 6, j;

    for (j = 0; runs[i][j]; j++)
      argv[n++] = runs[i][j];
    argv[n] = NULL;
    cs_test_run (&run, argv, NULL, NULL);
    g_test_message ("run %u -> %d: %s", i, run.status, run.err);
    g_assert_cmpint (run.status, !=, 99);
    g_assert_cmpint (run.status, >=, 1);
  }
  cs_test_tmpdir_free (g_steal_pointer (&dir));
}

/* A covertap and a coversnap-cat started without options meet: both take
 * the default store, the session's private directory. */
static void
test_default_store (void)
{
  g_autofree gchar *runtime = cs_test_make_tmpdir ("runtime-XXXXXX");
  g_autofree gchar *store = g_build_filename (runtime, "coversnap", NULL);
  g_autofree gchar *saved = g_strdup (g_getenv ("XDG_RUNTIME_DIR"));
  const gchar *launch[] = { "gst-launch-1.0", "-q", "videotestsrc",
    "num-buffers=3", "!", "video/x-raw,width=64,height=48", "!", "jpegenc", "!",
    "covertap", "client-id=4242", "min-interval=0", "!", "fakesink", NULL };
  g_auto (CsTestRun) run = { 0 };
  CatResult res = {
    0,
  };
  GStatBuf st;
  const guint8 *data;

  /* children inherit it: the user's session */
  g_setenv ("XDG_RUNTIME_DIR", runtime, TRUE);
  cs_test_run (&run, launch, NULL, NULL);
  g_test_message ("gst-launch-1.0 -> %d: %s", run.status, run.err);
  g_assert_cmpint (run.status, ==, 0);

  /* made private by covertap */
  g_assert_cmpint (g_lstat (store, &st), ==, 0);
  g_assert_true (S_ISDIR (st.st_mode));
  g_assert_cmpuint (st.st_mode & 07777, ==, 0700);

  run_cat (&res, "4242", NULL);
  if (saved)
    g_setenv ("XDG_RUNTIME_DIR", saved, TRUE);
  else
    g_unsetenv ("XDG_RUNTIME_DIR");
  g_assert_cmpint (res.status, ==, 0);
  g_assert_cmpuint (g_bytes_get_size (res.out), >, 4);
  data = g_bytes_get_data (res.out, NULL);
  g_assert_cmpuint (data[0], ==, 0xff);
  g_assert_cmpuint (data[1], ==, 0xd8);
  cat_result_clear (&res);
  cs_test_tmpdir_free (g_steal_pointer (&runtime));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/coversnap-cat/usage", test_usage);
  g_test_add_func ("/coversnap-cat/store", test_store);
  g_test_add_func ("/coversnap-cat/default-store", test_default_store);
  g_test_add_func ("/coversnap-cat/no-leaks", test_no_leaks);

  return g_test_run ();
}
