/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The density benchmark's references (bench/run-density-bench.sh): the
 * obvious composition of stock parts that coversnapd is measured against,
 * per added stream, in the same run:
 *
 *   density-ref fakesink --cids FIRST-LAST
 *     (f) a bare gst-rtsp-server taking RTSP RECORD at /live/<cid> into a
 *         fakesink: what receiving a push costs.
 *   density-ref covertap --cids FIRST-LAST --store-dir DIR
 *     (g) (f) + rtph264depay ! h264parse ! covertap (client-id <cid>, the
 *         element's defaults, segments in DIR): what receiving a push and
 *         making its cover costs when nothing is shared or trimmed.
 *
 * gst-rtsp-server's defaults throughout (its thread pool, a media loop per
 * push, rtpbin with its jitterbuffer); no authentication.  Listens on
 * 127.0.0.1, a free port, printed as "rtsp on 127.0.0.1:PORT"; runs until
 * SIGINT/SIGTERM. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <string.h>

static GMainLoop *loop;

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  gchar *cids = NULL, *store_dir = NULL;
  gchar **rest = NULL;
  GOptionEntry entries[] = { { "cids", 0, 0, G_OPTION_ARG_STRING, &cids,
                                 "client ids mounted", "FIRST-LAST" },
    { "store-dir", 0, 0, G_OPTION_ARG_FILENAME, &store_dir,
        "covertap's store-dir (covertap)", "DIR" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL,
        "fakesink | covertap" },
    { NULL } };
  g_autoptr (GOptionContext) ctx =
      g_option_context_new ("fakesink | covertap - density references");
  g_autoptr (GError) err = NULL;
  GstRTSPServer *server;
  GstRTSPMountPoints *mounts;
  gboolean tap;
  guint64 first = 0, last = 0;
  gchar *dash;
  guint64 cid;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("density-ref: %s\n", err->message);
    return 2;
  }
  if (!rest || !rest[0] || rest[1] || !cids || !(dash = strchr (cids, '-')) ||
      !g_ascii_string_to_unsigned (dash + 1, 10, 1, G_MAXUINT32, &last, NULL) ||
      (*dash = '\0',
          !g_ascii_string_to_unsigned (cids, 10, 1, last, &first, NULL)) ||
      last - first >= 10000) {
    g_printerr ("density-ref: fakesink|covertap --cids FIRST-LAST\n");
    return 2;
  }
  tap = g_str_equal (rest[0], "covertap");
  if ((!tap && !g_str_equal (rest[0], "fakesink")) || (tap && !store_dir)) {
    g_printerr ("density-ref: fakesink, or covertap --store-dir DIR\n");
    return 2;
  }

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, NULL);
  g_unix_signal_add (SIGTERM, on_signal, NULL);
  server = gst_rtsp_server_new ();
  gst_rtsp_server_set_address (server, "127.0.0.1");
  gst_rtsp_server_set_service (server, "0");
  mounts = gst_rtsp_server_get_mount_points (server);
  for (cid = first; cid <= last; cid++) {
    GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new ();
    g_autofree gchar *path = g_strdup_printf ("/live/%" G_GUINT64_FORMAT, cid);
    g_autofree gchar *dir = store_dir ? g_strescape (store_dir, NULL) : NULL;
    g_autofree gchar *launch = tap
        ? g_strdup_printf ("( rtph264depay name=depay0 ! h264parse ! "
                           "covertap client-id=%" G_GUINT64_FORMAT
                           " store-dir=\"%s\" ! fakesink sync=false "
                           "async=false )",
              cid, dir)
        : g_strdup ("( fakesink name=depay0 sync=false async=false )");

    gst_rtsp_media_factory_set_launch (factory, launch);
    gst_rtsp_media_factory_set_transport_mode (
        factory, GST_RTSP_TRANSPORT_MODE_RECORD);
    gst_rtsp_mount_points_add_factory (mounts, path, factory);
  }
  g_object_unref (mounts);
  if (!gst_rtsp_server_attach (server, NULL)) {
    g_printerr ("density-ref: cannot start the RTSP server\n");
    return 1;
  }
  g_print ("rtsp on 127.0.0.1:%d\n", gst_rtsp_server_get_bound_port (server));

  g_main_loop_run (loop);
  g_object_unref (server);
  g_main_loop_unref (loop);
  g_strfreev (rest);
  g_free (cids);
  g_free (store_dir);
  return 0;
}
