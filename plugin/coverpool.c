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
#include <errno.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

  job->buffer = buffer ? gst_buffer_ref (buffer) : NULL;
  job->caps = caps ? gst_caps_ref (caps) : NULL;
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
  gst_clear_buffer (&job->buffer);
  gst_clear_caps (&job->caps);
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
encode_frame (CoverWorker *w, CoverStream *stream, CoverJob *job, GstCaps *caps,
    GstBuffer *buffer, CoverResult *res, GError **error)
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

  if (!cover_store_writer_publish (stream->writer, jpeg, size, res->width,
          res->height, job->capture_time, &res->generation, error))
    return FALSE;
  if (stream->thumbnail_dir) {
    /* kept for the thumbnail at the end of the stream */
    g_clear_pointer (&stream->last_jpeg, g_bytes_unref);
    stream->last_jpeg = g_bytes_new (jpeg, size);
    stream->last_capture_time = job->capture_time;
  }
  res->size = size;
  res->capture_time = job->capture_time;
  res->latency = g_get_monotonic_time () - job->queued_at;
  return TRUE;
}

static gboolean
process_job (CoverWorker *w, CoverStream *stream, CoverJob *job,
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
    return encode_frame (w, stream, job, job->caps, job->buffer, res, error);

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
  ok = encode_frame (w, stream, job, gst_sample_get_caps (sample),
      gst_sample_get_buffer (sample), res, error);
  gst_sample_unref (sample);
  return ok;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar **) a, *(const gchar **) b);
}

/* Keeps the newest @max_files thumbnails, none older than @max_age_s.
 * Names sort by capture time; ages come from the files' mtimes. */
static void
prune_thumbnails (CoverStream *stream)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) dir = g_dir_open (stream->thumbnail_dir, 0, NULL);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const gchar *name;
  guint i, keep;

  if (!dir)
    return;
  while ((name = g_dir_read_name (dir))) {
    if (name[0] != '.' && g_str_has_suffix (name, ".jpg"))
      g_ptr_array_add (names, g_strdup (name));
  }
  g_ptr_array_sort (names, compare_names);
  keep = stream->thumbnail_max_files ? stream->thumbnail_max_files : names->len;
  for (i = 0; i < names->len; i++) {
    g_autofree gchar *path = g_build_filename (
        stream->thumbnail_dir, (gchar *) g_ptr_array_index (names, i), NULL);
    gboolean old = FALSE;
    struct stat st;

    if (stream->thumbnail_max_age_s && stat (path, &st) == 0)
      old = now - st.st_mtime > (gint64) stream->thumbnail_max_age_s;
    if (i + keep < names->len || old) {
      GST_LOG ("pruning thumbnail %s", path);
      g_unlink (path);
    }
  }
}

/* Writes the last cover as <dir>/<capture time, UTC>.jpg: a temp file then
 * a rename, so that a reader sees the whole JPEG or nothing. */
static gchar *
save_thumbnail (CoverStream *stream, GError **error)
{
  g_autoptr (GDateTime) t = NULL;
  g_autofree gchar *stamp = NULL;
  g_autofree gchar *tmp = NULL;
  gchar *path;
  gint64 us = stream->last_capture_time;

  if (g_mkdir_with_parents (stream->thumbnail_dir, 0750) < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "Could not create %s: %s", stream->thumbnail_dir, g_strerror (errno));
    return NULL;
  }
  t = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  stamp = g_date_time_format (t, "%Y%m%dT%H%M%S");
  path = g_strdup_printf ("%s/%s.%03dZ.jpg", stream->thumbnail_dir, stamp,
      (int) (us % G_USEC_PER_SEC / 1000));
  tmp = g_strdup_printf ("%s/.%s.tmp", stream->thumbnail_dir, stamp);
  if (!g_file_set_contents_full (tmp,
          g_bytes_get_data (stream->last_jpeg, NULL),
          g_bytes_get_size (stream->last_jpeg), G_FILE_SET_CONTENTS_NONE, 0640,
          error) ||
      g_rename (tmp, path) < 0) {
    if (error && !*error)
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
          "Could not rename %s into place: %s", tmp, g_strerror (errno));
    g_unlink (tmp);
    g_free (path);
    return NULL;
  }
  prune_thumbnails (stream);
  return path;
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
  g_clear_pointer (&stream->last_jpeg, g_bytes_unref);
  g_free (stream->thumbnail_dir);
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
    GError *err = NULL, *thumb_err = NULL;
    gchar *thumb_path = NULL;
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
    /* a job without a keyframe only asks for the last cover as thumbnail */
    ok = job->buffer ? process_job (w, stream, job, &res, &err) : FALSE;
    if (job->thumbnail && stream->thumbnail_dir && stream->last_jpeg &&
        (ok || !job->buffer))
      thumb_path = save_thumbnail (stream, &thumb_err);

    owner = g_weak_ref_get (&stream->owner);
    if (owner) {
      if (job->buffer && ok && stream->callbacks.published)
        stream->callbacks.published (owner, &res);
      else if (job->buffer && !ok && stream->callbacks.failed)
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

void
cover_stream_set_thumbnails (
    CoverStream *stream, const gchar *dir, guint max_files, guint max_age_s)
{
  g_free (stream->thumbnail_dir);
  stream->thumbnail_dir = g_strdup (dir);
  stream->thumbnail_max_files = max_files;
  stream->thumbnail_max_age_s = max_age_s;
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
  if (stream->pending && !job->buffer) {
    /* the end of the stream: the keyframe waiting becomes the last cover,
     * and the thumbnail */
    stream->pending->thumbnail = TRUE;
    cover_job_free (job);
    g_mutex_unlock (&stream->lock);
    return FALSE;
  }
  if (stream->pending && stream->pending->thumbnail)
    job->thumbnail = TRUE;
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
