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

#include "e2e-ingest-util.h"

#include <string.h>

gchar *
e2e_ingest_metrics (E2eServer *f)
{
  g_autofree gchar *uri =
      g_strdup_printf ("http://127.0.0.1:%u/metrics", f->http_port);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) body =
      soup_session_send_and_read (f->session, msg, NULL, &err);

  g_assert_no_error (err);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  return cs_test_bytes_to_string (body);
}

guint
e2e_ingest_post_hook (E2eServer *f, const gchar *name, const gchar *type,
    const gchar *body, gchar **answer)
{
  g_autofree gchar *uri =
      g_strdup_printf ("http://127.0.0.1:%u/hooks/rtmp/%s", f->http_port, name);
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", uri);
  g_autoptr (GBytes) in = g_bytes_new (body, strlen (body));
  g_autoptr (GBytes) out = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *quoted = NULL;
  const gchar *id;

  soup_message_set_request_body_from_bytes (msg, type, in);
  out = soup_session_send_and_read (f->session, msg, NULL, &err);
  g_assert_no_error (err);
  text = cs_test_bytes_to_string (out);
  id = soup_message_headers_get_one (
      soup_message_get_response_headers (msg), "X-Request-ID");
  g_assert_nonnull (id);
  quoted = g_strdup_printf ("\"request_id\":\"%s\"", id);
  g_assert_nonnull (strstr (text, quoted));
  if (answer)
    *answer = g_steal_pointer (&text);
  return soup_message_get_status (msg);
}

typedef struct
{
  E2eServer *f;
  guint32 cid;
  const gchar *colour; /* "red", "blue", or NULL: not live */
} CoverWait;

static gboolean
cover_is (gpointer data)
{
  CoverWait *w = data;
  E2eResp *r = e2e_get_cover (w->f, w->cid);
  gboolean live = g_strcmp0 (r->source, "live") == 0;
  gboolean done = FALSE;

  if (!w->colour) {
    done = !live;
  } else if (live) {
    gdouble rgb[3];

    e2e_mean_rgb (r->body, 320, 240, rgb);
    done = g_str_equal (w->colour, "red")
        ? rgb[0] > 200 && rgb[1] < 50 && rgb[2] < 50
        : rgb[0] < 50 && rgb[1] < 50 && rgb[2] > 200;
  }
  e2e_resp_free (r);
  return done;
}

void
e2e_ingest_wait_cover (E2eServer *f, guint32 cid, const gchar *colour)
{
  CoverWait w = { f, cid, colour };

  if (!cs_test_poll (cover_is, &w, E2E_WAIT_S * G_USEC_PER_SEC, 100 * 1000)) {
    g_printerr ("cover of %u: waited for %s\n", cid, colour ? colour : "none");
    g_assert_not_reached ();
  }
}
