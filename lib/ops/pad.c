/*
 * Pad: grow (or, with negative pads, crop) every axis of a tensor, filling
 * the new border by mode: constant (a value), edge (repeat the border
 * element), reflect (mirror without repeating the border) or wrap
 * (periodic).  Before opset 11 the pads and the value are attributes
 * ('paddings' in opset 1), later they are inputs, with an optional 'axes'
 * input since opset 18.  Negative pads crop first; padding then applies
 * to the cropped tensor.  Constant mode fills and copies the kept block
 * with the strided copy kernel; the other modes build a source index per
 * output position of each axis and copy rows through them.  Any element
 * type moves, through the emb_mv bracket of movement.h.
 */
#include <stdint.h>
#include <string.h>

#include "ops/movement.h"
#include "ops/op.h"
#include "xx-copy/xx-copy.h"

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

typedef struct pad_state {
  int mode;
  const int64_t *pads; /* attribute form, before opset 11 */
  size_t n_pads;
  float value;
} pad_state;

static ember_status pad_init(emb_init_ctx *c) {
  pad_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  const emb_node *n = c->node;
  const char *mode;
  ember_status st = emb_attr_string(n, "mode", "constant", &mode, c->diag);
  if (st) return st;
  if (!strcmp(mode, "constant"))
    s->mode = PAD_CONSTANT;
  else if (!strcmp(mode, "reflect"))
    s->mode = PAD_REFLECT;
  else if (!strcmp(mode, "edge"))
    s->mode = PAD_EDGE;
  else if (!strcmp(mode, "wrap"))
    s->mode = PAD_WRAP;
  else
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "unknown mode '%s'", mode);
  if (n->opset < 11) {
    const char *name = n->opset < 2 ? "paddings" : "pads";
    if (!emb_node_attr(n, name))
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "attribute '%s' is required", name);
    st = emb_attr_ints(n, name, &s->pads, &s->n_pads, c->diag);
    if (!st) st = emb_attr_float(n, "value", 0.0f, &s->value, c->diag);
    if (st) return st;
  } else if (n->n_in < 2 || n->in[1] < 0) {
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "input 'pads' is required");
  }
  c->node->state = s;
  return EMBER_OK;
}

/* Per-axis begin and end pads from the attribute or the inputs. */
static ember_status pad_amounts(const emb_node *node, emb_diag *d,
                                ember_status bad, int rank,
                                const emb_tensor *pads,
                                const emb_tensor *axes, int64_t *pb,
                                int64_t *pe) {
  const pad_state *s = node->state;
  int64_t p[2 * EMB_MAX_RANK];
  size_t n;
  for (int k = 0; k < rank; k++) pb[k] = pe[k] = 0;
  if (node->opset < 11) {
    if (s->n_pads != 2 * (size_t)rank)
      return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                         "'pads' has %zu values but the input has rank %d",
                         s->n_pads, rank);
    for (int k = 0; k < rank; k++) {
      pb[k] = s->pads[k];
      pe[k] = s->pads[k + rank];
      if (pb[k] > INT64_MAX / 4 || pb[k] < -INT64_MAX / 4 ||
          pe[k] > INT64_MAX / 4 || pe[k] < -INT64_MAX / 4)
        return emb_op_fail(d, node, EMBER_ERR_LIMIT,
                           "pads on axis %d are too large", k);
    }
    return EMBER_OK;
  }
  n = emb_tensor_numel(pads);
  if (pads->rank > 1 || n > 2 * EMB_MAX_RANK || !emb_dtype_is_int(pads->dtype))
    return emb_op_fail(d, node, bad,
                       "'pads' must be a 1-D integer tensor of at most %d "
                       "values",
                       2 * EMB_MAX_RANK);
  for (size_t i = 0; i < n; i++) p[i] = emb_tensor_get_i64(pads, i);
  int ax[EMB_MAX_RANK];
  size_t n_ax = (size_t)rank;
  if (axes) {
    n_ax = emb_tensor_numel(axes);
    if (axes->rank > 1 || n_ax > (size_t)rank ||
        !emb_dtype_is_int(axes->dtype))
      return emb_op_fail(d, node, bad,
                         "'axes' must be a 1-D integer tensor of at most %d "
                         "values",
                         rank);
    bool seen[EMB_MAX_RANK] = {false};
    for (size_t i = 0; i < n_ax; i++) {
      int64_t a = emb_tensor_get_i64(axes, i);
      if (a < -(int64_t)rank || a >= rank)
        return emb_op_fail(d, node, bad,
                           "axis %lld is out of range for rank %d",
                           (long long)a, rank);
      ax[i] = (int)(a < 0 ? a + rank : a);
      if (seen[ax[i]])
        return emb_op_fail(d, node, bad, "axis %lld is repeated",
                           (long long)a);
      seen[ax[i]] = true;
    }
  } else {
    for (int k = 0; k < rank; k++) ax[k] = k;
  }
  if (n != 2 * n_ax)
    return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                       "'pads' has %zu values for %zu axes", n, n_ax);
  for (size_t i = 0; i < n_ax; i++) {
    pb[ax[i]] = p[i];
    pe[ax[i]] = p[i + n_ax];
  }
  /* Keep d + begin + end far from overflow; no tensor gets near. */
  for (int k = 0; k < rank; k++)
    if (pb[k] > INT64_MAX / 4 || pb[k] < -INT64_MAX / 4 ||
        pe[k] > INT64_MAX / 4 || pe[k] < -INT64_MAX / 4)
      return emb_op_fail(d, node, EMBER_ERR_LIMIT,
                         "pads on axis %d are too large", k);
  return EMBER_OK;
}

static ember_status pad_infer(emb_infer_ctx *c) {
  static const int32_t index_types[] = {EMBER_INT32, EMBER_INT64, 0};
  static const int32_t i64[] = {EMBER_INT64, 0};
  const emb_node *node = c->node;
  for (int i = 0; i < (node->opset >= 11 ? 2 : 1); i++)
    if (i >= c->n_in || !c->in[i])
      return emb_op_fail(c->diag, node, EMBER_ERR_INVALID_MODEL,
                         "input %d is required", i);
  for (int i = 0; i < c->n_in && i < 4; i++)
    if (c->in[i] && c->in[i]->kind && c->in[i]->kind != EMBER_KIND_TENSOR)
      return emb_op_fail(c->diag, node, EMBER_ERR_TYPE,
                         "input %d must be a tensor", i);
  ember_status st = EMBER_OK;
  if (node->opset >= 11) {
    st = emb_infer_check_dtype(c, 1, i64);
    if (!st) st = emb_infer_check_dtype(c, 3, index_types);
    if (st) return st;
    const emb_type *a = c->in[0], *b = c->n_in > 2 ? c->in[2] : NULL;
    if (a && b && a->kind && b->kind && a->dtype != b->dtype)
      return emb_op_fail(c->diag, node, EMBER_ERR_TYPE,
                         "constant_value has element type %s but data has "
                         "%s",
                         ember_dtype_name(b->dtype),
                         ember_dtype_name(a->dtype));
  }
  const emb_type *in = c->in[0];
  int32_t dt = in && in->kind ? in->dtype : 0;
  if (dt && !emb_mv_esize(dt))
    return emb_op_fail(c->diag, node, EMBER_ERR_UNSUPPORTED,
                       "element type %s is not supported",
                       ember_dtype_name(dt));
  emb_type *o = &c->out[0];
  int rank = in && in->kind ? in->rank : -1;
  emb_type_tensor(o, dt, rank, NULL);
  if (rank < 0) return EMBER_OK;
  const emb_tensor *pads = NULL, *axes = NULL;
  if (node->opset >= 11) {
    pads = c->values ? c->values[1] : NULL;
    bool has_axes = c->n_in > 3 && c->in[3];
    axes = has_axes && c->values ? c->values[3] : NULL;
    if (!pads || (has_axes && !axes)) return EMBER_OK;
  }
  int64_t pb[EMB_MAX_RANK], pe[EMB_MAX_RANK];
  st = pad_amounts(node, c->diag,
                   c->at_run ? EMBER_ERR_RUNTIME : EMBER_ERR_INVALID_MODEL,
                   rank, pads, axes, pb, pe);
  if (st) return st;
  for (int k = 0; k < rank; k++) {
    emb_dim d = in->dims[k];
    if (pb[k] == 0 && pe[k] == 0) {
      o->dims[k] = d;
    } else if (d.v >= 0) {
      int64_t v = d.v + pb[k] + pe[k];
      if (v < 0)
        return emb_op_fail(c->diag, node, EMBER_ERR_SHAPE,
                           "pads %lld and %lld on axis %d of size %lld give "
                           "a negative size",
                           (long long)pb[k], (long long)pe[k], k,
                           (long long)d.v);
      o->dims[k].v = v;
    }
  }
  return EMBER_OK;
}

/* Source position in [0, len) for output position j of a padded axis
 * (j already relative to the kept block's start; len > 0). */
static int64_t pad_map(int mode, int64_t j, int64_t len) {
  if (j >= 0 && j < len) return j;
  switch (mode) {
    case PAD_EDGE:
      return j < 0 ? 0 : len - 1;
    case PAD_WRAP: {
      int64_t m = j % len;
      return m < 0 ? m + len : m;
    }
    default: { /* reflect, repeatedly for pads longer than the axis */
      if (len == 1) return 0;
      int64_t period = 2 * (len - 1), m = j % period;
      if (m < 0) m += period;
      return m >= len ? period - m : m;
    }
  }
}

static ember_status pad_run(emb_run_ctx *c) {
  const pad_state *s = c->node->state;
  const emb_tensor *in = emb_in_t(c, 0);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  int rank = in->rank;
  int64_t pb[EMB_MAX_RANK], pe[EMB_MAX_RANK];
  ember_status st =
      pad_amounts(c->node, c->diag, EMBER_ERR_RUNTIME, rank, emb_in_t(c, 1),
                  emb_in_t(c, 3), pb, pe);
  if (st) return st;
  size_t n_out = emb_tensor_numel(out);
  if (!n_out) return EMBER_OK;
  /* Kept block of the input: start and length per axis after cropping;
   * where it starts in the output. */
  int64_t keep0[EMB_MAX_RANK], keep[EMB_MAX_RANK], at[EMB_MAX_RANK];
  bool empty = false;
  size_t maps = 0;
  for (int k = 0; k < rank; k++) {
    keep0[k] = pb[k] < 0 ? -pb[k] : 0;
    keep[k] = in->dims[k] - keep0[k] - (pe[k] < 0 ? -pe[k] : 0);
    at[k] = pb[k] > 0 ? pb[k] : 0;
    if (keep[k] <= 0) {
      keep[k] = 0;
      empty = true;
    }
    maps += (size_t)out->dims[k];
  }
  if (s->mode != PAD_CONSTANT && empty)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "cannot pad an empty axis in this mode");
  emb_mv m;
  st = emb_mv_begin(c, in, out, s->mode == PAD_CONSTANT
                                    ? 0 : maps * sizeof(int64_t), &m);
  if (st) return st;
  size_t es = m.esize;
  ptrdiff_t is[EMB_MAX_RANK], ds[EMB_MAX_RANK];
  {
    /* Unsigned: an empty input may have dims whose product overflows; its
     * strides are then never used. */
    size_t a = es, b = es;
    for (int k = rank - 1; k >= 0; k--) {
      is[k] = (ptrdiff_t)a;
      ds[k] = (ptrdiff_t)b;
      a *= (size_t)in->dims[k];
      b *= (size_t)out->dims[k];
    }
  }
  if (s->mode == PAD_CONSTANT) {
    /* The fill value in mover form (16 bytes covers every element). */
    unsigned char value[16] = {0};
    const emb_tensor *cv = emb_in_t(c, 2);
    if (c->node->opset < 11) {
      emb_tensor tmp = *in;
      tmp.data = value;
      if (emb_dtype_is_float(in->dtype) || emb_dtype_is_int(in->dtype) ||
          in->dtype == EMBER_BOOL)
        emb_tensor_set_f64(&tmp, 0, (double)s->value);
    } else if (cv && emb_tensor_numel(cv)) {
      emb_mv_elem(cv, 0, value);
    }
    if (in->dtype == EMBER_STRING && !(cv && emb_tensor_numel(cv))) {
      static const char empty_str[] = "";
      const char *p = empty_str;
      memcpy(value, &p, sizeof p);
    }
    ember_xx_fill__scalar(es, n_out, value, m.dst);
    if (!empty) {
      size_t dims[EMB_MAX_RANK];
      const char *src = m.src;
      char *dst = m.dst;
      for (int k = 0; k < rank; k++) {
        dims[k] = (size_t)keep[k];
        src += keep0[k] * is[k];
        dst += at[k] * ds[k];
      }
      ember_xx_copy_nd__scalar(es, (size_t)rank, dims, src, is, dst, ds);
    }
    return emb_mv_end(c, out, &m);
  }
  /* Other modes: source byte offset of every output position per axis. */
  int64_t *map[EMB_MAX_RANK];
  int64_t *p = m.extra;
  for (int k = 0; k < rank; k++) {
    map[k] = p;
    for (int64_t i = 0; i < out->dims[k]; i++)
      p[i] = (keep0[k] + pad_map(s->mode, i - at[k], keep[k])) * is[k];
    p += out->dims[k];
  }
  if (rank == 0) {
    memcpy(m.dst, m.src, es);
    return emb_mv_end(c, out, &m);
  }
  size_t idx[EMB_MAX_RANK] = {0};
  size_t row = (size_t)out->dims[rank - 1];
  const int64_t *last = map[rank - 1];
  char *dst = m.dst;
  for (size_t r = 0; r < n_out / row; r++) {
    const char *base = m.src;
    for (int k = 0; k < rank - 1; k++) base += map[k][idx[k]];
    switch (es) {
      case 1:
        for (size_t i = 0; i < row; i++) dst[i] = base[last[i]];
        break;
      case 4:
        for (size_t i = 0; i < row; i++)
          memcpy(dst + 4 * i, base + last[i], 4);
        break;
      case 8:
        for (size_t i = 0; i < row; i++)
          memcpy(dst + 8 * i, base + last[i], 8);
        break;
      default:
        for (size_t i = 0; i < row; i++)
          memcpy(dst + es * i, base + last[i], es);
        break;
    }
    dst += row * es;
    for (int k = rank - 2; k >= 0; k--) {
      if (++idx[k] < (size_t)out->dims[k]) break;
      idx[k] = 0;
    }
  }
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_pad = {1, 4, 1, 1, 0, pad_init, pad_infer, pad_run};
