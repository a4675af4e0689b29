/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* What the end-to-end tests share: coversnapd started over a temporary
 * configuration, gst-launch-1.0 pushers, GET cover and the colour of a
 * cover.  Child processes, bounded waits, temporary dirs, tokens and
 * decoding come from tests/common. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "e2e-util.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "cs-test-http.h"
#include "cs-test-image.h"
#include "cs-test-token.h"

GSubprocess *
e2e_spawn (GSubprocessFlags flags, const gchar *stderr_path, GError **error,
    const gchar *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const gchar *arg;
  va_list ap;

  va_start (ap, first);
  for (arg = first; arg; arg = va_arg (ap, const gchar *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  return cs_test_spawnv (flags, NULL, NULL, stderr_path,
      (const gchar *const *) argv->pdata, error);
}

/* a token for @cid signed with @key, valid for an hour */
gchar *
e2e_token_for (guint32 cid, const gchar *key)
{
  return cs_test_token_valid (key, cid);
}

/* Reads "http on ADDR:PORT" / "rtsp on ADDR:PORT" from the server. */
guint16
e2e_read_port (GDataInputStream *in, const gchar *what)
{
  g_autofree gchar *line = NULL;
  g_autoptr (GError) err = NULL;
  const gchar *colon;

  line = g_data_input_stream_read_line (in, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, what));
  colon = strrchr (line, ':');
  g_assert_nonnull (colon);
  return (guint16) g_ascii_strtoull (colon + 1, NULL, 10);
}

/* Starts coversnapd with @live_timeout (seconds), min-interval=0 for every
 * stream and @stream_settings (config text, or NULL) appended; with
 * @capture_stderr its log goes to @log_path and into the test log when it
 * is freed. */
E2eServer *
e2e_server_new (
    guint live_timeout, const gchar *stream_settings, gboolean capture_stderr)
{
  E2eServer *s = g_new0 (E2eServer, 1);
  g_autoptr (GError) err = NULL;
  g_autofree gchar *config = NULL, *config_path = NULL;
  g_autoptr (GDataInputStream) in = NULL;
  const gchar *coversnapd = cs_test_program ("COVERSNAPD");

  s->root = cs_test_make_tmpdir ("coversnap-e2e-XXXXXX");
  s->store_dir = g_build_filename (s->root, "store", NULL);
  s->data_dir = g_build_filename (s->root, "data", NULL);
  if (capture_stderr)
    s->log_path = g_build_filename (s->root, "coversnapd.log", NULL);
  g_assert_cmpint (g_mkdir (s->store_dir, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (s->data_dir, 0700), ==, 0);
  config = g_strdup_printf ("[server]\n"
                            "listen-address=127.0.0.1\n"
                            "port=0\n"
                            "data-dir=%s\n"
                            "store-dir=%s\n"
                            "live-timeout=%u\n"
                            "[app.e2e]\n"
                            "key=" E2E_KEY "\n"
                            "cids=42,43\n"
                            "[ingest]\n"
                            "rtsp-port=0\n"
                            "[stream.default]\n"
                            "min-interval=0\n"
                            "%s",
      s->data_dir, s->store_dir, live_timeout,
      stream_settings ? stream_settings : "");
  config_path = g_build_filename (s->root, "coversnapd.ini", NULL);
  g_assert_true (g_file_set_contents (config_path, config, -1, NULL));

  s->server = e2e_spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE, s->log_path, &err,
      coversnapd, "--config", config_path, NULL);
  g_assert_no_error (err);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (s->server));
  s->http_port = e2e_read_port (in, "http on ");
  s->rtsp_port = e2e_read_port (in, "rtsp on ");
  g_assert_cmpuint (s->http_port, >, 0);
  g_assert_cmpuint (s->rtsp_port, >, 0);
  s->session = cs_test_session_new (10);
  s->pushers = g_ptr_array_new_with_free_func (g_object_unref);
  return s;
}

void
e2e_server_free (E2eServer *s)
{
  g_autofree gchar *log = NULL;
  guint i;

  /* SIGKILL: also ends a stopped (SIGSTOP) pusher */
  for (i = 0; i < s->pushers->len; i++)
    cs_test_kill_child (g_ptr_array_index (s->pushers, i));
  g_ptr_array_unref (s->pushers);
  if (g_subprocess_get_identifier (s->server)) {
    /* a clean shutdown is part of the contract */
    g_subprocess_send_signal (s->server, SIGTERM);
    g_assert_cmpint (cs_test_wait_child (s->server, E2E_WAIT_S), ==, 0);
  }
  /* what coversnapd said, for the test log */
  if (s->log_path && g_file_get_contents (s->log_path, &log, NULL, NULL))
    g_test_message ("coversnapd:\n%s", log);
  g_object_unref (s->server);
  g_object_unref (s->session);
  cs_test_rm_rf (s->root);
  g_free (s->root);
  g_free (s->store_dir);
  g_free (s->data_dir);
  g_free (s->log_path);
  g_free (s);
}

/* the RTSP URL a device pushes @cid to, with @token */
gchar *
e2e_location_for (E2eServer *s, guint32 cid, const gchar *token)
{
  return g_strdup_printf (
      "rtsp://127.0.0.1:%u/live/%u?token=%s", s->rtsp_port, cid, token);
}

/* gst-launch-1.0 pushing a solid colour, 320x240 H.264 (or H.265) with a
 * 1 s GOP, to /live/@cid with @token; killed when @s is freed */
GSubprocess *
e2e_push (E2eServer *s, guint32 cid, const gchar *token, const gchar *pattern,
    gboolean h265)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *url = e2e_location_for (s, cid, token);
  g_autofree gchar *location = g_strdup_printf ("location=%s", url);
  g_autofree gchar *pat = g_strdup_printf ("pattern=%s", pattern);
  GSubprocess *p;

  p = e2e_spawn (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, NULL, &err,
      "gst-launch-1.0", "-q", "videotestsrc", pat, "is-live=true", "!",
      "video/x-raw,format=I420,width=320,height=240,framerate=25/1", "!",
      h265 ? "x265enc" : "x264enc", "tune=zerolatency", "key-int-max=25", "!",
      "rtspclientsink", location, NULL);
  g_assert_no_error (err);
  g_ptr_array_add (s->pushers, p);
  return p;
}

/* GET /v2/snapshots/@cid/cover with a token of E2E_KEY */
E2eResp *
e2e_get_cover (E2eServer *s, guint32 cid)
{
  return e2e_get_cover_with_key (s, cid, E2E_KEY);
}

E2eResp *
e2e_get_cover_with_key (E2eServer *s, guint32 cid, const gchar *key)
{
  g_autofree gchar *token = e2e_token_for (cid, key);
  g_autofree gchar *uri =
      g_strdup_printf ("http://127.0.0.1:%u/v2/snapshots/%u/cover"
                       "?client_token=%s",
          s->http_port, cid, token);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  g_autoptr (GError) err = NULL;
  E2eResp *r = g_new0 (E2eResp, 1);
  const gchar *src;

  r->body = soup_session_send_and_read (s->session, msg, NULL, &err);
  g_assert_no_error (err);
  r->status = soup_message_get_status (msg);
  src = soup_message_headers_get_one (
      soup_message_get_response_headers (msg), "X-Cover-Source");
  r->source = g_strdup (src);
  return r;
}

void
e2e_resp_free (E2eResp *r)
{
  g_free (r->source);
  g_bytes_unref (r->body);
  g_free (r);
}

/* the mean colour of @jpeg, which must be @width x @height */
void
e2e_mean_rgb (GBytes *jpeg, guint width, guint height, gdouble rgb[3])
{
  guint w, h;

  cs_test_image_mean (jpeg, &w, &h, rgb);
  g_assert_cmpuint (w, ==, width);
  g_assert_cmpuint (h, ==, height);
}

void
e2e_assert_red (GBytes *jpeg, guint width, guint height)
{
  gdouble rgb[3];

  e2e_mean_rgb (jpeg, width, height, rgb);
  g_assert_cmpfloat (rgb[0], >, 200);
  g_assert_cmpfloat (rgb[1], <, 50);
  g_assert_cmpfloat (rgb[2], <, 50);
}

void
e2e_assert_blue (GBytes *jpeg, guint width, guint height)
{
  gdouble rgb[3];

  e2e_mean_rgb (jpeg, width, height, rgb);
  g_assert_cmpfloat (rgb[0], <, 50);
  g_assert_cmpfloat (rgb[1], <, 50);
  g_assert_cmpfloat (rgb[2], >, 200);
}

/* ---- raw RTSP ---------------------------------------------------------- */

GSocketConnection *
e2e_rtsp_connect (E2eServer *f)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GError) err = NULL;
  GSocketConnection *c;

  c = g_socket_client_connect_to_host (
      client, "127.0.0.1", f->rtsp_port, NULL, &err);
  g_assert_no_error (err);
  return c;
}

void
e2e_rtsp_send (GSocketConnection *c, const gchar *text)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (c));
  g_autoptr (GError) err = NULL;

  g_output_stream_write_all (out, text, strlen (text), NULL, NULL, &err);
  g_assert_no_error (err);
}

/* reads one response's head (up to the blank line); bounded */
gchar *
e2e_rtsp_read (GSocketConnection *c)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (c));
  GString *s = g_string_new (NULL);
  gchar ch;

  g_socket_set_timeout (g_socket_connection_get_socket (c), E2E_WAIT_S);
  while (s->len < 8192 && !g_str_has_suffix (s->str, "\r\n\r\n") &&
      g_input_stream_read (in, &ch, 1, NULL, NULL) == 1)
    g_string_append_c (s, ch);
  return g_string_free (s, FALSE);
}

gchar *
e2e_announce_text (E2eServer *f, guint32 cid, guint cseq)
{
  g_autofree gchar *token = e2e_token_for (cid, E2E_KEY);
  g_autofree gchar *url = e2e_location_for (f, cid, token);
  const gchar *sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=squat\r\n"
                     "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                     "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
                     "a=control:streamid=0\r\n";

  return g_strdup_printf ("ANNOUNCE %s RTSP/1.0\r\nCSeq: %u\r\n"
                          "Content-Type: application/sdp\r\n"
                          "Content-Length: %zu\r\n\r\n%s",
      url, cseq, strlen (sdp), sdp);
}

guint
e2e_server_threads (E2eServer *f)
{
  g_autofree gchar *path = g_strdup_printf (
      "/proc/%s/status", g_subprocess_get_identifier (f->server));
  g_autofree gchar *status = NULL;
  const gchar *line;

  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  line = strstr (status, "\nThreads:");
  g_assert_nonnull (line);
  return (guint) g_ascii_strtoull (line + strlen ("\nThreads:"), NULL, 10);
}

guint
e2e_server_fds (E2eServer *f)
{
  g_autofree gchar *path =
      g_strdup_printf ("/proc/%s/fd", g_subprocess_get_identifier (f->server));

  return cs_test_count_dir (path, NULL);
}

void
e2e_server_settle_counts (
    E2eServer *f, guint wait_s, guint *fds, guint *threads)
{
  gint64 deadline = g_get_monotonic_time () + wait_s * (gint64) G_USEC_PER_SEC;
  guint stable = 0;

  *fds = e2e_server_fds (f);
  *threads = e2e_server_threads (f);
  while (stable < 10 && g_get_monotonic_time () < deadline) {
    guint n_fds, n_threads;

    g_usleep (100 * 1000);
    n_fds = e2e_server_fds (f);
    n_threads = e2e_server_threads (f);
    stable = n_fds == *fds && n_threads == *threads ? stable + 1 : 0;
    *fds = n_fds;
    *threads = n_threads;
  }
}
