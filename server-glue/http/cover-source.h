/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_SOURCE_H__
#define __COVER_SOURCE_H__

#include <glib.h>

#include "cover-image.h"

G_BEGIN_DECLS

typedef enum
{
  COVER_SOURCE_LIVE,
  COVER_SOURCE_RECORD,
  COVER_SOURCE_UPLOAD,
  COVER_SOURCE_REMOTE,
} CoverSourceKind;

const gchar *cover_source_kind_to_string (CoverSourceKind kind);

/* One cover as a source hands it out: immutable and reference counted, so
 * every HTTP thread can serve the same bytes without copying them. */
typedef struct
{
  GBytes *data;
  CoverImageType type;
  gchar *etag;               /* strong, with its quotes */
  gint64 last_modified;      /* Unix seconds */
  gchar *last_modified_text; /* the same as an HTTP date */
  CoverSourceKind kind;
} CoverPicture;

CoverPicture *cover_picture_new (GBytes *data, CoverImageType type,
    const gchar *etag, gint64 last_modified, CoverSourceKind kind);
CoverPicture *cover_picture_ref (CoverPicture *picture);
void cover_picture_unref (CoverPicture *picture);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CoverPicture, cover_picture_unref);

/* Where a cover comes from.  The service asks its sources in order; the
 * first one with a picture wins.  lookup() is called from any HTTP thread
 * and must be thread-safe; it must not block beyond a bounded read.  It
 * returns NULL without an error when it has nothing for the client, and NULL
 * with an error when it failed (the service logs it and goes on). */
typedef struct _CoverSource CoverSource;
struct _CoverSource
{
  CoverSourceKind kind;
  CoverPicture *(*lookup) (
      CoverSource *source, guint32 client_id, GError **error);
  void (*free) (CoverSource *source);
};

/* The live cover of a client's stream, from the cover store; only while its
 * writer is live.  Each new image is copied out of shared memory once. */
CoverSource *cover_live_source_new (
    const gchar *store_dir, gint64 live_timeout_us);
/* The newest recording thumbnail: the greatest name among the *.jpg files
 * of <thumbnail_dir>/<client_id>/ (names sort by capture time). */
CoverSource *cover_record_source_new (const gchar *thumbnail_dir);
/* The cover the device uploaded: <upload_dir>/<client_id>. */
CoverSource *cover_upload_source_new (const gchar *upload_dir);
gchar *cover_upload_path (const gchar *upload_dir, guint32 client_id);
/* New live images copied out of the cover store by this process. */
guint64 cover_live_source_get_images_read (void);

void cover_source_free (CoverSource *source);

G_END_DECLS

#endif /* __COVER_SOURCE_H__ */
