/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The covertap benchmark (not a test): run-covertap-bench.sh drives it.
 *
 * On the same H.264 clips, one after the other in this process, it runs
 *   (a) filesrc ! h264parse ! covertap min-interval=0 ! fakesink
 *   (b) filesrc ! h264parse ! avdec_h264 ! [keyframes only] ! jpegenc
 *       ! fakesink  -- the decode-every-frame reference
 *   (c) filesrc ! h264parse ! [keyframes only] ! avdec_h264 ! jpegenc
 *       ! fakesink  -- the bare keyframe decode + encode floor
 *   (d) filesrc ! h264parse ! [keyframes only] ! avdec_h264 ! fakesink
 *       -- the decoding part of (c), for reading the figures
 *   (e) filesrc ! h264parse ! fakesink  -- what every pipeline pays anyway
 * and reports the CPU time (getrusage of the process, user + sys) per
 * minute of stream for each.  Then it measures covertap's keyframe-to-publish
 * latency in a paced run and the memory an idle tapped stream costs.
 *
 * The colour step (what (a) does more than (c): JPEG means BT.601 full
 * range, the decoder gives BT.709 limited range) is measured on its own
 * too, on the clip's decoded keyframes, for covertap's way and the ways it
 * did not choose (GstVideoConverter, TurboJPEG fed RGB).
 *
 * Pipelines read files as fast as they can, so (a) would leave covertap's
 * single waiting slot to be overwritten by the next keyframe (latest wins)
 * and skip work a live stream would do.  A probe behind covertap therefore
 * holds each keyframe until its cover is out: every keyframe of the clip
 * becomes a cover, as it does at 25 frames a second.  The wait sleeps on a
 * condition variable and costs no CPU. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>
#include <gst/app/app.h>
#include <gst/video/video.h>
#include <turbojpeg.h>
#include <malloc.h>
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "coverjpeg-frame.h"

#define PIPELINE_TIMEOUT_S 180
#define PUBLISH_TIMEOUT_US (10 * G_USEC_PER_SEC)
#define KEYFRAME_WAIT_US (5 * G_USEC_PER_SEC)
#define LATENCY_WARMUP 3
#define CLIENT_ID_BASE 3900000000u
/* second memory checkpoint: one-off growth (malloc arenas of the first
 * streaming threads, ...) is over by then */
#define STEADY_FROM 10

GQuark bench_error_quark (void);
G_DEFINE_QUARK (bench-error-quark, bench_error);
#define BENCH_ERROR (bench_error_quark ())

typedef enum
{
  MODE_TAP,
  MODE_DECODE_ALL,
  MODE_FLOOR,
  MODE_KF_DECODE,
  MODE_PARSE_ONLY,
  N_MODES
} Mode;

/* The colour step, each way timed on the decoded keyframes (one thread's
 * CPU time, JPEG quality 85 as covertap's default and jpegenc's). */
typedef enum
{
  COLOUR_ENCODE_ONLY, /* TurboJPEG from the planes as they are: (c)'s work */
  COLOUR_COVERTAP,    /* cover_encoder_encode(): covertap's colour pass */
  COLOUR_CONVERTER,   /* GstVideoConverter to BT.601 full range, encode */
  COLOUR_RGB,         /* GstVideoConverter to BGRx, TurboJPEG from RGB */
  N_COLOUR_WAYS
} ColourWay;

static const gchar *colour_keys[N_COLOUR_WAYS] = {
  "encode_only",
  "covertap",
  "converter_then_encode",
  "rgb_then_encode",
};

static const gchar *mode_keys[N_MODES] = {
  "covertap",
  "decode_all",
  "keyframe_floor",
  "keyframe_decode",
  "parse_only",
};

#define PARSE "filesrc name=src ! h264parse config-interval=-1 name=parse ! "
#define SINK "fakesink name=sink sync=false enable-last-sample=false"
/* the keyframe decoder settings covertap's workers use for the clips'
 * keyframes, IDR pictures (plugin/coverdecoder.c) */
#define KF_DECODER                                                             \
  "avdec_h264 name=dec thread-type=slice output-corrupt=false ! "

static const gchar *mode_pipelines[N_MODES] = {
  PARSE "covertap name=tap min-interval=0 unlink-on-stop=true ! " SINK,
  PARSE "avdec_h264 name=dec ! jpegenc ! " SINK,
  PARSE KF_DECODER "jpegenc ! " SINK,
  PARSE KF_DECODER SINK,
  PARSE SINK,
};

typedef struct
{
  gchar *label;
  gchar *path;
  GstCaps *caps;
  gint width, height, fps_n, fps_d;
  guint64 frames, keyframes, bytes, keyframe_bytes;
  gdouble duration_s;
  GPtrArray *keyframe_buffers;
  GArray *keyframe_index;  /* guint64: frame numbers of the keyframes */
  gboolean select_by_flag; /* (b): decoder output keeps DELTA_UNIT */

  GArray *cpu[N_MODES]; /* gdouble, CPU seconds of each timed run */
  guint64 outputs[N_MODES];
  guint64 failed_covers;
  gdouble median_per_min[N_MODES];

  gchar *colorimetry;               /* of the decoded frames */
  gdouble colour_ms[N_COLOUR_WAYS]; /* median CPU ms per keyframe */
} Clip;

typedef struct
{
  gboolean select_by_flag;
  GArray *keyframe_index;
  guint next_keyframe;
  GstElement *tap;
  GMutex lock;
  GCond published;
  /* counters, streaming threads only */
  guint64 decoded, kept, sink_buffers, tap_timeouts;
} RunState;

typedef struct
{
  gint64 vm_rss, rss_anon, rss_file, rss_shmem; /* KiB */
} Rss;

static gint reps = 3;
static gint light_reps = 9;
static gint latency_samples = 120;
static gint latency_interval_ms = 150;
static gint n_streams = 50;
static gchar *store_parent = NULL;
static gchar *json_path = NULL;
static gchar **clip_args = NULL;

static GOptionEntry entries[] = {
  { "clip", 0, 0, G_OPTION_ARG_STRING_ARRAY, &clip_args,
      "H.264 byte-stream clip (repeatable); the first one is used for latency "
      "and memory",
      "LABEL=FILE" },
  { "reps", 0, 0, G_OPTION_ARG_INT, &reps,
      "Timed runs of the decode-every-frame reference (3)", "N" },
  { "light-reps", 0, 0, G_OPTION_ARG_INT, &light_reps,
      "Timed runs of the other, cheap pipelines (9)", "N" },
  { "latency-samples", 0, 0, G_OPTION_ARG_INT, &latency_samples,
      "Keyframes in the paced latency run (120)", "N" },
  { "latency-interval", 0, 0, G_OPTION_ARG_INT, &latency_interval_ms,
      "Milliseconds between keyframes in the latency run (150)", "MS" },
  { "streams", 0, 0, G_OPTION_ARG_INT, &n_streams, "Idle streams (50)", "N" },
  { "store-parent", 0, 0, G_OPTION_ARG_FILENAME, &store_parent,
      "Directory (tmpfs) for the temporary cover stores (/dev/shm)", "DIR" },
  { "json", 0, 0, G_OPTION_ARG_FILENAME, &json_path,
      "Write the figures to this JSON file", "FILE" },
  { NULL }
};

static gdouble
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
      (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* After a pause for the workers to go idle, and with freed heap handed
 * back to the system: counts memory in use, not memory once touched by the
 * pipelines that ran before. */
static void
read_rss (Rss *rss)
{
  gchar *text = NULL, **lines, **l;

  g_usleep (200000);
#ifdef __GLIBC__
  malloc_trim (0);
#endif
  memset (rss, 0, sizeof (*rss));
  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
    return;
  lines = g_strsplit (text, "\n", -1);
  for (l = lines; *l; l++) {
    if (g_str_has_prefix (*l, "VmRSS:"))
      rss->vm_rss = g_ascii_strtoll (*l + 6, NULL, 10);
    else if (g_str_has_prefix (*l, "RssAnon:"))
      rss->rss_anon = g_ascii_strtoll (*l + 8, NULL, 10);
    else if (g_str_has_prefix (*l, "RssFile:"))
      rss->rss_file = g_ascii_strtoll (*l + 8, NULL, 10);
    else if (g_str_has_prefix (*l, "RssShmem:"))
      rss->rss_shmem = g_ascii_strtoll (*l + 9, NULL, 10);
  }
  g_strfreev (lines);
  g_free (text);
}

static gchar *
read_loadavg (void)
{
  gchar *text = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return g_strdup ("?");
  return g_strstrip (text);
}

static gint
compare_doubles (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return x < y ? -1 : x > y ? 1 : 0;
}

/* nearest-rank percentile of a sorted array */
static gdouble
percentile (GArray *sorted, gdouble p)
{
  guint rank;

  if (sorted->len == 0)
    return NAN;
  rank = (guint) ceil (p / 100.0 * sorted->len);
  rank = CLAMP (rank, 1, sorted->len);
  return g_array_index (sorted, gdouble, rank - 1);
}

static gdouble
median (GArray *values)
{
  GArray *copy;
  gdouble m;

  if (values->len == 0)
    return NAN;
  copy = g_array_copy (values);
  g_array_sort (copy, compare_doubles);
  if (copy->len % 2)
    m = g_array_index (copy, gdouble, copy->len / 2);
  else
    m = (g_array_index (copy, gdouble, copy->len / 2 - 1) +
            g_array_index (copy, gdouble, copy->len / 2)) /
        2;
  g_array_unref (copy);
  return m;
}

static GstElement *
make_pipeline (const gchar *desc, GError **error)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);

  if (err) {
    gst_clear_object (&p);
    g_propagate_error (error, err);
    return NULL;
  }
  return p;
}

static void
set_on (GstElement *pipeline, const gchar *name, const gchar *first, ...)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), name);
  va_list args;

  g_assert (e);
  va_start (args, first);
  g_object_set_valist (G_OBJECT (e), first, args);
  va_end (args);
  gst_object_unref (e);
}

static void
add_probe (GstElement *pipeline, const gchar *element, const gchar *pad_name,
    GstPadProbeType type, GstPadProbeCallback cb, gpointer data)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), element);
  GstPad *pad;

  g_assert (e);
  pad = gst_element_get_static_pad (e, pad_name);
  g_assert (pad);
  gst_pad_add_probe (pad, type, cb, data, NULL);
  gst_object_unref (pad);
  gst_object_unref (e);
}

static gboolean
is_published (GstMessage *msg)
{
  return GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT &&
      gst_message_has_name (msg, "covertap-published");
}

static void
set_error_from_message (GstMessage *msg, GError **error)
{
  GError *err = NULL;
  gchar *dbg = NULL;

  gst_message_parse_error (msg, &err, &dbg);
  g_set_error (error, BENCH_ERROR, 0, "%s: %s (%s)",
      GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message, dbg ? dbg : "");
  g_error_free (err);
  g_free (dbg);
}

/* Plays @pipeline to EOS (bounded), then stops it. */
static gboolean
run_to_eos (GstElement *pipeline, GError **error)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  gint64 end = g_get_monotonic_time () + PIPELINE_TIMEOUT_S * G_USEC_PER_SEC;
  gboolean ok = FALSE;

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, BENCH_ERROR, 0, "pipeline did not start");
    goto out;
  }
  for (;;) {
    gint64 left = end - g_get_monotonic_time ();
    GstMessage *msg;

    if (left <= 0) {
      g_set_error (
          error, BENCH_ERROR, 0, "no EOS after %d s", PIPELINE_TIMEOUT_S);
      break;
    }
    msg = gst_bus_timed_pop_filtered (
        bus, left * GST_USECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    if (!msg)
      continue;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      set_error_from_message (msg, error);
    else
      ok = TRUE;
    gst_message_unref (msg);
    break;
  }
out:
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  return ok;
}

/* ---- the clip: frames, keyframes, caps ---- */

static GstPadProbeReturn
clip_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Clip *clip = data;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

    clip->bytes += gst_buffer_get_size (buf);
    if (!GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT)) {
      g_array_append_val (clip->keyframe_index, clip->frames);
      clip->keyframes++;
      clip->keyframe_bytes += gst_buffer_get_size (buf);
      g_ptr_array_add (clip->keyframe_buffers, gst_buffer_ref (buf));
    }
    clip->frames++;
  } else {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);

    if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS) {
      GstCaps *caps;

      gst_event_parse_caps (ev, &caps);
      gst_caps_replace (&clip->caps, caps);
    }
  }
  return GST_PAD_PROBE_OK;
}

static gboolean
clip_load (Clip *clip, GError **error)
{
  GstElement *p = make_pipeline (PARSE SINK, error);
  const GstStructure *s;

  if (!p)
    return FALSE;
  set_on (p, "src", "location", clip->path, NULL);
  add_probe (p, "sink", "sink",
      GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      clip_probe, clip);
  if (!run_to_eos (p, error)) {
    gst_object_unref (p);
    return FALSE;
  }
  gst_object_unref (p);

  if (!clip->caps || clip->keyframes == 0) {
    g_set_error (
        error, BENCH_ERROR, 0, "%s: no caps or no keyframe", clip->path);
    return FALSE;
  }
  s = gst_caps_get_structure (clip->caps, 0);
  gst_structure_get_int (s, "width", &clip->width);
  gst_structure_get_int (s, "height", &clip->height);
  if (!gst_structure_get_fraction (
          s, "framerate", &clip->fps_n, &clip->fps_d) ||
      clip->fps_n <= 0 || clip->fps_d <= 0) {
    g_printerr (
        "%s: no frame rate in the stream, assuming 25/1\n", clip->label);
    clip->fps_n = 25;
    clip->fps_d = 1;
  }
  clip->duration_s = (gdouble) clip->frames * clip->fps_d / clip->fps_n;
  return TRUE;
}

/* ---- the timed pipelines ---- */

static gboolean
tap_caught_up (GstElement *tap)
{
  guint64 seen, skipped, failed, published;

  g_object_get (tap, "keyframes-seen", &seen, "keyframes-skipped", &skipped,
      "keyframes-failed", &failed, "covers-published", &published, NULL);
  return published + failed + skipped >= seen;
}

/* Behind covertap: holds a keyframe until the worker is done with it. */
static GstPadProbeReturn
tap_serialise_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  RunState *st = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  gint64 end;

  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
    return GST_PAD_PROBE_OK;
  end = g_get_monotonic_time () + KEYFRAME_WAIT_US;
  g_mutex_lock (&st->lock);
  while (!tap_caught_up (st->tap)) {
    gint64 now = g_get_monotonic_time ();

    if (now >= end) {
      st->tap_timeouts++;
      break;
    }
    /* failures post no message: look again now and then */
    g_cond_wait_until (&st->published, &st->lock, MIN (end, now + 20000));
  }
  g_mutex_unlock (&st->lock);
  return GST_PAD_PROBE_OK;
}

static GstBusSyncReply
tap_sync_handler (GstBus *bus, GstMessage *msg, gpointer data)
{
  RunState *st = data;

  if (is_published (msg)) {
    g_mutex_lock (&st->lock);
    g_cond_broadcast (&st->published);
    g_mutex_unlock (&st->lock);
  }
  return GST_BUS_PASS;
}

/* Keeps the decoded keyframes only (b), or the keyframes only (c). */
static GstPadProbeReturn
select_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  RunState *st = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  gboolean keep;

  if (st->select_by_flag) {
    keep = !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  } else {
    /* no B-frames in the clips: decoded frame n is parsed frame n */
    keep = st->next_keyframe < st->keyframe_index->len &&
        g_array_index (st->keyframe_index, guint64, st->next_keyframe) ==
            st->decoded;
    if (keep)
      st->next_keyframe++;
  }
  st->decoded++;
  if (!keep)
    return GST_PAD_PROBE_DROP;
  st->kept++;
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
count_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  RunState *st = data;

  st->sink_buffers++;
  return GST_PAD_PROBE_OK;
}

/* One run of @mode over @clip.  Returns the CPU seconds it took, < 0 on
 * error. */
static gdouble
run_mode (
    Clip *clip, Mode mode, const gchar *store_dir, RunState *st, GError **error)
{
  GstElement *p = make_pipeline (mode_pipelines[mode], error);
  GstBus *bus;
  gdouble before, cpu;
  gboolean ok;

  if (!p)
    return -1;
  memset (st, 0, sizeof (*st));
  st->select_by_flag = clip->select_by_flag;
  st->keyframe_index = clip->keyframe_index;
  g_mutex_init (&st->lock);
  g_cond_init (&st->published);

  set_on (p, "src", "location", clip->path, NULL);
  add_probe (p, "sink", "sink", GST_PAD_PROBE_TYPE_BUFFER, count_probe, st);
  bus = gst_element_get_bus (p);
  switch (mode) {
    case MODE_TAP:
      st->tap = gst_bin_get_by_name (GST_BIN (p), "tap");
      g_object_set (st->tap, "client-id", (gint64) CLIENT_ID_BASE, "store-dir",
          store_dir, NULL);
      gst_bus_set_sync_handler (bus, tap_sync_handler, st, NULL);
      add_probe (
          p, "tap", "src", GST_PAD_PROBE_TYPE_BUFFER, tap_serialise_probe, st);
      break;
    case MODE_DECODE_ALL:
      add_probe (p, "dec", "src", GST_PAD_PROBE_TYPE_BUFFER, select_probe, st);
      break;
    case MODE_FLOOR:
    case MODE_KF_DECODE:
      st->select_by_flag = TRUE; /* before the decoder: the parser's flags */
      add_probe (
          p, "parse", "src", GST_PAD_PROBE_TYPE_BUFFER, select_probe, st);
      break;
    default:
      break;
  }

  before = cpu_seconds ();
  ok = run_to_eos (p, error);
  cpu = cpu_seconds () - before;

  if (st->tap) {
    guint64 published, failed;

    g_object_get (st->tap, "covers-published", &published, "keyframes-failed",
        &failed, NULL);
    clip->outputs[mode] = published;
    clip->failed_covers = failed;
    gst_clear_object (&st->tap);
  } else {
    clip->outputs[mode] = st->sink_buffers; /* JPEGs or frames */
  }
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_object_unref (bus);
  gst_object_unref (p);
  g_mutex_clear (&st->lock);
  g_cond_clear (&st->published);
  return ok ? cpu : -1;
}

static gboolean
bench_clip (Clip *clip, const gchar *store_dir, GError **error)
{
  static const Mode round_order[] = { MODE_TAP, MODE_FLOOR, MODE_KF_DECODE,
    MODE_PARSE_ONLY, MODE_DECODE_ALL };
  gint rounds = MAX (reps, light_reps);
  RunState st;
  Mode m;
  guint i;
  gint r;

  /* Untimed: loads the plugins, creates covertap's pooled decoder, and
   * finds out whether the decoder's output says which frames were
   * keyframes (DELTA_UNIT), which (b) relies on. */
  g_printerr ("  %s: warm-up\n", clip->label);
  for (m = 0; m < N_MODES; m++) {
    if (run_mode (clip, m, store_dir, &st, error) < 0)
      return FALSE;
    if (m == MODE_DECODE_ALL && st.kept != clip->keyframes) {
      g_printerr ("  %s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                  " decoded frames without DELTA_UNIT for %" G_GUINT64_FORMAT
                  " keyframes: (b) keeps the decoded frames at the "
                  "keyframes' positions instead\n",
          clip->label, st.kept, st.decoded, clip->keyframes);
      clip->select_by_flag = FALSE;
    }
  }

  /* Rounds of the cheap pipelines, (a) and (c) side by side so they see
   * the same machine; the expensive reference spread over the rounds. */
  for (r = 0; r < rounds; r++) {
    for (i = 0; i < G_N_ELEMENTS (round_order); i++) {
      gdouble cpu;

      m = round_order[i];
      if (m == MODE_DECODE_ALL ? clip->cpu[m]->len >= (guint) reps ||
                  (gint64) r * reps / rounds < clip->cpu[m]->len
                               : r >= light_reps)
        continue;
      g_printerr (
          "  %s: round %d/%d: %s\n", clip->label, r + 1, rounds, mode_keys[m]);
      cpu = run_mode (clip, m, store_dir, &st, error);
      if (cpu < 0)
        return FALSE;
      if (m == MODE_TAP && st.tap_timeouts)
        g_printerr ("  warning: %" G_GUINT64_FORMAT " keyframes took more "
                    "than 5 s to publish\n",
            st.tap_timeouts);
      g_array_append_val (clip->cpu[m], cpu);
    }
  }
  for (i = 0; i < N_MODES; i++)
    clip->median_per_min[i] = median (clip->cpu[i]) * 60.0 / clip->duration_s;
  return TRUE;
}

/* ---- the colour step ---- */

static GstPadProbeReturn
drop_delta_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  return GST_BUFFER_FLAG_IS_SET (
             GST_PAD_PROBE_INFO_BUFFER (info), GST_BUFFER_FLAG_DELTA_UNIT)
      ? GST_PAD_PROBE_DROP
      : GST_PAD_PROBE_OK;
}

/* The clip's keyframes decoded as covertap's workers decode them, each
 * copied out of the decoder's pool (held frames would starve it). */
static GPtrArray *
decode_keyframes (Clip *clip, GstVideoInfo *info, GError **error)
{
  GstElement *p =
      make_pipeline (PARSE KF_DECODER "appsink name=sink sync=false", error);
  GPtrArray *frames;
  GstElement *sink;
  GstSample *sample;

  if (!p)
    return NULL;
  frames = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  set_on (p, "src", "location", clip->path, NULL);
  add_probe (
      p, "parse", "src", GST_PAD_PROBE_TYPE_BUFFER, drop_delta_probe, NULL);
  sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  gst_element_set_state (p, GST_STATE_PLAYING);
  while ((sample = gst_app_sink_try_pull_sample (
              GST_APP_SINK (sink), PIPELINE_TIMEOUT_S * GST_SECOND))) {
    if (frames->len == 0)
      gst_video_info_from_caps (info, gst_sample_get_caps (sample));
    g_ptr_array_add (
        frames, gst_buffer_copy_deep (gst_sample_get_buffer (sample)));
    gst_sample_unref (sample);
  }
  if (!gst_app_sink_is_eos (GST_APP_SINK (sink)) ||
      frames->len != clip->keyframes) {
    g_set_error (error, BENCH_ERROR, 0,
        "%s: %u of %" G_GUINT64_FORMAT " keyframes decoded", clip->label,
        frames->len, clip->keyframes);
    g_clear_pointer (&frames, g_ptr_array_unref);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (p);
  return frames;
}

static gdouble
thread_cpu_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static GstVideoConverter *
bench_converter (const GstVideoInfo *in, const GstVideoInfo *out)
{
  /* the options covertap used for its converter */
  return gst_video_converter_new ((GstVideoInfo *) in, (GstVideoInfo *) out,
      gst_structure_new ("options", GST_VIDEO_CONVERTER_OPT_THREADS,
          G_TYPE_UINT, 1, GST_VIDEO_CONVERTER_OPT_DITHER_METHOD,
          GST_TYPE_VIDEO_DITHER_METHOD, GST_VIDEO_DITHER_NONE, NULL));
}

static gboolean
tj_from_planes (tjhandle tj, GstVideoFrame *f, guint8 **jpeg, gulong *size)
{
  const unsigned char *planes[3];
  int strides[3], c;

  for (c = 0; c < 3; c++) {
    planes[c] = GST_VIDEO_FRAME_COMP_DATA (f, c);
    strides[c] = GST_VIDEO_FRAME_COMP_STRIDE (f, c);
  }
  return tjCompressFromYUVPlanes (tj, planes, GST_VIDEO_FRAME_WIDTH (f),
             strides, GST_VIDEO_FRAME_HEIGHT (f), TJSAMP_420, jpeg, size, 85,
             TJFLAG_NOREALLOC) == 0;
}

/* Times each way of the colour step on @clip's keyframes: the median over
 * light_reps rounds of every keyframe, in CPU ms of this thread. */
static gboolean
bench_colour (Clip *clip, GError **error)
{
  GstVideoInfo in, jfif, rgb;
  GPtrArray *frames;
  GArray *ms[N_COLOUR_WAYS];
  GstVideoConverter *to_jfif, *to_rgb;
  GstBuffer *jfif_buf, *rgb_buf;
  CoverEncoder *enc = cover_encoder_new ();
  tjhandle tj = tjInitCompress ();
  gulong capacity;
  guint8 *jpeg;
  gboolean ok = TRUE;
  gint r, w;
  guint i;

  g_printerr ("  %s: colour step\n", clip->label);
  frames = decode_keyframes (clip, &in, error);
  if (!frames || !enc || !tj ||
      GST_VIDEO_INFO_FORMAT (&in) != GST_VIDEO_FORMAT_I420) {
    if (frames && !*error)
      g_set_error (error, BENCH_ERROR, 0, "%s: decoded to %s, not I420",
          clip->label,
          gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&in)));
    g_clear_pointer (&frames, g_ptr_array_unref);
    cover_encoder_free (enc);
    if (tj)
      tjDestroy (tj);
    return FALSE;
  }
  g_free (clip->colorimetry);
  clip->colorimetry = gst_video_colorimetry_to_string (&in.colorimetry);

  jfif = in;
  gst_video_info_set_format (&jfif, GST_VIDEO_FORMAT_I420, in.width, in.height);
  gst_video_colorimetry_from_string (
      &jfif.colorimetry, GST_VIDEO_COLORIMETRY_BT601);
  jfif.colorimetry.range = GST_VIDEO_COLOR_RANGE_0_255;
  jfif.fps_n = in.fps_n;
  jfif.fps_d = in.fps_d;
  gst_video_info_set_format (&rgb, GST_VIDEO_FORMAT_BGRx, in.width, in.height);
  rgb.fps_n = in.fps_n;
  rgb.fps_d = in.fps_d;
  to_jfif = bench_converter (&in, &jfif);
  to_rgb = bench_converter (&in, &rgb);
  jfif_buf = gst_buffer_new_allocate (NULL, jfif.size, NULL);
  rgb_buf = gst_buffer_new_allocate (NULL, rgb.size, NULL);
  capacity = tjBufSize (in.width, in.height, TJSAMP_444);
  jpeg = tjAlloc (capacity);

  for (w = 0; w < N_COLOUR_WAYS; w++)
    ms[w] = g_array_new (FALSE, FALSE, sizeof (gdouble));
  for (r = 0; r < light_reps && ok; r++) {
    for (i = 0; i < frames->len && ok; i++) {
      for (w = 0; w < N_COLOUR_WAYS && ok; w++) {
        GstVideoFrame f, o;
        const guint8 *out;
        gsize out_size;
        gulong size = capacity;
        guint ow, oh;
        gdouble t;

        ok = gst_video_frame_map (
            &f, &in, g_ptr_array_index (frames, i), GST_MAP_READ);
        if (!ok)
          break;
        t = thread_cpu_ms ();
        switch (w) {
          case COLOUR_ENCODE_ONLY:
            ok = tj_from_planes (tj, &f, &jpeg, &size);
            break;
          case COLOUR_COVERTAP:
            ok = cover_encoder_encode (
                enc, &f, 85, 0, 0, &out, &out_size, &ow, &oh, NULL);
            break;
          case COLOUR_CONVERTER:
            ok = gst_video_frame_map (&o, &jfif, jfif_buf, GST_MAP_WRITE);
            if (ok) {
              gst_video_converter_frame (to_jfif, &f, &o);
              ok = tj_from_planes (tj, &o, &jpeg, &size);
              gst_video_frame_unmap (&o);
            }
            break;
          case COLOUR_RGB:
            ok = gst_video_frame_map (&o, &rgb, rgb_buf, GST_MAP_WRITE);
            if (ok) {
              gst_video_converter_frame (to_rgb, &f, &o);
              ok = tjCompress2 (tj, GST_VIDEO_FRAME_PLANE_DATA (&o, 0),
                       in.width, GST_VIDEO_FRAME_PLANE_STRIDE (&o, 0),
                       in.height, TJPF_BGRX, &jpeg, &size, TJSAMP_420, 85,
                       TJFLAG_NOREALLOC) == 0;
              gst_video_frame_unmap (&o);
            }
            break;
          default:
            break;
        }
        t = thread_cpu_ms () - t;
        gst_video_frame_unmap (&f);
        g_array_append_val (ms[w], t);
      }
    }
  }
  if (!ok)
    g_set_error (
        error, BENCH_ERROR, 0, "%s: a colour step failed", clip->label);
  for (w = 0; w < N_COLOUR_WAYS; w++) {
    clip->colour_ms[w] = median (ms[w]);
    g_array_unref (ms[w]);
  }
  tjFree (jpeg);
  gst_buffer_unref (jfif_buf);
  gst_buffer_unref (rgb_buf);
  gst_video_converter_free (to_jfif);
  gst_video_converter_free (to_rgb);
  tjDestroy (tj);
  cover_encoder_free (enc);
  g_ptr_array_unref (frames);
  return ok;
}

/* ---- latency ---- */

static gboolean
measure_latency (Clip *clip, const gchar *store_dir, GArray *lat_ms,
    guint64 *pushed_out, guint64 *published_out, gdouble *cpu_out,
    GError **error)
{
  GstElement *p, *src;
  GstBus *bus;
  GstClockTime interval = latency_interval_ms * GST_MSECOND;
  gint64 start;
  gdouble cpu;
  guint64 pushed = 0, published = 0;
  gint i, total = LATENCY_WARMUP + latency_samples;
  gboolean ok = TRUE;

  p = make_pipeline ("appsrc name=src format=time ! covertap name=tap "
                     "min-interval=0 unlink-on-stop=true ! " SINK,
      error);
  if (!p)
    return FALSE;
  set_on (p, "tap", "client-id", (gint64) CLIENT_ID_BASE + 1, "store-dir",
      store_dir, NULL);
  src = gst_bin_get_by_name (GST_BIN (p), "src");
  g_object_set (src, "caps", clip->caps, NULL);
  bus = gst_element_get_bus (p);
  gst_element_set_state (p, GST_STATE_PLAYING);

  cpu = cpu_seconds ();
  start = g_get_monotonic_time ();
  for (i = 0; i <= total && ok; i++) {
    gint64 next = start + (gint64) (i + 1) * latency_interval_ms * 1000;

    if (i < total) {
      GstBuffer *kf = g_ptr_array_index (
          clip->keyframe_buffers, i % clip->keyframe_buffers->len);
      /* a new buffer on the same memory, with timestamps of its own */
      GstBuffer *buf = gst_buffer_copy (kf);

      GST_BUFFER_PTS (buf) = GST_BUFFER_DTS (buf) = i * interval;
      GST_BUFFER_DURATION (buf) = interval;
      if (gst_app_src_push_buffer (GST_APP_SRC (src), buf) != GST_FLOW_OK) {
        g_set_error (error, BENCH_ERROR, 0, "appsrc refused a buffer");
        ok = FALSE;
        break;
      }
      pushed++;
    } else {
      /* the last one: wait for it, bounded */
      next = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
    }
    for (;;) {
      gint64 left = next - g_get_monotonic_time ();
      GstMessage *msg;

      if (left <= 0 || (i == total && published >= pushed))
        break;
      msg = gst_bus_timed_pop_filtered (
          bus, left * GST_USECOND, GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR);
      if (!msg)
        break;
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
        set_error_from_message (msg, error);
        ok = FALSE;
      } else if (is_published (msg)) {
        guint64 ns = 0;

        gst_structure_get_uint64 (
            gst_message_get_structure (msg), "latency", &ns);
        if (++published > LATENCY_WARMUP) {
          gdouble ms = ns / 1e6;

          g_array_append_val (lat_ms, ms);
        }
      }
      gst_message_unref (msg);
    }
  }

  *cpu_out = cpu_seconds () - cpu;
  if (ok) {
    GstMessage *msg;

    gst_app_src_end_of_stream (GST_APP_SRC (src));
    msg = gst_bus_timed_pop_filtered (
        bus, 5 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    if (!msg || GST_MESSAGE_TYPE (msg) != GST_MESSAGE_EOS)
      g_printerr ("  warning: latency pipeline did not reach EOS\n");
    if (msg)
      gst_message_unref (msg);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (bus);
  gst_object_unref (p);
  *pushed_out = pushed;
  *published_out = published;
  return ok;
}

/* ---- idle streams ---- */

/* Waits (bounded) for @tap's next cover; FALSE on error or timeout. */
static gboolean
wait_published (GstBus *bus, GError **error)
{
  gint64 end = g_get_monotonic_time () + PUBLISH_TIMEOUT_US;

  for (;;) {
    gint64 left = end - g_get_monotonic_time ();
    GstMessage *msg;
    gboolean done;

    if (left <= 0)
      return FALSE;
    msg = gst_bus_timed_pop_filtered (
        bus, left * GST_USECOND, GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR);
    if (!msg)
      return FALSE;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      set_error_from_message (msg, error);
      gst_message_unref (msg);
      return FALSE;
    }
    done = is_published (msg);
    gst_message_unref (msg);
    if (done)
      return TRUE;
  }
}

/* appsrc ! @element ! fakesink, fed caps and two keyframes, the way a
 * stream that has been running a while has filled both slots of its
 * segment; returns once they went through (for covertap: are published). */
static GstElement *
start_idle_stream (Clip *clip, const gchar *element, guint index,
    const gchar *store_dir, GError **error)
{
  gchar *desc = g_strdup_printf (
      "appsrc name=src format=time ! %s name=tap ! " SINK, element);
  GstElement *p = make_pipeline (desc, error), *src;
  gboolean is_tap = g_str_equal (element, "covertap");
  gboolean ok = TRUE;
  GstBus *bus;
  guint i;

  g_free (desc);
  if (!p)
    return NULL;
  if (is_tap) {
    set_on (p, "tap", "client-id", (gint64) CLIENT_ID_BASE + 100 + index,
        "store-dir", store_dir, "unlink-on-stop", TRUE, "min-interval",
        (guint64) 0, NULL);
  }
  src = gst_bin_get_by_name (GST_BIN (p), "src");
  g_object_set (src, "caps", clip->caps, NULL);
  bus = gst_element_get_bus (p);
  gst_element_set_state (p, GST_STATE_PLAYING);

  for (i = 0; i < 2 && ok; i++) {
    /* a stream's own bytes, as each camera sends its own */
    GstBuffer *buf = gst_buffer_copy_deep (g_ptr_array_index (
        clip->keyframe_buffers, i % clip->keyframe_buffers->len));

    GST_BUFFER_PTS (buf) = GST_BUFFER_DTS (buf) = i * GST_SECOND;
    ok = gst_app_src_push_buffer (GST_APP_SRC (src), buf) == GST_FLOW_OK;
    if (ok && is_tap)
      ok = wait_published (bus, error);
  }
  /* prerolled = the keyframes reached the sink */
  if (ok &&
      gst_element_get_state (p, NULL, NULL, PUBLISH_TIMEOUT_US * GST_USECOND) !=
          GST_STATE_CHANGE_SUCCESS)
    ok = FALSE;
  gst_object_unref (src);
  gst_object_unref (bus);
  if (!ok) {
    if (error && !*error)
      g_set_error (error, BENCH_ERROR, 0,
          "idle stream %u (%s) got no keyframe through", index, element);
    gst_element_set_state (p, GST_STATE_NULL);
    gst_object_unref (p);
    return NULL;
  }
  return p;
}

/* What the segments really hold in tmpfs: pages of the file written through
 * a mapping the writer has since replaced are in no process's RSS, but
 * still in memory. */
static void
scan_segments (const gchar *parent, guint64 *allocated, guint64 *size)
{
  GDir *dir = g_dir_open (parent, 0, NULL);
  const gchar *name;

  *allocated = *size = 0;
  if (!dir)
    return;
  while ((name = g_dir_read_name (dir))) {
    gchar *sub = g_build_filename (parent, name, NULL);
    GDir *d = g_dir_open (sub, 0, NULL);
    const gchar *file;

    while (d && (file = g_dir_read_name (d))) {
      gchar *path = g_build_filename (sub, file, NULL);
      GStatBuf st;

      if (g_lstat (path, &st) == 0 && S_ISREG (st.st_mode)) {
        *allocated += (guint64) st.st_blocks * 512;
        *size += st.st_size;
      }
      g_free (path);
    }
    if (d)
      g_dir_close (d);
    g_free (sub);
  }
  g_dir_close (dir);
}

static void
stop_streams (GPtrArray *streams)
{
  guint i;

  for (i = 0; i < streams->len; i++)
    gst_element_set_state (g_ptr_array_index (streams, i), GST_STATE_NULL);
  g_ptr_array_set_size (streams, 0);
}

static gint
steady_from (void)
{
  return n_streams > STEADY_FROM ? STEADY_FROM : 1;
}

static gboolean
measure_idle_streams (Clip *clip, const gchar *parent, Rss *rss1, Rss *rssk,
    Rss *rssn, Rss *rss_ctl, guint64 *tmpfs_allocated, guint64 *tmpfs_size,
    GError **error)
{
  GPtrArray *streams = g_ptr_array_new_with_free_func (gst_object_unref);
  gboolean ok = FALSE;
  gint i;

  for (i = 0; i < n_streams; i++) {
    gchar *dir = g_strdup_printf ("%s/s%02d", parent, i);
    GstElement *p;

    if (g_mkdir (dir, 0700) != 0) {
      g_set_error (
          error, BENCH_ERROR, 0, "mkdir %s: %s", dir, g_strerror (errno));
      g_free (dir);
      goto out;
    }
    p = start_idle_stream (clip, "covertap", i, dir, error);
    g_free (dir);
    if (!p)
      goto out;
    g_ptr_array_add (streams, p);
    if (i == 0)
      read_rss (rss1);
    if (i + 1 == steady_from ())
      read_rss (rssk);
  }
  read_rss (rssn);
  scan_segments (parent, tmpfs_allocated, tmpfs_size);

  /* the same pipelines without covertap, on top: what is not covertap's */
  for (i = 0; i < n_streams - 1; i++) {
    GstElement *p = start_idle_stream (clip, "identity", i, NULL, error);

    if (!p)
      goto out;
    g_ptr_array_add (streams, p);
  }
  read_rss (rss_ctl);
  ok = TRUE;
out:
  stop_streams (streams);
  g_ptr_array_unref (streams);
  return ok;
}

/* ---- house-keeping ---- */

static void
remove_tree (const gchar *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  if (dir) {
    while ((name = g_dir_read_name (dir))) {
      gchar *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) &&
          !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
      g_free (child);
    }
    g_dir_close (dir);
  }
  g_rmdir (path);
}

static gchar *
make_store_parent (GError **error)
{
  const gchar *base = store_parent;
  gchar *tmpl;

  if (!base)
    base = g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm"
                                                        : g_get_tmp_dir ();
  tmpl = g_build_filename (base, "coversnap-bench-XXXXXX", NULL);
  if (!g_mkdtemp (tmpl)) {
    g_set_error (error, BENCH_ERROR, 0, "cannot create a directory in %s: %s",
        base, g_strerror (errno));
    g_free (tmpl);
    return NULL;
  }
  return tmpl;
}

static Clip *
clip_new (const gchar *arg)
{
  const gchar *eq = strchr (arg, '=');
  Clip *clip;
  Mode m;

  if (!eq || eq == arg || !eq[1])
    return NULL;
  clip = g_new0 (Clip, 1);
  clip->label = g_strndup (arg, eq - arg);
  clip->path = g_strdup (eq + 1);
  clip->keyframe_buffers =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  clip->keyframe_index = g_array_new (FALSE, FALSE, sizeof (guint64));
  clip->select_by_flag = TRUE;
  for (m = 0; m < N_MODES; m++)
    clip->cpu[m] = g_array_new (FALSE, FALSE, sizeof (gdouble));
  return clip;
}

static void
clip_free (Clip *clip)
{
  Mode m;

  for (m = 0; m < N_MODES; m++)
    g_array_unref (clip->cpu[m]);
  g_free (clip->colorimetry);
  g_ptr_array_unref (clip->keyframe_buffers);
  g_array_unref (clip->keyframe_index);
  gst_clear_caps (&clip->caps);
  g_free (clip->label);
  g_free (clip->path);
  g_free (clip);
}

/* ---- results ---- */

enum
{
  RSS_VM,
  RSS_ANON,
  RSS_SHMEM,
  RSS_FILE,
  N_RSS
};

static const gchar *rss_keys[N_RSS] = { "VmRSS", "RssAnon", "RssShmem",
  "RssFile" };

typedef struct
{
  gchar *plugin_file;
  const gchar *workers;
  gchar *load_start, *load_end;
  gdouble wall_s;
  GPtrArray *clips;
  Clip *lat_clip; /* also the clip of the idle streams */
  GArray *lat;    /* gdouble ms, sorted */
  guint64 pushed, published;
  gdouble lat_cpu_s; /* CPU of the whole paced run */
  gdouble lat_median, lat_p99, lat_mean, lat_max;
  gint64 rss1[N_RSS], rssk[N_RSS], rssn[N_RSS], rssc[N_RSS]; /* KiB */
  gdouble per_stream[N_RSS], scaffold[N_RSS];                /* KiB */
  gdouble per_stream_steady[N_RSS];    /* KiB, from STEADY_FROM streams */
  guint64 tmpfs_allocated, tmpfs_size; /* bytes, all segments */
  gdouble tmpfs_per_stream;            /* KiB allocated */
  gdouble total_per_stream; /* KiB: anon + file RSS + tmpfs allocated */
  gdouble total_per_stream_steady;
  gboolean covers_ok, pass_floor, pass_reference, pass_latency, pass_rss;
} Results;

static void
rss_to_array (const Rss *rss, gint64 *out)
{
  out[RSS_VM] = rss->vm_rss;
  out[RSS_ANON] = rss->rss_anon;
  out[RSS_SHMEM] = rss->rss_shmem;
  out[RSS_FILE] = rss->rss_file;
}

static gdouble
ratio (const Clip *c, Mode x, Mode y)
{
  return c->median_per_min[x] / c->median_per_min[y];
}

/* a/c round by round: (a) and (c) ran back to back, so each pair saw the
 * same machine; the median of the pairs shrugs off a busy moment. */
static gdouble
paired_ratio (const Clip *c)
{
  GArray *r = g_array_new (FALSE, FALSE, sizeof (gdouble));
  guint i, n = MIN (c->cpu[MODE_TAP]->len, c->cpu[MODE_FLOOR]->len);
  gdouble m;

  for (i = 0; i < n; i++) {
    gdouble v = g_array_index (c->cpu[MODE_TAP], gdouble, i) /
        g_array_index (c->cpu[MODE_FLOOR], gdouble, i);

    g_array_append_val (r, v);
  }
  m = median (r);
  g_array_unref (r);
  return m;
}

/* (a) against (d) plus TurboJPEG's bare encode of the keyframes (the colour
 * step table's "encode only"): the strictest floor, without jpegenc's own
 * costs */
static gdouble
ratio_bare (const Clip *c)
{
  gdouble encode = c->colour_ms[COLOUR_ENCODE_ONLY] / 1000 * c->keyframes *
      60.0 / c->duration_s;

  return c->median_per_min[MODE_TAP] /
      (c->median_per_min[MODE_KF_DECODE] + encode);
}

/* CPU milliseconds one cover costs (a), on top of parsing (e) */
static gdouble
ms_per_cover (const Clip *c)
{
  return (median (c->cpu[MODE_TAP]) - median (c->cpu[MODE_PARSE_ONLY])) * 1000 /
      c->keyframes;
}

static void
compute_results (Results *r, const Rss *rss1, const Rss *rssk, const Rss *rssn,
    const Rss *rssc)
{
  guint i;
  gint k;

  g_array_sort (r->lat, compare_doubles);
  r->lat_median = percentile (r->lat, 50);
  r->lat_p99 = percentile (r->lat, 99);
  r->lat_max = percentile (r->lat, 100);
  r->lat_mean = 0;
  for (i = 0; i < r->lat->len; i++)
    r->lat_mean += g_array_index (r->lat, gdouble, i) / r->lat->len;

  rss_to_array (rss1, r->rss1);
  rss_to_array (rssk, r->rssk);
  rss_to_array (rssn, r->rssn);
  rss_to_array (rssc, r->rssc);
  for (k = 0; k < N_RSS; k++) {
    r->per_stream[k] = (gdouble) (r->rssn[k] - r->rss1[k]) / (n_streams - 1);
    r->scaffold[k] = (gdouble) (r->rssc[k] - r->rssn[k]) / (n_streams - 1);
    r->per_stream_steady[k] = n_streams > steady_from ()
        ? (gdouble) (r->rssn[k] - r->rssk[k]) / (n_streams - steady_from ())
        : NAN;
  }

  r->tmpfs_per_stream = r->tmpfs_allocated / 1024.0 / n_streams;
  /* shared memory counted once, in full, wherever it is mapped */
  r->total_per_stream =
      r->per_stream[RSS_ANON] + r->per_stream[RSS_FILE] + r->tmpfs_per_stream;
  r->total_per_stream_steady = r->per_stream_steady[RSS_ANON] +
      r->per_stream_steady[RSS_FILE] + r->tmpfs_per_stream;

  r->covers_ok = r->pass_floor = r->pass_reference = TRUE;
  for (i = 0; i < r->clips->len; i++) {
    Clip *c = g_ptr_array_index (r->clips, i);

    r->covers_ok &= c->outputs[MODE_TAP] == c->keyframes &&
        c->outputs[MODE_DECODE_ALL] == c->keyframes &&
        c->outputs[MODE_FLOOR] == c->keyframes &&
        c->outputs[MODE_KF_DECODE] == c->keyframes;
    r->pass_floor &= ratio (c, MODE_TAP, MODE_FLOOR) <= 1.05;
    r->pass_reference &= ratio (c, MODE_DECODE_ALL, MODE_TAP) >= 12;
  }
  r->pass_latency = r->lat_median < 15;
  /* every way of counting has to stay under 1 MiB */
  r->pass_rss = MAX (MAX (r->per_stream[RSS_VM], r->total_per_stream),
                    MAX (r->per_stream_steady[RSS_VM],
                        r->total_per_stream_steady)) < 1024;
}

static const gchar *
verdict (gboolean pass)
{
  return pass ? "PASS" : "MISS";
}

static void
print_report (const Results *r)
{
  const Clip *lc = r->lat_clip;
  GString *line;
  guint i;
  gint k;

  g_print (
      "\ncovertap benchmark: %s, %s\n", gst_version_string (), r->plugin_file);
  g_print ("snapshot workers: %s; %u CPUs; load average at start: %s, at "
           "end: %s; %.0f s\n\n",
      r->workers, g_get_num_processors (), r->load_start, r->load_end,
      r->wall_s);

  g_print ("%-6s %-10s %5s %7s %9s %9s %12s %12s %9s\n", "clip", "size", "fps",
      "frames", "keyframes", "duration", "bitrate", "keyframe", "kf share");
  for (i = 0; i < r->clips->len; i++) {
    Clip *c = g_ptr_array_index (r->clips, i);
    gchar *size = g_strdup_printf ("%dx%d", c->width, c->height);

    g_print ("%-6s %-10s %5.2g %7" G_GUINT64_FORMAT " %9" G_GUINT64_FORMAT
             " %7.1f s %5.2f Mbit/s %8.0f KiB %8.1f %%\n",
        c->label, size, (gdouble) c->fps_n / c->fps_d, c->frames, c->keyframes,
        c->duration_s, c->bytes * 8 / c->duration_s / 1e6,
        c->keyframe_bytes / 1024.0 / c->keyframes,
        100.0 * c->keyframe_bytes / c->bytes);
    g_free (size);
  }

  g_print ("\nCPU seconds per stream-minute (user+sys of this process, "
           "median of %d runs, %d of (b))\n",
      light_reps, reps);
  g_print ("%-6s %9s %9s %9s %9s %9s %8s %6s %6s %9s\n", "clip", "(a) tap",
      "(b) ref", "(c) floor", "(d) kfdec", "(e) parse", "a/b", "b/a", "a/c",
      "ms/cover");
  for (i = 0; i < r->clips->len; i++) {
    Clip *c = g_ptr_array_index (r->clips, i);
    const gdouble *v = c->median_per_min;

    g_print ("%-6s %9.3f %9.3f %9.3f %9.3f %9.3f %8.4f %5.1fx %6.3f %9.1f\n",
        c->label, v[MODE_TAP], v[MODE_DECODE_ALL], v[MODE_FLOOR],
        v[MODE_KF_DECODE], v[MODE_PARSE_ONLY],
        ratio (c, MODE_TAP, MODE_DECODE_ALL),
        ratio (c, MODE_DECODE_ALL, MODE_TAP), ratio (c, MODE_TAP, MODE_FLOOR),
        ms_per_cover (c));
  }
  g_print ("  (a) parse ! covertap min-interval=0      (b) parse ! avdec_h264 "
           "! keyframes ! jpegenc\n"
           "  (c) parse ! keyframes ! avdec_h264 ! jpegenc   (d) = (c) "
           "without jpegenc   (e) parse only\n"
           "  ms/cover: CPU ms per cover in (a), parsing (e) taken out\n");

  g_print ("\nCPU seconds of each run, outputs of the last run:\n");
  for (i = 0; i < r->clips->len; i++) {
    Clip *c = g_ptr_array_index (r->clips, i);
    Mode m;

    for (m = 0; m < N_MODES; m++) {
      guint j;

      line = g_string_new (NULL);
      for (j = 0; j < c->cpu[m]->len; j++)
        g_string_append_printf (line, "%s%.3f", j ? " " : "",
            g_array_index (c->cpu[m], gdouble, j));
      g_print ("  %-6s %-16s [%s]  %" G_GUINT64_FORMAT " %s\n", c->label,
          mode_keys[m], line->str, c->outputs[m],
          m == MODE_TAP                                     ? "covers"
              : m == MODE_KF_DECODE || m == MODE_PARSE_ONLY ? "frames"
                                                            : "jpegs");
      g_string_free (line, TRUE);
    }
    g_print ("  %-6s a/c round by round, median: %.3f\n", c->label,
        paired_ratio (c));
    g_print ("  %-6s %" G_GUINT64_FORMAT " keyframes, %" G_GUINT64_FORMAT
             " cover failures; (b) picks the decoded keyframes %s\n",
        c->label, c->keyframes, c->failed_covers,
        c->select_by_flag ? "by DELTA_UNIT (verified)"
                          : "by position (decoder output has no DELTA_UNIT)");
  }
  if (!r->covers_ok)
    g_print ("  WARNING: some pipeline did not turn every keyframe into a "
             "picture: the ratios compare unequal work\n");

  g_print ("\ncolour step on the decoded keyframes, CPU ms per keyframe (one "
           "thread, median of %d rounds; in brackets: minus encode only)\n",
      light_reps);
  g_print ("%-6s %-22s %11s %16s %16s %16s\n", "clip", "decoded as",
      "encode only", "covertap", "converter+enc", "RGB+enc");
  for (i = 0; i < r->clips->len; i++) {
    Clip *c = g_ptr_array_index (r->clips, i);
    const gdouble *v = c->colour_ms;

    g_print ("%-6s %-22s %11.2f %7.2f (%+6.2f) %7.2f (%+6.2f) %7.2f (%+6.2f)\n",
        c->label, c->colorimetry ? c->colorimetry : "?", v[COLOUR_ENCODE_ONLY],
        v[COLOUR_COVERTAP], v[COLOUR_COVERTAP] - v[COLOUR_ENCODE_ONLY],
        v[COLOUR_CONVERTER], v[COLOUR_CONVERTER] - v[COLOUR_ENCODE_ONLY],
        v[COLOUR_RGB], v[COLOUR_RGB] - v[COLOUR_ENCODE_ONLY]);
  }
  for (i = 0; i < r->clips->len; i++) {
    Clip *c = g_ptr_array_index (r->clips, i);

    g_print ("  %-6s a/(d+encode only): %.3f  (covertap against decoding the "
             "keyframes and TurboJPEG's bare encode, no jpegenc)\n",
        c->label, ratio_bare (c));
  }
  g_print ("  encode only: TurboJPEG from the planes as decoded (what (c) "
           "encodes: colours wrong for BT.709)\n"
           "  covertap: its colour pass into BT.601 full range + the same "
           "encode (cover_encoder_encode)\n"
           "  converter+enc: GstVideoConverter to BT.601 full range, then "
           "encode (covertap before issue 12)\n"
           "  RGB+enc: GstVideoConverter to BGRx, then TurboJPEG from RGB "
           "(it converts to YCbCr itself)\n");

  g_print ("\nkeyframe-to-publish latency, %s, paced (one keyframe every %d "
           "ms), %u samples (%" G_GUINT64_FORMAT " pushed, %" G_GUINT64_FORMAT
           " published, first %d not counted):\n",
      lc->label, latency_interval_ms, r->lat->len, r->pushed, r->published,
      LATENCY_WARMUP);
  g_print ("  median %.2f ms, p99 %.2f ms, mean %.2f ms, max %.2f ms; CPU "
           "%.2f ms per cover\n",
      r->lat_median, r->lat_p99, r->lat_mean, r->lat_max,
      r->published ? r->lat_cpu_s * 1000 / r->published : NAN);

  g_print ("\nRSS per extra idle stream: %d x (appsrc ! covertap ! fakesink), "
           "two %s keyframes published each, then idle\n",
      n_streams, lc->label);
  g_print ("  %-12s", "KiB");
  for (k = 0; k < N_RSS; k++)
    g_print (" %10s", rss_keys[k]);
  g_print ("\n  %-12s", "1 stream");
  for (k = 0; k < N_RSS; k++)
    g_print (" %10" G_GINT64_FORMAT, r->rss1[k]);
  g_print ("\n  %-12s", "10 streams");
  for (k = 0; k < N_RSS; k++)
    g_print (" %10" G_GINT64_FORMAT, r->rssk[k]);
  g_print ("\n  %-12s", "all streams");
  for (k = 0; k < N_RSS; k++)
    g_print (" %10" G_GINT64_FORMAT, r->rssn[k]);
  g_print ("\n  %-12s", "per stream");
  for (k = 0; k < N_RSS; k++)
    g_print (" %10.1f", r->per_stream[k]);
  g_print ("\n  %-12s", "  from 10th");
  for (k = 0; k < N_RSS; k++)
    g_print (" %10.1f", r->per_stream_steady[k]);
  g_print ("\n  %-12s", "of which");
  for (k = 0; k < N_RSS; k++)
    g_print (" %10.1f", r->scaffold[k]);
  g_print ("\n  (\"of which\": appsrc ! identity ! fakesink pipelines added "
           "on top, the part that is not covertap's)\n");
  g_print ("  segments in tmpfs: %.1f KiB allocated per stream (file size "
           "%.1f KiB); RSS misses the pages written before the writer "
           "re-mapped a grown segment\n",
      r->tmpfs_per_stream, r->tmpfs_size / 1024.0 / n_streams);
  g_print ("  per idle stream, shared memory counted in full (RssAnon + "
           "RssFile + tmpfs): %.1f KiB, %.1f KiB from the 10th stream on\n",
      r->total_per_stream, r->total_per_stream_steady);

  g_print ("\ntargets: covertap <= 1.05x floor (a/c): %s; >= 12x cheaper than "
           "the reference (b/a): %s; median latency < 15 ms: %s; < 1 MiB per "
           "idle stream (VmRSS and in full): %s\n",
      verdict (r->pass_floor), verdict (r->pass_reference),
      verdict (r->pass_latency), verdict (r->pass_rss));

  line = g_string_new ("SUMMARY:");
  for (i = 0; i < r->clips->len; i++) {
    Clip *c = g_ptr_array_index (r->clips, i);

    g_string_append_printf (line,
        " %s a=%.3f b=%.3f c=%.3f CPU-s/min a/b=%.4f (%.1fx cheaper) "
        "a/c=%.3f;",
        c->label, c->median_per_min[MODE_TAP],
        c->median_per_min[MODE_DECODE_ALL], c->median_per_min[MODE_FLOOR],
        ratio (c, MODE_TAP, MODE_DECODE_ALL),
        ratio (c, MODE_DECODE_ALL, MODE_TAP), ratio (c, MODE_TAP, MODE_FLOOR));
  }
  g_string_append_printf (line,
      " latency %s median %.1f ms p99 %.1f ms; idle stream %.0f KiB VmRSS "
      "(%.0f from the 10th on), %.0f KiB with its tmpfs segment in full "
      "(%.0f from the 10th on)",
      lc->label, r->lat_median, r->lat_p99, r->per_stream[RSS_VM],
      r->per_stream_steady[RSS_VM], r->total_per_stream,
      r->total_per_stream_steady);
  g_print ("\n%s\n", line->str);
  g_string_free (line, TRUE);
}

static void
json_add_double (JsonBuilder *b, const gchar *key, gdouble v)
{
  json_builder_set_member_name (b, key);
  if (isnan (v) || isinf (v))
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, round (v * 1e6) / 1e6);
}

static void
json_add_int (JsonBuilder *b, const gchar *key, gint64 v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_int_value (b, v);
}

static void
json_add_string (JsonBuilder *b, const gchar *key, const gchar *v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, v);
}

static void
json_add_bool (JsonBuilder *b, const gchar *key, gboolean v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_boolean_value (b, v);
}

static void
json_add_rss (JsonBuilder *b, const gchar *key, const gdouble *v)
{
  gint k;

  json_builder_set_member_name (b, key);
  json_builder_begin_object (b);
  for (k = 0; k < N_RSS; k++)
    json_add_double (b, rss_keys[k], v[k]);
  json_builder_end_object (b);
}

static void
json_add_clip (JsonBuilder *jb, const Clip *c)
{
  Mode m;
  gint w;

  json_builder_begin_object (jb);
  json_add_string (jb, "label", c->label);
  json_add_string (jb, "path", c->path);
  json_add_int (jb, "width", c->width);
  json_add_int (jb, "height", c->height);
  json_add_double (jb, "fps", (gdouble) c->fps_n / c->fps_d);
  json_add_int (jb, "frames", c->frames);
  json_add_int (jb, "keyframes", c->keyframes);
  json_add_double (jb, "duration_s", c->duration_s);
  json_add_double (jb, "bitrate_mbps", c->bytes * 8 / c->duration_s / 1e6);
  json_add_double (
      jb, "keyframe_kib_mean", c->keyframe_bytes / 1024.0 / c->keyframes);
  json_add_double (
      jb, "keyframe_share_of_bytes", (gdouble) c->keyframe_bytes / c->bytes);
  json_builder_set_member_name (jb, "cpu_s_per_stream_minute");
  json_builder_begin_object (jb);
  for (m = 0; m < N_MODES; m++)
    json_add_double (jb, mode_keys[m], c->median_per_min[m]);
  json_builder_end_object (jb);
  json_builder_set_member_name (jb, "cpu_s_per_run");
  json_builder_begin_object (jb);
  for (m = 0; m < N_MODES; m++) {
    guint j;

    json_builder_set_member_name (jb, mode_keys[m]);
    json_builder_begin_array (jb);
    for (j = 0; j < c->cpu[m]->len; j++)
      json_builder_add_double_value (jb, g_array_index (c->cpu[m], gdouble, j));
    json_builder_end_array (jb);
  }
  json_builder_end_object (jb);
  json_builder_set_member_name (jb, "outputs");
  json_builder_begin_object (jb);
  for (m = 0; m < N_MODES; m++)
    json_add_int (jb, mode_keys[m], c->outputs[m]);
  json_builder_end_object (jb);
  json_add_int (jb, "cover_failures", c->failed_covers);
  json_add_string (jb, "decode_all_keyframe_selection",
      c->select_by_flag ? "delta-unit-flag" : "frame-position");
  json_add_double (jb, "ratio_a_b", ratio (c, MODE_TAP, MODE_DECODE_ALL));
  json_add_double (jb, "ratio_a_c", ratio (c, MODE_TAP, MODE_FLOOR));
  json_add_double (jb, "ratio_a_c_paired_median", paired_ratio (c));
  json_add_double (jb, "cpu_ms_per_cover", ms_per_cover (c));
  json_add_string (jb, "decoded_colorimetry", c->colorimetry);
  json_add_double (jb, "ratio_a_d_plus_bare_encode", ratio_bare (c));
  json_builder_set_member_name (jb, "colour_step_cpu_ms_per_keyframe");
  json_builder_begin_object (jb);
  for (w = 0; w < N_COLOUR_WAYS; w++)
    json_add_double (jb, colour_keys[w], c->colour_ms[w]);
  json_builder_end_object (jb);
  json_builder_end_object (jb);
}

static gboolean
write_json (const Results *r, const gchar *path, GError **error)
{
  JsonBuilder *jb = json_builder_new ();
  JsonGenerator *gen;
  JsonNode *root;
  GDateTime *dt = g_date_time_new_now_utc ();
  gchar *now = g_date_time_format_iso8601 (dt);
  gdouble v[N_RSS];
  gboolean ok;
  guint i;
  gint k;

  json_builder_begin_object (jb);
  json_add_string (jb, "date", now);
  json_add_string (jb, "gstreamer", gst_version_string ());
  json_add_string (jb, "plugin", r->plugin_file);
  json_add_string (jb, "workers", r->workers);
  json_add_int (jb, "cpus", g_get_num_processors ());
  json_add_string (jb, "loadavg_start", r->load_start);
  json_add_string (jb, "loadavg_end", r->load_end);
  json_add_int (jb, "reps_reference", reps);
  json_add_int (jb, "reps_light", light_reps);
  json_add_double (jb, "wall_s", r->wall_s);

  json_builder_set_member_name (jb, "clips");
  json_builder_begin_array (jb);
  for (i = 0; i < r->clips->len; i++)
    json_add_clip (jb, g_ptr_array_index (r->clips, i));
  json_builder_end_array (jb);

  json_builder_set_member_name (jb, "latency");
  json_builder_begin_object (jb);
  json_add_string (jb, "clip", r->lat_clip->label);
  json_add_int (jb, "interval_ms", latency_interval_ms);
  json_add_int (jb, "samples", r->lat->len);
  json_add_int (jb, "pushed", r->pushed);
  json_add_int (jb, "published", r->published);
  json_add_double (jb, "median_ms", r->lat_median);
  json_add_double (jb, "p99_ms", r->lat_p99);
  json_add_double (jb, "mean_ms", r->lat_mean);
  json_add_double (jb, "max_ms", r->lat_max);
  json_add_double (jb, "cpu_ms_per_cover",
      r->published ? r->lat_cpu_s * 1000 / r->published : NAN);
  json_builder_end_object (jb);

  json_builder_set_member_name (jb, "idle_streams");
  json_builder_begin_object (jb);
  json_add_string (jb, "clip", r->lat_clip->label);
  json_add_int (jb, "streams", n_streams);
  for (k = 0; k < N_RSS; k++)
    v[k] = r->rss1[k];
  json_add_rss (jb, "rss_1_stream_kib", v);
  for (k = 0; k < N_RSS; k++)
    v[k] = r->rssn[k];
  json_add_rss (jb, "rss_all_streams_kib", v);
  json_add_rss (jb, "per_stream_kib", r->per_stream);
  for (k = 0; k < N_RSS; k++)
    v[k] = r->rssk[k];
  json_add_rss (jb, "rss_10_streams_kib", v);
  json_add_rss (jb, "per_stream_from_10th_kib", r->per_stream_steady);
  json_add_rss (jb, "scaffold_per_stream_kib", r->scaffold);
  json_add_double (jb, "tmpfs_allocated_per_stream_kib", r->tmpfs_per_stream);
  json_add_double (
      jb, "tmpfs_file_size_per_stream_kib", r->tmpfs_size / 1024.0 / n_streams);
  json_add_double (jb, "total_per_stream_kib", r->total_per_stream);
  json_add_double (
      jb, "total_per_stream_from_10th_kib", r->total_per_stream_steady);
  json_builder_end_object (jb);

  json_builder_set_member_name (jb, "targets");
  json_builder_begin_object (jb);
  json_add_bool (jb, "a_c_at_most_1_05", r->pass_floor);
  json_add_bool (jb, "b_a_at_least_12", r->pass_reference);
  json_add_bool (jb, "latency_median_under_15_ms", r->pass_latency);
  json_add_bool (jb, "idle_stream_under_1_mib", r->pass_rss);
  json_add_bool (jb, "every_keyframe_encoded", r->covers_ok);
  json_builder_end_object (jb);
  json_builder_end_object (jb);

  root = json_builder_get_root (jb);
  gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  ok = json_generator_to_file (gen, path, error);
  json_node_unref (root);
  g_object_unref (gen);
  g_object_unref (jb);
  g_free (now);
  g_date_time_unref (dt);
  return ok;
}

int
main (int argc, char **argv)
{
  GOptionContext *ctx;
  GError *err = NULL;
  GstElementFactory *f;
  GstPlugin *plugin;
  gchar *parent = NULL, *dir;
  Results r = {
    NULL,
  };
  Rss rss1, rssk, rssn, rssc;
  gdouble wall_start = g_get_monotonic_time () / 1e6;
  guint i;
  gint ret = 1;

  ctx = g_option_context_new ("- covertap CPU, latency and memory benchmark");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("%s\n", err->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (!clip_args || !clip_args[0] || reps < 1 || light_reps < 1 ||
      latency_samples < 1 || latency_interval_ms < 1 || n_streams < 2) {
    g_printerr ("usage: bench-covertap --clip LABEL=FILE [--clip ...] "
                "(see --help)\n");
    return 2;
  }

  f = gst_element_factory_find ("covertap");
  if (!f) {
    g_printerr ("covertap not found: set GST_PLUGIN_PATH to the build "
                "tree's plugin/ directory\n");
    return 1;
  }
  plugin = gst_plugin_feature_get_plugin (GST_PLUGIN_FEATURE (f));
  r.plugin_file = g_strdup (plugin ? gst_plugin_get_filename (plugin) : "?");
  gst_clear_object (&plugin);
  gst_object_unref (f);
  r.workers = g_getenv ("COVERSNAP_WORKERS");
  if (!r.workers)
    r.workers = "default";
  r.load_start = read_loadavg ();
  r.lat = g_array_new (FALSE, FALSE, sizeof (gdouble));

  r.clips = g_ptr_array_new_with_free_func ((GDestroyNotify) clip_free);
  for (i = 0; clip_args[i]; i++) {
    Clip *clip = clip_new (clip_args[i]);

    if (!clip) {
      g_printerr ("bad --clip %s (LABEL=FILE)\n", clip_args[i]);
      goto done;
    }
    g_ptr_array_add (r.clips, clip);
  }

  parent = make_store_parent (&err);
  if (!parent)
    goto failed;

  for (i = 0; i < r.clips->len; i++) {
    Clip *clip = g_ptr_array_index (r.clips, i);
    gboolean ok;

    g_printerr ("%s: reading %s\n", clip->label, clip->path);
    dir = g_build_filename (parent, clip->label, NULL);
    g_mkdir (dir, 0700);
    ok = clip_load (clip, &err) && bench_clip (clip, dir, &err) &&
        bench_colour (clip, &err);
    g_free (dir);
    if (!ok) {
      g_prefix_error (&err, "%s: ", clip->label);
      goto failed;
    }
  }

  r.lat_clip = g_ptr_array_index (r.clips, 0);
  g_printerr ("%s: paced latency run, %d keyframes, one every %d ms\n",
      r.lat_clip->label, LATENCY_WARMUP + latency_samples, latency_interval_ms);
  dir = g_build_filename (parent, "latency", NULL);
  g_mkdir (dir, 0700);
  if (!measure_latency (r.lat_clip, dir, r.lat, &r.pushed, &r.published,
          &r.lat_cpu_s, &err)) {
    g_free (dir);
    goto failed;
  }
  g_free (dir);

  g_printerr ("%s: %d idle streams\n", r.lat_clip->label, n_streams);
  dir = g_build_filename (parent, "idle", NULL);
  g_mkdir (dir, 0700);
  if (!measure_idle_streams (r.lat_clip, dir, &rss1, &rssk, &rssn, &rssc,
          &r.tmpfs_allocated, &r.tmpfs_size, &err)) {
    g_free (dir);
    goto failed;
  }
  g_free (dir);

  r.load_end = read_loadavg ();
  r.wall_s = g_get_monotonic_time () / 1e6 - wall_start;
  compute_results (&r, &rss1, &rssk, &rssn, &rssc);
  print_report (&r);
  if (json_path && !write_json (&r, json_path, &err)) {
    g_printerr ("cannot write %s: %s\n", json_path, err->message);
    g_clear_error (&err);
  }
  /* unequal work makes the ratios meaningless: say so in the exit code */
  ret = r.covers_ok ? 0 : 3;
  goto done;

failed:
  g_printerr ("bench-covertap: %s\n", err ? err->message : "failed");
  g_clear_error (&err);
done:
  if (parent) {
    remove_tree (parent);
    g_free (parent);
  }
  g_ptr_array_unref (r.clips);
  g_array_unref (r.lat);
  g_free (r.plugin_file);
  g_free (r.load_start);
  g_free (r.load_end);
  return ret;
}
