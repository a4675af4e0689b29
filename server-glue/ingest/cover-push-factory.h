/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_PUSH_FACTORY_H__
#define __COVER_PUSH_FACTORY_H__

#include <gst/rtsp-server/rtsp-server.h>

#include "cover-config.h"
#include "cover-pushers.h"
#include "cover-stream-settings.h"
#include "covercodec.h"

G_BEGIN_DECLS

/* The media of a push (RECORD mode, EOS at shutdown): from the ANNOUNCE's
 * SDP (the request being handled) it picks the H.264 or H.265 depayloader
 * and parser and builds
 *   depay ! parse ! covertap client-id=N ... ! fakesink
 * with the stream's settings; with record=true the parser's output is also
 * teed into splitmuxsink (mp4mux) writing
 * <data-dir>/recordings/<client_id>/<UTC start time>.mp4.  Anything but
 * H.264 or H.265 video, or no ANNOUNCE, makes no media.
 * @config and @settings are not taken and must outlive the factory
 * (transfer full). */
GstRTSPMediaFactory *cover_push_factory_new (
    const CoverConfig *config, const CoverIngestSettings *settings);

/* SDP media a push may have (one branch each) */
#define COVER_PUSH_MAX_MEDIA 8

/* What an ANNOUNCE's SDP (@data, @size bytes) gives: the codec of the
 * cover's video (the first video media whose first format is H.264, H.265
 * or JPEG), or COVER_CODEC_NONE; @offered (may be NULL) gets a short text of
 * every media and format for a log line ("audio PCMA, video VP8",
 * transfer full), @n_media the number of media. */
CoverCodec cover_push_factory_probe_sdp (
    const guint8 *data, gsize size, gchar **offered, guint *n_media);

/* What the factory built @element (a media's element) for, or
 * COVER_CODEC_NONE / NULL for another element (transfer none). */
CoverCodec cover_push_factory_get_codec (GstElement *element);
CoverLiveness *cover_push_factory_get_liveness (GstElement *element);

G_END_DECLS

#endif /* __COVER_PUSH_FACTORY_H__ */
