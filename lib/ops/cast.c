/*
 * Cast and CastLike: element type conversion between every numeric type
 * Ember knows (float32/64, float16, bfloat16, the 8- to 64-bit integers,
 * bool, the float8 / float4 / E8M0 minifloats and the packed 4- and 2-bit
 * integers) and strings.  Numbers go through a block of one of three wide
 * intermediates (double for floating sources, int64 for signed and bool,
 * uint64 for unsigned) so that N types need 2N small loops instead of N*N,
 * without losing a bit on the way: every source value is exact in its
 * intermediate.  Float to integer is undefined in the spec when out of
 * range; here it saturates through int64 (NaN gives 0) and then keeps the
 * low bits, never invoking C's undefined conversion.  Into the 4- and
 * 2-bit integers floats round to nearest even first (int4.md, int2.md);
 * into the minifloats they round to nearest even with Cast's `saturate`
 * and, for E8M0, `round_mode` (narrow.c).  Loads and stores address
 * elements by index, so packed sub-byte tensors need no special path.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ir/narrow.h"
#include "ops/op.h"

enum { CV_F64, CV_I64, CV_U64 };

/* Elements converted per block (the intermediate lives on the stack). */
#define CV_BLOCK 256

typedef union cv_buf {
  double d[CV_BLOCK];
  int64_t i[CV_BLOCK];
  uint64_t u[CV_BLOCK];
} cv_buf;

/* Conversion options from the node's attributes. */
typedef struct cv_opt {
  unsigned flags; /* EMB_NARROW_* for minifloat destinations */
} cv_opt;

static bool cv_numeric(int32_t dt) {
  return emb_dtype_is_float(dt) || emb_dtype_is_int(dt) ||
         dt == EMBER_BOOL || emb_dtype_is_narrow(dt);
}

static bool cv_supported(int32_t dt) {
  return cv_numeric(dt) || dt == EMBER_STRING;
}

static int cv_kind(int32_t dt) {
  if (emb_dtype_is_float(dt) || emb_dtype_is_minifloat(dt)) return CV_F64;
  if (dt == EMBER_UINT8 || dt == EMBER_UINT16 || dt == EMBER_UINT32 ||
      dt == EMBER_UINT64 || dt == EMBER_UINT4 || dt == EMBER_UINT2)
    return CV_U64;
  return CV_I64;
}

/* double -> IEEE binary16 / bfloat16 with one rounding (to nearest even),
 * rather than two through float.  mbits: stored mantissa bits; bias and
 * emax: exponent bias and the all-ones exponent. */
static uint16_t cv_f64_to_half(double v, int mbits, int bias, int emax) {
  uint64_t x;
  memcpy(&x, &v, sizeof x);
  uint16_t sign = (uint16_t)((x >> 48) & 0x8000);
  int exp = (int)((x >> 52) & 0x7ff);
  uint64_t man = x & 0xfffffffffffffull;
  if (exp == 0x7ff)
    return (uint16_t)(sign | (emax << mbits) |
                      (man ? 1u << (mbits - 1) : 0));
  int e = exp - 1023 + bias;
  if (e >= emax) return (uint16_t)(sign | (emax << mbits));
  uint64_t half, rem, mid;
  int shift;
  if (e <= 0) { /* subnormal result */
    shift = 52 - mbits + 1 - e;
    if (shift > 53) return sign;
    man |= 1ull << 52;
    half = man >> shift;
  } else {
    shift = 52 - mbits;
    half = ((uint64_t)e << mbits) | (man >> shift);
  }
  rem = man & ((1ull << shift) - 1);
  mid = 1ull << (shift - 1);
  if (rem > mid || (rem == mid && (half & 1))) half++; /* may carry: ok */
  return (uint16_t)(sign | half);
}

static uint16_t cv_f64_to_f16(double v) { return cv_f64_to_half(v, 10, 15, 31); }
static uint16_t cv_f64_to_bf16(double v) {
  return cv_f64_to_half(v, 7, 127, 255);
}

/* Saturating double -> integer conversions (no undefined behaviour). */
static int64_t cv_d2i(double v) {
  if (v != v) return 0;
  if (v >= 9223372036854775807.0) return INT64_MAX;
  if (v <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)v;
}
static uint64_t cv_d2u(double v) {
  if (v != v) return 0;
  if (v >= 18446744073709551615.0) return UINT64_MAX;
  if (v >= 9223372036854775808.0) return (uint64_t)v;
  return (uint64_t)cv_d2i(v);
}

/* ----------------------------------------------------- load and store */

/* Load elements [off, off + n) of a tensor's data into the intermediate;
 * store the intermediate into elements [off, off + n) of the output. */
typedef void (*cv_load_fn)(const void *src, size_t off, size_t n,
                           cv_buf *b);
typedef void (*cv_store_fn)(const cv_buf *b, size_t n, void *dst,
                            size_t off, const cv_opt *opt);

#define CV_LOAD(sfx, T, field, EXPR)                                       \
  static void cv_ld_##sfx(const void *src, size_t off, size_t n,           \
                          cv_buf *b) {                                     \
    const T *s = (const T *)src + off;                                     \
    for (size_t i = 0; i < n; i++) {                                       \
      T v = s[i];                                                          \
      b->field[i] = EXPR;                                                  \
    }                                                                      \
  }
CV_LOAD(f32, float, d, v)
CV_LOAD(f64, double, d, v)
CV_LOAD(f16, uint16_t, d, emb_f16_to_f32(v))
CV_LOAD(bf16, uint16_t, d, emb_bf16_to_f32(v))
CV_LOAD(i8, int8_t, i, v)
CV_LOAD(i16, int16_t, i, v)
CV_LOAD(i32, int32_t, i, v)
CV_LOAD(i64, int64_t, i, v)
CV_LOAD(b, uint8_t, i, v != 0)
CV_LOAD(u8, uint8_t, u, v)
CV_LOAD(u16, uint16_t, u, v)
CV_LOAD(u32, uint32_t, u, v)
CV_LOAD(u64, uint64_t, u, v)

/* Packed and minifloat sources, by element index. */
#define CV_LOAD_NARROW(sfx, DT, BITS, field, EXPR)                         \
  static void cv_ld_##sfx(const void *src, size_t off, size_t n,           \
                          cv_buf *b) {                                     \
    for (size_t i = 0; i < n; i++) {                                       \
      unsigned v = emb_packed_get(src, BITS, off + i);                     \
      b->field[i] = EXPR;                                                  \
    }                                                                      \
  }
#define CV_MF(DT) emb_minifloat_decode(DT, v)
CV_LOAD_NARROW(e4m3fn, EMBER_FLOAT8E4M3FN, 8, d, CV_MF(EMBER_FLOAT8E4M3FN))
CV_LOAD_NARROW(e4m3fnuz, EMBER_FLOAT8E4M3FNUZ, 8, d,
               CV_MF(EMBER_FLOAT8E4M3FNUZ))
CV_LOAD_NARROW(e5m2, EMBER_FLOAT8E5M2, 8, d, CV_MF(EMBER_FLOAT8E5M2))
CV_LOAD_NARROW(e5m2fnuz, EMBER_FLOAT8E5M2FNUZ, 8, d,
               CV_MF(EMBER_FLOAT8E5M2FNUZ))
CV_LOAD_NARROW(e8m0, EMBER_FLOAT8E8M0, 8, d, CV_MF(EMBER_FLOAT8E8M0))
CV_LOAD_NARROW(e2m1, EMBER_FLOAT4E2M1, 4, d, CV_MF(EMBER_FLOAT4E2M1))
CV_LOAD_NARROW(i4, EMBER_INT4, 4, i, emb_subint_value(EMBER_INT4, v))
CV_LOAD_NARROW(u4, EMBER_UINT4, 4, u, v)
CV_LOAD_NARROW(i2, EMBER_INT2, 2, i, emb_subint_value(EMBER_INT2, v))
CV_LOAD_NARROW(u2, EMBER_UINT2, 2, u, v)

/* One store per destination type and intermediate kind. */
#define CV_STORE(sfx, field, T, EXPR)                                      \
  static void cv_st_##field##_##sfx(const cv_buf *b, size_t n, void *dst, \
                                    size_t off, const cv_opt *opt) {       \
    T *o = (T *)dst + off;                                                 \
    (void)opt;                                                             \
    for (size_t i = 0; i < n; i++) {                                       \
      __typeof__(b->field[0]) v = b->field[i];                             \
      o[i] = EXPR;                                                         \
    }                                                                      \
  }

/* Packed destinations: EXPR gives the code (masked to BITS here). */
#define CV_STORE_NARROW(sfx, field, BITS, EXPR)                            \
  static void cv_st_##field##_##sfx(const cv_buf *b, size_t n, void *dst, \
                                    size_t off, const cv_opt *opt) {       \
    (void)opt;                                                             \
    for (size_t i = 0; i < n; i++) {                                       \
      __typeof__(b->field[0]) v = b->field[i];                             \
      emb_packed_set(dst, BITS, off + i,                                   \
                     (unsigned)(EXPR) & ((1u << BITS) - 1));               \
    }                                                                      \
  }
#define CV_ENC(DT) emb_minifloat_encode(DT, (double)v, opt->flags)
/* Floats round to nearest even before the low bits are kept. */
#define CV_SUBINT(FLT) (uint64_t)FLT(v)
#define CV_RNE_D2I(v) cv_d2i(emb_round_even(v))
#define CV_NARROW_STORES(field, FLT)                                       \
  CV_STORE_NARROW(e4m3fn, field, 8, CV_ENC(EMBER_FLOAT8E4M3FN))           \
  CV_STORE_NARROW(e4m3fnuz, field, 8, CV_ENC(EMBER_FLOAT8E4M3FNUZ))       \
  CV_STORE_NARROW(e5m2, field, 8, CV_ENC(EMBER_FLOAT8E5M2))               \
  CV_STORE_NARROW(e5m2fnuz, field, 8, CV_ENC(EMBER_FLOAT8E5M2FNUZ))       \
  CV_STORE_NARROW(e8m0, field, 8, CV_ENC(EMBER_FLOAT8E8M0))               \
  CV_STORE_NARROW(e2m1, field, 4, CV_ENC(EMBER_FLOAT4E2M1))               \
  CV_STORE_NARROW(i4, field, 4, CV_SUBINT(FLT))                           \
  CV_STORE_NARROW(u4, field, 4, CV_SUBINT(FLT))                           \
  CV_STORE_NARROW(i2, field, 2, CV_SUBINT(FLT))                           \
  CV_STORE_NARROW(u2, field, 2, CV_SUBINT(FLT))
#define CV_STORES(field, FLT)                                              \
  CV_STORE(f32, field, float, (float)v)                                    \
  CV_STORE(f64, field, double, (double)v)                                  \
  CV_STORE(f16, field, uint16_t, cv_f64_to_f16((double)v))                 \
  CV_STORE(bf16, field, uint16_t, cv_f64_to_bf16((double)v))               \
  CV_STORE(i8, field, int8_t, (int8_t)FLT(v))                              \
  CV_STORE(i16, field, int16_t, (int16_t)FLT(v))                           \
  CV_STORE(i32, field, int32_t, (int32_t)FLT(v))                           \
  CV_STORE(i64, field, int64_t, (int64_t)FLT(v))                           \
  CV_STORE(u8, field, uint8_t, (uint8_t)FLT(v))                            \
  CV_STORE(u16, field, uint16_t, (uint16_t)FLT(v))                         \
  CV_STORE(u32, field, uint32_t, (uint32_t)FLT(v))                         \
  CV_STORE(b, field, uint8_t, (uint8_t)(v != 0))
#define CV_ID(v) (v)
CV_STORES(d, cv_d2i)
CV_STORE(u64, d, uint64_t, cv_d2u(v))
CV_NARROW_STORES(d, CV_RNE_D2I)
CV_STORES(i, CV_ID)
CV_STORE(u64, i, uint64_t, (uint64_t)v)
CV_NARROW_STORES(i, CV_ID)
CV_STORES(u, CV_ID)
CV_STORE(u64, u, uint64_t, v)
CV_NARROW_STORES(u, CV_ID)

static cv_load_fn cv_loader(int32_t dt) {
  switch (dt) {
    case EMBER_FLOAT: return cv_ld_f32;
    case EMBER_DOUBLE: return cv_ld_f64;
    case EMBER_FLOAT16: return cv_ld_f16;
    case EMBER_BFLOAT16: return cv_ld_bf16;
    case EMBER_INT8: return cv_ld_i8;
    case EMBER_INT16: return cv_ld_i16;
    case EMBER_INT32: return cv_ld_i32;
    case EMBER_INT64: return cv_ld_i64;
    case EMBER_BOOL: return cv_ld_b;
    case EMBER_UINT8: return cv_ld_u8;
    case EMBER_UINT16: return cv_ld_u16;
    case EMBER_UINT32: return cv_ld_u32;
    case EMBER_UINT64: return cv_ld_u64;
    case EMBER_FLOAT8E4M3FN: return cv_ld_e4m3fn;
    case EMBER_FLOAT8E4M3FNUZ: return cv_ld_e4m3fnuz;
    case EMBER_FLOAT8E5M2: return cv_ld_e5m2;
    case EMBER_FLOAT8E5M2FNUZ: return cv_ld_e5m2fnuz;
    case EMBER_FLOAT8E8M0: return cv_ld_e8m0;
    case EMBER_FLOAT4E2M1: return cv_ld_e2m1;
    case EMBER_INT4: return cv_ld_i4;
    case EMBER_UINT4: return cv_ld_u4;
    case EMBER_INT2: return cv_ld_i2;
    case EMBER_UINT2: return cv_ld_u2;
    default: return NULL;
  }
}

#define CV_STORER(field)                                                   \
  switch (dt) {                                                            \
    case EMBER_FLOAT: return cv_st_##field##_f32;                          \
    case EMBER_DOUBLE: return cv_st_##field##_f64;                         \
    case EMBER_FLOAT16: return cv_st_##field##_f16;                        \
    case EMBER_BFLOAT16: return cv_st_##field##_bf16;                      \
    case EMBER_INT8: return cv_st_##field##_i8;                            \
    case EMBER_INT16: return cv_st_##field##_i16;                          \
    case EMBER_INT32: return cv_st_##field##_i32;                          \
    case EMBER_INT64: return cv_st_##field##_i64;                          \
    case EMBER_BOOL: return cv_st_##field##_b;                             \
    case EMBER_UINT8: return cv_st_##field##_u8;                           \
    case EMBER_UINT16: return cv_st_##field##_u16;                         \
    case EMBER_UINT32: return cv_st_##field##_u32;                         \
    case EMBER_UINT64: return cv_st_##field##_u64;                         \
    case EMBER_FLOAT8E4M3FN: return cv_st_##field##_e4m3fn;                \
    case EMBER_FLOAT8E4M3FNUZ: return cv_st_##field##_e4m3fnuz;            \
    case EMBER_FLOAT8E5M2: return cv_st_##field##_e5m2;                    \
    case EMBER_FLOAT8E5M2FNUZ: return cv_st_##field##_e5m2fnuz;            \
    case EMBER_FLOAT8E8M0: return cv_st_##field##_e8m0;                    \
    case EMBER_FLOAT4E2M1: return cv_st_##field##_e2m1;                    \
    case EMBER_INT4: return cv_st_##field##_i4;                            \
    case EMBER_UINT4: return cv_st_##field##_u4;                           \
    case EMBER_INT2: return cv_st_##field##_i2;                            \
    case EMBER_UINT2: return cv_st_##field##_u2;                           \
    default: return NULL;                                                  \
  }

static cv_store_fn cv_storer(int kind, int32_t dt) {
  if (kind == CV_F64) CV_STORER(d)
  if (kind == CV_I64) CV_STORER(i)
  CV_STORER(u)
}

/* ------------------------------------------------------------ strings */

/* Parse one string as the intermediate of `kind`.  The spec allows plain
 * and scientific notation and "INF", "+INF", "-INF", "NaN" in any case
 * (strtod accepts all of them). */
static bool cv_parse(const char *s, int kind, cv_buf *b, size_t i) {
  char *end;
  const char *p = s;
  while (isspace((unsigned char)*p)) p++;
  if (!*p) return false;
  errno = 0;
  if (kind == CV_I64) {
    long long v = strtoll(p, &end, 10);
    if (end != p && !*end && !errno) {
      b->i[i] = v;
      return true;
    }
  } else if (kind == CV_U64 && *p != '-') {
    unsigned long long v = strtoull(p, &end, 10);
    if (end != p && !*end && !errno) {
      b->u[i] = v;
      return true;
    }
  }
  /* Floats, and integers written as "100.5" or "1e3". */
  double d = strtod(p, &end);
  while (end != p && isspace((unsigned char)*end)) end++;
  if (end == p || *end) {
    if (strcasecmp(p, "true") == 0)
      d = 1;
    else if (strcasecmp(p, "false") == 0)
      d = 0;
    else
      return false;
  }
  if (kind == CV_F64)
    b->d[i] = d;
  else if (kind == CV_I64)
    b->i[i] = cv_d2i(d);
  else
    b->u[i] = cv_d2u(d);
  return true;
}

/* Shortest "%.Ng" that reads back as the same value (float32 when the
 * source was no wider, else double). */
static void cv_format_float(double v, bool single, char *buf, size_t n) {
  if (v != v) {
    snprintf(buf, n, "NaN");
    return;
  }
  if (isinf(v)) {
    snprintf(buf, n, v > 0 ? "INF" : "-INF");
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, n, "%.*g", prec, v);
    if (single ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v)
      return;
  }
}

static ember_status cv_set_string(emb_run_ctx *c, char **slot,
                                  const char *s) {
  char *d = strdup(s);
  if (!d)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  free(*slot);
  *slot = d;
  return EMBER_OK;
}

static ember_status cv_from_string(emb_run_ctx *c, const emb_tensor *x,
                                   emb_tensor *y, size_t n,
                                   const cv_opt *opt) {
  char *const *src = x->data;
  int kind = cv_kind(y->dtype);
  cv_store_fn st = cv_storer(kind, y->dtype);
  cv_buf b;
  for (size_t off = 0; off < n; off += CV_BLOCK) {
    size_t m = n - off < CV_BLOCK ? n - off : CV_BLOCK;
    for (size_t i = 0; i < m; i++) {
      const char *s = src[off + i] ? src[off + i] : "";
      if (!cv_parse(s, kind, &b, i))
        return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                           "element %zu (\"%.40s\") is not a number",
                           off + i, s);
    }
    st(&b, m, y->data, off, opt);
  }
  return EMBER_OK;
}

static ember_status cv_to_string(emb_run_ctx *c, const emb_tensor *x,
                                 emb_tensor *y, size_t n) {
  char **dst = y->data;
  int kind = cv_kind(x->dtype);
  bool single = x->dtype != EMBER_DOUBLE;
  cv_load_fn ld = cv_loader(x->dtype);
  cv_buf b;
  char text[64];
  for (size_t off = 0; off < n; off += CV_BLOCK) {
    size_t m = n - off < CV_BLOCK ? n - off : CV_BLOCK;
    ld(x->data, off, m, &b);
    for (size_t i = 0; i < m; i++) {
      if (kind == CV_F64)
        cv_format_float(b.d[i], single, text, sizeof text);
      else if (kind == CV_I64)
        snprintf(text, sizeof text, "%lld", (long long)b.i[i]);
      else
        snprintf(text, sizeof text, "%llu", (unsigned long long)b.u[i]);
      ember_status st = cv_set_string(c, &dst[off + i], text);
      if (st) return st;
    }
  }
  return EMBER_OK;
}

/* --------------------------------------------------------- conversion */

static ember_status cv_convert(emb_run_ctx *c, const emb_tensor *x,
                               emb_tensor *y, const cv_opt *opt) {
  size_t n = emb_tensor_numel(x);
  if (!n) return EMBER_OK;
  if (x->dtype == y->dtype) {
    if (x->dtype != EMBER_STRING) {
      if (y->data != x->data) memmove(y->data, x->data, x->nbytes);
      return EMBER_OK;
    }
    char *const *s = x->data;
    for (size_t i = 0; i < n; i++) {
      ember_status st = cv_set_string(c, &((char **)y->data)[i],
                                      s[i] ? s[i] : "");
      if (st) return st;
    }
    return EMBER_OK;
  }
  /* Packed stores rewrite their own bits only: clear the padding. */
  if (emb_dtype_bits(y->dtype) < 8) memset(y->data, 0, y->nbytes);
  if (x->dtype == EMBER_STRING) return cv_from_string(c, x, y, n, opt);
  if (y->dtype == EMBER_STRING) return cv_to_string(c, x, y, n);
  cv_load_fn ld = cv_loader(x->dtype);
  cv_store_fn st = cv_storer(cv_kind(x->dtype), y->dtype);
  if (!ld || !st)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "cast from %s to %s is not supported",
                       ember_dtype_name(x->dtype), ember_dtype_name(y->dtype));
  /* The common float32 <-> float16 pair needs no intermediate. */
  if (x->dtype == EMBER_FLOAT && y->dtype == EMBER_FLOAT16) {
    const float *s = x->data;
    uint16_t *o = y->data;
    for (size_t i = 0; i < n; i++) o[i] = emb_f32_to_f16(s[i]);
    return EMBER_OK;
  }
  if (x->dtype == EMBER_FLOAT16 && y->dtype == EMBER_FLOAT) {
    const uint16_t *s = x->data;
    float *o = y->data;
    for (size_t i = 0; i < n; i++) o[i] = emb_f16_to_f32(s[i]);
    return EMBER_OK;
  }
  cv_buf b;
  for (size_t off = 0; off < n; off += CV_BLOCK) {
    size_t m = n - off < CV_BLOCK ? n - off : CV_BLOCK;
    ld(x->data, off, m, &b);
    st(&b, m, y->data, off, opt);
  }
  return EMBER_OK;
}

/* ------------------------------------------------------------ operators */

typedef struct cv_state {
  int32_t to;    /* Cast; 0 for CastLike (input 1's type)              */
  cv_opt opt;
} cv_state;

/* Cast-1 named the type as a string ("FLOAT"); TensorProto's names. */
static int32_t cv_type_by_name(const char *s) {
  static const char *const names[] = {
      "", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
      "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64",
      "COMPLEX64", "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN",
      "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4",
      "FLOAT4E2M1", "FLOAT8E8M0", "UINT2", "INT2"};
  for (int32_t i = 1; i < (int32_t)EMB_ARRAY_LEN(names); i++)
    if (strcasecmp(s, names[i]) == 0) return i;
  return 0;
}

static ember_status cv_check_to(emb_init_ctx *c, int64_t to) {
  if (to <= 0 || to > INT32_MAX || !emb_dtype_valid((int32_t)to))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'to' (%lld) is not an element type",
                       (long long)to);
  if (!cv_supported((int32_t)to))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "cast to %s is not supported",
                       ember_dtype_name((int32_t)to));
  return EMBER_OK;
}

/* saturate (Cast-19+) and round_mode (Cast-24+); absent attributes give
 * the defaults, which are also the older versions' behaviour. */
static ember_status cv_parse_opts(emb_init_ctx *c, cv_opt *opt) {
  int64_t sat;
  const char *rm;
  ember_status st = emb_attr_int(c->node, "saturate", 1, &sat, c->diag);
  if (st) return st;
  if ((st = emb_attr_string(c->node, "round_mode", "up", &rm, c->diag)))
    return st;
  opt->flags = sat ? EMB_NARROW_SATURATE : 0;
  /* Until Cast-24 the saturating table sent +-Inf to NaN for the FNUZ
   * types; Cast-24 made it +-FLT_MAX like the others. */
  if (c->node->opset < 24) opt->flags |= EMB_NARROW_FNUZ_INF_NAN;
  if (strcmp(rm, "down") == 0)
    opt->flags |= EMB_NARROW_E8M0_DOWN;
  else if (strcmp(rm, "nearest") == 0)
    opt->flags |= EMB_NARROW_E8M0_NEAREST;
  else if (strcmp(rm, "up") != 0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'round_mode' is \"%s\", not \"up\", "
                       "\"down\" or \"nearest\"", rm);
  return EMBER_OK;
}

static ember_status cv_cast_init(emb_init_ctx *c) {
  const emb_attr *a = emb_node_attr(c->node, "to");
  int64_t to = 0;
  if (!a)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "required attribute 'to' is missing");
  if (a->type == EMB_ATTR_STRING) {
    to = cv_type_by_name(a->s);
    if (!to)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "attribute 'to' (\"%s\") is not an element type",
                         a->s);
  } else {
    ember_status st = emb_attr_int(c->node, "to", 0, &to, c->diag);
    if (st) return st;
  }
  ember_status st = cv_check_to(c, to);
  if (st) return st;
  cv_state *s = emb_op_state(c, sizeof *s);
  if (!s) return c->diag->status;
  s->to = (int32_t)to;
  if ((st = cv_parse_opts(c, &s->opt))) return st;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status cv_castlike_init(emb_init_ctx *c) {
  cv_state *s = emb_op_state(c, sizeof *s);
  if (!s) return c->diag->status;
  ember_status st = cv_parse_opts(c, &s->opt);
  if (st) return st;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status cv_infer_to(emb_infer_ctx *c, int32_t to) {
  const emb_type *t = c->in[0];
  if (!t)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "required input 0 is missing");
  if (t->kind && t->kind != EMBER_KIND_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input 0 must be a tensor");
  if (t->kind && !cv_supported(t->dtype))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "cast from %s is not supported",
                       ember_dtype_name(t->dtype));
  if (to && !cv_supported(to))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "cast to %s is not supported", ember_dtype_name(to));
  c->out[0] = *t;
  c->out[0].kind = EMBER_KIND_TENSOR;
  c->out[0].dtype = to;
  return EMBER_OK;
}

static ember_status cv_cast_infer(emb_infer_ctx *c) {
  const cv_state *s = c->node->state;
  return cv_infer_to(c, s->to);
}

static ember_status cv_run(emb_run_ctx *c) {
  const cv_state *s = c->node->state;
  return cv_convert(c, emb_in_t(c, 0), emb_out_t(c, 0), &s->opt);
}

const emb_opdef emb_op_cast = {1, 1, 1, 1, 0, cv_cast_init, cv_cast_infer,
                               cv_run};

/* CastLike: the target type is input 1's element type. */
static ember_status cv_castlike_infer(emb_infer_ctx *c) {
  const emb_type *like = c->n_in > 1 ? c->in[1] : NULL;
  if (!like)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "required input 1 is missing");
  if (like->kind && like->kind != EMBER_KIND_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input 1 must be a tensor");
  return cv_infer_to(c, like->kind ? like->dtype : 0);
}

const emb_opdef emb_op_castlike = {2, 2, 1, 1, 0, cv_castlike_init,
                                   cv_castlike_infer, cv_run};
