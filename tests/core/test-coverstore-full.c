/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* A full cover store under a real covertap pipeline: the element warns once
 * (not per frame), with the path and the errno, and its covers come back
 * when there is room again, whether the store was full at start or filled
 * up later.
 *
 * The store is a small tmpfs, mounted in a mount namespace of this process
 * only (unshare at the start of main, before any thread): nothing is left
 * mounted whatever happens to the test.  Where no tmpfs can be mounted (not
 * root), the file-size limit (RLIMIT_FSIZE) stands in for a full store at
 * start, the case that never recovered. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gst/gst.h>

#include "coverstore.h"
#include "cs-test-util.h"

#define CLIENT_ID 4321
#define WAIT_US (20 * G_USEC_PER_SEC)

static gboolean private_mounts;

typedef struct
{
  gchar *dir;
  gboolean mounted;
  gchar *filler;
  GstElement *pipeline;
  gint full_warnings; /* atomic: RESOURCE/NO_SPACE_LEFT warnings */
  gint other_warnings;
  GMutex lock;
  gchar *last_warning; /* text and debug of the last full warning */
} Fixture;

static GstBusSyncReply
on_message (GstBus *bus, GstMessage *msg, gpointer user_data)
{
  Fixture *f = user_data;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *debug = NULL;

  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_WARNING)
    return GST_BUS_PASS;
  gst_message_parse_warning (msg, &err, &debug);
  g_test_message ("warning: %s (%s)", err->message, debug);
  if (g_error_matches (
          err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT)) {
    g_mutex_lock (&f->lock);
    g_free (f->last_warning);
    f->last_warning = g_strdup_printf ("%s %s", err->message, debug);
    g_mutex_unlock (&f->lock);
    g_atomic_int_inc (&f->full_warnings);
  } else {
    g_atomic_int_inc (&f->other_warnings);
  }
  return GST_BUS_PASS;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  memset (f, 0, sizeof (*f));
  g_mutex_init (&f->lock);
  f->dir = cs_test_make_tmpdir ("store-full-XXXXXX");
  if (private_mounts &&
      mount ("tmpfs", f->dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") == 0)
    f->mounted = TRUE;
  f->filler = g_build_filename (f->dir, "filler", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  struct rlimit rl;

  if (f->pipeline) {
    gst_element_set_state (f->pipeline, GST_STATE_NULL);
    gst_object_unref (f->pipeline);
  }
  getrlimit (RLIMIT_FSIZE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit (RLIMIT_FSIZE, &rl);
  g_unlink (f->filler);
  if (f->mounted)
    g_assert_cmpint (umount (f->dir), ==, 0);
  cs_test_tmpdir_free (f->dir);
  g_free (f->filler);
  g_free (f->last_warning);
  g_mutex_clear (&f->lock);
}

/* Takes every free block of the store (the tmpfs), or, without one, forbids
 * files bigger than a page. */
static void
fill_store (Fixture *f)
{
  static const guint8 block[64 * 1024];
  gsize written = 0;
  int fd;

  if (!f->mounted) {
    struct rlimit rl;

    g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &rl), ==, 0);
    rl.rlim_cur = 4096;
    g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &rl), ==, 0);
    return;
  }
  fd = open (f->filler, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  for (gsize chunk = sizeof (block); chunk > 0; chunk /= 2) {
    for (;;) {
      ssize_t n = write (fd, block, chunk);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0) {
        g_assert_cmpint (errno, ==, ENOSPC);
        break;
      }
      written += n;
    }
  }
  close (fd);
  g_test_message ("store full after %" G_GSIZE_FORMAT " filler bytes", written);
}

static void
free_store (Fixture *f)
{
  if (!f->mounted) {
    struct rlimit rl;

    g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &rl), ==, 0);
    rl.rlim_cur = rl.rlim_max;
    g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &rl), ==, 0);
    return;
  }
  g_assert_cmpint (g_unlink (f->filler), ==, 0);
}

static void
start_pipeline (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GstBus) bus = NULL;
  g_autofree gchar *desc = g_strdup_printf (
      "videotestsrc name=src is-live=true ! "
      "video/x-raw,width=320,height=240,framerate=30/1 ! jpegenc ! "
      "covertap client-id=%u store-dir=\"%s\" min-interval=0 ! fakesink",
      CLIENT_ID, f->dir);

  f->pipeline = gst_parse_launch (desc, &err);
  g_assert_no_error (err);
  bus = gst_element_get_bus (f->pipeline);
  gst_bus_set_sync_handler (bus, on_message, f, NULL);
  g_assert_cmpint (gst_element_set_state (f->pipeline, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
}

/* The generation of the store's cover, or 0 while there is none. */
static guint64
cover_generation (Fixture *f)
{
  g_autoptr (CoverStoreReader) r = NULL;
  g_autoptr (GBytes) jpeg = NULL;
  CoverInfo info = { 0 };

  r = cover_store_reader_open (f->dir, CLIENT_ID, NULL);
  if (!r)
    return 0;
  jpeg = cover_store_reader_read (r, 10 * G_USEC_PER_SEC, &info, NULL);
  if (!jpeg || g_bytes_get_size (jpeg) < 4)
    return 0;
  g_assert_cmpuint (
      ((const guint8 *) g_bytes_get_data (jpeg, NULL))[0], ==, 0xff);
  return info.generation;
}

typedef struct
{
  Fixture *f;
  guint64 above;
} GenWait;

static gboolean
generation_above (gpointer user_data)
{
  GenWait *w = user_data;

  return cover_generation (w->f) > w->above;
}

static gboolean
warned (gpointer user_data)
{
  return g_atomic_int_get (&((Fixture *) user_data)->full_warnings) > 0;
}

/* Frames keep coming for @us (bounded, a few dozen frames at 30/s). */
static void
let_frames_pass (gint64 us)
{
  g_usleep (us);
}

static void
assert_warning_names_store (Fixture *f)
{
  g_mutex_lock (&f->lock);
  g_assert_nonnull (f->last_warning);
  g_assert_nonnull (strstr (f->last_warning, f->dir));
  g_assert_true (strstr (f->last_warning, g_strerror (ENOSPC)) ||
      strstr (f->last_warning, g_strerror (EFBIG)));
  g_mutex_unlock (&f->lock);
}

/* Full before the stream starts: one warning, then covers once there is
 * room, without restarting the stream. */
static void
test_full_at_start (Fixture *f, gconstpointer data)
{
  GenWait w = { f, 0 };

  fill_store (f);
  start_pipeline (f);
  g_assert_true (cs_test_poll (warned, f, WAIT_US, 10000));
  let_frames_pass (G_USEC_PER_SEC + G_USEC_PER_SEC / 2);
  g_assert_cmpint (g_atomic_int_get (&f->full_warnings), ==, 1);
  assert_warning_names_store (f);
  g_assert_cmpuint (cover_generation (f), ==, 0);

  free_store (f);
  g_assert_true (cs_test_poll (generation_above, &w, WAIT_US, 20000));
  g_assert_cmpint (g_atomic_int_get (&f->full_warnings), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&f->other_warnings), ==, 0);
}

/* Full while the stream runs: one warning for the burst of failures, the
 * previous cover stays, new ones come when there is room. */
static void
test_full_while_running (Fixture *f, gconstpointer data)
{
  GenWait w = { f, 0 };
  guint64 before;

  if (!f->mounted) {
    /* a file-size limit cannot fill a segment that exists already */
    g_test_skip ("needs a tmpfs of its own (root)");
    return;
  }
  start_pipeline (f);
  g_assert_true (cs_test_poll (generation_above, &w, WAIT_US, 20000));
  g_assert_cmpint (g_atomic_int_get (&f->full_warnings), ==, 0);

  fill_store (f);
  /* the blocks of the small covers are the segment's already: noise makes
   * covers that need more */
  {
    GstElement *src = gst_bin_get_by_name (GST_BIN (f->pipeline), "src");

    g_object_set (src, "pattern", 1 /* snow */, NULL);
    gst_object_unref (src);
  }
  g_assert_true (cs_test_poll (warned, f, WAIT_US, 10000));
  before = cover_generation (f);
  g_assert_cmpuint (before, >, 0);
  let_frames_pass (G_USEC_PER_SEC);
  g_assert_cmpint (g_atomic_int_get (&f->full_warnings), ==, 1);
  assert_warning_names_store (f);
  /* the previous cover stays readable */
  g_assert_cmpuint (cover_generation (f), ==, before);

  free_store (f);
  w.above = before;
  g_assert_true (cs_test_poll (generation_above, &w, WAIT_US, 20000));
  g_assert_cmpint (g_atomic_int_get (&f->other_warnings), ==, 0);
}

int
main (int argc, char **argv)
{
  /* before any thread: mounts of this process stay in its own namespace */
  if (geteuid () == 0 && unshare (CLONE_NEWNS) == 0 &&
      mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
    private_mounts = TRUE;
  /* a write past the file-size limit is an error (EFBIG), not a signal */
  signal (SIGXFSZ, SIG_IGN);

  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);
  cs_test_tmp_root_new ("coverstore-full-XXXXXX");

#define ADD(name, func)                                                        \
  g_test_add ("/coverstore-full/" name, Fixture, NULL, fixture_setup, func,    \
      fixture_teardown)
  ADD ("full-at-start", test_full_at_start);
  ADD ("full-while-running", test_full_while_running);
#undef ADD

  {
    int ret = g_test_run ();

    cs_test_tmp_root_remove ();
    return ret;
  }
}
