/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_LISTENER_H__
#define __COVER_LISTENER_H__

#include <libsoup/soup.h>

#include "cover-config.h"

G_BEGIN_DECLS

/* The service's own HTTP threads: each with its own main context and
 * SoupServer, all accepting on one SO_REUSEPORT port so the kernel spreads
 * the connections. */
typedef struct _CoverListener CoverListener;

/* Called on each thread's context with its new SoupServer, to add the
 * handlers: the listener knows nothing of what is served. */
typedef void (*CoverListenerAttachFunc) (gpointer data, SoupServer *server);

/* Starts @threads threads on @address:@port (0: a free port, the same for
 * all), with the limits of @config (transfer none, outlives the listener),
 * each SoupServer handed to @attach, and returns once all listen
 * (transfer full), or NULL with @error set. */
CoverListener *cover_listener_start (const CoverConfig *config,
    CoverListenerAttachFunc attach, gpointer data, const gchar *address,
    guint16 port, guint threads, GError **error);
/* The bound port; 0 for a NULL @listener (not listening). */
guint16 cover_listener_get_port (CoverListener *listener);
/* Stops and joins the threads, and frees @listener. */
void cover_listener_stop (CoverListener *listener);

G_END_DECLS

#endif /* __COVER_LISTENER_H__ */
