/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* coversnapd --config FILE [--http-port N] [--rtsp-port N] [--data-dir DIR]
 *            [--store-dir DIR] [--http-only]
 *
 * The reference media server: devices push H.264/H.265 over RTSP (RECORD)
 * to rtsp://HOST:PORT/live/<client_id>?token=<device token>, each push gets
 * a covertap pipeline, and the cover API is served over HTTP by the same
 * process.  Prints "http on ADDR:PORT" and "rtsp on ADDR:PORT" once both
 * accept connections; logs each stream's start and stop; on SIGINT or
 * SIGTERM closes the pushers (their segments marked ended) and exits. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <glib-unix.h>
#include <gst/gst.h>
#include <stdio.h>

#include "cover-ingest.h"
#include "cover-service.h"

/* how long the pushers' pipelines get to end at shutdown */
#define SHUTDOWN_TIMEOUT_MS 5000

static gboolean
quit (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  gchar *config_path = NULL, *listen = NULL, *http_port = NULL;
  gchar *http_threads = NULL;
  gchar *data_dir = NULL, *store_dir = NULL;
  gint rtsp_port = -1;
  gboolean http_only = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
        "Configuration file ([server], [app.NAME], [ingest], [stream.*])",
        "FILE" },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen,
        "Listen address (HTTP and RTSP)", "ADDR" },
    { "http-port", 'p', 0, G_OPTION_ARG_STRING, &http_port,
        "HTTP port (0: any free)", "N" },
    { "http-threads", 0, 0, G_OPTION_ARG_STRING, &http_threads,
        "HTTP threads sharing the port", "N" },
    { "rtsp-port", 0, 0, G_OPTION_ARG_INT, &rtsp_port,
        "RTSP ingest port (0: any free)", "N" },
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir,
        "Uploads and thumbnails", "DIR" },
    { "store-dir", 0, 0, G_OPTION_ARG_FILENAME, &store_dir,
        "Cover store (shared memory)", "DIR" },
    { "http-only", 0, 0, G_OPTION_ARG_NONE, &http_only,
        "No ingest: serve covers published by other processes", NULL },
    { NULL }
  };
  const struct
  {
    const gchar *key;
    gchar **value;
  } overrides[] = {
    { "listen-address", &listen },
    { "port", &http_port },
    { "http-threads", &http_threads },
    { "data-dir", &data_dir },
    { "store-dir", &store_dir },
  };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (GKeyFile) file = NULL;
  CoverConfig *config;
  CoverService *service;
  CoverIngest *ingest = NULL;
  guint i;

  ctx = g_option_context_new ("- the coversnap media server");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("coversnapd: %s\n", err->message);
    return 2;
  }
  if (rtsp_port < -1 || rtsp_port > 65535) {
    g_printerr (
        "coversnapd: --rtsp-port: %d is not a port (0-65535)\n", rtsp_port);
    return 2;
  }
  gst_init (NULL, NULL);

  config = cover_config_new ();
  file = g_key_file_new ();
  if (config_path) {
    if (!g_key_file_load_from_file (file, config_path, G_KEY_FILE_NONE, &err)) {
      g_printerr ("coversnapd: %s: %s\n", config_path, err->message);
      cover_config_free (config);
      return 1;
    }
    if (!cover_config_load_key_file (config, file, &err))
      goto config_failed;
  }
  for (i = 0; i < G_N_ELEMENTS (overrides); i++) {
    if (*overrides[i].value &&
        !cover_config_set (config, overrides[i].key, *overrides[i].value, &err))
      goto config_failed;
  }
  if (cover_app_table_get_size (config->apps) == 0)
    g_printerr ("coversnapd: no [app.NAME] in the configuration: every token "
                "will be refused\n");

  service = cover_service_new (config, &err);
  if (!service) {
    g_printerr ("coversnapd: %s\n", err->message);
    return 1;
  }
  /* the ingest reads the service's config (same apps, same directories) */
  if (!http_only) {
    ingest = cover_ingest_new (cover_service_get_config (service), file, &err);
    if (!ingest) {
      g_printerr ("coversnapd: %s\n", err->message);
      cover_service_free (service);
      return 1;
    }
    if (rtsp_port >= 0)
      cover_ingest_set_port (ingest, rtsp_port);
  }

  if (!cover_service_listen (service, &err) ||
      (ingest && !cover_ingest_start (ingest, &err))) {
    g_printerr ("coversnapd: %s\n", err->message);
    cover_ingest_free (ingest);
    cover_service_free (service);
    return 1;
  }
  g_print ("http on %s:%u\n",
      cover_service_get_config (service)->listen_address,
      cover_service_get_port (service));
  if (ingest)
    g_print ("rtsp on %s:%u\n",
        cover_service_get_config (service)->listen_address,
        cover_ingest_get_port (ingest));
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, quit, loop);
  g_unix_signal_add (SIGTERM, quit, loop);
  g_main_loop_run (loop);

  g_message ("shutting down");
  if (ingest) {
    cover_ingest_stop (ingest, SHUTDOWN_TIMEOUT_MS);
    cover_ingest_free (ingest);
  }
  cover_service_free (service);
  g_message ("stopped");
  return 0;

config_failed:
  g_printerr ("coversnapd: %s\n", err->message);
  cover_config_free (config);
  return 1;
}
