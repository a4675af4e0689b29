/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Child processes of the tests (coversnapd, gst-launch-1.0 pushers,
 * coversnap-cat, coversnap-token): they die with the test, also when an
 * assertion aborts it (they would otherwise keep its output pipes open and
 * meson waiting); every wait for one is bounded; a tool run to its end
 * hands back its status and output.  GIO only. */

#ifndef __CS_TEST_PROC_H__
#define __CS_TEST_PROC_H__

#include <gio/gio.h>

G_BEGIN_DECLS

/* A GSpawnChildSetupFunc: the child gets SIGKILL when the test dies. */
void cs_test_die_with_parent (gpointer user_data);

/* A launcher with @flags whose children die with the test; set more on it
 * before spawning (transfer full). */
GSubprocessLauncher *cs_test_launcher_new (GSubprocessFlags flags);

/* Spawns @argv (NULL-terminated) with cs_test_launcher_new (@flags); @envp
 * replaces the environment unless NULL; stdout / stderr go to the files
 * @stdout_path / @stderr_path unless NULL.  Returns the process (transfer
 * full), or NULL with @error set. */
GSubprocess *cs_test_spawnv (GSubprocessFlags flags, const gchar *const *envp,
    const gchar *stdout_path, const gchar *stderr_path,
    const gchar *const *argv, GError **error);

/* Waits for @proc, at most @timeout_s; returns its exit status, 128 + the
 * signal that ended it, or -1 when it had to be killed (SIGKILL, then
 * reaped) because it did not end in time; before the kill, the stacks of
 * its threads go to stderr (gdb, when installed).  Needs no main loop: GLib's
 * worker thread reaps the child. */
gint cs_test_wait_child (GSubprocess *proc, guint timeout_s);
/* Ends @proc with SIGKILL (also a stopped one) and reaps it; nothing when
 * it has already exited. */
void cs_test_kill_child (GSubprocess *proc);

/* What a tool run to its end said. */
typedef struct
{
  gint status; /* exit status, or -1 when a signal ended it */
  GBytes *out; /* stdout, or NULL when it went to a file */
  gchar *err;  /* stderr, "" when empty */
} CsTestRun;

/* Runs @argv (NULL-terminated) to its end, feeding @stdin_text (NULL:
 * nothing); stdout goes to @stdout_path instead of @run->out when not
 * NULL.  Fails the test when it cannot be run.  Clear @run with
 * cs_test_run_clear(). */
void cs_test_run (CsTestRun *run, const gchar *const *argv,
    const gchar *stdin_text, const gchar *stdout_path);
void cs_test_run_clear (CsTestRun *run);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CsTestRun, cs_test_run_clear);

G_END_DECLS

#endif /* __CS_TEST_PROC_H__ */
