/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_POOL_H__
#define __COVER_POOL_H__

#include <gst/gst.h>

G_BEGIN_DECLS

/* One keyframe on its way to becoming a cover: a picture (raw video, a
 * JPEG), a keyframe, or a recovery point and the access units after it up
 * to the picture it recovers (periodic intra refresh), in decode order. */
typedef struct
{
  GstBufferList *units; /* refs of the stream's buffers, at least one */
  gsize bytes;          /* their total size */
  GstCaps *caps;
  GstBuffer *headers; /* parameter sets to put in front, or NULL */
  guint quality;
  guint max_width;
  guint max_height;
  gint64 queued_at;    /* CLOCK_MONOTONIC µs */
  gint64 capture_time; /* wall clock µs */
  gboolean thumbnail;  /* also save the cover as a recording thumbnail */
  /* the first unit is a random access picture (H.264 IDR, H.265 IRAP; raw
   * video and JPEG, which need no decoder): it decodes alone, with the
   * cheaper decoder settings */
  gboolean random_access;
} CoverJob;

/* Takes a ref of @buffer, @caps and @headers (all transfer none; @headers
 * may be NULL), stamped with the current times (transfer full). */
CoverJob *cover_job_new (GstBuffer *buffer, GstCaps *caps, GstBuffer *headers);
/* Appends the next access unit @buffer (transfer none: a ref is taken) of a
 * run. */
void cover_job_add_unit (CoverJob *job, GstBuffer *buffer);
/* Stamps @job with the current times: a run is ready when its last unit
 * came, not its first. */
void cover_job_restamp (CoverJob *job);
void cover_job_free (CoverJob *job);

typedef struct
{
  guint64 generation;
  guint width;
  guint height;
  gsize size;
  gint64 latency; /* µs from queued_at to published */
  gint64 capture_time;
} CoverResult;

/* Called from a worker thread, holding a strong ref to the owner; never
 * after cover_stream_close() returned, unless its bounded wait timed out. */
typedef struct
{
  void (*published) (GObject *owner, const CoverResult *result);
  void (*failed) (GObject *owner, const GError *error);
  /* a thumbnail was saved (@path), or could not be (@error) */
  void (*thumbnail) (GObject *owner, const gchar *path, const GError *error);
} CoverStreamCallbacks;

/* The pool's view of one tapped stream: it owns the stream's cover segment
 * (its store writer), keeps at most one keyframe waiting (the newest), and
 * lets at most one worker on it at a time, so covers of a stream are
 * published in order. */
typedef struct _CoverStream CoverStream;

/* Opens the cover segment of @client_id in @store_dir with permission bits
 * @mode.  @owner (transfer none, held weakly) is handed to @callbacks
 * (copied).  Returns the stream (transfer full: release it with
 * cover_stream_close()), or NULL with @error set. */
CoverStream *cover_stream_new (GObject *owner, const gchar *store_dir,
    guint32 client_id, guint mode, const CoverStreamCallbacks *callbacks,
    GError **error);
/* Recording thumbnails: jobs flagged thumbnail also write their JPEG into
 * @dir (transfer none) by the coverthumbnail.h contract, then keep at most
 * @max_files (0: no limit) none older than @max_age_s seconds (0: no
 * limit).  Call before submitting. */
void cover_stream_set_thumbnails (
    CoverStream *stream, const gchar *dir, guint max_files, guint max_age_s);
/* Takes @job (transfer full).  Never blocks.  Returns TRUE when @job
 * replaced a keyframe that was still waiting for a worker. */
gboolean cover_stream_submit (CoverStream *stream, CoverJob *job);
/* Asks a worker to save the stream's last cover as a thumbnail (the
 * keyframe still waiting, if any, becomes that cover).  Never blocks; does
 * nothing without cover_stream_set_thumbnails(). */
void cover_stream_save_thumbnail (CoverStream *stream);
/* Tells readers the stream is alive (a buffer went by): called for every
 * buffer, it writes the segment's heartbeat at most every 100 ms.  No lock,
 * no allocation, no system call; one thread at a time (the streaming
 * thread). */
void cover_stream_heartbeat (CoverStream *stream);
/* Tells readers the stream ended (EOS), or started again. */
void cover_stream_set_ended (CoverStream *stream, gboolean ended);
/* Waits (at most @timeout_us) until the waiting keyframe, if any, is
 * published or failed.  Returns immediately in a worker thread. */
gboolean cover_stream_drain (CoverStream *stream, gint64 timeout_us);
/* Marks the segment ended, drops the waiting keyframe, lets a worker busy
 * with the stream finish (bounded wait) and releases @stream (transfer
 * full); the segment is closed (removed if @unlink_segment) once no worker
 * holds the stream any more. */
void cover_stream_close (CoverStream *stream, gboolean unlink_segment);

G_END_DECLS

#endif /* __COVER_POOL_H__ */
