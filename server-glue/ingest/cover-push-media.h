/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_PUSH_MEDIA_H__
#define __COVER_PUSH_MEDIA_H__

#include <gst/rtsp-server/rtsp-server.h>

G_BEGIN_DECLS

/* The GstRTSPMedia of a push (gst_rtsp_media_factory_set_media_gtype):
 * its rtpbin receives a TCP-interleaved push without the threads it does
 * not need (see cover-push-media.c). */
GType cover_push_media_get_type (void);

/* Marks @element (the pipeline of a push) as one whose video keeps the
 * RTP timestamps exactly (the recording's MP4 timing): its rtpbin keeps
 * the jitterbuffer. */
void cover_push_media_keep_timing (GstElement *element);

G_END_DECLS

#endif /* __COVER_PUSH_MEDIA_H__ */
