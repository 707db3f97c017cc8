/*
 * Sequence and optional operators: SequenceConstruct, SequenceEmpty,
 * SequenceInsert, SequenceErase, SequenceAt, SequenceLength,
 * SplitToSequence and ConcatFromSequence (opset 11 on), SequenceMap
 * (opset 17 on) and Optional, OptionalHasElement, OptionalGetElement
 * (opset 15 on).  A sequence is a run-time emb_value of kind
 * EMB_VK_SEQUENCE owning its tensors; its static type is an emb_type of
 * kind EMBER_KIND_SEQUENCE whose dtype/rank/dims describe every element
 * (rank -1 when the elements' shapes are not known to agree).  An optional
 * has no wrapper at run time: a present one is just its tensor or sequence
 * value, an absent one a value of kind EMB_VK_NONE (or no value at all, for
 * an omitted input); its static type is kind EMBER_KIND_OPTIONAL with
 * elem_kind saying what it holds.  Ops that make a sequence or an optional
 * build it themselves (EMB_OP_OWN_OUTPUTS), into a temporary that replaces
 * the output slot only on success, so a failed run never leaves a
 * half-built value behind.  Ops that make a tensor from a sequence
 * (SequenceAt, ConcatFromSequence) compute the exact shape in infer at run
 * from the actual sequence, so the executor allocates their output like
 * any other tensor.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

static const int32_t seq_pos_dtypes[] = {EMBER_INT32, EMBER_INT64, 0};

/* ------------------------------------------------------------- helpers */

/* Input i at infer must be a sequence (or not known yet). */
static ember_status seq_want_seq(emb_infer_ctx *c, int i) {
  const emb_type *t = i < c->n_in ? c->in[i] : NULL;
  if (!t)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "input %d (a sequence) is required", i);
  if (t->kind && t->kind != EMBER_KIND_SEQUENCE)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input %d must be a sequence of tensors", i);
  if (c->at_run && c->rvalues && c->rvalues[i] &&
      c->rvalues[i]->kind != EMB_VK_SEQUENCE)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input %d must be a sequence of tensors", i);
  return EMBER_OK;
}

/* Input i at infer must be a tensor (or not known yet). */
static ember_status seq_want_tensor(emb_infer_ctx *c, int i) {
  const emb_type *t = i < c->n_in ? c->in[i] : NULL;
  if (!t)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "input %d (a tensor) is required", i);
  if (t->kind && t->kind != EMBER_KIND_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input %d must be a tensor", i);
  return EMBER_OK;
}

/* The run-time sequence at input i, or NULL after reporting an error. */
static const emb_seq *seq_run_in(emb_run_ctx *c, int i) {
  const emb_value *v = i < c->n_in ? c->in[i] : NULL;
  if (!v || v->kind != EMB_VK_SEQUENCE) {
    emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                "input %d must be a sequence of tensors", i);
    return NULL;
  }
  return &v->seq;
}

/* The type of a sequence whose elements are described by `elem`. */
static void seq_type_of(emb_type *out, const emb_type *elem) {
  *out = *elem;
  out->kind = EMBER_KIND_SEQUENCE;
  out->elem_kind = EMBER_KIND_TENSOR;
}

/* Narrow the element description `acc` so that it also covers `t`: dims
 * that differ (or are unknown on either side) become unknown. */
static void seq_type_merge(emb_type *acc, const emb_type *t) {
  if (!acc->dtype) acc->dtype = t->dtype;
  if (acc->rank < 0) return;
  if (t->rank != acc->rank) {
    acc->rank = -1;
    return;
  }
  for (int k = 0; k < acc->rank; k++) {
    emb_dim a = acc->dims[k], b = t->dims[k];
    bool same = (a.v >= 0 && a.v == b.v) || (a.v < 0 && b.v < 0 && a.sym &&
                                             a.sym == b.sym);
    if (!same) acc->dims[k] = (emb_dim){-1, 0};
  }
}

/* At load: the optional position input i must be an integer scalar (a
 * one-element 1-D tensor is tolerated, as some exporters write one). */
static ember_status seq_infer_pos(emb_infer_ctx *c, int i) {
  if (i >= c->n_in || !c->in[i]) return EMBER_OK;
  ember_status st = seq_want_tensor(c, i);
  if (st) return st;
  st = emb_infer_check_dtype(c, i, seq_pos_dtypes);
  if (st) return st;
  const emb_type *t = c->in[i];
  if (t->rank > 1 || (t->rank == 1 && t->dims[0].v >= 0 && t->dims[0].v != 1))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "position (input %d) must be a scalar", i);
  return EMBER_OK;
}

/* Read a position tensor and resolve it against a sequence of n tensors;
 * the accepted range is [-n, n - 1], or [-n, n] when `end_ok` (insert). */
static ember_status seq_position(const emb_node *node, emb_diag *d,
                                 const emb_tensor *t, size_t n, bool end_ok,
                                 size_t *out) {
  if (t->dtype != EMBER_INT32 && t->dtype != EMBER_INT64)
    return emb_op_fail(d, node, EMBER_ERR_TYPE,
                       "position must be int32 or int64, not %s",
                       ember_dtype_name(t->dtype));
  if (t->rank > 1 || emb_tensor_numel(t) != 1)
    return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                       "position must be a scalar");
  int64_t p = emb_tensor_get_i64(t, 0);
  int64_t len = (int64_t)n, hi = end_ok ? len : len - 1;
  if (hi < 0)
    return emb_op_fail(d, node, EMBER_ERR_RUNTIME,
                       "position %lld is out of range: the sequence is empty",
                       (long long)p);
  if (p < -len || p > hi)
    return emb_op_fail(d, node, EMBER_ERR_RUNTIME,
                       "position %lld is out of range [%lld, %lld] for a "
                       "sequence of %zu tensors",
                       (long long)p, (long long)-len, (long long)hi, n);
  *out = (size_t)(p < 0 ? p + len : p);
  return EMBER_OK;
}

/* Replace output 0 with the sequence built in tmp (which is consumed). */
static void seq_set_out(emb_run_ctx *c, emb_value *tmp) {
  if (c->n_out < 1 || !c->out[0]) {
    emb_value_clear(tmp);
    return;
  }
  emb_value_clear(c->out[0]);
  *c->out[0] = *tmp;
}

/* strdup is POSIX, not C11. */
static char *seq_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* Copy n elements from src (from element so) to dst (from element dof),
 * both of dtype `dt`, element size es bytes.  String elements are
 * duplicated (dst's old strings are freed).  false on out of memory. */
static bool seq_copy_elems(emb_tensor *dst, size_t dof, const emb_tensor *src,
                           size_t so, size_t n, size_t es) {
  if (!n) return true;
  if (src->dtype == EMBER_STRING) {
    char **to = (char **)dst->data + dof;
    char *const *from = (char *const *)src->data + so;
    for (size_t i = 0; i < n; i++) {
      char *s = seq_strdup(from[i] ? from[i] : "");
      if (!s) return false;
      free(to[i]);
      to[i] = s;
    }
    return true;
  }
  memcpy((char *)dst->data + dof * es, (const char *)src->data + so * es,
         n * es);
  return true;
}

/* Element size in bytes for the split/concat copies; 0 for the packed
 * sub-byte types, which they do not handle. */
static size_t seq_elem_size(int32_t dtype) {
  int bits = emb_dtype_bits(dtype);
  return bits >= 8 ? (size_t)bits / 8 : 0;
}

/* --------------------------------------------------- SequenceConstruct */

static ember_status seqconstruct_infer(emb_infer_ctx *c) {
  emb_type acc;
  for (int i = 0; i < c->n_in; i++) {
    ember_status st = seq_want_tensor(c, i);
    if (st) return st;
  }
  ember_status st = emb_infer_same_dtype(c, 0, c->n_in - 1);
  if (st) return st;
  acc = *c->in[0];
  for (int i = 1; i < c->n_in; i++) seq_type_merge(&acc, c->in[i]);
  seq_type_of(&c->out[0], &acc);
  return EMBER_OK;
}

static ember_status seqconstruct_run(emb_run_ctx *c) {
  emb_value tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.kind = EMB_VK_SEQUENCE;
  for (int i = 0; i < c->n_in; i++) {
    const emb_value *v = c->in[i];
    if (!v || v->kind != EMB_VK_TENSOR) {
      emb_value_clear(&tmp);
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "input %d must be a tensor", i);
    }
    if (i && v->t.dtype != tmp.seq.elem_dtype) {
      emb_value_clear(&tmp);
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "input %d has element type %s but input 0 has %s",
                         i, ember_dtype_name(v->t.dtype),
                         ember_dtype_name(tmp.seq.elem_dtype));
    }
    ember_status st = emb_seq_push(&tmp, &v->t, c->diag);
    if (st) {
      emb_value_clear(&tmp);
      return st;
    }
  }
  seq_set_out(c, &tmp);
  return EMBER_OK;
}

const emb_opdef emb_op_sequenceconstruct = {
    1, -1, 1, 1, EMB_OP_OWN_OUTPUTS | EMB_OP_NO_FOLD,
    NULL, seqconstruct_infer, seqconstruct_run};

/* ------------------------------------------------------- SequenceEmpty */

typedef struct seqempty_state {
  int32_t dtype;
} seqempty_state;

static ember_status seqempty_init(emb_init_ctx *c) {
  int64_t dt;
  ember_status st = emb_attr_int(c->node, "dtype", EMBER_FLOAT, &dt, c->diag);
  if (st) return st;
  if (dt <= 0 || dt > INT32_MAX || !emb_dtype_valid((int32_t)dt))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'dtype' is %lld, not a tensor element type",
                       (long long)dt);
  seqempty_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->dtype = (int32_t)dt;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status seqempty_infer(emb_infer_ctx *c) {
  const seqempty_state *s = c->node->state;
  emb_type_unknown(&c->out[0]);
  c->out[0].kind = EMBER_KIND_SEQUENCE;
  c->out[0].elem_kind = EMBER_KIND_TENSOR;
  c->out[0].dtype = s->dtype;
  return EMBER_OK;
}

static ember_status seqempty_run(emb_run_ctx *c) {
  const seqempty_state *s = c->node->state;
  emb_value tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.kind = EMB_VK_SEQUENCE;
  tmp.seq.elem_dtype = s->dtype;
  seq_set_out(c, &tmp);
  return EMBER_OK;
}

const emb_opdef emb_op_sequenceempty = {
    0, 0, 1, 1, EMB_OP_OWN_OUTPUTS | EMB_OP_NO_FOLD,
    seqempty_init, seqempty_infer, seqempty_run};

/* ------------------------------------------------------ SequenceInsert */

static ember_status seqinsert_infer(emb_infer_ctx *c) {
  ember_status st = seq_want_seq(c, 0);
  if (!st) st = seq_want_tensor(c, 1);
  if (!st) st = seq_infer_pos(c, 2);
  if (st) return st;
  const emb_type *s = c->in[0], *t = c->in[1];
  if (s->kind && t->kind && s->dtype && t->dtype && s->dtype != t->dtype)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "cannot insert a tensor of %s into a sequence of %s",
                       ember_dtype_name(t->dtype), ember_dtype_name(s->dtype));
  emb_type acc = *s;
  if (!s->kind) emb_type_unknown(&acc);
  seq_type_merge(&acc, t);
  seq_type_of(&c->out[0], &acc);
  return EMBER_OK;
}

static ember_status seqinsert_run(emb_run_ctx *c) {
  const emb_seq *s = seq_run_in(c, 0);
  if (!s) return c->diag->status;
  const emb_tensor *t = emb_in_t(c, 1);
  if (!t || c->in[1]->kind != EMB_VK_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input 1 must be a tensor");
  if (s->elem_dtype && t->dtype != s->elem_dtype)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "cannot insert a tensor of %s into a sequence of %s",
                       ember_dtype_name(t->dtype),
                       ember_dtype_name(s->elem_dtype));
  size_t pos = s->count;
  const emb_tensor *pt = emb_in_t(c, 2);
  if (pt) {
    ember_status st =
        seq_position(c->node, c->diag, pt, s->count, true, &pos);
    if (st) return st;
  }
  emb_value tmp;
  ember_status st = emb_value_copy(&tmp, c->in[0], c->diag);
  if (st) return st;
  st = emb_seq_insert(&tmp, pos, t, c->diag);
  if (st) {
    emb_value_clear(&tmp);
    return st;
  }
  seq_set_out(c, &tmp);
  return EMBER_OK;
}

const emb_opdef emb_op_sequenceinsert = {
    2, 3, 1, 1, EMB_OP_OWN_OUTPUTS | EMB_OP_NO_FOLD,
    NULL, seqinsert_infer, seqinsert_run};

/* ------------------------------------------------------- SequenceErase */

static ember_status seqerase_infer(emb_infer_ctx *c) {
  ember_status st = seq_want_seq(c, 0);
  if (!st) st = seq_infer_pos(c, 1);
  if (st) return st;
  if (c->in[0]->kind) {
    c->out[0] = *c->in[0];
  } else {
    emb_type_unknown(&c->out[0]);
    c->out[0].kind = EMBER_KIND_SEQUENCE;
    c->out[0].elem_kind = EMBER_KIND_TENSOR;
  }
  return EMBER_OK;
}

static ember_status seqerase_run(emb_run_ctx *c) {
  const emb_seq *s = seq_run_in(c, 0);
  if (!s) return c->diag->status;
  size_t pos = 0;
  const emb_tensor *pt = emb_in_t(c, 1);
  if (pt) {
    ember_status st =
        seq_position(c->node, c->diag, pt, s->count, false, &pos);
    if (st) return st;
  } else if (s->count == 0) {
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "cannot erase from an empty sequence");
  } else {
    pos = s->count - 1;
  }
  emb_value tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.kind = EMB_VK_SEQUENCE;
  tmp.seq.elem_dtype = s->elem_dtype;
  for (size_t i = 0; i < s->count; i++) {
    if (i == pos) continue;
    ember_status st = emb_seq_push(&tmp, &s->items[i], c->diag);
    if (st) {
      emb_value_clear(&tmp);
      return st;
    }
  }
  seq_set_out(c, &tmp);
  return EMBER_OK;
}

const emb_opdef emb_op_sequenceerase = {
    1, 2, 1, 1, EMB_OP_OWN_OUTPUTS | EMB_OP_NO_FOLD,
    NULL, seqerase_infer, seqerase_run};

/* ---------------------------------------------------------- SequenceAt */

/* The position tensor at infer time: a known constant at load, always
 * known at run. */
static const emb_tensor *seq_infer_value(emb_infer_ctx *c, int i) {
  if (i >= c->n_in) return NULL;
  if (c->values && c->values[i]) return c->values[i];
  if (c->at_run && c->rvalues && c->rvalues[i] &&
      c->rvalues[i]->kind == EMB_VK_TENSOR)
    return &c->rvalues[i]->t;
  return NULL;
}

static const emb_seq *seq_infer_run_seq(emb_infer_ctx *c, int i) {
  if (!c->at_run || !c->rvalues || !c->rvalues[i] ||
      c->rvalues[i]->kind != EMB_VK_SEQUENCE)
    return NULL;
  return &c->rvalues[i]->seq;
}

static ember_status seqat_infer(emb_infer_ctx *c) {
  ember_status st = seq_want_seq(c, 0);
  if (!st) st = seq_want_tensor(c, 1);
  if (!st) st = seq_infer_pos(c, 1);
  if (st) return st;
  const emb_seq *s = seq_infer_run_seq(c, 0);
  const emb_tensor *pt = seq_infer_value(c, 1);
  if (s && pt) {
    size_t pos = 0;
    st = seq_position(c->node, c->diag, pt, s->count, false, &pos);
    if (st) return st;
    const emb_tensor *it = &s->items[pos];
    emb_type_tensor(&c->out[0], it->dtype, it->rank, it->dims);
    return EMBER_OK;
  }
  const emb_type *in = c->in[0];
  if (in->kind) {
    c->out[0] = *in;
  } else {
    emb_type_unknown(&c->out[0]);
  }
  c->out[0].kind = EMBER_KIND_TENSOR;
  c->out[0].elem_kind = 0;
  return EMBER_OK;
}

static ember_status seqat_run(emb_run_ctx *c) {
  const emb_seq *s = seq_run_in(c, 0);
  if (!s) return c->diag->status;
  const emb_tensor *pt = emb_in_t(c, 1);
  emb_tensor *y = emb_out_t(c, 0);
  size_t pos = 0;
  if (!pt)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "position (input 1) is required");
  ember_status st = seq_position(c->node, c->diag, pt, s->count, false, &pos);
  if (st || !y) return st;
  const emb_tensor *it = &s->items[pos];
  size_t n = emb_tensor_numel(it);
  if (y->dtype != it->dtype || emb_tensor_numel(y) != n ||
      y->nbytes != it->nbytes)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "output was not allocated with the element's shape");
  if (it->dtype == EMBER_STRING) {
    if (!seq_copy_elems(y, 0, it, 0, n, sizeof(char *)))
      return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                         "out of memory");
  } else if (it->nbytes) {
    memcpy(y->data, it->data, it->nbytes);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_sequenceat = {
    2, 2, 1, 1, 0, NULL, seqat_infer, seqat_run};

/* ------------------------------------------------------ SequenceLength */

static ember_status seqlength_infer(emb_infer_ctx *c) {
  ember_status st = seq_want_seq(c, 0);
  if (st) return st;
  emb_type_tensor(&c->out[0], EMBER_INT64, 0, NULL);
  return EMBER_OK;
}

static ember_status seqlength_run(emb_run_ctx *c) {
  const emb_seq *s = seq_run_in(c, 0);
  if (!s) return c->diag->status;
  emb_tensor *y = emb_out_t(c, 0);
  if (y && y->nbytes >= sizeof(int64_t)) *(int64_t *)y->data = (int64_t)s->count;
  return EMBER_OK;
}

const emb_opdef emb_op_sequencelength = {
    1, 1, 1, 1, 0, NULL, seqlength_infer, seqlength_run};

/* ----------------------------------------------------- SplitToSequence */

typedef struct split_state {
  int64_t axis;
  bool keepdims;
} split_state;

static ember_status split_init(emb_init_ctx *c) {
  int64_t axis, keep;
  ember_status st = emb_attr_int(c->node, "axis", 0, &axis, c->diag);
  if (!st) st = emb_attr_int(c->node, "keepdims", 1, &keep, c->diag);
  if (st) return st;
  if (keep != 0 && keep != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'keepdims' must be 0 or 1, not %lld",
                       (long long)keep);
  split_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->axis = axis;
  s->keepdims = keep != 0;
  c->node->state = s;
  return EMBER_OK;
}

/* Check a known split tensor against the length `dim` of the split axis
 * (-1 when unknown) and say how long every part is: *uniform is that
 * length when all parts are equally long, else -1. */
static ember_status split_check(const emb_node *node, emb_diag *d,
                                ember_status err, const emb_tensor *sp,
                                int64_t dim, int64_t *uniform) {
  if (sp->dtype != EMBER_INT32 && sp->dtype != EMBER_INT64)
    return emb_op_fail(d, node, EMBER_ERR_TYPE,
                       "split must be int32 or int64, not %s",
                       ember_dtype_name(sp->dtype));
  if (sp->rank > 1)
    return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                       "split must be a scalar or a 1-D tensor, not of rank "
                       "%d", (int)sp->rank);
  if (sp->rank == 0) {
    int64_t v = emb_tensor_get_i64(sp, 0);
    if (v <= 0)
      return emb_op_fail(d, node, err,
                         "a scalar split must be positive, not %lld",
                         (long long)v);
    /* Only the last part may be shorter. */
    *uniform = (dim >= 0 && dim % v == 0) ? v : -1;
    return EMBER_OK;
  }
  size_t n = emb_tensor_numel(sp);
  int64_t sum = 0;
  *uniform = n ? emb_tensor_get_i64(sp, 0) : -1;
  for (size_t i = 0; i < n; i++) {
    int64_t v = emb_tensor_get_i64(sp, i);
    if (v < 0)
      return emb_op_fail(d, node, err,
                         "split value %lld (at %zu) is negative",
                         (long long)v, i);
    if (v > INT64_MAX - sum)
      return emb_op_fail(d, node, err, "split values overflow");
    sum += v;
    if (v != *uniform) *uniform = -1;
  }
  if (dim >= 0 && sum != dim)
    return emb_op_fail(d, node, err,
                       "split values add up to %lld but the axis has "
                       "length %lld",
                       (long long)sum, (long long)dim);
  return EMBER_OK;
}

static ember_status split_infer(emb_infer_ctx *c) {
  const split_state *s = c->node->state;
  ember_status st = seq_want_tensor(c, 0);
  if (st) return st;
  bool has_split = c->n_in > 1 && c->in[1];
  if (has_split) {
    st = seq_want_tensor(c, 1);
    if (!st) st = emb_infer_check_dtype(c, 1, seq_pos_dtypes);
    if (st) return st;
    if (c->in[1]->rank > 1)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "split must be a scalar or a 1-D tensor, not of "
                         "rank %d", (int)c->in[1]->rank);
  }
  const emb_type *x = c->in[0];
  if (x->kind && x->dtype && x->dtype != EMBER_STRING &&
      !seq_elem_size(x->dtype))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "splitting %s tensors is not supported",
                       ember_dtype_name(x->dtype));
  emb_type elem = *x;
  if (!x->kind) emb_type_unknown(&elem);
  elem.kind = EMBER_KIND_TENSOR;
  if (x->rank >= 0) {
    int axis;
    st = emb_axis(c->node, s->axis, x->rank, &axis, c->diag);
    if (st) return st;
    emb_dim d = x->dims[axis];
    const emb_tensor *sp = has_split ? seq_infer_value(c, 1) : NULL;
    if (!has_split) {
      if (s->keepdims) {
        elem.dims[axis] = (emb_dim){1, 0};
      } else {
        for (int k = axis; k + 1 < x->rank; k++) elem.dims[k] = x->dims[k + 1];
        elem.dims[x->rank - 1] = (emb_dim){0, 0};
        elem.rank--;
      }
    } else if (sp) {
      int64_t uniform;
      st = split_check(c->node, c->diag,
                       c->at_run ? EMBER_ERR_RUNTIME : EMBER_ERR_INVALID_MODEL,
                       sp, d.v, &uniform);
      if (st) return st;
      elem.dims[axis] = (emb_dim){uniform, 0};
    } else {
      elem.dims[axis] = (emb_dim){-1, 0};
    }
  }
  seq_type_of(&c->out[0], &elem);
  return EMBER_OK;
}

static ember_status split_run(emb_run_ctx *c) {
  const split_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0), *sp = emb_in_t(c, 1);
  if (!x || c->in[0]->kind != EMB_VK_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input 0 must be a tensor");
  size_t es = seq_elem_size(x->dtype);
  if (!es)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "splitting %s tensors is not supported",
                       ember_dtype_name(x->dtype));
  int axis;
  ember_status st = emb_axis(c->node, s->axis, x->rank, &axis, c->diag);
  if (st) return st;
  int64_t dim = x->dims[axis], uniform = 1;
  size_t count;
  if (sp) {
    st = split_check(c->node, c->diag, EMBER_ERR_RUNTIME, sp, dim, &uniform);
    if (st) return st;
    if (sp->rank == 0) {
      uniform = emb_tensor_get_i64(sp, 0);
      count = (size_t)(dim / uniform + (dim % uniform != 0));
    } else {
      count = emb_tensor_numel(sp);
    }
  } else {
    count = (size_t)dim;
  }
  /* Elements before the axis (outer) and after it (inner). */
  size_t outer = 1, inner = 1;
  for (int k = 0; k < axis; k++) outer *= (size_t)x->dims[k];
  for (int k = axis + 1; k < x->rank; k++) inner *= (size_t)x->dims[k];
  bool squeeze = !sp && !s->keepdims;

  emb_value tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.kind = EMB_VK_SEQUENCE;
  tmp.seq.elem_dtype = x->dtype;
  if (count) {
    tmp.seq.items = calloc(count, sizeof *tmp.seq.items);
    if (!tmp.seq.items)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                         "out of memory");
    tmp.seq.cap = count;
  }
  int64_t start = 0;
  for (size_t i = 0; i < count; i++) {
    int64_t len;
    if (!sp || sp->rank == 0)
      len = dim - start < uniform ? dim - start : uniform;
    else
      len = emb_tensor_get_i64(sp, i);
    int64_t dims[EMB_MAX_RANK];
    int rank = 0;
    for (int k = 0; k < x->rank; k++) {
      if (k == axis && squeeze) continue;
      dims[rank++] = k == axis ? len : x->dims[k];
    }
    emb_tensor *it = &tmp.seq.items[i];
    st = emb_tensor_alloc(it, x->dtype, rank, dims, c->diag);
    if (st) {
      emb_value_clear(&tmp);
      return st;
    }
    tmp.seq.count = i + 1;
    size_t block = (size_t)len * inner;
    for (size_t o = 0; o < outer; o++) {
      size_t from = (o * (size_t)dim + (size_t)start) * inner;
      if (!seq_copy_elems(it, o * block, x, from, block, es)) {
        emb_value_clear(&tmp);
        return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                           "out of memory");
      }
    }
    start += len;
  }
  seq_set_out(c, &tmp);
  return EMBER_OK;
}

const emb_opdef emb_op_splittosequence = {
    1, 2, 1, 1, EMB_OP_OWN_OUTPUTS | EMB_OP_NO_FOLD,
    split_init, split_infer, split_run};

/* -------------------------------------------------- ConcatFromSequence */

typedef struct concat_state {
  int64_t axis;
  bool new_axis;
} concat_state;

static ember_status concat_init(emb_init_ctx *c) {
  int64_t axis, new_axis;
  if (!emb_node_attr(c->node, "axis"))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'axis' is required");
  ember_status st = emb_attr_int(c->node, "axis", 0, &axis, c->diag);
  if (!st) st = emb_attr_int(c->node, "new_axis", 0, &new_axis, c->diag);
  if (st) return st;
  if (new_axis != 0 && new_axis != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'new_axis' must be 0 or 1, not %lld",
                       (long long)new_axis);
  concat_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->axis = axis;
  s->new_axis = new_axis != 0;
  c->node->state = s;
  return EMBER_OK;
}

/* Check that the tensors of a run-time sequence can be joined and give
 * the result's shape and the normalised axis (of the result). */
static ember_status concat_shape(const emb_node *node, emb_diag *d,
                                 const concat_state *cs, const emb_seq *s,
                                 int *rank, int64_t *dims, int *axis) {
  if (s->count == 0)
    return emb_op_fail(d, node, EMBER_ERR_RUNTIME,
                       "cannot concatenate an empty sequence");
  const emb_tensor *t0 = &s->items[0];
  int r = t0->rank + (cs->new_axis ? 1 : 0);
  if (r > EMB_MAX_RANK)
    return emb_op_fail(d, node, EMBER_ERR_LIMIT,
                       "result rank %d exceeds the limit %d", r,
                       EMB_MAX_RANK);
  ember_status st = emb_axis(node, cs->axis, r, axis, d);
  if (st) return st;
  int64_t total = 0;
  for (size_t i = 0; i < s->count; i++) {
    const emb_tensor *t = &s->items[i];
    if (t->dtype != t0->dtype)
      return emb_op_fail(d, node, EMBER_ERR_TYPE,
                         "sequence element %zu is %s but element 0 is %s", i,
                         ember_dtype_name(t->dtype),
                         ember_dtype_name(t0->dtype));
    if (t->rank != t0->rank)
      return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                         "sequence element %zu has rank %d but element 0 "
                         "has rank %d",
                         i, (int)t->rank, (int)t0->rank);
    for (int k = 0; k < t->rank; k++) {
      if (!cs->new_axis && k == *axis) continue;
      if (t->dims[k] != t0->dims[k])
        return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                           "sequence element %zu has length %lld on axis %d "
                           "but element 0 has %lld",
                           i, (long long)t->dims[k], k,
                           (long long)t0->dims[k]);
    }
    total += cs->new_axis ? 1 : t->dims[*axis];
  }
  for (int k = 0, j = 0; k < r; k++) {
    if (k == *axis) {
      dims[k] = total;
      if (!cs->new_axis) j++;
    } else {
      dims[k] = t0->dims[j++];
    }
  }
  *rank = r;
  return EMBER_OK;
}

static ember_status concat_infer(emb_infer_ctx *c) {
  const concat_state *cs = c->node->state;
  ember_status st = seq_want_seq(c, 0);
  if (st) return st;
  const emb_seq *s = seq_infer_run_seq(c, 0);
  if (s) {
    int64_t dims[EMB_MAX_RANK];
    int rank, axis;
    st = concat_shape(c->node, c->diag, cs, s, &rank, dims, &axis);
    if (st) return st;
    if (s->items[0].dtype != EMBER_STRING &&
        !seq_elem_size(s->items[0].dtype))
      return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                         "concatenating %s tensors is not supported",
                         ember_dtype_name(s->items[0].dtype));
    emb_type_tensor(&c->out[0], s->items[0].dtype, rank, dims);
    return EMBER_OK;
  }
  const emb_type *in = c->in[0];
  emb_type_unknown(&c->out[0]);
  c->out[0].kind = EMBER_KIND_TENSOR;
  c->out[0].dtype = in->kind ? in->dtype : 0;
  if (in->kind && in->dtype && in->dtype != EMBER_STRING &&
      !seq_elem_size(in->dtype))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "concatenating %s tensors is not supported",
                       ember_dtype_name(in->dtype));
  if (!in->kind || in->rank < 0) return EMBER_OK;
  int r = in->rank + (cs->new_axis ? 1 : 0), axis;
  if (r > EMB_MAX_RANK)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "result rank %d exceeds the limit %d", r,
                       EMB_MAX_RANK);
  st = emb_axis(c->node, cs->axis, r, &axis, c->diag);
  if (st) return st;
  c->out[0].rank = r;
  for (int k = 0, j = 0; k < r; k++) {
    if (k == axis) {
      c->out[0].dims[k] = (emb_dim){-1, 0};
      if (!cs->new_axis) j++;
    } else {
      c->out[0].dims[k] = in->dims[j++];
    }
  }
  return EMBER_OK;
}

static ember_status concat_run(emb_run_ctx *c) {
  const concat_state *cs = c->node->state;
  const emb_seq *s = seq_run_in(c, 0);
  if (!s) return c->diag->status;
  int64_t dims[EMB_MAX_RANK];
  int rank, axis;
  ember_status st = concat_shape(c->node, c->diag, cs, s, &rank, dims, &axis);
  if (st) return st;
  emb_tensor *y = emb_out_t(c, 0);
  if (!y) return EMBER_OK;
  const emb_tensor *t0 = &s->items[0];
  size_t es = seq_elem_size(t0->dtype);
  if (!es)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "concatenating %s tensors is not supported",
                       ember_dtype_name(t0->dtype));
  if (y->dtype != t0->dtype || y->rank != rank ||
      memcmp(y->dims, dims, (size_t)rank * sizeof *dims) != 0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "output was not allocated with the result's shape");
  /* Every element is outer blocks of (its length on the axis) * inner
   * elements; the result interleaves them block by block.  With new_axis
   * each element counts as having length 1 on the new axis. */
  size_t outer = 1, inner = 1;
  for (int k = 0; k < axis; k++) outer *= (size_t)dims[k];
  for (int k = axis + 1; k < rank; k++) inner *= (size_t)dims[k];
  size_t row = (size_t)dims[axis] * inner, off = 0;
  for (size_t i = 0; i < s->count; i++) {
    const emb_tensor *t = &s->items[i];
    size_t block = (cs->new_axis ? 1 : (size_t)t->dims[axis]) * inner;
    for (size_t o = 0; o < outer; o++)
      if (!seq_copy_elems(y, o * row + off, t, o * block, block, es))
        return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                           "out of memory");
    off += block;
  }
  return EMBER_OK;
}

const emb_opdef emb_op_concatfromsequence = {
    1, 1, 1, 1, 0, concat_init, concat_infer, concat_run};

/* ------------------------------------------------------------ Optional */

typedef struct optional_state {
  const emb_type *type; /* the `type` attribute, or NULL */
} optional_state;

static ember_status optional_init(emb_init_ctx *c) {
  const emb_attr *a = emb_node_attr(c->node, "type");
  optional_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  if (a) {
    if (a->type != EMB_ATTR_TYPE_PROTO || !a->tp)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "attribute 'type' must be a type");
    if (a->tp->kind != EMBER_KIND_TENSOR &&
        a->tp->kind != EMBER_KIND_SEQUENCE)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "attribute 'type' must be a tensor or sequence "
                         "type");
    s->type = a->tp;
  }
  bool has_input = c->node->n_in > 0 && c->node->in[0] >= 0;
  if (!has_input && !s->type)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'type' is required when there is no "
                       "input");
  c->node->state = s;
  return EMBER_OK;
}

static ember_status optional_infer(emb_infer_ctx *c) {
  const optional_state *s = c->node->state;
  const emb_type *in = c->n_in > 0 ? c->in[0] : NULL;
  emb_type *out = &c->out[0];
  if (in && in->kind == EMBER_KIND_OPTIONAL) { /* already optional */
    *out = *in;
    return EMBER_OK;
  }
  if (in && in->kind && s->type &&
      (in->kind != s->type->kind ||
       (in->dtype && s->type->dtype && in->dtype != s->type->dtype))) {
    char a[200], b[200];
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input is %s but attribute 'type' says %s",
                       emb_type_str(in, NULL, a, sizeof a),
                       emb_type_str(s->type, NULL, b, sizeof b));
  }
  if (in && in->kind) {
    *out = *in;
  } else if (s->type) {
    *out = *s->type;
  } else {
    emb_type_unknown(out);
  }
  out->elem_kind = out->kind;
  out->kind = EMBER_KIND_OPTIONAL;
  return EMBER_OK;
}

static ember_status optional_run(emb_run_ctx *c) {
  const emb_value *v = c->n_in > 0 ? c->in[0] : NULL;
  emb_value tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.kind = EMB_VK_NONE;
  if (v && (v->kind == EMB_VK_TENSOR || v->kind == EMB_VK_SEQUENCE)) {
    ember_status st = emb_value_copy(&tmp, v, c->diag);
    if (st) return st;
  }
  seq_set_out(c, &tmp);
  return EMBER_OK;
}

const emb_opdef emb_op_optional = {
    0, 1, 1, 1, EMB_OP_OWN_OUTPUTS | EMB_OP_NO_FOLD,
    optional_init, optional_infer, optional_run};

/* -------------------------------------------------- OptionalHasElement */

/* Opset 15 wants an optional input; 18 also takes a plain tensor or
 * sequence (always present) or no input (absent).  Both behave alike here:
 * at run a present optional is indistinguishable from its element. */
static ember_status opthas_infer(emb_infer_ctx *c) {
  if (c->node->opset < 18 && (c->n_in < 1 || !c->in[0]))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "input 0 is required before opset 18");
  emb_type_tensor(&c->out[0], EMBER_BOOL, 0, NULL);
  return EMBER_OK;
}

static ember_status opthas_run(emb_run_ctx *c) {
  const emb_value *v = c->n_in > 0 ? c->in[0] : NULL;
  emb_tensor *y = emb_out_t(c, 0);
  if (y && y->nbytes >= 1)
    *(uint8_t *)y->data = v && (v->kind == EMB_VK_TENSOR ||
                                v->kind == EMB_VK_SEQUENCE);
  return EMBER_OK;
}

const emb_opdef emb_op_optionalhaselement = {
    0, 1, 1, 1, 0, NULL, opthas_infer, opthas_run};

/* -------------------------------------------------- OptionalGetElement */

static ember_status optget_infer(emb_infer_ctx *c) {
  const emb_type *in = c->n_in > 0 ? c->in[0] : NULL;
  emb_type *out = &c->out[0];
  if (!in)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "input 0 is required");
  if (in->kind != EMBER_KIND_OPTIONAL) {
    *out = *in;
    return EMBER_OK;
  }
  if (c->at_run && in->elem_kind == 0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "the optional input has no element");
  *out = *in;
  out->kind = in->elem_kind;
  out->elem_kind = in->elem_kind == EMBER_KIND_SEQUENCE ? EMBER_KIND_TENSOR
                                                        : 0;
  if (!out->kind) emb_type_unknown(out);
  return EMBER_OK;
}

static ember_status optget_run(emb_run_ctx *c) {
  const emb_value *v = c->n_in > 0 ? c->in[0] : NULL;
  if (!v || (v->kind != EMB_VK_TENSOR && v->kind != EMB_VK_SEQUENCE))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "the optional input has no element");
  emb_value tmp;
  ember_status st = emb_value_copy(&tmp, v, c->diag);
  if (st) return st;
  seq_set_out(c, &tmp);
  return EMBER_OK;
}

const emb_opdef emb_op_optionalgetelement = {
    1, 1, 1, 1, EMB_OP_OWN_OUTPUTS, NULL, optget_infer, optget_run};

/* --------------------------------------------------------- SequenceMap */

/* The body runs once per element of input 0 (in order, one after the
 * other); sequence inputs give it their i-th tensor (a borrowed view),
 * tensor inputs the whole tensor every time.  Each body output is a tensor
 * that becomes element i of the matching output sequence (moved, not
 * copied). */

static const emb_graph *seqmap_body(const emb_node *n) {
  const emb_attr *a = emb_node_attr(n, "body");
  return a && a->type == EMB_ATTR_GRAPH ? a->g : NULL;
}

static ember_status seqmap_init(emb_init_ctx *c) {
  const emb_attr *a = emb_node_attr(c->node, "body");
  if (!a)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'body' is required");
  if (a->type != EMB_ATTR_GRAPH || !a->g)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'body' must be a graph");
  if (a->g->n_inputs != c->node->n_in || a->g->n_outputs != c->node->n_out)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "the body takes %d inputs and gives %d outputs; the "
                       "node has %d inputs and %d outputs",
                       a->g->n_inputs, a->g->n_outputs, c->node->n_in,
                       c->node->n_out);
  return EMBER_OK;
}

/* The static type of body output j: what inference found, completed with
 * the declared type where inference knows less. */
static void seqmap_body_type(const emb_graph *g, int j, emb_type *t) {
  const emb_val *v = &g->vals[g->outputs[j]];
  *t = v->type;
  if (!v->has_decl) return;
  if (!t->kind) {
    *t = v->decl;
  } else if (t->kind == v->decl.kind) {
    if (!t->dtype) t->dtype = v->decl.dtype;
    if (t->rank < 0) {
      t->rank = v->decl.rank;
      memcpy(t->dims, v->decl.dims, sizeof t->dims);
    }
  }
}

static ember_status seqmap_infer(emb_infer_ctx *c) {
  const emb_graph *g = seqmap_body(c->node);
  ember_status st = seq_want_seq(c, 0);
  if (st) return st;
  for (int j = 0; j < c->n_out; j++) {
    emb_type bt;
    seqmap_body_type(g, j, &bt);
    if (bt.kind && bt.kind != EMBER_KIND_TENSOR)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "body output %d must be a tensor", j);
    if (!bt.kind) {
      emb_type_unknown(&bt);
      bt.dtype = 0;
    }
    /* A symbolic size may differ from one element to the next. */
    for (int k = 0; k < bt.rank; k++)
      if (bt.dims[k].v < 0) bt.dims[k] = (emb_dim){-1, 0};
    seq_type_of(&c->out[j], &bt);
  }
  return EMBER_OK;
}

/* Append the owned tensor t to sequence v, taking it over (t is left
 * empty). */
static ember_status seqmap_append(emb_value *v, emb_tensor *t, emb_diag *d) {
  emb_seq *s = &v->seq;
  if (!t->owned) return emb_seq_push(v, t, d);
  if (s->count == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 4;
    emb_tensor *items = realloc(s->items, cap * sizeof *items);
    if (!items) return emb_fail(d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
    s->items = items;
    s->cap = cap;
  }
  s->items[s->count++] = *t;
  memset(t, 0, sizeof *t);
  return EMBER_OK;
}

static ember_status seqmap_run(emb_run_ctx *c) {
  const emb_graph *g = seqmap_body(c->node);
  const emb_seq *s0 = seq_run_in(c, 0);
  if (!s0) return c->diag->status;
  int n_in = c->n_in, n_out = c->n_out;
  size_t count = s0->count;
  for (int k = 1; k < n_in; k++) {
    const emb_value *v = c->in[k];
    if (v && v->kind == EMB_VK_SEQUENCE && v->seq.count != count)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                         "input %d is a sequence of %zu tensors but input 0 "
                         "has %zu",
                         k, v->seq.count, count);
  }
  emb_value args[n_in], res[n_out], outs[n_out];
  const emb_value *argp[n_in];
  memset(res, 0, sizeof res);
  memset(outs, 0, sizeof outs);
  for (int j = 0; j < n_out; j++) {
    emb_type bt;
    seqmap_body_type(g, j, &bt);
    res[j].kind = EMB_VK_SEQUENCE;
    res[j].seq.elem_dtype = bt.kind == EMBER_KIND_TENSOR ? bt.dtype : 0;
  }
  ember_status st = EMBER_OK;
  for (size_t i = 0; i < count && !st; i++) {
    for (int k = 0; k < n_in; k++) {
      const emb_value *v = c->in[k];
      argp[k] = v;
      if (v && v->kind == EMB_VK_SEQUENCE) {
        memset(&args[k], 0, sizeof args[k]);
        args[k].kind = EMB_VK_TENSOR;
        emb_tensor_view(&args[k].t, &v->seq.items[i]);
        argp[k] = &args[k];
      }
    }
    st = emb_run_subgraph(c, g, n_in, argp, n_out, outs);
    for (int j = 0; j < n_out && !st; j++) {
      if (outs[j].kind != EMB_VK_TENSOR) {
        st = emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "body output %d is not a tensor (element %zu)", j,
                         i);
      } else if (res[j].seq.elem_dtype &&
                 outs[j].t.dtype != res[j].seq.elem_dtype) {
        st = emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "body output %d is %s for element %zu but the "
                         "sequence holds %s",
                         j, ember_dtype_name(outs[j].t.dtype), i,
                         ember_dtype_name(res[j].seq.elem_dtype));
      } else {
        res[j].seq.elem_dtype = outs[j].t.dtype;
        st = seqmap_append(&res[j], &outs[j].t, c->diag);
      }
    }
    for (int j = 0; j < n_out; j++) emb_value_clear(&outs[j]);
  }
  for (int j = 0; j < n_out; j++) {
    if (st || !c->out[j]) {
      emb_value_clear(&res[j]);
      continue;
    }
    emb_value_clear(c->out[j]);
    *c->out[j] = res[j];
  }
  return st;
}

const emb_opdef emb_op_sequencemap = {
    1, -1, 1, -1,
    EMB_OP_OWN_OUTPUTS | EMB_OP_NO_FOLD | EMB_OP_VARIADIC_OUT,
    seqmap_init, seqmap_infer, seqmap_run};
