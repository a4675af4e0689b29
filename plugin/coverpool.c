/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The process-wide snapshot workers.  A fixed set of threads (one per core
 * by default, COVERSNAP_WORKERS to change it) serves every tapped stream of
 * the process.  Each worker keeps one decoder per codec it has met and one
 * JPEG encoder, so decoders scale with the cores, not with the streams: an
 * idle stream holds only its shared-memory segment. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "coverpool.h"
#include "coverdecoder.h"
#include "coverjpeg.h"

#include <gst/video/video.h>
#include <stdlib.h>

GST_DEBUG_CATEGORY_STATIC (cover_pool_debug);
#define GST_CAT_DEFAULT cover_pool_debug

#define MAX_WORKERS 64
#define CLOSE_TIMEOUT_US (2 * G_USEC_PER_SEC)

struct _CoverStream
{
  gint refcount;
  GMutex lock;
  CoverJob *pending;  /* newest keyframe not yet taken, or NULL */
  gboolean scheduled; /* queued in, or being run by, the pool */
  GThread *worker;    /* the worker running it, or NULL */
  GCond idle;         /* signalled when scheduled turns FALSE */
  gboolean closed;
  gboolean unlink_segment;
  GWeakRef owner;
  CoverStreamCallbacks callbacks;
  CoverStoreWriter *writer;
};

typedef struct
{
  CoverEncoder *encoder;
  GList *decoders; /* CoverDecoder*, one per codec met */
} CoverWorker;

static GThreadPool *pool;
static guint n_workers;
static guint worker_delay_ms; /* debugging aid: simulates a slow worker */

static void worker_free (gpointer data);
static GPrivate worker_key = G_PRIVATE_INIT (worker_free);

CoverJob *
cover_job_new (GstBuffer *buffer, GstCaps *caps, GstBuffer *headers)
{
  CoverJob *job = g_new0 (CoverJob, 1);

  job->buffer = gst_buffer_ref (buffer);
  job->caps = gst_caps_ref (caps);
  job->headers = headers ? gst_buffer_ref (headers) : NULL;
  job->queued_at = g_get_monotonic_time ();
  job->capture_time = g_get_real_time ();
  return job;
}

void
cover_job_free (CoverJob *job)
{
  if (!job)
    return;
  gst_buffer_unref (job->buffer);
  gst_caps_unref (job->caps);
  gst_clear_buffer (&job->headers);
  g_free (job);
}

static void
worker_free (gpointer data)
{
  CoverWorker *w = data;

  g_list_free_full (w->decoders, (GDestroyNotify) cover_decoder_free);
  cover_encoder_free (w->encoder);
  g_free (w);
}

static CoverWorker *
worker_get (void)
{
  CoverWorker *w = g_private_get (&worker_key);

  if (!w) {
    w = g_new0 (CoverWorker, 1);
    w->encoder = cover_encoder_new ();
    g_private_set (&worker_key, w);
  }
  return w;
}

static CoverDecoder *
worker_get_decoder (CoverWorker *w, GstCaps *caps, GError **error)
{
  const gchar *codec =
      gst_structure_get_name (gst_caps_get_structure (caps, 0));
  CoverDecoder *dec;
  GList *l;

  for (l = w->decoders; l; l = l->next) {
    if (g_str_equal (cover_decoder_get_codec (l->data), codec))
      return l->data;
  }
  dec = cover_decoder_new (caps, error);
  if (dec)
    w->decoders = g_list_prepend (w->decoders, dec);
  return dec;
}

static gboolean
encode_frame (CoverWorker *w, CoverJob *job, GstCaps *caps, GstBuffer *buffer,
    CoverStoreWriter *writer, CoverResult *res, GError **error)
{
  GstVideoInfo info;
  GstVideoFrame frame;
  const guint8 *jpeg;
  gsize size;
  gboolean ok;

  if (!gst_video_info_from_caps (&info, caps)) {
    g_set_error (error, COVER_JPEG_ERROR, COVER_JPEG_ERROR_FORMAT,
        "Unusable raw video caps");
    return FALSE;
  }
  if (!gst_video_frame_map (&frame, &info, buffer, GST_MAP_READ)) {
    g_set_error (error, COVER_JPEG_ERROR, COVER_JPEG_ERROR_FORMAT,
        "Could not map a %" G_GSIZE_FORMAT "-byte buffer as %s %dx%d",
        gst_buffer_get_size (buffer),
        gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&info)),
        GST_VIDEO_INFO_WIDTH (&info), GST_VIDEO_INFO_HEIGHT (&info));
    return FALSE;
  }
  ok = cover_encoder_encode (w->encoder, &frame, job->quality, job->max_width,
      job->max_height, &jpeg, &size, &res->width, &res->height, error);
  gst_video_frame_unmap (&frame);
  if (!ok)
    return FALSE;

  if (!cover_store_writer_publish (writer, jpeg, size, res->width, res->height,
          job->capture_time, &res->generation, error))
    return FALSE;
  res->size = size;
  res->capture_time = job->capture_time;
  res->latency = g_get_monotonic_time () - job->queued_at;
  return TRUE;
}

static gboolean
process_job (CoverWorker *w, CoverJob *job, CoverStoreWriter *writer,
    CoverResult *res, GError **error)
{
  const GstStructure *s = gst_caps_get_structure (job->caps, 0);
  CoverDecoder *dec;
  GstSample *sample;
  GstBuffer *au;
  gboolean ok;

  if (!w->encoder) {
    g_set_error (error, COVER_JPEG_ERROR, COVER_JPEG_ERROR_ENCODE,
        "Could not create a TurboJPEG compressor");
    return FALSE;
  }
  if (gst_structure_has_name (s, "video/x-raw"))
    return encode_frame (w, job, job->caps, job->buffer, writer, res, error);

  dec = worker_get_decoder (w, job->caps, error);
  if (!dec)
    return FALSE;
  au = gst_buffer_ref (job->buffer);
  if (job->headers)
    au = gst_buffer_append (gst_buffer_ref (job->headers), au);
  sample = cover_decoder_decode (dec, job->caps, au, error);
  gst_buffer_unref (au);
  if (!cover_decoder_is_usable (dec)) {
    w->decoders = g_list_remove (w->decoders, dec);
    cover_decoder_free (dec);
  }
  if (!sample)
    return FALSE;
  ok = encode_frame (w, job, gst_sample_get_caps (sample),
      gst_sample_get_buffer (sample), writer, res, error);
  gst_sample_unref (sample);
  return ok;
}

static CoverStream *
cover_stream_ref (CoverStream *stream)
{
  g_atomic_int_inc (&stream->refcount);
  return stream;
}

static void
cover_stream_unref (CoverStream *stream)
{
  if (!g_atomic_int_dec_and_test (&stream->refcount))
    return;
  cover_job_free (stream->pending);
  cover_store_writer_close (stream->writer, stream->unlink_segment);
  g_weak_ref_clear (&stream->owner);
  g_cond_clear (&stream->idle);
  g_mutex_clear (&stream->lock);
  g_free (stream);
}

static void
worker_run (gpointer data, gpointer user_data)
{
  CoverStream *stream = data;
  CoverWorker *w = worker_get ();

  for (;;) {
    CoverResult res = {
      0,
    };
    GError *err = NULL;
    GObject *owner;
    CoverJob *job;
    gboolean ok;

    g_mutex_lock (&stream->lock);
    job = g_steal_pointer (&stream->pending);
    if (!job || stream->closed) {
      stream->scheduled = FALSE;
      stream->worker = NULL;
      g_cond_broadcast (&stream->idle);
      g_mutex_unlock (&stream->lock);
      cover_job_free (job);
      break;
    }
    stream->worker = g_thread_self ();
    g_mutex_unlock (&stream->lock);

    if (worker_delay_ms)
      g_usleep (worker_delay_ms * 1000);
    ok = process_job (w, job, stream->writer, &res, &err);
    cover_job_free (job);

    owner = g_weak_ref_get (&stream->owner);
    if (owner) {
      if (ok && stream->callbacks.published)
        stream->callbacks.published (owner, &res);
      else if (!ok && stream->callbacks.failed)
        stream->callbacks.failed (owner, err);
      g_object_unref (owner);
    }
    g_clear_error (&err);
  }
  cover_stream_unref (stream);
}

static gpointer
pool_init (gpointer data)
{
  const gchar *env;
  GError *err = NULL;

  GST_DEBUG_CATEGORY_INIT (
      cover_pool_debug, "coverpool", 0, "coversnap snapshot workers");

  n_workers = MIN (g_get_num_processors (), 8);
  env = g_getenv ("COVERSNAP_WORKERS");
  if (env && atoi (env) > 0)
    n_workers = MIN (atoi (env), MAX_WORKERS);
  env = g_getenv ("COVERSNAP_WORKER_DELAY_MS");
  if (env)
    worker_delay_ms = CLAMP (atoi (env), 0, 60000);

  /* exclusive: the workers live as long as the process and keep their
   * decoders, instead of being reaped and re-created by GLib when idle */
  pool = g_thread_pool_new (worker_run, NULL, n_workers, TRUE, &err);
  if (!pool)
    g_error ("coversnap: cannot create the snapshot workers: %s", err->message);
  GST_INFO ("%u snapshot workers", n_workers);
  return NULL;
}

static void
ensure_pool (void)
{
  static GOnce once = G_ONCE_INIT;

  g_once (&once, pool_init, NULL);
}

guint
cover_pool_get_n_workers (void)
{
  ensure_pool ();
  return n_workers;
}

CoverStream *
cover_stream_new (GObject *owner, CoverStoreWriter *writer,
    const CoverStreamCallbacks *callbacks)
{
  CoverStream *stream = g_new0 (CoverStream, 1);

  ensure_pool ();
  stream->refcount = 1;
  g_mutex_init (&stream->lock);
  g_cond_init (&stream->idle);
  g_weak_ref_init (&stream->owner, owner);
  stream->callbacks = *callbacks;
  stream->writer = writer;
  return stream;
}

CoverStoreWriter *
cover_stream_get_writer (CoverStream *stream)
{
  return stream->writer;
}

gboolean
cover_stream_submit (CoverStream *stream, CoverJob *job)
{
  gboolean replaced;

  g_mutex_lock (&stream->lock);
  replaced = stream->pending != NULL;
  cover_job_free (stream->pending);
  stream->pending = job;
  if (!stream->scheduled) {
    stream->scheduled = TRUE;
    g_thread_pool_push (pool, cover_stream_ref (stream), NULL);
  }
  g_mutex_unlock (&stream->lock);
  return replaced;
}

/* Called with the lock held.  A worker never waits for itself: a callback
 * may well stop the element whose keyframe it is reporting. */
static gboolean
wait_idle_locked (CoverStream *stream, gint64 timeout_us)
{
  gint64 end = g_get_monotonic_time () + timeout_us;

  while (stream->scheduled && stream->worker != g_thread_self ()) {
    if (!g_cond_wait_until (&stream->idle, &stream->lock, end))
      return FALSE;
  }
  return !stream->scheduled;
}

gboolean
cover_stream_drain (CoverStream *stream, gint64 timeout_us)
{
  gboolean ret;

  g_mutex_lock (&stream->lock);
  ret = wait_idle_locked (stream, timeout_us);
  g_mutex_unlock (&stream->lock);
  return ret;
}

void
cover_stream_close (CoverStream *stream, gboolean unlink_segment)
{
  cover_store_writer_set_ended (stream->writer, TRUE);
  g_mutex_lock (&stream->lock);
  stream->closed = TRUE;
  stream->unlink_segment = unlink_segment;
  g_clear_pointer (&stream->pending, cover_job_free);
  /* the keyframe in hand is worth finishing: it takes milliseconds, and
   * the caller may be about to tear down the elements a worker uses */
  wait_idle_locked (stream, CLOSE_TIMEOUT_US);
  g_mutex_unlock (&stream->lock);
  g_weak_ref_set (&stream->owner, NULL);
  cover_stream_unref (stream);
}
