/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_THUMBNAIL_H__
#define __COVER_THUMBNAIL_H__

#include <glib.h>

G_BEGIN_DECLS

/* Recording thumbnails: the one contract between the writer (covertap's
 * workers), the readers (the HTTP record source) and whoever lays out a
 * stream's directories (the ingest).
 *
 *   <thumbnail-dir>/<client_id>/<YYYYMMDD>T<HHMMSS>.<mmm>Z.jpg
 *
 * named by capture time in UTC (".<mmm>" may be absent in files written by
 * hand), written to a hidden temporary file and renamed into place, so a
 * reader sees a whole JPEG or nothing.  Anything else in the directory
 * (hidden files, other names) is not a thumbnail and is ignored. */

/* <base>/<client_id> (transfer full) */
gchar *cover_thumbnail_dir (const gchar *base, guint32 client_id);
/* The file name for a capture time, µs since the epoch (transfer full). */
gchar *cover_thumbnail_name (gint64 capture_time);
/* Whether @name is a thumbnail's name; its capture time (µs) if so. */
gboolean cover_thumbnail_name_parse (const gchar *name, gint64 *capture_time);
/* The thumbnails of @dir, oldest first (transfer full: an array of names);
 * empty when @dir cannot be read. */
GPtrArray *cover_thumbnail_list (const gchar *dir);
/* The newest thumbnail's name, or NULL (transfer full). */
gchar *cover_thumbnail_newest (const gchar *dir);
/* Writes @jpeg as the thumbnail of @capture_time in @dir (created as
 * needed), atomically.  Returns its path (transfer full), or NULL with
 * @error set. */
gchar *cover_thumbnail_save (
    const gchar *dir, GBytes *jpeg, gint64 capture_time, GError **error);
/* Keeps the newest @max_files thumbnails of @dir (0: any number), none older
 * than @max_age_s seconds by mtime (0: any age). */
void cover_thumbnail_prune (const gchar *dir, guint max_files, guint max_age_s);

/* Temporary files a crashed writer left (a save or an upload killed
 * between create and rename).  The one sweeper: removes from @dir the
 * regular files of our uid (never links: not followed, not removed) whose
 * name @is_temp accepts and whose mtime is more than @min_age_s seconds
 * old, so that a writer busy right now keeps its file.  Returns how many
 * it removed. */
#define COVER_TEMP_SWEEP_AGE_S 600
typedef gboolean (*CoverTempNameFunc) (const gchar *name, gpointer user_data);
guint cover_temp_sweep (const gchar *dir, CoverTempNameFunc is_temp,
    gpointer user_data, guint min_age_s);
/* Whether @name is the temporary file of a thumbnail being saved:
 * ".<thumbnail name>.tmp". */
gboolean cover_thumbnail_temp_name_parse (const gchar *name);
/* cover_temp_sweep() of the thumbnails' temporary files of @dir (also done
 * by every cover_thumbnail_prune()). */
guint cover_thumbnail_sweep (const gchar *dir, guint min_age_s);

G_END_DECLS

#endif /* __COVER_THUMBNAIL_H__ */
