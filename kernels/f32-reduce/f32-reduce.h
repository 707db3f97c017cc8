/*
 * float32 reduction kernels over a (outer, red, inner) view of contiguous
 * data: y[o][i] = reduce over r of x[o][r][i].  The Reduce* operators
 * decompose any set of reduced axes into a few such passes (the composite
 * ones, L1, L2, LogSum, LogSumExp, SumSquare, add element-wise steps
 * before or after a sum).
 * Pure functions: no allocation, no errors.
 */
#ifndef EMBER_F32_REDUCE_H
#define EMBER_F32_REDUCE_H

#include <stddef.h>

/* Sum; red == 0 gives 0.  Rows (inner == 1) accumulate in double. */
void ember_f32_rsum__scalar(size_t outer, size_t red, size_t inner,
                            const float *x, float *y);
/* Maximum; red == 0 gives -infinity.  NaN propagates. */
void ember_f32_rmax__scalar(size_t outer, size_t red, size_t inner,
                            const float *x, float *y);
/* Minimum; red == 0 gives +infinity.  NaN propagates. */
void ember_f32_rmin__scalar(size_t outer, size_t red, size_t inner,
                            const float *x, float *y);
/* Product; red == 0 gives 1.  Rows (inner == 1) accumulate in double. */
void ember_f32_rprod__scalar(size_t outer, size_t red, size_t inner,
                             const float *x, float *y);

#endif
