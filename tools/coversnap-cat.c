/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* coversnap-cat [--store-dir DIR] [--info] [--live-timeout SECONDS] CLIENT_ID
 *
 * Writes the current cover of CLIENT_ID (a JPEG) to stdout, or with --info
 * prints what the segment says about it.  Exit status: 0 done, 1 no cover,
 * 2 bad usage. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "coverid.h"
#include "coverstore.h"

static gboolean
write_all (int fd, const guint8 *data, gsize size)
{
  while (size > 0) {
    ssize_t n = write (fd, data, size);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return FALSE;
    data += n;
    size -= n;
  }
  return TRUE;
}

static void
print_info (const CoverInfo *info, gboolean has_image)
{
  g_print ("client-id: %u\n", info->client_id);
  g_print ("live: %s\n", info->live ? "yes" : "no");
  g_print ("ended: %s\n", info->ended ? "yes" : "no");
  g_print ("writer-pid: %d\n", info->writer_pid);
  g_print ("heartbeat-age-ms: %" G_GINT64_FORMAT "\n",
      (g_get_monotonic_time () - info->heartbeat) / 1000);
  if (!has_image) {
    g_print ("image: none\n");
    return;
  }
  g_print ("generation: %" G_GUINT64_FORMAT "\n", info->generation);
  g_print ("width: %u\nheight: %u\n", info->width, info->height);
  g_print ("bytes: %" G_GSIZE_FORMAT "\n", info->size);
  g_print ("capture-time-us: %" G_GINT64_FORMAT "\n", info->capture_time);
  g_print ("age-ms: %" G_GINT64_FORMAT "\n",
      (g_get_real_time () - info->capture_time) / 1000);
}

int
main (int argc, char **argv)
{
  g_autofree gchar *store_dir = NULL;
  gboolean info_only = FALSE;
  gdouble live_timeout = 5.0;
  GOptionEntry entries[] = {
    { "store-dir", 'd', 0, G_OPTION_ARG_FILENAME, &store_dir,
        "Cover store directory (default $XDG_RUNTIME_DIR/coversnap, "
        "/run/coversnap for root, else /dev/shm/coversnap-UID)",
        "DIR" },
    { "info", 'i', 0, G_OPTION_ARG_NONE, &info_only,
        "Print the cover's metadata instead of the JPEG", NULL },
    { "live-timeout", 't', 0, G_OPTION_ARG_DOUBLE, &live_timeout,
        "Seconds without a buffer after which a stream is not live "
        "(default 5)",
        "SECONDS" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (CoverStoreReader) reader = NULL;
  g_autoptr (GBytes) jpeg = NULL;
  g_autoptr (GError) err = NULL;
  CoverInfo info = {
    0,
  };
  guint32 client_id;
  gint64 timeout_us;

  ctx = g_option_context_new ("CLIENT_ID - copy a stream's cover out of "
                              "the cover store");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("coversnap-cat: %s\n", err->message);
    return 2;
  }
  if (argc != 2 || !cover_client_id_parse (argv[1], -1, &client_id)) {
    g_printerr ("coversnap-cat: expected one CLIENT_ID, an unsigned 32-bit "
                "decimal number\n");
    return 2;
  }
  if (live_timeout < 0 || live_timeout > 86400) {
    g_printerr ("coversnap-cat: --live-timeout must be 0..86400 seconds\n");
    return 2;
  }
  timeout_us = live_timeout * G_USEC_PER_SEC;
  {
    /* without -d, the directory a covertap without store-dir writes to:
     * refused if someone else planted it */
    gchar *dir = cover_store_resolve_dir (store_dir, &err);

    if (!dir)
      goto no_cover;
    g_free (store_dir);
    store_dir = dir;
  }

  reader = cover_store_reader_open (store_dir, client_id, &err);
  if (!reader)
    goto no_cover;

  if (info_only) {
    gboolean has_image =
        cover_store_reader_get_info (reader, timeout_us, &info, &err);

    if (!has_image &&
        !g_error_matches (err, COVER_STORE_ERROR, COVER_STORE_ERROR_EMPTY))
      goto no_cover;
    print_info (&info, has_image);
    if (!has_image)
      g_printerr ("coversnap-cat: no cover for client %u yet: %s\n", client_id,
          err->message);
    return has_image ? 0 : 1;
  }

  jpeg = cover_store_reader_read (reader, timeout_us, &info, &err);
  if (!jpeg)
    goto no_cover;
  if (isatty (STDOUT_FILENO)) {
    g_printerr ("coversnap-cat: not writing a JPEG to a terminal; redirect "
                "stdout or use --info\n");
    return 2;
  }
  if (!write_all (STDOUT_FILENO, g_bytes_get_data (jpeg, NULL),
          g_bytes_get_size (jpeg))) {
    g_printerr ("coversnap-cat: write failed: %s\n", g_strerror (errno));
    return 1;
  }
  return 0;

no_cover:
  g_printerr (
      "coversnap-cat: no cover for client %u: %s\n", client_id, err->message);
  return 1;
}
