/*
 * Pooling over the spatial axes of (N, C, D1, ..., Dn) tensors: MaxPool
 * (with the optional int64 Indices output, row- or column-major per
 * storage_order), AveragePool (count_include_pad), GlobalAveragePool,
 * GlobalMaxPool, and LRN (a window across channels).  Windows follow the
 * geometry of window.h (auto_pad, pads, strides, dilations, ceil_mode).
 * For each axis and output index the valid taps (those inside the input)
 * are tabulated once per run, so the inner loops never test bounds; the
 * same tables give AveragePool's divisor with and without padding.
 * float32, float64 and (MaxPool) int8 / uint8 run directly; float16 and
 * bfloat16 through float32 scratch.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/f32cvt.h"
#include "ops/op.h"
#include "ops/tiles.h"
#include "ops/window.h"

static const int32_t float_types[] = {EMBER_FLOAT, EMBER_DOUBLE, EMBER_FLOAT16,
                                      EMBER_BFLOAT16, 0};
static const int32_t maxpool_types[] = {EMBER_FLOAT,
                                        EMBER_DOUBLE,
                                        EMBER_FLOAT16,
                                        EMBER_BFLOAT16,
                                        EMBER_INT8,
                                        EMBER_UINT8,
                                        0};

typedef struct pool_state {
  emb_window w;
  bool is_max;
  bool count_pad; /* AveragePool count_include_pad */
  bool col_major; /* MaxPool storage_order = 1     */
} pool_state;

/* ------------------------------------------------------------- the plan */

/* One run's geometry: per spatial axis and output index, where the valid
 * taps start in the input, how many there are, and how many taps lie
 * inside the padded extent (for count_include_pad). */
typedef struct pool_plan {
  int nsp;
  size_t in[EMB_MAX_RANK], out[EMB_MAX_RANK];
  size_t stride_in[EMB_MAX_RANK]; /* row-major element strides of input */
  size_t dil[EMB_MAX_RANK];
  size_t in_size, out_size;
  size_t *start[EMB_MAX_RANK];
  size_t *taps[EMB_MAX_RANK];
  size_t *padded[EMB_MAX_RANK];
} pool_plan;

static size_t ceil_div_pos(int64_t a, int64_t b) {
  return a <= 0 ? 0 : (size_t)((a + b - 1) / b);
}

/* Fill the tables (3 * sum(out) size_t of `tab`). */
static void pool_plan_fill(pool_plan *p, const emb_window_axis *ax,
                           size_t *tab) {
  for (int d = 0; d < p->nsp; d++) {
    p->start[d] = tab;
    p->taps[d] = tab + p->out[d];
    p->padded[d] = tab + 2 * p->out[d];
    tab += 3 * p->out[d];
    const emb_window_axis *a = &ax[d];
    size_t k = (size_t)a->k;
    for (size_t o = 0; o < p->out[d]; o++) {
      int64_t base = (int64_t)o * a->s - a->pad_b; /* position of tap 0 */
      size_t lo = base >= 0 ? 0 : ceil_div_pos(-base, a->d);
      size_t hi = ceil_div_pos(a->in - base, a->d);
      size_t ph = ceil_div_pos(a->in + a->pad_e - base, a->d);
      if (hi > k) hi = k;
      if (ph > k) ph = k;
      if (hi < lo) hi = lo;
      p->start[d][o] = lo < hi ? (size_t)(base + (int64_t)lo * a->d) : 0;
      p->taps[d][o] = hi - lo;
      p->padded[d][o] = ph;
    }
  }
}

/* Row-major in-plane offset -> column-major (storage_order = 1). */
static size_t col_major_offset(const pool_plan *p, size_t off) {
  size_t idx = 0, scale = 1, coord[EMB_MAX_RANK];
  for (int d = p->nsp; d-- > 0;) {
    coord[d] = off % p->in[d];
    off /= p->in[d];
  }
  for (int d = 0; d < p->nsp; d++) {
    idx += coord[d] * scale;
    scale *= p->in[d];
  }
  return idx;
}

/* Window walk shared by the pools: for output position o (coordinates),
 * BODY runs for every valid tap with `xo` the tap's in-plane offset.
 * Taps along the last axis are the inner loop. */
#define POOL_WINDOW(p, o, BODY)                                       \
  do {                                                                \
    int last_ = (p)->nsp - 1;                                         \
    size_t base_ = 0, kk_[EMB_MAX_RANK];                              \
    bool empty_ = false;                                              \
    for (int d_ = 0; d_ <= last_; d_++) {                             \
      kk_[d_] = 0;                                                    \
      if ((p)->taps[d_][(o)[d_]] == 0) empty_ = true;                 \
      base_ += (p)->start[d_][(o)[d_]] * (p)->stride_in[d_];          \
    }                                                                 \
    size_t nl_ = (p)->taps[last_][(o)[last_]], dl_ = (p)->dil[last_]; \
    while (!empty_) {                                                 \
      size_t row_ = base_;                                            \
      for (int d_ = 0; d_ < last_; d_++)                              \
        row_ += kk_[d_] * (p)->dil[d_] * (p)->stride_in[d_];          \
      for (size_t t_ = 0; t_ < nl_; t_++) {                           \
        size_t xo = row_ + t_ * dl_;                                  \
        BODY;                                                         \
      }                                                               \
      int d_ = last_ - 1;                                             \
      for (; d_ >= 0; d_--) {                                         \
        if (++kk_[d_] < (p)->taps[d_][(o)[d_]]) break;                \
        kk_[d_] = 0;                                                  \
      }                                                               \
      if (d_ < 0) break;                                              \
    }                                                                 \
  } while (0)

static void pool_next(const pool_plan *p, size_t *o) {
  for (int d = p->nsp; d-- > 0;) {
    if (++o[d] < p->out[d]) return;
    o[d] = 0;
  }
}

#define EMB_MAXPOOL(NAME, T, LOWEST)                                       \
  static void NAME(const pool_plan *p, size_t first, size_t planes,        \
                   const T *x, T *y, int64_t *ind, bool col_major) {       \
    for (size_t pl = first; pl < first + planes; pl++) {                   \
      const T *xp = x + pl * p->in_size;                                   \
      size_t o[EMB_MAX_RANK] = {0};                                        \
      for (size_t j = 0; j < p->out_size; j++, pool_next(p, o)) {          \
        T best = LOWEST;                                                   \
        size_t at = SIZE_MAX;                                              \
        POOL_WINDOW(p, o, {                                                \
          if (at == SIZE_MAX || xp[xo] > best) {                           \
            best = xp[xo];                                                 \
            at = xo;                                                       \
          }                                                                \
        });                                                                \
        y[pl * p->out_size + j] = best;                                    \
        if (ind)                                                           \
          ind[pl * p->out_size + j] =                                      \
              at == SIZE_MAX                                               \
                  ? -1                                                     \
                  : (int64_t)(pl * p->in_size +                            \
                              (col_major ? col_major_offset(p, at) : at)); \
      }                                                                    \
    }                                                                      \
  }
EMB_MAXPOOL(maxpool_f32, float, -INFINITY)
EMB_MAXPOOL(maxpool_f64, double, -INFINITY)
EMB_MAXPOOL(maxpool_i8, int8_t, INT8_MIN)
EMB_MAXPOOL(maxpool_u8, uint8_t, 0)

#define EMB_AVGPOOL(NAME, T)                                            \
  static void NAME(const pool_plan *p, size_t first, size_t planes,    \
                   const T *x, T *y, bool count_pad) {                  \
    for (size_t pl = first; pl < first + planes; pl++) {                \
      const T *xp = x + pl * p->in_size;                                \
      size_t o[EMB_MAX_RANK] = {0};                                     \
      for (size_t j = 0; j < p->out_size; j++, pool_next(p, o)) {       \
        double sum = 0.0;                                               \
        size_t cnt = 1;                                                 \
        for (int d = 0; d < p->nsp; d++)                                \
          cnt *= count_pad ? p->padded[d][o[d]] : p->taps[d][o[d]];     \
        POOL_WINDOW(p, o, sum += (double)xp[xo]);                       \
        y[pl * p->out_size + j] = (T)(cnt ? sum / (double)cnt : NAN);   \
      }                                                                 \
    }                                                                   \
  }
EMB_AVGPOOL(avgpool_f32, float)
EMB_AVGPOOL(avgpool_f64, double)

/* Planes (n, c) are independent: runs cut them into blocks, one task
 * each. */
typedef struct pool_job {
  const pool_plan *p;
  int32_t dtype;
  bool is_max, flag; /* flag: col_major (max) or count_pad (average) */
  const void *x;
  void *y;
  int64_t *ind;
  size_t planes, parts;
} pool_job;

static void pool_task(void *arg, size_t t, int thread) {
  const pool_job *j = arg;
  size_t first = emb_block_start(j->planes, j->parts, 1, t);
  size_t cnt = emb_block_start(j->planes, j->parts, 1, t + 1) - first;
  (void)thread;
  if (j->is_max) {
    switch (j->dtype) {
      case EMBER_FLOAT:
        maxpool_f32(j->p, first, cnt, j->x, j->y, j->ind, j->flag);
        break;
      case EMBER_DOUBLE:
        maxpool_f64(j->p, first, cnt, j->x, j->y, j->ind, j->flag);
        break;
      case EMBER_INT8:
        maxpool_i8(j->p, first, cnt, j->x, j->y, j->ind, j->flag);
        break;
      case EMBER_UINT8:
        maxpool_u8(j->p, first, cnt, j->x, j->y, j->ind, j->flag);
        break;
      default:
        break;
    }
  } else if (j->dtype == EMBER_DOUBLE) {
    avgpool_f64(j->p, first, cnt, j->x, j->y, j->flag);
  } else {
    avgpool_f32(j->p, first, cnt, j->x, j->y, j->flag);
  }
}

/* Blocks of planes worth a task each, for `work` units in all. */
static size_t pool_parts(emb_run_ctx *c, size_t planes, size_t work) {
  size_t parts = emb_tile_parts(work, EMB_TILE_MIN_ELEMS, emb_run_threads(c));
  return parts < planes ? parts : planes;
}

/* ---------------------------------------------------- MaxPool, AveragePool */

static ember_status pool_init_common(emb_init_ctx *c, bool is_max) {
  const emb_node *n = c->node;
  ember_status st;
  pool_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->is_max = is_max;
  if ((st = emb_window_parse(n, true, true, &s->w, c->diag))) return st;
  int64_t v = 0;
  if (is_max) {
    if ((st = emb_attr_int(n, "storage_order", 0, &v, c->diag))) return st;
    if (v != 0 && v != 1)
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "storage_order must be 0 or 1, not %lld",
                         (long long)v);
    s->col_major = v == 1;
  } else {
    if ((st = emb_attr_int(n, "count_include_pad", 0, &v, c->diag))) return st;
    s->count_pad = v != 0;
  }
  c->node->state = s;
  return EMBER_OK;
}

static ember_status maxpool_init(emb_init_ctx *c) {
  return pool_init_common(c, true);
}
static ember_status averagepool_init(emb_init_ctx *c) {
  return pool_init_common(c, false);
}

static ember_status pool_infer(emb_infer_ctx *c) {
  const emb_node *n = c->node;
  const pool_state *s = n->state;
  const emb_type *x = c->in[0];
  ember_status st =
      emb_infer_check_dtype(c, 0, s->is_max ? maxpool_types : float_types);
  if (st) return st;
  emb_type *y = &c->out[0];
  emb_type_unknown(y);
  if (c->n_out > 1) {
    emb_type_unknown(&c->out[1]);
    c->out[1].kind = EMBER_KIND_TENSOR;
    c->out[1].dtype = EMBER_INT64;
  }
  if (!x || x->kind != EMBER_KIND_TENSOR) return EMBER_OK;
  y->kind = EMBER_KIND_TENSOR;
  y->dtype = x->dtype;
  if (x->rank < 0) return EMBER_OK;
  if ((st = emb_window_axes(n, &s->w, x->rank, c->diag))) return st;
  int nsp = x->rank - 2;
  y->rank = x->rank;
  y->dims[0] = x->dims[0];
  y->dims[1] = x->dims[1];
  for (int i = 0; i < nsp; i++) {
    y->dims[2 + i] = (emb_dim){-1, 0};
    if (x->dims[2 + i].v < 0) continue;
    emb_window_axis ax;
    if ((st = emb_window_resolve(n, &s->w, i, nsp, x->dims[2 + i].v,
                                 s->w.kernel[i], &ax, c->diag)))
      return st;
    y->dims[2 + i].v = ax.out;
  }
  if (c->n_out > 1) {
    c->out[1] = *y;
    c->out[1].dtype = EMBER_INT64;
  }
  return EMBER_OK;
}

static ember_status pool_run(emb_run_ctx *c) {
  const emb_node *n = c->node;
  const pool_state *s = n->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0), *ind = emb_out_t(c, 1);
  pool_plan p;
  emb_window_axis ax[EMB_MAX_RANK];
  memset(&p, 0, sizeof p);
  p.nsp = x->rank - 2;
  p.in_size = p.out_size = 1;
  size_t tab_n = 0;
  for (int d = p.nsp; d-- > 0;) {
    ember_status st = emb_window_resolve(n, &s->w, d, p.nsp, x->dims[2 + d],
                                         s->w.kernel[d], &ax[d], c->diag);
    if (st) return st;
    p.in[d] = (size_t)ax[d].in;
    p.out[d] = (size_t)ax[d].out;
    p.dil[d] = (size_t)ax[d].d;
    p.stride_in[d] = p.in_size;
    p.in_size *= p.in[d];
    p.out_size *= p.out[d];
    tab_n += 3 * p.out[d];
  }
  size_t planes = (size_t)x->dims[0] * (size_t)x->dims[1];
  if (planes * p.out_size == 0) return EMBER_OK;
  bool half = emb_is_half(x->dtype);
  size_t tab_b = emb_align64(tab_n * sizeof(size_t));
  size_t xn = planes * p.in_size, yn = planes * p.out_size;
  size_t half_b = half ? emb_align64(xn * 4) + emb_align64(yn * 4) : 0;
  char *mem = emb_scratch(c, tab_b + half_b);
  if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
  pool_plan_fill(&p, ax, (size_t *)mem);
  int64_t *ip = ind ? ind->data : NULL;
  const void *xd = x->data;
  void *yd = y->data;
  int32_t dt = x->dtype;
  if (half) {
    float *xf = (float *)(mem + tab_b);
    emb_cvt_to_f32(dt, x->data, xn, xf);
    xd = xf;
    yd = (char *)xf + emb_align64(xn * 4);
    dt = EMBER_FLOAT;
  }
  /* Work: about one unit per window tap. */
  size_t taps = 1;
  for (int d = 0; d < p.nsp; d++) taps *= (size_t)s->w.kernel[d];
  pool_job jb = {&p, dt, s->is_max, s->is_max ? s->col_major : s->count_pad,
                 xd, yd, ip, planes, pool_parts(c, planes, yn * taps)};
  emb_parallel_for(c, jb.parts, pool_task, &jb);
  if (half) emb_cvt_from_f32(x->dtype, yd, yn, y->data);
  return EMBER_OK;
}

/* --------------------------------------------- GlobalAverage/MaxPool */

static ember_status global_infer(emb_infer_ctx *c) {
  const emb_type *x = c->in[0];
  ember_status st = emb_infer_check_dtype(c, 0, float_types);
  if (st) return st;
  if ((st = emb_infer_same(c))) return st;
  if (x && x->kind == EMBER_KIND_TENSOR && x->rank >= 0) {
    if (x->rank < 2)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "input must have rank 2 or more, not %d", x->rank);
    for (int i = 2; i < x->rank; i++) c->out[0].dims[i] = (emb_dim){1, 0};
  }
  return EMBER_OK;
}

#define EMB_GLOBAL(NAME, T)                                                    \
  static void NAME(const T *x, T *y, size_t first, size_t planes, size_t len, \
                   bool is_max) {                                              \
    for (size_t pl = first; pl < first + planes; pl++) {                      \
      const T *xp = x + pl * len;                                              \
      if (is_max) {                                                            \
        T m = len ? xp[0] : (T)-INFINITY;                                      \
        for (size_t i = 1; i < len; i++)                                       \
          if (xp[i] > m) m = xp[i];                                            \
        y[pl] = m;                                                             \
      } else {                                                                 \
        double s = 0.0;                                                        \
        for (size_t i = 0; i < len; i++) s += (double)xp[i];                   \
        y[pl] = (T)(len ? s / (double)len : NAN);                              \
      }                                                                        \
    }                                                                          \
  }
EMB_GLOBAL(global_f32, float)
EMB_GLOBAL(global_f64, double)

typedef struct global_job {
  const void *x;
  void *y;
  bool dbl, is_max;
  size_t planes, len, parts;
} global_job;

static void global_task(void *arg, size_t t, int thread) {
  const global_job *j = arg;
  size_t first = emb_block_start(j->planes, j->parts, 1, t);
  size_t cnt = emb_block_start(j->planes, j->parts, 1, t + 1) - first;
  (void)thread;
  if (j->dbl)
    global_f64(j->x, j->y, first, cnt, j->len, j->is_max);
  else
    global_f32(j->x, j->y, first, cnt, j->len, j->is_max);
}

static ember_status global_run(emb_run_ctx *c, bool is_max) {
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  size_t planes = (size_t)x->dims[0] * (size_t)x->dims[1];
  size_t len = 1;
  for (int i = 2; i < x->rank; i++) len *= (size_t)x->dims[i];
  if (planes == 0) return EMBER_OK;
  global_job jb = {x->data, y->data, x->dtype == EMBER_DOUBLE, is_max,
                   planes, len, pool_parts(c, planes, planes * len)};
  if (x->dtype == EMBER_DOUBLE || x->dtype == EMBER_FLOAT) {
    emb_parallel_for(c, jb.parts, global_task, &jb);
  } else {
    size_t xn = planes * len;
    float *buf = emb_scratch(c, (xn + planes) * sizeof(float));
    if (!buf) return EMBER_ERR_OUT_OF_MEMORY;
    emb_cvt_to_f32(x->dtype, x->data, xn, buf);
    jb.x = buf;
    jb.y = buf + xn;
    emb_parallel_for(c, jb.parts, global_task, &jb);
    emb_cvt_from_f32(x->dtype, buf + xn, planes, y->data);
  }
  return EMBER_OK;
}

static ember_status globalaveragepool_run(emb_run_ctx *c) {
  return global_run(c, false);
}
static ember_status globalmaxpool_run(emb_run_ctx *c) {
  return global_run(c, true);
}

/* ------------------------------------------------------------------ LRN */

typedef struct lrn_state {
  float alpha, beta, bias;
  int64_t size;
} lrn_state;

static ember_status lrn_init(emb_init_ctx *c) {
  const emb_node *n = c->node;
  ember_status st;
  lrn_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  if ((st = emb_attr_float(n, "alpha", 1e-4f, &s->alpha, c->diag)) ||
      (st = emb_attr_float(n, "beta", 0.75f, &s->beta, c->diag)) ||
      (st = emb_attr_float(n, "bias", 1.0f, &s->bias, c->diag)) ||
      (st = emb_attr_int(n, "size", 0, &s->size, c->diag)))
    return st;
  if (!emb_node_attr(n, "size") || s->size < 1)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "attribute 'size' is required and must be positive");
  c->node->state = s;
  return EMBER_OK;
}

static ember_status lrn_infer(emb_infer_ctx *c) {
  const emb_type *x = c->in[0];
  ember_status st = emb_infer_check_dtype(c, 0, float_types);
  if (st) return st;
  if (x && x->kind == EMBER_KIND_TENSOR && x->rank >= 0 && x->rank < 2)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "input must have rank 2 or more, not %d", x->rank);
  return emb_infer_same(c);
}

/* The channel window of c is [c - (size-1)/2, c + ceil((size-1)/2)],
 * clipped; sums of squares are kept per spatial position in `acc`. */
#define EMB_LRN(NAME, T, POW)                                                  \
  static void NAME(const lrn_state *s, const T *x, T *y, size_t nb, size_t ch, \
                   size_t sp, T *acc) {                                        \
    size_t before = (size_t)(s->size - 1) / 2;                                 \
    size_t after = (size_t)s->size / 2; /* ceil((size - 1) / 2) */             \
    T scale = (T)s->alpha / (T)s->size;                                        \
    for (size_t b = 0; b < nb; b++)                                            \
      for (size_t cc = 0; cc < ch; cc++) {                                     \
        size_t lo = cc > before ? cc - before : 0;                             \
        size_t hi = cc + after < ch ? cc + after : ch - 1;                     \
        for (size_t i = 0; i < sp; i++) acc[i] = 0;                            \
        for (size_t k = lo; k <= hi; k++) {                                    \
          const T *xk = x + (b * ch + k) * sp;                                 \
          for (size_t i = 0; i < sp; i++) acc[i] += xk[i] * xk[i];             \
        }                                                                      \
        const T *xc = x + (b * ch + cc) * sp;                                  \
        T *yc = y + (b * ch + cc) * sp;                                        \
        for (size_t i = 0; i < sp; i++)                                        \
          yc[i] = xc[i] / POW((T)s->bias + scale * acc[i], (T)s->beta);        \
      }                                                                        \
  }
EMB_LRN(lrn_f32, float, powf)
EMB_LRN(lrn_f64, double, pow)

static ember_status lrn_run(emb_run_ctx *c) {
  const lrn_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  size_t nb = (size_t)x->dims[0], ch = (size_t)x->dims[1], sp = 1;
  for (int i = 2; i < x->rank; i++) sp *= (size_t)x->dims[i];
  size_t num = nb * ch * sp;
  if (num == 0) return EMBER_OK;
  bool half = emb_is_half(x->dtype);
  size_t acc_b = emb_align64(sp * 8);
  char *mem = emb_scratch(c, acc_b + (half ? 2 * emb_align64(num * 4) : 0));
  if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
  if (x->dtype == EMBER_DOUBLE) {
    lrn_f64(s, x->data, y->data, nb, ch, sp, (double *)mem);
  } else if (!half) {
    lrn_f32(s, x->data, y->data, nb, ch, sp, (float *)mem);
  } else {
    float *xf = (float *)(mem + acc_b);
    float *yf = (float *)((char *)xf + emb_align64(num * 4));
    emb_cvt_to_f32(x->dtype, x->data, num, xf);
    lrn_f32(s, xf, yf, nb, ch, sp, (float *)mem);
    emb_cvt_from_f32(x->dtype, yf, num, y->data);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_maxpool = {1,          1,       1, 2, 0, maxpool_init,
                                  pool_infer, pool_run};
const emb_opdef emb_op_averagepool = {
    1, 1, 1, 1, 0, averagepool_init, pool_infer, pool_run};
const emb_opdef emb_op_globalaveragepool = {
    1, 1, 1, 1, 0, NULL, global_infer, globalaveragepool_run};
const emb_opdef emb_op_globalmaxpool = {
    1, 1, 1, 1, 0, NULL, global_infer, globalmaxpool_run};
const emb_opdef emb_op_lrn = {1, 1, 1, 1, 0, lrn_init, lrn_infer, lrn_run};
