/*
 * Normalization layers: BatchNormalization (inference with the given
 * statistics; training_mode from opset 14 computes batch statistics and
 * the running averages; the per-activation `spatial` = 0 form of opsets
 * before 9), InstanceNormalization and LayerNormalization (axis,
 * epsilon, stash_type, optional Mean / InvStdDev outputs, Scale and B
 * broadcast to X).  Statistics are accumulated in double over two passes
 * (mean, then squared deviations), which is both accurate and cheap next
 * to the convolutions around these layers.  float32 and float64 are
 * computed directly; float16 and bfloat16 through float32 scratch.
 * Parameters (scale, bias, mean, var) may have their own float types (the
 * T1 / T2 of BatchNormalization-15) and are read into double scratch.
 */
#include <math.h>
#include <string.h>

#include "ops/f32cvt.h"
#include "ops/op.h"

static const int32_t norm_types[] = {EMBER_FLOAT, EMBER_DOUBLE, EMBER_FLOAT16,
                                     EMBER_BFLOAT16, 0};

/* A float tensor's values as double (parameters, a few per channel). */
static void read_f64(const emb_tensor *t, size_t n, double *out) {
  for (size_t i = 0; i < n; i++) out[i] = emb_tensor_get_f64(t, i);
}

/* The X buffer in float32 or float64 ("work" type); half types are
 * widened into scratch at `buf` and narrowed back by norm_finish. */
typedef struct norm_io {
  bool f64;
  const void *x;
  void *y;
  float *buf; /* half types: float32 copy, computed in place */
} norm_io;

static void norm_begin(const emb_tensor *x, emb_tensor *y, float *buf,
                       norm_io *io) {
  io->f64 = x->dtype == EMBER_DOUBLE;
  io->buf = NULL;
  io->x = x->data;
  io->y = y->data;
  if (emb_is_half(x->dtype)) {
    emb_cvt_to_f32(x->dtype, x->data, emb_tensor_numel(x), buf);
    io->buf = buf;
    io->x = io->y = buf;
  }
}

static void norm_finish(emb_tensor *y, const norm_io *io) {
  if (io->buf)
    emb_cvt_from_f32(y->dtype, io->buf, emb_tensor_numel(y), y->data);
}

static size_t half_bytes(const emb_tensor *x) {
  return emb_is_half(x->dtype) ? emb_align64(emb_tensor_numel(x) * 4) : 0;
}

/* Mean and population variance of n values with stride 1, in double. */
#define EMB_MOMENTS(NAME, T)                                          \
  static void NAME(const T *x, size_t n, double *mean, double *var) { \
    double s = 0.0, q = 0.0;                                          \
    for (size_t i = 0; i < n; i++) s += (double)x[i];                 \
    double m = n ? s / (double)n : 0.0;                               \
    for (size_t i = 0; i < n; i++) {                                  \
      double d = (double)x[i] - m;                                    \
      q += d * d;                                                     \
    }                                                                 \
    *mean = m;                                                        \
    *var = n ? q / (double)n : 0.0;                                   \
  }
EMB_MOMENTS(moments_f32, float)
EMB_MOMENTS(moments_f64, double)

/* y[i] = (x[i] - m) * a + b over one contiguous run. */
#define EMB_AFFINE(NAME, T)                                                    \
  static void NAME(const T *x, T *y, size_t n, double m, double a, double b) { \
    T mt = (T)m, at = (T)a, bt = (T)b;                                         \
    for (size_t i = 0; i < n; i++) y[i] = (x[i] - mt) * at + bt;               \
  }
EMB_AFFINE(affine_f32, float)
EMB_AFFINE(affine_f64, double)

static void moments(const norm_io *io, size_t off, size_t n, double *mean,
                    double *var) {
  if (io->f64)
    moments_f64((const double *)io->x + off, n, mean, var);
  else
    moments_f32((const float *)io->x + off, n, mean, var);
}

static void affine(const norm_io *io, size_t off, size_t n, double m, double a,
                   double b) {
  if (io->f64)
    affine_f64((const double *)io->x + off, (double *)io->y + off, n, m, a, b);
  else
    affine_f32((const float *)io->x + off, (float *)io->y + off, n, m, a, b);
}

/* ---------------------------------------------------- BatchNormalization */

typedef struct bn_state {
  float epsilon, momentum;
  bool training;    /* opset >= 14 training_mode                       */
  bool per_element; /* opset < 9 with spatial = 0                      */
} bn_state;

static ember_status bn_init(emb_init_ctx *c) {
  const emb_node *n = c->node;
  ember_status st;
  int64_t training = 0, spatial = 1;
  bn_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  if ((st = emb_attr_float(n, "epsilon", 1e-5f, &s->epsilon, c->diag)) ||
      (st = emb_attr_float(n, "momentum", 0.9f, &s->momentum, c->diag)))
    return st;
  if (n->opset >= 14 &&
      (st = emb_attr_int(n, "training_mode", 0, &training, c->diag)))
    return st;
  if (n->opset < 9 && (st = emb_attr_int(n, "spatial", 1, &spatial, c->diag)))
    return st;
  /* is_test (opsets 1-6) is ignored: Ember runs inference, and the given
   * mean and var are the statistics to use either way. */
  s->training = training != 0;
  s->per_element = spatial == 0;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status bn_infer(emb_infer_ctx *c) {
  const emb_node *n = c->node;
  const bn_state *s = n->state;
  const emb_type *x = c->in[0];
  ember_status st;
  for (int i = 0; i < 5; i++)
    if ((st = emb_infer_check_dtype(c, i, norm_types))) return st;
  if ((st = emb_infer_same(c))) return st;
  /* Channels and the expected parameter shape. */
  emb_dim ch = {-1, 0};
  if (x && x->kind == EMBER_KIND_TENSOR && x->rank >= 0)
    ch = x->rank >= 2 ? x->dims[1] : (emb_dim){1, 0};
  for (int i = 1; i < 5; i++) {
    const emb_type *p = c->in[i];
    if (!p || p->kind != EMBER_KIND_TENSOR || p->rank < 0) continue;
    if (s->per_element) continue; /* checked by element count at run */
    if (p->rank != 1)
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "input %d must have rank 1 (channels), not %d", i,
                         p->rank);
    if (ch.v >= 0 && p->dims[0].v >= 0 && p->dims[0].v != ch.v)
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "input %d has %lld values for %lld channels", i,
                         (long long)p->dims[0].v, (long long)ch.v);
  }
  /* Extra outputs: running mean / var (and before opset 14 the saved
   * statistics), shaped like the mean and var inputs. */
  for (int i = 1; i < c->n_out; i++) {
    if (c->node->out[i] < 0) continue;
    const emb_type *src = c->in[i % 2 ? 3 : 4];
    if (src) c->out[i] = *src;
  }
  return EMBER_OK;
}

static ember_status bn_run(emb_run_ctx *c) {
  const emb_node *n = c->node;
  const bn_state *s = n->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  size_t nb = x->rank >= 1 ? (size_t)x->dims[0] : 1;
  size_t ch = x->rank >= 2 ? (size_t)x->dims[1] : 1;
  size_t sp = 1;
  for (int i = 2; i < x->rank; i++) sp *= (size_t)x->dims[i];
  /* Parameters per channel, or per (channel, position) for spatial=0. */
  size_t np = s->per_element ? ch * sp : ch;
  for (int i = 1; i < 5; i++)
    if (emb_tensor_numel(emb_in_t(c, i)) != np)
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "input %d has %zu values, expected %zu", i,
                         emb_tensor_numel(emb_in_t(c, i)), np);
  bool training = s->training && !s->per_element;
  size_t par_b = emb_align64(6 * np * sizeof(double));
  char *mem = emb_scratch(c, par_b + half_bytes(x));
  if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
  double *scale = (double *)mem, *bias = scale + np, *mean = bias + np,
         *var = mean + np, *cur_mean = var + np, *cur_var = cur_mean + np;
  read_f64(emb_in_t(c, 1), np, scale);
  read_f64(emb_in_t(c, 2), np, bias);
  read_f64(emb_in_t(c, 3), np, mean);
  read_f64(emb_in_t(c, 4), np, var);
  norm_io io;
  norm_begin(x, y, (float *)(mem + par_b), &io);
  if (training) {
    /* Batch statistics per channel over N and the spatial positions:
     * averages of per-run moments combined exactly (parallel-axis). */
    for (size_t cc = 0; cc < ch; cc++) {
      double sum = 0.0, sq = 0.0;
      for (size_t b = 0; b < nb; b++) {
        double m, v;
        moments(&io, (b * ch + cc) * sp, sp, &m, &v);
        sum += m;
        sq += v + m * m;
      }
      double m = nb ? sum / (double)nb : 0.0;
      double v = nb ? sq / (double)nb - m * m : 0.0;
      cur_mean[cc] = m;
      cur_var[cc] = v < 0.0 ? 0.0 : v;
    }
  }
  const double *um = training ? cur_mean : mean, *uv = training ? cur_var : var;
  for (size_t b = 0; b < nb; b++)
    for (size_t cc = 0; cc < ch; cc++) {
      size_t off = (b * ch + cc) * sp;
      if (!s->per_element) {
        double a = scale[cc] / sqrt(uv[cc] + (double)s->epsilon);
        affine(&io, off, sp, um[cc], a, bias[cc]);
        continue;
      }
      for (size_t p = 0; p < sp; p++) {
        size_t k = cc * sp + p;
        double a = scale[k] / sqrt(uv[k] + (double)s->epsilon);
        affine(&io, off + p, 1, um[k], a, bias[k]);
      }
    }
  norm_finish(y, &io);
  /* Outputs 1 and 2: running statistics (the inputs unchanged outside
   * training); 3 and 4 (opsets < 14): the statistics used. */
  for (int i = 1; i < c->n_out; i++) {
    emb_tensor *o = emb_out_t(c, i);
    if (!o) continue;
    bool is_mean = i % 2 == 1;
    const double *in = is_mean ? mean : var;
    const double *cur = is_mean ? cur_mean : cur_var;
    double mom = (double)s->momentum;
    size_t on = emb_tensor_numel(o);
    for (size_t k = 0; k < on && k < np; k++) {
      double v = in[k];
      if (training) v = i <= 2 ? in[k] * mom + cur[k] * (1.0 - mom) : cur[k];
      emb_tensor_set_f64(o, k, v);
    }
  }
  return EMBER_OK;
}

/* ------------------------------------------------- InstanceNormalization */

typedef struct in_state {
  float epsilon;
} in_state;

static ember_status in_init(emb_init_ctx *c) {
  in_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st =
      emb_attr_float(c->node, "epsilon", 1e-5f, &s->epsilon, c->diag);
  if (st) return st;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status in_infer(emb_infer_ctx *c) {
  const emb_type *x = c->in[0];
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, norm_types)) ||
      (st = emb_infer_same_dtype(c, 0, 2)))
    return st;
  if (x && x->kind == EMBER_KIND_TENSOR && x->rank >= 0) {
    if (x->rank < 2)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "input must have rank 2 or more, not %d", x->rank);
    for (int i = 1; i < 3; i++) {
      const emb_type *p = c->in[i];
      if (!p || p->kind != EMBER_KIND_TENSOR || p->rank < 0) continue;
      if (p->rank != 1 || (p->dims[0].v >= 0 && x->dims[1].v >= 0 &&
                           p->dims[0].v != x->dims[1].v))
        return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                           "input %d must have shape [C] with C = %lld", i,
                           (long long)x->dims[1].v);
    }
  }
  return emb_infer_same(c);
}

static ember_status in_run(emb_run_ctx *c) {
  const in_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  size_t nb = (size_t)x->dims[0], ch = (size_t)x->dims[1], sp = 1;
  for (int i = 2; i < x->rank; i++) sp *= (size_t)x->dims[i];
  for (int i = 1; i < 3; i++)
    if (emb_tensor_numel(emb_in_t(c, i)) != ch)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "input %d must have %zu values", i, ch);
  size_t par_b = emb_align64(2 * ch * sizeof(double));
  char *mem = emb_scratch(c, par_b + half_bytes(x));
  if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
  double *scale = (double *)mem, *bias = scale + ch;
  read_f64(emb_in_t(c, 1), ch, scale);
  read_f64(emb_in_t(c, 2), ch, bias);
  norm_io io;
  norm_begin(x, y, (float *)(mem + par_b), &io);
  for (size_t b = 0; b < nb; b++)
    for (size_t cc = 0; cc < ch; cc++) {
      size_t off = (b * ch + cc) * sp;
      double m, v;
      moments(&io, off, sp, &m, &v);
      affine(&io, off, sp, m, scale[cc] / sqrt(v + (double)s->epsilon),
             bias[cc]);
    }
  norm_finish(y, &io);
  return EMBER_OK;
}

/* ---------------------------------------------------- LayerNormalization */

typedef struct ln_state {
  int64_t axis, stash;
  float epsilon;
} ln_state;

static ember_status ln_init(emb_init_ctx *c) {
  const emb_node *n = c->node;
  ember_status st;
  ln_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  if ((st = emb_attr_int(n, "axis", -1, &s->axis, c->diag)) ||
      (st = emb_attr_float(n, "epsilon", 1e-5f, &s->epsilon, c->diag)) ||
      (st = emb_attr_int(n, "stash_type", EMBER_FLOAT, &s->stash, c->diag)))
    return st;
  if (!emb_dtype_is_float((int32_t)s->stash))
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "stash_type %lld is not a floating-point type",
                       (long long)s->stash);
  c->node->state = s;
  return EMBER_OK;
}

static ember_status ln_infer(emb_infer_ctx *c) {
  const emb_node *n = c->node;
  const ln_state *s = n->state;
  const emb_type *x = c->in[0];
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, norm_types)) ||
      (st = emb_infer_same_dtype(c, 0, 2)) || (st = emb_infer_same(c)))
    return st;
  for (int i = 1; i < c->n_out && i < 3; i++) {
    emb_type_unknown(&c->out[i]);
    c->out[i].kind = EMBER_KIND_TENSOR;
    c->out[i].dtype = (int32_t)s->stash;
  }
  if (!x || x->kind != EMBER_KIND_TENSOR || x->rank < 0) return EMBER_OK;
  int axis;
  if ((st = emb_axis(n, s->axis, x->rank, &axis, c->diag))) return st;
  /* Scale and B broadcast onto X (unidirectionally). */
  for (int i = 1; i < 3 && i < c->n_in; i++) {
    const emb_type *p = c->in[i];
    if (!p || p->kind != EMBER_KIND_TENSOR || p->rank < 0) continue;
    bool ok = p->rank <= x->rank;
    for (int k = 0; ok && k < p->rank; k++) {
      int64_t pd = p->dims[k].v, xd = x->dims[x->rank - p->rank + k].v;
      if (pd >= 0 && xd >= 0 && pd != 1 && pd != xd) ok = false;
    }
    if (!ok)
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "input %d does not broadcast to X", i);
  }
  for (int i = 1; i < c->n_out && i < 3; i++) {
    emb_type *o = &c->out[i];
    o->rank = x->rank;
    for (int k = 0; k < x->rank; k++)
      o->dims[k] = k < axis ? x->dims[k] : (emb_dim){1, 0};
  }
  return EMBER_OK;
}

/* Element offsets of a broadcast parameter: for row r (outer index) and
 * column j (index within the normalized block), base[r] + inner[j]. */
static void ln_offsets(const emb_tensor *x, int axis, const emb_tensor *p,
                       size_t outer, size_t inner, size_t *base,
                       size_t *inoff) {
  int64_t str[EMB_MAX_RANK];
  emb_broadcast_strides(x->rank, x->dims, p->rank, p->dims, str);
  for (size_t r = 0; r < outer; r++) {
    size_t rem = r, off = 0;
    for (int k = axis; k-- > 0;) {
      off += (rem % (size_t)x->dims[k]) * (size_t)str[k];
      rem /= (size_t)x->dims[k];
    }
    base[r] = off;
  }
  for (size_t j = 0; j < inner; j++) {
    size_t rem = j, off = 0;
    for (int k = x->rank; k-- > axis;) {
      off += (rem % (size_t)x->dims[k]) * (size_t)str[k];
      rem /= (size_t)x->dims[k];
    }
    inoff[j] = off;
  }
}

#define EMB_LN_ROW(NAME, T)                                                  \
  static void NAME(const T *x, T *y, size_t inner, double m, double inv,     \
                   const double *sc, const size_t *sc_off, const double *bi, \
                   const size_t *bi_off) {                                   \
    for (size_t j = 0; j < inner; j++) {                                     \
      double v = ((double)x[j] - m) * inv * sc[sc_off[j]];                   \
      if (bi) v += bi[bi_off[j]];                                            \
      y[j] = (T)v;                                                           \
    }                                                                        \
  }
EMB_LN_ROW(ln_row_f32, float)
EMB_LN_ROW(ln_row_f64, double)

static ember_status ln_run(emb_run_ctx *c) {
  const ln_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0), *sc = emb_in_t(c, 1);
  const emb_tensor *bi = emb_in_t(c, 2);
  emb_tensor *y = emb_out_t(c, 0);
  emb_tensor *mean_t = emb_out_t(c, 1), *inv_t = emb_out_t(c, 2);
  int axis;
  ember_status st = emb_axis(c->node, s->axis, x->rank, &axis, c->diag);
  if (st) return st;
  size_t outer = 1, inner = 1;
  for (int k = 0; k < x->rank; k++) {
    if (k < axis)
      outer *= (size_t)x->dims[k];
    else
      inner *= (size_t)x->dims[k];
  }
  size_t sn = emb_tensor_numel(sc), bn = bi ? emb_tensor_numel(bi) : 0;
  size_t par_b = emb_align64((sn + bn) * sizeof(double)) +
                 emb_align64(2 * (outer + inner) * sizeof(size_t));
  char *mem = emb_scratch(c, par_b + half_bytes(x));
  if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
  double *scv = (double *)mem, *biv = bi ? scv + sn : NULL;
  size_t *sbase = (size_t *)(mem + emb_align64((sn + bn) * sizeof(double)));
  size_t *s_in = sbase + outer, *bbase = s_in + inner, *b_in = bbase + outer;
  read_f64(sc, sn, scv);
  ln_offsets(x, axis, sc, outer, inner, sbase, s_in);
  if (bi) {
    read_f64(bi, bn, biv);
    ln_offsets(x, axis, bi, outer, inner, bbase, b_in);
  }
  norm_io io;
  norm_begin(x, y, (float *)(mem + par_b), &io);
  for (size_t r = 0; r < outer; r++) {
    double m, v;
    moments(&io, r * inner, inner, &m, &v);
    double inv = 1.0 / sqrt(v + (double)s->epsilon);
    const double *srow = scv + sbase[r], *brow = bi ? biv + bbase[r] : NULL;
    if (io.f64)
      ln_row_f64((const double *)io.x + r * inner, (double *)io.y + r * inner,
                 inner, m, inv, srow, s_in, brow, b_in);
    else
      ln_row_f32((const float *)io.x + r * inner, (float *)io.y + r * inner,
                 inner, m, inv, srow, s_in, brow, b_in);
    if (mean_t) emb_tensor_set_f64(mean_t, r, m);
    if (inv_t) emb_tensor_set_f64(inv_t, r, inv);
  }
  norm_finish(y, &io);
  return EMBER_OK;
}

const emb_opdef emb_op_batchnormalization = {5, 5,       1,        5,
                                             0, bn_init, bn_infer, bn_run};
const emb_opdef emb_op_instancenormalization = {3, 3,       1,        1,
                                                0, in_init, in_infer, in_run};
const emb_opdef emb_op_layernormalization = {2, 3,       1,        3,
                                             0, ln_init, ln_infer, ln_run};
