/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Device tokens over HTTP: where the service takes them from, every reason
 * for a 401 and a 403 with the exact JSON body, ip-bound tokens, the view
 * permission, several applications with their cid ranges, and the failures
 * counted by reason in /metrics.  Tokens are minted with the library and,
 * for some vectors, with an HMAC computed here from the spec alone. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "http-util.h"

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

/* Anything but 401/403: the token was taken.  404 before any cover, 200
 * after an upload. */
static void
assert_authorized (HtSvc *svc, guint32 cid, const gchar *token)
{
  g_autofree gchar *path = ht_cover_path (cid, token, NULL);
  g_autoptr (HtResp) resp = ht_get (svc, path);

  if (resp->status != 200)
    g_free (ht_assert_error (resp, 404, "no_cover"));
}

static void
assert_refused (HtSvc *svc, guint32 cid, const gchar *token, guint status)
{
  g_autofree gchar *path = ht_cover_path (cid, token, NULL);
  g_autoptr (HtResp) resp = ht_get (svc, path);

  g_free (ht_assert_error (
      resp, status, status == 401 ? "invalid_token" : "forbidden"));
}

static HtResp *
get_with_header (HtSvc *svc, guint32 cid, const gchar *query_token,
    const gchar *header_token)
{
  g_autofree gchar *path = ht_cover_path (cid, query_token, NULL);
  g_autoptr (SoupMessage) msg = ht_message (svc, "GET", path);

  if (header_token)
    soup_message_headers_append (
        soup_message_get_request_headers (msg), "X-Client-Token", header_token);
  return ht_send (svc, msg);
}

static void
test_query_and_header (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autoptr (GBytes) jpeg = ht_jpeg (64, 48, 10, 200, 30);
  g_autofree gchar *token = ht_token (HT_SEED_CID);
  g_autofree gchar *other = ht_token (HT_SEED_CID + 1);
  HtResp *resp;

  /* authorized but nothing there yet */
  resp = get_with_header (svc, HT_SEED_CID, token, NULL);
  g_free (ht_assert_error (resp, 404, "no_cover"));
  ht_resp_free (resp);
  resp = get_with_header (svc, HT_SEED_CID, NULL, token);
  g_free (ht_assert_error (resp, 404, "no_cover"));
  ht_resp_free (resp);

  resp = ht_upload (svc, HT_SEED_CID, jpeg);
  ht_assert_status (resp, 200);
  ht_resp_free (resp);

  resp = get_with_header (svc, HT_SEED_CID, token, NULL);
  ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
  ht_resp_free (resp);
  resp = get_with_header (svc, HT_SEED_CID, NULL, token);
  ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
  ht_resp_free (resp);

  /* both: the query parameter wins (gst-docs/http-api.md) */
  resp = get_with_header (svc, HT_SEED_CID, token, "garbage");
  ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
  ht_resp_free (resp);
  resp = get_with_header (svc, HT_SEED_CID, "garbage", token);
  g_free (ht_assert_error (resp, 401, "invalid_token"));
  ht_resp_free (resp);
  resp = get_with_header (svc, HT_SEED_CID, other, token);
  g_free (ht_assert_error (resp, 403, "forbidden"));
  ht_resp_free (resp);

  /* the upload endpoint takes the header too */
  {
    g_autofree gchar *path = ht_upload_path (HT_SEED_CID, NULL);
    g_autofree gchar *uri = g_strconcat (svc->base, path, NULL);
    g_autoptr (GBytes) png = ht_png (32, 32, 1, 2, 3);
    g_autoptr (SoupMessage) msg = NULL;

    msg = cs_test_upload_message (uri, "file", "x.png", "image/png", png);
    soup_message_headers_append (
        soup_message_get_request_headers (msg), "X-Client-Token", token);
    resp = ht_send (svc, msg);
    ht_assert_status (resp, 200);
    ht_resp_free (resp);
    resp = get_with_header (svc, HT_SEED_CID, NULL, token);
    ht_assert_cover (resp, png, "image/png", "upload");
    ht_resp_free (resp);
  }
  ht_svc_free (svc);
}

/* The digest from the spec: HMAC-MD5 (key, cid|control|expire[|ip] as
 * little-endian u32s), computed here with GHmac, not by the library. */
static void
test_independent_vectors (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  guint32 expire = now_s () + 3600;
  g_autofree gchar *mine = NULL, *lib = NULL, *mine_ip = NULL, *lib_ip = NULL;
  g_autofree gchar *mine_b = NULL, *upper = NULL;
  gchar *digest;

  /* a fixed vector, checked against the library and against itself */
  mine = ht_token_independent (10000415, 0, 1490680747, FALSE, 0, HT_KEY_A);
  lib = ht_token_full (10000415, 0, 1490680747, FALSE, 0, HT_KEY_A);
  g_assert_cmpstr (mine, ==, lib);
  g_clear_pointer (&mine, g_free);
  g_clear_pointer (&lib, g_free);

  mine = ht_token_independent (HT_SEED_CID, 0, expire, FALSE, 0, HT_KEY_A);
  lib = ht_token_full (HT_SEED_CID, 0, expire, FALSE, 0, HT_KEY_A);
  g_assert_cmpstr (mine, ==, lib);
  assert_authorized (svc, HT_SEED_CID, mine);

  mine_ip = ht_token_independent (HT_SEED_CID,
      COVER_TOKEN_CONTROL_VERIFY_IP | COVER_TOKEN_CONTROL_VIEW_SNAPSHOTS,
      expire, TRUE, HT_LOOPBACK_IP, HT_KEY_A);
  lib_ip = ht_token_full (HT_SEED_CID, COVER_TOKEN_CONTROL_VIEW_SNAPSHOTS,
      expire, TRUE, HT_LOOPBACK_IP, HT_KEY_A);
  g_assert_cmpstr (mine_ip, ==, lib_ip);
  assert_authorized (svc, HT_SEED_CID, mine_ip);

  /* the other application's key */
  mine_b = ht_token_independent (
      20000005, 0x12345678 & ~4u, expire, FALSE, 0, HT_KEY_B);
  assert_authorized (svc, 20000005, mine_b);

  /* an upper-case digest is the same digest */
  upper = g_strdup (mine);
  digest = strrchr (upper, '_') + 1;
  for (; *digest; digest++)
    *digest = g_ascii_toupper (*digest);
  g_assert_cmpstr (upper, !=, mine);
  assert_authorized (svc, HT_SEED_CID, upper);

  /* the seed's own token: another platform's key, and long expired */
  assert_refused (svc, HT_SEED_CID,
      "10000415_0_1490680747_a830147b503b587dd524f4b11b8f96c2", 401);
  ht_svc_free (svc);
}

static void
test_401_reasons (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  guint32 cid = HT_SEED_CID, exp = now_s () + 3600;
  g_autofree gchar *good = ht_token (cid);
  g_autofree gchar *digest = g_strdup (strrchr (good, '_') + 1);
  g_autofree gchar *metrics = NULL;
  const gchar *malformed[] = {
    "abc",
    "10000415",
    "10000415_0_1490680747",
    "10000415_0_1490680747_",
    "10000415_0_1490680747_a830147b503b587dd524f4b11b8f96c",   /* 31 */
    "10000415_0_1490680747_a830147b503b587dd524f4b11b8f96c2a", /* 33 */
    "10000415_0_1490680747_g830147b503b587dd524f4b11b8f96c2",
    "10000415_0_4294967296_a830147b503b587dd524f4b11b8f96c2",
    "4294967296_0_1490680747_a830147b503b587dd524f4b11b8f96c2",
    "-1_0_1490680747_a830147b503b587dd524f4b11b8f96c2",
    "10000415_0_1490680747_a830147b503b587dd524f4b11b8f96c2_",
    "10000415__1490680747_a830147b503b587dd524f4b11b8f96c2",
    "0x10_0_1490680747_a830147b503b587dd524f4b11b8f96c2",
    /* an ip field without control bit 2 */
    "10000415_0_1490680747_2130706433_a830147b503b587dd524f4b11b8f96c2",
    /* control bit 2 without an ip field */
    "10000415_4_1490680747_a830147b503b587dd524f4b11b8f96c2",
  };
  g_autofree gchar *wrong_key = NULL, *flipped = NULL, *expired = NULL;
  g_autofree gchar *unknown = NULL, *unknown2 = NULL, *wrong_fields = NULL;
  g_autofree gchar *expired_hdr = NULL;
  guint i;
  HtResp *resp;

  /* missing: no query, no header; an empty parameter is no token either */
  assert_refused (svc, cid, NULL, 401);
  assert_refused (svc, cid, "", 401);

  for (i = 0; i < G_N_ELEMENTS (malformed); i++)
    assert_refused (svc, cid, malformed[i], 401);
  /* and in the header */
  resp = get_with_header (svc, cid, NULL, malformed[0]);
  g_free (ht_assert_error (resp, 401, "invalid_token"));
  ht_resp_free (resp);

  /* bad digest: another app's key, a flipped digit, fields changed */
  wrong_key = ht_token_full (cid, 0, exp, FALSE, 0, HT_KEY_B);
  assert_refused (svc, cid, wrong_key, 401);
  flipped = g_strdup (good);
  flipped[strlen (flipped) - 1] =
      flipped[strlen (flipped) - 1] == '0' ? '1' : '0';
  assert_refused (svc, cid, flipped, 401);
  wrong_fields =
      g_strdup_printf ("%u_%u_%u_%s", cid, 1u << 22, (guint32) exp, digest);
  assert_refused (svc, cid, wrong_fields, 401);

  /* expired, also in the header */
  expired = ht_token_full (cid, 0, now_s () - 1, FALSE, 0, HT_KEY_A);
  assert_refused (svc, cid, expired, 401);
  expired_hdr = ht_token_full (cid, 0, 1, FALSE, 0, HT_KEY_A);
  resp = get_with_header (svc, cid, NULL, expired_hdr);
  g_free (ht_assert_error (resp, 401, "invalid_token"));
  ht_resp_free (resp);

  /* no application owns the cid (between and beyond the ranges) */
  unknown = ht_token_full (30000000, 0, exp, FALSE, 0, HT_KEY_A);
  assert_refused (svc, 30000000, unknown, 401);
  unknown2 = ht_token_full (20000100, 0, exp, FALSE, 0, HT_KEY_B);
  assert_refused (svc, 20000100, unknown2, 401);

  /* the upload endpoint refuses the same way */
  {
    g_autoptr (GBytes) jpeg = ht_jpeg (16, 16, 0, 0, 0);
    g_autofree gchar *path = ht_upload_path (cid, expired);
    g_autofree gchar *uri = g_strconcat (svc->base, path, NULL);
    g_autoptr (SoupMessage) msg = NULL;

    msg = cs_test_upload_message (uri, "file", "a.jpg", "image/jpeg", jpeg);
    resp = ht_send (svc, msg);
    g_free (ht_assert_error (resp, 401, "invalid_token"));
    ht_resp_free (resp);
  }

  metrics = ht_metrics (svc);
  g_assert_cmpint (
      ht_metric (metrics, "coversnap_token_failures_total{reason=\"missing\"}"),
      ==, 2);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_token_failures_total{reason=\"malformed\"}"),
      ==, G_N_ELEMENTS (malformed) + 1);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_token_failures_total{reason=\"bad_digest\"}"),
      ==, 3);
  g_assert_cmpint (
      ht_metric (metrics, "coversnap_token_failures_total{reason=\"expired\"}"),
      ==, 3);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_token_failures_total{reason="
                       "\"unknown_app\"}"),
      ==, 2);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_token_failures_total{reason="
                       "\"wrong_device\"}"),
      ==, -1);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_http_requests_total{endpoint=\"cover\","
                       "status=\"401\",source=\"none\"}"),
      ==, 2 + G_N_ELEMENTS (malformed) + 1 + 3 + 2 + 2);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_http_requests_total{endpoint=\"upload\","
                       "status=\"401\",source=\"none\"}"),
      ==, 1);
  ht_svc_free (svc);
}

static void
test_403_other_device (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autofree gchar *t416 = ht_token (HT_SEED_CID + 1);
  g_autofree gchar *t42 = ht_token (42);
  g_autofree gchar *tb = ht_token (20000005);
  g_autofree gchar *metrics = NULL;
  g_autofree gchar *path = NULL;
  g_autoptr (GBytes) jpeg = ht_jpeg (32, 32, 9, 9, 9);
  HtResp *resp;

  assert_refused (svc, HT_SEED_CID, t416, 403);
  assert_refused (svc, HT_SEED_CID, t42, 403);
  /* valid for another app's device */
  assert_refused (svc, HT_SEED_CID, tb, 403);
  assert_authorized (svc, 42, t42);

  /* uploading for another device */
  path = ht_upload_path (HT_SEED_CID, t416);
  {
    g_autofree gchar *uri = g_strconcat (svc->base, path, NULL);
    g_autoptr (SoupMessage) msg = NULL;

    msg = cs_test_upload_message (uri, "file", "a.jpg", "image/jpeg", jpeg);
    resp = ht_send (svc, msg);
    g_free (ht_assert_error (resp, 403, "forbidden"));
    ht_resp_free (resp);
  }
  /* nothing was stored */
  resp = ht_get_cover (svc, HT_SEED_CID, NULL);
  g_free (ht_assert_error (resp, 404, "no_cover"));
  ht_resp_free (resp);

  metrics = ht_metrics (svc);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_token_failures_total{reason="
                       "\"wrong_device\"}"),
      ==, 4);
  ht_svc_free (svc);
}

static void
test_view_permission (void)
{
  HtSvc *svc = ht_svc_new ("require-view-permission", "true", NULL);
  HtSvc *lax = ht_svc_new (NULL);
  gint64 exp = now_s () + 3600;
  g_autofree gchar *plain =
      ht_token_full (HT_SEED_CID, 0, exp, FALSE, 0, HT_KEY_A);
  g_autofree gchar *viewer = ht_token_full (
      HT_SEED_CID, COVER_TOKEN_CONTROL_VIEW_SNAPSHOTS, exp, FALSE, 0, HT_KEY_A);
  g_autofree gchar *viewer_ip = ht_token_full (HT_SEED_CID,
      COVER_TOKEN_CONTROL_VIEW_SNAPSHOTS, exp, TRUE, HT_LOOPBACK_IP, HT_KEY_A);
  g_autofree gchar *other_bits = ht_token_full (HT_SEED_CID,
      0xffffffffu & ~COVER_TOKEN_CONTROL_VIEW_SNAPSHOTS &
          ~COVER_TOKEN_CONTROL_VERIFY_IP,
      exp, FALSE, 0, HT_KEY_A);
  g_autoptr (GBytes) jpeg = ht_jpeg (40, 30, 250, 250, 0);
  g_autofree gchar *metrics = NULL;
  HtResp *resp;

  assert_refused (svc, HT_SEED_CID, plain, 403);
  assert_refused (svc, HT_SEED_CID, other_bits, 403);
  assert_authorized (svc, HT_SEED_CID, viewer);
  assert_authorized (svc, HT_SEED_CID, viewer_ip);
  /* off by default: real tokens often lack the bit */
  assert_authorized (lax, HT_SEED_CID, plain);

  /* uploading needs no view permission (GET only, gst-docs/http-api.md) */
  {
    g_autofree gchar *path = ht_upload_path (HT_SEED_CID, plain);
    g_autofree gchar *uri = g_strconcat (svc->base, path, NULL);
    g_autoptr (SoupMessage) msg = NULL;

    msg = cs_test_upload_message (uri, "file", "a.jpg", "image/jpeg", jpeg);
    resp = ht_send (svc, msg);
    ht_assert_status (resp, 200);
    ht_resp_free (resp);
  }
  {
    g_autofree gchar *path = ht_cover_path (HT_SEED_CID, viewer, NULL);

    resp = ht_get (svc, path);
    ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
    ht_resp_free (resp);
  }
  assert_refused (svc, HT_SEED_CID, plain, 403);

  metrics = ht_metrics (svc);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_token_failures_total{reason="
                       "\"no_permission\"}"),
      ==, 3);
  ht_svc_free (lax);
  ht_svc_free (svc);
}

static void
test_ip_bound (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  gint64 exp = now_s () + 3600;
  g_autofree gchar *here =
      ht_token_full (HT_SEED_CID, 0, exp, TRUE, HT_LOOPBACK_IP, HT_KEY_A);
  /* 10.0.0.1, and 127.0.0.2: close is not equal */
  g_autofree gchar *there =
      ht_token_full (HT_SEED_CID, 0, exp, TRUE, 0x0a000001, HT_KEY_A);
  g_autofree gchar *near =
      ht_token_full (HT_SEED_CID, 0, exp, TRUE, HT_LOOPBACK_IP + 1, HT_KEY_A);
  /* the ip takes part in the digest: another ip with this digest is bad */
  g_autofree gchar *forged = NULL;
  g_autofree gchar *metrics = NULL;
  g_autoptr (GBytes) jpeg = ht_jpeg (48, 48, 0, 0, 255);
  HtResp *resp;

  g_assert_true (g_str_has_prefix (here, "10000415_4_"));
  assert_authorized (svc, HT_SEED_CID, here);
  assert_refused (svc, HT_SEED_CID, there, 403);
  assert_refused (svc, HT_SEED_CID, near, 403);
  forged = g_strdup_printf ("%u_4_%u_%u_%s", HT_SEED_CID, (guint32) exp,
      0x0a000001u, strrchr (here, '_') + 1);
  assert_refused (svc, HT_SEED_CID, forged, 401);

  /* uploads check the address too */
  {
    g_autofree gchar *path = ht_upload_path (HT_SEED_CID, there);
    g_autofree gchar *uri = g_strconcat (svc->base, path, NULL);
    g_autoptr (SoupMessage) msg = NULL;

    msg = cs_test_upload_message (uri, "file", "a.jpg", "image/jpeg", jpeg);
    resp = ht_send (svc, msg);
    g_free (ht_assert_error (resp, 403, "forbidden"));
    ht_resp_free (resp);
  }
  {
    g_autofree gchar *path = ht_upload_path (HT_SEED_CID, here);
    g_autofree gchar *uri = g_strconcat (svc->base, path, NULL);
    g_autoptr (SoupMessage) msg = NULL;

    msg = cs_test_upload_message (uri, "file", "a.jpg", "image/jpeg", jpeg);
    resp = ht_send (svc, msg);
    ht_assert_status (resp, 200);
    ht_resp_free (resp);
  }
  {
    g_autofree gchar *path = ht_cover_path (HT_SEED_CID, here, NULL);

    resp = ht_get (svc, path);
    ht_assert_cover (resp, jpeg, "image/jpeg", "upload");
    ht_resp_free (resp);
  }

  metrics = ht_metrics (svc);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_token_failures_total{reason="
                       "\"wrong_address\"}"),
      ==, 3);
  g_assert_cmpint (ht_metric (metrics,
                       "coversnap_token_failures_total{reason="
                       "\"bad_digest\"}"),
      ==, 1);
  ht_svc_free (svc);
}

/* Several applications, each with its key and cid ranges; a key file as a
 * deployment would write it. */
static void
test_several_apps (void)
{
  HtSvc *svc = ht_svc_dirs_new ();
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) err = NULL;
  CoverConfig *config = cover_config_new ();
  g_autofree gchar *text = NULL;
  gint64 exp = now_s () + 3600;
  struct
  {
    guint32 cid;
    const gchar *key;
    guint status; /* 0: authorized */
  } cases[] = {
    { 10000000, "key-one", 0 },
    { 10999999, "key-one", 0 },
    { 11000000, "key-one", 401 }, /* just past the range */
    { 9999999, "key-one", 401 },
    { 42, "key-one", 0 },
    { 43, "key-one", 401 },
    { 20000000, "key-two", 0 },
    { 20000000, "key-one", 401 }, /* the other app's key */
    { 20000050, "key-two", 0 },
    { 4294967295u, "key-three", 0 },
    { 0, "key-three", 0 },
    { 0, "key-two", 401 },
  };
  guint i;

  text = g_strdup_printf ("[server]\nlisten-address=127.0.0.1\nport=0\n"
                          "data-dir=%s\nstore-dir=%s\nhttp-threads=2\n"
                          "[app.one]\nkey=key-one\n"
                          "cids=10000000-10999999, 42\n"
                          "[app.two]\nkey=key-two\ncids=20000000-20000050\n"
                          "[app.three]\nkey=key-three\n"
                          "cids=0,4294967295\n"
                          "[stream.default]\nquality=80\n",
      svc->data_dir, svc->store_dir);
  g_assert_true (
      g_key_file_load_from_data (kf, text, -1, G_KEY_FILE_NONE, &err));
  g_assert_true (cover_config_load_key_file (config, kf, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (cover_app_table_get_size (config->apps), ==, 3);
  svc->service = cover_service_new (config, &err);
  g_assert_no_error (err);
  cover_service_listen (svc->service, &err);
  g_assert_no_error (err);
  svc->port = cover_service_get_port (svc->service);
  svc->base = g_strdup_printf ("http://127.0.0.1:%u", svc->port);

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *t =
        ht_token_full (cases[i].cid, 0, exp, FALSE, 0, cases[i].key);

    if (cases[i].status)
      assert_refused (svc, cases[i].cid, t, cases[i].status);
    else
      assert_authorized (svc, cases[i].cid, t);
  }
  ht_svc_free (svc);
}

int
main (int argc, char **argv)
{
  ht_init (&argc, &argv);

  g_test_add_func ("/http/token/query-and-header", test_query_and_header);
  g_test_add_func ("/http/token/independent-vectors", test_independent_vectors);
  g_test_add_func ("/http/token/401-reasons", test_401_reasons);
  g_test_add_func ("/http/token/403-other-device", test_403_other_device);
  g_test_add_func ("/http/token/view-permission", test_view_permission);
  g_test_add_func ("/http/token/ip-bound", test_ip_bound);
  g_test_add_func ("/http/token/several-apps", test_several_apps);
  return ht_run ();
}
