/*
 * Portable reference implementation of the strided copy and fill kernels
 * declared in xx-copy.h.  Before walking, the copy drops unit dimensions
 * and merges neighbours that are contiguous on both sides, so that most
 * operator patterns end in one long innermost row handled by memcpy (or a
 * fill for broadcast rows); only truly strided rows go element by element.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "xx-copy/xx-copy.h"

/* One row of n elements.  The fixed-size memcpy calls compile to plain
 * loads and stores. */
static void copy_row(size_t esize, size_t n, const char *s, ptrdiff_t ss,
                     char *d, ptrdiff_t ds) {
  ptrdiff_t es = (ptrdiff_t)esize;
  if (ss == es && ds == es) {
    memcpy(d, s, n * esize);
    return;
  }
  if (ss == 0 && ds == es) {
    ember_xx_fill__scalar(esize, n, s, d);
    return;
  }
  switch (esize) {
    case 1:
      for (size_t i = 0; i < n; i++, s += ss, d += ds) *d = *s;
      break;
    case 2:
      for (size_t i = 0; i < n; i++, s += ss, d += ds) memcpy(d, s, 2);
      break;
    case 4:
      for (size_t i = 0; i < n; i++, s += ss, d += ds) memcpy(d, s, 4);
      break;
    case 8:
      for (size_t i = 0; i < n; i++, s += ss, d += ds) memcpy(d, s, 8);
      break;
    default:
      for (size_t i = 0; i < n; i++, s += ss, d += ds) memcpy(d, s, esize);
      break;
  }
}

void ember_xx_copy_nd__scalar(size_t esize, size_t rank, const size_t *dims,
                              const void *src, const ptrdiff_t *src_strides,
                              void *dst, const ptrdiff_t *dst_strides) {
  size_t d[EMBER_XX_COPY_MAX_RANK];
  ptrdiff_t s[EMBER_XX_COPY_MAX_RANK], t[EMBER_XX_COPY_MAX_RANK];
  size_t n = 0;
  assert(rank <= EMBER_XX_COPY_MAX_RANK);
  for (size_t k = 0; k < rank; k++) {
    if (dims[k] == 0) return;
    if (dims[k] == 1) continue;
    ptrdiff_t len = (ptrdiff_t)dims[k];
    if (n > 0 && s[n - 1] == len * src_strides[k] &&
        t[n - 1] == len * dst_strides[k]) {
      d[n - 1] *= dims[k];
    } else {
      d[n] = dims[k];
      n++;
    }
    s[n - 1] = src_strides[k];
    t[n - 1] = dst_strides[k];
  }
  const char *sp = src;
  char *dp = dst;
  if (n == 0) {
    memcpy(dp, sp, esize);
    return;
  }
  size_t idx[EMBER_XX_COPY_MAX_RANK] = {0};
  size_t inner = n - 1;
  for (;;) {
    copy_row(esize, d[inner], sp, s[inner], dp, t[inner]);
    /* Advance the odometer over the outer dimensions. */
    size_t k = inner;
    for (;;) {
      if (k == 0) return;
      k--;
      sp += s[k];
      dp += t[k];
      if (++idx[k] < d[k]) break;
      sp -= (ptrdiff_t)d[k] * s[k];
      dp -= (ptrdiff_t)d[k] * t[k];
      idx[k] = 0;
    }
  }
}

void ember_xx_fill__scalar(size_t esize, size_t n, const void *value,
                           void *dst) {
  const unsigned char *v = value;
  unsigned char *d = dst;
  if (n == 0) return;
  bool same = true;
  for (size_t i = 1; i < esize && same; i++) same = v[i] == v[0];
  if (same) {
    memset(d, v[0], n * esize);
    return;
  }
  /* Write one element, then keep doubling the filled prefix. */
  memcpy(d, v, esize);
  size_t done = 1;
  while (done < n) {
    size_t m = done < n - done ? done : n - done;
    memcpy(d + done * esize, d, m * esize);
    done += m;
  }
}
