/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The one client-id parser and the random ids. */

#include <string.h>

#include "coverid.h"

static void
test_parse_accepts (void)
{
  static const struct
  {
    const gchar *text;
    guint32 id;
  } cases[] = {
    { "0", 0 },
    { "7", 7 },
    { "42", 42 },
    { "4294967295", G_MAXUINT32 },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    guint32 id = 1234;

    g_test_message ("'%s'", cases[i].text);
    g_assert_true (cover_client_id_parse (cases[i].text, -1, &id));
    g_assert_cmpuint (id, ==, cases[i].id);
  }
}

static void
test_parse_refuses (void)
{
  static const gchar *bad[] = { "", "042", "00", "+1", "-1", " 1", "1 ",
    "4294967296", "9999999999", "1a", "0x1", "12345678901", "1.0" };
  guint32 id = 1234;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_test_message ("'%s'", bad[i]);
    g_assert_false (cover_client_id_parse (bad[i], -1, &id));
    /* a refused text leaves the id alone */
    g_assert_cmpuint (id, ==, 1234);
  }
  g_assert_false (cover_client_id_parse (NULL, -1, &id));
  g_assert_cmpuint (id, ==, 1234);
}

/* A URL path hands the parser a piece of a longer string. */
static void
test_parse_len (void)
{
  guint32 id = 0;

  g_assert_true (cover_client_id_parse ("42/x", 2, &id));
  g_assert_cmpuint (id, ==, 42);
  g_assert_false (cover_client_id_parse ("42/x", 3, &id));
  g_assert_false (cover_client_id_parse ("42/x", -1, &id));
  g_assert_false (cover_client_id_parse ("42", 0, &id));
  g_assert_true (cover_client_id_parse ("4294967295123", 10, &id));
  g_assert_cmpuint (id, ==, G_MAXUINT32);
  g_assert_false (cover_client_id_parse ("0420", 3, &id));
  g_assert_cmpuint (id, ==, G_MAXUINT32);
}

static void
test_random_hex (void)
{
  g_autofree gchar *a = cover_random_hex (16);
  g_autofree gchar *b = cover_random_hex (16);
  g_autofree gchar *empty = cover_random_hex (0);

  g_assert_cmpuint (strlen (a), ==, 32);
  g_assert_cmpuint (strspn (a, "0123456789abcdef"), ==, 32);
  g_assert_cmpuint (strlen (b), ==, 32);
  g_assert_cmpuint (strspn (b, "0123456789abcdef"), ==, 32);
  /* 128 random bits: equal only if the source is not random */
  g_assert_cmpstr (a, !=, b);
  g_assert_cmpstr (empty, ==, "");
}

static void
test_random_fill (void)
{
  guint8 a[32], b[32];
  guint i, zeros = 0;

  memset (a, 0, sizeof (a));
  memset (b, 0, sizeof (b));
  cover_random_fill (a, sizeof (a));
  cover_random_fill (b, sizeof (b));
  g_assert_true (memcmp (a, b, sizeof (a)) != 0);
  for (i = 0; i < sizeof (a); i++)
    zeros += a[i] == 0;
  /* the whole buffer is written, not a prefix */
  g_assert_cmpuint (zeros, <, 8);
}

/* doubled per failure up to the maximum, then half to all of it, and not
 * always the same */
static void
test_random_backoff (void)
{
  GHashTable *seen = g_hash_table_new (g_int64_hash, g_int64_equal);
  static gint64 values[200];
  guint failures, i;

  for (failures = 1; failures <= 12; failures++) {
    gint64 want = MIN ((gint64) 1000 << (failures - 1), 30000);

    for (i = 0; i < 50; i++) {
      gint64 d = cover_random_backoff (1000, 30000, failures);

      g_assert_cmpint (d, >=, want / 2);
      g_assert_cmpint (d, <=, want);
    }
  }
  g_assert_cmpint (cover_random_backoff (5, 5, 1000000), <=, 5);
  g_assert_cmpint (cover_random_backoff (5, 5, 0), >=, 2);
  for (i = 0; i < G_N_ELEMENTS (values); i++) {
    values[i] = cover_random_backoff (1000000, 1000000, 1);
    g_hash_table_add (seen, &values[i]);
  }
  g_assert_cmpuint (g_hash_table_size (seen), >, 100);
  g_hash_table_unref (seen);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/coverid/parse/accepts", test_parse_accepts);
  g_test_add_func ("/coverid/parse/refuses", test_parse_refuses);
  g_test_add_func ("/coverid/parse/len", test_parse_len);
  g_test_add_func ("/coverid/random/hex", test_random_hex);
  g_test_add_func ("/coverid/random/fill", test_random_fill);
  g_test_add_func ("/coverid/random/backoff", test_random_backoff);
  return g_test_run ();
}
