/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The cover store on its own: writer/reader basics, growth of the image
 * slots, liveness, and what is left in the store directory by crashed or
 * foreign writers.  Everything runs in a fresh temporary directory. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "coverstore.h"
#include "cs-test-util.h"

#define LIVE_TIMEOUT (5 * G_USEC_PER_SEC)

typedef struct
{
  gchar *dir;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = cs_test_make_tmpdir ("coversnap-store-XXXXXX");
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  cs_test_rm_rf (f->dir);
  g_assert_false (g_file_test (f->dir, G_FILE_TEST_EXISTS));
  g_free (f->dir);
}

/* Distinct, checkable content: every byte depends on @seed and its index. */
static guint8 *
make_image (guint32 seed, gsize size)
{
  guint8 *data = g_malloc (MAX (size, 1));
  guint32 x = seed * 2654435761u + 1;
  gsize i;

  for (i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    data[i] = x >> 24;
  }
  return data;
}

static void
assert_bytes_equal (GBytes *bytes, const guint8 *data, gsize size)
{
  g_assert_nonnull (bytes);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, size);
  g_assert_true (
      size == 0 || memcmp (g_bytes_get_data (bytes, NULL), data, size) == 0);
}

static guint64
publish (CoverStoreWriter *w, guint32 seed, gsize size, guint32 width,
    guint32 height, gint64 capture_time)
{
  g_autofree guint8 *data = make_image (seed, size);
  GError *err = NULL;
  guint64 gen = 0;

  g_assert_true (cover_store_writer_publish (
      w, data, size, width, height, capture_time, &gen, &err));
  g_assert_no_error (err);
  return gen;
}

/* Reads through @r and checks that it gets image @seed of @size bytes. */
static void
assert_reads (CoverStoreReader *r, guint32 seed, gsize size, guint64 gen,
    CoverInfo *info_out)
{
  g_autofree guint8 *expect = make_image (seed, size);
  g_autoptr (GBytes) bytes = NULL;
  GError *err = NULL;
  CoverInfo info = {
    0,
  };

  bytes = cover_store_reader_read (r, LIVE_TIMEOUT, &info, &err);
  g_assert_no_error (err);
  assert_bytes_equal (bytes, expect, size);
  g_assert_cmpuint (info.size, ==, size);
  g_assert_cmpuint (info.generation, ==, gen);
  if (info_out)
    *info_out = info;
}

static guint
file_mode (const gchar *path)
{
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  return st.st_mode & 07777;
}

/* Only the segment itself may be left in the directory: no temp files. */
static void
assert_dir_holds_only (const gchar *dir, const gchar *name)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *entry;
  guint n = 0;

  g_assert_nonnull (d);
  while ((entry = g_dir_read_name (d))) {
    if (name)
      g_assert_cmpstr (entry, ==, name);
    n++;
  }
  g_dir_close (d);
  g_assert_cmpuint (n, ==, name ? 1 : 0);
}

static void
test_path (void)
{
  g_autofree gchar *p1 = cover_store_path ("/some/dir", 0);
  g_autofree gchar *p2 = cover_store_path ("/some/dir", 4294967295u);

  g_assert_cmpstr (p1, ==, "/some/dir/coversnap.0");
  g_assert_cmpstr (p2, ==, "/some/dir/coversnap.4294967295");
}

static void
test_open_modes (Fixture *f, gconstpointer data)
{
  CoverStoreWriter *w;
  GError *err = NULL;
  mode_t old_umask;
  g_autofree gchar *path = cover_store_path (f->dir, 42);

  /* a permissive umask must not widen 0600 ... */
  old_umask = umask (0);
  w = cover_store_writer_open (f->dir, 42, 0600, &err);
  g_assert_no_error (err);
  g_assert_nonnull (w);
  g_assert_cmpstr (cover_store_writer_get_path (w), ==, path);
  g_assert_cmpuint (file_mode (path), ==, 0600);
  assert_dir_holds_only (f->dir, "coversnap.42");
  cover_store_writer_close (w, TRUE);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  /* ... and a strict one must not narrow 0640 */
  umask (0077);
  w = cover_store_writer_open (f->dir, 42, 0640, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (file_mode (path), ==, 0640);
  cover_store_writer_close (w, TRUE);

  /* the biggest client id has a segment of its own */
  w = cover_store_writer_open (f->dir, G_MAXUINT32, 0600, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (file_mode (cover_store_writer_get_path (w)), ==, 0600);
  assert_dir_holds_only (f->dir, "coversnap.4294967295");
  cover_store_writer_close (w, TRUE);
  umask (old_umask);
  assert_dir_holds_only (f->dir, NULL);
}

/* One default for covertap, coversnap-cat and coversnapd: private to the
 * user, never /dev/shm itself. */
static void
test_default_dir (Fixture *f, gconstpointer data)
{
  g_autofree gchar *saved = g_strdup (g_getenv ("XDG_RUNTIME_DIR"));
  g_autofree gchar *with_runtime = NULL, *without = NULL, *relative = NULL;
  g_autofree gchar *own = NULL;

  g_setenv ("XDG_RUNTIME_DIR", f->dir, TRUE);
  with_runtime = cover_store_default_dir ();
  own = g_build_filename (f->dir, "coversnap", NULL);
  g_assert_cmpstr (with_runtime, ==, own);

  g_unsetenv ("XDG_RUNTIME_DIR");
  without = cover_store_default_dir ();
  /* a relative runtime dir is no runtime dir */
  g_setenv ("XDG_RUNTIME_DIR", "run/user", TRUE);
  relative = cover_store_default_dir ();
  if (saved)
    g_setenv ("XDG_RUNTIME_DIR", saved, TRUE);
  else
    g_unsetenv ("XDG_RUNTIME_DIR");

  g_assert_cmpstr (relative, ==, without);
  if (geteuid () == 0) {
    g_assert_cmpstr (without, ==, "/run/coversnap");
  } else {
    g_autofree gchar *name =
        g_strdup_printf ("coversnap-%u", (guint) geteuid ());

    g_assert_true (g_str_has_suffix (without, name));
  }
  g_assert_false (g_str_equal (without, "/dev/shm"));
}

/* NULL and the default named are the default, made private; any other
 * directory is the operator's, used as it is. */
static void
test_resolve_dir (Fixture *f, gconstpointer data)
{
  g_autofree gchar *saved = g_strdup (g_getenv ("XDG_RUNTIME_DIR"));
  g_autofree gchar *own = g_build_filename (f->dir, "coversnap", NULL);
  g_autofree gchar *a = NULL, *b = NULL, *c = NULL, *d = NULL;
  GError *err = NULL;
  GStatBuf st;

  g_setenv ("XDG_RUNTIME_DIR", f->dir, TRUE);
  a = cover_store_resolve_dir (NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (a, ==, own);
  g_assert_cmpint (g_lstat (own, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0700);
  /* the operator's: not created, not checked */
  b = cover_store_resolve_dir ("/dev/shm", &err);
  g_assert_no_error (err);
  g_assert_cmpstr (b, ==, "/dev/shm");
  /* the default named, planted open to all: refused */
  g_assert_cmpint (g_chmod (own, 0777), ==, 0);
  c = cover_store_resolve_dir (own, &err);
  g_assert_null (c);
  g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_INVALID);
  g_clear_error (&err);
  d = cover_store_resolve_dir (NULL, &err);
  g_assert_null (d);
  g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_INVALID);
  g_clear_error (&err);
  if (saved)
    g_setenv ("XDG_RUNTIME_DIR", saved, TRUE);
  else
    g_unsetenv ("XDG_RUNTIME_DIR");
}

static void
assert_prepare_refused (const gchar *dir)
{
  GError *err = NULL;

  g_assert_false (cover_store_prepare_dir (dir, &err));
  g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (err->message, dir));
  g_test_message ("%s", err->message);
  g_clear_error (&err);
}

/* Created 0700 when missing; what someone else could have planted (a link,
 * a file, a directory others may write, one of another uid) is refused. */
static void
test_prepare_dir (Fixture *f, gconstpointer data)
{
  g_autofree gchar *dir = g_build_filename (f->dir, "store", NULL);
  g_autofree gchar *target = g_build_filename (f->dir, "target", NULL);
  g_autofree gchar *link = g_build_filename (f->dir, "link", NULL);
  g_autofree gchar *file = g_build_filename (f->dir, "file", NULL);
  g_autofree gchar *missing = g_build_filename (f->dir, "no", "store", NULL);
  GError *err = NULL;
  mode_t old_umask;

  /* a permissive umask does not widen it */
  old_umask = umask (0);
  g_assert_true (cover_store_prepare_dir (dir, &err));
  umask (old_umask);
  g_assert_no_error (err);
  {
    struct stat st;

    g_assert_cmpint (lstat (dir, &st), ==, 0);
    g_assert_true (S_ISDIR (st.st_mode));
    g_assert_cmpuint (st.st_mode & 07777, ==, 0700);
  }
  /* again: it is ours now */
  g_assert_true (cover_store_prepare_dir (dir, &err));
  g_assert_no_error (err);
  /* a reader group may be let in, not writers */
  g_assert_cmpint (g_chmod (dir, 0750), ==, 0);
  g_assert_true (cover_store_prepare_dir (dir, &err));
  g_assert_no_error (err);
  g_assert_cmpint (g_chmod (dir, 0770), ==, 0);
  assert_prepare_refused (dir);
  g_assert_cmpint (g_chmod (dir, 0701), ==, 0);
  assert_prepare_refused (dir);
  g_assert_cmpint (g_chmod (dir, 01777), ==, 0);
  assert_prepare_refused (dir);
  g_assert_cmpint (g_chmod (dir, 0700), ==, 0);

  /* a link to a private directory of ours is still a link */
  g_assert_cmpint (g_mkdir (target, 0700), ==, 0);
  g_assert_cmpint (symlink (target, link), ==, 0);
  assert_prepare_refused (link);
  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  assert_prepare_refused (file);
  if (geteuid () == 0) {
    g_assert_cmpint (chown (dir, 65534, 65534), ==, 0);
    assert_prepare_refused (dir);
  }
  /* the parents are not ours to make */
  g_assert_false (cover_store_prepare_dir (missing, &err));
  g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_IO);
  g_clear_error (&err);
}

/* A full store at open is told apart too: covertap tries again later. */
static void
test_open_on_full_store (Fixture *f, gconstpointer data)
{
  CoverStoreWriter *w;
  GError *err = NULL;
  int fd;
  g_autofree gchar *filler = g_build_filename (f->dir, "filler", NULL);
  static const guint8 block[4096];

  if (mount ("tmpfs", f->dir, "tmpfs", 0, "size=256k") < 0) {
    g_test_skip_printf (
        "cannot mount a small tmpfs here (%s): needs root", g_strerror (errno));
    return;
  }
  fd = open (filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  while (write (fd, block, sizeof (block)) == sizeof (block))
    ;
  close (fd);
  w = cover_store_writer_open (f->dir, 78, 0600, &err);
  g_assert_null (w);
  g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_NO_SPACE);
  g_clear_error (&err);
  /* nothing of the attempt stays behind */
  assert_dir_holds_only (f->dir, "filler");

  g_assert_cmpint (g_unlink (filler), ==, 0);
  w = cover_store_writer_open (f->dir, 78, 0600, &err);
  g_assert_no_error (err);
  cover_store_writer_close (w, TRUE);
  g_assert_cmpint (umount (f->dir), ==, 0);
}

static void
test_writer_open_fails (void)
{
  GError *err = NULL;
  CoverStoreWriter *w;

  w = cover_store_writer_open ("/nonexistent/coversnap-dir", 1, 0600, &err);
  g_assert_null (w);
  g_assert_nonnull (err);
  g_assert_true (err->domain == COVER_STORE_ERROR);
  g_clear_error (&err);
}

static void
test_reader_not_found (Fixture *f, gconstpointer data)
{
  GError *err = NULL;
  CoverStoreReader *r = cover_store_reader_open (f->dir, 7, &err);

  g_assert_null (r);
  g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_NOT_FOUND);
  g_clear_error (&err);
}

static void
test_publish_read (Fixture *f, gconstpointer data)
{
  CoverStoreWriter *w;
  g_autoptr (CoverStoreReader) r = NULL;
  g_autoptr (GBytes) bytes = NULL;
  GError *err = NULL;
  CoverInfo info;
  gint64 t1 = g_get_real_time ();
  guint64 gen;
  guint i;

  w = cover_store_writer_open (f->dir, 1234, 0600, &err);
  g_assert_no_error (err);

  /* before any image: EMPTY, yet the writer is known to be live */
  r = cover_store_reader_open (f->dir, 1234, &err);
  g_assert_no_error (err);
  g_assert_nonnull (r);
  memset (&info, 0xaa, sizeof (info));
  g_assert_false (cover_store_reader_get_info (r, LIVE_TIMEOUT, &info, &err));
  g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_EMPTY);
  g_clear_error (&err);
  g_assert_true (info.live);
  g_assert_false (info.ended);
  g_assert_cmpint (info.writer_pid, ==, getpid ());
  g_assert_cmpuint (info.client_id, ==, 1234);
  g_assert_cmpuint (info.generation, ==, 0);
  g_assert_cmpint (info.writer_start, >=, t1);
  g_assert_cmpint (info.writer_start, <=, g_get_real_time ());

  bytes = cover_store_reader_read (r, LIVE_TIMEOUT, &info, &err);
  g_assert_null (bytes);
  g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_EMPTY);
  g_clear_error (&err);

  /* the first image: generation 1, exact bytes and metadata */
  gen = publish (w, 1, 12345, 640, 360, 1700000000123456);
  g_assert_cmpuint (gen, ==, 1);
  assert_reads (r, 1, 12345, 1, &info);
  g_assert_cmpuint (info.width, ==, 640);
  g_assert_cmpuint (info.height, ==, 360);
  g_assert_cmpint (info.capture_time, ==, 1700000000123456);
  g_assert_cmpuint (info.client_id, ==, 1234);
  g_assert_true (info.live);
  g_assert_false (info.ended);

  memset (&info, 0, sizeof (info));
  g_assert_true (cover_store_reader_get_info (r, LIVE_TIMEOUT, &info, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (info.generation, ==, 1);
  g_assert_cmpuint (info.size, ==, 12345);
  g_assert_cmpuint (info.width, ==, 640);
  g_assert_cmpuint (info.height, ==, 360);

  /* generations grow by one per image; both slots of the double buffer get
   * used and each read gets the newest image only */
  for (i = 2; i <= 6; i++) {
    gen = publish (w, i, 1000 * i + i, 100 + i, 50 + i, 1700000000000000 + i);
    g_assert_cmpuint (gen, ==, i);
    assert_reads (r, i, 1000 * i + i, i, &info);
    g_assert_cmpuint (info.width, ==, 100 + i);
    g_assert_cmpuint (info.height, ==, 50 + i);
    g_assert_cmpint (info.capture_time, ==, 1700000000000000 + i);
  }

  /* an empty image is stored as such (a zero-length copy) */
  gen = publish (w, 7, 0, 1, 1, 1);
  g_assert_cmpuint (gen, ==, 7);
  assert_reads (r, 7, 0, 7, NULL);

  /* a second reader sees the same thing */
  {
    g_autoptr (CoverStoreReader) r2 =
        cover_store_reader_open (f->dir, 1234, &err);

    g_assert_no_error (err);
    publish (w, 8, 4096, 2, 2, 8);
    assert_reads (r2, 8, 4096, 8, NULL);
    assert_reads (r, 8, 4096, 8, NULL);
  }

  /* a reader of another client id does not see it */
  g_assert_null (cover_store_reader_open (f->dir, 1235, &err));
  g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_NOT_FOUND);
  g_clear_error (&err);

  cover_store_writer_close (w, TRUE);
}

static gsize
file_size (const gchar *path)
{
  struct stat st;

  g_assert_cmpint (stat (path, &st), ==, 0);
  return st.st_size;
}

static void
test_growth (Fixture *f, gconstpointer data)
{
  static const gsize sizes[] = { 10 * 1024, 300 * 1024, 1024 * 1024, 2000,
    2 * 1024 * 1024, 256 * 1024, 256 * 1024 + 1, 700 * 1024, 5,
    3 * 1024 * 1024 + 17 };
  CoverStoreWriter *w;
  g_autoptr (CoverStoreReader) early = NULL;
  g_autoptr (CoverStoreReader) empty_early = NULL;
  GError *err = NULL;
  gsize prev_len, len;
  guint i;

  w = cover_store_writer_open (f->dir, 9, 0600, &err);
  g_assert_no_error (err);
  /* this one maps the segment before any image and before any growth */
  empty_early = cover_store_reader_open (f->dir, 9, &err);
  g_assert_no_error (err);

  publish (w, 100, sizes[0], 1, 1, 1);
  early = cover_store_reader_open (f->dir, 9, &err);
  g_assert_no_error (err);
  assert_reads (early, 100, sizes[0], 1, NULL);
  prev_len = file_size (cover_store_writer_get_path (w));

  for (i = 1; i < G_N_ELEMENTS (sizes); i++) {
    g_autoptr (CoverStoreReader) fresh = NULL;
    CoverInfo info;

    publish (w, 100 + i, sizes[i], 10 + i, 20 + i, 1000 + i);
    len = file_size (cover_store_writer_get_path (w));
    /* the file never shrinks, so old mappings stay valid */
    g_assert_cmpuint (len, >=, prev_len);
    g_assert_cmpuint (len, >=, sizes[i] + COVER_STORE_HEADER_SIZE);
    prev_len = len;

    assert_reads (early, 100 + i, sizes[i], i + 1, &info);
    g_assert_cmpuint (info.width, ==, 10 + i);
    g_assert_cmpuint (info.height, ==, 20 + i);
    g_assert_cmpint (info.capture_time, ==, 1000 + i);
    /* the segment was only 256 KiB a slot when this reader mapped it */
    if (i == 1 || i == 4)
      assert_reads (empty_early, 100 + i, sizes[i], i + 1, NULL);

    fresh = cover_store_reader_open (f->dir, 9, &err);
    g_assert_no_error (err);
    assert_reads (fresh, 100 + i, sizes[i], i + 1, NULL);
  }
  assert_reads (empty_early, 100 + i - 1, sizes[i - 1], i, NULL);

  {
    struct stat st;

    /* regions abandoned by growth are given back to tmpfs: what stays
     * allocated is about the two live images, not everything ever written */
    g_assert_cmpint (stat (cover_store_writer_get_path (w), &st), ==, 0);
    g_test_message ("file %" G_GINT64_FORMAT " bytes, %" G_GINT64_FORMAT
                    " allocated",
        (gint64) st.st_size, (gint64) st.st_blocks * 512);
    g_assert_cmpint ((gint64) st.st_blocks * 512, <=,
        COVER_STORE_HEADER_SIZE + sizes[G_N_ELEMENTS (sizes) - 1] +
            2 * 1024 * 1024 + 256 * 1024);
  }
  cover_store_writer_close (w, TRUE);
}

static void
assert_live (CoverStoreReader *r, gint64 timeout, gboolean live, gboolean ended,
    gboolean has_image)
{
  GError *err = NULL;
  CoverInfo info;

  memset (&info, 0x55, sizeof (info));
  if (has_image) {
    g_assert_true (cover_store_reader_get_info (r, timeout, &info, &err));
    g_assert_no_error (err);
  } else {
    g_assert_false (cover_store_reader_get_info (r, timeout, &info, &err));
    g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_EMPTY);
    g_clear_error (&err);
  }
  g_assert_cmpint (info.live, ==, live);
  g_assert_cmpint (info.ended, ==, ended);
}

static void
test_ended_flag (Fixture *f, gconstpointer data)
{
  CoverStoreWriter *w;
  g_autoptr (CoverStoreReader) r = NULL;
  GError *err = NULL;

  w = cover_store_writer_open (f->dir, 3, 0600, &err);
  g_assert_no_error (err);
  r = cover_store_reader_open (f->dir, 3, &err);
  g_assert_no_error (err);

  /* on a segment without an image too */
  assert_live (r, LIVE_TIMEOUT, TRUE, FALSE, FALSE);
  cover_store_writer_set_ended (w, TRUE);
  assert_live (r, LIVE_TIMEOUT, FALSE, TRUE, FALSE);
  cover_store_writer_set_ended (w, FALSE);
  assert_live (r, LIVE_TIMEOUT, TRUE, FALSE, FALSE);

  publish (w, 1, 5000, 4, 4, 4);
  assert_live (r, LIVE_TIMEOUT, TRUE, FALSE, TRUE);
  cover_store_writer_set_ended (w, TRUE);
  assert_live (r, LIVE_TIMEOUT, FALSE, TRUE, TRUE);
  /* an ended stream's cover is still there to read */
  assert_reads (r, 1, 5000, 1, NULL);
  cover_store_writer_set_ended (w, FALSE);
  assert_live (r, LIVE_TIMEOUT, TRUE, FALSE, TRUE);

  /* closing the writer marks the segment ended and keeps the image */
  cover_store_writer_close (w, FALSE);
  assert_live (r, LIVE_TIMEOUT, FALSE, TRUE, TRUE);
  assert_reads (r, 1, 5000, 1, NULL);
  {
    g_autoptr (CoverStoreReader) r2 = cover_store_reader_open (f->dir, 3, &err);
    g_assert_no_error (err);
    assert_live (r2, LIVE_TIMEOUT, FALSE, TRUE, TRUE);
    assert_reads (r2, 1, 5000, 1, NULL);
  }
}

static void
test_stale_heartbeat (Fixture *f, gconstpointer data)
{
  const gint64 timeout = 300 * 1000;
  CoverStoreWriter *w;
  g_autoptr (CoverStoreReader) r = NULL;
  GError *err = NULL;
  CoverInfo info;
  gint64 hb1;

  w = cover_store_writer_open (f->dir, 4, 0600, &err);
  g_assert_no_error (err);
  r = cover_store_reader_open (f->dir, 4, &err);
  g_assert_no_error (err);
  publish (w, 1, 100, 1, 1, 1);
  g_assert_true (cover_store_reader_get_info (r, timeout, &info, &err));
  hb1 = info.heartbeat;

  g_usleep (timeout + 100 * 1000);
  assert_live (r, timeout, FALSE, FALSE, TRUE);
  /* the same segment is live for a reader with more patience */
  assert_live (r, 60 * G_USEC_PER_SEC, TRUE, FALSE, TRUE);

  cover_store_writer_heartbeat (w);
  assert_live (r, timeout, TRUE, FALSE, TRUE);
  g_assert_true (cover_store_reader_get_info (r, timeout, &info, &err));
  g_assert_cmpint (info.heartbeat, >, hb1);
  g_assert_cmpint (info.heartbeat, <=, g_get_monotonic_time ());

  /* a publish is a heartbeat too */
  g_usleep (timeout + 100 * 1000);
  assert_live (r, timeout, FALSE, FALSE, TRUE);
  publish (w, 2, 100, 1, 1, 1);
  assert_live (r, timeout, TRUE, FALSE, TRUE);
  cover_store_writer_close (w, TRUE);
}

static void
test_dead_writer (Fixture *f, gconstpointer data)
{
  g_autoptr (CoverStoreReader) r = NULL;
  g_autofree gchar *path = cover_store_path (f->dir, 77);
  GError *err = NULL;
  CoverInfo info;
  int status;
  pid_t pid;

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0) {
    /* the child "crashes" right after publishing: no close, no ended flag */
    CoverStoreWriter *w = cover_store_writer_open (f->dir, 77, 0600, NULL);
    guint8 *img = make_image (77, 40000);

    if (!w || !cover_store_writer_publish (w, img, 40000, 8, 6, 5, NULL, NULL))
      _exit (3);
    _exit (0);
  }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);

  r = cover_store_reader_open (f->dir, 77, &err);
  g_assert_no_error (err);
  g_assert_true (
      cover_store_reader_get_info (r, 60 * G_USEC_PER_SEC, &info, &err));
  g_assert_no_error (err);
  g_assert_cmpint (info.writer_pid, ==, pid);
  /* fresh heartbeat, not ended: only the dead pid says "not live" */
  g_assert_false (info.ended);
  g_assert_cmpint (
      g_get_monotonic_time () - info.heartbeat, <, 60 * G_USEC_PER_SEC);
  g_assert_false (info.live);
  assert_reads (r, 77, 40000, 1, &info);
  g_assert_false (info.live);
  g_assert_cmpuint (info.width, ==, 8);
  g_assert_cmpuint (info.height, ==, 6);

  /* the next writer takes over and continues the generations */
  {
    CoverStoreWriter *w = cover_store_writer_open (f->dir, 77, 0600, &err);

    g_assert_no_error (err);
    assert_live (r, 60 * G_USEC_PER_SEC, TRUE, FALSE, FALSE);
    g_assert_cmpuint (publish (w, 78, 10, 1, 1, 1), ==, 2);
    assert_reads (r, 78, 10, 2, &info);
    g_assert_true (info.live);
    g_assert_cmpint (info.writer_pid, ==, getpid ());
    cover_store_writer_close (w, TRUE);
  }
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* Leftovers */

static void
write_file (const gchar *path, const guint8 *data, gsize size)
{
  GError *err = NULL;

  g_assert_true (g_file_set_contents (path, (const gchar *) data, size, &err));
  g_assert_no_error (err);
}

static void
assert_reader_rejects (const gchar *dir, guint32 client_id, gint code)
{
  GError *err = NULL;
  CoverStoreReader *r = cover_store_reader_open (dir, client_id, &err);

  g_assert_null (r);
  g_assert_error (err, COVER_STORE_ERROR, code);
  g_clear_error (&err);
}

/* A valid segment with one image, as bytes. */
static guint8 *
valid_segment_bytes (guint32 client_id, gsize image_size, gsize *len)
{
  g_autofree gchar *dir = g_dir_make_tmp ("coversnap-seg-XXXXXX", NULL);
  g_autofree gchar *path = NULL;
  CoverStoreWriter *w;
  GError *err = NULL;
  gchar *data = NULL;

  g_assert_nonnull (dir);
  w = cover_store_writer_open (dir, client_id, 0600, &err);
  g_assert_no_error (err);
  publish (w, 5, image_size, 3, 3, 3);
  path = g_strdup (cover_store_writer_get_path (w));
  cover_store_writer_close (w, FALSE);
  g_assert_true (g_file_get_contents (path, &data, len, &err));
  g_assert_no_error (err);
  g_unlink (path);
  g_rmdir (dir);
  return (guint8 *) data;
}

static void
test_leftover_garbage (Fixture *f, gconstpointer data)
{
  g_autofree gchar *path = cover_store_path (f->dir, 10);
  g_autofree guint8 *garbage = make_image (999, 3 * 4096);
  g_autofree guint8 *seg = NULL;
  CoverStoreWriter *w;
  GError *err = NULL;
  gsize seg_len;

  /* random bytes, large enough to be mapped */
  write_file (path, garbage, 3 * 4096);
  assert_reader_rejects (f->dir, 10, COVER_STORE_ERROR_INVALID);
  /* shorter than a header */
  write_file (path, garbage, 100);
  assert_reader_rejects (f->dir, 10, COVER_STORE_ERROR_INVALID);
  write_file (path, garbage, 0);
  assert_reader_rejects (f->dir, 10, COVER_STORE_ERROR_INVALID);

  seg = valid_segment_bytes (10, 1000, &seg_len);
  g_assert_cmpuint (seg_len, >, COVER_STORE_HEADER_SIZE);
  /* a real segment cut inside its header */
  write_file (path, seg, 100);
  assert_reader_rejects (f->dir, 10, COVER_STORE_ERROR_INVALID);
  /* a real segment for another client id */
  write_file (path, seg, seg_len);
  assert_reader_rejects (f->dir, 11, COVER_STORE_ERROR_NOT_FOUND);
  {
    g_autofree gchar *p11 = cover_store_path (f->dir, 11);

    g_assert_cmpint (g_rename (path, p11), ==, 0);
    assert_reader_rejects (f->dir, 11, COVER_STORE_ERROR_INVALID);
    g_unlink (p11);
  }
  /* a foreign version, a bad magic */
  seg[8]++;
  write_file (path, seg, seg_len);
  assert_reader_rejects (f->dir, 10, COVER_STORE_ERROR_INVALID);
  seg[8]--;
  seg[0] = 'X';
  write_file (path, seg, seg_len);
  assert_reader_rejects (f->dir, 10, COVER_STORE_ERROR_INVALID);
  seg[0] = COVER_STORE_MAGIC[0];

  /* a valid header whose image lies past the end of the file: the reader
   * opens (the header is fine) but must refuse the image, not crash */
  write_file (path, seg, COVER_STORE_HEADER_SIZE);
  {
    g_autoptr (CoverStoreReader) r = cover_store_reader_open (f->dir, 10, &err);
    g_autoptr (GBytes) bytes = NULL;

    g_assert_no_error (err);
    bytes = cover_store_reader_read (r, LIVE_TIMEOUT, NULL, &err);
    g_assert_null (bytes);
    g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_INVALID);
    g_clear_error (&err);
  }

  /* a directory where the segment should be */
  g_unlink (path);
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  assert_reader_rejects (f->dir, 10, COVER_STORE_ERROR_INVALID);
  g_rmdir (path);

  /* a writer replaces garbage, and trusts nothing of it */
  write_file (path, garbage, 3 * 4096);
  w = cover_store_writer_open (f->dir, 10, 0600, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (file_mode (path), ==, 0600);
  assert_dir_holds_only (f->dir, "coversnap.10");
  {
    g_autoptr (CoverStoreReader) r = cover_store_reader_open (f->dir, 10, &err);

    g_assert_no_error (err);
    assert_live (r, LIVE_TIMEOUT, TRUE, FALSE, FALSE);
    g_assert_cmpuint (publish (w, 1, 2000, 1, 1, 1), ==, 1);
    assert_reads (r, 1, 2000, 1, NULL);
  }
  cover_store_writer_close (w, TRUE);
  assert_dir_holds_only (f->dir, NULL);
}

static void
test_leftover_symlink (Fixture *f, gconstpointer data)
{
  g_autofree gchar *path = cover_store_path (f->dir, 20);
  g_autofree gchar *other_dir = g_build_filename (f->dir, "other", NULL);
  g_autofree gchar *target = NULL;
  g_autofree gchar *target_copy = NULL;
  g_autofree gchar *after = NULL;
  CoverStoreWriter *w, *w_other;
  GError *err = NULL;
  gsize len_before, len_after;
  struct stat st;

  /* a valid segment of the same client id elsewhere: following the link
   * would make it look like a cover */
  g_assert_cmpint (g_mkdir (other_dir, 0700), ==, 0);
  w_other = cover_store_writer_open (other_dir, 20, 0600, &err);
  g_assert_no_error (err);
  publish (w_other, 33, 3000, 1, 1, 1);
  target = g_strdup (cover_store_writer_get_path (w_other));
  g_assert_true (g_file_get_contents (target, &target_copy, &len_before, &err));

  g_assert_cmpint (symlink (target, path), ==, 0);
  {
    CoverStoreReader *r = cover_store_reader_open (f->dir, 20, &err);

    g_assert_null (r);
    g_assert_nonnull (err);
    g_assert_true (err->domain == COVER_STORE_ERROR);
    g_test_message ("symlink to a segment: %s", err->message);
    g_clear_error (&err);
  }

  /* a new writer replaces the link itself, never writes through it */
  w = cover_store_writer_open (f->dir, 20, 0600, &err);
  g_assert_no_error (err);
  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  /* nothing of the foreign segment was taken over */
  g_assert_cmpuint (publish (w, 34, 10, 1, 1, 1), ==, 1);
  g_assert_true (g_file_get_contents (target, &after, &len_after, &err));
  g_assert_cmpuint (len_after, ==, len_before);
  g_assert_true (memcmp (after, target_copy, len_after) == 0);
  cover_store_writer_close (w, TRUE);
  cover_store_writer_close (w_other, TRUE);

  /* a dangling link */
  g_assert_cmpint (symlink ("/nonexistent/coversnap.20", path), ==, 0);
  {
    CoverStoreReader *r = cover_store_reader_open (f->dir, 20, &err);

    g_assert_null (r);
    g_assert_nonnull (err);
    g_assert_true (err->domain == COVER_STORE_ERROR);
    g_test_message ("dangling symlink: %s", err->message);
    g_clear_error (&err);
  }
  w = cover_store_writer_open (f->dir, 20, 0600, &err);
  g_assert_no_error (err);
  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_false (
      g_file_test ("/nonexistent/coversnap.20", G_FILE_TEST_EXISTS));
  cover_store_writer_close (w, TRUE);
  g_rmdir (other_dir);
  assert_dir_holds_only (f->dir, NULL);
}

/* A symlink planted in the store is "not a cover segment" like any other
 * foreign file (INVALID); a dangling one is no segment at all (NOT_FOUND).
 * Either way it must not be followed. */
static void
check_symlink_error (const gchar *dir, guint32 client_id, gint code)
{
  GError *err = NULL;
  CoverStoreReader *r = cover_store_reader_open (dir, client_id, &err);

  g_assert_null (r);
  g_assert_nonnull (err);
  if (!g_error_matches (err, COVER_STORE_ERROR, code))
    g_test_fail_printf ("expected cover store error %d, got %s %d: %s", code,
        g_quark_to_string (err->domain), err->code, err->message);
  g_clear_error (&err);
}

static void
test_symlink_is_invalid (Fixture *f, gconstpointer data)
{
  g_autofree gchar *path = cover_store_path (f->dir, 21);
  g_autofree gchar *other_dir = g_build_filename (f->dir, "other", NULL);
  CoverStoreWriter *w;
  GError *err = NULL;

  g_assert_cmpint (g_mkdir (other_dir, 0700), ==, 0);
  w = cover_store_writer_open (other_dir, 21, 0600, &err);
  g_assert_no_error (err);
  publish (w, 1, 100, 1, 1, 1);

  g_assert_cmpint (symlink (cover_store_writer_get_path (w), path), ==, 0);
  check_symlink_error (f->dir, 21, COVER_STORE_ERROR_INVALID);
  g_unlink (path);
  cover_store_writer_close (w, TRUE);
  g_rmdir (other_dir);
}

static void
test_dangling_symlink_not_found (Fixture *f, gconstpointer data)
{
  g_autofree gchar *path = cover_store_path (f->dir, 22);

  g_assert_cmpint (symlink ("/nonexistent/coversnap.22", path), ==, 0);
  check_symlink_error (f->dir, 22, COVER_STORE_ERROR_NOT_FOUND);
  g_unlink (path);
}

static void
test_generation_continues (Fixture *f, gconstpointer data)
{
  g_autofree gchar *path = cover_store_path (f->dir, 30);
  g_autoptr (CoverStoreReader) r = NULL;
  CoverStoreWriter *w1, *w2, *w3;
  GError *err = NULL;
  CoverInfo info;

  w1 = cover_store_writer_open (f->dir, 30, 0600, &err);
  g_assert_no_error (err);
  publish (w1, 1, 100, 1, 1, 1);
  publish (w1, 2, 300 * 1024, 1, 1, 1);
  g_assert_cmpuint (publish (w1, 3, 200, 1, 1, 1), ==, 3);
  r = cover_store_reader_open (f->dir, 30, &err);
  g_assert_no_error (err);
  assert_reads (r, 3, 200, 3, NULL);
  cover_store_writer_close (w1, FALSE);

  /* a new writer of the same client id picks up after the old one */
  w2 = cover_store_writer_open (f->dir, 30, 0600, &err);
  g_assert_no_error (err);
  /* the old reader follows the new segment, which has no image yet */
  assert_live (r, LIVE_TIMEOUT, TRUE, FALSE, FALSE);
  g_assert_cmpuint (publish (w2, 4, 500, 2, 2, 2), ==, 4);
  assert_reads (r, 4, 500, 4, &info);
  g_assert_true (info.live);
  g_assert_cmpuint (info.width, ==, 2);

  /* a second writer while the first lives is refused: the two would hide
   * each other's covers; the first one's segment stays as it was */
  w3 = cover_store_writer_open (f->dir, 30, 0600, &err);
  g_assert_null (w3);
  g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_IN_USE);
  g_clear_error (&err);
  assert_reads (r, 4, 500, 4, &info);
  g_assert_true (info.live);

  /* once the first is closed, the next one takes over */
  cover_store_writer_close (w2, FALSE);
  w3 = cover_store_writer_open (f->dir, 30, 0600, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (publish (w3, 5, 600, 3, 3, 3), ==, 5);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  assert_reads (r, 5, 600, 5, &info);
  g_assert_true (info.live);
  g_assert_false (info.ended);

  /* its owner closing with unlink removes it; readers then find nothing */
  cover_store_writer_close (w3, TRUE);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  {
    g_autoptr (GBytes) bytes =
        cover_store_reader_read (r, LIVE_TIMEOUT, NULL, &err);

    g_assert_null (bytes);
    g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_NOT_FOUND);
    g_clear_error (&err);
  }
  assert_reader_rejects (f->dir, 30, COVER_STORE_ERROR_NOT_FOUND);
  assert_dir_holds_only (f->dir, NULL);
}

/* A full store (tmpfs pages are allocated on first write: a write through
 * the mapping into a full tmpfs would be a SIGBUS) is an error, and the last
 * published image stays readable.  Needs a small tmpfs of its own, so root
 * (CI runs as root). */
static void
test_full_store (Fixture *f, gconstpointer data)
{
  g_autoptr (CoverStoreReader) r = NULL;
  CoverStoreWriter *w;
  GError *err = NULL;
  guint64 gen = 0;

  if (mount ("tmpfs", f->dir, "tmpfs", 0, "size=640k") < 0) {
    g_test_skip_printf (
        "cannot mount a small tmpfs here (%s): needs root", g_strerror (errno));
    return;
  }
  w = cover_store_writer_open (f->dir, 77, 0600, &err);
  g_assert_no_error (err);
  publish (w, 1, 100 * 1024, 10, 10, 1);
  r = cover_store_reader_open (f->dir, 77, &err);
  g_assert_no_error (err);
  assert_reads (r, 1, 100 * 1024, 1, NULL);

  /* 700 KiB does not fit in 640 KiB: an error, not a crash */
  {
    g_autofree guint8 *big = make_image (2, 700 * 1024);

    g_assert_false (
        cover_store_writer_publish (w, big, 700 * 1024, 20, 20, 2, &gen, &err));
    /* told apart from other I/O errors: a writer retries it */
    g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_NO_SPACE);
    g_test_message ("%s", err->message);
    g_clear_error (&err);
  }
  /* the previous cover is intact, and smaller ones still go in */
  assert_reads (r, 1, 100 * 1024, 1, NULL);
  publish (w, 3, 50 * 1024, 30, 30, 3);
  assert_reads (r, 3, 50 * 1024, 2, NULL);

  cover_store_writer_close (w, TRUE);
  g_clear_pointer (&r, cover_store_reader_free);
  g_assert_cmpint (umount (f->dir), ==, 0);
}

/* Hostile segments: the layout's offsets (gst-docs/cover-store.md) */
#define HDR_HEARTBEAT 32
#define HDR_ACTIVE 44
#define SLOT_BASE 64
#define SLOT_SIZE_FIELD 48

static void
poke (const gchar *path, goffset offset, gconstpointer data, gsize size)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, data, size, offset), ==, (gssize) size);
  close (fd);
}

static guint32
peek_active (const gchar *path)
{
  guint32 active = G_MAXUINT32;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pread (fd, &active, 4, HDR_ACTIVE), ==, 4);
  close (fd);
  g_assert_cmpuint (active, <=, 1);
  return active;
}

static void
assert_open_refused (const gchar *dir, guint32 client_id)
{
  GError *err = NULL;
  CoverStoreReader *r = cover_store_reader_open (dir, client_id, &err);

  g_assert_null (r);
  g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_INVALID);
  g_clear_error (&err);
}

/* Only segments of ours (or root's), writable by their owner alone: anybody
 * else who can write the store directory could plant covers. */
static void
test_untrusted_owner_and_mode (Fixture *f, gconstpointer data)
{
  g_autofree gchar *path = cover_store_path (f->dir, 21);
  g_autoptr (CoverStoreReader) r = NULL;
  CoverStoreWriter *w;
  GError *err = NULL;

  w = cover_store_writer_open (f->dir, 21, 0600, &err);
  g_assert_no_error (err);
  publish (w, 1, 100, 1, 1, 1);

  g_assert_cmpint (chmod (path, 0666), ==, 0);
  assert_open_refused (f->dir, 21);
  g_assert_cmpint (chmod (path, 0620), ==, 0);
  assert_open_refused (f->dir, 21);
  g_assert_cmpint (chmod (path, 0644), ==, 0);
  r = cover_store_reader_open (f->dir, 21, &err);
  g_assert_no_error (err);
  assert_reads (r, 1, 100, 1, NULL);
  g_clear_pointer (&r, cover_store_reader_free);

  if (geteuid () == 0) {
    /* as root (CI) we can play the other local user */
    g_assert_cmpint (chown (path, 4242, 4242), ==, 0);
    assert_open_refused (f->dir, 21);
  } else {
    g_test_message ("not root: the foreign-owner case needs chown");
  }
  cover_store_writer_close (w, TRUE);
}

/* A writer for @client_id with image 1 of @size bytes published, and a
 * reader on it. */
static CoverStoreWriter *
open_published (
    const gchar *dir, guint32 client_id, gsize size, CoverStoreReader **reader)
{
  GError *err = NULL;
  CoverStoreWriter *w = cover_store_writer_open (dir, client_id, 0600, &err);

  g_assert_no_error (err);
  publish (w, 1, size, 1, 1, 1);
  *reader = cover_store_reader_open (dir, client_id, &err);
  g_assert_no_error (err);
  return w;
}

/* A slot claiming 60 GiB: refused without allocating it. */
static void
test_oversized_slot (Fixture *f, gconstpointer data)
{
  g_autofree gchar *path = cover_store_path (f->dir, 22);
  g_autoptr (CoverStoreReader) r = NULL;
  g_autoptr (GBytes) bytes = NULL;
  guint64 huge = G_GUINT64_CONSTANT (60) << 30;
  CoverStoreWriter *w;
  GError *err = NULL;
  guint32 active;

  w = open_published (f->dir, 22, 100, &r);
  active = peek_active (path);
  poke (path, SLOT_BASE + active * 64 + SLOT_SIZE_FIELD, &huge, 8);
  bytes = cover_store_reader_read (r, LIVE_TIMEOUT, NULL, &err);
  g_assert_null (bytes);
  g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_INVALID);
  g_clear_error (&err);
  cover_store_writer_close (w, TRUE);
}

/* A segment cut short under a reader that already has it open: an error,
 * never a SIGBUS.  (The writer is done with it: it would fault itself.) */
static void
test_truncated_under_reader (Fixture *f, gconstpointer data)
{
  g_autofree gchar *path = cover_store_path (f->dir, 23);
  g_autoptr (CoverStoreReader) r = NULL;
  g_autoptr (GBytes) bytes = NULL;
  CoverStoreWriter *w;
  GError *err = NULL;

  w = open_published (f->dir, 23, 200 * 1024, &r);
  assert_reads (r, 1, 200 * 1024, 1, NULL);
  cover_store_writer_close (w, FALSE);

  g_assert_cmpint (truncate (path, COVER_STORE_HEADER_SIZE + 10), ==, 0);
  bytes = cover_store_reader_read (r, LIVE_TIMEOUT, NULL, &err);
  g_assert_null (bytes);
  g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_INVALID);
  g_clear_error (&err);
  /* and below the header */
  g_assert_cmpint (truncate (path, 16), ==, 0);
  bytes = cover_store_reader_read (r, LIVE_TIMEOUT, NULL, &err);
  g_assert_null (bytes);
  g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_INVALID);
  g_clear_error (&err);
}

/* A heartbeat from the future is not fresh (it used to be, forever). */
static void
test_future_heartbeat (Fixture *f, gconstpointer data)
{
  g_autofree gchar *path = cover_store_path (f->dir, 24);
  g_autoptr (CoverStoreReader) r = NULL;
  gint64 future = g_get_monotonic_time () + (gint64) 3600 * G_USEC_PER_SEC;
  CoverStoreWriter *w;
  GError *err = NULL;
  CoverInfo info;

  w = open_published (f->dir, 24, 100, &r);
  g_assert_true (cover_store_reader_get_info (r, LIVE_TIMEOUT, &info, &err));
  g_assert_true (info.live);
  poke (path, HDR_HEARTBEAT, &future, 8);
  g_assert_true (cover_store_reader_get_info (r, LIVE_TIMEOUT, &info, &err));
  g_assert_no_error (err);
  g_assert_cmpint (info.heartbeat, ==, future);
  g_assert_false (info.live);
  cover_store_writer_close (w, TRUE);
}

/* Writers refuse what readers would refuse. */
static void
test_image_size_limit (Fixture *f, gconstpointer data)
{
  CoverStoreWriter *w;
  GError *err = NULL;
  static const guint8 byte = 0;

  w = cover_store_writer_open (f->dir, 25, 0600, &err);
  g_assert_no_error (err);
  /* the size is refused before the data is looked at */
  g_assert_false (cover_store_writer_publish (
      w, &byte, COVER_STORE_MAX_IMAGE_SIZE + 1, 1, 1, 1, NULL, &err));
  g_assert_error (err, COVER_STORE_ERROR, COVER_STORE_ERROR_INVALID);
  g_clear_error (&err);
  cover_store_writer_close (w, TRUE);
}

int
main (int argc, char **argv)
{
  /* before any thread: the small tmpfs the full-store tests mount stays in
   * this process's own namespace, gone with it whatever happens */
  if (geteuid () == 0 && unshare (CLONE_NEWNS) == 0)
    mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/coverstore/path", test_path);
  g_test_add_func ("/coverstore/writer-open-fails", test_writer_open_fails);
#define ADD(name, func)                                                        \
  g_test_add ("/coverstore/" name, Fixture, NULL, fixture_setup, func,         \
      fixture_teardown)
  ADD ("open-modes", test_open_modes);
  ADD ("reader-not-found", test_reader_not_found);
  ADD ("publish-read", test_publish_read);
  ADD ("growth", test_growth);
  ADD ("full-store", test_full_store);
  ADD ("open-on-full-store", test_open_on_full_store);
  ADD ("default-dir", test_default_dir);
  ADD ("prepare-dir", test_prepare_dir);
  ADD ("resolve-dir", test_resolve_dir);
  ADD ("ended-flag", test_ended_flag);
  ADD ("stale-heartbeat", test_stale_heartbeat);
  ADD ("dead-writer", test_dead_writer);
  ADD ("leftover-garbage", test_leftover_garbage);
  ADD ("leftover-symlink", test_leftover_symlink);
  ADD ("symlink-is-invalid", test_symlink_is_invalid);
  ADD ("dangling-symlink-not-found", test_dangling_symlink_not_found);
  ADD ("generation-continues", test_generation_continues);
  ADD ("untrusted-owner-and-mode", test_untrusted_owner_and_mode);
  ADD ("oversized-slot", test_oversized_slot);
  ADD ("truncated-under-reader", test_truncated_under_reader);
  ADD ("future-heartbeat", test_future_heartbeat);
  ADD ("image-size-limit", test_image_size_limit);
#undef ADD

  return g_test_run ();
}
