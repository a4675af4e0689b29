/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_CONFIG_KEYS_H__
#define __COVER_CONFIG_KEYS_H__

#include <glib.h>

G_BEGIN_DECLS

/* The one configuration layer: every group of the key file ([server],
 * [app.NAME], [ingest], [stream.*], ...) is a table of keys that says, per
 * key, its kind, where it lands in the group's struct, its bounds and its
 * default.  One parser per kind turns text (a key file's value or a
 * command-line option) into the field, and every error names the group and
 * the key: "[server] port: \"http\" is not an integer from 0 to 65535". */

typedef enum
{
  COVER_CONFIG_KIND_UINT,    /* guint, decimal, min..max */
  COVER_CONFIG_KIND_SIZE,    /* gsize, decimal bytes, min..max */
  COVER_CONFIG_KIND_BOOLEAN, /* gboolean: true, false (or 1, 0) */
  /* gint64 in 1/scale seconds, written as a decimal number of seconds;
   * min..max are in the stored unit (min 1: more than 0 s) */
  COVER_CONFIG_KIND_SECONDS,
  COVER_CONFIG_KIND_PATH,    /* gchar *, absolute, canonicalized */
  COVER_CONFIG_KIND_ADDRESS, /* gchar *, an IPv4 or IPv6 address */
  COVER_CONFIG_KIND_TEXT,    /* gchar *, not empty */
} CoverConfigKind;

typedef struct
{
  const gchar *name;
  CoverConfigKind kind;
  gsize offset; /* of the field in the group's struct */
  guint64 min;
  guint64 max;
  gint64 scale; /* SECONDS: stored units per second */
  /* The default, as text of the key file (NULL: the field stays zero).
   * With @parent: the default is <parent's value>/<default>, following the
   * parent until the key is given itself. */
  const gchar *fallback;
  const gchar *parent;
  gboolean required; /* a group without it is refused */
} CoverConfigKey;

typedef struct
{
  const CoverConfigKey *keys;
  guint n_keys; /* at most 64 */
  /* a guint64 of the group's struct: bit i set when keys[i] was given (by
   * the file or a set call; defaults are not "given") */
  gsize given_offset;
  /* said after "unknown key" (e.g. " (an application has key and cids)") */
  const gchar *unknown_hint;
} CoverConfigTable;

/* Fills @fields (a zeroed struct of the table) with the defaults. */
void cover_config_table_init (const CoverConfigTable *table, gpointer fields);
/* Frees the strings of @fields (not @fields itself). */
void cover_config_table_clear (const CoverConfigTable *table, gpointer fields);
/* Parses @value as @key of @group (the name errors say) into @fields. */
gboolean cover_config_table_set (const CoverConfigTable *table, gpointer fields,
    const gchar *group, const gchar *key, const gchar *value, GError **error);
/* Every key of @group of @file (values stripped of blanks), then the
 * required keys' presence. */
gboolean cover_config_table_load (const CoverConfigTable *table,
    gpointer fields, GKeyFile *file, const gchar *group, GError **error);
/* Whether @key was given (not a default). */
gboolean cover_config_table_is_given (
    const CoverConfigTable *table, gconstpointer fields, const gchar *key);

/* Gives @file every value of @defaults that it has not itself: defaults as
 * a key file of their own, under the values of @file (@defaults is not
 * taken). */
void cover_config_key_file_add_defaults (GKeyFile *file, GKeyFile *defaults);

G_END_DECLS

#endif /* __COVER_CONFIG_KEYS_H__ */
