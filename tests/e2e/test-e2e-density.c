/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* What one more push costs coversnapd in threads and fds (issue 12), with
 * real pushers (gst-launch-1.0 rtspclientsink over RTSP/TCP): after two
 * pushes (the shared loops, the snapshot workers and the plugins are in
 * place), 8 more add at most 2 threads and 5 fds each, and all of it goes
 * when they stop.  Today (GStreamer 1.22) a push holds the two appsrc
 * threads of gst-rtsp-stream; its connection, its pipeline's bus (a
 * socketpair), the store segment covertap writes and the one the live
 * cover is read from.  Before issue 12 a push held 7 threads: its own
 * media loop, rtpjitterbuffer's two, rtpsession's RTCP reports and
 * gst-rtsp-stream's thread sending them. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "e2e-util.h"

#define KEY "e2e-density-key"
#define CID0 100
#define N_FIRST 2
#define N_MORE 8
#define MAX_THREADS_PER_PUSH 2
#define MAX_FDS_PER_PUSH 5

/* gst-launch-1.0 pushing @pattern, 320x240 H.264, 1 s GOP, over TCP only */
static void
push_tcp (E2eServer *f, guint32 cid)
{
  g_autofree gchar *token = e2e_token_for (cid, KEY);
  g_autofree gchar *url = e2e_location_for (f, cid, token);
  g_autofree gchar *location = g_strdup_printf ("location=%s", url);
  g_autoptr (GError) err = NULL;
  GSubprocess *p;

  p = e2e_spawn (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, NULL, &err,
      "gst-launch-1.0", "-q", "videotestsrc", "pattern=red", "is-live=true",
      "!", "video/x-raw,format=I420,width=320,height=240,framerate=25/1", "!",
      "x264enc", "tune=zerolatency", "speed-preset=ultrafast", "key-int-max=25",
      "!", "rtspclientsink", "protocols=tcp", location, NULL);
  g_assert_no_error (err);
  g_ptr_array_add (f->pushers, p);
}

/* GET the cover of @cid with a token of KEY: whether it is live */
static gboolean
is_live (E2eServer *f, guint32 cid)
{
  E2eResp *r = e2e_get_cover_with_key (f, cid, KEY);
  gboolean live = r->status == 200 && g_strcmp0 (r->source, "live") == 0;

  e2e_resp_free (r);
  return live;
}

/* until every cover of @first .. @last is live; bounded */
static void
wait_live (E2eServer *f, guint32 first, guint32 last)
{
  gint64 deadline =
      g_get_monotonic_time () + 3 * E2E_WAIT_S * (gint64) G_USEC_PER_SEC;
  guint32 cid = first;

  while (cid <= last) {
    if (is_live (f, cid)) {
      cid++;
      continue;
    }
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (100 * 1000);
  }
}

static void
test_cost_per_push (void)
{
  E2eServer *f = e2e_server_new (5,
      "[ingest]\nthreads=2\n"
      "[app.density]\nkey=" KEY "\ncids=100-199\n",
      TRUE);
  guint fds0, threads0, fds1, threads1, fds2, threads2, i;
  gint64 deadline;

  for (i = 0; i < N_FIRST; i++)
    push_tcp (f, CID0 + i);
  wait_live (f, CID0, CID0 + N_FIRST - 1);
  e2e_server_settle_counts (f, E2E_WAIT_S, &fds0, &threads0);

  for (i = N_FIRST; i < N_FIRST + N_MORE; i++)
    push_tcp (f, CID0 + i);
  wait_live (f, CID0 + N_FIRST, CID0 + N_FIRST + N_MORE - 1);
  e2e_server_settle_counts (f, E2E_WAIT_S, &fds1, &threads1);
  g_test_message ("%u pushes: %u threads, %u fds; %u pushes: %u threads, "
                  "%u fds: %.2f threads and %.2f fds per push",
      N_FIRST, threads0, fds0, N_FIRST + N_MORE, threads1, fds1,
      ((gdouble) threads1 - threads0) / N_MORE,
      ((gdouble) fds1 - fds0) / N_MORE);
  g_assert_cmpuint (threads1, <=, threads0 + MAX_THREADS_PER_PUSH * N_MORE);
  g_assert_cmpuint (fds1, <=, fds0 + MAX_FDS_PER_PUSH * N_MORE);

  /* the 8 stop: what they held goes (the loops they shared stay); the HTTP
   * side keeps its reader of each segment it served (one fd per client id,
   * server-glue/http/cover-live-source.c), not the ingest's to close */
  for (i = N_FIRST; i < N_FIRST + N_MORE; i++)
    g_subprocess_force_exit (g_ptr_array_index (f->pushers, i));
  deadline = g_get_monotonic_time () + E2E_WAIT_S * (gint64) G_USEC_PER_SEC;
  for (;;) {
    e2e_server_settle_counts (f, E2E_WAIT_S, &fds2, &threads2);
    if ((fds2 <= fds0 + N_MORE && threads2 <= threads0) ||
        g_get_monotonic_time () > deadline)
      break;
  }
  g_test_message ("after the 8 stopped: %u threads, %u fds", threads2, fds2);
  g_assert_cmpuint (threads2, <=, threads0);
  g_assert_cmpuint (fds2, <=, fds0 + N_MORE);
  /* the first two were pushing all along */
  g_assert_true (is_live (f, CID0));
  g_assert_true (is_live (f, CID0 + 1));
  e2e_server_free (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/density/cost-per-push", test_cost_per_push);
  return g_test_run ();
}
