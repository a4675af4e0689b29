/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Live covers over HTTP: the fallback chain with a real covertap pipeline
 * (live → recording thumbnail → upload → 404), a writer that goes stale or
 * ends, and many parallel GETs on four HTTP threads while the live cover is
 * republished as fast as the store takes it. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <string.h>

#include "coverjpeg.h"
#include "coverstore.h"
#include "http-util.h"

/* 0xff3080c0 */
#define PATTERN_R 0x30
#define PATTERN_G 0x80
#define PATTERN_B 0xc0

/* How many of this process's fds are on the cover segment of @cid (an
 * unlinked one too). */
static guint
segment_fds (HtSvc *svc, guint32 cid)
{
  g_autofree gchar *seg =
      g_strdup_printf ("%s/coversnap.%u", svc->store_dir, cid);
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const gchar *name;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir))) {
    g_autofree gchar *link = g_strdup_printf ("/proc/self/fd/%s", name);
    g_autofree gchar *target = g_file_read_link (link, NULL);

    if (target && g_str_has_prefix (target, seg))
      n++;
  }
  return n;
}

/* Polls the cover until it comes from @source (bounded). */
static HtResp *
wait_for_source (HtSvc *svc, guint32 cid, const gchar *source)
{
  gint64 deadline = g_get_monotonic_time () + HT_TIMEOUT_S * G_USEC_PER_SEC;

  for (;;) {
    HtResp *resp = ht_get_cover (svc, cid, NULL);

    if (resp->status == 200 &&
        g_strcmp0 (ht_header (resp, "X-Cover-Source"), source) == 0)
      return resp;
    g_assert_true (resp->status == 200 || resp->status == 404);
    ht_resp_free (resp);
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (50 * 1000);
  }
}

static void
test_fallback_chain (void)
{
  HtSvc *svc = ht_svc_new ("live-timeout", "2", NULL);
  guint32 cid = 10000777;
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) upload = ht_jpeg (200, 200, 250, 250, 10);
  g_autoptr (GBytes) t1 = ht_jpeg (320, 180, 10, 250, 10);
  g_autoptr (GBytes) t2 = ht_jpeg (320, 180, 250, 10, 250);
  g_autoptr (GBytes) t0 = ht_jpeg (320, 180, 100, 100, 100);
  g_autoptr (GBytes) txt = g_bytes_new_static ("notes", 5);
  g_autofree gchar *desc = NULL, *dir = NULL, *p1 = NULL, *p2 = NULL;
  g_autofree gchar *p0 = NULL, *ptxt = NULL, *up_path = NULL;
  g_autofree gchar *live_etag = NULL, *metrics = NULL;
  GstElement *pipeline;
  HtResp *resp;
  guint w, h;

  dir = g_strdup_printf ("%s/%u", svc->thumb_dir, cid);
  p0 = g_build_filename (dir, "20261127T235959Z.jpg", NULL);
  p1 = g_build_filename (dir, "20261128T000000Z.jpg", NULL);
  p2 = g_build_filename (dir, "20261128T000100Z.jpg", NULL);
  ptxt = g_build_filename (dir, "zzz.txt", NULL);
  up_path = g_strdup_printf ("%s/%u", svc->upload_dir, cid);

  /* nothing at all yet */
  resp = ht_get_cover (svc, cid, NULL);
  g_free (ht_assert_error (resp, 404, "no_cover"));
  ht_resp_free (resp);

  desc = g_strdup_printf ("videotestsrc is-live=true pattern=solid-color "
                          "foreground-color=0xff%02x%02x%02x ! "
                          "video/x-raw,format=I420,width=640,height=360,"
                          "framerate=30/1 ! "
                          "x264enc speed-preset=ultrafast tune=zerolatency "
                          "key-int-max=10 ! h264parse ! "
                          "covertap client-id=%u store-dir=%s min-interval=0 ! "
                          "fakesink sync=false",
      PATTERN_R, PATTERN_G, PATTERN_B, cid, svc->store_dir);
  pipeline = gst_parse_launch (desc, &err);
  g_assert_no_error (err);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);

  /* live: the pattern's colour, at the stream's size */
  resp = wait_for_source (svc, cid, "live");
  ht_assert_cover (resp, NULL, "image/jpeg", "live");
  ht_image_size (resp->body, &w, &h);
  g_assert_cmpuint (w, ==, 640);
  g_assert_cmpuint (h, ==, 360);
  cs_test_assert_image_colour (
      resp->body, 0, 0, PATTERN_R, PATTERN_G, PATTERN_B, 16);
  live_etag = g_strdup (ht_header (resp, "ETag"));
  ht_resp_free (resp);

  /* thumbnails and an upload do not beat a live stream */
  ht_write_file (p1, t1);
  resp = ht_upload (svc, cid, upload);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, NULL, "image/jpeg", "live");
  ht_resp_free (resp);
  /* resized from the live cover */
  resp = ht_get_cover (svc, cid, "width=160");
  ht_assert_status (resp, 200);
  g_assert_cmpstr (ht_header (resp, "X-Cover-Source"), ==, "live");
  ht_image_size (resp->body, &w, &h);
  g_assert_cmpuint (w, ==, 160);
  g_assert_cmpuint (h, ==, 90);
  cs_test_assert_image_colour (
      resp->body, 0, 0, PATTERN_R, PATTERN_G, PATTERN_B, 16);
  ht_resp_free (resp);

  metrics = ht_metrics (svc);
  g_assert_cmpint (
      ht_metric (metrics, "coversnap_live_covers_read_total"), >=, 1);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_http_requests_total{endpoint=\"cover\","
                       "status=\"200\",source=\"live\"}"),
      >=, 2);

  /* the stream stops: its segment is marked ended, the thumbnail is next */
  cs_test_assert_no_bus_error (pipeline);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_NULL), ==,
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (pipeline);
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, t1, "image/jpeg", "record");
  g_assert_cmpstr (ht_header (resp, "ETag"), !=, live_etag);
  /* and the service let go of the ended segment */
  g_assert_cmpuint (segment_fds (svc, cid), ==, 0);
  ht_resp_free (resp);

  /* the newest name wins; older names and other files do not matter */
  ht_write_file (p2, t2);
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, t2, "image/jpeg", "record");
  ht_resp_free (resp);
  ht_write_file (p0, t0);
  ht_write_file (ptxt, txt);
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, t2, "image/jpeg", "record");
  ht_resp_free (resp);
  g_assert_cmpint (g_unlink (p2), ==, 0);
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, t1, "image/jpeg", "record");
  ht_resp_free (resp);

  /* no thumbnails: the upload */
  g_assert_cmpint (g_unlink (p1), ==, 0);
  g_assert_cmpint (g_unlink (p0), ==, 0);
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, upload, "image/jpeg", "upload");
  ht_resp_free (resp);
  ht_rm_rf (dir);
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, upload, "image/jpeg", "upload");
  ht_resp_free (resp);

  /* nothing: 404 */
  g_assert_cmpint (g_unlink (up_path), ==, 0);
  resp = ht_get_cover (svc, cid, NULL);
  g_free (ht_assert_error (resp, 404, "no_cover"));
  ht_resp_free (resp);
  ht_svc_free (svc);
}

/* A writer that stops beating its heart is not live after live-timeout; one
 * that says the stream ended is not live at once. */
static void
test_stale_and_ended (void)
{
  HtSvc *svc = ht_svc_new ("live-timeout", "1", NULL);
  guint32 cid = 20000001;
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) live = ht_jpeg (320, 240, 200, 200, 200);
  g_autoptr (GBytes) upload = ht_jpeg (32, 24, 0, 0, 0);
  CoverStoreWriter *w;
  HtResp *resp;

  resp = ht_upload (svc, cid, upload);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);

  w = cover_store_writer_open (svc->store_dir, cid, 0600, &err);
  g_assert_no_error (err);
  /* a segment without an image yet: not a cover */
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, upload, "image/jpeg", "upload");
  ht_resp_free (resp);

  g_assert_true (cover_store_writer_publish (w, g_bytes_get_data (live, NULL),
      g_bytes_get_size (live), 320, 240, g_get_real_time (), NULL, &err));
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, live, "image/jpeg", "live");
  ht_resp_free (resp);

  /* no heartbeat: the upload comes back within a bounded wait */
  resp = wait_for_source (svc, cid, "upload");
  ht_assert_cover (resp, upload, "image/jpeg", "upload");
  ht_resp_free (resp);

  /* beating again: live again, the same image */
  cover_store_writer_heartbeat (w);
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, live, "image/jpeg", "live");
  ht_resp_free (resp);

  /* ended: not live, without waiting */
  cover_store_writer_set_ended (w, TRUE);
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, upload, "image/jpeg", "upload");
  ht_resp_free (resp);

  /* a new stream of the same device replaces the segment (the reader
   * notices a replaced segment within a bounded interval, not at once) */
  cover_store_writer_close (w, FALSE);
  w = cover_store_writer_open (svc->store_dir, cid, 0600, &err);
  g_assert_no_error (err);
  g_assert_true (cover_store_writer_publish (w, g_bytes_get_data (upload, NULL),
      g_bytes_get_size (upload), 32, 24, g_get_real_time (), NULL, &err));
  resp = wait_for_source (svc, cid, "live");
  ht_assert_cover (resp, upload, "image/jpeg", "live");
  ht_resp_free (resp);
  /* the stream of the new writer ends and its segment goes away */
  cover_store_writer_close (w, TRUE);
  resp = ht_get_cover (svc, cid, NULL);
  ht_assert_cover (resp, upload, "image/jpeg", "upload");
  ht_resp_free (resp);
  ht_svc_free (svc);
}

/* Many parallel GETs (and resizes) while the live cover is republished
 * rapidly: every 200 is a complete JPEG that was published. */
static void
test_parallel_gets (gconstpointer data)
{
  const gchar *threads = data;
  HtSvc *svc = ht_svc_new ("http-threads", threads, NULL);

  ht_parallel_gets (svc, &svc->port, 1, HT_SEED_CID);
  ht_svc_free (svc);
}

/* The same over four SoupServers the test runs, each on its own thread and
 * main context, sharing one service. */
static void
test_parallel_gets_attached (void)
{
  HtSvc *svc = ht_svc_dirs_new ();
  g_autoptr (GError) err = NULL;
  HtOwnServer *servers[4];
  guint16 ports[4];
  guint i;

  svc->service = cover_service_new (ht_config_new (svc, NULL), &err);
  g_assert_no_error (err);
  for (i = 0; i < 4; i++) {
    servers[i] = ht_own_server_start (svc->service);
    ports[i] = servers[i]->port;
  }
  svc->port = ports[0];
  svc->base = g_strdup_printf ("http://127.0.0.1:%u", svc->port);
  ht_parallel_gets (svc, ports, 4, HT_SEED_CID);
  for (i = 0; i < 4; i++)
    ht_own_server_stop (servers[i]);
  ht_svc_free (svc);
}

int
main (int argc, char **argv)
{
  ht_init (&argc, &argv);

  g_test_add_func ("/http/live/fallback-chain", test_fallback_chain);
  g_test_add_func ("/http/live/stale-and-ended", test_stale_and_ended);
  g_test_add_data_func (
      "/http/live/parallel-gets/1-thread", "1", test_parallel_gets);
  g_test_add_data_func (
      "/http/live/parallel-gets/4-threads", "4", test_parallel_gets);
  g_test_add_func (
      "/http/live/parallel-gets/4-servers", test_parallel_gets_attached);
  return ht_run ();
}
