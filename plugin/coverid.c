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

#include "coverid.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

gboolean
cover_client_id_parse (const gchar *text, gssize len, guint32 *id)
{
  guint64 v = 0;
  gsize i, n;

  g_return_val_if_fail (id != NULL, FALSE);

  if (text == NULL)
    return FALSE;
  n = len < 0 ? strnlen (text, COVER_CLIENT_ID_MAX_LEN + 1) : (gsize) len;
  if (n == 0 || n > COVER_CLIENT_ID_MAX_LEN || (text[0] == '0' && n > 1))
    return FALSE;
  for (i = 0; i < n; i++) {
    if (!g_ascii_isdigit (text[i]))
      return FALSE;
    v = v * 10 + g_ascii_digit_value (text[i]);
  }
  if (v > G_MAXUINT32)
    return FALSE;
  *id = (guint32) v;
  return TRUE;
}

void
cover_random_fill (gpointer buf, gsize size)
{
  guint8 *p = buf;

  g_return_if_fail (buf != NULL || size == 0);

  while (size > 0) {
    ssize_t n = getrandom (p, size, 0);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      g_error ("getrandom failed: %s", g_strerror (errno));
    p += n;
    size -= n;
  }
}

gchar *
cover_random_hex (gsize n_bytes)
{
  g_autofree guint8 *bytes = g_malloc (n_bytes);
  gchar *hex = g_malloc (2 * n_bytes + 1);
  gsize i;

  cover_random_fill (bytes, n_bytes);
  for (i = 0; i < n_bytes; i++) {
    hex[2 * i] = "0123456789abcdef"[bytes[i] >> 4];
    hex[2 * i + 1] = "0123456789abcdef"[bytes[i] & 0xf];
  }
  hex[2 * n_bytes] = '\0';
  return hex;
}

gint64
cover_random_backoff (gint64 min_wait, gint64 max_wait, guint failures)
{
  gint64 d = MAX (min_wait, 1);
  guint32 r;

  g_return_val_if_fail (min_wait <= max_wait, max_wait);

  for (guint i = 1; i < failures && d < max_wait; i++)
    d *= 2;
  d = MIN (d, max_wait);
  cover_random_fill (&r, sizeof (r));
  return d - (gint64) ((d / 2) * (r / (gdouble) G_MAXUINT32));
}
