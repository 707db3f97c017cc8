/*
 * Shape and data-movement operators: Concat, Split, Slice, Reshape,
 * Flatten, Transpose, Squeeze, Unsqueeze, Expand, Shape, Size, Constant,
 * ConstantOfShape, Range and Tile.  They move elements without looking at
 * them, so they serve every element type (strings and packed sub-byte
 * types through the emb_mv bracket defined here, see movement.h) and the
 * copying is done by the strided xx-copy kernel.  Their inference is exact
 * whenever the shape-carrying inputs are known constants, because the
 * loader folds shape subgraphs (Shape -> Gather -> Concat -> Reshape) and
 * needs every static shape it can get.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/movement.h"
#include "ops/op.h"
#include "xx-copy/xx-copy.h"

/* ================================================= shared mover helpers */

bool emb_mv_packed(int32_t dtype) {
  int bits = emb_dtype_bits(dtype);
  return bits > 0 && bits < 8;
}

size_t emb_mv_esize(int32_t dtype) {
  int bits = emb_dtype_bits(dtype);
  if (bits <= 0) return 0;
  return bits < 8 ? 1 : (size_t)bits / 8;
}

/* Packed element i of a sub-byte buffer (low bits first). */
static uint8_t packed_get(const uint8_t *p, int bits, size_t i) {
  size_t per = 8 / (size_t)bits;
  unsigned shift = (unsigned)((i % per) * (size_t)bits);
  return (uint8_t)((p[i / per] >> shift) & ((1u << bits) - 1));
}

ember_status emb_mv_begin(emb_run_ctx *c, const emb_tensor *in,
                          emb_tensor *out, size_t extra, emb_mv *m) {
  memset(m, 0, sizeof *m);
  m->dtype = out->dtype;
  m->esize = emb_mv_esize(out->dtype);
  if (!m->esize)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "element type %s cannot be moved",
                       ember_dtype_name(out->dtype));
  size_t ex = (extra + 15) & ~(size_t)15;
  size_t nin = 0, nout = 0;
  bool packed = emb_mv_packed(out->dtype);
  if (packed) {
    if (!in)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                         "element type %s is not supported by this operator",
                         ember_dtype_name(out->dtype));
    nin = emb_tensor_numel(in);
    nout = emb_tensor_numel(out);
  }
  if (ex + nin + nout) {
    char *s = emb_scratch(c, ex + nin + nout);
    if (!s) return c->diag->status ? c->diag->status : EMBER_ERR_OUT_OF_MEMORY;
    if (extra) m->extra = s;
    if (packed) {
      int bits = emb_dtype_bits(out->dtype);
      uint8_t *u = (uint8_t *)s + ex;
      for (size_t i = 0; i < nin; i++) u[i] = packed_get(in->data, bits, i);
      m->src = (const char *)u;
      m->dst = s + ex + nin;
      return EMBER_OK;
    }
  }
  m->src = in ? in->data : NULL;
  m->dst = out->data;
  if (out->dtype == EMBER_STRING) {
    /* The executor filled the output with "" strings; they are replaced
     * by borrowed pointers until emb_mv_end duplicates them. */
    char **s = out->data;
    size_t n = out->nbytes / sizeof(char *);
    for (size_t i = 0; i < n; i++) {
      free(s[i]);
      s[i] = NULL;
    }
  }
  return EMBER_OK;
}

ember_status emb_mv_end(emb_run_ctx *c, emb_tensor *out, emb_mv *m) {
  if (out->dtype == EMBER_STRING) {
    char **s = out->data;
    size_t n = out->nbytes / sizeof(char *);
    for (size_t i = 0; i < n; i++) {
      char *dup = strdup(s[i] ? s[i] : "");
      if (!dup) {
        for (size_t j = i; j < n; j++) s[j] = NULL;
        return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                           "out of memory copying strings");
      }
      s[i] = dup;
    }
  } else if (emb_mv_packed(out->dtype)) {
    int bits = emb_dtype_bits(out->dtype);
    size_t per = 8 / (size_t)bits, n = emb_tensor_numel(out);
    uint8_t *p = out->data;
    const uint8_t *u = (const uint8_t *)m->dst;
    memset(p, 0, out->nbytes);
    for (size_t i = 0; i < n; i++)
      p[i / per] |= (uint8_t)((u[i] & ((1u << bits) - 1))
                              << ((i % per) * (size_t)bits));
  }
  return EMBER_OK;
}

void emb_mv_abort(emb_tensor *out, emb_mv *m) {
  (void)m;
  if (out->dtype == EMBER_STRING && out->data) {
    char **s = out->data;
    size_t n = out->nbytes / sizeof(char *);
    for (size_t i = 0; i < n; i++) s[i] = NULL;
  }
}

void emb_mv_elem(const emb_tensor *t, size_t i, void *out) {
  int bits = emb_dtype_bits(t->dtype);
  if (bits > 0 && bits < 8) {
    *(uint8_t *)out = packed_get(t->data, bits, i);
    return;
  }
  size_t es = emb_mv_esize(t->dtype);
  memcpy(out, (const char *)t->data + i * es, es);
}

/* ====================================================== local helpers */

/* Status for a bad value in a shape-carrying input: a model error when the
 * value is a constant seen at load, a run-time error otherwise. */
static ember_status value_status(const emb_infer_ctx *c) {
  return c->at_run ? EMBER_ERR_RUNTIME : EMBER_ERR_INVALID_MODEL;
}

static int32_t in_dtype(const emb_infer_ctx *c, int i) {
  return (i < c->n_in && c->in[i] && c->in[i]->kind) ? c->in[i]->dtype : 0;
}

static int in_rank(const emb_infer_ctx *c, int i) {
  return (i < c->n_in && c->in[i] && c->in[i]->kind) ? c->in[i]->rank : -1;
}

static const emb_tensor *in_value(const emb_infer_ctx *c, int i) {
  return (i < c->n_in && c->in[i] && c->values) ? c->values[i] : NULL;
}

/* Input i must be a tensor when its kind is known. */
static ember_status need_tensor(emb_infer_ctx *c, int i) {
  if (i < c->n_in && c->in[i] && c->in[i]->kind &&
      c->in[i]->kind != EMBER_KIND_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input %d must be a tensor", i);
  return EMBER_OK;
}

/* The first n inputs are required: an omitted one ("") is a model error. */
static ember_status need_inputs(emb_infer_ctx *c, int n) {
  for (int i = 0; i < n; i++)
    if (i >= c->n_in || !c->in[i])
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "input %d is required", i);
  return EMBER_OK;
}

/* Input i must be an integer tensor (int32 or int64, or only int64). */
static ember_status need_index_type(emb_infer_ctx *c, int i, bool only64) {
  static const int32_t i64[] = {EMBER_INT64, 0};
  static const int32_t i32_64[] = {EMBER_INT32, EMBER_INT64, 0};
  ember_status st = need_tensor(c, i);
  if (st) return st;
  int32_t dt = in_dtype(c, i);
  if (!dt) return EMBER_OK;
  const int32_t *ok = only64 ? i64 : i32_64;
  for (const int32_t *p = ok; *p; p++)
    if (*p == dt) return EMBER_OK;
  return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                     "input %d must be %s, not %s", i,
                     only64 ? "int64" : "int32 or int64",
                     ember_dtype_name(dt));
}

/* Set out to a tensor of dtype with unknown rank. */
static void out_unknown_rank(emb_type *o, int32_t dtype) {
  emb_type_tensor(o, dtype, -1, NULL);
}

static ember_status check_rank(emb_infer_ctx *c, int64_t rank) {
  if (rank > EMB_MAX_RANK)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "result rank %lld exceeds the limit %d",
                       (long long)rank, EMB_MAX_RANK);
  return EMBER_OK;
}

static const emb_dim unknown_dim = {-1, 0};

/* Read up to cap integers of a 0-d or 1-d tensor. */
static ember_status read_ints_n(const emb_node *node, emb_diag *d,
                                const emb_tensor *t, const char *what,
                                int64_t *out, size_t cap, size_t *n) {
  size_t count = emb_tensor_numel(t);
  if (t->rank > 1)
    return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                       "'%s' must be a 1-D tensor, not of rank %d", what,
                       (int)t->rank);
  if (count > cap)
    return emb_op_fail(d, node, EMBER_ERR_LIMIT,
                       "'%s' has %zu values; at most %zu are supported", what,
                       count, cap);
  if (count && !emb_dtype_is_int(t->dtype))
    return emb_op_fail(d, node, EMBER_ERR_TYPE,
                       "'%s' must hold integers, not %s", what,
                       ember_dtype_name(t->dtype));
  for (size_t i = 0; i < count; i++) out[i] = emb_tensor_get_i64(t, i);
  *n = count;
  return EMBER_OK;
}

static ember_status read_ints(emb_infer_ctx *c, const emb_tensor *t,
                              const char *what, int64_t *out, size_t cap,
                              size_t *n) {
  return read_ints_n(c->node, c->diag, t, what, out, cap, n);
}

/* Normalise and check a list of axes against rank; duplicates refused. */
static ember_status norm_axes(emb_infer_ctx *c, const int64_t *axes,
                              size_t n, int rank, int *out,
                              ember_status st_bad) {
  bool seen[EMB_MAX_RANK] = {false};
  for (size_t i = 0; i < n; i++) {
    int64_t a = axes[i];
    if (a < -(int64_t)rank || a >= (int64_t)rank)
      return emb_op_fail(c->diag, c->node, st_bad,
                         "axis %lld is out of range for rank %d",
                         (long long)a, rank);
    int k = (int)(a < 0 ? a + rank : a);
    if (seen[k])
      return emb_op_fail(c->diag, c->node, st_bad, "axis %lld is repeated",
                         (long long)a);
    seen[k] = true;
    out[i] = k;
  }
  return EMBER_OK;
}

/* Row-major element strides of t in bytes. */
static void byte_strides(int rank, const int64_t *dims, size_t esize,
                         ptrdiff_t *strides) {
  /* Unsigned: an empty tensor may have dims whose product overflows; its
   * strides are never used. */
  size_t s = esize;
  for (int k = rank - 1; k >= 0; k--) {
    strides[k] = (ptrdiff_t)s;
    s *= (size_t)dims[k];
  }
}

/* Product of dims[lo, hi) as a static dim: a known value when all are
 * known, the dim itself when there is exactly one, else unknown. */
static emb_dim dim_product(const emb_dim *dims, int lo, int hi) {
  if (hi - lo == 1) return dims[lo];
  int64_t p = 1;
  for (int k = lo; k < hi; k++) {
    if (dims[k].v < 0) return unknown_dim;
    if (!emb_mul_i64(p, dims[k].v, &p)) return unknown_dim;
  }
  emb_dim d = {p, 0};
  return d;
}

/* Whole-buffer copy for the reshaping operators, whose output holds the
 * input's elements in the same order. */
static ember_status copy_same_order(emb_run_ctx *c) {
  const emb_tensor *in = emb_in_t(c, 0);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  if (emb_tensor_numel(in) != emb_tensor_numel(out) ||
      in->dtype != out->dtype)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "output does not match the input's elements");
  if (out->dtype == EMBER_STRING) {
    char **to = out->data;
    char *const *from = in->data;
    size_t n = out->nbytes / sizeof(char *);
    for (size_t i = 0; i < n; i++) {
      char *dup = strdup(from[i] ? from[i] : "");
      if (!dup)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                           "out of memory copying strings");
      free(to[i]);
      to[i] = dup;
    }
  } else if (out->nbytes && out->data != in->data) {
    memcpy(out->data, in->data, out->nbytes);
  }
  return EMBER_OK;
}

/* Refuse packed sub-byte element types for the operators whose schema
 * does not list them. */
static ember_status no_packed(emb_infer_ctx *c, int i) {
  int32_t dt = in_dtype(c, i);
  if (dt && emb_mv_packed(dt))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "input %d has element type %s, which is not "
                       "supported",
                       i, ember_dtype_name(dt));
  if (dt && !emb_dtype_valid(dt))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "input %d has an unsupported element type", i);
  return EMBER_OK;
}

/* ============================================================= Concat */

typedef struct concat_state {
  int64_t axis;
} concat_state;

static ember_status concat_init(emb_init_ctx *c) {
  concat_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  /* Concat-1 defaulted the axis to 1; it is required since opset 4. */
  if (c->node->opset >= 4 && !emb_node_attr(c->node, "axis"))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'axis' is required");
  ember_status st = emb_attr_int(c->node, "axis", 1, &s->axis, c->diag);
  if (st) return st;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status concat_infer(emb_infer_ctx *c) {
  const concat_state *s = c->node->state;
  int32_t dt = 0;
  int rank = -1;
  for (int i = 0; i < c->n_in; i++) {
    if (!c->in[i])
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "input %d is missing", i);
    ember_status st = need_tensor(c, i);
    if (!st) st = no_packed(c, i);
    if (st) return st;
    if (!dt) dt = in_dtype(c, i);
    int r = in_rank(c, i);
    if (r < 0) continue;
    if (rank >= 0 && r != rank)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "inputs have different ranks (%d and %d)", rank, r);
    rank = r;
  }
  ember_status st = emb_infer_same_dtype(c, 0, c->n_in - 1);
  if (st) return st;
  if (rank < 0) {
    out_unknown_rank(&c->out[0], dt);
    return EMBER_OK;
  }
  if (rank == 0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "cannot concatenate scalars");
  int ax;
  st = emb_axis(c->node, s->axis, rank, &ax, c->diag);
  if (st) return st;
  emb_type *o = &c->out[0];
  emb_type_tensor(o, dt, rank, NULL);
  for (int k = 0; k < rank; k++) {
    emb_dim d = unknown_dim;
    bool first = true, sum_known = true;
    int64_t sum = 0;
    for (int i = 0; i < c->n_in; i++) {
      if (in_rank(c, i) < 0) {
        sum_known = false;
        continue;
      }
      emb_dim e = c->in[i]->dims[k];
      if (k == ax) {
        if (e.v < 0 || !sum_known || e.v > INT64_MAX - sum)
          sum_known = false;
        else
          sum += e.v;
        continue;
      }
      if (first) {
        d = e;
        first = false;
      } else if (e.v >= 0 && d.v >= 0 && e.v != d.v) {
        return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                           "inputs differ in dimension %d (%lld and %lld)",
                           k, (long long)d.v, (long long)e.v);
      } else if (e.v >= 0) {
        d = e;
      } else if (d.v < 0 && d.sym != e.sym) {
        d.sym = 0;
      }
    }
    if (k == ax) {
      if (c->n_in == 1 && in_rank(c, 0) >= 0) {
        d = c->in[0]->dims[k];
      } else if (sum_known) {
        d.v = sum;
        d.sym = 0;
      }
    }
    o->dims[k] = d;
  }
  return EMBER_OK;
}

static ember_status concat_run(emb_run_ctx *c) {
  const concat_state *s = c->node->state;
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  int rank = out->rank, ax = (int)(s->axis < 0 ? s->axis + rank : s->axis);
  size_t outer = 1, inner = 1;
  for (int k = 0; k < ax; k++) outer *= (size_t)out->dims[k];
  for (int k = ax + 1; k < rank; k++) inner *= (size_t)out->dims[k];
  emb_mv m;
  ember_status st = emb_mv_begin(c, NULL, out, 0, &m);
  if (st) return st;
  size_t es = m.esize, out_row = (size_t)out->dims[ax] * inner, off = 0;
  for (int i = 0; i < c->n_in; i++) {
    const emb_tensor *in = emb_in_t(c, i);
    size_t row = (size_t)in->dims[ax] * inner;
    size_t dims[2] = {outer, row};
    ptrdiff_t ss[2] = {(ptrdiff_t)(row * es), (ptrdiff_t)es};
    ptrdiff_t ds[2] = {(ptrdiff_t)(out_row * es), (ptrdiff_t)es};
    if (row && outer)
      ember_xx_copy_nd__scalar(es, 2, dims, in->data, ss, m.dst + off * es,
                               ds);
    off += row;
  }
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_concat = {1, -1, 1, 1, 0,
                                 concat_init, concat_infer, concat_run};

/* ============================================================== Split */

typedef struct split_state {
  int64_t axis;
  const int64_t *split; /* 'split' attribute (before opset 13) or NULL */
  size_t n_split;
  int64_t num_outputs;  /* opset 18 attribute, 0 when absent */
} split_state;

static ember_status split_init(emb_init_ctx *c) {
  split_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  const emb_node *n = c->node;
  ember_status st = emb_attr_int(n, "axis", 0, &s->axis, c->diag);
  if (!st && n->opset < 13)
    st = emb_attr_ints(n, "split", &s->split, &s->n_split, c->diag);
  if (!st && n->opset >= 18)
    st = emb_attr_int(n, "num_outputs", 0, &s->num_outputs, c->diag);
  if (st) return st;
  if (s->num_outputs < 0 || (s->num_outputs && s->num_outputs != n->n_out))
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "attribute 'num_outputs' is %lld but the node has %d "
                       "outputs",
                       (long long)s->num_outputs, n->n_out);
  if (s->num_outputs && n->n_in > 1 && n->in[1] >= 0)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "'num_outputs' and the 'split' input are both given");
  for (size_t i = 0; i < s->n_split; i++)
    if (s->split[i] < 0)
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "'split' has a negative size %lld",
                         (long long)s->split[i]);
  if (s->n_split && s->n_split != (size_t)n->n_out)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "'split' has %zu sizes but the node has %d outputs",
                       s->n_split, n->n_out);
  c->node->state = s;
  return EMBER_OK;
}

/* How the axis is cut: explicit sizes from the attribute or the input,
 * or equal parts of a known dimension. */
typedef struct split_plan {
  const int64_t *attr;     /* sizes from the attribute       */
  const emb_tensor *input; /* sizes from the input           */
  int64_t chunk;           /* equal parts: size of each      */
  int64_t dim;             /* the axis dimension (-1 unknown)*/
  bool known;              /* sizes known                    */
} split_plan;

static int64_t split_part(const split_plan *p, int j) {
  if (p->attr) return p->attr[j];
  if (p->input) return emb_tensor_get_i64(p->input, (size_t)j);
  int64_t left = p->dim - (int64_t)j * p->chunk;
  return left < 0 ? 0 : (left < p->chunk ? left : p->chunk);
}

static ember_status split_make_plan(emb_infer_ctx *c, int64_t dim,
                                    split_plan *p) {
  const split_state *s = c->node->state;
  int n_out = c->n_out;
  memset(p, 0, sizeof *p);
  p->dim = dim;
  const emb_tensor *sv = in_value(c, 1);
  bool has_input = c->n_in > 1 && c->in[1];
  if (has_input && !sv && !(c->in[1]->kind && c->in[1]->rank == 1 &&
                            c->in[1]->dims[0].v == 0))
    return EMBER_OK; /* sizes not known yet */
  if (sv && emb_tensor_numel(sv) == 0) sv = NULL; /* empty: not given */
  if (sv) {
    if (sv->rank > 1 || emb_tensor_numel(sv) != (size_t)n_out)
      return emb_op_fail(c->diag, c->node, value_status(c),
                         "'split' has %zu sizes but the node has %d outputs",
                         emb_tensor_numel(sv), n_out);
    /* Split-1 typed this input like the data (float); later int64. */
    if (!emb_dtype_is_int(sv->dtype) && !emb_dtype_is_float(sv->dtype))
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "'split' must hold numbers");
    p->input = sv;
  } else if (s->n_split) {
    p->attr = s->split;
  } else {
    if (dim < 0) return EMBER_OK;
    if (s->num_outputs) {
      p->chunk = (dim + n_out - 1) / n_out;
    } else {
      if (dim % n_out)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                           "dimension %lld cannot be split into %d equal "
                           "parts",
                           (long long)dim, n_out);
      p->chunk = dim / n_out;
    }
  }
  if (p->attr || p->input) {
    int64_t sum = 0;
    for (int j = 0; j < n_out; j++) {
      int64_t v = split_part(p, j);
      if (v < 0)
        return emb_op_fail(c->diag, c->node, value_status(c),
                           "'split' has a negative size %lld", (long long)v);
      if (v > INT64_MAX - sum)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                           "the split sizes overflow");
      sum += v;
    }
    if (dim >= 0 && sum != dim)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "the split sizes add up to %lld but the dimension "
                         "is %lld",
                         (long long)sum, (long long)dim);
  }
  p->known = true;
  return EMBER_OK;
}

static ember_status split_infer(emb_infer_ctx *c) {
  if (need_inputs(c, 1)) return c->diag->status;
  const split_state *s = c->node->state;
  ember_status st = need_tensor(c, 0);
  if (!st) st = no_packed(c, 0);
  if (!st && c->n_in > 1 && c->in[1])
    st = c->node->opset >= 13 ? need_index_type(c, 1, true)
                              : need_tensor(c, 1);
  if (st) return st;
  int32_t dt = in_dtype(c, 0);
  int rank = in_rank(c, 0);
  for (int j = 0; j < c->n_out; j++) out_unknown_rank(&c->out[j], dt);
  if (rank < 0) return EMBER_OK;
  if (rank == 0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "cannot split a scalar");
  int ax;
  st = emb_axis(c->node, s->axis, rank, &ax, c->diag);
  if (st) return st;
  split_plan p;
  st = split_make_plan(c, c->in[0]->dims[ax].v, &p);
  if (st) return st;
  for (int j = 0; j < c->n_out; j++) {
    emb_type *o = &c->out[j];
    *o = *c->in[0];
    o->kind = EMBER_KIND_TENSOR;
    o->dims[ax] = unknown_dim;
    if (p.known) o->dims[ax].v = split_part(&p, j);
  }
  return EMBER_OK;
}

static ember_status split_run(emb_run_ctx *c) {
  const split_state *s = c->node->state;
  const emb_tensor *in = emb_in_t(c, 0);
  int rank = in->rank, ax = (int)(s->axis < 0 ? s->axis + rank : s->axis);
  size_t outer = 1, inner = 1;
  for (int k = 0; k < ax; k++) outer *= (size_t)in->dims[k];
  for (int k = ax + 1; k < rank; k++) inner *= (size_t)in->dims[k];
  size_t in_row = (size_t)in->dims[ax] * inner, off = 0;
  for (int j = 0; j < c->n_out; j++) {
    emb_tensor *out = emb_out_t(c, j);
    if (!out) {
      /* An omitted output still consumes its part; infer checked sizes,
       * so recompute this one from the plan inputs. */
      const emb_tensor *sv = emb_in_t(c, 1);
      int64_t part;
      if (sv && emb_tensor_numel(sv))
        part = emb_tensor_get_i64(sv, (size_t)j);
      else if (s->n_split)
        part = s->split[j];
      else {
        int64_t dim = in->dims[ax];
        int64_t chunk = s->num_outputs ? (dim + c->n_out - 1) / c->n_out
                                       : dim / c->n_out;
        int64_t left = dim - (int64_t)j * chunk;
        part = left < 0 ? 0 : (left < chunk ? left : chunk);
      }
      off += (size_t)part * inner;
      continue;
    }
    size_t row = (size_t)out->dims[ax] * inner;
    emb_mv m;
    ember_status st = emb_mv_begin(c, in, out, 0, &m);
    if (st) return st;
    size_t es = m.esize;
    size_t dims[2] = {outer, row};
    ptrdiff_t ss[2] = {(ptrdiff_t)(in_row * es), (ptrdiff_t)es};
    ptrdiff_t ds[2] = {(ptrdiff_t)(row * es), (ptrdiff_t)es};
    if (row && outer)
      ember_xx_copy_nd__scalar(es, 2, dims, m.src + off * es, ss, m.dst, ds);
    st = emb_mv_end(c, out, &m);
    if (st) return st;
    off += row;
  }
  return EMBER_OK;
}

const emb_opdef emb_op_split = {1, 2, 1, -1, EMB_OP_VARIADIC_OUT,
                                split_init, split_infer, split_run};

/* ============================================================== Slice */

typedef struct slice_state {
  /* Before opset 10 the parameters are attributes. */
  const int64_t *starts, *ends, *axes;
  size_t n_starts, n_ends, n_axes;
} slice_state;

static ember_status slice_init(emb_init_ctx *c) {
  slice_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  const emb_node *n = c->node;
  if (n->opset < 10) {
    if (!emb_node_attr(n, "starts") || !emb_node_attr(n, "ends"))
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "attributes 'starts' and 'ends' are required");
    ember_status st =
        emb_attr_ints(n, "starts", &s->starts, &s->n_starts, c->diag);
    if (!st) st = emb_attr_ints(n, "ends", &s->ends, &s->n_ends, c->diag);
    if (!st) st = emb_attr_ints(n, "axes", &s->axes, &s->n_axes, c->diag);
    if (st) return st;
  } else if (n->n_in < 3 || n->in[1] < 0 || n->in[2] < 0) {
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "inputs 'starts' and 'ends' are required");
  }
  c->node->state = s;
  return EMBER_OK;
}

/* The raw parameter lists, from attributes or from inputs 1..4. */
typedef struct slice_args {
  size_t n;
  bool have_axes, have_steps;
  int64_t starts[EMB_MAX_RANK], ends[EMB_MAX_RANK];
  int64_t axes[EMB_MAX_RANK], steps[EMB_MAX_RANK];
} slice_args;

/* One axis after resolution: first index, step and result length. */
typedef struct slice_axis {
  int64_t start, step, len;
} slice_axis;

static ember_status slice_args_get(const emb_node *node, emb_diag *d,
                                   const emb_tensor *const *v,
                                   slice_args *a) {
  const slice_state *s = node->state;
  size_t n1, n2, n3 = 0, n4 = 0;
  memset(a, 0, sizeof *a);
  if (node->opset < 10) {
    if (s->n_starts > EMB_MAX_RANK || s->n_ends != s->n_starts ||
        (s->n_axes && s->n_axes != s->n_starts))
      return emb_op_fail(d, node, EMBER_ERR_INVALID_MODEL,
                         "'starts', 'ends' and 'axes' must have the same "
                         "length, at most %d",
                         EMB_MAX_RANK);
    a->n = s->n_starts;
    memcpy(a->starts, s->starts, a->n * sizeof(int64_t));
    memcpy(a->ends, s->ends, a->n * sizeof(int64_t));
    if (s->n_axes) memcpy(a->axes, s->axes, a->n * sizeof(int64_t));
    a->have_axes = s->n_axes > 0;
    return EMBER_OK;
  }
  ember_status st = read_ints_n(node, d, v[0], "starts", a->starts,
                                EMB_MAX_RANK, &n1);
  if (!st) st = read_ints_n(node, d, v[1], "ends", a->ends, EMB_MAX_RANK, &n2);
  if (!st && v[2])
    st = read_ints_n(node, d, v[2], "axes", a->axes, EMB_MAX_RANK, &n3);
  if (!st && v[3])
    st = read_ints_n(node, d, v[3], "steps", a->steps, EMB_MAX_RANK, &n4);
  if (st) return st;
  if (n2 != n1 || (v[2] && n3 != n1) || (v[3] && n4 != n1))
    return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                       "'starts', 'ends', 'axes' and 'steps' must have the "
                       "same length");
  a->n = n1;
  a->have_axes = v[2] != NULL;
  a->have_steps = v[3] != NULL;
  return EMBER_OK;
}

/* Clamp per the Slice specification and count the elements taken. */
static slice_axis slice_one(int64_t dim, int64_t start, int64_t end,
                            int64_t step) {
  slice_axis r = {0, step, 0};
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = start < 0 ? 0 : (start > dim ? dim : start);
    end = end < 0 ? 0 : (end > dim ? dim : end);
    if (end > start) r.len = (end - start - 1) / step + 1;
  } else {
    start = start < 0 ? 0 : (start > dim - 1 ? dim - 1 : start);
    end = end < -1 ? -1 : (end > dim - 1 ? dim - 1 : end);
    if (start > end) {
      uint64_t mag = step == INT64_MIN ? (uint64_t)INT64_MAX + 1
                                       : (uint64_t)(-step);
      r.len = (int64_t)((uint64_t)(start - end - 1) / mag + 1);
    }
  }
  r.start = start;
  return r;
}

/* Resolve the arguments against the input dims (< 0: unknown).  out[k].len
 * is -2 for an axis whose size does not change (unsliced, or a whole-axis
 * slice of an unknown size) and -1 when unknown. */
static ember_status slice_resolve(const emb_node *node, emb_diag *d,
                                  ember_status bad, const slice_args *a,
                                  int rank, const int64_t *dims,
                                  slice_axis *out) {
  if (a->n > (size_t)rank)
    return emb_op_fail(d, node, bad,
                       "%zu axes are sliced but the input has rank %d", a->n,
                       rank);
  bool seen[EMB_MAX_RANK] = {false};
  for (int k = 0; k < rank; k++) {
    out[k].start = 0;
    out[k].step = 1;
    out[k].len = -2;
  }
  for (size_t i = 0; i < a->n; i++) {
    int64_t ax = a->have_axes ? a->axes[i] : (int64_t)i;
    if (ax < -(int64_t)rank || ax >= rank)
      return emb_op_fail(d, node, bad, "axis %lld is out of range for rank %d",
                         (long long)ax, rank);
    int k = (int)(ax < 0 ? ax + rank : ax);
    if (seen[k])
      return emb_op_fail(d, node, bad, "axis %lld is repeated", (long long)ax);
    seen[k] = true;
    int64_t step = a->have_steps ? a->steps[i] : 1;
    if (step == 0)
      return emb_op_fail(d, node, bad, "step 0 for axis %lld", (long long)ax);
    if (dims[k] >= 0) {
      out[k] = slice_one(dims[k], a->starts[i], a->ends[i], step);
    } else {
      /* Unknown size: only the whole-axis slice is known (same dim). */
      bool whole = (step == 1 && (a->starts[i] == 0 ||
                                  a->starts[i] <= INT64_MIN / 2) &&
                    a->ends[i] >= INT32_MAX) ||
                   (step == -1 && a->starts[i] >= INT32_MAX &&
                    a->ends[i] <= INT64_MIN / 2);
      out[k].step = step;
      out[k].len = whole ? -2 : -1; /* -2: equals the input dim */
    }
  }
  return EMBER_OK;
}

static ember_status slice_infer(emb_infer_ctx *c) {
  if (need_inputs(c, c->node->opset >= 10 ? 3 : 1)) return c->diag->status;
  ember_status st = need_tensor(c, 0);
  if (!st) st = no_packed(c, 0);
  for (int i = 1; !st && i < 5 && i < c->n_in; i++)
    if (c->in[i]) st = need_index_type(c, i, false);
  if (st) return st;
  int32_t dt = in_dtype(c, 0);
  int rank = in_rank(c, 0);
  if (rank < 0) {
    /* Still check what is known of the steps. */
    const emb_tensor *sv = c->node->opset >= 10 ? in_value(c, 4) : NULL;
    for (size_t i = 0; sv && i < emb_tensor_numel(sv); i++)
      if (emb_dtype_is_int(sv->dtype) && emb_tensor_get_i64(sv, i) == 0)
        return emb_op_fail(c->diag, c->node, value_status(c),
                           "step 0 for axis %zu", i);
    out_unknown_rank(&c->out[0], dt);
    return EMBER_OK;
  }
  emb_type *o = &c->out[0];
  *o = *c->in[0];
  const emb_tensor *v[4] = {NULL, NULL, NULL, NULL};
  bool known = true;
  if (c->node->opset >= 10) {
    for (int i = 1; i < 5; i++) {
      if (i >= c->n_in || !c->in[i]) continue;
      v[i - 1] = in_value(c, i);
      if (!v[i - 1]) known = false;
    }
  }
  if (!known) {
    /* Which axes are sliced is known when 'axes' is; others keep their
     * dims. */
    slice_args a;
    size_t n = 0;
    if (c->n_in > 3 && c->in[3] && v[2]) {
      st = read_ints(c, v[2], "axes", a.axes, EMB_MAX_RANK, &n);
      if (st) return st;
      int ks[EMB_MAX_RANK];
      if (norm_axes(c, a.axes, n, rank, ks, EMBER_ERR_INVALID_MODEL))
        return c->diag->status;
      for (size_t i = 0; i < n; i++) o->dims[ks[i]] = unknown_dim;
    } else {
      for (int k = 0; k < rank; k++) o->dims[k] = unknown_dim;
    }
    return EMBER_OK;
  }
  slice_args a;
  st = slice_args_get(c->node, c->diag, v, &a);
  if (st) return st;
  int64_t dims[EMB_MAX_RANK];
  slice_axis ax[EMB_MAX_RANK];
  for (int k = 0; k < rank; k++) dims[k] = c->in[0]->dims[k].v;
  st = slice_resolve(c->node, c->diag, value_status(c), &a, rank, dims, ax);
  if (st) return st;
  for (int k = 0; k < rank; k++) {
    if (ax[k].len == -2) continue; /* keeps the input's dim */
    o->dims[k] = unknown_dim;
    if (ax[k].len >= 0) o->dims[k].v = ax[k].len;
  }
  return EMBER_OK;
}

static ember_status slice_run(emb_run_ctx *c) {
  const emb_tensor *in = emb_in_t(c, 0);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  const emb_tensor *v[4];
  for (int i = 0; i < 4; i++) v[i] = emb_in_t(c, i + 1);
  slice_args a;
  ember_status st = slice_args_get(c->node, c->diag, v, &a);
  if (st) return st;
  slice_axis ax[EMB_MAX_RANK];
  st = slice_resolve(c->node, c->diag, EMBER_ERR_RUNTIME, &a, in->rank,
                     in->dims, ax);
  if (st) return st;
  emb_mv m;
  st = emb_mv_begin(c, in, out, 0, &m);
  if (st) return st;
  size_t es = m.esize, dims[EMB_MAX_RANK];
  ptrdiff_t is[EMB_MAX_RANK], ss[EMB_MAX_RANK], ds[EMB_MAX_RANK];
  byte_strides(in->rank, in->dims, es, is);
  byte_strides(out->rank, out->dims, es, ds);
  ptrdiff_t off = 0;
  size_t total = 1;
  for (int k = 0; k < in->rank; k++) {
    dims[k] = (size_t)out->dims[k];
    total *= dims[k];
    ss[k] = is[k] * (ptrdiff_t)ax[k].step;
    off += is[k] * (ptrdiff_t)ax[k].start;
  }
  if (total)
    ember_xx_copy_nd__scalar(es, (size_t)in->rank, dims, m.src + off, ss,
                             m.dst, ds);
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_slice = {1, 5, 1, 1, 0,
                                slice_init, slice_infer, slice_run};

/* ============================================================ Reshape */

typedef struct reshape_state {
  int64_t allowzero;
} reshape_state;

static ember_status reshape_init(emb_init_ctx *c) {
  reshape_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st =
      emb_attr_int(c->node, "allowzero", 0, &s->allowzero, c->diag);
  if (st) return st;
  c->node->state = s;
  return EMBER_OK;
}

/* Element counts of the input and of the output without entry `skip`, as
 * far as they can be told: symbolic dims of the output cancel equal ones of
 * the input, so that [N,3,4] -> [N,-1] gives 12 and 1.  False when the
 * ratio cannot be determined. */
static bool reshape_counts(const emb_type *in, const emb_dim *out,
                           int out_rank, int skip, int64_t *pin,
                           int64_t *pout) {
  int32_t syms[EMB_MAX_RANK];
  int n_syms = 0;
  *pin = 1;
  *pout = 1;
  if (in->rank < 0) return false;
  for (int k = 0; k < in->rank; k++) {
    emb_dim d = in->dims[k];
    if (d.v >= 0) {
      if (!emb_mul_i64(*pin, d.v, pin)) return false;
    } else if (d.sym > 0) {
      syms[n_syms++] = d.sym;
    } else {
      return false;
    }
  }
  for (int k = 0; k < out_rank; k++) {
    if (k == skip) continue;
    emb_dim d = out[k];
    if (d.v >= 0) {
      if (!emb_mul_i64(*pout, d.v, pout)) return false;
      continue;
    }
    int j = 0;
    while (j < n_syms && !(d.sym > 0 && syms[j] == d.sym)) j++;
    if (j == n_syms) return false;
    syms[j] = syms[--n_syms]; /* cancelled */
  }
  return n_syms == 0;
}

static ember_status reshape_infer(emb_infer_ctx *c) {
  if (need_inputs(c, 2)) return c->diag->status;
  const reshape_state *s = c->node->state;
  ember_status st = need_tensor(c, 0);
  if (!st) st = need_index_type(c, 1, true);
  if (st) return st;
  int32_t dt = in_dtype(c, 0);
  const emb_tensor *sv = in_value(c, 1);
  emb_type *o = &c->out[0];
  if (!sv) {
    const emb_type *t = c->in[1];
    out_unknown_rank(o, dt);
    if (t && t->kind && t->rank == 1 && t->dims[0].v >= 0) {
      st = check_rank(c, t->dims[0].v);
      if (st) return st;
      emb_type_tensor(o, dt, (int)t->dims[0].v, NULL);
    }
    return EMBER_OK;
  }
  int64_t shape[EMB_MAX_RANK];
  size_t n;
  st = read_ints(c, sv, "shape", shape, EMB_MAX_RANK, &n);
  if (st) return st;
  const emb_type *in = c->in[0];
  int in_r = in_rank(c, 0);
  emb_type_tensor(o, dt, (int)n, NULL);
  int neg = -1;
  bool zero = false;
  for (size_t i = 0; i < n; i++) {
    int64_t v = shape[i];
    if (v == 0 && !s->allowzero) {
      if (in_r >= 0 && (int)i >= in_r)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                           "shape entry %zu is 0 (copy) but the input has "
                           "rank %d",
                           i, in_r);
      if (in_r >= 0) o->dims[i] = in->dims[i];
    } else if (v == -1) {
      if (neg >= 0)
        return emb_op_fail(c->diag, c->node, value_status(c),
                           "the shape has more than one -1");
      neg = (int)i;
    } else if (v < 0) {
      return emb_op_fail(c->diag, c->node, value_status(c),
                         "the shape has a negative entry %lld", (long long)v);
    } else {
      zero |= v == 0;
      o->dims[i].v = v;
    }
  }
  if (neg >= 0 && zero)
    return emb_op_fail(c->diag, c->node, value_status(c),
                       "the shape has both 0 and -1 with allowzero set");
  if (in_r < 0) return EMBER_OK;
  int64_t pin, pout;
  if (!reshape_counts(in, o->dims, (int)n, neg, &pin, &pout))
    return EMBER_OK;
  bool ok = neg >= 0 ? (pout != 0 && pin % pout == 0) : pin == pout;
  if (!ok) {
    char a[160], b[160];
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "cannot reshape %s to %s",
                       emb_type_str(in, NULL, a, sizeof a),
                       emb_type_str(o, NULL, b, sizeof b));
  }
  if (neg >= 0) o->dims[neg].v = pin / pout;
  return EMBER_OK;
}

const emb_opdef emb_op_reshape = {2, 2, 1, 1, 0,
                                  reshape_init, reshape_infer,
                                  copy_same_order};

/* ============================================================ Flatten */

typedef struct axis_state {
  int64_t axis;
} axis_state;

static ember_status flatten_init(emb_init_ctx *c) {
  axis_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st = emb_attr_int(c->node, "axis", 1, &s->axis, c->diag);
  if (st) return st;
  if (s->axis < 0 && c->node->opset < 11)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "negative axis %lld needs opset 11",
                       (long long)s->axis);
  c->node->state = s;
  return EMBER_OK;
}

static ember_status flatten_infer(emb_infer_ctx *c) {
  if (need_inputs(c, 1)) return c->diag->status;
  const axis_state *s = c->node->state;
  ember_status st = need_tensor(c, 0);
  if (st) return st;
  int32_t dt = in_dtype(c, 0);
  int rank = in_rank(c, 0);
  emb_type *o = &c->out[0];
  emb_type_tensor(o, dt, 2, NULL);
  if (rank < 0) return EMBER_OK;
  int64_t ax = s->axis;
  if (ax < -(int64_t)rank || ax > rank)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "axis %lld is out of range for rank %d",
                       (long long)ax, rank);
  if (ax < 0) ax += rank;
  if (ax == 0)
    o->dims[0].v = 1;
  else
    o->dims[0] = dim_product(c->in[0]->dims, 0, (int)ax);
  if (ax == rank)
    o->dims[1].v = 1;
  else
    o->dims[1] = dim_product(c->in[0]->dims, (int)ax, rank);
  return EMBER_OK;
}

const emb_opdef emb_op_flatten = {1, 1, 1, 1, 0,
                                  flatten_init, flatten_infer,
                                  copy_same_order};

/* ========================================================== Transpose */

typedef struct transpose_state {
  const int64_t *perm; /* NULL: reverse */
  size_t n;
} transpose_state;

static ember_status transpose_init(emb_init_ctx *c) {
  transpose_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st = emb_attr_ints(c->node, "perm", &s->perm, &s->n, c->diag);
  if (st) return st;
  if (s->n > EMB_MAX_RANK)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "'perm' has %zu entries; the rank limit is %d", s->n,
                       EMB_MAX_RANK);
  bool seen[EMB_MAX_RANK] = {false};
  for (size_t i = 0; i < s->n; i++) {
    int64_t p = s->perm[i];
    if (p < 0 || p >= (int64_t)s->n || seen[p])
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "'perm' is not a permutation of 0..%zu", s->n - 1);
    seen[p] = true;
  }
  c->node->state = s;
  return EMBER_OK;
}

/* perm[k] = the input axis that becomes output axis k. */
static void transpose_perm(const transpose_state *s, int rank, int *perm) {
  for (int k = 0; k < rank; k++)
    perm[k] = s->perm ? (int)s->perm[k] : rank - 1 - k;
}

static ember_status transpose_infer(emb_infer_ctx *c) {
  if (need_inputs(c, 1)) return c->diag->status;
  const transpose_state *s = c->node->state;
  ember_status st = need_tensor(c, 0);
  if (st) return st;
  int32_t dt = in_dtype(c, 0);
  int rank = in_rank(c, 0);
  emb_type *o = &c->out[0];
  if (rank < 0) {
    out_unknown_rank(o, dt);
    if (s->perm) o->rank = (int)s->n;
    for (int k = 0; k < o->rank; k++) o->dims[k] = unknown_dim;
    return EMBER_OK;
  }
  if (s->perm && s->n != (size_t)rank)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'perm' has %zu entries but the input has rank %d",
                       s->n, rank);
  int perm[EMB_MAX_RANK];
  transpose_perm(s, rank, perm);
  emb_type_tensor(o, dt, rank, NULL);
  for (int k = 0; k < rank; k++) o->dims[k] = c->in[0]->dims[perm[k]];
  return EMBER_OK;
}

static ember_status transpose_run(emb_run_ctx *c) {
  const transpose_state *s = c->node->state;
  const emb_tensor *in = emb_in_t(c, 0);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  int rank = in->rank, perm[EMB_MAX_RANK];
  transpose_perm(s, rank, perm);
  emb_mv m;
  ember_status st = emb_mv_begin(c, in, out, 0, &m);
  if (st) return st;
  size_t es = m.esize, dims[EMB_MAX_RANK];
  ptrdiff_t is[EMB_MAX_RANK], ss[EMB_MAX_RANK], ds[EMB_MAX_RANK];
  byte_strides(rank, in->dims, es, is);
  byte_strides(rank, out->dims, es, ds);
  for (int k = 0; k < rank; k++) {
    dims[k] = (size_t)out->dims[k];
    ss[k] = is[perm[k]];
  }
  if (emb_tensor_numel(out))
    ember_xx_copy_nd__scalar(es, (size_t)rank, dims, m.src, ss, m.dst, ds);
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_transpose = {1, 1, 1, 1, 0,
                                    transpose_init, transpose_infer,
                                    transpose_run};

/* ================================================= Squeeze, Unsqueeze */

typedef struct axes_state {
  const int64_t *axes; /* attribute (before opset 13) */
  size_t n;
  bool have;
} axes_state;

static ember_status axes_attr_init(emb_init_ctx *c, bool required) {
  axes_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  if (c->node->opset < 13) {
    ember_status st =
        emb_attr_ints(c->node, "axes", &s->axes, &s->n, c->diag);
    if (st) return st;
    s->have = emb_node_attr(c->node, "axes") != NULL;
    if (required && !s->have)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "attribute 'axes' is required");
  } else if (required && (c->node->n_in < 2 || c->node->in[1] < 0)) {
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "input 'axes' is required");
  }
  if (s->n > 2 * EMB_MAX_RANK)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "too many axes (%zu)", s->n);
  c->node->state = s;
  return EMBER_OK;
}

/* The axes list: *known false when it comes from an unknown input;
 * *given false when there is none. */
static ember_status axes_get(emb_infer_ctx *c, int64_t *axes, size_t *n,
                             bool *given, bool *known) {
  const axes_state *s = c->node->state;
  *n = 0;
  *known = true;
  *given = false;
  if (c->node->opset < 13) {
    if (!s->have) return EMBER_OK;
    memcpy(axes, s->axes, s->n * sizeof *axes);
    *n = s->n;
    *given = true;
    return EMBER_OK;
  }
  if (c->n_in < 2 || !c->in[1]) return EMBER_OK;
  ember_status st = need_index_type(c, 1, true);
  if (st) return st;
  *given = true;
  const emb_tensor *v = in_value(c, 1);
  if (!v) {
    *known = false;
    return EMBER_OK;
  }
  return read_ints(c, v, "axes", axes, 2 * EMB_MAX_RANK, n);
}

static ember_status squeeze_init(emb_init_ctx *c) {
  return axes_attr_init(c, false);
}

static ember_status squeeze_infer(emb_infer_ctx *c) {
  if (need_inputs(c, 1)) return c->diag->status;
  ember_status st = need_tensor(c, 0);
  if (st) return st;
  int32_t dt = in_dtype(c, 0);
  int rank = in_rank(c, 0);
  int64_t axes[2 * EMB_MAX_RANK];
  size_t n;
  bool given, known;
  st = axes_get(c, axes, &n, &given, &known);
  if (st) return st;
  emb_type *o = &c->out[0];
  out_unknown_rank(o, dt);
  if (rank < 0 || !known) return EMBER_OK;
  const emb_type *in = c->in[0];
  bool drop[EMB_MAX_RANK] = {false};
  /* An empty 'axes' input means no axes given. */
  if (given && n) {
    int ks[2 * EMB_MAX_RANK];
    if (n > (size_t)rank)
      return emb_op_fail(c->diag, c->node, value_status(c),
                         "%zu axes given for rank %d", n, rank);
    st = norm_axes(c, axes, n, rank, ks, value_status(c));
    if (st) return st;
    for (size_t i = 0; i < n; i++) {
      if (in->dims[ks[i]].v >= 0 && in->dims[ks[i]].v != 1)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                           "cannot squeeze axis %d of size %lld", ks[i],
                           (long long)in->dims[ks[i]].v);
      drop[ks[i]] = true;
    }
  } else {
    for (int k = 0; k < rank; k++) {
      if (in->dims[k].v < 0) return EMBER_OK; /* might be 1 */
      drop[k] = in->dims[k].v == 1;
    }
  }
  int r = 0;
  for (int k = 0; k < rank; k++)
    if (!drop[k]) o->dims[r++] = in->dims[k];
  o->rank = r;
  return EMBER_OK;
}

const emb_opdef emb_op_squeeze = {1, 2, 1, 1, 0,
                                  squeeze_init, squeeze_infer,
                                  copy_same_order};

static ember_status unsqueeze_init(emb_init_ctx *c) {
  return axes_attr_init(c, true);
}

static ember_status unsqueeze_infer(emb_infer_ctx *c) {
  if (need_inputs(c, c->node->opset >= 13 ? 2 : 1)) return c->diag->status;
  ember_status st = need_tensor(c, 0);
  if (st) return st;
  int32_t dt = in_dtype(c, 0);
  int rank = in_rank(c, 0);
  int64_t axes[2 * EMB_MAX_RANK];
  size_t n;
  bool given, known;
  st = axes_get(c, axes, &n, &given, &known);
  if (st) return st;
  emb_type *o = &c->out[0];
  out_unknown_rank(o, dt);
  if (rank < 0) return EMBER_OK;
  if (!known) {
    const emb_type *t = c->in[1];
    if (t->kind && t->rank == 1 && t->dims[0].v >= 0) {
      st = check_rank(c, rank + t->dims[0].v);
      if (st) return st;
      emb_type_tensor(o, dt, rank + (int)t->dims[0].v, NULL);
    }
    return EMBER_OK;
  }
  int out_r = rank + (int)n;
  st = check_rank(c, out_r);
  if (st) return st;
  int ks[2 * EMB_MAX_RANK];
  st = norm_axes(c, axes, n, out_r, ks, value_status(c));
  if (st) return st;
  bool ins[EMB_MAX_RANK] = {false};
  for (size_t i = 0; i < n; i++) ins[ks[i]] = true;
  emb_type_tensor(o, dt, out_r, NULL);
  for (int k = 0, j = 0; k < out_r; k++) {
    if (ins[k])
      o->dims[k].v = 1;
    else
      o->dims[k] = c->in[0]->dims[j++];
  }
  return EMBER_OK;
}

const emb_opdef emb_op_unsqueeze = {1, 2, 1, 1, 0,
                                    unsqueeze_init, unsqueeze_infer,
                                    copy_same_order};

/* ============================================================= Expand */

static ember_status expand_infer(emb_infer_ctx *c) {
  if (need_inputs(c, 2)) return c->diag->status;
  ember_status st = need_tensor(c, 0);
  if (!st) st = no_packed(c, 0);
  if (!st) st = need_index_type(c, 1, true);
  if (st) return st;
  int32_t dt = in_dtype(c, 0);
  int rank = in_rank(c, 0);
  const emb_tensor *sv = in_value(c, 1);
  emb_type *o = &c->out[0];
  out_unknown_rank(o, dt);
  if (!sv) {
    const emb_type *t = c->in[1];
    if (rank >= 0 && t && t->kind && t->rank == 1 && t->dims[0].v >= 0) {
      int r = (int)(t->dims[0].v > rank ? t->dims[0].v : rank);
      st = check_rank(c, r);
      if (st) return st;
      emb_type_tensor(o, dt, r, NULL);
    }
    return EMBER_OK;
  }
  int64_t shape[EMB_MAX_RANK];
  size_t n;
  st = read_ints(c, sv, "shape", shape, EMB_MAX_RANK, &n);
  if (st) return st;
  for (size_t i = 0; i < n; i++)
    if (shape[i] < 0)
      return emb_op_fail(c->diag, c->node, value_status(c),
                         "the shape has a negative entry %lld",
                         (long long)shape[i]);
  if (rank < 0) return EMBER_OK;
  emb_type want;
  emb_type_tensor(&want, dt, (int)n, shape);
  const emb_type *both[2] = {c->in[0], &want};
  st = emb_infer_broadcast(c, 2, both, o);
  o->dtype = dt;
  return st;
}

static ember_status expand_run(emb_run_ctx *c) {
  const emb_tensor *in = emb_in_t(c, 0);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out || !emb_tensor_numel(out)) return EMBER_OK;
  emb_mv m;
  ember_status st = emb_mv_begin(c, in, out, 0, &m);
  if (st) return st;
  int rank = out->rank;
  size_t es = m.esize, dims[EMB_MAX_RANK];
  int64_t str[EMB_MAX_RANK];
  ptrdiff_t ss[EMB_MAX_RANK], ds[EMB_MAX_RANK];
  emb_broadcast_strides(rank, out->dims, in->rank, in->dims, str);
  byte_strides(rank, out->dims, es, ds);
  for (int k = 0; k < rank; k++) {
    dims[k] = (size_t)out->dims[k];
    ss[k] = (ptrdiff_t)str[k] * (ptrdiff_t)es;
  }
  if (emb_tensor_numel(out))
    ember_xx_copy_nd__scalar(es, (size_t)rank, dims, m.src, ss, m.dst, ds);
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_expand = {2, 2, 1, 1, 0, NULL, expand_infer,
                                 expand_run};

/* ======================================================== Shape, Size */

typedef struct shape_state {
  int64_t start, end;
  bool has_end;
} shape_state;

static ember_status shape_init(emb_init_ctx *c) {
  shape_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st = emb_attr_int(c->node, "start", 0, &s->start, c->diag);
  if (!st) st = emb_attr_int(c->node, "end", 0, &s->end, c->diag);
  if (st) return st;
  s->has_end = emb_node_attr(c->node, "end") != NULL;
  c->node->state = s;
  return EMBER_OK;
}

/* The [lo, hi) range of axes reported, clamped to [0, rank]. */
static void shape_range(const shape_state *s, int rank, int *lo, int *hi) {
  int64_t a = s->start, b = s->has_end ? s->end : rank;
  if (a < 0) a += rank;
  if (b < 0) b += rank;
  a = a < 0 ? 0 : (a > rank ? rank : a);
  b = b < 0 ? 0 : (b > rank ? rank : b);
  *lo = (int)a;
  *hi = (int)(b > a ? b : a);
}

static ember_status shape_infer(emb_infer_ctx *c) {
  if (need_inputs(c, 1)) return c->diag->status;
  const shape_state *s = c->node->state;
  ember_status st = need_tensor(c, 0);
  if (st) return st;
  int rank = in_rank(c, 0);
  emb_type_tensor(&c->out[0], EMBER_INT64, 1, NULL);
  if (rank >= 0) {
    int lo, hi;
    shape_range(s, rank, &lo, &hi);
    c->out[0].dims[0].v = hi - lo;
  }
  return EMBER_OK;
}

/* Reads only the input's rank and dims, never its data, so the loader may
 * fold it from a static type with a data-less tensor. */
static ember_status shape_run(emb_run_ctx *c) {
  const shape_state *s = c->node->state;
  const emb_tensor *in = emb_in_t(c, 0);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  int lo, hi;
  shape_range(s, in->rank, &lo, &hi);
  int64_t *p = out->data;
  for (int k = lo; k < hi; k++) p[k - lo] = in->dims[k];
  return EMBER_OK;
}

const emb_opdef emb_op_shape = {1, 1, 1, 1, EMB_OP_SHAPE_ONLY, shape_init,
                                 shape_infer,
                                shape_run};

static ember_status size_infer(emb_infer_ctx *c) {
  if (need_inputs(c, 1)) return c->diag->status;
  ember_status st = need_tensor(c, 0);
  if (st) return st;
  emb_type_tensor(&c->out[0], EMBER_INT64, 0, NULL);
  return EMBER_OK;
}

/* Like Shape, reads only the dims. */
static ember_status size_run(emb_run_ctx *c) {
  const emb_tensor *in = emb_in_t(c, 0);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  size_t n;
  if (!emb_shape_numel(in->rank, in->dims, &n) || n > INT64_MAX)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "element count overflows");
  *(int64_t *)out->data = (int64_t)n;
  return EMBER_OK;
}

const emb_opdef emb_op_size = {1, 1, 1, 1, EMB_OP_SHAPE_ONLY, NULL,
                                size_infer, size_run};

/* =========================================================== Constant */

/* The value, built at load; a view into the model arena. */
typedef struct constant_state {
  emb_tensor t;
} constant_state;

static ember_status constant_init(emb_init_ctx *c) {
  static const char *const names[] = {
      "value",      "sparse_value", "value_float",  "value_floats",
      "value_int",  "value_ints",   "value_string", "value_strings"};
  const emb_node *n = c->node;
  const emb_attr *a = NULL;
  for (size_t i = 0; i < EMB_ARRAY_LEN(names); i++) {
    const emb_attr *b = emb_node_attr(n, names[i]);
    if (!b) continue;
    if (a)
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "attributes '%s' and '%s' are both given", a->name,
                         b->name);
    a = b;
  }
  if (!a)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "no value attribute is given");
  constant_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  emb_tensor *t = &s->t;
  emb_arena *ar = &c->ir->arena;
  const char *name = a->name;
  int want;
  if (!strcmp(name, "value"))
    want = EMB_ATTR_TENSOR;
  else if (!strcmp(name, "sparse_value"))
    want = EMB_ATTR_SPARSE_TENSOR;
  else if (!strcmp(name, "value_float"))
    want = EMB_ATTR_FLOAT;
  else if (!strcmp(name, "value_floats"))
    want = EMB_ATTR_FLOATS;
  else if (!strcmp(name, "value_int"))
    want = EMB_ATTR_INT;
  else if (!strcmp(name, "value_ints"))
    want = EMB_ATTR_INTS;
  else if (!strcmp(name, "value_string"))
    want = EMB_ATTR_STRING;
  else
    want = EMB_ATTR_STRINGS;
  if (a->type != want)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "attribute '%s' has the wrong type", name);
  size_t cnt = 1;
  switch (want) {
    case EMB_ATTR_TENSOR:
    case EMB_ATTR_SPARSE_TENSOR:
      if (!a->t)
        return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                           "attribute '%s' holds no tensor", name);
      emb_tensor_view(t, a->t);
      c->node->state = s;
      return EMBER_OK;
    case EMB_ATTR_FLOAT:
      t->dtype = EMBER_FLOAT;
      break;
    case EMB_ATTR_INT:
      t->dtype = EMBER_INT64;
      break;
    case EMB_ATTR_STRING:
      t->dtype = EMBER_STRING;
      break;
    default:
      cnt = a->n;
      t->rank = 1;
      t->dims[0] = (int64_t)cnt;
      t->dtype = want == EMB_ATTR_FLOATS ? EMBER_FLOAT
                 : want == EMB_ATTR_INTS ? EMBER_INT64
                                         : EMBER_STRING;
      break;
  }
  t->nbytes = ember_dtype_bytes(t->dtype, cnt);
  t->data = emb_arena_alloc(ar, t->nbytes ? t->nbytes : 1);
  if (!t->data)
    return emb_op_fail(c->diag, n, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
  switch (want) {
    case EMB_ATTR_FLOAT: *(float *)t->data = a->f; break;
    case EMB_ATTR_INT: *(int64_t *)t->data = a->i; break;
    case EMB_ATTR_STRING: *(const char **)t->data = a->s; break;
    case EMB_ATTR_FLOATS:
      if (cnt) memcpy(t->data, a->floats, cnt * sizeof(float));
      break;
    case EMB_ATTR_INTS:
      if (cnt) memcpy(t->data, a->ints, cnt * sizeof(int64_t));
      break;
    default:
      if (cnt) memcpy(t->data, a->strings, cnt * sizeof(char *));
      break;
  }
  t->owned = false;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status constant_infer(emb_infer_ctx *c) {
  const constant_state *s = c->node->state;
  emb_type_tensor(&c->out[0], s->t.dtype, s->t.rank, s->t.dims);
  return EMBER_OK;
}

static ember_status constant_run(emb_run_ctx *c) {
  const constant_state *s = c->node->state;
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  if (out->nbytes != s->t.nbytes)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "output buffer does not match the value");
  if (out->dtype == EMBER_STRING) {
    char **to = out->data;
    char *const *from = s->t.data;
    size_t n = out->nbytes / sizeof(char *);
    for (size_t i = 0; i < n; i++) {
      char *dup = strdup(from[i] ? from[i] : "");
      if (!dup)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                           "out of memory copying strings");
      free(to[i]);
      to[i] = dup;
    }
  } else if (out->nbytes) {
    memcpy(out->data, s->t.data, out->nbytes);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_constant = {0, 0, 1, 1, 0, constant_init,
                                   constant_infer, constant_run};

/* ==================================================== ConstantOfShape */

typedef struct cos_state {
  const emb_tensor *value; /* one element; NULL: float 0 */
} cos_state;

static ember_status cos_init(emb_init_ctx *c) {
  cos_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  const emb_attr *a = emb_node_attr(c->node, "value");
  if (a) {
    if (a->type != EMB_ATTR_TENSOR || !a->t)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "attribute 'value' must be a tensor");
    if (emb_tensor_numel(a->t) != 1)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "attribute 'value' must hold one element, not %zu",
                         emb_tensor_numel(a->t));
    if (!emb_mv_esize(a->t->dtype))
      return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                         "attribute 'value' has an unsupported type");
    s->value = a->t;
  }
  c->node->state = s;
  return EMBER_OK;
}

static ember_status cos_infer(emb_infer_ctx *c) {
  if (need_inputs(c, 1)) return c->diag->status;
  const cos_state *s = c->node->state;
  ember_status st = need_index_type(c, 0, true);
  if (st) return st;
  int32_t dt = s->value ? s->value->dtype : EMBER_FLOAT;
  const emb_tensor *sv = in_value(c, 0);
  emb_type *o = &c->out[0];
  out_unknown_rank(o, dt);
  if (!sv) {
    const emb_type *t = c->in[0];
    if (t && t->kind && t->rank == 1 && t->dims[0].v >= 0) {
      st = check_rank(c, t->dims[0].v);
      if (st) return st;
      emb_type_tensor(o, dt, (int)t->dims[0].v, NULL);
    }
    return EMBER_OK;
  }
  int64_t shape[EMB_MAX_RANK];
  size_t n;
  st = read_ints(c, sv, "shape", shape, EMB_MAX_RANK, &n);
  if (st) return st;
  for (size_t i = 0; i < n; i++)
    if (shape[i] < 0)
      return emb_op_fail(c->diag, c->node, value_status(c),
                         "the shape has a negative entry %lld",
                         (long long)shape[i]);
  emb_type_tensor(o, dt, (int)n, shape);
  return EMBER_OK;
}

static ember_status cos_run(emb_run_ctx *c) {
  const cos_state *s = c->node->state;
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  size_t n = emb_tensor_numel(out);
  if (!n) return EMBER_OK;
  if (!s->value) { /* float 0 */
    memset(out->data, 0, out->nbytes);
    return EMBER_OK;
  }
  int bits = emb_dtype_bits(out->dtype);
  if (out->dtype == EMBER_STRING) {
    const char *v = *(char *const *)s->value->data;
    char **to = out->data;
    for (size_t i = 0; i < n; i++) {
      char *dup = strdup(v ? v : "");
      if (!dup)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                           "out of memory filling strings");
      free(to[i]);
      to[i] = dup;
    }
  } else if (bits < 8) {
    /* Replicate the packed code across each byte, then clear the unused
     * high bits of the last one. */
    uint8_t v;
    emb_mv_elem(s->value, 0, &v);
    uint8_t b = 0;
    for (int k = 0; k < 8; k += bits) b |= (uint8_t)(v << k);
    memset(out->data, b, out->nbytes);
    size_t used = (n * (size_t)bits) % 8;
    if (used)
      ((uint8_t *)out->data)[out->nbytes - 1] &= (uint8_t)((1u << used) - 1);
  } else {
    ember_xx_fill__scalar((size_t)bits / 8, n, s->value->data, out->data);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_constantofshape = {1, 1, 1, 1, 0, cos_init,
                                          cos_infer, cos_run};

/* ============================================================== Range */

static const int32_t range_types[] = {EMBER_FLOAT,   EMBER_DOUBLE,
                                      EMBER_INT16,   EMBER_INT32,
                                      EMBER_INT64,   EMBER_FLOAT16,
                                      EMBER_BFLOAT16, 0};

/* Element count of the range; integers exactly, floats in double (the
 * float16/bfloat16 "stash" precision is float, which double contains). */
static ember_status range_count(const emb_node *node, emb_diag *d,
                                ember_status bad, const emb_tensor *const *v,
                                int64_t *count) {
  for (int i = 0; i < 3; i++)
    if (emb_tensor_numel(v[i]) != 1)
      return emb_op_fail(d, node, bad, "input %d must be a scalar", i);
  if (emb_dtype_is_int(v[0]->dtype)) {
    int64_t a = emb_tensor_get_i64(v[0], 0), b = emb_tensor_get_i64(v[1], 0);
    int64_t s = emb_tensor_get_i64(v[2], 0);
    if (s == 0) return emb_op_fail(d, node, bad, "delta is 0");
    uint64_t span, mag;
    if (s > 0) {
      if (b <= a) return *count = 0, EMBER_OK;
      span = (uint64_t)b - (uint64_t)a;
      mag = (uint64_t)s;
    } else {
      if (a <= b) return *count = 0, EMBER_OK;
      span = (uint64_t)a - (uint64_t)b;
      mag = s == INT64_MIN ? (uint64_t)INT64_MAX + 1 : (uint64_t)(-s);
    }
    *count = (int64_t)((span - 1) / mag + 1);
    return EMBER_OK;
  }
  double a = emb_tensor_get_f64(v[0], 0), b = emb_tensor_get_f64(v[1], 0);
  double s = emb_tensor_get_f64(v[2], 0);
  if (s == 0) return emb_op_fail(d, node, bad, "delta is 0");
  double n = ceil((b - a) / s);
  if (isnan(n))
    return emb_op_fail(d, node, bad, "the range is not a number");
  if (n > 1e15)
    return emb_op_fail(d, node, EMBER_ERR_LIMIT, "the range is too long");
  *count = n > 0 ? (int64_t)n : 0;
  return EMBER_OK;
}

static ember_status range_infer(emb_infer_ctx *c) {
  if (need_inputs(c, 3)) return c->diag->status;
  for (int i = 0; i < 3; i++) {
    ember_status st = need_tensor(c, i);
    if (!st) st = emb_infer_check_dtype(c, i, range_types);
    if (st) return st;
  }
  ember_status st = emb_infer_same_dtype(c, 0, 2);
  if (st) return st;
  int32_t dt = in_dtype(c, 0);
  emb_type_tensor(&c->out[0], dt, 1, NULL);
  const emb_tensor *v[3] = {in_value(c, 0), in_value(c, 1), in_value(c, 2)};
  if (!v[0] || !v[1] || !v[2]) return EMBER_OK;
  int64_t n = 0;
  st = range_count(c->node, c->diag, value_status(c), v, &n);
  if (st) return st;
  c->out[0].dims[0].v = n;
  return EMBER_OK;
}

static ember_status range_run(emb_run_ctx *c) {
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  int64_t stash;
  ember_status st = emb_attr_int(c->node, "stash_type", 1, &stash, c->diag);
  if (st) return st;
  const emb_tensor *v[3] = {emb_in_t(c, 0), emb_in_t(c, 1), emb_in_t(c, 2)};
  size_t n = emb_tensor_numel(out);
  if (emb_dtype_is_int(out->dtype)) {
    int64_t a = emb_tensor_get_i64(v[0], 0), s = emb_tensor_get_i64(v[2], 0);
    for (size_t i = 0; i < n; i++)
      emb_tensor_set_i64(out, i, (int64_t)((uint64_t)a + (uint64_t)i *
                                                             (uint64_t)s));
    return EMBER_OK;
  }
  double a = emb_tensor_get_f64(v[0], 0), s = emb_tensor_get_f64(v[2], 0);
  if ((out->dtype == EMBER_FLOAT16 || out->dtype == EMBER_BFLOAT16) &&
      stash == out->dtype) {
    /* Range-27 with the stash in the type itself: successive additions,
     * each rounded to the type. */
    for (size_t i = 0; i < n; i++) {
      emb_tensor_set_f64(out, i, a);
      a = emb_tensor_get_f64(out, i) + s;
    }
  } else if (out->dtype == EMBER_FLOAT) {
    float *p = out->data;
    for (size_t i = 0; i < n; i++) p[i] = (float)(a + (double)i * s);
  } else {
    for (size_t i = 0; i < n; i++)
      emb_tensor_set_f64(out, i, a + (double)i * s);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_range = {3, 3, 1, 1, 0, NULL, range_infer,
                                range_run};

/* =============================================================== Tile */

/* Repeats per axis: Tile-1 took (tiles, axis) scalars, later versions a
 * 'repeats' vector.  *known false when the values are not known yet. */
static ember_status tile_repeats(const emb_node *node, emb_diag *d,
                                 ember_status bad, int rank,
                                 const emb_tensor *r, const emb_tensor *ax,
                                 int64_t *rep) {
  if (node->opset < 6) {
    if (!ax)
      return emb_op_fail(d, node, EMBER_ERR_INVALID_MODEL,
                         "input 'axis' is required");
    if (emb_tensor_numel(r) != 1 || emb_tensor_numel(ax) != 1)
      return emb_op_fail(d, node, bad, "'tiles' and 'axis' must be scalars");
    int64_t a = emb_tensor_get_i64(ax, 0);
    if (a < -(int64_t)rank || a >= rank)
      return emb_op_fail(d, node, bad, "axis %lld is out of range for rank %d",
                         (long long)a, rank);
    if (a < 0) a += rank;
    for (int k = 0; k < rank; k++) rep[k] = 1;
    rep[a] = emb_tensor_get_i64(r, 0);
  } else {
    size_t n;
    ember_status st =
        read_ints_n(node, d, r, "repeats", rep, EMB_MAX_RANK, &n);
    if (st) return st;
    if (n != (size_t)rank)
      return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                         "'repeats' has %zu values but the input has rank "
                         "%d",
                         n, rank);
  }
  for (int k = 0; k < rank; k++)
    if (rep[k] < 0)
      return emb_op_fail(d, node, bad, "negative repeat count %lld",
                         (long long)rep[k]);
  return EMBER_OK;
}

static ember_status tile_infer(emb_infer_ctx *c) {
  if (need_inputs(c, c->node->opset >= 6 ? 2 : 3)) return c->diag->status;
  ember_status st = need_tensor(c, 0);
  if (!st) st = no_packed(c, 0);
  if (!st && c->node->opset >= 6) st = need_index_type(c, 1, true);
  if (st) return st;
  int32_t dt = in_dtype(c, 0);
  int rank = in_rank(c, 0);
  emb_type *o = &c->out[0];
  out_unknown_rank(o, dt);
  if (rank < 0) return EMBER_OK;
  emb_type_tensor(o, dt, rank, NULL);
  const emb_tensor *r = in_value(c, 1), *ax = in_value(c, 2);
  if (!r || (c->node->opset < 6 && !ax)) return EMBER_OK;
  int64_t rep[EMB_MAX_RANK];
  st = tile_repeats(c->node, c->diag, value_status(c), rank, r, ax, rep);
  if (st) return st;
  for (int k = 0; k < rank; k++) {
    emb_dim d = c->in[0]->dims[k];
    if (rep[k] == 1)
      o->dims[k] = d;
    else if (rep[k] == 0)
      o->dims[k].v = 0;
    else if (d.v >= 0 && !emb_mul_i64(d.v, rep[k], &o->dims[k].v))
      return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                         "the result is too large");
  }
  return EMBER_OK;
}

static ember_status tile_run(emb_run_ctx *c) {
  const emb_tensor *in = emb_in_t(c, 0);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out || !emb_tensor_numel(out)) return EMBER_OK;
  int rank = in->rank;
  int64_t rep[EMB_MAX_RANK];
  ember_status st = tile_repeats(c->node, c->diag, EMBER_ERR_RUNTIME, rank,
                                 emb_in_t(c, 1), emb_in_t(c, 2), rep);
  if (st) return st;
  emb_mv m;
  st = emb_mv_begin(c, in, out, 0, &m);
  if (st) return st;
  /* The output seen as [rep0, d0, rep1, d1, ...] in row-major order: the
   * repeat axes read the input with stride 0. */
  size_t es = m.esize, dims[2 * EMB_MAX_RANK];
  ptrdiff_t is[EMB_MAX_RANK], ss[2 * EMB_MAX_RANK], ds[2 * EMB_MAX_RANK];
  byte_strides(rank, in->dims, es, is);
  ptrdiff_t s = (ptrdiff_t)es;
  for (int k = rank - 1; k >= 0; k--) {
    dims[2 * k] = (size_t)rep[k];
    dims[2 * k + 1] = (size_t)in->dims[k];
    ss[2 * k] = 0;
    ss[2 * k + 1] = is[k];
    ds[2 * k + 1] = s;
    s *= (ptrdiff_t)in->dims[k];
    ds[2 * k] = s;
    s *= (ptrdiff_t)rep[k];
  }
  ember_xx_copy_nd__scalar(es, 2 * (size_t)rank, dims, m.src, ss, m.dst, ds);
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_tile = {2, 3, 1, 1, 0, NULL, tile_infer, tile_run};
