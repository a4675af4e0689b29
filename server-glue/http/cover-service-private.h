/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_SERVICE_PRIVATE_H__
#define __COVER_SERVICE_PRIVATE_H__

#include "cover-listener.h"
#include "cover-metrics.h"
#include "cover-resize-cache.h"
#include "cover-service.h"

G_BEGIN_DECLS

/* What the parts of the service share; each part owns its own locking. */
struct _CoverService
{
  CoverConfig *config;
  GPtrArray *sources;   /* CoverSource*, in fallback order */
  GThreadPool *workers; /* runs CoverJobs: resizes, uploads */
  CoverResizeCache *resize_cache;
  CoverMetrics *metrics;
  CoverListener *listener; /* NULL unless cover_service_listen() */
  /* extension points, set before the service serves; read-only after */
  GPtrArray *handlers;   /* CoverServiceHandler* */
  GArray *metrics_funcs; /* CoverServiceHook */
  GArray *health_funcs;  /* CoverServiceHook */
  /* where uploads go; NULL: the local durable file */
  CoverUploadStoreFunc upload_store;
  gpointer upload_store_data;
};

typedef struct
{
  CoverService *service;
  gchar *path;
  SoupServerCallback callback;
  gpointer user_data;
  gboolean early; /* soup_server_add_early_handler(): before the body */
} CoverServiceHandler;

typedef struct
{
  GCallback func;
  gpointer user_data;
} CoverServiceHook;

G_END_DECLS

#endif /* __COVER_SERVICE_PRIVATE_H__ */
