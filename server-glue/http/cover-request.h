/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_REQUEST_H__
#define __COVER_REQUEST_H__

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "cover-metrics.h"
#include "cover-service.h"

G_BEGIN_DECLS

/* One request being answered: its id (the X-Request-ID header and the
 * request_id of any JSON body) and what it is counted as.  Plain data, so a
 * job can carry a copy to a worker and back. */
typedef struct
{
  CoverService *service;
  SoupServerMessage *msg;
  gchar request_id[33]; /* 32 lowercase hex digits */
  CoverEndpoint endpoint;
  const gchar *source; /* for metrics: live/record/upload/none */
} CoverRequest;

/* Gives the request its id and sets the X-Request-ID header. */
void cover_request_init (CoverRequest *req, CoverService *service,
    SoupServerMessage *msg, CoverEndpoint endpoint);
/* Counts the answer; every respond_*() does, so call it only for answers
 * made otherwise. */
void cover_request_count (CoverRequest *req, guint status);

/* The first steps of the device endpoints: @path must be @prefix ID
 * @suffix (else 404 not_found), the method one of @allow ("GET, HEAD";
 * else 405 with Allow), ID a client id (else 400 bad_client_id).  Returns
 * FALSE when it answered the request. */
gboolean cover_request_begin_device (CoverRequest *req, const gchar *path,
    const gchar *prefix, const gchar *suffix, const gchar *allow,
    guint32 *client_id);
/* The query parameters (transfer full), or NULL when there are none. */
GHashTable *cover_request_query_params (CoverRequest *req);
/* The device token of the request (the client_token parameter, else the
 * X-Client-Token header) checked by cover_token_authorize() for
 * @client_id and @required_control.  Answers 401/403 itself and returns
 * FALSE when the request may not go on. */
gboolean cover_request_authorize (CoverRequest *req, GHashTable *params,
    guint32 client_id, guint32 required_control);

void cover_request_respond_json (
    CoverRequest *req, guint status, JsonBuilder *builder);
/* {"request_id": ..., "error": @code, "message": sentence} */
void cover_request_respond_error (CoverRequest *req, guint status,
    const gchar *code, const gchar *format, ...) G_GNUC_PRINTF (4, 5);
void cover_request_respond_method_not_allowed (
    CoverRequest *req, const gchar *allow);
/* Sends the answer set on the message now, without reading the request's
 * body, and closes the connection (an early handler's refusal). */
void cover_request_send_now_and_close (CoverRequest *req);
/* 404 not_found, counted as the "other" endpoint */
void cover_request_respond_not_found (CoverRequest *req);
/* The picture with its ETag, Last-Modified and X-Cover-Source, or 304 when
 * If-None-Match names it.  The body shares the picture's bytes. */
void cover_request_respond_picture (CoverRequest *req, CoverPicture *picture);

G_END_DECLS

#endif /* __COVER_REQUEST_H__ */
