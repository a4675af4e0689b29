/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The three local cover sources.  Each keeps, per client, the picture it
 * handed out last and the identity of what it came from (generation, or
 * inode/size/mtime), so that a request for an unchanged cover costs a
 * stat() or a look at shared memory, not a read. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-source.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coverstore.h"

#include <libsoup/soup.h>

/* per source; beyond it, entries idle for a minute are dropped */
#define MAX_ENTRIES 4096
#define IDLE_ENTRY_US (60 * G_USEC_PER_SEC)
/* thumbnails and uploads are small; anything bigger is not ours */
#define MAX_FILE_SIZE (32 * 1024 * 1024)
#define RECHECK_US (100 * 1000)

static guint64 live_images_read;

guint64
cover_live_source_get_images_read (void)
{
  return __atomic_load_n (&live_images_read, __ATOMIC_RELAXED);
}

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
    case COVER_SOURCE_REMOTE:
      return "remote";
  }
  return "unknown";
}

CoverPicture *
cover_picture_new (GBytes *data, CoverImageType type, const gchar *etag,
    gint64 last_modified, CoverSourceKind kind)
{
  CoverPicture *p = g_atomic_rc_box_new0 (CoverPicture);

  p->data = g_bytes_ref (data);
  p->type = type;
  p->etag = g_strdup (etag);
  p->last_modified = last_modified;
  {
    /* formatted once: every response for this picture carries it */
    g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (last_modified);

    p->last_modified_text = soup_date_time_to_string (dt, SOUP_DATE_HTTP);
  }
  p->kind = kind;
  return p;
}

CoverPicture *
cover_picture_ref (CoverPicture *p)
{
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
  g_atomic_rc_box_release_full (p, (GDestroyNotify) picture_clear);
}

void
cover_source_free (CoverSource *source)
{
  if (source)
    source->free (source);
}

/* Entries shared by the three sources: what was handed out, and where from */
typedef struct
{
  CoverPicture *picture;    /* may be NULL: "nothing there" is cached too */
  CoverStoreReader *reader; /* live only */
  guint64 generation;
  gint64 writer_start;
  dev_t dev;
  ino_t ino;
  off_t size;
  gint64 mtime_ns;
  gint64 used;
} Entry;

static void
entry_free (Entry *e)
{
  g_clear_pointer (&e->picture, cover_picture_unref);
  g_clear_pointer (&e->reader, cover_store_reader_free);
  g_free (e);
}

typedef struct
{
  CoverSource parent;
  gchar *dir;
  gint64 live_timeout_us;
  GMutex lock;
  GHashTable *entries; /* client id → Entry */
} FileSource;

static Entry *
get_entry (FileSource *src, guint32 client_id)
{
  Entry *e = g_hash_table_lookup (src->entries, GUINT_TO_POINTER (client_id));
  gint64 now = g_get_monotonic_time ();

  if (!e) {
    if (g_hash_table_size (src->entries) >= MAX_ENTRIES) {
      GHashTableIter it;
      gpointer value;

      g_hash_table_iter_init (&it, src->entries);
      while (g_hash_table_iter_next (&it, NULL, &value)) {
        if (now - ((Entry *) value)->used > IDLE_ENTRY_US)
          g_hash_table_iter_remove (&it);
      }
      if (g_hash_table_size (src->entries) >= MAX_ENTRIES)
        g_hash_table_remove_all (src->entries);
    }
    e = g_new0 (Entry, 1);
    g_hash_table_insert (src->entries, GUINT_TO_POINTER (client_id), e);
  }
  e->used = now;
  return e;
}

static void
file_source_free (CoverSource *source)
{
  FileSource *src = (FileSource *) source;

  g_hash_table_unref (src->entries);
  g_mutex_clear (&src->lock);
  g_free (src->dir);
  g_free (src);
}

static FileSource *
file_source_new (CoverSourceKind kind, const gchar *dir,
    CoverPicture *(*lookup) (CoverSource *, guint32, GError **) )
{
  FileSource *src = g_new0 (FileSource, 1);

  src->parent.kind = kind;
  src->parent.lookup = lookup;
  src->parent.free = file_source_free;
  src->dir = g_strdup (dir);
  g_mutex_init (&src->lock);
  src->entries =
      g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) entry_free);
  return src;
}

/* Live */

static CoverPicture *
live_lookup (CoverSource *source, guint32 client_id, GError **error)
{
  FileSource *src = (FileSource *) source;
  CoverPicture *ret = NULL;
  GError *err = NULL;
  CoverInfo info;
  Entry *e;

  g_mutex_lock (&src->lock);
  e = get_entry (src, client_id);
  if (!e->reader) {
    e->reader = cover_store_reader_open (src->dir, client_id, &err);
    if (!e->reader)
      goto failed;
    /* a writer that died or was replaced is noticed within this; its
     * heartbeat and ended flag are read on every request */
    cover_store_reader_set_recheck_interval (e->reader, RECHECK_US);
  }
  if (!cover_store_reader_get_info (
          e->reader, src->live_timeout_us, &info, &err))
    goto failed;
  if (!info.live)
    goto out;

  if (!e->picture || e->generation != info.generation ||
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
    g_clear_pointer (&e->picture, cover_picture_unref);
    e->picture = cover_picture_new (jpeg, COVER_IMAGE_TYPE_JPEG, etag,
        info.capture_time / G_USEC_PER_SEC, COVER_SOURCE_LIVE);
    e->generation = info.generation;
    e->writer_start = info.writer_start;
    __atomic_fetch_add (&live_images_read, 1, __ATOMIC_RELAXED);
  }
  ret = cover_picture_ref (e->picture);

out:
  g_mutex_unlock (&src->lock);
  return ret;

failed:
  /* no segment, or no image yet: simply not live */
  if (g_error_matches (err, COVER_STORE_ERROR, COVER_STORE_ERROR_NOT_FOUND) ||
      g_error_matches (err, COVER_STORE_ERROR, COVER_STORE_ERROR_EMPTY))
    g_clear_error (&err);
  else
    g_propagate_error (error, err);
  /* reopen next time: the segment may be replaced by a new writer */
  g_hash_table_remove (src->entries, GUINT_TO_POINTER (client_id));
  goto out;
}

CoverSource *
cover_live_source_new (const gchar *store_dir, gint64 live_timeout_us)
{
  FileSource *src = file_source_new (COVER_SOURCE_LIVE, store_dir, live_lookup);

  src->live_timeout_us = live_timeout_us;
  return &src->parent;
}

/* Files (record, upload) */

static gint64
mtime_ns (const struct stat *st)
{
  return (gint64) st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static gboolean
same_file (const Entry *e, const struct stat *st)
{
  return e->dev == st->st_dev && e->ino == st->st_ino &&
      e->size == st->st_size && e->mtime_ns == mtime_ns (st);
}

static void
remember_file (Entry *e, const struct stat *st)
{
  e->dev = st->st_dev;
  e->ino = st->st_ino;
  e->size = st->st_size;
  e->mtime_ns = mtime_ns (st);
}

/* Reads a whole image file we (or the thumbnail writer) stored; its type
 * comes from its magic bytes.  @st gets the identity of what was read. */
static CoverPicture *
read_picture (const gchar *path, CoverSourceKind kind, gchar prefix,
    struct stat *st, GError **error)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autofree gchar *etag = NULL;
  CoverImageType type;
  guint8 *buf;
  gsize done = 0;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT)
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
          "Could not open %s: %s", path, g_strerror (errno));
    return NULL;
  }
  if (fstat (fd, st) < 0 || !S_ISREG (st->st_mode) ||
      st->st_size > MAX_FILE_SIZE) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
        "%s is not a cover file (or bigger than %d bytes)", path,
        MAX_FILE_SIZE);
    close (fd);
    return NULL;
  }
  buf = g_malloc (MAX (st->st_size, 1));
  while (done < (gsize) st->st_size) {
    ssize_t n = pread (fd, buf + done, st->st_size - done, done);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    done += n;
  }
  close (fd);
  bytes = g_bytes_new_take (buf, done);
  type = cover_image_type_from_magic (buf, done);
  if (done != (gsize) st->st_size || type == COVER_IMAGE_TYPE_UNKNOWN) {
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_UNSUPPORTED,
        "%s is not a whole JPEG or PNG image", path);
    return NULL;
  }
  etag = g_strdup_printf ("\"%c%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER
                          "x-%" G_GINT64_MODIFIER "x\"",
      prefix, (gint64) st->st_ino, (gint64) st->st_size, mtime_ns (st));
  return cover_picture_new (bytes, type, etag, st->st_mtim.tv_sec, kind);
}

/* Record: the newest thumbnail of <dir>/<client_id>/.  The directory's
 * mtime changes whenever a thumbnail is added (by rename) or removed, so
 * while it stays, the cached answer stands. */
static gchar *
newest_thumbnail (const gchar *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  gchar *best = NULL;

  if (!d)
    return NULL;
  while ((name = g_dir_read_name (d))) {
    if (name[0] == '.' || !g_str_has_suffix (name, ".jpg"))
      continue;
    if (!best || strcmp (name, best) > 0) {
      g_free (best);
      best = g_strdup (name);
    }
  }
  return best;
}

static CoverPicture *
record_lookup (CoverSource *source, guint32 client_id, GError **error)
{
  FileSource *src = (FileSource *) source;
  g_autofree gchar *dir = NULL;
  g_autofree gchar *name = NULL;
  CoverPicture *ret = NULL;
  struct stat st, file_st;
  gchar id[16];
  Entry *e;

  g_snprintf (id, sizeof (id), "%u", client_id);
  dir = g_build_filename (src->dir, id, NULL);
  if (stat (dir, &st) < 0)
    return NULL;

  g_mutex_lock (&src->lock);
  e = get_entry (src, client_id);
  if (!same_file (e, &st)) {
    g_clear_pointer (&e->picture, cover_picture_unref);
    remember_file (e, &st);
    name = newest_thumbnail (dir);
    if (name) {
      g_autofree gchar *path = g_build_filename (dir, name, NULL);

      e->picture =
          read_picture (path, COVER_SOURCE_RECORD, 'R', &file_st, error);
      if (!e->picture)
        e->mtime_ns = -1; /* try again next time */
    }
  }
  if (e->picture)
    ret = cover_picture_ref (e->picture);
  g_mutex_unlock (&src->lock);
  return ret;
}

CoverSource *
cover_record_source_new (const gchar *thumbnail_dir)
{
  return &file_source_new (COVER_SOURCE_RECORD, thumbnail_dir, record_lookup)
              ->parent;
}

/* Upload: one file per client, replaced by rename on each upload */

gchar *
cover_upload_path (const gchar *upload_dir, guint32 client_id)
{
  gchar name[16];

  g_snprintf (name, sizeof (name), "%u", client_id);
  return g_build_filename (upload_dir, name, NULL);
}

static CoverPicture *
upload_lookup (CoverSource *source, guint32 client_id, GError **error)
{
  FileSource *src = (FileSource *) source;
  g_autofree gchar *path = cover_upload_path (src->dir, client_id);
  CoverPicture *ret = NULL;
  struct stat st;
  Entry *e;

  if (stat (path, &st) < 0)
    return NULL;

  g_mutex_lock (&src->lock);
  e = get_entry (src, client_id);
  if (!e->picture || !same_file (e, &st)) {
    g_clear_pointer (&e->picture, cover_picture_unref);
    e->picture = read_picture (path, COVER_SOURCE_UPLOAD, 'U', &st, error);
    remember_file (e, &st);
  }
  if (e->picture)
    ret = cover_picture_ref (e->picture);
  g_mutex_unlock (&src->lock);
  return ret;
}

CoverSource *
cover_upload_source_new (const gchar *upload_dir)
{
  return &file_source_new (COVER_SOURCE_UPLOAD, upload_dir, upload_lookup)
              ->parent;
}
