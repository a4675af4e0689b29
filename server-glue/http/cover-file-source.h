/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_FILE_SOURCE_H__
#define __COVER_FILE_SOURCE_H__

#include "cover-source.h"

G_BEGIN_DECLS

/* The newest recording thumbnail of the client, as the thumbnail contract
 * (coverthumbnail.h) names them in <thumbnail_dir>/<client_id>/.  Returns
 * (transfer full). */
CoverSource *cover_record_source_new (const gchar *thumbnail_dir);
/* The cover the device uploaded last: cover_upload_path().  Returns
 * (transfer full). */
CoverSource *cover_upload_source_new (const gchar *upload_dir);
/* <upload_dir>/<client_id>, the one file of a device's uploads, replaced on
 * each upload (transfer full). */
gchar *cover_upload_path (const gchar *upload_dir, guint32 client_id);

G_END_DECLS

#endif /* __COVER_FILE_SOURCE_H__ */
