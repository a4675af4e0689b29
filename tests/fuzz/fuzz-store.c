/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The cover-store reader on hostile segments: any local user who can write
 * the store directory decides every byte of a segment.  The input is
 * written as the segment of client FUZZ_CLIENT_ID in a private temp dir and
 * read with the real reader API (plugin/coverstore.h).  Whatever the
 * reader returns must come from the file: an image is the bytes the active
 * slot names, inside the input, with the slot's metadata. */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "coverstore.h"

#define FUZZ_CLIENT_ID 42

/* offsets of the layout of gst-docs/cover-store.md (pinned by the static
 * assertions of plugin/coverstore.c) */
#define HDR_ACTIVE 44
#define HDR_SLOTS 64
#define SLOT_SIZE 64
#define SLOT_GENERATION 8
#define SLOT_WIDTH 24
#define SLOT_HEIGHT 28
#define SLOT_OFFSET 32
#define SLOT_SIZE_FIELD 48

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static gchar *fuzz_dir;
static gchar *fuzz_path;

static void
remove_dir (void)
{
  g_unlink (fuzz_path);
  g_rmdir (fuzz_dir);
}

static void
write_segment (const uint8_t *data, size_t size)
{
  size_t done = 0;
  int fd;

  if (!fuzz_dir) {
    GError *err = NULL;

    /* on tmpfs if there is one, as a real store is: a disk file system
     * makes every execution twenty times slower */
    if (g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR)) {
      fuzz_dir = g_strdup ("/dev/shm/fuzz-store-XXXXXX");
      if (!g_mkdtemp_full (fuzz_dir, 0700))
        g_clear_pointer (&fuzz_dir, g_free);
    }
    if (!fuzz_dir)
      fuzz_dir = g_dir_make_tmp ("fuzz-store-XXXXXX", &err);
    g_assert_no_error (err);
    fuzz_path = cover_store_path (fuzz_dir, FUZZ_CLIENT_ID);
    atexit (remove_dir);
  }
  fd = open (fuzz_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  while (done < size) {
    ssize_t n = write (fd, data + done, size - done);

    if (n < 0 && errno == EINTR)
      continue;
    g_assert_cmpint (n, >, 0);
    done += n;
  }
  close (fd);
}

static guint64
get_u64 (const uint8_t *data, size_t at)
{
  guint64 v;

  memcpy (&v, data + at, sizeof (v));
  return v;
}

static guint32
get_u32 (const uint8_t *data, size_t at)
{
  guint32 v;

  memcpy (&v, data + at, sizeof (v));
  return v;
}

/* @bytes and @info are what the reader made of @data: the active slot's
 * image, which must lie inside @data. */
static void
check_image (
    const uint8_t *data, size_t size, GBytes *bytes, const CoverInfo *info)
{
  gsize len = g_bytes_get_size (bytes);
  guint32 active;
  size_t slot;
  guint64 offset;

  g_assert_cmpuint (size, >=, COVER_STORE_HEADER_SIZE);
  active = get_u32 (data, HDR_ACTIVE);
  g_assert_cmpuint (active, <=, 1);
  slot = HDR_SLOTS + active * SLOT_SIZE;
  offset = get_u64 (data, slot + SLOT_OFFSET);

  g_assert_cmpuint (len, ==, info->size);
  g_assert_cmpuint (len, ==, get_u64 (data, slot + SLOT_SIZE_FIELD));
  g_assert_cmpuint (len, <=, COVER_STORE_MAX_IMAGE_SIZE);
  g_assert_cmpuint (offset, >=, COVER_STORE_HEADER_SIZE);
  /* an empty image is inside any file, wherever its slot points */
  if (len > 0) {
    g_assert_cmpuint (offset, <=, size);
    g_assert_cmpuint (len, <=, size - offset);
    g_assert_true (
        memcmp (g_bytes_get_data (bytes, NULL), data + offset, len) == 0);
  }
  g_assert_cmpuint (info->client_id, ==, FUZZ_CLIENT_ID);
  g_assert_cmpuint (
      info->generation, ==, get_u64 (data, slot + SLOT_GENERATION));
  g_assert_cmpuint (info->width, ==, get_u32 (data, slot + SLOT_WIDTH));
  g_assert_cmpuint (info->height, ==, get_u32 (data, slot + SLOT_HEIGHT));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (CoverStoreReader) r = NULL;
  GError *err = NULL;
  CoverInfo info;
  GBytes *bytes;

  write_segment (data, size);
  r = cover_store_reader_open (fuzz_dir, FUZZ_CLIENT_ID, &err);
  if (!r) {
    /* a refusal says why, and only a segment this size can be accepted */
    g_assert_nonnull (err);
    g_assert_true (err->domain == COVER_STORE_ERROR);
    g_clear_error (&err);
    return 0;
  }
  g_assert_cmpuint (size, >=, COVER_STORE_HEADER_SIZE);

  memset (&info, 0, sizeof (info));
  if (cover_store_reader_get_info (r, 10 * G_USEC_PER_SEC, &info, &err))
    g_assert_cmpuint (info.client_id, ==, FUZZ_CLIENT_ID);
  else
    g_assert_nonnull (err);
  g_clear_error (&err);

  /* twice: the second read goes through the reader's refresh path */
  for (int i = 0; i < 2; i++) {
    memset (&info, 0, sizeof (info));
    bytes = cover_store_reader_read (r, 10 * G_USEC_PER_SEC, &info, &err);
    if (bytes) {
      g_assert_null (err);
      check_image (data, size, bytes, &info);
      g_bytes_unref (bytes);
    } else {
      g_assert_nonnull (err);
      g_assert_true (err->domain == COVER_STORE_ERROR);
      g_clear_error (&err);
    }
  }
  return 0;
}
