/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_PULL_H__
#define __COVER_PULL_H__

#include <gst/gst.h>

#include "cover-config.h"
#include "cover-ingest.h"
#include "cover-stream-settings.h"

G_BEGIN_DECLS

/* Streams pulled from a URL into the branch a push gets
 * (cover-tap-branch.h): a camera that is an RTSP server
 * (rtspsrc, TCP, credentials as user-id/user-pw, never in the location),
 * or an RTMP stream played back from nginx-rtmp
 * (rtmp2src ! flvdemux).  Depayloader and parser follow the caps; the
 * stream's covertap and recording settings are those of a push.
 *
 * Each pull connects, streams, and when the source drops (bus error, EOS,
 * or no data for the service's live-timeout) waits with an exponential
 * backoff (bounded, with jitter from getrandom) before the next attempt.
 * States: connecting, streaming, backoff, stopped; in the log and in
 * /metrics (cover_pulls_write_metrics()).
 *
 * The pulls' pipelines are driven from the thread-default main context of
 * the caller of cover_pulls_new(); the add/remove calls are thread-safe
 * (the RTMP hooks run on HTTP threads) and never wait for a pipeline. */

typedef enum
{
  COVER_PULL_CONNECTING,
  COVER_PULL_STREAMING,
  COVER_PULL_BACKOFF,
  COVER_PULL_STOPPED,
} CoverPullState;

typedef enum
{
  COVER_PULL_CAMERA, /* [stream.<id>] pull=: retried for ever */
  COVER_PULL_RTMP,   /* on_publish: retried a short while, then stopped */
} CoverPullKind;

typedef struct _CoverPulls CoverPulls;

/* @config and @settings are not taken and must outlive the pulls. */
CoverPulls *cover_pulls_new (
    const CoverConfig *config, const CoverIngestSettings *settings);

/* The cluster's functions (cover_ingest_set_cluster_funcs()); before
 * the first pull.  A camera's pull claims its client id when it starts
 * streaming (refused: the attempt ends and is retried with the backoff),
 * an RTMP pull is added once claimed (cover_pulls_claim()); the claim is
 * released when the pull ends (a camera's also when an attempt ends).
 * Thumbnails saved by a pull are told to @thumbnail. */
void cover_pulls_set_cluster_funcs (CoverPulls *pulls,
    CoverIngestClaimAsyncFunc claim_async, CoverIngestReleaseFunc release,
    CoverIngestThumbnailFunc thumbnail, gpointer user_data);
/* Asks the cluster for @client_id (@done on @context); FALSE, and nothing
 * asked, without a cluster. */
gboolean cover_pulls_claim (CoverPulls *pulls, guint32 client_id,
    GMainContext *context, CoverIngestClaimedFunc done, gpointer done_data);
/* A claim granted to cover_pulls_claim() that no pull took (the publish
 * was refused here after all, or its hook's caller went): released unless
 * a pull of @client_id holds the claim. */
void cover_pulls_unclaim (CoverPulls *pulls, guint32 client_id);
/* The client id and capture time of a covertap-thumbnail message. */
gboolean cover_pulls_parse_thumbnail (
    GstMessage *msg, guint32 *client_id, gint64 *capture_time);
/* Starts pulling @url (credentials allowed in its userinfo) for
 * @client_id.  A pull of @client_id of the same @kind already there is
 * taken over when it is not streaming or gave no data for @stale_us; else
 * (or one of the other kind) FALSE: busy. */
gboolean cover_pulls_add (CoverPulls *pulls, guint32 client_id,
    CoverPullKind kind, const gchar *url, gint64 stale_us);
/* Stops the pull of @client_id of @kind (EOS first: segments and the last
 * thumbnail are finished), when it pulls @url (NULL: any); FALSE when
 * there was none. */
gboolean cover_pulls_remove (
    CoverPulls *pulls, guint32 client_id, CoverPullKind kind, const gchar *url);
/* Whether a pull of @client_id streams and gave data within @stale_us
 * (an RTSP push of it is refused meanwhile). */
gboolean cover_pulls_is_streaming (
    CoverPulls *pulls, guint32 client_id, gint64 stale_us);
/* The Prometheus text of the pulls (a CoverServiceMetricsFunc): their
 * state per client id and the reconnects; any thread. */
void cover_pulls_write_metrics (GString *out, gpointer pulls);
/* Stops every pull, waiting at most until @deadline (monotonic µs) while
 * iterating the pulls' context. */
void cover_pulls_stop_all (CoverPulls *pulls, gint64 deadline);
void cover_pulls_free (CoverPulls *pulls);

/* @url as it may be shown: no userinfo (user and password), and the
 * value of any token= query argument replaced (transfer full). */
gchar *cover_pull_redact_url (const gchar *url);

const gchar *cover_pull_state_to_string (CoverPullState state);

G_END_DECLS

#endif /* __COVER_PULL_H__ */
