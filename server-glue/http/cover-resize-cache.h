/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_RESIZE_CACHE_H__
#define __COVER_RESIZE_CACHE_H__

#include "cover-request.h"

G_BEGIN_DECLS

/* The resized variants of covers (?width=&height=), the newest
 * @max_entries of them kept (0: none), keyed by the original's ETag and
 * the size asked.  Thread-safe. */
typedef struct _CoverResizeCache CoverResizeCache;

CoverResizeCache *cover_resize_cache_new (guint max_entries);
void cover_resize_cache_free (CoverResizeCache *cache);

/* Answers @req with @picture scaled down to fit @width x @height (0: no
 * limit on that side): from the cache, else made by a job on the service's
 * workers.  A picture already small enough, or too big to decode safely, is
 * served as it is. */
void cover_resize_cache_respond (CoverResizeCache *cache, CoverRequest *req,
    CoverPicture *picture, guint width, guint height);

G_END_DECLS

#endif /* __COVER_RESIZE_CACHE_H__ */
