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

#include "cover-session-pool.h"

#include "coverid.h"

/* 16 random bytes: guessing a live session's id is out of reach */
#define SESSION_ID_BYTES 16
/* far above any real number of pushing devices of one node, but a bound:
 * the pool refuses sessions beyond it (453) instead of growing */
#define MAX_SESSIONS 16384

typedef GstRTSPSessionPool CoverSessionPool;
typedef GstRTSPSessionPoolClass CoverSessionPoolClass;
static GType cover_session_pool_get_type (void);
G_DEFINE_TYPE (
    CoverSessionPool, cover_session_pool, GST_TYPE_RTSP_SESSION_POOL);

static void
cover_session_pool_init (CoverSessionPool *pool)
{
}

static gchar *
cover_session_pool_create_session_id (GstRTSPSessionPool *pool)
{
  return cover_random_hex (SESSION_ID_BYTES);
}

static void
cover_session_pool_class_init (CoverSessionPoolClass *klass)
{
  klass->create_session_id = cover_session_pool_create_session_id;
}

GstRTSPSessionPool *
cover_session_pool_new (void)
{
  GstRTSPSessionPool *pool =
      g_object_new (cover_session_pool_get_type (), NULL);

  gst_rtsp_session_pool_set_max_sessions (pool, MAX_SESSIONS);
  return pool;
}
