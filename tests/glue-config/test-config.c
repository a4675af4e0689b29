/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* The service's configuration: defaults, every key, and a clear error
 * naming the key for every bad value. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <unistd.h>

#include "cover-config-keys.h"
#include "cover-config.h"
#include "coverstore.h"

static CoverConfig *
load (const gchar *text, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  CoverConfig *config = cover_config_new ();

  g_assert_true (
      g_key_file_load_from_data (file, text, -1, G_KEY_FILE_NONE, NULL));
  if (!cover_config_load_key_file (config, file, error)) {
    cover_config_free (config);
    return NULL;
  }
  return config;
}

static void
test_defaults (void)
{
  g_autoptr (CoverConfig) c = cover_config_new ();

  g_assert_cmpstr (c->listen_address, ==, "0.0.0.0");
  g_assert_cmpuint (c->port, ==, 8080);
  g_assert_cmpuint (c->threads, ==, 1);
  g_assert_cmpstr (c->data_dir, ==, "/var/lib/coversnap");
  g_assert_cmpstr (c->upload_dir, ==, "/var/lib/coversnap/uploads");
  g_assert_cmpstr (c->thumbnail_dir, ==, "/var/lib/coversnap/thumbnails");
  {
    g_autofree gchar *store = cover_store_default_dir ();

    /* the store covertap and coversnap-cat use without options */
    g_assert_cmpstr (c->store_dir, ==, store);
    g_assert_false (cover_config_is_given (c, "store-dir"));
  }
  g_assert_cmpint (c->live_timeout_us, ==, 10 * G_USEC_PER_SEC);
  g_assert_cmpuint (c->max_upload_size, ==, 2 * 1024 * 1024);
  g_assert_false (c->require_view_permission);
  g_assert_cmpuint (cover_app_table_get_size (c->apps), ==, 0);
}

/* The default store follows the session, as covertap's does: a private
 * directory, never /dev/shm itself. */
static void
test_store_dir_default (void)
{
  g_autofree gchar *saved = g_strdup (g_getenv ("XDG_RUNTIME_DIR"));
  g_autoptr (CoverConfig) with_runtime = NULL;
  g_autoptr (CoverConfig) without = NULL;

  g_setenv ("XDG_RUNTIME_DIR", "/run/user/4242", TRUE);
  with_runtime = cover_config_new ();
  g_unsetenv ("XDG_RUNTIME_DIR");
  without = cover_config_new ();
  if (saved)
    g_setenv ("XDG_RUNTIME_DIR", saved, TRUE);

  g_assert_cmpstr (with_runtime->store_dir, ==, "/run/user/4242/coversnap");
  g_assert_cmpstr (without->store_dir, !=, "/dev/shm");
  if (geteuid () == 0)
    g_assert_cmpstr (without->store_dir, ==, "/run/coversnap");
}

static void
test_every_key (void)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (CoverConfig) c = load ("[server]\n"
                                    "listen-address=::1\n"
                                    "port=0\n"
                                    "http-threads=4\n"
                                    "data-dir=/srv/cs\n"
                                    "store-dir=/run/cs\n"
                                    "live-timeout=2.5\n"
                                    "max-upload-size=1000\n"
                                    "require-view-permission=true\n"
                                    "max-resize=640\n"
                                    "resize-cache-entries=0\n"
                                    "shutdown-timeout=30\n"
                                    "[app.a]\nkey=k1\ncids=10-20,42\n"
                                    "[app.b]\nkey=k2\ncids = 30 - 40\n"
                                    "[stream.default]\nquality=70\n",
      &err);
  const gchar *name = NULL;

  g_assert_no_error (err);
  g_assert_cmpstr (c->listen_address, ==, "::1");
  g_assert_cmpuint (c->port, ==, 0);
  g_assert_cmpuint (c->threads, ==, 4);
  /* derived directories follow data-dir */
  g_assert_cmpstr (c->upload_dir, ==, "/srv/cs/uploads");
  g_assert_cmpstr (c->thumbnail_dir, ==, "/srv/cs/thumbnails");
  g_assert_cmpstr (c->store_dir, ==, "/run/cs");
  g_assert_cmpint (c->live_timeout_us, ==, 2500000);
  g_assert_cmpuint (c->max_upload_size, ==, 1000);
  g_assert_true (c->require_view_permission);
  g_assert_cmpuint (c->max_resize, ==, 640);
  g_assert_cmpuint (c->resize_cache_entries, ==, 0);
  g_assert_cmpint (c->shutdown_timeout_us, ==, 30 * G_USEC_PER_SEC);
  g_assert_cmpuint (cover_app_table_get_size (c->apps), ==, 2);
  g_assert_nonnull (cover_app_table_lookup (c->apps, 42, &name));
  g_assert_cmpstr (name, ==, "a");
  g_assert_nonnull (cover_app_table_lookup (c->apps, 35, &name));
  g_assert_cmpstr (name, ==, "b");
  g_assert_null (cover_app_table_lookup (c->apps, 21, NULL));

  /* an explicit directory is kept when data-dir changes after it */
  g_assert_true (cover_config_set (c, "upload-dir", "/u", &err));
  g_assert_true (cover_config_set (c, "data-dir", "/other", &err));
  g_assert_cmpstr (c->upload_dir, ==, "/u");
  g_assert_cmpstr (c->thumbnail_dir, ==, "/other/thumbnails");
}

static void
test_bad_values (void)
{
  static const struct
  {
    const gchar *text;
    const gchar *names; /* what the message must contain */
  } cases[] = {
    { "[server]\nport=65536\n", "[server] port" },
    { "[server]\nport=-1\n", "[server] port" },
    { "[server]\nport=http\n", "[server] port" },
    { "[server]\nhttp-threads=0\n", "[server] http-threads" },
    { "[server]\nlisten-address=localhost\n", "[server] listen-address" },
    { "[server]\ndata-dir=relative/dir\n", "[server] data-dir" },
    { "[server]\nstore-dir=\n", "[server] store-dir" },
    { "[server]\nlive-timeout=soon\n", "[server] live-timeout" },
    { "[server]\nlive-timeout=0\n", "[server] live-timeout" },
    { "[server]\nlive-timeout=5s\n", "[server] live-timeout" },
    { "[server]\nmax-upload-size=0\n", "[server] max-upload-size" },
    { "[server]\nrequire-view-permission=yes\n",
        "[server] require-view-permission" },
    { "[server]\nmax-resize=4\n", "[server] max-resize" },
    { "[server]\nshutdown-timeout=0\n", "[server] shutdown-timeout" },
    { "[server]\nshutdown-timeout=3601\n", "[server] shutdown-timeout" },
    { "[server]\nresize-cache-entries=many\n",
        "[server] resize-cache-entries" },
    { "[server]\nprot=8080\n", "[server] prot" },
    { "[app.a]\ncids=1-2\n", "[app.a] key" },
    { "[app.a]\nkey=\ncids=1-2\n", "[app.a] key" },
    { "[app.a]\nkey=k\n", "[app.a] cids" },
    { "[app.a]\nkey=k\ncids=5-1\n", "[app.a] cids" },
    { "[app.a]\nkey=k\ncids=1-x\n", "[app.a] cids" },
    { "[app.a]\nkey=k\ncids=1-10\n[app.b]\nkey=j\ncids=10\n", "[app.b] cids" },
    { "[app.a]\nkey=k\ncids=1\nsecret=x\n", "[app.a] secret" },
    { "[app.]\nkey=k\ncids=1\n", "[app.]" },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    GError *err = NULL;
    CoverConfig *c = load (cases[i].text, &err);

    g_test_message ("%s → %s", cases[i].text, err ? err->message : "(ok)");
    g_assert_null (c);
    g_assert_nonnull (err);
    g_assert_true (err->domain == COVER_CONFIG_ERROR);
    g_assert_nonnull (strstr (err->message, cases[i].names));
    /* never the key itself */
    g_assert_null (strstr (err->message, "key=k"));
    g_error_free (err);
  }
}

static void
test_load_file_errors (void)
{
  g_autoptr (CoverConfig) c = cover_config_new ();
  g_autoptr (GError) err = NULL;

  g_assert_false (
      cover_config_load_file (c, "/nonexistent/coversnap.ini", &err));
  g_assert_nonnull (strstr (err->message, "/nonexistent/coversnap.ini"));
}

/* a default is not "given"; the file's values and cover_config_set() are */
static void
test_given (void)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (CoverConfig) c = load ("[server]\nport=8080\n", &err);

  g_assert_no_error (err);
  g_assert_true (cover_config_is_given (c, "port"));
  g_assert_false (cover_config_is_given (c, "store-dir"));
  g_assert_true (cover_config_set (c, "store-dir", "/run/x", &err));
  g_assert_true (cover_config_is_given (c, "store-dir"));
  /* the key file's own boolean words */
  g_assert_true (cover_config_set (c, "require-view-permission", "1", &err));
  g_assert_true (c->require_view_permission);
  g_assert_true (cover_config_set (c, "require-view-permission", "0", &err));
  g_assert_false (c->require_view_permission);
}

/* defaults as a key file of their own go under the file's values */
static void
test_add_defaults (void)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GKeyFile) defaults = g_key_file_new ();
  g_autoptr (GError) err = NULL;
  g_autoptr (CoverConfig) c = cover_config_new ();

  g_assert_true (g_key_file_load_from_data (
      file, "[server]\nport=1234\n[stream.42]\n", -1, G_KEY_FILE_NONE, NULL));
  g_key_file_set_value (defaults, "server", "port", "8080");
  g_key_file_set_value (defaults, "server", "listen-address", "127.0.0.1");
  g_key_file_set_value (defaults, "stream.default", "thumbnails", "true");
  cover_config_key_file_add_defaults (file, defaults);
  g_assert_true (cover_config_load_key_file (c, file, &err));
  g_assert_cmpuint (c->port, ==, 1234);
  g_assert_cmpstr (c->listen_address, ==, "127.0.0.1");
  g_assert_true (g_key_file_has_group (file, "stream.42"));
  g_assert_true (
      g_key_file_get_boolean (file, "stream.default", "thumbnails", NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/store-dir-default", test_store_dir_default);
  g_test_add_func ("/config/every-key", test_every_key);
  g_test_add_func ("/config/bad-values", test_bad_values);
  g_test_add_func ("/config/load-file-errors", test_load_file_errors);
  g_test_add_func ("/config/given", test_given);
  g_test_add_func ("/config/add-defaults", test_add_defaults);
  return g_test_run ();
}
