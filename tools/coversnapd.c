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
 * coversnapd --demo [--demo-seconds N] [same options]
 *
 * The reference media server: devices push H.264/H.265 over RTSP (RECORD)
 * to rtsp://HOST:PORT/live/<client_id>?token=<device token>, each push gets
 * a covertap pipeline, and the cover API is served over HTTP by the same
 * process.  Prints "http on ADDR:PORT" and "rtsp on ADDR:PORT" once both
 * accept connections; logs each stream's start and stop; on SIGINT or
 * SIGTERM closes the pushers (their segments marked ended) and exits.
 *
 * --demo needs no configuration: 127.0.0.1, ports 8080/8554 (free ones when
 * those are taken), an application with a fresh key owning client id 42,
 * data under the user's cache, a cover store of its own in shared memory.
 * It pushes a simulated camera through its own RTSP ingest (in process,
 * rtspclientsink, as a device does) and, once the cover is live, prints a
 * curl that gets it with a valid token.  --config and the options still
 * override. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <glib-unix.h>
#include <gst/gst.h>
#include <signal.h>
#include <stdio.h>

#include "cover-cluster-config.h"
#include "cover-config-keys.h"
#include "cover-ingest.h"
#include "cover-rtmp-hooks.h"
#include "cover-service.h"
#include "coversnapd-demo.h"
#ifdef COVERSNAP_CLUSTER
#include "cover-cluster-service.h"
#endif

/* The handler stays: a second signal during the shutdown must not take
 * GLib's handler away (and kill the process halfway). */
static gboolean
quit (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

/* The command line: its [server] keys are set through the configuration
 * layer like the file's. */
enum
{
  OPT_LISTEN,
  OPT_HTTP_PORT,
  OPT_HTTP_THREADS,
  OPT_DATA_DIR,
  OPT_STORE_DIR,
  N_SERVER_OPTIONS
};

/* the [server] key each of those options sets */
static const gchar *const server_option_keys[N_SERVER_OPTIONS] = {
  [OPT_LISTEN] = "listen-address",
  [OPT_HTTP_PORT] = "port",
  [OPT_HTTP_THREADS] = "http-threads",
  [OPT_DATA_DIR] = "data-dir",
  [OPT_STORE_DIR] = "store-dir",
};

typedef struct
{
  gchar *config_path;
  gchar *server[N_SERVER_OPTIONS];
  gint rtsp_port;
  gboolean http_only;
  gboolean demo;
  gint demo_seconds;
} Options;

static void
options_clear (Options *o)
{
  guint i;

  g_free (o->config_path);
  for (i = 0; i < N_SERVER_OPTIONS; i++)
    g_free (o->server[i]);
}

static gboolean
options_check (const Options *o, GError **error)
{
  if (o->rtsp_port < -1 || o->rtsp_port > 65535)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--rtsp-port: %d is not a port (0-65535)", o->rtsp_port);
  else if (o->demo && o->http_only)
    g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--demo pushes to its own ingest: not with --http-only");
  else if (o->demo_seconds < 0 || (o->demo_seconds && !o->demo))
    g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--demo-seconds: a number of seconds, with --demo");
  else
    return TRUE;
  return FALSE;
}

static gboolean
options_parse (Options *o, gint *argc, gchar ***argv, GError **error)
{
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &o->config_path,
        "Configuration file ([server], [app.NAME], [ingest], [stream.*], "
        "[cluster])",
        "FILE" },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &o->server[OPT_LISTEN],
        "Listen address (HTTP and RTSP)", "ADDR" },
    { "http-port", 'p', 0, G_OPTION_ARG_STRING, &o->server[OPT_HTTP_PORT],
        "HTTP port (0: any free)", "N" },
    { "http-threads", 0, 0, G_OPTION_ARG_STRING, &o->server[OPT_HTTP_THREADS],
        "HTTP threads sharing the port", "N" },
    { "rtsp-port", 0, 0, G_OPTION_ARG_INT, &o->rtsp_port,
        "RTSP ingest port (0: any free)", "N" },
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->server[OPT_DATA_DIR],
        "Uploads and thumbnails", "DIR" },
    { "store-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->server[OPT_STORE_DIR],
        "Cover store (shared memory)", "DIR" },
    { "http-only", 0, 0, G_OPTION_ARG_NONE, &o->http_only,
        "No ingest: serve covers published by other processes", NULL },
    { "demo", 0, 0, G_OPTION_ARG_NONE, &o->demo,
        "Zero configuration: push a simulated camera to this server and "
        "print a curl for its cover",
        NULL },
    { "demo-seconds", 0, 0, G_OPTION_ARG_INT, &o->demo_seconds,
        "With --demo: stop after N seconds (default: at SIGINT/SIGTERM)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx =
      g_option_context_new ("- the coversnap media server");

  o->rtsp_port = -1;
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  return g_option_context_parse (ctx, argc, argv, error) &&
      options_check (o, error);
}

/* @file's [server] and [app.NAME], then the command line's [server] keys
 * (transfer full) */
static CoverConfig *
configure (const Options *o, GKeyFile *file, GError **error)
{
  g_autoptr (CoverConfig) config = cover_config_new ();
  guint i;

  if (!cover_config_load_key_file (config, file, error))
    return NULL;
  for (i = 0; i < N_SERVER_OPTIONS; i++) {
    if (o->server[i] &&
        !cover_config_set (config, server_option_keys[i], o->server[i], error))
      return NULL;
  }
  return g_steal_pointer (&config);
}

/* --demo: its defaults as a key file under the user's values, then the
 * configuration made again from both (transfer full) */
static CoverConfig *
configure_demo (const Options *o, CoverDemo *demo, GKeyFile *file,
    CoverConfig *user, GError **error)
{
  g_autoptr (GKeyFile) defaults = cover_demo_defaults (demo, user, error);
  g_autoptr (CoverConfig) config = NULL;

  if (!defaults)
    return NULL;
  cover_config_key_file_add_defaults (file, defaults);
  config = configure (o, file, error);
  if (!config || !cover_demo_prepare (demo, config, error))
    return NULL;
  return g_steal_pointer (&config);
}

#ifdef COVERSNAP_CLUSTER
static gboolean
claim_live (guint32 client_id, gpointer cluster)
{
  return cover_cluster_claim_live (cluster, client_id);
}

static void
release_live (guint32 client_id, gpointer cluster)
{
  cover_cluster_release_live (cluster, client_id);
}

/* RTMP publishes and cameras pulled: the claim without waiting */
static void
claim_live_async (guint32 client_id, GMainContext *context,
    CoverIngestClaimedFunc done, gpointer done_data, gpointer cluster)
{
  cover_cluster_claim_live_async (cluster, client_id, context, done, done_data);
}

/* covertap saved a thumbnail: the registry knows it now, not at the next
 * heartbeat */
static void
thumbnail_saved (guint32 client_id, gint64 capture_time, gpointer cluster)
{
  cover_cluster_thumbnail_saved (cluster, client_id, capture_time);
}
#endif

/* [cluster] of @file: joins the cluster (the service's sources and upload
 * store, the ingest's claims).  FALSE with @error on a bad [cluster]. */
static gboolean
join_cluster (GKeyFile *file, CoverService *service, CoverIngest *ingest,
    gpointer *cluster, gpointer *cluster_service, GError **error)
{
  g_autoptr (GError) err = NULL;
  CoverClusterConfig *cc = cover_config_cluster_load (file, &err);

  if (!cc && err) {
    g_propagate_error (error, g_steal_pointer (&err));
    return FALSE;
  }
  if (!cc)
    return TRUE;
#ifdef COVERSNAP_CLUSTER
  *cluster =
      cover_cluster_new (cc, cover_service_get_config (service)->thumbnail_dir);
  *cluster_service = cover_cluster_service_attach (*cluster, service);
  if (ingest) {
    cover_ingest_set_cluster_funcs (ingest, claim_live, claim_live_async,
        release_live, thumbnail_saved, *cluster);
  }
  return TRUE;
#else
  cover_config_cluster_free (cc);
  g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
      "[cluster]: this coversnapd was built without hiredis");
  return FALSE;
#endif
}

static void
leave_cluster (gpointer cluster, gpointer cluster_service)
{
#ifdef COVERSNAP_CLUSTER
  cover_cluster_service_free (cluster_service);
  cover_cluster_free (cluster);
#endif
}

int
main (int argc, char **argv)
{
  Options o = { 0 };
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (GKeyFile) file = g_key_file_new ();
  CoverConfig *config;
  CoverService *service;
  CoverIngest *ingest = NULL;
  CoverDemo *demo = NULL;
  gpointer cluster = NULL, cluster_service = NULL;
  gint exit_code = 1;

  if (!options_parse (&o, &argc, &argv, &err)) {
    g_printerr ("coversnapd: %s\n", err->message);
    options_clear (&o);
    return 2;
  }
  /* before anything listens: a SIGTERM that comes as soon as the ports are
   * printed (or the HTTP thread answered) must stop us cleanly, not by
   * the default action; it is handled once the loop runs */
  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, quit, loop);
  g_unix_signal_add (SIGTERM, quit, loop);
  gst_init (NULL, NULL);

  if (o.config_path &&
      !g_key_file_load_from_file (file, o.config_path, G_KEY_FILE_NONE, &err)) {
    g_printerr ("coversnapd: %s: %s\n", o.config_path, err->message);
    goto out;
  }
  config = configure (&o, file, &err);
  if (config && o.demo) {
    g_autoptr (CoverConfig) user = config;

    demo = cover_demo_new (o.demo_seconds);
    config = configure_demo (&o, demo, file, user, &err);
  }
  if (!config) {
    g_printerr ("coversnapd: %s\n", err->message);
    goto out;
  }
  if (cover_app_table_get_size (config->apps) == 0)
    g_printerr ("coversnapd: no [app.NAME] in the configuration: every token "
                "will be refused\n");

  /* the service takes the config */
  service = cover_service_new (config, &err);
  if (!service) {
    g_printerr ("coversnapd: %s\n", err->message);
    goto out;
  }
  /* the ingest reads the service's config (same apps, same directories) */
  if (!o.http_only) {
    ingest = cover_ingest_new (cover_service_get_config (service), file, &err);
    if (ingest && o.rtsp_port >= 0)
      cover_ingest_set_port (ingest, o.rtsp_port);
  }
  /* the RTMP server's hooks and the pulls' state, on the HTTP port */
  if (ingest) {
    CoverRtmpHooks *hooks = cover_ingest_get_rtmp_hooks (ingest);

    cover_service_add_early_handler (
        service, COVER_RTMP_HOOKS_PATH, cover_rtmp_hooks_early_handler, hooks);
    cover_service_add_handler (
        service, COVER_RTMP_HOOKS_PATH, cover_rtmp_hooks_handler, hooks);
    cover_service_add_metrics (service, cover_ingest_write_metrics, ingest);
  }
  if ((!o.http_only && !ingest) ||
      !join_cluster (file, service, ingest, &cluster, &cluster_service, &err) ||
      !cover_service_listen (service, &err) ||
      (ingest && !cover_ingest_start (ingest, &err))) {
    g_printerr ("coversnapd: %s\n", err->message);
    cover_ingest_free (ingest);
    cover_service_free (service);
    leave_cluster (cluster, cluster_service);
    goto out;
  }
  g_print ("http on %s:%u\n",
      cover_service_get_config (service)->listen_address,
      cover_service_get_port (service));
  if (ingest)
    g_print ("rtsp on %s:%u\n",
        cover_service_get_config (service)->listen_address,
        cover_ingest_get_port (ingest));
#ifdef COVERSNAP_CLUSTER
  /* after the ports: readers of the first lines see them as before */
  if (cluster) {
    const CoverClusterConfig *cc = cover_cluster_get_config (cluster);

    g_print ("cluster node %s (%s), forward %s\n", cc->node_id, cc->public_url,
        cc->forward);
  }
#endif
  fflush (stdout);

  if (demo &&
      !cover_demo_start (demo, loop, cover_service_get_config (service),
          cover_service_get_port (service), cover_ingest_get_port (ingest),
          &err)) {
    g_printerr ("coversnapd: %s\n", err->message);
    g_clear_error (&err);
  }
  if (!demo || cover_demo_get_exit_code (demo) == 0)
    g_main_loop_run (loop);

  g_message ("shutting down");
  if (demo)
    cover_demo_stop (demo);
  if (ingest) {
    cover_ingest_stop (
        ingest, cover_service_get_config (service)->shutdown_timeout_us / 1000);
    /* no hook may reach the ingest once freed */
    cover_service_stop (service);
    cover_ingest_free (ingest);
  }
  cover_service_free (service);
  leave_cluster (cluster, cluster_service);
  g_message ("stopped");
  exit_code = demo ? cover_demo_get_exit_code (demo) : 0;

out:
  cover_demo_free (demo);
  options_clear (&o);
  return exit_code;
}
