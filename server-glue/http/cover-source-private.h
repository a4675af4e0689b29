/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_SOURCE_PRIVATE_H__
#define __COVER_SOURCE_PRIVATE_H__

#include "cover-image.h"
#include "cover-source.h"

G_BEGIN_DECLS

/* Inside the library the handlers read a picture's fields directly. */
struct _CoverPicture
{
  GBytes *data;
  CoverImageType type;
  gchar *etag;
  gint64 last_modified;      /* Unix seconds */
  gchar *last_modified_text; /* the same as an HTTP date */
  CoverSourceKind kind;
};

/* The start of what a local source keeps per client: the picture it handed
 * out last (NULL: "nothing there" is remembered too) and when the entry was
 * last used. */
typedef struct
{
  CoverPicture *picture;
  gint64 used;
} CoverSourceEntry;

/* What a local source keeps: client id → entry, under a lock that the
 * source holds while it looks at an entry. */
typedef struct
{
  GMutex lock;
  GHashTable *table;
} CoverSourceEntries;

/* Entries are freed with @entry_free. */
void cover_source_entries_init (
    CoverSourceEntries *entries, GDestroyNotify entry_free);
void cover_source_entries_clear (CoverSourceEntries *entries);
/* The entry of @client_id, a zeroed one of @entry_size bytes when there was
 * none (transfer none).  The table stays bounded: beyond a few thousand
 * clients, entries idle for a minute are dropped.  Caller holds the lock. */
gpointer cover_source_entries_get (
    CoverSourceEntries *entries, guint32 client_id, gsize entry_size);
/* Drops the entry of @client_id.  Caller holds the lock. */
void cover_source_entries_remove (
    CoverSourceEntries *entries, guint32 client_id);
void cover_source_entry_clear (CoverSourceEntry *entry);

G_END_DECLS

#endif /* __COVER_SOURCE_PRIVATE_H__ */
