/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The service's extension points for sources that answer later (the
 * cluster's registry) and for an upload store outside the service, over
 * real HTTP:
 *  - an asynchronous source is asked with the request's path and query on
 *    the server's context; "nothing" goes on down the chain, a picture is
 *    served, a location is a 302 with Location and a JSON body, an error
 *    with nothing after it is a 500;
 *  - a client that went away while the source was asked is answered by
 *    nobody (the late reply is dropped);
 *  - an upload store: 200 once it acknowledged, 503 "unavailable" when it
 *    failed, and the local upload file is never written. */

#include "http-util.h"

typedef enum
{
  REPLY_NOTHING,
  REPLY_PICTURE,
  REPLY_LOCATION,
  REPLY_ERROR,
  REPLY_HOLD, /* kept until the test replies */
} ReplyKind;

typedef struct
{
  ReplyKind kind;
  GBytes *picture;
  /* what the source saw */
  gint calls; /* atomic */
  gchar *path_and_query;
  guint32 client_id;
  /* REPLY_HOLD */
  GMutex lock;
  GMainContext *held_context;
  CoverSourceReplyFunc held_reply;
  gpointer held_data;
} Fake;

typedef struct
{
  Fake *fake;
  CoverSourceReplyFunc reply;
  gpointer reply_data;
} Pending;

static gboolean
reply_now (gpointer data)
{
  Pending *p = data;
  Fake *f = p->fake;
  g_autoptr (GError) err = NULL;

  switch (f->kind) {
    case REPLY_NOTHING:
      p->reply (NULL, NULL, NULL, p->reply_data);
      break;
    case REPLY_PICTURE:
      p->reply (cover_picture_new (
                    f->picture, "\"F1\"", 1796000000, COVER_SOURCE_RECORD),
          NULL, NULL, p->reply_data);
      break;
    case REPLY_LOCATION:
      p->reply (NULL, "http://node-b.invalid:8080/elsewhere?forwarded=1", NULL,
          p->reply_data);
      break;
    case REPLY_ERROR:
      err = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "fake failure");
      p->reply (NULL, NULL, err, p->reply_data);
      break;
    case REPLY_HOLD:
      g_assert_not_reached ();
  }
  return G_SOURCE_REMOVE;
}

static void
fake_lookup (gpointer user_data, const CoverSourceQuery *q,
    CoverSourceReplyFunc reply, gpointer reply_data)
{
  Fake *f = user_data;
  Pending *p;

  g_assert_nonnull (q->context);
  g_mutex_lock (&f->lock);
  g_free (f->path_and_query);
  f->path_and_query = g_strdup (q->path_and_query);
  f->client_id = q->client_id;
  if (f->kind == REPLY_HOLD) {
    f->held_context = g_main_context_ref (q->context);
    f->held_reply = reply;
    f->held_data = reply_data;
    g_mutex_unlock (&f->lock);
    g_atomic_int_inc (&f->calls);
    return;
  }
  g_mutex_unlock (&f->lock);
  p = g_new0 (Pending, 1);
  p->fake = f;
  p->reply = reply;
  p->reply_data = reply_data;
  /* later, on the server's context: never from inside the call */
  g_main_context_invoke_full (
      q->context, G_PRIORITY_DEFAULT, reply_now, p, g_free);
  g_atomic_int_inc (&f->calls);
}

static Fake *
fake_new (HtSvc *svc, ReplyKind kind, gint position)
{
  Fake *f = g_new0 (Fake, 1);

  f->kind = kind;
  g_mutex_init (&f->lock);
  cover_service_insert_source (svc->service,
      cover_source_new_async ("fake", fake_lookup, f, NULL), position);
  return f;
}

static void
fake_free (Fake *f)
{
  g_clear_pointer (&f->picture, g_bytes_unref);
  g_clear_pointer (&f->held_context, g_main_context_unref);
  g_free (f->path_and_query);
  g_mutex_clear (&f->lock);
  g_free (f);
}

static HtResp *
get_no_redirect (HtSvc *svc, guint32 cid, const gchar *extra)
{
  g_autofree gchar *token = ht_token (cid);
  g_autofree gchar *path = ht_cover_path (cid, token, extra);
  g_autoptr (SoupMessage) msg = ht_message (svc, "GET", path);

  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  return ht_send (svc, msg);
}

static void
test_nothing_goes_on (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autoptr (GBytes) png = cs_test_png_solid (8, 8, 0, 0, 255);
  Fake *f = fake_new (svc, REPLY_NOTHING, 1);
  g_autoptr (HtResp) up = ht_upload (svc, 42, png);
  g_autoptr (HtResp) r = NULL;

  ht_assert_status (up, 200);
  r = get_no_redirect (svc, 42, "width=4");
  /* asked once, with the request as the client sent it; then the chain
   * went on to the upload (resized as any other) */
  g_assert_cmpint (g_atomic_int_get (&f->calls), ==, 1);
  g_assert_cmpuint (f->client_id, ==, 42);
  g_assert_true (
      g_str_has_prefix (f->path_and_query, "/v2/snapshots/42/cover?"));
  g_assert_nonnull (strstr (f->path_and_query, "client_token="));
  g_assert_nonnull (strstr (f->path_and_query, "width=4"));
  ht_assert_status (r, 200);
  g_assert_cmpstr (ht_header (r, "X-Cover-Source"), ==, "upload");
  g_assert_cmpstr (ht_header (r, "Content-Type"), ==, "image/jpeg");
  ht_svc_free (svc);
  fake_free (f);
}

static void
test_picture (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  Fake *f = fake_new (svc, REPLY_PICTURE, 0);
  g_autoptr (HtResp) r = NULL;

  f->picture = cs_test_jpeg_solid (16, 16, 255, 0, 0);
  r = get_no_redirect (svc, 42, NULL);
  ht_assert_cover (r, f->picture, "image/jpeg", "record");
  g_assert_cmpstr (ht_header (r, "ETag"), ==, "\"F1\"");
  ht_svc_free (svc);
  fake_free (f);
}

static void
test_location (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  Fake *f = fake_new (svc, REPLY_LOCATION, 1);
  g_autoptr (HtResp) r = get_no_redirect (svc, 42, NULL);
  g_autofree gchar *body = cs_test_bytes_to_string (r->body);

  ht_assert_status (r, 302);
  g_assert_cmpstr (ht_header (r, "Location"), ==,
      "http://node-b.invalid:8080/elsewhere?forwarded=1");
  g_assert_cmpstr (ht_header (r, "Content-Type"), ==, "application/json");
  g_assert_nonnull (strstr (body,
      "\"location\":\"http://node-b.invalid:8080/elsewhere?forwarded=1\""));
  /* a refused token is refused before any source is asked */
  {
    g_autoptr (SoupMessage) msg = ht_message (svc, "GET",
        "/v2/snapshots/42/"
        "cover?client_token=42_0_1_00000000000000000000000000000000");
    g_autoptr (HtResp) refused = NULL;

    soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
    refused = ht_send (svc, msg);
    g_assert_cmpuint (refused->status, ==, 401);
    g_assert_cmpint (g_atomic_int_get (&f->calls), ==, 1);
  }
  ht_svc_free (svc);
  fake_free (f);
}

static void
test_error (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  Fake *f = fake_new (svc, REPLY_ERROR, 1);
  guint warnings = ht_warnings_seen ();
  g_autoptr (HtResp) r = get_no_redirect (svc, 42, NULL);

  g_free (ht_assert_error (r, 500, "internal"));
  g_assert_cmpuint (ht_warnings_seen (), >, warnings);
  ht_svc_free (svc);
  fake_free (f);
}

static gboolean
held (gpointer data)
{
  Fake *f = data;

  return g_atomic_int_get (&f->calls) == 1;
}

static gboolean
reply_held (gpointer data)
{
  Fake *f = data;

  f->held_reply (NULL, "http://late.invalid/", NULL, f->held_data);
  return G_SOURCE_REMOVE;
}

static void
on_sent (GObject *session, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) body =
      soup_session_send_and_read_finish (SOUP_SESSION (session), res, &err);

  *(gboolean *) data = TRUE;
}

static void
test_client_gone (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  Fake *f = fake_new (svc, REPLY_HOLD, 1);
  g_autofree gchar *token = ht_token (42);
  g_autofree gchar *path = ht_cover_path (42, token, NULL);
  g_autoptr (SoupMessage) msg = ht_message (svc, "GET", path);
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autoptr (GMainContext) ctx = g_main_context_new ();
  gboolean done = FALSE;
  gint64 deadline = g_get_monotonic_time () + HT_TIMEOUT_S * G_USEC_PER_SEC;
  g_autoptr (SoupSession) session = NULL;

  g_main_context_push_thread_default (ctx);
  session = cs_test_session_new (HT_TIMEOUT_S);
  soup_session_send_and_read_async (
      session, msg, G_PRIORITY_DEFAULT, cancel, on_sent, &done);
  while (!held (f) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (ctx, FALSE) || (g_usleep (1000), TRUE);
  g_assert_true (held (f));
  /* the client goes while the source is asked */
  g_cancellable_cancel (cancel);
  while (!done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (ctx, TRUE);
  g_assert_true (done);
  g_clear_object (&session);
  g_main_context_pop_thread_default (ctx);
  /* the late reply, on the server's context, answers nobody */
  g_usleep (100 * 1000);
  g_main_context_invoke (f->held_context, reply_held, f);
  g_usleep (100 * 1000);
  {
    /* and the service still serves */
    g_autoptr (HtResp) r = NULL;

    f->kind = REPLY_NOTHING;
    r = get_no_redirect (svc, 42, NULL);
    g_free (ht_assert_error (r, 404, "no_cover"));
  }
  ht_svc_free (svc);
  fake_free (f);
}

/* The upload store */

typedef struct
{
  gboolean fail;
  GBytes *stored;
  guint32 client_id;
  CoverUploadStoredFunc stored_func;
  gpointer stored_data;
} Store;

static gboolean
store_reply (gpointer data)
{
  Store *st = data;
  g_autoptr (GError) err = NULL;

  if (st->fail)
    err = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "store down");
  st->stored_func (err, st->stored_data);
  return G_SOURCE_REMOVE;
}

static void
store_upload (gpointer user_data, guint32 client_id, GBytes *image,
    GMainContext *context, CoverUploadStoredFunc stored, gpointer stored_data)
{
  Store *st = user_data;

  if (!st->fail) {
    g_clear_pointer (&st->stored, g_bytes_unref);
    st->stored = g_bytes_ref (image);
  }
  st->client_id = client_id;
  st->stored_func = stored;
  st->stored_data = stored_data;
  g_main_context_invoke (context, store_reply, st);
}

static void
test_upload_store (void)
{
  HtSvc *svc = ht_svc_new (NULL);
  g_autoptr (GBytes) png = cs_test_png_solid (8, 8, 0, 255, 0);
  g_autoptr (GBytes) other = cs_test_png_solid (8, 8, 255, 0, 0);
  g_autofree gchar *file = g_build_filename (svc->upload_dir, "42", NULL);
  Store st = { 0 };
  HtResp *r;

  cover_service_set_upload_store (svc->service, store_upload, &st);
  r = ht_upload (svc, 42, png);
  ht_assert_status (r, 200);
  ht_resp_free (r);
  g_assert_cmpuint (st.client_id, ==, 42);
  g_assert_true (g_bytes_equal (st.stored, png));
  /* the store failed: 503, and what it holds is the previous one */
  st.fail = TRUE;
  r = ht_upload (svc, 42, other);
  g_free (ht_assert_error (r, 503, "unavailable"));
  ht_resp_free (r);
  g_assert_true (g_bytes_equal (st.stored, png));
  /* the local file is never written */
  g_assert_false (g_file_test (file, G_FILE_TEST_EXISTS));
  /* what the upload checks refuse is still refused before the store */
  st.fail = FALSE;
  st.client_id = 0;
  {
    g_autoptr (GBytes) text = g_bytes_new_static ("not an image", 12);

    r = ht_upload (svc, 42, text);
    g_free (ht_assert_error (r, 406, "unsupported_image"));
    ht_resp_free (r);
    g_assert_cmpuint (st.client_id, ==, 0);
  }
  ht_svc_free (svc);
  g_clear_pointer (&st.stored, g_bytes_unref);
}

int
main (int argc, char **argv)
{
  ht_init (&argc, &argv);
  g_test_add_func ("/http/async-source/nothing-goes-on", test_nothing_goes_on);
  g_test_add_func ("/http/async-source/picture", test_picture);
  g_test_add_func ("/http/async-source/location", test_location);
  g_test_add_func ("/http/async-source/error", test_error);
  g_test_add_func ("/http/async-source/client-gone", test_client_gone);
  g_test_add_func ("/http/upload-store", test_upload_store);
  return ht_run ();
}
