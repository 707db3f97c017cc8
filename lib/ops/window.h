/*
 * Sliding-window geometry shared by the convolution (conv.c) and pooling
 * (pool.c) operators: parsing of auto_pad / kernel_shape / strides /
 * dilations / pads, and the per-axis output size and padding rules of the
 * ONNX spec (explicit pads with floor or ceil rounding, VALID, SAME_UPPER,
 * SAME_LOWER).  Header-only: every function is static, each file uses
 * what it needs.
 */
#ifndef EMBER_OPS_WINDOW_H
#define EMBER_OPS_WINDOW_H

#include <string.h>

#include "ops/op.h"

/* Largest accepted window attribute value and spatial size: products of
 * two stay far inside int64. */
#define EMB_WINDOW_MAX ((int64_t)1 << 30)

enum {
  EMB_AUTOPAD_NOTSET,
  EMB_AUTOPAD_SAME_UPPER,
  EMB_AUTOPAD_SAME_LOWER,
  EMB_AUTOPAD_VALID
};

/* Window attributes as written in the model.  nsp is the number of
 * spatial axes when the attributes fix it (kernel_shape, strides, ...),
 * else -1 until the input rank is known. */
typedef struct emb_window {
  int autopad;
  int nsp;
  bool has_kernel, has_pads;
  int ceil_mode;
  int64_t kernel[EMB_MAX_RANK];
  int64_t strides[EMB_MAX_RANK];
  int64_t dilations[EMB_MAX_RANK];
  int64_t pads[2 * EMB_MAX_RANK]; /* begins, then ends                 */
} emb_window;

/* Per-axis geometry once the input dims are known. */
typedef struct emb_window_axis {
  int64_t in, out, k, s, d;
  int64_t pad_b, pad_e; /* actual padding before / after (for pools with
                           ceil_mode the end may be exceeded)           */
} emb_window_axis;

static ember_status emb_window_list(const emb_node *n, const char *name,
                                    int want, int64_t def, int64_t min,
                                    int *nsp, int64_t *out, bool *present,
                                    emb_diag *d) {
  const int64_t *v;
  size_t cnt;
  ember_status st = emb_attr_ints(n, name, &v, &cnt, d);
  if (st) return st;
  if (present) *present = v != NULL;
  for (int i = 0; i < want * EMB_MAX_RANK; i++) out[i] = def;
  if (!v) return EMBER_OK;
  if (cnt % (size_t)want || cnt / (size_t)want > EMB_MAX_RANK)
    return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                       "attribute '%s' has %zu values", name, cnt);
  int axes = (int)(cnt / (size_t)want);
  if (*nsp >= 0 && axes != *nsp)
    return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                       "attribute '%s' has %zu values for %d spatial axes",
                       name, cnt, *nsp);
  *nsp = axes;
  for (size_t i = 0; i < cnt; i++) {
    /* The cap keeps every product of two sizes inside int64. */
    if (v[i] < min || v[i] > EMB_WINDOW_MAX)
      return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                         "attribute '%s' has the invalid value %lld", name,
                         (long long)v[i]);
    out[i] = v[i];
  }
  return EMBER_OK;
}

/* Parse the window attributes; `ceil` says whether ceil_mode exists for
 * this operator (pools), kernel_required whether kernel_shape must be
 * given (pools; Conv infers it from W). */
static ember_status emb_window_parse(const emb_node *n, bool kernel_required,
                                     bool ceil, emb_window *w, emb_diag *d) {
  ember_status st;
  const char *ap;
  memset(w, 0, sizeof *w);
  w->nsp = -1;
  if ((st = emb_attr_string(n, "auto_pad", "NOTSET", &ap, d))) return st;
  if (strcmp(ap, "NOTSET") == 0 || ap[0] == 0)
    w->autopad = EMB_AUTOPAD_NOTSET;
  else if (strcmp(ap, "SAME_UPPER") == 0)
    w->autopad = EMB_AUTOPAD_SAME_UPPER;
  else if (strcmp(ap, "SAME_LOWER") == 0)
    w->autopad = EMB_AUTOPAD_SAME_LOWER;
  else if (strcmp(ap, "VALID") == 0)
    w->autopad = EMB_AUTOPAD_VALID;
  else
    return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                       "auto_pad '%s' is not NOTSET, SAME_UPPER, SAME_LOWER "
                       "or VALID",
                       ap);
  if ((st = emb_window_list(n, "kernel_shape", 1, 1, 1, &w->nsp, w->kernel,
                            &w->has_kernel, d)))
    return st;
  if (kernel_required && !w->has_kernel)
    return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                       "attribute 'kernel_shape' is required");
  if ((st = emb_window_list(n, "strides", 1, 1, 1, &w->nsp, w->strides, NULL,
                            d)) ||
      (st = emb_window_list(n, "dilations", 1, 1, 1, &w->nsp, w->dilations,
                            NULL, d)) ||
      (st = emb_window_list(n, "pads", 2, 0, 0, &w->nsp, w->pads, &w->has_pads,
                            d)))
    return st;
  if (ceil) {
    int64_t cm;
    if ((st = emb_attr_int(n, "ceil_mode", 0, &cm, d))) return st;
    w->ceil_mode = cm != 0;
  }
  return EMBER_OK;
}

/* Number of spatial axes for an input of rank `rank` (N, C, spatial...),
 * checked against what the attributes say. */
static ember_status emb_window_axes(const emb_node *n, const emb_window *w,
                                    int rank, emb_diag *d) {
  if (rank < 3)
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "input must have rank 3 or more (N, C, spatial...), "
                       "not %d",
                       rank);
  if (w->nsp >= 0 && w->nsp != rank - 2)
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "the attributes describe %d spatial axes but the "
                       "input has %d",
                       w->nsp, rank - 2);
  return EMBER_OK;
}

static int64_t emb_div_floor(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t emb_div_ceil(int64_t a, int64_t b) {
  return -emb_div_floor(-a, b);
}

/* Geometry of spatial axis i for input size `in` and kernel size k
 * (kernel_shape or W's dim): output size and actual pads, following the
 * Conv/pool rules.  The size may be 0; fails when the formula gives a
 * negative size (the window overshoots the padded input by a stride or
 * more). */
static ember_status emb_window_resolve(const emb_node *n, const emb_window *w,
                                       int i, int nsp, int64_t in, int64_t k,
                                       emb_window_axis *ax, emb_diag *d) {
  int64_t s = w->strides[i], dil = w->dilations[i];
  if (in > EMB_WINDOW_MAX || k > EMB_WINDOW_MAX)
    return emb_op_fail(d, n, EMBER_ERR_LIMIT,
                       "spatial axis %d: size %lld or kernel %lld too large", i,
                       (long long)in, (long long)k);
  int64_t dk = (k - 1) * dil + 1, pb = 0, pe = 0, out;
  ax->in = in;
  ax->k = k;
  ax->s = s;
  ax->d = dil;
  switch (w->autopad) {
    case EMB_AUTOPAD_VALID:
      out = emb_div_floor(in - dk, s) + 1;
      break;
    case EMB_AUTOPAD_SAME_UPPER:
    case EMB_AUTOPAD_SAME_LOWER: {
      out = emb_div_ceil(in, s);
      int64_t total = (out - 1) * s + dk - in;
      if (total < 0) total = 0;
      pb = w->autopad == EMB_AUTOPAD_SAME_UPPER ? total / 2 : total - total / 2;
      pe = total - pb;
      break;
    }
    default: {
      pb = w->pads[i];
      pe = w->pads[i + nsp];
      int64_t span = in + pb + pe - dk;
      if (w->ceil_mode) {
        out = emb_div_ceil(span, s) + 1;
        /* A last window starting inside the end padding is dropped. */
        if (out > 0 && (out - 1) * s >= in + pb) out--;
      } else {
        out = emb_div_floor(span, s) + 1;
      }
      break;
    }
  }
  /* The spec's formula may well give 0 (a window longer than the padded
   * input by less than a stride): an empty axis.  Below that there is no
   * shape to give. */
  if (out < 0 && in > 0)
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "spatial axis %d: the window (kernel %lld, dilation "
                       "%lld) does not fit the input of size %lld with "
                       "padding %lld+%lld",
                       i, (long long)k, (long long)dil, (long long)in,
                       (long long)pb, (long long)pe);
  if (out < 0) out = 0;
  ax->out = out;
  ax->pad_b = pb;
  ax->pad_e = pe;
  return EMBER_OK;
}

#endif
