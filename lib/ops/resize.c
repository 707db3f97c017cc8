/*
 * Resize (opsets 10 to 19 and later) and its predecessor Upsample (7 to
 * 9): resampling of an N-D tensor along any of its axes by nearest,
 * N-linear or N-cubic interpolation.  Every output coordinate is mapped
 * back to the input per axis (coordinate_transformation_mode, with the
 * fractional target length the spec calls output_width when the size
 * comes from a scale), then:
 *   nearest      one input index per axis (nearest_mode), gathered by
 *                byte moves, so every element type works exactly;
 *   linear/cubic a separable filter: per axis, a table of clamped input
 *                indices and weights (the edge value repeats outside the
 *                input, exclude_outside drops and renormalizes, antialias
 *                stretches the kernel by 1/scale when downscaling), then
 *                one pass per resized axis (kernels/f32-resize), the
 *                shrinking axes first so the intermediate stays small.
 * tf_crop_and_resize positions outside the input give extrapolation_value.
 * float32 and float64 run directly; float16/bfloat16 go through float32;
 * integer types are computed in double, rounded half to even and saturated
 * (as the ONNX reference does).  Upsample and Resize-10 map coordinates
 * asymmetrically and take the floor for nearest.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "f32-resize/f32-resize.h"
#include "ops/f32cvt.h"
#include "ops/movement.h"
#include "ops/op.h"

enum { RS_NEAREST, RS_LINEAR, RS_CUBIC };
enum {
  CT_HALF_PIXEL, CT_HALF_PIXEL_SYMMETRIC, CT_PYTORCH_HALF_PIXEL,
  CT_ALIGN_CORNERS, CT_ASYMMETRIC, CT_TF_HALF_PIXEL_FOR_NN,
  CT_TF_CROP_AND_RESIZE
};
enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL };
enum { KA_STRETCH, KA_NOT_LARGER, KA_NOT_SMALLER };

static const char *const mode_names[] = {"nearest", "linear", "cubic", NULL};
static const char *const ctm_names[] = {
    "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
    "align_corners", "asymmetric", "tf_half_pixel_for_nn",
    "tf_crop_and_resize", NULL};
static const char *const nearest_names[] = {
    "round_prefer_floor", "round_prefer_ceil", "floor", "ceil", NULL};
static const char *const keep_names[] = {"stretch", "not_larger",
                                         "not_smaller", NULL};

typedef struct resize_state {
  int mode, ctm, nearest, keep;
  float cubic_a, extrap;
  bool exclude, antialias;
  const int64_t *axes;   /* 'axes' attribute or NULL (all axes)          */
  size_t n_axes;
  const float *attr_scales; /* Upsample-7 'scales' attribute             */
  size_t n_attr_scales;
  int roi_in, scales_in, sizes_in; /* input positions, -1 when absent   */
} resize_state;

/* Where an output of the resize comes from, per axis.  out is -1 where
 * unknown at load. */
typedef struct resize_geom {
  int rank;
  bool resized[EMB_MAX_RANK]; /* named by axes (or all axes)            */
  int64_t in[EMB_MAX_RANK], out[EMB_MAX_RANK];
  double scale[EMB_MAX_RANK]; /* for the coordinate transformation      */
  double outw[EMB_MAX_RANK];  /* fractional output length in*scale      */
  double lo[EMB_MAX_RANK], hi[EMB_MAX_RANK]; /* roi, normalized         */
} resize_geom;

/* The shape-carrying inputs as far as they are known. */
typedef struct resize_args {
  double scales[EMB_MAX_RANK];
  size_t n_scales;
  bool has_scales, scales_unknown;
  int64_t sizes[EMB_MAX_RANK];
  size_t n_sizes;
  bool has_sizes, sizes_unknown;
  double roi[2 * EMB_MAX_RANK];
  size_t n_roi;
  bool has_roi;
} resize_args;

/* --------------------------------------------------------------- init */

static ember_status pick(const emb_node *n, emb_diag *d, const char *attr,
                         const char *def, const char *const *names,
                         int count, int *out) {
  const char *v;
  ember_status st = emb_attr_string(n, attr, def, &v, d);
  if (st) return st;
  for (int i = 0; i < count && names[i]; i++)
    if (strcmp(v, names[i]) == 0) {
      *out = i;
      return EMBER_OK;
    }
  char list[300] = "";
  for (int i = 0; i < count && names[i]; i++) {
    size_t l = strlen(list);
    snprintf(list + l, sizeof list - l, "%s'%s'", i ? ", " : "", names[i]);
  }
  return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                     "attribute '%s' is '%s'; expected one of %s", attr, v,
                     list);
}

static ember_status resize_init_common(emb_init_ctx *c, bool upsample) {
  emb_node *n = c->node;
  emb_diag *d = c->diag;
  ember_status st;
  resize_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  bool old = upsample || n->opset < 11;
  s->roi_in = s->scales_in = s->sizes_in = -1;
  s->cubic_a = -0.75f;
  if ((st = pick(n, d, "mode", "nearest", mode_names, old ? 2 : 3,
                 &s->mode)))
    return st;
  if (old) {
    /* Upsample and Resize-10 sample at x_out / scale and take the floor
     * for nearest (output[i] = input[floor(i / scale)]). */
    s->ctm = CT_ASYMMETRIC;
    s->nearest = NM_FLOOR;
    if (upsample && n->opset < 9) {
      if ((st = emb_attr_floats(n, "scales", &s->attr_scales,
                                &s->n_attr_scales, d)))
        return st;
      if (!s->attr_scales)
        return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                           "attribute 'scales' is required");
    } else {
      s->scales_in = 1;
    }
    n->state = s;
    return EMBER_OK;
  }
  s->roi_in = 1;
  s->scales_in = 2;
  s->sizes_in = 3;
  int64_t v;
  if ((st = pick(n, d, "coordinate_transformation_mode", "half_pixel",
                 ctm_names, 7, &s->ctm)) ||
      (st = pick(n, d, "nearest_mode", "round_prefer_floor", nearest_names,
                 4, &s->nearest)) ||
      (st = pick(n, d, "keep_aspect_ratio_policy", "stretch", keep_names, 3,
                 &s->keep)) ||
      (st = emb_attr_float(n, "cubic_coeff_a", -0.75f, &s->cubic_a, d)) ||
      (st = emb_attr_float(n, "extrapolation_value", 0.0f, &s->extrap, d)))
    return st;
  if ((st = emb_attr_int(n, "exclude_outside", 0, &v, d))) return st;
  s->exclude = v != 0;
  if ((st = emb_attr_int(n, "antialias", 0, &v, d))) return st;
  s->antialias = v != 0;
  if ((st = emb_attr_ints(n, "axes", &s->axes, &s->n_axes, d))) return st;
  if (s->axes && s->n_axes > EMB_MAX_RANK)
    return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                       "attribute 'axes' has %zu entries", s->n_axes);
  n->state = s;
  return EMBER_OK;
}

static ember_status resize_init(emb_init_ctx *c) {
  return resize_init_common(c, false);
}

static ember_status upsample_init(emb_init_ctx *c) {
  return resize_init_common(c, true);
}

/* ----------------------------------------------------------- geometry */

/* Read a float list (scales, roi) or an integer list (sizes). */
static ember_status read_list(const emb_node *n, emb_diag *d, ember_status bad,
                              const emb_tensor *t, const char *what,
                              size_t cap, double *f, int64_t *i,
                              size_t *count) {
  size_t cnt = emb_tensor_numel(t);
  if (t->rank > 1)
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "'%s' must be a 1-D tensor, not of rank %d", what,
                       (int)t->rank);
  if (cnt > cap)
    return emb_op_fail(d, n, bad, "'%s' has %zu values; at most %zu fit",
                       what, cnt, cap);
  if (i && cnt && !emb_dtype_is_int(t->dtype))
    return emb_op_fail(d, n, EMBER_ERR_TYPE, "'%s' must be int64, not %s",
                       what, ember_dtype_name(t->dtype));
  if (f && cnt && !emb_dtype_is_float(t->dtype))
    return emb_op_fail(d, n, EMBER_ERR_TYPE,
                       "'%s' must be a float tensor, not %s", what,
                       ember_dtype_name(t->dtype));
  for (size_t k = 0; k < cnt; k++) {
    if (f) f[k] = emb_tensor_get_f64(t, k);
    if (i) i[k] = emb_tensor_get_i64(t, k);
  }
  *count = cnt;
  return EMBER_OK;
}

/* Collect scales / sizes / roi from the inputs: `vals` are the values
 * where known, `types` say whether an input is present and how long. */
static ember_status resize_collect(const emb_node *n, emb_diag *d,
                                   const resize_state *s, bool at_run,
                                   int n_in, const emb_type *const *types,
                                   const emb_tensor *const *vals,
                                   resize_args *a) {
  ember_status bad = at_run ? EMBER_ERR_RUNTIME : EMBER_ERR_INVALID_MODEL;
  ember_status st;
  memset(a, 0, sizeof *a);
  if (s->attr_scales) {
    if (s->n_attr_scales > EMB_MAX_RANK)
      return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                         "attribute 'scales' has %zu values",
                         s->n_attr_scales);
    for (size_t k = 0; k < s->n_attr_scales; k++)
      a->scales[k] = s->attr_scales[k];
    a->n_scales = s->n_attr_scales;
    a->has_scales = true;
  }
  int idx[3] = {s->scales_in, s->sizes_in, s->roi_in};
  for (int w = 0; w < 3; w++) {
    int i = idx[w];
    if (i < 0 || i >= n_in || !types[i]) continue;
    const emb_type *t = types[i];
    const emb_tensor *v = vals ? vals[i] : NULL;
    if (!v) {
      /* Present, value unknown: empty when its static length says so. */
      bool empty = t->kind && t->rank == 1 && t->dims[0].v == 0;
      if (!empty && w == 0) a->scales_unknown = true;
      if (!empty && w == 1) a->sizes_unknown = true;
      continue;
    }
    if (emb_tensor_numel(v) == 0) continue; /* "" in opset 11 style */
    if (w == 0) {
      if ((st = read_list(n, d, bad, v, "scales", EMB_MAX_RANK, a->scales,
                          NULL, &a->n_scales)))
        return st;
      a->has_scales = true;
    } else if (w == 1) {
      if ((st = read_list(n, d, bad, v, "sizes", EMB_MAX_RANK, NULL,
                          a->sizes, &a->n_sizes)))
        return st;
      a->has_sizes = true;
    } else {
      if ((st = read_list(n, d, bad, v, "roi", 2 * EMB_MAX_RANK, a->roi,
                          NULL, &a->n_roi)))
        return st;
      a->has_roi = true;
    }
  }
  if (a->has_scales && a->has_sizes)
    return emb_op_fail(d, n, bad,
                       "both 'scales' and 'sizes' are given; only one may "
                       "be");
  if (!a->has_scales && !a->has_sizes && !a->scales_unknown &&
      !a->sizes_unknown)
    return emb_op_fail(d, n, bad, "one of 'scales' or 'sizes' is required");
  return EMBER_OK;
}

/* Output shape and per-axis mapping.  in[d] < 0 where unknown (load);
 * out[d] is then -1 unless it does not depend on it. */
static ember_status resize_geometry(const emb_node *n, emb_diag *d,
                                    const resize_state *s, bool at_run,
                                    int rank, const int64_t *in,
                                    const resize_args *a, resize_geom *g) {
  ember_status bad = at_run ? EMBER_ERR_RUNTIME : EMBER_ERR_INVALID_MODEL;
  int ax[EMB_MAX_RANK];
  size_t nax = (size_t)rank;
  memset(g, 0, sizeof *g);
  g->rank = rank;
  if (s->axes) {
    nax = s->n_axes;
    for (size_t i = 0; i < nax; i++) {
      int k;
      ember_status st = emb_axis(n, s->axes[i], rank, &k, d);
      if (st) return st;
      if (g->resized[k])
        return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                           "axis %lld is repeated in 'axes'",
                           (long long)s->axes[i]);
      g->resized[k] = true;
      ax[i] = k;
    }
  } else {
    for (int k = 0; k < rank; k++) {
      ax[k] = k;
      g->resized[k] = true;
    }
  }
  for (int k = 0; k < rank; k++) {
    g->in[k] = in[k];
    g->out[k] = in[k];
    g->scale[k] = 1.0;
    g->outw[k] = (double)in[k];
    g->lo[k] = 0.0;
    g->hi[k] = 1.0;
  }
  if (s->ctm == CT_TF_CROP_AND_RESIZE && a->has_roi) {
    if (a->n_roi != 2 * nax)
      return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                         "'roi' has %zu values; expected %zu (start and end "
                         "for %zu axes)",
                         a->n_roi, 2 * nax, nax);
    for (size_t i = 0; i < nax; i++) {
      g->lo[ax[i]] = a->roi[i];
      g->hi[ax[i]] = a->roi[nax + i];
    }
  }
  const double big = 4611686018427387904.0; /* 2^62 */
  if (a->has_scales) {
    if (a->n_scales != nax)
      return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                         "'scales' has %zu values; expected %zu", a->n_scales,
                         nax);
    for (size_t i = 0; i < nax; i++) {
      int k = ax[i];
      double sc = a->scales[i];
      if (!(sc > 0) || !isfinite(sc))
        return emb_op_fail(d, n, bad,
                           "scale %g for axis %d is not a positive number",
                           sc, k);
      g->scale[k] = sc;
      if (in[k] < 0) {
        g->out[k] = sc == 1.0 ? in[k] : -1;
        continue;
      }
      double w = (double)in[k] * sc;
      if (w >= big)
        return emb_op_fail(d, n, EMBER_ERR_LIMIT,
                           "axis %d would have %g elements", k, w);
      g->outw[k] = w;
      g->out[k] = (int64_t)floor(w);
    }
  } else if (a->has_sizes) {
    if (a->n_sizes != nax)
      return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                         "'sizes' has %zu values; expected %zu", a->n_sizes,
                         nax);
    for (size_t i = 0; i < nax; i++)
      if (a->sizes[i] < 0)
        return emb_op_fail(d, n, bad, "size %lld for axis %d is negative",
                           (long long)a->sizes[i], ax[i]);
    if (s->keep == KA_STRETCH) {
      for (size_t i = 0; i < nax; i++) {
        int k = ax[i];
        g->out[k] = a->sizes[i];
        g->outw[k] = (double)a->sizes[i];
        if (in[k] > 0) g->scale[k] = (double)a->sizes[i] / (double)in[k];
      }
    } else {
      double sc = 0;
      bool known = true;
      for (size_t i = 0; i < nax; i++) {
        int k = ax[i];
        if (in[k] < 0) {
          known = false;
          continue;
        }
        if (in[k] == 0)
          return emb_op_fail(d, n, bad,
                             "axis %d is empty; its aspect ratio cannot be "
                             "kept",
                             k);
        double r = (double)a->sizes[i] / (double)in[k];
        if (i == 0 || (s->keep == KA_NOT_LARGER ? r < sc : r > sc)) sc = r;
      }
      for (size_t i = 0; i < nax; i++) {
        int k = ax[i];
        if (!known) {
          g->out[k] = -1;
          continue;
        }
        if (!(sc > 0))
          return emb_op_fail(d, n, bad,
                             "'sizes' give a zero scale; the aspect ratio "
                             "cannot be kept");
        g->scale[k] = sc;
        g->outw[k] = sc * (double)in[k];
        g->out[k] = (int64_t)floor(g->outw[k] + 0.5);
      }
    }
  } else {
    for (size_t i = 0; i < nax; i++) g->out[ax[i]] = -1;
  }
  return EMBER_OK;
}

/* Input coordinate of output index j along axis k.  *outside is set for
 * tf_crop_and_resize positions outside [0, in - 1]. */
static double resize_coord(const resize_state *s, const resize_geom *g,
                           int k, int64_t j, bool *outside) {
  double x = (double)j, sc = g->scale[k], in = (double)g->in[k];
  double ow = g->outw[k];
  *outside = false;
  switch (s->ctm) {
    case CT_HALF_PIXEL:
      return (x + 0.5) / sc - 0.5;
    case CT_HALF_PIXEL_SYMMETRIC: {
      double adj = (double)g->out[k] / ow;
      return in / 2 * (1 - adj) + (x + 0.5) / sc - 0.5;
    }
    case CT_PYTORCH_HALF_PIXEL:
      return ow > 1 ? (x + 0.5) / sc - 0.5 : 0.0;
    case CT_ALIGN_CORNERS:
      return ow == 1 ? 0.0 : x * (in - 1) / (ow - 1);
    case CT_ASYMMETRIC:
      return x / sc;
    case CT_TF_HALF_PIXEL_FOR_NN:
      return (x + 0.5) / sc;
    default: {
      double lo = g->lo[k], hi = g->hi[k], v;
      if (ow > 1)
        v = lo * (in - 1) + x * (hi - lo) * (in - 1) / (ow - 1);
      else
        v = 0.5 * (lo + hi) * (in - 1);
      if (!(v >= 0 && v <= in - 1)) *outside = true;
      return v;
    }
  }
}

static int64_t clamp_index(double v, int64_t n) {
  if (!(v > 0)) return 0; /* also NaN */
  if (v >= (double)(n - 1)) return n - 1;
  return (int64_t)v;
}

/* The input index nearest_mode picks for coordinate x, before clamping
 * into the input. */
static double nearest_raw(int mode, double x) {
  switch (mode) {
    case NM_ROUND_PREFER_FLOOR: return ceil(x - 0.5);
    case NM_ROUND_PREFER_CEIL: return floor(x + 0.5);
    case NM_FLOOR: return floor(x);
    default: return ceil(x);
  }
}

static int64_t nearest_index(int mode, double x, int64_t n) {
  return clamp_index(nearest_raw(mode, x), n);
}

/* The filter of the linear/cubic modes. */
static double cubic_kernel(double x, double a) {
  x = fabs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}

static double filter_scale(const resize_state *s, const resize_geom *g,
                           int k) {
  return s->antialias && g->scale[k] < 1 ? g->scale[k] : 1.0;
}

/* Taps per output index along axis k: the integers nearest the sample
 * point within the (stretched) filter's support. */
static size_t axis_ntaps(const resize_state *s, const resize_geom *g,
                         int k) {
  double r = s->mode == RS_CUBIC ? 2.0 : 1.0;
  double ks = filter_scale(s, g, k);
  if (ks >= 1) return (size_t)(2 * r);
  double start = floor(-r / ks) + 1;
  return (size_t)(2 - 2 * start);
}

/* Taps of output index j along axis k into idx/w (n entries).  Returns
 * whether the position lies outside (tf_crop_and_resize). */
static bool axis_taps(const resize_state *s, const resize_geom *g, int k,
                      int64_t j, size_t n, size_t *idx, double *w) {
  bool outside;
  double x = resize_coord(s, g, k, j, &outside);
  int64_t in = g->in[k];
  if (outside || !isfinite(x)) {
    for (size_t t = 0; t < n; t++) {
      idx[t] = 0;
      w[t] = 0;
    }
    return outside;
  }
  if (x > 4e15) x = 4e15; /* keep the index arithmetic exact */
  if (x < -4e15) x = -4e15;
  double ks = filter_scale(s, g, k);
  /* base + r == x with r in (0, 1]; the window starts at base + start. */
  double base = floor(x);
  if (base == x) base -= 1;
  double r = x - base;
  int64_t start = 1 - (int64_t)n / 2;
  double sum = 0;
  for (size_t t = 0; t < n; t++) {
    int64_t off = start + (int64_t)t, i = (int64_t)base + off;
    double arg = ((double)off - r) * ks, wt;
    if (s->mode == RS_CUBIC)
      wt = cubic_kernel(arg, s->cubic_a);
    else
      wt = fabs(arg) < 1 ? 1 - fabs(arg) : 0;
    if (s->exclude && (i < 0 || i >= in)) wt = 0;
    idx[t] = (size_t)(i < 0 ? 0 : i >= in ? in - 1 : i);
    w[t] = wt;
    sum += wt;
  }
  if ((s->antialias || s->exclude) && sum != 0)
    for (size_t t = 0; t < n; t++) w[t] /= sum;
  return false;
}

/* Whether the resample along axis k leaves the data as it is. */
static bool axis_identity(const resize_state *s, const resize_geom *g, int k,
                          size_t n, size_t *idx, double *w) {
  if (g->out[k] != g->in[k]) return false;
  for (int64_t j = 0; j < g->out[k]; j++) {
    if (s->mode == RS_NEAREST) {
      bool outside;
      double x = resize_coord(s, g, k, j, &outside);
      if (outside || nearest_index(s->nearest, x, g->in[k]) != j)
        return false;
      continue;
    }
    if (axis_taps(s, g, k, j, n, idx, w)) return false;
    double on = 0, off = 0;
    for (size_t t = 0; t < n; t++) {
      if (idx[t] == (size_t)j)
        on += w[t];
      else
        off += fabs(w[t]);
    }
    if (fabs(on - 1) > 1e-12 || off > 1e-12) return false;
  }
  return true;
}

/* -------------------------------------------------------------- infer */

static ember_status resize_check_types(const emb_node *n, emb_diag *d,
                                       const resize_state *s, int32_t dt) {
  if (!dt) return EMBER_OK;
  bool interp_ok = dt == EMBER_FLOAT || dt == EMBER_DOUBLE ||
                   dt == EMBER_FLOAT16 || dt == EMBER_BFLOAT16 ||
                   (emb_dtype_is_int(dt) && emb_dtype_bits(dt) >= 8 &&
                    dt != EMBER_BOOL);
  if (s->mode != RS_NEAREST && !interp_ok)
    return emb_op_fail(d, n, EMBER_ERR_UNSUPPORTED,
                       "%s interpolation of %s tensors is not supported",
                       mode_names[s->mode], ember_dtype_name(dt));
  if (s->mode == RS_NEAREST && !emb_mv_esize(dt))
    return emb_op_fail(d, n, EMBER_ERR_UNSUPPORTED,
                       "element type %s is not supported",
                       ember_dtype_name(dt));
  return EMBER_OK;
}

static ember_status resize_infer(emb_infer_ctx *c) {
  const resize_state *s = c->node->state;
  const emb_type *x = c->in[0];
  emb_type *o = &c->out[0];
  ember_status st;
  if (x && x->kind && x->kind != EMBER_KIND_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input 0 must be a tensor");
  if (c->node->opset == 10 && !s->attr_scales && c->n_in != 2)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "Resize-10 takes 2 inputs (X, scales), not %d",
                       c->n_in);
  int32_t dt = x && x->kind ? x->dtype : 0;
  if ((st = resize_check_types(c->node, c->diag, s, dt))) return st;
  resize_args a;
  if ((st = resize_collect(c->node, c->diag, s, c->at_run, c->n_in, c->in,
                           c->values, &a)))
    return st;
  emb_type_unknown(o);
  o->kind = EMBER_KIND_TENSOR;
  o->dtype = dt;
  if (!x || !x->kind || x->rank < 0) return EMBER_OK;
  int rank = x->rank;
  int64_t in[EMB_MAX_RANK] = {0};
  for (int k = 0; k < rank; k++) in[k] = x->dims[k].v;
  resize_geom g;
  if ((st = resize_geometry(c->node, c->diag, s, c->at_run, rank, in, &a,
                            &g)))
    return st;
  emb_type_tensor(o, dt, rank, NULL);
  for (int k = 0; k < rank; k++) {
    bool same = !g.resized[k] ||
                (a.has_scales && g.scale[k] == 1.0 &&
                 (g.in[k] < 0 || g.out[k] == g.in[k]));
    if (same)
      o->dims[k] = x->dims[k];
    else
      o->dims[k].v = g.out[k];
  }
  return EMBER_OK;
}

/* ---------------------------------------------------------------- run */

static ember_status resize_run_geom(emb_run_ctx *c, const resize_state *s,
                                    const emb_tensor *x, resize_geom *g) {
  emb_type types[4];
  const emb_type *tp[4] = {NULL, NULL, NULL, NULL};
  const emb_tensor *vals[4] = {NULL, NULL, NULL, NULL};
  int n_in = c->n_in < 4 ? c->n_in : 4;
  for (int i = 0; i < n_in; i++) {
    const emb_tensor *t = emb_in_t(c, i);
    if (!t) continue;
    emb_type_tensor(&types[i], t->dtype, t->rank, t->dims);
    tp[i] = &types[i];
    vals[i] = t;
  }
  resize_args a;
  ember_status st = resize_collect(c->node, c->diag, s, true, n_in, tp, vals,
                                   &a);
  if (st) return st;
  return resize_geometry(c->node, c->diag, s, true, x->rank, x->dims, &a, g);
}

static void narrow(const double *src, emb_tensor *y);

/* Copy one esize-byte element. */
static inline void put_elem(char *dst, const char *src, size_t es) {
  switch (es) {
    case 1: *dst = *src; break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, es); break;
  }
}

static ember_status resize_nearest(emb_run_ctx *c, const resize_state *s,
                                   const resize_geom *g, const emb_tensor *x,
                                   emb_tensor *y) {
  int rank = g->rank;
  size_t ntab = 0;
  for (int k = 0; k < rank; k++) ntab += (size_t)g->out[k];
  if (rank == 0) ntab = 1;
  emb_mv m;
  ember_status st = emb_mv_begin(c, x, y, ntab * sizeof(int64_t), &m);
  if (st) return st;
  /* tab[k][j]: element offset in x of output index j along axis k, or -1
   * outside the input (tf_crop_and_resize). */
  int64_t *tab[EMB_MAX_RANK + 1], *p = m.extra;
  int64_t stride = 1;
  int64_t out_last = rank ? g->out[rank - 1] : 1;
  for (int k = rank - 1; k >= 0; k--) {
    tab[k] = p;
    p += g->out[k];
    for (int64_t j = 0; j < g->out[k]; j++) {
      bool outside = false;
      int64_t i = j;
      bool zero = false;
      if (g->resized[k]) {
        double v = resize_coord(s, g, k, j, &outside);
        double r = nearest_raw(s->nearest, v);
        /* exclude_outside leaves a nearest neighbour outside the input
         * no weight at all: the output is 0. */
        zero = s->exclude && !(r >= 0 && r <= (double)(g->in[k] - 1));
        i = clamp_index(r, g->in[k]);
      }
      tab[k][j] = outside ? -1 : zero ? -2 : i * stride;
    }
    stride *= g->in[k];
  }
  if (rank == 0) {
    tab[0] = p;
    tab[0][0] = 0;
  }
  int last = rank ? rank - 1 : 0;
  /* The values written outside the input: extrapolation_value (or "" for
   * strings) and zero. */
  char fill[16] = {0}, zero[16] = {0};
  if (s->ctm == CT_TF_CROP_AND_RESIZE && x->dtype != EMBER_STRING &&
      !emb_mv_packed(x->dtype)) {
    emb_tensor ft;
    double v = s->extrap;
    memset(&ft, 0, sizeof ft);
    ft.dtype = x->dtype;
    ft.data = fill;
    ft.nbytes = sizeof fill;
    narrow(&v, &ft);
  }
  size_t es = m.esize, rows = 1;
  for (int k = 0; k < last; k++) rows *= (size_t)g->out[k];
  int64_t o[EMB_MAX_RANK] = {0};
  char *dst = m.dst;
  const char *src = m.src;
  for (size_t r = 0; r < rows; r++) {
    int64_t base = 0;
    int row_fill = 0; /* 1: extrapolate, 2: zero */
    for (int k = 0; k < last; k++) {
      int64_t t = tab[k][o[k]];
      if (t == -1) row_fill = 1;
      if (t == -2 && !row_fill) row_fill = 2;
      base += t;
    }
    const int64_t *tl = tab[last];
    for (int64_t j = 0; j < out_last; j++, dst += es) {
      int64_t t = tl[j];
      if (row_fill == 1 || t == -1)
        put_elem(dst, fill, es);
      else if (row_fill == 2 || t == -2)
        put_elem(dst, zero, es);
      else
        put_elem(dst, src + (size_t)(base + t) * es, es);
    }
    for (int k = last - 1; k >= 0; k--) {
      if (++o[k] < g->out[k]) break;
      o[k] = 0;
    }
  }
  /* Strings outside the input were written as NULL, which emb_mv_end
   * turns into "". */
  return emb_mv_end(c, y, &m);
}

/* Widen x into a double buffer / narrow back with rounding half to even
 * and saturation (integer types). */
#define RS_INT_TYPES(X)                                                     \
  X(EMBER_INT8, int8_t, INT8_MIN, INT8_MAX)                                 \
  X(EMBER_UINT8, uint8_t, 0, UINT8_MAX)                                     \
  X(EMBER_INT16, int16_t, INT16_MIN, INT16_MAX)                             \
  X(EMBER_UINT16, uint16_t, 0, UINT16_MAX)                                  \
  X(EMBER_INT32, int32_t, INT32_MIN, INT32_MAX)                             \
  X(EMBER_UINT32, uint32_t, 0, UINT32_MAX)                                  \
  X(EMBER_INT64, int64_t, INT64_MIN, INT64_MAX)                             \
  X(EMBER_UINT64, uint64_t, 0, UINT64_MAX)

static void widen(const emb_tensor *x, double *dst) {
  size_t n = emb_tensor_numel(x);
  switch (x->dtype) {
#define RS_WIDEN(DT, T, LO, HI)                                             \
  case DT: {                                                                \
    const T *p = x->data;                                                   \
    for (size_t i = 0; i < n; i++) dst[i] = (double)p[i];                   \
    break;                                                                  \
  }
    RS_INT_TYPES(RS_WIDEN)
#undef RS_WIDEN
    default:
      for (size_t i = 0; i < n; i++) dst[i] = emb_tensor_get_f64(x, i);
      break;
  }
}

static void narrow(const double *src, emb_tensor *y) {
  size_t n = emb_tensor_numel(y);
  switch (y->dtype) {
#define RS_NARROW(DT, T, LO, HI)                                            \
  case DT: {                                                                \
    T *p = y->data;                                                         \
    for (size_t i = 0; i < n; i++) {                                        \
      double v = nearbyint(src[i]);                                         \
      p[i] = v != v               ? (T)0                                    \
             : v <= (double)(LO) ? (T)(LO)                                  \
             : v >= (double)(HI) ? (T)(HI)                                  \
                                 : (T)v;                                    \
    }                                                                       \
    break;                                                                  \
  }
    RS_INT_TYPES(RS_NARROW)
#undef RS_NARROW
    default:
      for (size_t i = 0; i < n; i++) emb_tensor_set_f64(y, i, src[i]);
      break;
  }
}

static ember_status resize_interp(emb_run_ctx *c, const resize_state *s,
                                  const resize_geom *g, const emb_tensor *x,
                                  emb_tensor *y) {
  int rank = g->rank;
  int32_t dt = x->dtype;
  bool dbl = !(dt == EMBER_FLOAT || emb_is_half(dt));
  bool direct = dt == EMBER_FLOAT || dt == EMBER_DOUBLE;
  size_t ws = dbl ? sizeof(double) : sizeof(float);
  size_t ntaps[EMB_MAX_RANK] = {0}, maxn = 0;
  int pass[EMB_MAX_RANK], np = 0;
  for (int k = 0; k < rank; k++) {
    if (!g->resized[k]) continue;
    ntaps[k] = axis_ntaps(s, g, k);
    if (ntaps[k] > maxn) maxn = ntaps[k];
  }
  /* Probe identity axes with a small stack buffer where possible. */
  size_t probe_idx[64];
  double probe_w[64];
  for (int k = 0; k < rank; k++) {
    if (!g->resized[k]) continue;
    if (ntaps[k] <= 64 &&
        axis_identity(s, g, k, ntaps[k], probe_idx, probe_w))
      continue;
    pass[np++] = k;
  }
  /* Shrinking axes first, so the data stays small.  Among axes resized
   * by the same ratio, the last axis (a gather per element, where the
   * others combine whole rows) goes where the data is smallest: first
   * when enlarging, last when shrinking. */
  for (int i = 1; i < np; i++) {
    int k = pass[i], j = i;
    double r = (double)g->out[k] / (double)g->in[k];
    while (j > 0) {
      int q = pass[j - 1];
      double rq = (double)g->out[q] / (double)g->in[q];
      if (!(rq > r || (rq == r && r > 1 && q < k))) break;
      pass[j] = q;
      j--;
    }
    pass[j] = k;
  }
  if (np == 0) {
    memcpy(y->data, x->data, y->nbytes);
    return EMBER_OK;
  }
  /* Scratch: tap tables (index, weight, outside flag per output index),
   * a double row for computing taps, and two ping-pong buffers. */
  size_t tab_bytes = 0;
  for (int i = 0; i < np; i++) {
    size_t on = (size_t)g->out[pass[i]] * ntaps[pass[i]];
    tab_bytes += emb_align64(on * sizeof(size_t)) + emb_align64(on * ws) +
                 emb_align64((size_t)g->out[pass[i]]);
  }
  size_t cur[EMB_MAX_RANK], maxel = direct ? 0 : emb_tensor_numel(x);
  for (int k = 0; k < rank; k++) cur[k] = (size_t)g->in[k];
  for (int i = 0; i < np; i++) {
    cur[pass[i]] = (size_t)g->out[pass[i]];
    if (direct && i == np - 1) break;
    size_t el = 1;
    for (int k = 0; k < rank; k++) el *= cur[k];
    if (el > maxel) maxel = el;
  }
  size_t buf_bytes = emb_align64(maxel * ws);
  char *sc = emb_scratch(c, tab_bytes + 2 * buf_bytes +
                                emb_align64(maxn * sizeof(double)));
  if (!sc) return c->diag->status ? c->diag->status : EMBER_ERR_OUT_OF_MEMORY;
  size_t *idx[EMB_MAX_RANK];
  void *wt[EMB_MAX_RANK];
  unsigned char *outside[EMB_MAX_RANK];
  double *wrow = (double *)sc;
  sc += emb_align64(maxn * sizeof(double));
  bool any_outside = false;
  for (int i = 0; i < np; i++) {
    int k = pass[i];
    size_t n = ntaps[k], on = (size_t)g->out[k] * n;
    idx[k] = (size_t *)sc;
    sc += emb_align64(on * sizeof(size_t));
    wt[k] = sc;
    sc += emb_align64(on * ws);
    outside[k] = (unsigned char *)sc;
    sc += emb_align64((size_t)g->out[k]);
    for (int64_t j = 0; j < g->out[k]; j++) {
      bool out = axis_taps(s, g, k, j, n, idx[k] + (size_t)j * n, wrow);
      outside[k][j] = out;
      any_outside |= out;
      for (size_t t = 0; t < n; t++) {
        if (dbl)
          ((double *)wt[k])[(size_t)j * n + t] = wrow[t];
        else
          ((float *)wt[k])[(size_t)j * n + t] = (float)wrow[t];
      }
    }
  }
  char *buf[2] = {sc, sc + buf_bytes};
  const void *src = x->data;
  int nb = 0;
  if (!direct) {
    if (dbl)
      widen(x, (double *)buf[0]);
    else
      emb_cvt_to_f32(dt, x->data, emb_tensor_numel(x), (float *)buf[0]);
    src = buf[0];
    nb = 1;
  }
  for (int k = 0; k < rank; k++) cur[k] = (size_t)g->in[k];
  for (int i = 0; i < np; i++) {
    int k = pass[i];
    size_t outer = 1, inner = 1;
    for (int q = 0; q < k; q++) outer *= cur[q];
    for (int q = k + 1; q < rank; q++) inner *= cur[q];
    size_t in_len = cur[k], out_len = (size_t)g->out[k];
    void *dst = (direct && i == np - 1) ? y->data : buf[nb];
    if (dbl)
      ember_f64_resize1d__scalar(outer, in_len, out_len, inner, ntaps[k],
                                 idx[k], wt[k], src, dst);
    else
      ember_f32_resize1d__scalar(outer, in_len, out_len, inner, ntaps[k],
                                 idx[k], wt[k], src, dst);
    if (any_outside) {
      for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < out_len; j++) {
          if (!outside[k][j]) continue;
          size_t at = (o * out_len + j) * inner;
          for (size_t q = 0; q < inner; q++) {
            if (dbl)
              ((double *)dst)[at + q] = s->extrap;
            else
              ((float *)dst)[at + q] = s->extrap;
          }
        }
    }
    cur[k] = out_len;
    src = dst;
    nb ^= 1;
  }
  if (!direct) {
    if (dbl)
      narrow(src, y);
    else
      emb_cvt_from_f32(dt, src, emb_tensor_numel(y), y->data);
  }
  return EMBER_OK;
}

static ember_status resize_run(emb_run_ctx *c) {
  const resize_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  resize_geom g;
  ember_status st = resize_run_geom(c, s, x, &g);
  if (st) return st;
  if (emb_tensor_numel(y) == 0) return EMBER_OK;
  for (int k = 0; k < g.rank; k++)
    if (g.in[k] == 0)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                         "axis %d is empty and cannot be resized to %lld", k,
                         (long long)g.out[k]);
  if (s->mode == RS_NEAREST) return resize_nearest(c, s, &g, x, y);
  return resize_interp(c, s, &g, x, y);
}

const emb_opdef emb_op_resize = {1, 4, 1, 1, 0,
                                 resize_init, resize_infer, resize_run};
const emb_opdef emb_op_upsample = {1, 2, 1, 1, 0,
                                   upsample_init, resize_infer, resize_run};
