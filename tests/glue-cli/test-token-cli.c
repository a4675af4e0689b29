/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* coversnap-token as a process: what it prints verifies with the service's
 * own verifier and carries the fields asked for; one digest is checked
 * against an HMAC-MD5 computed here from hand-packed bytes; every bad usage
 * exits 2 and names the option.  The binary comes from $COVERSNAP_TOKEN. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "cover-token.h"
#include "cs-test-proc.h"
#include "cs-test-util.h"

#define KEY "cli-test-key"
#define OTHER_KEY "some other key"
#define CID 10000415u
#define CID_S "10000415"

typedef struct
{
  gint status; /* exit status, or -1 if it did not exit */
  gchar *out;
  gchar *err;
} Run;

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear);

/* @stdout_path: where stdout goes instead of a pipe (NULL: captured);
 * @stdin_text: fed on stdin (NULL: nothing). */
static void
run_full (Run *r, const gchar *stdout_path, const gchar *stdin_text,
    const gchar *const *args)
{
  g_auto (CsTestRun) run = { 0 };
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  guint i;

  memset (r, 0, sizeof (*r));
  g_ptr_array_add (argv, (gpointer) cs_test_program ("COVERSNAP_TOKEN"));
  for (i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  cs_test_run (
      &run, (const gchar *const *) argv->pdata, stdin_text, stdout_path);
  r->status = run.status;
  r->out = cs_test_bytes_to_string (run.out);
  r->err = g_steal_pointer (&run.err);
}

static void
run (Run *r, const gchar *const *args)
{
  run_full (r, NULL, NULL, args);
}

/* Runs the tool, expects success, returns the token (newline checked and
 * stripped) after checking it verifies with KEY at the current time. */
static gchar *
mint (const gchar *const *args, CoverToken *token)
{
  g_auto (Run) r = { 0 };
  g_autoptr (CoverAppTable) apps = cover_app_table_new ();
  g_autoptr (GError) err = NULL;
  gsize len;

  run (&r, args);
  if (r.status != 0)
    g_printerr ("stderr: %s\n", r.err);
  g_assert_cmpint (r.status, ==, 0);
  len = strlen (r.out);
  g_assert_cmpuint (len, >, 1);
  /* exactly one line */
  g_assert_cmpint (r.out[len - 1], ==, '\n');
  g_assert_null (memchr (r.out, '\n', len - 1));
  r.out[len - 1] = '\0';

  g_assert_true (cover_token_parse (r.out, token));
  g_assert_true (cover_app_table_add (apps, "a", KEY, "0-4294967295", &err));
  g_assert_no_error (err);
  g_assert_cmpstr (cover_token_status_to_string (cover_token_verify (
                       apps, r.out, g_get_real_time () / G_USEC_PER_SEC, NULL)),
      ==, "ok");
  return g_steal_pointer (&r.out);
}

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

/* ---------------------------------------------------------------------- */

static void
test_defaults (void)
{
  const gchar *args[] = { "--key", KEY, "--cid", CID_S, NULL };
  g_autoptr (CoverAppTable) other = cover_app_table_new ();
  g_autoptr (GError) err = NULL;
  g_autofree gchar *text = NULL;
  CoverToken t;
  gint64 before, after;

  before = now_s ();
  text = mint (args, &t);
  after = now_s ();
  g_assert_cmpuint (t.cid, ==, CID);
  g_assert_cmpuint (t.control, ==, 0);
  g_assert_false (t.has_ip);
  /* default ttl 3600, allowing for the clock ticking around the run */
  g_assert_cmpint (t.expire, >=, before + 3600 - 2);
  g_assert_cmpint (t.expire, <=, after + 3600 + 2);

  /* another application's key does not verify it */
  g_assert_true (cover_app_table_add (other, "b", OTHER_KEY, CID_S, &err));
  g_assert_no_error (err);
  g_assert_cmpint (cover_token_verify (other, text, now_s (), NULL), ==,
      COVER_TOKEN_BAD_DIGEST);
}

static void
test_ttl (void)
{
  const gchar *args[] = { "--key", KEY, "--cid", "0", "--ttl", "90", NULL };
  const gchar *args0[] = { "--key", KEY, "--cid", "4294967295", "--ttl", "0",
    NULL };
  g_autofree gchar *text = NULL, *text0 = NULL;
  CoverToken t;
  gint64 before, after;

  before = now_s ();
  text = mint (args, &t);
  after = now_s ();
  g_assert_cmpuint (t.cid, ==, 0);
  g_assert_cmpint (t.expire, >=, before + 90 - 2);
  g_assert_cmpint (t.expire, <=, after + 90 + 2);

  before = now_s ();
  text0 = mint (args0, &t);
  after = now_s ();
  g_assert_cmpuint (t.cid, ==, G_MAXUINT32);
  g_assert_cmpint (t.expire, >=, before - 2);
  g_assert_cmpint (t.expire, <=, after + 2);
}

static void
test_expire (void)
{
  const gchar *args[] = { "--key", KEY, "--cid", CID_S, "--expire",
    "4000000000", NULL };
  const gchar *past[] = { "--key", KEY, "--cid", CID_S, "--expire", "1000",
    NULL };
  g_autoptr (CoverAppTable) apps = cover_app_table_new ();
  g_autoptr (GError) err = NULL;
  g_autofree gchar *text = NULL;
  g_auto (Run) r = { 0 };
  CoverToken t;

  text = mint (args, &t);
  g_assert_cmpuint (t.expire, ==, 4000000000u);

  /* a past expiry is minted (useful for tests), with a warning */
  run (&r, past);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.err, "--expire"));
  g_strchomp (r.out);
  g_assert_true (cover_app_table_add (apps, "a", KEY, CID_S, &err));
  g_assert_no_error (err);
  g_assert_cmpint (
      cover_token_verify (apps, r.out, now_s (), &t), ==, COVER_TOKEN_EXPIRED);
  g_assert_cmpuint (t.expire, ==, 1000);
  g_assert_cmpint (
      cover_token_verify (apps, r.out, 1000, NULL), ==, COVER_TOKEN_OK);
}

static void
test_control (void)
{
  const gchar *dec[] = { "--key", KEY, "--cid", CID_S, "--control", "4096",
    NULL };
  const gchar *hex[] = { "--key", KEY, "--cid", CID_S, "--control",
    "0xFFFFFFFB", NULL };
  const gchar *view[] = { "--key", KEY, "--cid", CID_S, "--view", NULL };
  const gchar *view_ctl[] = { "--key", KEY, "--cid", CID_S, "--control", "1",
    "--view", NULL };
  g_autofree gchar *a = NULL, *b = NULL, *c = NULL, *d = NULL;
  CoverToken t;

  a = mint (dec, &t);
  g_assert_cmpuint (t.control, ==, 4096);
  b = mint (hex, &t);
  g_assert_cmpuint (t.control, ==, 0xfffffffbu);
  g_assert_false (t.has_ip);
  c = mint (view, &t);
  g_assert_cmpuint (t.control, ==, 1u << 22);
  g_assert_cmpuint (t.control, ==, COVER_TOKEN_CONTROL_VIEW_SNAPSHOTS);
  d = mint (view_ctl, &t);
  g_assert_cmpuint (t.control, ==, (1u << 22) | 1);
}

static void
test_ip (void)
{
  const gchar *args[] = { "--key", KEY, "--cid", CID_S, "--ip", "127.0.0.1",
    NULL };
  const gchar *both[] = { "--key", KEY, "--cid", CID_S, "--control", "0x4",
    "--ip", "192.168.1.200", "--view", NULL };
  g_autofree gchar *a = NULL, *b = NULL;
  g_auto (GStrv) fields = NULL;
  CoverToken t;

  a = mint (args, &t);
  g_assert_true (t.has_ip);
  g_assert_cmpuint (t.control, ==, 4);
  g_assert_cmpuint (t.ip, ==, 2130706433u);
  fields = g_strsplit (a, "_", -1);
  g_assert_cmpuint (g_strv_length (fields), ==, 5);
  g_assert_cmpstr (fields[3], ==, "2130706433");

  b = mint (both, &t);
  g_assert_cmpuint (t.control, ==, (1u << 22) | 4);
  g_assert_cmpuint (t.ip, ==, (192u << 24) | (168u << 16) | (1u << 8) | 200u);
}

static void
test_key_file (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("coversnap-token-XXXXXX", NULL);
  g_autofree gchar *path = NULL, *crlf = NULL, *a = NULL, *b = NULL;
  g_autofree gchar *c = NULL, *d = NULL, *direct = NULL;
  g_autoptr (GError) err = NULL;
  CoverToken t;

  g_assert_nonnull (dir);
  path = g_build_filename (dir, "key", NULL);
  crlf = g_build_filename (dir, "key-crlf", NULL);
  /* only the first line is the key */
  g_file_set_contents (path, KEY "\nsecond line\n", -1, &err);
  g_assert_no_error (err);
  g_file_set_contents (crlf, KEY "\r\n", -1, &err);
  g_assert_no_error (err);

  {
    const gchar *args[] = { "--key-file", path, "--cid", CID_S, "--expire",
      "4000000000", NULL };
    const gchar *args2[] = { "--key-file", crlf, "--cid", CID_S, "--expire",
      "4000000000", NULL };
    const gchar *args3[] = { "--key", KEY, "--cid", CID_S, "--expire",
      "4000000000", NULL };

    a = mint (args, &t);
    b = mint (args2, &t);
    direct = mint (args3, &t);
  }
  g_assert_cmpstr (a, ==, direct);
  g_assert_cmpstr (b, ==, direct);

  /* no trailing newline at all, and "-" for stdin */
  g_file_set_contents (path, KEY, -1, &err);
  g_assert_no_error (err);
  {
    const gchar *args[] = { "--key-file", path, "--cid", CID_S, "--expire",
      "4000000000", NULL };
    const gchar *args_stdin[] = { "--key-file", "-", "--cid", CID_S, "--expire",
      "4000000000", NULL };
    g_auto (Run) r = { 0 };

    c = mint (args, &t);
    g_assert_cmpstr (c, ==, direct);
    run_full (&r, NULL, KEY "\n", args_stdin);
    g_assert_cmpint (r.status, ==, 0);
    d = g_strchomp (g_strdup (r.out));
    g_assert_cmpstr (d, ==, direct);
  }

  g_unlink (path);
  g_unlink (crlf);
  g_rmdir (dir);
}

/* One digest recomputed from the token specification: HMAC-MD5 over the
 * fields as little-endian 32-bit words, not the module's code. */
static void
test_digest_independent (void)
{
  const gchar *args[] = { "--key", KEY, "--cid", "305419896", "--control",
    "0x400004", "--expire", "4000000001", "--ip", "10.1.2.3", NULL };
  const guint8 plain[16] = {
    0x78, 0x56, 0x34, 0x12, /* cid 0x12345678 */
    0x04, 0x00, 0x40, 0x00, /* control 0x400004 */
    0x01, 0x28, 0x6b, 0xee, /* expire 4000000001 = 0xee6b2801 */
    0x03, 0x02, 0x01, 0x0a, /* ip 10.1.2.3 = 0x0a010203 */
  };
  const guint8 plain_noip[12] = {
    0x78, 0x56, 0x34, 0x12, /* cid */
    0x00, 0x00, 0x40, 0x00, /* control 0x400000 */
    0x01, 0x28, 0x6b, 0xee, /* expire */
  };
  const gchar *args_noip[] = { "--key", KEY, "--cid", "305419896", "--view",
    "--expire", "4000000001", NULL };
  g_autofree gchar *text = NULL, *text_noip = NULL;
  g_autofree gchar *digest = NULL, *digest_noip = NULL;
  g_autofree gchar *expected = NULL, *expected_noip = NULL;
  CoverToken t;

  text = mint (args, &t);
  digest = g_compute_hmac_for_data (G_CHECKSUM_MD5, (const guchar *) KEY,
      strlen (KEY), plain, sizeof (plain));
  expected =
      g_strdup_printf ("305419896_4194308_4000000001_167838211_%s", digest);
  g_assert_cmpstr (text, ==, expected);

  text_noip = mint (args_noip, &t);
  digest_noip = g_compute_hmac_for_data (G_CHECKSUM_MD5, (const guchar *) KEY,
      strlen (KEY), plain_noip, sizeof (plain_noip));
  expected_noip =
      g_strdup_printf ("305419896_4194304_4000000001_%s", digest_noip);
  g_assert_cmpstr (text_noip, ==, expected_noip);
}

/* ---------------------------------------------------------------------- */
/* Usage errors */

typedef struct
{
  const gchar *name;
  const gchar *args[12];
  const gchar *named; /* must appear on stderr */
} BadUsage;

static const BadUsage bad_usages[] = {
  { "no-cid", { "--key", KEY, NULL }, "--cid" },
  { "no-key", { "--cid", CID_S, NULL }, "--key" },
  { "empty-key", { "--key", "", "--cid", CID_S, NULL }, "--key" },
  { "cid-abc", { "--key", KEY, "--cid", "abc", NULL }, "--cid" },
  { "cid-negative", { "--key", KEY, "--cid", "-1", NULL }, "--cid" },
  { "cid-too-big", { "--key", KEY, "--cid", "4294967296", NULL }, "--cid" },
  { "cid-empty", { "--key", KEY, "--cid", "", NULL }, "--cid" },
  { "cid-blank", { "--key", KEY, "--cid", " 42", NULL }, "--cid" },
  { "cid-hex", { "--key", KEY, "--cid", "0x10", NULL }, "--cid" },
  { "control-abc", { "--key", KEY, "--cid", CID_S, "--control", "abc", NULL },
      "--control" },
  { "control-too-big",
      { "--key", KEY, "--cid", CID_S, "--control", "0x100000000", NULL },
      "--control" },
  { "control-bare-0x",
      { "--key", KEY, "--cid", CID_S, "--control", "0x", NULL }, "--control" },
  { "ttl-negative", { "--key", KEY, "--cid", CID_S, "--ttl", "-5", NULL },
      "--ttl" },
  { "ttl-abc", { "--key", KEY, "--cid", CID_S, "--ttl", "1h", NULL }, "--ttl" },
  /* now + G_MAXUINT32 cannot fit, whatever the clock says */
  { "ttl-overflow",
      { "--key", KEY, "--cid", CID_S, "--ttl", "4294967295", NULL }, "--ttl" },
  { "ttl-huge",
      { "--key", KEY, "--cid", CID_S, "--ttl", "99999999999999999999", NULL },
      "--ttl" },
  { "expire-too-big",
      { "--key", KEY, "--cid", CID_S, "--expire", "4294967296", NULL },
      "--expire" },
  { "expire-negative", { "--key", KEY, "--cid", CID_S, "--expire", "-1", NULL },
      "--expire" },
  { "ttl-and-expire",
      { "--key", KEY, "--cid", CID_S, "--ttl", "10", "--expire", "4000000000",
          NULL },
      "--expire" },
  { "verify-ip-without-ip",
      { "--key", KEY, "--cid", CID_S, "--control", "4", NULL }, "--ip" },
  { "verify-ip-hex-without-ip",
      { "--key", KEY, "--cid", CID_S, "--control", "0x400004", NULL }, "--ip" },
  { "ip-v6", { "--key", KEY, "--cid", CID_S, "--ip", "::1", NULL }, "--ip" },
  { "ip-300", { "--key", KEY, "--cid", CID_S, "--ip", "300.1.1.1", NULL },
      "--ip" },
  { "ip-name", { "--key", KEY, "--cid", CID_S, "--ip", "localhost", NULL },
      "--ip" },
  { "key-and-key-file",
      { "--key", KEY, "--key-file", "/dev/null", "--cid", CID_S, NULL },
      "--key-file" },
  { "key-file-missing",
      { "--key-file", "/nonexistent/coversnap/key", "--cid", CID_S, NULL },
      "--key-file" },
  { "key-file-empty", { "--key-file", "/dev/null", "--cid", CID_S, NULL },
      "--key-file" },
  { "unknown-option", { "--key", KEY, "--cid", CID_S, "--bogus", NULL },
      "--bogus" },
  { "stray-argument", { "--key", KEY, "--cid", CID_S, "extra", NULL },
      "extra" },
  { "missing-value", { "--key", KEY, "--cid", NULL }, "--cid" },
};

static void
test_bad_usage (gconstpointer data)
{
  const BadUsage *u = data;
  g_auto (Run) r = { 0 };

  run (&r, u->args);
  g_test_message ("stderr: %s", r.err);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_cmpstr (r.out, ==, "");
  g_assert_nonnull (strstr (r.err, u->named));
  /* one message, not a dump of --help */
  g_assert_null (strstr (r.err, "Help Options"));
}

/* A directory instead of a key file: read fails (not ENOENT). */
static void
test_bad_key_file_dir (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("coversnap-token-XXXXXX", NULL);
  const gchar *args[] = { "--key-file", dir, "--cid", CID_S, NULL };
  g_auto (Run) r = { 0 };

  g_assert_nonnull (dir);
  run (&r, args);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_cmpstr (r.out, ==, "");
  g_assert_nonnull (strstr (r.err, "--key-file"));
  g_rmdir (dir);
}

/* A key with a NUL byte would be cut short silently: refused. */
static void
test_key_file_nul (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("coversnap-token-XXXXXX", NULL);
  g_autofree gchar *path = NULL;
  g_autoptr (GError) err = NULL;
  g_auto (Run) r = { 0 };

  g_assert_nonnull (dir);
  path = g_build_filename (dir, "key", NULL);
  g_file_set_contents (path, "ab\0cd\n", 6, &err);
  g_assert_no_error (err);
  {
    const gchar *args[] = { "--key-file", path, "--cid", CID_S, NULL };

    run (&r, args);
  }
  g_assert_cmpint (r.status, ==, 2);
  g_assert_cmpstr (r.out, ==, "");
  g_assert_nonnull (strstr (r.err, "NUL"));
  g_unlink (path);
  g_rmdir (dir);
}

/* Not a usage error: stdout cannot be written.  Exit 1, and said so. */
static void
test_write_error (void)
{
  const gchar *args[] = { "--key", KEY, "--cid", CID_S, NULL };
  g_auto (Run) r = { 0 };

  if (!g_file_test ("/dev/full", G_FILE_TEST_EXISTS)) {
    g_test_skip ("no /dev/full");
    return;
  }
  run_full (&r, "/dev/full", NULL, args);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "cannot write"));
}

static void
test_help (void)
{
  const gchar *args[] = { "--help", NULL };
  g_auto (Run) r = { 0 };

  run (&r, args);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "--key-file"));
  g_assert_nonnull (strstr (r.out, "--expire"));
}

int
main (int argc, char **argv)
{
  guint i;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/token-cli/defaults", test_defaults);
  g_test_add_func ("/token-cli/ttl", test_ttl);
  g_test_add_func ("/token-cli/expire", test_expire);
  g_test_add_func ("/token-cli/control", test_control);
  g_test_add_func ("/token-cli/ip", test_ip);
  g_test_add_func ("/token-cli/key-file", test_key_file);
  g_test_add_func ("/token-cli/digest-independent", test_digest_independent);
  for (i = 0; i < G_N_ELEMENTS (bad_usages); i++) {
    g_autofree gchar *path =
        g_strdup_printf ("/token-cli/usage/%s", bad_usages[i].name);

    g_test_add_data_func (path, &bad_usages[i], test_bad_usage);
  }
  g_test_add_func ("/token-cli/usage/key-file-dir", test_bad_key_file_dir);
  g_test_add_func ("/token-cli/usage/key-file-nul", test_key_file_nul);
  g_test_add_func ("/token-cli/write-error", test_write_error);
  g_test_add_func ("/token-cli/help", test_help);

  return g_test_run ();
}
