/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* cover_config_load_key_file() on fuzzed key-file text: a refusal always
 * says why. */

#include <stdint.h>

#include "cover-config.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (CoverConfig) config = cover_config_new ();
  g_autoptr (GError) err = NULL;

  if (!g_key_file_load_from_data (
          file, (const gchar *) data, size, G_KEY_FILE_NONE, NULL))
    return 0;
  if (!cover_config_load_key_file (config, file, &err))
    g_assert_nonnull (err);
  return 0;
}
