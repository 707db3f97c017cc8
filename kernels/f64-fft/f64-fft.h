/*
 * Complex discrete Fourier transforms in double precision, for DFT and
 * STFT (lib/ops/signal.c).  A plan fixes the length n and holds tables
 * computed once per run: a power-of-two n uses an iterative radix-2 FFT,
 * a short other length a direct O(n^2) sum over an exact twiddle table,
 * and a longer one Bluestein's algorithm (the DFT rewritten as a
 * convolution with a chirp, done with radix-2 FFTs of length m >= 2n - 1).
 * Data are n interleaved (re, im) pairs transformed in place; the
 * transform is the forward one, unscaled: y[k] = sum_j x[j] e^{-2 pi i jk/n}
 * (callers get the inverse by conjugating before and after).  Pure
 * functions: the caller provides the table and work memory.
 */
#ifndef EMBER_F64_FFT_H
#define EMBER_F64_FFT_H

#include <stddef.h>

enum { EMBER_FFT_RADIX2 = 1, EMBER_FFT_DIRECT, EMBER_FFT_BLUESTEIN };

typedef struct ember_f64_fft_plan {
  size_t n;            /* transform length (>= 1)                       */
  size_t m;            /* radix-2 length: n, or Bluestein's m; 0 direct */
  int kind;            /* EMBER_FFT_*                                   */
  const double *tw;    /* radix-2: m/2 pairs e^{-2 pi i k/m};
                          direct: n pairs e^{-2 pi i k/n}               */
  const double *chirp; /* Bluestein: n pairs e^{-pi i k^2/n}            */
  const double *bfft;  /* Bluestein: FFT of the conjugate chirp, m
                          pairs, scaled by 1/m                          */
} ember_f64_fft_plan;

/* Doubles of table memory and of work memory a plan of length n needs. */
size_t ember_f64_fft_plan_doubles(size_t n);
size_t ember_f64_fft_work_doubles(size_t n);

/* Fill the tables (ember_f64_fft_plan_doubles(n) doubles at `tables`,
 * which must outlive the plan) and the plan.  n >= 1. */
void ember_f64_fft_plan_init__scalar(ember_f64_fft_plan *p, size_t n,
                                     double *tables);

/* x (n interleaved complex values) := its forward DFT.  `work` holds
 * ember_f64_fft_work_doubles(n) doubles (may be NULL when that is 0). */
void ember_f64_fft_ukernel__scalar(const ember_f64_fft_plan *p, double *x,
                                   double *work);

#endif
