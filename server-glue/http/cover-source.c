/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The cover source interface: pictures as the sources hand them out, the
 * source object the service's fallback chain holds, and the per-client
 * table the local sources keep their last answer in. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-source-private.h"

#include <libsoup/soup.h>

/* per source; beyond it, entries idle for a minute are dropped */
#define MAX_ENTRIES 4096
#define IDLE_ENTRY_US (60 * G_USEC_PER_SEC)

struct _CoverSource
{
  const gchar *name;
  CoverSourceLookupFunc lookup;
  CoverSourceLookupAsyncFunc lookup_async; /* or NULL */
  gpointer user_data;
  GDestroyNotify user_data_free;
};

G_DEFINE_QUARK (cover-source-error-quark, cover_source_error);

const gchar *
cover_source_kind_to_string (CoverSourceKind kind)
{
  switch (kind) {
    case COVER_SOURCE_LIVE:
      return "live";
    case COVER_SOURCE_RECORD:
      return "record";
    case COVER_SOURCE_UPLOAD:
      return "upload";
  }
  return "unknown";
}

CoverPicture *
cover_picture_new (
    GBytes *data, const gchar *etag, gint64 last_modified, CoverSourceKind kind)
{
  g_autoptr (GDateTime) dt = NULL;
  CoverPicture *p;
  gconstpointer bytes;
  gsize size;

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (etag != NULL, NULL);

  p = g_atomic_rc_box_new0 (CoverPicture);
  p->data = g_bytes_ref (data);
  bytes = g_bytes_get_data (data, &size);
  p->type = cover_image_type_from_magic (bytes, size);
  p->etag = g_strdup (etag);
  p->last_modified = last_modified;
  /* formatted once: every response for this picture carries it */
  dt = g_date_time_new_from_unix_utc (last_modified);
  p->last_modified_text = soup_date_time_to_string (dt, SOUP_DATE_HTTP);
  p->kind = kind;
  return p;
}

CoverPicture *
cover_picture_ref (CoverPicture *p)
{
  g_return_val_if_fail (p != NULL, NULL);

  return g_atomic_rc_box_acquire (p);
}

static void
picture_clear (CoverPicture *p)
{
  g_bytes_unref (p->data);
  g_free (p->etag);
  g_free (p->last_modified_text);
}

void
cover_picture_unref (CoverPicture *p)
{
  g_return_if_fail (p != NULL);

  g_atomic_rc_box_release_full (p, (GDestroyNotify) picture_clear);
}

const gchar *
cover_picture_get_etag (CoverPicture *p)
{
  g_return_val_if_fail (p != NULL, NULL);

  return p->etag;
}

static CoverSource *
source_new (const gchar *name, CoverSourceLookupFunc lookup,
    CoverSourceLookupAsyncFunc lookup_async, gpointer user_data,
    GDestroyNotify user_data_free)
{
  CoverSource *source = g_new0 (CoverSource, 1);

  source->name = name;
  source->lookup = lookup;
  source->lookup_async = lookup_async;
  source->user_data = user_data;
  source->user_data_free = user_data_free;
  return source;
}

CoverSource *
cover_source_new (const gchar *name, CoverSourceLookupFunc lookup,
    gpointer user_data, GDestroyNotify user_data_free)
{
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (lookup != NULL, NULL);

  return source_new (name, lookup, NULL, user_data, user_data_free);
}

CoverPicture *
cover_source_lookup (CoverSource *source, guint32 client_id, GError **error)
{
  g_return_val_if_fail (source != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!source->lookup)
    return NULL;
  return source->lookup (source->user_data, client_id, error);
}

CoverSource *
cover_source_new_async (const gchar *name, CoverSourceLookupAsyncFunc lookup,
    gpointer user_data, GDestroyNotify user_data_free)
{
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (lookup != NULL, NULL);

  return source_new (name, NULL, lookup, user_data, user_data_free);
}

gboolean
cover_source_is_async (CoverSource *source)
{
  g_return_val_if_fail (source != NULL, FALSE);

  return source->lookup_async != NULL;
}

void
cover_source_lookup_async (CoverSource *source, const CoverSourceQuery *query,
    CoverSourceReplyFunc reply, gpointer reply_data)
{
  g_return_if_fail (source != NULL && source->lookup_async != NULL);
  g_return_if_fail (query != NULL && query->context != NULL);
  g_return_if_fail (reply != NULL);

  source->lookup_async (source->user_data, query, reply, reply_data);
}

const gchar *
cover_source_get_name (CoverSource *source)
{
  g_return_val_if_fail (source != NULL, NULL);

  return source->name;
}

void
cover_source_free (CoverSource *source)
{
  if (!source)
    return;
  if (source->user_data_free)
    source->user_data_free (source->user_data);
  g_free (source);
}

void
cover_source_entries_init (
    CoverSourceEntries *entries, GDestroyNotify entry_free)
{
  g_mutex_init (&entries->lock);
  entries->table = g_hash_table_new_full (NULL, NULL, NULL, entry_free);
}

void
cover_source_entries_clear (CoverSourceEntries *entries)
{
  g_clear_pointer (&entries->table, g_hash_table_unref);
  g_mutex_clear (&entries->lock);
}

/* Drops the entries idle for long, or all when that is not enough. */
static void
make_room (GHashTable *table, gint64 now)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, table);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    if (now - ((CoverSourceEntry *) value)->used > IDLE_ENTRY_US)
      g_hash_table_iter_remove (&it);
  }
  if (g_hash_table_size (table) >= MAX_ENTRIES)
    g_hash_table_remove_all (table);
}

gpointer
cover_source_entries_get (
    CoverSourceEntries *entries, guint32 client_id, gsize entry_size)
{
  CoverSourceEntry *e =
      g_hash_table_lookup (entries->table, GUINT_TO_POINTER (client_id));
  gint64 now = g_get_monotonic_time ();

  if (!e) {
    if (g_hash_table_size (entries->table) >= MAX_ENTRIES)
      make_room (entries->table, now);
    e = g_malloc0 (entry_size);
    g_hash_table_insert (entries->table, GUINT_TO_POINTER (client_id), e);
  }
  e->used = now;
  return e;
}

void
cover_source_entries_remove (CoverSourceEntries *entries, guint32 client_id)
{
  g_hash_table_remove (entries->table, GUINT_TO_POINTER (client_id));
}

void
cover_source_entry_clear (CoverSourceEntry *entry)
{
  g_clear_pointer (&entry->picture, cover_picture_unref);
}
