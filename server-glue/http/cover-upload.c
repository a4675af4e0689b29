/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Uploads: memory stays bounded whatever the client sends (the body is
 * counted, and kept only up to the limit), the image type comes from its
 * bytes, and the previous cover is replaced only by a whole, synced file. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-upload.h"

#include <string.h>

#include "cover-file-source.h"
#include "cover-image.h"
#include "cover-upload-store.h"
#include "cover-work.h"
#include "cover-service-private.h"
#include "coverid.h"
#include "coverthumbnail.h"

/* room for the multipart framing around the image */
#define FRAMING_ALLOWANCE (64 * 1024)
#define BODY_KEY "coversnap-upload"

typedef struct
{
  GByteArray *body;
  gsize total;
  gboolean too_big;
  gsize limit;
} UploadBody;

typedef struct
{
  CoverWork job;
  guint32 client_id;
  GBytes *image;
  GError *error;
} StoreJob;

static void
upload_body_free (UploadBody *u)
{
  g_byte_array_unref (u->body);
  g_free (u);
}

static void
on_upload_chunk (SoupServerMessage *msg, GBytes *chunk, UploadBody *u)
{
  gsize n = g_bytes_get_size (chunk);

  u->total += n;
  if (u->total > u->limit) {
    /* counted, not kept */
    u->too_big = TRUE;
    return;
  }
  g_byte_array_append (u->body, g_bytes_get_data (chunk, NULL), n);
}

static void
respond_too_large (CoverRequest *req, const gchar *what)
{
  cover_request_respond_error (req, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
      "too_large", "The %s is over the limit of %" G_GSIZE_FORMAT " bytes.",
      what, req->service->config->max_upload_size);
}

void
cover_upload_early_handler (SoupServer *server, SoupServerMessage *msg,
    const char *path, GHashTable *query, gpointer user_data)
{
  CoverService *s = user_data;
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  gsize limit = s->config->max_upload_size + FRAMING_ALLOWANCE;
  UploadBody *u;

  g_autoptr (GHashTable) params = NULL;
  guint32 client_id;
  CoverRequest auth;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    return;
  /* who may upload is known from the headers: refuse before the body */
  cover_request_init (&auth, s, msg, COVER_ENDPOINT_UPLOAD);
  if (!cover_request_begin_device (
          &auth, path, "/v2/devices/", "/snapshots", "POST", &client_id)) {
    cover_request_send_now_and_close (&auth);
    return;
  }
  params = cover_request_query_params (&auth);
  if (!cover_request_authorize (&auth, params, client_id, 0)) {
    cover_request_send_now_and_close (&auth);
    return;
  }
  /* the body is taken chunk by chunk below, or drained */
  soup_message_body_set_accumulate (
      soup_server_message_get_request_body (msg), FALSE);
  if (soup_message_headers_get_encoding (h) == SOUP_ENCODING_CONTENT_LENGTH &&
      soup_message_headers_get_content_length (h) > (goffset) limit) {
    CoverRequest req;

    cover_request_init (&req, s, msg, COVER_ENDPOINT_UPLOAD);
    /* Answered now.  A client that asked (Expect: 100-continue) gets it
     * before sending the body; others send it anyway, and libsoup reads
     * it: drain it without keeping it, and close the connection after. */
    soup_message_headers_replace (
        soup_server_message_get_response_headers (msg), "Connection", "close");
    respond_too_large (&req, "upload");
    return;
  }
  u = g_new0 (UploadBody, 1);
  u->body = g_byte_array_new ();
  u->limit = limit;
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_upload_chunk), u);
  g_object_set_data_full (
      G_OBJECT (msg), BODY_KEY, u, (GDestroyNotify) upload_body_free);
}

/* Whether @type has the parameter @declared ("boundary=B") whole: not a
 * longer boundary that starts with B. */
static gboolean
declares_boundary (const gchar *type, const gchar *declared)
{
  gsize len = strlen (declared);
  const gchar *p = type;

  while ((p = strstr (p, declared))) {
    gboolean starts = p > type && (p[-1] == ';' || g_ascii_isspace (p[-1]));
    gboolean ends = p[len] == '\0' || p[len] == ';' || g_ascii_isspace (p[len]);

    if (starts && ends)
      return TRUE;
    p += len;
  }
  return FALSE;
}

/* libsoup 3.2's multipart parser takes a part's body to run from the end
 * of its header block to 2 bytes before the next boundary line; when a
 * header block runs into that boundary ("--b\r\nX: y\r\n\r\n--b--") the
 * length is negative and g_malloc() aborts the process.  So walk the parts
 * exactly as it does (the same boundary search, strstr() for the end of the
 * headers: @data is NUL-terminated) and refuse such a body first. */
static const gchar *
next_boundary (
    const gchar *start, const gchar *end, const gchar *boundary, gsize len)
{
  const gchar *b;

  for (b = memchr (start, '-', end - start); b && b + len + 4 < end;
       b = memchr (b + 2, '-', end - (b + 2))) {
    if (b[1] != '-' || memcmp (b + 2, boundary, len) != 0)
      continue;
    if (!(b == start || (b[-1] == '\n' && b[-2] == '\r')))
      continue;
    if ((b[len + 2] == '-' && b[len + 3] == '-') ||
        (b[len + 2] == '\r' && b[len + 3] == '\n'))
      return b;
  }
  return NULL;
}

static gboolean
parts_fit (const gchar *data, gsize size, const gchar *boundary)
{
  const gchar *end = data + size, *start, *next, *split;
  gsize len = strlen (boundary);

  start = next_boundary (data, end, boundary, len);
  while (start && start[2 + len] != '-') {
    next = next_boundary (start + 2 + len, end, boundary, len);
    if (!next)
      return TRUE; /* libsoup refuses it by itself */
    split = strstr (start, "\r\n\r\n");
    if (!split || split > next)
      return TRUE;
    if (split + 4 > next - 2)
      return FALSE;
    start = next;
  }
  return TRUE;
}

/* soup_multipart_new_from_message(), minus its crash.  @body must be
 * followed by a NUL (cover_upload_terminated_body()). */
static SoupMultipart *
multipart_parse (SoupMessageHeaders *headers, GBytes *body)
{
  g_autoptr (GHashTable) params = NULL;
  const gchar *boundary;

  if (!soup_message_headers_get_content_type (headers, &params))
    return NULL;
  boundary = g_hash_table_lookup (params, "boundary");
  if (boundary &&
      !parts_fit (
          g_bytes_get_data (body, NULL), g_bytes_get_size (body), boundary))
    return NULL;
  return soup_multipart_new_from_message (headers, body);
}

/* The seed's own curl example sets a Content-Type with a boundary *and*
 * uses -F, so curl sends two boundary parameters, and a body framed by the
 * second; libsoup takes the first.  Of the boundaries declared, use the one
 * the body opens with.  (A body framed by an undeclared boundary stays a
 * 400.) */
static SoupMultipart *
multipart_with_body_boundary (SoupMessageHeaders *request, GBytes *body)
{
  const gchar *type = soup_message_headers_get_one (request, "Content-Type");
  g_autoptr (SoupMessageHeaders) h = NULL;
  g_autoptr (GHashTable) params = NULL;
  g_autofree gchar *boundary = NULL;
  g_autofree gchar *declared = NULL;
  const gchar *data = g_bytes_get_data (body, NULL);
  gsize size = g_bytes_get_size (body);
  const gchar *eol;

  if (!type || size < 4 || data[0] != '-' || data[1] != '-')
    return NULL;
  eol = memchr (data, '\r', MIN (size, 2 + 70 + 1));
  /* RFC 2046: 1 to 70 characters */
  if (!eol || eol - data < 3)
    return NULL;
  boundary = g_strndup (data + 2, eol - data - 2);
  declared = g_strdup_printf ("boundary=%s", boundary);
  if (!g_str_has_prefix (type, "multipart/form-data") ||
      !declares_boundary (type, declared))
    return NULL;
  params = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (params, (gpointer) "boundary", boundary);
  h = soup_message_headers_new (SOUP_MESSAGE_HEADERS_MULTIPART);
  soup_message_headers_set_content_type (h, "multipart/form-data", params);
  return multipart_parse (h, body);
}

GBytes *
cover_upload_terminated_body (const guint8 *data, gsize size)
{
  /* libsoup's multipart parser runs strstr() over the body: a NUL after
   * it; and its boundary search looks 2 bytes behind a "--" that may be
   * the body's second byte: a NUL before it.  Both outside the bytes handed
   * over. */
  guint8 *copy = g_malloc (size + 2);
  g_autoptr (GBytes) whole = NULL;

  copy[0] = '\0';
  if (size)
    memcpy (copy + 1, data, size);
  copy[size + 1] = '\0';
  whole = g_bytes_new_take (copy, size + 2);
  return g_bytes_new_from_bytes (whole, 1, size);
}

/* soup_form_decode_multipart() compares each part's disposition type
 * without checking that there is one: a part with `Content-Disposition:
 * name="file"` (no type) makes it g_ascii_strcasecmp (NULL, ...), a
 * critical (an abort with fatal criticals), and the part is then taken as
 * form-data.  Refuse such a form first. */
static gboolean
dispositions_typed (SoupMultipart *multipart)
{
  for (int i = 0; i < soup_multipart_get_length (multipart); i++) {
    SoupMessageHeaders *headers;
    g_autofree gchar *disposition = NULL;
    GBytes *part;

    if (!soup_multipart_get_part (multipart, i, &headers, &part))
      return FALSE;
    if (soup_message_headers_get_content_disposition (
            headers, &disposition, NULL) &&
        !disposition)
      return FALSE;
  }
  return TRUE;
}

GBytes *
cover_upload_form_file (SoupMessageHeaders *request, const guint8 *data,
    gsize size, const gchar **why)
{
  g_autoptr (GBytes) body = cover_upload_terminated_body (data, size);
  g_autoptr (GHashTable) fields = NULL;
  SoupMultipart *multipart;
  GBytes *file = NULL;

  multipart = multipart_parse (request, body);
  if (!multipart)
    multipart = multipart_with_body_boundary (request, body);
  if (!multipart) {
    *why = "The body must be multipart/form-data with a boundary, and "
           "complete.";
    return NULL;
  }
  if (!dispositions_typed (multipart)) {
    soup_multipart_free (multipart);
    *why = "Every part of the form needs a Content-Disposition with a type "
           "(form-data).";
    return NULL;
  }
  /* takes the multipart */
  fields = soup_form_decode_multipart (multipart, "file", NULL, NULL, &file);
  if (!file)
    *why = "The form has no \"file\" field.";
  return file;
}

/* The "file" field of the form in @u (transfer full), or NULL when the
 * request was answered. */
static GBytes *
form_file (CoverRequest *req, UploadBody *u)
{
  const gchar *why = NULL;
  GBytes *file = cover_upload_form_file (
      soup_server_message_get_request_headers (req->msg), u->body->data,
      u->body->len, &why);

  if (!file)
    cover_request_respond_error (
        req, SOUP_STATUS_BAD_REQUEST, "bad_request", "%s", why);
  return file;
}

/* The temporary file of cover_image_store_durably() for an upload:
 * ".<client_id>.XXXXXX" (g_mkstemp: 6 letters or digits); with @user_data
 * (a guint32 *), that client id's only. */
static gboolean
upload_temp (const gchar *name, gpointer user_data)
{
  const gchar *dot = strrchr (name, '.');
  const guint32 *want = user_data;
  guint32 client_id;
  gint i;

  if (name[0] != '.' || dot == name || strlen (dot + 1) != 6 ||
      !cover_client_id_parse (name + 1, dot - name - 1, &client_id))
    return FALSE;
  for (i = 1; i <= 6; i++)
    if (!g_ascii_isalnum (dot[i]))
      return FALSE;
  return !want || *want == client_id;
}

static gboolean
is_client_dir (const gchar *name, gpointer user_data)
{
  guint32 client_id;

  return cover_client_id_parse (name, -1, &client_id);
}

void
cover_upload_sweep (const gchar *upload_dir, const gchar *thumbnail_dir)
{
  g_autoptr (GDir) dir = NULL;
  const gchar *name;

  g_return_if_fail (upload_dir != NULL);

  cover_temp_sweep (upload_dir, upload_temp, NULL, COVER_TEMP_SWEEP_AGE_S);
  dir = thumbnail_dir ? g_dir_open (thumbnail_dir, 0, NULL) : NULL;
  while (dir && (name = g_dir_read_name (dir))) {
    g_autofree gchar *path = NULL;

    if (!is_client_dir (name, NULL))
      continue;
    path = g_build_filename (thumbnail_dir, name, NULL);
    /* cover_temp_sweep() opens it with O_NOFOLLOW: a link is left alone */
    cover_thumbnail_sweep (path, COVER_TEMP_SWEEP_AGE_S);
  }
}

static void
store_run (CoverWork *job)
{
  StoreJob *st = (StoreJob *) job;
  CoverService *s = job->req.service;
  g_autofree gchar *path =
      cover_upload_path (s->config->upload_dir, st->client_id);

  /* what a crashed upload of this device left */
  cover_temp_sweep (s->config->upload_dir, upload_temp, &st->client_id,
      COVER_TEMP_SWEEP_AGE_S);
  if (cover_image_store_durably (path, st->image, 0640, &st->error))
    cover_metrics_add_upload_bytes (s->metrics, g_bytes_get_size (st->image));
}

static void
store_done (CoverWork *job)
{
  StoreJob *st = (StoreJob *) job;
  g_autoptr (JsonBuilder) b = NULL;

  if (st->error) {
    g_warning ("could not store the cover of client %u: %s", st->client_id,
        st->error->message);
    cover_request_respond_error (&job->req, SOUP_STATUS_INTERNAL_SERVER_ERROR,
        "internal", "The cover could not be stored; the previous one stays.");
    return;
  }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "request_id");
  json_builder_add_string_value (b, job->req.request_id);
  json_builder_end_object (b);
  cover_request_respond_json (&job->req, SOUP_STATUS_OK, b);
}

static void
store_clear (CoverWork *job)
{
  StoreJob *st = (StoreJob *) job;

  g_clear_pointer (&st->image, g_bytes_unref);
  g_clear_error (&st->error);
}

void
cover_upload_handler (SoupServer *server, SoupServerMessage *msg,
    const char *path, GHashTable *query, gpointer user_data)
{
  CoverService *s = user_data;
  UploadBody *u = g_object_get_data (G_OBJECT (msg), BODY_KEY);
  g_autoptr (GHashTable) params = NULL;
  g_autoptr (GBytes) file = NULL;
  g_autoptr (GError) err = NULL;
  guint32 client_id;
  CoverRequest req;
  StoreJob *st;

  cover_request_init (&req, s, msg, COVER_ENDPOINT_UPLOAD);
  if (!cover_request_begin_device (
          &req, path, "/v2/devices/", "/snapshots", "POST", &client_id))
    return;
  params = cover_request_query_params (&req);
  if (!cover_request_authorize (&req, params, client_id, 0))
    return;
  if (!u || u->too_big) {
    respond_too_large (&req, "upload");
    return;
  }
  file = form_file (&req, u);
  if (!file)
    return;
  if (g_bytes_get_size (file) == 0) {
    cover_request_respond_error (&req, SOUP_STATUS_BAD_REQUEST, "bad_request",
        "The \"file\" field is empty.");
    return;
  }
  if (g_bytes_get_size (file) > s->config->max_upload_size) {
    respond_too_large (&req, "image");
    return;
  }
  /* the type comes from the bytes, never from the part's headers */
  if (cover_image_sniff (g_bytes_get_data (file, NULL), g_bytes_get_size (file),
          NULL, NULL, &err) == COVER_IMAGE_TYPE_UNKNOWN) {
    cover_request_respond_error (&req, SOUP_STATUS_NOT_ACCEPTABLE,
        "unsupported_image", "The file must be a JPEG or PNG image: %s",
        err->message);
    return;
  }

  if (s->upload_store) {
    cover_upload_store_start (&req, client_id, file);
    return;
  }
  st = cover_work_new (
      sizeof (StoreJob), &req, store_run, store_done, store_clear);
  st->client_id = client_id;
  st->image = g_steal_pointer (&file);
  cover_work_start (st, s->workers);
}
