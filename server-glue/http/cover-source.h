/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_SOURCE_H__
#define __COVER_SOURCE_H__

#include <glib.h>

G_BEGIN_DECLS

/* What a cover is served as (the X-Cover-Source header, the metrics). */
typedef enum
{
  COVER_SOURCE_LIVE,
  COVER_SOURCE_RECORD,
  COVER_SOURCE_UPLOAD,
} CoverSourceKind;

const gchar *cover_source_kind_to_string (CoverSourceKind kind);

/* A source's failure the service answers with 503 `unavailable` and
 * Retry-After instead of 500 `internal`, without a warning of its own: the
 * store behind the source cannot be reached now (the cluster's registry
 * down), which the source logs once per outage, not per request. */
#define COVER_SOURCE_ERROR (cover_source_error_quark ())
GQuark cover_source_error_quark (void);

typedef enum
{
  COVER_SOURCE_ERROR_UNAVAILABLE,
} CoverSourceError;

/* One cover as a source hands it out: immutable and reference counted, so
 * every HTTP thread can serve the same bytes without copying them. */
typedef struct _CoverPicture CoverPicture;

/* @data (transfer none: a reference is taken) is a JPEG or PNG, its type
 * read from its magic bytes; @etag is strong, with its quotes;
 * @last_modified in Unix seconds.  Returns (transfer full). */
CoverPicture *cover_picture_new (GBytes *data, const gchar *etag,
    gint64 last_modified, CoverSourceKind kind);
/* Returns @picture (transfer full: one more reference). */
CoverPicture *cover_picture_ref (CoverPicture *picture);
void cover_picture_unref (CoverPicture *picture);
/* The picture's ETag (transfer none). */
const gchar *cover_picture_get_etag (CoverPicture *picture);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CoverPicture, cover_picture_unref);

/* Returns the client's picture (transfer full), NULL without an error when
 * the source has nothing for the client, NULL with @error when it failed
 * (the service logs it and asks the next source).  Called from any HTTP
 * thread: it must be thread-safe and not block beyond a bounded read. */
typedef CoverPicture *(*CoverSourceLookupFunc) (
    gpointer user_data, guint32 client_id, GError **error);

/* Where a cover comes from: the service asks its sources in order and the
 * first one with a picture wins. */
typedef struct _CoverSource CoverSource;

/* @name (static: "live", "record", ...) is for logs.  @user_data is passed
 * to @lookup and freed with @user_data_free along with the source.
 * Returns (transfer full). */
CoverSource *cover_source_new (const gchar *name, CoverSourceLookupFunc lookup,
    gpointer user_data, GDestroyNotify user_data_free);
/* As the source's lookup function (transfer full). */
CoverPicture *cover_source_lookup (
    CoverSource *source, guint32 client_id, GError **error);
const gchar *cover_source_get_name (CoverSource *source);
void cover_source_free (CoverSource *source);

/* Asynchronous sources (the cluster's registry): the answer comes later,
 * on the main context of the server that received the request, and may be
 * a redirect instead of a picture. */

/* What an asynchronous source is told about the request (valid during the
 * lookup call only: copy what is kept). */
typedef struct
{
  guint32 client_id;
  /* the request's path and query as the client sent them (e.g.
   * "/v2/snapshots/7/cover?width=64&client_token=..."), for a redirect or
   * a proxied fetch */
  const gchar *path_and_query;
  /* the X-Client-Token header, or NULL */
  const gchar *token_header;
  /* where the reply must be called (the server's main context) */
  GMainContext *context;
} CoverSourceQuery;

/* The reply of an asynchronous source, called once, on @query's context,
 * never from inside the lookup call: @picture (transfer full) when it has
 * one; else @location, an absolute URL the client is sent to with 302;
 * else neither (nothing here, the next source is asked), with @error
 * (transfer none) when the source failed. */
typedef void (*CoverSourceReplyFunc) (CoverPicture *picture,
    const gchar *location, const GError *error, gpointer reply_data);
typedef void (*CoverSourceLookupAsyncFunc) (gpointer user_data,
    const CoverSourceQuery *query, CoverSourceReplyFunc reply,
    gpointer reply_data);

/* As cover_source_new(), for a source that answers later.  The service
 * pauses the request while it waits.  Returns (transfer full). */
CoverSource *cover_source_new_async (const gchar *name,
    CoverSourceLookupAsyncFunc lookup, gpointer user_data,
    GDestroyNotify user_data_free);
/* Whether @source was made by cover_source_new_async(); the synchronous
 * cover_source_lookup() of such a source finds nothing. */
gboolean cover_source_is_async (CoverSource *source);
void cover_source_lookup_async (CoverSource *source,
    const CoverSourceQuery *query, CoverSourceReplyFunc reply,
    gpointer reply_data);

G_END_DECLS

#endif /* __COVER_SOURCE_H__ */
