/*
 * Lowering of N-dimensional convolutions to matrix products.  im2col
 * gathers, for a range of output positions, every input element each
 * kernel tap sees into the columns of a matrix, so that Conv becomes
 * W x col; col2im is its adjoint, scattering such a matrix back onto an
 * image with accumulation, so that ConvTranspose becomes col2im(W^T x X).
 *
 * Geometry shared by both, per spatial axis d < nsp:
 *   image position = grid position * stride[d] - pad[d]
 *                    + tap * dilation[d]
 * The "image" is the padded-free tensor (Conv input, ConvTranspose
 * output) with dims img[d]; the "grid" is the other side (Conv output,
 * ConvTranspose input) with dims grid[d].  Taps falling outside
 * [0, img[d]) read as zero (im2col) or are dropped (col2im).  pad may be
 * negative (ConvTranspose with an explicit output_shape).
 *
 * col is row-major [channels * prod(kernel)][count]: row (c, k0, k1, ...)
 * in C order, column j for grid position first + j (positions in C
 * order over grid).
 */
#ifndef EMBER_KERNELS_F32_CONV_H
#define EMBER_KERNELS_F32_CONV_H

#include <stddef.h>

typedef struct ember_conv_geom {
  size_t nsp;             /* number of spatial axes (>= 1)               */
  const size_t *img;      /* [nsp] image dims                            */
  const size_t *grid;     /* [nsp] grid dims                             */
  const size_t *kernel;   /* [nsp] kernel dims                           */
  const size_t *stride;   /* [nsp]                                       */
  const size_t *dilation; /* [nsp]                                       */
  const ptrdiff_t *pad;   /* [nsp] padding before each axis              */
} ember_conv_geom;

/* col[r][j] = image value seen by tap row r at grid position first + j,
 * for j < count; x is [channels][prod(img)]. */
void ember_f32_im2col__scalar(const ember_conv_geom *g, size_t channels,
                              const float *x, size_t first, size_t count,
                              float *col);

/* y[tap's image position] += col[r][j] for every tap row r and grid
 * position first + j, j < count; y is [channels][prod(img)]. */
void ember_f32_col2im__scalar(const ember_conv_geom *g, size_t channels,
                              const float *col, size_t first, size_t count,
                              float *y);

#endif
