/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* What every suite needs from the file system and the clock: temporary
 * directories under one root per test program, removing what a test left,
 * listing a directory in a stable order, the binaries meson hands over in
 * the environment, and bounded waits.  GLib only: the GStreamer-free suites
 * link it too.  Helpers fail the test (g_assert) rather than return errors:
 * a test has nothing better to do with one. */

#ifndef __CS_TEST_UTIL_H__
#define __CS_TEST_UTIL_H__

#include <glib.h>

G_BEGIN_DECLS

/* Temporary directories.  A failing test aborts before it cleans up (and a
 * check test runs in a forked child), so all of a program's directories go
 * below one root, made before the tests run and removed after them.  The
 * root travels in the environment, so forked children find it. */

/* Makes @dir (emptied first when it exists) the root: a directory of the
 * build tree, so that what a crashed test left is found and removed by the
 * next run. */
void cs_test_tmp_root_set (const gchar *dir);
/* Makes a fresh root from the system's template @tmpl ("name-XXXXXX"). */
void cs_test_tmp_root_new (const gchar *tmpl);
/* The root, or NULL when none was set (transfer none). */
const gchar *cs_test_tmp_root (void);
/* Removes the root and everything below it; the root is unset. */
void cs_test_tmp_root_remove (void);

/* A new empty directory from @tmpl ("name-XXXXXX") below the root, or in
 * the system's temporary directory when there is no root.  Returns the path
 * (transfer full). */
gchar *cs_test_make_tmpdir (const gchar *tmpl);
/* cs_test_rm_rf (@dir), then g_free (@dir) (transfer full); NULL is
 * ignored. */
void cs_test_tmpdir_free (gchar *dir);

/* Removes @path and, for a directory, everything below it.  Symbolic links
 * are removed, never followed.  A missing @path is not an error. */
void cs_test_rm_rf (const gchar *path);

/* The names in @dir that end with @suffix (NULL: all), sorted by strcmp;
 * with @full_paths as @dir/name.  Empty when @dir cannot be opened.
 * Returns a GPtrArray of gchar * that frees its elements (transfer full). */
GPtrArray *cs_test_list_dir (
    const gchar *dir, const gchar *suffix, gboolean full_paths);
/* How many names cs_test_list_dir() would list; fails the test when @dir
 * cannot be opened (a /proc directory of a dead process, say). */
guint cs_test_count_dir (const gchar *dir, const gchar *suffix);

/* The path of a program meson passes in environment variable @var
 * (COVERSNAP_CAT, COVERSNAP_TOKEN, COVERSNAPD...); fails the test when it
 * is unset or not executable: the test is run outside meson (transfer
 * none). */
const gchar *cs_test_program (const gchar *var);

/* @bytes as a NUL-terminated string; "" for NULL or no data (transfer
 * full). */
gchar *cs_test_bytes_to_string (GBytes *bytes);
/* The value of the "key: value" line for @key in @text, white space
 * stripped, or NULL when there is none (transfer full). */
gchar *cs_test_info_value (const gchar *text, const gchar *key);

/* Bounded waits: they only stop a broken test, they are not measurements. */
typedef gboolean (*CsTestPollFunc) (gpointer user_data);
/* Calls @func every @interval_us until it returns TRUE or @timeout_us have
 * passed (it is always called once more at the deadline); returns what it
 * returned last. */
gboolean cs_test_poll (CsTestPollFunc func, gpointer user_data,
    gint64 timeout_us, gulong interval_us);

/* Unix time in seconds. */
gint64 cs_test_now_s (void);

G_END_DECLS

#endif /* __CS_TEST_UTIL_H__ */
