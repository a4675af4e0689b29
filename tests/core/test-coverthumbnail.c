/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The thumbnail contract: names, listing, atomic saves, pruning. */

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>
#include <utime.h>

#include "coverthumbnail.h"

/* 2026-11-28 21:33:00 UTC */
#define T0 G_GINT64_CONSTANT (1795901580)

typedef struct
{
  gchar *dir;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  GError *err = NULL;

  f->dir = g_dir_make_tmp ("coversnap-thumbs-XXXXXX", &err);
  g_assert_no_error (err);
}

static void
remove_tree (const gchar *path)
{
  g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (d && (name = g_dir_read_name (d))) {
    g_autofree gchar *child = g_build_filename (path, name, NULL);

    if (g_file_test (child, G_FILE_TEST_IS_DIR))
      remove_tree (child);
    else
      g_unlink (child);
  }
  g_rmdir (path);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  remove_tree (f->dir);
  g_free (f->dir);
}

static void
touch (const gchar *dir, const gchar *name, gint64 mtime)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  GError *err = NULL;

  g_file_set_contents (path, "jpeg", 4, &err);
  g_assert_no_error (err);
  if (mtime) {
    struct utimbuf t = { mtime, mtime };

    g_assert_cmpint (g_utime (path, &t), ==, 0);
  }
}

static gboolean
exists (const gchar *dir, const gchar *name)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar **) a, *(const gchar **) b);
}

/* The names in @dir, sorted, as one string: "a b c". */
static gchar *
dir_names (const gchar *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;

  while (d && (name = g_dir_read_name (d)))
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (gchar **) names->pdata);
}

static gchar *
list_names (const gchar *dir)
{
  g_autoptr (GPtrArray) names = cover_thumbnail_list (dir);

  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (gchar **) names->pdata);
}

static void
test_dir (void)
{
  g_autofree gchar *a = cover_thumbnail_dir ("/var/lib/thumbs", 42);
  g_autofree gchar *b = cover_thumbnail_dir ("/var/lib/thumbs/", G_MAXUINT32);

  g_assert_cmpstr (a, ==, "/var/lib/thumbs/42");
  g_assert_cmpstr (b, ==, "/var/lib/thumbs/4294967295");
}

static void
test_name_round_trip (void)
{
  gint64 t = T0 * G_USEC_PER_SEC + 123456, back = 0;
  g_autofree gchar *name = cover_thumbnail_name (t);
  g_autofree gchar *whole = cover_thumbnail_name (T0 * G_USEC_PER_SEC);

  g_assert_cmpstr (name, ==, "20261128T213300.123Z.jpg");
  g_assert_true (cover_thumbnail_name_parse (name, &back));
  /* names keep milliseconds */
  g_assert_cmpint (back, ==, T0 * G_USEC_PER_SEC + 123000);

  g_assert_cmpstr (whole, ==, "20261128T213300.000Z.jpg");
  g_assert_true (cover_thumbnail_name_parse (whole, &back));
  g_assert_cmpint (back, ==, T0 * G_USEC_PER_SEC);
}

static void
test_name_parse (void)
{
  static const gchar *bad[] = { "", "cover.jpg", "20261128T213300.12Z.jpg",
    "20261128T213300.1234Z.jpg", "20261128T213300.123Z.jpeg",
    "20261128T213300.123.jpg", "20261128 213300.123Z.jpg",
    "20261328T213300.123Z.jpg", "20261128T253300.123Z.jpg",
    ".20261128T213300.123Z.jpg.tmp", "x20261128T213300.123Z.jpg",
    "20261128T213300.123Z.jpg~", "2026112T213300.123Z.jpg" };
  gint64 t = 0;
  guint i;

  /* hand-written names may leave out the milliseconds */
  g_assert_true (cover_thumbnail_name_parse ("20261128T213300Z.jpg", &t));
  g_assert_cmpint (t, ==, T0 * G_USEC_PER_SEC);
  g_assert_false (cover_thumbnail_name_parse ("20261128T213300.5Z.jpg", NULL));
  g_assert_true (cover_thumbnail_name_parse ("20261128T213300.999Z.jpg", NULL));

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_test_message ("'%s'", bad[i]);
    t = 7;
    g_assert_false (cover_thumbnail_name_parse (bad[i], &t));
    g_assert_cmpint (t, ==, 7);
  }
}

static void
test_list (Fixture *f, gconstpointer data)
{
  g_autofree gchar *names = NULL;
  g_autofree gchar *newest = NULL;
  g_autofree gchar *missing = g_build_filename (f->dir, "nope", NULL);
  g_autoptr (GPtrArray) none = NULL;

  g_assert_null (cover_thumbnail_newest (f->dir));
  /* by name these sort 213259.999, 213300.500, 213300Z; by time the one
   * without milliseconds (.000) comes between */
  touch (f->dir, "20261128T213300.500Z.jpg", 0);
  touch (f->dir, "20261128T213300Z.jpg", 0);
  touch (f->dir, "20261128T213259.999Z.jpg", 0);
  touch (f->dir, "20251231T235959.000Z.jpg", 0);
  /* not thumbnails */
  touch (f->dir, ".20261128T213400.000Z.jpg", 0);
  touch (f->dir, ".20261128T213400.000Z.jpg.tmp", 0);
  touch (f->dir, "cover.jpg", 0);
  touch (f->dir, "20261128T213400.000Z.txt", 0);
  touch (f->dir, "notes", 0);

  names = list_names (f->dir);
  g_assert_cmpstr (names, ==,
      "20251231T235959.000Z.jpg 20261128T213259.999Z.jpg "
      "20261128T213300Z.jpg 20261128T213300.500Z.jpg");
  newest = cover_thumbnail_newest (f->dir);
  g_assert_cmpstr (newest, ==, "20261128T213300.500Z.jpg");

  none = cover_thumbnail_list (missing);
  g_assert_cmpuint (none->len, ==, 0);
  g_assert_null (cover_thumbnail_newest (missing));
}

static void
test_save (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) jpeg = g_bytes_new_static ("\xff\xd8 jpeg \xff\xd9", 10);
  g_autofree gchar *dir = g_build_filename (f->dir, "a", "42", NULL);
  g_autofree gchar *blocker = g_build_filename (f->dir, "file", NULL);
  g_autofree gchar *under_file = g_build_filename (blocker, "42", NULL);
  g_autofree gchar *path = NULL;
  g_autofree gchar *contents = NULL;
  g_autofree gchar *names = NULL;
  gint64 t = T0 * G_USEC_PER_SEC + 42000;
  GError *err = NULL;
  gsize len = 0;

  /* the directory is created as needed */
  path = cover_thumbnail_save (dir, jpeg, t, &err);
  g_assert_no_error (err);
  g_assert_nonnull (path);
  g_assert_true (g_str_has_prefix (path, dir));
  g_assert_true (g_str_has_suffix (path, "/20261128T213300.042Z.jpg"));
  g_assert_true (g_file_get_contents (path, &contents, &len, &err));
  g_assert_no_error (err);
  g_assert_cmpmem (contents, len, g_bytes_get_data (jpeg, NULL), 10);
  /* atomic: written aside and renamed, no temporary file left */
  names = dir_names (dir);
  g_assert_cmpstr (names, ==, "20261128T213300.042Z.jpg");

  /* a directory that cannot be made is an error, not a crash */
  touch (f->dir, "file", 0);
  g_assert_null (cover_thumbnail_save (under_file, jpeg, t, &err));
  g_assert_error (err, G_FILE_ERROR, G_FILE_ERROR_NOTDIR);
  g_clear_error (&err);
}

static void
test_prune_count (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) all = NULL;
  g_autofree gchar *after = NULL;
  g_autofree gchar *again = NULL;

  touch (f->dir, "20261128T213304.000Z.jpg", 0);
  touch (f->dir, "20261128T213301.000Z.jpg", 0);
  touch (f->dir, "20261128T213303.000Z.jpg", 0);
  touch (f->dir, "20261128T213300Z.jpg", 0);
  touch (f->dir, "20261128T213302.000Z.jpg", 0);
  touch (f->dir, "keep.txt", 0);
  touch (f->dir, ".hidden.jpg", 0);

  /* no limits: nothing goes */
  cover_thumbnail_prune (f->dir, 0, 0);
  all = cover_thumbnail_list (f->dir);
  g_assert_cmpuint (all->len, ==, 5);

  cover_thumbnail_prune (f->dir, 2, 0);
  after = dir_names (f->dir);
  g_assert_cmpstr (after, ==,
      ".hidden.jpg 20261128T213303.000Z.jpg 20261128T213304.000Z.jpg "
      "keep.txt");

  cover_thumbnail_prune (f->dir, 2, 0);
  again = dir_names (f->dir);
  g_assert_cmpstr (again, ==, after);
}

static void
test_prune_age (Fixture *f, gconstpointer data)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree gchar *after = NULL;

  /* names say one thing, mtimes another: age goes by mtime */
  touch (f->dir, "20261128T213300.000Z.jpg", now - 7200);
  touch (f->dir, "20261128T213301.000Z.jpg", now - 10);
  touch (f->dir, "20261128T213302.000Z.jpg", now - 4000);
  touch (f->dir, "20261128T213303.000Z.jpg", 0);
  touch (f->dir, "old.txt", now - 7200);

  cover_thumbnail_prune (f->dir, 0, 3600);
  after = dir_names (f->dir);
  g_assert_cmpstr (
      after, ==, "20261128T213301.000Z.jpg 20261128T213303.000Z.jpg old.txt");

  /* both limits: the count takes the oldest name, the age the rest */
  touch (f->dir, "20261128T213304.000Z.jpg", now - 7200);
  cover_thumbnail_prune (f->dir, 2, 3600);
  g_assert_false (exists (f->dir, "20261128T213301.000Z.jpg"));
  g_assert_true (exists (f->dir, "20261128T213303.000Z.jpg"));
  g_assert_false (exists (f->dir, "20261128T213304.000Z.jpg"));
  g_assert_true (exists (f->dir, "old.txt"));
}

/* A save killed between create and rename leaves ".<name>.tmp": the next
 * prune removes it once it is old, and nothing else (fresh ones, other
 * names, links). */
static void
test_sweep (Fixture *f, gconstpointer data)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree gchar *outside = g_dir_make_tmp ("coversnap-outside-XXXXXX", NULL);
  g_autofree gchar *target = g_build_filename (outside, "victim", NULL);
  g_autofree gchar *link =
      g_build_filename (f->dir, ".20261128T213309.000Z.jpg.tmp", NULL);
  g_autofree gchar *after = NULL;

  g_assert_true (
      cover_thumbnail_temp_name_parse (".20261128T213300.000Z.jpg.tmp"));
  g_assert_false (cover_thumbnail_temp_name_parse ("20261128T213300.000Z.jpg"));
  g_assert_false (cover_thumbnail_temp_name_parse (".x.tmp"));
  g_assert_false (cover_thumbnail_temp_name_parse (".tmp"));

  touch (f->dir, ".20261128T213300.000Z.jpg.tmp", now - 7200);
  touch (f->dir, ".20261128T213301.000Z.jpg.tmp", now - 5);
  touch (f->dir, ".other.tmp", now - 7200);
  touch (f->dir, "20261128T213302.000Z.jpg", now - 7200);
  g_assert_true (g_file_set_contents (target, "x", 1, NULL));
  g_assert_cmpint (symlink (target, link), ==, 0);

  cover_thumbnail_prune (f->dir, 0, 0);
  after = dir_names (f->dir);
  g_assert_cmpstr (after, ==,
      ".20261128T213301.000Z.jpg.tmp .20261128T213309.000Z.jpg.tmp "
      ".other.tmp 20261128T213302.000Z.jpg");
  g_assert_true (g_file_test (target, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (g_unlink (link), ==, 0);
  g_assert_cmpint (g_unlink (target), ==, 0);
  g_assert_cmpint (g_rmdir (outside), ==, 0);

  /* the sweep alone, with its own bound: the 5 s old one goes too */
  g_assert_cmpuint (cover_thumbnail_sweep (f->dir, 0), ==, 1);
  g_assert_false (exists (f->dir, ".20261128T213301.000Z.jpg.tmp"));
  touch (f->dir, ".20261128T213303.000Z.jpg.tmp", now - 100);
  g_assert_cmpuint (cover_thumbnail_sweep (f->dir, 50), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/coverthumbnail/dir", test_dir);
  g_test_add_func ("/coverthumbnail/name/round-trip", test_name_round_trip);
  g_test_add_func ("/coverthumbnail/name/parse", test_name_parse);
  g_test_add ("/coverthumbnail/list", Fixture, NULL, fixture_setup, test_list,
      fixture_teardown);
  g_test_add ("/coverthumbnail/save", Fixture, NULL, fixture_setup, test_save,
      fixture_teardown);
  g_test_add ("/coverthumbnail/prune/count", Fixture, NULL, fixture_setup,
      test_prune_count, fixture_teardown);
  g_test_add ("/coverthumbnail/prune/age", Fixture, NULL, fixture_setup,
      test_prune_age, fixture_teardown);
  g_test_add ("/coverthumbnail/sweep", Fixture, NULL, fixture_setup, test_sweep,
      fixture_teardown);
  return g_test_run ();
}
