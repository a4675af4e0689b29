/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* What the end-to-end tests share: child processes that die with the test,
 * bounded waits for them, and removing what they left. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "e2e-util.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>

/* children die with the test, also when an assertion aborts it (they
 * would otherwise keep the test's output pipes open) */
void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

void
rm_rf (const gchar *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  if (dir) {
    while ((name = g_dir_read_name (dir))) {
      g_autofree gchar *child = g_build_filename (path, name, NULL);

      rm_rf (child);
    }
  }
  g_remove (path);
}

/* Waits for @proc (bounded); its exit status, or -1 when it had to be
 * killed. */
gint
wait_child (GSubprocess *proc, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline) {
    /* GLib's worker thread reaps the child; then the identifier is NULL */
    if (!g_subprocess_get_identifier (proc))
      return g_subprocess_get_if_exited (proc)
          ? g_subprocess_get_exit_status (proc)
          : 128 + g_subprocess_get_term_sig (proc);
    g_usleep (20 * 1000);
  }
  g_subprocess_force_exit (proc);
  g_subprocess_wait (proc, NULL, NULL);
  return -1;
}
