/*
 * Element types, tensors and run-time values: sizes, allocation, copies,
 * element access for shape arithmetic, and half-precision conversions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/narrow.h"

int emb_dtype_bits(int32_t dt) {
  switch (dt) {
    case EMBER_FLOAT: case EMBER_INT32: case EMBER_UINT32: return 32;
    case EMBER_UINT8: case EMBER_INT8: case EMBER_BOOL:
    case EMBER_FLOAT8E4M3FN: case EMBER_FLOAT8E4M3FNUZ:
    case EMBER_FLOAT8E5M2: case EMBER_FLOAT8E5M2FNUZ:
    case EMBER_FLOAT8E8M0: return 8;
    case EMBER_UINT16: case EMBER_INT16: case EMBER_FLOAT16:
    case EMBER_BFLOAT16: return 16;
    case EMBER_INT64: case EMBER_DOUBLE: case EMBER_UINT64:
    case EMBER_COMPLEX64: return 64;
    case EMBER_COMPLEX128: return 128;
    case EMBER_STRING: return (int)(sizeof(char *) * 8);
    case EMBER_UINT4: case EMBER_INT4: case EMBER_FLOAT4E2M1: return 4;
    case EMBER_UINT2: case EMBER_INT2: return 2;
    default: return 0;
  }
}

bool emb_dtype_valid(int32_t dt) { return emb_dtype_bits(dt) != 0; }

bool emb_dtype_is_float(int32_t dt) {
  return dt == EMBER_FLOAT || dt == EMBER_DOUBLE || dt == EMBER_FLOAT16 ||
         dt == EMBER_BFLOAT16;
}

bool emb_dtype_is_int(int32_t dt) {
  switch (dt) {
    case EMBER_UINT8: case EMBER_INT8: case EMBER_UINT16: case EMBER_INT16:
    case EMBER_INT32: case EMBER_INT64: case EMBER_UINT32: case EMBER_UINT64:
      return true;
    default: return false;
  }
}

bool emb_dtype_is_signed(int32_t dt) {
  return dt == EMBER_INT8 || dt == EMBER_INT16 || dt == EMBER_INT32 ||
         dt == EMBER_INT64 || emb_dtype_is_float(dt);
}

const char *ember_dtype_name(int32_t dt) {
  static const char *const names[] = {
      "undefined", "float32", "uint8", "int8", "uint16", "int16", "int32",
      "int64", "string", "bool", "float16", "float64", "uint32", "uint64",
      "complex64", "complex128", "bfloat16", "float8e4m3fn",
      "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4", "int4",
      "float4e2m1", "float8e8m0", "uint2", "int2"};
  if (dt < 0 || (size_t)dt >= EMB_ARRAY_LEN(names)) return "unknown";
  return names[dt];
}

size_t ember_dtype_bytes(int32_t dt, size_t count) {
  int bits = emb_dtype_bits(dt);
  if (!bits) return 0;
  if (bits >= 8) {
    size_t n;
    return emb_mul_size(count, (size_t)bits / 8, &n) ? n : 0;
  }
  return (count / 8) * (size_t)bits + ((count % 8) * (size_t)bits + 7) / 8;
}

bool emb_shape_numel(int rank, const int64_t *dims, size_t *out) {
  size_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0) return false;
    if ((uint64_t)dims[i] > SIZE_MAX) return false;
    if (!emb_mul_size(n, (size_t)dims[i], &n)) return false;
  }
  *out = n;
  return true;
}

size_t emb_tensor_numel(const emb_tensor *t) {
  size_t n = 1;
  for (int i = 0; i < t->rank; i++) n *= (size_t)t->dims[i];
  return n;
}

ember_status emb_tensor_alloc(emb_tensor *t, int32_t dtype, int rank,
                              const int64_t *dims, emb_diag *d) {
  size_t n, bytes;
  memset(t, 0, sizeof *t);
  if (rank < 0 || rank > EMB_MAX_RANK)
    return emb_fail(d, EMBER_ERR_LIMIT, "tensor rank %d exceeds the limit %d",
                    rank, EMB_MAX_RANK);
  if (!emb_dtype_valid(dtype))
    return emb_fail(d, EMBER_ERR_UNSUPPORTED, "unsupported element type %d",
                    (int)dtype);
  if (!emb_shape_numel(rank, dims, &n))
    return emb_fail(d, EMBER_ERR_LIMIT, "tensor shape too large or negative");
  bytes = ember_dtype_bytes(dtype, n);
  if (n && !bytes)
    return emb_fail(d, EMBER_ERR_LIMIT, "tensor of %zu elements too large", n);
  void *p = calloc(1, bytes ? bytes : 1);
  if (!p)
    return emb_fail(d, EMBER_ERR_OUT_OF_MEMORY,
                    "out of memory allocating %zu bytes", bytes);
  if (dtype == EMBER_STRING) {
    char **s = p;
    for (size_t i = 0; i < n; i++) {
      s[i] = calloc(1, 1);
      if (!s[i]) {
        for (size_t j = 0; j < i; j++) free(s[j]);
        free(p);
        return emb_fail(d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
      }
    }
  }
  t->dtype = dtype;
  t->rank = rank;
  if (rank) memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
  t->data = p;
  t->nbytes = bytes;
  t->owned = true;
  return EMBER_OK;
}

void emb_tensor_clear(emb_tensor *t) {
  if (t->owned && t->data) {
    if (t->dtype == EMBER_STRING) {
      char **s = t->data;
      size_t n = t->nbytes / sizeof(char *);
      for (size_t i = 0; i < n; i++) free(s[i]);
    }
    free(t->data);
  }
  memset(t, 0, sizeof *t);
}

ember_status emb_tensor_copy(emb_tensor *dst, const emb_tensor *src,
                             emb_diag *d) {
  emb_tensor tmp;
  ember_status st = emb_tensor_alloc(&tmp, src->dtype, src->rank, src->dims, d);
  if (st) return st;
  if (src->dtype == EMBER_STRING) {
    char **to = tmp.data;
    char *const *from = src->data;
    size_t n = tmp.nbytes / sizeof(char *);
    for (size_t i = 0; i < n; i++) {
      const char *s = from[i] ? from[i] : "";
      char *c = strdup(s);
      if (!c) {
        emb_tensor_clear(&tmp);
        return emb_fail(d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
      }
      free(to[i]);
      to[i] = c;
    }
  } else if (tmp.nbytes) {
    memcpy(tmp.data, src->data, tmp.nbytes);
  }
  *dst = tmp;
  return EMBER_OK;
}

void emb_tensor_view(emb_tensor *dst, const emb_tensor *src) {
  *dst = *src;
  dst->owned = false;
}

/* ------------------------------------------------ half-precision floats */

float emb_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: normalise */
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) {
        man <<= 1;
        exp--;
      }
      man &= 0x3ff;
      bits = sign | (exp << 23) | (man << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t emb_f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t exp = (x >> 23) & 0xff, man = x & 0x7fffff;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
  int e = (int)exp - 127 + 15;
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    man |= 0x800000;
    int shift = 14 - e;
    uint32_t half = man >> shift;
    uint32_t rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t half = sign | ((uint32_t)e << 10) | (man >> 13);
  uint32_t rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
  return (uint16_t)half;
}

float emb_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t emb_f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
  uint32_t lsb = (x >> 16) & 1;
  x += 0x7fff + lsb;
  return (uint16_t)(x >> 16);
}

/* ------------------------------------------------------ element access */

double emb_tensor_get_f64(const emb_tensor *t, size_t i) {
  const void *p = t->data;
  switch (t->dtype) {
    case EMBER_FLOAT: return ((const float *)p)[i];
    case EMBER_DOUBLE: return ((const double *)p)[i];
    case EMBER_FLOAT16: return emb_f16_to_f32(((const uint16_t *)p)[i]);
    case EMBER_BFLOAT16: return emb_bf16_to_f32(((const uint16_t *)p)[i]);
    case EMBER_INT8: return ((const int8_t *)p)[i];
    case EMBER_UINT8: return ((const uint8_t *)p)[i];
    case EMBER_BOOL: return ((const uint8_t *)p)[i] != 0;
    case EMBER_INT16: return ((const int16_t *)p)[i];
    case EMBER_UINT16: return ((const uint16_t *)p)[i];
    case EMBER_INT32: return ((const int32_t *)p)[i];
    case EMBER_UINT32: return ((const uint32_t *)p)[i];
    case EMBER_INT64: return (double)((const int64_t *)p)[i];
    case EMBER_UINT64: return (double)((const uint64_t *)p)[i];
    default: return emb_elem_f64(t->dtype, p, i); /* narrow types */
  }
}

int64_t emb_tensor_get_i64(const emb_tensor *t, size_t i) {
  const void *p = t->data;
  switch (t->dtype) {
    case EMBER_INT64: return ((const int64_t *)p)[i];
    case EMBER_INT32: return ((const int32_t *)p)[i];
    case EMBER_UINT64: return (int64_t)((const uint64_t *)p)[i];
    case EMBER_INT8: return ((const int8_t *)p)[i];
    case EMBER_UINT8: return ((const uint8_t *)p)[i];
    case EMBER_BOOL: return ((const uint8_t *)p)[i] != 0;
    case EMBER_INT16: return ((const int16_t *)p)[i];
    case EMBER_UINT16: return ((const uint16_t *)p)[i];
    case EMBER_UINT32: return ((const uint32_t *)p)[i];
    default: {
      double v = emb_tensor_get_f64(t, i);
      if (isnan(v)) return 0;
      if (v >= 9.2e18) return INT64_MAX;
      if (v <= -9.2e18) return INT64_MIN;
      return (int64_t)v;
    }
  }
}

void emb_tensor_set_f64(emb_tensor *t, size_t i, double v) {
  void *p = t->data;
  switch (t->dtype) {
    case EMBER_FLOAT: ((float *)p)[i] = (float)v; break;
    case EMBER_DOUBLE: ((double *)p)[i] = v; break;
    case EMBER_FLOAT16: ((uint16_t *)p)[i] = emb_f32_to_f16((float)v); break;
    case EMBER_BFLOAT16: ((uint16_t *)p)[i] = emb_f32_to_bf16((float)v); break;
    case EMBER_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    default: emb_tensor_set_i64(t, i, (int64_t)v); break;
  }
}

void emb_tensor_set_i64(emb_tensor *t, size_t i, int64_t v) {
  void *p = t->data;
  switch (t->dtype) {
    case EMBER_INT64: ((int64_t *)p)[i] = v; break;
    case EMBER_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
    case EMBER_UINT64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    case EMBER_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case EMBER_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case EMBER_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case EMBER_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    case EMBER_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case EMBER_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    default: emb_tensor_set_f64(t, i, (double)v); break;
  }
}

/* --------------------------------------------------------------- values */

void emb_value_clear(emb_value *v) {
  if (!v) return;
  emb_tensor_clear(&v->t);
  for (size_t i = 0; i < v->seq.count; i++) emb_tensor_clear(&v->seq.items[i]);
  free(v->seq.items);
  memset(v, 0, sizeof *v);
}

ember_status emb_value_copy(emb_value *dst, const emb_value *src,
                            emb_diag *d) {
  emb_value tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.kind = src->kind;
  if (src->kind == EMB_VK_TENSOR) {
    ember_status st = emb_tensor_copy(&tmp.t, &src->t, d);
    if (st) return st;
  } else if (src->kind == EMB_VK_SEQUENCE) {
    tmp.seq.elem_dtype = src->seq.elem_dtype;
    for (size_t i = 0; i < src->seq.count; i++) {
      ember_status st = emb_seq_push(&tmp, &src->seq.items[i], d);
      if (st) {
        emb_value_clear(&tmp);
        return st;
      }
    }
  }
  *dst = tmp;
  return EMBER_OK;
}

ember_status emb_seq_insert(emb_value *v, size_t pos, const emb_tensor *t,
                            emb_diag *d) {
  emb_seq *s = &v->seq;
  v->kind = EMB_VK_SEQUENCE;
  if (pos > s->count) pos = s->count;
  if (s->count == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 4;
    emb_tensor *items = realloc(s->items, cap * sizeof *items);
    if (!items) return emb_fail(d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
    s->items = items;
    s->cap = cap;
  }
  emb_tensor c;
  ember_status st = emb_tensor_copy(&c, t, d);
  if (st) return st;
  memmove(&s->items[pos + 1], &s->items[pos],
          (s->count - pos) * sizeof *s->items);
  s->items[pos] = c;
  s->count++;
  if (!s->elem_dtype) s->elem_dtype = t->dtype;
  return EMBER_OK;
}

ember_status emb_seq_push(emb_value *v, const emb_tensor *t, emb_diag *d) {
  return emb_seq_insert(v, v->seq.count, t, d);
}
