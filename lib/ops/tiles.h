/*
 * How operators cut their work into tasks for emb_parallel_for.  Matrix
 * products (Gemm, MatMul, Conv) cut their output into an m x n grid of
 * blocks and never the summed dimension k, so every output element is
 * computed by the same operations in the same order whatever the thread
 * count: the GEMM kernel computes an element the same way wherever it
 * sits in a call (tests/unit/test_exec.c checks that property).  Block
 * starts are multiples of the kernel's register tile, so a cut adds no
 * partial tiles, and blocks stay at least EMB_TILE_MIN long, which also
 * keeps a block away from the kernel's one-row and one-column shortcuts
 * unless the whole product takes them.  The memory-bound loops
 * (elementwise, pooling) cut a flat range the same way.
 */
#ifndef EMBER_OPS_TILES_H
#define EMBER_OPS_TILES_H

#include <stdbool.h>
#include <stddef.h>

#include "f32-gemm/f32-gemm.h"
#include "isa.h"
#include "ops/op.h"

/* At most this many tasks per thread: more than one lets threads that
 * were slowed down (a busy machine) hand work to the others. */
#define EMB_TILES_PER_THREAD 4
/* Work per task below which a task is not worth its share of waking a
 * thread and waiting for it (10 to 30 us on a virtual machine): in
 * multiply-adds for the matrix products, in elements or window taps for
 * the memory-bound loops. */
#define EMB_TILE_MIN_MACS ((size_t)1 << 18)
#define EMB_TILE_MIN_ELEMS ((size_t)1 << 15)
/* Smallest block of rows or columns a split produces. */
#define EMB_TILE_MIN 16
/* What copying one element (packing an operand for the GEMM, im2col)
 * costs, in multiply-adds of the GEMM's inner loop. */
#define EMB_TILE_COPY_MACS 16.0

/* Tasks worth making for `work` units on `threads` threads, at least
 * `min_work` units each: 1 means run on one thread. */
static inline size_t emb_tile_parts(size_t work, size_t min_work,
                                    int threads) {
  if (threads <= 1) return 1;
  size_t want = (size_t)threads * EMB_TILES_PER_THREAD;
  size_t most = work / min_work;
  return most < 1 ? 1 : most < want ? most : want;
}

/* Start of block i of `parts` over [0, len) (i >= parts gives len): the
 * blocks are as equal as starts that are multiples of `align` allow, and
 * none is empty when parts <= len / align. */
static inline size_t emb_block_start(size_t len, size_t parts, size_t align,
                                     size_t i) {
  if (i >= parts) return len;
  size_t s = (len / parts) * i + (len % parts) * i / parts;
  return s / align * align;
}

/* The largest of emb_block_start's blocks. */
static inline size_t emb_block_max(size_t len, size_t parts, size_t align) {
  size_t most = 0;
  for (size_t i = 0; i < parts; i++) {
    size_t b = emb_block_start(len, parts, align, i + 1) -
               emb_block_start(len, parts, align, i);
    if (b > most) most = b;
  }
  return most;
}

/* A family of `units` independent m x n x k products (batches, images,
 * groups), to cut for `threads` threads. */
typedef struct emb_tile_problem {
  size_t units, m, n, k;
  size_t align_m, align_n; /* the GEMM's register tile (MR, NR)         */
  size_t panel_n;          /* columns per packing of A (the GEMM's NC)  */
  double copy_b;           /* copies per element of B a block handles
                              (packing, im2col): EMB_TILE_COPY_MACS each */
  double copy_a;           /* copies per element of A per block and per
                              panel_n columns (packing)                 */
  int threads;
} emb_tile_problem;

/* The problem's m, n, k and the register tile and panel width of the
 * GEMM kernel the machine runs; the rest zero. */
static inline emb_tile_problem emb_tile_gemm(size_t units, size_t m, size_t n,
                                             size_t k, int threads) {
  ember_f32_gemm_tile t = ember_f32_gemm_tile_of(ember_kernels_isa());
  emb_tile_problem p = {units, m,    n,    k,   t.mr ? t.mr : 1,
                        t.nr ? t.nr : 1, t.nc, 1.0, 1.0, threads};
  return p;
}

/* Choose the blocks per unit, pm x pn, and return whether to run the
 * units x pm x pn tasks in parallel.  The cut is the one with the least
 * estimated time, counted as rounds of tasks (ceil(tasks / threads))
 * times one task's multiply-adds plus the copies it repeats (a block
 * along m copies its columns of B again, one along n its rows of A).
 * Tasks are at most EMB_TILES_PER_THREAD per thread (or one per unit) and
 * at least EMB_TILE_MIN_MACS each. */
static inline bool emb_tile_plan(const emb_tile_problem *p, size_t *pm,
                                 size_t *pn) {
  *pm = *pn = 1;
  if (p->threads <= 1 || p->units == 0 ||
      p->units * p->m * p->n * p->k < 2 * EMB_TILE_MIN_MACS)
    return false;
  size_t am = p->align_m > EMB_TILE_MIN ? p->align_m : EMB_TILE_MIN;
  size_t an = p->align_n > EMB_TILE_MIN ? p->align_n : EMB_TILE_MIN;
  size_t max_m = p->m / am ? p->m / am : 1, max_n = p->n / an ? p->n / an : 1;
  size_t t = (size_t)p->threads, most = t * EMB_TILES_PER_THREAD;
  size_t unit_macs = p->m * p->n * p->k;
  double best = -1.0;
  for (size_t a = 1; a <= max_m; a++) {
    for (size_t b = 1; b <= max_n; b++) {
      size_t tasks = p->units * a * b;
      if (tasks > most && a * b > 1) break;
      if (a * b > 1 && unit_macs / (a * b) < EMB_TILE_MIN_MACS) break;
      size_t mb = emb_block_max(p->m, a, p->align_m);
      size_t nb = emb_block_max(p->n, b, p->align_n);
      size_t panels = p->panel_n ? (nb + p->panel_n - 1) / p->panel_n : 1;
      double task = (double)mb * (double)nb * (double)p->k +
                    EMB_TILE_COPY_MACS * (double)p->k *
                        ((double)nb * p->copy_b +
                         (double)mb * (double)panels * p->copy_a);
      double c = (double)((tasks + t - 1) / t) * task;
      if (best < 0.0 || c < best * 0.999) {
        best = c;
        *pm = a;
        *pn = b;
      }
    }
  }
  return p->units * *pm * *pn > 1;
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
