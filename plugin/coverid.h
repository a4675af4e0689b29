/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_ID_H__
#define __COVER_ID_H__

#include <glib.h>

G_BEGIN_DECLS

/* Client ids and random ids: the one place that says what a client id
 * looks like in text (a URL path, a store file name, a config group, a
 * command line), and where random identifiers come from. */

/* The longest client id in text: "4294967295". */
#define COVER_CLIENT_ID_MAX_LEN 10

/* Parses the canonical decimal form of an unsigned 32-bit client id: digits
 * only, no sign, no blanks, no leading zero ("0" itself is fine), at most
 * 4294967295.  So every id has exactly one spelling, and "042" is refused
 * everywhere.  @len: bytes of @text to read, or -1 for NUL-terminated.
 * Returns FALSE (and leaves *@id alone) for anything else. */
gboolean cover_client_id_parse (const gchar *text, gssize len, guint32 *id);

/* Fills @buf with @size bytes from the kernel's random source (getrandom);
 * aborts if it cannot, as a secret must never be guessable. */
void cover_random_fill (gpointer buf, gsize size);
/* @n_bytes random bytes as 2 * @n_bytes lowercase hex digits
 * (transfer full). */
gchar *cover_random_hex (gsize n_bytes);

/* The wait before attempt @failures + 1 of something that failed @failures
 * times (>= 1): @min_wait doubled per further failure up to @max_wait,
 * then a random part of that (half to all), so that peers that failed
 * together (cameras behind one switch, nodes of one Redis) do not all come
 * back at once.  Any unit; @min_wait <= @max_wait. */
gint64 cover_random_backoff (gint64 min_wait, gint64 max_wait, guint failures);

G_END_DECLS

#endif /* __COVER_ID_H__ */
