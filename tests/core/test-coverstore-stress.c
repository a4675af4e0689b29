/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Torn reads: one writer publishes as fast as it can while readers copy
 * continuously.  Every copy must be exactly the image of the generation the
 * reader reported.  The run lasts a fixed wall-clock time; nothing is
 * asserted about speed, only about what the readers got. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <turbojpeg.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "coverjpeg-frame.h"
#include "coverstore.h"

#define N_READERS 3
#define RUN_TIME_US (2500 * 1000)
/* on a loaded machine the readers may get little CPU: the writer goes on
 * until each of them has done this much, but never past the hard limit */
#define MIN_READS_PER_READER 200
/* a slow machine (or a sanitizer) runs longer rather than prove less */
#define MIN_PUBLISHED 200
#define MAX_RUN_TIME_US (20 * 1000 * 1000)
#define CLIENT_ID 5150

typedef struct _Run Run;

struct _Run
{
  gchar *dir;
  CoverStoreWriter *writer;
  gint stop;
  gint readers_done; /* readers that did enough work to stop the writer */

  /* the image of a generation: data, size, width, height */
  void (*expect) (Run *run, guint64 gen, const guint8 **data, gsize *size,
      guint *width, guint *height, guint8 **owned);
  gboolean decode; /* the images are JPEGs: decode every copy */

  /* real JPEGs, cycled */
  GBytes *jpegs[8];
  guint jpeg_w[8], jpeg_h[8];

  /* results */
  GMutex lock;
  gchar *failure; /* the first thing that went wrong */
  guint64 published;
  guint64 reads_ok;
  guint64 reads_busy;
  guint64 distinct_sizes_seen;
};

static void run_fail (Run *run, const gchar *format, ...) G_GNUC_PRINTF (2, 3);

static void
run_fail (Run *run, const gchar *format, ...)
{
  va_list args;

  g_mutex_lock (&run->lock);
  if (!run->failure) {
    va_start (args, format);
    run->failure = g_strdup_vprintf (format, args);
    va_end (args);
  }
  g_mutex_unlock (&run->lock);
  g_atomic_int_set (&run->stop, 1);
}

/* Synthetic images: sizes from tiny to several times the initial 256 KiB
 * slot, every byte a function of the generation and its index. */
static const gsize synthetic_sizes[] = { 3000, 300 * 1024, 17, 40000,
  700 * 1024 + 3, 256 * 1024, 1024 * 1024 + 5, 90000, 256 * 1024 + 1 };

static inline guint8
synthetic_byte (guint64 gen, gsize i)
{
  guint64 x = (gen * 0x9e3779b97f4a7c15ull) ^ ((guint64) (i >> 3) << 17);

  x ^= x >> 29;
  return (guint8) (x >> ((i & 7) * 8));
}

static void
synthetic_expect (Run *run, guint64 gen, const guint8 **data, gsize *size,
    guint *width, guint *height, guint8 **owned)
{
  gsize n = synthetic_sizes[gen % G_N_ELEMENTS (synthetic_sizes)];
  guint8 *buf = g_malloc (MAX (n, 1));
  gsize i;

  for (i = 0; i < n; i++)
    buf[i] = synthetic_byte (gen, i);
  *data = buf;
  *owned = buf;
  *size = n;
  *width = (guint) (gen & 0xffff) + 1;
  *height = (guint) ((gen * 7) & 0xffff);
}

static void
jpeg_expect (Run *run, guint64 gen, const guint8 **data, gsize *size,
    guint *width, guint *height, guint8 **owned)
{
  guint k = (gen - 1) % G_N_ELEMENTS (run->jpegs);

  *data = g_bytes_get_data (run->jpegs[k], size);
  *width = run->jpeg_w[k];
  *height = run->jpeg_h[k];
  *owned = NULL;
}

static gint64
capture_time_of (guint64 gen)
{
  return 1700000000000000 + (gint64) gen * 40000;
}

static gpointer
writer_thread (gpointer user_data)
{
  Run *run = user_data;
  gint64 start = g_get_monotonic_time ();
  /* the first image went out before the readers started */
  guint64 gen = run->published + 1;

  while (!g_atomic_int_get (&run->stop)) {
    const guint8 *data;
    g_autofree guint8 *owned = NULL;
    GError *err = NULL;
    guint64 got = 0;
    gsize size;
    guint w, h;
    gint64 elapsed = g_get_monotonic_time () - start;

    if (elapsed >= MAX_RUN_TIME_US ||
        (elapsed >= RUN_TIME_US && gen > MIN_PUBLISHED &&
            g_atomic_int_get (&run->readers_done) == N_READERS))
      break;
    run->expect (run, gen, &data, &size, &w, &h, &owned);
    if (!cover_store_writer_publish (
            run->writer, data, size, w, h, capture_time_of (gen), &got, &err)) {
      run_fail (
          run, "publish %" G_GUINT64_FORMAT " failed: %s", gen, err->message);
      g_clear_error (&err);
      break;
    }
    if (got != gen) {
      run_fail (run,
          "publish returned generation %" G_GUINT64_FORMAT
          ", expected %" G_GUINT64_FORMAT,
          got, gen);
      break;
    }
    gen++;
  }
  g_mutex_lock (&run->lock);
  run->published = gen - 1;
  g_mutex_unlock (&run->lock);
  g_atomic_int_set (&run->stop, 1);
  return NULL;
}

static gboolean
jpeg_decodes (tjhandle tj, const guint8 *data, gsize size, guint width,
    guint height, guint8 **rgb, gsize *rgb_len)
{
  int w = 0, h = 0, sub = 0, cs = 0;

  if (tjDecompressHeader3 (tj, data, size, &w, &h, &sub, &cs) != 0)
    return FALSE;
  if ((guint) w != width || (guint) h != height)
    return FALSE;
  if (*rgb_len < (gsize) w * h * 3) {
    g_free (*rgb);
    *rgb_len = (gsize) w * h * 3;
    *rgb = g_malloc (*rgb_len);
  }
  return tjDecompress2 (tj, data, size, *rgb, w, 0, h, TJPF_RGB,
             TJFLAG_STOPONWARNING) == 0;
}

static gpointer
reader_thread (gpointer user_data)
{
  Run *run = user_data;
  g_autoptr (CoverStoreReader) reader = NULL;
  tjhandle tj = NULL;
  guint8 *rgb = NULL;
  gsize rgb_len = 0;
  GError *err = NULL;
  guint64 ok = 0, busy = 0, last_gen = 0;
  guint64 sizes_seen = 0;
  gboolean done = FALSE;

  reader = cover_store_reader_open (run->dir, CLIENT_ID, &err);
  if (!reader) {
    run_fail (run, "reader open: %s", err->message);
    g_clear_error (&err);
    return NULL;
  }
  if (run->decode)
    tj = tjInitDecompress ();

  while (!g_atomic_int_get (&run->stop)) {
    g_autoptr (GBytes) bytes = NULL;
    g_autofree guint8 *owned = NULL;
    CoverInfo info;
    const guint8 *expect, *got;
    gsize size, got_size;
    guint w, h;

    bytes = cover_store_reader_read (reader, 60 * G_USEC_PER_SEC, &info, &err);
    if (!bytes) {
      if (g_error_matches (err, COVER_STORE_ERROR, COVER_STORE_ERROR_BUSY)) {
        busy++;
        g_clear_error (&err);
        continue;
      }
      run_fail (run, "read failed: %s", err->message);
      g_clear_error (&err);
      break;
    }
    if (info.generation < last_gen || info.generation == 0) {
      run_fail (run,
          "generation went from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
          last_gen, info.generation);
      break;
    }
    last_gen = info.generation;

    run->expect (run, info.generation, &expect, &size, &w, &h, &owned);
    got = g_bytes_get_data (bytes, &got_size);
    if (got_size != size || info.size != size ||
        memcmp (got, expect, size) != 0) {
      run_fail (run,
          "generation %" G_GUINT64_FORMAT ": got %" G_GSIZE_FORMAT
          " bytes that are not its image (%" G_GSIZE_FORMAT " bytes)",
          info.generation, got_size, size);
      break;
    }
    if (info.width != w || info.height != h ||
        info.capture_time != capture_time_of (info.generation) ||
        info.client_id != CLIENT_ID || !info.live) {
      run_fail (run,
          "generation %" G_GUINT64_FORMAT ": metadata %ux%u t=%" G_GINT64_FORMAT
          " live=%d do not match the image",
          info.generation, info.width, info.height, info.capture_time,
          info.live);
      break;
    }
    if (run->decode &&
        !jpeg_decodes (tj, got, got_size, w, h, &rgb, &rgb_len)) {
      run_fail (run,
          "generation %" G_GUINT64_FORMAT
          ": the copy does not decode as a %ux%u JPEG",
          info.generation, w, h);
      break;
    }
    if (size > 256 * 1024)
      sizes_seen |= 1;
    else
      sizes_seen |= 2;
    ok++;
    /* enough reads, of both small and grown images */
    if (!done && ok >= MIN_READS_PER_READER && sizes_seen == 3) {
      g_atomic_int_inc (&run->readers_done);
      done = TRUE;
    }
  }

  if (tj)
    tjDestroy (tj);
  g_free (rgb);
  g_mutex_lock (&run->lock);
  run->reads_ok += ok;
  run->reads_busy += busy;
  run->distinct_sizes_seen |= sizes_seen;
  g_mutex_unlock (&run->lock);
  return NULL;
}

static void
do_run (Run *run)
{
  GThread *readers[N_READERS], *writer;
  g_autofree gchar *path = NULL;
  const guint8 *data;
  g_autofree guint8 *owned = NULL;
  GError *err = NULL;
  gsize size;
  guint w, h, i;
  guint64 total;

  run->dir = g_dir_make_tmp ("coversnap-stress-XXXXXX", &err);
  g_assert_no_error (err);
  g_mutex_init (&run->lock);
  run->writer = cover_store_writer_open (run->dir, CLIENT_ID, 0600, &err);
  g_assert_no_error (err);
  path = g_strdup (cover_store_writer_get_path (run->writer));

  run->expect (run, 1, &data, &size, &w, &h, &owned);
  g_assert_true (cover_store_writer_publish (
      run->writer, data, size, w, h, capture_time_of (1), NULL, &err));
  g_assert_no_error (err);
  run->published = 1;

  for (i = 0; i < N_READERS; i++)
    readers[i] = g_thread_new ("reader", reader_thread, run);
  writer = g_thread_new ("writer", writer_thread, run);
  g_thread_join (writer);
  for (i = 0; i < N_READERS; i++)
    g_thread_join (readers[i]);

  total = run->reads_ok + run->reads_busy;
  g_test_message ("%" G_GUINT64_FORMAT " images published, %" G_GUINT64_FORMAT
                  " reads ok, %" G_GUINT64_FORMAT " busy",
      run->published, run->reads_ok, run->reads_busy);
  if (run->failure)
    g_error ("%s", run->failure);
  /* enough work happened for the test to mean something */
  g_assert_cmpuint (run->published, >=, MIN_PUBLISHED);
  g_assert_cmpuint (run->reads_ok, >=, N_READERS * MIN_READS_PER_READER);
  /* both small and grown (> 256 KiB) images were read back */
  g_assert_cmpuint (run->distinct_sizes_seen, ==, 3);
  /* readers may be told to retry, but rarely */
  g_assert_cmpuint (run->reads_ok * 10, >, total * 9);

  /* the writer is done: a last read gets the last image */
  {
    g_autoptr (CoverStoreReader) r =
        cover_store_reader_open (run->dir, CLIENT_ID, &err);
    g_autoptr (GBytes) bytes = NULL;
    g_autofree guint8 *last_owned = NULL;
    CoverInfo info;

    g_assert_no_error (err);
    bytes = cover_store_reader_read (r, 60 * G_USEC_PER_SEC, &info, &err);
    g_assert_no_error (err);
    g_assert_cmpuint (info.generation, ==, run->published);
    run->expect (run, run->published, &data, &size, &w, &h, &last_owned);
    g_assert_cmpmem (
        g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), data, size);
  }

  cover_store_writer_close (run->writer, TRUE);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_rmdir (run->dir), ==, 0);
  g_free (run->dir);
  g_mutex_clear (&run->lock);
}

static void
test_synthetic (void)
{
  Run run = {
    0,
  };

  run.expect = synthetic_expect;
  do_run (&run);
}

/* Real JPEGs from the core's encoder: four small flat pictures and four
 * noisy ones whose JPEGs are larger than the initial slot. */
static GBytes *
encode_picture (CoverEncoder *enc, guint k, guint *width, guint *height)
{
  gboolean noisy = k % 2 == 1;
  guint w = noisy ? 480 + 32 * k : 160 + 16 * k;
  guint h = noisy ? 360 + 8 * k : 120 + 8 * k;
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buf;
  const guint8 *jpeg;
  gsize jpeg_size;
  GError *err = NULL;
  GBytes *bytes;
  GRand *rand = g_rand_new_with_seed (k);
  guint x, y;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  g_assert_true (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
  for (y = 0; y < h; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
        y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);

    for (x = 0; x < w * 3; x++)
      row[x] = noisy ? g_rand_int (rand) : (guint8) (k * 40 + x / 3 + y);
  }
  g_assert_true (cover_encoder_encode (
      enc, &frame, 95, 0, 0, &jpeg, &jpeg_size, width, height, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (*width, ==, w);
  g_assert_cmpuint (*height, ==, h);
  bytes = g_bytes_new (jpeg, jpeg_size);
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (buf);
  g_rand_free (rand);
  return bytes;
}

static void
test_real_jpegs (void)
{
  g_autoptr (CoverEncoder) enc = cover_encoder_new ();
  Run run = {
    0,
  };
  guint k, big = 0;

  g_assert_nonnull (enc);
  for (k = 0; k < G_N_ELEMENTS (run.jpegs); k++) {
    run.jpegs[k] = encode_picture (enc, k, &run.jpeg_w[k], &run.jpeg_h[k]);
    g_test_message ("JPEG %u: %ux%u, %" G_GSIZE_FORMAT " bytes", k,
        run.jpeg_w[k], run.jpeg_h[k], g_bytes_get_size (run.jpegs[k]));
    if (g_bytes_get_size (run.jpegs[k]) > 256 * 1024)
      big++;
  }
  /* the set exercises slot growth */
  g_assert_cmpuint (big, >=, 2);
  g_assert_cmpuint (big, <, G_N_ELEMENTS (run.jpegs));

  run.expect = jpeg_expect;
  run.decode = TRUE;
  do_run (&run);
  for (k = 0; k < G_N_ELEMENTS (run.jpegs); k++)
    g_bytes_unref (run.jpegs[k]);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/coverstore-stress/synthetic", test_synthetic);
  g_test_add_func ("/coverstore-stress/real-jpegs", test_real_jpegs);

  return g_test_run ();
}
