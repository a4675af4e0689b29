/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* http-bench-setup --store-dir DIR --client-id N --jpeg FILE
 *                  [--heartbeat-ms MS]
 *
 * The live cover of the HTTP benchmark (bench/run-http-bench.sh): publishes
 * one JPEG into the cover store through the writer API, as a covertap
 * pipeline would, then stays alive and keeps the heartbeat fresh until
 * SIGINT or SIGTERM, so that the cover service sees the writer live.  Prints
 * "published CID generation G SIZE bytes WxH" once the cover is there. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <glib-unix.h>
#include <stdio.h>

#include "coverjpeg.h"
#include "coverstore.h"

static gboolean
quit (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static gboolean
beat (gpointer writer)
{
  cover_store_writer_heartbeat (writer);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  gchar *store_dir = NULL, *jpeg_path = NULL;
  gint client_id = -1, heartbeat_ms = 200;
  GOptionEntry entries[] = { { "store-dir", 0, 0, G_OPTION_ARG_FILENAME,
                                 &store_dir, "Cover store directory (tmpfs)",
                                 "DIR" },
    { "client-id", 0, 0, G_OPTION_ARG_INT, &client_id, "Client id of the cover",
        "N" },
    { "jpeg", 0, 0, G_OPTION_ARG_FILENAME, &jpeg_path, "The JPEG to publish",
        "FILE" },
    { "heartbeat-ms", 0, 0, G_OPTION_ARG_INT, &heartbeat_ms,
        "Heartbeat period (default 200)", "MS" },
    { NULL } };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *data = NULL;
  CoverStoreWriter *writer;
  guint64 generation;
  guint width, height;
  gsize size;

  ctx = g_option_context_new ("- publish a live cover for the HTTP benchmark");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("http-bench-setup: %s\n", err->message);
    return 2;
  }
  if (!store_dir || !jpeg_path || client_id < 0 || heartbeat_ms <= 0) {
    g_printerr ("http-bench-setup: --store-dir, --client-id and --jpeg are "
                "required\n");
    return 2;
  }

  if (!g_file_get_contents (jpeg_path, &data, &size, &err) ||
      !cover_jpeg_get_size (
          (const guint8 *) data, size, &width, &height, &err)) {
    g_printerr ("http-bench-setup: %s: %s\n", jpeg_path, err->message);
    return 1;
  }

  writer = cover_store_writer_open (store_dir, client_id, 0644, &err);
  if (!writer ||
      !cover_store_writer_publish (writer, (const guint8 *) data, size, width,
          height, g_get_real_time (), &generation, &err)) {
    g_printerr ("http-bench-setup: %s\n", err->message);
    cover_store_writer_close (writer, TRUE);
    return 1;
  }
  cover_store_writer_heartbeat (writer);
  g_print ("published %d generation %" G_GUINT64_FORMAT " %" G_GSIZE_FORMAT
           " bytes %ux%u\n",
      client_id, generation, size, width, height);
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_timeout_add (heartbeat_ms, beat, writer);
  g_unix_signal_add (SIGINT, quit, loop);
  g_unix_signal_add (SIGTERM, quit, loop);
  g_main_loop_run (loop);

  cover_store_writer_close (writer, TRUE);
  g_free (store_dir);
  g_free (jpeg_path);
  return 0;
}
