/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The HTTP client side of the tests that talk to a cover service (the
 * in-process one of glue-http, coversnapd of e2e): a libsoup session that
 * goes straight to 127.0.0.1, and uploads: the form libsoup builds, or a
 * multipart body written byte by byte for what libsoup would not send. */

#ifndef __CS_TEST_HTTP_H__
#define __CS_TEST_HTTP_H__

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* A session with a @timeout_s and no proxy, whatever the environment names
 * (transfer full). */
SoupSession *cs_test_session_new (guint timeout_s);

/* A POST of @uri with a multipart/form-data body holding @file as the
 * part @name, with @filename and @part_type, as a browser or curl -F
 * sends it (transfer full). */
SoupMessage *cs_test_upload_message (const gchar *uri, const gchar *name,
    const gchar *filename, const gchar *part_type, GBytes *file);

/* A multipart body written by hand: one part @name (with @filename and a
 * Content-Type @part_type unless NULL) holding @data (NULL: empty), then
 * the closing boundary when @close (transfer full). */
GBytes *cs_test_multipart_body (const gchar *boundary, const gchar *name,
    const gchar *filename, const gchar *part_type, GBytes *data,
    gboolean close);

G_END_DECLS

#endif /* __CS_TEST_HTTP_H__ */
