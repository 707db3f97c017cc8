/*
 * One-axis resampling kernels for Resize and Upsample (lib/ops/resize.c).
 * The operator resizes an N-D tensor one axis at a time; each pass views
 * the data as (outer, len, inner) and replaces the middle axis by a new
 * length, every output row being a weighted sum of a few input rows.  The
 * operator computes the taps (clamped input index and weight per output
 * index) once per axis, so the kernel only multiplies and adds.  float32
 * and float64 variants; pure functions: no allocation, no errors.
 */
#ifndef EMBER_KERNELS_F32_RESIZE_H
#define EMBER_KERNELS_F32_RESIZE_H

#include <stddef.h>

/* y[o][j][i] = sum over t < ntaps of w[j*ntaps + t] * x[o][idx[j*ntaps + t]][i]
 * for o < outer, j < out_len, i < inner.  x is [outer][in_len][inner],
 * y is [outer][out_len][inner]; every idx is below in_len; y must not
 * overlap x. */
void ember_f32_resize1d__scalar(size_t outer, size_t in_len, size_t out_len,
                                size_t inner, size_t ntaps,
                                const size_t *idx, const float *w,
                                const float *x, float *y);
void ember_f64_resize1d__scalar(size_t outer, size_t in_len, size_t out_len,
                                size_t inner, size_t ntaps,
                                const size_t *idx, const double *w,
                                const double *x, double *y);

#endif
