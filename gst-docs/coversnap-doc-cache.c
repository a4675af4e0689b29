/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* coversnap-doc-cache [--plugin NAME] [--expect-dir DIR] [--output FILE]
 *
 * Writes the documentation cache of a plugin, in the shape of GStreamer's
 * gst_plugins_cache.json (what hotdoc's gst-hotdoc-plugins-scanner
 * produces), from the plugin as the registry loads it: elements with their
 * metadata, class hierarchy, pad templates and caps, properties (blurb,
 * flags, default, range) and signals.  hotdoc and its scanner are not in
 * Debian 12; this keeps the same guarantee for our own plugin.
 *
 * Differences from the scanner, all on purpose: the output is already laid
 * out like the committed caches (sorted keys, 4-space indent), so a
 * regenerated file only differs where the plugin changed; numbers are
 * printed with their real signedness (the scanner prints a gint64 default
 * as unsigned and a guint as signed); '%' is not doubled; every element
 * has a "signals" object, empty or not.
 *
 * Run it with GST_PLUGIN_PATH pointing at the build tree (meson does, see
 * gst-docs/meson.build).  --expect-dir makes sure the plugin the registry
 * found is the one in that directory, not an installed copy. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <json-glib/json-glib.h>
#include <gst/gst.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  JsonBuilder *other_types;
  GHashTable *seen_types;
} DumpState;

/* Scalars through JsonGenerator, so escaping is json-glib's. */
static void
append_scalar (GString *out, JsonGenerator *gen, JsonNode *node)
{
  gchar *text;

  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  g_string_append (out, text);
  g_free (text);
}

/* The layout of GStreamer's committed caches (hotdoc writes them with
 * Python's json.dump (indent=4, sort_keys=True)): members in name order,
 * "key": value, empty containers as {} and [].  json-glib's own pretty
 * printer puts a space before the colon and pads empty objects, so the
 * structure is laid out here. */
static void
append_node (GString *out, JsonGenerator *gen, JsonNode *node, guint depth)
{
  guint i, n;

  switch (JSON_NODE_TYPE (node)) {
    case JSON_NODE_OBJECT: {
      JsonObject *obj = json_node_get_object (node);
      GList *members = json_object_get_members (obj), *l;

      if (!members) {
        g_string_append (out, "{}");
        break;
      }
      members = g_list_sort (members, (GCompareFunc) strcmp);
      g_string_append (out, "{\n");
      for (l = members; l; l = l->next) {
        JsonNode *key = json_node_init_string (json_node_alloc (), l->data);

        g_string_append_printf (out, "%*s", (int) (depth + 1) * 4, "");
        append_scalar (out, gen, key);
        g_string_append (out, ": ");
        append_node (
            out, gen, json_object_get_member (obj, l->data), depth + 1);
        g_string_append (out, l->next ? ",\n" : "\n");
        json_node_unref (key);
      }
      g_string_append_printf (out, "%*s}", (int) depth * 4, "");
      g_list_free (members);
      break;
    }
    case JSON_NODE_ARRAY: {
      JsonArray *arr = json_node_get_array (node);

      n = json_array_get_length (arr);
      if (n == 0) {
        g_string_append (out, "[]");
        break;
      }
      g_string_append (out, "[\n");
      for (i = 0; i < n; i++) {
        g_string_append_printf (out, "%*s", (int) (depth + 1) * 4, "");
        append_node (out, gen, json_array_get_element (arr, i), depth + 1);
        g_string_append (out, i + 1 < n ? ",\n" : "\n");
      }
      g_string_append_printf (out, "%*s]", (int) depth * 4, "");
      break;
    }
    default:
      append_scalar (out, gen, node);
      break;
  }
}

static void
set_string (JsonBuilder *b, const gchar *key, const gchar *value)
{
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, value ? value : "NULL");
}

static void
set_boolean (JsonBuilder *b, const gchar *key, gboolean value)
{
  json_builder_set_member_name (b, key);
  json_builder_add_boolean_value (b, value);
}

static void set_printf (JsonBuilder *b, const gchar *key, const gchar *format,
    ...) G_GNUC_PRINTF (3, 4);

static void
set_printf (JsonBuilder *b, const gchar *key, const gchar *format, ...)
{
  va_list args;
  gchar *s;

  va_start (args, format);
  s = g_strdup_vprintf (format, args);
  va_end (args);
  set_string (b, key, s);
  g_free (s);
}

/* The scanner's names: exact ranks by name, others relative to the
 * nearest, e.g. "primary + 1". */
static gchar *
rank_name (gint rank)
{
  static const gint ranks[] = { GST_RANK_NONE, GST_RANK_MARGINAL,
    GST_RANK_SECONDARY, GST_RANK_PRIMARY };
  static const gchar *names[] = { "none", "marginal", "secondary", "primary" };
  guint i, best = 0;

  for (i = 0; i < G_N_ELEMENTS (ranks); i++) {
    if (rank == ranks[i])
      return g_strdup (names[i]);
    if (abs (rank - ranks[i]) < abs (rank - ranks[best]))
      best = i;
  }
  return g_strdup_printf ("%s %c %d", names[best],
      rank > ranks[best] ? '+' : '-', abs (ranks[best] - rank));
}

static gboolean
print_field (GQuark field, const GValue *value, gpointer user_data)
{
  static GRegex *cleanup = NULL;
  GString *caps = user_data;
  const gchar *name = g_quark_to_string (field);
  gchar *str = gst_value_serialize (value);

  if (g_str_equal (name, "format") || g_str_equal (name, "rate")) {
    gchar *tmp = str;

    if (!cleanup)
      cleanup = g_regex_new ("\\(string\\)|\\(rate\\)", 0, 0, NULL);
    str = g_regex_replace (cleanup, tmp, -1, 0, "", 0, NULL);
    g_free (tmp);
  }
  g_string_append_printf (caps, "%15s: %s\n", name, str);
  g_free (str);
  return TRUE;
}

/* The scanner's human-readable caps: one "name:" line per structure (with
 * its features when not system memory), then one line per field. */
static gchar *
caps_to_doc_string (const GstCaps *caps)
{
  GString *s;
  guint i;

  if (gst_caps_is_any (caps))
    return g_strdup ("ANY");
  if (gst_caps_is_empty (caps))
    return g_strdup ("EMPTY");

  s = g_string_new (NULL);
  for (i = 0; i < gst_caps_get_size (caps); i++) {
    GstStructure *st = gst_caps_get_structure (caps, i);
    GstCapsFeatures *f = gst_caps_get_features (caps, i);

    if (f &&
        (gst_caps_features_is_any (f) ||
            !gst_caps_features_is_equal (
                f, GST_CAPS_FEATURES_MEMORY_SYSTEM_MEMORY))) {
      gchar *fs = gst_caps_features_to_string (f);

      g_string_append_printf (
          s, "%s%s(%s):\n", i ? "\n" : "", gst_structure_get_name (st), fs);
      g_free (fs);
    } else {
      g_string_append_printf (s, "%s:\n", gst_structure_get_name (st));
    }
    gst_structure_foreach (st, print_field, s);
  }
  return g_string_free (s, FALSE);
}

static void
add_enum_type (DumpState *state, GType type, GstPluginAPIFlags api_flags)
{
  JsonBuilder *b = state->other_types;
  GEnumClass *klass = g_type_class_ref (type);
  guint i;

  json_builder_set_member_name (b, g_type_name (type));
  json_builder_begin_object (b);
  set_string (b, "kind", "enum");
  if (api_flags & GST_PLUGIN_API_FLAG_IGNORE_ENUM_MEMBERS) {
    set_boolean (b, "ignore-enum-members", TRUE);
  } else {
    json_builder_set_member_name (b, "values");
    json_builder_begin_array (b);
    for (i = 0; i < klass->n_values; i++) {
      json_builder_begin_object (b);
      set_string (b, "desc", klass->values[i].value_name);
      set_string (b, "name", klass->values[i].value_nick);
      set_printf (b, "value", "%d", klass->values[i].value);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
  }
  json_builder_end_object (b);
  g_type_class_unref (klass);
}

static void
add_flags_type (DumpState *state, GType type)
{
  JsonBuilder *b = state->other_types;
  GFlagsClass *klass = g_type_class_ref (type);
  guint i;

  json_builder_set_member_name (b, g_type_name (type));
  json_builder_begin_object (b);
  set_string (b, "kind", "flags");
  json_builder_set_member_name (b, "values");
  json_builder_begin_array (b);
  for (i = 0; i < klass->n_values; i++) {
    json_builder_begin_object (b);
    set_string (b, "desc", klass->values[i].value_name);
    set_string (b, "name", klass->values[i].value_nick);
    set_printf (b, "value", "0x%08x", klass->values[i].value);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_type_class_unref (klass);
}

/* Enums and flags the plugin marks as its API are described once, in the
 * plugin's "other-types". */
static void
note_type (DumpState *state, GType type)
{
  GstPluginAPIFlags api_flags = 0;

  if (type == G_TYPE_NONE || type == G_TYPE_INVALID ||
      g_hash_table_contains (state->seen_types, g_type_name (type)) ||
      !gst_type_is_plugin_api (type, &api_flags))
    return;
  g_hash_table_add (state->seen_types, (gpointer) g_type_name (type));
  if (G_TYPE_IS_ENUM (type))
    add_enum_type (state, type, api_flags);
  else if (G_TYPE_IS_FLAGS (type))
    add_flags_type (state, type);
  else
    g_printerr ("coversnap-doc-cache: plugin API type %s is neither an enum "
                "nor flags; not described in other-types\n",
        g_type_name (type));
}

static gchar *
flags_to_string (GType type, guint flags)
{
  GFlagsClass *klass = g_type_class_ref (type);
  GString *s = g_string_new (NULL);
  guint i, left = flags;

  for (i = 0; i < klass->n_values; i++) {
    if (klass->values[i].value == flags) {
      g_string_assign (s, klass->values[i].value_nick);
      goto done;
    }
  }
  for (i = klass->n_values; i > 0 && left; i--) {
    guint v = klass->values[i - 1].value;

    if (v != 0 && (left & v) == v) {
      if (s->len)
        g_string_append_c (s, '+');
      g_string_append (s, klass->values[i - 1].value_nick);
      left &= ~v;
    }
  }
  if (!s->len)
    g_string_assign (s, "(none)");
done:
  g_type_class_unref (klass);
  return g_string_free (s, FALSE);
}

/* "default", and "min"/"max" for numbers, all as strings like the
 * scanner writes them. */
static void
add_value_members (JsonBuilder *b, GParamSpec *spec, const GValue *value)
{
  switch (G_VALUE_TYPE (value)) {
    case G_TYPE_STRING:
      set_string (b, "default", g_value_get_string (value));
      return;
    case G_TYPE_BOOLEAN:
      set_string (b, "default", g_value_get_boolean (value) ? "true" : "false");
      return;
    case G_TYPE_INT: {
      GParamSpecInt *p = G_PARAM_SPEC_INT (spec);

      set_printf (b, "default", "%d", g_value_get_int (value));
      set_printf (b, "min", "%d", p->minimum);
      set_printf (b, "max", "%d", p->maximum);
      return;
    }
    case G_TYPE_UINT: {
      GParamSpecUInt *p = G_PARAM_SPEC_UINT (spec);

      set_printf (b, "default", "%u", g_value_get_uint (value));
      set_printf (b, "min", "%u", p->minimum);
      set_printf (b, "max", "%u", p->maximum);
      return;
    }
    case G_TYPE_LONG: {
      GParamSpecLong *p = G_PARAM_SPEC_LONG (spec);

      set_printf (b, "default", "%ld", g_value_get_long (value));
      set_printf (b, "min", "%ld", p->minimum);
      set_printf (b, "max", "%ld", p->maximum);
      return;
    }
    case G_TYPE_ULONG: {
      GParamSpecULong *p = G_PARAM_SPEC_ULONG (spec);

      set_printf (b, "default", "%lu", g_value_get_ulong (value));
      set_printf (b, "min", "%lu", p->minimum);
      set_printf (b, "max", "%lu", p->maximum);
      return;
    }
    case G_TYPE_INT64: {
      GParamSpecInt64 *p = G_PARAM_SPEC_INT64 (spec);

      set_printf (b, "default", "%" G_GINT64_FORMAT, g_value_get_int64 (value));
      set_printf (b, "min", "%" G_GINT64_FORMAT, p->minimum);
      set_printf (b, "max", "%" G_GINT64_FORMAT, p->maximum);
      return;
    }
    case G_TYPE_UINT64: {
      GParamSpecUInt64 *p = G_PARAM_SPEC_UINT64 (spec);

      set_printf (
          b, "default", "%" G_GUINT64_FORMAT, g_value_get_uint64 (value));
      set_printf (b, "min", "%" G_GUINT64_FORMAT, p->minimum);
      set_printf (b, "max", "%" G_GUINT64_FORMAT, p->maximum);
      return;
    }
    case G_TYPE_FLOAT: {
      GParamSpecFloat *p = G_PARAM_SPEC_FLOAT (spec);

      set_printf (b, "default", "%g", g_value_get_float (value));
      set_printf (b, "min", "%g", p->minimum);
      set_printf (b, "max", "%g", p->maximum);
      return;
    }
    case G_TYPE_DOUBLE: {
      GParamSpecDouble *p = G_PARAM_SPEC_DOUBLE (spec);

      set_printf (b, "default", "%g", g_value_get_double (value));
      set_printf (b, "min", "%g", p->minimum);
      set_printf (b, "max", "%g", p->maximum);
      return;
    }
    default:
      break;
  }

  if (G_IS_PARAM_SPEC_ENUM (spec)) {
    GEnumClass *klass = g_type_class_ref (spec->value_type);
    GEnumValue *v = g_enum_get_value (klass, g_value_get_enum (value));

    set_printf (b, "default", "%s (%d)", v ? v->value_nick : "",
        g_value_get_enum (value));
    g_type_class_unref (klass);
  } else if (G_IS_PARAM_SPEC_FLAGS (spec)) {
    gchar *s = flags_to_string (spec->value_type, g_value_get_flags (value));

    set_string (b, "default", s);
    g_free (s);
  } else if (spec->value_type == GST_TYPE_CAPS) {
    const GstCaps *caps = gst_value_get_caps (value);

    if (caps) {
      gchar *s = gst_caps_to_string (caps);

      set_string (b, "default", s);
      g_free (s);
    }
  } else if (spec->value_type == GST_TYPE_STRUCTURE) {
    const GstStructure *st = gst_value_get_structure (value);

    if (st) {
      gchar *s = gst_structure_to_string (st);

      set_string (b, "default", s);
      g_free (s);
    }
  } else if (GST_IS_PARAM_SPEC_FRACTION (spec)) {
    GstParamSpecFraction *p = GST_PARAM_SPEC_FRACTION (spec);

    set_printf (b, "default", "%d/%d", gst_value_get_fraction_numerator (value),
        gst_value_get_fraction_denominator (value));
    set_printf (b, "min", "%d/%d", p->min_num, p->min_den);
    set_printf (b, "max", "%d/%d", p->max_num, p->max_den);
  }
}

static const gchar *
mutable_name (GParamFlags flags)
{
  if (flags & GST_PARAM_MUTABLE_PLAYING)
    return "playing";
  if (flags & GST_PARAM_MUTABLE_PAUSED)
    return "paused";
  if (flags & GST_PARAM_MUTABLE_READY)
    return "ready";
  return "null";
}

/* Only the properties the element's own class installs: those of its base
 * classes are documented with the base classes. */
static void
add_properties (JsonBuilder *b, DumpState *state, GObject *object)
{
  GType type = G_OBJECT_TYPE (object);
  GParamSpec **specs;
  guint i, n;

  specs = g_object_class_list_properties (G_OBJECT_GET_CLASS (object), &n);
  json_builder_set_member_name (b, "properties");
  json_builder_begin_object (b);
  for (i = 0; i < n; i++) {
    GParamSpec *spec = specs[i];
    GValue value = G_VALUE_INIT;

    if (spec->owner_type != type)
      continue;

    /* the value a new instance has, unless it is not readable or asks for
     * its spec default to be shown */
    g_value_init (&value, spec->value_type);
    if ((spec->flags & G_PARAM_READABLE) &&
        !(spec->flags & GST_PARAM_DOC_SHOW_DEFAULT))
      g_object_get_property (object, spec->name, &value);
    else
      g_param_value_set_default (spec, &value);

    note_type (state, spec->value_type);

    json_builder_set_member_name (b, spec->name);
    json_builder_begin_object (b);
    set_string (b, "blurb", g_param_spec_get_blurb (spec));
    set_boolean (b, "conditionally-available",
        spec->flags & GST_PARAM_CONDITIONALLY_AVAILABLE);
    set_boolean (b, "construct", spec->flags & G_PARAM_CONSTRUCT);
    set_boolean (b, "construct-only", spec->flags & G_PARAM_CONSTRUCT_ONLY);
    set_boolean (b, "controllable", spec->flags & GST_PARAM_CONTROLLABLE);
    set_string (b, "mutable", mutable_name (spec->flags));
    set_boolean (b, "readable", spec->flags & G_PARAM_READABLE);
    set_string (b, "type", g_type_name (spec->value_type));
    set_boolean (b, "writable", spec->flags & G_PARAM_WRITABLE);
    add_value_members (b, spec, &value);
    json_builder_end_object (b);
    g_value_unset (&value);
  }
  json_builder_end_object (b);
  g_free (specs);
}

static void
add_signals (JsonBuilder *b, DumpState *state, GType type)
{
  guint *ids, n, i, j;

  ids = g_signal_list_ids (type, &n);
  json_builder_set_member_name (b, "signals");
  json_builder_begin_object (b);
  for (i = 0; i < n; i++) {
    GSignalQuery q;

    g_signal_query (ids[i], &q);
    json_builder_set_member_name (b, q.signal_name);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "args");
    json_builder_begin_array (b);
    for (j = 0; j < q.n_params; j++) {
      GType t = q.param_types[j] & ~G_SIGNAL_TYPE_STATIC_SCOPE;

      json_builder_begin_object (b);
      set_printf (b, "name", "arg%u", j);
      set_string (b, "type", g_type_name (t));
      json_builder_end_object (b);
      note_type (state, t);
    }
    json_builder_end_array (b);
    set_string (b, "return-type", g_type_name (q.return_type));
    note_type (state, q.return_type);
    if (q.signal_flags & G_SIGNAL_RUN_FIRST)
      set_string (b, "when", "first");
    else if (q.signal_flags & G_SIGNAL_RUN_LAST)
      set_string (b, "when", "last");
    else if (q.signal_flags & G_SIGNAL_RUN_CLEANUP)
      set_string (b, "when", "cleanup");
    if (q.signal_flags & G_SIGNAL_NO_RECURSE)
      set_boolean (b, "no-recurse", TRUE);
    if (q.signal_flags & G_SIGNAL_DETAILED)
      set_boolean (b, "detailed", TRUE);
    if (q.signal_flags & G_SIGNAL_ACTION)
      set_boolean (b, "action", TRUE);
    if (q.signal_flags & G_SIGNAL_NO_HOOKS)
      set_boolean (b, "no-hooks", TRUE);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
  g_free (ids);
}

static void
add_pad_templates (JsonBuilder *b, GstElementFactory *factory, GstElement *e)
{
  const GList *l;

  json_builder_set_member_name (b, "pad-templates");
  json_builder_begin_object (b);
  for (l = gst_element_factory_get_static_pad_templates (factory); l;
       l = l->next) {
    GstStaticPadTemplate *st = l->data;
    GstPadTemplate *tmpl = gst_element_class_get_pad_template (
        GST_ELEMENT_GET_CLASS (e), st->name_template);
    GstCaps *caps = tmpl ? gst_pad_template_get_documentation_caps (tmpl)
                         : gst_static_caps_get (&st->static_caps);
    gchar *caps_str = caps_to_doc_string (caps);

    json_builder_set_member_name (b, st->name_template);
    json_builder_begin_object (b);
    set_string (b, "caps", caps_str);
    set_string (b, "direction",
        st->direction == GST_PAD_SRC        ? "src"
            : st->direction == GST_PAD_SINK ? "sink"
                                            : "unknown");
    set_string (b, "presence",
        st->presence == GST_PAD_ALWAYS          ? "always"
            : st->presence == GST_PAD_SOMETIMES ? "sometimes"
            : st->presence == GST_PAD_REQUEST   ? "request"
                                                : "unknown");
    if (tmpl && GST_PAD_TEMPLATE_GTYPE (tmpl) != G_TYPE_NONE &&
        GST_PAD_TEMPLATE_GTYPE (tmpl) != GST_TYPE_PAD)
      set_string (b, "type", g_type_name (GST_PAD_TEMPLATE_GTYPE (tmpl)));
    json_builder_end_object (b);
    g_free (caps_str);
    gst_caps_unref (caps);
  }
  json_builder_end_object (b);
}

static gboolean
add_element (JsonBuilder *b, DumpState *state, GstElementFactory *factory)
{
  GstElement *e = gst_element_factory_create (factory, NULL);
  gchar **keys, **k, *rank;
  GType type, *ifaces;
  guint n_ifaces, i;

  if (!e) {
    g_printerr ("coversnap-doc-cache: could not create a %s element\n",
        GST_OBJECT_NAME (factory));
    return FALSE;
  }
  gst_object_ref_sink (e);
  type = G_OBJECT_TYPE (e);

  json_builder_set_member_name (b, GST_OBJECT_NAME (factory));
  json_builder_begin_object (b);

  keys = gst_element_factory_get_metadata_keys (factory);
  for (k = keys; k && *k; k++)
    set_string (b, *k, gst_element_factory_get_metadata (factory, *k));
  g_strfreev (keys);

  json_builder_set_member_name (b, "hierarchy");
  json_builder_begin_array (b);
  for (;; type = g_type_parent (type)) {
    json_builder_add_string_value (b, g_type_name (type));
    if (type == G_TYPE_OBJECT || type == 0)
      break;
  }
  json_builder_end_array (b);
  type = G_OBJECT_TYPE (e);

  ifaces = g_type_interfaces (type, &n_ifaces);
  if (n_ifaces) {
    json_builder_set_member_name (b, "interfaces");
    json_builder_begin_array (b);
    for (i = 0; i < n_ifaces; i++)
      json_builder_add_string_value (b, g_type_name (ifaces[i]));
    json_builder_end_array (b);
  }
  g_free (ifaces);

  add_pad_templates (b, factory, e);
  add_properties (b, state, G_OBJECT (e));
  add_signals (b, state, type);

  rank = rank_name (gst_plugin_feature_get_rank (GST_PLUGIN_FEATURE (factory)));
  set_string (b, "rank", rank);
  g_free (rank);

  json_builder_end_object (b);
  gst_object_unref (e);
  return TRUE;
}

/* "libgstfoo.so" → "gstfoo", like the scanner: no build path in the cache */
static gchar *
plugin_file_id (const gchar *filename)
{
  gchar *base = g_path_get_basename (filename);
  gchar *dot = strchr (base, '.');
  gchar *id;

  if (dot)
    *dot = '\0';
  id = g_strdup (g_str_has_prefix (base, "lib") ? base + 3 : base);
  g_free (base);
  return id;
}

static gboolean
same_dir (const gchar *file, const gchar *dir)
{
  gchar *file_dir = g_path_get_dirname (file);
  char *a = realpath (file_dir, NULL), *b = realpath (dir, NULL);
  gboolean same = a && b && g_str_equal (a, b);

  free (a);
  free (b);
  g_free (file_dir);
  return same;
}

static JsonNode *
dump_plugin (GstPlugin *plugin, gboolean *ok)
{
  JsonBuilder *b = json_builder_new ();
  DumpState state;
  GList *features, *l;
  JsonNode *other, *root;
  gchar *file_id;

  state.other_types = json_builder_new ();
  state.seen_types = g_hash_table_new (g_str_hash, g_str_equal);
  json_builder_begin_object (state.other_types);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, gst_plugin_get_name (plugin));
  json_builder_begin_object (b);
  set_string (b, "description", gst_plugin_get_description (plugin));
  file_id = plugin_file_id (gst_plugin_get_filename (plugin));
  set_string (b, "filename", file_id);
  g_free (file_id);
  set_string (b, "license", gst_plugin_get_license (plugin));
  set_string (b, "package", gst_plugin_get_package (plugin));
  set_string (b, "source", gst_plugin_get_source (plugin));
  set_string (b, "url", gst_plugin_get_origin (plugin));

  features = gst_registry_get_feature_list_by_plugin (
      gst_registry_get (), gst_plugin_get_name (plugin));

  json_builder_set_member_name (b, "elements");
  json_builder_begin_object (b);
  for (l = features; l; l = l->next) {
    if (GST_IS_ELEMENT_FACTORY (l->data) &&
        !add_element (b, &state, GST_ELEMENT_FACTORY (l->data)))
      *ok = FALSE;
  }
  json_builder_end_object (b);

  json_builder_set_member_name (b, "tracers");
  json_builder_begin_object (b);
  for (l = features; l; l = l->next) {
    if (GST_IS_TRACER_FACTORY (l->data)) {
      json_builder_set_member_name (b, GST_OBJECT_NAME (l->data));
      json_builder_begin_object (b);
      json_builder_end_object (b);
    }
  }
  json_builder_end_object (b);
  gst_plugin_feature_list_free (features);

  json_builder_end_object (state.other_types);
  other = json_builder_get_root (state.other_types);
  json_builder_set_member_name (b, "other-types");
  json_builder_add_value (b, other);

  json_builder_end_object (b); /* plugin */
  json_builder_end_object (b); /* root */

  root = json_builder_get_root (b);
  g_object_unref (b);
  g_object_unref (state.other_types);
  g_hash_table_unref (state.seen_types);
  return root;
}

int
main (int argc, char **argv)
{
  gchar *plugin_name = NULL, *expect_dir = NULL, *output = NULL;
  GOptionEntry entries[] = {
    { "plugin", 'p', 0, G_OPTION_ARG_STRING, &plugin_name,
        "Plugin to describe (default coversnap)", "NAME" },
    { "expect-dir", 'd', 0, G_OPTION_ARG_FILENAME, &expect_dir,
        "Fail unless the registry loads the plugin from DIR", "DIR" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
        "Write the cache to FILE (default: stdout)", "FILE" },
    { NULL }
  };
  GOptionContext *ctx;
  GError *err = NULL;
  GstPlugin *plugin, *loaded;
  JsonGenerator *gen;
  JsonNode *root;
  GString *out;
  gchar *text;
  gboolean ok = TRUE;

  setlocale (LC_ALL, "");
  setlocale (LC_NUMERIC, "C");

  ctx = g_option_context_new ("- write a plugin's gst_plugins_cache.json");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("coversnap-doc-cache: %s\n", err->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (!plugin_name)
    plugin_name = g_strdup ("coversnap");

  gst_init (NULL, NULL);

  plugin = gst_registry_find_plugin (gst_registry_get (), plugin_name);
  if (!plugin) {
    g_printerr ("coversnap-doc-cache: the registry has no plugin named %s; "
                "point GST_PLUGIN_PATH at the build tree\n",
        plugin_name);
    return 1;
  }
  loaded = gst_plugin_load (plugin);
  gst_object_unref (plugin);
  if (!loaded) {
    g_printerr ("coversnap-doc-cache: could not load plugin %s\n", plugin_name);
    return 1;
  }
  if (expect_dir && !same_dir (gst_plugin_get_filename (loaded), expect_dir)) {
    g_printerr ("coversnap-doc-cache: the registry loaded %s from %s, not from "
                "%s\n",
        plugin_name, gst_plugin_get_filename (loaded), expect_dir);
    return 1;
  }

  root = dump_plugin (loaded, &ok);
  gst_object_unref (loaded);

  gen = json_generator_new ();
  out = g_string_new (NULL);
  append_node (out, gen, root, 0);
  g_string_append_c (out, '\n');
  text = g_string_free (out, FALSE);

  if (!ok) {
    g_printerr ("coversnap-doc-cache: incomplete description, not written\n");
    return 1;
  }
  if (output && !g_str_equal (output, "-")) {
    if (!g_file_set_contents (output, text, -1, &err)) {
      g_printerr ("coversnap-doc-cache: %s\n", err->message);
      return 1;
    }
  } else {
    fputs (text, stdout);
  }

  g_free (text);
  g_object_unref (gen);
  json_node_unref (root);
  g_free (plugin_name);
  g_free (expect_dir);
  g_free (output);
  return 0;
}
