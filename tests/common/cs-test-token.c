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

#include "cs-test-token.h"

#include <string.h>

#include "cover-token.h"
#include "cs-test-util.h"

gchar *
cs_test_token_mint (const gchar *key, guint32 cid, guint32 control,
    gint64 expire, gboolean has_ip, guint32 ip)
{
  CoverToken t = { 0 };

  g_return_val_if_fail (key != NULL, NULL);

  t.cid = cid;
  t.control = control | (has_ip ? COVER_TOKEN_CONTROL_VERIFY_IP : 0);
  t.expire = expire;
  t.has_ip = has_ip;
  t.ip = ip;
  return cover_token_mint (key, &t);
}

gchar *
cs_test_token_valid (const gchar *key, guint32 cid)
{
  return cs_test_token_mint (key, cid, 0, cs_test_now_s () + 3600, FALSE, 0);
}

/* by hand, not with GLib's byte-order macros: the spec's own words */
void
cs_test_put_le32 (guint8 *p, guint32 v)
{
  g_return_if_fail (p != NULL);

  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = (v >> 24) & 0xff;
}

gchar *
cs_test_token_spec_digest (const gchar *key, guint32 cid, guint32 control,
    guint32 expire, gboolean has_ip, guint32 ip)
{
  guint8 plain[16];
  gsize len = 12;

  g_return_val_if_fail (key != NULL, NULL);

  cs_test_put_le32 (plain, cid);
  cs_test_put_le32 (plain + 4, control);
  cs_test_put_le32 (plain + 8, expire);
  if (has_ip) {
    cs_test_put_le32 (plain + 12, ip);
    len = 16;
  }
  return g_compute_hmac_for_data (
      G_CHECKSUM_MD5, (const guchar *) key, strlen (key), plain, len);
}

gchar *
cs_test_token_spec (const gchar *key, guint32 cid, guint32 control,
    guint32 expire, gboolean has_ip, guint32 ip)
{
  g_autofree gchar *d = NULL;

  g_return_val_if_fail (key != NULL, NULL);

  d = cs_test_token_spec_digest (key, cid, control, expire, has_ip, ip);
  if (has_ip)
    return g_strdup_printf ("%u_%u_%u_%u_%s", cid, control, expire, ip, d);
  return g_strdup_printf ("%u_%u_%u_%s", cid, control, expire, d);
}
