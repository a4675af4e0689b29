/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The sources of covers in files: recording thumbnails and uploads.  Each
 * watches one path per client (the thumbnail directory, whose mtime changes
 * whenever a thumbnail is renamed in or removed; the upload file, replaced
 * by rename) and keeps the picture read when that path last changed, so a
 * request for an unchanged cover costs a stat(), not a read. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-file-source.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cover-config.h"
#include "cover-source-private.h"
#include "coverthumbnail.h"

/* thumbnails and uploads are small; anything bigger is not ours */
#define MAX_FILE_SIZE COVER_CONFIG_MAX_UPLOAD_SIZE

typedef struct
{
  CoverSourceEntry base;
  /* the identity of the watched path when the picture was read */
  dev_t dev;
  ino_t ino;
  off_t size;
  gint64 mtime_ns;
} FileEntry;

typedef struct
{
  CoverSourceKind kind;
  gchar etag_prefix;
  gchar *dir;
  /* the path that changes whenever the client's picture does
   * (transfer full) */
  gchar *(*watched_path) (const gchar *dir, guint32 client_id);
  /* the file to read once @watched changed, or NULL: nothing there
   * (transfer full) */
  gchar *(*picture_path) (const gchar *watched);
  CoverSourceEntries entries; /* of FileEntry */
} FileSource;

static gint64
mtime_ns (const struct stat *st)
{
  return (gint64) st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static gboolean
same_file (const FileEntry *e, const struct stat *st)
{
  return e->dev == st->st_dev && e->ino == st->st_ino &&
      e->size == st->st_size && e->mtime_ns == mtime_ns (st);
}

static void
remember_file (FileEntry *e, const struct stat *st)
{
  e->dev = st->st_dev;
  e->ino = st->st_ino;
  e->size = st->st_size;
  e->mtime_ns = mtime_ns (st);
}

/* Reads a whole image file we (or the thumbnail writer) stored; its type
 * comes from its magic bytes, its ETag from the identity of what was read.
 * A missing file is no picture and no error. */
static CoverPicture *
read_picture (
    const gchar *path, CoverSourceKind kind, gchar etag_prefix, GError **error)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autofree gchar *etag = NULL;
  struct stat st;
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
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) ||
      st.st_size > MAX_FILE_SIZE) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
        "%s is not a cover file (or bigger than %d bytes)", path,
        MAX_FILE_SIZE);
    close (fd);
    return NULL;
  }
  buf = g_malloc (MAX (st.st_size, 1));
  while (done < (gsize) st.st_size) {
    ssize_t n = pread (fd, buf + done, st.st_size - done, done);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    done += n;
  }
  close (fd);
  bytes = g_bytes_new_take (buf, done);
  if (done != (gsize) st.st_size ||
      cover_image_type_from_magic (buf, done) == COVER_IMAGE_TYPE_UNKNOWN) {
    g_set_error (error, COVER_IMAGE_ERROR, COVER_IMAGE_ERROR_UNSUPPORTED,
        "%s is not a whole JPEG or PNG image", path);
    return NULL;
  }
  etag = g_strdup_printf ("\"%c%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER
                          "x-%" G_GINT64_MODIFIER "x\"",
      etag_prefix, (gint64) st.st_ino, (gint64) st.st_size, mtime_ns (&st));
  return cover_picture_new (bytes, etag, st.st_mtim.tv_sec, kind);
}

static CoverPicture *
file_lookup (gpointer user_data, guint32 client_id, GError **error)
{
  FileSource *src = user_data;
  g_autofree gchar *watched = src->watched_path (src->dir, client_id);
  CoverPicture *ret = NULL;
  struct stat st;
  FileEntry *e;

  if (stat (watched, &st) < 0)
    return NULL;

  g_mutex_lock (&src->entries.lock);
  e = cover_source_entries_get (&src->entries, client_id, sizeof (FileEntry));
  if (!same_file (e, &st)) {
    g_autofree gchar *path = src->picture_path (watched);

    cover_source_entry_clear (&e->base);
    remember_file (e, &st);
    if (path) {
      e->base.picture = read_picture (path, src->kind, src->etag_prefix, error);
      /* a failure is not remembered as "nothing there": try again */
      if (!e->base.picture)
        e->mtime_ns = -1;
    }
  }
  if (e->base.picture)
    ret = cover_picture_ref (e->base.picture);
  g_mutex_unlock (&src->entries.lock);
  return ret;
}

static void
file_entry_free (FileEntry *e)
{
  cover_source_entry_clear (&e->base);
  g_free (e);
}

static void
file_source_free (FileSource *src)
{
  cover_source_entries_clear (&src->entries);
  g_free (src->dir);
  g_free (src);
}

static CoverSource *
file_source_new (CoverSourceKind kind, gchar etag_prefix, const gchar *dir,
    gchar *(*watched_path) (const gchar *, guint32),
    gchar *(*picture_path) (const gchar *) )
{
  FileSource *src;

  g_return_val_if_fail (dir != NULL, NULL);

  src = g_new0 (FileSource, 1);
  src->kind = kind;
  src->etag_prefix = etag_prefix;
  src->dir = g_strdup (dir);
  src->watched_path = watched_path;
  src->picture_path = picture_path;
  cover_source_entries_init (&src->entries, (GDestroyNotify) file_entry_free);
  return cover_source_new (cover_source_kind_to_string (kind), file_lookup, src,
      (GDestroyNotify) file_source_free);
}

/* Record */

static gchar *
newest_thumbnail_path (const gchar *dir)
{
  g_autofree gchar *name = cover_thumbnail_newest (dir);

  return name ? g_build_filename (dir, name, NULL) : NULL;
}

CoverSource *
cover_record_source_new (const gchar *thumbnail_dir)
{
  return file_source_new (COVER_SOURCE_RECORD, 'R', thumbnail_dir,
      cover_thumbnail_dir, newest_thumbnail_path);
}

/* Upload */

gchar *
cover_upload_path (const gchar *upload_dir, guint32 client_id)
{
  g_autofree gchar *name = g_strdup_printf ("%u", client_id);

  g_return_val_if_fail (upload_dir != NULL, NULL);

  return g_build_filename (upload_dir, name, NULL);
}

CoverSource *
cover_upload_source_new (const gchar *upload_dir)
{
  return file_source_new (
      COVER_SOURCE_UPLOAD, 'U', upload_dir, cover_upload_path, g_strdup);
}
