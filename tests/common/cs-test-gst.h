/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

/* What the suites that run GStreamer pipelines share about them: the error
 * a bus holds, said in one line. */

#ifndef __CS_TEST_GST_H__
#define __CS_TEST_GST_H__

#include <gst/gst.h>

G_BEGIN_DECLS

/* "message (debug)" of an ERROR (or WARNING) message (transfer full). */
gchar *cs_test_message_text (GstMessage *msg);
/* Fails the test when the bus of @pipeline holds an ERROR message (printed
 * first); the messages before it are dropped. */
void cs_test_assert_no_bus_error (GstElement *pipeline);

G_END_DECLS

#endif /* __CS_TEST_GST_H__ */
