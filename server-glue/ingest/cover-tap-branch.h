/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_TAP_BRANCH_H__
#define __COVER_TAP_BRANCH_H__

#include <gst/gst.h>

#include "cover-config.h"
#include "cover-stream-settings.h"
#include "covercodec.h"

G_BEGIN_DECLS

/* The part of a stream's pipeline that every way in shares (an RTSP push,
 * an RTSP pull, RTMP through nginx): the video's parser, covertap with the
 * stream's settings and, with record=true, the parser's output teed into
 * splitmuxsink (mp4mux) writing
 * <data-dir>/recordings/<client_id>/<UTC start time>.mp4. */

/* The chain of @codec over RTP: depayloader and parser; and what the
 * recording needs in front of the muxer (RTP carries presentation times
 * only, and with B-frames an MP4 needs decoding times too).  FALSE for a
 * codec covertap does not take. */
gboolean cover_tap_branch_video_chain (CoverCodec codec, const gchar **depay,
    const gchar **parse, const gchar **timestamper);

/* Appends "[PARSE ! tee to rec.video !] covertap name=tap ! fakesink" for
 * @codec to a gst_parse_launch() description, after an element that gives
 * whole access units (an RTP depayloader, flvdemux): covertap takes them
 * as they are, the parser is there only for the recording.  With @record
 * the caller's description also has "splitmuxsink name=rec". */
void cover_tap_branch_append (GString *desc, CoverCodec codec, gboolean record);

/* Whether the stream of @client_id with @settings is recorded: record=true
 * and a codec MP4 segments take (else said in the log). */
gboolean cover_tap_branch_records (
    guint32 client_id, const CoverStreamSettings *settings, CoverCodec codec);

/* Sets up the elements cover_tap_branch_append() described, once in @bin:
 * covertap's settings, the recording's directory and segments.  FALSE
 * (logged) when the recording cannot be made. */
gboolean cover_tap_branch_setup (GstElement *bin, const CoverConfig *config,
    guint32 client_id, const CoverStreamSettings *settings, gboolean record);

G_END_DECLS

#endif /* __COVER_TAP_BRANCH_H__ */
