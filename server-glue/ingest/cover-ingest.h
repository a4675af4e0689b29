/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_INGEST_H__
#define __COVER_INGEST_H__

#include <glib.h>

#include "cover-config.h"

G_BEGIN_DECLS

#define COVER_INGEST_ERROR (cover_ingest_error_quark ())
GQuark cover_ingest_error_quark (void);

typedef enum
{
  /* covertap missing, or the RTSP port cannot be bound; a bad [ingest] or
   * [stream.*] value is a COVER_CONFIG_ERROR */
  COVER_INGEST_ERROR_LISTEN,
} CoverIngestError;

/* The RTSP push ingest of coversnapd: a gst-rtsp-server accepting
 * ANNOUNCE/RECORD of H.264 or H.265 at
 *   rtsp://HOST:PORT/live/<client_id>?token=<device token>
 * The token is checked with the policy of the HTTP side
 * (cover_token_authorize() with the configuration's applications): missing,
 * bad, expired or unknown → 401, a token for another client id or address
 * → 403, a client id already pushing → 453.  Each accepted
 * push gets a pipeline
 *   depay ! parse ! covertap client-id=N ... ! fakesink
 * with the settings of [stream.default] and [stream.<client_id>]; with
 * record=true the parser's output is also teed into
 *   splitmuxsink (mp4mux, max-size-time = record-segment seconds)
 * writing <data-dir>/recordings/<client_id>/<UTC start time>.mp4, e.g.
 * 20261128T222451.123Z.mp4, and covertap's thumbnail-interval defaults to
 * the segment length.  When the pusher goes (TEARDOWN, EOS, connection
 * lost, or no data for the service's live-timeout) the pipeline is shut
 * down (EOS first: the last MP4 segment is finished) and covertap marks the
 * stream's cover segment ended.
 *
 * The server runs on the thread-default main context of the caller of
 * cover_ingest_start(). */
typedef struct _CoverIngest CoverIngest;

/* @config is not taken and must outlive the ingest (the service's config).
 * @file: the same key file, for [ingest] rtsp-port and [stream.*]; NULL for
 * defaults; not taken.  Every [stream.*] group is checked now: an error
 * (COVER_CONFIG_ERROR) names the group and the key (transfer full). */
CoverIngest *cover_ingest_new (
    const CoverConfig *config, GKeyFile *file, GError **error);
/* Overrides [ingest] rtsp-port (0: any free port). */
void cover_ingest_set_port (CoverIngest *ingest, guint port);
/* The cluster's part in the ingest (coversnapd's [cluster]), one stream
 * per client id cluster-wide:
 * - @claim is asked when an RTSP push's token was accepted, on that RTSP
 *   client's thread (it may wait a short bounded time), and returns FALSE
 *   to refuse the push with 453;
 * - @claim_async is asked where nothing may wait (the RTMP hooks run on
 *   HTTP threads, the pulls on the ingest's main context) and calls @done
 *   with the answer on @context, never from inside the call.  An RTMP
 *   publish is claimed by its on_publish hook before it is answered
 *   (refused: 409), a camera pulled (pull=) when it starts streaming
 *   (refused: the attempt ends, retried with the backoff);
 * - @release is told when a client id has no push, publish or pull here
 *   any more;
 * - @thumbnail is told of every recording thumbnail saved (its
 *   covertap-thumbnail message, pushes and pulls; any thread).
 * Set before cover_ingest_start(). */
typedef gboolean (*CoverIngestClaimFunc) (guint32 client_id, gpointer data);
typedef void (*CoverIngestReleaseFunc) (guint32 client_id, gpointer data);
typedef void (*CoverIngestClaimedFunc) (gboolean granted, gpointer done_data);
typedef void (*CoverIngestClaimAsyncFunc) (guint32 client_id,
    GMainContext *context, CoverIngestClaimedFunc done, gpointer done_data,
    gpointer data);
typedef void (*CoverIngestThumbnailFunc) (
    guint32 client_id, gint64 capture_time, gpointer data);
void cover_ingest_set_cluster_funcs (CoverIngest *ingest,
    CoverIngestClaimFunc claim, CoverIngestClaimAsyncFunc claim_async,
    CoverIngestReleaseFunc release, CoverIngestThumbnailFunc thumbnail,
    gpointer user_data);
gboolean cover_ingest_start (CoverIngest *ingest, GError **error);
guint16 cover_ingest_get_port (CoverIngest *ingest);
/* Client ids pushing now. */
guint cover_ingest_get_n_streams (CoverIngest *ingest);
/* Closes every pusher's connection and shuts their pipelines down (EOS,
 * then NULL: segments ended, last thumbnails written), waiting at most
 * @timeout_ms while iterating the ingest's main context; stops listening. */
void cover_ingest_stop (CoverIngest *ingest, guint timeout_ms);
void cover_ingest_free (CoverIngest *ingest);

/* The pulls: [stream.<client_id>] pull=URL (an RTSP camera), pulled from
 * cover_ingest_start() on, reconnected with backoff ([ingest]
 * pull-retry-min/-max); and RTMP streams played from the RTMP server
 * ([ingest] rtmp-url) while its hooks say they are published. */

/* The RTMP hooks, for cover_service_add_early_handler() and
 * cover_service_add_handler() of COVER_RTMP_HOOKS_PATH (cover-rtmp-hooks.h;
 * transfer none, the ingest's: stop serving them before
 * cover_ingest_free()). */
typedef struct _CoverRtmpHooks CoverRtmpHooks;
CoverRtmpHooks *cover_ingest_get_rtmp_hooks (CoverIngest *ingest);
/* The pulls' and the RTMP hooks' Prometheus text (a
 * CoverServiceMetricsFunc; any thread). */
void cover_ingest_write_metrics (GString *out, gpointer ingest);

G_END_DECLS

#endif /* __COVER_INGEST_H__ */
