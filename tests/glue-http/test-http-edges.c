/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Two upload edges, each once a bug:
 * - early-413-memory: a Content-Length over the limit is refused before the
 *   body is read, and a client that sends the body anyway (no "Expect:
 *   100-continue") does not make the service keep it;
 * - seed-curl-command: the seed's own upload command,
 *     curl -X POST -H "Cache-Control: no-cache" -H "Content-Type:
 *     multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW"
 *     -F "file=@10000415.jpg" URL
 *   makes curl (7.88) send two boundary parameters and a body framed by the
 *   second; the service uses the declared boundary the body opens with;
 * - short-multipart: 11 bytes of body made libsoup's parser read past the
 *   buffer (strstr on a body without a NUL; ASan saw it);
 * - headers-into-boundary: a part whose header block runs into the next
 *   boundary made libsoup's parser g_malloc (-2) and abort the server (found
 *   by tests/fuzz); now a 400 and the server goes on;
 * - prefix-boundary: a body framed by a prefix of the declared boundary is
 *   refused;
 * - undecodable-upload: a JPEG that sniffs but does not decode: a resized
 *   GET answers the original (it was a 500);
 * - http10-no-host: libsoup leaves the query in the path of an HTTP/1.0
 *   request without Host; it is still routed and authorized. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cover-upload.h"
#include "http-util.h"

/* Sent in full: the 413 comes after the body, but the body must
 * not be kept (256 MiB declared and sent; this process holds server and
 * client). */
static void
test_early_413_memory (void)
{
  HtSvc *svc = ht_svc_new ("max-upload-size", "100000", NULL);
  g_autofree gchar *token = ht_token (HT_SEED_CID);
  g_autofree gchar *head = g_strdup_printf (
      "POST /v2/devices/%u/snapshots?client_token=%s HTTP/1.1\r\n"
      "Host: 127.0.0.1\r\n"
      "Content-Type: multipart/form-data; boundary=XyZ\r\n"
      "Content-Length: %u\r\n"
      "\r\n",
      HT_SEED_CID, token, 256 * 1024 * 1024);
  gsize before = ht_peak_rss (), after;
  HtResp *resp;

  resp = ht_raw_stream (svc->port, head, 1024 * 1024, 256, FALSE);
  after = ht_peak_rss ();
  g_free (ht_assert_error (resp, 413, "too_large"));
  ht_resp_free (resp);
  g_printerr ("peak RSS %" G_GSIZE_FORMAT " -> %" G_GSIZE_FORMAT " KiB\n",
      before / 1024, after / 1024);
  g_assert_cmpuint (after - before, <, 64 * 1024 * 1024);
  ht_svc_free (svc);
}

static void
test_seed_curl_command (void)
{
  HtSvc *svc;
  g_autofree gchar *token = NULL, *file = NULL, *url = NULL, *form = NULL;
  g_autoptr (GBytes) jpeg = ht_jpeg (320, 240, 10, 120, 230);
  g_autoptr (GBytes) answer = NULL;
  HtResp *resp;

  if (!ht_have_curl ()) {
    g_test_skip ("curl is not installed");
    return;
  }
  svc = ht_svc_new (NULL);
  token = ht_token (HT_SEED_CID);
  file = g_build_filename (svc->root, "10000415.jpg", NULL);
  ht_write_file (file, jpeg);
  form = g_strdup_printf ("file=@%s", file);
  url = g_strdup_printf (
      "%s/v2/devices/10000415/snapshots?client_token=%s", svc->base, token);
  {
    const gchar *args[] = { "-X", "POST", "-H", "Cache-Control: no-cache", "-H",
      "Content-Type: multipart/form-data; "
      "boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
      "-F", form, url, NULL };

    g_assert_cmpuint (ht_curl (svc, args, &answer), ==, 200);
  }
  resp = ht_get_cover (svc, HT_SEED_CID, NULL);
  ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
  ht_resp_free (resp);
  ht_svc_free (svc);
}

static void
test_headers_into_boundary (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  static const gchar form[] =
      "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n--b--\r\n";
  g_autoptr (GBytes) body = g_bytes_new_static (form, sizeof (form) - 1);
  g_autoptr (GBytes) jpeg = ht_jpeg (32, 32, 200, 0, 0);
  HtResp *resp;

  resp = ht_upload_body (
      svc, HT_SEED_CID, "multipart/form-data; boundary=b", body, FALSE);
  g_free (ht_assert_error (resp, 400, "bad_request"));
  ht_resp_free (resp);
  /* still serving, and still taking good uploads */
  resp = ht_upload (svc, HT_SEED_CID, jpeg);
  g_assert_cmpuint (resp->status, ==, 200);
  ht_resp_free (resp);
  ht_svc_free (svc);
}

static void
test_short_multipart (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autoptr (GBytes) body = g_bytes_new_static ("--XyZ\r\n--Xy", 11);
  g_autoptr (GBytes) copy = cover_upload_terminated_body (
      g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  HtResp *resp;

  /* what libsoup parses has a NUL after its bytes, and one before them
   * (its boundary search looks 2 bytes behind a "--" at offset 1) */
  g_assert_cmpuint (g_bytes_get_size (copy), ==, 11);
  g_assert_cmpint (((const gchar *) g_bytes_get_data (copy, NULL))[11], ==, 0);
  g_assert_cmpint (((const gchar *) g_bytes_get_data (copy, NULL))[-1], ==, 0);
  resp = ht_upload_body (
      svc, HT_SEED_CID, "multipart/form-data; boundary=XyZ", body, FALSE);
  g_free (ht_assert_error (resp, 400, "bad_request"));
  ht_resp_free (resp);
  ht_svc_free (svc);
}

static GBytes *
form_of (const gchar *boundary, GBytes *file)
{
  GByteArray *b = g_byte_array_new ();
  g_autofree gchar *head =
      g_strdup_printf ("--%s\r\nContent-Disposition: form-data; name=\"file\"; "
                       "filename=\"c.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n",
          boundary);
  g_autofree gchar *tail = g_strdup_printf ("\r\n--%s--\r\n", boundary);

  g_byte_array_append (b, (const guint8 *) head, strlen (head));
  g_byte_array_append (
      b, g_bytes_get_data (file, NULL), g_bytes_get_size (file));
  g_byte_array_append (b, (const guint8 *) tail, strlen (tail));
  return g_byte_array_free_to_bytes (b);
}

static void
test_prefix_boundary (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autoptr (GBytes) jpeg = ht_jpeg (64, 48, 10, 20, 30);
  g_autoptr (GBytes) body = form_of ("XyZ", jpeg);
  HtResp *resp;

  resp = ht_upload_body (
      svc, HT_SEED_CID, "multipart/form-data; boundary=XyZ123", body, FALSE);
  g_free (ht_assert_error (resp, 400, "bad_request"));
  ht_resp_free (resp);
  /* the whole boundary, as the second of two, still works */
  resp = ht_upload_body (svc, HT_SEED_CID,
      "multipart/form-data; boundary=XyZ123; boundary=XyZ", body, FALSE);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  ht_svc_free (svc);
}

/* uploads @image as the cover of @cid: 200 */
static void
upload_ok (HtSvc *svc, guint32 cid, GBytes *image)
{
  HtResp *resp = ht_upload (svc, cid, image);

  ht_assert_status (resp, 200);
  ht_resp_free (resp);
}

static void
test_undecodable_upload (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autoptr (GBytes) good = ht_jpeg (640, 480, 10, 20, 30);
  gsize size = g_bytes_get_size (good), i;
  guint8 *bad = g_memdup2 (g_bytes_get_data (good, NULL), size);
  g_autoptr (GBytes) broken = NULL;
  HtResp *resp;

  /* the scan's first component uses Huffman tables 3, never defined: the
   * header (up to SOS) reads, the decoder stops with an error */
  for (i = 2; i + 8 < size; i++)
    if (bad[i] == 0xff && bad[i + 1] == 0xda)
      break;
  g_assert_cmpuint (i + 8, <, size);
  bad[i + 6] = 0x33;
  broken = g_bytes_new_take (bad, size);
  g_assert_cmpint (cover_image_sniff (bad, size, NULL, NULL, NULL), ==,
      COVER_IMAGE_TYPE_JPEG);
  upload_ok (svc, HT_SEED_CID, broken);
  resp = ht_get_cover (svc, HT_SEED_CID, "width=100");
  ht_assert_cover (resp, broken, "image/jpeg", "upload");
  ht_resp_free (resp);
  ht_svc_free (svc);
}

static void
test_http10_no_host (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autoptr (GBytes) jpeg = ht_jpeg (64, 48, 10, 20, 30);
  g_autofree gchar *token = ht_token (42);
  g_autofree gchar *req = g_strdup_printf (
      "GET /v2/snapshots/42/cover?client_token=%s HTTP/1.0\r\n\r\n", token);
  static const gchar health[] = "GET /healthz?x=1 HTTP/1.0\r\n\r\n";
  HtResp *resp;

  upload_ok (svc, 42, jpeg);
  resp = ht_raw (svc->port, req, strlen (req));
  ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
  ht_resp_free (resp);
  resp = ht_raw (svc->port, health, strlen (health));
  ht_assert_status (resp, 200);
  ht_resp_free (resp);
  ht_svc_free (svc);
}

/* Reads from @in until @n complete responses to GET /healthz ("ok\n"
 * bodies) arrived, within a bounded time; returns how many did. */
static guint
read_health_responses (GInputStream *in, guint n)
{
  GString *got = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  guint count = 0;

  while (count < n && g_get_monotonic_time () < deadline) {
    gchar buf[4096];
    gssize r = g_input_stream_read (in, buf, sizeof buf, NULL, NULL);
    const gchar *p;

    if (r <= 0)
      break;
    g_string_append_len (got, buf, r);
    for (count = 0, p = got->str; (p = strstr (p, "\r\n\r\nok\n")); p++)
      count++;
  }
  g_string_free (got, TRUE);
  return count;
}

/* HTTP/1.1 keeps the connection: two pipelined requests and a third
 * after them get three answers on one connection (libsoup closes every
 * connection after one response unless its server has a listener, and
 * the service accepts connections by itself). */
static void
test_keepalive (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GError) err = NULL;
  static const gchar one[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  g_autofree gchar *two = g_strconcat (one, one, NULL);
  GOutputStream *out;
  GInputStream *in;

  g_socket_client_set_timeout (client, 10);
  conn = g_socket_client_connect_to_host (
      client, "127.0.0.1", svc->port, NULL, &err);
  g_assert_no_error (err);
  out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  g_assert_true (
      g_output_stream_write_all (out, two, strlen (two), NULL, NULL, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (read_health_responses (in, 2), ==, 2);
  g_assert_true (
      g_output_stream_write_all (out, one, strlen (one), NULL, NULL, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (read_health_responses (in, 1), ==, 1);
  ht_svc_free (svc);
}

/* The service's end of an accepted connection has TCP_NODELAY: libsoup
 * writes a small response's head and body apart, and with Nagle each 302
 * or JSON error on a kept-alive connection waited for the client's delayed
 * ACK (40 ms).  The service runs in this process: its socket is found in
 * /proc/self/fd by the client's port. */
static void
test_nodelay (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GSocketAddress) local = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (GDir) fds = NULL;
  static const gchar one[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const gchar *name;
  guint16 client_port;
  gboolean found = FALSE;

  conn = g_socket_client_connect_to_host (
      client, "127.0.0.1", svc->port, NULL, &err);
  g_assert_no_error (err);
  /* answered: the service has accepted and set the connection up */
  g_assert_true (g_output_stream_write_all (
      g_io_stream_get_output_stream (G_IO_STREAM (conn)), one, strlen (one),
      NULL, NULL, &err));
  g_assert_cmpuint (read_health_responses (
                        g_io_stream_get_input_stream (G_IO_STREAM (conn)), 1),
      ==, 1);
  local = g_socket_connection_get_local_address (conn, &err);
  g_assert_no_error (err);
  client_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  fds = g_dir_open ("/proc/self/fd", 0, &err);
  g_assert_no_error (err);
  while ((name = g_dir_read_name (fds))) {
    int fd = atoi (name), on = 0;
    struct sockaddr_in peer;
    socklen_t len = sizeof peer, olen = sizeof on;

    if (getpeername (fd, (struct sockaddr *) &peer, &len) != 0 ||
        peer.sin_family != AF_INET || g_ntohs (peer.sin_port) != client_port)
      continue;
    g_assert_cmpint (
        getsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &on, &olen), ==, 0);
    g_assert_cmpint (on, !=, 0);
    found = TRUE;
  }
  g_assert_true (found);
  ht_svc_free (svc);
}

int
main (int argc, char **argv)
{
  ht_init (&argc, &argv);

  g_test_add_func ("/http/upload/early-413-memory", test_early_413_memory);
  g_test_add_func ("/http/upload/seed-curl-command", test_seed_curl_command);
  g_test_add_func ("/http/upload/short-multipart", test_short_multipart);
  g_test_add_func (
      "/http/upload/headers-into-boundary", test_headers_into_boundary);
  g_test_add_func ("/http/upload/prefix-boundary", test_prefix_boundary);
  g_test_add_func ("/http/upload/undecodable-upload", test_undecodable_upload);
  g_test_add_func ("/http/cover/http10-no-host", test_http10_no_host);
  g_test_add_func ("/http/keepalive", test_keepalive);
  g_test_add_func ("/http/nodelay", test_nodelay);
  return ht_run ();
}
