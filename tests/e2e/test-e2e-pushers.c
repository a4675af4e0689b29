/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Pushers nobody here wrote, against a real coversnapd on 127.0.0.1:
 * ffmpeg (-f rtsp, TCP and UDP, the token in the query it appends
 * /streamid=N to, or as a Basic password), H.264 with B-frames and H.265,
 * with AAC, pcm_alaw or no audio; rtspclientsink with the audio first in
 * its SDP; recordings with both tracks that demux to the end; and pushes
 * abandoned after ANNOUNCE, after SETUP, a pusher stopped (SIGSTOP: still
 * connected, silent) and 100 squatting connections, after which the
 * device's next push is live within a bounded wait.  Test media come from
 * ffmpeg's lavfi sources. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "e2e-util.h"

#include <gio/gio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define CID 42

typedef enum
{
  AUDIO_NONE,
  AUDIO_AAC,
  AUDIO_ALAW,
} Audio;

/* Whether the cover of @cid is live and of @colour ("red", "blue"); with
 * @got (or NULL), what the server answered. */
static gboolean
cover_is_live (E2eServer *f, guint32 cid, const gchar *colour, gchar **got)
{
  E2eResp *r = e2e_get_cover (f, cid);
  gboolean ok = FALSE;

  if (g_strcmp0 (r->source, "live") == 0 && r->status == 200) {
    gdouble rgb[3];
    gboolean red, blue;

    e2e_mean_rgb (r->body, 320, 240, rgb);
    red = rgb[0] > 200 && rgb[1] < 50 && rgb[2] < 50;
    blue = rgb[0] < 50 && rgb[1] < 50 && rgb[2] > 200;
    ok = g_str_equal (colour, "red") ? red : blue;
  }
  if (got)
    *got = g_strdup_printf ("%u %s", r->status, r->source ? r->source : "-");
  e2e_resp_free (r);
  return ok;
}

/* Polls until the cover of @cid is live and of @colour; bounded. */
static void
wait_live (E2eServer *f, guint32 cid, const gchar *colour)
{
  gint64 deadline = g_get_monotonic_time () + E2E_WAIT_S * G_USEC_PER_SEC;

  for (;;) {
    g_autofree gchar *got = NULL;

    if (cover_is_live (f, cid, colour, &got))
      return;
    if (g_get_monotonic_time () > deadline) {
      g_printerr (
          "cover of %u: %s, waited for a live %s one\n", cid, got, colour);
      g_assert_not_reached ();
    }
    g_usleep (100 * 1000);
  }
}

/* ffmpeg pushing @seconds of the lavfi graph @source (320x240 at 25 fps),
 * 1 s GOP with 2 B-frames (H.264) or H.265, and @audio, with the output
 * options @extra (NULL-terminated, or NULL), over @transport, to @url;
 * killed when @f is freed */
static GSubprocess *
ffmpeg_push_source (E2eServer *f, const gchar *url, const gchar *source,
    const gchar *const *extra, gboolean h265, Audio audio,
    const gchar *transport, guint seconds)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) err = NULL;
  GSubprocess *p;

#define ARG(a) g_ptr_array_add (argv, g_strdup (a))
  ARG ("ffmpeg");
  ARG ("-nostdin");
  ARG ("-hide_banner");
  ARG ("-loglevel");
  ARG ("error");
  ARG ("-re");
  ARG ("-f");
  ARG ("lavfi");
  ARG ("-i");
  ARG (source);
  if (audio != AUDIO_NONE) {
    ARG ("-f");
    ARG ("lavfi");
    ARG ("-i");
    ARG (audio == AUDIO_AAC ? "sine=f=440:r=48000" : "sine=f=440:r=8000");
  }
  ARG ("-c:v");
  if (h265) {
    ARG ("libx265");
    ARG ("-x265-params");
    ARG ("log-level=error:keyint=25");
  } else {
    ARG ("libx264");
    ARG ("-bf");
    ARG ("2");
    ARG ("-g");
    ARG ("25");
  }
  for (; extra && *extra; extra++)
    ARG (*extra);
  ARG ("-pix_fmt");
  ARG ("yuv420p");
  if (audio != AUDIO_NONE) {
    ARG ("-c:a");
    ARG (audio == AUDIO_AAC ? "aac" : "pcm_alaw");
  }
  ARG ("-t");
  g_ptr_array_add (argv, g_strdup_printf ("%u", seconds));
  ARG ("-rtsp_transport");
  ARG (transport);
  ARG ("-f");
  ARG ("rtsp");
  ARG (url);
#undef ARG
  g_ptr_array_add (argv, NULL);
  p = cs_test_spawnv (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, NULL, NULL, NULL,
      (const gchar *const *) argv->pdata, &err);
  g_assert_no_error (err);
  g_ptr_array_add (f->pushers, p);
  return p;
}

/* the same with a solid @colour */
static GSubprocess *
ffmpeg_push (E2eServer *f, const gchar *url, const gchar *colour, gboolean h265,
    Audio audio, const gchar *transport, guint seconds)
{
  g_autofree gchar *source =
      g_strdup_printf ("color=c=%s:s=320x240:r=25", colour);

  return ffmpeg_push_source (
      f, url, source, NULL, h265, audio, transport, seconds);
}

static gchar *
query_url (E2eServer *f, guint32 cid)
{
  g_autofree gchar *token = e2e_token_for (cid, E2E_KEY);

  return e2e_location_for (f, cid, token);
}

/* ffmpeg's URL form: the query (ffmpeg appends /streamid=N after it) */
typedef struct
{
  const gchar *path;
  gboolean h265;
  Audio audio;
  const gchar *transport;
} PushCase;

static const PushCase push_cases[] = {
  { "/pushers/ffmpeg-tcp-h264-aac", FALSE, AUDIO_AAC, "tcp" },
  { "/pushers/ffmpeg-udp-h264-alaw", FALSE, AUDIO_ALAW, "udp" },
  { "/pushers/ffmpeg-udp-h265-aac", TRUE, AUDIO_AAC, "udp" },
  { "/pushers/ffmpeg-tcp-h265-noaudio", TRUE, AUDIO_NONE, "tcp" },
};

static void
test_push_case (gconstpointer data)
{
  const PushCase *c = data;
  E2eServer *f = e2e_server_new (3, NULL, FALSE);
  g_autofree gchar *url = query_url (f, CID);

  ffmpeg_push (f, url, "red", c->h265, c->audio, c->transport, 30);
  wait_live (f, CID, "red");
  e2e_server_free (f);
}

/* ffmpeg (H.264, AAC, TCP) with the output options @extra pushing red for
 * 3 s, then blue: both covers must come live */
static void
push_red_then_blue (const gchar *const *extra)
{
  E2eServer *f = e2e_server_new (3, NULL, FALSE);
  g_autofree gchar *url = query_url (f, CID);

  ffmpeg_push_source (f, url,
      "color=c=red:s=320x240:r=25:d=3[r];color=c=blue:s=320x240:r=25[b];"
      "[r][b]concat=n=2:v=1:a=0[out0]",
      extra, FALSE, AUDIO_AAC, "tcp", 30);
  wait_live (f, CID, "red");
  wait_live (f, CID, "blue");
  e2e_server_free (f);
}

/* x264's periodic intra refresh (one IDR, then a recovery point SEI on a
 * P picture each period; low-bitrate cameras do this), with AAC: red for
 * 3 s, then blue.  The blue cover can only come from a recovery point,
 * through covertap straight after the depayloader (no parser; whether
 * the depayloader flags it depends on in-band SPS: covertap finds it
 * either way, covertap-shapes has the case where nothing is flagged). */
static void
test_intra_refresh (void)
{
  const gchar *const extra[] = { "-x264-params", "intra-refresh=1:bframes=0",
    NULL };

  push_red_then_blue (extra);
}

/* No sprop-parameter-sets in the SDP: without a global header ffmpeg
 * announces "packetization-mode=1" only and sends SPS/PPS in the stream,
 * as many cameras do.  The depayloader takes them from the stream; red,
 * then blue, so that more than the first keyframe is decoded with them. */
static void
test_in_band_parameter_sets (void)
{
  const gchar *const extra[] = { "-flags:v", "-global_header", NULL };

  push_red_then_blue (extra);
}

/* Basic credentials, the token as the password (no query) */
static void
test_ffmpeg_basic_auth (void)
{
  E2eServer *f = e2e_server_new (3, NULL, FALSE);
  g_autofree gchar *token = e2e_token_for (CID, E2E_KEY);
  g_autofree gchar *url = g_strdup_printf (
      "rtsp://%u:%s@127.0.0.1:%u/live/%u", CID, token, f->rtsp_port, CID);

  ffmpeg_push (f, url, "red", FALSE, AUDIO_AAC, "tcp", 30);
  wait_live (f, CID, "red");
  e2e_server_free (f);
}

/* the MP4 segment files of @cid, sorted */
static GPtrArray *
segments (E2eServer *f, guint32 cid)
{
  g_autofree gchar *name = g_strdup_printf ("%u", cid);
  g_autofree gchar *dir =
      g_build_filename (f->data_dir, "recordings", name, NULL);
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *entry;

  while (d && (entry = g_dir_read_name (d)))
    if (g_str_has_suffix (entry, ".mp4"))
      g_ptr_array_add (files, g_build_filename (dir, entry, NULL));
  return files;
}

/* ffprobe: the codec types of @path's streams, "video,audio" */
static gchar *
stream_kinds (const gchar *path)
{
  const gchar *argv[] = { "ffprobe", "-v", "error", "-show_entries",
    "stream=codec_type", "-of", "csv=p=0", path, NULL };
  g_auto (CsTestRun) run = { 0 };
  g_autofree gchar *out = NULL;
  gsize size;

  cs_test_run (&run, argv, NULL, NULL);
  g_assert_cmpint (run.status, ==, 0);
  out =
      g_strndup (g_bytes_get_data (run.out, &size), g_bytes_get_size (run.out));
  g_strstrip (out);
  g_strdelimit (out, "\n", ',');
  return g_steal_pointer (&out);
}

/* every packet of @path decodes, to the end */
static void
assert_plays (const gchar *path)
{
  const gchar *argv[] = { "ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i",
    path, "-f", "null", "-", NULL };
  g_auto (CsTestRun) run = { 0 };

  cs_test_run (&run, argv, NULL, NULL);
  if (run.status != 0)
    g_printerr ("%s: %s\n", path, run.err);
  g_assert_cmpint (run.status, ==, 0);
}

/* Every frame is in the recording, in decoding order: RTP carries
 * presentation times only, and with B-frames (ffmpeg's pushes here have
 * them) a muxer fed DTS = PTS drops the frames whose DTS goes back — two
 * frames in three.  So: DTS grows, and there are about 25 frames a second. */
static void
assert_all_frames (const gchar *path)
{
  const gchar *argv[] = { "ffprobe", "-v", "error", "-select_streams", "v",
    "-show_entries", "packet=pts,dts", "-of", "csv=p=0", path, NULL };
  g_auto (CsTestRun) run = { 0 };
  g_autofree gchar *out = NULL;
  g_auto (GStrv) lines = NULL;
  gint64 last = G_MININT64, first_pts = G_MAXINT64, last_pts = G_MININT64;
  guint i, n = 0;

  cs_test_run (&run, argv, NULL, NULL);
  g_assert_cmpint (run.status, ==, 0);
  out =
      g_strndup (g_bytes_get_data (run.out, NULL), g_bytes_get_size (run.out));
  lines = g_strsplit (out, "\n", -1);
  for (i = 0; lines[i]; i++) {
    gchar *end;
    gint64 pts, dts;

    if (!*lines[i])
      continue;
    pts = g_ascii_strtoll (lines[i], &end, 10);
    g_assert_cmpint (*end, ==, ',');
    dts = g_ascii_strtoll (end + 1, NULL, 10);
    if (dts <= last)
      g_error ("%s: video DTS %" G_GINT64_FORMAT " after %" G_GINT64_FORMAT
               " (packet %u)",
          path, dts, last, n);
    last = dts;
    first_pts = MIN (first_pts, pts);
    last_pts = MAX (last_pts, pts);
    n++;
  }
  g_assert_cmpuint (n, >, 1);
  /* ffprobe's times are in the stream's time base */
  {
    const gchar *tb_argv[] = { "ffprobe", "-v", "error", "-select_streams", "v",
      "-show_entries", "stream=time_base", "-of", "csv=p=0", path, NULL };
    g_auto (CsTestRun) tb = { 0 };
    g_autofree gchar *text = NULL;
    guint num = 0, den = 0;
    gdouble span_s, expected;

    cs_test_run (&tb, tb_argv, NULL, NULL);
    g_assert_cmpint (tb.status, ==, 0);
    text =
        g_strndup (g_bytes_get_data (tb.out, NULL), g_bytes_get_size (tb.out));
    g_assert_cmpint (sscanf (text, "%u/%u", &num, &den), ==, 2);
    g_assert_cmpuint (den, >, 0);
    span_s = (gdouble) (last_pts - first_pts) * num / den;
    expected = span_s * 25;
    if (n < expected * 0.8)
      g_error ("%s: %u video frames over %.2f s, expected about %.0f", path, n,
          span_s, expected);
  }
}

/* record=true: the push ends by itself (ffmpeg -t), its segments have a
 * video and an audio track and decode to the end */
static void
record_with_audio (Audio audio)
{
  E2eServer *f =
      e2e_server_new (3, "[stream.42]\nrecord=true\nrecord-segment=2\n", FALSE);
  g_autofree gchar *url = query_url (f, CID);
  g_autoptr (GPtrArray) files = NULL;
  GSubprocess *p;
  guint i;

  p = ffmpeg_push (f, url, "red", FALSE, audio, "tcp", 5);
  wait_live (f, CID, "red");
  g_assert_cmpint (cs_test_wait_child (p, E2E_WAIT_S), ==, 0);
  /* the server's EOS is over once the cover is not live any more */
  for (i = 0; i < E2E_WAIT_S * 10; i++) {
    E2eResp *r = e2e_get_cover (f, CID);
    gboolean live = g_strcmp0 (r->source, "live") == 0;

    e2e_resp_free (r);
    if (!live)
      break;
    g_usleep (100 * 1000);
  }
  /* and the segment closed: the server stopped cleanly */
  g_subprocess_send_signal (f->server, SIGTERM);
  g_assert_cmpint (cs_test_wait_child (f->server, E2E_WAIT_S), ==, 0);
  files = segments (f, CID);
  g_assert_cmpuint (files->len, >=, 1);
  for (i = 0; i < files->len; i++) {
    g_autofree gchar *kinds = stream_kinds (g_ptr_array_index (files, i));

    g_assert_cmpstr (kinds, ==, "video,audio");
    assert_plays (g_ptr_array_index (files, i));
    assert_all_frames (g_ptr_array_index (files, i));
  }
  e2e_server_free (f);
}

static void
test_record_aac (void)
{
  record_with_audio (AUDIO_AAC);
}

static void
test_record_alaw (void)
{
  record_with_audio (AUDIO_ALAW);
}

/* gst-launch-1.0 rtspclientsink pushing red H.264 and AAC audio (the audio
 * branch first with @audio_first, through @audio_tail, a launch fragment
 * such as "valve ...", or NULL) over @protocols (NULL: its default);
 * killed when @f is freed */
static GSubprocess *
rtspclientsink_push (E2eServer *f, gboolean audio_first,
    const gchar *const *audio_tail, const gchar *protocols)
{
  static const gchar *const video[] = { "videotestsrc", "pattern=red",
    "is-live=true", "!",
    "video/x-raw,format=I420,width=320,height=240,framerate=25/1", "!",
    "x264enc", "tune=zerolatency", "key-int-max=25", "!", "s.", NULL };
  static const gchar *const audio[] = { "audiotestsrc", "is-live=true", "!",
    "audioconvert", "!", "avenc_aac", "!", NULL };
  g_autofree gchar *url = query_url (f, CID);
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) err = NULL;
  GSubprocess *p;
  guint i, pass;

  g_ptr_array_add (argv, g_strdup ("gst-launch-1.0"));
  g_ptr_array_add (argv, g_strdup ("-q"));
  g_ptr_array_add (argv, g_strdup ("rtspclientsink"));
  g_ptr_array_add (argv, g_strdup ("name=s"));
  g_ptr_array_add (argv, g_strdup_printf ("location=%s", url));
  if (protocols)
    g_ptr_array_add (argv, g_strdup_printf ("protocols=%s", protocols));
  for (pass = 0; pass < 2; pass++) {
    if ((pass == 0) == audio_first) {
      for (i = 0; audio[i]; i++)
        g_ptr_array_add (argv, g_strdup (audio[i]));
      for (i = 0; audio_tail && audio_tail[i]; i++)
        g_ptr_array_add (argv, g_strdup (audio_tail[i]));
      g_ptr_array_add (argv, g_strdup ("s."));
    } else {
      for (i = 0; video[i]; i++)
        g_ptr_array_add (argv, g_strdup (video[i]));
    }
  }
  g_ptr_array_add (argv, NULL);
  p = cs_test_spawnv (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, NULL, NULL, NULL,
      (const gchar *const *) argv->pdata, &err);
  g_assert_no_error (err);
  g_ptr_array_add (f->pushers, p);
  return p;
}

/* rtspclientsink lists its pads in request order: audio first */
static void
test_rtspclientsink_audio_first (void)
{
  E2eServer *f = e2e_server_new (3, NULL, FALSE);

  rtspclientsink_push (f, TRUE, NULL, NULL);
  wait_live (f, CID, "red");
  e2e_server_free (f);
}

/* audio only: refused at ANNOUNCE, the log says what was offered */
static void
test_no_video_refused (void)
{
  E2eServer *f = e2e_server_new (3, NULL, TRUE);
  g_autofree gchar *token = e2e_token_for (CID, E2E_KEY);
  g_autofree gchar *url = e2e_location_for (f, CID, token);
  const gchar *argv[] = { "ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi",
    "-i", "sine=f=440:r=8000", "-c:a", "pcm_alaw", "-t", "2", "-f", "rtsp", url,
    NULL };
  g_auto (CsTestRun) run = { 0 };
  g_autofree gchar *log = NULL;

  cs_test_run (&run, argv, NULL, NULL);
  g_assert_cmpint (run.status, !=, 0);
  g_assert_nonnull (strstr (run.err, "415"));
  g_assert_true (g_file_get_contents (f->log_path, &log, NULL, NULL));
  g_assert_nonnull (strstr (log, "no H.264, H.265 or JPEG video"));
  g_assert_nonnull (strstr (log, "audio PCMA"));
  e2e_server_free (f);
}

/* ---- squatters and abandoned pushes ------------------------------------ */

/* an ANNOUNCE (answered 200) and nothing after it */
static GSocketConnection *
abandon_after_announce (E2eServer *f)
{
  GSocketConnection *c = e2e_rtsp_connect (f);
  g_autofree gchar *announce = e2e_announce_text (f, CID, 1);
  g_autofree gchar *answer = NULL;

  e2e_rtsp_send (c, announce);
  answer = e2e_rtsp_read (c);
  g_assert_true (g_str_has_prefix (answer, "RTSP/1.0 200"));
  return c;
}

static void
test_abandoned_after_announce (void)
{
  E2eServer *f = e2e_server_new (3, NULL, FALSE);
  g_autoptr (GSocketConnection) c = abandon_after_announce (f);
  g_autofree gchar *url = query_url (f, CID);

  ffmpeg_push (f, url, "blue", FALSE, AUDIO_AAC, "tcp", 30);
  wait_live (f, CID, "blue");
  e2e_server_free (f);
}

/* Session ids are 128 bits from getrandom as 32 hex digits (GStreamer's
 * default: 16 characters from GLib's PRNG, predictable from other ids). */
static void
assert_random_session_id (const gchar *answer)
{
  const gchar *p = strstr (answer, "\r\nSession: ");
  gsize n = 0;

  g_assert_nonnull (p);
  p += strlen ("\r\nSession: ");
  while (g_ascii_isxdigit (p[n]) && !g_ascii_isupper (p[n]))
    n++;
  g_assert_cmpuint (n, ==, 32);
  g_assert_true (p[n] == ';' || p[n] == '\r');
}

/* An unauthenticated ANNOUNCE declaring a huge body is cut off (413, the
 * connection closed) before the server buffers it: gst-rtsp-server reads a
 * body whole before any auth check. */
static void
test_huge_announce_refused (void)
{
  E2eServer *f = e2e_server_new (3, NULL, FALSE);
  g_autoptr (GSocketConnection) c = e2e_rtsp_connect (f);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (c));
  g_autofree gchar *head = g_strdup_printf (
      "ANNOUNCE rtsp://127.0.0.1:%u/live/%u RTSP/1.0\r\nCSeq: 1\r\n"
      "Content-Type: application/sdp\r\nContent-Length: 300000000\r\n\r\n",
      f->rtsp_port, CID);
  g_autofree gchar *chunk = g_malloc (64 * 1024);
  const gsize limit = 32 * 1024 * 1024;
  gsize sent = 0;

  memset (chunk, 'v', 64 * 1024);
  g_socket_set_timeout (g_socket_connection_get_socket (c), E2E_WAIT_S);
  e2e_rtsp_send (c, head);
  while (sent < limit &&
      g_output_stream_write_all (out, chunk, 64 * 1024, NULL, NULL, NULL))
    sent += 64 * 1024;
  g_test_message ("the server took %" G_GSIZE_FORMAT " bytes", sent);
  g_assert_cmpuint (sent, <, limit);
  e2e_server_free (f);
}

static void
test_abandoned_after_setup (void)
{
  E2eServer *f = e2e_server_new (3, NULL, FALSE);
  g_autoptr (GSocketConnection) c = abandon_after_announce (f);
  g_autofree gchar *url = query_url (f, CID);
  g_autofree gchar *setup = g_strdup_printf (
      "SETUP %s/streamid=0 RTSP/1.0\r\nCSeq: 2\r\n"
      "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record\r\n\r\n",
      url);
  g_autofree gchar *answer = NULL;

  e2e_rtsp_send (c, setup);
  answer = e2e_rtsp_read (c);
  g_assert_true (g_str_has_prefix (answer, "RTSP/1.0 200"));
  assert_random_session_id (answer);
  ffmpeg_push (f, url, "blue", FALSE, AUDIO_NONE, "udp", 30);
  wait_live (f, CID, "blue");
  e2e_server_free (f);
}

/* The device's pusher stops (SIGSTOP: connected, sending nothing, no FIN);
 * its next push with the same token takes over. */
static void
test_stopped_pusher_taken_over (void)
{
  E2eServer *f = e2e_server_new (30, NULL, FALSE);
  g_autofree gchar *url = query_url (f, CID);
  GSubprocess *p, *q;
  gint64 deadline, started;

  p = ffmpeg_push (f, url, "red", FALSE, AUDIO_AAC, "tcp", 60);
  wait_live (f, CID, "red");
  g_subprocess_send_signal (p, SIGSTOP);
  /* as a device does: push again until accepted (453 while the stopped
   * push is not yet silent for a second); far less than live-timeout.  A
   * refused ffmpeg exits non-zero, but in its own time: one still running
   * is not yet known to be accepted, only a blue cover says so. */
  deadline = g_get_monotonic_time () + E2E_WAIT_S * G_USEC_PER_SEC;
  q = ffmpeg_push (f, url, "blue", FALSE, AUDIO_AAC, "tcp", 60);
  started = g_get_monotonic_time ();
  while (!cover_is_live (f, CID, "blue", NULL)) {
    gint64 now = g_get_monotonic_time ();

    if (now > deadline) {
      g_printerr ("no blue cover after %u pushes\n", f->pushers->len - 1);
      g_assert_not_reached ();
    }
    /* refused (453): the device tries again, twice a second at most */
    if (!g_subprocess_get_identifier (q) && now - started >= 500 * 1000) {
      g_assert_false (g_subprocess_get_if_exited (q) &&
          g_subprocess_get_exit_status (q) == 0);
      g_assert_cmpint (f->pushers->len, <, 20);
      q = ffmpeg_push (f, url, "blue", FALSE, AUDIO_AAC, "tcp", 60);
      started = now;
    }
    g_usleep (100 * 1000);
  }
  e2e_server_free (f);
}

/* A push whose audio never sends RTP (its SDP names it; a valve turns
 * every buffer into a gap) ends: its media ends all the same (EOS through
 * the audio branch rtpbin never linked), so the device's next push gets
 * the cover. */
static void
test_silent_stream_push_ends (void)
{
  static const gchar *const gaps[] = { "valve", "drop=true",
    "drop-mode=transform-to-gap", "!", NULL };
  E2eServer *f = e2e_server_new (3, NULL, FALSE);
  g_autofree gchar *url = query_url (f, CID);
  GSubprocess *p;

  p = rtspclientsink_push (f, FALSE, gaps, "tcp");
  wait_live (f, CID, "red");
  /* the connection closes: the push ends with EOS */
  cs_test_kill_child (p);
  ffmpeg_push (f, url, "blue", FALSE, AUDIO_AAC, "tcp", 30);
  wait_live (f, CID, "blue");
  e2e_server_free (f);
}

/* 100 connections that send OPTIONS or a valid ANNOUNCE and then nothing
 * do not keep the device out. */
static void
test_squatters (void)
{
  E2eServer *f = e2e_server_new (3, NULL, FALSE);
  g_autoptr (GPtrArray) conns = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree gchar *url = query_url (f, CID);
  guint i;

  for (i = 0; i < 100; i++) {
    GSocketConnection *c = e2e_rtsp_connect (f);

    if (i % 2) {
      g_autofree gchar *announce = e2e_announce_text (f, CID, 1);

      e2e_rtsp_send (c, announce);
    } else {
      e2e_rtsp_send (c, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    }
    g_ptr_array_add (conns, c);
  }
  ffmpeg_push (f, url, "blue", FALSE, AUDIO_NONE, "tcp", 30);
  wait_live (f, CID, "blue");
  e2e_server_free (f);
}

int
main (int argc, char **argv)
{
  guint i;

  g_test_init (&argc, &argv, NULL);
  for (i = 0; i < G_N_ELEMENTS (push_cases); i++)
    g_test_add_data_func (push_cases[i].path, &push_cases[i], test_push_case);
  g_test_add_func ("/pushers/ffmpeg-basic-auth", test_ffmpeg_basic_auth);
  g_test_add_func ("/pushers/ffmpeg-intra-refresh", test_intra_refresh);
  g_test_add_func (
      "/pushers/ffmpeg-in-band-parameter-sets", test_in_band_parameter_sets);
  g_test_add_func ("/pushers/record-aac", test_record_aac);
  g_test_add_func ("/pushers/record-alaw", test_record_alaw);
  g_test_add_func (
      "/pushers/rtspclientsink-audio-first", test_rtspclientsink_audio_first);
  g_test_add_func ("/pushers/no-video-refused", test_no_video_refused);
  g_test_add_func (
      "/pushers/abandoned-after-announce", test_abandoned_after_announce);
  g_test_add_func (
      "/pushers/abandoned-after-setup", test_abandoned_after_setup);
  g_test_add_func (
      "/pushers/stopped-pusher-taken-over", test_stopped_pusher_taken_over);
  g_test_add_func ("/pushers/squatters", test_squatters);
  g_test_add_func (
      "/pushers/silent-stream-push-ends", test_silent_stream_push_ends);
  g_test_add_func (
      "/pushers/huge-announce-refused", test_huge_announce_refused);
  return g_test_run ();
}
