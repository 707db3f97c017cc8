/*
 * Image layout and window operators of the vision family: DepthToSpace
 * and SpaceToDepth (block rearrangements between channels and space),
 * CenterCropPad (crop or zero-pad around the centre), Col2Im (sum column
 * blocks back into an image, the adjoint of im2col), MaxUnpool (scatter
 * pooled maxima back to their positions) and LpPool (the p-norm over
 * sliding windows, geometry from window.h).  The rearrangements only move
 * bytes and so serve every element type through the emb_mv bracket and
 * the strided xx-copy kernel; the arithmetic ones run float32 and float64
 * directly and float16/bfloat16 through float32.  Resampling, detection
 * and deformable convolution live in resize.c, gridsample.c, roialign.c
 * and deformconv.c.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "f32-conv/f32-conv.h"
#include "ops/f32cvt.h"
#include "ops/movement.h"
#include "ops/op.h"
#include "ops/window.h"
#include "xx-copy/xx-copy.h"

static const int32_t float_types[] = {EMBER_FLOAT, EMBER_DOUBLE,
                                      EMBER_FLOAT16, EMBER_BFLOAT16, 0};

static ember_status value_status(const emb_infer_ctx *c) {
  return c->at_run ? EMBER_ERR_RUNTIME : EMBER_ERR_INVALID_MODEL;
}

static const emb_tensor *in_value(const emb_infer_ctx *c, int i) {
  return (i < c->n_in && c->in[i] && c->values) ? c->values[i] : NULL;
}

/* Input i, when its type is known, must be a tensor. */
static ember_status need_tensor(emb_infer_ctx *c, int i) {
  if (i < c->n_in && c->in[i] && c->in[i]->kind &&
      c->in[i]->kind != EMBER_KIND_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input %d must be a tensor", i);
  return EMBER_OK;
}

/* Input i, when present and typed, must be int32/int64 (or only int64). */
static ember_status need_int(emb_infer_ctx *c, int i, bool only64) {
  ember_status st = need_tensor(c, i);
  if (st || i >= c->n_in || !c->in[i] || !c->in[i]->kind) return st;
  int32_t dt = c->in[i]->dtype;
  if (dt == EMBER_INT64 || (!only64 && dt == EMBER_INT32)) return EMBER_OK;
  return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                     "input %d must be %s, not %s", i,
                     only64 ? "int64" : "int32 or int64",
                     ember_dtype_name(dt));
}

/* A 1-D integer list from a tensor value. */
static ember_status read_ints(const emb_node *n, emb_diag *d,
                              const emb_tensor *t, const char *what,
                              int64_t *out, size_t cap, size_t *count) {
  size_t cnt = emb_tensor_numel(t);
  if (t->rank != 1)
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "'%s' must be a 1-D tensor, not of rank %d", what,
                       (int)t->rank);
  if (cnt > cap)
    return emb_op_fail(d, n, EMBER_ERR_LIMIT,
                       "'%s' has %zu values; at most %zu are supported", what,
                       cnt, cap);
  for (size_t i = 0; i < cnt; i++) out[i] = emb_tensor_get_i64(t, i);
  *count = cnt;
  return EMBER_OK;
}

static void out_unknown(emb_type *o, int32_t dtype) {
  emb_type_unknown(o);
  o->kind = EMBER_KIND_TENSOR;
  o->dtype = dtype;
}

static int32_t in_dtype(const emb_infer_ctx *c, int i) {
  return (i < c->n_in && c->in[i] && c->in[i]->kind) ? c->in[i]->dtype : 0;
}

/* ================================================ DepthToSpace / S2D */

typedef struct block_state {
  int64_t b;
  bool crd; /* DepthToSpace mode CRD (else DCR) */
} block_state;

static ember_status block_init(emb_init_ctx *c) {
  emb_node *n = c->node;
  block_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  if (!emb_node_attr(n, "blocksize"))
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "attribute 'blocksize' is required");
  ember_status st = emb_attr_int(n, "blocksize", 1, &s->b, c->diag);
  if (st) return st;
  if (s->b < 1 || s->b > (1 << 20))
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "blocksize %lld is invalid", (long long)s->b);
  if (strcmp(n->op_type, "DepthToSpace") == 0) {
    const char *mode;
    if ((st = emb_attr_string(n, "mode", "DCR", &mode, c->diag))) return st;
    if (strcmp(mode, "DCR") && strcmp(mode, "CRD"))
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "mode '%s' is not DCR or CRD", mode);
    s->crd = strcmp(mode, "CRD") == 0;
  }
  n->state = s;
  return EMBER_OK;
}

static ember_status block_infer(emb_infer_ctx *c, bool to_space) {
  const block_state *s = c->node->state;
  const emb_type *x = c->in[0];
  ember_status st = need_tensor(c, 0);
  if (st) return st;
  out_unknown(&c->out[0], in_dtype(c, 0));
  if (!x || !x->kind || x->rank < 0) return EMBER_OK;
  if (x->rank != 4)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "input must have rank 4 (N, C, H, W), not %d",
                       x->rank);
  emb_type *o = &c->out[0];
  int64_t b = s->b, bb = b * b;
  emb_type_tensor(o, x->dtype, 4, NULL);
  o->dims[0] = x->dims[0];
  for (int k = 1; k < 4; k++) o->dims[k].v = -1;
  int64_t ch = x->dims[1].v, h = x->dims[2].v, w = x->dims[3].v;
  if (to_space) {
    if (ch >= 0 && ch % bb)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "channels %lld are not divisible by blocksize^2 = "
                         "%lld",
                         (long long)ch, (long long)bb);
    if (ch >= 0) o->dims[1].v = ch / bb;
    if (h >= 0) o->dims[2].v = h * b;
    if (w >= 0) o->dims[3].v = w * b;
  } else {
    if ((h >= 0 && h % b) || (w >= 0 && w % b))
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "height %lld and width %lld must be divisible by "
                         "blocksize %lld",
                         (long long)h, (long long)w, (long long)b);
    if (ch >= 0) o->dims[1].v = ch * bb;
    if (h >= 0) o->dims[2].v = h / b;
    if (w >= 0) o->dims[3].v = w / b;
  }
  if (b == 1)
    for (int k = 1; k < 4; k++) o->dims[k] = x->dims[k];
  return EMBER_OK;
}

static ember_status d2s_infer(emb_infer_ctx *c) { return block_infer(c, true); }
static ember_status s2d_infer(emb_infer_ctx *c) {
  return block_infer(c, false);
}

/* Both are a 6-D transpose; the copy walks the output in order and reads
 * the input through strides. */
static ember_status block_run(emb_run_ctx *c, bool to_space) {
  const block_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  emb_mv m;
  ember_status st = emb_mv_begin(c, x, y, 0, &m);
  if (st) return st;
  size_t b = (size_t)s->b, n = (size_t)x->dims[0], ch = (size_t)x->dims[1];
  size_t h = (size_t)x->dims[2], w = (size_t)x->dims[3], es = m.esize;
  size_t dims[6];
  ptrdiff_t ss[6], ds[6];
  if (to_space) {
    /* y[n][c'][h*b + i][w*b + j], walked as (n, c', h, i, w, j). */
    size_t co = ch / (b * b);
    size_t hw = h * w;
    size_t d6[6] = {n, co, h, b, w, b};
    memcpy(dims, d6, sizeof dims);
    ss[0] = (ptrdiff_t)(ch * hw);
    ss[2] = (ptrdiff_t)w;
    ss[4] = 1;
    if (s->crd) { /* input channel c' * b*b + i * b + j */
      ss[1] = (ptrdiff_t)(b * b * hw);
      ss[3] = (ptrdiff_t)(b * hw);
      ss[5] = (ptrdiff_t)hw;
    } else { /* input channel (i * b + j) * C' + c' */
      ss[1] = (ptrdiff_t)hw;
      ss[3] = (ptrdiff_t)(b * co * hw);
      ss[5] = (ptrdiff_t)(co * hw);
    }
  } else {
    /* y[n][(i*b + j)*C + c][h'][w'] = x[n][c][h'*b + i][w'*b + j],
     * walked as (n, i, j, c, h', w'). */
    size_t ho = h / b, wo = w / b;
    size_t d6[6] = {n, b, b, ch, ho, wo};
    memcpy(dims, d6, sizeof dims);
    ss[0] = (ptrdiff_t)(ch * h * w);
    ss[1] = (ptrdiff_t)w;
    ss[2] = 1;
    ss[3] = (ptrdiff_t)(h * w);
    ss[4] = (ptrdiff_t)(b * w);
    ss[5] = (ptrdiff_t)b;
  }
  ptrdiff_t acc = (ptrdiff_t)es;
  for (int k = 5; k >= 0; k--) {
    ds[k] = acc;
    acc *= (ptrdiff_t)dims[k];
    ss[k] *= (ptrdiff_t)es;
  }
  if (emb_tensor_numel(y))
    ember_xx_copy_nd__scalar(es, 6, dims, m.src, ss, m.dst, ds);
  return emb_mv_end(c, y, &m);
}

static ember_status d2s_run(emb_run_ctx *c) { return block_run(c, true); }
static ember_status s2d_run(emb_run_ctx *c) { return block_run(c, false); }

const emb_opdef emb_op_depthtospace = {1, 1, 1, 1, 0,
                                       block_init, d2s_infer, d2s_run};
const emb_opdef emb_op_spacetodepth = {1, 1, 1, 1, 0,
                                       block_init, s2d_infer, s2d_run};

/* ====================================================== CenterCropPad */

typedef struct axes_state {
  const int64_t *axes; /* NULL: all axes */
  size_t n_axes;
} axes_state;

static ember_status ccp_init(emb_init_ctx *c) {
  axes_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st =
      emb_attr_ints(c->node, "axes", &s->axes, &s->n_axes, c->diag);
  if (st) return st;
  if (s->axes && s->n_axes > EMB_MAX_RANK)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'axes' has %zu entries", s->n_axes);
  c->node->state = s;
  return EMBER_OK;
}

/* Target size per axis (-1: unchanged). */
static ember_status ccp_targets(const emb_node *n, emb_diag *d,
                                const axes_state *s, ember_status bad,
                                int rank, const emb_tensor *shape,
                                int64_t *target) {
  int64_t v[EMB_MAX_RANK];
  size_t cnt = 0;
  ember_status st = read_ints(n, d, shape, "shape", v, EMB_MAX_RANK, &cnt);
  if (st) return st;
  size_t want = s->axes ? s->n_axes : (size_t)rank;
  if (cnt != want)
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "'shape' has %zu values; expected %zu", cnt, want);
  for (int k = 0; k < rank; k++) target[k] = -1;
  for (size_t i = 0; i < cnt; i++) {
    int k = (int)i;
    if (s->axes && (st = emb_axis(n, s->axes[i], rank, &k, d))) return st;
    if (target[k] >= 0)
      return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                         "axis %d is repeated in 'axes'", k);
    if (v[i] < 0)
      return emb_op_fail(d, n, bad, "target size %lld is negative",
                         (long long)v[i]);
    target[k] = v[i];
  }
  return EMBER_OK;
}

static ember_status ccp_infer(emb_infer_ctx *c) {
  const axes_state *s = c->node->state;
  const emb_type *x = c->in[0];
  ember_status st = need_tensor(c, 0);
  if (!st) st = need_int(c, 1, false);
  if (st) return st;
  emb_type *o = &c->out[0];
  out_unknown(o, in_dtype(c, 0));
  if (!x || !x->kind || x->rank < 0) return EMBER_OK;
  *o = *x;
  const emb_tensor *sv = in_value(c, 1);
  if (!sv) {
    if (!s->axes)
      for (int k = 0; k < x->rank; k++) o->dims[k] = (emb_dim){-1, 0};
    for (size_t i = 0; s->axes && i < s->n_axes; i++) {
      int k;
      if ((st = emb_axis(c->node, s->axes[i], x->rank, &k, c->diag)))
        return st;
      o->dims[k] = (emb_dim){-1, 0};
    }
    return EMBER_OK;
  }
  int64_t target[EMB_MAX_RANK];
  if ((st = ccp_targets(c->node, c->diag, s, value_status(c), x->rank, sv,
                        target)))
    return st;
  for (int k = 0; k < x->rank; k++)
    if (target[k] >= 0 && target[k] != x->dims[k].v)
      o->dims[k] = (emb_dim){target[k], 0};
  return EMBER_OK;
}

static ember_status ccp_run(emb_run_ctx *c) {
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  int rank = x->rank;
  emb_mv m;
  ember_status st = emb_mv_begin(c, x, y, 0, &m);
  if (st) return st;
  size_t es = m.esize;
  memset(m.dst, 0, emb_tensor_numel(y) * es);
  /* Copy the overlap: per axis, a crop offset into x or a pad offset
   * into y (the odd pixel of padding goes to the end). */
  size_t dims[EMB_MAX_RANK];
  ptrdiff_t ss[EMB_MAX_RANK], ds[EMB_MAX_RANK];
  size_t soff = 0, doff = 0, sacc = es, dacc = es;
  bool empty = false;
  for (int k = rank - 1; k >= 0; k--) {
    int64_t in = x->dims[k], out = y->dims[k];
    int64_t crop = in > out ? (in - out) / 2 : 0;
    int64_t pad = out > in ? (out - in) / 2 : 0;
    dims[k] = (size_t)(in < out ? in : out);
    if (!dims[k]) empty = true;
    ss[k] = (ptrdiff_t)sacc;
    ds[k] = (ptrdiff_t)dacc;
    soff += (size_t)crop * sacc;
    doff += (size_t)pad * dacc;
    sacc *= (size_t)in;
    dacc *= (size_t)out;
  }
  if (!empty)
    ember_xx_copy_nd__scalar(es, (size_t)rank, dims, m.src + soff, ss,
                             m.dst + doff, ds);
  return emb_mv_end(c, y, &m);
}

const emb_opdef emb_op_centercroppad = {2, 2, 1, 1, 0,
                                        ccp_init, ccp_infer, ccp_run};

/* ============================================================ Col2Im */

typedef struct col2im_state {
  int nsp;                 /* -1 until known from an attribute */
  bool has_d, has_p, has_s;
  int64_t dil[EMB_MAX_RANK], pads[2 * EMB_MAX_RANK], str[EMB_MAX_RANK];
} col2im_state;

static ember_status col2im_list(emb_init_ctx *c, const char *name, int per,
                                int64_t min, int *nsp, int64_t *out,
                                bool *has) {
  const int64_t *v;
  size_t cnt;
  ember_status st = emb_attr_ints(c->node, name, &v, &cnt, c->diag);
  if (st || !v) return st;
  if (cnt % (size_t)per || cnt / (size_t)per > EMB_MAX_RANK - 2 ||
      (*nsp >= 0 && cnt / (size_t)per != (size_t)*nsp))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute '%s' has %zu values", name, cnt);
  *nsp = (int)(cnt / (size_t)per);
  for (size_t i = 0; i < cnt; i++) {
    if (v[i] < min)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "attribute '%s' has the invalid value %lld", name,
                         (long long)v[i]);
    out[i] = v[i];
  }
  *has = true;
  return EMBER_OK;
}

static ember_status col2im_init(emb_init_ctx *c) {
  col2im_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->nsp = -1;
  ember_status st;
  if ((st = col2im_list(c, "dilations", 1, 1, &s->nsp, s->dil, &s->has_d)) ||
      (st = col2im_list(c, "pads", 2, 0, &s->nsp, s->pads, &s->has_p)) ||
      (st = col2im_list(c, "strides", 1, 1, &s->nsp, s->str, &s->has_s)))
    return st;
  c->node->state = s;
  return EMBER_OK;
}

/* Geometry of one Col2Im: image and block shapes, blocks per axis. */
typedef struct col2im_geom {
  int nsp;
  int64_t img[EMB_MAX_RANK], blk[EMB_MAX_RANK], grid[EMB_MAX_RANK];
  int64_t dil[EMB_MAX_RANK], str[EMB_MAX_RANK], pb[EMB_MAX_RANK],
      pe[EMB_MAX_RANK];
  int64_t kprod, L;
} col2im_geom;

static ember_status col2im_geometry(const emb_node *n, emb_diag *d,
                                    const col2im_state *s, ember_status bad,
                                    const emb_tensor *image,
                                    const emb_tensor *block, col2im_geom *g) {
  size_t ni = 0, nb = 0;
  ember_status st;
  if ((st = read_ints(n, d, image, "image_shape", g->img, EMB_MAX_RANK - 2,
                      &ni)) ||
      (st = read_ints(n, d, block, "block_shape", g->blk, EMB_MAX_RANK - 2,
                      &nb)))
    return st;
  if (ni != nb || ni < 1)
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "'image_shape' has %zu values and 'block_shape' %zu; "
                       "they must be equal and nonzero",
                       ni, nb);
  if (s->nsp >= 0 && (size_t)s->nsp != ni)
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "the attributes describe %d spatial axes but "
                       "'image_shape' has %zu",
                       s->nsp, ni);
  g->nsp = (int)ni;
  g->kprod = 1;
  g->L = 1;
  for (int i = 0; i < g->nsp; i++) {
    g->dil[i] = s->has_d ? s->dil[i] : 1;
    g->str[i] = s->has_s ? s->str[i] : 1;
    g->pb[i] = s->has_p ? s->pads[i] : 0;
    g->pe[i] = s->has_p ? s->pads[g->nsp + i] : 0;
    if (g->img[i] < 0 || g->blk[i] < 1)
      return emb_op_fail(d, n, bad,
                         "image size %lld and block size %lld of axis %d "
                         "are invalid",
                         (long long)g->img[i], (long long)g->blk[i], i);
    int64_t span = g->img[i] + g->pb[i] + g->pe[i] -
                   (g->dil[i] * (g->blk[i] - 1) + 1);
    if (span < 0)
      return emb_op_fail(d, n, bad,
                         "the block of axis %d does not fit the padded "
                         "image",
                         i);
    g->grid[i] = span / g->str[i] + 1;
    g->kprod *= g->blk[i];
    g->L *= g->grid[i];
  }
  return EMBER_OK;
}

static ember_status col2im_infer(emb_infer_ctx *c) {
  const col2im_state *s = c->node->state;
  const emb_type *x = c->in[0];
  ember_status st = need_tensor(c, 0);
  if (!st) st = need_int(c, 1, true);
  if (!st) st = need_int(c, 2, true);
  if (st) return st;
  emb_type *o = &c->out[0];
  out_unknown(o, in_dtype(c, 0));
  if (x && x->kind && x->rank >= 0 && x->rank != 3)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "input must have rank 3 (N, C * prod(block), L), "
                       "not %d",
                       x->rank);
  const emb_tensor *iv = in_value(c, 1), *bv = in_value(c, 2);
  const emb_type *it = c->in[1];
  int nsp = -1;
  if (it && it->kind && it->rank == 1 && it->dims[0].v >= 0)
    nsp = (int)it->dims[0].v;
  if (nsp >= 0 && nsp > EMB_MAX_RANK - 2)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "%d spatial axes are too many", nsp);
  if (!iv || !bv) {
    if (nsp < 0) return EMBER_OK;
    emb_type_tensor(o, o->dtype, nsp + 2, NULL);
    for (int k = 0; k < nsp + 2; k++) o->dims[k] = (emb_dim){-1, 0};
    if (x && x->kind && x->rank == 3) o->dims[0] = x->dims[0];
    if (iv)
      for (int k = 0; k < nsp && k < (int)emb_tensor_numel(iv); k++)
        o->dims[2 + k].v = emb_tensor_get_i64(iv, (size_t)k);
    return EMBER_OK;
  }
  col2im_geom g;
  if ((st = col2im_geometry(c->node, c->diag, s, value_status(c), iv, bv,
                            &g)))
    return st;
  emb_type_tensor(o, o->dtype, g.nsp + 2, NULL);
  o->dims[0] = (emb_dim){-1, 0};
  o->dims[1] = (emb_dim){-1, 0};
  for (int k = 0; k < g.nsp; k++) o->dims[2 + k].v = g.img[k];
  if (!x || !x->kind || x->rank != 3) return EMBER_OK;
  o->dims[0] = x->dims[0];
  int64_t cb = x->dims[1].v, l = x->dims[2].v;
  if (cb >= 0) {
    if (cb % g.kprod)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "input dimension 1 (%lld) is not a multiple of the "
                         "block size %lld",
                         (long long)cb, (long long)g.kprod);
    o->dims[1].v = cb / g.kprod;
  }
  if (l >= 0 && l != g.L)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "input has %lld blocks but the image holds %lld",
                       (long long)l, (long long)g.L);
  return EMBER_OK;
}

/* y[c][image position of tap k at block j] += x[c*K + k][j] in double. */
#define EMB_COL2IM(NAME, T)                                                  \
  static void NAME(const col2im_geom *g, size_t planes, const T *x, T *y) { \
    size_t K = (size_t)g->kprod, L = (size_t)g->L, isz = 1;                 \
    for (int i = 0; i < g->nsp; i++) isz *= (size_t)g->img[i];              \
    for (size_t p = 0; p < planes; p++) {                                   \
      T *yp = y + p * isz;                                                  \
      for (size_t k = 0; k < K; k++) {                                      \
        int64_t kk[EMB_MAX_RANK];                                           \
        size_t r = k;                                                       \
        for (int i = g->nsp - 1; i >= 0; i--) {                             \
          kk[i] = (int64_t)(r % (size_t)g->blk[i]);                         \
          r /= (size_t)g->blk[i];                                           \
        }                                                                   \
        const T *xr = x + (p * K + k) * L;                                  \
        for (size_t j = 0; j < L; j++) {                                    \
          size_t q = j, off = 0, mul = 1;                                   \
          bool in = true;                                                   \
          for (int i = g->nsp - 1; i >= 0; i--) {                           \
            int64_t bj = (int64_t)(q % (size_t)g->grid[i]);                 \
            q /= (size_t)g->grid[i];                                        \
            int64_t pos = bj * g->str[i] - g->pb[i] + kk[i] * g->dil[i];    \
            if (pos < 0 || pos >= g->img[i]) {                              \
              in = false;                                                   \
              break;                                                        \
            }                                                               \
            off += (size_t)pos * mul;                                       \
            mul *= (size_t)g->img[i];                                       \
          }                                                                 \
          if (in) yp[off] = (T)((double)yp[off] + (double)xr[j]);           \
        }                                                                   \
      }                                                                     \
    }                                                                       \
  }
EMB_COL2IM(col2im_f64, double)
EMB_COL2IM(col2im_i32, int32_t)
EMB_COL2IM(col2im_i64, int64_t)

static ember_status col2im_run(emb_run_ctx *c) {
  const col2im_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  col2im_geom g;
  ember_status st = col2im_geometry(c->node, c->diag, s, EMBER_ERR_RUNTIME,
                                    emb_in_t(c, 1), emb_in_t(c, 2), &g);
  if (st) return st;
  size_t planes = (size_t)y->dims[0] * (size_t)y->dims[1];
  size_t xn = emb_tensor_numel(x), yn = emb_tensor_numel(y);
  memset(y->data, 0, y->nbytes);
  if (!xn || !yn) return EMBER_OK;
  int32_t dt = x->dtype;
  if (dt == EMBER_DOUBLE) {
    col2im_f64(&g, planes, x->data, y->data);
    return EMBER_OK;
  }
  if (dt == EMBER_INT32) {
    col2im_i32(&g, planes, x->data, y->data);
    return EMBER_OK;
  }
  if (dt == EMBER_INT64) {
    col2im_i64(&g, planes, x->data, y->data);
    return EMBER_OK;
  }
  size_t img[EMB_MAX_RANK], grid[EMB_MAX_RANK], ker[EMB_MAX_RANK],
      str[EMB_MAX_RANK], dil[EMB_MAX_RANK];
  ptrdiff_t pad[EMB_MAX_RANK];
  for (int i = 0; i < g.nsp; i++) {
    img[i] = (size_t)g.img[i];
    grid[i] = (size_t)g.grid[i];
    ker[i] = (size_t)g.blk[i];
    str[i] = (size_t)g.str[i];
    dil[i] = (size_t)g.dil[i];
    pad[i] = (ptrdiff_t)g.pb[i];
  }
  ember_conv_geom cg = {(size_t)g.nsp, img, grid, ker, str, dil, pad};
  const float *xf = x->data;
  float *yf = y->data;
  if (emb_is_half(dt)) {
    char *mem = emb_scratch(c, emb_align64(xn * 4) + emb_align64(yn * 4));
    if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
    float *xs = (float *)mem;
    yf = (float *)(mem + emb_align64(xn * 4));
    emb_cvt_to_f32(dt, x->data, xn, xs);
    memset(yf, 0, yn * 4);
    xf = xs;
  }
  ember_f32_col2im__scalar(&cg, planes, xf, 0, (size_t)g.L, yf);
  if (emb_is_half(dt)) emb_cvt_from_f32(dt, yf, yn, y->data);
  return EMBER_OK;
}

static ember_status col2im_infer_types(emb_infer_ctx *c) {
  static const int32_t types[] = {EMBER_FLOAT,   EMBER_DOUBLE,
                                  EMBER_FLOAT16, EMBER_BFLOAT16,
                                  EMBER_INT32,   EMBER_INT64, 0};
  ember_status st = emb_infer_check_dtype(c, 0, types);
  return st ? st : col2im_infer(c);
}

const emb_opdef emb_op_col2im = {3, 3, 1, 1, 0, col2im_init,
                                 col2im_infer_types, col2im_run};

/* ========================================================= MaxUnpool */

typedef struct unpool_state {
  emb_window w;
} unpool_state;

static ember_status unpool_init(emb_init_ctx *c) {
  unpool_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st = emb_window_parse(c->node, true, false, &s->w, c->diag);
  if (st) return st;
  c->node->state = s;
  return EMBER_OK;
}

/* The unpooled size of spatial axis i (what MaxPool's input was). */
static int64_t unpool_size(const unpool_state *s, int i, int nsp,
                           int64_t in) {
  return (in - 1) * s->w.strides[i] + s->w.kernel[i] - s->w.pads[i] -
         s->w.pads[i + nsp];
}

static ember_status unpool_infer(emb_infer_ctx *c) {
  const unpool_state *s = c->node->state;
  const emb_type *x = c->in[0];
  ember_status st = emb_infer_check_dtype(c, 0, float_types);
  if (!st) st = need_int(c, 1, true);
  if (!st) st = need_int(c, 2, true);
  if (st) return st;
  emb_type *o = &c->out[0];
  out_unknown(o, in_dtype(c, 0));
  if (!x || !x->kind || x->rank < 0) return EMBER_OK;
  if ((st = emb_window_axes(c->node, &s->w, x->rank, c->diag))) return st;
  const emb_type *it = c->in[1];
  if (it && it->kind && it->rank >= 0) {
    bool same = it->rank == x->rank;
    for (int k = 0; same && k < x->rank; k++)
      if (it->dims[k].v >= 0 && x->dims[k].v >= 0 &&
          it->dims[k].v != x->dims[k].v)
        same = false;
    if (!same)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "the indices must have the shape of X");
  }
  int nsp = x->rank - 2;
  emb_type_tensor(o, x->dtype, x->rank, NULL);
  o->dims[0] = x->dims[0];
  o->dims[1] = x->dims[1];
  int64_t inferred[EMB_MAX_RANK];
  for (int i = 0; i < nsp; i++) {
    int64_t v = x->dims[2 + i].v;
    inferred[i] = v >= 0 ? unpool_size(s, i, nsp, v) : -1;
    if (v >= 0 && inferred[i] < 0)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "spatial axis %d unpools to a negative size", i);
    o->dims[2 + i] = (emb_dim){inferred[i], 0};
  }
  if (c->n_in < 3 || !c->in[2]) return EMBER_OK;
  const emb_tensor *sv = in_value(c, 2);
  if (!sv) {
    for (int k = 0; k < x->rank; k++) o->dims[k] = (emb_dim){-1, 0};
    return EMBER_OK;
  }
  int64_t shape[EMB_MAX_RANK];
  size_t cnt = 0;
  if ((st = read_ints(c->node, c->diag, sv, "output_shape", shape,
                      EMB_MAX_RANK, &cnt)))
    return st;
  if (cnt != (size_t)x->rank)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'output_shape' has %zu values for an input of rank "
                       "%d",
                       cnt, x->rank);
  for (int k = 0; k < x->rank; k++) {
    int64_t min = k < 2 ? x->dims[k].v : inferred[k - 2];
    if (shape[k] < 0 || (min >= 0 && shape[k] < min))
      return emb_op_fail(c->diag, c->node, value_status(c),
                         "'output_shape' dimension %d is %lld; it must be "
                         "at least %lld",
                         k, (long long)shape[k], (long long)min);
    o->dims[k] = (emb_dim){shape[k], 0};
  }
  return EMBER_OK;
}

/* The indices are flat positions in the unpooled shape (N, C, inferred
 * spatial dims); with output_shape that block sits at the start of each
 * larger axis, as in the ONNX reference. */
static ember_status unpool_run(emb_run_ctx *c) {
  const unpool_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0), *ind = emb_in_t(c, 1);
  emb_tensor *y = emb_out_t(c, 0);
  int rank = x->rank, nsp = rank - 2;
  int64_t ud[EMB_MAX_RANK];
  bool same = true;
  size_t total = 1;
  for (int k = 0; k < rank; k++) {
    ud[k] = k < 2 ? x->dims[k] : unpool_size(s, k - 2, nsp, x->dims[k]);
    same &= ud[k] == y->dims[k];
    total *= (size_t)(ud[k] > 0 ? ud[k] : 0);
  }
  memset(y->data, 0, y->nbytes);
  size_t n = emb_tensor_numel(x), es = (size_t)emb_dtype_bits(x->dtype) / 8;
  const int64_t *ip = ind->data;
  for (size_t i = 0; i < n; i++) {
    int64_t v = ip[i];
    if (v < 0 || (uint64_t)v >= total)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                         "index %lld at position %zu is outside the "
                         "unpooled tensor of %zu elements",
                         (long long)v, i, total);
    size_t off = (size_t)v;
    if (!same) {
      size_t q = off, mul = 1;
      off = 0;
      for (int k = rank - 1; k >= 0; k--) {
        off += (q % (size_t)ud[k]) * mul;
        q /= (size_t)ud[k];
        mul *= (size_t)y->dims[k];
      }
    }
    memcpy((char *)y->data + off * es, (const char *)x->data + i * es, es);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_maxunpool = {2, 3, 1, 1, 0,
                                    unpool_init, unpool_infer, unpool_run};

/* ============================================================= LpPool */

typedef struct lppool_state {
  emb_window w;
  double p;
} lppool_state;

static ember_status lppool_init(emb_init_ctx *c) {
  lppool_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st = emb_window_parse(c->node, true, true, &s->w, c->diag);
  if (st) return st;
  float p; /* float in LpPool-1, int from LpPool-2 on */
  if ((st = emb_attr_float(c->node, "p", 2.0f, &p, c->diag))) return st;
  if (!(p > 0) || !isfinite(p))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "p = %g is not a positive number", (double)p);
  s->p = p;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status lppool_infer(emb_infer_ctx *c) {
  const lppool_state *s = c->node->state;
  const emb_type *x = c->in[0];
  ember_status st = emb_infer_check_dtype(c, 0, float_types);
  if (st) return st;
  emb_type *y = &c->out[0];
  out_unknown(y, in_dtype(c, 0));
  if (!x || x->kind != EMBER_KIND_TENSOR || x->rank < 0) return EMBER_OK;
  if ((st = emb_window_axes(c->node, &s->w, x->rank, c->diag))) return st;
  int nsp = x->rank - 2;
  emb_type_tensor(y, x->dtype, x->rank, NULL);
  y->dims[0] = x->dims[0];
  y->dims[1] = x->dims[1];
  for (int i = 0; i < nsp; i++) {
    y->dims[2 + i] = (emb_dim){-1, 0};
    if (x->dims[2 + i].v < 0) continue;
    emb_window_axis ax;
    if ((st = emb_window_resolve(c->node, &s->w, i, nsp, x->dims[2 + i].v,
                                 s->w.kernel[i], &ax, c->diag)))
      return st;
    y->dims[2 + i].v = ax.out;
  }
  return EMBER_OK;
}

/* Per axis and output index: first valid input position and the number
 * of valid taps (padding contributes nothing to the norm). */
typedef struct lp_plan {
  int nsp;
  size_t out[EMB_MAX_RANK], stride[EMB_MAX_RANK], dil[EMB_MAX_RANK];
  size_t *start[EMB_MAX_RANK], *taps[EMB_MAX_RANK];
  size_t in_size, out_size;
} lp_plan;

#define EMB_LPPOOL(NAME, T)                                                  \
  static void NAME(const lp_plan *pl, size_t planes, double p, const T *x,  \
                   T *y) {                                                  \
    int last = pl->nsp - 1;                                                 \
    for (size_t q = 0; q < planes; q++) {                                   \
      const T *xp = x + q * pl->in_size;                                    \
      size_t o[EMB_MAX_RANK] = {0};                                         \
      for (size_t j = 0; j < pl->out_size; j++) {                           \
        double sum = 0;                                                     \
        size_t kk[EMB_MAX_RANK] = {0}, base = 0;                            \
        bool empty = false;                                                 \
        for (int d = 0; d <= last; d++) {                                   \
          if (!pl->taps[d][o[d]]) empty = true;                             \
          base += pl->start[d][o[d]] * pl->stride[d];                       \
        }                                                                   \
        while (!empty) {                                                    \
          size_t row = base;                                                \
          for (int d = 0; d < last; d++)                                    \
            row += kk[d] * pl->dil[d] * pl->stride[d];                      \
          size_t nl = pl->taps[last][o[last]], dl = pl->dil[last];          \
          for (size_t t = 0; t < nl; t++) {                                 \
            double v = fabs((double)xp[row + t * dl]);                      \
            sum += p == 1 ? v : p == 2 ? v * v : pow(v, p);                 \
          }                                                                 \
          int d = last - 1;                                                 \
          for (; d >= 0; d--) {                                             \
            if (++kk[d] < pl->taps[d][o[d]]) break;                         \
            kk[d] = 0;                                                      \
          }                                                                 \
          if (d < 0) break;                                                 \
        }                                                                   \
        y[q * pl->out_size + j] =                                           \
            (T)(p == 1 ? sum : p == 2 ? sqrt(sum) : pow(sum, 1.0 / p));     \
        for (int d = last; d >= 0; d--) {                                   \
          if (++o[d] < pl->out[d]) break;                                   \
          o[d] = 0;                                                         \
        }                                                                   \
      }                                                                     \
    }                                                                       \
  }
EMB_LPPOOL(lppool_f32, float)
EMB_LPPOOL(lppool_f64, double)

static ember_status lppool_run(emb_run_ctx *c) {
  const lppool_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  lp_plan pl;
  emb_window_axis ax[EMB_MAX_RANK];
  memset(&pl, 0, sizeof pl);
  pl.nsp = x->rank - 2;
  pl.in_size = pl.out_size = 1;
  size_t tab = 0;
  for (int d = pl.nsp - 1; d >= 0; d--) {
    ember_status st = emb_window_resolve(c->node, &s->w, d, pl.nsp,
                                         x->dims[2 + d], s->w.kernel[d],
                                         &ax[d], c->diag);
    if (st) return st;
    pl.out[d] = (size_t)ax[d].out;
    pl.dil[d] = (size_t)ax[d].d;
    pl.stride[d] = pl.in_size;
    pl.in_size *= (size_t)ax[d].in;
    pl.out_size *= pl.out[d];
    tab += 2 * pl.out[d];
  }
  size_t planes = (size_t)x->dims[0] * (size_t)x->dims[1];
  size_t xn = planes * pl.in_size, yn = planes * pl.out_size;
  if (!yn) return EMBER_OK;
  bool half = emb_is_half(x->dtype);
  size_t tab_b = emb_align64(tab * sizeof(size_t));
  size_t half_b = half ? emb_align64(xn * 4) + emb_align64(yn * 4) : 0;
  char *mem = emb_scratch(c, tab_b + half_b);
  if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
  size_t *t = (size_t *)mem;
  for (int d = 0; d < pl.nsp; d++) {
    const emb_window_axis *a = &ax[d];
    pl.start[d] = t;
    pl.taps[d] = t + pl.out[d];
    t += 2 * pl.out[d];
    for (size_t o = 0; o < pl.out[d]; o++) {
      int64_t b0 = (int64_t)o * a->s - a->pad_b, lo = 0, hi = a->k;
      while (lo < hi && b0 + lo * a->d < 0) lo++;
      while (hi > lo && b0 + (hi - 1) * a->d >= a->in) hi--;
      pl.start[d][o] = lo < hi ? (size_t)(b0 + lo * a->d) : 0;
      pl.taps[d][o] = (size_t)(hi - lo);
    }
  }
  if (x->dtype == EMBER_DOUBLE) {
    lppool_f64(&pl, planes, s->p, x->data, y->data);
  } else if (x->dtype == EMBER_FLOAT) {
    lppool_f32(&pl, planes, s->p, x->data, y->data);
  } else {
    float *xf = (float *)(mem + tab_b);
    float *yf = (float *)((char *)xf + emb_align64(xn * 4));
    emb_cvt_to_f32(x->dtype, x->data, xn, xf);
    lppool_f32(&pl, planes, s->p, xf, yf);
    emb_cvt_from_f32(x->dtype, yf, yn, y->data);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_lppool = {1, 1, 1, 1, 0,
                                 lppool_init, lppool_infer, lppool_run};
