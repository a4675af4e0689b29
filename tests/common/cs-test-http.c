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

#include "cs-test-http.h"

#include <string.h>

SoupSession *
cs_test_session_new (guint timeout_s)
{
  /* a proxy of the environment would answer for 127.0.0.1 */
  return soup_session_new_with_options (
      "timeout", timeout_s, "proxy-resolver", NULL, NULL);
}

SoupMessage *
cs_test_upload_message (const gchar *uri, const gchar *name,
    const gchar *filename, const gchar *part_type, GBytes *file)
{
  SoupMultipart *mp;
  SoupMessage *msg;

  g_return_val_if_fail (uri != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (file != NULL, NULL);

  mp = soup_multipart_new (SOUP_FORM_MIME_TYPE_MULTIPART);
  soup_multipart_append_form_file (mp, name, filename, part_type, file);
  msg = soup_message_new_from_multipart (uri, mp);
  soup_multipart_free (mp);
  g_assert_nonnull (msg);
  return msg;
}

GBytes *
cs_test_multipart_body (const gchar *boundary, const gchar *name,
    const gchar *filename, const gchar *part_type, GBytes *data, gboolean close)
{
  GByteArray *b;
  g_autofree gchar *head = NULL;

  g_return_val_if_fail (boundary != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  b = g_byte_array_new ();
  head = g_strdup_printf ("--%s\r\nContent-Disposition: form-data; "
                          "name=\"%s\"%s%s%s\r\n%s%s%s\r\n",
      boundary, name, filename ? "; filename=\"" : "", filename ? filename : "",
      filename ? "\"" : "", part_type ? "Content-Type: " : "",
      part_type ? part_type : "", part_type ? "\r\n" : "");
  g_byte_array_append (b, (const guint8 *) head, strlen (head));
  if (data)
    g_byte_array_append (
        b, g_bytes_get_data (data, NULL), g_bytes_get_size (data));
  if (close) {
    g_autofree gchar *tail = g_strdup_printf ("\r\n--%s--\r\n", boundary);

    g_byte_array_append (b, (const guint8 *) tail, strlen (tail));
  }
  return g_byte_array_free_to_bytes (b);
}
