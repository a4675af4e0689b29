/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_CLUSTER_SERVICE_H__
#define __COVER_CLUSTER_SERVICE_H__

#include "cover-cluster.h"
#include "cover-service.h"

G_BEGIN_DECLS

/* The query parameter a forwarded request carries (a redirect's Location,
 * a proxied fetch): its node serves what it has and never forwards it
 * again. */
#define COVER_CLUSTER_FORWARDED_PARAM "forwarded"

/* The cluster's part of the HTTP service, through the service's extension
 * points: a "cluster" source after the live one (a cover another node
 * holds: 302 to it, or fetched from it with [cluster] forward = proxy),
 * uploads stored in and read from the cluster's store instead of the local
 * files, /metrics and /healthz parts.  Call before the service listens;
 * @cluster must outlive @service. */
typedef struct _CoverClusterService CoverClusterService;

/* Returns (transfer full): free it after the service. */
CoverClusterService *cover_cluster_service_attach (
    CoverCluster *cluster, CoverService *service);
void cover_cluster_service_free (CoverClusterService *cs);

G_END_DECLS

#endif /* __COVER_CLUSTER_SERVICE_H__ */
