/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The upload path after the headers: the form (our boundary handling and
 * libsoup's multipart parser), then the sniff of the file.  Input: the
 * Content-Type line, a newline, the body. */

#include <libsoup/soup.h>
#include <stdint.h>
#include <string.h>

#include "cover-image.h"
#include "cover-upload.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const uint8_t *nl = memchr (data, '\n', MIN (size, 512));
  g_autoptr (SoupMessageHeaders) h =
      soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autofree gchar *type = NULL;
  g_autoptr (GBytes) file = NULL;
  const gchar *why = NULL;
  gsize body;

  if (!nl)
    return 0;
  type = g_strndup ((const gchar *) data, nl - data);
  /* what an HTTP parser can hand over as a header value: no CR (libsoup
   * refuses it with a critical), valid UTF-8 */
  if (!g_utf8_validate (type, -1, NULL) || strchr (type, '\r'))
    return 0;
  soup_message_headers_replace (h, "Content-Type", type);
  body = size - (nl + 1 - data);
  file = cover_upload_form_file (h, nl + 1, body, &why);
  if (file)
    cover_image_sniff (g_bytes_get_data (file, NULL), g_bytes_get_size (file),
        NULL, NULL, NULL);
  else
    g_assert_nonnull (why);
  return 0;
}
