/*
 * Portable one-axis resampling passes (see f32-resize.h).  Along the last
 * axis (inner == 1) each output element is a short dot product (unrolled
 * for the 2 taps of linear and the 4 of cubic); along an outer axis whole
 * rows are combined, so the innermost loop runs over contiguous memory
 * and vectorizes.
 */
#include <assert.h>
#include <string.h>

#include "f32-resize/f32-resize.h"

#define EMBER_RESIZE1D(NAME, T)                                              \
  void NAME(size_t outer, size_t in_len, size_t out_len, size_t inner,      \
            size_t ntaps, const size_t *idx, const T *w, const T *x, T *y) { \
    assert(ntaps > 0);                                                      \
    for (size_t o = 0; o < outer; o++) {                                    \
      const T *xo = x + o * in_len * inner;                                 \
      T *yo = y + o * out_len * inner;                                      \
      if (inner == 1 && ntaps == 2) {                                       \
        for (size_t j = 0; j < out_len; j++)                                \
          yo[j] = w[2 * j] * xo[idx[2 * j]] +                               \
                  w[2 * j + 1] * xo[idx[2 * j + 1]];                        \
        continue;                                                           \
      }                                                                     \
      if (inner == 1 && ntaps == 4) {                                       \
        for (size_t j = 0; j < out_len; j++) {                              \
          const size_t *ij = idx + 4 * j;                                   \
          const T *wj = w + 4 * j;                                          \
          yo[j] = (wj[0] * xo[ij[0]] + wj[1] * xo[ij[1]]) +                 \
                  (wj[2] * xo[ij[2]] + wj[3] * xo[ij[3]]);                  \
        }                                                                   \
        continue;                                                           \
      }                                                                     \
      if (inner == 1) {                                                     \
        for (size_t j = 0; j < out_len; j++) {                              \
          const size_t *ij = idx + j * ntaps;                               \
          const T *wj = w + j * ntaps;                                      \
          T acc = 0;                                                        \
          for (size_t t = 0; t < ntaps; t++) {                              \
            assert(ij[t] < in_len);                                         \
            acc += wj[t] * xo[ij[t]];                                       \
          }                                                                 \
          yo[j] = acc;                                                      \
        }                                                                   \
        continue;                                                           \
      }                                                                     \
      for (size_t j = 0; j < out_len; j++) {                                \
        const size_t *ij = idx + j * ntaps;                                 \
        const T *wj = w + j * ntaps;                                        \
        T *row = yo + j * inner;                                            \
        const T *src = xo + ij[0] * inner;                                  \
        T w0 = wj[0];                                                       \
        for (size_t i = 0; i < inner; i++) row[i] = w0 * src[i];            \
        for (size_t t = 1; t < ntaps; t++) {                                \
          assert(ij[t] < in_len);                                           \
          T wt = wj[t];                                                     \
          src = xo + ij[t] * inner;                                         \
          for (size_t i = 0; i < inner; i++) row[i] += wt * src[i];         \
        }                                                                   \
      }                                                                     \
    }                                                                       \
  }

EMBER_RESIZE1D(ember_f32_resize1d__scalar, float)
EMBER_RESIZE1D(ember_f64_resize1d__scalar, double)
