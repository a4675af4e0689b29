/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Device tokens against the platform's description (DESIGN.md, "Device
 * tokens"), not against the module: the expected digests are computed here
 * from hand-packed little-endian bytes with GLib's HMAC-MD5, or written out
 * as literals computed elsewhere (Python's hmac module). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-token.h"
#include "cs-test-token.h"

#include <string.h>

#define KEY_A "coversnap-test-key"
#define KEY_B "another application's key"

/* seed: 10000415_0_1490680747_a830147b503b587dd524f4b11b8f96c2 */
#define SEED_CID 10000415u
#define SEED_EXPIRE 1490680747u

/* ---------------------------------------------------------------------- */
/* The independent implementation (tests/common/cs-test-token.c) */

static gchar *
spec_token (const gchar *key, guint32 cid, guint32 control, guint32 expire)
{
  return cs_test_token_spec (key, cid, control, expire, FALSE, 0);
}

static gchar *
spec_token_ip (
    const gchar *key, guint32 cid, guint32 control, guint32 expire, guint32 ip)
{
  return cs_test_token_spec (key, cid, control, expire, TRUE, ip);
}

/* Two applications: A owns 10000000-10999999 and 42, B owns
 * 20000000-20000099. */
static CoverAppTable *
make_apps (void)
{
  CoverAppTable *apps = cover_app_table_new ();
  GError *error = NULL;

  g_assert_true (
      cover_app_table_add (apps, "a", KEY_A, "10000000-10999999, 42", &error));
  g_assert_no_error (error);
  g_assert_true (
      cover_app_table_add (apps, "b", KEY_B, " 20000000 - 20000099 ", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (cover_app_table_get_size (apps), ==, 2);
  return apps;
}

static void
assert_status (CoverAppTable *apps, const gchar *text, gint64 now,
    CoverTokenStatus expected)
{
  CoverTokenStatus got = cover_token_verify (apps, text, now, NULL);

  if (got != expected)
    g_test_message ("token \"%s\": got %s, expected %s", text,
        cover_token_status_to_string (got),
        cover_token_status_to_string (expected));
  g_assert_cmpstr (cover_token_status_to_string (got), ==,
      cover_token_status_to_string (expected));
}

/* ---------------------------------------------------------------------- */

/* The primitive the test relies on is HMAC-MD5 (RFC 2104 test case 2). */
static void
test_hmac_md5_primitive (void)
{
  const gchar *data = "what do ya want for nothing?";
  g_autofree gchar *d = g_compute_hmac_for_data (G_CHECKSUM_MD5,
      (const guchar *) "Jefe", 4, (const guchar *) data, strlen (data));

  g_assert_cmpstr (d, ==, "750c783e6ab0b503eaa86e310a5db738");
}

/* The seed's token shape with a known key: plaintext bytes written out,
 * the digest a literal from another implementation. */
static void
test_known_answer (void)
{
  static const guint8 plain[12] = {
    0x1f, 0x98, 0x98, 0x00, /* 10000415 = 0x0098981f */
    0x00, 0x00, 0x00, 0x00, /* 0 */
    0xab, 0xfb, 0xd9, 0x58, /* 1490680747 = 0x58d9fbab */
  };
  static const guint8 plain_ip[16] = {
    0x1f, 0x98, 0x98, 0x00, 0x04, 0x00, 0x40, 0x00, /* bits 2 and 22 */
    0xab, 0xfb, 0xd9, 0x58, 0x4d, 0x01, 0xa8, 0xc0, /* 192.168.1.77 */
  };
  const gchar *expected =
      "10000415_0_1490680747_cdc15945d0c03d509de66dbaf9714a19";
  const gchar *expected_ip = "10000415_4194308_1490680747_3232235853_"
                             "6419d721ed16f2646250469fe1279c60";
  g_autoptr (CoverAppTable) apps = make_apps ();
  g_autofree gchar *d = NULL, *d_ip = NULL, *spec = NULL, *minted = NULL;
  g_autofree gchar *minted_ip = NULL;
  guint8 packed[12];
  CoverToken t = { 0 };
  guint32 ip;

  /* the hand packing agrees with the literal bytes */
  cs_test_put_le32 (packed, SEED_CID);
  cs_test_put_le32 (packed + 4, 0);
  cs_test_put_le32 (packed + 8, SEED_EXPIRE);
  g_assert_cmpmem (packed, sizeof (packed), plain, sizeof (plain));

  d = g_compute_hmac_for_data (G_CHECKSUM_MD5, (const guchar *) KEY_A,
      strlen (KEY_A), plain, sizeof (plain));
  g_assert_cmpstr (d, ==, "cdc15945d0c03d509de66dbaf9714a19");
  d_ip = g_compute_hmac_for_data (G_CHECKSUM_MD5, (const guchar *) KEY_A,
      strlen (KEY_A), plain_ip, sizeof (plain_ip));
  g_assert_cmpstr (d_ip, ==, "6419d721ed16f2646250469fe1279c60");

  spec = spec_token (KEY_A, SEED_CID, 0, SEED_EXPIRE);
  g_assert_cmpstr (spec, ==, expected);

  t.cid = SEED_CID;
  t.control = 0;
  t.expire = SEED_EXPIRE;
  minted = cover_token_mint (KEY_A, &t);
  g_assert_cmpstr (minted, ==, expected);

  g_assert_true (cover_token_ip_from_string ("192.168.1.77", &ip));
  g_assert_cmpuint (ip, ==, 3232235853u);
  t.control =
      COVER_TOKEN_CONTROL_VERIFY_IP | COVER_TOKEN_CONTROL_VIEW_SNAPSHOTS;
  g_assert_cmpuint (t.control, ==, 4194308u);
  t.ip = ip;
  t.has_ip = TRUE;
  minted_ip = cover_token_mint (KEY_A, &t);
  g_assert_cmpstr (minted_ip, ==, expected_ip);

  memset (&t, 0xaa, sizeof (t));
  g_assert_cmpint (
      cover_token_verify (apps, expected, SEED_EXPIRE, &t), ==, COVER_TOKEN_OK);
  g_assert_cmpuint (t.cid, ==, SEED_CID);
  g_assert_cmpuint (t.control, ==, 0);
  g_assert_cmpuint (t.expire, ==, SEED_EXPIRE);
  g_assert_false (t.has_ip);
  g_assert_cmpuint (t.digest[0], ==, 0xcd);
  g_assert_cmpuint (t.digest[15], ==, 0x19);

  g_assert_cmpint (cover_token_verify (apps, expected_ip, SEED_EXPIRE, &t), ==,
      COVER_TOKEN_OK);
  g_assert_true (t.has_ip);
  g_assert_cmpuint (t.ip, ==, 3232235853u);

  /* the seed's own token: well-formed, but not signed with our key */
  assert_status (apps, "10000415_0_1490680747_a830147b503b587dd524f4b11b8f96c2",
      0, COVER_TOKEN_BAD_DIGEST);
}

/* Spec-computed tokens for assorted fields, with and without ip. */
static void
test_spec_vectors (void)
{
  static const struct
  {
    guint32 cid, control, expire, ip;
  } v[] = {
    { 10000000, 0, 0, 0 },
    { 10999999, 1u << 22, G_MAXUINT32, 0 },
    { 42, 0xfffffffbu, 1700000000, 0 }, /* every bit but the ip bit */
    { 10000415, 4, 1490680747, 0 },
    { 10000415, 0xffffffffu, 1, G_MAXUINT32 },
    { 20000050, 4 | (1u << 22), 2000000000, 0x7f000001 },
  };
  g_autoptr (CoverAppTable) apps = make_apps ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (v); i++) {
    gboolean ip = (v[i].control & 4) != 0;
    const gchar *key = v[i].cid >= 20000000 ? KEY_B : KEY_A;
    g_autofree gchar *text = ip
        ? spec_token_ip (key, v[i].cid, v[i].control, v[i].expire, v[i].ip)
        : spec_token (key, v[i].cid, v[i].control, v[i].expire);
    CoverToken t;

    assert_status (apps, text, v[i].expire, COVER_TOKEN_OK);
    g_assert_true (cover_token_parse (text, &t));
    g_assert_cmpuint (t.cid, ==, v[i].cid);
    g_assert_cmpuint (t.control, ==, v[i].control);
    g_assert_cmpuint (t.expire, ==, v[i].expire);
    g_assert_cmpint (t.has_ip, ==, ip);
    if (ip)
      g_assert_cmpuint (t.ip, ==, v[i].ip);
  }
}

static void
test_missing (void)
{
  g_autoptr (CoverAppTable) apps = make_apps ();

  assert_status (apps, NULL, 0, COVER_TOKEN_MISSING);
  assert_status (apps, "", 0, COVER_TOKEN_MISSING);
  g_assert_false (cover_token_parse (NULL, NULL));
  g_assert_false (cover_token_parse ("", NULL));
}

static void
test_malformed (void)
{
  g_autoptr (CoverAppTable) apps = make_apps ();
  g_autofree gchar *good = spec_token (KEY_A, SEED_CID, 0, SEED_EXPIRE);
  g_autofree gchar *dg =
      cs_test_token_spec_digest (KEY_A, SEED_CID, 0, SEED_EXPIRE, FALSE, 0);
  g_autofree gchar *dg_ip =
      cs_test_token_spec_digest (KEY_A, SEED_CID, 4, SEED_EXPIRE, TRUE, 1);
  g_autofree gchar *dg_bit_no_ip =
      cs_test_token_spec_digest (KEY_A, SEED_CID, 4, SEED_EXPIRE, FALSE, 0);
  g_autofree gchar *dg_upper = g_ascii_strup (dg, -1);
  g_autofree gchar *long_tail = g_strnfill (200, '0');
  g_autoptr (GPtrArray) bad = g_ptr_array_new_with_free_func (g_free);
  guint i;

#define BAD(...) g_ptr_array_add (bad, g_strdup_printf (__VA_ARGS__))
  BAD ("%s", dg);                             /* 1 field */
  BAD ("10000415_%s", dg);                    /* 2 fields */
  BAD ("10000415_0_%s", dg);                  /* 3 fields */
  BAD ("10000415_0_1490680747_1_2_%s", dg);   /* 6 fields */
  BAD ("10000415_0_1490680747_1_2_3_%s", dg); /* 7 fields */
  BAD ("10000415_0_1490680747_%s_", dg);      /* trailing _ */
  BAD ("_10000415_0_1490680747_%s", dg);      /* leading _ */
  BAD ("10000415__1490680747_%s", dg);        /* empty field */
  BAD ("10000415_0__%s", dg);                 /* empty expire */
  BAD ("_0_1490680747_%s", dg);               /* empty cid */
  BAD ("10000415_0_1490680747_");             /* empty digest */
  BAD ("10000415_0_1490680747__%s", dg);      /* empty ip */
  BAD ("1000041a_0_1490680747_%s", dg);       /* non-digit */
  BAD ("10000415_0x1_1490680747_%s", dg);     /* hex number */
  BAD ("10000415_0_1490680747.5_%s", dg);     /* decimal point */
  BAD ("4294967296_0_1490680747_%s", dg);     /* > u32 */
  BAD ("10000415_0_9999999999_%s", dg);       /* > u32 */
  BAD ("10000415_0_00000000001_%s", dg);      /* 11 digits */
  BAD ("-10000415_0_1490680747_%s", dg);      /* negative */
  BAD ("10000415_-0_1490680747_%s", dg);      /* negative */
  BAD ("+10000415_0_1490680747_%s", dg);      /* plus sign */
  BAD (" 10000415_0_1490680747_%s", dg);      /* spaces */
  BAD ("10000415 _0_1490680747_%s", dg);
  BAD ("10000415_0_1490680747_%s ", dg);
  BAD ("10000415_0_1490680747_ %s", dg);
  BAD ("10000415_0_1490680747_%s\n", dg);
  BAD ("10000415_0_1490680747_%.31s", dg);    /* 31 digits */
  BAD ("10000415_0_1490680747_%s0", dg);      /* 33 digits */
  BAD ("10000415_0_1490680747_%s%s", dg, dg); /* 64 digits */
  BAD ("10000415_0_1490680747_g%s", dg + 1);  /* non-hex */
  BAD ("10000415_0_1490680747_%.31sz", dg);
  BAD ("10000415_0_1490680747_0x%.30s", dg);
  BAD ("10000415_0_1490680747_1_%s", dg);         /* ip, no bit */
  BAD ("10000415_4_1490680747_%s", dg_bit_no_ip); /* bit, no ip */
  BAD ("10000415_4194308_1490680747_%s", dg_bit_no_ip);
  BAD ("10000415_4_1490680747_1_%s", dg_ip + 1); /* short digest */
  BAD ("10000415_0_1490680747_%s_%s", dg, dg);
  BAD ("10000415_4_1490680747_1_%s_", dg_ip); /* ip + trailing _ */
  BAD ("10000415_4_1490680747_1_%s_%s", dg_ip, dg_ip);
  BAD ("10000415_0_1490680747_%s", long_tail); /* overlong */
  BAD ("%s%s", long_tail, good);
  BAD ("10000415\xc2\xa0_0_1490680747_%s", dg); /* UTF-8 space */
  BAD ("\xef\xbc\x91"
       "0000415_0_1490680747_%s",
      dg); /* fullwidth 1 */
  BAD ("10000415,0,1490680747,%s", dg);
  BAD ("10000415-0-1490680747-%s", dg);
  BAD ("_");
  BAD ("___");
  BAD ("____");
  BAD ("%s", "garbage");
#undef BAD

  for (i = 0; i < bad->len; i++) {
    const gchar *text = g_ptr_array_index (bad, i);
    CoverToken t;

    memset (&t, 0x55, sizeof (t));
    g_test_message ("malformed #%u: \"%s\"", i, text);
    assert_status (apps, text, 0, COVER_TOKEN_MALFORMED);
    g_assert_false (cover_token_parse (text, &t));
    g_assert_cmpuint (t.cid, ==, 0);
    g_assert_cmpuint (t.digest[0], ==, 0);
  }

  /* an embedded NUL ends the string: what follows is not seen */
  {
    gchar buf[128];

    g_snprintf (buf, sizeof (buf), "%s", good);
    buf[strlen (buf) - 1] = '\0';
    assert_status (apps, buf, 0, COVER_TOKEN_MALFORMED);
  }

  /* accepted spellings: leading zeros, upper-case and mixed-case hex */
  {
    g_autofree gchar *zeros =
        g_strdup_printf ("0%u_0000000000_%u_%s", SEED_CID, SEED_EXPIRE, dg);
    g_autofree gchar *upper =
        g_strdup_printf ("%u_0_%u_%s", SEED_CID, SEED_EXPIRE, dg_upper);
    g_autofree gchar *mixed =
        g_strdup_printf ("%u_0_%u_%s", SEED_CID, SEED_EXPIRE, dg);
    g_autofree gchar *max =
        spec_token (KEY_A, 42, G_MAXUINT32 & ~4u, G_MAXUINT32);
    CoverToken t;
    guint k;

    for (k = 0; mixed[k]; k += 2)
      mixed[k] = g_ascii_toupper (mixed[k]);
    assert_status (apps, zeros, 0, COVER_TOKEN_OK);
    assert_status (apps, upper, 0, COVER_TOKEN_OK);
    assert_status (apps, mixed, 0, COVER_TOKEN_OK);
    assert_status (apps, max, G_MAXUINT32, COVER_TOKEN_OK);
    g_assert_true (cover_token_parse (upper, &t));
    g_assert_true (cover_token_parse (max, &t));
    g_assert_cmpuint (t.expire, ==, G_MAXUINT32);
  }
}

static void
test_unknown_app (void)
{
  g_autoptr (CoverAppTable) apps = make_apps ();
  g_autoptr (CoverAppTable) empty = cover_app_table_new ();
  static const guint32 outside[] = { 0, 41, 43, 9999999, 11000000, 19999999,
    20000100, G_MAXUINT32 };
  g_autofree gchar *inside = spec_token (KEY_A, 10000000, 0, 100);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (outside); i++) {
    g_autofree gchar *a = spec_token (KEY_A, outside[i], 0, 100);
    g_autofree gchar *b = spec_token (KEY_B, outside[i], 0, 100);

    assert_status (apps, a, 0, COVER_TOKEN_UNKNOWN_APP);
    assert_status (apps, b, 0, COVER_TOKEN_UNKNOWN_APP);
    g_assert_null (cover_app_table_lookup (apps, outside[i], NULL));
  }
  assert_status (empty, inside, 0, COVER_TOKEN_UNKNOWN_APP);
  /* the same key inside a range: accepted */
  assert_status (apps, inside, 0, COVER_TOKEN_OK);
}

static gchar
flip_hex_bit (gchar c, guint bit)
{
  gint v = g_ascii_xdigit_value (c) ^ (1 << bit);

  return "0123456789abcdef"[v];
}

static void
test_bad_digest (void)
{
  g_autoptr (CoverAppTable) apps = make_apps ();
  g_autofree gchar *good = spec_token (KEY_A, SEED_CID, 0, SEED_EXPIRE);
  g_autofree gchar *good_ip =
      spec_token_ip (KEY_A, SEED_CID, 4, SEED_EXPIRE, 0x0a000001);
  const gchar *tokens[] = { good, good_ip };
  guint k;

  for (k = 0; k < G_N_ELEMENTS (tokens); k++) {
    gsize len = strlen (tokens[k]);
    gsize start = len - 32;
    gsize pos;
    guint bit;

    assert_status (apps, tokens[k], 0, COVER_TOKEN_OK);
    /* each of the 128 digest bits */
    for (pos = start; pos < len; pos++) {
      for (bit = 0; bit < 4; bit++) {
        g_autofree gchar *t = g_strdup (tokens[k]);

        t[pos] = flip_hex_bit (t[pos], bit);
        g_assert_cmpint (
            cover_token_verify (apps, t, 0, NULL), ==, COVER_TOKEN_BAD_DIGEST);
      }
    }
  }

  {
    /* the fields are covered: same digest, other values */
    g_autofree gchar *dg =
        cs_test_token_spec_digest (KEY_A, SEED_CID, 0, SEED_EXPIRE, FALSE, 0);
    g_autofree gchar *cid =
        g_strdup_printf ("%u_0_%u_%s", SEED_CID + 1, SEED_EXPIRE, dg);
    g_autofree gchar *ctl = g_strdup_printf ("%u_%u_%u_%s", SEED_CID,
        COVER_TOKEN_CONTROL_VIEW_SNAPSHOTS, SEED_EXPIRE, dg);
    g_autofree gchar *exp =
        g_strdup_printf ("%u_0_%u_%s", SEED_CID, SEED_EXPIRE + 1, dg);
    /* a signature over the decimal text, not the packed words */
    g_autofree gchar *text_sig = g_compute_hmac_for_string (G_CHECKSUM_MD5,
        (const guchar *) KEY_A, strlen (KEY_A), "10000415_0_1490680747", -1);
    g_autofree gchar *text_tok =
        g_strdup_printf ("10000415_0_1490680747_%s", text_sig);
    /* big-endian packing */
    guint8 be[12] = { 0x00, 0x98, 0x98, 0x1f, 0, 0, 0, 0, 0x58, 0xd9, 0xfb,
      0xab };
    g_autofree gchar *be_sig = g_compute_hmac_for_data (G_CHECKSUM_MD5,
        (const guchar *) KEY_A, strlen (KEY_A), be, sizeof (be));
    g_autofree gchar *be_tok =
        g_strdup_printf ("10000415_0_1490680747_%s", be_sig);
    g_autofree gchar *zero = g_strdup_printf ("10000415_0_1490680747_%032d", 0);
    /* an expired token with a bad digest reports the digest */
    g_autofree gchar *old = g_strdup_printf ("%u_0_%u_%s", SEED_CID, 5u, dg);

    assert_status (apps, cid, 0, COVER_TOKEN_BAD_DIGEST);
    assert_status (apps, ctl, 0, COVER_TOKEN_BAD_DIGEST);
    assert_status (apps, exp, 0, COVER_TOKEN_BAD_DIGEST);
    assert_status (apps, text_tok, 0, COVER_TOKEN_BAD_DIGEST);
    assert_status (apps, be_tok, 0, COVER_TOKEN_BAD_DIGEST);
    assert_status (apps, zero, 0, COVER_TOKEN_BAD_DIGEST);
    assert_status (apps, old, G_MAXINT64, COVER_TOKEN_BAD_DIGEST);
  }
}

static void
test_expiry (void)
{
  g_autoptr (CoverAppTable) apps = make_apps ();
  g_autofree gchar *seed = spec_token (KEY_A, SEED_CID, 0, SEED_EXPIRE);
  g_autofree gchar *zero = spec_token (KEY_A, SEED_CID, 0, 0);
  g_autofree gchar *max = spec_token (KEY_A, SEED_CID, 0, G_MAXUINT32);
  g_autofree gchar *ip = spec_token_ip (KEY_B, 20000000, 4, 1000, 1);

  assert_status (apps, seed, SEED_EXPIRE - 1, COVER_TOKEN_OK);
  assert_status (apps, seed, SEED_EXPIRE, COVER_TOKEN_OK);
  assert_status (apps, seed, (gint64) SEED_EXPIRE + 1, COVER_TOKEN_EXPIRED);
  assert_status (
      apps, seed, g_get_real_time () / G_USEC_PER_SEC, COVER_TOKEN_EXPIRED);
  assert_status (apps, seed, G_MAXINT64, COVER_TOKEN_EXPIRED);
  assert_status (apps, seed, -1, COVER_TOKEN_OK);
  assert_status (apps, seed, G_MININT64, COVER_TOKEN_OK);

  assert_status (apps, zero, 0, COVER_TOKEN_OK);
  assert_status (apps, zero, 1, COVER_TOKEN_EXPIRED);
  assert_status (
      apps, zero, g_get_real_time () / G_USEC_PER_SEC, COVER_TOKEN_EXPIRED);

  /* no wrap-around at the top of u32 */
  assert_status (apps, max, G_MAXUINT32, COVER_TOKEN_OK);
  assert_status (apps, max, (gint64) G_MAXUINT32 + 1, COVER_TOKEN_EXPIRED);

  assert_status (apps, ip, 1000, COVER_TOKEN_OK);
  assert_status (apps, ip, 1001, COVER_TOKEN_EXPIRED);
}

static void
test_ip_bound (void)
{
  g_autoptr (CoverAppTable) apps = make_apps ();
  guint32 ip;
  g_autofree gchar *tok = NULL, *other_ip = NULL, *dropped = NULL;
  g_autofree gchar *no_ip_in_digest = NULL, *dg_no_ip = NULL;
  g_autofree gchar *dg = NULL;
  CoverToken t;

  g_assert_true (cover_token_ip_from_string ("203.0.113.9", &ip));
  g_assert_cmpuint (ip, ==, (203u << 24) | (0u << 16) | (113u << 8) | 9u);
  tok = spec_token_ip (
      KEY_A, SEED_CID, COVER_TOKEN_CONTROL_VERIFY_IP, SEED_EXPIRE, ip);
  assert_status (apps, tok, SEED_EXPIRE, COVER_TOKEN_OK);
  g_assert_cmpint (cover_token_verify (apps, tok, 0, &t), ==, COVER_TOKEN_OK);
  g_assert_true (t.has_ip);
  g_assert_cmpuint (t.ip, ==, ip);
  g_assert_cmpuint (t.control & COVER_TOKEN_CONTROL_VERIFY_IP, !=, 0);

  /* the ip takes part in the digest */
  dg = cs_test_token_spec_digest (KEY_A, SEED_CID, 4, SEED_EXPIRE, TRUE, ip);
  other_ip =
      g_strdup_printf ("%u_4_%u_%u_%s", SEED_CID, SEED_EXPIRE, ip + 1, dg);
  assert_status (apps, other_ip, 0, COVER_TOKEN_BAD_DIGEST);
  g_assert_true (cover_token_parse (other_ip, &t));

  /* the digest of the first three fields alone does not do */
  dg_no_ip =
      cs_test_token_spec_digest (KEY_A, SEED_CID, 4, SEED_EXPIRE, FALSE, 0);
  no_ip_in_digest =
      g_strdup_printf ("%u_4_%u_%u_%s", SEED_CID, SEED_EXPIRE, ip, dg_no_ip);
  assert_status (apps, no_ip_in_digest, 0, COVER_TOKEN_BAD_DIGEST);

  /* dropping the ip field or the control bit makes it malformed */
  dropped = g_strdup_printf ("%u_4_%u_%s", SEED_CID, SEED_EXPIRE, dg);
  assert_status (apps, dropped, 0, COVER_TOKEN_MALFORMED);
  g_free (dropped);
  dropped = g_strdup_printf ("%u_0_%u_%u_%s", SEED_CID, SEED_EXPIRE, ip, dg);
  assert_status (apps, dropped, 0, COVER_TOKEN_MALFORMED);

  /* only bit 2 of byte 0 means ip: bits 10 (byte 1) and 18 (byte 2) not */
  {
    g_autofree gchar *b10 = spec_token (KEY_A, SEED_CID, 1u << 10, 9);
    g_autofree gchar *b18 = spec_token (KEY_A, SEED_CID, 1u << 18, 9);
    g_autofree gchar *b26 =
        spec_token_ip (KEY_A, SEED_CID, (1u << 26) | 4, 9, 7);

    assert_status (apps, b10, 0, COVER_TOKEN_OK);
    assert_status (apps, b18, 0, COVER_TOKEN_OK);
    assert_status (apps, b26, 0, COVER_TOKEN_OK);
  }

  /* minting follows the same rule */
  {
    CoverToken m = { 0 };
    g_autofree gchar *minted = NULL;

    m.cid = SEED_CID;
    m.control = COVER_TOKEN_CONTROL_VERIFY_IP;
    m.expire = SEED_EXPIRE;
    m.ip = ip;
    m.has_ip = TRUE;
    minted = cover_token_mint (KEY_A, &m);
    g_assert_cmpstr (minted, ==, tok);
  }
}

static void
test_several_apps (void)
{
  g_autoptr (CoverAppTable) apps = cover_app_table_new ();
  GError *error = NULL;
  static const struct
  {
    const gchar *name, *key;
    guint32 first, last;
  } app[] = {
    { "alpha", "key-alpha", 100, 199 },
    { "beta", "key-beta", 200, 200 },
    { "gamma", "key-gamma", 201, 299 },
    { "delta",
        "\xe5\xaf\x86\xe9\x92\xa5"
        "-utf8",
        0, 0 },
    { "omega", "key-omega", G_MAXUINT32 - 9, G_MAXUINT32 },
  };
  guint i, j;

  g_assert_true (
      cover_app_table_add (apps, "alpha", "key-alpha", "100-199", &error));
  g_assert_true (cover_app_table_add (apps, "beta", "key-beta", "200", &error));
  g_assert_true (cover_app_table_add (
      apps, "gamma", "key-gamma", "201-250,251 ,\t252-299", &error));
  g_assert_true (cover_app_table_add (
      apps, "delta", "\xe5\xaf\x86\xe9\x92\xa5-utf8", "0", &error));
  g_assert_true (cover_app_table_add (
      apps, "omega", "key-omega", "4294967286-4294967295", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (cover_app_table_get_size (apps), ==, 5);

  for (i = 0; i < G_N_ELEMENTS (app); i++) {
    guint32 edges[] = { app[i].first, app[i].last };
    guint e;

    for (e = 0; e < G_N_ELEMENTS (edges); e++) {
      g_autofree gchar *tok = spec_token (app[i].key, edges[e], 0, 10);
      const gchar *name = NULL;
      GBytes *key = cover_app_table_lookup (apps, edges[e], &name);

      g_assert_nonnull (key);
      g_assert_cmpstr (name, ==, app[i].name);
      g_assert_cmpmem (g_bytes_get_data (key, NULL), g_bytes_get_size (key),
          app[i].key, strlen (app[i].key));
      assert_status (apps, tok, 10, COVER_TOKEN_OK);

      /* signed with any other app's key -> bad digest */
      for (j = 0; j < G_N_ELEMENTS (app); j++) {
        g_autofree gchar *wrong = NULL;

        if (j == i)
          continue;
        wrong = spec_token (app[j].key, edges[e], 0, 10);
        assert_status (apps, wrong, 10, COVER_TOKEN_BAD_DIGEST);
      }
    }
  }

  /* just outside: first - 1 and last + 1 where those are nobody's */
  {
    static const guint32 gaps[] = { 1, 99, 300, G_MAXUINT32 - 10 };
    const gchar *name = "unchanged";

    for (i = 0; i < G_N_ELEMENTS (gaps); i++) {
      g_autofree gchar *tok = spec_token ("key-alpha", gaps[i], 0, 10);

      g_assert_null (cover_app_table_lookup (apps, gaps[i], &name));
      g_assert_null (name);
      assert_status (apps, tok, 10, COVER_TOKEN_UNKNOWN_APP);
    }
  }
}

static void
assert_add_fails (CoverAppTable *apps, const gchar *name, const gchar *key,
    const gchar *cids, const gchar *expect_in_message)
{
  GError *error = NULL;
  guint before = cover_app_table_get_size (apps);

  g_assert_false (cover_app_table_add (apps, name, key, cids, &error));
  g_assert_nonnull (error);
  g_test_message ("cids \"%s\" -> %s", cids ? cids : "(null)", error->message);
  g_assert_cmpstr (
      g_quark_to_string (error->domain), ==, "cover-app-table-error-quark");
  if (strstr (error->message, expect_in_message) == NULL)
    g_error ("message \"%s\" does not contain \"%s\"", error->message,
        expect_in_message);
  /* the message never carries the key */
  if (key && *key)
    g_assert_null (strstr (error->message, key));
  g_assert_cmpuint (cover_app_table_get_size (apps), ==, before);
  g_error_free (error);

  /* and failing does not need an error to report into */
  g_assert_false (cover_app_table_add (apps, name, key, cids, NULL));
}

static void
test_app_table_errors (void)
{
  g_autoptr (CoverAppTable) apps = cover_app_table_new ();
  GError *error = NULL;

  g_assert_true (
      cover_app_table_add (apps, "a", "secret-a", "1000-1999,5000", &error));
  g_assert_no_error (error);

  assert_add_fails (apps, "b", "secret-b", "", "no cid ranges");
  assert_add_fails (apps, "b", "secret-b", "   ", "no cid ranges");
  assert_add_fails (apps, "b", "secret-b", NULL, "no cid ranges");
  assert_add_fails (apps, "b", "secret-b", "1,", "item 2 is empty");
  assert_add_fails (apps, "b", "secret-b", ",1", "item 1 is empty");
  assert_add_fails (apps, "b", "secret-b", "1,,2", "item 2 is empty");
  assert_add_fails (apps, "b", "secret-b", "1, ,2", "item 2 is empty");
  assert_add_fails (apps, "b", "secret-b", "abc", "\"abc\" is not a cid");
  assert_add_fails (apps, "b", "secret-b", "1-", "\"1-\" is not a cid");
  assert_add_fails (apps, "b", "secret-b", "-5", "\"-5\" is not a cid");
  assert_add_fails (apps, "b", "secret-b", "1-2-3", "\"1-2-3\" is not");
  assert_add_fails (apps, "b", "secret-b", "+5", "\"+5\" is not a cid");
  assert_add_fails (apps, "b", "secret-b", "0x10", "\"0x10\" is not");
  assert_add_fails (apps, "b", "secret-b", "1 2", "\"1 2\" is not a cid");
  assert_add_fails (
      apps, "b", "secret-b", "4294967296", "\"4294967296\" is not a cid");
  assert_add_fails (apps, "b", "secret-b", "1-99999999999", "is not a cid");
  assert_add_fails (apps, "b", "secret-b", "1;2", "\"1;2\" is not a cid");
  assert_add_fails (apps, "b", "secret-b", "10-9", "\"10-9\" is reversed");
  assert_add_fails (apps, "b", "secret-b", "1\n", "\"1\\n\"");
  /* overlaps with another app: contained, straddling either edge, equal,
   * a single cid */
  assert_add_fails (apps, "b", "secret-b", "1200-1300",
      "cids 1200-1300 overlap 1000-1999 of application \"a\"");
  assert_add_fails (apps, "b", "secret-b", "900-1000", "overlap 1000-1999");
  assert_add_fails (apps, "b", "secret-b", "1999-2500", "overlap 1000-1999");
  assert_add_fails (
      apps, "b", "secret-b", "0-4294967295", "of application \"a\"");
  assert_add_fails (apps, "b", "secret-b", "3000,5000",
      "cids 5000 overlap 5000 of application \"a\"");
  /* overlaps within the same app */
  assert_add_fails (
      apps, "b", "secret-b", "10-20,15-30", "cids 10-20 and 15-30 overlap");
  assert_add_fails (apps, "b", "secret-b", "7,7", "cids 7 and 7 overlap");
  assert_add_fails (apps, "b", "secret-b", "7,1-10", "overlap");
  /* keys and names */
  assert_add_fails (apps, "b", "", "3000", "key is empty");
  assert_add_fails (apps, "b", NULL, "3000", "key is empty");
  assert_add_fails (apps, "a", "secret-x", "3000", "defined twice");
  assert_add_fails (apps, "", "secret-x", "3000", "name is empty");

  /* nothing of the failed adds stuck */
  {
    const gchar *name = NULL;

    g_assert_nonnull (cover_app_table_lookup (apps, 1200, &name));
    g_assert_cmpstr (name, ==, "a");
    g_assert_null (cover_app_table_lookup (apps, 3000, NULL));
    g_assert_null (cover_app_table_lookup (apps, 10, NULL));
    g_assert_null (cover_app_table_lookup (apps, 900, NULL));
  }

  /* adjacent ranges are fine */
  g_assert_true (
      cover_app_table_add (apps, "b", "secret-b", "999,2000-4999", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (cover_app_table_get_size (apps), ==, 2);
}

/* Many ranges: lookups find the right one at every edge. */
static void
test_many_ranges (void)
{
  g_autoptr (CoverAppTable) apps = cover_app_table_new ();
  const guint n_apps = 20, per_app = 500;
  GError *error = NULL;
  guint a, r;

  /* app a owns ranges [k*100, k*100+49] for k ≡ a (mod n_apps), added in
   * descending order so that the table has to sort them */
  for (a = 0; a < n_apps; a++) {
    g_autoptr (GString) cids = g_string_new (NULL);
    g_autofree gchar *name = g_strdup_printf ("app%u", a);
    g_autofree gchar *key = g_strdup_printf ("key%u", a);

    for (r = per_app; r > 0; r--) {
      guint k = (r - 1) * n_apps + a;

      g_string_append_printf (
          cids, "%s%u-%u", cids->len ? "," : "", k * 100, k * 100 + 49);
    }
    g_assert_true (cover_app_table_add (apps, name, key, cids->str, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpuint (cover_app_table_get_size (apps), ==, n_apps);

  for (r = 0; r < n_apps * per_app; r++) {
    guint32 probes[] = { r * 100, r * 100 + 49, r * 100 + 50, r * 100 + 99 };
    g_autofree gchar *want = g_strdup_printf ("app%u", r % n_apps);
    guint p;

    for (p = 0; p < G_N_ELEMENTS (probes); p++) {
      const gchar *name = NULL;
      GBytes *key = cover_app_table_lookup (apps, probes[p], &name);

      if (p < 2) {
        g_assert_nonnull (key);
        g_assert_cmpstr (name, ==, want);
      } else {
        g_assert_null (key);
      }
    }
  }
  g_assert_null (cover_app_table_lookup (apps, G_MAXUINT32, NULL));
}

typedef struct
{
  CoverAppTable *apps;
  gchar **tokens; /* even index: valid, odd: bad digest */
  guint n_tokens;
  guint failures;
} ThreadData;

static gpointer
verify_thread (gpointer user_data)
{
  ThreadData *d = user_data;
  guint i;

  for (i = 0; i < 4000; i++) {
    guint k = i % d->n_tokens;
    CoverTokenStatus want = (k % 2) ? COVER_TOKEN_BAD_DIGEST : COVER_TOKEN_OK;
    const gchar *name = NULL;
    CoverToken t;

    if (cover_token_verify (d->apps, d->tokens[k], 0, &t) != want)
      d->failures++;
    if (!cover_app_table_lookup (d->apps, t.cid, &name) || name == NULL)
      d->failures++;
  }
  return NULL;
}

/* A built table is read by many threads at once. */
static void
test_concurrent (void)
{
  g_autoptr (CoverAppTable) apps = make_apps ();
  ThreadData data[4];
  GThread *threads[4];
  gchar *tokens[8];
  guint i;

  for (i = 0; i < G_N_ELEMENTS (tokens); i += 2) {
    guint32 cid = (i / 2) % 2 ? 20000000 + i : 10000000 + i;
    const gchar *key = (i / 2) % 2 ? KEY_B : KEY_A;
    const gchar *other = (i / 2) % 2 ? KEY_A : KEY_B;

    tokens[i] = spec_token (key, cid, 0, 10);
    tokens[i + 1] = spec_token (other, cid, 0, 10);
  }
  for (i = 0; i < G_N_ELEMENTS (threads); i++) {
    data[i].apps = apps;
    data[i].tokens = tokens;
    data[i].n_tokens = G_N_ELEMENTS (tokens);
    data[i].failures = 0;
    threads[i] = g_thread_new ("verify", verify_thread, &data[i]);
  }
  for (i = 0; i < G_N_ELEMENTS (threads); i++) {
    g_thread_join (threads[i]);
    g_assert_cmpuint (data[i].failures, ==, 0);
  }
  for (i = 0; i < G_N_ELEMENTS (tokens); i++)
    g_free (tokens[i]);
}

static void
test_ip_from_string (void)
{
  static const struct
  {
    const gchar *text;
    guint32 ip;
  } good[] = {
    { "0.0.0.0", 0 },
    { "127.0.0.1", 0x7f000001 },
    { "192.168.1.77", 0xc0a8014d },
    { "255.255.255.255", 0xffffffff },
    { "1.2.3.4", 0x01020304 },
    { "::ffff:10.20.30.40", 0x0a141e28 },
    { "::FFFF:1.2.3.4", 0x01020304 },
    { "0:0:0:0:0:ffff:1.2.3.4", 0x01020304 },
  };
  static const gchar *bad[] = {
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "1.2.3.-4",
    " 1.2.3.4",
    "1.2.3.4 ",
    "1.2.3.4\n",
    "1.2.3.4/24",
    "1.2.3.4:80",
    "a.b.c.d",
    "localhost",
    "::1",
    "::",
    "2001:db8::1",
    "::ffff:ffff:1.2.3.4",
    "::fffe:1.2.3.4",
    "64:ff9b::1.2.3.4",
    "::1.2.3.4",
    "[::ffff:1.2.3.4]",
    "0x7f.0.0.1",
    "1..2.3",
    "1.2.3.",
    "3232235853",
  };
  guint i;
  guint32 ip;

  for (i = 0; i < G_N_ELEMENTS (good); i++) {
    ip = 0xdeadbeef;
    g_test_message ("ip \"%s\"", good[i].text);
    g_assert_true (cover_token_ip_from_string (good[i].text, &ip));
    g_assert_cmphex (ip, ==, good[i].ip);
  }
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    ip = 0xdeadbeef;
    g_test_message ("not ip \"%s\"", bad[i]);
    g_assert_false (cover_token_ip_from_string (bad[i], &ip));
    g_assert_cmphex (ip, ==, 0xdeadbeef);
  }
  g_assert_false (cover_token_ip_from_string (NULL, &ip));
}

/* No run of 8 characters of the digest, in either case, appears. */
static void
assert_no_digest (const gchar *redacted, const gchar *digest)
{
  gsize len = strlen (digest), i;
  g_autofree gchar *lower = g_ascii_strdown (redacted, -1);

  for (i = 0; i + 8 <= len; i++) {
    g_autofree gchar *piece = g_ascii_strdown (digest + i, 8);

    if (strstr (lower, piece))
      g_error ("\"%s\" shows part of the digest \"%s\"", redacted, piece);
  }
}

static void
test_redact (void)
{
  g_autofree gchar *dg =
      cs_test_token_spec_digest (KEY_A, SEED_CID, 0, SEED_EXPIRE, FALSE, 0);
  g_autofree gchar *dg_ip = cs_test_token_spec_digest (
      KEY_A, SEED_CID, 4, SEED_EXPIRE, TRUE, 0x01020304);
  g_autofree gchar *tok =
      g_strdup_printf ("%u_0_%u_%s", SEED_CID, SEED_EXPIRE, dg);
  g_autofree gchar *tok_ip =
      g_strdup_printf ("%u_4_%u_16909060_%s", SEED_CID, SEED_EXPIRE, dg_ip);
  g_autofree gchar *numeric =
      g_strdup_printf ("%u_0_%u_%032u", SEED_CID, SEED_EXPIRE, 12345u);
  g_autofree gchar *r = NULL, *r_ip = NULL, *r_num = NULL;
  g_autoptr (GPtrArray) bad = g_ptr_array_new_with_free_func (g_free);
  guint i;

  r = cover_token_redact (tok);
  g_assert_cmpstr (r, ==, "10000415_0_1490680747_\xe2\x80\xa6");
  r_ip = cover_token_redact (tok_ip);
  g_assert_cmpstr (r_ip, ==, "10000415_4_1490680747_16909060_\xe2\x80\xa6");
  r_num = cover_token_redact (numeric);
  g_assert_cmpstr (r_num, ==, "10000415_0_1490680747_\xe2\x80\xa6");

  /* malformed tokens carrying a real digest somewhere */
  g_ptr_array_add (bad, g_strdup (dg));
  g_ptr_array_add (bad, g_ascii_strup (dg, -1));
  g_ptr_array_add (bad, g_strdup_printf ("%s_", tok));
  g_ptr_array_add (bad, g_strdup_printf (" %s", tok));
  g_ptr_array_add (bad, g_strdup_printf ("%s_%s", dg, tok));
  g_ptr_array_add (bad, g_strdup_printf ("1_2_3_4_5_6_%s", dg));
  g_ptr_array_add (bad, g_strdup_printf ("%u_0_%s", SEED_CID, dg));
  g_ptr_array_add (
      bad, g_strdup_printf ("%u_4_%u_%s", SEED_CID, SEED_EXPIRE, dg));
  g_ptr_array_add (
      bad, g_strdup_printf ("%u_0_%u_%.31s", SEED_CID, SEED_EXPIRE, dg));
  g_ptr_array_add (bad, g_strdup_printf ("%s%s", tok, tok));

  for (i = 0; i < bad->len; i++) {
    const gchar *text = g_ptr_array_index (bad, i);
    g_autofree gchar *red = cover_token_redact (text);
    const gchar *p;

    g_test_message ("redact(\"%s\") = \"%s\"", text, red);
    g_assert_true (g_utf8_validate (red, -1, NULL));
    assert_no_digest (red, dg);
    for (p = red; *p; p++)
      g_assert_false (g_ascii_iscntrl (*p));
  }

  /* the numeric prefix survives, control characters do not */
  {
    g_autofree gchar *a = cover_token_redact ("10000415_0_\x1b[31mX\n");
    g_autofree gchar *b = cover_token_redact (NULL);
    g_autofree gchar *c = cover_token_redact ("");

    g_assert_true (g_str_has_prefix (a, "10000415_0_\xe2\x80\xa6"));
    g_assert_null (strchr (a, '\x1b'));
    g_assert_null (strchr (a, '\n'));
    g_assert_nonnull (b);
    g_assert_nonnull (c);
  }
}

/* mint -> parse → verify for random fields, cross-checked with the
 * independent digest. */
static void
test_round_trip (void)
{
  g_autoptr (CoverAppTable) apps = cover_app_table_new ();
  GError *error = NULL;
  guint i;

  g_assert_true (
      cover_app_table_add (apps, "all", KEY_A, "0-4294967295", &error));
  g_assert_no_error (error);

  for (i = 0; i < 1000; i++) {
    CoverToken t = { 0 }, back;
    g_autofree gchar *minted = NULL, *spec = NULL;

    t.cid = g_test_rand_int ();
    t.control = g_test_rand_int ();
    if (i % 2)
      t.control &= ~COVER_TOKEN_CONTROL_VERIFY_IP;
    t.expire = g_test_rand_int ();
    t.has_ip = (t.control & COVER_TOKEN_CONTROL_VERIFY_IP) != 0;
    if (t.has_ip)
      t.ip = g_test_rand_int ();
    memset (t.digest, 0xee, sizeof (t.digest)); /* ignored by mint */

    minted = cover_token_mint (KEY_A, &t);
    spec = t.has_ip ? spec_token_ip (KEY_A, t.cid, t.control, t.expire, t.ip)
                    : spec_token (KEY_A, t.cid, t.control, t.expire);
    g_assert_cmpstr (minted, ==, spec);

    g_assert_true (cover_token_parse (minted, &back));
    g_assert_cmpuint (back.cid, ==, t.cid);
    g_assert_cmpuint (back.control, ==, t.control);
    g_assert_cmpuint (back.expire, ==, t.expire);
    g_assert_cmpint (back.has_ip, ==, t.has_ip);
    g_assert_cmpuint (back.ip, ==, t.ip);

    g_assert_cmpint (
        cover_token_verify (apps, minted, t.expire, NULL), ==, COVER_TOKEN_OK);
    g_assert_cmpint (
        cover_token_verify (apps, minted, (gint64) t.expire + 1, NULL), ==,
        COVER_TOKEN_EXPIRED);
  }
}

static void
test_status_strings (void)
{
  g_assert_cmpstr (cover_token_status_to_string (COVER_TOKEN_OK), ==, "ok");
  g_assert_cmpstr (
      cover_token_status_to_string (COVER_TOKEN_MISSING), ==, "missing");
  g_assert_cmpstr (
      cover_token_status_to_string (COVER_TOKEN_MALFORMED), ==, "malformed");
  g_assert_cmpstr (cover_token_status_to_string (COVER_TOKEN_UNKNOWN_APP), ==,
      "unknown_app");
  g_assert_cmpstr (
      cover_token_status_to_string (COVER_TOKEN_BAD_DIGEST), ==, "bad_digest");
  g_assert_cmpstr (
      cover_token_status_to_string (COVER_TOKEN_EXPIRED), ==, "expired");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/token/hmac-md5-primitive", test_hmac_md5_primitive);
  g_test_add_func ("/token/known-answer", test_known_answer);
  g_test_add_func ("/token/spec-vectors", test_spec_vectors);
  g_test_add_func ("/token/missing", test_missing);
  g_test_add_func ("/token/malformed", test_malformed);
  g_test_add_func ("/token/unknown-app", test_unknown_app);
  g_test_add_func ("/token/bad-digest", test_bad_digest);
  g_test_add_func ("/token/expiry", test_expiry);
  g_test_add_func ("/token/ip-bound", test_ip_bound);
  g_test_add_func ("/token/several-apps", test_several_apps);
  g_test_add_func ("/token/app-table-errors", test_app_table_errors);
  g_test_add_func ("/token/many-ranges", test_many_ranges);
  g_test_add_func ("/token/concurrent", test_concurrent);
  g_test_add_func ("/token/ip-from-string", test_ip_from_string);
  g_test_add_func ("/token/redact", test_redact);
  g_test_add_func ("/token/round-trip", test_round_trip);
  g_test_add_func ("/token/status-strings", test_status_strings);

  return g_test_run ();
}
