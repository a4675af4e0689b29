/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The RTSP limits, as an attacker on loopback sees them, against a real
 * coversnapd with a real ffmpeg pushing:
 *  - a session id is no credential: requests naming a session from another
 *    connection, without a token, are refused, and the session lives on,
 *    also once that connection is gone (a refused request or an
 *    OPTIONS * naming it).
 *  - ANNOUNCEs with a valid token that never RECORD leave no thread and no
 *    fd behind once their connections are gone. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "e2e-util.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ffmpeg pushing a solid red 320x240 H.264 over TCP to @cid; killed when
 * @f is freed */
static void
ffmpeg_push (E2eServer *f, guint32 cid)
{
  g_autofree gchar *token = e2e_token_for (cid, E2E_KEY);
  g_autofree gchar *url = e2e_location_for (f, cid, token);
  g_autoptr (GError) err = NULL;
  GSubprocess *p;

  p = e2e_spawn (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, NULL, &err, "ffmpeg",
      "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi",
      "-i", "color=c=red:s=320x240:r=25", "-c:v", "libx264", "-g", "25",
      "-pix_fmt", "yuv420p", "-t", "60", "-rtsp_transport", "tcp", "-f", "rtsp",
      url, NULL);
  g_assert_no_error (err);
  g_ptr_array_add (f->pushers, p);
}

/* polls until the cover of @cid is live and red; bounded */
static void
wait_live (E2eServer *f, guint32 cid)
{
  gint64 deadline = g_get_monotonic_time () + E2E_WAIT_S * G_USEC_PER_SEC;

  for (;;) {
    E2eResp *r = e2e_get_cover (f, cid);
    gboolean live = r->status == 200 && g_strcmp0 (r->source, "live") == 0;

    if (live)
      e2e_assert_red (r->body, 320, 240);
    e2e_resp_free (r);
    if (live)
      return;
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (100 * 1000);
  }
}

/* the status code of a response head */
static guint
status_of (const gchar *answer)
{
  guint code = 0;

  if (sscanf (answer, "RTSP/1.0 %u", &code) != 1)
    return 0;
  return code;
}

/* sends @method for @url with @session and @cseq on @c: the status */
static guint
request (GSocketConnection *c, const gchar *method, const gchar *url,
    const gchar *session, guint cseq)
{
  g_autofree gchar *text =
      g_strdup_printf ("%s %s RTSP/1.0\r\nCSeq: %u\r\nSession: %s\r\n\r\n",
          method, url, cseq, session);
  g_autofree gchar *answer = NULL;

  e2e_rtsp_send (c, text);
  answer = e2e_rtsp_read (c);
  g_test_message ("%s from this connection: %.*s", method,
      (int) strcspn (answer, "\r"), answer);
  return status_of (answer);
}

/* A new connection that ANNOUNCEs @cid and SETs it UP over TCP, as a
 * pusher does before RECORD (transfer full); its session id in @session */
static GSocketConnection *
announce_setup_tcp (E2eServer *f, guint32 cid, gchar **session)
{
  GSocketConnection *c = e2e_rtsp_connect (f);
  g_autofree gchar *token = e2e_token_for (cid, E2E_KEY);
  g_autofree gchar *url = e2e_location_for (f, cid, token);
  g_autofree gchar *announce = e2e_announce_text (f, cid, 1);
  g_autofree gchar *answer = NULL, *setup = NULL;
  const gchar *p;

  e2e_rtsp_send (c, announce);
  answer = e2e_rtsp_read (c);
  g_assert_cmpuint (status_of (answer), ==, 200);
  g_free (answer);
  setup = g_strdup_printf (
      "SETUP %s/streamid=0 RTSP/1.0\r\nCSeq: 2\r\n"
      "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record\r\n\r\n",
      url);
  e2e_rtsp_send (c, setup);
  answer = e2e_rtsp_read (c);
  g_assert_cmpuint (status_of (answer), ==, 200);
  p = strstr (answer, "\r\nSession: ");
  g_assert_nonnull (p);
  p += strlen ("\r\nSession: ");
  *session = g_strndup (p, strcspn (p, ";\r"));
  return c;
}

/* A session id is no credential.  Connection 1 ANNOUNCEs /live/43 and SETs
 * it UP; connection 2 names that session without a token: refused, and the
 * session lives on (connection 1 RECORDs and TEARs it DOWN).  ffmpeg's push
 * of 42, on a third connection, stays live throughout. */
static void
test_foreign_session_refused (void)
{
  static const gchar *const methods[] = { "GET_PARAMETER", "SET_PARAMETER",
    "RECORD", "PAUSE", "TEARDOWN" };
  E2eServer *f = e2e_server_new (5, NULL, TRUE);
  g_autoptr (GSocketConnection) c1 = NULL;
  g_autoptr (GSocketConnection) c2 = NULL;
  g_autofree gchar *bare = NULL, *session = NULL;
  g_autofree gchar *log = NULL;
  guint i;

  ffmpeg_push (f, 42);
  wait_live (f, 42);

  c1 = announce_setup_tcp (f, 43, &session);

  /* the attacker: another connection, the session id, no token */
  bare = g_strdup_printf ("rtsp://127.0.0.1:%u/live/43", f->rtsp_port);
  c2 = e2e_rtsp_connect (f);
  for (i = 0; i < G_N_ELEMENTS (methods); i++) {
    guint code = request (c2, methods[i], bare, session, 10 + i);

    g_assert_cmpuint (code, !=, 200);
    g_assert_cmpuint (code, >=, 400);
  }
  /* the session is connection 1's still: without a token too */
  g_assert_cmpuint (request (c1, "GET_PARAMETER", bare, session, 3), ==, 200);
  g_assert_cmpuint (request (c1, "RECORD", bare, session, 4), ==, 200);
  g_assert_cmpuint (request (c1, "TEARDOWN", bare, session, 5), ==, 200);
  g_io_stream_close (G_IO_STREAM (c2), NULL, NULL);

  /* and the device's push of 42 was never touched */
  wait_live (f, 42);
  g_assert_true (g_subprocess_get_identifier (f->pushers->pdata[0]) != NULL);

  g_subprocess_send_signal (f->server, SIGTERM);
  g_assert_cmpint (cs_test_wait_child (f->server, E2E_WAIT_S), ==, 0);
  g_assert_true (g_file_get_contents (f->log_path, &log, NULL, NULL));
  /* refused with a log line that does not give the session id away */
  g_assert_nonnull (strstr (log, "not this connection's"));
  g_assert_null (strstr (log, session));
  e2e_server_free (f);
}

/* ---- a foreign connection closing --------------------------------------- */

/* The connection that merely named another's session goes: the session
 * lives on.  gst-rtsp-server (1.22) watches a session named in any message
 * before any auth hook runs, and unlinks its media when the watching
 * connection closes; each way of naming it is a case (@data):
 *  - "request": a GET_PARAMETER without a token (refused, 454);
 *  - "options": an OPTIONS * (no URL, so nothing to authorize: 200).
 * (A response naming it is refused by GstRTSPConnection itself: its CSeq
 * answers no request the server sent.)
 * The close is known handled once the server's fds are back to what they
 * were before connection 2 (its socket goes after the session cleanup). */
static void
test_foreign_close_keeps_session (gconstpointer data)
{
  const gchar *how = data;
  /* the session must not end by itself meanwhile, however loaded the
   * machine: no live-timeout nor pending-timeout within the test */
  E2eServer *f = e2e_server_new (60, "[ingest]\npending-timeout=120\n", FALSE);
  g_autoptr (GSocketConnection) c1 = NULL;
  g_autoptr (GSocketConnection) c2 = NULL;
  g_autofree gchar *session = NULL, *bare = NULL, *text = NULL;
  g_autofree gchar *answer = NULL;
  gint64 deadline;
  guint base_fds, fds;

  c1 = announce_setup_tcp (f, 43, &session);
  bare = g_strdup_printf ("rtsp://127.0.0.1:%u/live/43", f->rtsp_port);
  base_fds = e2e_server_fds (f);

  c2 = e2e_rtsp_connect (f);
  if (g_str_equal (how, "request")) {
    g_assert_cmpuint (
        request (c2, "GET_PARAMETER", bare, session, 10), ==, 454);
  } else {
    g_assert_cmpstr (how, ==, "options");
    text = g_strdup_printf (
        "OPTIONS * RTSP/1.0\r\nCSeq: 10\r\nSession: %s\r\n\r\n", session);
    e2e_rtsp_send (c2, text);
    answer = e2e_rtsp_read (c2);
    g_assert_cmpuint (status_of (answer), ==, 200);
  }
  g_io_stream_close (G_IO_STREAM (c2), NULL, NULL);
  g_clear_object (&c2);
  deadline = g_get_monotonic_time () + E2E_WAIT_S * G_USEC_PER_SEC;
  while ((fds = e2e_server_fds (f)) > base_fds) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (50 * 1000);
  }
  g_test_message (
      "server fds: %u before connection 2, %u after", base_fds, fds);

  /* the device's session is whole: it RECORDs */
  g_assert_cmpuint (request (c1, "RECORD", bare, session, 3), ==, 200);
  g_assert_cmpuint (request (c1, "TEARDOWN", bare, session, 4), ==, 200);
  e2e_server_free (f);
}

/* ---- ANNOUNCE without RECORD: no leak ----------------------------------- */

/* the names of @pid's threads, for the log: what a leak is made of */
static gchar *
thread_names (const gchar *pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%s/task", pid);
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  GString *names = g_string_new (NULL);
  const gchar *tid;

  while (dir && (tid = g_dir_read_name (dir))) {
    g_autofree gchar *comm = g_build_filename (path, tid, "comm", NULL);
    g_autofree gchar *name = NULL;

    if (g_file_get_contents (comm, &name, NULL, NULL))
      g_string_append_printf (names, " %s", g_strstrip (name));
  }
  return g_string_free (names, FALSE);
}

/* an ANNOUNCE of @cid answered 200 on a new connection; with @setup, a
 * SETUP over UDP after it (server ports: two more sockets) */
static GSocketConnection *
announce (E2eServer *f, guint32 cid, gboolean setup)
{
  GSocketConnection *c = e2e_rtsp_connect (f);
  g_autofree gchar *text = e2e_announce_text (f, cid, 1);
  g_autofree gchar *answer = NULL;

  e2e_rtsp_send (c, text);
  answer = e2e_rtsp_read (c);
  g_assert_cmpuint (status_of (answer), ==, 200);
  if (setup) {
    g_autofree gchar *token = e2e_token_for (cid, E2E_KEY);
    g_autofree gchar *url = e2e_location_for (f, cid, token);
    g_autofree gchar *req = g_strdup_printf (
        "SETUP %s/streamid=0 RTSP/1.0\r\nCSeq: 2\r\n"
        "Transport: RTP/AVP;unicast;client_port=40000-40001;mode=record"
        "\r\n\r\n",
        url);

    g_free (answer);
    e2e_rtsp_send (c, req);
    answer = e2e_rtsp_read (c);
    g_assert_cmpuint (status_of (answer), ==, 200);
  }
  return c;
}

/* whether the server closed @c (EOF within @timeout_s) */
static gboolean
closed_by_server (GSocketConnection *c, guint timeout_s)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (c));
  gchar buf[256];
  gssize n;

  g_socket_set_timeout (g_socket_connection_get_socket (c), timeout_s);
  while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0)
    ;
  return n == 0;
}

#define N_ANNOUNCES 200
#define MARGIN_THREADS 2
#define MARGIN_FDS 2

/* 200 ANNOUNCEs with a valid token that never RECORD (one in four SETs UP
 * over UDP too): half closed by the pusher at once, half left open for the
 * server to close (over max-pending-per-address, or pending-timeout).  Once
 * they are all gone the server's threads and fds are back to the
 * baseline. */
static void
test_announce_no_record_no_leak (void)
{
  E2eServer *f = e2e_server_new (3, "[ingest]\npending-timeout=2\n", FALSE);
  const gchar *pid = g_subprocess_get_identifier (f->server);
  g_autoptr (GPtrArray) open = g_ptr_array_new_with_free_func (g_object_unref);
  guint base_threads, base_fds, peak_threads = 0, peak_fds = 0;
  guint threads, fds, i;
  gint64 deadline;

  /* the first pushes create what lives as long as the server (thread
   * pools, mount points): not a leak */
  for (i = 0; i < 4; i++) {
    GSocketConnection *c = announce (f, 42 + i % 2, i >= 2);

    g_io_stream_close (G_IO_STREAM (c), NULL, NULL);
    g_object_unref (c);
  }
  g_usleep (1000 * 1000);
  base_threads = e2e_server_threads (f);
  base_fds = e2e_server_fds (f);

  for (i = 0; i < N_ANNOUNCES; i++) {
    GSocketConnection *c = announce (f, 42 + i % 2, i % 4 >= 2);

    if (i % 2) {
      g_ptr_array_add (open, c);
    } else {
      g_io_stream_close (G_IO_STREAM (c), NULL, NULL);
      g_object_unref (c);
    }
    peak_threads = MAX (peak_threads, e2e_server_threads (f));
    peak_fds = MAX (peak_fds, e2e_server_fds (f));
  }
  /* the server closes the ones left open: over the limit at once, the last
   * by pending-timeout */
  for (i = 0; i < open->len; i++)
    g_assert_true (closed_by_server (g_ptr_array_index (open, i), 5));
  g_ptr_array_set_size (open, 0);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  do {
    g_usleep (200 * 1000);
    threads = e2e_server_threads (f);
    fds = e2e_server_fds (f);
  } while ((threads > base_threads + MARGIN_THREADS ||
               fds > base_fds + MARGIN_FDS) &&
      g_get_monotonic_time () < deadline);
  {
    g_autofree gchar *names = thread_names (pid);

    g_printerr ("threads %u, %u at most during, %u after; fds %u, %u at most "
                "during, %u after; threads after:%s\n",
        base_threads, peak_threads, threads, base_fds, peak_fds, fds, names);
  }
  /* each ANNOUNCE+SETUP (UDP) used to leave 2 threads (rtpsession-rtcp, a
   * pool thread) and 7 fds behind (10 -> 112 threads, 24 -> 381 fds): an
   * unprepare with eos-shutdown waited for an EOS that never came */
  g_assert_cmpuint (threads, <=, base_threads + MARGIN_THREADS);
  g_assert_cmpuint (fds, <=, base_fds + MARGIN_FDS);
  e2e_server_free (f);
}

/* A push taken over between its ANNOUNCE and its SETUP (a new push of its
 * client id while it had not reached RECORD): its SETUP is refused (503)
 * or its connection closed, and the server goes on.  gst-rtsp-server used
 * to take the unprepared media to gst_rtsp_session_manage_media(), a
 * critical (with fatal criticals, as in this suite, an abort). */
static void
test_setup_after_takeover (void)
{
  E2eServer *f = e2e_server_new (5, NULL, FALSE);
  g_autofree gchar *token = e2e_token_for (42, E2E_KEY);
  g_autofree gchar *url = e2e_location_for (f, 42, token);
  g_autofree gchar *setup = g_strdup_printf (
      "SETUP %s/streamid=0 RTSP/1.0\r\nCSeq: 2\r\n"
      "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record\r\n\r\n",
      url);
  GSocketConnection *first, *second;
  g_autofree gchar *answer = NULL;
  guint i, n_refused = 0;
  E2eResp *r;

  /* the SETUP races the closing of the first connection (the takeover
   * closes it too): tried many times, with the SETUP sent right behind the
   * new push's ANNOUNCE */
  for (i = 0; i < 40; i++) {
    g_autofree gchar *text = e2e_announce_text (f, 42, 1);
    g_autofree gchar *head = NULL;

    first = announce (f, 42, FALSE);
    second = e2e_rtsp_connect (f);
    e2e_rtsp_send (second, text);
    if (i % 2)
      g_usleep (i * 100);
    e2e_rtsp_send (first, setup);
    head = e2e_rtsp_read (second);
    g_assert_cmpuint (status_of (head), ==, 200);
    answer = e2e_rtsp_read (first);
    g_test_message (
        "SETUP after the takeover: %.*s", (int) strcspn (answer, "\r"), answer);
    /* 200 when it came before the takeover, 503 after it, nothing when
     * the connection was closed first */
    g_assert_true (*answer == '\0' || status_of (answer) == 200 ||
        status_of (answer) == 503);
    n_refused += status_of (answer) == 503;
    g_clear_pointer (&answer, g_free);
    g_object_unref (first);
    g_object_unref (second);
  }
  g_printerr ("SETUPs refused after a takeover: %u of 40\n", n_refused);
  /* alive and answering */
  r = e2e_get_cover (f, 42);
  g_assert_cmpuint (r->status, ==, 404);
  e2e_resp_free (r);
  e2e_server_free (f);
}

/* How many of @n connections to 127.0.0.1:@port the kernel completes while
 * nobody accepts them: at most the listen backlog (+1). */
static guint
connections_queued (guint16 port, guint n)
{
  struct sockaddr_in sa = { 0 };
  struct pollfd *fds = g_new0 (struct pollfd, n);
  gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC / 2;
  guint i, done = 0;

  sa.sin_family = AF_INET;
  sa.sin_port = g_htons (port);
  sa.sin_addr.s_addr = g_htonl (INADDR_LOOPBACK);
  for (i = 0; i < n; i++) {
    fds[i].fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    g_assert_cmpint (fds[i].fd, >=, 0);
    fds[i].events = POLLOUT;
    if (connect (fds[i].fd, (struct sockaddr *) &sa, sizeof sa) < 0)
      g_assert_cmpint (errno, ==, EINPROGRESS);
  }
  /* a connection beyond the backlog stays in SYN-SENT (its SYN dropped) */
  while (g_get_monotonic_time () < deadline) {
    done = 0;
    g_assert_cmpint (poll (fds, n, 50), >=, 0);
    for (i = 0; i < n; i++)
      done += (fds[i].revents & POLLOUT) != 0;
    if (done == n)
      break;
  }
  for (i = 0; i < n; i++)
    close (fds[i].fd);
  g_free (fds);
  return done;
}

/* A burst of connections while the server is busy is queued, not reset or
 * dropped: the RTSP socket has [server] listen-backlog like the HTTP one
 * (gst-rtsp-server's default is 5).  The server is stopped (SIGSTOP) so
 * that only the kernel's queue counts. */
static void
test_listen_backlog (void)
{
  E2eServer *f = e2e_server_new (5, NULL, FALSE);
  GPid pid = atoi (g_subprocess_get_identifier (f->server));
  guint rtsp, http;

  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  rtsp = connections_queued (f->rtsp_port, 64);
  http = connections_queued (f->http_port, 64);
  g_assert_cmpint (kill (pid, SIGCONT), ==, 0);
  g_printerr ("queued while stopped: RTSP %u, HTTP %u of 64\n", rtsp, http);
  g_assert_cmpuint (http, ==, 64);
  g_assert_cmpuint (rtsp, ==, 64);
  e2e_server_free (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func (
      "/rtsp/foreign-session-refused", test_foreign_session_refused);
  g_test_add_data_func ("/rtsp/foreign-close-keeps-session/request", "request",
      test_foreign_close_keeps_session);
  g_test_add_data_func ("/rtsp/foreign-close-keeps-session/options", "options",
      test_foreign_close_keeps_session);
  g_test_add_func (
      "/rtsp/announce-no-record-no-leak", test_announce_no_record_no_leak);
  g_test_add_func ("/rtsp/listen-backlog", test_listen_backlog);
  g_test_add_func ("/rtsp/setup-after-takeover", test_setup_after_takeover);
  return g_test_run ();
}
