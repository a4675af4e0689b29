/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Helpers shared by the covertap functional tests: temporary stores, running
 * pipelines to their end with the bus messages they posted, reading covers
 * back through the core reader and looking at their pixels. */

#ifndef __COVERTAP_UTIL_H__
#define __COVERTAP_UTIL_H__

#include <gst/check/gstcheck.h>

#include "coverjpeg.h"
#include "coverstore.h"
#include "cs-test-gst.h"
#include "cs-test-image.h"
#include "cs-test-proc.h"
#include "cs-test-util.h"

G_BEGIN_DECLS

/* How long a test waits for anything at most; generous on purpose: these
 * bounds only stop a broken test, they are not measurements. */
#define CT_TIMEOUT_US (60 * G_USEC_PER_SEC)
/* live timeout handed to the reader */
#define CT_LIVE_TIMEOUT_US (10 * G_USEC_PER_SEC)

/* an x264enc that is quick on small frames, with a keyframe every @k */
#define CT_X264(k) "x264enc speed-preset=ultrafast key-int-max=" #k " "
#define CT_X265(k) "x265enc speed-preset=ultrafast key-int-max=" #k " "
#define CT_I420(w, h)                                                          \
  "video/x-raw,format=I420,width=" #w ",height=" #h ",framerate=30/1"

/* Temporary directories live under one root per test program, made before
 * the suite runs and removed after it: a failing test exits at once (in its
 * forked process) and cannot clean up after itself (tests/common). */
#define ct_make_tmpdir() cs_test_make_tmpdir ("store-XXXXXX")
#define ct_remove_tmpdir cs_test_tmpdir_free
#define ct_tmp_root_init() cs_test_tmp_root_new ("coversnap-elements-XXXXXX")
#define ct_tmp_root_remove cs_test_tmp_root_remove

/* GST_CHECK_MAIN with a temporary root around the suite. */
#define CT_CHECK_MAIN(name)                                                    \
  int main (int argc, char **argv)                                             \
  {                                                                            \
    Suite *s;                                                                  \
    int failed;                                                                \
    gst_check_init (&argc, &argv);                                             \
    ct_tmp_root_init ();                                                       \
    s = name##_suite ();                                                       \
    failed = gst_check_run_suite (s, #name, __FILE__);                         \
    ct_tmp_root_remove ();                                                     \
    return failed;                                                             \
  }

typedef struct
{
  GPtrArray *published; /* GstStructure copies of covertap-published */
  GPtrArray *warnings;  /* GstMessage refs of WARNING messages */
  GstMessage *error;    /* the first ERROR, or NULL */
  gboolean eos;
} CtBusLog;

void ct_bus_log_init (CtBusLog *log);
void ct_bus_log_clear (CtBusLog *log);
/* Handles one bus message; returns TRUE when it ends the run (EOS/ERROR). */
gboolean ct_bus_log_add (CtBusLog *log, GstMessage *msg);

/* Plays @pipeline until EOS or ERROR (bounded), logging the bus, and leaves
 * it PLAYING (the caller sets it to NULL: a test may look at the store
 * before the element stops). */
void ct_play_to_end (GstElement *pipeline, CtBusLog *log);

/* gst_parse_launch + ct_play_to_end + NULL state; fails the test on an
 * ERROR or when EOS never comes. */
void ct_run_launch (const gchar *description, CtBusLog *log);

typedef struct
{
  CoverInfo info;
  GBytes *jpeg;
  guint8 *rgb; /* decoded, packed RGB */
  guint width;
  guint height;
} CtCover;

/* Reads the current cover of @client_id and decodes it, failing the test
 * when there is none or it is not a valid JPEG of the size the store says.
 * With CT_DUMP_COVER=FILE in the environment it also writes the JPEG there,
 * to look at when a colour check fails. */
void ct_read_cover (const gchar *dir, guint32 client_id, CtCover *cover);
void ct_cover_clear (CtCover *cover);

/* Mean RGB over the rectangle [x0,x1) x [y0,y1), given as fractions of the
 * picture so the same call works at any cover size. */
void ct_cover_mean (const CtCover *cover, gdouble fx0, gdouble fy0, gdouble fx1,
    gdouble fy1, gdouble mean[3]);

/* Fails unless the mean colour of the region is within @tol of @rgb. */
void ct_assert_region_colour (const CtCover *cover, gdouble fx0, gdouble fy0,
    gdouble fx1, gdouble fy1, const guint8 rgb[3], gdouble tol,
    const gchar *what);

/* Polls covertap until covers-published reaches @published or
 * keyframes-failed goes past @failed (bounded), so that a keyframe that
 * cannot be made into a cover fails a test at once.  Returns
 * covers-published. */
guint64 ct_wait_cover (
    GstElement *tap, guint64 published, guint64 failed, gint64 timeout_us);

/* Frame painter for ct_push_raw_frames: fills packed RGB (stride 3*w). */
typedef void (*CtPaintFunc) (
    guint index, guint8 *rgb, guint width, guint height, gpointer user_data);

/* Pushes @n RGB frames of @width x @height at 30 fps into @appsrc, then
 * EOS. */
void ct_push_raw_frames (GstElement *appsrc, guint n, guint width, guint height,
    CtPaintFunc paint, gpointer user_data);

/* The same with non-square pixels. */
void ct_push_raw_frames_par (GstElement *appsrc, guint n, guint width,
    guint height, gint par_n, gint par_d, CtPaintFunc paint,
    gpointer user_data);

/* Paints horizontal bands, top to bottom, one colour each. */
void ct_paint_bands (guint8 *rgb, guint width, guint height,
    const guint8 (*colours)[3], guint n);

/* Calls @func for every NAL unit of an Annex B byte-stream @data (the
 * offset and size of the NAL unit, start code excluded). */
typedef void (*CtNalFunc) (
    const guint8 *data, gsize offset, gsize size, gpointer user_data);
void ct_walk_annexb (
    const guint8 *data, gsize size, CtNalFunc func, gpointer user_data);

/* NAL unit type of the NAL unit starting at @nal. */
guint ct_h264_nal_type (const guint8 *nal);
guint ct_h265_nal_type (const guint8 *nal);

G_END_DECLS

#endif /* __COVERTAP_UTIL_H__ */
