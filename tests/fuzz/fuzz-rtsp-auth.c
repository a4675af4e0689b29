/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The RTSP auth path as a hostile client drives it: the input is what a
 * client sends on one connection.  GstRTSPConnection (the server's own
 * parser, with the ingest's body cap) cuts it into messages; each request
 * goes the way gst-rtsp-server 1.22's handle_request takes it to the auth:
 * the version checked, the URL parsed by gst_rtsp_url_parse() (an absolute
 * path gets the server's address first, as there) and sanitized, the
 * Session: header looked up in a real pool (cover_session_pool_new()),
 * then cover_rtsp_auth_decide(), the connection's accepted client ids
 * carried from one request to the next as the auth does.  The decisions
 * are checked against the policy: no tokenless request is taken on a
 * foreign session, without a session only where a token was accepted.
 *
 * Placeholders let the fuzzer reach what needs a secret: @T is a valid
 * token for 42, @U one for 43 (another device), @I one for 42 bound to
 * 10.0.0.1 (another address than the peer's), @B Basic credentials
 * carrying @T, @S the id of a session this connection created, @F one
 * another connection created.  The input goes to the connection as its
 * initial buffer, a C string: a NUL ends it. */

#include <stdint.h>
#include <string.h>

#include <gst/gst.h>

#include "cover-ingest-private.h"
#include "cover-rtsp-auth.h"
#include "cover-session-pool.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *__lsan_default_options (void);

/* Past 2048 quarks (GStreamer and gst-rtsp-server register more) GLib
 * drops its first quark block for good, by design (lockless lookups): 16
 * KiB from its library constructor that LeakSanitizer's check at exit
 * reports, a leak of no input, and not to be suppressed by its stack (it
 * is just malloc and g_malloc: GLib has no frame pointers).  So no check
 * at exit; libFuzzer's check after any input whose allocations do not
 * balance stays (it would name that block too, with the input's leak). */
const char *
__lsan_default_options (void)
{
  return "leak_check_at_exit=0";
}

/* bounds what one input may cost */
#define MAX_INPUT_BYTES (256 * 1024)
#define MAX_MESSAGES 16
/* the tokens' clock: fixed, so that an input means the same every run */
#define NOW 1700000000
#define PEER "127.0.0.1"

static CoverAppTable *apps;
static GstRTSPSessionPool *pool;
static GstRTSPClient *client; /* the creator of @S */
static GstRTSPSession *own, *foreign;
static gchar *token_42, *token_43, *token_ip, *basic_42;

static void
drop_log (const gchar *domain, GLogLevelFlags level, const gchar *message,
    gpointer data)
{
}

static gchar *
mint (const gchar *key, guint32 cid, gboolean has_ip, guint32 ip)
{
  CoverToken token = { 0 };

  token.cid = cid;
  token.expire = NOW + 3600;
  token.has_ip = has_ip;
  token.ip = ip;
  if (has_ip)
    token.control = COVER_TOKEN_CONTROL_VERIFY_IP;
  return cover_token_mint (key, &token);
}

static void
setup (void)
{
  g_autofree gchar *plain = NULL;

  gst_init (NULL, NULL);
  /* every refusal is logged: not the fuzzer's business */
  g_log_set_handler ("coversnap-ingest", G_LOG_LEVEL_MESSAGE, drop_log, NULL);
  apps = cover_app_table_new ();
  g_assert_true (cover_app_table_add (apps, "a", "fuzz-key-a", "42", NULL));
  g_assert_true (cover_app_table_add (apps, "b", "fuzz-key-b", "43", NULL));
  token_42 = mint ("fuzz-key-a", 42, FALSE, 0);
  token_43 = mint ("fuzz-key-b", 43, FALSE, 0);
  token_ip = mint ("fuzz-key-a", 42, TRUE, 10u << 24 | 1);
  plain = g_strconcat ("42:", token_42, NULL);
  basic_42 = g_base64_encode ((const guchar *) plain, strlen (plain));

  pool = cover_session_pool_new ();
  own = gst_rtsp_session_pool_create (pool);
  foreign = gst_rtsp_session_pool_create (pool);
  g_assert_nonnull (own);
  g_assert_nonnull (foreign);
  client = gst_rtsp_client_new ();
  cover_rtsp_auth_set_session_owner (own, client);
}

/* the input as text, its placeholders replaced (transfer full) */
static gchar *
expand (const uint8_t *data, size_t size)
{
  GString *s = g_string_sized_new (size + 64);
  size_t i;

  for (i = 0; i < size && data[i]; i++) {
    const gchar *with = NULL;

    if (data[i] == '@' && i + 1 < size) {
      switch (data[i + 1]) {
        case 'T':
          with = token_42;
          break;
        case 'U':
          with = token_43;
          break;
        case 'I':
          with = token_ip;
          break;
        case 'B':
          with = basic_42;
          break;
        case 'S':
          with = gst_rtsp_session_get_sessionid (own);
          break;
        case 'F':
          with = gst_rtsp_session_get_sessionid (foreign);
          break;
      }
    }
    if (with) {
      g_string_append (s, with);
      i++;
    } else {
      g_string_append_c (s, data[i]);
    }
  }
  return g_string_free (s, FALSE);
}

/* gst-rtsp-server's sanitize_uri(): duplicate and trailing '/' go */
static void
sanitize (GstRTSPUrl *uri)
{
  gchar *s = uri->abspath, *d = uri->abspath;
  gboolean prev_slash = FALSE;

  for (; *s; s++) {
    gboolean slash = *s == '/';

    *d = *s;
    if (!slash || !prev_slash)
      d++;
    prev_slash = slash;
  }
  if (d - uri->abspath > 1 && d[-1] == '/')
    d--;
  *d = '\0';
}

/* the request's URL as handle_request() parses it: FALSE for a 400 */
static gboolean
parse_url (const gchar *text, GstRTSPUrl **uri)
{
  g_autofree gchar *scheme = NULL;
  g_autofree gchar *absolute = NULL;

  *uri = NULL;
  if (strcmp (text, "*") == 0)
    return TRUE;
  if (gst_rtsp_url_parse (text, uri) == GST_RTSP_OK)
    return TRUE;
  scheme = g_uri_parse_scheme (text);
  if (scheme || !g_str_has_prefix (text, "/"))
    return FALSE;
  absolute = g_strconcat ("rtsp://" PEER, text, NULL);
  return gst_rtsp_url_parse (absolute, uri) == GST_RTSP_OK;
}

static void
handle_request (GstRTSPMessage *msg, GHashTable *cids)
{
  CoverRtspAuthRequest req = { 0 };
  g_autoptr (GstRTSPSession) session = NULL;
  GstRTSPUrl *uri = NULL;
  GstRTSPMethod method;
  GstRTSPVersion version;
  GstRTSPStatusCode code;
  const gchar *text;
  gchar *sessid = NULL;
  gboolean token_accepted, had_cid;
  guint32 cid;

  if (gst_rtsp_message_parse_request (msg, &method, &text, &version) !=
          GST_RTSP_OK ||
      (version != GST_RTSP_VERSION_1_0 && version != GST_RTSP_VERSION_2_0) ||
      !parse_url (text, &uri))
    return;
  if (gst_rtsp_message_get_header (msg, GST_RTSP_HDR_SESSION, &sessid, 0) ==
      GST_RTSP_OK) {
    session = gst_rtsp_session_pool_find (pool, sessid);
    /* 454 before any auth */
    if (!session)
      goto done;
  }
  if (uri)
    sanitize (uri);

  req.method = method;
  req.uri = uri;
  req.request = msg;
  req.peer = PEER;
  req.has_session = session != NULL;
  req.owns_session =
      session && cover_rtsp_auth_session_is_owned_by (session, client);
  req.accepted_cids = cids;
  code = cover_rtsp_auth_decide (apps, &req, NOW, &cid, &token_accepted);

  /* the policy, whatever the input */
  had_cid = g_hash_table_contains (cids, GUINT_TO_POINTER (cid));
  if (code == GST_RTSP_STS_OK && uri && !token_accepted) {
    /* taken without a token: never an ANNOUNCE, never on a foreign
     * session, without a session only where a token was accepted */
    g_assert_true (method != GST_RTSP_ANNOUNCE);
    g_assert_true (method != GST_RTSP_DESCRIBE);
    if (session)
      g_assert_true (session == own);
    else
      g_assert_true (method == GST_RTSP_OPTIONS || had_cid);
  }
  if (token_accepted) {
    g_assert_cmpint (code, ==, GST_RTSP_STS_OK);
    /* the devices there are tokens for */
    g_assert_true (cid == 42 || cid == 43);
    g_hash_table_add (cids, GUINT_TO_POINTER (cid));
  }
done:
  if (uri)
    gst_rtsp_url_free (uri);
}

/* libFuzzer sets up before the first input: the once-only allocations
 * would look like that input's leak (fuzz-main.c sets up lazily) */
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  setup ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GHashTable) cids = NULL;
  g_autofree gchar *text = NULL;
  GstRTSPConnection *conn = NULL;
  GSocket *socket;
  guint i;

  if (size > MAX_INPUT_BYTES)
    return 0;
  if (!apps)
    setup ();
  text = expand (data, size);
  /* never connected: once the initial buffer is read, a read fails at once
   * (a socket is what the connection wants; it reads nothing from it) */
  socket = g_socket_new (
      G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_assert_nonnull (socket);
  g_assert_cmpint (
      gst_rtsp_connection_create_from_socket (socket, PEER, 40000, text, &conn),
      ==, GST_RTSP_OK);
  g_object_unref (socket);
  gst_rtsp_connection_set_content_length_limit (conn, COVER_INGEST_MAX_BODY);

  cids = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (i = 0; i < MAX_MESSAGES; i++) {
    GstRTSPMessage msg = { 0 };
    GstRTSPResult res =
        gst_rtsp_connection_receive_usec (conn, &msg, G_USEC_PER_SEC);

    if (res == GST_RTSP_OK && msg.type == GST_RTSP_MESSAGE_REQUEST)
      handle_request (&msg, cids);
    gst_rtsp_message_unset (&msg);
    if (res != GST_RTSP_OK)
      break;
  }
  gst_rtsp_connection_free (conn);
  return 0;
}
