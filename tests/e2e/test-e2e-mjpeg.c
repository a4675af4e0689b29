/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* MJPEG pushes (RTP JPEG, RFC 2435, static payload type 26) against a real
 * coversnapd on 127.0.0.1: ffmpeg over TCP and UDP, sending one JPEG file
 * as every frame (-c:v copy), and rtspclientsink with jpegenc.  RTP JPEG
 * carries no JPEG headers, the receiver rebuilds them; so the cover is
 * checked against the pushed file where the two must agree when covertap
 * publishes the depayloaded frame as it is: the same scan data byte for
 * byte, every quantization table one the file has (a re-encode would give
 * TurboJPEG's own tables and scan), and the pushed colour when decoded.
 * ffmpeg's MJPEG has one quantization table for all three components,
 * which the depayloader took two of, the second from the scan data; and
 * mp4mux takes no JPEG, so record=true pushes are not recorded. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "e2e-util.h"

#include <string.h>

#define CID 42

/* what an RTP JPEG receiver keeps of a baseline JPEG: the quantization
 * tables (8-bit) by id, the scan data after the SOS header */
typedef struct
{
  GBytes *qtable[4];
  GBytes *scan;
} JpegParts;

static void
jpeg_parts_clear (JpegParts *j)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (j->qtable); i++)
    g_clear_pointer (&j->qtable[i], g_bytes_unref);
  g_clear_pointer (&j->scan, g_bytes_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (JpegParts, jpeg_parts_clear)

static void
jpeg_parts (GBytes *jpeg, JpegParts *j)
{
  gsize size;
  const guint8 *d = g_bytes_get_data (jpeg, &size);
  gsize i = 2;

  g_assert_cmpuint (size, >, 4);
  g_assert_cmphex (d[0], ==, 0xff);
  g_assert_cmphex (d[1], ==, 0xd8);
  while (i + 4 <= size) {
    guint8 marker = d[i + 1];
    gsize len = (d[i + 2] << 8) | d[i + 3], k;

    g_assert_cmphex (d[i], ==, 0xff);
    g_assert_cmpuint (i + 2 + len, <=, size);
    if (marker == 0xdb) {
      for (k = i + 4; k + 65 <= i + 2 + len; k += 65) {
        guint id = d[k] & 0x0f;

        g_assert_cmphex (d[k] >> 4, ==, 0); /* 8-bit */
        g_assert_cmpuint (id, <, G_N_ELEMENTS (j->qtable));
        g_clear_pointer (&j->qtable[id], g_bytes_unref);
        j->qtable[id] = g_bytes_new (d + k + 1, 64);
      }
    } else if (marker == 0xda) {
      j->scan = g_bytes_new (d + i + 2 + len, size - (i + 2 + len));
      return;
    }
    i += 2 + len;
  }
  g_assert_not_reached ();
}

/* the cover of @cid once it is live and decodes to red; bounded */
static E2eResp *
wait_live_red (E2eServer *f, guint32 cid)
{
  gint64 deadline = g_get_monotonic_time () + E2E_WAIT_S * G_USEC_PER_SEC;
  gdouble rgb[3] = { 0, 0, 0 };

  for (;;) {
    E2eResp *r = e2e_get_cover (f, cid);

    if (g_strcmp0 (r->source, "live") == 0 && r->status == 200) {
      e2e_mean_rgb (r->body, 320, 240, rgb);
      if (rgb[0] > 200 && rgb[1] < 50 && rgb[2] < 50)
        return r;
    }
    if (g_get_monotonic_time () > deadline) {
      g_printerr ("cover of %u: %u %s, mean %.0f,%.0f,%.0f; waited for a "
                  "live red one\n",
          cid, r->status, r->source ? r->source : "-", rgb[0], rgb[1], rgb[2]);
      g_assert_not_reached ();
    }
    e2e_resp_free (r);
    g_usleep (100 * 1000);
  }
}

/* The served cover is the pushed JPEG as RTP JPEG gives it back: its scan
 * data, and for every component the table the file gave it (the file's
 * table 0 for all when it has just one). */
static void
assert_published_as_pushed (GBytes *cover, GBytes *pushed)
{
  g_auto (JpegParts) c = { { NULL } };
  g_auto (JpegParts) p = { { NULL } };
  guint i;

  jpeg_parts (cover, &c);
  jpeg_parts (pushed, &p);
  g_assert_nonnull (c.qtable[0]);
  g_assert_nonnull (p.qtable[0]);
  for (i = 0; i < G_N_ELEMENTS (c.qtable); i++) {
    GBytes *want = p.qtable[i] ? p.qtable[i] : p.qtable[0];

    if (c.qtable[i])
      g_assert_true (g_bytes_equal (c.qtable[i], want));
  }
  g_assert_cmpuint (g_bytes_get_size (c.scan), ==, g_bytes_get_size (p.scan));
  g_assert_true (g_bytes_equal (c.scan, p.scan));
}

/* ffmpeg's MJPEG of a red 320x240 frame, baseline 4:2:0 with the standard
 * Huffman tables RTP JPEG needs (-huffman 0) */
static GBytes *
make_red_jpeg (E2eServer *f, gchar **path)
{
  g_autofree gchar *out = g_build_filename (f->root, "red.jpg", NULL);
  const gchar *argv[] = { "ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi",
    "-i", "color=c=red:s=320x240", "-frames:v", "1", "-c:v", "mjpeg",
    "-huffman", "0", "-pix_fmt", "yuvj420p", "-q:v", "3", "-y", out, NULL };
  g_auto (CsTestRun) run = { 0 };
  gchar *data;
  gsize size;

  cs_test_run (&run, argv, NULL, NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_true (g_file_get_contents (out, &data, &size, NULL));
  *path = g_steal_pointer (&out);
  return g_bytes_new_take (data, size);
}

static E2eServer *
ffmpeg_push_file (const gchar *transport, const gchar *stream_settings)
{
  E2eServer *f = e2e_server_new (3, stream_settings, stream_settings != NULL);
  g_autofree gchar *token = e2e_token_for (CID, E2E_KEY);
  g_autofree gchar *url = e2e_location_for (f, CID, token);
  g_autofree gchar *path = NULL;
  g_autoptr (GBytes) pushed = make_red_jpeg (f, &path);
  g_autoptr (GError) err = NULL;
  GSubprocess *p;
  E2eResp *r;

  /* every frame the same bytes */
  p = e2e_spawn (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, NULL, &err, "ffmpeg",
      "-nostdin", "-v", "error", "-re", "-loop", "1", "-framerate", "10", "-i",
      path, "-c:v", "copy", "-t", "30", "-rtsp_transport", transport, "-f",
      "rtsp", url, NULL);
  g_assert_no_error (err);
  g_ptr_array_add (f->pushers, p);
  r = wait_live_red (f, CID);
  assert_published_as_pushed (r->body, pushed);
  e2e_resp_free (r);
  return f;
}

static void
test_ffmpeg_tcp (void)
{
  e2e_server_free (ffmpeg_push_file ("tcp", NULL));
}

static void
test_ffmpeg_udp (void)
{
  e2e_server_free (ffmpeg_push_file ("udp", NULL));
}

/* mp4mux takes no JPEG: record=true still gives the cover, no segments */
static void
test_record_not_mp4 (void)
{
  E2eServer *f = ffmpeg_push_file ("tcp", "[stream.42]\nrecord=true\n");
  g_autofree gchar *dir =
      g_build_filename (f->data_dir, "recordings", "42", NULL);
  g_autofree gchar *log = NULL;
  g_autoptr (GPtrArray) segments = NULL;

  g_assert_true (g_file_get_contents (f->log_path, &log, NULL, NULL));
  g_assert_nonnull (strstr (log, "not recording: MP4 segments take no MJPEG"));
  segments = cs_test_list_dir (dir, ".mp4", FALSE);
  g_assert_cmpuint (segments->len, ==, 0);
  e2e_server_free (f);
}

/* jpegenc: two tables, luma and chroma, kept as they are */
static void
test_rtspclientsink_jpegenc (void)
{
  E2eServer *f = e2e_server_new (3, NULL, FALSE);
  g_autofree gchar *token = e2e_token_for (CID, E2E_KEY);
  g_autofree gchar *url = e2e_location_for (f, CID, token);
  g_autofree gchar *location = g_strdup_printf ("location=%s", url);
  g_autofree gchar *path = g_build_filename (f->root, "red.jpg", NULL);
  g_autofree gchar *file = g_strdup_printf ("location=%s", path);
  const gchar *caps =
      "video/x-raw,format=I420,width=320,height=240,framerate=10/1";
  const gchar *argv[] = { "gst-launch-1.0", "-q", "videotestsrc", "pattern=red",
    "num-buffers=1", "!", caps, "!", "jpegenc", "!", "filesink", file, NULL };
  g_auto (CsTestRun) run = { 0 };
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) pushed = NULL;
  gchar *data;
  gsize size;
  GSubprocess *p;
  E2eResp *r;

  /* the frame the pusher's jpegenc makes of the same red picture */
  cs_test_run (&run, argv, NULL, NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_true (g_file_get_contents (path, &data, &size, NULL));
  pushed = g_bytes_new_take (data, size);

  p = e2e_spawn (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, NULL, &err,
      "gst-launch-1.0", "-q", "videotestsrc", "pattern=red", "is-live=true",
      "!", caps, "!", "jpegenc", "!", "rtspclientsink", location, NULL);
  g_assert_no_error (err);
  g_ptr_array_add (f->pushers, p);
  r = wait_live_red (f, CID);
  assert_published_as_pushed (r->body, pushed);
  e2e_resp_free (r);
  e2e_server_free (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mjpeg/ffmpeg-tcp", test_ffmpeg_tcp);
  g_test_add_func ("/mjpeg/ffmpeg-udp", test_ffmpeg_udp);
  g_test_add_func ("/mjpeg/record-not-mp4", test_record_not_mp4);
  g_test_add_func (
      "/mjpeg/rtspclientsink-jpegenc", test_rtspclientsink_jpegenc);
  return g_test_run ();
}
