/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The RTSP URL contract of the ingest: /live/<client_id>[/<control>]. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-ingest-private.h"

#include <string.h>

#include "coverid.h"

gboolean
cover_ingest_cid_from_path (const gchar *path, gboolean sub, guint32 *cid)
{
  const gchar *p, *end;

  if (!path || !g_str_has_prefix (path, COVER_INGEST_MOUNT_PATH "/"))
    return FALSE;
  p = path + strlen (COVER_INGEST_MOUNT_PATH "/");
  end = strchr (p, '/');
  if (end && !sub)
    return FALSE;
  return cover_client_id_parse (p, end ? end - p : -1, cid);
}
