/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_STORE_H__
#define __COVER_STORE_H__

#include <glib.h>

G_BEGIN_DECLS

/* The on-disk (tmpfs) layout is documented in gst-docs/cover-store.md and
 * pinned by static assertions in coverstore.c.  All integers are in host
 * byte order (the store never leaves the host). */
#define COVER_STORE_MAGIC "CVRSNAP" /* 8 bytes with the NUL */
#define COVER_STORE_VERSION 1
#define COVER_STORE_HEADER_SIZE 4096
#define COVER_STORE_NO_SLOT 0xffffffffu
#define COVER_STORE_FILE_PREFIX "coversnap."
/* The largest JPEG a segment holds: writers refuse more, readers never
 * allocate more whatever a segment claims. */
#define COVER_STORE_MAX_IMAGE_SIZE (64 * 1024 * 1024)

#define COVER_STORE_ERROR (cover_store_error_quark ())
GQuark cover_store_error_quark (void);

typedef enum
{
  COVER_STORE_ERROR_NOT_FOUND, /* no segment for this client id */
  COVER_STORE_ERROR_INVALID,   /* not a cover segment, or a foreign version */
  COVER_STORE_ERROR_EMPTY,     /* segment exists, no image published yet */
  COVER_STORE_ERROR_BUSY,      /* writer kept rewriting the slot being read */
  COVER_STORE_ERROR_IO,        /* system call failed */
  COVER_STORE_ERROR_IN_USE,    /* another live writer has this client id */
  COVER_STORE_ERROR_NO_SPACE,  /* the store's file system is full */
} CoverStoreError;

typedef struct
{
  guint32 client_id;
  guint64 generation;  /* per client id, grows with every image */
  gint64 capture_time; /* wall clock, microseconds since the epoch */
  guint32 width;
  guint32 height;
  gsize size; /* bytes of JPEG */
  gint32 writer_pid;
  gint64 writer_start; /* wall clock, µs, when the writer opened */
  gint64 heartbeat;    /* CLOCK_MONOTONIC µs of the last buffer seen */
  gboolean ended;      /* the writer said the stream ended */
  gboolean live;       /* writer alive, heartbeat fresh, not ended */
} CoverInfo;

typedef struct _CoverStoreWriter CoverStoreWriter;
typedef struct _CoverStoreReader CoverStoreReader;

/* The store directory every default names (transfer full), the same for a
 * writer and its readers of one user: $XDG_RUNTIME_DIR/coversnap when
 * XDG_RUNTIME_DIR is set (absolute), else /run/coversnap for root, else
 * /dev/shm/coversnap-<uid> (<tmp>/coversnap-<uid> without /dev/shm).  Only
 * computes the path: cover_store_prepare_dir() makes it. */
gchar *cover_store_default_dir (void);
/* Makes @dir fit to hold the store of this user: creates it with mode 0700
 * if it is missing (not its parents), and refuses (COVER_STORE_ERROR_INVALID)
 * a link, a non-directory, a directory of another uid, or one that the
 * group may write or others may use. */
gboolean cover_store_prepare_dir (const gchar *dir, GError **error);
/* The store directory to use for @dir (may be NULL: the default), transfer
 * full; the default directory, whether NULL or named, is prepared first
 * (cover_store_prepare_dir()): NULL with @error set when it is refused.  A
 * directory the operator chose is used as it is (/dev/shm too). */
gchar *cover_store_resolve_dir (const gchar *dir, GError **error);

/* <dir>/coversnap.<client_id> (transfer full) */
gchar *cover_store_path (const gchar *dir, guint32 client_id);

/* Creates the segment of @client_id in @dir with permission bits @mode,
 * replacing a dead writer's.  Returns the writer (transfer full:
 * cover_store_writer_close()), or NULL with @error set
 * (COVER_STORE_ERROR_IN_USE when a live writer has @client_id,
 * COVER_STORE_ERROR_NO_SPACE when the store is full: try again later). */
CoverStoreWriter *cover_store_writer_open (
    const gchar *dir, guint32 client_id, guint mode, GError **error);
/* Copies @data (transfer none) into the segment as the latest image;
 * COVER_STORE_ERROR_NO_SPACE when the store is full (the previous image
 * stays, the next publish tries again). */
gboolean cover_store_writer_publish (CoverStoreWriter *writer,
    const guint8 *data, gsize size, guint32 width, guint32 height,
    gint64 capture_time, guint64 *generation, GError **error);
void cover_store_writer_heartbeat (CoverStoreWriter *writer);
void cover_store_writer_set_ended (CoverStoreWriter *writer, gboolean ended);
/* (transfer none): owned by @writer */
const gchar *cover_store_writer_get_path (CoverStoreWriter *writer);
/* Marks the segment ended and frees @writer (transfer full); removes the
 * file if @unlink_file, unless a newer writer replaced it. */
void cover_store_writer_close (CoverStoreWriter *writer, gboolean unlink_file);

/* A reader is not thread-safe: use one per thread (or lock around it).
 * Returns the reader (transfer full: cover_store_reader_free()), or NULL
 * with @error set. */
CoverStoreReader *cover_store_reader_open (
    const gchar *dir, guint32 client_id, GError **error);
/* Fills @info; on COVER_STORE_ERROR_EMPTY still with the writer's fields. */
gboolean cover_store_reader_get_info (CoverStoreReader *reader,
    gint64 live_timeout_us, CoverInfo *info, GError **error);
/* A copy of the latest image (transfer full), @info (may be NULL) filled;
 * or NULL with @error set. */
GBytes *cover_store_reader_read (CoverStoreReader *reader,
    gint64 live_timeout_us, CoverInfo *info, GError **error);
/* By default every call looks for a replaced segment (a stat) and a dead
 * writer (kill (pid, 0)); a busy reader may do that at most once per
 * @interval_us instead (the heartbeat and ended flag are always read). */
void cover_store_reader_set_recheck_interval (
    CoverStoreReader *reader, gint64 interval_us);
void cover_store_reader_free (CoverStoreReader *reader);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CoverStoreReader, cover_store_reader_free);

G_END_DECLS

#endif /* __COVER_STORE_H__ */
