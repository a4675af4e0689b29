/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Recording thumbnails of covertap: where they go and how they are named,
 * the interval on the pipeline clock (a test clock here), the thumbnail at
 * EOS, retention by count and by age, atomic writes seen by a reader that
 * polls the directory, an unwritable directory, and nothing at all without
 * thumbnail-dir.  Input is real x264enc output, every frame a keyframe, so
 * that the test decides which keyframe comes when. */

#include "covertap-util.h"

#include "coverthumbnail.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/check/gstharness.h>
#include <gst/check/gsttestclock.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CLIENT_ID 31337
#define CLIENT_ID_STR "31337"

/* Covers and thumbnails of these small frames take milliseconds: this bound
 * only stops a broken test before the suite's timeout. */
#define WAIT_US (20 * G_USEC_PER_SEC)

#define NAME_REGEX "^[0-9]{8}T[0-9]{6}\\.[0-9]{3}Z\\.jpg$"

/* Frame i is palette[i % N_COLOURS] with some noise: covers of different
 * frames differ in their bytes, and their mean colour tells which frame a
 * thumbnail was made from. */
#define N_COLOURS 8
static const guint8 palette[N_COLOURS][3] = {
  { 200, 40, 40 },
  { 40, 200, 40 },
  { 40, 40, 200 },
  { 200, 200, 40 },
  { 40, 200, 200 },
  { 200, 40, 200 },
  { 210, 210, 210 },
  { 50, 50, 50 },
};

/* noise of +-NOISE keeps the mean colour within a few levels */
#define NOISE 16
#define COLOUR_TOL 20

static void
paint_noisy (guint index, guint8 *rgb, guint width, guint height, gpointer data)
{
  const guint8 *c = palette[index % N_COLOURS];
  guint32 seed = 2166136261u ^ index;
  gsize i;

  for (i = 0; i < (gsize) width * height * 3; i++) {
    gint v;

    seed = seed * 1664525u + 1013904223u;
    v = c[i % 3] + (gint) ((seed >> 24) % (2 * NOISE + 1)) - NOISE;
    rgb[i] = CLAMP (v, 0, 255);
  }
}

/* @n frames of @width x @height, each an IDR access unit (byte-stream, with
 * its SPS and PPS), frame i painted by paint_noisy. */
static GPtrArray *
encode_keyframes (guint n, guint width, guint height)
{
  GPtrArray *out =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  GstElement *pipeline, *src, *sink;
  GstSample *sample;
  guint i;

  pipeline = gst_parse_launch (
      "appsrc name=src ! videoconvert ! video/x-raw,format=I420 ! " CT_X264 (
          1) "bframes=0 pass=quant quantizer=18 ! "
             "video/x-h264,stream-format=byte-stream,alignment=au ! "
             "appsink name=sink sync=false",
      NULL);
  fail_unless (pipeline != NULL);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  ct_push_raw_frames (src, n, width, height, paint_noisy, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while ((sample = gst_app_sink_try_pull_sample (
              GST_APP_SINK (sink), 30 * GST_SECOND))) {
    g_ptr_array_add (out, gst_buffer_ref (gst_sample_get_buffer (sample)));
    gst_sample_unref (sample);
  }
  fail_unless (gst_app_sink_is_eos (GST_APP_SINK (sink)));
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  fail_unless_equals_int (out->len, n);
  for (i = 0; i < n; i++)
    fail_if (GST_BUFFER_FLAG_IS_SET (
                 g_ptr_array_index (out, i), GST_BUFFER_FLAG_DELTA_UNIT),
        "frame %u is not a keyframe", i);
  return out;
}

typedef struct
{
  gchar *root;       /* everything the test writes is below it */
  gchar *store;      /* store-dir */
  gchar *thumbs;     /* thumbnail-dir when the test sets one */
  gchar *client_dir; /* <thumbs>/<client-id> */
  guint width, height;
  GPtrArray *aus;
  GstHarness *h;
  GstElement *tap;
  GstBus *bus;
} Fixture;

static void
fixture_init (Fixture *f, guint n_frames, guint width, guint height)
{
  memset (f, 0, sizeof (*f));
  /* a local time nine hours off UTC: names must be in UTC */
  g_setenv ("TZ", "JST-9", TRUE);
  tzset ();
  f->root = ct_make_tmpdir ();
  f->store = g_build_filename (f->root, "store", NULL);
  fail_unless (g_mkdir (f->store, 0700) == 0);
  /* not made here: the element makes it */
  f->thumbs = g_build_filename (f->root, "thumbs", NULL);
  f->client_dir = g_build_filename (f->thumbs, CLIENT_ID_STR, NULL);
  f->width = width;
  f->height = height;
  f->aus = encode_keyframes (n_frames, width, height);
}

/* Starts covertap in a harness with a test clock (at 0) and a bus.
 * @thumbnail_dir may be NULL (no thumbnails); @props are more properties. */
static void
fixture_start (Fixture *f, const gchar *thumbnail_dir, const gchar *props)
{
  g_autofree gchar *launch = NULL;
  g_autofree gchar *caps = NULL;
  g_autofree gchar *thumb_prop = NULL;
  GstClock *clock;

  if (thumbnail_dir)
    thumb_prop = g_strdup_printf ("thumbnail-dir=\"%s\"", thumbnail_dir);
  launch = g_strdup_printf (
      "covertap name=tap client-id=%u store-dir=\"%s\" %s %s", CLIENT_ID,
      f->store, thumb_prop ? thumb_prop : "", props ? props : "");
  f->h = gst_harness_new_parse (launch);
  f->tap = gst_bin_get_by_name (GST_BIN (f->h->element), "tap");
  fail_unless (f->tap != NULL);
  f->bus = gst_bus_new ();
  gst_element_set_bus (f->h->element, f->bus);
  gst_harness_use_testclock (f->h);
  clock = gst_element_get_clock (f->tap);
  fail_unless (clock != NULL && GST_IS_TEST_CLOCK (clock),
      "covertap does not run on the test clock");
  gst_object_unref (clock);
  caps = g_strdup_printf ("video/x-h264, stream-format=byte-stream, "
                          "alignment=au, parsed=true, width=%u, height=%u, "
                          "framerate=30/1",
      f->width, f->height);
  gst_harness_set_src_caps_str (f->h, caps);
}

static void
fixture_stop (Fixture *f)
{
  if (f->h) {
    gst_object_unref (f->tap);
    gst_harness_teardown (f->h);
    gst_bus_set_flushing (f->bus, TRUE);
    gst_object_unref (f->bus);
  }
  g_ptr_array_unref (f->aus);
  g_free (f->client_dir);
  g_free (f->thumbs);
  g_free (f->store);
  ct_remove_tmpdir (f->root);
}

/* Pushes frame @index at @seconds of the test clock and pulls it out again:
 * the stream flows.  The short real sleep only keeps two thumbnails out of
 * the same wall-clock millisecond, which would give them the same name. */
static void
push_frame (Fixture *f, guint index, guint seconds)
{
  GstBuffer *au = g_ptr_array_index (f->aus, index);
  GstBuffer *out;

  g_usleep (2000);
  fail_unless (gst_harness_set_time (f->h, seconds * GST_SECOND));
  fail_unless_equals_int (
      gst_harness_push (f->h, gst_buffer_ref (au)), GST_FLOW_OK);
  out = gst_harness_pull (f->h);
  fail_unless (out == au, "covertap did not pass the keyframe through");
  gst_buffer_unref (out);
}

static guint64
get_u64 (GstElement *tap, const gchar *prop)
{
  guint64 v = 0;

  g_object_get (tap, prop, &v, NULL);
  return v;
}

/* Waits (bounded) until covers-published >= @published and
 * thumbnails-written >= @thumbnails; fails on a keyframe that failed. */
static void
wait_stats (Fixture *f, guint64 published, guint64 thumbnails)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_US;

  for (;;) {
    guint64 p = get_u64 (f->tap, "covers-published");
    guint64 t = get_u64 (f->tap, "thumbnails-written");
    guint64 failed = get_u64 (f->tap, "keyframes-failed");

    fail_unless_equals_uint64 (failed, 0);
    if (p >= published && t >= thumbnails)
      return;
    fail_if (g_get_monotonic_time () > deadline,
        "waited in vain for %" G_GUINT64_FORMAT " covers (%" G_GUINT64_FORMAT
        ") and %" G_GUINT64_FORMAT " thumbnails (%" G_GUINT64_FORMAT ")",
        published, p, thumbnails, t);
    g_usleep (2000);
  }
}

/* Waits (bounded) until each of the @n keyframes pushed was published or
 * replaced by a newer one. */
static void
wait_accounted (Fixture *f, guint64 n)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_US;

  for (;;) {
    guint64 p = get_u64 (f->tap, "covers-published");
    guint64 s = get_u64 (f->tap, "keyframes-skipped");

    fail_unless_equals_uint64 (get_u64 (f->tap, "keyframes-failed"), 0);
    if (p + s >= n)
      break;
    fail_if (g_get_monotonic_time () > deadline,
        "%" G_GUINT64_FORMAT " published + %" G_GUINT64_FORMAT
        " skipped, want %" G_GUINT64_FORMAT,
        p, s, n);
    g_usleep (2000);
  }
  fail_unless_equals_uint64 (get_u64 (f->tap, "covers-published") +
          get_u64 (f->tap, "keyframes-skipped"),
      n);
}

/* The thumbnails in @dir: all names but dot files and foreign ones, sorted.
 * Fails on a leftover temporary (dot) file. */
static GPtrArray *
list_thumbnails (const gchar *dir)
{
  GPtrArray *all = cs_test_list_dir (dir, NULL, FALSE);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  guint i;

  for (i = 0; i < all->len; i++) {
    const gchar *name = g_ptr_array_index (all, i);

    fail_if (name[0] == '.' || g_str_has_suffix (name, ".tmp"),
        "temporary file %s left in %s", name, dir);
    if (g_str_has_suffix (name, ".jpg"))
      g_ptr_array_add (names, g_strdup (name));
  }
  g_ptr_array_unref (all);
  return names;
}

/* The name a thumbnail captured at @us (wall clock µs) must have, computed
 * here independently of the element. */
static gchar *
expected_name (gint64 us)
{
  time_t s = us / G_USEC_PER_SEC;
  struct tm tm;

  fail_unless (gmtime_r (&s, &tm) != NULL);
  return g_strdup_printf ("%04d%02d%02dT%02d%02d%02d.%03dZ.jpg",
      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
      tm.tm_sec, (int) (us % G_USEC_PER_SEC / 1000));
}

/* The UTC time written in a thumbnail's name, in µs since the epoch. */
static gint64
name_time (const gchar *name)
{
  gint Y, M, D, h, m, s, ms;
  GDateTime *t;
  gint64 us;

  fail_unless (g_regex_match_simple (NAME_REGEX, name, 0, 0),
      "thumbnail name '%s' is not YYYYMMDDTHHMMSS.mmmZ.jpg", name);
  fail_unless_equals_int (sscanf (name, "%4d%2d%2dT%2d%2d%2d.%3dZ.jpg", &Y, &M,
                              &D, &h, &m, &s, &ms),
      7);
  t = g_date_time_new_utc (Y, M, D, h, m, s);
  fail_unless (t != NULL, "'%s' is not a valid date", name);
  us = g_date_time_to_unix (t) * G_USEC_PER_SEC + ms * 1000;
  g_date_time_unref (t);
  return us;
}

/* Reads a thumbnail, failing unless it is a whole, decodable JPEG of the
 * fixture's size; @decoded (or NULL) gets it as a cover (its JPEG and
 * pixels; clear it with ct_cover_clear()). */
static GBytes *
read_thumbnail (Fixture *f, const gchar *name, CtCover *decoded)
{
  g_autofree gchar *path = g_build_filename (f->client_dir, name, NULL);
  g_autofree guint8 *rgb = NULL;
  GError *err = NULL;
  gchar *data = NULL;
  gsize size = 0;
  guint w = 0, h = 0;
  GBytes *bytes;
  struct stat st;

  fail_unless (g_lstat (path, &st) == 0 && S_ISREG (st.st_mode),
      "%s is not a regular file", path);
  fail_unless (g_file_get_contents (path, &data, &size, &err), "%s: %s", path,
      err ? err->message : "?");
  fail_unless (size > 4 && (guint8) data[0] == 0xff &&
          (guint8) data[1] == 0xd8 && (guint8) data[size - 2] == 0xff &&
          (guint8) data[size - 1] == 0xd9,
      "%s is not a whole JPEG (%" G_GSIZE_FORMAT " bytes)", path, size);
  rgb = cover_jpeg_decode_rgb ((guint8 *) data, size, &w, &h, &err);
  fail_unless (
      rgb != NULL, "%s does not decode: %s", path, err ? err->message : "?");
  fail_unless_equals_int (w, f->width);
  fail_unless_equals_int (h, f->height);
  bytes = g_bytes_new_take (data, size);
  if (decoded) {
    decoded->jpeg = g_bytes_ref (bytes);
    decoded->rgb = g_steal_pointer (&rgb);
    decoded->width = w;
    decoded->height = h;
  }
  return bytes;
}

/* Fails unless thumbnail @name holds exactly the bytes of @cover and is
 * named by its capture time. */
static void
assert_thumbnail_is_cover (Fixture *f, const gchar *name, const CtCover *cover)
{
  g_autoptr (GBytes) bytes = read_thumbnail (f, name, NULL);
  g_autofree gchar *want = expected_name (cover->info.capture_time);

  fail_unless_equals_string (name, want);
  fail_unless (g_bytes_equal (bytes, cover->jpeg),
      "thumbnail %s (%" G_GSIZE_FORMAT " bytes) is not the cover published "
      "(%" G_GSIZE_FORMAT " bytes)",
      name, g_bytes_get_size (bytes), g_bytes_get_size (cover->jpeg));
}

static void
assert_cover_colour (const CtCover *cover, guint frame, const gchar *what)
{
  ct_assert_region_colour (
      cover, 0, 0, 1, 1, palette[frame % N_COLOURS], COLOUR_TOL, what);
}

/* Fails unless the thumbnails in the client directory are exactly @want. */
static void
assert_thumbnails (Fixture *f, GPtrArray *want)
{
  g_autoptr (GPtrArray) names = list_thumbnails (f->client_dir);
  guint i;

  for (i = 0; i < names->len; i++)
    GST_INFO ("thumbnail %u: %s", i, (gchar *) g_ptr_array_index (names, i));
  fail_unless_equals_int (names->len, want->len);
  for (i = 0; i < want->len; i++)
    fail_unless_equals_string (
        g_ptr_array_index (names, i), g_ptr_array_index (want, i));
}

static guint
count_warnings (Fixture *f)
{
  GstMessage *msg;
  guint n = 0;

  while ((msg = gst_bus_pop_filtered (f->bus, GST_MESSAGE_WARNING))) {
    GError *err = NULL;
    gchar *dbg = NULL;

    gst_message_parse_warning (msg, &err, &dbg);
    GST_INFO ("warning: %s (%s)", err->message, dbg);
    g_clear_error (&err);
    g_free (dbg);
    gst_message_unref (msg);
    n++;
  }
  return n;
}

GST_START_TEST (test_first_keyframe_thumbnail)
{
  g_autoptr (GPtrArray) root = NULL;
  g_autoptr (GPtrArray) names = NULL;
  Fixture f;
  CtCover cover;
  gint64 now, t;
  const gchar *name;

  fixture_init (&f, 2, 320, 240);
  fixture_start (&f, f.thumbs, "min-interval=0");

  push_frame (&f, 0, 0);
  wait_stats (&f, 1, 1);
  ct_read_cover (f.store, CLIENT_ID, &cover);
  assert_cover_colour (&cover, 0, "cover of the first keyframe");

  /* <thumbnail-dir>/<client-id>/ and nothing else */
  root = cs_test_list_dir (f.thumbs, NULL, FALSE);
  fail_unless_equals_int (root->len, 1);
  fail_unless_equals_string (g_ptr_array_index (root, 0), CLIENT_ID_STR);
  names = list_thumbnails (f.client_dir);
  fail_unless_equals_int (names->len, 1);
  name = g_ptr_array_index (names, 0);
  GST_INFO ("first thumbnail: %s", name);

  /* named by the capture time, in UTC, close to now */
  now = g_get_real_time ();
  t = name_time (name);
  fail_unless (t <= now + G_USEC_PER_SEC && t >= now - 5 * G_USEC_PER_SEC,
      "thumbnail %s is %" G_GINT64_FORMAT " ms away from now", name,
      (t - now) / 1000);
  /* the cover published at that moment, byte for byte */
  assert_thumbnail_is_cover (&f, name, &cover);
  ct_cover_clear (&cover);

  /* the next keyframe, well inside thumbnail-interval (60 s), only makes a
   * cover */
  push_frame (&f, 1, 2);
  wait_stats (&f, 2, 1);
  ct_read_cover (f.store, CLIENT_ID, &cover);
  assert_cover_colour (&cover, 1, "cover of the second keyframe");
  ct_cover_clear (&cover);
  g_ptr_array_unref (names);
  names = list_thumbnails (f.client_dir);
  fail_unless_equals_int (names->len, 1);
  fail_unless_equals_uint64 (get_u64 (f.tap, "thumbnails-written"), 1);
  fail_unless_equals_int (count_warnings (&f), 0);

  fixture_stop (&f);
}

GST_END_TEST;

GST_START_TEST (test_interval_on_pipeline_clock)
{
  g_autoptr (GPtrArray) want = g_ptr_array_new_with_free_func (g_free);
  Fixture f;
  guint i;

  fixture_init (&f, 11, 160, 120);
  fixture_start (&f, f.thumbs, "min-interval=0 thumbnail-interval=10");

  /* a keyframe every 2 s of the pipeline clock for 20 s: every one makes a
   * cover, thumbnails come at 0, 10 and 20 s */
  for (i = 0; i <= 10; i++) {
    guint seconds = 2 * i;
    gboolean due = seconds % 10 == 0;
    guint64 n_thumbs = seconds / 10 + 1;
    g_autoptr (GPtrArray) names = NULL;

    push_frame (&f, i, seconds);
    wait_stats (&f, i + 1, n_thumbs);
    /* the thumbnail, if any, is on disk once its cover is published */
    fail_unless_equals_uint64 (get_u64 (f.tap, "covers-published"), i + 1);
    fail_unless_equals_uint64 (get_u64 (f.tap, "thumbnails-written"), n_thumbs);
    names = list_thumbnails (f.client_dir);
    fail_unless_equals_int (names->len, n_thumbs);
    if (due) {
      CtCover cover;

      ct_read_cover (f.store, CLIENT_ID, &cover);
      g_ptr_array_add (want, expected_name (cover.info.capture_time));
      /* the newest name sorts last */
      fail_unless_equals_string (g_ptr_array_index (names, names->len - 1),
          g_ptr_array_index (want, want->len - 1));
      assert_thumbnail_is_cover (
          &f, g_ptr_array_index (names, names->len - 1), &cover);
      assert_cover_colour (&cover, i, "thumbnail cover");
      ct_cover_clear (&cover);
    }
  }
  fail_unless_equals_int (want->len, 3);
  /* written in time order, and their names sort in that order */
  for (i = 1; i < want->len; i++)
    fail_unless (strcmp (g_ptr_array_index (want, i - 1),
                     g_ptr_array_index (want, i)) < 0,
        "%s written after %s sorts before it",
        (gchar *) g_ptr_array_index (want, i),
        (gchar *) g_ptr_array_index (want, i - 1));
  assert_thumbnails (&f, want);
  fail_unless_equals_uint64 (get_u64 (f.tap, "keyframes-skipped"), 0);
  fail_unless_equals_int (count_warnings (&f), 0);

  fixture_stop (&f);
}

GST_END_TEST;

GST_START_TEST (test_due_thumbnail_beats_min_interval)
{
  g_autoptr (GPtrArray) want = g_ptr_array_new_with_free_func (g_free);
  Fixture f;
  guint i;

  fixture_init (&f, 11, 160, 120);
  /* min-interval 60 s would keep the first cover for a minute */
  fixture_start (
      &f, f.thumbs, "min-interval=60000000000 thumbnail-interval=10");

  for (i = 0; i <= 10; i++) {
    guint seconds = 2 * i;
    gboolean due = seconds % 10 == 0;
    guint64 n = seconds / 10 + 1;

    push_frame (&f, i, seconds);
    wait_stats (&f, n, n);
    fail_unless_equals_uint64 (get_u64 (f.tap, "covers-published"), n);
    if (due) {
      CtCover cover;

      ct_read_cover (f.store, CLIENT_ID, &cover);
      assert_cover_colour (&cover, i, "cover of a due thumbnail");
      g_ptr_array_add (want, expected_name (cover.info.capture_time));
      assert_thumbnail_is_cover (
          &f, g_ptr_array_index (want, want->len - 1), &cover);
      ct_cover_clear (&cover);
    }
  }
  /* the keyframes at 0, 10 and 20 s made covers and thumbnails, the 8
   * others were skipped by min-interval */
  fail_unless_equals_uint64 (get_u64 (f.tap, "covers-published"), 3);
  fail_unless_equals_uint64 (get_u64 (f.tap, "thumbnails-written"), 3);
  fail_unless_equals_uint64 (get_u64 (f.tap, "keyframes-skipped"), 8);
  assert_thumbnails (&f, want);

  fixture_stop (&f);
}

GST_END_TEST;

GST_START_TEST (test_eos_thumbnail)
{
  g_autoptr (GPtrArray) names = NULL;
  Fixture f;
  CtCover first, last;
  guint i;

  fixture_init (&f, 3, 160, 120);
  fixture_start (&f, f.thumbs, "min-interval=0 thumbnail-interval=10");

  push_frame (&f, 0, 0);
  wait_stats (&f, 1, 1);
  ct_read_cover (f.store, CLIENT_ID, &first);
  for (i = 1; i < 3; i++) {
    push_frame (&f, i, 2 * i);
    wait_stats (&f, i + 1, 1);
  }
  fail_unless_equals_uint64 (get_u64 (f.tap, "thumbnails-written"), 1);
  ct_read_cover (f.store, CLIENT_ID, &last);
  assert_cover_colour (&last, 2, "last cover");

  fail_unless (gst_harness_push_event (f.h, gst_event_new_eos ()));
  wait_stats (&f, 3, 2);
  fail_unless_equals_uint64 (get_u64 (f.tap, "thumbnails-written"), 2);
  /* no new cover at EOS: the last one becomes the thumbnail */
  fail_unless_equals_uint64 (get_u64 (f.tap, "covers-published"), 3);

  names = list_thumbnails (f.client_dir);
  fail_unless_equals_int (names->len, 2);
  assert_thumbnail_is_cover (&f, g_ptr_array_index (names, 0), &first);
  /* the newest one holds the last cover */
  assert_thumbnail_is_cover (&f, g_ptr_array_index (names, 1), &last);
  fail_unless_equals_int (count_warnings (&f), 0);

  ct_cover_clear (&first);
  ct_cover_clear (&last);
  fixture_stop (&f);
}

GST_END_TEST;

/* With slow workers (COVERSNAP_WORKER_DELAY_MS, read when the pool starts,
 * which is in this test's own process), keyframes wait, and newer ones
 * replace them. */
static void
slow_workers (void)
{
  fail_if (g_strcmp0 (g_getenv ("CK_FORK"), "no") == 0,
      "this test needs its own process (do not set CK_FORK=no)");
  g_setenv ("COVERSNAP_WORKER_DELAY_MS", "400", TRUE);
}

GST_START_TEST (test_eos_takes_waiting_keyframe)
{
  g_autoptr (GPtrArray) names = NULL;
  Fixture f;
  CtCover last;

  slow_workers ();
  fixture_init (&f, 3, 160, 120);
  fixture_start (&f, f.thumbs, "min-interval=0 thumbnail-interval=10");

  push_frame (&f, 0, 0);
  wait_stats (&f, 1, 1);
  /* frame 1 keeps the worker busy (or waits itself), frame 2 waits: EOS
   * must neither drop it nor save an older cover in its place */
  push_frame (&f, 1, 2);
  push_frame (&f, 2, 4);
  fail_unless (gst_harness_push_event (f.h, gst_event_new_eos ()));
  wait_stats (&f, 2, 2);

  ct_read_cover (f.store, CLIENT_ID, &last);
  assert_cover_colour (&last, 2, "cover after EOS");
  names = list_thumbnails (f.client_dir);
  fail_unless_equals_int (names->len, 2);
  assert_thumbnail_is_cover (&f, g_ptr_array_index (names, 1), &last);
  fail_unless_equals_uint64 (get_u64 (f.tap, "thumbnails-written"), 2);
  ct_cover_clear (&last);

  fixture_stop (&f);
}

GST_END_TEST;

GST_START_TEST (test_replaced_keyframe_keeps_thumbnail)
{
  g_autoptr (GPtrArray) names = NULL;
  Fixture f;
  CtCover first, cover;

  slow_workers ();
  fixture_init (&f, 4, 160, 120);
  fixture_start (&f, f.thumbs, "min-interval=0 thumbnail-interval=10");

  push_frame (&f, 0, 0);
  wait_stats (&f, 1, 1);
  ct_read_cover (f.store, CLIENT_ID, &first);
  /* frame 1 (8 s, no thumbnail) keeps the worker busy; frame 2 (10 s) is
   * due for a thumbnail but waits, and frame 3 (12 s) replaces it: the
   * thumbnail must come from frame 3, not be lost */
  push_frame (&f, 1, 8);
  push_frame (&f, 2, 10);
  push_frame (&f, 3, 12);
  /* every keyframe is published or was replaced (skipped) */
  wait_accounted (&f, 4);
  wait_stats (&f, 2, 2);
  ct_read_cover (f.store, CLIENT_ID, &cover);
  /* frame 2 was replaced, never published */
  fail_unless (get_u64 (f.tap, "keyframes-skipped") >= 1);
  assert_cover_colour (&cover, 3, "last cover");
  fail_unless_equals_uint64 (get_u64 (f.tap, "thumbnails-written"), 2);
  names = list_thumbnails (f.client_dir);
  fail_unless_equals_int (names->len, 2);
  assert_thumbnail_is_cover (&f, g_ptr_array_index (names, 0), &first);
  {
    g_autofree gchar *last = expected_name (cover.info.capture_time);
    const gchar *second = g_ptr_array_index (names, 1);

    if (g_str_equal (second, last)) {
      assert_thumbnail_is_cover (&f, second, &cover);
    } else {
      /* a loaded machine: the worker had not taken frame 1 yet when frame
       * 2 came, so frame 2 replaced frame 1 and was published with the
       * thumbnail it was due, frame 3 after it.  The thumbnail is still
       * not lost, and it is frame 2's picture. */
      CtCover thumb = { 0 };

      GST_INFO ("frame 1 was the one replaced: thumbnail %s", second);
      g_bytes_unref (read_thumbnail (&f, second, &thumb));
      assert_cover_colour (&thumb, 2, "the thumbnail of frame 2");
      ct_cover_clear (&thumb);
    }
  }
  ct_cover_clear (&first);
  ct_cover_clear (&cover);

  fixture_stop (&f);
}

GST_END_TEST;

GST_START_TEST (test_max_files)
{
  g_autoptr (GPtrArray) written = g_ptr_array_new_with_free_func (g_free);
  g_autofree gchar *foreign = NULL;
  Fixture f;
  guint i;

  fixture_init (&f, 6, 160, 120);
  fixture_start (&f, f.thumbs,
      "min-interval=0 thumbnail-interval=1 thumbnail-max-files=3");

  for (i = 0; i < 6; i++) {
    g_autoptr (GPtrArray) want = g_ptr_array_new ();
    CtCover cover;
    guint j;

    push_frame (&f, i, i);
    wait_stats (&f, i + 1, i + 1);
    ct_read_cover (f.store, CLIENT_ID, &cover);
    g_ptr_array_add (written, expected_name (cover.info.capture_time));
    ct_cover_clear (&cover);
    if (i == 0) {
      /* not a thumbnail: retention leaves it alone */
      foreign = g_build_filename (f.client_dir, "notes.txt", NULL);
      fail_unless (g_file_set_contents (foreign, "keep me", -1, NULL));
    }
    /* the newest three, always */
    for (j = i + 1 > 3 ? i + 1 - 3 : 0; j <= i; j++)
      g_ptr_array_add (want, g_ptr_array_index (written, j));
    assert_thumbnails (&f, want);
  }
  fail_unless_equals_uint64 (get_u64 (f.tap, "thumbnails-written"), 6);
  fail_unless (g_file_test (foreign, G_FILE_TEST_IS_REGULAR));

  fixture_stop (&f);
}

GST_END_TEST;

static void
make_old (const gchar *dir, const gchar *name)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  struct timespec ts[2];

  ts[0].tv_sec = ts[1].tv_sec = time (NULL) - 3600;
  ts[0].tv_nsec = ts[1].tv_nsec = 0;
  fail_unless (utimensat (AT_FDCWD, path, ts, 0) == 0, "utimensat %s: %s", path,
      g_strerror (errno));
}

GST_START_TEST (test_max_age)
{
  g_autoptr (GPtrArray) written = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) want = g_ptr_array_new ();
  Fixture f;
  guint i;

  fixture_init (&f, 4, 160, 120);
  /* a minute: fresh files never reach it while the test runs, the files
   * made an hour old below are far past it */
  fixture_start (
      &f, f.thumbs, "min-interval=0 thumbnail-interval=1 thumbnail-max-age=60");

  for (i = 0; i < 4; i++) {
    CtCover cover;

    if (i == 3) {
      /* age the first two: the next save removes them, not the third */
      make_old (f.client_dir, g_ptr_array_index (written, 0));
      make_old (f.client_dir, g_ptr_array_index (written, 1));
    }
    push_frame (&f, i, i);
    wait_stats (&f, i + 1, i + 1);
    ct_read_cover (f.store, CLIENT_ID, &cover);
    g_ptr_array_add (written, expected_name (cover.info.capture_time));
    ct_cover_clear (&cover);
    if (i == 2) {
      /* young thumbnails all stay */
      assert_thumbnails (&f, written);
    }
  }
  g_ptr_array_add (want, g_ptr_array_index (written, 2));
  g_ptr_array_add (want, g_ptr_array_index (written, 3));
  assert_thumbnails (&f, want);
  fail_unless_equals_uint64 (get_u64 (f.tap, "thumbnails-written"), 4);

  fixture_stop (&f);
}

GST_END_TEST;

typedef struct
{
  const gchar *dir;
  gint stop;
  gint inotify_fd;
  guint reads;    /* whole thumbnails read */
  guint vanished; /* listed, then pruned before we opened it */
  guint appeared; /* names that appeared (created or renamed into place) */
  guint bad;
  gchar *first_bad;
} Poller;

static void
poller_bad (Poller *p, gchar *what)
{
  GST_ERROR ("%s", what);
  p->bad++;
  if (!p->first_bad)
    p->first_bad = what;
  else
    g_free (what);
}

/* Reads thumbnail @name, which must be a whole JPEG that decodes (or be
 * gone already: retention). */
static void
poller_read (Poller *p, const gchar *name)
{
  g_autofree gchar *path = NULL;
  g_autofree guint8 *rgb = NULL;
  g_autofree gchar *data = NULL;
  GError *err = NULL;
  gsize size = 0;
  guint w, h;

  if (!g_regex_match_simple (NAME_REGEX, name, 0, 0)) {
    poller_bad (p, g_strdup_printf ("foreign name '%s'", name));
    return;
  }
  path = g_build_filename (p->dir, name, NULL);
  if (!g_file_get_contents (path, &data, &size, &err)) {
    if (g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      p->vanished++;
    else
      poller_bad (p, g_strdup_printf ("%s: %s", name, err->message));
    g_clear_error (&err);
    return;
  }
  if (size < 4 || (guint8) data[0] != 0xff || (guint8) data[1] != 0xd8 ||
      (guint8) data[size - 2] != 0xff || (guint8) data[size - 1] != 0xd9) {
    poller_bad (p,
        g_strdup_printf (
            "%s: not a whole JPEG (%" G_GSIZE_FORMAT " bytes)", name, size));
    return;
  }
  rgb = cover_jpeg_decode_rgb ((guint8 *) data, size, &w, &h, &err);
  if (!rgb) {
    poller_bad (p, g_strdup_printf ("%s: %s", name, err->message));
    g_clear_error (&err);
    return;
  }
  p->reads++;
}

/* Handles the inotify events waiting.  A name that appears is read at
 * once, while a writer that is not atomic would still be writing it; and a
 * file written under its final name at all is a failure, however quick the
 * writer: no reader may ever see it before it is whole. */
static void
poller_events (Poller *p)
{
  gchar buf[16384]
      __attribute__ ((aligned (__alignof__(struct inotify_event))));
  gssize len;

  while ((len = read (p->inotify_fd, buf, sizeof (buf))) > 0) {
    gchar *ptr;

    for (ptr = buf; ptr < buf + len;) {
      const struct inotify_event *ev = (const struct inotify_event *) ptr;

      ptr += sizeof (struct inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        poller_bad (p, g_strdup ("inotify queue overflow"));
        continue;
      }
      if (!ev->len || ev->name[0] == '.')
        continue;
      if (ev->mask & (IN_MODIFY | IN_CLOSE_WRITE))
        poller_bad (p, g_strdup_printf ("%s written in place", ev->name));
      if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
        p->appeared++;
        poller_read (p, ev->name);
      }
    }
  }
}

/* Reads every thumbnail it can see, again and again, until told to stop,
 * and each one the moment it appears. */
static gpointer
poll_thumbnails (gpointer data)
{
  Poller *p = data;

  while (!g_atomic_int_get (&p->stop)) {
    struct pollfd pfd = { p->inotify_fd, POLLIN, 0 };
    const gchar *name;
    GDir *d;

    if (poll (&pfd, 1, 1) > 0)
      poller_events (p);
    d = g_dir_open (p->dir, 0, NULL);
    fail_unless (d != NULL);
    while ((name = g_dir_read_name (d))) {
      /* temporary files are not thumbnails yet */
      if (name[0] != '.')
        poller_read (p, name);
    }
    g_dir_close (d);
  }
  poller_events (p);
  return NULL;
}

GST_START_TEST (test_atomic_writes)
{
  g_autoptr (GPtrArray) names = NULL;
  g_autoptr (GPtrArray) all = NULL;
  Poller p = {
    0,
  };
  GThread *thread;
  Fixture f;
  guint i, n = 40;

  fixture_init (&f, n, 320, 240);
  /* bigger files (noise, quality 95) take longer to write; retention
   * removes files under the reader's feet too */
  fixture_start (&f, f.thumbs,
      "min-interval=0 thumbnail-interval=1 thumbnail-max-files=4 "
      "quality=95");
  /* made first, so that it can be watched from the first thumbnail on; the
   * element takes an existing directory (a stream that comes back) */
  fail_unless (g_mkdir_with_parents (f.client_dir, 0750) == 0);
  p.dir = f.client_dir;
  p.inotify_fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  fail_unless (p.inotify_fd >= 0, "inotify: %s", g_strerror (errno));
  fail_unless (inotify_add_watch (p.inotify_fd, f.client_dir,
                   IN_CREATE | IN_MOVED_TO | IN_MODIFY | IN_CLOSE_WRITE) >= 0);
  thread = g_thread_new ("poller", poll_thumbnails, &p);

  for (i = 0; i < n; i++) {
    push_frame (&f, i, i);
    wait_stats (&f, i + 1, i + 1);
  }
  fail_unless (gst_harness_push_event (f.h, gst_event_new_eos ()));
  wait_stats (&f, n, n + 1);

  g_atomic_int_set (&p.stop, 1);
  g_thread_join (thread);
  close (p.inotify_fd);
  GST_INFO ("poller: %u names appeared, %u whole thumbnails read, %u "
            "vanished, %u bad",
      p.appeared, p.reads, p.vanished, p.bad);
  fail_unless (p.bad == 0, "a reader saw a bad thumbnail (%u times): %s", p.bad,
      p.first_bad);
  /* every thumbnail was seen arriving (the one at EOS replaces the last) */
  fail_unless (
      p.appeared >= n, "%u names appeared for %u thumbnails", p.appeared, n);
  fail_unless (p.reads > 0, "the reader never read a thumbnail");

  /* no temporary file left, only thumbnails, the newest four */
  all = cs_test_list_dir (f.client_dir, NULL, FALSE);
  for (i = 0; i < all->len; i++)
    fail_unless (
        g_regex_match_simple (NAME_REGEX, g_ptr_array_index (all, i), 0, 0),
        "'%s' left in the thumbnail directory",
        (gchar *) g_ptr_array_index (all, i));
  names = list_thumbnails (f.client_dir);
  fail_unless_equals_int (names->len, 4);
  for (i = 0; i < names->len; i++)
    g_bytes_unref (read_thumbnail (&f, g_ptr_array_index (names, i), NULL));
  g_free (p.first_bad);

  fixture_stop (&f);
}

GST_END_TEST;

GST_START_TEST (test_unwritable_dir)
{
  g_autofree gchar *file = NULL;
  g_autofree gchar *under = NULL;
  g_autofree gchar *contents = NULL;
  GstMessage *msg;
  GError *err = NULL;
  gchar *dbg = NULL;
  Fixture f;
  CtCover cover;
  guint i;

  fixture_init (&f, 4, 160, 120);
  /* a directory under a regular file cannot be made */
  file = g_build_filename (f.root, "plain-file", NULL);
  fail_unless (g_file_set_contents (file, "not a directory", -1, NULL));
  under = g_build_filename (file, "thumbs", NULL);
  fixture_start (&f, under, "min-interval=0 thumbnail-interval=1");

  push_frame (&f, 0, 0);
  wait_stats (&f, 1, 0);
  msg = gst_bus_timed_pop_filtered (
      f.bus, WAIT_US * GST_USECOND, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL, "no warning about the thumbnail on the bus");
  fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (f.tap));
  gst_message_parse_warning (msg, &err, &dbg);
  GST_INFO ("warning: %s (%s)", err->message, dbg);
  fail_unless (err->domain == GST_RESOURCE_ERROR);
  fail_unless (
      strstr (err->message, "thumbnail") != NULL, "warning '%s'", err->message);
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (msg);

  /* the stream and its covers go on */
  for (i = 1; i < 4; i++) {
    push_frame (&f, i, i);
    wait_stats (&f, i + 1, 0);
    ct_read_cover (f.store, CLIENT_ID, &cover);
    assert_cover_colour (&cover, i, "cover with an unwritable thumbnail dir");
    ct_cover_clear (&cover);
  }
  fail_unless (gst_harness_push_event (f.h, gst_event_new_eos ()));
  fail_unless_equals_uint64 (get_u64 (f.tap, "covers-published"), 4);
  fail_unless_equals_uint64 (get_u64 (f.tap, "keyframes-failed"), 0);
  fail_unless_equals_uint64 (get_u64 (f.tap, "thumbnails-written"), 0);
  fail_unless (g_file_get_contents (file, &contents, NULL, NULL));
  fail_unless_equals_string (contents, "not a directory");

  fixture_stop (&f);
}

GST_END_TEST;

GST_START_TEST (test_no_thumbnail_dir)
{
  g_autoptr (GPtrArray) root = NULL;
  g_autoptr (GPtrArray) store = NULL;
  g_autoptr (GPtrArray) cwd_names = NULL;
  g_autofree gchar *cwd = NULL;
  g_autofree gchar *segment = NULL;
  gchar *dir = NULL;
  Fixture f;
  guint i;

  fixture_init (&f, 3, 160, 120);
  /* a relative default would land in the working directory */
  cwd = g_build_filename (f.root, "cwd", NULL);
  fail_unless (g_mkdir (cwd, 0700) == 0);
  fail_unless (g_chdir (cwd) == 0);

  fixture_start (&f, NULL, "min-interval=0 thumbnail-interval=1");
  g_object_get (f.tap, "thumbnail-dir", &dir, NULL);
  fail_unless (dir == NULL, "thumbnail-dir defaults to '%s'", dir);
  for (i = 0; i < 3; i++) {
    push_frame (&f, i, i);
    wait_stats (&f, i + 1, 0);
  }
  fail_unless (gst_harness_push_event (f.h, gst_event_new_eos ()));
  fail_unless_equals_uint64 (get_u64 (f.tap, "covers-published"), 3);
  fail_unless_equals_uint64 (get_u64 (f.tap, "thumbnails-written"), 0);

  /* the segment, and nothing else anywhere under the test's root */
  root = cs_test_list_dir (f.root, NULL, FALSE);
  fail_unless_equals_int (root->len, 2);
  fail_unless_equals_string (g_ptr_array_index (root, 0), "cwd");
  fail_unless_equals_string (g_ptr_array_index (root, 1), "store");
  cwd_names = cs_test_list_dir (cwd, NULL, FALSE);
  fail_unless_equals_int (cwd_names->len, 0);
  store = cs_test_list_dir (f.store, NULL, FALSE);
  segment = cover_store_path (f.store, CLIENT_ID);
  fail_unless_equals_int (store->len, 1);
  fail_unless (g_str_has_suffix (segment, g_ptr_array_index (store, 0)));
  fail_unless_equals_int (count_warnings (&f), 0);

  fail_unless (g_chdir ("/") == 0);
  fixture_stop (&f);
}

GST_END_TEST;

/* whether each of @files (names) is the path of one of @messages */
static gboolean
every_file_told (GPtrArray *files, GPtrArray *messages)
{
  for (guint i = 0; i < files->len; i++) {
    gboolean told = FALSE;

    for (guint j = 0; j < messages->len && !told; j++) {
      const gchar *path =
          gst_structure_get_string (g_ptr_array_index (messages, j), "path");

      told = path && g_str_has_suffix (path, g_ptr_array_index (files, i));
    }
    if (!told)
      return FALSE;
  }
  return TRUE;
}

/* Each thumbnail saved posts covertap-thumbnail (client-id, path,
 * capture-time), in a real pipeline: a message for every file in the
 * client's directory, its time the one its name says (two saves of one
 * keyframe, an interval's and the EOS one, write the same file). */
GST_START_TEST (test_thumbnail_message)
{
  gchar *root = ct_make_tmpdir ();
  g_autofree gchar *store = g_build_filename (root, "store", NULL);
  g_autofree gchar *thumbs = g_build_filename (root, "thumbs", NULL);
  g_autofree gchar *client_dir = g_build_filename (thumbs, CLIENT_ID_STR, NULL);
  g_autoptr (GPtrArray) messages =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  g_autofree gchar *launch = NULL;
  g_autoptr (GPtrArray) files = NULL;
  GstElement *pipeline;
  GstBus *bus;
  gint64 deadline = g_get_monotonic_time () + WAIT_US;
  gint64 now = g_get_real_time ();
  gboolean eos = FALSE;
  guint i;

  fail_unless (g_mkdir (store, 0700) == 0);
  launch = g_strdup_printf (
      "videotestsrc num-buffers=60 ! "
      "video/x-raw,format=I420,width=160,height=120,framerate=30/1 ! "
      "x264enc tune=zerolatency key-int-max=10 ! h264parse ! "
      "covertap client-id=%u store-dir=\"%s\" thumbnail-dir=\"%s\" "
      "thumbnail-interval=1 ! fakesink",
      CLIENT_ID, store, thumbs);
  pipeline = gst_parse_launch (launch, NULL);
  fail_unless (pipeline != NULL);
  bus = gst_element_get_bus (pipeline);
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  /* to EOS, then until every file written has had its message (the EOS
   * thumbnail is saved by a worker after EOS went by) */
  for (;;) {
    gint64 left = deadline - g_get_monotonic_time ();
    GstMessage *msg;

    if (eos) {
      g_clear_pointer (&files, g_ptr_array_unref);
      files = cover_thumbnail_list (client_dir);
      if (files->len > 0 && every_file_told (files, messages))
        break;
    }
    fail_unless (left > 0, "%u thumbnail messages for %u files", messages->len,
        files ? files->len : 0);
    msg = gst_bus_timed_pop (bus, MIN (left, 50 * 1000) * GST_USECOND);
    if (!msg)
      continue;
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS)
      eos = TRUE;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT &&
        gst_message_has_name (msg, "covertap-thumbnail"))
      g_ptr_array_add (
          messages, gst_structure_copy (gst_message_get_structure (msg)));
    gst_message_unref (msg);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);

  for (i = 0; i < messages->len; i++) {
    const GstStructure *st = g_ptr_array_index (messages, i);
    const gchar *path = gst_structure_get_string (st, "path");
    g_autofree gchar *dir = NULL, *name = NULL;
    guint cid = 0;
    gint64 capture_time = 0, named = 0;

    fail_unless (gst_structure_get_uint (st, "client-id", &cid));
    fail_unless_equals_int (cid, CLIENT_ID);
    fail_unless (path != NULL);
    fail_unless (g_file_test (path, G_FILE_TEST_IS_REGULAR), "%s", path);
    dir = g_path_get_dirname (path);
    fail_unless_equals_string (dir, client_dir);
    name = g_path_get_basename (path);
    fail_unless (
        g_ptr_array_find_with_equal_func (files, name, g_str_equal, NULL));
    fail_unless (gst_structure_get_int64 (st, "capture-time", &capture_time));
    fail_unless (cover_thumbnail_name_parse (name, &named));
    fail_unless_equals_int64 (capture_time, named);
    /* wall clock µs, of this run */
    fail_unless (capture_time > now - 60 * G_USEC_PER_SEC);
    fail_unless (capture_time < g_get_real_time () + G_USEC_PER_SEC);
  }
  ct_remove_tmpdir (root);
}

GST_END_TEST;

static Suite *
covertap_thumbnails_suite (void)
{
  Suite *s = suite_create ("covertap-thumbnails");
  TCase *tc;

  tc = tcase_create ("naming");
  tcase_add_test (tc, test_first_keyframe_thumbnail);
  suite_add_tcase (s, tc);

  tc = tcase_create ("message");
  tcase_add_test (tc, test_thumbnail_message);
  suite_add_tcase (s, tc);

  tc = tcase_create ("interval");
  tcase_add_test (tc, test_interval_on_pipeline_clock);
  tcase_add_test (tc, test_due_thumbnail_beats_min_interval);
  suite_add_tcase (s, tc);

  tc = tcase_create ("end-of-stream");
  tcase_add_test (tc, test_eos_thumbnail);
  tcase_add_test (tc, test_eos_takes_waiting_keyframe);
  tcase_add_test (tc, test_replaced_keyframe_keeps_thumbnail);
  suite_add_tcase (s, tc);

  tc = tcase_create ("retention");
  tcase_add_test (tc, test_max_files);
  tcase_add_test (tc, test_max_age);
  suite_add_tcase (s, tc);

  tc = tcase_create ("atomic");
  tcase_add_test (tc, test_atomic_writes);
  suite_add_tcase (s, tc);

  tc = tcase_create ("failures");
  tcase_add_test (tc, test_unwritable_dir);
  tcase_add_test (tc, test_no_thumbnail_dir);
  suite_add_tcase (s, tc);

  return s;
}

CT_CHECK_MAIN (covertap_thumbnails);
