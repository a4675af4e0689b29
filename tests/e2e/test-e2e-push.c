/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* coversnapd end to end, real processes on 127.0.0.1: the server on free
 * ports over temporary directories, devices pushing a solid colour with
 * gst-launch-1.0 ... ! rtspclientsink, the cover fetched with libsoup and
 * its colour checked with the core's JPEG decoder.  Every wait is bounded;
 * children are killed in teardown. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "e2e-util.h"

#include <gio/gio.h>
#include <signal.h>
#include <string.h>

#define OTHER_KEY "not-the-app-key"
#define CID 42
#define OTHER_CID 43

/* Polls until the cover's source is @source (NULL: until it is not
 * "live"); bounded. */
static E2eResp *
wait_cover (E2eServer *f, guint32 cid, const gchar *source)
{
  gint64 deadline = g_get_monotonic_time () + E2E_WAIT_S * G_USEC_PER_SEC;

  for (;;) {
    E2eResp *r = e2e_get_cover (f, cid);
    gboolean done = source ? g_strcmp0 (r->source, source) == 0
                           : g_strcmp0 (r->source, "live") != 0;

    if (done)
      return r;
    if (g_get_monotonic_time () > deadline) {
      g_printerr ("cover of %u: %u %s, waited for %s\n", cid, r->status,
          r->source ? r->source : "-", source ? source : "not live");
      g_assert_not_reached ();
    }
    e2e_resp_free (r);
    g_usleep (100 * 1000);
  }
}

static gboolean
segment_exists (E2eServer *f, guint32 cid)
{
  g_autofree gchar *name = g_strdup_printf ("coversnap.%u", cid);
  g_autofree gchar *path = g_build_filename (f->store_dir, name, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* Red live cover; the pusher stops → not live any more (404: no thumbnails,
 * no upload). */
static void
test_live_red_then_gone (void)
{
  E2eServer *f = e2e_server_new (3, NULL, FALSE);
  g_autofree gchar *token = e2e_token_for (CID, E2E_KEY);
  GSubprocess *p;
  E2eResp *r;

  r = e2e_get_cover (f, CID);
  g_assert_cmpuint (r->status, ==, 404);
  e2e_resp_free (r);

  p = e2e_push (f, CID, token, "red", FALSE);
  r = wait_cover (f, CID, "live");
  g_assert_cmpuint (r->status, ==, 200);
  e2e_assert_red (r->body, 320, 240);
  e2e_resp_free (r);

  /* SIGINT: gst-launch stops its pipeline, rtspclientsink tears down */
  g_subprocess_send_signal (p, SIGINT);
  cs_test_wait_child (p, E2E_WAIT_S);
  r = wait_cover (f, CID, NULL);
  g_assert_cmpuint (r->status, ==, 404);
  e2e_resp_free (r);
  e2e_server_free (f);
}

/* A new push after the first ended: blue replaces red. */
static void
test_red_then_blue (void)
{
  E2eServer *f = e2e_server_new (3, NULL, FALSE);
  g_autofree gchar *token = e2e_token_for (CID, E2E_KEY);
  GSubprocess *p;
  E2eResp *r;

  p = e2e_push (f, CID, token, "red", FALSE);
  r = wait_cover (f, CID, "live");
  e2e_assert_red (r->body, 320, 240);
  e2e_resp_free (r);
  g_subprocess_send_signal (p, SIGINT);
  cs_test_wait_child (p, E2E_WAIT_S);
  e2e_resp_free (wait_cover (f, CID, NULL));

  e2e_push (f, CID, token, "blue", FALSE);
  r = wait_cover (f, CID, "live");
  e2e_assert_blue (r->body, 320, 240);
  e2e_resp_free (r);
  e2e_server_free (f);
}

/* Refused at the RTSP level: the pusher fails, no segment is made. */
static void
test_refused_tokens (void)
{
  E2eServer *f = e2e_server_new (3, NULL, FALSE);
  g_autofree gchar *bad = e2e_token_for (CID, OTHER_KEY);
  g_autofree gchar *other = e2e_token_for (OTHER_CID, E2E_KEY);
  E2eResp *r;

  /* bad digest: 401 */
  g_assert_cmpint (
      cs_test_wait_child (e2e_push (f, CID, bad, "red", FALSE), E2E_WAIT_S), >,
      0);
  /* a valid token for another client id: 403 */
  g_assert_cmpint (
      cs_test_wait_child (e2e_push (f, CID, other, "red", FALSE), E2E_WAIT_S),
      >, 0);
  /* garbage */
  g_assert_cmpint (cs_test_wait_child (
                       e2e_push (f, CID, "nonsense", "red", FALSE), E2E_WAIT_S),
      >, 0);
  g_assert_false (segment_exists (f, CID));
  r = e2e_get_cover (f, CID);
  g_assert_cmpuint (r->status, ==, 404);
  e2e_resp_free (r);
  e2e_server_free (f);
}

/* One pusher per client id: the second is refused, the first goes on. */
static void
test_second_pusher_refused (void)
{
  E2eServer *f = e2e_server_new (3, NULL, FALSE);
  g_autofree gchar *token = e2e_token_for (CID, E2E_KEY);
  E2eResp *r;

  e2e_push (f, CID, token, "red", FALSE);
  e2e_resp_free (wait_cover (f, CID, "live"));
  g_assert_cmpint (
      cs_test_wait_child (e2e_push (f, CID, token, "blue", FALSE), E2E_WAIT_S),
      >, 0);
  r = e2e_get_cover (f, CID);
  g_assert_cmpstr (r->source, ==, "live");
  e2e_assert_red (r->body, 320, 240);
  e2e_resp_free (r);
  e2e_server_free (f);
}

/* H.265, with thumbnails on for that client id only: after the push the
 * cover comes from the last recording thumbnail. */
static void
test_h265_thumbnails (void)
{
  E2eServer *f = e2e_server_new (3, "[stream.43]\nthumbnails=true\n", FALSE);
  g_autofree gchar *token = e2e_token_for (OTHER_CID, E2E_KEY);
  GSubprocess *p;
  E2eResp *r;

  p = e2e_push (f, OTHER_CID, token, "red", TRUE);
  r = wait_cover (f, OTHER_CID, "live");
  e2e_assert_red (r->body, 320, 240);
  e2e_resp_free (r);
  g_subprocess_send_signal (p, SIGINT);
  cs_test_wait_child (p, E2E_WAIT_S);
  r = wait_cover (f, OTHER_CID, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (r->source, ==, "record");
  e2e_assert_red (r->body, 320, 240);
  e2e_resp_free (r);
  e2e_server_free (f);
}

/* The fallback chain past a push: live while the device pushes (an upload
 * does not beat it), then, with no thumbnails, the uploaded cover, byte for
 * byte. */
static void
test_upload_after_push (void)
{
  E2eServer *f = e2e_server_new (3, NULL, FALSE);
  g_autofree gchar *token = e2e_token_for (CID, E2E_KEY);
  g_autofree gchar *uri = g_strdup_printf (
      "http://127.0.0.1:%u/v2/devices/%u/snapshots?client_token=%s",
      f->http_port, CID, token);
  g_autoptr (SoupMultipart) mp = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GBytes) uploaded = NULL;
  g_autoptr (GBytes) answer = NULL;
  g_autoptr (GError) err = NULL;
  GSubprocess *p;
  E2eResp *r;

  p = e2e_push (f, CID, token, "red", FALSE);
  r = wait_cover (f, CID, "live");
  g_assert_cmpuint (r->status, ==, 200);
  /* the device uploads the picture it has: the live cover's bytes */
  uploaded = g_bytes_ref (r->body);
  e2e_resp_free (r);

  mp = soup_multipart_new (SOUP_FORM_MIME_TYPE_MULTIPART);
  soup_multipart_append_form_file (
      mp, "file", "cover.jpg", "image/jpeg", uploaded);
  msg = soup_message_new_from_multipart (uri, mp);
  answer = soup_session_send_and_read (f->session, msg, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);

  r = e2e_get_cover (f, CID);
  g_assert_cmpstr (r->source, ==, "live");
  e2e_resp_free (r);

  g_subprocess_send_signal (p, SIGINT);
  cs_test_wait_child (p, E2E_WAIT_S);
  r = wait_cover (f, CID, "upload");
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_true (g_bytes_equal (r->body, uploaded));
  e2e_resp_free (r);
  e2e_server_free (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/live-red-then-gone", test_live_red_then_gone);
  g_test_add_func ("/e2e/red-then-blue", test_red_then_blue);
  g_test_add_func ("/e2e/refused-tokens", test_refused_tokens);
  g_test_add_func ("/e2e/second-pusher-refused", test_second_pusher_refused);
  g_test_add_func ("/e2e/h265-thumbnails", test_h265_thumbnails);
  g_test_add_func ("/e2e/upload-after-push", test_upload_after_push);
  return g_test_run ();
}
