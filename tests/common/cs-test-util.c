/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cs-test-util.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

/* the environment, not a static: check forks a child per test */
#define TMP_ROOT_ENV "CS_TEST_TMP_ROOT"

void
cs_test_tmp_root_set (const gchar *dir)
{
  g_return_if_fail (dir != NULL);

  cs_test_rm_rf (dir);
  if (g_mkdir_with_parents (dir, 0750) != 0)
    g_error ("cannot make %s: %s", dir, g_strerror (errno));
  g_setenv (TMP_ROOT_ENV, dir, TRUE);
}

void
cs_test_tmp_root_new (const gchar *tmpl)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *root = NULL;

  g_return_if_fail (tmpl != NULL);

  root = g_dir_make_tmp (tmpl, &err);
  if (!root)
    g_error ("cannot make a temporary directory: %s", err->message);
  g_setenv (TMP_ROOT_ENV, root, TRUE);
}

const gchar *
cs_test_tmp_root (void)
{
  return g_getenv (TMP_ROOT_ENV);
}

void
cs_test_tmp_root_remove (void)
{
  const gchar *root = cs_test_tmp_root ();

  if (!root)
    return;
  cs_test_rm_rf (root);
  g_unsetenv (TMP_ROOT_ENV);
}

gchar *
cs_test_make_tmpdir (const gchar *tmpl)
{
  const gchar *root = cs_test_tmp_root ();
  g_autoptr (GError) err = NULL;
  gchar *dir;

  g_return_val_if_fail (tmpl != NULL, NULL);

  if (root) {
    dir = g_build_filename (root, tmpl, NULL);
    if (!g_mkdtemp_full (dir, 0750))
      g_error ("cannot make a directory in %s: %s", root, g_strerror (errno));
    return dir;
  }
  dir = g_dir_make_tmp (tmpl, &err);
  if (!dir)
    g_error ("cannot make a temporary directory: %s", err->message);
  return dir;
}

void
cs_test_tmpdir_free (gchar *dir)
{
  if (!dir)
    return;
  cs_test_rm_rf (dir);
  g_free (dir);
}

void
cs_test_rm_rf (const gchar *path)
{
  struct stat st;

  g_return_if_fail (path != NULL);

  /* lstat: a link to a directory goes, what it points to stays */
  if (lstat (path, &st) < 0)
    return;
  if (S_ISDIR (st.st_mode)) {
    g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
    const gchar *name;

    while (d && (name = g_dir_read_name (d))) {
      g_autofree gchar *child = g_build_filename (path, name, NULL);

      cs_test_rm_rf (child);
    }
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

GPtrArray *
cs_test_list_dir (const gchar *dir, const gchar *suffix, gboolean full_paths)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) d = NULL;
  const gchar *name;

  g_return_val_if_fail (dir != NULL, names);

  d = g_dir_open (dir, 0, NULL);
  while (d && (name = g_dir_read_name (d))) {
    if (suffix && !g_str_has_suffix (name, suffix))
      continue;
    g_ptr_array_add (names,
        full_paths ? g_build_filename (dir, name, NULL) : g_strdup (name));
  }
  g_ptr_array_sort (names, compare_strings);
  return names;
}

guint
cs_test_count_dir (const gchar *dir, const gchar *suffix)
{
  g_autoptr (GDir) d = NULL;
  const gchar *name;
  guint n = 0;

  g_return_val_if_fail (dir != NULL, 0);

  d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)))
    n += !suffix || g_str_has_suffix (name, suffix);
  return n;
}

const gchar *
cs_test_program (const gchar *var)
{
  const gchar *path;

  g_return_val_if_fail (var != NULL, NULL);

  path = g_getenv (var);
  if (!path || !g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    g_error ("%s does not name a program: run this test with meson test", var);
  return path;
}

gchar *
cs_test_bytes_to_string (GBytes *bytes)
{
  gsize size = 0;
  const gchar *data = bytes ? g_bytes_get_data (bytes, &size) : NULL;

  /* an empty pipe gives no data pointer at all */
  return data ? g_strndup (data, size) : g_strdup ("");
}

gchar *
cs_test_info_value (const gchar *text, const gchar *key)
{
  g_auto (GStrv) lines = NULL;
  gsize klen;
  guint i;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  lines = g_strsplit (text, "\n", -1);
  klen = strlen (key);
  for (i = 0; lines[i]; i++) {
    if (strncmp (lines[i], key, klen) == 0 && lines[i][klen] == ':')
      return g_strstrip (g_strdup (lines[i] + klen + 1));
  }
  return NULL;
}

gboolean
cs_test_poll (CsTestPollFunc func, gpointer user_data, gint64 timeout_us,
    gulong interval_us)
{
  gint64 deadline = g_get_monotonic_time () + timeout_us;

  g_return_val_if_fail (func != NULL, FALSE);

  for (;;) {
    gboolean past = g_get_monotonic_time () >= deadline;

    if (func (user_data))
      return TRUE;
    if (past)
      return FALSE;
    g_usleep (interval_us);
  }
}

gint64
cs_test_now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}
