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

#include "cs-test-gst.h"

gchar *
cs_test_message_text (GstMessage *msg)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *dbg = NULL;

  g_return_val_if_fail (GST_IS_MESSAGE (msg), NULL);

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING)
    gst_message_parse_warning (msg, &err, &dbg);
  else
    gst_message_parse_error (msg, &err, &dbg);
  if (!err)
    return g_strdup ("?");
  return g_strdup_printf ("%s (%s)", err->message, dbg ? dbg : "");
}

void
cs_test_assert_no_bus_error (GstElement *pipeline)
{
  g_autoptr (GstBus) bus = NULL;
  GstMessage *msg;

  g_return_if_fail (GST_IS_ELEMENT (pipeline));

  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  if (msg) {
    g_autofree gchar *text = cs_test_message_text (msg);

    g_printerr ("error from %s: %s\n", GST_MESSAGE_SRC_NAME (msg), text);
    gst_message_unref (msg);
    g_assert_not_reached ();
  }
}
