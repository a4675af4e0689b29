/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The live source: a reader of the cover store per client, and the picture
 * of the generation it read last, so that a request for an unchanged cover
 * costs a look at shared memory, not a copy. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-live-source.h"

#include "cover-source-private.h"
#include "coverstore.h"

/* a writer that died or was replaced is noticed within this */
#define RECHECK_US (100 * 1000)

static guint64 live_images_read;

typedef struct
{
  CoverSourceEntry base;
  CoverStoreReader *reader;
  guint64 generation;
  gint64 writer_start;
} LiveEntry;

typedef struct
{
  gchar *store_dir;
  gboolean refused; /* the default store dir is not private: never read */
  gint64 live_timeout_us;
  CoverSourceEntries entries; /* of LiveEntry */
} LiveSource;

guint64
cover_live_source_get_images_read (void)
{
  return __atomic_load_n (&live_images_read, __ATOMIC_RELAXED);
}

static void
live_entry_free (LiveEntry *e)
{
  cover_source_entry_clear (&e->base);
  g_clear_pointer (&e->reader, cover_store_reader_free);
  g_free (e);
}

static CoverPicture *
live_lookup (gpointer user_data, guint32 client_id, GError **error)
{
  LiveSource *src = user_data;
  CoverPicture *ret = NULL;
  GError *err = NULL;
  CoverInfo info;
  LiveEntry *e;

  if (src->refused)
    return NULL;
  g_mutex_lock (&src->entries.lock);
  e = cover_source_entries_get (&src->entries, client_id, sizeof (LiveEntry));
  if (!e->reader) {
    e->reader = cover_store_reader_open (src->store_dir, client_id, &err);
    if (!e->reader)
      goto failed;
    /* its heartbeat and ended flag are read on every request */
    cover_store_reader_set_recheck_interval (e->reader, RECHECK_US);
  }
  if (!cover_store_reader_get_info (
          e->reader, src->live_timeout_us, &info, &err))
    goto failed;
  if (!info.live) {
    /* an ended or stale stream keeps no fd and mapping here: a device
     * asked for once would hold them for good (a new push opens anew) */
    cover_source_entries_remove (&src->entries, client_id);
    goto out;
  }

  if (!e->base.picture || e->generation != info.generation ||
      e->writer_start != info.writer_start) {
    g_autoptr (GBytes) jpeg = NULL;
    g_autofree gchar *etag = NULL;

    /* the one copy of a new image out of shared memory */
    jpeg =
        cover_store_reader_read (e->reader, src->live_timeout_us, &info, &err);
    if (!jpeg)
      goto failed;
    etag =
        g_strdup_printf ("\"L%" G_GINT64_MODIFIER "x-%" G_GUINT64_FORMAT "\"",
            info.writer_start, info.generation);
    cover_source_entry_clear (&e->base);
    e->base.picture = cover_picture_new (
        jpeg, etag, info.capture_time / G_USEC_PER_SEC, COVER_SOURCE_LIVE);
    e->generation = info.generation;
    e->writer_start = info.writer_start;
    __atomic_fetch_add (&live_images_read, 1, __ATOMIC_RELAXED);
  }
  ret = cover_picture_ref (e->base.picture);

out:
  g_mutex_unlock (&src->entries.lock);
  return ret;

failed:
  /* no segment, or no image yet: simply not live */
  if (g_error_matches (err, COVER_STORE_ERROR, COVER_STORE_ERROR_NOT_FOUND) ||
      g_error_matches (err, COVER_STORE_ERROR, COVER_STORE_ERROR_EMPTY))
    g_clear_error (&err);
  else
    g_propagate_error (error, err);
  /* reopen next time: the segment may be replaced by a new writer */
  cover_source_entries_remove (&src->entries, client_id);
  goto out;
}

static void
live_source_free (LiveSource *src)
{
  cover_source_entries_clear (&src->entries);
  g_free (src->store_dir);
  g_free (src);
}

CoverSource *
cover_live_source_new (const gchar *store_dir, gint64 live_timeout_us)
{
  LiveSource *src;

  g_return_val_if_fail (store_dir != NULL, NULL);

  src = g_new0 (LiveSource, 1);
  src->store_dir = g_strdup (store_dir);
  {
    g_autoptr (GError) err = NULL;
    g_autofree gchar *dir = NULL;

    /* the default directory is made private here as covertap makes it
     * (whichever starts first), and refused if someone else planted it;
     * a configured one is the operator's (e.g. /dev/shm) */
    dir = cover_store_resolve_dir (store_dir, &err);
    if (!dir) {
      g_warning ("live covers are off: %s", err->message);
      src->refused = TRUE;
    }
  }
  src->live_timeout_us = live_timeout_us;
  cover_source_entries_init (&src->entries, (GDestroyNotify) live_entry_free);
  return cover_source_new (cover_source_kind_to_string (COVER_SOURCE_LIVE),
      live_lookup, src, (GDestroyNotify) live_source_free);
}
