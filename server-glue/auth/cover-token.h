/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_TOKEN_H__
#define __COVER_TOKEN_H__

#include <glib.h>

G_BEGIN_DECLS

/* Device tokens of the platform: "cid_control_expire[_ip]_digest", decimal
 * unsigned 32-bit fields, digest = 32 hex digits (lower or upper case) of
 * HMAC-MD5 (app key, fields packed as little-endian guint32 in that order).
 * The ip field is there exactly when control bit 2 (byte 0) is set; it is
 * the IPv4 address as the number a.b.c.d = a<<24 | b<<16 | c<<8 | d. */

#define COVER_TOKEN_CONTROL_VERIFY_IP (1u << 2)
#define COVER_TOKEN_CONTROL_VIEW_SNAPSHOTS (1u << 22)

typedef struct
{
  guint32 cid;
  guint32 control;
  guint32 expire; /* Unix time, seconds */
  guint32 ip;     /* valid when has_ip */
  gboolean has_ip;
  guint8 digest[16];
} CoverToken;

typedef enum
{
  COVER_TOKEN_OK,
  COVER_TOKEN_MISSING,     /* no token in the request */
  COVER_TOKEN_MALFORMED,   /* not the token syntax */
  COVER_TOKEN_UNKNOWN_APP, /* no application owns the token's cid */
  COVER_TOKEN_BAD_DIGEST,  /* digest does not match */
  COVER_TOKEN_EXPIRED,     /* past its expire time */
  /* the token is genuine but does not let its holder do this (403) */
  COVER_TOKEN_WRONG_DEVICE,  /* its cid is not the device asked for */
  COVER_TOKEN_NO_PERMISSION, /* a required control bit is missing */
  COVER_TOKEN_WRONG_ADDRESS, /* bound to another IPv4 address than the peer's */
} CoverTokenStatus;

/* An application: its HMAC key (the key text's bytes) and the cid ranges it
 * owns.  A table of them, looked up by cid; immutable once built, so it can
 * be shared by threads. */
typedef struct _CoverAppTable CoverAppTable;

CoverAppTable *cover_app_table_new (void);
/* @cids: "10000000-10999999,42" (ranges inclusive, decimal u32, commas,
 * optional spaces).  Fails (naming the problem) on bad syntax, an empty
 * key, or a range overlapping another application's. */
gboolean cover_app_table_add (CoverAppTable *table, const gchar *name,
    const gchar *key, const gchar *cids, GError **error);
/* The key of the application owning @cid, or NULL; owned by the table
 * (transfer none). */
GBytes *cover_app_table_lookup (
    CoverAppTable *table, guint32 cid, const gchar **app_name);
guint cover_app_table_get_size (CoverAppTable *table);
void cover_app_table_free (CoverAppTable *table);

/* Strict syntax check; fills @token.  No key involved. */
gboolean cover_token_parse (const gchar *text, CoverToken *token);
/* Parse, pick the key by cid, verify the digest in constant time, check
 * expire against @now (Unix seconds; expired when now > expire). */
CoverTokenStatus cover_token_verify (
    CoverAppTable *apps, const gchar *text, gint64 now, CoverToken *token);
/* The one authorization policy of every protocol (HTTP, RTSP, ...):
 * verify @text (as cover_token_verify()), then check that the token is for
 * device @cid, that it has every bit of @required_control, and, when it
 * carries an address (control bit 2), that @peer_address (text, IPv4 or
 * IPv4-mapped IPv6; NULL when unknown) is that address.  Fills @token
 * (may be NULL) whenever the text parsed.  Thread-safe. */
CoverTokenStatus cover_token_authorize (CoverAppTable *apps, const gchar *text,
    guint32 cid, const gchar *peer_address, gint64 now,
    guint32 required_control, CoverToken *token);
/* TRUE for the statuses of a genuine token that may not do this (403), FALSE
 * for a missing or untrusted token (401) and for COVER_TOKEN_OK. */
gboolean cover_token_status_is_forbidden (CoverTokenStatus status);
/* A sentence for the client ("The device token has expired."). */
const gchar *cover_token_status_describe (CoverTokenStatus status);
/* Mints the text form for @token with @key (digest computed, the token's
 * own digest field ignored); for tests, tools and app servers. */
gchar *cover_token_mint (const gchar *key, const CoverToken *token);
/* The metrics label: "ok", "missing", "malformed", "unknown_app",
 * "bad_digest", "expired", "wrong_device", "no_permission", "wrong_address" */
const gchar *cover_token_status_to_string (CoverTokenStatus status);
/* Parses dotted IPv4 into the token's ip number; FALSE for anything else
 * (IPv6 other than ::ffff:a.b.c.d is not an IPv4 address). */
gboolean cover_token_ip_from_string (const gchar *address, guint32 *ip);
/* For logs: "cid_control_expire_…" — never the digest. */
gchar *cover_token_redact (const gchar *text);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CoverAppTable, cover_app_table_free);

G_END_DECLS

#endif /* __COVER_TOKEN_H__ */
