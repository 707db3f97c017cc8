/*
 * Gather: pick slices of `data` along one axis by an int32/int64 index
 * tensor (negative indices count from the end).  The output is
 * data.shape[:axis] + indices.shape + data.shape[axis+1:]; each index
 * copies one contiguous block of data.shape[axis+1:] elements, so the work
 * is a loop of memcpy.  Any element type moves (strings through the
 * emb_mv bracket); an out-of-range index is a run-time error naming the
 * node, found before anything is written.
 */
#include <string.h>

#include "ops/movement.h"
#include "ops/op.h"

typedef struct gather_state {
  int64_t axis;
} gather_state;

static ember_status gather_init(emb_init_ctx *c) {
  gather_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st = emb_attr_int(c->node, "axis", 0, &s->axis, c->diag);
  if (st) return st;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status gather_infer(emb_infer_ctx *c) {
  static const int32_t index_types[] = {EMBER_INT32, EMBER_INT64, 0};
  const gather_state *s = c->node->state;
  const emb_type *data = c->in[0], *idx = c->in[1];
  if (!data || !idx)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "inputs 'data' and 'indices' are required");
  for (int i = 0; i < 2; i++)
    if (c->in[i]->kind && c->in[i]->kind != EMBER_KIND_TENSOR)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "input %d must be a tensor", i);
  ember_status st = emb_infer_check_dtype(c, 1, index_types);
  if (st) return st;
  int32_t dt = data->kind ? data->dtype : 0;
  if (dt && (emb_mv_packed(dt) || !emb_mv_esize(dt)))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "element type %s is not supported",
                       ember_dtype_name(dt));
  emb_type *o = &c->out[0];
  emb_type_tensor(o, dt, -1, NULL);
  int r = data->kind ? data->rank : -1, q = idx->kind ? idx->rank : -1;
  if (r == 0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "data must have rank 1 or more");
  if (r < 0 || q < 0) return EMBER_OK;
  int ax;
  st = emb_axis(c->node, s->axis, r, &ax, c->diag);
  if (st) return st;
  if (q + r - 1 > EMB_MAX_RANK)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "result rank %d exceeds the limit %d", q + r - 1,
                       EMB_MAX_RANK);
  emb_type_tensor(o, dt, q + r - 1, NULL);
  int k = 0;
  for (int i = 0; i < ax; i++) o->dims[k++] = data->dims[i];
  for (int i = 0; i < q; i++) o->dims[k++] = idx->dims[i];
  for (int i = ax + 1; i < r; i++) o->dims[k++] = data->dims[i];
  return EMBER_OK;
}

static ember_status gather_run(emb_run_ctx *c) {
  const gather_state *s = c->node->state;
  const emb_tensor *data = emb_in_t(c, 0), *idx = emb_in_t(c, 1);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  int r = data->rank;
  int ax = (int)(s->axis < 0 ? s->axis + r : s->axis);
  int64_t dim = data->dims[ax];
  size_t outer = 1, inner = 1, n_idx = emb_tensor_numel(idx);
  for (int k = 0; k < ax; k++) outer *= (size_t)data->dims[k];
  for (int k = ax + 1; k < r; k++) inner *= (size_t)data->dims[k];
  /* Check every index first so that a failure leaves nothing half
   * written (and strings stay valid). */
  for (size_t j = 0; j < n_idx; j++) {
    int64_t v = idx->dtype == EMBER_INT32 ? ((const int32_t *)idx->data)[j]
                                          : ((const int64_t *)idx->data)[j];
    if (v < -dim || v >= dim)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                         "index %lld is out of range for axis %d of size "
                         "%lld",
                         (long long)v, ax, (long long)dim);
  }
  if (!emb_tensor_numel(out)) return EMBER_OK;
  emb_mv m;
  ember_status st = emb_mv_begin(c, data, out, 0, &m);
  if (st) return st;
  size_t block = inner * m.esize;
  const char *src = m.src;
  char *dst = m.dst;
  for (size_t o = 0; o < outer; o++) {
    const char *base = src + o * (size_t)dim * block;
    for (size_t j = 0; j < n_idx; j++) {
      int64_t v = idx->dtype == EMBER_INT32
                      ? ((const int32_t *)idx->data)[j]
                      : ((const int64_t *)idx->data)[j];
      if (v < 0) v += dim;
      memcpy(dst, base + (size_t)v * block, block);
      dst += block;
    }
  }
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_gather = {2, 2, 1, 1, 0, gather_init, gather_infer,
                                 gather_run};
