/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_INGEST_PRIVATE_H__
#define __COVER_INGEST_PRIVATE_H__

#include <glib.h>

G_BEGIN_DECLS

/* What the ingest's parts (auth, factory, pushers) agree on. */

#define COVER_INGEST_MOUNT_PATH "/live"

/* The largest RTSP request body read (an ANNOUNCE's SDP): 64 KiB */
#define COVER_INGEST_MAX_BODY (64 * 1024)

/* "/live/<client_id>" (the one client-id syntax), optionally followed by
 * "/..." (a stream's control path) when @sub is allowed. */
gboolean cover_ingest_cid_from_path (
    const gchar *path, gboolean sub, guint32 *cid);

G_END_DECLS

#endif /* __COVER_INGEST_PRIVATE_H__ */
