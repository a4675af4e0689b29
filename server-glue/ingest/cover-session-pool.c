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

typedef GstRTSPSessionPool CoverSessionPool;
typedef GstRTSPSessionPoolClass CoverSessionPoolClass;
static GType cover_session_pool_get_type (void);
G_DEFINE_TYPE (
    CoverSessionPool, cover_session_pool, GST_TYPE_RTSP_SESSION_POOL);

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

static void
cover_session_pool_init (CoverSessionPool *pool)
{
}

GstRTSPSessionPool *
cover_session_pool_new (void)
{
  return g_object_new (cover_session_pool_get_type (), NULL);
}
