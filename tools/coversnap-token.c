/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* coversnap-token (--key KEY | --key-file FILE) --cid N [--control N]
 *                 [--ttl SECONDS | --expire UNIX] [--ip ADDR] [--view]
 *
 * Mints a device token, as an application server does, for operations and
 * tests.  The token and a newline go to stdout, nothing else; errors go to
 * stderr.  Exit status: 0 minted, 2 bad usage, 1 anything else. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cover-token.h"
#include "coverid.h"

#define PROGRAM "coversnap-token"
#define DEFAULT_TTL 3600

#define EXIT_USAGE 2
#define EXIT_OTHER 1

static void usage_error (const gchar *format, ...) G_GNUC_PRINTF (1, 2);

static void
usage_error (const gchar *format, ...)
{
  g_autofree gchar *msg = NULL;
  va_list args;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr (PROGRAM ": %s (see --help)\n", msg);
}

/* Decimal digits only: g_ascii_string_to_unsigned() refuses signs and blanks
 * (strtoul would take " -1" as 4294967295). */
static gboolean
parse_decimal (const gchar *s, guint64 *out)
{
  return g_ascii_string_to_unsigned (s, 10, 0, G_MAXUINT32, out, NULL);
}

/* Decimal, or 0x followed by 1..8 hex digits: a bit field reads better in
 * hex (0x400004). */
static gboolean
parse_control (const gchar *s, guint32 *out)
{
  guint64 v = 0;

  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    if (strlen (s + 2) > 8 ||
        !g_ascii_string_to_unsigned (s + 2, 16, 0, G_MAXUINT32, &v, NULL))
      return FALSE;
  } else if (!parse_decimal (s, &v)) {
    return FALSE;
  }
  *out = (guint32) v;
  return TRUE;
}

/* The first line of @path ("-": stdin), without its line ending.  The key
 * is used up to its first NUL byte (it is a C string everywhere, as in the
 * service's configuration), so a NUL in it is refused rather than silently
 * cutting the key short. */
static gchar *
read_key_file (const gchar *path, GError **error)
{
  g_autofree gchar *contents = NULL;
  gsize len, line_len;
  const gchar *nl;

  if (g_strcmp0 (path, "-") == 0) {
    GString *s = g_string_new (NULL);
    gchar buf[4096];
    gsize n;

    while ((n = fread (buf, 1, sizeof (buf), stdin)) > 0)
      g_string_append_len (s, buf, n);
    if (ferror (stdin)) {
      g_string_free (s, TRUE);
      g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_IO,
          "cannot read the key from standard input");
      return NULL;
    }
    len = s->len;
    contents = g_string_free (s, FALSE);
  } else if (!g_file_get_contents (path, &contents, &len, error)) {
    return NULL;
  }

  nl = memchr (contents, '\n', len);
  line_len = nl ? (gsize) (nl - contents) : len;
  if (line_len > 0 && contents[line_len - 1] == '\r')
    line_len--;
  if (memchr (contents, '\0', line_len)) {
    g_set_error_literal (
        error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "the key contains a NUL byte");
    return NULL;
  }
  return g_strndup (contents, line_len);
}

int
main (int argc, char **argv)
{
  g_autofree gchar *key = NULL, *key_file = NULL, *cid_s = NULL;
  g_autofree gchar *control_s = NULL, *ttl_s = NULL, *expire_s = NULL;
  g_autofree gchar *ip_s = NULL, *text = NULL;
  gboolean view = FALSE;
  GOptionEntry entries[] = {
    { "key", 'k', 0, G_OPTION_ARG_STRING, &key,
        "The application's key (visible to other users in the process "
        "list: prefer --key-file)",
        "KEY" },
    { "key-file", 'K', 0, G_OPTION_ARG_FILENAME, &key_file,
        "Read the key from the first line of FILE (-: standard input)",
        "FILE" },
    { "cid", 'c', 0, G_OPTION_ARG_STRING, &cid_s,
        "The device's client id (decimal, required)", "N" },
    { "control", 0, 0, G_OPTION_ARG_STRING, &control_s,
        "The control bit field, decimal or 0x hex (default 0)", "N" },
    { "ttl", 't', 0, G_OPTION_ARG_STRING, &ttl_s,
        "Valid for SECONDS from now (default 3600)", "SECONDS" },
    { "expire", 'e', 0, G_OPTION_ARG_STRING, &expire_s,
        "Valid until this Unix time instead", "UNIX" },
    { "ip", 0, 0, G_OPTION_ARG_STRING, &ip_s,
        "Bind the token to this IPv4 address (sets control bit 2)", "ADDR" },
    { "view", 0, 0, G_OPTION_ARG_NONE, &view,
        "Allow viewing snapshots (sets control bit 22)", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) err = NULL;
  CoverToken token = { 0 };
  guint64 v;
  gint64 now;

  ctx = g_option_context_new ("- mint a coversnap device token");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
      "Prints the token on standard output. Exit status: 0 minted, 2 bad "
      "usage, 1 other errors.");
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    usage_error ("%s", err->message);
    return EXIT_USAGE;
  }
  if (argc > 1) {
    usage_error ("unexpected argument \"%s\"", argv[1]);
    return EXIT_USAGE;
  }

  /* the key */
  if (key && key_file) {
    usage_error ("--key and --key-file are mutually exclusive");
    return EXIT_USAGE;
  }
  if (key_file) {
    key = read_key_file (key_file, &err);
    if (!key) {
      g_autofree gchar *shown = g_filename_display_name (key_file);

      usage_error ("--key-file \"%s\": %s", shown, err->message);
      return EXIT_USAGE;
    }
    if (*key == '\0') {
      g_autofree gchar *shown = g_filename_display_name (key_file);

      usage_error (
          "--key-file \"%s\": the first line (the key) is empty", shown);
      return EXIT_USAGE;
    }
  } else if (!key) {
    usage_error ("--key or --key-file is required");
    return EXIT_USAGE;
  } else if (*key == '\0') {
    usage_error ("--key is empty");
    return EXIT_USAGE;
  }

  /* the fields */
  if (!cid_s) {
    usage_error ("--cid is required");
    return EXIT_USAGE;
  }
  if (!cover_client_id_parse (cid_s, -1, &token.cid)) {
    usage_error ("--cid \"%s\" is not a client id (a decimal number from 0 "
                 "to %u, no leading zero)",
        cid_s, G_MAXUINT32);
    return EXIT_USAGE;
  }

  if (control_s && !parse_control (control_s, &token.control)) {
    usage_error ("--control \"%s\" is not an unsigned 32-bit number "
                 "(decimal or 0x hex)",
        control_s);
    return EXIT_USAGE;
  }
  if (view)
    token.control |= COVER_TOKEN_CONTROL_VIEW_SNAPSHOTS;

  if (ip_s) {
    if (!cover_token_ip_from_string (ip_s, &token.ip)) {
      usage_error ("--ip \"%s\" is not an IPv4 address (a.b.c.d)", ip_s);
      return EXIT_USAGE;
    }
    token.has_ip = TRUE;
    token.control |= COVER_TOKEN_CONTROL_VERIFY_IP;
  } else if (token.control & COVER_TOKEN_CONTROL_VERIFY_IP) {
    usage_error ("--control 0x%x has bit 2 (verify the IP) set but no --ip "
                 "was given",
        token.control);
    return EXIT_USAGE;
  }

  if (ttl_s && expire_s) {
    usage_error ("--ttl and --expire are mutually exclusive");
    return EXIT_USAGE;
  }
  now = g_get_real_time () / G_USEC_PER_SEC;
  if (expire_s) {
    if (!parse_decimal (expire_s, &v)) {
      usage_error ("--expire \"%s\" is not a Unix time from 0 to %u", expire_s,
          G_MAXUINT32);
      return EXIT_USAGE;
    }
    if ((gint64) v < now)
      g_printerr (PROGRAM ": warning: --expire %s is in the past: the token "
                          "is already expired\n",
          expire_s);
    token.expire = (guint32) v;
  } else {
    guint64 ttl = DEFAULT_TTL;

    if (ttl_s && !parse_decimal (ttl_s, &ttl)) {
      usage_error ("--ttl \"%s\" is not a number of seconds from 0 to %u",
          ttl_s, G_MAXUINT32);
      return EXIT_USAGE;
    }
    if (now < 0 || (guint64) now + ttl > G_MAXUINT32) {
      usage_error ("--ttl %" G_GUINT64_FORMAT " puts the expiry past %u, the "
                   "largest time a token can carry",
          ttl, G_MAXUINT32);
      return EXIT_USAGE;
    }
    token.expire = (guint32) ((guint64) now + ttl);
  }

  text = cover_token_mint (key, &token);
  if (!text) {
    g_printerr (PROGRAM ": could not mint the token\n");
    return EXIT_OTHER;
  }
  if (fputs (text, stdout) == EOF || fputc ('\n', stdout) == EOF ||
      fflush (stdout) != 0) {
    g_printerr (PROGRAM ": cannot write the token: %s\n", g_strerror (errno));
    return EXIT_OTHER;
  }
  return 0;
}
