/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* coversnapd --demo (see coversnapd-demo.h and gst-docs/coversnapd.md). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "coversnapd-demo.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cover-token.h"
#include "coverid.h"
#include "coverstore.h"

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

struct _CoverDemo
{
  GMainLoop *loop;
  /* for URLs: the listen address ("[...]" for IPv6), 127.0.0.1 for "any" */
  gchar host[INET6_ADDRSTRLEN + 2];
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
  guint time_up_source; /* --demo-seconds, or 0 */
  guint seconds;
  gint exit_code;
};

typedef CoverDemo Demo;

CoverDemo *
cover_demo_new (guint seconds)
{
  /* a box with a clear function: GLib frees the demo after it */
  CoverDemo *demo = g_rc_box_new0 (CoverDemo);

  demo->seconds = seconds;
  return demo;
}

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

/* @path and the files in it (a cover store has no subdirectories); NULL:
 * nothing */
static void
remove_dir (const gchar *path)
{
  g_autoptr (GDir) dir = path ? g_dir_open (path, 0, NULL) : NULL;
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir))) {
    g_autofree gchar *child = g_build_filename (path, name, NULL);

    g_unlink (child);
  }
  if (path)
    g_rmdir (path);
}

/* <default store dir>/coversnap-demo-<pid>: segments of a demo never meet
 * real ones, and are as private as theirs.  Directories of demos whose
 * process is gone (killed) are removed. */
static gchar *
demo_make_store_dir (GError **error)
{
  g_autofree gchar *base = NULL;
  g_autoptr (GDir) dir = NULL;
  g_autofree gchar *name = NULL;
  gchar *path;
  const gchar *entry;

  base = cover_store_resolve_dir (NULL, error);
  if (!base)
    return NULL;
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
demo_token (Demo *demo, guint32 control, gint64 ttl_s)
{
  CoverToken t = { 0 };

  t.cid = DEMO_CID;
  t.control = control;
  t.expire = MIN (g_get_real_time () / G_USEC_PER_SEC + ttl_s, G_MAXUINT32);
  return cover_token_mint (demo->key, &t);
}

/* the address the demo's URLs and port checks use */
static const gchar *
demo_address (const CoverConfig *user)
{
  return cover_config_is_given (user, "listen-address") ? user->listen_address
                                                        : "127.0.0.1";
}

GKeyFile *
cover_demo_defaults (CoverDemo *demo, const CoverConfig *user, GError **error)
{
  g_autoptr (GKeyFile) defaults = g_key_file_new ();
  g_autofree gchar *data_dir =
      g_build_filename (g_get_user_cache_dir (), "coversnap-demo", NULL);
  const gchar *address = demo_address (user);

  g_return_val_if_fail (demo != NULL && user != NULL, NULL);

  g_key_file_set_value (defaults, "server", "listen-address", "127.0.0.1");
  g_key_file_set_integer (defaults, "server", "port",
      port_is_free (address, DEMO_HTTP_PORT) ? DEMO_HTTP_PORT : 0);
  g_key_file_set_integer (defaults, "ingest", "rtsp-port",
      port_is_free (address, DEMO_RTSP_PORT) ? DEMO_RTSP_PORT : 0);
  g_key_file_set_value (defaults, "server", "data-dir", data_dir);
  /* a store of its own only when it is the one used */
  if (!cover_config_is_given (user, "store-dir")) {
    demo->store_dir = demo_make_store_dir (error);
    if (!demo->store_dir)
      return NULL;
    g_key_file_set_value (defaults, "server", "store-dir", demo->store_dir);
  }
  g_key_file_set_boolean (defaults, "stream.default", "thumbnails", TRUE);
  /* an application of the configuration may own the client id already */
  if (!cover_app_table_lookup (user->apps, DEMO_CID, NULL)) {
    g_autofree gchar *key = cover_random_hex (16);

    g_key_file_set_value (defaults, "app.demo", "key", key);
    g_key_file_set_value (defaults, "app.demo", "cids", G_STRINGIFY (DEMO_CID));
  }
  return g_steal_pointer (&defaults);
}

gboolean
cover_demo_prepare (CoverDemo *demo, const CoverConfig *config, GError **error)
{
  GBytes *key;

  g_return_val_if_fail (demo != NULL && config != NULL, FALSE);

  if (g_mkdir_with_parents (config->data_dir, 0700) != 0) {
    gint e = errno;

    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
        "cannot make the data dir %s: %s", config->data_dir, g_strerror (e));
    return FALSE;
  }
  key = cover_app_table_lookup (config->apps, DEMO_CID, NULL);
  if (!key) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "no application owns the demo's client id %u", DEMO_CID);
    return FALSE;
  }
  g_free (demo->key);
  demo->key = g_strndup (g_bytes_get_data (key, NULL), g_bytes_get_size (key));
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

/* What the pusher says from now on is not the demo's: the ingest's stop
 * closes its connection (the error that follows is no failure). */
static void
demo_unwatch_pusher (Demo *demo)
{
  g_autoptr (GstBus) bus = NULL;

  if (!demo->pusher)
    return;
  bus = gst_element_get_bus (demo->pusher);
  gst_bus_remove_watch (bus);
}

/* Once the ingest has stopped: the pusher's connection is closed, so
 * rtspclientsink's TEARDOWN fails at once.  Not before: this thread would
 * wait in it for our own server's answer (a wait rtspclientsink does not
 * bound while interleaved RTCP keeps arriving), and the server's shutdown
 * must not hang on its own simulated device. */
static void
demo_stop_pusher (Demo *demo)
{
  if (!demo->pusher)
    return;
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

  body = soup_session_send_and_read_finish (SOUP_SESSION (session), res, &err);
  /* cancelled: the demo is going away */
  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  demo->polling = FALSE;
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
  demo->time_up_source = 0;
  g_main_loop_quit (demo->loop);
  return G_SOURCE_REMOVE;
}

gboolean
cover_demo_start (CoverDemo *demo, GMainLoop *loop, const CoverConfig *config,
    guint16 http_port, guint16 rtsp_port, GError **error)
{
  const gchar *addr;
  g_autofree gchar *token = NULL;

  g_return_val_if_fail (demo != NULL && loop != NULL, FALSE);
  g_return_val_if_fail (config != NULL, FALSE);

  demo->loop = loop;
  addr = config->listen_address;
  if (!strcmp (addr, "0.0.0.0") || !strcmp (addr, "::"))
    g_strlcpy (demo->host, "127.0.0.1", sizeof (demo->host));
  else if (strchr (addr, ':'))
    g_snprintf (demo->host, sizeof (demo->host), "[%s]", addr);
  else
    g_strlcpy (demo->host, addr, sizeof (demo->host));
  demo->http_port = http_port;
  demo->rtsp_port = rtsp_port;
  g_message (
      "demo: data in %s, covers in %s", config->data_dir, config->store_dir);
  if (!demo_start_pusher (demo, error)) {
    /* no timer was set that would end the loop: the demo failed */
    demo->exit_code = 1;
    return FALSE;
  }

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
    demo->time_up_source =
        g_timeout_add_seconds (demo->seconds, demo_time_up, demo);
  return TRUE;
}

void
cover_demo_stop (CoverDemo *demo)
{
  g_return_if_fail (demo != NULL);

  g_clear_handle_id (&demo->poll_source, g_source_remove);
  /* the shutdown iterates the main context: a stop by signal must not
   * meet the timer later */
  g_clear_handle_id (&demo->time_up_source, g_source_remove);
  /* a GET still in flight is cancelled: its callback leaves the demo
   * alone */
  if (demo->cancel)
    g_cancellable_cancel (demo->cancel);
  g_clear_object (&demo->session);
  g_clear_object (&demo->cancel);
  demo_unwatch_pusher (demo);
}

gint
cover_demo_get_exit_code (CoverDemo *demo)
{
  g_return_val_if_fail (demo != NULL, 1);

  return demo->exit_code;
}

static void
demo_clear (CoverDemo *demo)
{
  demo_stop_pusher (demo);
  /* segments of a demo never outlive it */
  remove_dir (demo->store_dir);
  g_free (demo->store_dir);
  g_free (demo->key);
  g_free (demo->cover_url);
}

void
cover_demo_free (CoverDemo *demo)
{
  if (demo)
    g_rc_box_release_full (demo, (GDestroyNotify) demo_clear);
}
