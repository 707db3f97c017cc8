/*
 * SGEMM throughput per ISA, single thread: GFLOP/s of ember_f32_gemm with
 * each supported ISA forced in turn (kernels/isa.h), on square sizes, on
 * the convolution shapes of ResNet-50 (m = output channels, n = output
 * pixels, k = input channels x kernel taps), on transformer and batch-1
 * fully connected shapes; each also with A (convolution weights) or B
 * (Gemm/MatMul weights) pre-packed.  B is row-major unless the shape says
 * B^T (stored n x k, as Gemm's transB); the batch-1 shapes take the
 * matrix-vector path.  Time is the thread's CPU time, so a busy machine
 * disturbs the figures less than wall time would; each figure is the best
 * of several repetitions of at least 0.2 s.  "scalar" is the portable
 * reference (the GEMM Ember had before the ISA kernels).
 *
 *   gemm_bench [--isa NAME] [--reps N] [m n k ...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "f32-gemm/f32-gemm.h"
#include "isa.h"

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *alloc_f(size_t n) {
  float *p = aligned_alloc(64, ((n ? n : 1) * sizeof(float) + 63) / 64 * 64);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  return p;
}

typedef struct shape {
  const char *name;
  size_t m, n, k;
  int tb; /* B stored n x k (Gemm's transB = 1) */
} shape;

/* Best GFLOP/s of `reps` timed batches; prepacked: 0 none, 1 A packed
 * beforehand, 2 B packed beforehand. */
static double run(const shape *s, int prepacked, int reps) {
  size_t m = s->m, n = s->n, k = s->k;
  float *a = alloc_f(m * k), *b = alloc_f(k * n), *c = alloc_f(m * n);
  float *w = alloc_f(ember_f32_gemm_work_floats(m, n, k));
  float *pa = prepacked == 1 ? alloc_f(ember_f32_gemm_packed_a_floats(m, k))
                             : NULL;
  float *pb = prepacked == 2 ? alloc_f(ember_f32_gemm_packed_b_floats(n, k))
                             : NULL;
  for (size_t i = 0; i < m * k; i++) a[i] = (float)(i % 13) * 0.01f;
  for (size_t i = 0; i < k * n; i++) b[i] = (float)(i % 7) * 0.01f;
  memset(c, 0, m * n * sizeof *c);
  size_t b_rs = s->tb ? 1 : n, b_cs = s->tb ? k : 1;
  if (pa) ember_f32_gemm_pack_a(m, k, a, k, 1, pa);
  if (pb) ember_f32_gemm_pack_b(n, k, b, b_rs, b_cs, pb);
  double flops = 2.0 * (double)m * (double)n * (double)k, best = 0;
  for (int r = 0; r < reps + 1; r++) {
    long iters = 0;
    double t0 = cpu_now(), t;
    do {
      if (pb)
        ember_f32_gemm_prepacked(m, n, k, 1.0f, a, k, 1, pb, 0, 0.0f, c, n, w);
      else if (pa)
        ember_f32_gemm_prepacked_a(m, n, k, 1.0f, pa, 0, b, b_rs, b_cs, 0.0f,
                                   c, n, w);
      else
        ember_f32_gemm(m, n, k, 1.0f, a, k, 1, b, b_rs, b_cs, 0.0f, c, n, w);
      iters++;
      t = cpu_now() - t0;
    } while (t < 0.2);
    double g = flops * (double)iters / t * 1e-9;
    if (r > 0 && g > best) best = g; /* the first batch warms up */
  }
  free(a), free(b), free(c), free(w), free(pa), free(pb);
  return best;
}

int main(int argc, char **argv) {
  static const shape defaults[] = {
      {"square 256", 256, 256, 256},
      {"square 1024", 1024, 1024, 1024},
      {"square 2048", 2048, 2048, 2048},
      {"r50 conv1 7x7/2", 64, 12544, 147},
      {"r50 l1 1x1 64->64", 64, 3136, 64},
      {"r50 l1 3x3 64", 64, 3136, 576},
      {"r50 l1 1x1 64->256", 256, 3136, 64},
      {"r50 l1 1x1 256->64", 64, 3136, 256},
      {"r50 l2 3x3 128", 128, 784, 1152},
      {"r50 l2 1x1 128->512", 512, 784, 128},
      {"r50 l3 3x3 256", 256, 196, 2304},
      {"r50 l3 1x1 256->1024", 1024, 196, 256},
      {"r50 l4 3x3 512", 512, 49, 4608},
      {"r50 l4 1x1 512->2048", 2048, 49, 512},
      {"bert ffn 128x1536x384", 128, 1536, 384},
      {"bert qkv B^T", 128, 1152, 384, 1},
      {"fc batch-1 B^T", 1, 1000, 2048, 1},
      {"fc batch-1", 1, 1000, 2048},
      {"mlp batch-1 B^T", 1, 256, 512, 1},
  };
  const char *only = NULL;
  int reps = 3;
  shape custom[16];
  size_t ncustom = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--isa") && i + 1 < argc) {
      only = argv[++i];
    } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = atoi(argv[++i]);
    } else if (i + 2 < argc && ncustom < 16) {
      custom[ncustom++] = (shape){"custom", strtoul(argv[i], NULL, 10),
                                  strtoul(argv[i + 1], NULL, 10),
                                  strtoul(argv[i + 2], NULL, 10), 0};
      i += 2;
    } else {
      fprintf(stderr, "usage: %s [--isa NAME] [--reps N] [m n k ...]\n",
              argv[0]);
      return 2;
    }
  }
  const shape *shapes = ncustom ? custom : defaults;
  size_t nshapes = ncustom ? ncustom : sizeof defaults / sizeof *defaults;
  int isas[EMBER_ISA_COUNT], nisa = 0;
  for (int i = 0; i < EMBER_ISA_COUNT; i++) {
    const char *name = ember_kernels_isa_name(i);
    if (only && strcmp(only, name)) continue;
    if (!ember_kernels_isa_supported(i)) {
      printf("# %s: not supported here, skipped\n", name);
      continue;
    }
    isas[nisa++] = i;
  }
  printf("# GFLOP/s, one thread, thread CPU time; +pA / +pB: A / B "
         "pre-packed\n");
  printf("%-24s %5s %5s %5s", "shape", "m", "n", "k");
  for (int i = 0; i < nisa; i++)
    printf(" %8s %6s %6s", ember_kernels_isa_name(isas[i]), "+pA", "+pB");
  printf("\n");
  for (size_t s = 0; s < nshapes; s++) {
    printf("%-24s %5zu %5zu %5zu", shapes[s].name, shapes[s].m, shapes[s].n,
           shapes[s].k);
    fflush(stdout);
    for (int i = 0; i < nisa; i++) {
      ember_kernels_force_isa(ember_kernels_isa_name(isas[i]));
      double g = run(&shapes[s], 0, reps);
      double ga = run(&shapes[s], 1, reps);
      double gb = run(&shapes[s], 2, reps);
      printf(" %8.1f %6.1f %6.1f", g, ga, gb);
      fflush(stdout);
    }
    printf("\n");
  }
  ember_kernels_force_isa(NULL);
  return 0;
}
