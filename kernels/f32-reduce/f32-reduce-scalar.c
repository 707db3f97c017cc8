/*
 * Portable reference float32 reductions (see f32-reduce.h).  Two shapes
 * matter: reducing a contiguous row (inner == 1, e.g. the last axis) and
 * reducing across rows (inner > 1, e.g. spatial axes after the channel
 * axis), where the whole inner vector is updated per reduced step so the
 * input is read in order.
 */
#include <math.h>

#include "f32-reduce/f32-reduce.h"

void ember_f32_rsum__scalar(size_t outer, size_t red, size_t inner,
                            const float *x, float *y) {
  if (inner == 1) {
    for (size_t o = 0; o < outer; o++, x += red) {
      double acc = 0.0;
      for (size_t r = 0; r < red; r++) acc += x[r];
      y[o] = (float)acc;
    }
    return;
  }
  for (size_t o = 0; o < outer; o++, y += inner) {
    for (size_t i = 0; i < inner; i++) y[i] = 0.0f;
    for (size_t r = 0; r < red; r++, x += inner)
      for (size_t i = 0; i < inner; i++) y[i] += x[i];
  }
}

/* NaN wins, as in numpy's maximum. */
static inline float max_nan(float a, float b) {
  if (isnan(a) || isnan(b)) return a + b;
  return a > b ? a : b;
}

void ember_f32_rmax__scalar(size_t outer, size_t red, size_t inner,
                            const float *x, float *y) {
  if (inner == 1) {
    for (size_t o = 0; o < outer; o++, x += red) {
      float m = -INFINITY;
      for (size_t r = 0; r < red; r++) m = max_nan(m, x[r]);
      y[o] = m;
    }
    return;
  }
  for (size_t o = 0; o < outer; o++, y += inner) {
    for (size_t i = 0; i < inner; i++) y[i] = -INFINITY;
    for (size_t r = 0; r < red; r++, x += inner)
      for (size_t i = 0; i < inner; i++) y[i] = max_nan(y[i], x[i]);
  }
}

/* NaN wins, as in numpy's minimum. */
static inline float min_nan(float a, float b) {
  if (isnan(a) || isnan(b)) return a + b;
  return a < b ? a : b;
}

void ember_f32_rmin__scalar(size_t outer, size_t red, size_t inner,
                            const float *x, float *y) {
  if (inner == 1) {
    for (size_t o = 0; o < outer; o++, x += red) {
      float m = INFINITY;
      for (size_t r = 0; r < red; r++) m = min_nan(m, x[r]);
      y[o] = m;
    }
    return;
  }
  for (size_t o = 0; o < outer; o++, y += inner) {
    for (size_t i = 0; i < inner; i++) y[i] = INFINITY;
    for (size_t r = 0; r < red; r++, x += inner)
      for (size_t i = 0; i < inner; i++) y[i] = min_nan(y[i], x[i]);
  }
}

void ember_f32_rprod__scalar(size_t outer, size_t red, size_t inner,
                             const float *x, float *y) {
  if (inner == 1) {
    for (size_t o = 0; o < outer; o++, x += red) {
      double acc = 1.0;
      for (size_t r = 0; r < red; r++) acc *= x[r];
      y[o] = (float)acc;
    }
    return;
  }
  for (size_t o = 0; o < outer; o++, y += inner) {
    for (size_t i = 0; i < inner; i++) y[i] = 1.0f;
    for (size_t r = 0; r < red; r++, x += inner)
      for (size_t i = 0; i < inner; i++) y[i] *= x[i];
  }
}
