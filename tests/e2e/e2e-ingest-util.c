/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "e2e-ingest-util.h"

#include <string.h>

gchar *
e2e_ingest_metrics (E2eServer *f)
{
  g_autofree gchar *uri =
      g_strdup_printf ("http://127.0.0.1:%u/metrics", f->http_port);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) body =
      soup_session_send_and_read (f->session, msg, NULL, &err);

  g_assert_no_error (err);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  return cs_test_bytes_to_string (body);
}

guint
e2e_ingest_post_hook (E2eServer *f, const gchar *name, const gchar *type,
    const gchar *body, gchar **answer)
{
  g_autofree gchar *uri =
      g_strdup_printf ("http://127.0.0.1:%u/hooks/rtmp/%s", f->http_port, name);
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", uri);
  g_autoptr (GBytes) in = g_bytes_new (body, strlen (body));
  g_autoptr (GBytes) out = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *quoted = NULL;
  const gchar *id;

  soup_message_set_request_body_from_bytes (msg, type, in);
  out = soup_session_send_and_read (f->session, msg, NULL, &err);
  g_assert_no_error (err);
  text = cs_test_bytes_to_string (out);
  id = soup_message_headers_get_one (
      soup_message_get_response_headers (msg), "X-Request-ID");
  g_assert_nonnull (id);
  quoted = g_strdup_printf ("\"request_id\":\"%s\"", id);
  g_assert_nonnull (strstr (text, quoted));
  if (answer)
    *answer = g_steal_pointer (&text);
  return soup_message_get_status (msg);
}

typedef struct
{
  E2eServer *f;
  guint32 cid;
  const gchar *colour; /* "red", "blue", or NULL: not live */
} CoverWait;

static gboolean
cover_is (gpointer data)
{
  CoverWait *w = data;
  E2eResp *r = e2e_get_cover (w->f, w->cid);
  gboolean live = g_strcmp0 (r->source, "live") == 0;
  gboolean done = FALSE;

  if (!w->colour) {
    done = !live;
  } else if (live) {
    gdouble rgb[3];

    e2e_mean_rgb (r->body, 320, 240, rgb);
    done = g_str_equal (w->colour, "red")
        ? rgb[0] > 200 && rgb[1] < 50 && rgb[2] < 50
        : rgb[0] < 50 && rgb[1] < 50 && rgb[2] > 200;
  }
  e2e_resp_free (r);
  return done;
}

void
e2e_ingest_wait_cover (E2eServer *f, guint32 cid, const gchar *colour)
{
  CoverWait w = { f, cid, colour };

  if (!cs_test_poll (cover_is, &w, E2E_WAIT_S * G_USEC_PER_SEC, 100 * 1000)) {
    g_printerr ("cover of %u: waited for %s\n", cid, colour ? colour : "none");
    g_assert_not_reached ();
  }
}

#define NGINX "/usr/sbin/nginx"
#define RTMP_MODULE "/usr/lib/nginx/modules/ngx_rtmp_module.so"

guint16
e2e_free_port (void)
{
  g_autoptr (GSocket) sock = g_socket_new (
      G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) err = NULL;

  g_assert_nonnull (sock);
  g_assert_true (g_socket_bind (sock, any, FALSE, &err));
  bound = g_socket_get_local_address (sock, &err);
  g_assert_no_error (err);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static gboolean
accepts (gpointer data)
{
  E2eNginx *n = data;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) c = g_socket_client_connect_to_host (
      client, "127.0.0.1", n->port, NULL, NULL);

  return c != NULL;
}

E2eNginx *
e2e_nginx_start (guint16 rtmp_port, guint16 http_port)
{
  E2eNginx *n = g_new0 (E2eNginx, 1);
  g_autofree gchar *conf = NULL, *conf_path = NULL, *log_path = NULL;
  g_autoptr (GError) err = NULL;

  n->dir = cs_test_make_tmpdir ("coversnap-nginx-XXXXXX");
  n->port = rtmp_port;
  log_path = g_build_filename (n->dir, "error.log", NULL);
  conf = g_strdup_printf (
      "load_module " RTMP_MODULE ";\n"
      "daemon off;\n"
      "master_process off;\n"
      "worker_processes 1;\n"
      "pid %s/nginx.pid;\n"
      "error_log %s info;\n"
      "events { worker_connections 64; }\n"
      "rtmp {\n"
      "  server {\n"
      "    listen 127.0.0.1:%u;\n"
      "    application live {\n"
      "      live on;\n"
      "      on_publish http://127.0.0.1:%u/hooks/rtmp/on_publish;\n"
      "      on_publish_done http://127.0.0.1:%u/hooks/rtmp/on_publish_done;\n"
      "    }\n"
      "  }\n"
      "}\n",
      n->dir, log_path, rtmp_port, http_port, http_port);
  conf_path = g_build_filename (n->dir, "nginx.conf", NULL);
  g_assert_true (g_file_set_contents (conf_path, conf, -1, NULL));
  /* -e: not even the compiled-in error log outside the dir */
  n->proc = e2e_spawn (G_SUBPROCESS_FLAGS_NONE, NULL, &err, NGINX, "-p", n->dir,
      "-e", log_path, "-c", conf_path, NULL);
  g_assert_no_error (err);
  g_assert_true (
      cs_test_poll (accepts, n, E2E_WAIT_S * G_USEC_PER_SEC, 50 * 1000));
  return n;
}

void
e2e_nginx_free (E2eNginx *n)
{
  g_autofree gchar *log_path = g_build_filename (n->dir, "error.log", NULL);
  g_autofree gchar *log = NULL;

  cs_test_kill_child (n->proc);
  g_object_unref (n->proc);
  if (g_file_get_contents (log_path, &log, NULL, NULL))
    g_test_message ("nginx:\n%s", log);
  cs_test_rm_rf (n->dir);
  g_free (n->dir);
  g_free (n);
}

GSubprocess *
e2e_rtmp_publish (E2eNginx *n, guint32 cid, const gchar *token,
    const gchar *colour, gboolean audio)
{
  g_autofree gchar *url = g_strdup_printf (
      "rtmp://127.0.0.1:%u/live/%u?token=%s", n->port, cid, token);
  g_autofree gchar *video =
      g_strdup_printf ("color=c=%s:size=320x240:rate=25", colour);
  g_autoptr (GError) err = NULL;
  GSubprocess *p;

  if (audio)
    p = e2e_spawn (G_SUBPROCESS_FLAGS_STDIN_PIPE, NULL, &err, "ffmpeg",
        "-nostats", "-loglevel", "error", "-re", "-f", "lavfi", "-i", video,
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-c:v",
        "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv", url, NULL);
  else
    p = e2e_spawn (G_SUBPROCESS_FLAGS_STDIN_PIPE, NULL, &err, "ffmpeg",
        "-nostats", "-loglevel", "error", "-re", "-f", "lavfi", "-i", video,
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g",
        "25", "-pix_fmt", "yuv420p", "-f", "flv", url, NULL);
  g_assert_no_error (err);
  return p;
}
