/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The HTTP limits of issue 9, each once a way to take the service down:
 * - emfile-recovers: a listener that ran out of fds (accept() EMFILE)
 *   answers /healthz again once the idle connections are gone (libsoup's
 *   own listener stopped accepting for good);
 * - oldest-idle-closed: at max-connections a new connection closes the
 *   oldest idle one;
 * - header-timeout, body-timeout: a client that sends its headers or its
 *   body too slowly is cut off;
 * - early-401: an upload with a bad token is refused before its body
 *   (401 with Connection: close, the body never sent);
 * - burst-backlog: 100 connections at once all complete the handshake while
 *   the server does not accept (a backlog of 10 dropped them) and are all
 *   answered;
 * - resize-queue-503: resizes beyond [server] resize-queue get 503 busy
 *   with Retry-After. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cs-test-proc.h"
#include "http-util.h"

#define CHILD_ARG "--serve-child"

/* The child: a service on 127.0.0.1 with at most @argv[2] fds, [server]
 * key=value pairs after; prints its port, serves until stdin closes. */
static int
serve_child (int argc, char **argv)
{
  struct rlimit lim;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("coversnap-child-XXXXXX", NULL);
  CoverConfig *c = cover_config_new ();
  CoverService *s;
  gchar buf[16];
  int i;

  gst_init (NULL, NULL);
  lim.rlim_cur = lim.rlim_max = g_ascii_strtoull (argv[2], NULL, 10);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &lim), ==, 0);
  g_assert_true (cover_config_set (c, "listen-address", "127.0.0.1", &err));
  g_assert_true (cover_config_set (c, "port", "0", &err));
  g_assert_true (cover_config_set (c, "data-dir", dir, &err));
  g_assert_true (cover_config_set (c, "store-dir", dir, &err));
  for (i = 3; i < argc; i++) {
    g_auto (GStrv) kv = g_strsplit (argv[i], "=", 2);

    g_assert_true (cover_config_set (c, kv[0], kv[1], &err));
  }
  s = cover_service_new (c, &err);
  g_assert_no_error (err);
  g_assert_true (cover_service_listen (s, &err));
  g_print ("%u\n", cover_service_get_port (s));
  fflush (stdout);
  while (read (0, buf, sizeof (buf)) > 0)
    ;
  cover_service_free (s);
  g_rmdir (dir);
  return 0;
}

typedef struct
{
  GSubprocess *proc;
  guint16 port;
} Child;

static void
child_start (Child *child, guint nofile, const gchar *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) err = NULL;
  g_autofree gchar *line = NULL;
  g_autoptr (GDataInputStream) in = NULL;
  const gchar *kv;
  va_list ap;

  g_ptr_array_add (argv, g_file_read_link ("/proc/self/exe", NULL));
  g_ptr_array_add (argv, g_strdup (CHILD_ARG));
  g_ptr_array_add (argv, g_strdup_printf ("%u", nofile));
  va_start (ap, first);
  for (kv = first; kv; kv = va_arg (ap, const gchar *))
    g_ptr_array_add (argv, g_strdup (kv));
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  child->proc = cs_test_spawnv (
      G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, NULL,
      NULL, NULL, (const gchar *const *) argv->pdata, &err);
  g_assert_no_error (err);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (child->proc));
  line = g_data_input_stream_read_line (in, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_nonnull (line);
  child->port = g_ascii_strtoull (line, NULL, 10);
  g_assert_cmpuint (child->port, >, 0);
}

static void
child_stop (Child *child)
{
  g_output_stream_close (g_subprocess_get_stdin_pipe (child->proc), NULL, NULL);
  g_assert_cmpint (cs_test_wait_child (child->proc, HT_TIMEOUT_S), ==, 0);
  g_clear_object (&child->proc);
}

/* a connected (or connecting, when @nonblocking) TCP socket to 127.0.0.1 */
static int
connect_to (guint16 port, gboolean nonblocking)
{
  struct sockaddr_in sa = { 0 };
  int fd = socket (AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);

  g_assert_cmpint (fd, >=, 0);
  sa.sin_family = AF_INET;
  sa.sin_port = htons (port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *) &sa, sizeof (sa)) < 0)
    g_assert_cmpint (errno, ==, nonblocking ? EINPROGRESS : 0);
  return fd;
}

/* Whether the server closed @fd (EOF or reset) within the bound; what it
 * sends first is skipped. */
static gboolean
closed_by_server (int fd)
{
  gint64 end = g_get_monotonic_time () + HT_TIMEOUT_S * G_USEC_PER_SEC;
  gchar buf[4096];

  while (g_get_monotonic_time () < end) {
    struct pollfd p = { fd, POLLIN, 0 };
    gssize n;

    if (poll (&p, 1, 200) <= 0)
      continue;
    n = read (fd, buf, sizeof (buf));
    if (n == 0 || (n < 0 && errno == ECONNRESET))
      return TRUE;
  }
  return FALSE;
}

static void
assert_healthz (guint16 port)
{
  static const gchar req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Connection: close\r\n\r\n";
  HtResp *resp = ht_raw_full (port, req, strlen (req), HT_TIMEOUT_S);

  g_assert_nonnull (resp);
  g_assert_cmpuint (resp->status, ==, 200);
  ht_resp_free (resp);
}

static void
test_emfile_recovers (void)
{
  Child child;
  int fds[200];
  guint i, n = 0;

  /* 64 fds and no cap of its own: the idle connections run it out */
  child_start (&child, 64, "max-connections=100000", "idle-timeout=3600",
      "header-timeout=3600", NULL);
  for (i = 0; i < G_N_ELEMENTS (fds); i++)
    fds[n++] = connect_to (child.port, FALSE);
  /* the kernel completed them all; the child accepted what it could */
  for (i = 0; i < n; i++)
    close (fds[i]);
  assert_healthz (child.port);
  assert_healthz (child.port);
  child_stop (&child);
}

static void
test_oldest_idle_closed (void)
{
  HtSvc *svc = ht_svc_new ("max-connections", "4", NULL);
  int fds[8];
  guint i;

  for (i = 0; i < G_N_ELEMENTS (fds); i++) {
    fds[i] = connect_to (svc->port, FALSE);
    /* one at a time, so that "oldest" is well defined */
    assert_healthz (svc->port);
  }
  g_assert_true (closed_by_server (fds[0]));
  g_assert_true (closed_by_server (fds[1]));
  for (i = 0; i < G_N_ELEMENTS (fds); i++)
    close (fds[i]);
  ht_svc_free (svc);
}

static void
test_header_timeout (void)
{
  HtSvc *svc = ht_svc_new ("header-timeout", "1", NULL);
  static const gchar part[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  int fd = connect_to (svc->port, FALSE);

  g_assert_cmpint (write (fd, part, strlen (part)), ==, strlen (part));
  g_assert_true (closed_by_server (fd));
  close (fd);
  assert_healthz (svc->port);
  ht_svc_free (svc);
}

static gchar *
upload_head (const gchar *token, gboolean in_header, gsize length)
{
  return g_strdup_printf ("POST /v2/devices/%u/snapshots%s%s HTTP/1.1\r\n"
                          "Host: 127.0.0.1\r\n"
                          "%s%s%s"
                          "Content-Type: multipart/form-data; boundary=XyZ\r\n"
                          "Content-Length: %" G_GSIZE_FORMAT "\r\n\r\n",
      HT_SEED_CID, in_header ? "" : "?client_token=", in_header ? "" : token,
      in_header ? "X-Client-Token: " : "", in_header ? token : "",
      in_header ? "\r\n" : "", length);
}

static void
test_early_401 (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autofree gchar *other = ht_token (HT_SEED_CID + 1);
  const gchar *tokens[] = { "not-a-token", other };
  guint i, j;

  for (i = 0; i < G_N_ELEMENTS (tokens); i++) {
    for (j = 0; j < 2; j++) {
      g_autofree gchar *head = upload_head (tokens[i], j, 1000000);
      /* the body never comes: the answer must not wait for it */
      HtResp *resp = ht_raw_full (svc->port, head, strlen (head), HT_TIMEOUT_S);
      gchar *message;

      g_assert_nonnull (resp);
      message = ht_assert_error (
          resp, i == 0 ? 401 : 403, i == 0 ? "invalid_token" : "forbidden");
      g_free (message);
      g_assert_cmpstr (ht_header (resp, "Connection"), ==, "close");
      ht_resp_free (resp);
    }
  }
  ht_svc_free (svc);
}

static void
test_body_timeout (void)
{
  HtSvc *svc = ht_svc_new ("body-timeout", "1", NULL);
  g_autofree gchar *token = ht_token (HT_SEED_CID);
  g_autofree gchar *head = upload_head (token, TRUE, 1000000);
  int fd = connect_to (svc->port, FALSE);

  g_assert_cmpint (write (fd, head, strlen (head)), ==, strlen (head));
  g_assert_cmpint (write (fd, "--XyZ\r\n", 7), ==, 7);
  g_assert_true (closed_by_server (fd));
  close (fd);
  assert_healthz (svc->port);
  ht_svc_free (svc);
}

static void
test_burst_backlog (void)
{
  Child child;
  int fds[100];
  gint64 end;
  guint i, connected = 0;

  child_start (&child, 1024, NULL);
  /* the server accepts nothing now: only the listen queue holds them */
  kill (g_ascii_strtoll (g_subprocess_get_identifier (child.proc), NULL, 10),
      SIGSTOP);
  for (i = 0; i < G_N_ELEMENTS (fds); i++)
    fds[i] = connect_to (child.port, TRUE);
  end = g_get_monotonic_time () + HT_TIMEOUT_S * G_USEC_PER_SEC;
  while (connected < G_N_ELEMENTS (fds) && g_get_monotonic_time () < end) {
    connected = 0;
    for (i = 0; i < G_N_ELEMENTS (fds); i++) {
      struct pollfd p = { fds[i], POLLOUT, 0 };

      connected += poll (&p, 1, 0) == 1 && (p.revents & POLLOUT);
    }
    g_usleep (10000);
  }
  kill (g_ascii_strtoll (g_subprocess_get_identifier (child.proc), NULL, 10),
      SIGCONT);
  g_assert_cmpuint (connected, ==, G_N_ELEMENTS (fds));
  for (i = 0; i < G_N_ELEMENTS (fds); i++) {
    static const gchar req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Connection: close\r\n\r\n";
    int err = 0;
    socklen_t len = sizeof (err);

    g_assert_cmpint (
        getsockopt (fds[i], SOL_SOCKET, SO_ERROR, &err, &len), ==, 0);
    g_assert_cmpint (err, ==, 0);
    g_assert_cmpint (write (fds[i], req, strlen (req)), ==, strlen (req));
  }
  for (i = 0; i < G_N_ELEMENTS (fds); i++) {
    gchar buf[64] = { 0 };
    struct pollfd p = { fds[i], POLLIN, 0 };

    g_assert_cmpint (poll (&p, 1, HT_TIMEOUT_S * 1000), ==, 1);
    g_assert_cmpint (read (fds[i], buf, sizeof (buf) - 1), >, 12);
    g_assert_true (g_str_has_prefix (buf, "HTTP/1.1 200"));
    close (fds[i]);
  }
  child_stop (&child);
}

static void
test_resize_queue_503 (void)
{
  HtSvc *svc =
      ht_svc_new ("resize-queue", "1", "resize-cache-entries", "0", NULL);
  g_autoptr (GBytes) big = ht_jpeg (3840, 2160, 200, 40, 40);
  g_autofree gchar *token = ht_token (HT_SEED_CID);
  gboolean busy = FALSE;
  guint round, i;
  HtResp *resp;

  resp = ht_upload (svc, HT_SEED_CID, big);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  /* a handful at once: one slot, so some wait for none and are refused */
  for (round = 0; round < 5 && !busy; round++) {
    int fds[8];

    for (i = 0; i < G_N_ELEMENTS (fds); i++) {
      g_autofree gchar *req = g_strdup_printf (
          "GET /v2/snapshots/%u/cover?client_token=%s&width=%u HTTP/1.1\r\n"
          "Host: 127.0.0.1\r\nConnection: close\r\n\r\n",
          HT_SEED_CID, token, 100 + i);

      fds[i] = connect_to (svc->port, FALSE);
      g_assert_cmpint (write (fds[i], req, strlen (req)), ==, strlen (req));
    }
    for (i = 0; i < G_N_ELEMENTS (fds); i++) {
      g_autoptr (GByteArray) got = g_byte_array_new ();
      g_autofree gchar *text = NULL;
      guint8 buf[65536];
      gssize n;
      struct pollfd p = { fds[i], POLLIN, 0 };

      while (poll (&p, 1, HT_TIMEOUT_S * 1000) == 1 &&
          (n = read (fds[i], buf, sizeof (buf))) > 0)
        g_byte_array_append (got, buf, n);
      g_byte_array_append (got, (const guint8 *) "", 1);
      text = g_strdup ((const gchar *) got->data);
      if (g_str_has_prefix (text, "HTTP/1.1 503")) {
        busy = TRUE;
        g_assert_nonnull (strstr (text, "\r\nRetry-After: "));
        g_assert_nonnull (strstr (text, "\"error\":\"busy\""));
      } else {
        g_assert_true (g_str_has_prefix (text, "HTTP/1.1 200"));
      }
      close (fds[i]);
    }
  }
  g_assert_true (busy);
  ht_svc_free (svc);
}

int
main (int argc, char **argv)
{
  if (argc >= 3 && g_str_equal (argv[1], CHILD_ARG))
    return serve_child (argc, argv);
  ht_init (&argc, &argv);

  g_test_add_func ("/http/limits/emfile-recovers", test_emfile_recovers);
  g_test_add_func ("/http/limits/oldest-idle-closed", test_oldest_idle_closed);
  g_test_add_func ("/http/limits/header-timeout", test_header_timeout);
  g_test_add_func ("/http/limits/early-401", test_early_401);
  g_test_add_func ("/http/limits/body-timeout", test_body_timeout);
  g_test_add_func ("/http/limits/burst-backlog", test_burst_backlog);
  g_test_add_func ("/http/limits/resize-queue-503", test_resize_queue_503);
  return ht_run ();
}
