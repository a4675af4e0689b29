/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_LIVE_SOURCE_H__
#define __COVER_LIVE_SOURCE_H__

#include "cover-source.h"

G_BEGIN_DECLS

/* The live cover of a client's stream, read from the cover store (shared
 * memory); only while its writer is live.  Each new image is copied out of
 * the store once.  Returns (transfer full). */
CoverSource *cover_live_source_new (
    const gchar *store_dir, gint64 live_timeout_us);
/* New live images read out of the cover store by this process. */
guint64 cover_live_source_get_images_read (void);

G_END_DECLS

#endif /* __COVER_LIVE_SOURCE_H__ */
