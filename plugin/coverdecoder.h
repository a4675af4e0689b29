/* coversnap
 * Copyright (C) 2026 coversnap authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

#ifndef __COVER_DECODER_H__
#define __COVER_DECODER_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define COVER_DECODER_ERROR (cover_decoder_error_quark ())
GQuark cover_decoder_error_quark (void);

typedef enum
{
  COVER_DECODER_ERROR_NO_DECODER, /* nothing on the system decodes it */
  COVER_DECODER_ERROR_DECODE,     /* the decoder refused or produced nothing */
} CoverDecoderError;

/* A parser + decoder pair for one codec, driven synchronously from the
 * calling thread: a keyframe (or a short run of access units) in, one raw
 * frame out.  It outlives the
 * frames it decodes and is reused across streams (and caps) of its codec. */
typedef struct _CoverDecoder CoverDecoder;

/* A decoder for the codec of @caps (transfer none), or NULL with @error set
 * (transfer full: cover_decoder_free()).  @random_access: it will only be
 * given random access pictures (H.264 IDR, H.265 IRAP), which decode alone
 * with the cheapest settings; FALSE: any keyframe covertap takes
 * (open-GOP I pictures, recovery point runs too). */
CoverDecoder *cover_decoder_new (
    const GstCaps *caps, gboolean random_access, GError **error);
/* Whether random access pictures of the codec of @caps get settings of
 * their own (H.264); if not, one decoder serves both kinds. */
gboolean cover_decoder_has_random_access_settings (const GstCaps *caps);
/* Decodes @units (transfer none: their memory is shared, not copied), the
 * access units of @caps (transfer none) in decode order: one keyframe, or a
 * recovery point and the units up to the picture it recovers.  Returns a
 * sample holding the last picture decoded (system memory) and its caps
 * (transfer full), or NULL with @error set.  On failure the decoder may be
 * broken: check cover_decoder_is_usable(). */
GstSample *cover_decoder_decode (
    CoverDecoder *dec, GstCaps *caps, GstBufferList *units, GError **error);
gboolean cover_decoder_is_usable (CoverDecoder *dec);
void cover_decoder_free (CoverDecoder *dec);

G_END_DECLS

#endif /* __COVER_DECODER_H__ */
