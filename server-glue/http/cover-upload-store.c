/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Uploads to a store outside the service (the cluster's Redis): the upload
 * is checked as any other (cover-upload.c), then handed over while its
 * message waits paused, and answered 200 only once the store said it holds
 * it. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-upload-store.h"

#include "cover-service-private.h"

typedef struct
{
  CoverRequest req;
  gsize size;
  gulong finished_id;
  gboolean finished; /* the client went away: answer nobody */
} StoreWait;

static void
on_finished (SoupServerMessage *msg, StoreWait *w)
{
  w->finished = TRUE;
}

static void
on_stored (const GError *error, gpointer data)
{
  StoreWait *w = data;
  g_autoptr (JsonBuilder) b = NULL;

  g_signal_handler_disconnect (w->req.msg, w->finished_id);
  if (w->finished)
    goto out;
  if (error) {
    g_warning ("could not store the upload: %s", error->message);
    cover_request_respond_error (&w->req, SOUP_STATUS_SERVICE_UNAVAILABLE,
        "unavailable",
        "The cover could not be stored now; the previous one stays. Try "
        "again later.");
  } else {
    cover_metrics_add_upload_bytes (w->req.service->metrics, w->size);
    b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "request_id");
    json_builder_add_string_value (b, w->req.request_id);
    json_builder_end_object (b);
    cover_request_respond_json (&w->req, SOUP_STATUS_OK, b);
  }
  soup_server_message_unpause (w->req.msg);
out:
  g_object_unref (w->req.msg);
  g_free (w);
}

void
cover_upload_store_start (
    const CoverRequest *req, guint32 client_id, GBytes *image)
{
  CoverService *s = req->service;
  g_autoptr (GMainContext) context = g_main_context_ref_thread_default ();
  StoreWait *w;

  g_return_if_fail (s->upload_store != NULL);

  w = g_new0 (StoreWait, 1);
  w->req = *req;
  w->size = g_bytes_get_size (image);
  g_object_ref (w->req.msg);
  w->finished_id =
      g_signal_connect (w->req.msg, "finished", G_CALLBACK (on_finished), w);
  soup_server_message_pause (w->req.msg);
  s->upload_store (
      s->upload_store_data, client_id, image, context, on_stored, w);
}
