/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The cover store: one shared-memory segment (a file on tmpfs) per stream,
 * holding the latest JPEG of that stream in a seqlock-guarded double
 * buffer.  One writer (the covertap element), any number of readers in any
 * process on the host.  Readers never block the writer; a reader that races
 * a publish simply retries.  See gst-docs/cover-store.md. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "coverstore.h"
#include "coverid.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

typedef struct
{
  guint32 seq; /* seqlock: odd while the slot is written */
  guint32 reserved0;
  guint64 generation;
  gint64 capture_time; /* wall clock µs */
  guint32 width;
  guint32 height;
  guint64 offset; /* of the JPEG bytes, from the file start */
  guint64 capacity;
  guint64 size;
  guint64 reserved1;
} CoverSlot; /* 64 bytes */

typedef struct
{
  gchar magic[8];
  guint32 version;
  guint32 header_size;
  guint32 client_id;
  gint32 writer_pid;
  gint64 writer_start; /* wall clock µs */
  gint64 heartbeat;    /* CLOCK_MONOTONIC µs */
  guint32 ended;
  guint32 active; /* slot holding the latest image */
  guint64 reserved[2];
  CoverSlot slots[2];
} CoverHeader;

G_STATIC_ASSERT (sizeof (CoverSlot) == 64);
G_STATIC_ASSERT (offsetof (CoverHeader, writer_pid) == 20);
G_STATIC_ASSERT (offsetof (CoverHeader, heartbeat) == 32);
G_STATIC_ASSERT (offsetof (CoverHeader, ended) == 40);
G_STATIC_ASSERT (offsetof (CoverHeader, active) == 44);
G_STATIC_ASSERT (offsetof (CoverHeader, slots) == 64);
G_STATIC_ASSERT (sizeof (CoverHeader) == 192);
G_STATIC_ASSERT (sizeof (CoverHeader) <= COVER_STORE_HEADER_SIZE);

#define INITIAL_SLOT_CAPACITY (256 * 1024)
#define CAPACITY_ALIGN (64 * 1024)
#define READ_ATTEMPTS 1000
/* where the seq of slot @a is in the file */
#define SLOT_SEQ_OFFSET(a)                                                     \
  (G_STRUCT_OFFSET (CoverHeader, slots) + (a) * sizeof (CoverSlot))

G_DEFINE_QUARK (cover-store-error-quark, cover_store_error);

struct _CoverStoreWriter
{
  GMutex lock; /* serialises publish and close */
  gchar *path;
  int fd;
  CoverHeader *hdr; /* fixed mapping of the header page */
  guint8 *data;     /* mapping of the whole file, remapped on growth */
  gsize data_len;
  guint64 generation;
};

struct _CoverStoreReader
{
  gchar *path;
  guint32 client_id;
  int fd;
  dev_t dev;
  ino_t ino;
  CoverHeader hdr; /* the last header read */
  /* how often to look for a replaced segment and a dead writer */
  gint64 recheck_us;
  gint64 refreshed_at;
  gint64 pid_checked_at;
  gint32 pid_checked;
  gboolean pid_was_alive;
};

gchar *
cover_store_path (const gchar *dir, guint32 client_id)
{
  gchar name[32];

  g_return_val_if_fail (dir != NULL, NULL);

  g_snprintf (name, sizeof (name), COVER_STORE_FILE_PREFIX "%u", client_id);
  return g_build_filename (dir, name, NULL);
}

static gsize
align_up (gsize v, gsize a)
{
  return (v + a - 1) / a * a;
}

static gboolean
header_is_valid (const CoverHeader *hdr, gsize file_len, guint32 client_id)
{
  return memcmp (hdr->magic, COVER_STORE_MAGIC, 8) == 0 &&
      hdr->version == COVER_STORE_VERSION &&
      hdr->header_size == COVER_STORE_HEADER_SIZE &&
      hdr->client_id == client_id && file_len >= COVER_STORE_HEADER_SIZE;
}

static gboolean
set_errno_error (GError **error, int err, const gchar *what, const gchar *path)
{
  CoverStoreError code = COVER_STORE_ERROR_IO;

  if (err == ENOENT)
    code = COVER_STORE_ERROR_NOT_FOUND;
  else if (err == ENOSPC || err == EDQUOT || err == EFBIG)
    code = COVER_STORE_ERROR_NO_SPACE; /* may pass: a caller retries */
  g_set_error (error, COVER_STORE_ERROR, code, "%s %s: %s", what, path,
      g_strerror (err));
  return FALSE;
}

gchar *
cover_store_default_dir (void)
{
  const gchar *runtime = g_getenv ("XDG_RUNTIME_DIR");
  g_autofree gchar *name = NULL;

  /* the session's private tmpfs (0700, ours, made by logind) */
  if (runtime && g_path_is_absolute (runtime))
    return g_canonicalize_filename ("coversnap", runtime);
  if (geteuid () == 0)
    return g_strdup ("/run/coversnap");
  /* No runtime dir (a service account, cron, ssh without logind): a
   * directory of our own on tmpfs.  Its name is guessable, so another user
   * may plant it first; cover_store_prepare_dir() then refuses it (owner,
   * mode, no link) instead of writing into it. */
  name = g_strdup_printf ("coversnap-%u", (guint) geteuid ());
  if (g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR))
    return g_build_filename ("/dev/shm", name, NULL);
  return g_build_filename (g_get_tmp_dir (), name, NULL);
}

gboolean
cover_store_prepare_dir (const gchar *dir, GError **error)
{
  struct stat st;

  g_return_val_if_fail (dir != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* mkdir never follows a link in its last component, and fails if
   * anything is there already: then what is there is checked */
  if (mkdir (dir, 0700) < 0 && errno != EEXIST) {
    int e = errno;

    g_set_error (error, COVER_STORE_ERROR, COVER_STORE_ERROR_IO,
        "Could not create the cover store directory %s: %s", dir,
        g_strerror (e));
    return FALSE;
  }
  if (lstat (dir, &st) < 0)
    return set_errno_error (
        error, errno, "Could not stat the cover store directory", dir);
  if (!S_ISDIR (st.st_mode) || st.st_uid != geteuid () ||
      (st.st_mode & (S_IWGRP | S_IRWXO))) {
    g_set_error (error, COVER_STORE_ERROR, COVER_STORE_ERROR_INVALID,
        "The cover store directory %s is not private: it must be a "
        "directory (not a link) of uid %u with mode 0700 or 0750, it is a "
        "%s of uid %u with mode %04o; remove it or set store-dir",
        dir, (guint) geteuid (),
        S_ISLNK (st.st_mode)       ? "link"
            : S_ISDIR (st.st_mode) ? "directory"
                                   : "file",
        (guint) st.st_uid, (guint) (st.st_mode & 07777));
    return FALSE;
  }
  return TRUE;
}

gchar *
cover_store_resolve_dir (const gchar *dir, GError **error)
{
  g_autofree gchar *default_dir = cover_store_default_dir ();

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (dir && !g_str_equal (dir, default_dir))
    return g_strdup (dir);
  if (!cover_store_prepare_dir (default_dir, error))
    return NULL;
  return g_steal_pointer (&default_dir);
}

/* The highest generation a previous writer reached, so that generations
 * (and the ETags built from them) never repeat for a client id.  Nothing
 * else of a leftover segment is trusted. */
static guint64
previous_generation (const gchar *path, guint32 client_id)
{
  CoverHeader hdr;
  struct stat st;
  guint64 gen = 0;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return 0;
  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode) &&
      pread (fd, &hdr, sizeof (hdr), 0) == (ssize_t) sizeof (hdr) &&
      header_is_valid (&hdr, st.st_size, client_id))
    gen = MAX (hdr.slots[0].generation, hdr.slots[1].generation);
  close (fd);
  return gen;
}

/* tmpfs allocates pages on first write, and a write through a mapping that
 * finds the file system full is a SIGBUS: allocate before writing, so that a
 * full store is an error instead. */
static gboolean
allocate (int fd, const gchar *path, gsize offset, gsize len, GError **error)
{
  int res;

  if (len == 0)
    return TRUE;
  res = posix_fallocate (fd, offset, len);
  if (res != 0)
    return set_errno_error (error, res, "No room for the cover in", path);
  return TRUE;
}

/* Whether a live writer holds the segment at @path: writers keep an
 * open-file-description lock on it, which dies with them. */
static gboolean
segment_in_use (const gchar *path, gint32 *pid)
{
  struct flock fl = {
    0,
  };
  CoverHeader hdr;
  gboolean in_use = FALSE;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return FALSE;
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl (fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
    in_use = TRUE;
    *pid = pread (fd, &hdr, sizeof (hdr), 0) == (ssize_t) sizeof (hdr)
        ? hdr.writer_pid
        : 0;
  }
  close (fd);
  return in_use;
}

static gboolean
writer_map_data (CoverStoreWriter *w, gsize len, GError **error)
{
  void *p;

  /* the new mapping first: on failure the old one stays usable */
  p = mmap (NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd, 0);
  if (p == MAP_FAILED)
    return set_errno_error (error, errno, "Could not map", w->path);
  if (w->data)
    munmap (w->data, w->data_len);
  w->data = p;
  w->data_len = len;
  return TRUE;
}

CoverStoreWriter *
cover_store_writer_open (
    const gchar *dir, guint32 client_id, guint mode, GError **error)
{
  g_autofree gchar *suffix = NULL;
  CoverStoreWriter *w;
  gchar *tmp = NULL;
  gsize len;
  void *p;
  int i;

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  w = g_new0 (CoverStoreWriter, 1);
  g_mutex_init (&w->lock);
  w->fd = -1;
  w->path = cover_store_path (dir, client_id);
  w->generation = previous_generation (w->path, client_id);
  {
    gint32 pid = 0;

    /* two writers for one client id would take turns hiding each other */
    if (segment_in_use (w->path, &pid)) {
      g_set_error (error, COVER_STORE_ERROR, COVER_STORE_ERROR_IN_USE,
          "The cover of client %u is already being written (by pid %d, %s)",
          client_id, (int) pid, w->path);
      goto fail;
    }
  }

  /* Build the new segment aside and rename it into place: a reader sees
   * either the old segment or a complete new one, and a leftover from a
   * crashed writer (or a file of someone else's) is replaced, not reused. */
  suffix = cover_random_hex (4);
  tmp = g_strdup_printf ("%s/.%s%u.%d.%s", dir, COVER_STORE_FILE_PREFIX,
      client_id, (int) getpid (), suffix);
  w->fd = open (
      tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777);
  if (w->fd < 0) {
    set_errno_error (error, errno, "Could not create", tmp);
    goto fail;
  }
  /* open() honours the umask; the configured mode is what ops asked for */
  if (fchmod (w->fd, mode & 0777) < 0) {
    set_errno_error (error, errno, "Could not chmod", tmp);
    goto fail;
  }
  {
    struct flock fl = {
      0,
    };

    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl (w->fd, F_OFD_SETLK, &fl) < 0) {
      set_errno_error (error, errno, "Could not lock", tmp);
      goto fail;
    }
  }

  len = COVER_STORE_HEADER_SIZE + 2 * INITIAL_SLOT_CAPACITY;
  if (ftruncate (w->fd, len) < 0) {
    set_errno_error (error, errno, "Could not size", tmp);
    goto fail;
  }
  if (!allocate (w->fd, tmp, 0, COVER_STORE_HEADER_SIZE, error))
    goto fail;
  p = mmap (NULL, COVER_STORE_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
      w->fd, 0);
  if (p == MAP_FAILED) {
    set_errno_error (error, errno, "Could not map", tmp);
    goto fail;
  }
  w->hdr = p;
  if (!writer_map_data (w, len, error))
    goto fail;

  memcpy (w->hdr->magic, COVER_STORE_MAGIC, 8);
  w->hdr->version = COVER_STORE_VERSION;
  w->hdr->header_size = COVER_STORE_HEADER_SIZE;
  w->hdr->client_id = client_id;
  w->hdr->writer_pid = getpid ();
  w->hdr->writer_start = g_get_real_time ();
  w->hdr->heartbeat = g_get_monotonic_time ();
  w->hdr->ended = 0;
  w->hdr->active = COVER_STORE_NO_SLOT;
  for (i = 0; i < 2; i++) {
    w->hdr->slots[i].offset =
        COVER_STORE_HEADER_SIZE + i * INITIAL_SLOT_CAPACITY;
    w->hdr->slots[i].capacity = INITIAL_SLOT_CAPACITY;
  }

  if (rename (tmp, w->path) < 0) {
    set_errno_error (error, errno, "Could not rename into", w->path);
    goto fail;
  }
  g_free (tmp);
  return w;

fail:
  if (w->fd >= 0 && tmp)
    g_unlink (tmp);
  g_free (tmp);
  cover_store_writer_close (w, FALSE);
  return NULL;
}

const gchar *
cover_store_writer_get_path (CoverStoreWriter *w)
{
  g_return_val_if_fail (w != NULL, NULL);

  return w->path;
}

/* Give @slot a region of at least @size bytes at the end of the file.  The
 * old region is abandoned rather than moved: a reader may still be copying
 * from it, and the file only ever grows so its mapping stays valid. */
static gboolean
writer_grow_slot (
    CoverStoreWriter *w, CoverSlot *slot, gsize size, GError **error)
{
  gsize off = align_up (w->data_len, CAPACITY_ALIGN);
  gsize cap = align_up (size + size / 2, CAPACITY_ALIGN);

  if (ftruncate (w->fd, off + cap) < 0)
    return set_errno_error (error, errno, "Could not grow", w->path);
  if (!writer_map_data (w, off + cap, error))
    return FALSE;
  /* Give the abandoned region's memory back to tmpfs.  Safe while readers
   * copy from it: the slot's seq is odd now, so any copy they make of it is
   * thrown away, and a hole reads as zeros, never as a fault.  Best effort:
   * not every file system punches holes. */
  (void) fallocate (w->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
      slot->offset, slot->capacity);
  /* only the writer reads offset/capacity outside the seqlock, and it holds
   * w->lock; readers see the new values with the next even seq */
  slot->offset = off;
  slot->capacity = cap;
  return TRUE;
}

gboolean
cover_store_writer_publish (CoverStoreWriter *w, const guint8 *data, gsize size,
    guint32 width, guint32 height, gint64 capture_time, guint64 *generation,
    GError **error)
{
  CoverSlot *slot;
  guint32 active, target, seq;
  gboolean ret = FALSE;

  g_return_val_if_fail (w != NULL, FALSE);
  g_return_val_if_fail (data != NULL || size == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (size > COVER_STORE_MAX_IMAGE_SIZE) {
    g_set_error (error, COVER_STORE_ERROR, COVER_STORE_ERROR_INVALID,
        "A %" G_GSIZE_FORMAT "-byte cover is over the store's limit of %d "
        "bytes",
        size, COVER_STORE_MAX_IMAGE_SIZE);
    return FALSE;
  }

  g_mutex_lock (&w->lock);
  active = __atomic_load_n (&w->hdr->active, __ATOMIC_RELAXED);
  target = active == 0 ? 1 : 0;
  slot = &w->hdr->slots[target];

  seq = slot->seq;
  __atomic_store_n (&slot->seq, seq + 1, __ATOMIC_RELAXED);
  __atomic_thread_fence (__ATOMIC_RELEASE);

  if (size > slot->capacity && !writer_grow_slot (w, slot, size, error)) {
    /* leave the slot even (and unpublished): readers go on using the other */
    __atomic_store_n (&slot->seq, seq + 2, __ATOMIC_RELEASE);
    goto out;
  }

  if (!allocate (w->fd, w->path, slot->offset, size, error)) {
    __atomic_store_n (&slot->seq, seq + 2, __ATOMIC_RELEASE);
    goto out;
  }
  if (size > 0)
    memcpy (w->data + slot->offset, data, size);
  slot->size = size;
  slot->width = width;
  slot->height = height;
  slot->capture_time = capture_time;
  slot->generation = ++w->generation;
  __atomic_store_n (&slot->seq, seq + 2, __ATOMIC_RELEASE);
  __atomic_store_n (&w->hdr->active, target, __ATOMIC_RELEASE);
  __atomic_store_n (
      &w->hdr->heartbeat, g_get_monotonic_time (), __ATOMIC_RELAXED);
  if (generation)
    *generation = w->generation;
  ret = TRUE;

out:
  g_mutex_unlock (&w->lock);
  return ret;
}

void
cover_store_writer_heartbeat (CoverStoreWriter *w)
{
  g_return_if_fail (w != NULL);

  __atomic_store_n (
      &w->hdr->heartbeat, g_get_monotonic_time (), __ATOMIC_RELAXED);
}

void
cover_store_writer_set_ended (CoverStoreWriter *w, gboolean ended)
{
  g_return_if_fail (w != NULL);

  __atomic_store_n (&w->hdr->ended, ended ? 1 : 0, __ATOMIC_RELEASE);
  __atomic_store_n (
      &w->hdr->heartbeat, g_get_monotonic_time (), __ATOMIC_RELAXED);
}

void
cover_store_writer_close (CoverStoreWriter *w, gboolean unlink_file)
{
  if (!w)
    return;
  g_mutex_lock (&w->lock);
  if (w->hdr) {
    __atomic_store_n (&w->hdr->ended, 1, __ATOMIC_RELEASE);
    munmap (w->hdr, COVER_STORE_HEADER_SIZE);
  }
  if (w->data)
    munmap (w->data, w->data_len);
  if (w->fd >= 0) {
    struct stat st_fd, st_path;

    /* never unlink a segment that a newer writer has renamed into place */
    if (unlink_file && fstat (w->fd, &st_fd) == 0 &&
        stat (w->path, &st_path) == 0 && st_fd.st_ino == st_path.st_ino &&
        st_fd.st_dev == st_path.st_dev)
      g_unlink (w->path);
    close (w->fd);
  }
  g_mutex_unlock (&w->lock);
  g_mutex_clear (&w->lock);
  g_free (w->path);
  g_free (w);
}

/* Reader */

static void
reader_close (CoverStoreReader *r)
{
  if (r->fd >= 0)
    close (r->fd);
  r->fd = -1;
}

/* A segment is trusted only when it is a regular file (never a link) owned
 * by us or by root, writable by nobody else, and holds a valid header: any
 * local user who can write the store directory could plant a file there. */
static gboolean
reader_open_segment (CoverStoreReader *r, GError **error)
{
  CoverHeader hdr;
  struct stat st;

  reader_close (r);
  r->fd = open (r->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (r->fd < 0 && errno == ELOOP) {
    struct stat target;

    /* a symlink is never followed: it is not a segment of ours */
    if (stat (r->path, &target) < 0 && errno == ENOENT)
      return set_errno_error (error, ENOENT, "Could not open", r->path);
    goto invalid;
  }
  if (r->fd < 0)
    return set_errno_error (error, errno, "Could not open", r->path);
  if (fstat (r->fd, &st) < 0) {
    set_errno_error (error, errno, "Could not stat", r->path);
    goto fail;
  }
  if (!S_ISREG (st.st_mode) || st.st_size < COVER_STORE_HEADER_SIZE)
    goto invalid;
  if ((st.st_uid != geteuid () && st.st_uid != 0) ||
      (st.st_mode & (S_IWGRP | S_IWOTH))) {
    g_set_error (error, COVER_STORE_ERROR, COVER_STORE_ERROR_INVALID,
        "%s is not trusted: owned by uid %u with mode %04o (a segment must "
        "belong to uid %u or root and be writable by its owner only)",
        r->path, (guint) st.st_uid, (guint) (st.st_mode & 07777),
        (guint) geteuid ());
    goto fail;
  }
  if (pread (r->fd, &hdr, sizeof (hdr), 0) != (ssize_t) sizeof (hdr) ||
      !header_is_valid (&hdr, st.st_size, r->client_id))
    goto invalid;
  r->dev = st.st_dev;
  r->ino = st.st_ino;
  r->hdr = hdr;
  return TRUE;

invalid:
  g_set_error (error, COVER_STORE_ERROR, COVER_STORE_ERROR_INVALID,
      "%s is not a version %d cover segment for client %u", r->path,
      COVER_STORE_VERSION, r->client_id);
fail:
  reader_close (r);
  return FALSE;
}

CoverStoreReader *
cover_store_reader_open (const gchar *dir, guint32 client_id, GError **error)
{
  CoverStoreReader *r;

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  r = g_new0 (CoverStoreReader, 1);
  r->fd = -1;
  r->client_id = client_id;
  r->path = cover_store_path (dir, client_id);
  if (!reader_open_segment (r, error)) {
    cover_store_reader_free (r);
    return NULL;
  }
  return r;
}

void
cover_store_reader_set_recheck_interval (
    CoverStoreReader *r, gint64 interval_us)
{
  g_return_if_fail (r != NULL);

  r->recheck_us = interval_us;
}

void
cover_store_reader_free (CoverStoreReader *r)
{
  if (!r)
    return;
  reader_close (r);
  g_free (r->path);
  g_free (r);
}

/* A new writer renames a fresh segment over the name: follow it. */
static gboolean
reader_refresh (CoverStoreReader *r, GError **error)
{
  gint64 now = g_get_monotonic_time ();
  struct stat st;

  if (r->fd >= 0 && r->recheck_us > 0 && now - r->refreshed_at < r->recheck_us)
    return TRUE;
  r->refreshed_at = now;
  if (lstat (r->path, &st) < 0)
    return set_errno_error (error, errno, "Could not stat", r->path);
  if (r->fd >= 0 && st.st_ino == r->ino && st.st_dev == r->dev)
    return TRUE;
  return reader_open_segment (r, error);
}

static gboolean
pid_alive (gint32 pid)
{
  if (pid <= 0)
    return FALSE;
  return kill (pid, 0) == 0 || errno == EPERM;
}

static gboolean
reader_pid_alive (CoverStoreReader *r, gint32 pid, gint64 now)
{
  if (r->recheck_us > 0 && pid == r->pid_checked &&
      now - r->pid_checked_at < r->recheck_us)
    return r->pid_was_alive;
  r->pid_checked = pid;
  r->pid_checked_at = now;
  r->pid_was_alive = pid_alive (pid);
  return r->pid_was_alive;
}

static void
fill_header_info (CoverStoreReader *r, const CoverHeader *hdr,
    gint64 live_timeout_us, CoverInfo *info)
{
  gint64 now = g_get_monotonic_time ();

  info->client_id = hdr->client_id;
  info->writer_pid = hdr->writer_pid;
  info->writer_start = hdr->writer_start;
  info->heartbeat = __atomic_load_n (&hdr->heartbeat, __ATOMIC_RELAXED);
  info->ended = __atomic_load_n (&hdr->ended, __ATOMIC_ACQUIRE) != 0;
  /* a heartbeat from the future is not fresh: it proves nothing */
  info->live = !info->ended && reader_pid_alive (r, info->writer_pid, now) &&
      info->heartbeat <= now && now - info->heartbeat <= live_timeout_us;
}

/* @size bytes of the header at @offset as they are now; FALSE when the
 * file no longer holds them (a hostile or broken writer truncated it). */
static gboolean
reader_read_header_part (CoverStoreReader *r, gpointer dest, gsize size,
    goffset offset, GError **error)
{
  if (pread (r->fd, dest, size, offset) == (ssize_t) size)
    return TRUE;
  g_set_error (error, COVER_STORE_ERROR, COVER_STORE_ERROR_INVALID,
      "%s lost its header", r->path);
  return FALSE;
}

static gboolean
reader_read_header (CoverStoreReader *r, GError **error)
{
  return reader_read_header_part (r, &r->hdr, sizeof (r->hdr), 0, error);
}

static guint32
reader_read_seq (CoverStoreReader *r, guint32 active)
{
  guint32 seq;

  if (!reader_read_header_part (
          r, &seq, sizeof (seq), SLOT_SEQ_OFFSET (active), NULL))
    return G_MAXUINT32; /* odd: never equal to an even seq read before */
  return seq;
}

/* Copies the latest image when @out is not NULL, else only its metadata.
 *
 * Everything is read with pread() into our own memory, never through a
 * mapping: a segment that shrinks or has holes under a reader then gives a
 * short read (an error), not a SIGBUS.  The seqlock works the same, each
 * pread() being a full barrier. */
static gboolean
reader_snapshot (CoverStoreReader *r, gint64 live_timeout_us, CoverInfo *info,
    GBytes **out, GError **error)
{
  guint8 *buf = NULL;
  gsize buf_len = 0;
  int attempt;

  if (!reader_refresh (r, error))
    return FALSE;

  for (attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
    const CoverSlot *slot;
    guint32 active, seq;
    CoverInfo tmp = {
      0,
    };
    guint64 offset, size;

    if (!reader_read_header_part (r, &active, sizeof (active),
            G_STRUCT_OFFSET (CoverHeader, active), error))
      goto fail;
    if (active > 1) {
      /* the header still says whether the writer is alive */
      if (!reader_read_header (r, error))
        goto fail;
      g_set_error (error, COVER_STORE_ERROR, COVER_STORE_ERROR_EMPTY,
          "No cover has been published for client %u yet", r->client_id);
      goto fail;
    }
    /* The seqlock's first read, on its own: a copy of the whole header is
     * not ordered within itself (a fast string copy may load the slot's seq
     * after its other fields, and pair an old generation with the next
     * image), so the seq inside it proves nothing.  The slot's fields are
     * read after this one, the image after them, the seq again last. */
    if (!reader_read_header_part (
            r, &seq, sizeof (seq), SLOT_SEQ_OFFSET (active), error))
      goto fail;
    if (seq & 1) {
      sched_yield ();
      continue;
    }
    if (!reader_read_header (r, error))
      goto fail;
    slot = &r->hdr.slots[active];
    offset = slot->offset;
    size = slot->size;
    tmp.generation = slot->generation;
    tmp.capture_time = slot->capture_time;
    tmp.width = slot->width;
    tmp.height = slot->height;
    tmp.size = size;

    if (out) {
      if (offset < COVER_STORE_HEADER_SIZE ||
          size > COVER_STORE_MAX_IMAGE_SIZE || offset > G_MAXINT64 - size) {
        /* torn metadata, or a lie: the seqlock tells which */
        if (reader_read_seq (r, active) != seq)
          continue;
        goto invalid;
      }
      if (buf_len < size) {
        g_free (buf);
        buf_len = MAX (size, 1);
        buf = g_malloc (buf_len);
      }
      if (size > 0 &&
          pread (r->fd, buf, size, (off_t) offset) != (ssize_t) size) {
        /* a writer growing the file sets the seq odd first */
        if (reader_read_seq (r, active) != seq)
          continue;
        goto invalid;
      }
    }
    if (reader_read_seq (r, active) != seq)
      continue;

    fill_header_info (r, &r->hdr, live_timeout_us, &tmp);
    if (info)
      *info = tmp;
    if (out)
      *out = g_bytes_new_take (g_steal_pointer (&buf), size);
    g_free (buf);
    return TRUE;
  }
  g_set_error (error, COVER_STORE_ERROR, COVER_STORE_ERROR_BUSY,
      "The cover of client %u kept changing while being read", r->client_id);
  goto fail;

invalid:
  g_set_error (error, COVER_STORE_ERROR, COVER_STORE_ERROR_INVALID,
      "%s has an inconsistent image slot", r->path);
fail:
  g_free (buf);
  return FALSE;
}

gboolean
cover_store_reader_get_info (CoverStoreReader *r, gint64 live_timeout_us,
    CoverInfo *info, GError **error)
{
  GError *err = NULL;

  g_return_val_if_fail (r != NULL, FALSE);
  g_return_val_if_fail (info != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (reader_snapshot (r, live_timeout_us, info, NULL, &err))
    return TRUE;
  /* a segment without an image still says whether its writer is alive */
  if (g_error_matches (err, COVER_STORE_ERROR, COVER_STORE_ERROR_EMPTY)) {
    memset (info, 0, sizeof (*info));
    fill_header_info (r, &r->hdr, live_timeout_us, info);
  }
  g_propagate_error (error, err);
  return FALSE;
}

GBytes *
cover_store_reader_read (CoverStoreReader *r, gint64 live_timeout_us,
    CoverInfo *info, GError **error)
{
  GBytes *bytes = NULL;

  g_return_val_if_fail (r != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!reader_snapshot (r, live_timeout_us, info, &bytes, error))
    return NULL;
  return bytes;
}
