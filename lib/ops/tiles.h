/*
 * How operators cut their work into tasks for emb_parallel_for.  Matrix
 * products (Gemm, MatMul, Conv) cut their output into an m x n grid of
 * blocks and never the summed dimension k, so every output element is
 * computed by the same operations in the same order whatever the thread
 * count: the GEMM kernel computes an element the same way wherever it
 * sits in a call (tests/unit/test_exec.c checks that property).  Blocks
 * stay at least EMB_TILE_MIN wide, which also keeps a split block away
 * from the kernel's one-row and one-column shortcuts unless the whole
 * product takes them.
 */
#ifndef EMBER_OPS_TILES_H
#define EMBER_OPS_TILES_H

#include <stddef.h>

#include "ops/op.h"

/* Tasks to aim for per thread: more than one lets threads that were
 * slowed down (a busy machine) hand work to the others. */
#define EMB_TILES_PER_THREAD 4
/* Multiply-adds (or comparable units of work) below which a task is not
 * worth its scheduling cost. */
#define EMB_TILE_MIN_WORK ((size_t)1 << 15)
/* Smallest block of rows or columns a split produces. */
#define EMB_TILE_MIN 16

/* Tasks worth making for `work` units on `threads` threads: 1 means run
 * on one thread. */
static inline size_t emb_tile_parts(size_t work, int threads) {
  if (threads <= 1) return 1;
  size_t want = (size_t)threads * EMB_TILES_PER_THREAD;
  size_t most = work / EMB_TILE_MIN_WORK;
  return most < 1 ? 1 : most < want ? most : want;
}

/* Start of block i of `parts` over [0, len) (i == parts gives len).
 * Starts are multiples of an alignment of at most 16, chosen so that the
 * blocks differ by at most about 1/8; every block is non-empty when
 * len >= parts. */
static inline size_t emb_block_start(size_t len, size_t parts, size_t i) {
  if (i >= parts) return len;
  size_t align = 16;
  while (align > 1 && align * 8 > len / parts) align /= 2;
  size_t s = (len / parts) * i + (len % parts) * i / parts;
  return s / align * align;
}

/* Cut an m x n output into pm x pn blocks, at most `parts` in all, at
 * least EMB_TILE_MIN long on average along a cut side (emb_block_start's
 * rounding keeps each above 7/8 of that); a side shorter than twice
 * EMB_TILE_MIN stays whole.
 * cost_m and cost_n price one more cut along m or n (the operand packed
 * again for each extra block); the cheapest factorisation wins. */
static inline void emb_split2d(size_t m, size_t n, size_t parts, double cost_m,
                               double cost_n, size_t *pm, size_t *pn) {
  size_t max_m = m / EMB_TILE_MIN, max_n = n / EMB_TILE_MIN;
  if (max_m < 1) max_m = 1;
  if (max_n < 1) max_n = 1;
  *pm = *pn = 1;
  for (; parts > 1; parts--) {
    double best = -1.0;
    for (size_t a = 1; a <= parts && a <= max_m; a++) {
      if (parts % a || parts / a > max_n) continue;
      double c = (double)a * cost_m + (double)(parts / a) * cost_n;
      if (best < 0.0 || c < best) {
        best = c;
        *pm = a;
        *pn = parts / a;
      }
    }
    if (best >= 0.0) return;
  }
}

/* emb_parallel_for when `parallel`, else the same loop inline as thread 0
 * (for an op that sized its per-thread scratch for one thread). */
static inline void emb_tile_for(emb_run_ctx *c, bool parallel, size_t n,
                                emb_task_fn fn, void *arg) {
  if (parallel) {
    emb_parallel_for(c, n, fn, arg);
    return;
  }
  for (size_t i = 0; i < n; i++) fn(arg, i, 0);
}

#endif
