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
 * the process.  Each worker keeps one decoder per codec and kind of
 * keyframe it has met (random access pictures or not: cover_decoder_new())
 * and one JPEG encoder, so decoders scale with the cores, not with the streams:
 * an idle stream holds only its shared-memory segment.  Saving thumbnails is
 * coverthumbnail.c's job; the pool only says when. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "coverpool.h"
#include "covercodec.h"
#include "coverdecoder.h"
#include "coverjpeg-frame.h"
#include "coverstore.h"
#include "coverthumbnail.h"

#include <gst/video/video.h>
#include <stdlib.h>

GST_DEBUG_CATEGORY_STATIC (cover_pool_debug);
#define GST_CAT_DEFAULT cover_pool_debug

#define MAX_WORKERS 64
#define CLOSE_TIMEOUT_US (2 * G_USEC_PER_SEC)
/* Readers call a stream live while its heartbeat is younger than their
 * live-timeout (a second at least): one write a tenth of a second is
 * plenty, and spares the header's cache line, which readers on other cores
 * load, a write at every buffer. */
#define HEARTBEAT_INTERVAL_US (G_USEC_PER_SEC / 10)

/* Reference counted (g_atomic_rc_box): the caller holds one reference until
 * cover_stream_close(), the pool one while the stream is scheduled. */
struct _CoverStream
{
  GMutex lock;
  CoverJob *pending;         /* newest keyframe not yet taken, or NULL */
  gboolean thumbnail_wanted; /* save the last cover, no keyframe waiting */
  gboolean scheduled;        /* queued in, or being run by, the pool */
  GThread *worker;           /* the worker running it, or NULL */
  GCond idle;                /* signalled when scheduled turns FALSE */
  gboolean closed;
  gboolean unlink_segment;
  GWeakRef owner;
  CoverStreamCallbacks callbacks;
  CoverStoreWriter *writer; /* the stream's own, for its whole life */
  gint64 last_heartbeat;    /* the caller's of cover_stream_heartbeat() */
  /* thumbnails, set before the first job; last_jpeg is the worker's */
  gchar *thumbnail_dir;
  guint thumbnail_max_files;
  guint thumbnail_max_age_s;
  GBytes *last_jpeg;
  gint64 last_capture_time;
};

typedef struct
{
  CoverEncoder *encoder;
  /* by CoverCodec and whether the job is a random access picture of a
   * codec whose decoder has settings for those (cover_decoder_new()), one
   * per kind met; raw video and JPEG need none */
  CoverDecoder *decoders[COVER_CODEC_LAST][2];
} CoverWorker;

static GThreadPool *pool;
static guint worker_delay_ms; /* debugging aid: simulates a slow worker */

static void worker_free (gpointer data);
static GPrivate worker_key = G_PRIVATE_INIT (worker_free);

CoverJob *
cover_job_new (GstBuffer *buffer, GstCaps *caps, GstBuffer *headers)
{
  CoverJob *job;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (GST_IS_CAPS (caps), NULL);
  g_return_val_if_fail (headers == NULL || GST_IS_BUFFER (headers), NULL);

  job = g_new0 (CoverJob, 1);
  job->units = gst_buffer_list_new ();
  cover_job_add_unit (job, buffer);
  job->caps = gst_caps_ref (caps);
  job->headers = headers ? gst_buffer_ref (headers) : NULL;
  cover_job_restamp (job);
  return job;
}

void
cover_job_add_unit (CoverJob *job, GstBuffer *buffer)
{
  g_return_if_fail (job != NULL);
  g_return_if_fail (GST_IS_BUFFER (buffer));

  gst_buffer_list_add (job->units, gst_buffer_ref (buffer));
  job->bytes += gst_buffer_get_size (buffer);
}

void
cover_job_restamp (CoverJob *job)
{
  g_return_if_fail (job != NULL);

  job->queued_at = g_get_monotonic_time ();
  job->capture_time = g_get_real_time ();
}

void
cover_job_free (CoverJob *job)
{
  if (!job)
    return;
  gst_buffer_list_unref (job->units);
  gst_caps_unref (job->caps);
  gst_clear_buffer (&job->headers);
  g_free (job);
}

static void
worker_free (gpointer data)
{
  CoverWorker *w = data;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (w->decoders); i++) {
    cover_decoder_free (w->decoders[i][0]);
    cover_decoder_free (w->decoders[i][1]);
  }
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

/* Decodes the job's keyframe (its parameter sets in front) into a raw
 * frame, with the worker's decoder for the codec. */
static GstSample *
decode_keyframe (CoverWorker *w, CoverJob *job, GError **error)
{
  CoverCodec codec = cover_codec_from_caps (job->caps);
  gboolean random_access;
  CoverDecoder **dec;
  GstBufferList *units;
  GstSample *sample;

  if (codec == COVER_CODEC_NONE || codec >= G_N_ELEMENTS (w->decoders)) {
    g_set_error (error, COVER_DECODER_ERROR, COVER_DECODER_ERROR_NO_DECODER,
        "Covers are not made from %" GST_PTR_FORMAT, job->caps);
    return NULL;
  }
  random_access = job->random_access &&
      cover_decoder_has_random_access_settings (job->caps);
  dec = &w->decoders[codec][random_access ? 1 : 0];
  if (!*dec && !(*dec = cover_decoder_new (job->caps, random_access, error)))
    return NULL;

  units = gst_buffer_list_ref (job->units);
  if (job->headers) {
    /* the parameter sets go in front of the first unit */
    units = gst_buffer_list_make_writable (units);
    gst_buffer_list_remove (units, 0, 1);
    gst_buffer_list_insert (units, 0,
        gst_buffer_append (gst_buffer_ref (job->headers),
            gst_buffer_ref (gst_buffer_list_get (job->units, 0))));
  }
  sample = cover_decoder_decode (*dec, job->caps, units, error);
  gst_buffer_list_unref (units);
  if (!cover_decoder_is_usable (*dec))
    g_clear_pointer (dec, cover_decoder_free);
  return sample;
}

/* Encodes a raw frame as the job asks.  *@jpeg points into the worker's
 * encoder until its next call. */
static gboolean
encode_frame (CoverWorker *w, CoverJob *job, GstCaps *caps, GstBuffer *buffer,
    const guint8 **jpeg, gsize *size, CoverResult *res, GError **error)
{
  GstVideoInfo info;
  GstVideoFrame frame;
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
      job->max_height, jpeg, size, &res->width, &res->height, error);
  gst_video_frame_unmap (&frame);
  return ok;
}

/* Makes @jpeg the stream's cover in the store, and keeps it for a
 * thumbnail at the end of the stream. */
static gboolean
publish_cover (CoverStream *stream, CoverJob *job, const guint8 *jpeg,
    gsize size, CoverResult *res, GError **error)
{
  if (!cover_store_writer_publish (stream->writer, jpeg, size, res->width,
          res->height, job->capture_time, &res->generation, error))
    return FALSE;
  if (stream->thumbnail_dir) {
    g_clear_pointer (&stream->last_jpeg, g_bytes_unref);
    stream->last_jpeg = g_bytes_new (jpeg, size);
    stream->last_capture_time = job->capture_time;
  }
  res->size = size;
  res->capture_time = job->capture_time;
  res->latency = g_get_monotonic_time () - job->queued_at;
  return TRUE;
}

/* An MJPEG frame is its own cover when it needs no resizing and is a
 * JPEG every viewer shows (baseline, 8-bit, YCbCr or grey); otherwise it is
 * decoded and encoded again. */
static gboolean
process_jpeg (CoverWorker *w, CoverStream *stream, CoverJob *job,
    CoverResult *res, GError **error)
{
  const GstStructure *s = gst_caps_get_structure (job->caps, 0);
  GstBuffer *buf = gst_buffer_list_get (job->units, 0);
  gint par_n = 1, par_d = 1;
  guint width, height, fit_w, fit_h;
  GBytes *bytes = NULL;
  GstMapInfo map;
  gboolean ok = FALSE;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    g_set_error (error, COVER_JPEG_ERROR, COVER_JPEG_ERROR_DECODE,
        "Could not map a %" G_GSIZE_FORMAT "-byte JPEG frame",
        gst_buffer_get_size (buf));
    return FALSE;
  }
  gst_structure_get_fraction (s, "pixel-aspect-ratio", &par_n, &par_d);
  if (cover_jpeg_is_baseline (map.data, map.size, &width, &height)) {
    cover_fit_size (width, height, par_n, par_d, job->max_width,
        job->max_height, &fit_w, &fit_h);
    if (fit_w == width && fit_h == height) {
      res->width = width;
      res->height = height;
      ok = publish_cover (stream, job, map.data, map.size, res, error);
      gst_buffer_unmap (buf, &map);
      return ok;
    }
  }
  {
    guint8 *rgb =
        cover_jpeg_decode_rgb (map.data, map.size, &width, &height, error);

    if (rgb) {
      bytes = cover_image_resize (w->encoder, rgb, width, height, job->quality,
          job->max_width, job->max_height, &res->width, &res->height, error);
      g_free (rgb);
    }
  }
  gst_buffer_unmap (buf, &map);
  if (bytes) {
    gsize size;
    const guint8 *jpeg = g_bytes_get_data (bytes, &size);

    ok = publish_cover (stream, job, jpeg, size, res, error);
    g_bytes_unref (bytes);
  }
  return ok;
}

/* keyframe → raw frame → JPEG → the store */
static gboolean
process_job (CoverWorker *w, CoverStream *stream, CoverJob *job,
    CoverResult *res, GError **error)
{
  CoverCodec codec = cover_codec_from_caps (job->caps);
  GstSample *sample = NULL;
  GstCaps *caps = job->caps;
  GstBuffer *frame = gst_buffer_list_get (job->units, 0);
  const guint8 *jpeg;
  gsize size;
  gboolean ok;

  if (!w->encoder) {
    g_set_error (error, COVER_JPEG_ERROR, COVER_JPEG_ERROR_ENCODE,
        "Could not create a TurboJPEG compressor");
    return FALSE;
  }
  if (codec == COVER_CODEC_JPEG)
    return process_jpeg (w, stream, job, res, error);
  if (codec != COVER_CODEC_RAW) {
    sample = decode_keyframe (w, job, error);
    if (!sample)
      return FALSE;
    caps = gst_sample_get_caps (sample);
    frame = gst_sample_get_buffer (sample);
  }
  ok = encode_frame (w, job, caps, frame, &jpeg, &size, res, error) &&
      publish_cover (stream, job, jpeg, size, res, error);
  if (sample)
    gst_sample_unref (sample);
  return ok;
}

/* The last cover as the newest thumbnail, then the old ones go. */
static gchar *
save_thumbnail (CoverStream *stream, GError **error)
{
  gchar *path = cover_thumbnail_save (stream->thumbnail_dir, stream->last_jpeg,
      stream->last_capture_time, error);

  if (path)
    cover_thumbnail_prune (stream->thumbnail_dir, stream->thumbnail_max_files,
        stream->thumbnail_max_age_s);
  return path;
}

static void
cover_stream_clear (CoverStream *stream)
{
  cover_job_free (stream->pending);
  g_clear_pointer (&stream->last_jpeg, g_bytes_unref);
  g_free (stream->thumbnail_dir);
  cover_store_writer_close (stream->writer, stream->unlink_segment);
  g_weak_ref_clear (&stream->owner);
  g_cond_clear (&stream->idle);
  g_mutex_clear (&stream->lock);
}

static void
cover_stream_unref (CoverStream *stream)
{
  g_atomic_rc_box_release_full (stream, (GDestroyNotify) cover_stream_clear);
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
    GError *err = NULL, *thumb_err = NULL;
    gchar *thumb_path = NULL;
    gboolean ok = FALSE, thumbnail;
    GObject *owner;
    CoverJob *job;

    g_mutex_lock (&stream->lock);
    job = g_steal_pointer (&stream->pending);
    thumbnail = stream->thumbnail_wanted;
    stream->thumbnail_wanted = FALSE;
    if ((!job && !thumbnail) || stream->closed) {
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
    if (job) {
      ok = process_job (w, stream, job, &res, &err);
      /* a keyframe that made no cover leaves no thumbnail either */
      thumbnail = job->thumbnail && ok;
    }
    if (thumbnail && stream->thumbnail_dir && stream->last_jpeg)
      thumb_path = save_thumbnail (stream, &thumb_err);

    owner = g_weak_ref_get (&stream->owner);
    if (owner) {
      if (job && ok && stream->callbacks.published)
        stream->callbacks.published (owner, &res);
      else if (job && !ok && stream->callbacks.failed)
        stream->callbacks.failed (owner, err);
      if ((thumb_path || thumb_err) && stream->callbacks.thumbnail)
        stream->callbacks.thumbnail (owner, thumb_path, thumb_err);
      g_object_unref (owner);
    }
    cover_job_free (job);
    g_clear_error (&err);
    g_clear_error (&thumb_err);
    g_clear_pointer (&thumb_path, g_free);
  }
  cover_stream_unref (stream);
}

static gpointer
pool_init (gpointer data)
{
  const gchar *env;
  GError *err = NULL;
  guint n_workers;

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
    g_error ("cannot create the snapshot workers: %s", err->message);
  GST_INFO ("%u snapshot workers", n_workers);
  return NULL;
}

static void
ensure_pool (void)
{
  static GOnce once = G_ONCE_INIT;

  g_once (&once, pool_init, NULL);
}

CoverStream *
cover_stream_new (GObject *owner, const gchar *store_dir, guint32 client_id,
    guint mode, const CoverStreamCallbacks *callbacks, GError **error)
{
  CoverStoreWriter *writer;
  CoverStream *stream;

  g_return_val_if_fail (G_IS_OBJECT (owner), NULL);
  g_return_val_if_fail (store_dir != NULL, NULL);
  g_return_val_if_fail (callbacks != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  ensure_pool ();
  writer = cover_store_writer_open (store_dir, client_id, mode, error);
  if (!writer)
    return NULL;
  GST_INFO ("covers of client %u go to %s", client_id,
      cover_store_writer_get_path (writer));

  stream = g_atomic_rc_box_new0 (CoverStream);
  g_mutex_init (&stream->lock);
  g_cond_init (&stream->idle);
  g_weak_ref_init (&stream->owner, owner);
  stream->callbacks = *callbacks;
  stream->writer = writer;
  return stream;
}

void
cover_stream_set_thumbnails (
    CoverStream *stream, const gchar *dir, guint max_files, guint max_age_s)
{
  g_return_if_fail (stream != NULL);

  g_free (stream->thumbnail_dir);
  stream->thumbnail_dir = g_strdup (dir);
  stream->thumbnail_max_files = max_files;
  stream->thumbnail_max_age_s = max_age_s;
}

/* Called with the lock held. */
static void
schedule_locked (CoverStream *stream)
{
  if (!stream->scheduled) {
    stream->scheduled = TRUE;
    g_thread_pool_push (pool, g_atomic_rc_box_acquire (stream), NULL);
  }
}

gboolean
cover_stream_submit (CoverStream *stream, CoverJob *job)
{
  gboolean replaced;

  g_return_val_if_fail (stream != NULL, FALSE);
  g_return_val_if_fail (job != NULL, FALSE);

  g_mutex_lock (&stream->lock);
  replaced = stream->pending != NULL;
  /* a thumbnail asked for and not yet saved is this keyframe's */
  if ((stream->pending && stream->pending->thumbnail) ||
      stream->thumbnail_wanted)
    job->thumbnail = TRUE;
  stream->thumbnail_wanted = FALSE;
  cover_job_free (stream->pending);
  stream->pending = job;
  schedule_locked (stream);
  g_mutex_unlock (&stream->lock);
  return replaced;
}

void
cover_stream_save_thumbnail (CoverStream *stream)
{
  g_return_if_fail (stream != NULL);

  if (!stream->thumbnail_dir)
    return;
  g_mutex_lock (&stream->lock);
  /* the keyframe waiting will be the last cover, so it is the thumbnail */
  if (stream->pending)
    stream->pending->thumbnail = TRUE;
  else
    stream->thumbnail_wanted = TRUE;
  schedule_locked (stream);
  g_mutex_unlock (&stream->lock);
}

void
cover_stream_heartbeat (CoverStream *stream)
{
  gint64 now;

  g_return_if_fail (stream != NULL);

  now = g_get_monotonic_time ();
  if (now >= stream->last_heartbeat &&
      now - stream->last_heartbeat < HEARTBEAT_INTERVAL_US)
    return;
  stream->last_heartbeat = now;
  cover_store_writer_heartbeat (stream->writer);
}

void
cover_stream_set_ended (CoverStream *stream, gboolean ended)
{
  g_return_if_fail (stream != NULL);

  cover_store_writer_set_ended (stream->writer, ended);
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

  g_return_val_if_fail (stream != NULL, FALSE);

  g_mutex_lock (&stream->lock);
  ret = wait_idle_locked (stream, timeout_us);
  g_mutex_unlock (&stream->lock);
  return ret;
}

void
cover_stream_close (CoverStream *stream, gboolean unlink_segment)
{
  g_return_if_fail (stream != NULL);

  cover_store_writer_set_ended (stream->writer, TRUE);
  g_mutex_lock (&stream->lock);
  stream->closed = TRUE;
  stream->unlink_segment = unlink_segment;
  g_clear_pointer (&stream->pending, cover_job_free);
  stream->thumbnail_wanted = FALSE;
  /* the keyframe in hand is worth finishing: it takes milliseconds, and
   * the caller may be about to tear down the elements a worker uses */
  wait_idle_locked (stream, CLOSE_TIMEOUT_US);
  g_mutex_unlock (&stream->lock);
  g_weak_ref_set (&stream->owner, NULL);
  cover_stream_unref (stream);
}
