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

#include "cover-rtmp-hooks.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "cover-token.h"
#include "coverid.h"

#define PUBLISH_PATH COVER_RTMP_HOOKS_PATH "on_publish"
#define PUBLISH_DONE_PATH COVER_RTMP_HOOKS_PATH "on_publish_done"
/* a live publisher of the client id that sent within this long is not
 * taken over (as RTSP pushers, at most the live-timeout) */
#define STALE_US (1 * G_USEC_PER_SEC)
#define MAX_APP_LEN 64

/* the answers counted for /metrics: per hook, per status */
static const guint counted_statuses[] = { 200, 400, 401, 403, 404, 405, 409,
  413 };
enum
{
  HOOK_PUBLISH,
  HOOK_PUBLISH_DONE,
  HOOK_OTHER,
  N_HOOKS
};
static const gchar *const hook_names[N_HOOKS] = { "on_publish",
  "on_publish_done", "other" };

struct _CoverRtmpHooks
{
  const CoverConfig *config;
  const CoverIngestSettings *settings;
  CoverPulls *pulls;
  CoverPushers *pushers;
  gint answers[N_HOOKS][G_N_ELEMENTS (counted_statuses)]; /* atomic */
};

CoverRtmpHooks *
cover_rtmp_hooks_new (const CoverConfig *config,
    const CoverIngestSettings *settings, CoverPulls *pulls,
    CoverPushers *pushers)
{
  CoverRtmpHooks *hooks;

  g_return_val_if_fail (config != NULL && settings != NULL, NULL);
  g_return_val_if_fail (pulls != NULL && pushers != NULL, NULL);

  hooks = g_new0 (CoverRtmpHooks, 1);
  hooks->config = config;
  hooks->settings = settings;
  hooks->pulls = pulls;
  hooks->pushers = pushers;
  return hooks;
}

void
cover_rtmp_hooks_free (CoverRtmpHooks *hooks)
{
  g_free (hooks);
}

void
cover_rtmp_hooks_write_metrics (GString *out, gpointer data)
{
  CoverRtmpHooks *hooks = data;
  guint h, i;

  g_return_if_fail (out != NULL && hooks != NULL);

  g_string_append (out,
      "# HELP coversnap_rtmp_hook_answers_total Answers of the RTMP hooks, "
      "by hook and status\n"
      "# TYPE coversnap_rtmp_hook_answers_total counter\n");
  for (h = 0; h < N_HOOKS; h++) {
    for (i = 0; i < G_N_ELEMENTS (counted_statuses); i++)
      g_string_append_printf (out,
          "coversnap_rtmp_hook_answers_total{hook=\"%s\",status=\"%u\"} "
          "%d\n",
          hook_names[h], counted_statuses[i],
          g_atomic_int_get (&hooks->answers[h][i]));
  }
}

static void
count (CoverRtmpHooks *hooks, SoupServerMessage *msg, guint status)
{
  const gchar *path = g_uri_get_path (soup_server_message_get_uri (msg));
  guint hook = g_str_equal (path, PUBLISH_PATH) ? HOOK_PUBLISH
      : g_str_equal (path, PUBLISH_DONE_PATH)   ? HOOK_PUBLISH_DONE
                                                : HOOK_OTHER;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (counted_statuses); i++) {
    if (counted_statuses[i] == status)
      g_atomic_int_inc (&hooks->answers[hook][i]);
  }
}

/* The answer: {"code": 0, ...} when @error is NULL (what SRS reads as
 * "go on"; nginx-rtmp reads the status only), else the error object of
 * the HTTP API.  Every answer carries its X-Request-ID. */
static void
respond (CoverRtmpHooks *hooks, SoupServerMessage *msg, guint status,
    const gchar *error, const gchar *message, guint32 cid)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  g_autofree gchar *request_id =
      g_strdup (soup_message_headers_get_one (h, "X-Request-ID"));
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  gchar *body;
  gsize len;

  /* the service's id of the request when it gave one (its handlers do) */
  if (!request_id) {
    request_id = cover_random_hex (16);
    soup_message_headers_replace (h, "X-Request-ID", request_id);
  }
  count (hooks, msg, status);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "request_id");
  json_builder_add_string_value (b, request_id);
  if (error) {
    json_builder_set_member_name (b, "error");
    json_builder_add_string_value (b, error);
    json_builder_set_member_name (b, "message");
    json_builder_add_string_value (b, message);
  } else {
    json_builder_set_member_name (b, "code");
    json_builder_add_int_value (b, 0);
    if (cid != G_MAXUINT32) {
      json_builder_set_member_name (b, "client_id");
      json_builder_add_int_value (b, cid);
    }
  }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  body = json_generator_to_data (gen, &len);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (
      msg, "application/json", SOUP_MEMORY_TAKE, body, len);
}

/* an IPv4-mapped IPv6 peer (a dual-stack socket) as the IPv4 address
 * hook-allow and tokens name (transfer full) */
static GInetAddress *
peer_address (SoupServerMessage *msg)
{
  GSocketAddress *sa = soup_server_message_get_remote_address (msg);
  GInetAddress *addr;
  const guint8 *bytes;

  if (!G_IS_INET_SOCKET_ADDRESS (sa))
    return NULL;
  addr = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa));
  bytes = g_inet_address_to_bytes (addr);
  if (g_inet_address_get_family (addr) == G_SOCKET_FAMILY_IPV6 &&
      memcmp (bytes, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
    return g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
  return g_object_ref (addr);
}

/* Refused before the body is read: libsoup drains it without keeping it,
 * and the connection closes after the answer. */
static void
refuse_early (CoverRtmpHooks *hooks, SoupServerMessage *msg, guint status,
    const gchar *error, const gchar *message)
{
  soup_message_body_set_accumulate (
      soup_server_message_get_request_body (msg), FALSE);
  soup_message_headers_replace (
      soup_server_message_get_response_headers (msg), "Connection", "close");
  respond (hooks, msg, status, error, message, G_MAXUINT32);
}

void
cover_rtmp_hooks_early_handler (SoupServer *server, SoupServerMessage *msg,
    const char *path, GHashTable *query, gpointer data)
{
  CoverRtmpHooks *hooks = data;
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  g_autoptr (GInetAddress) peer = peer_address (msg);

  if (!g_str_equal (path, PUBLISH_PATH) &&
      !g_str_equal (path, PUBLISH_DONE_PATH)) {
    refuse_early (hooks, msg, SOUP_STATUS_NOT_FOUND, "not_found",
        "No such hook: POST /hooks/rtmp/on_publish or on_publish_done.");
    return;
  }
  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST) {
    soup_message_headers_replace (
        soup_server_message_get_response_headers (msg), "Allow", "POST");
    refuse_early (hooks, msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
        "method_not_allowed", "The RTMP hooks take POST.");
    return;
  }
  if (!peer || !cover_ingest_settings_hook_allowed (hooks->settings, peer)) {
    g_autofree gchar *text = peer ? g_inet_address_to_string (peer) : NULL;

    g_message ("RTMP hook %s from %s refused: not in [ingest] hook-allow", path,
        text ? text : "?");
    refuse_early (hooks, msg, SOUP_STATUS_FORBIDDEN, "forbidden",
        "This address may not call the RTMP hooks ([ingest] hook-allow).");
    return;
  }
  if (soup_message_headers_get_encoding (h) != SOUP_ENCODING_CONTENT_LENGTH ||
      soup_message_headers_get_content_length (h) > COVER_RTMP_HOOKS_MAX_BODY) {
    refuse_early (hooks, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too_large",
        "A hook's body has a Content-Length of at most 8 KiB.");
    return;
  }
}

/* the hook's fields */
typedef struct
{
  gchar *call;
  gchar *app;
  gchar *name;
  gchar *addr;
  gchar *token;
} Fields;

static void
fields_clear (Fields *f)
{
  g_free (f->call);
  g_free (f->app);
  g_free (f->name);
  g_free (f->addr);
  g_free (f->token);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Fields, fields_clear);

static void
take_field (Fields *f, const gchar *key, gchar *value)
{
  gchar **slot = NULL;

  if (g_str_equal (key, "call") || g_str_equal (key, "action"))
    slot = &f->call;
  else if (g_str_equal (key, "app"))
    slot = &f->app;
  else if (g_str_equal (key, "name") || g_str_equal (key, "stream"))
    slot = &f->name;
  else if (g_str_equal (key, "addr") || g_str_equal (key, "ip"))
    slot = &f->addr;
  else if (g_str_equal (key, "token") || g_str_equal (key, "client_token"))
    slot = &f->token;
  /* the first wins: nginx-rtmp puts its own fields before the publish
   * URL's arguments, which the publisher chose (name=43 in them must not
   * rename the stream) */
  if (slot && !*slot)
    *slot = value;
  else
    g_free (value);
}

static gchar *
form_unescape (const gchar *text, gssize len)
{
  g_autofree gchar *plus =
      g_strndup (text, len < 0 ? (gssize) strlen (text) : len);

  g_strdelimit (plus, "+", ' ');
  return g_uri_unescape_string (plus, NULL);
}

/* application/x-www-form-urlencoded (nginx-rtmp), or a query (SRS's
 * "param": "?token=...") */
static void
parse_form (Fields *f, const gchar *text)
{
  g_auto (GStrv) pairs = g_strsplit (text[0] == '?' ? text + 1 : text, "&", -1);
  guint i;

  for (i = 0; pairs[i]; i++) {
    const gchar *eq = strchr (pairs[i], '=');
    g_autofree gchar *key = NULL;
    gchar *value;

    if (!eq)
      continue;
    key = form_unescape (pairs[i], eq - pairs[i]);
    value = form_unescape (eq + 1, -1);
    if (key && value)
      take_field (f, key, value);
    else
      g_free (value);
  }
}

/* SRS: {"action": "on_publish", "app": ..., "stream": ..., "ip": ...,
 * "param": "?token=..."} */
static gboolean
parse_json (Fields *f, const gchar *text, gsize len)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GList) members = NULL;
  JsonObject *obj;
  GList *l;

  if (!json_parser_load_from_data (parser, text, len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return FALSE;
  obj = json_node_get_object (json_parser_get_root (parser));
  members = json_object_get_members (obj);
  for (l = members; l; l = l->next) {
    JsonNode *node = json_object_get_member (obj, l->data);

    if (!JSON_NODE_HOLDS_VALUE (node) ||
        json_node_get_value_type (node) != G_TYPE_STRING)
      continue;
    if (g_str_equal (l->data, "param"))
      parse_form (f, json_node_get_string (node));
    else
      take_field (f, l->data, g_strdup (json_node_get_string (node)));
  }
  return TRUE;
}

static gboolean
is_app_name (const gchar *app)
{
  const gchar *c;

  if (!app || !*app || strlen (app) > MAX_APP_LEN)
    return FALSE;
  for (c = app; *c; c++) {
    if (!g_ascii_isalnum (*c) && *c != '_' && *c != '-' && *c != '.')
      return FALSE;
  }
  return TRUE;
}

static gchar *
stream_url (CoverRtmpHooks *hooks, const Fields *f)
{
  const gchar *base = cover_ingest_settings_get_rtmp_url (hooks->settings);

  return g_strdup_printf ("%s%s%s/%s", base,
      g_str_has_suffix (base, "/") ? "" : "/", f->app, f->name);
}

/* a live stream of the client id that sent within this long is not taken
 * over */
static gint64
stale_us (CoverRtmpHooks *hooks)
{
  return hooks->config->live_timeout_us > 0
      ? MIN (STALE_US, hooks->config->live_timeout_us)
      : STALE_US;
}

/* An on_publish whose token was accepted, while the cluster is asked. */
typedef struct
{
  CoverRtmpHooks *hooks;
  SoupServerMessage *msg; /* a reference */
  guint32 cid;
  gchar *app;
  gchar *addr;
  gchar *url;
  gulong finished_id;
  gboolean finished; /* the caller went: answer nobody */
} Publish;

static void
publish_free (Publish *pub)
{
  if (pub->finished_id)
    g_signal_handler_disconnect (pub->msg, pub->finished_id);
  g_object_unref (pub->msg);
  g_free (pub->app);
  g_free (pub->addr);
  g_free (pub->url);
  g_free (pub);
}

/* the pull of the publish; FALSE (answered 409) when a local stream of
 * the client id is fresh */
static gboolean
publish_start (Publish *pub)
{
  CoverRtmpHooks *hooks = pub->hooks;

  if (!cover_pulls_add (hooks->pulls, pub->cid, COVER_PULL_RTMP, pub->url,
          stale_us (hooks))) {
    g_message ("RTMP publish %s/%u from %s refused: client id %u streams "
               "already",
        pub->app, pub->cid, pub->addr, pub->cid);
    respond (hooks, pub->msg, SOUP_STATUS_CONFLICT, "busy",
        "Another publisher of this client id is streaming.", G_MAXUINT32);
    return FALSE;
  }
  g_message (
      "RTMP publish %s/%u from %s accepted", pub->app, pub->cid, pub->addr);
  respond (hooks, pub->msg, SOUP_STATUS_OK, NULL, NULL, pub->cid);
  return TRUE;
}

static void
on_publish_finished (SoupServerMessage *msg, Publish *pub)
{
  pub->finished = TRUE;
}

/* the cluster's answer, on the HTTP thread of the request */
static void
on_claimed (gboolean granted, gpointer data)
{
  Publish *pub = data;
  CoverRtmpHooks *hooks = pub->hooks;

  if (pub->finished) {
    if (granted)
      cover_pulls_unclaim (hooks->pulls, pub->cid);
  } else {
    if (!granted) {
      g_message ("RTMP publish %s/%u from %s refused: another node of the "
                 "cluster streams client id %u",
          pub->app, pub->cid, pub->addr, pub->cid);
      respond (hooks, pub->msg, SOUP_STATUS_CONFLICT, "busy",
          "Another node of the cluster streams this client id.", G_MAXUINT32);
    } else if (!publish_start (pub)) {
      cover_pulls_unclaim (hooks->pulls, pub->cid);
    }
    soup_server_message_unpause (pub->msg);
  }
  publish_free (pub);
}

static void
on_publish (
    CoverRtmpHooks *hooks, SoupServerMessage *msg, Fields *f, guint32 cid)
{
  g_autofree gchar *redacted = NULL;
  g_autoptr (GMainContext) context = NULL;
  CoverTokenStatus status;
  Publish *pub;

  if (f->call && !g_str_equal (f->call, "publish") &&
      !g_str_equal (f->call, "on_publish")) {
    respond (hooks, msg, SOUP_STATUS_BAD_REQUEST, "bad_call",
        "This hook is on_publish: call=publish.", G_MAXUINT32);
    return;
  }
  /* the publisher's address (nginx's addr), for tokens bound to one */
  status = cover_token_authorize (hooks->config->apps, f->token, cid, f->addr,
      g_get_real_time () / G_USEC_PER_SEC, 0, NULL);
  if (status != COVER_TOKEN_OK) {
    redacted = f->token ? cover_token_redact (f->token) : NULL;
    g_message ("RTMP publish %s/%u from %s: token %s refused: %s", f->app, cid,
        f->addr ? f->addr : "?", redacted ? redacted : "(none)",
        cover_token_status_to_string (status));
    if (cover_token_status_is_forbidden (status))
      respond (hooks, msg, SOUP_STATUS_FORBIDDEN, "forbidden",
          cover_token_status_describe (status), G_MAXUINT32);
    else
      respond (hooks, msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized",
          cover_token_status_describe (status), G_MAXUINT32);
    return;
  }
  /* one stream per client id, whichever way it comes: an RTSP push of it
   * streaming now is refused a publish as a second publisher is */
  if (cover_pushers_is_streaming (hooks->pushers, cid, stale_us (hooks))) {
    g_message ("RTMP publish %s/%u from %s refused: client id %u is pushed "
               "over RTSP and streaming",
        f->app, cid, f->addr ? f->addr : "?", cid);
    respond (hooks, msg, SOUP_STATUS_CONFLICT, "busy",
        "An RTSP push of this client id is streaming.", G_MAXUINT32);
    return;
  }
  pub = g_new0 (Publish, 1);
  pub->hooks = hooks;
  pub->msg = g_object_ref (msg);
  pub->cid = cid;
  pub->app = g_strdup (f->app);
  pub->addr = g_strdup (f->addr ? f->addr : "?");
  pub->url = stream_url (hooks, f);
  /* one stream per device in the whole cluster: the hook answers once the
   * registry did (bounded by [cluster] timeout), this HTTP thread serves
   * the others meanwhile */
  context = g_main_context_ref_thread_default ();
  pub->finished_id =
      g_signal_connect (msg, "finished", G_CALLBACK (on_publish_finished), pub);
  if (cover_pulls_claim (hooks->pulls, cid, context, on_claimed, pub)) {
    soup_server_message_pause (msg);
    return;
  }
  publish_start (pub);
  publish_free (pub);
}

void
cover_rtmp_hooks_handler (SoupServer *server, SoupServerMessage *msg,
    const char *path, GHashTable *query, gpointer data)
{
  CoverRtmpHooks *hooks = data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  const gchar *type = soup_message_headers_get_content_type (
      soup_server_message_get_request_headers (msg), NULL);
  g_autoptr (GBytes) bytes = NULL;
  g_autofree gchar *text = NULL;
  g_auto (Fields) f = { 0 };
  guint32 cid;
  gsize len;

  /* refused by the early handler */
  if (soup_server_message_get_status (msg) != 0)
    return;
  bytes = soup_message_body_flatten (body);
  len = g_bytes_get_size (bytes);
  if (len > COVER_RTMP_HOOKS_MAX_BODY) {
    respond (hooks, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too_large",
        "A hook's body has a Content-Length of at most 8 KiB.", G_MAXUINT32);
    return;
  }
  text = g_strndup (g_bytes_get_data (bytes, NULL), len);
  if (g_strcmp0 (type, "application/json") == 0) {
    if (!parse_json (&f, text, len)) {
      respond (hooks, msg, SOUP_STATUS_BAD_REQUEST, "bad_body",
          "The body is not a JSON object.", G_MAXUINT32);
      return;
    }
  } else {
    parse_form (&f, text);
  }
  if (!is_app_name (f.app)) {
    respond (hooks, msg, SOUP_STATUS_BAD_REQUEST, "bad_app",
        "app: 1 to 64 letters, digits, '.', '-' or '_'.", G_MAXUINT32);
  } else if (!f.name || !cover_client_id_parse (f.name, -1, &cid)) {
    respond (hooks, msg, SOUP_STATUS_BAD_REQUEST, "bad_client_id",
        "name: the stream name is the client id (an unsigned 32-bit "
        "decimal).",
        G_MAXUINT32);
  } else if (g_str_equal (path, PUBLISH_PATH)) {
    on_publish (hooks, msg, &f, cid);
  } else {
    g_autofree gchar *url = stream_url (hooks, &f);

    /* nginx ignores the answer; the pull ends at once */
    if (cover_pulls_remove (hooks->pulls, cid, COVER_PULL_RTMP, url))
      g_message ("RTMP publish %s/%u done", f.app, cid);
    respond (hooks, msg, SOUP_STATUS_OK, NULL, NULL, cid);
  }
}
