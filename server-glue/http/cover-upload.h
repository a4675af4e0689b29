/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_UPLOAD_H__
#define __COVER_UPLOAD_H__

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* POST /v2/devices/{client_id}/snapshots, both handlers on the same path:
 * the early one refuses a declared oversized body before it is read and
 * counts the body as it comes; the other checks the form and the image and
 * stores it durably in a worker.  @user_data: the CoverService. */
void cover_upload_early_handler (SoupServer *server, SoupServerMessage *msg,
    const char *path, GHashTable *query, gpointer user_data);
void cover_upload_handler (SoupServer *server, SoupServerMessage *msg,
    const char *path, GHashTable *query, gpointer user_data);

/* The "file" field of the multipart/form-data @data (@request: the
 * request's headers), transfer full; NULL with the client's sentence in
 * @why.  A body framed by a declared boundary other than the first is
 * accepted (curl sends two); an undeclared one, or a prefix of a declared
 * one, is not. */
GBytes *cover_upload_form_file (SoupMessageHeaders *request, const guint8 *data,
    gsize size, const gchar **why);
/* @data with a NUL after its @size bytes and one before them (the bytes'
 * size stays @size): libsoup's parser reads the body as a string, and looks
 * behind its start. */
GBytes *cover_upload_terminated_body (const guint8 *data, gsize size);
/* Removes what crashed uploads (in @upload_dir) and crashed thumbnail saves
 * (in the device directories of @thumbnail_dir, may be NULL) left behind:
 * only temporary names of ours, older than COVER_TEMP_SWEEP_AGE_S, never
 * through a link.  At service start; an upload sweeps its device's. */
void cover_upload_sweep (const gchar *upload_dir, const gchar *thumbnail_dir);

G_END_DECLS

#endif /* __COVER_UPLOAD_H__ */
