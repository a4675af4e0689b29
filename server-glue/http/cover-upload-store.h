/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_UPLOAD_STORE_H__
#define __COVER_UPLOAD_STORE_H__

#include "cover-request.h"

G_BEGIN_DECLS

/* Hands the checked @image (transfer none) of @client_id to the service's
 * upload store (cover_service_set_upload_store()) with the message paused,
 * and answers once the store replied: 200, or 503 "unavailable". */
void cover_upload_store_start (
    const CoverRequest *req, guint32 client_id, GBytes *image);

G_END_DECLS

#endif /* __COVER_UPLOAD_STORE_H__ */
