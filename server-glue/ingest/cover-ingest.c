/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The RTSP push ingest: gst-rtsp-server in RECORD mode, tying together
 *  - the settings of [ingest] and [stream.*] (cover-stream-settings.c),
 *  - the authorization of every request with a URL (cover-rtsp-auth.c),
 *    which mounts /live/<client_id> when its first ANNOUNCE is accepted,
 *  - the media factory building a covertap pipeline per push
 *    (cover-push-factory.c),
 *  - the pusher registry (cover-pushers.c): "pre-announce-request" registers
 *    one pusher per client id (453 while another lives), and the periodic
 *    liveness check ends those gone silent;
 *  - the pulls (cover-pull.c): [stream.<id>] pull= cameras, started with the
 *    server, and the RTMP streams the hooks (cover-rtmp-hooks.c) start. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-ingest.h"

#include <string.h>

#include "cover-ingest-private.h"
#include "cover-pull.h"
#include "cover-push-factory.h"
#include "cover-pushers.h"
#include "cover-rtmp-hooks.h"
#include "cover-rtsp-auth.h"
#include "cover-session-pool.h"
#include "cover-stream-settings.h"

/* sessions of pushers gone silent are dropped after this (RTSP timeout) */
#define SESSION_CLEANUP_INTERVAL_S 2
/* how often pushers are checked for data (live-timeout) */
#define LIVENESS_CHECK_INTERVAL_MS 500

G_DEFINE_QUARK (cover-ingest-error-quark, cover_ingest_error);

struct _CoverIngest
{
  const CoverConfig *config;
  /* the cluster's (cover_ingest_set_cluster_funcs()), or NULL */
  CoverIngestClaimFunc claim;
  CoverIngestThumbnailFunc thumbnail;
  gpointer cluster_data;
  CoverIngestSettings *settings;
  guint port;

  GstRTSPServer *server;
  GstRTSPMediaFactory *factory;
  GMutex lock;
  GHashTable *mounted; /* cids with a mount point /live/<cid> (lock) */
  GMainContext *context;
  guint server_source;
  guint cleanup_source;
  guint liveness_source;
  gboolean stopped;

  CoverPushers *pushers;
  CoverIngestLimits limits;
  /* connections that have not reached RECORD: GstRTSPClient → Pending
   * (lock); bounded per address and in all, and in time */
  GHashTable *pending;

  /* cameras pulled (pull=) and RTMP streams played from nginx */
  CoverPulls *pulls;
  CoverRtmpHooks *hooks;
};

typedef struct
{
  GstRTSPClient *client; /* a reference */
  gchar *peer;
  gint64 since; /* monotonic µs */
} Pending;

static void
pending_free (gpointer data)
{
  Pending *pd = data;

  g_object_unref (pd->client);
  g_free (pd->peer);
  g_free (pd);
}

/* a push that sends this long nothing is stale: a new push of its client
 * id takes over (at most live-timeout) */
#define STALE_US (1 * G_USEC_PER_SEC)

/* The mount points match an ANNOUNCE's path exactly: a client id gets its
 * /live/<cid> when it first pushes (kept: a few bytes per device). */
static void
ensure_mount (guint32 cid, gpointer data)
{
  CoverIngest *ingest = data;
  g_autoptr (GstRTSPMountPoints) mounts = NULL;
  g_autofree gchar *path = NULL;

  g_mutex_lock (&ingest->lock);
  if (!g_hash_table_contains (ingest->mounted, GUINT_TO_POINTER (cid))) {
    mounts = gst_rtsp_server_get_mount_points (ingest->server);
    path = g_strdup_printf (COVER_INGEST_MOUNT_PATH "/%u", cid);
    /* the mount points take the reference we give them */
    gst_rtsp_mount_points_add_factory (
        mounts, path, g_object_ref (ingest->factory));
    g_hash_table_add (ingest->mounted, GUINT_TO_POINTER (cid));
  }
  g_mutex_unlock (&ingest->lock);
}

/* covertap's thumbnail messages, posted from its workers: handed on at
 * once (the cluster's registry update does not wait) */
static void
on_sync_message (GstBus *bus, GstMessage *msg, CoverIngest *ingest)
{
  guint32 cid;
  gint64 capture_time;

  if (cover_pulls_parse_thumbnail (msg, &cid, &capture_time))
    ingest->thumbnail (cid, capture_time, ingest->cluster_data);
}

/* the push's pipeline (the media's: its bus watch is the media's own, a
 * sync-message handler is added beside it) */
static void
watch_thumbnails (CoverIngest *ingest, GstElement *element)
{
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstBus) bus = NULL;

  if (!ingest->thumbnail || !element)
    return;
  pipeline = GST_ELEMENT (gst_element_get_parent (element));
  if (!pipeline)
    return;
  bus = gst_element_get_bus (pipeline);
  if (!bus)
    return;
  gst_bus_enable_sync_message_emission (bus);
  g_signal_connect (
      bus, "sync-message::element", G_CALLBACK (on_sync_message), ingest);
}

static GstRTSPStatusCode
pre_announce (GstRTSPClient *client, GstRTSPContext *ctx, CoverIngest *ingest)
{
  g_autoptr (GstElement) element = NULL;
  CoverCodec codec = COVER_CODEC_NONE;
  CoverLiveness *liveness = NULL;
  GstRTSPStatusCode status;
  guint32 cid;

  if (!ctx->uri || !ctx->media ||
      !cover_ingest_cid_from_path (ctx->uri->abspath, FALSE, &cid))
    return GST_RTSP_STS_NOT_FOUND;
  /* one stream per client id, whichever way it comes */
  if (cover_pulls_is_streaming (ingest->pulls, cid, STALE_US)) {
    g_message ("push of " COVER_INGEST_MOUNT_PATH "/%u refused: the client "
               "id is pulled (pull= or RTMP) and streaming",
        cid);
    return GST_RTSP_STS_NOT_ENOUGH_BANDWIDTH;
  }
  element = gst_rtsp_media_get_element (ctx->media);
  if (element) {
    codec = cover_push_factory_get_codec (element);
    liveness = cover_push_factory_get_liveness (element);
  }
  /* one pusher per device in the whole cluster */
  if (ingest->claim && !ingest->claim (cid, ingest->cluster_data))
    return GST_RTSP_STS_NOT_ENOUGH_BANDWIDTH;
  status = cover_pushers_add (ingest->pushers, client, ctx->media, cid, codec,
      liveness,
      ingest->config->live_timeout_us > 0
          ? MIN (STALE_US, ingest->config->live_timeout_us)
          : STALE_US);
  if (status == GST_RTSP_STS_OK)
    watch_thumbnails (ingest, element);
  return status;
}

static void
record_done (GstRTSPClient *client, GstRTSPContext *ctx, CoverIngest *ingest)
{
  g_mutex_lock (&ingest->lock);
  g_hash_table_remove (ingest->pending, client);
  g_mutex_unlock (&ingest->lock);
  if (ctx->media)
    cover_pushers_set_recording (ingest->pushers, ctx->media);
}

/* the client's own sessions go; one another connection merely named is
 * not its to end */
static GstRTSPFilterResult
drop_session (GstRTSPClient *client, GstRTSPSession *sess, gpointer data)
{
  if (!cover_rtsp_auth_session_is_owned_by (sess, client))
    return GST_RTSP_FILTER_KEEP;
  return GST_RTSP_FILTER_REMOVE;
}

static void
new_session (GstRTSPClient *client, GstRTSPSession *session, gpointer data)
{
  cover_rtsp_auth_set_session_owner (session, client);
}

static void
client_closed (GstRTSPClient *client, CoverIngest *ingest)
{
  g_mutex_lock (&ingest->lock);
  g_hash_table_remove (ingest->pending, client);
  g_mutex_unlock (&ingest->lock);
  cover_pushers_client_closed (ingest->pushers, client);
  /* its sessions go with it: nothing waits for the session timeout */
  gst_rtsp_client_session_filter (client, drop_session, NULL);
}

/* The oldest pending connection (from @peer, or from anyone when NULL),
 * once there are more than @max (transfer full), or NULL. */
static GstRTSPClient *
oldest_over_locked (CoverIngest *ingest, const gchar *peer, guint max)
{
  GHashTableIter iter;
  Pending *pd, *oldest = NULL;
  guint n = 0;

  g_hash_table_iter_init (&iter, ingest->pending);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &pd)) {
    if (peer && g_strcmp0 (pd->peer, peer) != 0)
      continue;
    n++;
    if (!oldest || pd->since < oldest->since)
      oldest = pd;
  }
  return n > max ? g_object_ref (oldest->client) : NULL;
}

/* Over a limit, the oldest pending connection is closed, not the new one:
 * a device's push takes milliseconds from connect to RECORD, so squatters
 * that connect and stay silent cannot lock it out. */
static void
enforce_limits (CoverIngest *ingest, const gchar *peer)
{
  for (;;) {
    GstRTSPClient *victim;

    g_mutex_lock (&ingest->lock);
    victim = oldest_over_locked (
        ingest, peer, ingest->limits.max_pending_per_address);
    if (!victim)
      victim = oldest_over_locked (ingest, NULL, ingest->limits.max_pending);
    if (victim)
      g_hash_table_remove (ingest->pending, victim);
    g_mutex_unlock (&ingest->lock);
    if (!victim)
      return;
    g_message ("RTSP connection from %s closed: over the limit of connections "
               "without RECORD (max-pending-per-address %u, "
               "max-pending-sessions %u)",
        peer ? peer : "?", ingest->limits.max_pending_per_address,
        ingest->limits.max_pending);
    cover_pushers_close_client_later (victim);
    g_object_unref (victim);
  }
}

static void
client_connected (
    GstRTSPServer *server, GstRTSPClient *client, CoverIngest *ingest)
{
  Pending *pd = g_new0 (Pending, 1);
  GstRTSPConnection *conn = gst_rtsp_client_get_connection (client);

  g_signal_connect (
      client, "pre-announce-request", G_CALLBACK (pre_announce), ingest);
  g_signal_connect (client, "record-request", G_CALLBACK (record_done), ingest);
  g_signal_connect (client, "closed", G_CALLBACK (client_closed), ingest);
  g_signal_connect (client, "new-session", G_CALLBACK (new_session), NULL);

  pd->client = g_object_ref (client);
  pd->peer = g_strdup (conn ? gst_rtsp_connection_get_ip (conn) : NULL);
  pd->since = g_get_monotonic_time ();
  g_mutex_lock (&ingest->lock);
  g_hash_table_insert (ingest->pending, client, pd);
  g_mutex_unlock (&ingest->lock);
  enforce_limits (ingest, pd->peer);
}

/* pending connections past pending-timeout are closed */
static void
expire_pending (CoverIngest *ingest)
{
  gint64 limit = g_get_monotonic_time () -
      ingest->limits.pending_timeout_s * (gint64) G_USEC_PER_SEC;
  g_autoptr (GPtrArray) expired =
      g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  Pending *pd;
  guint i;

  g_mutex_lock (&ingest->lock);
  g_hash_table_iter_init (&iter, ingest->pending);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &pd)) {
    if (pd->since < limit) {
      g_message ("RTSP connection from %s closed: no RECORD within %u s "
                 "(pending-timeout)",
          pd->peer ? pd->peer : "?", ingest->limits.pending_timeout_s);
      g_ptr_array_add (expired, g_object_ref (pd->client));
      g_hash_table_iter_remove (&iter);
    }
  }
  g_mutex_unlock (&ingest->lock);
  for (i = 0; i < expired->len; i++)
    cover_pushers_close_client_later (g_ptr_array_index (expired, i));
}

static gboolean
cleanup_sessions (gpointer data)
{
  CoverIngest *ingest = data;
  g_autoptr (GstRTSPSessionPool) pool =
      gst_rtsp_server_get_session_pool (ingest->server);

  gst_rtsp_session_pool_cleanup (pool);
  return G_SOURCE_CONTINUE;
}

static gboolean
check_liveness (gpointer data)
{
  CoverIngest *ingest = data;

  cover_pushers_check_liveness (
      ingest->pushers, ingest->config->live_timeout_us);
  expire_pending (ingest);
  return G_SOURCE_CONTINUE;
}

/* ---- server and clients ------------------------------------------------ */

/* The token rides in the query of every URL the pusher derives from the one
 * it was given: rtspclientsink's SETUP goes to
 * rtsp://H:P/live/42/stream=0?token=...; the query is no part of the
 * session's paths (the default keeps it, and then finds no "stream=0").
 * ffmpeg appends it after the query instead (see below).
 * Neither subclass adds fields: the parent's structs serve. */
typedef GstRTSPClient CoverIngestClient;
typedef GstRTSPClientClass CoverIngestClientClass;
static GType cover_ingest_client_get_type (void);
G_DEFINE_TYPE (CoverIngestClient, cover_ingest_client, GST_TYPE_RTSP_CLIENT);

static gchar *
cover_ingest_client_make_path_from_uri (
    GstRTSPClient *client, const GstRTSPUrl *uri)
{
  const gchar *abspath = uri->abspath && uri->abspath[0] ? uri->abspath : "/";
  const gchar *control = uri->query ? strchr (uri->query, '/') : NULL;

  /* ffmpeg's SETUP: rtsp://H:P/live/42?token=T/streamid=0, the control
   * path after the query: /live/42/streamid=0 */
  if (control && control[1])
    return g_strconcat (abspath, control, NULL);
  return g_strdup (abspath);
}

/* A response a client sends may name any session: gst-rtsp-server watches
 * it with no auth check, and would unlink it when the connection closes
 * (see cover_rtsp_auth_unwatch_foreign(); requests get the same in the
 * auth's check).  1.22's GstRTSPConnection already refuses a response
 * whose CSeq answers no request of the server's (and the ingest sends
 * none), so this is a second line, kept in case that check goes. */
static void
cover_ingest_client_handle_response (GstRTSPClient *client, GstRTSPContext *ctx)
{
  cover_rtsp_auth_unwatch_foreign (client, ctx->session);
}

/* A push ended by the ingest between its ANNOUNCE and a SETUP (taken over
 * by a new push of its client id, over a pending cap) has an unprepared
 * media; gst-rtsp-server would hand it to gst_rtsp_session_manage_media(),
 * which refuses it with a critical before answering 503.  Answer 503
 * here, without the critical (this runs just before, in the same
 * handle_setup_request()). */
static gboolean
cover_ingest_client_configure_client_media (GstRTSPClient *client,
    GstRTSPMedia *media, GstRTSPStream *stream, GstRTSPContext *ctx)
{
  GstRTSPMediaStatus status = gst_rtsp_media_get_status (media);

  if (status != GST_RTSP_MEDIA_STATUS_PREPARED &&
      status != GST_RTSP_MEDIA_STATUS_SUSPENDED) {
    g_message ("SETUP of a push that has ended refused");
    gst_rtsp_message_init_response (ctx->response,
        GST_RTSP_STS_SERVICE_UNAVAILABLE,
        gst_rtsp_status_as_text (GST_RTSP_STS_SERVICE_UNAVAILABLE),
        ctx->request);
    gst_rtsp_client_send_message (client, NULL, ctx->response);
    return FALSE;
  }
  return GST_RTSP_CLIENT_CLASS (cover_ingest_client_parent_class)
      ->configure_client_media (client, media, stream, ctx);
}

static void
cover_ingest_client_class_init (CoverIngestClientClass *klass)
{
  klass->make_path_from_uri = cover_ingest_client_make_path_from_uri;
  klass->handle_response = cover_ingest_client_handle_response;
  klass->configure_client_media = cover_ingest_client_configure_client_media;
}

static void
cover_ingest_client_init (CoverIngestClient *client)
{
}

typedef GstRTSPServer CoverIngestServer;
typedef GstRTSPServerClass CoverIngestServerClass;
static GType cover_ingest_server_get_type (void);
G_DEFINE_TYPE (CoverIngestServer, cover_ingest_server, GST_TYPE_RTSP_SERVER);

/* what the default does, with our client class */
static GstRTSPClient *
cover_ingest_server_create_client (GstRTSPServer *server)
{
  GstRTSPClient *client = g_object_new (cover_ingest_client_get_type (), NULL);
  g_autoptr (GstRTSPSessionPool) pool =
      gst_rtsp_server_get_session_pool (server);
  g_autoptr (GstRTSPMountPoints) mounts =
      gst_rtsp_server_get_mount_points (server);
  g_autoptr (GstRTSPAuth) auth = gst_rtsp_server_get_auth (server);
  g_autoptr (GstRTSPThreadPool) threads =
      gst_rtsp_server_get_thread_pool (server);

  gst_rtsp_client_set_session_pool (client, pool);
  gst_rtsp_client_set_content_length_limit (
      client, gst_rtsp_server_get_content_length_limit (server));
  gst_rtsp_client_set_mount_points (client, mounts);
  gst_rtsp_client_set_auth (client, auth);
  gst_rtsp_client_set_thread_pool (client, threads);
  return client;
}

static void
cover_ingest_server_class_init (CoverIngestServerClass *klass)
{
  klass->create_client = cover_ingest_server_create_client;
}

static void
cover_ingest_server_init (CoverIngestServer *server)
{
}

/* ---- threads ----------------------------------------------------------- */

/* gst-rtsp-server runs the clients on max-threads shared loops, but gives
 * every media a loop (a thread and an eventfd) of its own, for its bus
 * watch and a few idle callbacks: one per push.  The media share as many
 * loops as the clients instead, handed out in turn.  Each loop is held by
 * the pool (a reuse count, gst_rtsp_thread_reuse()) for its life, so a
 * media's gst_rtsp_thread_stop() never ends it. */
typedef struct
{
  GstRTSPThreadPool parent;
  GMutex lock;
  GPtrArray *loops; /* GstRTSPThread, each held once by the pool (lock) */
  guint next;       /* the loop the next media gets (lock) */
} CoverIngestThreads;
typedef GstRTSPThreadPoolClass CoverIngestThreadsClass;
static GType cover_ingest_threads_get_type (void);
G_DEFINE_TYPE (
    CoverIngestThreads, cover_ingest_threads, GST_TYPE_RTSP_THREAD_POOL);

static GstRTSPThread *
cover_ingest_threads_get_thread (
    GstRTSPThreadPool *pool, GstRTSPThreadType type, GstRTSPContext *ctx)
{
  CoverIngestThreads *self = (CoverIngestThreads *) pool;
  GstRTSPThreadPoolClass *parent =
      GST_RTSP_THREAD_POOL_CLASS (cover_ingest_threads_parent_class);
  GstRTSPThread *thread = NULL;
  gint max = gst_rtsp_thread_pool_get_max_threads (pool);

  if (type != GST_RTSP_THREAD_TYPE_MEDIA || max <= 0)
    return parent->get_thread (pool, type, ctx);

  g_mutex_lock (&self->lock);
  if (self->loops->len < (guint) max) {
    /* a new loop, started by the parent: the media's hold, and ours */
    thread = parent->get_thread (pool, type, ctx);
    if (thread && gst_rtsp_thread_reuse (thread))
      g_ptr_array_add (self->loops, thread);
  } else {
    thread = g_ptr_array_index (self->loops, self->next % self->loops->len);
    self->next++;
    /* cannot fail: the pool's hold keeps the loop running */
    if (!gst_rtsp_thread_reuse (thread))
      thread = NULL;
  }
  g_mutex_unlock (&self->lock);
  return thread;
}

static void
cover_ingest_threads_finalize (GObject *object)
{
  CoverIngestThreads *self = (CoverIngestThreads *) object;
  guint i;

  /* the pool's holds: each loop ends once its last media has stopped */
  for (i = 0; i < self->loops->len; i++)
    gst_rtsp_thread_stop (g_ptr_array_index (self->loops, i));
  g_ptr_array_unref (self->loops);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (cover_ingest_threads_parent_class)->finalize (object);
}

static void
cover_ingest_threads_class_init (CoverIngestThreadsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cover_ingest_threads_finalize;
  klass->get_thread = cover_ingest_threads_get_thread;
}

static void
cover_ingest_threads_init (CoverIngestThreads *self)
{
  g_mutex_init (&self->lock);
  self->loops = g_ptr_array_new ();
}

/* [ingest] threads: 0 is one per core */
static GstRTSPThreadPool *
cover_ingest_threads_new (guint threads)
{
  GstRTSPThreadPool *pool =
      g_object_new (cover_ingest_threads_get_type (), NULL);

  gst_rtsp_thread_pool_set_max_threads (
      pool, threads ? (gint) threads : (gint) g_get_num_processors ());
  return pool;
}

/* ---- the ingest -------------------------------------------------------- */

CoverIngest *
cover_ingest_new (const CoverConfig *config, GKeyFile *file, GError **error)
{
  CoverIngestSettings *settings;
  CoverIngest *ingest;

  g_return_val_if_fail (config != NULL, NULL);

  settings = cover_ingest_settings_new (file, error);
  if (!settings)
    return NULL;
  ingest = g_new0 (CoverIngest, 1);
  ingest->config = config;
  ingest->settings = settings;
  ingest->port = cover_ingest_settings_get_rtsp_port (settings);
  ingest->mounted = g_hash_table_new (g_direct_hash, g_direct_equal);
  ingest->pushers = cover_pushers_new ();
  cover_ingest_settings_get_limits (settings, &ingest->limits);
  ingest->pending =
      g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, pending_free);
  g_mutex_init (&ingest->lock);
  ingest->pulls = cover_pulls_new (config, settings);
  ingest->hooks =
      cover_rtmp_hooks_new (config, settings, ingest->pulls, ingest->pushers);
  return ingest;
}

void
cover_ingest_set_port (CoverIngest *ingest, guint port)
{
  g_return_if_fail (ingest != NULL);

  ingest->port = port;
}

void
cover_ingest_set_cluster_funcs (CoverIngest *ingest, CoverIngestClaimFunc claim,
    CoverIngestClaimAsyncFunc claim_async, CoverIngestReleaseFunc release,
    CoverIngestThumbnailFunc thumbnail, gpointer user_data)
{
  g_return_if_fail (ingest != NULL);

  ingest->claim = claim;
  ingest->thumbnail = thumbnail;
  ingest->cluster_data = user_data;
  cover_pushers_set_ended_func (ingest->pushers, release, user_data);
  cover_pulls_set_cluster_funcs (
      ingest->pulls, claim_async, release, thumbnail, user_data);
}

static guint
attach (CoverIngest *ingest, GSource *source, GSourceFunc func)
{
  guint id;

  if (func)
    g_source_set_callback (source, func, ingest, NULL);
  id = g_source_attach (source, ingest->context);
  g_source_unref (source);
  return id;
}

/* [stream.<id>] pull= */
static void
start_pull (guint32 cid, const CoverStreamSettings *s, gpointer data)
{
  CoverIngest *ingest = data;

  cover_pulls_add (ingest->pulls, cid, COVER_PULL_CAMERA, s->pull, 0);
}

gboolean
cover_ingest_start (CoverIngest *ingest, GError **error)
{
  g_autoptr (GstElementFactory) covertap = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *service = NULL;
  g_autoptr (GstRTSPAuth) auth = NULL;
  GSource *source;

  g_return_val_if_fail (ingest != NULL, FALSE);
  g_return_val_if_fail (ingest->server == NULL, FALSE);

  /* gst_element_factory_find() gives a reference */
  covertap = gst_element_factory_find ("covertap");
  if (!covertap) {
    g_set_error (error, COVER_INGEST_ERROR, COVER_INGEST_ERROR_LISTEN,
        "the covertap element is not installed (GST_PLUGIN_PATH?)");
    return FALSE;
  }

  ingest->server = g_object_new (cover_ingest_server_get_type (), NULL);
  {
    g_autoptr (GstRTSPSessionPool) pool = cover_session_pool_new ();

    gst_rtsp_server_set_session_pool (ingest->server, pool);
  }
  {
    g_autoptr (GstRTSPThreadPool) threads =
        cover_ingest_threads_new (ingest->limits.threads);

    gst_rtsp_server_set_thread_pool (ingest->server, threads);
  }
  /* gst-rtsp-server reads a request's whole body before any auth check:
   * cap it (an SDP is a few hundred bytes) */
  gst_rtsp_server_set_content_length_limit (
      ingest->server, COVER_INGEST_MAX_BODY);
  gst_rtsp_server_set_address (ingest->server, ingest->config->listen_address);
  service = g_strdup_printf ("%u", ingest->port);
  gst_rtsp_server_set_service (ingest->server, service);
  /* gst-rtsp-server's own default is 5: a burst of pushers (a site coming
   * back after an outage) would get resets, as HTTP did with GLib's 10 */
  gst_rtsp_server_set_backlog (ingest->server, ingest->config->listen_backlog);

  /* mounted per client id by ensure_mount(); a failed start before kept
   * its own */
  g_clear_object (&ingest->factory);
  ingest->factory = cover_push_factory_new (ingest->config, ingest->settings);
  auth = cover_rtsp_auth_new (ingest->config->apps, ensure_mount, ingest);
  gst_rtsp_server_set_auth (ingest->server, auth);

  g_signal_connect (ingest->server, "client-connected",
      G_CALLBACK (client_connected), ingest);

  if (!ingest->context)
    ingest->context = g_main_context_ref_thread_default ();
  source = gst_rtsp_server_create_source (ingest->server, NULL, &err);
  if (!source) {
    g_set_error (error, COVER_INGEST_ERROR, COVER_INGEST_ERROR_LISTEN,
        "cannot listen for RTSP on %s:%u: %s", ingest->config->listen_address,
        ingest->port, err ? err->message : "?");
    g_clear_object (&ingest->server);
    return FALSE;
  }
  ingest->server_source = attach (ingest, source, NULL);
  ingest->cleanup_source =
      attach (ingest, g_timeout_source_new_seconds (SESSION_CLEANUP_INTERVAL_S),
          cleanup_sessions);
  ingest->liveness_source = attach (ingest,
      g_timeout_source_new (LIVENESS_CHECK_INTERVAL_MS), check_liveness);
  cover_ingest_settings_foreach_pull (ingest->settings, start_pull, ingest);
  return TRUE;
}

guint16
cover_ingest_get_port (CoverIngest *ingest)
{
  g_return_val_if_fail (ingest != NULL, 0);

  return ingest->server ? gst_rtsp_server_get_bound_port (ingest->server) : 0;
}

guint
cover_ingest_get_n_streams (CoverIngest *ingest)
{
  g_return_val_if_fail (ingest != NULL, 0);

  return cover_pushers_get_n (ingest->pushers);
}

static GstRTSPFilterResult
close_client (GstRTSPServer *server, GstRTSPClient *client, gpointer data)
{
  return GST_RTSP_FILTER_REMOVE;
}

static void
remove_source (GMainContext *context, guint *id)
{
  GSource *source;

  if (!*id)
    return;
  source = g_main_context_find_source_by_id (context, *id);
  if (source)
    g_source_destroy (source);
  *id = 0;
}

static void
wait_streams (CoverIngest *ingest, gint64 deadline)
{
  while (cover_pushers_get_n (ingest->pushers) > 0 &&
      g_get_monotonic_time () < deadline) {
    if (!g_main_context_iteration (ingest->context, FALSE))
      g_usleep (10 * 1000);
  }
}

void
cover_ingest_stop (CoverIngest *ingest, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * (gint64) 1000;
  guint left;

  g_return_if_fail (ingest != NULL);

  if (!ingest->server || ingest->stopped)
    return;
  ingest->stopped = TRUE;
  /* no new pushers; first, so that a pusher whose connection is closed
   * below cannot come back (coversnapd --demo's in-process rtspclientsink
   * reconnects, and is refused) */
  remove_source (ingest->context, &ingest->server_source);
  /* closing a pusher's connection removes its session, which unprepares its
   * media (EOS first, see eos-shutdown) */
  gst_rtsp_server_client_filter (ingest->server, close_client, NULL);
  wait_streams (ingest, deadline - timeout_ms * (gint64) 500);
  /* an ANNOUNCE without RECORD, or a client that did not go: unprepare */
  if (cover_pushers_get_n (ingest->pushers) > 0) {
    cover_pushers_unprepare_all (ingest->pushers);
    wait_streams (ingest, deadline);
  }
  left = cover_pushers_get_n (ingest->pushers);
  if (timeout_ms > 0 && left > 0)
    g_warning ("%u stream(s) still running at shutdown", left);
  cover_pulls_stop_all (ingest->pulls, deadline);
  remove_source (ingest->context, &ingest->cleanup_source);
  remove_source (ingest->context, &ingest->liveness_source);
}

void
cover_ingest_free (CoverIngest *ingest)
{
  if (!ingest)
    return;
  cover_ingest_stop (ingest, 0);
  cover_rtmp_hooks_free (ingest->hooks);
  cover_pulls_free (ingest->pulls);
  cover_pushers_free (ingest->pushers);
  g_clear_object (&ingest->server);
  if (ingest->context)
    g_main_context_unref (ingest->context);
  g_hash_table_unref (ingest->mounted);
  g_hash_table_unref (ingest->pending);
  g_clear_object (&ingest->factory);
  cover_ingest_settings_free (ingest->settings);
  g_mutex_clear (&ingest->lock);
  g_free (ingest);
}

CoverRtmpHooks *
cover_ingest_get_rtmp_hooks (CoverIngest *ingest)
{
  g_return_val_if_fail (ingest != NULL, NULL);

  return ingest->hooks;
}

void
cover_ingest_write_metrics (GString *out, gpointer ingest)
{
  g_return_if_fail (out != NULL && ingest != NULL);

  cover_pulls_write_metrics (out, ((CoverIngest *) ingest)->pulls);
  cover_rtmp_hooks_write_metrics (out, ((CoverIngest *) ingest)->hooks);
}
