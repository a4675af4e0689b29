/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Without libFuzzer: runs a harness over every file of the directories
 * (or files) on the command line, so that the seed corpus is a regression
 * test of the normal suite. */

#include <glib.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
run_file (const gchar *path)
{
  g_autofree gchar *data = NULL;
  gsize len;

  if (!g_file_get_contents (path, &data, &len, NULL))
    g_error ("cannot read %s", path);
  LLVMFuzzerTestOneInput ((const uint8_t *) data, len);
  g_print ("ok %s\n", path);
}

int
main (int argc, char **argv)
{
  int i;

  for (i = 1; i < argc; i++) {
    g_autoptr (GDir) dir = g_dir_open (argv[i], 0, NULL);
    const gchar *name;

    if (!dir) {
      run_file (argv[i]);
      continue;
    }
    while ((name = g_dir_read_name (dir))) {
      g_autofree gchar *path = g_build_filename (argv[i], name, NULL);

      run_file (path);
    }
  }
  return 0;
}
