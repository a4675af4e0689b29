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

#include "cover-pushers.h"

struct _CoverLiveness
{
  gint64 last_data; /* monotonic µs; atomic */
};

/* One push being ingested. */
typedef struct
{
  guint32 cid;
  GstRTSPMedia *media; /* not owned: weak ref */
  gint64 started;      /* monotonic µs */
  CoverCodec codec;
  gchar *peer;
  CoverLiveness *liveness; /* a reference, or NULL */
  GWeakRef client;         /* the pusher's GstRTSPClient */
  GWeakRef media_ref;      /* media, safe to take from the check */
  gchar *stop_reason;      /* set when the ingest ended the push itself */
  gint64 ending_since;     /* monotonic µs the end began, or 0 */
  gboolean recording;      /* RECORD answered: the pipeline is PLAYING */
} CoverPusher;

/* a push being ended gets this long for its EOS (the last segment, the
 * last cover) before its client id is freed regardless */
#define ENDING_GRACE_US (3 * G_USEC_PER_SEC)

struct _CoverPushers
{
  GMutex lock;
  GHashTable *by_cid; /* cid → CoverPusher */
  /* set before the first push */
  CoverPushersEndedFunc ended;
  gpointer ended_data;
};

static void
liveness_touch (CoverLiveness *liveness)
{
  __atomic_store_n (
      &liveness->last_data, g_get_monotonic_time (), __ATOMIC_RELAXED);
}

CoverLiveness *
cover_liveness_new (void)
{
  CoverLiveness *liveness = g_atomic_rc_box_new0 (CoverLiveness);

  liveness_touch (liveness);
  return liveness;
}

CoverLiveness *
cover_liveness_ref (CoverLiveness *liveness)
{
  g_return_val_if_fail (liveness != NULL, NULL);

  return g_atomic_rc_box_acquire (liveness);
}

void
cover_liveness_unref (gpointer liveness)
{
  if (liveness)
    g_atomic_rc_box_release (liveness);
}

static GstPadProbeReturn
data_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  liveness_touch (data);
  return GST_PAD_PROBE_OK;
}

void
cover_liveness_watch_pad (CoverLiveness *liveness, GstPad *pad)
{
  g_return_if_fail (liveness != NULL && GST_IS_PAD (pad));

  gst_pad_add_probe (pad,
      GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, data_probe,
      cover_liveness_ref (liveness), cover_liveness_unref);
}

static void
pusher_free (CoverPusher *p)
{
  g_weak_ref_clear (&p->client);
  g_weak_ref_clear (&p->media_ref);
  g_clear_pointer (&p->liveness, cover_liveness_unref);
  g_clear_pointer (&p->peer, g_free);
  g_clear_pointer (&p->stop_reason, g_free);
  g_free (p);
}

CoverPushers *
cover_pushers_new (void)
{
  CoverPushers *pushers = g_new0 (CoverPushers, 1);

  g_mutex_init (&pushers->lock);
  pushers->by_cid = g_hash_table_new_full (
      g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) pusher_free);
  return pushers;
}

void
cover_pushers_set_ended_func (
    CoverPushers *pushers, CoverPushersEndedFunc func, gpointer user_data)
{
  g_return_if_fail (pushers != NULL);

  pushers->ended = func;
  pushers->ended_data = user_data;
}

/* Removes @media's pusher (if it is still the registered one); logs the
 * end. */
static void
forget_media (CoverPushers *pushers, GstRTSPMedia *media, const gchar *why)
{
  GHashTableIter iter;
  CoverPusher *p;
  gboolean ended = FALSE;
  guint32 cid = 0;

  g_mutex_lock (&pushers->lock);
  g_hash_table_iter_init (&iter, pushers->by_cid);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &p)) {
    if (p->media != media)
      continue;
    g_message ("stream %u: stopped (%s) after %.1f s", p->cid,
        p->stop_reason ? p->stop_reason : why,
        (g_get_monotonic_time () - p->started) / (gdouble) G_USEC_PER_SEC);
    cid = p->cid;
    ended = TRUE;
    g_hash_table_iter_remove (&iter);
    break;
  }
  g_mutex_unlock (&pushers->lock);
  if (ended && pushers->ended)
    pushers->ended (cid, pushers->ended_data);
}

static void media_finalized (gpointer data, GObject *where_the_media_was);
static void media_unprepared (GstRTSPMedia *media, gpointer data);

/* removes @p, which the registry ends itself: its media's signals are no
 * longer watched (call with the lock) */
/* Stops watching @p's media.  Through the weak ref: a media that another
 * thread is finalizing gives NULL here, and its weak notify forgets the
 * entry itself (it waits for the lock we hold). */
static void
detach_media_locked (CoverPushers *pushers, CoverPusher *p)
{
  g_autoptr (GstRTSPMedia) media = g_weak_ref_get (&p->media_ref);

  if (media) {
    g_signal_handlers_disconnect_by_data (media, pushers);
    g_object_weak_unref (G_OBJECT (media), media_finalized, pushers);
  }
}

static void
remove_locked (CoverPushers *pushers, CoverPusher *p)
{
  detach_media_locked (pushers, p);
  g_hash_table_remove (pushers->by_cid, GUINT_TO_POINTER (p->cid));
}

static void
media_finalized (gpointer data, GObject *where_the_media_was)
{
  forget_media (data, (GstRTSPMedia *) where_the_media_was, "released");
}

static void
media_unprepared (GstRTSPMedia *media, gpointer data)
{
  forget_media (data, media, "pusher gone");
  /* nothing to watch any more */
  g_signal_handlers_disconnect_by_data (media, data);
  g_object_weak_unref (G_OBJECT (media), media_finalized, data);
}

/* The socket is shut down rather than the client closed: the client's
 * watch then sees the end of its connection and closes it the way it does
 * for a pusher that went (gst_rtsp_client_close() under a watch with data
 * pending makes it read a closed stream). */
static gboolean
close_now (gpointer client)
{
  GstRTSPConnection *conn = gst_rtsp_client_get_connection (client);
  GSocket *sock = conn ? gst_rtsp_connection_get_read_socket (conn) : NULL;

  if (sock)
    g_socket_shutdown (sock, TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

void
cover_pushers_close_client_later (GstRTSPClient *client)
{
  g_return_if_fail (GST_IS_RTSP_CLIENT (client));

  /* never from inside another client's (or its own) request handling: its
   * connection would be closed under a watch about to read it */
  g_main_context_invoke_full (g_main_context_get_thread_default (),
      G_PRIORITY_DEFAULT_IDLE, close_now, g_object_ref (client),
      g_object_unref);
}

/* Ends a push whose entry is gone: a media that never played gets no EOS
 * (none could flow: unprepare would wait for ever) and is torn down now;
 * one that played gets EOS first (its last segment, its last cover). */
static void
end_push (GstRTSPMedia *media, GstRTSPClient *client, gboolean recording)
{
  if (media) {
    if (!recording)
      gst_rtsp_media_set_eos_shutdown (media, FALSE);
    gst_rtsp_media_unprepare (media);
  }
  if (client)
    cover_pushers_close_client_later (client);
}

/* Whether @p may be replaced by a new push of its client id: it never
 * reached RECORD, its connection is gone, or it sent nothing for
 * @stale_us. */
static gboolean
pusher_is_stale (CoverPusher *p, gint64 now, gint64 stale_us)
{
  g_autoptr (GObject) client = g_weak_ref_get (&p->client);
  gint64 idle = p->liveness
      ? now - __atomic_load_n (&p->liveness->last_data, __ATOMIC_RELAXED)
      : 0;

  return !p->recording || !client || p->stop_reason || idle >= stale_us;
}

GstRTSPStatusCode
cover_pushers_add (CoverPushers *pushers, GstRTSPClient *client,
    GstRTSPMedia *media, guint32 client_id, CoverCodec codec,
    CoverLiveness *liveness, gint64 stale_us)
{
  g_autoptr (GstRTSPMedia) old_media = NULL;
  g_autoptr (GstRTSPClient) old_client = NULL;
  gboolean old_recording = FALSE;
  const gchar *peer;
  CoverPusher *p;

  g_return_val_if_fail (pushers != NULL, GST_RTSP_STS_INTERNAL_SERVER_ERROR);
  g_return_val_if_fail (
      GST_IS_RTSP_CLIENT (client), GST_RTSP_STS_INTERNAL_SERVER_ERROR);
  g_return_val_if_fail (
      GST_IS_RTSP_MEDIA (media), GST_RTSP_STS_INTERNAL_SERVER_ERROR);

  peer = gst_rtsp_connection_get_ip (gst_rtsp_client_get_connection (client));
  g_mutex_lock (&pushers->lock);
  p = g_hash_table_lookup (pushers->by_cid, GUINT_TO_POINTER (client_id));
  if (p && pusher_is_stale (p, g_get_monotonic_time (), stale_us)) {
    /* the device pushes again: its previous push is dead or silent */
    g_message ("stream %u: stopped (taken over by a new push from %s) after "
               "%.1f s",
        client_id, peer ? peer : "?",
        (g_get_monotonic_time () - p->started) / (gdouble) G_USEC_PER_SEC);
    old_media = g_weak_ref_get (&p->media_ref);
    old_client = g_weak_ref_get (&p->client);
    old_recording = p->recording;
    remove_locked (pushers, p);
    p = NULL;
  }
  if (p) {
    g_message ("stream %u: push from %s refused: %s is pushing it", client_id,
        peer ? peer : "?", p->peer ? p->peer : "?");
    g_mutex_unlock (&pushers->lock);
    return GST_RTSP_STS_NOT_ENOUGH_BANDWIDTH;
  }
  p = g_new0 (CoverPusher, 1);
  p->cid = client_id;
  p->media = media;
  p->started = g_get_monotonic_time ();
  p->codec = codec;
  p->peer = g_strdup (peer);
  if (liveness) {
    p->liveness = cover_liveness_ref (liveness);
    /* counted from the ANNOUNCE */
    liveness_touch (liveness);
  }
  g_weak_ref_init (&p->client, client);
  g_weak_ref_init (&p->media_ref, media);
  g_hash_table_insert (pushers->by_cid, GUINT_TO_POINTER (client_id), p);
  g_object_weak_ref (G_OBJECT (media), media_finalized, pushers);
  g_signal_connect (
      media, "unprepared", G_CALLBACK (media_unprepared), pushers);
  g_message ("stream %u: started (%s) from %s", client_id,
      cover_codec_to_string (codec), peer ? peer : "?");
  g_mutex_unlock (&pushers->lock);
  /* before the new media is prepared: the old covertap is gone before the
   * new one opens the device's cover */
  if (old_media || old_client)
    end_push (old_media, old_client, old_recording);
  return GST_RTSP_STS_OK;
}

gboolean
cover_pushers_is_streaming (
    CoverPushers *pushers, guint32 client_id, gint64 stale_us)
{
  gboolean streaming;
  CoverPusher *p;

  g_return_val_if_fail (pushers != NULL, FALSE);

  g_mutex_lock (&pushers->lock);
  p = g_hash_table_lookup (pushers->by_cid, GUINT_TO_POINTER (client_id));
  /* what a new push of it would not take over */
  streaming = p && !pusher_is_stale (p, g_get_monotonic_time (), stale_us);
  g_mutex_unlock (&pushers->lock);
  return streaming;
}

static CoverPusher *
find_locked (CoverPushers *pushers, gpointer object, gboolean by_client)
{
  GHashTableIter iter;
  CoverPusher *p;

  g_hash_table_iter_init (&iter, pushers->by_cid);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &p)) {
    g_autoptr (GObject) client = by_client ? g_weak_ref_get (&p->client) : NULL;

    if (by_client ? client == object : p->media == object)
      return p;
  }
  return NULL;
}

void
cover_pushers_set_recording (CoverPushers *pushers, GstRTSPMedia *media)
{
  CoverPusher *p;

  g_return_if_fail (pushers != NULL);
  g_return_if_fail (GST_IS_RTSP_MEDIA (media));

  /* a push that plays gets EOS first when it ends: the last thumbnail, the
   * segment ended by covertap */
  gst_rtsp_media_set_eos_shutdown (media, TRUE);
  g_mutex_lock (&pushers->lock);
  p = find_locked (pushers, media, FALSE);
  if (p)
    p->recording = TRUE;
  g_mutex_unlock (&pushers->lock);
}

void
cover_pushers_client_closed (CoverPushers *pushers, GstRTSPClient *client)
{
  g_autoptr (GPtrArray) mine = g_ptr_array_new ();
  g_autoptr (GPtrArray) to_end =
      g_ptr_array_new_with_free_func (gst_object_unref);
  g_autoptr (GArray) recording = g_array_new (FALSE, FALSE, sizeof (gboolean));
  g_autoptr (GArray) gone = g_array_new (FALSE, FALSE, sizeof (guint32));
  GHashTableIter iter;
  CoverPusher *p;
  guint i;

  g_return_if_fail (pushers != NULL);
  g_return_if_fail (GST_IS_RTSP_CLIENT (client));

  g_mutex_lock (&pushers->lock);
  /* every push of this connection: one connection may ANNOUNCE several */
  g_hash_table_iter_init (&iter, pushers->by_cid);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &p)) {
    g_autoptr (GObject) c = g_weak_ref_get (&p->client);

    if (c == (GObject *) client)
      g_ptr_array_add (mine, p);
  }
  for (i = 0; i < mine->len; i++) {
    GstRTSPMedia *media;

    p = g_ptr_array_index (mine, i);
    media = g_weak_ref_get (&p->media_ref);
    if (media) {
      g_ptr_array_add (to_end, media);
      g_array_append_val (recording, p->recording);
    }
    if (!p->ending_since)
      p->ending_since = g_get_monotonic_time ();
    if (!p->recording) {
      /* nothing to finish: the client id is free at once */
      g_message ("stream %u: stopped (gone before RECORD) after %.1f s", p->cid,
          (g_get_monotonic_time () - p->started) / (gdouble) G_USEC_PER_SEC);
      g_array_append_val (gone, p->cid);
      remove_locked (pushers, p);
    }
  }
  g_mutex_unlock (&pushers->lock);
  /* ended like any other push: a cluster claim taken at ANNOUNCE goes */
  for (i = 0; pushers->ended && i < gone->len; i++)
    pushers->ended (g_array_index (gone, guint32, i), pushers->ended_data);
  /* a played media: EOS, then "unprepared" forgets it (or the grace) */
  for (i = 0; i < to_end->len; i++)
    end_push (g_ptr_array_index (to_end, i), NULL,
        g_array_index (recording, gboolean, i));
}

guint
cover_pushers_get_n (CoverPushers *pushers)
{
  guint n;

  g_return_val_if_fail (pushers != NULL, 0);

  g_mutex_lock (&pushers->lock);
  n = g_hash_table_size (pushers->by_cid);
  g_mutex_unlock (&pushers->lock);
  return n;
}

/* The pusher gone silent: its client to close, or, without a client, its
 * media to unprepare (transfer full, or NULL for neither). */
static GObject *
silent_pusher_end (CoverPusher *p, gint64 now, gint64 timeout_us)
{
  gint64 idle;
  GObject *client;

  if (p->ending_since || !p->liveness)
    return NULL;
  idle = now - __atomic_load_n (&p->liveness->last_data, __ATOMIC_RELAXED);
  if (idle < timeout_us)
    return NULL;
  p->stop_reason = g_strdup_printf (
      "no data for %g s", timeout_us / (gdouble) G_USEC_PER_SEC);
  p->ending_since = now;
  g_message ("stream %u: no data for %.1f s: ending it", p->cid,
      idle / (gdouble) G_USEC_PER_SEC);
  client = g_weak_ref_get (&p->client);
  return client ? client : g_weak_ref_get (&p->media_ref);
}

void
cover_pushers_check_liveness (CoverPushers *pushers, gint64 timeout_us)
{
  g_autoptr (GPtrArray) ends = NULL;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  CoverPusher *p;
  guint i;

  g_return_if_fail (pushers != NULL);

  if (timeout_us <= 0)
    return;
  ends = g_ptr_array_new_with_free_func (g_object_unref);
  g_mutex_lock (&pushers->lock);
  g_hash_table_iter_init (&iter, pushers->by_cid);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &p)) {
    GObject *end;

    if (p->ending_since && now - p->ending_since > ENDING_GRACE_US) {
      /* its EOS never came (a pipeline in error, a media never played):
       * the client id is freed all the same */
      g_message ("stream %u: stopped (%s, no EOS within %g s) after %.1f s",
          p->cid, p->stop_reason ? p->stop_reason : "pusher gone",
          ENDING_GRACE_US / (gdouble) G_USEC_PER_SEC,
          (now - p->started) / (gdouble) G_USEC_PER_SEC);
      detach_media_locked (pushers, p);
      g_hash_table_iter_remove (&iter);
      continue;
    }
    end = silent_pusher_end (p, now, timeout_us);
    if (end)
      g_ptr_array_add (ends, end);
  }
  g_mutex_unlock (&pushers->lock);

  /* outside the lock: both end in forget_media() */
  for (i = 0; i < ends->len; i++) {
    gpointer end = g_ptr_array_index (ends, i);

    if (GST_IS_RTSP_CLIENT (end))
      cover_pushers_close_client_later (end);
    else
      end_push (end, NULL, FALSE);
  }
}

void
cover_pushers_unprepare_all (CoverPushers *pushers)
{
  g_autoptr (GPtrArray) medias = NULL;
  GHashTableIter iter;
  CoverPusher *p;
  guint i;

  g_return_if_fail (pushers != NULL);

  medias = g_ptr_array_new_with_free_func (g_object_unref);
  g_mutex_lock (&pushers->lock);
  g_hash_table_iter_init (&iter, pushers->by_cid);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &p)) {
    GstRTSPMedia *media = g_weak_ref_get (&p->media_ref);

    if (!media)
      continue;
    if (!p->recording)
      gst_rtsp_media_set_eos_shutdown (media, FALSE);
    g_ptr_array_add (medias, media);
  }
  g_mutex_unlock (&pushers->lock);
  for (i = 0; i < medias->len; i++)
    gst_rtsp_media_unprepare (g_ptr_array_index (medias, i));
}

void
cover_pushers_free (CoverPushers *pushers)
{
  GHashTableIter iter;
  CoverPusher *p;

  if (!pushers)
    return;
  g_mutex_lock (&pushers->lock);
  g_hash_table_iter_init (&iter, pushers->by_cid);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &p))
    detach_media_locked (pushers, p);
  g_hash_table_remove_all (pushers->by_cid);
  g_mutex_unlock (&pushers->lock);
  g_hash_table_unref (pushers->by_cid);
  g_mutex_clear (&pushers->lock);
  g_free (pushers);
}
