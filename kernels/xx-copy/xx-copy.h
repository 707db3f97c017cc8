/*
 * Type-agnostic data-movement kernels: strided n-d block copies and fills
 * of fixed-size elements.  They serve every operator that only moves bytes
 * (Transpose, Slice, Concat, Split, Expand, Tile, Pad, Gather); the
 * operator describes its access pattern as dimensions plus byte strides
 * and the kernel walks it.  Pure functions: no allocation, no errors.
 */
#ifndef EMBER_XX_COPY_H
#define EMBER_XX_COPY_H

#include <stddef.h>

/* The most dimensions a copy may describe (Tile uses two per axis). */
#define EMBER_XX_COPY_MAX_RANK 32

/* For every index (i0, ..., i{rank-1}) below dims, copy the `esize`-byte
 * element at src + sum(i_k * src_strides[k]) to dst + sum(i_k *
 * dst_strides[k]).  Strides are in bytes and may be negative (reversed
 * slices) or 0 on the source side (broadcast).  Destination elements must
 * not overlap each other or the source.  rank <= EMBER_XX_COPY_MAX_RANK;
 * rank 0 copies one element. */
void ember_xx_copy_nd__scalar(size_t esize, size_t rank, const size_t *dims,
                              const void *src, const ptrdiff_t *src_strides,
                              void *dst, const ptrdiff_t *dst_strides);

/* Write the `esize`-byte value n times, contiguously, to dst. */
void ember_xx_fill__scalar(size_t esize, size_t n, const void *value,
                           void *dst);

#endif
