/*
 * Signal processing: DFT, STFT, the Hann / Hamming / Blackman windows and
 * MelWeightMatrix.  DFT and STFT gather each transformed line (strided in
 * the tensor, real or interleaved complex) into a double buffer, padding
 * or truncating it to the transform length, run the f64-fft kernel
 * (radix-2, direct or Bluestein by length) and scatter the wanted bins
 * back in the tensor's own float type; the inverse transform is the
 * forward one between two conjugations, scaled by 1/n.  DFT changed at
 * opset 20: `axis` moved from an attribute (default 1) to the optional
 * third input (default -2).  The window and mel operators compute in
 * double and convert to `output_datatype` with C (truncating) semantics
 * for integer types, as a numpy astype would.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "f64-fft/f64-fft.h"
#include "ops/op.h"

static const int32_t sig_float_types[] = {EMBER_FLOAT, EMBER_DOUBLE,
                                          EMBER_FLOAT16, EMBER_BFLOAT16, 0};
static const int32_t sig_int_types[] = {EMBER_INT32, EMBER_INT64, 0};

/* Transform lengths are capped so every index and table size stays far
 * inside size_t and int64 arithmetic. */
#define SIG_MAX_LEN ((int64_t)1 << 30)

static const double sig_pi = 3.14159265358979323846264338327950288;

/* Status for a bad value: a constant seen at load is a model error. */
static ember_status sig_bad(const emb_infer_ctx *c) {
  return c->at_run ? EMBER_ERR_RUNTIME : EMBER_ERR_INVALID_MODEL;
}

/* A one-element integer tensor's value (scalars and [1] both accepted). */
static bool sig_scalar_i64(const emb_tensor *t, int64_t *v) {
  if (!t || emb_tensor_numel(t) != 1 || !emb_dtype_is_int(t->dtype))
    return false;
  *v = emb_tensor_get_i64(t, 0);
  return true;
}

static bool sig_scalar_f64(const emb_tensor *t, double *v) {
  if (!t || emb_tensor_numel(t) != 1 || !emb_dtype_is_float(t->dtype))
    return false;
  *v = emb_tensor_get_f64(t, 0);
  return true;
}

/* Element i of a float32/float64/float16/bfloat16 array. */
static double sig_get(const void *p, int32_t dt, size_t i) {
  switch (dt) {
    case EMBER_FLOAT: return ((const float *)p)[i];
    case EMBER_DOUBLE: return ((const double *)p)[i];
    case EMBER_FLOAT16: return emb_f16_to_f32(((const uint16_t *)p)[i]);
    default: return emb_bf16_to_f32(((const uint16_t *)p)[i]);
  }
}

static void sig_put(void *p, int32_t dt, size_t i, double v) {
  switch (dt) {
    case EMBER_FLOAT: ((float *)p)[i] = (float)v; break;
    case EMBER_DOUBLE: ((double *)p)[i] = v; break;
    case EMBER_FLOAT16: ((uint16_t *)p)[i] = emb_f32_to_f16((float)v); break;
    default: ((uint16_t *)p)[i] = emb_f32_to_bf16((float)v); break;
  }
}

/* Scratch for a length-n transform plus `line` doubles of line buffer:
 * sets the plan and returns the line buffer (work follows it). */
static double *sig_fft_setup(emb_run_ctx *c, size_t n, size_t line,
                             ember_f64_fft_plan *p, double **work) {
  size_t nt = ember_f64_fft_plan_doubles(n);
  size_t nw = ember_f64_fft_work_doubles(n);
  double *mem = emb_scratch(c, (nt + nw + line) * sizeof(double));
  if (!mem) return NULL;
  ember_f64_fft_plan_init__scalar(p, n, mem);
  *work = mem + nt + line;
  return mem + nt;
}

/* Forward or inverse (scaled 1/n) transform of the n pairs at x. */
static void sig_transform(const ember_f64_fft_plan *p, double *x, double *work,
                          bool inverse) {
  size_t n = p->n;
  if (inverse)
    for (size_t k = 0; k < n; k++) x[2 * k + 1] = -x[2 * k + 1];
  ember_f64_fft_ukernel__scalar(p, x, work);
  if (inverse) {
    double s = 1.0 / (double)n;
    for (size_t k = 0; k < n; k++) {
      x[2 * k] *= s;
      x[2 * k + 1] *= -s;
    }
  }
}

/* ------------------------------------------------------------------- DFT */

typedef struct dft_state {
  bool inverse, onesided;
  bool axis_input; /* opset >= 20: axis is input 2 */
  int64_t axis;    /* the attribute (opset < 20) or the default -2 */
} dft_state;

static ember_status dft_init(emb_init_ctx *c) {
  const emb_node *n = c->node;
  int64_t inv, one, axis;
  ember_status st;
  if ((st = emb_attr_int(n, "inverse", 0, &inv, c->diag)) ||
      (st = emb_attr_int(n, "onesided", 0, &one, c->diag)))
    return st;
  if ((inv != 0 && inv != 1) || (one != 0 && one != 1))
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "attributes 'inverse' (%lld) and 'onesided' (%lld) "
                       "must be 0 or 1",
                       (long long)inv, (long long)one);
  bool axis_input = n->opset >= 20;
  if (axis_input) {
    axis = -2;
  } else {
    if ((st = emb_attr_int(n, "axis", 1, &axis, c->diag))) return st;
    if (n->n_in > 2)
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "has %d inputs; before opset 20 DFT takes at most 2 "
                         "(the axis is an attribute)",
                         n->n_in);
  }
  dft_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->inverse = inv;
  s->onesided = one;
  s->axis_input = axis_input;
  s->axis = axis;
  c->node->state = s;
  return EMBER_OK;
}

/* The transform axis in [0, rank - 2]; false (with *known false) when the
 * axis input's value is not known yet. */
static ember_status dft_axis(emb_infer_ctx *c, int rank, int *axis,
                             bool *known) {
  const dft_state *s = c->node->state;
  int64_t a = s->axis;
  *known = true;
  if (s->axis_input && c->n_in > 2 && c->in[2]) {
    const emb_tensor *v = c->values[2];
    if (!v) {
      *known = false;
      return EMBER_OK;
    }
    if (!sig_scalar_i64(v, &a))
      return emb_op_fail(c->diag, c->node, sig_bad(c),
                         "input 'axis' must be one integer");
  }
  if (a < -(int64_t)rank || a > rank - 2 || a == -1)
    return emb_op_fail(c->diag, c->node, sig_bad(c),
                       "axis %lld is out of range for an input of rank %d "
                       "(the last axis holds the real and imaginary parts)",
                       (long long)a, rank);
  *axis = (int)(a < 0 ? a + rank : a);
  return EMBER_OK;
}

/* Transform length n from dft_length or the default for an axis of size
 * len (len < 0: unknown); *n = -1 when not known yet. */
static ember_status dft_length(emb_infer_ctx *c, int64_t len, int64_t *n) {
  const dft_state *s = c->node->state;
  *n = -1;
  if (c->n_in > 1 && c->in[1]) {
    const emb_tensor *v = c->values[1];
    if (!v) return EMBER_OK;
    if (!sig_scalar_i64(v, n))
      return emb_op_fail(c->diag, c->node, sig_bad(c),
                         "input 'dft_length' must be one integer");
  } else {
    if (len < 0) return EMBER_OK;
    *n = s->onesided && s->inverse ? 2 * (len - 1) : len;
  }
  if (*n < 1 || *n > SIG_MAX_LEN)
    return emb_op_fail(c->diag, c->node, sig_bad(c),
                       "the transform length %lld is not in [1, 2^30]%s",
                       (long long)*n,
                       c->in[1] ? ""
                                : " (the inverse one-sided default is "
                                  "2 * (bins - 1))");
  return EMBER_OK;
}

static ember_status dft_infer(emb_infer_ctx *c) {
  const dft_state *s = c->node->state;
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, sig_float_types)) ||
      (st = emb_infer_check_dtype(c, 1, sig_int_types)) ||
      (st = emb_infer_check_dtype(c, 2, sig_int_types)))
    return st;
  const emb_type *x = c->in[0];
  emb_type *y = &c->out[0];
  if (!x || x->kind != EMBER_KIND_TENSOR || x->rank < 0) {
    emb_type_unknown(y);
    y->kind = EMBER_KIND_TENSOR;
    y->dtype = x ? x->dtype : 0;
    return EMBER_OK;
  }
  int r = x->rank;
  if (r < 2)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "input has rank %d; it needs a signal axis and a last "
                       "axis of size 1 (real) or 2 (complex)",
                       r);
  int64_t last = x->dims[r - 1].v;
  if (last >= 0 && last != 1 && last != 2)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "the last input dimension is %lld; it must be 1 (real) "
                       "or 2 (complex)",
                       (long long)last);
  if (s->onesided && last >= 0 && (last == 2) != s->inverse)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       s->inverse ? "onesided=1 with inverse=1 (IRFFT) needs "
                                    "complex input (last dimension 2)"
                                  : "onesided=1 (RFFT) needs real input (last "
                                    "dimension 1)");
  *y = *x;
  y->dims[r - 1].v = s->onesided && s->inverse ? 1 : 2;
  y->dims[r - 1].sym = 0;
  int axis;
  bool known;
  if ((st = dft_axis(c, r, &axis, &known))) return st;
  if (!known) { /* any signal axis may change size */
    for (int i = 0; i < r - 1; i++) y->dims[i] = (emb_dim){-1, 0};
    return EMBER_OK;
  }
  int64_t n;
  if ((st = dft_length(c, x->dims[axis].v, &n))) return st;
  int64_t out = n < 0 ? -1 : s->onesided && !s->inverse ? n / 2 + 1 : n;
  bool same = !s->onesided && !(c->n_in > 1 && c->in[1]); /* n = len */
  if (!same) y->dims[axis] = (emb_dim){out, 0};
  return EMBER_OK;
}

static ember_status dft_run(emb_run_ctx *c) {
  const dft_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  int r = x->rank, axis = 0;
  /* Infer checked these values already; read the axis and length the
   * same way (only the presence of the optional inputs' types counts). */
  const emb_tensor *vals[3] = {x, emb_in_t(c, 1), emb_in_t(c, 2)};
  emb_type present;
  emb_type_unknown(&present);
  const emb_type *in_types[3] = {&present, vals[1] ? &present : NULL,
                                 vals[2] ? &present : NULL};
  emb_infer_ctx ic = {.node = c->node,
                      .n_in = c->n_in,
                      .in = in_types,
                      .values = vals,
                      .at_run = true,
                      .diag = c->diag};
  bool known;
  int64_t n;
  ember_status st;
  if ((st = dft_axis(&ic, r, &axis, &known)) ||
      (st = dft_length(&ic, x->dims[axis], &n)))
    return st;
  size_t outer = 1, inner = 1;
  for (int i = 0; i < axis; i++) outer *= (size_t)x->dims[i];
  for (int i = axis + 1; i < r - 1; i++) inner *= (size_t)x->dims[i];
  size_t len = (size_t)x->dims[axis], lout = (size_t)y->dims[axis];
  size_t cin = (size_t)x->dims[r - 1], cout = (size_t)y->dims[r - 1];
  size_t nn = (size_t)n;
  if (!outer || !inner || !lout) return EMBER_OK;
  ember_f64_fft_plan plan;
  double *work, *line = sig_fft_setup(c, nn, 2 * nn, &plan, &work);
  if (!line) return EMBER_ERR_OUT_OF_MEMORY;
  bool irfft = s->onesided && s->inverse;
  size_t sin_ = inner * cin, sout = inner * cout;
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++) {
      size_t bi = o * len * sin_ + i * cin, bo = o * lout * sout + i * cout;
      if (irfft) {
        /* The bins 0..n/2 given (zeros past the input), the rest by
         * Hermitian symmetry; the imaginary parts of bins 0 and n/2 drop
         * out of the real result. */
        for (size_t k = 0; k <= nn / 2; k++) {
          bool have = k < len;
          line[2 * k] = have ? sig_get(x->data, x->dtype, bi + k * sin_) : 0;
          line[2 * k + 1] =
              have ? sig_get(x->data, x->dtype, bi + k * sin_ + 1) : 0;
        }
        for (size_t k = nn / 2 + 1; k < nn; k++) {
          line[2 * k] = line[2 * (nn - k)];
          line[2 * k + 1] = -line[2 * (nn - k) + 1];
        }
      } else {
        for (size_t j = 0; j < nn; j++) {
          bool have = j < len;
          size_t at = bi + j * sin_;
          line[2 * j] = have ? sig_get(x->data, x->dtype, at) : 0;
          line[2 * j + 1] =
              have && cin == 2 ? sig_get(x->data, x->dtype, at + 1) : 0;
        }
      }
      sig_transform(&plan, line, work, s->inverse);
      for (size_t k = 0; k < lout; k++) {
        sig_put(y->data, y->dtype, bo + k * sout, line[2 * k]);
        if (cout == 2)
          sig_put(y->data, y->dtype, bo + k * sout + 1, line[2 * k + 1]);
      }
    }
  return EMBER_OK;
}

const emb_opdef emb_op_dft = {1, 3, 1, 1, 0, dft_init, dft_infer, dft_run};

/* ------------------------------------------------------------------ STFT */

typedef struct stft_state {
  bool onesided;
} stft_state;

static ember_status stft_init(emb_init_ctx *c) {
  int64_t one;
  ember_status st = emb_attr_int(c->node, "onesided", 1, &one, c->diag);
  if (st) return st;
  if (one != 0 && one != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'onesided' is %lld, not 0 or 1",
                       (long long)one);
  stft_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->onesided = one;
  c->node->state = s;
  return EMBER_OK;
}

/* Frame geometry: transform length n (from frame_length or the window),
 * step and frame count; each -1 when not known yet. */
typedef struct stft_geom {
  int64_t n, step, frames;
} stft_geom;

static ember_status stft_geometry(emb_infer_ctx *c, int64_t siglen,
                                  stft_geom *g) {
  const emb_node *node = c->node;
  g->n = g->step = g->frames = -1;
  if (c->values[1]) {
    if (!sig_scalar_i64(c->values[1], &g->step))
      return emb_op_fail(c->diag, node, sig_bad(c),
                         "input 'frame_step' must be one integer");
    if (g->step < 1)
      return emb_op_fail(c->diag, node, sig_bad(c),
                         "frame_step is %lld; it must be positive",
                         (long long)g->step);
  }
  const emb_type *w = c->n_in > 2 ? c->in[2] : NULL;
  const emb_type *fl = c->n_in > 3 ? c->in[3] : NULL;
  int64_t wlen = -1;
  if (w && w->kind == EMBER_KIND_TENSOR && w->rank >= 0) {
    if (w->rank != 1)
      return emb_op_fail(c->diag, node, EMBER_ERR_SHAPE,
                         "the window has rank %d; it must be 1-D",
                         (int)w->rank);
    wlen = w->dims[0].v;
  }
  if (fl) {
    if (c->values[3]) {
      if (!sig_scalar_i64(c->values[3], &g->n))
        return emb_op_fail(c->diag, node, sig_bad(c),
                           "input 'frame_length' must be one integer");
      if (wlen >= 0 && wlen != g->n)
        return emb_op_fail(c->diag, node, EMBER_ERR_SHAPE,
                           "the window has %lld elements but frame_length "
                           "is %lld",
                           (long long)wlen, (long long)g->n);
    }
  } else if (w) {
    g->n = wlen;
  } else {
    return emb_op_fail(c->diag, node, EMBER_ERR_INVALID_MODEL,
                       "needs a window or a frame_length to know the frame "
                       "size");
  }
  if (g->n < 0) return EMBER_OK;
  if (g->n < 1 || g->n > SIG_MAX_LEN)
    return emb_op_fail(c->diag, node, sig_bad(c),
                       "the frame length %lld is not in [1, 2^30]",
                       (long long)g->n);
  if (siglen >= 0 && siglen < g->n)
    return emb_op_fail(c->diag, node, sig_bad(c),
                       "the signal has %lld samples, fewer than one frame "
                       "of %lld",
                       (long long)siglen, (long long)g->n);
  if (siglen >= 0 && g->step > 0) g->frames = (siglen - g->n) / g->step + 1;
  return EMBER_OK;
}

static ember_status stft_infer(emb_infer_ctx *c) {
  const stft_state *s = c->node->state;
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, sig_float_types)) ||
      (st = emb_infer_check_dtype(c, 1, sig_int_types)) ||
      (st = emb_infer_check_dtype(c, 2, sig_float_types)) ||
      (st = emb_infer_check_dtype(c, 3, sig_int_types)))
    return st;
  const emb_type *x = c->in[0];
  emb_type *y = &c->out[0];
  emb_type_tensor(y, x ? x->dtype : 0, 4, NULL);
  for (int i = 0; i < 3; i++) y->dims[i] = (emb_dim){-1, 0};
  y->dims[3] = (emb_dim){2, 0};
  int64_t siglen = -1;
  if (x && x->kind == EMBER_KIND_TENSOR && x->rank >= 0) {
    if (x->rank != 3)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "the signal has rank %d; it must be [batch, "
                         "length, 1 or 2]",
                         (int)x->rank);
    int64_t last = x->dims[2].v;
    if (last >= 0 && last != 1 && last != 2)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "the last signal dimension is %lld; it must be 1 "
                         "(real) or 2 (complex)",
                         (long long)last);
    if (s->onesided && last == 2)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "onesided=1 needs a real signal (last dimension 1); "
                         "set onesided=0 for a complex one");
    y->dims[0] = x->dims[0];
    siglen = x->dims[1].v;
  }
  stft_geom g;
  if ((st = stft_geometry(c, siglen, &g))) return st;
  y->dims[1].v = g.frames;
  if (g.n >= 0) y->dims[2].v = s->onesided ? g.n / 2 + 1 : g.n;
  return EMBER_OK;
}

static ember_status stft_run(emb_run_ctx *c) {
  const emb_tensor *x = emb_in_t(c, 0), *w = emb_in_t(c, 2);
  emb_tensor *y = emb_out_t(c, 0);
  const emb_tensor *vals[4] = {x, emb_in_t(c, 1), w, emb_in_t(c, 3)};
  emb_type tw, present;
  emb_type_unknown(&present);
  const emb_type *in_types[4] = {&present, &present, NULL,
                                 vals[3] ? &present : NULL};
  if (w) {
    emb_type_tensor(&tw, w->dtype, w->rank, w->dims);
    in_types[2] = &tw;
  }
  emb_infer_ctx ic = {.node = c->node,
                      .n_in = c->n_in,
                      .in = in_types,
                      .values = vals,
                      .at_run = true,
                      .diag = c->diag};
  stft_geom g;
  ember_status st = stft_geometry(&ic, x->dims[1], &g);
  if (st) return st;
  size_t batch = (size_t)x->dims[0], len = (size_t)x->dims[1];
  size_t cin = (size_t)x->dims[2], n = (size_t)g.n, step = (size_t)g.step;
  size_t frames = (size_t)y->dims[1], bins = (size_t)y->dims[2];
  if (!batch || !frames) return EMBER_OK;
  ember_f64_fft_plan plan;
  double *work, *line = sig_fft_setup(c, n, 2 * n, &plan, &work);
  if (!line) return EMBER_ERR_OUT_OF_MEMORY;
  for (size_t b = 0; b < batch; b++)
    for (size_t f = 0; f < frames; f++) {
      size_t at = (b * len + f * step) * cin;
      for (size_t j = 0; j < n; j++) {
        double wj = w ? sig_get(w->data, w->dtype, j) : 1.0;
        line[2 * j] = wj * sig_get(x->data, x->dtype, at + j * cin);
        line[2 * j + 1] =
            cin == 2 ? wj * sig_get(x->data, x->dtype, at + j * cin + 1) : 0;
      }
      sig_transform(&plan, line, work, false);
      size_t bo = (b * frames + f) * bins * 2;
      for (size_t k = 0; k < 2 * bins; k++)
        sig_put(y->data, y->dtype, bo + k, line[k]);
    }
  return EMBER_OK;
}

const emb_opdef emb_op_stft = {2, 4, 1, 1, 0, stft_init, stft_infer, stft_run};

/* --------------------------------------------- output_datatype helpers */

static const int32_t sig_numeric_types[] = {EMBER_UINT8,
                                            EMBER_UINT16,
                                            EMBER_UINT32,
                                            EMBER_UINT64,
                                            EMBER_INT8,
                                            EMBER_INT16,
                                            EMBER_INT32,
                                            EMBER_INT64,
                                            EMBER_FLOAT16,
                                            EMBER_FLOAT,
                                            EMBER_DOUBLE,
                                            EMBER_BFLOAT16,
                                            0};

static ember_status sig_output_dtype(emb_init_ctx *c, int32_t *dtype) {
  int64_t dt;
  *dtype = EMBER_FLOAT;
  ember_status st =
      emb_attr_int(c->node, "output_datatype", EMBER_FLOAT, &dt, c->diag);
  if (st) return st;
  for (const int32_t *t = sig_numeric_types; *t; t++)
    if (dt == *t) {
      *dtype = *t;
      return EMBER_OK;
    }
  return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                     "attribute 'output_datatype' is %lld, not a numeric "
                     "tensor element type",
                     (long long)dt);
}

/* -------------------------------------------------------------- windows */

/* w[k] = a0 - a1 cos(t) + a2 cos(2t), t = 2 pi k / N, with N = size
 * (periodic) or size - 1 (symmetric). */
typedef struct win_state {
  int32_t dtype;
  bool periodic;
  double a0, a1, a2;
} win_state;

static ember_status win_init(emb_init_ctx *c, double a0, double a1, double a2) {
  int64_t per;
  int32_t dtype;
  ember_status st;
  if ((st = emb_attr_int(c->node, "periodic", 1, &per, c->diag)) ||
      (st = sig_output_dtype(c, &dtype)))
    return st;
  if (per != 0 && per != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'periodic' is %lld, not 0 or 1",
                       (long long)per);
  win_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->dtype = dtype;
  s->periodic = per;
  s->a0 = a0;
  s->a1 = a1;
  s->a2 = a2;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status hann_init(emb_init_ctx *c) {
  return win_init(c, 0.5, 0.5, 0.0);
}
static ember_status hamming_init(emb_init_ctx *c) {
  return win_init(c, 25.0 / 46.0, 21.0 / 46.0, 0.0);
}
static ember_status blackman_init(emb_init_ctx *c) {
  return win_init(c, 0.42, 0.5, 0.08);
}

/* The window size from input 0 (-1 when not known yet). */
static ember_status win_size(emb_infer_ctx *c, int64_t *size) {
  *size = -1;
  if (!c->values[0]) return EMBER_OK;
  if (!sig_scalar_i64(c->values[0], size))
    return emb_op_fail(c->diag, c->node, sig_bad(c),
                       "input 'size' must be one integer");
  if (*size < 0 || *size > SIG_MAX_LEN)
    return emb_op_fail(c->diag, c->node, sig_bad(c),
                       "the window size %lld is not in [0, 2^30]",
                       (long long)*size);
  return EMBER_OK;
}

static ember_status win_infer(emb_infer_ctx *c) {
  const win_state *s = c->node->state;
  ember_status st = emb_infer_check_dtype(c, 0, sig_int_types);
  if (st) return st;
  int64_t size;
  if ((st = win_size(c, &size))) return st;
  emb_type_tensor(&c->out[0], s->dtype, 1, &size);
  return EMBER_OK;
}

static ember_status win_run(emb_run_ctx *c) {
  const win_state *s = c->node->state;
  emb_tensor *y = emb_out_t(c, 0);
  size_t size = (size_t)y->dims[0];
  if (!s->periodic && size == 1) {
    /* 0/0 in the formula; the one-point window is conventionally 1. */
    emb_tensor_set_f64(y, 0, 1.0);
    return EMBER_OK;
  }
  double den = (double)(s->periodic ? size : size - 1);
  for (size_t k = 0; k < size; k++) {
    double t = 2.0 * sig_pi * (double)k / den;
    double v = s->a0 - s->a1 * cos(t) + s->a2 * cos(2.0 * t);
    emb_tensor_set_f64(y, k, v);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_hannwindow = {1, 1,         1,         1,
                                     0, hann_init, win_infer, win_run};
const emb_opdef emb_op_hammingwindow = {
    1, 1, 1, 1, 0, hamming_init, win_infer, win_run};
const emb_opdef emb_op_blackmanwindow = {
    1, 1, 1, 1, 0, blackman_init, win_infer, win_run};

/* ------------------------------------------------------- MelWeightMatrix */

typedef struct mel_state {
  int32_t dtype;
} mel_state;

static ember_status mel_init(emb_init_ctx *c) {
  int32_t dtype;
  ember_status st = sig_output_dtype(c, &dtype);
  if (st) return st;
  mel_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->dtype = dtype;
  c->node->state = s;
  return EMBER_OK;
}

typedef struct mel_args {
  int64_t mel_bins, dft_length, sample_rate; /* -1 when not known */
  double lower, upper;
  bool edges_known;
} mel_args;

static ember_status mel_read(emb_infer_ctx *c, mel_args *a) {
  static const char *const names[] = {"num_mel_bins", "dft_length",
                                      "sample_rate"};
  int64_t *iv[3] = {&a->mel_bins, &a->dft_length, &a->sample_rate};
  for (int i = 0; i < 3; i++) {
    *iv[i] = -1;
    if (c->values[i] && !sig_scalar_i64(c->values[i], iv[i]))
      return emb_op_fail(c->diag, c->node, sig_bad(c),
                         "input '%s' must be one integer", names[i]);
  }
  if (c->values[0] && (a->mel_bins < 0 || a->mel_bins > SIG_MAX_LEN))
    return emb_op_fail(c->diag, c->node, sig_bad(c),
                       "num_mel_bins is %lld; it must be in [0, 2^30]",
                       (long long)a->mel_bins);
  if (c->values[1] && (a->dft_length < 1 || a->dft_length > SIG_MAX_LEN))
    return emb_op_fail(c->diag, c->node, sig_bad(c),
                       "dft_length is %lld; it must be in [1, 2^30]",
                       (long long)a->dft_length);
  if (c->values[2] && a->sample_rate < 1)
    return emb_op_fail(c->diag, c->node, sig_bad(c),
                       "sample_rate is %lld; it must be positive",
                       (long long)a->sample_rate);
  a->edges_known = c->values[3] && c->values[4];
  if (!a->edges_known) return EMBER_OK;
  if (!sig_scalar_f64(c->values[3], &a->lower) ||
      !sig_scalar_f64(c->values[4], &a->upper))
    return emb_op_fail(c->diag, c->node, sig_bad(c),
                       "lower_edge_hertz and upper_edge_hertz must each be "
                       "one float");
  if (!(a->lower >= 0 && a->lower <= a->upper && isfinite(a->upper)))
    return emb_op_fail(c->diag, c->node, sig_bad(c),
                       "the band [%g, %g] Hz is not a finite range with "
                       "0 <= lower_edge_hertz <= upper_edge_hertz",
                       a->lower, a->upper);
  return EMBER_OK;
}

static ember_status mel_infer(emb_infer_ctx *c) {
  const mel_state *s = c->node->state;
  ember_status st;
  for (int i = 0; i < 5; i++)
    if ((st = emb_infer_check_dtype(c, i,
                                    i < 3 ? sig_int_types : sig_float_types)))
      return st;
  mel_args a;
  if ((st = mel_read(c, &a))) return st;
  int64_t dims[2] = {a.dft_length < 0 ? -1 : a.dft_length / 2 + 1, a.mel_bins};
  emb_type_tensor(&c->out[0], s->dtype, 2, dims);
  return EMBER_OK;
}

static double mel_from_hz(double hz) {
  return 2595.0 * log10(1.0 + hz / 700.0);
}
static double hz_from_mel(double mel) {
  return 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
}

static ember_status mel_run(emb_run_ctx *c) {
  emb_tensor *y = emb_out_t(c, 0);
  const emb_tensor *vals[5];
  const emb_type *in_types[5];
  emb_type present;
  emb_type_unknown(&present);
  for (int i = 0; i < 5; i++) {
    vals[i] = emb_in_t(c, i);
    in_types[i] = &present;
  }
  emb_infer_ctx ic = {.node = c->node,
                      .n_in = c->n_in,
                      .in = in_types,
                      .values = vals,
                      .at_run = true,
                      .diag = c->diag};
  mel_args a;
  ember_status st = mel_read(&ic, &a);
  if (st) return st;
  size_t bins = (size_t)y->dims[0], mels = (size_t)y->dims[1];
  size_t total = bins * mels;
  for (size_t i = 0; i < total; i++) emb_tensor_set_f64(y, i, 0.0);
  if (!total) return EMBER_OK;
  /* mels + 2 points evenly spaced in mel over [lower, upper) -- the step
   * divides by the point count, as the specification writes it -- each
   * mapped to the spectrogram bin floor((dft_length + 1) * hz / rate). */
  int64_t *edge = emb_scratch(c, (mels + 2) * sizeof *edge);
  if (!edge) return EMBER_ERR_OUT_OF_MEMORY;
  double lo = mel_from_hz(a.lower), hi = mel_from_hz(a.upper);
  double step = (hi - lo) / (double)(mels + 2);
  for (size_t i = 0; i < mels + 2; i++) {
    double hz = hz_from_mel((double)i * step + lo);
    edge[i] =
        (int64_t)floor((double)(a.dft_length + 1) * hz / (double)a.sample_rate);
  }
  /* Triangle i rises from edge[i] to 1 at edge[i+1] and falls to 0 at
   * edge[i+2]; bins outside the matrix are dropped. */
  for (size_t i = 0; i < mels; i++) {
    int64_t l = edge[i], m = edge[i + 1], h = edge[i + 2];
    for (int64_t j = l; j <= m; j++) {
      if (j < 0 || j >= (int64_t)bins) continue;
      double v = m == l ? 1.0 : (double)(j - l) / (double)(m - l);
      emb_tensor_set_f64(y, (size_t)j * mels + i, v);
    }
    for (int64_t j = m; j < h; j++) {
      if (j < 0 || j >= (int64_t)bins) continue;
      emb_tensor_set_f64(y, (size_t)j * mels + i,
                         (double)(h - j) / (double)(h - m));
    }
  }
  return EMBER_OK;
}

const emb_opdef emb_op_melweightmatrix = {5, 5,        1,         1,
                                          0, mel_init, mel_infer, mel_run};
