/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __E2E_INGEST_UTIL_H__
#define __E2E_INGEST_UTIL_H__

#include "e2e-util.h"

G_BEGIN_DECLS

/* What the pull and RTMP tests share: waiting for a cover, /metrics, and
 * POSTs to the RTMP hooks. */

/* GET /metrics (must be 200): its text (transfer full) */
gchar *e2e_ingest_metrics (E2eServer *f);
/* POST @body as @type to /hooks/rtmp/@name: the status; @answer (may be
 * NULL) gets the body (transfer full), which must be JSON with the
 * X-Request-ID header's id as request_id */
guint e2e_ingest_post_hook (E2eServer *f, const gchar *name, const gchar *type,
    const gchar *body, gchar **answer);

/* Polls GET cover of @cid until it is live in @colour ("red", "blue"), or
 * not live when @colour is NULL; bounded (E2E_WAIT_S). */
void e2e_ingest_wait_cover (E2eServer *f, guint32 cid, const gchar *colour);

/* nginx with the RTMP module (libnginx-mod-rtmp), started on
 * 127.0.0.1:@rtmp_port over a generated nginx.conf in a temporary dir of
 * its own, its application "live" with on_publish / on_publish_done
 * pointing at the hooks of the coversnapd on @http_port; waits until it
 * accepts connections. */
typedef struct
{
  gchar *dir;
  GSubprocess *proc;
  guint16 port;
} E2eNginx;

E2eNginx *e2e_nginx_start (guint16 rtmp_port, guint16 http_port);
/* killed; its error log in the test's messages */
void e2e_nginx_free (E2eNginx *n);
/* a port of 127.0.0.1 nobody listens on now (bound, read, closed) */
guint16 e2e_free_port (void);
/* ffmpeg publishing a solid @colour as FLV (H.264; with AAC when @audio)
 * to rtmp://127.0.0.1:PORT/live/@cid?token=@token; "q" on its stdin ends
 * it cleanly */
GSubprocess *e2e_rtmp_publish (E2eNginx *n, guint32 cid, const gchar *token,
    const gchar *colour, gboolean audio);

G_END_DECLS

#endif /* __E2E_INGEST_UTIL_H__ */
