/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_METRICS_H__
#define __COVER_METRICS_H__

#include <glib.h>

#include "cover-token.h"

G_BEGIN_DECLS

/* The endpoints the requests are counted by */
typedef enum
{
  COVER_ENDPOINT_COVER,
  COVER_ENDPOINT_UPLOAD,
  COVER_ENDPOINT_HEALTH,
  COVER_ENDPOINT_METRICS,
  COVER_ENDPOINT_OTHER,
} CoverEndpoint;

/* The service's counters: lock-free, any thread may count. */
typedef struct _CoverMetrics CoverMetrics;

CoverMetrics *cover_metrics_new (void);
void cover_metrics_free (CoverMetrics *metrics);

/* @source: "live", "record", "upload" or "none" */
void cover_metrics_count_request (CoverMetrics *metrics, CoverEndpoint endpoint,
    guint status, const gchar *source);
void cover_metrics_count_token_failure (
    CoverMetrics *metrics, CoverTokenStatus status);
void cover_metrics_add_upload_bytes (CoverMetrics *metrics, gsize bytes);

/* The Prometheus text format of every counter (transfer full). */
GString *cover_metrics_render (CoverMetrics *metrics);

G_END_DECLS

#endif /* __COVER_METRICS_H__ */
