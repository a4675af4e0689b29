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

G_END_DECLS

#endif /* __E2E_INGEST_UTIL_H__ */
