/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Device tokens: strict parsing, HMAC-MD5 verification against the key of
 * the application owning the token's cid, and the cid → application table.
 *
 * The table is built once (from the config) and then only read, by any
 * number of threads: lookups touch no reference counts and take no locks.
 * Each application keeps a GHmac already keyed with its key; verifying
 * copies it (reading a GHmac is thread-safe) instead of re-deriving the
 * ipad/opad states for every request. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cover-token.h"

#include "coverid.h"

#include <string.h>

#include <gio/gio.h>

/* Longest real token: four 10-digit fields, 4 separators and 32 hex digits
 * = 76 bytes.  Anything much longer is not worth scanning. */
#define MAX_TOKEN_LEN 128
#define MAX_FIELD_DIGITS 10
#define DIGEST_HEX_LEN 32
#define DIGEST_LEN 16

#define REDACTED "\xe2\x80\xa6" /* … */

typedef struct
{
  gchar *name;
  GBytes *key;
  GHmac *hmac; /* keyed, never updated: a template to copy */
} CoverApp;

typedef struct
{
  guint32 lo;
  guint32 hi;
  guint app; /* index into apps */
} CidRange;

struct _CoverAppTable
{
  GPtrArray *apps; /* CoverApp */
  GArray *ranges;  /* CidRange, sorted by lo, never overlapping */
};

/* Not in the header (it has no error domain): errors of
 * cover_app_table_add() carry this domain and code 0; the message is what
 * matters. */
static G_DEFINE_QUARK (cover-app-table-error-quark, cover_app_table_error);

static void
cover_app_free (gpointer data)
{
  CoverApp *app = data;

  g_free (app->name);
  g_bytes_unref (app->key);
  g_hmac_unref (app->hmac);
  g_free (app);
}

CoverAppTable *
cover_app_table_new (void)
{
  CoverAppTable *table = g_new0 (CoverAppTable, 1);

  table->apps = g_ptr_array_new_with_free_func (cover_app_free);
  table->ranges = g_array_new (FALSE, FALSE, sizeof (CidRange));
  return table;
}

void
cover_app_table_free (CoverAppTable *table)
{
  if (table) {
    g_ptr_array_unref (table->apps);
    g_array_unref (table->ranges);
    g_free (table);
  }
}

guint
cover_app_table_get_size (CoverAppTable *table)
{
  g_return_val_if_fail (table != NULL, 0);

  return table->apps->len;
}

/* A token's fields: 1..10 ASCII decimal digits, value fits in 32 bits.
 * Leading zeros are still decimal (no octal): the platform's token format
 * (the digest is over the binary values), unlike a client id in our own
 * text (URLs, config, tools), which has one spelling (coverid.h). */
static gboolean
parse_u32 (const gchar *s, gsize len, guint32 *out)
{
  guint64 v = 0;
  gsize i;

  if (len == 0 || len > MAX_FIELD_DIGITS)
    return FALSE;
  for (i = 0; i < len; i++) {
    if (!g_ascii_isdigit (s[i]))
      return FALSE;
    v = v * 10 + (guint64) g_ascii_digit_value (s[i]);
  }
  if (v > G_MAXUINT32)
    return FALSE;
  *out = (guint32) v;
  return TRUE;
}

static gint
compare_ranges (gconstpointer a, gconstpointer b)
{
  const CidRange *ra = a, *rb = b;

  if (ra->lo != rb->lo)
    return ra->lo < rb->lo ? -1 : 1;
  if (ra->hi != rb->hi)
    return ra->hi < rb->hi ? -1 : 1;
  return 0;
}

static gboolean
is_blank (gchar c)
{
  return c == ' ' || c == '\t';
}

/* @item is one comma-separated piece of a cids string, untrimmed. */
static gboolean
parse_cid_item (const gchar *item, guint32 *lo, guint32 *hi)
{
  const gchar *start = item, *end = item + strlen (item), *dash;

  while (start < end && is_blank (*start))
    start++;
  while (end > start && is_blank (end[-1]))
    end--;

  dash = memchr (start, '-', end - start);
  if (!dash) {
    if (!cover_client_id_parse (start, end - start, lo))
      return FALSE;
    *hi = *lo;
    return TRUE;
  } else {
    const gchar *a_end = dash, *b_start = dash + 1;

    while (a_end > start && is_blank (a_end[-1]))
      a_end--;
    while (b_start < end && is_blank (*b_start))
      b_start++;
    return cover_client_id_parse (start, a_end - start, lo) &&
        cover_client_id_parse (b_start, end - b_start, hi);
  }
}

static gchar *
format_range (const CidRange *r)
{
  if (r->lo == r->hi)
    return g_strdup_printf ("%u", r->lo);
  return g_strdup_printf ("%u-%u", r->lo, r->hi);
}

gboolean
cover_app_table_add (CoverAppTable *table, const gchar *name, const gchar *key,
    const gchar *cids, GError **error)
{
  g_autoptr (GArray) merged = NULL;
  g_auto (GStrv) items = NULL;
  CoverApp *app;
  guint app_index, n_new = 0, i;

  g_return_val_if_fail (table != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (*name == '\0')
    goto empty_name;
  for (i = 0; i < table->apps->len; i++) {
    CoverApp *other = g_ptr_array_index (table->apps, i);
    if (g_strcmp0 (other->name, name) == 0)
      goto duplicate_name;
  }
  if (key == NULL || *key == '\0')
    goto empty_key;
  if (cids == NULL)
    goto no_cids;

  app_index = table->apps->len;
  merged = g_array_sized_new (
      FALSE, FALSE, sizeof (CidRange), table->ranges->len + 8);
  g_array_append_vals (merged, table->ranges->data, table->ranges->len);

  items = g_strsplit (cids, ",", -1);
  for (i = 0; items[i]; i++) {
    CidRange r = { 0, 0, app_index };
    const gchar *p = items[i];

    while (is_blank (*p))
      p++;
    if (*p == '\0') {
      if (items[1] == NULL) /* the whole string is empty */
        goto no_cids;
      goto empty_item;
    }
    if (!parse_cid_item (items[i], &r.lo, &r.hi))
      goto bad_item;
    if (r.lo > r.hi)
      goto reversed_item;
    g_array_append_val (merged, r);
    n_new++;
  }
  if (n_new == 0)
    goto no_cids;

  g_array_sort (merged, compare_ranges);
  /* sorted by lo: if any two ranges overlap, two neighbours do */
  for (i = 1; i < merged->len; i++) {
    const CidRange *prev = &g_array_index (merged, CidRange, i - 1);
    const CidRange *cur = &g_array_index (merged, CidRange, i);

    if (cur->lo <= prev->hi)
      goto overlap;
  }

  app = g_new0 (CoverApp, 1);
  app->name = g_strdup (name);
  app->key = g_bytes_new (key, strlen (key));
  app->hmac = g_hmac_new (G_CHECKSUM_MD5, (const guchar *) key, strlen (key));
  g_ptr_array_add (table->apps, app);

  g_array_unref (table->ranges);
  table->ranges = g_steal_pointer (&merged);
  return TRUE;

  /* ERRORS */
empty_name : {
  g_set_error_literal (error, cover_app_table_error_quark (), 0,
      "the application name is empty");
  return FALSE;
}
duplicate_name : {
  g_set_error (error, cover_app_table_error_quark (), 0,
      "application \"%s\" is defined twice", name);
  return FALSE;
}
empty_key : {
  g_set_error (error, cover_app_table_error_quark (), 0,
      "application \"%s\": the key is empty", name);
  return FALSE;
}
no_cids : {
  g_set_error (error, cover_app_table_error_quark (), 0,
      "application \"%s\": no cid ranges given (expected e.g. "
      "\"10000000-10999999,42\")",
      name);
  return FALSE;
}
empty_item : {
  g_set_error (error, cover_app_table_error_quark (), 0,
      "application \"%s\": cids item %u is empty (stray comma?)", name, i + 1);
  return FALSE;
}
bad_item : {
  g_autofree gchar *shown = g_strescape (items[i], NULL);

  g_set_error (error, cover_app_table_error_quark (), 0,
      "application \"%s\": cids item %u \"%s\" is not a cid or a range "
      "FIRST-LAST of unsigned 32-bit decimal numbers",
      name, i + 1, shown);
  return FALSE;
}
reversed_item : {
  g_autofree gchar *shown = g_strescape (g_strstrip (items[i]), NULL);

  g_set_error (error, cover_app_table_error_quark (), 0,
      "application \"%s\": cids range \"%s\" is reversed "
      "(first is greater than last)",
      name, shown);
  return FALSE;
}
overlap : {
  const CidRange *a = &g_array_index (merged, CidRange, i - 1);
  const CidRange *b = &g_array_index (merged, CidRange, i);
  const CidRange *mine = b->app == app_index ? b : a;
  const CidRange *theirs = mine == b ? a : b;
  g_autofree gchar *mine_s = format_range (mine);
  g_autofree gchar *theirs_s = format_range (theirs);

  if (a->app == app_index && b->app == app_index) {
    g_set_error (error, cover_app_table_error_quark (), 0,
        "application \"%s\": cids %s and %s overlap", name, theirs_s, mine_s);
  } else {
    const CoverApp *other = g_ptr_array_index (table->apps, theirs->app);

    g_set_error (error, cover_app_table_error_quark (), 0,
        "application \"%s\": cids %s overlap %s of application \"%s\"", name,
        mine_s, theirs_s, other->name);
  }
  return FALSE;
}
}

static const CoverApp *
find_app (CoverAppTable *table, guint32 cid)
{
  const CidRange *ranges = (const CidRange *) table->ranges->data;
  guint lo = 0, hi = table->ranges->len;

  /* first range with ranges[i].lo > cid; the one before may hold cid */
  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;

    if (ranges[mid].lo <= cid)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0 || cid > ranges[lo - 1].hi)
    return NULL;
  return g_ptr_array_index (table->apps, ranges[lo - 1].app);
}

/* Transfer none: the key and name live as long as the table.  No reference
 * is taken so that concurrent lookups share no writable memory. */
GBytes *
cover_app_table_lookup (
    CoverAppTable *table, guint32 cid, const gchar **app_name)
{
  const CoverApp *app;

  g_return_val_if_fail (table != NULL, NULL);

  app = find_app (table, cid);
  if (app_name)
    *app_name = app ? app->name : NULL;
  return app ? app->key : NULL;
}

gboolean
cover_token_parse (const gchar *text, CoverToken *token)
{
  const gchar *field[5];
  gsize field_len[5];
  guint n_fields = 0, i;
  gsize len;
  const gchar *p, *start;
  CoverToken t;

  if (token)
    memset (token, 0, sizeof (*token));
  if (text == NULL)
    return FALSE;
  len = strnlen (text, MAX_TOKEN_LEN + 1);
  if (len == 0 || len > MAX_TOKEN_LEN)
    return FALSE;

  start = text;
  for (p = text;; p++) {
    if (*p == '_' || *p == '\0') {
      if (n_fields == G_N_ELEMENTS (field))
        return FALSE;
      field[n_fields] = start;
      field_len[n_fields] = p - start;
      n_fields++;
      if (*p == '\0')
        break;
      start = p + 1;
    }
  }
  if (n_fields != 4 && n_fields != 5)
    return FALSE;

  memset (&t, 0, sizeof (t));
  if (!parse_u32 (field[0], field_len[0], &t.cid) ||
      !parse_u32 (field[1], field_len[1], &t.control) ||
      !parse_u32 (field[2], field_len[2], &t.expire))
    return FALSE;
  t.has_ip = n_fields == 5;
  if (t.has_ip != ((t.control & COVER_TOKEN_CONTROL_VERIFY_IP) != 0))
    return FALSE;
  if (t.has_ip && !parse_u32 (field[3], field_len[3], &t.ip))
    return FALSE;

  p = field[n_fields - 1];
  if (field_len[n_fields - 1] != DIGEST_HEX_LEN)
    return FALSE;
  for (i = 0; i < DIGEST_LEN; i++) {
    gint h = g_ascii_xdigit_value (p[2 * i]);
    gint l = g_ascii_xdigit_value (p[2 * i + 1]);

    if (h < 0 || l < 0)
      return FALSE;
    t.digest[i] = (guint8) (h << 4 | l);
  }

  if (token)
    *token = t;
  return TRUE;
}

/* The plaintext: the fields as little-endian guint32, cid, control,
 * expire[, ip]. */
static gsize
pack_fields (const CoverToken *token, guint8 out[16])
{
  guint32 words[4];
  guint n = 0;

  words[n++] = GUINT32_TO_LE (token->cid);
  words[n++] = GUINT32_TO_LE (token->control);
  words[n++] = GUINT32_TO_LE (token->expire);
  if (token->control & COVER_TOKEN_CONTROL_VERIFY_IP)
    words[n++] = GUINT32_TO_LE (token->ip);
  memcpy (out, words, n * sizeof (guint32));
  return n * sizeof (guint32);
}

/* A copy of @keyed (reading a GHmac is thread-safe) fed with @token's
 * plaintext, ready for g_hmac_get_digest() or g_hmac_get_string(). */
static GHmac *
token_hmac (GHmac *keyed, const CoverToken *token)
{
  GHmac *hmac = g_hmac_copy (keyed);
  guint8 plain[16];
  gsize plain_len = pack_fields (token, plain);

  g_hmac_update (hmac, plain, plain_len);
  return hmac;
}

static void
compute_digest (GHmac *keyed, const CoverToken *token, guint8 digest[16])
{
  GHmac *hmac = token_hmac (keyed, token);
  gsize digest_len = DIGEST_LEN;

  g_hmac_get_digest (hmac, digest, &digest_len);
  g_hmac_unref (hmac);
  g_assert (digest_len == DIGEST_LEN);
}

/* Looks at every byte whatever the differences: no early exit that would
 * tell an attacker how many leading bytes of a forged digest are right. */
static gboolean
digest_equal (const guint8 *a, const guint8 *b)
{
  guint8 diff = 0;
  guint i;

  for (i = 0; i < DIGEST_LEN; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

CoverTokenStatus
cover_token_verify (
    CoverAppTable *apps, const gchar *text, gint64 now, CoverToken *token)
{
  CoverToken t;
  const CoverApp *app;
  guint8 expected[DIGEST_LEN];

  g_return_val_if_fail (apps != NULL, COVER_TOKEN_MISSING);

  if (token)
    memset (token, 0, sizeof (*token));
  if (text == NULL || *text == '\0')
    return COVER_TOKEN_MISSING;
  if (!cover_token_parse (text, &t))
    return COVER_TOKEN_MALFORMED;
  if (token)
    *token = t;

  app = find_app (apps, t.cid);
  if (!app)
    return COVER_TOKEN_UNKNOWN_APP;

  compute_digest (app->hmac, &t, expected);
  if (!digest_equal (expected, t.digest))
    return COVER_TOKEN_BAD_DIGEST;

  if (now > (gint64) t.expire)
    return COVER_TOKEN_EXPIRED;
  return COVER_TOKEN_OK;
}

gchar *
cover_token_mint (const gchar *key, const CoverToken *token)
{
  g_autoptr (GHmac) keyed = NULL;
  g_autoptr (GHmac) hmac = NULL;
  gboolean want_ip;
  const gchar *hex;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (token != NULL, NULL);
  want_ip = (token->control & COVER_TOKEN_CONTROL_VERIFY_IP) != 0;
  /* the text form cannot carry a disagreement between the two */
  g_return_val_if_fail (!token->has_ip == !want_ip, NULL);

  keyed = g_hmac_new (G_CHECKSUM_MD5, (const guchar *) key, strlen (key));
  hmac = token_hmac (keyed, token);
  /* lowercase hex, as the token format wants */
  hex = g_hmac_get_string (hmac);

  if (want_ip)
    return g_strdup_printf ("%u_%u_%u_%u_%s", token->cid, token->control,
        token->expire, token->ip, hex);
  return g_strdup_printf (
      "%u_%u_%u_%s", token->cid, token->control, token->expire, hex);
}

CoverTokenStatus
cover_token_authorize (CoverAppTable *apps, const gchar *text, guint32 cid,
    const gchar *peer_address, gint64 now, guint32 required_control,
    CoverToken *token)
{
  CoverTokenStatus status;
  CoverToken t;

  g_return_val_if_fail (apps != NULL, COVER_TOKEN_MISSING);

  status = cover_token_verify (apps, text, now, &t);
  if (token)
    *token = t;
  if (status != COVER_TOKEN_OK)
    return status;
  if (t.cid != cid)
    return COVER_TOKEN_WRONG_DEVICE;
  if ((t.control & required_control) != required_control)
    return COVER_TOKEN_NO_PERMISSION;
  if (t.has_ip) {
    guint32 ip;

    if (!cover_token_ip_from_string (peer_address, &ip) || ip != t.ip)
      return COVER_TOKEN_WRONG_ADDRESS;
  }
  return COVER_TOKEN_OK;
}

gboolean
cover_token_status_is_forbidden (CoverTokenStatus status)
{
  return status == COVER_TOKEN_WRONG_DEVICE ||
      status == COVER_TOKEN_NO_PERMISSION ||
      status == COVER_TOKEN_WRONG_ADDRESS;
}

/* One row per status: the metric label and the client's sentence. */
static const struct
{
  const gchar *label;
  const gchar *sentence;
} statuses[] = {
  [COVER_TOKEN_OK] = { "ok", "The device token was accepted." },
  [COVER_TOKEN_MISSING] = { "missing",
      "No device token: pass client_token or X-Client-Token." },
  [COVER_TOKEN_MALFORMED] = { "malformed", "The device token is malformed." },
  [COVER_TOKEN_UNKNOWN_APP] = { "unknown_app",
      "The device token belongs to no application of this server." },
  [COVER_TOKEN_BAD_DIGEST] = { "bad_digest",
      "The device token's digest does not match." },
  [COVER_TOKEN_EXPIRED] = { "expired", "The device token has expired." },
  [COVER_TOKEN_WRONG_DEVICE] = { "wrong_device",
      "The device token is for another device." },
  [COVER_TOKEN_NO_PERMISSION] = { "no_permission",
      "The device token does not allow this." },
  [COVER_TOKEN_WRONG_ADDRESS] = { "wrong_address",
      "The device token is bound to another IP address." },
};

const gchar *
cover_token_status_to_string (CoverTokenStatus status)
{
  if ((guint) status >= G_N_ELEMENTS (statuses))
    return "invalid";
  return statuses[status].label;
}

const gchar *
cover_token_status_describe (CoverTokenStatus status)
{
  if ((guint) status >= G_N_ELEMENTS (statuses))
    return "The device token was refused.";
  return statuses[status].sentence;
}

gboolean
cover_token_ip_from_string (const gchar *address, guint32 *ip)
{
  g_autoptr (GInetAddress) addr = NULL;
  const guint8 *b;

  g_return_val_if_fail (ip != NULL, FALSE);

  if (address == NULL)
    return FALSE;
  addr = g_inet_address_new_from_string (address);
  if (!addr)
    return FALSE;

  b = g_inet_address_to_bytes (addr);
  switch (g_inet_address_get_family (addr)) {
    case G_SOCKET_FAMILY_IPV4:
      break;
    case G_SOCKET_FAMILY_IPV6: {
      static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
        0xff };

      /* a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d */
      if (memcmp (b, mapped, sizeof (mapped)) != 0)
        return FALSE;
      b += sizeof (mapped);
      break;
    }
    default:
      return FALSE;
  }
  *ip = (guint32) b[0] << 24 | (guint32) b[1] << 16 | (guint32) b[2] << 8 |
      (guint32) b[3];
  return TRUE;
}

/* Well-formed: the numeric fields as parsed, the digest replaced.
 * Malformed: only leading fields made of 1..10 digits and followed by a '_'
 * (at most four), which can never be (part of) a 32-digit digest, plus
 * the length; nothing else of the input, so no digest, key or control
 * character reaches a log. */
gchar *
cover_token_redact (const gchar *text)
{
  CoverToken t;
  GString *out;
  const gchar *p;
  guint n;

  if (text == NULL)
    return g_strdup ("(none)");
  if (cover_token_parse (text, &t)) {
    if (t.has_ip)
      return g_strdup_printf (
          "%u_%u_%u_%u_" REDACTED, t.cid, t.control, t.expire, t.ip);
    return g_strdup_printf ("%u_%u_%u_" REDACTED, t.cid, t.control, t.expire);
  }

  out = g_string_new (NULL);
  p = text;
  for (n = 0; n < 4; n++) {
    gsize digits = 0;

    while (g_ascii_isdigit (p[digits]) && digits <= MAX_FIELD_DIGITS)
      digits++;
    if (digits == 0 || digits > MAX_FIELD_DIGITS || p[digits] != '_')
      break;
    g_string_append_len (out, p, digits + 1);
    p += digits + 1;
  }
  g_string_append_printf (
      out, REDACTED " (malformed, %" G_GSIZE_FORMAT " bytes)", strlen (text));
  return g_string_free (out, FALSE);
}
