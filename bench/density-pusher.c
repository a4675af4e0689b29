/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The density benchmark's helper (bench/run-density-bench.sh), two modes:
 *
 *   density-pusher push --clip FILE URL...
 *     loops the pre-encoded H.264 byte-stream FILE in real time into every
 *     URL with RTSP RECORD over TCP, no re-encoding: one pipeline, the clip
 *     read and parsed once, multifilesrc loop=true ! h264parse ! tee, and
 *     per URL queue ! rtspclientsink.  Prints "pushing N"; an error of one
 *     URL's branch is printed ("error URL: ...") and that branch taken out.
 *
 *   density-pusher serve --clip FILE
 *     a gst-rtsp-server on 127.0.0.1 (free port) serving the same FILE looped
 *     for PLAY at /cam, as a camera does: one shared media, kept running by a
 *     client of this process, so that a client joins a live stream at an
 *     arbitrary point.  Prints "serving rtsp://127.0.0.1:PORT/cam" once the
 *     stream flows.
 *
 * Both run until SIGINT/SIGTERM.  The clip has no B-frames: its buffers get
 * PTS = DTS (h264parse interpolates only the DTS of a byte stream). */

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

static GstPadProbeReturn
pts_from_dts (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  if (!GST_BUFFER_PTS_IS_VALID (buf) && GST_BUFFER_DTS_IS_VALID (buf)) {
    buf = gst_buffer_make_writable (buf);
    GST_BUFFER_PTS (buf) = GST_BUFFER_DTS (buf);
    GST_PAD_PROBE_INFO_DATA (info) = buf;
  }
  return GST_PAD_PROBE_OK;
}

static void
probe_parser (GstElement *bin)
{
  GstElement *parse = gst_bin_get_by_name (GST_BIN (bin), "parse");
  GstPad *pad;

  g_assert (parse);
  pad = gst_element_get_static_pad (parse, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, pts_from_dts, NULL, NULL);
  gst_object_unref (pad);
  gst_object_unref (parse);
}

/* push: one pipeline for every URL.  The clip is read and parsed once;
 * a tee fans its access units out to one branch per URL, queue !
 * rtspclientsink, each paced in real time by its sink's clock.  The
 * buffers are shared, not copied: what one more stream costs the pushers is
 * its payloading and its connection, so that N can go into the hundreds on
 * two cores.  A branch that fails (an error of its rtspclientsink) is
 * taken out and printed; the others go on. */

static GstElement *push_pipeline;
static GstElement *push_tee;

/* the branch (a bin named by its index) @obj is in, or NULL (transfer
 * full) */
static GstElement *
branch_of (GstObject *obj)
{
  GstObject *o = obj ? gst_object_ref (obj) : NULL;

  while (o) {
    GstObject *parent = gst_object_get_parent (o);

    if (parent == GST_OBJECT (push_pipeline)) {
      gst_object_unref (parent);
      if (g_str_has_prefix (GST_OBJECT_NAME (o), "branch"))
        return GST_ELEMENT (o);
      gst_object_unref (o);
      return NULL;
    }
    gst_object_unref (o);
    o = parent;
  }
  return NULL;
}

static void
drop_branch (GstElement *branch)
{
  GstPad *sink = gst_element_get_static_pad (branch, "sink");
  GstPad *peer = gst_pad_get_peer (sink);

  if (peer) {
    gst_pad_unlink (peer, sink);
    gst_element_release_request_pad (push_tee, peer);
    gst_object_unref (peer);
  }
  gst_object_unref (sink);
  gst_element_set_locked_state (branch, TRUE);
  gst_element_set_state (branch, GST_STATE_NULL);
  gst_bin_remove (GST_BIN (push_pipeline), branch);
}

static gboolean
on_push_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  g_autoptr (GError) err = NULL;
  GstElement *branch;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &err, NULL);
      branch = branch_of (GST_MESSAGE_SRC (msg));
      if (!branch) {
        g_printerr ("error: %s\n", err->message);
        g_main_loop_quit (loop);
        break;
      }
      g_printerr ("error %s: %s\n",
          (const gchar *) g_object_get_data (G_OBJECT (branch), "url"),
          err->message);
      drop_branch (branch);
      gst_object_unref (branch);
      break;
    case GST_MESSAGE_EOS:
      g_printerr ("error: end of stream\n");
      g_main_loop_quit (loop);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static int
run_push (const gchar *clip, gint n, gchar **urls)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *loc = g_strescape (clip, NULL);
  g_autofree gchar *desc = g_strdup_printf (
      "multifilesrc location=\"%s\" loop=true ! h264parse name=parse "
      "! video/x-h264,alignment=au ! tee name=t",
      loc);
  GstBus *bus;
  gint i;

  push_pipeline = gst_parse_launch (desc, &err);
  if (!push_pipeline) {
    g_printerr ("error: %s\n", err->message);
    return 1;
  }
  probe_parser (push_pipeline);
  push_tee = gst_bin_get_by_name (GST_BIN (push_pipeline), "t");
  for (i = 0; i < n; i++) {
    g_autofree gchar *name = g_strdup_printf ("branch%d", i);
    g_autofree gchar *url = g_strescape (urls[i], NULL);
    g_autofree gchar *bdesc = g_strdup_printf (
        "queue ! rtspclientsink protocols=tcp latency=0 location=\"%s\"", url);
    GstElement *branch = gst_parse_bin_from_description (bdesc, TRUE, &err);

    if (!branch) {
      g_printerr ("error %s: %s\n", urls[i], err->message);
      return 1;
    }
    gst_object_set_name (GST_OBJECT (branch), name);
    g_object_set_data (G_OBJECT (branch), "url", urls[i]);
    gst_bin_add (GST_BIN (push_pipeline), branch);
    if (!gst_element_link (push_tee, branch)) {
      g_printerr ("error %s: cannot link\n", urls[i]);
      return 1;
    }
  }
  bus = gst_element_get_bus (push_pipeline);
  gst_bus_add_watch (bus, on_push_message, NULL);
  gst_object_unref (bus);
  if (gst_element_set_state (push_pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    g_printerr ("error: cannot start\n");
    return 1;
  }
  g_print ("pushing %d\n", n);
  g_main_loop_run (loop);
  gst_element_set_state (push_pipeline, GST_STATE_NULL);
  gst_object_unref (push_tee);
  gst_object_unref (push_pipeline);
  return 0;
}

/* serve */

static guint server_port;

static void
on_media_configure (
    GstRTSPMediaFactory *factory, GstRTSPMedia *media, gpointer data)
{
  GstElement *element = gst_rtsp_media_get_element (media);

  probe_parser (element);
  gst_object_unref (element);
}

static GstPadProbeReturn
on_first_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  g_print ("serving rtsp://127.0.0.1:%u/cam\n", server_port);
  return GST_PAD_PROBE_REMOVE;
}

static gboolean
on_keeper_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  g_autoptr (GError) err = NULL;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gst_message_parse_error (msg, &err, NULL);
    g_printerr ("error keeper: %s\n", err->message);
    g_main_loop_quit (loop);
  }
  return G_SOURCE_CONTINUE;
}

static int
run_serve (const gchar *clip)
{
  GstRTSPServer *server = gst_rtsp_server_new ();
  GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new ();
  GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points (server);
  g_autofree gchar *loc = g_strescape (clip, NULL);
  g_autofree gchar *launch = g_strdup_printf (
      "( multifilesrc location=\"%s\" loop=true ! h264parse name=parse "
      "! video/x-h264,alignment=au ! rtph264pay name=pay0 pt=96 "
      "config-interval=-1 )",
      loc);
  g_autofree gchar *keeper_desc = NULL;
  g_autoptr (GError) err = NULL;
  GstElement *keeper, *sink;
  GstPad *pad;
  GstBus *bus;

  gst_rtsp_server_set_address (server, "127.0.0.1");
  gst_rtsp_server_set_service (server, "0");
  gst_rtsp_media_factory_set_launch (factory, launch);
  gst_rtsp_media_factory_set_shared (factory, TRUE);
  g_signal_connect (
      factory, "media-configure", G_CALLBACK (on_media_configure), NULL);
  gst_rtsp_mount_points_add_factory (mounts, "/cam", factory);
  g_object_unref (mounts);
  if (!gst_rtsp_server_attach (server, NULL)) {
    g_printerr ("error: cannot start the RTSP server\n");
    return 1;
  }
  server_port = gst_rtsp_server_get_bound_port (server);

  /* the camera streams whether or not anyone watches: a client of our own
   * keeps the shared media playing */
  keeper_desc = g_strdup_printf ("rtspsrc location=rtsp://127.0.0.1:%u/cam "
                                 "protocols=tcp latency=0 ! fakesink name=sink",
      server_port);
  keeper = gst_parse_launch (keeper_desc, &err);
  if (!keeper) {
    g_printerr ("error keeper: %s\n", err->message);
    return 1;
  }
  sink = gst_bin_get_by_name (GST_BIN (keeper), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (
      pad, GST_PAD_PROBE_TYPE_BUFFER, on_first_buffer, NULL, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
  bus = gst_element_get_bus (keeper);
  gst_bus_add_watch (bus, on_keeper_message, NULL);
  gst_object_unref (bus);
  gst_element_set_state (keeper, GST_STATE_PLAYING);

  g_main_loop_run (loop);
  gst_element_set_state (keeper, GST_STATE_NULL);
  gst_object_unref (keeper);
  g_object_unref (server);
  return 0;
}

int
main (int argc, char **argv)
{
  gchar *clip = NULL;
  gchar **rest = NULL;
  GOptionEntry entries[] = { { "clip", 0, 0, G_OPTION_ARG_FILENAME, &clip,
                                 "H.264 byte-stream file (no B-frames)",
                                 "FILE" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL,
        "push URL... | serve" },
    { NULL } };
  g_autoptr (GOptionContext) ctx =
      g_option_context_new ("push URL... | serve - density benchmark helper");
  g_autoptr (GError) err = NULL;
  int ret;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("density-pusher: %s\n", err->message);
    return 2;
  }
  if (!clip || !rest || !rest[0]) {
    g_printerr ("density-pusher: --clip FILE and push URL... or serve\n");
    return 2;
  }
  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, NULL);
  g_unix_signal_add (SIGTERM, on_signal, NULL);

  if (g_str_equal (rest[0], "push") && rest[1])
    ret = run_push (clip, g_strv_length (rest) - 1, rest + 1);
  else if (g_str_equal (rest[0], "serve") && !rest[1])
    ret = run_serve (clip);
  else {
    g_printerr ("density-pusher: push URL... or serve\n");
    ret = 2;
  }
  g_main_loop_unref (loop);
  g_strfreev (rest);
  g_free (clip);
  return ret;
}
