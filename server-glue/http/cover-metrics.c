/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The counters behind /metrics, and their Prometheus text.  Every counter
 * is a relaxed atomic: counting never takes a lock on the request path. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-metrics.h"

#include "cover-live-source.h"

static const gchar *endpoint_names[] = { "cover", "upload", "healthz",
  "metrics", "other" };

#define N_ENDPOINTS G_N_ELEMENTS (endpoint_names)
/* the statuses the service answers; anything else is counted as the last */
static const guint counted_statuses[] = { 200, 304, 400, 401, 403, 404, 405,
  406, 413, 500, 0 };

#define N_STATUSES G_N_ELEMENTS (counted_statuses)
static const gchar *source_names[] = { "live", "record", "upload", "none" };

#define N_SOURCES G_N_ELEMENTS (source_names)
/* every refusal cover_token_authorize() can give, by its status */
#define N_TOKEN_STATUSES (COVER_TOKEN_WRONG_ADDRESS + 1)

G_STATIC_ASSERT (N_ENDPOINTS == COVER_ENDPOINT_OTHER + 1);

struct _CoverMetrics
{
  guint64 requests[N_ENDPOINTS][N_STATUSES][N_SOURCES];
  guint64 token_failures[N_TOKEN_STATUSES];
  guint64 upload_bytes;
};

CoverMetrics *
cover_metrics_new (void)
{
  return g_new0 (CoverMetrics, 1);
}

void
cover_metrics_free (CoverMetrics *m)
{
  g_free (m);
}

static guint
status_index (guint status)
{
  guint i;

  for (i = 0; i < N_STATUSES - 1; i++) {
    if (counted_statuses[i] == status)
      return i;
  }
  return N_STATUSES - 1;
}

static guint
source_index (const gchar *source)
{
  guint i;

  for (i = 0; i < N_SOURCES - 1; i++) {
    if (g_str_equal (source_names[i], source))
      return i;
  }
  return N_SOURCES - 1;
}

static void
counter_add (guint64 *counter, guint64 n)
{
  __atomic_fetch_add (counter, n, __ATOMIC_RELAXED);
}

void
cover_metrics_count_request (
    CoverMetrics *m, CoverEndpoint endpoint, guint status, const gchar *source)
{
  g_return_if_fail (m != NULL);
  g_return_if_fail ((guint) endpoint < N_ENDPOINTS);
  g_return_if_fail (source != NULL);

  counter_add (
      &m->requests[endpoint][status_index (status)][source_index (source)], 1);
}

void
cover_metrics_count_token_failure (CoverMetrics *m, CoverTokenStatus status)
{
  g_return_if_fail (m != NULL);
  g_return_if_fail ((guint) status < N_TOKEN_STATUSES);

  counter_add (&m->token_failures[status], 1);
}

void
cover_metrics_add_upload_bytes (CoverMetrics *m, gsize bytes)
{
  g_return_if_fail (m != NULL);

  counter_add (&m->upload_bytes, bytes);
}

static void
append_header (GString *out, const gchar *name, const gchar *help)
{
  g_string_append_printf (
      out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
}

GString *
cover_metrics_render (CoverMetrics *m)
{
  GString *out;
  guint e, st, so, i;

  g_return_val_if_fail (m != NULL, NULL);

  out = g_string_new (NULL);
  append_header (out, "coversnap_http_requests_total",
      "HTTP requests by endpoint, status and cover source.");
  for (e = 0; e < N_ENDPOINTS; e++)
    for (st = 0; st < N_STATUSES; st++)
      for (so = 0; so < N_SOURCES; so++) {
        guint64 n = __atomic_load_n (&m->requests[e][st][so], __ATOMIC_RELAXED);

        if (n == 0)
          continue;
        g_string_append_printf (out,
            "coversnap_http_requests_total{endpoint=\"%s\",status=\"%u\","
            "source=\"%s\"} %" G_GUINT64_FORMAT "\n",
            endpoint_names[e], counted_statuses[st], source_names[so], n);
      }
  append_header (out, "coversnap_token_failures_total",
      "Refused device tokens by reason.");
  for (i = 0; i < N_TOKEN_STATUSES; i++) {
    guint64 n = __atomic_load_n (&m->token_failures[i], __ATOMIC_RELAXED);

    if (n > 0)
      g_string_append_printf (out,
          "coversnap_token_failures_total{reason=\"%s\"} %" G_GUINT64_FORMAT
          "\n",
          cover_token_status_to_string (i), n);
  }
  append_header (
      out, "coversnap_upload_bytes_total", "Bytes of uploaded covers stored.");
  g_string_append_printf (out,
      "coversnap_upload_bytes_total %" G_GUINT64_FORMAT "\n",
      __atomic_load_n (&m->upload_bytes, __ATOMIC_RELAXED));
  append_header (out, "coversnap_live_covers_read_total",
      "New live covers read out of the cover store by this process.");
  g_string_append_printf (out,
      "coversnap_live_covers_read_total %" G_GUINT64_FORMAT "\n",
      cover_live_source_get_images_read ());
  return out;
}
