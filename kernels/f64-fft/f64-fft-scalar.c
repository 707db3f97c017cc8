/*
 * Portable double-precision DFT kernels (see f64-fft.h): radix-2
 * decimation in time for powers of two, a direct sum for short other
 * lengths, Bluestein's chirp convolution for long ones.  Every table entry
 * is computed from its own angle (no recurrences), with the angle reduced
 * exactly in integers first, so errors do not grow with the length.
 */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "f64-fft/f64-fft.h"

/* Lengths up to this that are not powers of two use the direct sum: below
 * it the O(n^2) loop is cheaper than Bluestein's three FFTs of >= 2n. */
#define FFT_DIRECT_MAX 64

static const double fft_two_pi = 6.283185307179586476925286766559;

static int fft_is_pow2(size_t n) { return n && !(n & (n - 1)); }

static size_t fft_bluestein_m(size_t n) {
  size_t m = 1;
  while (m < 2 * n - 1) m <<= 1;
  return m;
}

/* e^{-2 pi i k / n} for k in [0, count). */
static void fft_roots(double *tw, size_t count, size_t n) {
  for (size_t k = 0; k < count; k++) {
    double a = -fft_two_pi * (double)k / (double)n;
    tw[2 * k] = cos(a);
    tw[2 * k + 1] = sin(a);
  }
}

static int fft_kind(size_t n) {
  if (fft_is_pow2(n)) return EMBER_FFT_RADIX2;
  return n <= FFT_DIRECT_MAX ? EMBER_FFT_DIRECT : EMBER_FFT_BLUESTEIN;
}

size_t ember_f64_fft_plan_doubles(size_t n) {
  switch (fft_kind(n)) {
    case EMBER_FFT_RADIX2: return n; /* n/2 pairs */
    case EMBER_FFT_DIRECT: return 2 * n;
    default: {
      size_t m = fft_bluestein_m(n);
      return m + 2 * n + 2 * m; /* twiddles, chirp, chirp FFT */
    }
  }
}

size_t ember_f64_fft_work_doubles(size_t n) {
  switch (fft_kind(n)) {
    case EMBER_FFT_RADIX2: return 0;
    case EMBER_FFT_DIRECT: return 2 * n;
    default: return 2 * fft_bluestein_m(n);
  }
}

/* In-place forward FFT of m (a power of two) pairs; tw: m/2 roots. */
static void fft_radix2(size_t m, const double *tw, double *x) {
  for (size_t i = 1, j = 0; i < m; i++) { /* bit-reversal permutation */
    size_t bit = m >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      double r = x[2 * i], im = x[2 * i + 1];
      x[2 * i] = x[2 * j];
      x[2 * i + 1] = x[2 * j + 1];
      x[2 * j] = r;
      x[2 * j + 1] = im;
    }
  }
  for (size_t len = 2; len <= m; len <<= 1) {
    size_t h = len / 2, step = m / len;
    for (size_t s = 0; s < m; s += len) {
      double *a = x + 2 * s, *b = x + 2 * (s + h);
      for (size_t k = 0; k < h; k++) {
        double wr = tw[2 * k * step], wi = tw[2 * k * step + 1];
        double tr = b[2 * k] * wr - b[2 * k + 1] * wi;
        double ti = b[2 * k] * wi + b[2 * k + 1] * wr;
        b[2 * k] = a[2 * k] - tr;
        b[2 * k + 1] = a[2 * k + 1] - ti;
        a[2 * k] += tr;
        a[2 * k + 1] += ti;
      }
    }
  }
}

void ember_f64_fft_plan_init__scalar(ember_f64_fft_plan *p, size_t n,
                                     double *tables) {
  assert(n >= 1);
  memset(p, 0, sizeof *p);
  p->n = n;
  p->kind = fft_kind(n);
  if (p->kind == EMBER_FFT_RADIX2) {
    p->m = n;
    fft_roots(tables, n / 2, n);
    p->tw = tables;
    return;
  }
  if (p->kind == EMBER_FFT_DIRECT) {
    fft_roots(tables, n, n);
    p->tw = tables;
    return;
  }
  size_t m = fft_bluestein_m(n);
  double *tw = tables, *chirp = tw + m, *bfft = chirp + 2 * n;
  p->m = m;
  fft_roots(tw, m / 2, m);
  /* chirp[k] = e^{-pi i k^2 / n}; k^2 mod 2n keeps the angle exact. */
  for (size_t k = 0; k < n; k++) {
    uint64_t q = ((uint64_t)k * k) % (2 * (uint64_t)n);
    double a = -fft_two_pi * 0.5 * (double)q / (double)n;
    chirp[2 * k] = cos(a);
    chirp[2 * k + 1] = sin(a);
  }
  /* b[j] = conj(chirp[|j|]) laid out circularly, then its FFT / m. */
  memset(bfft, 0, 2 * m * sizeof *bfft);
  for (size_t k = 0; k < n; k++) {
    bfft[2 * k] = chirp[2 * k];
    bfft[2 * k + 1] = -chirp[2 * k + 1];
    if (k) {
      bfft[2 * (m - k)] = chirp[2 * k];
      bfft[2 * (m - k) + 1] = -chirp[2 * k + 1];
    }
  }
  fft_radix2(m, tw, bfft);
  for (size_t j = 0; j < 2 * m; j++) bfft[j] /= (double)m;
  p->tw = tw;
  p->chirp = chirp;
  p->bfft = bfft;
}

void ember_f64_fft_ukernel__scalar(const ember_f64_fft_plan *p, double *x,
                                   double *work) {
  size_t n = p->n;
  if (p->kind == EMBER_FFT_RADIX2) {
    fft_radix2(n, p->tw, x);
    return;
  }
  if (p->kind == EMBER_FFT_DIRECT) {
    memcpy(work, x, 2 * n * sizeof *x);
    for (size_t k = 0; k < n; k++) {
      double sr = 0.0, si = 0.0;
      size_t idx = 0; /* j * k mod n */
      for (size_t j = 0; j < n; j++) {
        double wr = p->tw[2 * idx], wi = p->tw[2 * idx + 1];
        sr += work[2 * j] * wr - work[2 * j + 1] * wi;
        si += work[2 * j] * wi + work[2 * j + 1] * wr;
        idx += k;
        if (idx >= n) idx -= n;
      }
      x[2 * k] = sr;
      x[2 * k + 1] = si;
    }
    return;
  }
  /* Bluestein: X[k] = chirp[k] * sum_j (x[j] chirp[j]) conj(chirp[k-j]). */
  size_t m = p->m;
  const double *c = p->chirp, *b = p->bfft;
  for (size_t j = 0; j < n; j++) {
    work[2 * j] = x[2 * j] * c[2 * j] - x[2 * j + 1] * c[2 * j + 1];
    work[2 * j + 1] = x[2 * j] * c[2 * j + 1] + x[2 * j + 1] * c[2 * j];
  }
  memset(work + 2 * n, 0, 2 * (m - n) * sizeof *work);
  fft_radix2(m, p->tw, work);
  /* Pointwise product, conjugated so the next forward FFT inverts. */
  for (size_t j = 0; j < m; j++) {
    double r = work[2 * j] * b[2 * j] - work[2 * j + 1] * b[2 * j + 1];
    double i = work[2 * j] * b[2 * j + 1] + work[2 * j + 1] * b[2 * j];
    work[2 * j] = r;
    work[2 * j + 1] = -i;
  }
  fft_radix2(m, p->tw, work);
  for (size_t k = 0; k < n; k++) { /* conjugate back, times chirp[k] */
    double r = work[2 * k], i = -work[2 * k + 1];
    x[2 * k] = r * c[2 * k] - i * c[2 * k + 1];
    x[2 * k + 1] = r * c[2 * k + 1] + i * c[2 * k];
  }
}
