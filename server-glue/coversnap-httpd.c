/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* coversnap-httpd --config FILE [--listen ADDR] [--port N] [--http-threads N]
 *                 [--data-dir DIR] [--store-dir DIR]
 *
 * The cover service alone: the HTTP API over covers published by other
 * processes (covertap pipelines), recording thumbnails and uploads.  Prints
 * "listening on ADDR:PORT" once it accepts connections; stops on SIGINT or
 * SIGTERM. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <glib-unix.h>
#include <stdio.h>

#include "cover-service.h"

static gboolean
quit (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  gchar *config_path = NULL, *listen = NULL, *port = NULL, *threads = NULL;
  gchar *data_dir = NULL, *store_dir = NULL;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
        "Configuration file ([server], [app.NAME])", "FILE" },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen, "Listen address", "ADDR" },
    { "port", 'p', 0, G_OPTION_ARG_STRING, &port, "HTTP port (0: any free)",
        "N" },
    { "http-threads", 0, 0, G_OPTION_ARG_STRING, &threads,
        "HTTP threads sharing the port", "N" },
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir,
        "Uploads and thumbnails", "DIR" },
    { "store-dir", 0, 0, G_OPTION_ARG_FILENAME, &store_dir,
        "Cover store (shared memory)", "DIR" },
    { NULL }
  };
  const struct
  {
    const gchar *key;
    gchar **value;
  } overrides[] = {
    { "listen-address", &listen },
    { "port", &port },
    { "http-threads", &threads },
    { "data-dir", &data_dir },
    { "store-dir", &store_dir },
  };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GError) err = NULL;
  CoverConfig *config;
  CoverService *service;
  guint i;

  ctx = g_option_context_new ("- the coversnap cover API over HTTP");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("coversnap-httpd: %s\n", err->message);
    return 2;
  }
  config = cover_config_new ();
  if (config_path && !cover_config_load_file (config, config_path, &err))
    goto config_failed;
  for (i = 0; i < G_N_ELEMENTS (overrides); i++) {
    if (*overrides[i].value &&
        !cover_config_set (config, overrides[i].key, *overrides[i].value, &err))
      goto config_failed;
  }
  if (cover_app_table_get_size (config->apps) == 0)
    g_printerr ("coversnap-httpd: no [app.NAME] in the configuration: every "
                "token will be refused\n");

  service = cover_service_new (config, &err);
  if (!service || !cover_service_listen (service, &err)) {
    g_printerr ("coversnap-httpd: %s\n", err->message);
    cover_service_free (service);
    return 1;
  }
  g_print ("listening on %s:%u\n", config->listen_address,
      cover_service_get_port (service));
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, quit, loop);
  g_unix_signal_add (SIGTERM, quit, loop);
  g_main_loop_run (loop);
  cover_service_free (service);
  return 0;

config_failed:
  g_printerr ("coversnap-httpd: %s\n", err->message);
  cover_config_free (config);
  return 1;
}
