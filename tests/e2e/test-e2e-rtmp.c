/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* RTMP through a real RTMP server, end to end: nginx with the RTMP module
 * (libnginx-mod-rtmp) started by the test on a free loopback port over a
 * generated nginx.conf in a temporary dir, its on_publish and
 * on_publish_done hooks pointing at coversnapd's HTTP port, ffmpeg
 * publishing FLV (H.264, with and without AAC) to
 * rtmp://127.0.0.1:PORT/live/42?token=T.  A good token → live cover in the
 * publisher's colour; a bad one → nginx refuses the publish (ffmpeg fails);
 * the publisher stops → the cover is not live (long before the
 * live-timeout).  And the hooks' own refusals, straight over HTTP. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "e2e-ingest-util.h"

#include <signal.h>
#include <string.h>

#define CID 42
#define OTHER_KEY "not-the-app-key"
/* long: a cover that stops being live sooner was ended by the hooks */
#define LIVE_TIMEOUT_S 60

/* coversnapd playing RTMP back from @rtmp_port, and nginx there */
static E2eServer *
server_new (guint16 *rtmp_port, const gchar *more)
{
  g_autofree gchar *settings = NULL;

  *rtmp_port = e2e_free_port ();
  settings = g_strdup_printf ("[ingest]\n"
                              "rtmp-url=rtmp://127.0.0.1:%u\n"
                              "%s",
      *rtmp_port, more ? more : "");
  return e2e_server_new (LIVE_TIMEOUT_S, settings, TRUE);
}

static gboolean
no_rtmp_pull (gpointer f)
{
  g_autofree gchar *m = e2e_ingest_metrics (f);

  return strstr (m, "client_id=\"42\",kind=\"rtmp\"") == NULL;
}

/* A good token: live in red; ffmpeg stopped → nginx's on_publish_done ends
 * the pull, the cover is not live, long before the live-timeout. */
static void
run_publish (gboolean audio)
{
  guint16 port;
  E2eServer *f = server_new (&port, NULL);
  E2eNginx *n = e2e_nginx_start (port, f->http_port);
  g_autofree gchar *token = e2e_token_for (CID, E2E_KEY);
  g_autofree gchar *m = NULL;
  GSubprocess *p;
  E2eResp *r;

  p = e2e_rtmp_publish (n, CID, token, "red", audio);
  e2e_ingest_wait_cover (f, CID, "red");
  r = e2e_get_cover (f, CID);
  e2e_assert_red (r->body, 320, 240);
  e2e_resp_free (r);
  m = e2e_ingest_metrics (f);
  g_assert_nonnull (strstr (m,
      "coversnap_pull_state{client_id=\"42\",kind=\"rtmp\","
      "state=\"streaming\"} 1"));

  /* ffmpeg ends the publish cleanly at "q" on its stdin */
  g_assert_true (g_output_stream_write_all (
      g_subprocess_get_stdin_pipe (p), "q", 1, NULL, NULL, NULL));
  g_assert_cmpint (cs_test_wait_child (p, E2E_WAIT_S), >=, 0);
  g_object_unref (p);
  e2e_ingest_wait_cover (f, CID, NULL);
  /* on_publish_done removed the pull (not merely in backoff: a playback
   * left to itself waits 20 s for a stream nginx no longer has) */
  g_assert_true (
      cs_test_poll (no_rtmp_pull, f, 10 * G_USEC_PER_SEC, 100 * 1000));

  e2e_nginx_free (n);
  e2e_server_free (f);
}

static void
test_publish (void)
{
  run_publish (FALSE);
}

static void
test_publish_with_audio (void)
{
  run_publish (TRUE);
}

/* nginx refuses the publish when the hook says 401 (a token of another
 * application's key) or 403 (a token of another device): ffmpeg fails, no
 * cover */
static void
test_bad_token (void)
{
  guint16 port;
  E2eServer *f = server_new (&port, NULL);
  E2eNginx *n = e2e_nginx_start (port, f->http_port);
  const gchar *tokens[2];
  g_autofree gchar *forged = e2e_token_for (CID, OTHER_KEY);
  g_autofree gchar *other = e2e_token_for (43, E2E_KEY);
  g_autofree gchar *log = NULL;
  guint i;

  tokens[0] = forged;
  tokens[1] = other;
  for (i = 0; i < G_N_ELEMENTS (tokens); i++) {
    GSubprocess *p = e2e_rtmp_publish (n, CID, tokens[i], "red", FALSE);
    gint status = cs_test_wait_child (p, E2E_WAIT_S);

    /* it ended by itself (not killed at the bound), with an error */
    g_assert_cmpint (status, >, 0);
    g_object_unref (p);
  }
  e2e_ingest_wait_cover (f, CID, NULL);
  g_assert_true (g_file_get_contents (f->log_path, &log, NULL, NULL));
  g_assert_nonnull (strstr (log, "refused: bad_digest"));
  g_assert_nonnull (strstr (log, "refused: wrong_device"));
  e2e_nginx_free (n);
  e2e_server_free (f);
}

/* the hooks' answers: JSON with a request_id; SRS's JSON body too */
static void
test_hooks (void)
{
  const gchar *form = "application/x-www-form-urlencoded";
  guint16 port;
  E2eServer *f = server_new (&port, NULL);
  g_autofree gchar *token = e2e_token_for (CID, E2E_KEY);
  g_autofree gchar *good = g_strdup_printf (
      "app=live&addr=127.0.0.1&call=publish&name=42&type=live&token=%s", token);
  g_autofree gchar *renamed = g_strdup_printf (
      "app=live&call=publish&name=42&type=live&token=%s&name=43", token);
  g_autofree gchar *srs = g_strdup_printf (
      "{\"action\": \"on_publish\", \"ip\": \"127.0.0.1\", \"vhost\": "
      "\"__defaultVhost__\", \"app\": \"live\", \"stream\": \"42\", "
      "\"param\": \"?token=%s\"}",
      token);
  g_autofree gchar *big = g_strnfill (9000, 'a');
  g_autofree gchar *m = NULL;
  gchar *answer = NULL;

  g_assert_cmpuint (
      e2e_ingest_post_hook (f, "on_publish", form, "app=live&name=42", &answer),
      ==, 401);
  g_assert_nonnull (strstr (answer, "\"request_id\""));
  g_assert_nonnull (strstr (answer, "\"error\":\"unauthorized\""));
  g_clear_pointer (&answer, g_free);
  g_assert_cmpuint (e2e_ingest_post_hook (f, "on_publish", form,
                        "app=live&name=x42&token=1", &answer),
      ==, 400);
  g_assert_nonnull (strstr (answer, "bad_client_id"));
  g_clear_pointer (&answer, g_free);
  g_assert_cmpuint (e2e_ingest_post_hook (f, "on_publish", form,
                        "app=../x&name=42&token=1", NULL),
      ==, 400);
  g_assert_cmpuint (
      e2e_ingest_post_hook (f, "on_publish", form, big, NULL), ==, 413);
  g_assert_cmpuint (
      e2e_ingest_post_hook (f, "on_play", form, good, NULL), ==, 404);

  /* accepted; the publisher's own name=43 (after nginx's fields) does not
   * rename the stream: the token is for 42 */
  g_assert_cmpuint (
      e2e_ingest_post_hook (f, "on_publish", form, renamed, &answer), ==, 200);
  g_assert_nonnull (strstr (answer, "\"code\":0"));
  g_assert_nonnull (strstr (answer, "\"client_id\":42"));
  g_clear_pointer (&answer, g_free);
  g_assert_cmpuint (e2e_ingest_post_hook (f, "on_publish_done", form,
                        "app=live&call=publish_done&name=42", NULL),
      ==, 200);
  /* SRS */
  g_assert_cmpuint (
      e2e_ingest_post_hook (f, "on_publish", "application/json", srs, &answer),
      ==, 200);
  g_assert_nonnull (strstr (answer, "\"code\":0"));
  g_clear_pointer (&answer, g_free);
  g_assert_cmpuint (
      e2e_ingest_post_hook (f, "on_publish", "application/json", "[1]", NULL),
      ==, 400);
  g_assert_cmpuint (
      e2e_ingest_post_hook (f, "on_publish_done", form, good, NULL), ==, 200);
  /* every answer counted, by hook and status */
  m = e2e_ingest_metrics (f);
  g_assert_nonnull (strstr (m,
      "coversnap_rtmp_hook_answers_total{hook=\"on_"
      "publish\",status=\"401\"} 1\n"));
  g_assert_nonnull (strstr (m,
      "coversnap_rtmp_hook_answers_total{hook=\"on_"
      "publish\",status=\"400\"} 3\n"));
  g_assert_nonnull (strstr (m,
      "coversnap_rtmp_hook_answers_total{hook=\"on_"
      "publish_done\",status=\"200\"} 2\n"));
  g_assert_nonnull (strstr (m,
      "coversnap_rtmp_hook_answers_total{hook=\"other"
      "\",status=\"404\"} 1\n"));
  e2e_server_free (f);

  /* loopback is not in this hook-allow */
  f = server_new (&port, "hook-allow=10.0.0.0/8, 192.0.2.1\n");
  g_assert_cmpuint (
      e2e_ingest_post_hook (f, "on_publish", form, good, &answer), ==, 403);
  g_assert_nonnull (strstr (answer, "\"error\":\"forbidden\""));
  g_clear_pointer (&answer, g_free);
  e2e_server_free (f);
}

/* one stream per client id, whichever way it comes: while an RTSP push
 * of 42 streams, its RTMP publish is refused (the hook's 409, as for a
 * second publisher), ffmpeg fails and the cover stays the push's */
static void
test_refused_while_pushed (void)
{
  const gchar *form = "application/x-www-form-urlencoded";
  guint16 port;
  E2eServer *f = server_new (&port, NULL);
  E2eNginx *n = e2e_nginx_start (port, f->http_port);
  g_autofree gchar *token = e2e_token_for (CID, E2E_KEY);
  g_autofree gchar *body = g_strdup_printf (
      "app=live&addr=127.0.0.1&call=publish&name=42&type=live&token=%s", token);
  g_autofree gchar *answer = NULL;
  GSubprocess *p;
  E2eResp *r;

  e2e_push (f, CID, token, "red", FALSE);
  e2e_ingest_wait_cover (f, CID, "red");
  g_assert_cmpuint (
      e2e_ingest_post_hook (f, "on_publish", form, body, &answer), ==, 409);
  g_assert_nonnull (strstr (answer, "\"error\":\"busy\""));
  p = e2e_rtmp_publish (n, CID, token, "blue", FALSE);
  g_assert_cmpint (cs_test_wait_child (p, E2E_WAIT_S), >, 0);
  g_object_unref (p);
  r = e2e_get_cover (f, CID);
  g_assert_cmpuint (r->status, ==, 200);
  e2e_assert_red (r->body, 320, 240);
  e2e_resp_free (r);
  g_assert_true (no_rtmp_pull (f));
  e2e_nginx_free (n);
  e2e_server_free (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/rtmp/publish", test_publish);
  g_test_add_func ("/e2e/rtmp/publish-with-audio", test_publish_with_audio);
  g_test_add_func ("/e2e/rtmp/bad-token", test_bad_token);
  g_test_add_func ("/e2e/rtmp/hooks", test_hooks);
  g_test_add_func ("/e2e/rtmp/refused-while-pushed", test_refused_while_pushed);
  return g_test_run ();
}
