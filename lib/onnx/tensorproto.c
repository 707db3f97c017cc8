/*
 * Decoding of ONNX TensorProto (typed fields, raw_data, external data),
 * SparseTensorProto (densified), and the test-data containers
 * SequenceProto / OptionalProto into Ember tensors and values.  Model
 * constants are decoded into the model arena; test data (the public
 * ember_value_parse) into malloc'ed, owned tensors.  Every malformed field
 * is an error naming the tensor and the field; nothing is trusted: element
 * counts, byte sizes and offsets are all checked before use.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/loader.h"
#include "onnx-schema.pb-c.h"

/* raw_data is little-endian by the ONNX specification and is used as is. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "Ember reads ONNX raw_data in place and needs a little-endian target"
#endif

static void *emb_talloc(emb_arena *a, size_t n) {
  return a ? emb_arena_alloc(a, n ? n : 1) : calloc(1, n ? n : 1);
}

static char *emb_tstrndup(emb_arena *a, const char *s, size_t n) {
  if (a) return emb_arena_strndup(a, s, n);
  char *p = malloc(n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

static const char *emb_tname(const Emberpb__Tensor *tp) {
  return tp->name && tp->name[0] ? tp->name : "(unnamed)";
}

/* Read `len` bytes at `offset` of an external data file into dst.  The
 * location must stay inside base_dir (no absolute paths, no "..", no
 * symbolic link leading out). */
static ember_status emb_read_external(const Emberpb__Tensor *tp,
                                      const char *base_dir, void *dst,
                                      size_t need, emb_diag *d) {
  const char *location = NULL;
  int64_t offset = 0, length = -1;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const Emberpb__StringPair *kv = tp->external_data[i];
    const char *k = kv->key ? kv->key : "", *v = kv->value ? kv->value : "";
    char *end;
    if (strcmp(k, "location") == 0) {
      location = v;
    } else if (strcmp(k, "offset") == 0 || strcmp(k, "length") == 0) {
      errno = 0;
      long long x = strtoll(v, &end, 10);
      if (errno || *end || x < 0)
        return emb_fail(d, EMBER_ERR_INVALID_MODEL,
                        "tensor '%s': external data %s '%s' is not a "
                        "non-negative integer",
                        emb_tname(tp), k, v);
      if (k[0] == 'o') offset = x; else length = x;
    }
  }
  if (!location || !location[0])
    return emb_fail(d, EMBER_ERR_INVALID_MODEL,
                    "tensor '%s': external data without a location",
                    emb_tname(tp));
  if (!base_dir)
    return emb_fail(d, EMBER_ERR_INVALID_MODEL,
                    "tensor '%s': external data '%s' but the model was "
                    "loaded from memory without a base folder",
                    emb_tname(tp), location);
  if (location[0] == '/' || strstr(location, "..") || strchr(location, '\\'))
    return emb_fail(d, EMBER_ERR_INVALID_MODEL,
                    "tensor '%s': external data location '%s' leaves the "
                    "model's folder",
                    emb_tname(tp), location);
  if (length >= 0 && (uint64_t)length != need)
    return emb_fail(d, EMBER_ERR_INVALID_MODEL,
                    "tensor '%s': external data length %lld but the shape "
                    "needs %zu bytes",
                    emb_tname(tp), (long long)length, need);
  char path[4096], real_base[PATH_MAX], real_file[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s", base_dir, location) >=
      (int)sizeof path)
    return emb_fail(d, EMBER_ERR_INVALID_MODEL,
                    "tensor '%s': external data path too long", emb_tname(tp));
  if (!realpath(base_dir, real_base) || !realpath(path, real_file))
    return emb_fail(d, EMBER_ERR_IO,
                    "tensor '%s': cannot open external data '%s': %s",
                    emb_tname(tp), path, strerror(errno));
  size_t bl = strlen(real_base);
  if (strncmp(real_file, real_base, bl) != 0 || real_file[bl] != '/')
    return emb_fail(d, EMBER_ERR_INVALID_MODEL,
                    "tensor '%s': external data '%s' resolves outside the "
                    "model's folder",
                    emb_tname(tp), location);
  FILE *f = fopen(real_file, "rb");
  if (!f)
    return emb_fail(d, EMBER_ERR_IO, "tensor '%s': cannot open '%s': %s",
                    emb_tname(tp), real_file, strerror(errno));
  ember_status st = EMBER_OK;
  if (fseeko(f, (off_t)offset, SEEK_SET) != 0 ||
      fread(dst, 1, need, f) != need)
    st = emb_fail(d, EMBER_ERR_IO,
                  "tensor '%s': external data '%s' is shorter than offset "
                  "%lld + %zu bytes",
                  emb_tname(tp), location, (long long)offset, need);
  fclose(f);
  return st;
}

/* Copy `n` elements from a typed repeated field into dst of dtype. */
static ember_status emb_from_typed(const Emberpb__Tensor *tp, int32_t dt,
                                   size_t n, void *dst, emb_diag *d) {
  size_t have = 0;
  const char *field = "";
  switch (dt) {
    case EMBER_FLOAT: case EMBER_COMPLEX64:
      have = tp->n_float_data; field = "float_data"; break;
    case EMBER_DOUBLE: case EMBER_COMPLEX128:
      have = tp->n_double_data; field = "double_data"; break;
    case EMBER_INT64: have = tp->n_int64_data; field = "int64_data"; break;
    case EMBER_UINT32: case EMBER_UINT64:
      have = tp->n_uint64_data; field = "uint64_data"; break;
    default: have = tp->n_int32_data; field = "int32_data"; break;
  }
  size_t want = n;
  if (dt == EMBER_COMPLEX64 || dt == EMBER_COMPLEX128) want = n * 2;
  int bits = emb_dtype_bits(dt);
  if (bits < 8) want = (n * (size_t)bits + 7) / 8 * 8 / (size_t)bits;
  if (bits < 8) { /* packed: each int32 holds one byte of packed data */
    size_t bytes = ember_dtype_bytes(dt, n);
    if (have != bytes)
      return emb_fail(d, EMBER_ERR_INVALID_MODEL,
                      "tensor '%s': %s has %zu values, shape needs %zu",
                      emb_tname(tp), field, have, bytes);
    for (size_t i = 0; i < bytes; i++)
      ((uint8_t *)dst)[i] = (uint8_t)tp->int32_data[i];
    return EMBER_OK;
  }
  if (have != want)
    return emb_fail(d, EMBER_ERR_INVALID_MODEL,
                    "tensor '%s': %s has %zu values but the shape needs %zu",
                    emb_tname(tp), field, have, want);
  if (want == 0) return EMBER_OK; /* the arrays may be NULL */
  switch (dt) {
    case EMBER_FLOAT: case EMBER_COMPLEX64:
      memcpy(dst, tp->float_data, want * 4); break;
    case EMBER_DOUBLE: case EMBER_COMPLEX128:
      memcpy(dst, tp->double_data, want * 8); break;
    case EMBER_INT64: memcpy(dst, tp->int64_data, n * 8); break;
    case EMBER_UINT64: memcpy(dst, tp->uint64_data, n * 8); break;
    case EMBER_UINT32:
      for (size_t i = 0; i < n; i++)
        ((uint32_t *)dst)[i] = (uint32_t)tp->uint64_data[i];
      break;
    case EMBER_INT32: memcpy(dst, tp->int32_data, n * 4); break;
    case EMBER_INT16: case EMBER_UINT16: case EMBER_FLOAT16:
    case EMBER_BFLOAT16:
      for (size_t i = 0; i < n; i++)
        ((uint16_t *)dst)[i] = (uint16_t)tp->int32_data[i];
      break;
    default: /* 8-bit types */
      for (size_t i = 0; i < n; i++)
        ((uint8_t *)dst)[i] = (uint8_t)tp->int32_data[i];
      break;
  }
  return EMBER_OK;
}

ember_status emb_tensor_from_pb(const void *proto, emb_arena *arena,
                                const char *base_dir, emb_tensor *out,
                                emb_diag *d) {
  const Emberpb__Tensor *tp = proto;
  emb_tensor t;
  memset(&t, 0, sizeof t);
  memset(out, 0, sizeof *out);
  int32_t dt = tp->has_data_type ? tp->data_type : 0;
  if (!emb_dtype_valid(dt))
    return emb_fail(d, dt == 0 ? EMBER_ERR_INVALID_MODEL : EMBER_ERR_UNSUPPORTED,
                    "tensor '%s': unknown or undefined data type %d",
                    emb_tname(tp), (int)dt);
  if (tp->n_dims > EMB_MAX_RANK)
    return emb_fail(d, EMBER_ERR_LIMIT, "tensor '%s': rank %zu exceeds %d",
                    emb_tname(tp), tp->n_dims, EMB_MAX_RANK);
  t.dtype = dt;
  t.rank = (int32_t)tp->n_dims;
  for (size_t i = 0; i < tp->n_dims; i++) {
    if (tp->dims[i] < 0)
      return emb_fail(d, EMBER_ERR_INVALID_MODEL,
                      "tensor '%s': dimension %zu is negative (%lld)",
                      emb_tname(tp), i, (long long)tp->dims[i]);
    t.dims[i] = tp->dims[i];
  }
  if (tp->segment)
    return emb_fail(d, EMBER_ERR_UNSUPPORTED,
                    "tensor '%s': segmented tensors are not supported",
                    emb_tname(tp));
  size_t n, bytes;
  if (!emb_shape_numel(t.rank, t.dims, &n) ||
      (n && !(bytes = ember_dtype_bytes(dt, n))))
    return emb_fail(d, EMBER_ERR_LIMIT, "tensor '%s': shape too large",
                    emb_tname(tp));
  bytes = ember_dtype_bytes(dt, n);
  bool external = tp->has_data_location && tp->data_location == 1;
  if (dt != EMBER_STRING && !external && tp->has_raw_data &&
      tp->raw_data.len != bytes)
    return emb_fail(d, EMBER_ERR_INVALID_MODEL,
                    "tensor '%s': raw_data has %zu bytes but %s%s needs %zu",
                    emb_tname(tp), tp->raw_data.len, ember_dtype_name(dt),
                    t.rank ? " of this shape" : " scalar", bytes);
  /* Cap what a malformed file can make us allocate: data must be present
   * in the file (or external), so the declared size is bounded by it. */
  if (dt != EMBER_STRING && !external && !tp->has_raw_data) {
    size_t have = tp->n_float_data + tp->n_int32_data + tp->n_int64_data +
                  tp->n_double_data + tp->n_uint64_data;
    /* Sub-byte types hold one packed byte per value; complex two values
     * per element. */
    size_t need = emb_dtype_bits(dt) < 8 ? bytes
                  : (dt == EMBER_COMPLEX64 || dt == EMBER_COMPLEX128) ? 2 * n
                                                                     : n;
    if (have < need)
      return emb_fail(d, EMBER_ERR_INVALID_MODEL,
                      "tensor '%s': shape needs %zu values but the file "
                      "holds %zu",
                      emb_tname(tp), need, have);
  }
  /* With an arena the message was parsed into that same arena (the
   * loader's contract), so raw_data can be the tensor's data as it is. */
  bool adopt = arena && dt != EMBER_STRING && !external && tp->has_raw_data &&
               bytes && ((uintptr_t)tp->raw_data.data % 16) == 0;
  t.data = adopt ? (void *)tp->raw_data.data : emb_talloc(arena, bytes);
  if (!t.data)
    return emb_fail(d, EMBER_ERR_OUT_OF_MEMORY,
                    "tensor '%s': out of memory (%zu bytes)", emb_tname(tp),
                    bytes);
  t.nbytes = bytes;
  t.owned = arena == NULL;
  ember_status st = EMBER_OK;
  if (dt == EMBER_STRING) {
    if (tp->n_string_data != n) {
      st = emb_fail(d, EMBER_ERR_INVALID_MODEL,
                    "tensor '%s': string_data has %zu strings, shape needs %zu",
                    emb_tname(tp), tp->n_string_data, n);
    } else {
      char **s = t.data;
      for (size_t i = 0; i < n && !st; i++) {
        s[i] = emb_tstrndup(arena, (const char *)tp->string_data[i].data,
                            tp->string_data[i].len);
        if (!s[i]) st = emb_fail(d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
      }
    }
  } else if (external) {
    st = emb_read_external(tp, base_dir, t.data, bytes, d);
  } else if (tp->has_raw_data) {
    if (bytes && !adopt) memcpy(t.data, tp->raw_data.data, bytes);
  } else {
    st = emb_from_typed(tp, dt, n, t.data, d);
  }
  if (st) {
    if (!arena) emb_tensor_clear(&t);
    return st;
  }
  *out = t;
  return EMBER_OK;
}

ember_status emb_sparse_from_pb(const void *proto, emb_arena *arena,
                                const char *base_dir, emb_tensor *out,
                                emb_diag *d) {
  const Emberpb__SparseTensor *sp = proto;
  emb_tensor vals, idx, t;
  memset(out, 0, sizeof *out);
  if (!sp->values || !sp->indices)
    return emb_fail(d, EMBER_ERR_INVALID_MODEL,
                    "sparse tensor without values or indices");
  ember_status st = emb_tensor_from_pb(sp->values, NULL, base_dir, &vals, d);
  if (st) return st;
  st = emb_tensor_from_pb(sp->indices, NULL, base_dir, &idx, d);
  if (st) {
    emb_tensor_clear(&vals);
    return st;
  }
  int64_t dims[EMB_MAX_RANK];
  size_t n = 0, nnz = emb_tensor_numel(&vals);
  int rank = (int)sp->n_dims;
  if (rank > EMB_MAX_RANK || vals.dtype == EMBER_STRING ||
      emb_dtype_bits(vals.dtype) < 8) {
    st = emb_fail(d, EMBER_ERR_UNSUPPORTED, "unsupported sparse tensor");
    goto done;
  }
  for (int i = 0; i < rank; i++) dims[i] = sp->dims[i];
  if (!emb_shape_numel(rank, dims, &n)) {
    st = emb_fail(d, EMBER_ERR_INVALID_MODEL, "bad sparse tensor shape");
    goto done;
  }
  size_t es = ember_dtype_bytes(vals.dtype, 1);
  size_t bytes = ember_dtype_bytes(vals.dtype, n);
  t = (emb_tensor){.dtype = vals.dtype, .rank = rank};
  memcpy(t.dims, dims, (size_t)rank * sizeof *dims);
  t.data = emb_talloc(arena, bytes);
  t.nbytes = bytes;
  t.owned = arena == NULL;
  if (!t.data) {
    st = emb_fail(d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
    goto done;
  }
  /* indices: [nnz] linear or [nnz, rank] coordinates */
  bool linear = idx.rank == 1;
  if (idx.dtype != EMBER_INT64 ||
      !(linear ? idx.dims[0] == (int64_t)nnz
               : idx.rank == 2 && idx.dims[0] == (int64_t)nnz &&
                     idx.dims[1] == rank)) {
    st = emb_fail(d, EMBER_ERR_INVALID_MODEL,
                  "sparse tensor indices do not match its values");
    goto fail;
  }
  for (size_t k = 0; k < nnz; k++) {
    int64_t off = 0;
    const int64_t *ix = idx.data;
    if (linear) {
      off = ix[k];
    } else {
      for (int r = 0; r < rank; r++) {
        int64_t c = ix[k * (size_t)rank + (size_t)r];
        if (c < 0 || c >= dims[r]) { off = -1; break; }
        off = off * dims[r] + c;
      }
    }
    if (off < 0 || (uint64_t)off >= n) {
      st = emb_fail(d, EMBER_ERR_INVALID_MODEL,
                    "sparse tensor index %zu out of range", k);
      goto fail;
    }
    memcpy((char *)t.data + (size_t)off * es, (char *)vals.data + k * es, es);
  }
  *out = t;
  goto done;
fail:
  if (!arena) emb_tensor_clear(&t);
done:
  emb_tensor_clear(&vals);
  emb_tensor_clear(&idx);
  return st;
}

/* -------------------------------------------- test data: public values */

/* Public values own everything behind one struct: the ember_value, its
 * item array and per-tensor dims point into emb_pub_value. */
typedef struct emb_pub_value {
  ember_value pub;          /* first: the handle is this pointer */
  emb_value val;
  ember_tensor *items;
} emb_pub_value;

static void emb_pub_fill(ember_tensor *p, const emb_tensor *t) {
  p->dtype = t->dtype;
  p->rank = t->rank;
  p->dims = t->dims;
  p->data = t->data;
  p->nbytes = t->nbytes;
}

static ember_status emb_seq_from_pb(const Emberpb__Sequence *sp,
                                    emb_value *v, emb_diag *d) {
  v->kind = EMB_VK_SEQUENCE;
  if (sp->n_sequence_values || sp->n_map_values || sp->n_optional_values ||
      sp->n_sparse_tensor_values)
    return emb_fail(d, EMBER_ERR_UNSUPPORTED,
                    "sequence '%s': only sequences of tensors are supported",
                    sp->name ? sp->name : "");
  for (size_t i = 0; i < sp->n_tensor_values; i++) {
    emb_tensor t;
    ember_status st = emb_tensor_from_pb(sp->tensor_values[i], NULL, NULL, &t, d);
    if (st) return st;
    /* move instead of copy */
    emb_seq *s = &v->seq;
    if (s->count == s->cap) {
      size_t cap = s->cap ? s->cap * 2 : 4;
      emb_tensor *items = realloc(s->items, cap * sizeof *items);
      if (!items) {
        emb_tensor_clear(&t);
        return emb_fail(d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
      }
      s->items = items;
      s->cap = cap;
    }
    s->items[s->count++] = t;
    if (!s->elem_dtype) s->elem_dtype = t.dtype;
  }
  return EMBER_OK;
}

ember_status ember_value_parse(const void *data, size_t size, int format,
                               ember_value **out_value, char *errbuf,
                               size_t errbuf_size) {
  emb_diag d;
  char scan[200];
  emb_diag_clear(&d);
  ember_status st = EMBER_OK;
  if (out_value) *out_value = NULL;
  if (!out_value || (!data && size)) {
    st = emb_fail(&d, EMBER_ERR_INVALID_ARGUMENT,
                  "ember_value_parse: NULL argument");
    goto out;
  }
  emb_pub_value *pv = calloc(1, sizeof *pv);
  if (!pv) {
    st = emb_fail(&d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
    goto out;
  }
  if (format == EMBER_PB_TENSOR) {
    Emberpb__Tensor *tp = emberpb__tensor__unpack(NULL, size, data);
    if (!tp) {
      st = emb_fail(&d, EMBER_ERR_PARSE,
                    "not a valid TensorProto (%zu bytes)%s", size,
                    emb_pb_scan_error(data, size, scan, sizeof scan));
    } else {
      pv->val.kind = EMB_VK_TENSOR;
      st = emb_tensor_from_pb(tp, NULL, NULL, &pv->val.t, &d);
      emberpb__tensor__free_unpacked(tp, NULL);
    }
  } else if (format == EMBER_PB_SEQUENCE) {
    Emberpb__Sequence *sp = emberpb__sequence__unpack(NULL, size, data);
    if (!sp) {
      st = emb_fail(&d, EMBER_ERR_PARSE, "not a valid SequenceProto%s",
                    emb_pb_scan_error(data, size, scan, sizeof scan));
    } else {
      st = emb_seq_from_pb(sp, &pv->val, &d);
      emberpb__sequence__free_unpacked(sp, NULL);
    }
  } else if (format == EMBER_PB_OPTIONAL) {
    Emberpb__OptionalValue *op = emberpb__optional_value__unpack(NULL, size, data);
    if (!op) {
      st = emb_fail(&d, EMBER_ERR_PARSE, "not a valid OptionalProto%s",
                    emb_pb_scan_error(data, size, scan, sizeof scan));
    } else {
      if (op->tensor_value) {
        pv->val.kind = EMB_VK_TENSOR;
        st = emb_tensor_from_pb(op->tensor_value, NULL, NULL, &pv->val.t, &d);
      } else if (op->sequence_value) {
        st = emb_seq_from_pb(op->sequence_value, &pv->val, &d);
      } else if (op->map_value || op->optional_value || op->sparse_tensor_value) {
        st = emb_fail(&d, EMBER_ERR_UNSUPPORTED,
                      "optional of this element kind is not supported");
      } else {
        pv->val.kind = EMB_VK_NONE;
      }
      emberpb__optional_value__free_unpacked(op, NULL);
    }
  } else {
    st = emb_fail(&d, EMBER_ERR_INVALID_ARGUMENT,
                  "ember_value_parse: unknown format %d", format);
  }
  if (!st) {
    emb_value *v = &pv->val;
    if (v->kind == EMB_VK_TENSOR) {
      pv->pub.kind = EMBER_KIND_TENSOR;
      emb_pub_fill(&pv->pub.tensor, &v->t);
    } else if (v->kind == EMB_VK_SEQUENCE) {
      pv->pub.kind = EMBER_KIND_SEQUENCE;
      pv->pub.elem_dtype = v->seq.elem_dtype;
      pv->pub.count = v->seq.count;
      pv->items = calloc(v->seq.count ? v->seq.count : 1, sizeof *pv->items);
      if (!pv->items) {
        st = emb_fail(&d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
      } else {
        for (size_t i = 0; i < v->seq.count; i++)
          emb_pub_fill(&pv->items[i], &v->seq.items[i]);
        pv->pub.items = pv->items;
      }
    } else {
      pv->pub.kind = EMBER_KIND_OPTIONAL;
      pv->pub.has_value = 0;
    }
    if (format == EMBER_PB_OPTIONAL && v->kind != EMB_VK_NONE) {
      pv->pub.elem_kind = pv->pub.kind;
      pv->pub.kind = EMBER_KIND_OPTIONAL;
      pv->pub.has_value = 1;
    }
  }
  if (st) {
    ember_value_free(&pv->pub);
  } else {
    *out_value = &pv->pub;
  }
out:
  if (st && errbuf && errbuf_size) snprintf(errbuf, errbuf_size, "%s", d.msg);
  return st;
}

void ember_value_free(ember_value *value) {
  if (!value) return;
  emb_pub_value *pv = (emb_pub_value *)value;
  emb_value_clear(&pv->val);
  free(pv->items);
  free(pv);
}

/* ----------------------------------------------- wire-format diagnosis */

static int emb_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *v) {
  uint64_t x = 0;
  for (int s = 0; s < 64; s += 7) {
    if (*pos >= n) return 0;
    uint8_t b = p[(*pos)++];
    x |= (uint64_t)(b & 0x7f) << s;
    if (!(b & 0x80)) {
      *v = x;
      return 1;
    }
  }
  return 0;
}

const char *emb_pb_scan_error(const void *data, size_t size, char *buf,
                              size_t bufsize) {
  /* Walk the top-level fields to find where the bytes stop making sense;
   * the text written to buf is appended to a parse error. */
  const uint8_t *p = data;
  size_t pos = 0;
  if (size == 0) return ": the input is empty";
  while (pos < size) {
    size_t start = pos;
    uint64_t key, len;
    if (!emb_varint(p, size, &pos, &key)) goto trunc;
    unsigned wt = (unsigned)(key & 7);
    uint64_t field = key >> 3;
    if (field == 0) {
      snprintf(buf, bufsize, ": invalid field number 0 at byte offset %zu",
               start);
      return buf;
    }
    switch (wt) {
      case 0: if (!emb_varint(p, size, &pos, &len)) goto trunc; break;
      case 1: if (size - pos < 8) goto trunc; pos += 8; break;
      case 5: if (size - pos < 4) goto trunc; pos += 4; break;
      case 2:
        if (!emb_varint(p, size, &pos, &len)) goto trunc;
        if (len > size - pos) {
          snprintf(buf, bufsize,
                   ": field %llu at byte offset %zu declares %llu bytes but "
                   "only %zu remain (truncated file?)",
                   (unsigned long long)field, start, (unsigned long long)len,
                   size - pos);
          return buf;
        }
        pos += (size_t)len;
        break;
      default:
        snprintf(buf, bufsize,
                 ": invalid wire type %u at byte offset %zu (not a protobuf "
                 "file?)",
                 wt, start);
        return buf;
    }
    continue;
  trunc:
    snprintf(buf, bufsize, ": truncated at byte offset %zu of %zu", start,
             size);
    return buf;
  }
  return ": a nested message is malformed";
}
