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

#include "coverthumbnail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

gchar *
cover_thumbnail_dir (const gchar *base, guint32 client_id)
{
  gchar id[16];

  g_return_val_if_fail (base != NULL, NULL);

  g_snprintf (id, sizeof (id), "%u", client_id);
  return g_build_filename (base, id, NULL);
}

gchar *
cover_thumbnail_name (gint64 capture_time)
{
  g_autoptr (GDateTime) t = NULL;
  g_autofree gchar *stamp = NULL;

  g_return_val_if_fail (capture_time >= 0, NULL);

  t = g_date_time_new_from_unix_utc (capture_time / G_USEC_PER_SEC);
  stamp = g_date_time_format (t, "%Y%m%dT%H%M%S");
  return g_strdup_printf (
      "%s.%03dZ.jpg", stamp, (int) (capture_time % G_USEC_PER_SEC / 1000));
}

static gboolean
digits (const gchar *p, guint n, gint *value)
{
  guint i;

  *value = 0;
  for (i = 0; i < n; i++) {
    if (!g_ascii_isdigit (p[i]))
      return FALSE;
    *value = *value * 10 + g_ascii_digit_value (p[i]);
  }
  return TRUE;
}

gboolean
cover_thumbnail_name_parse (const gchar *name, gint64 *capture_time)
{
  g_autoptr (GDateTime) t = NULL;
  gint y, mo, d, h, mi, s, ms = 0;
  const gchar *p = name;

  g_return_val_if_fail (name != NULL, FALSE);

  if (!digits (p, 4, &y) || !digits (p + 4, 2, &mo) || !digits (p + 6, 2, &d) ||
      p[8] != 'T' || !digits (p + 9, 2, &h) || !digits (p + 11, 2, &mi) ||
      !digits (p + 13, 2, &s))
    return FALSE;
  p += 15;
  if (*p == '.') {
    if (!digits (p + 1, 3, &ms))
      return FALSE;
    p += 4;
  }
  if (strcmp (p, "Z.jpg") != 0)
    return FALSE;
  t = g_date_time_new_utc (y, mo, d, h, mi, s);
  if (!t)
    return FALSE;
  if (capture_time)
    *capture_time = g_date_time_to_unix (t) * G_USEC_PER_SEC + ms * 1000;
  return TRUE;
}

typedef struct
{
  gchar *name;
  gint64 time;
} Entry;

static gint
compare_entries (gconstpointer a, gconstpointer b)
{
  const Entry *x = a, *y = b;

  if (x->time != y->time)
    return x->time < y->time ? -1 : 1;
  return strcmp (x->name, y->name);
}

GPtrArray *
cover_thumbnail_list (const gchar *dir)
{
  g_autoptr (GDir) d = NULL;
  g_autoptr (GArray) entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;
  guint i;

  g_return_val_if_fail (dir != NULL, names);

  d = g_dir_open (dir, 0, NULL);
  if (!d)
    return names;
  while ((name = g_dir_read_name (d))) {
    Entry e;

    if (cover_thumbnail_name_parse (name, &e.time)) {
      e.name = g_strdup (name);
      g_array_append_val (entries, e);
    }
  }
  g_array_sort (entries, compare_entries);
  for (i = 0; i < entries->len; i++)
    g_ptr_array_add (names, g_array_index (entries, Entry, i).name);
  return names;
}

gchar *
cover_thumbnail_newest (const gchar *dir)
{
  g_autoptr (GPtrArray) names = NULL;

  g_return_val_if_fail (dir != NULL, NULL);

  names = cover_thumbnail_list (dir);
  if (names->len == 0)
    return NULL;
  return g_strdup (g_ptr_array_index (names, names->len - 1));
}

gchar *
cover_thumbnail_save (
    const gchar *dir, GBytes *jpeg, gint64 capture_time, GError **error)
{
  g_autofree gchar *name = NULL;
  g_autofree gchar *tmp = NULL;
  gchar *path;

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (jpeg != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_mkdir_with_parents (dir, 0750) < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "Could not create %s: %s", dir, g_strerror (errno));
    return NULL;
  }
  name = cover_thumbnail_name (capture_time);
  path = g_build_filename (dir, name, NULL);
  /* cover_thumbnail_temp_name_parse() knows this name */
  tmp = g_strdup_printf ("%s/.%s.tmp", dir, name);
  if (!g_file_set_contents_full (tmp, g_bytes_get_data (jpeg, NULL),
          g_bytes_get_size (jpeg), G_FILE_SET_CONTENTS_NONE, 0640, error))
    goto failed;
  if (g_rename (tmp, path) < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "Could not rename %s into place: %s", tmp, g_strerror (errno));
    goto failed;
  }
  return path;

  /* ERRORS */
failed:
  g_unlink (tmp);
  g_free (path);
  return NULL;
}

void
cover_thumbnail_prune (const gchar *dir, guint max_files, guint max_age_s)
{
  g_autoptr (GPtrArray) names = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  guint i, keep;

  g_return_if_fail (dir != NULL);

  /* a crashed save's leftovers go with the old thumbnails */
  cover_thumbnail_sweep (dir, COVER_TEMP_SWEEP_AGE_S);
  names = cover_thumbnail_list (dir);
  keep = max_files ? max_files : names->len;
  for (i = 0; i < names->len; i++) {
    g_autofree gchar *path =
        g_build_filename (dir, (gchar *) g_ptr_array_index (names, i), NULL);
    gboolean old = FALSE;
    GStatBuf st;

    if (max_age_s && g_lstat (path, &st) == 0)
      old = now - st.st_mtime > (gint64) max_age_s;
    if (i + keep < names->len || old) {
      g_debug ("pruning thumbnail %s", path);
      g_unlink (path);
    }
  }
}

guint
cover_temp_sweep (const gchar *dir, CoverTempNameFunc is_temp,
    gpointer user_data, guint min_age_s)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  struct dirent *entry;
  guint removed = 0;
  DIR *d;
  int fd;

  g_return_val_if_fail (dir != NULL, 0);
  g_return_val_if_fail (is_temp != NULL, 0);

  /* names are looked at relative to the directory opened once: a link
   * swapped in for @dir meanwhile cannot send the unlinks elsewhere */
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return 0;
  d = fdopendir (fd);
  if (!d) {
    close (fd);
    return 0;
  }
  while ((entry = readdir (d))) {
    struct stat st;

    if (entry->d_name[0] != '.' || !is_temp (entry->d_name, user_data))
      continue;
    if (fstatat (fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISREG (st.st_mode) || st.st_uid != geteuid () ||
        now - (gint64) st.st_mtime <= (gint64) min_age_s)
      continue;
    if (unlinkat (fd, entry->d_name, 0) == 0) {
      g_message ("removed %s/%s, left by a writer that did not finish", dir,
          entry->d_name);
      removed++;
    }
  }
  closedir (d);
  return removed;
}

gboolean
cover_thumbnail_temp_name_parse (const gchar *name)
{
  g_autofree gchar *inner = NULL;
  gsize len;

  g_return_val_if_fail (name != NULL, FALSE);

  len = strlen (name);
  if (name[0] != '.' || !g_str_has_suffix (name, ".tmp") || len < 6)
    return FALSE;
  inner = g_strndup (name + 1, len - 1 - strlen (".tmp"));
  return cover_thumbnail_name_parse (inner, NULL);
}

static gboolean
thumbnail_temp (const gchar *name, gpointer user_data)
{
  return cover_thumbnail_temp_name_parse (name);
}

guint
cover_thumbnail_sweep (const gchar *dir, guint min_age_s)
{
  g_return_val_if_fail (dir != NULL, 0);

  return cover_temp_sweep (dir, thumbnail_temp, NULL, min_age_s);
}
