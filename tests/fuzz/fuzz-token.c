/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The device token as a client sends it: cover_token_parse(), then
 * cover_token_authorize() against a table of two applications. */

#include <stdint.h>

#include "cover-token.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static CoverAppTable *apps;

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree gchar *text = g_strndup ((const gchar *) data, size);
  CoverToken token;

  if (!apps) {
    apps = cover_app_table_new ();
    g_assert_true (cover_app_table_add (
        apps, "a", "topvdn-app-key", "10000000-10999999,42", NULL));
    g_assert_true (cover_app_table_add (apps, "b", "lab", "7", NULL));
  }
  cover_token_parse (text, &token);
  cover_token_authorize (apps, text, 42, "127.0.0.1", 1700000000, 0, NULL);
  return 0;
}
