/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_PUSHERS_H__
#define __COVER_PUSHERS_H__

#include <gst/rtsp-server/rtsp-server.h>

#include "covercodec.h"

G_BEGIN_DECLS

/* When a push last gave data: touched by a probe on the depayloader's
 * output (streaming thread), read by the liveness check (the ingest's
 * context).  Reference counted: shared by the probe, the media's bin and
 * the pusher. */
typedef struct _CoverLiveness CoverLiveness;

/* Touched now (transfer full). */
CoverLiveness *cover_liveness_new (void);
CoverLiveness *cover_liveness_ref (CoverLiveness *liveness);
void cover_liveness_unref (gpointer liveness);
/* Every buffer through @pad touches @liveness (which the probe refs). */
void cover_liveness_watch_pad (CoverLiveness *liveness, GstPad *pad);

/* The pusher registry: one pusher per client id, from its ANNOUNCE until
 * its media is unprepared or finalized; pushers that send nothing for the
 * live timeout are ended.  Thread-safe. */
typedef struct _CoverPushers CoverPushers;

CoverPushers *cover_pushers_new (void);
/* @func is called (outside the registry's lock, on the thread that ended
 * it) when a client id has no push any more: not when a push is taken over
 * by a new one of the same id. */
typedef void (*CoverPushersEndedFunc) (guint32 client_id, gpointer user_data);
void cover_pushers_set_ended_func (
    CoverPushers *pushers, CoverPushersEndedFunc func, gpointer user_data);
/* Registers the push of @client_id by @client with @media (neither taken:
 * both are watched).  @liveness (may be NULL) is ref'd and touched.
 * A previous push of @client_id that is stale (never reached RECORD, lost
 * its connection, or sent nothing for @stale_us) is taken over: ended at
 * once (torn down without EOS when it never played).
 * GST_RTSP_STS_NOT_ENOUGH_BANDWIDTH (453) while another pusher of
 * @client_id lives and sends. */
GstRTSPStatusCode cover_pushers_add (CoverPushers *pushers,
    GstRTSPClient *client, GstRTSPMedia *media, guint32 client_id,
    CoverCodec codec, CoverLiveness *liveness, gint64 stale_us);
/* Whether a push of @client_id is recording and gave data within
 * @stale_us: one a new push would not take over (an RTMP publish of it is
 * refused meanwhile; mirrors cover_pulls_is_streaming()). */
gboolean cover_pushers_is_streaming (
    CoverPushers *pushers, guint32 client_id, gint64 stale_us);
/* RECORD was answered for @media: its pipeline plays (EOS can flow). */
void cover_pushers_set_recording (CoverPushers *pushers, GstRTSPMedia *media);
/* @client's connection closed (TEARDOWN, FIN, RST, or closed by us): a push
 * that never reached RECORD frees its client id at once and is torn down;
 * one that did gets EOS and is forgotten when unprepared, or after a few
 * seconds' grace when its EOS never comes. */
void cover_pushers_client_closed (CoverPushers *pushers, GstRTSPClient *client);
guint cover_pushers_get_n (CoverPushers *pushers);
/* Ends the pushers that gave no data for @timeout_us: their connection is
 * closed, which removes the session and unprepares the media (EOS first);
 * forgets those whose end got no EOS within the grace. */
void cover_pushers_check_liveness (CoverPushers *pushers, gint64 timeout_us);
/* Unprepares every registered media (an ANNOUNCE without RECORD, a client
 * that did not go at shutdown); those that never played get no EOS. */
void cover_pushers_unprepare_all (CoverPushers *pushers);
/* Closes @client from an idle callback of the thread-default context
 * (ref'd until then). */
void cover_pushers_close_client_later (GstRTSPClient *client);
/* Stops watching the medias and forgets every pusher. */
void cover_pushers_free (CoverPushers *pushers);

G_END_DECLS

#endif /* __COVER_PUSHERS_H__ */
