/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __E2E_UTIL_H__
#define __E2E_UTIL_H__

#include <gio/gio.h>

G_BEGIN_DECLS

/* a GSpawnChildSetupFunc: the child gets SIGKILL when the test dies */
void die_with_parent (gpointer data);
void rm_rf (const gchar *path);
/* Waits for @proc (bounded); its exit status, or -1 when it had to be
 * killed. */
gint wait_child (GSubprocess *proc, guint timeout_s);

G_END_DECLS

#endif /* __E2E_UTIL_H__ */
