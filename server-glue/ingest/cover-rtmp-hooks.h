/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_RTMP_HOOKS_H__
#define __COVER_RTMP_HOOKS_H__

#include <libsoup/soup.h>

#include "cover-config.h"
#include "cover-pull.h"
#include "cover-pushers.h"
#include "cover-stream-settings.h"

G_BEGIN_DECLS

/* The HTTP hooks of an RTMP server (nginx-rtmp's on_publish and
 * on_publish_done; SRS's on_publish/on_unpublish send the same fields as
 * JSON) on the media server's HTTP port:
 *   POST /hooks/rtmp/on_publish       app, name (the client id), token
 *                                     (a query argument of the publish
 *                                     URL), addr (the publisher's address)
 *   POST /hooks/rtmp/on_publish_done  app, name
 * Only from [ingest] hook-allow (else 403), bodies of at most
 * COVER_RTMP_HOOKS_MAX_BODY (else 413, before they are read).  on_publish
 * checks the device token with cover_token_authorize(): 401/403 make the
 * RTMP server refuse the publish; 200 starts pulling
 * <[ingest] rtmp-url>/<app>/<name> into covertap; 409 while another
 * publisher of the client id streams, or an RTSP push of it, or (in a
 * cluster: cover_pulls_claim(), the request paused until the registry
 * answered) another node holds it.  on_publish_done
 * stops that pull. Answers are JSON: {"code": 0, "request_id": ...} or
 * {"request_id": ..., "error": ..., "message": ...}. */

#define COVER_RTMP_HOOKS_PATH "/hooks/rtmp/"
#define COVER_RTMP_HOOKS_MAX_BODY (8 * 1024)

typedef struct _CoverRtmpHooks CoverRtmpHooks;

/* None is taken; all must outlive the hooks.  @pushers: the RTSP pushes,
 * whose client ids streaming now are refused a publish (409). */
CoverRtmpHooks *cover_rtmp_hooks_new (const CoverConfig *config,
    const CoverIngestSettings *settings, CoverPulls *pulls,
    CoverPushers *pushers);
/* For soup_server_add_early_handler() of COVER_RTMP_HOOKS_PATH (the
 * method, the peer and the body's size, before the body) ... */
void cover_rtmp_hooks_early_handler (SoupServer *server, SoupServerMessage *msg,
    const char *path, GHashTable *query, gpointer hooks);
/* ... and for soup_server_add_handler() of the same path. */
void cover_rtmp_hooks_handler (SoupServer *server, SoupServerMessage *msg,
    const char *path, GHashTable *query, gpointer hooks);
/* coversnap_rtmp_hook_answers_total{hook,status} (a
 * CoverServiceMetricsFunc; any thread) */
void cover_rtmp_hooks_write_metrics (GString *out, gpointer hooks);
void cover_rtmp_hooks_free (CoverRtmpHooks *hooks);

G_END_DECLS

#endif /* __COVER_RTMP_HOOKS_H__ */
