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

#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cover-ingest.h"
#include "cover-service.h"
#include "cover-token.h"

/* how long the pushers' pipelines get to end at shutdown */
#define SHUTDOWN_TIMEOUT_MS 5000

/* The handler stays: a second signal during the shutdown must not take
 * GLib's handler away (and kill the process halfway). */
static gboolean
quit (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

/* ---- --demo ------------------------------------------------------------ */

/* the simulated device's client id */
#define DEMO_CID 42
#define DEMO_HTTP_PORT 8080
#define DEMO_RTSP_PORT 8554
/* the pusher's token: "never" expires for a demo; the printed viewer
 * token lasts a day */
#define DEMO_PUSHER_TTL_S (10 * 365 * 24 * 3600)
#define DEMO_VIEWER_TTL_S (24 * 3600)
/* how long the first live cover may take (encoder start, first GOP) */
#define DEMO_READY_TIMEOUT_S 30
#define DEMO_POLL_MS 250

typedef struct
{
  GMainLoop *loop;
  gchar *host; /* for URLs: the listen address, 127.0.0.1 for "any" */
  guint16 http_port;
  guint16 rtsp_port;
  gchar *key;
  gchar *store_dir; /* made by the demo, removed at exit; or NULL */
  GstElement *pusher;
  SoupSession *session;
  GCancellable *cancel;
  gchar *cover_url;
  gboolean polling; /* a GET in flight */
  gboolean ready;
  gint64 ready_deadline; /* monotonic µs */
  guint poll_source;
  guint seconds;
  gint exit_code;
} Demo;

/* TRUE when nothing listens on @address:@port now (the server binds it a
 * moment later: a race we accept, a failed listen is reported) */
static gboolean
port_is_free (const gchar *address, guint16 port)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (address);
  g_autoptr (GSocketAddress) sa = NULL;
  g_autoptr (GSocket) socket = NULL;

  if (!inet)
    return FALSE;
  socket = g_socket_new (g_inet_address_get_family (inet), G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  if (!socket)
    return FALSE;
  sa = g_inet_socket_address_new (inet, port);
  /* SO_REUSEADDR: a listener still makes bind() fail, TIME_WAIT does not */
  return g_socket_bind (socket, sa, TRUE, NULL);
}

/* the value given for [server] @key, in the file or on the command line */
static gboolean
server_key_given (GKeyFile *file, const gchar *key, const gchar *cmdline)
{
  return cmdline || g_key_file_has_key (file, "server", key, NULL);
}

static void
remove_dir (const gchar *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  if (dir) {
    while ((name = g_dir_read_name (dir))) {
      g_autofree gchar *child = g_build_filename (path, name, NULL);

      g_unlink (child);
    }
  }
  g_rmdir (path);
}

/* <shm>/coversnap-demo-<pid>: segments of a demo never meet real ones.
 * Directories of demos whose process is gone (killed) are removed. */
static gchar *
demo_make_store_dir (GError **error)
{
  const gchar *base = "/dev/shm";
  g_autoptr (GDir) dir = NULL;
  g_autofree gchar *name = NULL;
  gchar *path;
  const gchar *entry;

  if (!g_file_test (base, G_FILE_TEST_IS_DIR) || access (base, W_OK) != 0)
    base = g_get_user_runtime_dir ();
  dir = g_dir_open (base, 0, NULL);
  while (dir && (entry = g_dir_read_name (dir))) {
    guint64 pid;
    GStatBuf st;
    g_autofree gchar *stale = NULL;

    if (!g_str_has_prefix (entry, "coversnap-demo-") ||
        !g_ascii_string_to_unsigned (
            entry + strlen ("coversnap-demo-"), 10, 1, G_MAXINT, &pid, NULL))
      continue;
    stale = g_build_filename (base, entry, NULL);
    if (g_lstat (stale, &st) != 0 || !S_ISDIR (st.st_mode) ||
        st.st_uid != getuid ())
      continue;
    if (kill ((pid_t) pid, 0) != 0 && errno == ESRCH)
      remove_dir (stale);
  }
  name = g_strdup_printf ("coversnap-demo-%d", (gint) getpid ());
  path = g_build_filename (base, name, NULL);
  /* a leftover of an earlier process with our pid */
  remove_dir (path);
  if (g_mkdir (path, 0700) != 0) {
    gint e = errno;

    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
        "cannot make the demo's cover store %s: %s", path, g_strerror (e));
    g_free (path);
    return NULL;
  }
  return path;
}

static gchar *
random_key (void)
{
  GString *s = g_string_sized_new (32);
  guint i;

  for (i = 0; i < 4; i++)
    g_string_append_printf (s, "%08x", g_random_int ());
  return g_string_free (s, FALSE);
}

static gchar *
demo_token (Demo *demo, guint32 control, gint64 ttl_s)
{
  CoverToken t = { 0 };

  t.cid = DEMO_CID;
  t.control = control;
  t.expire = MIN (g_get_real_time () / G_USEC_PER_SEC + ttl_s, G_MAXUINT32);
  return cover_token_mint (demo->key, &t);
}

/* The demo's settings under those of --config and the command line:
 * 127.0.0.1, ports 8080/8554 (any free one when taken), an app with a
 * fresh key owning client id 42, data in the user's cache, covers in a
 * store of the demo's own, thumbnails on. */
static gboolean
demo_configure (Demo *demo, CoverConfig *config, GKeyFile *file,
    const gchar *cmd_listen, const gchar *cmd_http_port,
    const gchar *cmd_data_dir, const gchar *cmd_store_dir, gint *rtsp_port,
    GError **error)
{
  GBytes *key;

  if (!server_key_given (file, "listen-address", cmd_listen) &&
      !cover_config_set (config, "listen-address", "127.0.0.1", error))
    return FALSE;
  if (!server_key_given (file, "port", cmd_http_port))
    config->port = port_is_free (config->listen_address, DEMO_HTTP_PORT)
        ? DEMO_HTTP_PORT
        : 0;
  if (*rtsp_port < 0 && !g_key_file_has_key (file, "ingest", "rtsp-port", NULL))
    *rtsp_port = port_is_free (config->listen_address, DEMO_RTSP_PORT)
        ? DEMO_RTSP_PORT
        : 0;
  if (!server_key_given (file, "data-dir", cmd_data_dir)) {
    g_autofree gchar *dir =
        g_build_filename (g_get_user_cache_dir (), "coversnap-demo", NULL);

    if (!cover_config_set (config, "data-dir", dir, error))
      return FALSE;
  }
  if (g_mkdir_with_parents (config->data_dir, 0700) != 0) {
    gint e = errno;

    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
        "cannot make the data dir %s: %s", config->data_dir, g_strerror (e));
    return FALSE;
  }
  if (!server_key_given (file, "store-dir", cmd_store_dir)) {
    demo->store_dir = demo_make_store_dir (error);
    if (!demo->store_dir ||
        !cover_config_set (config, "store-dir", demo->store_dir, error))
      return FALSE;
  }
  if (!g_key_file_has_key (file, "stream.default", "thumbnails", NULL))
    g_key_file_set_boolean (file, "stream.default", "thumbnails", TRUE);

  /* an application of the configuration may own the client id already */
  key = cover_app_table_lookup (config->apps, DEMO_CID, NULL);
  if (key) {
    demo->key =
        g_strndup (g_bytes_get_data (key, NULL), g_bytes_get_size (key));
  } else {
    demo->key = random_key ();
    if (!cover_app_table_add (
            config->apps, "demo", demo->key, G_STRINGIFY (DEMO_CID), error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
demo_bus_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  Demo *demo = data;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *debug = NULL;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &err, &debug);
      g_printerr ("coversnapd: demo pusher: %s (%s)\n", err->message,
          debug ? debug : "");
      demo->exit_code = 1;
      g_main_loop_quit (demo->loop);
      break;
    case GST_MESSAGE_EOS:
      g_printerr ("coversnapd: demo pusher: stream ended\n");
      demo->exit_code = 1;
      g_main_loop_quit (demo->loop);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

/* The simulated device: a moving ball with a clock, H.264 with a 2 s GOP,
 * pushed over RTSP to our own ingest like any device. */
static gboolean
demo_start_pusher (Demo *demo, GError **error)
{
  g_autofree gchar *token = demo_token (demo, 0, DEMO_PUSHER_TTL_S);
  g_autofree gchar *launch = NULL;
  g_autoptr (GstBus) bus = NULL;

  launch = g_strdup_printf (
      "videotestsrc is-live=true pattern=ball ! "
      "video/x-raw,format=I420,width=1280,height=720,framerate=25/1 ! "
      "clockoverlay ! "
      "x264enc tune=zerolatency speed-preset=veryfast key-int-max=50 "
      "bitrate=2000 ! "
      "rtspclientsink location=\"rtsp://%s:%u/live/%u?token=%s\"",
      demo->host, demo->rtsp_port, DEMO_CID, token);
  demo->pusher =
      gst_parse_launch_full (launch, NULL, GST_PARSE_FLAG_FATAL_ERRORS, error);
  if (!demo->pusher) {
    g_prefix_error (error,
        "the demo pusher (gst-plugins-base/good/ugly, "
        "gst-rtsp-server): ");
    return FALSE;
  }
  gst_object_set_name (GST_OBJECT (demo->pusher), "demo-pusher");
  bus = gst_element_get_bus (demo->pusher);
  gst_bus_add_watch (bus, demo_bus_message, demo);
  if (gst_element_set_state (demo->pusher, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE,
        "the demo pusher does not start");
    return FALSE;
  }
  return TRUE;
}

static void
demo_stop_pusher (Demo *demo)
{
  g_autoptr (GstBus) bus = NULL;

  if (!demo->pusher)
    return;
  bus = gst_element_get_bus (demo->pusher);
  gst_bus_remove_watch (bus);
  /* rtspclientsink sends TEARDOWN: the ingest ends the stream */
  gst_element_set_state (demo->pusher, GST_STATE_NULL);
  gst_clear_object (&demo->pusher);
}

static void
demo_print_ready (Demo *demo)
{
  g_autofree gchar *token =
      demo_token (demo, COVER_TOKEN_CONTROL_VIEW_SNAPSHOTS, DEMO_VIEWER_TTL_S);

  g_print ("\n"
           "coversnap demo: a simulated camera (client id %u) pushes H.264 "
           "over RTSP to rtsp://%s:%u/live/%u, and its cover is live.\n"
           "\n"
           "Get the live cover (the token is valid for 24 hours):\n"
           "  curl -o cover.jpg "
           "\"http://%s:%u/v2/snapshots/%u/cover?client_token=%s\"\n"
           "\n"
           "Upload a cover (served when the device is not streaming):\n"
           "  curl -F file=@cover.jpg "
           "\"http://%s:%u/v2/devices/%u/snapshots?client_token=%s\"\n"
           "\n",
      DEMO_CID, demo->host, demo->rtsp_port, DEMO_CID, demo->host,
      demo->http_port, DEMO_CID, token, demo->host, demo->http_port, DEMO_CID,
      token);
  if (demo->seconds)
    g_print ("The demo stops by itself after %u s.\n", demo->seconds);
  else
    g_print ("Ctrl-C stops the demo.\n");
  fflush (stdout);
}

static void
demo_got_cover (GObject *session, GAsyncResult *res, gpointer data)
{
  Demo *demo = data;
  SoupMessage *msg =
      soup_session_get_async_result_message (SOUP_SESSION (session), res);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) err = NULL;
  const gchar *source;

  demo->polling = FALSE;
  body = soup_session_send_and_read_finish (SOUP_SESSION (session), res, &err);
  if (!body || demo->ready)
    return;
  source = soup_message_headers_get_one (
      soup_message_get_response_headers (msg), "X-Cover-Source");
  if (soup_message_get_status (msg) == SOUP_STATUS_OK &&
      g_strcmp0 (source, "live") == 0) {
    demo->ready = TRUE;
    g_message ("demo: first live cover, %" G_GSIZE_FORMAT " bytes",
        g_bytes_get_size (body));
    demo_print_ready (demo);
  }
}

/* Polls GET cover until it is live (bounded). */
static gboolean
demo_poll (gpointer data)
{
  Demo *demo = data;
  g_autoptr (SoupMessage) msg = NULL;

  if (demo->ready) {
    demo->poll_source = 0;
    return G_SOURCE_REMOVE;
  }
  if (g_get_monotonic_time () > demo->ready_deadline) {
    g_printerr (
        "coversnapd: demo: no live cover after %d s\n", DEMO_READY_TIMEOUT_S);
    demo->exit_code = 1;
    demo->poll_source = 0;
    g_main_loop_quit (demo->loop);
    return G_SOURCE_REMOVE;
  }
  if (demo->polling)
    return G_SOURCE_CONTINUE;
  msg = soup_message_new ("GET", demo->cover_url);
  demo->polling = TRUE;
  soup_session_send_and_read_async (demo->session, msg, G_PRIORITY_DEFAULT,
      demo->cancel, demo_got_cover, demo);
  return G_SOURCE_CONTINUE;
}

static gboolean
demo_time_up (gpointer data)
{
  Demo *demo = data;

  if (!demo->ready) {
    g_printerr ("coversnapd: demo: no live cover within --demo-seconds %u\n",
        demo->seconds);
    demo->exit_code = 1;
  } else {
    g_message ("demo: %u s are over", demo->seconds);
  }
  g_main_loop_quit (demo->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
demo_start (Demo *demo, const CoverConfig *config, guint16 http_port,
    guint16 rtsp_port, GError **error)
{
  const gchar *addr = config->listen_address;
  g_autofree gchar *token = NULL;

  if (!strcmp (addr, "0.0.0.0") || !strcmp (addr, "::"))
    demo->host = g_strdup ("127.0.0.1");
  else if (strchr (addr, ':'))
    demo->host = g_strdup_printf ("[%s]", addr);
  else
    demo->host = g_strdup (addr);
  demo->http_port = http_port;
  demo->rtsp_port = rtsp_port;
  g_message (
      "demo: data in %s, covers in %s", config->data_dir, config->store_dir);
  if (!demo_start_pusher (demo, error))
    return FALSE;

  token = demo_token (demo, COVER_TOKEN_CONTROL_VIEW_SNAPSHOTS, 600);
  demo->cover_url =
      g_strdup_printf ("http://%s:%u/v2/snapshots/%u/cover?client_token=%s",
          demo->host, demo->http_port, DEMO_CID, token);
  demo->session = soup_session_new_with_options ("timeout", 5, NULL);
  soup_session_set_proxy_resolver (demo->session, NULL);
  demo->cancel = g_cancellable_new ();
  demo->ready_deadline =
      g_get_monotonic_time () + DEMO_READY_TIMEOUT_S * G_USEC_PER_SEC;
  demo->poll_source = g_timeout_add (DEMO_POLL_MS, demo_poll, demo);
  if (demo->seconds)
    g_timeout_add_seconds (demo->seconds, demo_time_up, demo);
  return TRUE;
}

/* Before the ingest stops: the pusher goes first, like a device. */
static void
demo_stop (Demo *demo)
{
  if (demo->poll_source) {
    g_source_remove (demo->poll_source);
    demo->poll_source = 0;
  }
  if (demo->cancel)
    g_cancellable_cancel (demo->cancel);
  demo_stop_pusher (demo);
}

/* After the server is gone. */
static void
demo_clear (Demo *demo)
{
  gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC;

  /* the cancelled GET's callback (bounded) */
  while (demo->polling && g_get_monotonic_time () < deadline) {
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (10 * 1000);
  }
  g_clear_object (&demo->session);
  g_clear_object (&demo->cancel);
  if (demo->store_dir)
    remove_dir (demo->store_dir);
  g_free (demo->store_dir);
  g_free (demo->host);
  g_free (demo->key);
  g_free (demo->cover_url);
}

int
main (int argc, char **argv)
{
  gchar *config_path = NULL, *listen = NULL, *http_port = NULL;
  gchar *http_threads = NULL;
  gchar *data_dir = NULL, *store_dir = NULL;
  gint rtsp_port = -1;
  gboolean http_only = FALSE, demo_mode = FALSE;
  gint demo_seconds = 0;
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
    { "demo", 0, 0, G_OPTION_ARG_NONE, &demo_mode,
        "Zero configuration: push a simulated camera to this server and "
        "print a curl for its cover",
        NULL },
    { "demo-seconds", 0, 0, G_OPTION_ARG_INT, &demo_seconds,
        "With --demo: stop after N seconds (default: at SIGINT/SIGTERM)", "N" },
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
  Demo demo = { 0 };
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
  if (demo_mode && http_only) {
    g_printerr ("coversnapd: --demo pushes to its own ingest: not with "
                "--http-only\n");
    return 2;
  }
  if (demo_seconds < 0 || (demo_seconds && !demo_mode)) {
    g_printerr ("coversnapd: --demo-seconds: a number of seconds, with "
                "--demo\n");
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
  if (demo_mode) {
    demo.seconds = demo_seconds;
    if (!demo_configure (&demo, config, file, listen, http_port, data_dir,
            store_dir, &rtsp_port, &err)) {
      demo_clear (&demo);
      goto config_failed;
    }
  }
  if (cover_app_table_get_size (config->apps) == 0)
    g_printerr ("coversnapd: no [app.NAME] in the configuration: every token "
                "will be refused\n");

  service = cover_service_new (config, &err);
  if (!service) {
    g_printerr ("coversnapd: %s\n", err->message);
    demo_clear (&demo);
    return 1;
  }
  /* the ingest reads the service's config (same apps, same directories) */
  if (!http_only) {
    ingest = cover_ingest_new (cover_service_get_config (service), file, &err);
    if (!ingest) {
      g_printerr ("coversnapd: %s\n", err->message);
      cover_service_free (service);
      demo_clear (&demo);
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
    demo_clear (&demo);
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
  if (demo_mode) {
    demo.loop = loop;
    if (!demo_start (&demo, cover_service_get_config (service),
            cover_service_get_port (service), cover_ingest_get_port (ingest),
            &err)) {
      g_printerr ("coversnapd: %s\n", err->message);
      demo.exit_code = 1;
      g_clear_error (&err);
    }
  }
  if (demo.exit_code == 0)
    g_main_loop_run (loop);

  g_message ("shutting down");
  if (demo_mode)
    demo_stop (&demo);
  if (ingest) {
    cover_ingest_stop (ingest, SHUTDOWN_TIMEOUT_MS);
    cover_ingest_free (ingest);
  }
  cover_service_free (service);
  demo_clear (&demo);
  g_message ("stopped");
  return demo.exit_code;

config_failed:
  g_printerr ("coversnapd: %s\n", err->message);
  cover_config_free (config);
  return 1;
}
