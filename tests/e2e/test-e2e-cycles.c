/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* coversnapd end to end, the harder cases: a pusher killed with SIGKILL
 * mid-stream, many push/stop cycles of one client id (open files, threads
 * and store segments counted afterwards), an H.264 and an H.265 pusher at
 * once with different per-stream settings, and one pusher switching colour
 * mid-stream (an in-process pipeline whose videotestsrc is changed while
 * PLAYING).  Real processes on 127.0.0.1, every wait bounded, children
 * killed in teardown. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "e2e-util.h"

#include <gio/gio.h>
#include <gst/gst.h>
#include <signal.h>
#include <string.h>

#define CID 42
#define OTHER_CID 43
/* the server's live-timeout (config) and the bound on noticing a dead
 * pusher */
#define LIVE_TIMEOUT_S 2
#define DEAD_WAIT_S 10
#define N_CYCLES 8
/* what the server may hold more after the cycles than after the first */
#define FD_MARGIN 4
#define THREAD_MARGIN 4

/* gst-launch-1.0 pushing a solid colour, 320x240, to /live/@cid */
static GSubprocess *
push (E2eServer *f, guint32 cid, const gchar *pattern, gboolean h265)
{
  g_autofree gchar *token = e2e_token_for (cid, E2E_KEY);

  return e2e_push (f, cid, token, pattern, h265);
}

static gboolean
is_live (E2eResp *r)
{
  return r->status == 200 && g_strcmp0 (r->source, "live") == 0;
}

/* Polls until the cover is live (@live) or not live (!@live), for at most
 * @bound_s; the last response, or NULL when the bound was reached. */
static E2eResp *
poll_cover (E2eServer *f, guint32 cid, gboolean live, guint bound_s)
{
  gint64 deadline = g_get_monotonic_time () + bound_s * G_USEC_PER_SEC;

  for (;;) {
    E2eResp *r = e2e_get_cover (f, cid);

    if (is_live (r) == live)
      return r;
    if (g_get_monotonic_time () > deadline) {
      g_printerr ("cover of %u: %u %s, waited for %s\n", cid, r->status,
          r->source ? r->source : "-", live ? "live" : "not live");
      e2e_resp_free (r);
      return NULL;
    }
    e2e_resp_free (r);
    g_usleep (100 * 1000);
  }
}

static E2eResp *
wait_cover (E2eServer *f, guint32 cid, gboolean live)
{
  E2eResp *r = poll_cover (f, cid, live, E2E_WAIT_S);

  g_assert_nonnull (r);
  return r;
}

static gboolean
is_blue (GBytes *jpeg, guint width, guint height)
{
  gdouble rgb[3];

  e2e_mean_rgb (jpeg, width, height, rgb);
  return rgb[0] < 50 && rgb[1] < 50 && rgb[2] > 200;
}

/* Polls (bounded) until the server holds at most @max_fds files and
 * @max_threads threads; returns whether it did, the last counts in
 * @fds and @threads. */
static gboolean
wait_server_counts (
    E2eServer *f, guint max_fds, guint max_threads, guint *fds, guint *threads)
{
  gint64 deadline = g_get_monotonic_time () + DEAD_WAIT_S * G_USEC_PER_SEC;

  for (;;) {
    *fds = e2e_server_fds (f);
    *threads = e2e_server_threads (f);
    if (*fds <= max_fds && *threads <= max_threads)
      return TRUE;
    if (g_get_monotonic_time () > deadline)
      return FALSE;
    g_usleep (100 * 1000);
  }
}

/* store entries of @cid: the segment "coversnap.<cid>" and temporaries
 * ".coversnap.<cid>..." */
static void
count_segments (E2eServer *f, guint32 cid, guint *segments, guint *temporaries)
{
  g_autoptr (GDir) dir = g_dir_open (f->store_dir, 0, NULL);
  g_autofree gchar *name_ = g_strdup_printf ("coversnap.%u", cid);
  const gchar *name;

  g_assert_nonnull (dir);
  *segments = *temporaries = 0;
  while ((name = g_dir_read_name (dir))) {
    if (g_str_equal (name, name_))
      (*segments)++;
    else if (g_str_has_prefix (name, ".coversnap."))
      (*temporaries)++;
  }
}

/* Pushes @pattern to @cid until its cover is live: a push refused while the
 * server still holds the previous one of @cid (after a SIGKILL) is tried
 * again, counted in @retries; bounded.  The live cover in @resp. */
static GSubprocess *
push_until_live (E2eServer *f, guint32 cid, const gchar *pattern,
    guint *retries, E2eResp **resp)
{
  gint64 deadline = g_get_monotonic_time () + E2E_WAIT_S * G_USEC_PER_SEC;
  GSubprocess *p = push (f, cid, pattern, FALSE);
  E2eResp *r = NULL;

  while (!r) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    r = e2e_get_cover (f, cid);
    if (!is_live (r)) {
      g_clear_pointer (&r, e2e_resp_free);
      if (!g_subprocess_get_identifier (p)) {
        (*retries)++;
        p = push (f, cid, pattern, FALSE);
      }
      g_usleep (100 * 1000);
    }
  }
  *resp = r;
  return p;
}

/* One push/stop cycle: push until live, about a second of stream, then
 * SIGINT or SIGKILL. */
static void
push_cycle (E2eServer *f, guint32 cid, gboolean kill9, guint *retries)
{
  E2eResp *r;
  GSubprocess *p = push_until_live (f, cid, "red", retries, &r);

  e2e_assert_red (r->body, 320, 240);
  e2e_resp_free (r);
  g_usleep (G_USEC_PER_SEC);
  g_subprocess_send_signal (p, kill9 ? SIGKILL : SIGINT);
  g_assert_cmpint (cs_test_wait_child (p, E2E_WAIT_S), >=, 0);
}

/* A pusher killed with SIGKILL (no TEARDOWN, no EOS): the cover stops being
 * live within the live timeout, and without thumbnails or an upload there is
 * none. */
static void
test_kill9_pusher (void)
{
  E2eServer *f = e2e_server_new (LIVE_TIMEOUT_S, NULL, FALSE);
  GSubprocess *p;
  guint retries = 0;
  E2eResp *r;

  p = push (f, CID, "red", FALSE);
  r = wait_cover (f, CID, TRUE);
  e2e_assert_red (r->body, 320, 240);
  e2e_resp_free (r);

  g_subprocess_send_signal (p, SIGKILL);
  g_assert_cmpint (cs_test_wait_child (p, E2E_WAIT_S), ==, 128 + SIGKILL);
  r = poll_cover (f, CID, FALSE, DEAD_WAIT_S);
  g_assert_nonnull (r);
  g_assert_cmpuint (r->status, ==, 404);
  e2e_resp_free (r);

  /* the server lets the client id go: a new push of it is accepted */
  push_until_live (f, CID, "blue", &retries, &r);
  g_test_message ("new push live after %u refused", retries);
  e2e_assert_blue (r->body, 320, 240);
  e2e_resp_free (r);
  e2e_server_free (f);
}

/* Many push/stop cycles of one client id leak nothing: afterwards the server
 * holds about as many files and threads as after the first, the store one
 * segment for the client id and no temporaries. */
static void
test_cycles_leak_nothing (void)
{
  E2eServer *f = e2e_server_new (LIVE_TIMEOUT_S, NULL, FALSE);
  guint fds0 = 0, threads0 = 0, fds, threads, segments, temporaries,
        retries = 0;
  guint i;
  gboolean settled;
  E2eResp *r;

  g_test_message ("server at start: %u fds, %u threads", e2e_server_fds (f),
      e2e_server_threads (f));
  for (i = 0; i < N_CYCLES; i++) {
    push_cycle (f, CID, i % 2 == 1, &retries);
    if (i == 0) {
      e2e_resp_free (wait_cover (f, CID, FALSE));
      /* the first stream's pipeline is torn down; let the counts settle */
      e2e_server_settle_counts (f, DEAD_WAIT_S, &fds0, &threads0);
      g_test_message (
          "after the first cycle: %u fds, %u threads", fds0, threads0);
    }
  }
  r = wait_cover (f, CID, FALSE);
  g_assert_cmpuint (r->status, ==, 404);
  e2e_resp_free (r);

  settled = wait_server_counts (
      f, fds0 + FD_MARGIN, threads0 + THREAD_MARGIN, &fds, &threads);
  count_segments (f, CID, &segments, &temporaries);
  g_test_message ("after %u cycles (%u pushes retried): %u fds, %u threads, "
                  "%u segments, %u temporaries",
      N_CYCLES, retries, fds, threads, segments, temporaries);
  g_assert_true (settled);
  g_assert_cmpuint (fds, <=, fds0 + FD_MARGIN);
  g_assert_cmpuint (threads, <=, threads0 + THREAD_MARGIN);
  g_assert_cmpuint (segments, ==, 1);
  g_assert_cmpuint (temporaries, ==, 0);
  e2e_server_free (f);
}

/* An H.264 and an H.265 pusher at once, each with its own settings: both are
 * live together, each cover with its settings and its colour. */
static void
test_h264_h265_together (void)
{
  E2eServer *f = e2e_server_new (LIVE_TIMEOUT_S,
      "[stream.42]\nmax-width=160\n"
      "[stream.43]\nquality=50\n",
      FALSE);
  E2eResp *r42, *r43;

  push (f, CID, "red", FALSE);
  push (f, OTHER_CID, "blue", TRUE);
  e2e_resp_free (wait_cover (f, CID, TRUE));
  e2e_resp_free (wait_cover (f, OTHER_CID, TRUE));

  /* both still live, now that both were */
  r42 = e2e_get_cover (f, CID);
  r43 = e2e_get_cover (f, OTHER_CID);
  g_assert_cmpuint (r42->status, ==, 200);
  g_assert_cmpstr (r42->source, ==, "live");
  g_assert_cmpuint (r43->status, ==, 200);
  g_assert_cmpstr (r43->source, ==, "live");
  e2e_assert_red (r42->body, 160, 120);
  e2e_assert_blue (r43->body, 320, 240);
  e2e_resp_free (r42);
  e2e_resp_free (r43);
  e2e_server_free (f);
}

/* One pusher switching from red to blue mid-stream (GOP of 25 frames at
 * 25 fps): the cover turns blue, polled with a bound of two GOPs and a
 * margin. */
static void
test_colour_switch (void)
{
  E2eServer *f = e2e_server_new (LIVE_TIMEOUT_S, NULL, FALSE);
  g_autoptr (GError) err = NULL;
  g_autofree gchar *token = e2e_token_for (CID, E2E_KEY);
  g_autofree gchar *url = e2e_location_for (f, CID, token);
  g_autofree gchar *launch = NULL;
  GstElement *pipeline, *src;
  gint64 deadline;
  gboolean blue = FALSE;
  guint polls = 0;
  E2eResp *r;

  launch = g_strdup_printf ("videotestsrc name=src pattern=solid-color "
                            "foreground-color=0xffff0000 is-live=true ! "
                            "video/x-raw,format=I420,width=320,height=240,"
                            "framerate=25/1 ! "
                            "x264enc key-int-max=25 tune=zerolatency ! "
                            "rtspclientsink location=\"%s\"",
      url);
  pipeline = gst_parse_launch (launch, &err);
  g_assert_no_error (err);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_assert_nonnull (src);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);

  deadline = g_get_monotonic_time () + E2E_WAIT_S * G_USEC_PER_SEC;
  while (!(r = poll_cover (f, CID, TRUE, 1))) {
    cs_test_assert_no_bus_error (pipeline);
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
  }
  e2e_assert_red (r->body, 320, 240);
  e2e_resp_free (r);

  g_object_set (src, "foreground-color", 0xff0000ff, NULL);
  /* two GOPs (2 s) and a margin */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (!blue && g_get_monotonic_time () < deadline) {
    r = e2e_get_cover (f, CID);
    g_assert_cmpuint (r->status, ==, 200);
    g_assert_cmpstr (r->source, ==, "live");
    blue = is_blue (r->body, 320, 240);
    e2e_resp_free (r);
    polls++;
    if (!blue)
      g_usleep (50 * 1000);
  }
  g_test_message ("%s after %u polls", blue ? "blue" : "still not blue", polls);
  cs_test_assert_no_bus_error (pipeline);
  g_assert_true (blue);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (pipeline);
  e2e_server_free (f);
}

/* SIGTERM as soon as the ports are printed (a supervisor, or a test, that
 * stops what it just saw start): a clean exit every time, never the
 * default action of a signal that came before the handler (status 143,
 * seen once in CI) */
static void
test_sigterm_right_after_start (void)
{
  guint i;

  for (i = 0; i < 20; i++)
    e2e_server_free (e2e_server_new (3, NULL, FALSE));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/kill9-pusher", test_kill9_pusher);
  g_test_add_func ("/e2e/cycles-leak-nothing", test_cycles_leak_nothing);
  g_test_add_func ("/e2e/h264-h265-together", test_h264_h265_together);
  g_test_add_func ("/e2e/colour-switch", test_colour_switch);
  g_test_add_func (
      "/e2e/sigterm-right-after-start", test_sigterm_right_after_start);
  return g_test_run ();
}
