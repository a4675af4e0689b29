/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVERSNAPD_DEMO_H__
#define __COVERSNAPD_DEMO_H__

#include <glib.h>

#include "cover-config.h"

G_BEGIN_DECLS

/* coversnapd --demo: a simulated camera pushed through the server's own
 * RTSP ingest (rtspclientsink, as a device does), and, once its cover is
 * live, a curl that gets it with a valid token.  Its settings are a key
 * file of defaults under those of --config and the command line. */
typedef struct _CoverDemo CoverDemo;

/* @seconds: stop after that long (0: at SIGINT/SIGTERM) (transfer full). */
CoverDemo *cover_demo_new (guint seconds);
/* The demo's defaults (transfer full): 127.0.0.1, ports 8080/8554 (any free
 * one when taken), data in the user's cache, covers in a store of the
 * demo's own, thumbnails on, an application with a fresh key owning client
 * id 42 unless one of @user's owns it.  @user: the configuration as given
 * (file and command line), to see what it sets. */
GKeyFile *cover_demo_defaults (
    CoverDemo *demo, const CoverConfig *user, GError **error);
/* With the final configuration: makes the data dir, takes the key of the
 * application owning client id 42. */
gboolean cover_demo_prepare (
    CoverDemo *demo, const CoverConfig *config, GError **error);
/* Starts the pusher and the polling for the first live cover; ends @loop
 * when it fails or the time is up.  FALSE with @error when the pusher does
 * not start: the exit code is then 1 already, and @loop is not to be run. */
gboolean cover_demo_start (CoverDemo *demo, GMainLoop *loop,
    const CoverConfig *config, guint16 http_port, guint16 rtsp_port,
    GError **error);
/* Before the ingest stops: the polling ends, and the pusher is no longer
 * watched.  It keeps pushing until the ingest's stop closes its connection,
 * as it does every device's (its stream ends as theirs do: EOS, the last
 * segment and thumbnail). */
void cover_demo_stop (CoverDemo *demo);
/* 0, or 1 when the demo failed. */
gint cover_demo_get_exit_code (CoverDemo *demo);
/* After the server is gone: stops the pusher, removes the demo's cover
 * store. */
void cover_demo_free (CoverDemo *demo);

G_END_DECLS

#endif /* __COVERSNAPD_DEMO_H__ */
