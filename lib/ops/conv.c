/*
 * Conv and ConvTranspose, every spatial rank (1-D, 2-D, 3-D and beyond),
 * with auto_pad, pads, strides, dilations and groups (depthwise included);
 * ConvTranspose adds output_padding and output_shape.  float32 runs as
 * im2col + the blocked GEMM kernel (kernels/f32-conv, kernels/f32-gemm):
 * Y_g = W_g x col(X_g), built a slice of output columns at a time so the
 * col buffer stays a few MiB whatever the image size; a 1x1, stride-1,
 * unpadded Conv multiplies X directly.  ConvTranspose is the adjoint:
 * col2im(W_g^T x X_g).  float16 and bfloat16 are widened to float32
 * scratch; float64 uses a direct loop (rare, kept simple and exact).
 */
#include <string.h>

#include "f32-conv/f32-conv.h"
#include "f32-gemm/f32-gemm.h"
#include "ops/f32cvt.h"
#include "ops/op.h"
#include "ops/tiles.h"
#include "ops/window.h"

typedef struct conv_state {
  emb_window w;
  int64_t group;
  bool transpose;
  /* ConvTranspose only. */
  int64_t out_pad[EMB_MAX_RANK];
  size_t n_out_shape;                  /* 0 when absent              */
  int64_t out_shape[EMB_MAX_RANK + 2]; /* as written (maybe with N,C) */
} conv_state;

static const int32_t conv_types[] = {EMBER_FLOAT, EMBER_DOUBLE, EMBER_FLOAT16,
                                     EMBER_BFLOAT16, 0};

/* Up to this many floats of im2col / col2im buffer per GEMM call. */
#define COL_BUDGET ((size_t)1 << 20)

/* ------------------------------------------------------------ attributes */

static ember_status conv_init_common(emb_init_ctx *c, bool transpose) {
  const emb_node *n = c->node;
  ember_status st;
  conv_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->transpose = transpose;
  if ((st = emb_window_parse(n, false, false, &s->w, c->diag))) return st;
  if ((st = emb_attr_int(n, "group", 1, &s->group, c->diag))) return st;
  if (s->group < 1)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "group must be at least 1, not %lld",
                       (long long)s->group);
  if (transpose) {
    if ((st = emb_window_list(n, "output_padding", 1, 0, 0, &s->w.nsp,
                              s->out_pad, NULL, c->diag)))
      return st;
    const int64_t *os;
    if ((st = emb_attr_ints(n, "output_shape", &os, &s->n_out_shape, c->diag)))
      return st;
    if (os) {
      if (s->n_out_shape > EMB_MAX_RANK + 2 || s->n_out_shape == 0)
        return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                           "output_shape has %zu values", s->n_out_shape);
      for (size_t i = 0; i < s->n_out_shape; i++) {
        if (os[i] < 0 || os[i] > EMB_WINDOW_MAX)
          return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                             "output_shape has the invalid value %lld",
                             (long long)os[i]);
        s->out_shape[i] = os[i];
      }
    }
  }
  c->node->state = s;
  return EMBER_OK;
}

static ember_status conv_init(emb_init_ctx *c) {
  return conv_init_common(c, false);
}

static ember_status convtranspose_init(emb_init_ctx *c) {
  return conv_init_common(c, true);
}

/* -------------------------------------------------------------- geometry */

/* ConvTranspose along axis i: output size and pads (which may be
 * negative when output_shape asks for more than the full result). */
static ember_status convt_axis(const emb_node *n, const conv_state *s, int i,
                               int nsp, int64_t in, int64_t k,
                               emb_window_axis *ax, emb_diag *d) {
  const emb_window *w = &s->w;
  int64_t st = w->strides[i], dil = w->dilations[i], op = s->out_pad[i];
  if (in > EMB_WINDOW_MAX || k > EMB_WINDOW_MAX)
    return emb_op_fail(d, n, EMBER_ERR_LIMIT,
                       "spatial axis %d: size %lld or kernel %lld too large", i,
                       (long long)in, (long long)k);
  int64_t full = st * (in - 1) + op + (k - 1) * dil + 1;
  int64_t out, pb = 0, pe = 0;
  bool split = true;
  if (s->n_out_shape) {
    if (s->n_out_shape != (size_t)nsp && s->n_out_shape != (size_t)nsp + 2)
      return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                         "output_shape has %zu values for %d spatial axes",
                         s->n_out_shape, nsp);
    out = s->out_shape[s->n_out_shape - (size_t)nsp + (size_t)i];
  } else if (w->autopad == EMB_AUTOPAD_SAME_UPPER ||
             w->autopad == EMB_AUTOPAD_SAME_LOWER) {
    out = in * st;
  } else {
    split = false;
    if (w->autopad == EMB_AUTOPAD_NOTSET) {
      pb = w->pads[i];
      pe = w->pads[i + nsp];
    }
    out = full - pb - pe;
  }
  if (split) {
    /* The spec's pad split, with Python's floor division. */
    int64_t total = full - out;
    int64_t half = emb_div_floor(total, 2);
    pb = w->autopad == EMB_AUTOPAD_SAME_UPPER ? half : total - half;
    pe = total - pb;
  }
  if (out < 0 || (out == 0 && in > 0))
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "spatial axis %d: output size %lld is not positive", i,
                       (long long)out);
  ax->in = in;
  ax->out = out;
  ax->k = k;
  ax->s = st;
  ax->d = dil;
  ax->pad_b = pb;
  ax->pad_e = pe;
  return EMBER_OK;
}

/* Kernel size along axis i: kernel_shape when given, else W's dim. */
static int64_t conv_kernel_dim(const conv_state *s, int i, int64_t wdim) {
  return s->w.has_kernel ? s->w.kernel[i] : wdim;
}

/* ----------------------------------------------------------------- infer */

static ember_status conv_infer(emb_infer_ctx *c) {
  const emb_node *n = c->node;
  const conv_state *s = n->state;
  const emb_type *x = c->in[0], *w = c->in[1];
  const emb_type *b = c->n_in > 2 ? c->in[2] : NULL;
  emb_type *y = &c->out[0];
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, conv_types)) ||
      (st = emb_infer_same_dtype(c, 0, 2)))
    return st;
  emb_type_unknown(y);
  if (!x || x->kind != EMBER_KIND_TENSOR) return EMBER_OK;
  y->kind = EMBER_KIND_TENSOR;
  y->dtype = x->dtype;
  bool w_known = w && w->kind == EMBER_KIND_TENSOR && w->rank >= 0;
  int rank = x->rank >= 0 ? x->rank : w_known ? w->rank : -1;
  if (rank < 0) return EMBER_OK;
  if ((st = emb_window_axes(n, &s->w, rank, c->diag))) return st;
  if (w_known && w->rank != rank)
    return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                       "W has rank %d but X has rank %d", w->rank, rank);
  int nsp = rank - 2;
  int64_t g = s->group;
  if (s->n_out_shape && s->n_out_shape != (size_t)nsp &&
      s->n_out_shape != (size_t)nsp + 2)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "output_shape has %zu values for %d spatial axes",
                       s->n_out_shape, nsp);
  y->rank = rank;
  for (int i = 0; i < rank; i++) y->dims[i] = (emb_dim){-1, 0};
  if (x->rank >= 0) y->dims[0] = x->dims[0];
  int64_t xc = x->rank >= 0 ? x->dims[1].v : -1;
  int64_t w0 = w_known ? w->dims[0].v : -1, w1 = w_known ? w->dims[1].v : -1;
  /* Output channels: Conv W is (M, C/g, k...), ConvTranspose W is
   * (C, M/g, k...). */
  int64_t m = -1;
  if (!s->transpose) {
    if (w_known) y->dims[1] = w->dims[0];
    m = w0;
    if (xc >= 0 && w1 >= 0 && xc != w1 * g)
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "X has %lld channels but W expects %lld x group "
                         "%lld",
                         (long long)xc, (long long)w1, (long long)g);
    if (w0 >= 0 && w0 % g)
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "W has %lld output channels, not a multiple of "
                         "group %lld",
                         (long long)w0, (long long)g);
  } else {
    if (w1 >= 0) m = w1 * g;
    y->dims[1].v = m;
    if (xc >= 0 && w0 >= 0 && xc != w0)
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "X has %lld channels but W has %lld", (long long)xc,
                         (long long)w0);
    if (xc >= 0 && xc % g)
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "X has %lld channels, not a multiple of group "
                         "%lld",
                         (long long)xc, (long long)g);
  }
  if (b && b->kind == EMBER_KIND_TENSOR && b->rank >= 0) {
    if (b->rank != 1)
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "B must have rank 1, not %d", b->rank);
    if (m >= 0 && b->dims[0].v >= 0 && b->dims[0].v != m)
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "B has %lld values for %lld output channels",
                         (long long)b->dims[0].v, (long long)m);
  }
  for (int i = 0; i < nsp; i++) {
    int64_t wk = w_known ? w->dims[2 + i].v : -1;
    if (s->w.has_kernel && wk >= 0 && wk != s->w.kernel[i])
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "kernel_shape[%d] is %lld but W has %lld", i,
                         (long long)s->w.kernel[i], (long long)wk);
    int64_t k = conv_kernel_dim(s, i, wk);
    int64_t in = x->rank >= 0 ? x->dims[2 + i].v : -1;
    if (s->transpose && s->n_out_shape && (in < 0 || k < 0)) {
      y->dims[2 + i].v = s->out_shape[s->n_out_shape - (size_t)nsp + i];
      continue;
    }
    if (in < 0 || k < 0) continue;
    emb_window_axis ax;
    st = s->transpose
             ? convt_axis(n, s, i, nsp, in, k, &ax, c->diag)
             : emb_window_resolve(n, &s->w, i, nsp, in, k, &ax, c->diag);
    if (st) return st;
    y->dims[2 + i].v = ax.out;
  }
  return EMBER_OK;
}

/* ------------------------------------------------------------------- run */

/* Shapes of one run, all known. */
typedef struct conv_shape {
  int nsp;
  size_t n, c, m, g; /* batch, in channels, out channels, groups */
  size_t cg, mg;     /* channels per group in / out              */
  size_t ksize;      /* prod(kernel)                             */
  size_t xsp, ysp;   /* prod(input spatial), prod(output spatial)*/
  size_t img[EMB_MAX_RANK], grid[EMB_MAX_RANK], kernel[EMB_MAX_RANK];
  size_t stride[EMB_MAX_RANK], dil[EMB_MAX_RANK];
  ptrdiff_t pad[EMB_MAX_RANK];
  bool pointwise; /* the GEMM needs no im2col / col2im        */
} conv_shape;

static ember_status conv_shape_of(emb_run_ctx *c, conv_shape *sh) {
  const emb_node *n = c->node;
  const conv_state *s = n->state;
  const emb_tensor *x = emb_in_t(c, 0), *w = emb_in_t(c, 1);
  const emb_tensor *y = emb_out_t(c, 0);
  memset(sh, 0, sizeof *sh);
  sh->nsp = x->rank - 2;
  sh->n = (size_t)x->dims[0];
  sh->c = (size_t)x->dims[1];
  sh->m = (size_t)y->dims[1];
  sh->g = (size_t)s->group;
  sh->cg = sh->c / sh->g;
  sh->mg = sh->m / sh->g;
  sh->ksize = sh->xsp = sh->ysp = 1;
  sh->pointwise = true;
  for (int i = 0; i < sh->nsp; i++) {
    emb_window_axis ax;
    int64_t k = conv_kernel_dim(s, i, w->dims[2 + i]);
    ember_status st =
        s->transpose
            ? convt_axis(n, s, i, sh->nsp, x->dims[2 + i], k, &ax, c->diag)
            : emb_window_resolve(n, &s->w, i, sh->nsp, x->dims[2 + i], k, &ax,
                                 c->diag);
    if (st) return st;
    /* The image is the unpadded side: Conv's input, ConvTranspose's
     * output; the grid is the other. */
    sh->img[i] = (size_t)(s->transpose ? ax.out : ax.in);
    sh->grid[i] = (size_t)(s->transpose ? ax.in : ax.out);
    sh->kernel[i] = (size_t)k;
    sh->stride[i] = (size_t)ax.s;
    sh->dil[i] = (size_t)ax.d;
    sh->pad[i] = (ptrdiff_t)ax.pad_b;
    sh->ksize *= (size_t)k;
    sh->xsp *= (size_t)x->dims[2 + i];
    sh->ysp *= (size_t)y->dims[2 + i];
    if (k != 1 || ax.s != 1 || ax.pad_b != 0 || ax.in != ax.out)
      sh->pointwise = false;
  }
  return EMBER_OK;
}

static size_t conv_chunk(size_t rows, size_t cols) {
  if (rows * cols <= COL_BUDGET) return cols;
  size_t cnt = COL_BUDGET / (rows ? rows : 1);
  if (cnt < 256) cnt = 256;
  return cnt < cols ? cnt : cols;
}

/* Rows [0, rows) x columns [j0, j1) of y (row stride ld) = bias[row], or
 * 0 without a bias. */
static void fill_bias(float *y, size_t rows, size_t ld, size_t j0, size_t j1,
                      const float *bias) {
  for (size_t r = 0; r < rows; r++) {
    float v = bias ? bias[r] : 0.0f;
    for (size_t j = j0; j < j1; j++) y[r * ld + j] = v;
  }
}

/* One float32 Conv or ConvTranspose run, cut into tasks.  A unit is one
 * (image, group) pair; Conv cuts each unit into pm x pn blocks of (output
 * channels, output positions), ConvTranspose (whose col2im scatters onto
 * overlapping outputs) keeps units whole.  Each task uses its thread's
 * slice of scratch: the col buffer, then the GEMM workspace. */
typedef struct conv_job {
  const conv_shape *sh;
  const ember_conv_geom *geom;
  const float *x, *w, *bias;
  float *y;
  char *mem;
  size_t slice, col_b; /* bytes per thread; the col buffer's share  */
  size_t chunk;        /* columns per im2col (col2im) + GEMM step    */
  size_t pm, pn;       /* Conv: blocks per unit                      */
  size_t am, an;       /* alignment of block starts (register tile)  */
} conv_job;

/* float32 Conv: x (N, C, img...), w (M, C/g, k...), y (N, M, grid...). */
static void conv_task(void *arg, size_t t, int thread) {
  const conv_job *jb = arg;
  const conv_shape *sh = jb->sh;
  size_t per = jb->pm * jb->pn, unit = t / per, bm = t % per / jb->pn,
         bn = t % per % jb->pn;
  size_t n = unit / sh->g, g = unit % sh->g;
  size_t m0 = emb_block_start(sh->mg, jb->pm, jb->am, bm),
         m1 = emb_block_start(sh->mg, jb->pm, jb->am, bm + 1);
  size_t c0 = emb_block_start(sh->ysp, jb->pn, jb->an, bn),
         c1 = emb_block_start(sh->ysp, jb->pn, jb->an, bn + 1);
  char *mem = jb->mem + (size_t)thread * jb->slice;
  float *col = (float *)mem, *work = (float *)(mem + jb->col_b);
  size_t kdim = sh->cg * sh->ksize, rows = m1 - m0;
  const float *xg = jb->x + (n * sh->c + g * sh->cg) * sh->xsp;
  const float *wg = jb->w + (g * sh->mg + m0) * kdim;
  float *yg = jb->y + (n * sh->m + g * sh->mg + m0) * sh->ysp;
  float beta = jb->bias ? 1.0f : 0.0f;
  if (jb->bias)
    fill_bias(yg, rows, sh->ysp, c0, c1, jb->bias + g * sh->mg + m0);
  if (sh->pointwise) {
    ember_f32_gemm(rows, c1 - c0, kdim, 1.0f, wg, kdim, 1, xg + c0, sh->xsp, 1,
                   beta, yg + c0, sh->ysp, work);
    return;
  }
  for (size_t j0 = c0; j0 < c1; j0 += jb->chunk) {
    size_t cnt = c1 - j0 < jb->chunk ? c1 - j0 : jb->chunk;
    ember_f32_im2col__scalar(jb->geom, sh->cg, xg, j0, cnt, col);
    ember_f32_gemm(rows, cnt, kdim, 1.0f, wg, kdim, 1, col, cnt, 1, beta,
                   yg + j0, sh->ysp, work);
  }
}

/* float32 ConvTranspose, one unit: x (N, C, grid...), w (C, M/g, k...),
 * y (N, M, img...). */
static void convt_task(void *arg, size_t unit, int thread) {
  const conv_job *jb = arg;
  const conv_shape *sh = jb->sh;
  size_t n = unit / sh->g, g = unit % sh->g;
  char *mem = jb->mem + (size_t)thread * jb->slice;
  float *col = (float *)mem, *work = (float *)(mem + jb->col_b);
  size_t rows = sh->mg * sh->ksize; /* col rows: (m, taps) */
  const float *xg = jb->x + (n * sh->c + g * sh->cg) * sh->xsp;
  const float *wg = jb->w + g * sh->cg * rows;
  float *yg = jb->y + (n * sh->m + g * sh->mg) * sh->ysp;
  fill_bias(yg, sh->mg, sh->ysp, 0, sh->ysp,
            jb->bias ? jb->bias + g * sh->mg : NULL);
  if (sh->pointwise) {
    ember_f32_gemm(sh->mg, sh->xsp, sh->cg, 1.0f, wg, 1, rows, xg, sh->xsp, 1,
                   1.0f, yg, sh->ysp, work);
    return;
  }
  for (size_t j0 = 0; j0 < sh->xsp; j0 += jb->chunk) {
    size_t cnt = sh->xsp - j0 < jb->chunk ? sh->xsp - j0 : jb->chunk;
    ember_f32_gemm(rows, cnt, sh->cg, 1.0f, wg, 1, rows, xg + j0, sh->xsp, 1,
                   0.0f, col, cnt, work);
    ember_f32_col2im__scalar(jb->geom, sh->mg, col, j0, cnt, yg);
  }
}

/* float64: direct loops over (n, m or c, position, tap).  Conv gathers,
 * ConvTranspose scatters, with the same tap geometry as im2col. */
static void conv_f64(const conv_shape *sh, bool transpose, const double *x,
                     const double *w, const double *bias, double *y) {
  int nsp = sh->nsp;
  size_t gsize = transpose ? sh->xsp : sh->ysp; /* grid positions */
  size_t isize = transpose ? sh->ysp : sh->xsp; /* image positions */
  size_t ysz = sh->n * sh->m * sh->ysp;
  for (size_t i = 0; i < ysz; i++)
    y[i] = bias ? bias[(i / sh->ysp) % sh->m] : 0.0;
  for (size_t n = 0; n < sh->n; n++)
    for (size_t g = 0; g < sh->g; g++)
      for (size_t p = 0; p < gsize; p++) {
        size_t o[EMB_MAX_RANK], rem = p;
        for (int d = nsp; d-- > 0;) {
          o[d] = rem % sh->grid[d];
          rem /= sh->grid[d];
        }
        for (size_t t = 0; t < sh->ksize; t++) {
          /* Image offset of tap t at grid position p, if inside. */
          size_t trem = t, off = 0, scale = 1;
          bool inside = true;
          for (int d = nsp; d-- > 0;) {
            size_t k = trem % sh->kernel[d];
            trem /= sh->kernel[d];
            ptrdiff_t ip =
                (ptrdiff_t)(o[d] * sh->stride[d] + k * sh->dil[d]) - sh->pad[d];
            if (ip < 0 || ip >= (ptrdiff_t)sh->img[d]) {
              inside = false;
              break;
            }
            off += (size_t)ip * scale;
            scale *= sh->img[d];
          }
          if (!inside) continue;
          for (size_t ci = 0; ci < sh->cg; ci++) {
            size_t cc = g * sh->cg + ci;
            for (size_t mi = 0; mi < sh->mg; mi++) {
              size_t mm = g * sh->mg + mi;
              if (!transpose) {
                double wv = w[(mm * sh->cg + ci) * sh->ksize + t];
                y[(n * sh->m + mm) * gsize + p] +=
                    wv * x[(n * sh->c + cc) * isize + off];
              } else {
                double wv = w[(cc * sh->mg + mi) * sh->ksize + t];
                y[(n * sh->m + mm) * isize + off] +=
                    wv * x[(n * sh->c + cc) * gsize + p];
              }
            }
          }
        }
      }
}

static ember_status conv_run(emb_run_ctx *c) {
  const conv_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0), *w = emb_in_t(c, 1);
  const emb_tensor *b = emb_in_t(c, 2);
  emb_tensor *y = emb_out_t(c, 0);
  conv_shape sh;
  ember_status st = conv_shape_of(c, &sh);
  if (st) return st;
  if (b && (b->rank != 1 || (size_t)b->dims[0] != sh.m))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "B must have shape [%zu]", sh.m);
  size_t ynum = emb_tensor_numel(y);
  if (ynum == 0) return EMBER_OK;
  if (x->dtype == EMBER_DOUBLE) {
    conv_f64(&sh, s->transpose, x->data, w->data, b ? b->data : NULL, y->data);
    return EMBER_OK;
  }
  ember_conv_geom geom = {(size_t)sh.nsp, sh.img, sh.grid, sh.kernel,
                          sh.stride,      sh.dil, sh.pad};
  /* GEMM shape per unit, and the rows of the col buffer. */
  size_t rows, cols, gm, gk;
  if (!s->transpose) {
    rows = sh.cg * sh.ksize;
    cols = sh.ysp;
    gm = sh.mg;
    gk = rows;
  } else {
    rows = sh.mg * sh.ksize;
    cols = sh.xsp;
    gm = sh.pointwise ? sh.mg : rows;
    gk = sh.cg;
  }
  /* Units are (image, group) pairs.  Conv cuts them further into blocks
   * of output channels and positions: a block along m repeats the im2col
   * and packing of its columns, one along n the packing of W. */
  int threads = emb_run_threads(c);
  size_t units = sh.n * sh.g, pm = 1, pn = 1;
  emb_tile_problem tp = emb_tile_gemm(units, gm, cols, gk, threads);
  if (!s->transpose) tp.copy_b = sh.pointwise ? 1.0 : 2.0;
  bool parallel = emb_tile_plan(&tp, &pm, &pn);
  if (s->transpose) { /* col2im scatters across positions: units whole */
    pm = pn = 1;
    parallel = parallel && units > 1;
  }
  size_t tasks = units * pm * pn;
  if (!parallel) threads = 1; /* one slice of scratch is enough */
  size_t tile_m = emb_block_max(gm, pm, tp.align_m);
  size_t tile_n = emb_block_max(cols, pn, tp.align_n);
  size_t chunk = conv_chunk(rows, tile_n);
  size_t gn = sh.pointwise ? tile_n : chunk;
  bool half = emb_is_half(x->dtype);
  size_t xn = emb_tensor_numel(x), wn = emb_tensor_numel(w);
  size_t bn = b ? sh.m : 0;
  size_t col_b = sh.pointwise ? 0 : emb_align64(rows * chunk * sizeof(float));
  size_t work_b = emb_align64(ember_f32_gemm_work_floats(tile_m, gn, gk) *
                              sizeof(float));
  size_t slice = col_b + work_b;
  size_t half_b = half ? emb_align64(xn * sizeof(float)) +
                             emb_align64(wn * sizeof(float)) +
                             emb_align64(bn * sizeof(float)) +
                             emb_align64(ynum * sizeof(float))
                       : 0;
  char *mem = emb_scratch(c, (size_t)threads * slice + half_b);
  if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
  const float *xf = x->data, *wf = w->data, *bf = b ? b->data : NULL;
  float *yf = y->data;
  if (half) {
    char *p = mem + (size_t)threads * slice;
    float *t;
    emb_cvt_to_f32(x->dtype, x->data, xn, t = (float *)p);
    xf = t;
    p += emb_align64(xn * sizeof(float));
    emb_cvt_to_f32(x->dtype, w->data, wn, t = (float *)p);
    wf = t;
    p += emb_align64(wn * sizeof(float));
    if (b) {
      emb_cvt_to_f32(x->dtype, b->data, bn, t = (float *)p);
      bf = t;
    }
    p += emb_align64(bn * sizeof(float));
    yf = (float *)p;
  }
  conv_job jb = {.sh = &sh, .geom = &geom, .x = xf, .w = wf, .bias = bf,
                 .y = yf, .mem = mem, .slice = slice, .col_b = col_b,
                 .chunk = chunk, .pm = pm, .pn = pn, .am = tp.align_m,
                 .an = tp.align_n};
  emb_tile_for(c, parallel, tasks, s->transpose ? convt_task : conv_task,
               &jb);
  if (half) emb_cvt_from_f32(y->dtype, yf, ynum, y->data);
  return EMBER_OK;
}

const emb_opdef emb_op_conv = {2, 3, 1, 1, 0, conv_init, conv_infer, conv_run};
const emb_opdef emb_op_convtranspose = {
    2, 3, 1, 1, 0, convtranspose_init, conv_infer, conv_run};
