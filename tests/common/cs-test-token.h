/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* Device tokens for the tests, two ways: minted with the library
 * (cover_token_mint(), for requests that must get through), and computed
 * here from the token spec (hand-packed little-endian words, GLib's
 * HMAC-MD5), for checking the library against something it did not write.
 * GLib and server-glue/auth only. */

#ifndef __CS_TEST_TOKEN_H__
#define __CS_TEST_TOKEN_H__

#include <glib.h>

G_BEGIN_DECLS

/* A token for @cid signed with @key, minted by cover_token_mint(); with
 * @has_ip the verify-ip control bit is added to @control (transfer
 * full). */
gchar *cs_test_token_mint (const gchar *key, guint32 cid, guint32 control,
    gint64 expire, gboolean has_ip, guint32 ip);
/* A plain token for @cid signed with @key, valid for an hour (transfer
 * full). */
gchar *cs_test_token_valid (const gchar *key, guint32 cid);

/* Writes @v at @p as the spec packs a field: little-endian, by hand. */
void cs_test_put_le32 (guint8 *p, guint32 v);
/* The digest of the spec, as lowercase hex, over the fields as given;
 * @has_ip adds the ip word whatever @control says (transfer full). */
gchar *cs_test_token_spec_digest (const gchar *key, guint32 cid,
    guint32 control, guint32 expire, gboolean has_ip, guint32 ip);
/* The whole token text of the spec: "cid_control_expire[_ip]_digest"
 * (transfer full). */
gchar *cs_test_token_spec (const gchar *key, guint32 cid, guint32 control,
    guint32 expire, gboolean has_ip, guint32 ip);

G_END_DECLS

#endif /* __CS_TEST_TOKEN_H__ */
