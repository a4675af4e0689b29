/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Pausing: the work goes to the pool, the answer comes back to the main
 * context of the message (libsoup's rule: a message is touched only there),
 * as libsoup's own tests do it. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-work.h"

static void
on_message_finished (SoupServerMessage *msg, CoverWork *job)
{
  job->finished = TRUE;
}

gpointer
cover_work_new (gsize size, const CoverRequest *req, CoverWorkFunc run,
    CoverWorkFunc done, CoverWorkFunc clear)
{
  CoverWork *job;

  g_return_val_if_fail (size >= sizeof (CoverWork), NULL);
  g_return_val_if_fail (req != NULL, NULL);
  g_return_val_if_fail (run != NULL && done != NULL, NULL);

  job = g_malloc0 (size);
  job->req = *req;
  g_object_ref (job->req.msg);
  job->context = g_main_context_ref_thread_default ();
  job->run = run;
  job->done = done;
  job->clear = clear;
  job->finished_id = g_signal_connect (
      job->req.msg, "finished", G_CALLBACK (on_message_finished), job);
  return job;
}

static void
job_free (CoverWork *job)
{
  if (job->clear)
    job->clear (job);
  g_signal_handler_disconnect (job->req.msg, job->finished_id);
  g_object_unref (job->req.msg);
  g_main_context_unref (job->context);
  g_free (job);
}

static gboolean
job_done_in_context (gpointer data)
{
  CoverWork *job = data;

  if (!job->finished) {
    job->done (job);
    soup_server_message_unpause (job->req.msg);
  }
  return G_SOURCE_REMOVE;
}

static void
worker_run (gpointer data, gpointer user_data)
{
  CoverWork *job = data;

  job->run (job);
  g_main_context_invoke_full (job->context, G_PRIORITY_DEFAULT,
      job_done_in_context, job, (GDestroyNotify) job_free);
}

GThreadPool *
cover_work_pool_new (guint threads, GError **error)
{
  return g_thread_pool_new (worker_run, NULL, threads, FALSE, error);
}

void
cover_work_start (gpointer data, GThreadPool *pool)
{
  CoverWork *job = data;

  g_return_if_fail (job != NULL);
  g_return_if_fail (pool != NULL);

  soup_server_message_pause (job->req.msg);
  g_thread_pool_push (pool, job, NULL);
}
