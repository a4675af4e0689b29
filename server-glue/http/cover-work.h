/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_WORK_H__
#define __COVER_WORK_H__

#include "cover-request.h"

G_BEGIN_DECLS

/* Work that may block (a resize: decode, scale, encode; an upload: write,
 * fsync, rename) done off the main context while its message is paused:
 * run() in a worker thread, then done() back on the main context that
 * received the request, which answers it (unless the client went away).
 * A job type embeds CoverWork first and frees its own fields in clear(). */
typedef struct _CoverWork CoverWork;
typedef void (*CoverWorkFunc) (CoverWork *job);

struct _CoverWork
{
  CoverRequest req;
  /* private */
  GMainContext *context;
  gboolean finished; /* the client went away: answer nobody */
  gulong finished_id;
  CoverWorkFunc run;
  CoverWorkFunc done;
  CoverWorkFunc clear;
};

/* The pool the service's jobs run in. */
GThreadPool *cover_work_pool_new (guint threads, GError **error);
/* A zeroed job of @size bytes for @req, on the caller's thread-default main
 * context (transfer full: to cover_work_start()).  @clear may be NULL. */
gpointer cover_work_new (gsize size, const CoverRequest *req, CoverWorkFunc run,
    CoverWorkFunc done, CoverWorkFunc clear);
/* Pauses the message and hands @job (transfer full) to @pool. */
void cover_work_start (gpointer job, GThreadPool *pool);

G_END_DECLS

#endif /* __COVER_WORK_H__ */
