/*
 * Conversions between float32 working buffers and the other floating
 * tensor types, for operators whose kernels exist in float32 only:
 * float16 and bfloat16 inputs are widened into scratch, computed in
 * float32 and narrowed back (round to nearest even), the same numerics
 * as a reference that upcasts.  Header-only, static functions.
 */
#ifndef EMBER_OPS_F32CVT_H
#define EMBER_OPS_F32CVT_H

#include <string.h>

#include "ir/ir.h"

/* dst[i] = float(src[i]) for a float32/float16/bfloat16 array. */
static void emb_cvt_to_f32(int32_t dtype, const void *src, size_t n,
                           float *dst) {
  if (dtype == EMBER_FLOAT) {
    if (dst != src) memcpy(dst, src, n * sizeof *dst);
  } else if (dtype == EMBER_FLOAT16) {
    const uint16_t *h = src;
    for (size_t i = 0; i < n; i++) dst[i] = emb_f16_to_f32(h[i]);
  } else if (dtype == EMBER_BFLOAT16) {
    const uint16_t *h = src;
    for (size_t i = 0; i < n; i++) dst[i] = emb_bf16_to_f32(h[i]);
  }
}

/* dst[i] = (dtype) src[i] for a float32/float16/bfloat16 array. */
static void emb_cvt_from_f32(int32_t dtype, const float *src, size_t n,
                             void *dst) {
  if (dtype == EMBER_FLOAT) {
    if (dst != src) memcpy(dst, src, n * sizeof *src);
  } else if (dtype == EMBER_FLOAT16) {
    uint16_t *h = dst;
    for (size_t i = 0; i < n; i++) h[i] = emb_f32_to_f16(src[i]);
  } else if (dtype == EMBER_BFLOAT16) {
    uint16_t *h = dst;
    for (size_t i = 0; i < n; i++) h[i] = emb_f32_to_bf16(src[i]);
  }
}

/* Whether a tensor of this type goes through float32 scratch. */
static bool emb_is_half(int32_t dtype) {
  return dtype == EMBER_FLOAT16 || dtype == EMBER_BFLOAT16;
}

/* Bytes rounded up so consecutive scratch regions stay 64-byte aligned. */
static size_t emb_align64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

#endif
