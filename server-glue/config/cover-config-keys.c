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

#include "cover-config-keys.h"

#include <gio/gio.h>
#include <string.h>

#include "cover-config.h"

#define FIELD(fields, row) G_STRUCT_MEMBER_P (fields, (row)->offset)

static guint64 *
given_mask (const CoverConfigTable *table, gconstpointer fields)
{
  return G_STRUCT_MEMBER_P ((gpointer) fields, table->given_offset);
}

static const CoverConfigKey *
find_key (const CoverConfigTable *table, const gchar *name)
{
  guint i;

  for (i = 0; i < table->n_keys; i++) {
    if (g_str_equal (table->keys[i].name, name))
      return &table->keys[i];
  }
  return NULL;
}

static gboolean
is_string (const CoverConfigKey *row)
{
  return row->kind == COVER_CONFIG_KIND_PATH ||
      row->kind == COVER_CONFIG_KIND_ADDRESS ||
      row->kind == COVER_CONFIG_KIND_TEXT;
}

static void
take_string (const CoverConfigKey *row, gpointer fields, gchar *value)
{
  gchar **field = FIELD (fields, row);

  g_free (*field);
  *field = value;
}

static gboolean
invalid (GError **error, const gchar *group, const CoverConfigKey *row,
    const gchar *value, const gchar *expected)
{
  g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
      "[%s] %s: \"%s\" is not %s", group, row->name, value, expected);
  return FALSE;
}

static gboolean
parse_integer (const CoverConfigKey *row, const gchar *group,
    const gchar *value, guint64 *out, GError **error)
{
  g_autofree gchar *expected = NULL;

  if (g_ascii_string_to_unsigned (value, 10, row->min, row->max, out, NULL))
    return TRUE;
  expected = g_strdup_printf ("an integer from %" G_GUINT64_FORMAT
                              " to %" G_GUINT64_FORMAT,
      row->min, row->max);
  return invalid (error, group, row, value, expected);
}

static gboolean
parse_seconds (const CoverConfigKey *row, const gchar *group,
    const gchar *value, gint64 *out, GError **error)
{
  g_autofree gchar *expected = NULL;
  gchar *end = NULL;
  gdouble secs = g_ascii_strtod (value, &end);
  gdouble units = secs * row->scale;

  if (*value && !*end && units >= row->min && units <= row->max) {
    *out = (gint64) units;
    return TRUE;
  }
  expected = g_strdup_printf ("a number of seconds (0 %s s <= %g)",
      row->min ? "<" : "<=", row->max / (gdouble) row->scale);
  return invalid (error, group, row, value, expected);
}

/* GKeyFile's own boolean words, so that g_key_file_set_boolean() output is
 * read back */
static gboolean
parse_boolean (const CoverConfigKey *row, const gchar *group,
    const gchar *value, gboolean *out, GError **error)
{
  if (g_str_equal (value, "true") || g_str_equal (value, "1"))
    *out = TRUE;
  else if (g_str_equal (value, "false") || g_str_equal (value, "0"))
    *out = FALSE;
  else
    return invalid (error, group, row, value, "true or false");
  return TRUE;
}

static gboolean
parse_value (const CoverConfigKey *row, gpointer fields, const gchar *group,
    const gchar *value, GError **error)
{
  gpointer field = FIELD (fields, row);
  guint64 v;

  switch (row->kind) {
    case COVER_CONFIG_KIND_UINT:
      if (!parse_integer (row, group, value, &v, error))
        return FALSE;
      *(guint *) field = v;
      return TRUE;
    case COVER_CONFIG_KIND_SIZE:
      if (!parse_integer (row, group, value, &v, error))
        return FALSE;
      *(gsize *) field = v;
      return TRUE;
    case COVER_CONFIG_KIND_BOOLEAN:
      return parse_boolean (row, group, value, field, error);
    case COVER_CONFIG_KIND_SECONDS:
      return parse_seconds (row, group, value, field, error);
    case COVER_CONFIG_KIND_PATH:
      if (!g_path_is_absolute (value))
        return invalid (error, group, row, value, "an absolute path");
      take_string (row, fields, g_canonicalize_filename (value, NULL));
      return TRUE;
    case COVER_CONFIG_KIND_ADDRESS: {
      g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (value);

      if (!addr)
        return invalid (error, group, row, value, "an IPv4 or IPv6 address");
      take_string (row, fields, g_strdup (value));
      return TRUE;
    }
    case COVER_CONFIG_KIND_TEXT:
      /* never the value: it may be a secret */
      if (!*value) {
        g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
            "[%s] %s: missing or empty", group, row->name);
        return FALSE;
      }
      take_string (row, fields, g_strdup (value));
      return TRUE;
  }
  g_return_val_if_reached (FALSE);
}

/* The keys that follow @parent (their default is below it) and were not
 * given themselves get their default again. */
static void
derive_children (const CoverConfigTable *table, gpointer fields,
    const CoverConfigKey *parent)
{
  const gchar *base = *(gchar **) FIELD (fields, parent);
  guint64 given = *given_mask (table, fields);
  guint i;

  for (i = 0; i < table->n_keys; i++) {
    const CoverConfigKey *row = &table->keys[i];

    if (row->parent && g_str_equal (row->parent, parent->name) &&
        !(given & G_GUINT64_CONSTANT (1) << i))
      take_string (row, fields, g_build_filename (base, row->fallback, NULL));
  }
}

void
cover_config_table_init (const CoverConfigTable *table, gpointer fields)
{
  guint i;

  g_return_if_fail (table != NULL && table->n_keys <= 64);
  g_return_if_fail (fields != NULL);

  for (i = 0; i < table->n_keys; i++) {
    const CoverConfigKey *row = &table->keys[i];
    g_autoptr (GError) err = NULL;

    /* children come after their parent, which derives them */
    if (!row->fallback || row->parent)
      continue;
    if (!parse_value (row, fields, "default", row->fallback, &err))
      g_critical ("%s", err->message);
    else if (row->kind == COVER_CONFIG_KIND_PATH)
      derive_children (table, fields, row);
  }
}

void
cover_config_table_clear (const CoverConfigTable *table, gpointer fields)
{
  guint i;

  g_return_if_fail (table != NULL);
  g_return_if_fail (fields != NULL);

  for (i = 0; i < table->n_keys; i++) {
    if (is_string (&table->keys[i]))
      take_string (&table->keys[i], fields, NULL);
  }
}

gboolean
cover_config_table_set (const CoverConfigTable *table, gpointer fields,
    const gchar *group, const gchar *key, const gchar *value, GError **error)
{
  const CoverConfigKey *row;

  g_return_val_if_fail (table != NULL && fields != NULL, FALSE);
  g_return_val_if_fail (group != NULL && key != NULL && value != NULL, FALSE);

  row = find_key (table, key);
  if (!row) {
    g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_UNKNOWN_KEY,
        "[%s] %s: unknown key%s", group, key,
        table->unknown_hint ? table->unknown_hint : "");
    return FALSE;
  }
  if (!parse_value (row, fields, group, value, error))
    return FALSE;
  *given_mask (table, fields) |= G_GUINT64_CONSTANT (1) << (row - table->keys);
  if (row->kind == COVER_CONFIG_KIND_PATH)
    derive_children (table, fields, row);
  return TRUE;
}

gboolean
cover_config_table_load (const CoverConfigTable *table, gpointer fields,
    GKeyFile *file, const gchar *group, GError **error)
{
  g_auto (GStrv) keys = NULL;
  guint i;

  g_return_val_if_fail (table != NULL && fields != NULL, FALSE);
  g_return_val_if_fail (file != NULL && group != NULL, FALSE);

  keys = g_key_file_get_keys (file, group, NULL, NULL);
  for (i = 0; keys && keys[i]; i++) {
    g_autofree gchar *value = g_key_file_get_value (file, group, keys[i], NULL);

    if (!cover_config_table_set (
            table, fields, group, keys[i], g_strstrip (value), error))
      return FALSE;
  }
  for (i = 0; i < table->n_keys; i++) {
    if (table->keys[i].required &&
        !cover_config_table_is_given (table, fields, table->keys[i].name)) {
      g_set_error (error, COVER_CONFIG_ERROR, COVER_CONFIG_ERROR_INVALID,
          "[%s] %s: missing or empty", group, table->keys[i].name);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
cover_config_table_is_given (
    const CoverConfigTable *table, gconstpointer fields, const gchar *key)
{
  const CoverConfigKey *row;

  g_return_val_if_fail (table != NULL && fields != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  row = find_key (table, key);
  g_return_val_if_fail (row != NULL, FALSE);
  return (*given_mask (table, fields) >> (row - table->keys)) & 1;
}

void
cover_config_key_file_add_defaults (GKeyFile *file, GKeyFile *defaults)
{
  g_auto (GStrv) groups = NULL;
  guint i, j;

  g_return_if_fail (file != NULL && defaults != NULL);

  groups = g_key_file_get_groups (defaults, NULL);
  for (i = 0; groups[i]; i++) {
    g_auto (GStrv) keys = g_key_file_get_keys (defaults, groups[i], NULL, NULL);

    for (j = 0; keys && keys[j]; j++) {
      g_autofree gchar *value = NULL;

      if (g_key_file_has_key (file, groups[i], keys[j], NULL))
        continue;
      value = g_key_file_get_value (defaults, groups[i], keys[j], NULL);
      g_key_file_set_value (file, groups[i], keys[j], value);
    }
  }
}
