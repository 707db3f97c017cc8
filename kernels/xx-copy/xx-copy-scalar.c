/*
 * Portable reference implementation of the strided copy and fill kernels
 * declared in xx-copy.h.  Before walking, the copy drops unit dimensions
 * and merges neighbours that are contiguous on both sides, so that most
 * operator patterns end in one long innermost row handled by memcpy (or a
 * fill for broadcast rows).  When the destination row gathers from a
 * strided source while another dimension is contiguous in the source (a
 * transpose), the two are copied in square tiles so that both sides stay
 * in cache; other strided rows go element by element.
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

/* Edge of the square tiles of a transposing copy, in elements. */
#define TILE 32

/* rows x cols elements: source contiguous along rows (stride esize),
 * destination contiguous along cols. */
static void copy_tile2d(size_t esize, size_t rows, size_t cols,
                        const char *s, ptrdiff_t s_col, char *d,
                        ptrdiff_t d_row) {
  ptrdiff_t es = (ptrdiff_t)esize;
  for (size_t r0 = 0; r0 < rows; r0 += TILE) {
    size_t r1 = r0 + TILE < rows ? r0 + TILE : rows;
    for (size_t c0 = 0; c0 < cols; c0 += TILE) {
      size_t c1 = c0 + TILE < cols ? c0 + TILE : cols;
      for (size_t r = r0; r < r1; r++) {
        const char *sp = s + (ptrdiff_t)r * es + (ptrdiff_t)c0 * s_col;
        char *dp = d + (ptrdiff_t)r * d_row + (ptrdiff_t)c0 * es;
        size_t n = c1 - c0;
        switch (esize) {
          case 1:
            for (size_t c = 0; c < n; c++, sp += s_col) dp[c] = *sp;
            break;
          case 2:
            for (size_t c = 0; c < n; c++, sp += s_col)
              memcpy(dp + 2 * c, sp, 2);
            break;
          case 4:
            for (size_t c = 0; c < n; c++, sp += s_col)
              memcpy(dp + 4 * c, sp, 4);
            break;
          case 8:
            for (size_t c = 0; c < n; c++, sp += s_col)
              memcpy(dp + 8 * c, sp, 8);
            break;
          default:
            for (size_t c = 0; c < n; c++, sp += s_col)
              memcpy(dp + esize * c, sp, esize);
            break;
        }
      }
    }
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
  /* A transpose: the destination row is strided in the source, and some
   * other dimension is contiguous there.  Make that one second-innermost
   * and copy the pair in tiles. */
  ptrdiff_t es = (ptrdiff_t)esize;
  bool tiled = false;
  if (n >= 2 && t[n - 1] == es && s[n - 1] != es && s[n - 1] != 0) {
    for (size_t j = 0; j + 1 < n; j++) {
      if (s[j] != es || d[j] < 4) continue;
      size_t tn = d[j];
      ptrdiff_t ts = s[j], tt = t[j];
      d[j] = d[n - 2], s[j] = s[n - 2], t[j] = t[n - 2];
      d[n - 2] = tn, s[n - 2] = ts, t[n - 2] = tt;
      tiled = true;
      break;
    }
  }
  size_t idx[EMBER_XX_COPY_MAX_RANK] = {0};
  size_t inner = tiled ? n - 2 : n - 1;
  for (;;) {
    if (tiled)
      copy_tile2d(esize, d[inner], d[inner + 1], sp, s[inner + 1], dp,
                  t[inner]);
    else
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
