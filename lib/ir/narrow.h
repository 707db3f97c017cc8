/*
 * The narrow element types: float8 (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ),
 * the E8M0 scale type, float4 E2M1 and the packed 4- and 2-bit integers.
 * Conversions between their bit patterns and double follow the ONNX Cast
 * rules (docs/technical/float8.md, float4.md, int4.md, int2.md): round to
 * nearest even, with the saturate / round_mode choices of Cast.  Sub-byte
 * types are stored packed, first element in the lowest bits.  Used by
 * Cast (cast.c) and the quantization operators (quant.c).
 */
#ifndef EMBER_OPS_NARROW_H
#define EMBER_OPS_NARROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* Flags for emb_minifloat_encode. */
enum {
  /* Out-of-range values (and infinities) become the largest finite value
   * of the sign instead of NaN / infinity (Cast's saturate=1). */
  EMB_NARROW_SATURATE = 1u << 0,
  /* Cast-19 to Cast-23: with saturate, +-Inf becomes NaN for the FNUZ
   * types rather than +-FLT_MAX. */
  EMB_NARROW_FNUZ_INF_NAN = 1u << 1,
  /* Rounding into E8M0 (Cast's round_mode); the default is "up". */
  EMB_NARROW_E8M0_DOWN = 1u << 2,
  EMB_NARROW_E8M0_NEAREST = 1u << 3
};

/* float8 (every variant), float8e8m0 and float4e2m1. */
bool emb_dtype_is_minifloat(int32_t dt);
/* Packed sub-byte integers: int4, uint4, int2, uint2. */
bool emb_dtype_is_subint(int32_t dt);
/* Any of the two above. */
bool emb_dtype_is_narrow(int32_t dt);

/* Bit pattern of minifloat type dt nearest to v (one rounding, ties to
 * even; E8M0 rounds as its flags say).  4-bit results are in the low
 * nibble. */
unsigned emb_minifloat_encode(int32_t dt, double v, unsigned flags);
/* Exact value of a minifloat bit pattern (NaN for NaN codes). */
double emb_minifloat_decode(int32_t dt, unsigned code);

/* Round to the nearest integer, ties to even, whatever the floating-point
 * environment's rounding mode; NaN and infinities pass through. */
double emb_round_even(double v);

/* v rounded (to nearest even) to the precision and range of float type
 * dt (float32, float16, bfloat16; float64 returns v), as a double.  Used
 * to do arithmetic "in" a narrower float type with one rounding. */
double emb_round_to(int32_t dt, double v);

/* Element i of any numeric tensor data (every integer and float type,
 * bool and the narrow types) as a double; 0 for others.  Exact except for
 * 64-bit integers beyond 2^53. */
double emb_elem_f64(int32_t dt, const void *data, size_t i);

/* Packed element access: `bits` is 8, 4 or 2. */
static inline unsigned emb_packed_get(const void *data, int bits, size_t i) {
  const uint8_t *p = (const uint8_t *)data;
  if (bits == 8) return p[i];
  if (bits == 4) return (unsigned)(p[i >> 1] >> ((i & 1) * 4)) & 0xfu;
  return (unsigned)(p[i >> 2] >> ((i & 3) * 2)) & 0x3u;
}

static inline void emb_packed_set(void *data, int bits, size_t i,
                                  unsigned code) {
  uint8_t *p = (uint8_t *)data;
  if (bits == 8) {
    p[i] = (uint8_t)code;
  } else if (bits == 4) {
    unsigned sh = (unsigned)(i & 1) * 4;
    p[i >> 1] = (uint8_t)((p[i >> 1] & ~(0xfu << sh)) | ((code & 0xfu) << sh));
  } else {
    unsigned sh = (unsigned)(i & 3) * 2;
    p[i >> 2] = (uint8_t)((p[i >> 2] & ~(0x3u << sh)) | ((code & 0x3u) << sh));
  }
}

/* Value of a sub-byte integer code (two's complement for int4 / int2). */
static inline int64_t emb_subint_value(int32_t dt, unsigned code) {
  if (dt == EMBER_INT4) return code >= 8 ? (int64_t)code - 16 : code;
  if (dt == EMBER_INT2) return code >= 2 ? (int64_t)code - 4 : code;
  return code;
}

#endif
