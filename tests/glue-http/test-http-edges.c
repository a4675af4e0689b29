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
 *   second; the service uses the declared boundary the body opens with. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

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

int
main (int argc, char **argv)
{
  ht_init (&argc, &argv);

  g_test_add_func ("/http/upload/early-413-memory", test_early_413_memory);
  g_test_add_func ("/http/upload/seed-curl-command", test_seed_curl_command);
  return ht_run ();
}
