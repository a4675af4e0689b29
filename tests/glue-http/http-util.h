/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Helpers of the HTTP tests: a cover service on 127.0.0.1 port 0 over
 * temporary directories, a real libsoup client (and a raw TCP one for bytes
 * that must go out exactly as written), device tokens, real JPEGs and PNGs,
 * the JSON error shape and the Prometheus text. */

#ifndef __HTTP_UTIL_H__
#define __HTTP_UTIL_H__

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "cover-config.h"
#include "cover-image.h"
#include "cover-service.h"
#include "cover-token.h"
#include "cs-test-gst.h"
#include "cs-test-http.h"
#include "cs-test-image.h"
#include "cs-test-token.h"
#include "cs-test-util.h"

G_BEGIN_DECLS

/* Two applications, as a deployment with several would have them. */
#define HT_KEY_A "topvdn-app-key"
#define HT_CIDS_A "10000000-10999999,42"
#define HT_KEY_B "lab-secret-0123456789"
#define HT_CIDS_B "20000000-20000099,7"
/* the seed's own device */
#define HT_SEED_CID 10000415u
/* 127.0.0.1 as the token's ip number */
#define HT_LOOPBACK_IP 2130706433u

/* Bounds for anything a test waits for: they only stop a broken test. */
#define HT_TIMEOUT_S 20

typedef struct
{
  gchar *root; /* temporary, removed by ht_svc_free() */
  gchar *data_dir;
  gchar *store_dir;
  gchar *upload_dir;
  gchar *thumb_dir;
  CoverService *service;
  guint16 port;
  gchar *base; /* "http://127.0.0.1:PORT" */
  SoupSession *session;
} HtSvc;

typedef struct
{
  guint status;
  SoupMessageHeaders *headers;
  GBytes *body;
  gchar *request_id; /* the X-Request-ID header, checked to be 32 hex */
} HtResp;

/* g_test_init and gst_init (the service leaves that to its caller), plus:
 * the service's own g_warning()s (a source failing, a store failing) are
 * expected in some tests and must not abort them. */
void ht_init (int *argc, char ***argv);
/* g_test_run, then the temporary root goes ($COVERSNAP_HTTP_TMPDIR: a
 * directory of the build tree, emptied by ht_init; else the system's). */
int ht_run (void);
/* coversnap warnings logged so far */
guint ht_warnings_seen (void);

/* below the temporary root of ht_init() (tests/common) */
#define ht_rm_rf cs_test_rm_rf

/* A service listening on 127.0.0.1, port 0, over fresh temporary
 * directories, with the two applications above; then [server] key/value
 * pairs (NULL-terminated) on top. */
HtSvc *ht_svc_new (const gchar *first_key, ...);
/* The config only (for callers that create the service themselves). */
CoverConfig *ht_config_new (HtSvc *svc, const gchar *first_key, ...);
/* Temporary directories and a client session, without a service. */
HtSvc *ht_svc_dirs_new (void);
void ht_svc_free (HtSvc *svc);

/* Tokens (tests/common/cs-test-token.h with the order of arguments the
 * tests use): minted with the library and valid for an hour, unless said. */
gchar *ht_token_full (guint32 cid, guint32 control, gint64 expire,
    gboolean has_ip, guint32 ip, const gchar *key);
/* the key of the app owning @cid (A or B above) */
gchar *ht_token (guint32 cid);
const gchar *ht_key_for (guint32 cid);
/* The digest computed here from the spec, not by the library. */
gchar *ht_token_independent (guint32 cid, guint32 control, guint32 expire,
    gboolean has_ip, guint32 ip, const gchar *key);

gchar *ht_cover_path (guint32 cid, const gchar *token, const gchar *extra);
gchar *ht_upload_path (guint32 cid, const gchar *token);

SoupMessage *ht_message (HtSvc *svc, const gchar *method, const gchar *path);
/* Sends and reads the whole answer; checks X-Request-ID on every answer
 * unless @no_request_id (libsoup's own answers have none). */
HtResp *ht_send_full (
    SoupSession *session, SoupMessage *msg, gboolean no_request_id);
HtResp *ht_send (HtSvc *svc, SoupMessage *msg);
HtResp *ht_get (HtSvc *svc, const gchar *path);
HtResp *ht_request (HtSvc *svc, const gchar *method, const gchar *path);
/* GET the cover of @cid with a valid token (+ "&extra") */
HtResp *ht_get_cover (HtSvc *svc, guint32 cid, const gchar *extra);
/* POST @file as the "file" part (curl-like: filename and a part type) */
HtResp *ht_upload (HtSvc *svc, guint32 cid, GBytes *file);
HtResp *ht_upload_body (HtSvc *svc, guint32 cid, const gchar *content_type,
    GBytes *body, gboolean chunked);
void ht_resp_free (HtResp *resp);
const gchar *ht_header (HtResp *resp, const gchar *name);

/* Asserts the error shape: exactly request_id (== X-Request-ID), error
 * (== @code) and a non-empty message; returns the message. */
gchar *ht_assert_error (HtResp *resp, guint status, const gchar *code);
#define ht_assert_status(resp, st)                                             \
  G_STMT_START                                                                 \
  {                                                                            \
    if ((resp)->status != (st))                                                \
      g_printerr ("unexpected answer %u: %.*s\n", (resp)->status,              \
          (int) MIN (g_bytes_get_size ((resp)->body), 400),                    \
          (const char *) g_bytes_get_data ((resp)->body, NULL));               \
    g_assert_cmpuint ((resp)->status, ==, (st));                               \
  }                                                                            \
  G_STMT_END
/* 200 with the bytes of @expected, its type and the source */
void ht_assert_cover (
    HtResp *resp, GBytes *expected, const gchar *mime, const gchar *source);

/* Raw HTTP/1.1 over a TCP socket: writes @request as is, reads one answer
 * (headers, then Content-Length bytes or up to EOF). */
HtResp *ht_raw (guint16 port, const gchar *request, gsize len);
/* NULL when no answer (headers) came within @timeout_s */
HtResp *ht_raw_full (
    guint16 port, const gchar *request, gsize len, guint timeout_s);

/* Writes @head, then @n_chunks of @chunk_size bytes ('x'), in chunked
 * encoding when @chunked (with the last chunk); reads the answer's status
 * and headers (the body is not kept).  The server may answer early. */
HtResp *ht_raw_stream (guint16 port, const gchar *head, gsize chunk_size,
    guint n_chunks, gboolean chunked);
/* the peak resident memory of this process (VmHWM), bytes */
gsize ht_peak_rss (void);

/* Images: real files made with TurboJPEG and libpng (tests/common) */
#define ht_jpeg cs_test_jpeg_solid
/* a JPEG of exactly @size bytes: COM segments after SOI */
GBytes *ht_jpeg_of_size (gsize size);
#define ht_png cs_test_png_solid
/* mean colour of a JPEG or PNG */
#define ht_mean_rgb cs_test_image_mean
void ht_image_size (GBytes *image, guint *w, guint *h);

/* Prometheus text: the value of the sample "name{labels}" (exactly as the
 * service writes it), or -1 when absent. */
gint64 ht_metric (const gchar *text, const gchar *sample);
gchar *ht_metrics (HtSvc *svc);

void ht_write_file (const gchar *path, GBytes *data);

/* curl, when installed: runs it with @args (plus -sS, no proxy, a time
 * limit) and returns the HTTP status; @body gets what it received. */
gboolean ht_have_curl (void);
guint ht_curl (HtSvc *svc, const gchar *const *args, GBytes **body);

/* A SoupServer of the test's own, on 127.0.0.1 port 0, on its own thread
 * with its own main context (pushed as thread default before the server is
 * made), with @service attached. */
typedef struct
{
  CoverService *service;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  GMutex lock;
  GCond cond;
  guint16 port;
  gboolean ready;
} HtOwnServer;

HtOwnServer *ht_own_server_start (CoverService *service);
void ht_own_server_stop (HtOwnServer *server);

/* A writer thread republishes four distinct 640x360 JPEGs as the live cover
 * of @cid, as fast as it can, while 8 clients GET it and 2 GET it resized
 * (spread over @ports), each for 2 s or a bounded number of requests: every
 * answer must be 200 live, every body one of the published JPEGs (byte for
 * byte), one ETag one body, every resize a whole 160x90 JPEG. */
void ht_parallel_gets (
    HtSvc *svc, const guint16 *ports, guint n_ports, guint32 cid);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HtResp, ht_resp_free);

G_END_DECLS

#endif /* __HTTP_UTIL_H__ */
