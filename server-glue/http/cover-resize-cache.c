/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Resized covers: decoded, scaled and encoded by the core's
 * cover_image_resize() in a worker, then kept in a small LRU so that a
 * page of thumbnails asked again costs a lookup. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-resize-cache.h"

#include <string.h>

#include "cover-work.h"
#include "cover-service-private.h"
#include "cover-source-private.h"
#include "coverjpeg.h"

#define RESIZE_QUALITY 85
#define MAX_RESIZE_SOURCE_PIXELS (64 * 1024 * 1024)

struct _CoverResizeCache
{
  guint max_entries;
  GMutex lock;
  GHashTable *pictures; /* "etag WxH" → CoverPicture */
  GQueue order;         /* the keys, oldest first */
  gint pending;         /* resize jobs queued or running */
};

typedef struct
{
  CoverWork job;
  CoverResizeCache *cache;
  CoverPicture *picture;
  guint width;
  guint height;
  gchar *key;
  CoverPicture *result;
  GError *error;
} ResizeJob;

/* a TurboJPEG handle and scratch frames per worker thread */
static GPrivate worker_encoder =
    G_PRIVATE_INIT ((GDestroyNotify) cover_encoder_free);

CoverResizeCache *
cover_resize_cache_new (guint max_entries)
{
  CoverResizeCache *cache = g_new0 (CoverResizeCache, 1);

  cache->max_entries = max_entries;
  g_mutex_init (&cache->lock);
  cache->pictures = g_hash_table_new_full (
      g_str_hash, g_str_equal, g_free, (GDestroyNotify) cover_picture_unref);
  g_queue_init (&cache->order);
  return cache;
}

static CoverPicture *
cache_lookup (CoverResizeCache *cache, const gchar *key)
{
  CoverPicture *pic;

  g_mutex_lock (&cache->lock);
  pic = g_hash_table_lookup (cache->pictures, key);
  if (pic)
    cover_picture_ref (pic);
  g_mutex_unlock (&cache->lock);
  return pic;
}

static void
cache_insert (CoverResizeCache *cache, const gchar *key, CoverPicture *pic)
{
  if (cache->max_entries == 0)
    return;
  g_mutex_lock (&cache->lock);
  if (!g_hash_table_contains (cache->pictures, key)) {
    gchar *k = g_strdup (key);

    g_hash_table_insert (cache->pictures, k, cover_picture_ref (pic));
    g_queue_push_tail (&cache->order, k);
    while (g_queue_get_length (&cache->order) > cache->max_entries)
      g_hash_table_remove (cache->pictures, g_queue_pop_head (&cache->order));
  }
  g_mutex_unlock (&cache->lock);
}

static void
resize_run (CoverWork *job)
{
  ResizeJob *r = (ResizeJob *) job;
  CoverEncoder *enc = g_private_get (&worker_encoder);
  g_autofree guint8 *rgb = NULL;
  g_autoptr (GBytes) jpeg = NULL;
  g_autofree gchar *etag = NULL;
  guint w, h, ow, oh;

  if (!enc) {
    enc = cover_encoder_new ();
    g_private_set (&worker_encoder, enc);
  }
  rgb = cover_image_decode_rgb (g_bytes_get_data (r->picture->data, NULL),
      g_bytes_get_size (r->picture->data), &w, &h, &r->error);
  if (!rgb)
    return;
  jpeg = cover_image_resize (
      enc, rgb, w, h, RESIZE_QUALITY, r->width, r->height, &ow, &oh, &r->error);
  if (!jpeg)
    return;
  /* the original's ETag with the size: changes exactly when it does */
  etag = g_strdup_printf ("\"%.*s-%ux%u\"", (int) strlen (r->picture->etag) - 2,
      r->picture->etag + 1, ow, oh);
  r->result = cover_picture_new (
      jpeg, etag, r->picture->last_modified, r->picture->kind);
  cache_insert (r->cache, r->key, r->result);
}

static void
resize_done (CoverWork *job)
{
  ResizeJob *r = (ResizeJob *) job;

  if (!r->result) {
    /* e.g. an upload that sniffs as a JPEG but does not decode: the
     * original is still a cover */
    g_warning ("could not resize a cover, answering the original: %s",
        r->error ? r->error->message : "unknown error");
    cover_request_respond_picture (&job->req, r->picture);
    return;
  }
  cover_request_respond_picture (&job->req, r->result);
}

static void
resize_clear (CoverWork *job)
{
  ResizeJob *r = (ResizeJob *) job;

  g_clear_pointer (&r->picture, cover_picture_unref);
  g_clear_pointer (&r->result, cover_picture_unref);
  g_clear_error (&r->error);
  g_free (r->key);
  g_atomic_int_add (&r->cache->pending, -1);
}

/* Whether @pic is bigger than @width x @height and small enough to decode
 * safely. */
static gboolean
needs_resize (CoverPicture *pic, guint width, guint height)
{
  guint pw, ph, fw, fh;

  if (!cover_image_sniff (g_bytes_get_data (pic->data, NULL),
          g_bytes_get_size (pic->data), &pw, &ph, NULL) ||
      (guint64) pw * ph > MAX_RESIZE_SOURCE_PIXELS)
    return FALSE;
  cover_fit_size (pw, ph, 1, 1, width, height, &fw, &fh);
  return fw < pw || fh < ph;
}

void
cover_resize_cache_respond (CoverResizeCache *cache, CoverRequest *req,
    CoverPicture *pic, guint width, guint height)
{
  g_autofree gchar *key = NULL;
  g_autoptr (CoverPicture) cached = NULL;
  ResizeJob *r;

  g_return_if_fail (cache != NULL);
  g_return_if_fail (req != NULL);
  g_return_if_fail (pic != NULL);

  if (needs_resize (pic, width, height)) {
    key = g_strdup_printf ("%s %ux%u", pic->etag, width, height);
    cached = cache_lookup (cache, key);
    if (!cached) {
      /* the work each costs is bounded by max-resize; their number here */
      if ((guint) g_atomic_int_add (&cache->pending, 1) >=
          req->service->config->resize_queue) {
        g_atomic_int_add (&cache->pending, -1);
        soup_message_headers_replace (
            soup_server_message_get_response_headers (req->msg), "Retry-After",
            "1");
        cover_request_respond_error (req, SOUP_STATUS_SERVICE_UNAVAILABLE,
            "busy", "Too many covers are being resized; try again shortly.");
        return;
      }
      /* decode, scale and encode off the main loop */
      r = cover_work_new (
          sizeof (ResizeJob), req, resize_run, resize_done, resize_clear);
      r->cache = cache;
      r->picture = cover_picture_ref (pic);
      r->width = width;
      r->height = height;
      r->key = g_steal_pointer (&key);
      cover_work_start (r, req->service->workers);
      return;
    }
    pic = cached;
  }
  cover_request_respond_picture (req, pic);
}

void
cover_resize_cache_free (CoverResizeCache *cache)
{
  g_return_if_fail (cache != NULL);

  /* the table owns the keys the queue points at */
  g_queue_clear (&cache->order);
  g_hash_table_unref (cache->pictures);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}
