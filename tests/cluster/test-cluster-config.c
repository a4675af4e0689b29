/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The [cluster] table: no group is no cluster (and no error); the
 * defaults; the Redis address in its two forms; every refusal names its
 * key. */

#include "cover-cluster-config.h"
#include "cover-config.h"

#include <string.h>

static CoverClusterConfig *
load (const gchar *text, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();

  g_assert_true (
      g_key_file_load_from_data (file, text, -1, G_KEY_FILE_NONE, NULL));
  return cover_config_cluster_load (file, error);
}

static void
test_absent (void)
{
  g_autoptr (GError) err = NULL;

  g_assert_null (load ("[server]\nport=0\n", &err));
  g_assert_no_error (err);
}

static void
test_defaults (void)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (CoverClusterConfig) c =
      load ("[cluster]\npublic-url=http://10.0.0.2:8080/\n", &err);

  g_assert_no_error (err);
  g_assert_cmpstr (c->host, ==, "127.0.0.1");
  g_assert_cmpuint (c->port, ==, 6379);
  g_assert_cmpuint (c->db, ==, 0);
  g_assert_null (c->socket_path);
  g_assert_null (c->password);
  g_assert_cmpstr (c->node_id, ==, g_get_host_name ());
  /* the trailing slash goes: paths are appended to it */
  g_assert_cmpstr (c->public_url, ==, "http://10.0.0.2:8080");
  g_assert_cmpint (c->heartbeat_us, ==, 2 * G_USEC_PER_SEC);
  g_assert_cmpint (c->ttl_us, ==, 6 * G_USEC_PER_SEC);
  g_assert_cmpint (c->timeout_us, ==, G_USEC_PER_SEC / 2);
  g_assert_false (c->proxy);
  g_assert_cmpstr (c->key_prefix, ==, "coversnap:");
}

static void
test_redis_forms (void)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (CoverClusterConfig) url =
      load ("[cluster]\n"
            "redis=redis://:s3cret@db.lan:6380/3\n"
            "public-url=https://n1.lan\n"
            "node-id=n1\n"
            "forward=proxy\n",
          &err);
  g_autoptr (CoverClusterConfig) sock = NULL;

  g_assert_no_error (err);
  g_assert_cmpstr (url->host, ==, "db.lan");
  g_assert_cmpuint (url->port, ==, 6380);
  g_assert_cmpuint (url->db, ==, 3);
  g_assert_cmpstr (url->password, ==, "s3cret");
  g_assert_true (url->proxy);
  sock = load ("[cluster]\nredis=/run/redis/redis.sock\npassword=pw\n"
               "public-url=http://n2:8080\n",
      &err);
  g_assert_no_error (err);
  g_assert_cmpstr (sock->socket_path, ==, "/run/redis/redis.sock");
  g_assert_null (sock->host);
  g_assert_cmpstr (sock->password, ==, "pw");
}

static void
test_refusals (void)
{
  static const struct
  {
    const gchar *text;
    const gchar *key;
  } bad[] = {
    { "[cluster]\nnode-id=a\n", "public-url" },
    { "[cluster]\npublic-url=ftp://x\n", "public-url" },
    { "[cluster]\npublic-url=http://x/?a=1\n", "public-url" },
    { "[cluster]\npublic-url=http://x\nredis=localhost:6379\n", "redis" },
    { "[cluster]\npublic-url=http://x\nredis=redis://h/db\n", "redis" },
    { "[cluster]\npublic-url=http://x\nforward=bounce\n", "forward" },
    { "[cluster]\npublic-url=http://x\nheartbeat=5\nttl=5\n", "ttl" },
    { "[cluster]\npublic-url=http://x\nttl=0\n", "ttl" },
    { "[cluster]\npublic-url=http://x\nnode-id=a b\n", "node-id" },
    { "[cluster]\npublic-url=http://x\nnode-id=a:b\n", "node-id" },
    { "[cluster]\npublic-url=http://x\ncolour=red\n", "colour" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) err = NULL;
    g_autofree gchar *named = g_strdup_printf ("[cluster] %s", bad[i].key);

    g_assert_null (load (bad[i].text, &err));
    g_assert_error (err, COVER_CONFIG_ERROR, err->code);
    if (!strstr (err->message, named))
      g_error ("%s: \"%s\" does not name %s", bad[i].text, err->message, named);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cluster/config/absent", test_absent);
  g_test_add_func ("/cluster/config/defaults", test_defaults);
  g_test_add_func ("/cluster/config/redis-forms", test_redis_forms);
  g_test_add_func ("/cluster/config/refusals", test_refusals);
  return g_test_run ();
}
