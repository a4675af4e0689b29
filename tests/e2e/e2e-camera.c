/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* e2e-camera PORT USER PASSWORD PATTERN [h265]: an IP camera as the pull
 * tests need one, a gst-rtsp-server on 127.0.0.1:PORT (0: any free) serving
 * rtsp://127.0.0.1:PORT/cam, videotestsrc PATTERN (a solid colour) ! x264enc
 * (or x265enc),
 * only to USER with PASSWORD (RTSP Basic authentication).  Prints
 * "rtsp on 127.0.0.1:PORT" once it listens; ends at SIGTERM or SIGINT, or
 * when killed (a camera that drops). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static gboolean
quit (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GstRTSPServer) server = NULL;
  g_autoptr (GstRTSPMountPoints) mounts = NULL;
  g_autoptr (GstRTSPAuth) auth = NULL;
  g_autoptr (GstRTSPToken) token = NULL;
  g_autofree gchar *basic = NULL;
  g_autofree gchar *launch = NULL;
  GstRTSPMediaFactory *factory;

  gst_init (&argc, &argv);
  if (argc != 5 && !(argc == 6 && g_str_equal (argv[5], "h265"))) {
    g_printerr ("usage: %s PORT USER PASSWORD PATTERN [h265]\n", argv[0]);
    return 2;
  }
  /* a camera's stream: a key frame every second, parameter sets in band */
  launch = g_strdup_printf (
      "( videotestsrc is-live=true pattern=%s ! "
      "video/x-raw,format=I420,width=320,height=240,framerate=25/1 ! %s )",
      argv[4],
      argc == 6 ? "x265enc tune=zerolatency speed-preset=ultrafast "
                  "key-int-max=25 ! rtph265pay name=pay0 pt=96 "
                  "config-interval=-1"
                : "x264enc tune=zerolatency speed-preset=ultrafast "
                  "key-int-max=25 ! rtph264pay name=pay0 pt=96 "
                  "config-interval=-1");

  server = gst_rtsp_server_new ();
  gst_rtsp_server_set_address (server, "127.0.0.1");
  gst_rtsp_server_set_service (server, argv[1]);
  factory = gst_rtsp_media_factory_new ();
  gst_rtsp_media_factory_set_launch (factory, launch);
  gst_rtsp_media_factory_set_shared (factory, TRUE);
  gst_rtsp_media_factory_add_role (factory, "viewer",
      GST_RTSP_PERM_MEDIA_FACTORY_ACCESS, G_TYPE_BOOLEAN, TRUE,
      GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE, NULL);
  mounts = gst_rtsp_server_get_mount_points (server);
  gst_rtsp_mount_points_add_factory (mounts, "/cam", factory);

  auth = gst_rtsp_auth_new ();
  token = gst_rtsp_token_new (
      GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, "viewer", NULL);
  basic = gst_rtsp_auth_make_basic (argv[2], argv[3]);
  gst_rtsp_auth_add_basic (auth, basic, token);
  gst_rtsp_server_set_auth (server, auth);

  if (gst_rtsp_server_attach (server, NULL) == 0) {
    g_printerr ("e2e-camera: cannot listen on port %s\n", argv[1]);
    return 1;
  }
  printf ("rtsp on 127.0.0.1:%d\n", gst_rtsp_server_get_bound_port (server));
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, quit, loop);
  g_unix_signal_add (SIGTERM, quit, loop);
  g_main_loop_run (loop);
  return 0;
}
