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

#include "cs-test-proc.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cs-test-util.h"

void
cs_test_die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  /* where Yama restricts ptrace to ancestors, the gdb of dump_stacks() (a
   * sibling) may still attach; EINVAL without Yama, nothing to do */
  prctl (PR_SET_PTRACER, PR_SET_PTRACER_ANY);
}

GSubprocessLauncher *
cs_test_launcher_new (GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_set_child_setup (
      launcher, cs_test_die_with_parent, NULL, NULL);
  return launcher;
}

GSubprocess *
cs_test_spawnv (GSubprocessFlags flags, const gchar *const *envp,
    const gchar *stdout_path, const gchar *stderr_path,
    const gchar *const *argv, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;

  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);

  launcher = cs_test_launcher_new (flags);
  if (envp)
    g_subprocess_launcher_set_environ (launcher, (gchar **) envp);
  if (stdout_path)
    g_subprocess_launcher_set_stdout_file_path (launcher, stdout_path);
  if (stderr_path)
    g_subprocess_launcher_set_stderr_file_path (launcher, stderr_path);
  return g_subprocess_launcher_spawnv (launcher, argv, error);
}

static gboolean
child_gone (gpointer proc)
{
  /* the identifier goes when GLib's worker thread has reaped the child */
  return g_subprocess_get_identifier (proc) == NULL;
}

/* What every thread of a hung child was doing, on the test's stderr
 * before it is killed: a hang seen once on a loaded CI machine is then a
 * stack, not a timeout.  gdb is optional (the note says when it is not
 * there); it writes straight to stderr (what it printed stays when meson
 * kills the test meanwhile) and is bounded to 20 s. */
static void
dump_stacks (const gchar *pid)
{
  const gchar *argv[] = { "timeout", "-s", "KILL", "20", "gdb", "-p", pid,
    "-batch", "-nx", "-iex", "set debuginfod enabled off", "-ex",
    "set pagination off", "-ex", "thread apply all bt", NULL };
  g_autofree gchar *gdb = g_find_program_in_path ("gdb");
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GError) err = NULL;

  if (!gdb) {
    g_printerr ("# (no gdb: no stacks of the hung process %s)\n", pid);
    return;
  }
  g_printerr ("# process %s did not end in time; its threads:\n", pid);
  /* stdout too goes to stderr: the test's stdout may be TAP */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_take_stdout_fd (launcher, dup (STDERR_FILENO));
  proc = g_subprocess_launcher_spawnv (launcher, argv, &err);
  if (!proc || !g_subprocess_wait (proc, NULL, &err))
    g_printerr ("# gdb: %s\n", err->message);
}

gint
cs_test_wait_child (GSubprocess *proc, guint timeout_s)
{
  const gchar *pid;

  g_return_val_if_fail (G_IS_SUBPROCESS (proc), -1);

  if (cs_test_poll (child_gone, proc, timeout_s * G_USEC_PER_SEC, 20000))
    return g_subprocess_get_if_exited (proc)
        ? g_subprocess_get_exit_status (proc)
        : 128 + g_subprocess_get_term_sig (proc);
  pid = g_subprocess_get_identifier (proc);
  if (pid)
    dump_stacks (pid);
  cs_test_kill_child (proc);
  return -1;
}

void
cs_test_kill_child (GSubprocess *proc)
{
  g_return_if_fail (G_IS_SUBPROCESS (proc));

  if (!g_subprocess_get_identifier (proc))
    return;
  g_subprocess_force_exit (proc);
  g_subprocess_wait (proc, NULL, NULL);
}

void
cs_test_run (CsTestRun *run, const gchar *const *argv, const gchar *stdin_text,
    const gchar *stdout_path)
{
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDERR_PIPE;
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GBytes) in = NULL;
  g_autoptr (GBytes) err_bytes = NULL;
  g_autoptr (GError) err = NULL;

  g_return_if_fail (run != NULL);
  g_return_if_fail (argv != NULL && argv[0] != NULL);

  memset (run, 0, sizeof (*run));
  if (!stdout_path)
    flags |= G_SUBPROCESS_FLAGS_STDOUT_PIPE;
  if (stdin_text) {
    flags |= G_SUBPROCESS_FLAGS_STDIN_PIPE;
    in = g_bytes_new (stdin_text, strlen (stdin_text));
  }
  proc = cs_test_spawnv (flags, NULL, stdout_path, NULL, argv, &err);
  g_assert_no_error (err);
  g_assert_true (g_subprocess_communicate (
      proc, in, NULL, stdout_path ? NULL : &run->out, &err_bytes, &err));
  g_assert_no_error (err);
  run->status = g_subprocess_get_if_exited (proc)
      ? g_subprocess_get_exit_status (proc)
      : -1;
  run->err = cs_test_bytes_to_string (err_bytes);
}

void
cs_test_run_clear (CsTestRun *run)
{
  g_return_if_fail (run != NULL);

  g_clear_pointer (&run->out, g_bytes_unref);
  g_clear_pointer (&run->err, g_free);
}
