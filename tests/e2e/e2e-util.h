/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __E2E_UTIL_H__
#define __E2E_UTIL_H__

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "cs-test-gst.h"
#include "cs-test-proc.h"
#include "cs-test-util.h"

G_BEGIN_DECLS

/* the application key of the server's [app.e2e] (client ids 42 and 43) */
#define E2E_KEY "e2e-app-key"
/* bounds: they only stop a broken test */
#define E2E_WAIT_S 20

/* coversnapd on 127.0.0.1, HTTP and RTSP on free ports, over temporary
 * directories; the pushers it was given are killed when it is freed */
typedef struct
{
  gchar *root;
  gchar *store_dir;
  gchar *data_dir;
  gchar *log_path; /* coversnapd's stderr (its log), or NULL */
  GSubprocess *server;
  guint16 http_port;
  guint16 rtsp_port;
  SoupSession *session;
  GPtrArray *pushers; /* GSubprocess, killed in teardown */
} E2eServer;

/* GET cover: the status, X-Cover-Source and body */
typedef struct
{
  guint status;
  gchar *source;
  GBytes *body;
} E2eResp;

/* cs_test_spawnv() of the NULL-terminated arguments: the child dies with
 * the test */
GSubprocess *e2e_spawn (GSubprocessFlags flags, const gchar *stderr_path,
    GError **error, const gchar *first, ...) G_GNUC_NULL_TERMINATED;
gchar *e2e_token_for (guint32 cid, const gchar *key);
guint16 e2e_read_port (GDataInputStream *in, const gchar *what);

E2eServer *e2e_server_new (
    guint live_timeout, const gchar *stream_settings, gboolean capture_stderr);
void e2e_server_free (E2eServer *s);

gchar *e2e_location_for (E2eServer *s, guint32 cid, const gchar *token);
GSubprocess *e2e_push (E2eServer *s, guint32 cid, const gchar *token,
    const gchar *pattern, gboolean h265);

E2eResp *e2e_get_cover (E2eServer *s, guint32 cid);
/* the same with a token of @key (another [app.*] of the server) */
E2eResp *e2e_get_cover_with_key (E2eServer *s, guint32 cid, const gchar *key);
void e2e_resp_free (E2eResp *r);

void e2e_mean_rgb (GBytes *jpeg, guint width, guint height, gdouble rgb[3]);
void e2e_assert_red (GBytes *jpeg, guint width, guint height);
void e2e_assert_blue (GBytes *jpeg, guint width, guint height);

/* a TCP connection to the server's RTSP port */
GSocketConnection *e2e_rtsp_connect (E2eServer *f);
void e2e_rtsp_send (GSocketConnection *c, const gchar *text);
/* one response's head (up to the blank line); bounded */
gchar *e2e_rtsp_read (GSocketConnection *c);

/* The server process's threads (/proc/PID/status) and open fds
 * (/proc/PID/fd), for leak checks. */
guint e2e_server_threads (E2eServer *f);
guint e2e_server_fds (E2eServer *f);
/* both, once they have not changed for a second (bounded: @wait_s) */
void e2e_server_settle_counts (
    E2eServer *f, guint wait_s, guint *fds, guint *threads);
/* an ANNOUNCE of /live/@cid (token of E2E_KEY in the query), one H.264
 * video stream with control streamid=0 */
gchar *e2e_announce_text (E2eServer *f, guint32 cid, guint cseq);

G_END_DECLS

#endif /* __E2E_UTIL_H__ */
