/*
 * Unit tests of the executor's thread pool (lib/exec/threadpool.c) and of
 * what the operators build on it: every index of a parallel loop runs
 * exactly once whatever n and the thread count, iterations that overlap
 * in time never share a thread number, a loop started from inside a task
 * runs inline on that task's thread, sessions hand emb_parallel_for to
 * their pool; the GEMM kernel computes each element the same way whatever
 * block of the output a call covers (the property ops/tiles.h relies on),
 * for every ISA the machine has; and whole models and large Conv, Gemm,
 * MatMul, pooling and elementwise nodes give bit-identical results with 1,
 * 2 and 3 threads.  Sessions with threads are created and freed many times
 * over (leaks show under ASan).  Nothing here measures time.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "exec/exec.h"
#include "exec/threadpool.h"
#include "f32-gemm/f32-gemm.h"
#include "isa.h"
#include "ops/tiles.h"
#include "optest.h"

/* ------------------------------------------------------------ helpers */

static uint32_t rng_state = 2024u;

/* Deterministic values in [-1, 1). */
static float rnd(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rnd_array(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof *p);
  for (size_t i = 0; i < n; i++) p[i] = rnd();
  return p;
}

/* Fail with the first differing float of two buffers. */
static void expect_same_bits(const void *a, const void *b, size_t nbytes,
                             const char *what) {
  if (!memcmp(a, b, nbytes)) return;
  const unsigned char *pa = a, *pb = b;
  size_t i = 0;
  while (pa[i] == pb[i]) i++;
  size_t e = i / 4;
  float fa, fb;
  memcpy(&fa, pa + e * 4, 4);
  memcpy(&fb, pb + e * 4, 4);
  fail_msg("%s: results differ at float %zu: %.9g vs %.9g", what, e, (double)fa,
           (double)fb);
}

/* ----------------------------------------------------------- the pool */

#define MAX_N 100003

typedef struct count_job {
  atomic_int *hits;
  atomic_int *in_use; /* per thread number: running an iteration now */
  int threads;
  atomic_int bad_thread, shared_thread;
} count_job;

static void count_task(void *arg, size_t i, int thread) {
  count_job *j = arg;
  if (thread < 0 || thread >= j->threads) {
    atomic_store(&j->bad_thread, 1);
    return;
  }
  if (atomic_exchange(&j->in_use[thread], 1))
    atomic_store(&j->shared_thread, 1);
  atomic_fetch_add(&j->hits[i], 1);
  atomic_store(&j->in_use[thread], 0);
}

static void run_and_count(emb_pool *pool, size_t n) {
  static atomic_int hits[MAX_N];
  atomic_int in_use[EMB_POOL_MAX_THREADS];
  count_job j;
  j.hits = hits;
  j.in_use = in_use;
  j.threads = emb_pool_threads(pool);
  atomic_init(&j.bad_thread, 0);
  atomic_init(&j.shared_thread, 0);
  for (int t = 0; t < EMB_POOL_MAX_THREADS; t++) atomic_init(&in_use[t], 0);
  for (size_t i = 0; i < n; i++) atomic_init(&hits[i], 0);
  emb_pool_run(pool, n, count_task, &j);
  for (size_t i = 0; i < n; i++)
    if (atomic_load(&hits[i]) != 1)
      fail_msg("%d threads, n %zu: index %zu ran %d times", j.threads, n, i,
               atomic_load(&hits[i]));
  if (atomic_load(&j.bad_thread))
    fail_msg("%d threads, n %zu: a thread number out of range", j.threads, n);
  if (atomic_load(&j.shared_thread))
    fail_msg(
        "%d threads, n %zu: two iterations shared a thread number at "
        "once",
        j.threads, n);
}

static void test_pool_runs_every_index_once(void **state) {
  (void)state;
  static const size_t ns[] = {0, 1,  2,  3,  5,    7,    8,
                              9, 63, 64, 65, 1000, 4097, MAX_N};
  static const int ts[] = {1, 2, 3, 4, 8, 13};
  for (size_t a = 0; a < sizeof ts / sizeof ts[0]; a++) {
    emb_pool *pool = emb_pool_create(ts[a]);
    if (ts[a] <= 1)
      assert_null(pool);
    else
      assert_non_null(pool);
    assert_true(emb_pool_threads(pool) >= 1 && emb_pool_threads(pool) <= ts[a]);
    /* Many loops on one pool: every loop must see all its indices. */
    for (int rep = 0; rep < 3; rep++)
      for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++)
        run_and_count(pool, ns[b]);
    emb_pool_free(pool);
  }
  emb_pool_free(NULL);
}

static void test_pool_many_back_to_back_loops(void **state) {
  (void)state;
  /* Short loops in a row, the pattern of a model's nodes: outside a run,
   * inside runs (where waiting threads poll longer), and runs ended with
   * the workers still polling. */
  emb_pool *pool = emb_pool_create(4);
  assert_non_null(pool);
  for (int rep = 0; rep < 2000; rep++) run_and_count(pool, (size_t)(rep % 9));
  for (int run = 0; run < 20; run++) {
    emb_pool_begin(pool);
    for (int rep = 0; rep < 100; rep++)
      run_and_count(pool, (size_t)((rep + run) % 11));
    emb_pool_end(pool);
  }
  run_and_count(pool, 1000);
  emb_pool_free(pool);
  /* NULL pools accept both. */
  emb_pool_begin(NULL);
  emb_pool_end(NULL);
}

/* Two kinds of loop in alternation, whose iterations on workers sometimes
 * stall (as a descheduled thread would): the caller then runs the rest
 * alone, and a late worker must never run a chunk of a finished loop or of
 * the next one. */
typedef struct late_job {
  atomic_int hits[600];
  int kind;
  atomic_int wrong;
} late_job;

static void late_task_a(void *arg, size_t i, int thread) {
  late_job *j = arg;
  if (j->kind != 0) atomic_store(&j->wrong, 1);
  if (thread != 0 && i % 7 == 0) {
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
  }
  atomic_fetch_add(&j->hits[i], 1);
}

static void late_task_b(void *arg, size_t i, int thread) {
  late_job *j = arg;
  if (j->kind != 1) atomic_store(&j->wrong, 1);
  (void)thread;
  atomic_fetch_add(&j->hits[i], 1);
}

static void test_pool_late_workers(void **state) {
  (void)state;
  static late_job jobs[2];
  emb_pool *pool = emb_pool_create(3);
  assert_non_null(pool);
  for (int rep = 0; rep < 300; rep++) {
    late_job *j = &jobs[rep % 2];
    size_t n = 1 + (size_t)(rep * 37) % 599;
    j->kind = rep % 2;
    atomic_init(&j->wrong, 0);
    for (size_t i = 0; i < 600; i++) atomic_init(&j->hits[i], 0);
    if (rep % 5 == 0) emb_pool_begin(pool);
    emb_pool_run(pool, n, rep % 2 ? late_task_b : late_task_a, j);
    if (rep % 5 == 4) emb_pool_end(pool);
    for (size_t i = 0; i < 600; i++)
      if (atomic_load(&j->hits[i]) != (i < n ? 1 : 0))
        fail_msg("loop %d (n %zu): index %zu ran %d times", rep, n, i,
                 atomic_load(&j->hits[i]));
    assert_int_equal(atomic_load(&j->wrong), 0);
  }
  emb_pool_end(pool);
  emb_pool_free(pool);
}

static void test_pool_size_is_clamped(void **state) {
  (void)state;
  emb_pool *pool = emb_pool_create(EMB_POOL_MAX_THREADS + 50);
  assert_non_null(pool);
  assert_true(emb_pool_threads(pool) <= EMB_POOL_MAX_THREADS);
  run_and_count(pool, 1000);
  emb_pool_free(pool);
  assert_null(emb_pool_create(0));
  assert_null(emb_pool_create(-3));
  assert_int_equal(emb_pool_threads(NULL), 1);
}

typedef struct nest_job {
  emb_pool *pool;
  atomic_int outer_done, inner_done, wrong_thread;
} nest_job;

typedef struct nest_inner {
  nest_job *j;
  pthread_t self;
  int thread;
} nest_inner;

static void nest_inner_task(void *arg, size_t i, int thread) {
  nest_inner *in = arg;
  (void)i;
  if (!pthread_equal(pthread_self(), in->self) || thread != in->thread)
    atomic_store(&in->j->wrong_thread, 1);
  atomic_fetch_add(&in->j->inner_done, 1);
}

static void nest_outer_task(void *arg, size_t i, int thread) {
  nest_job *j = arg;
  (void)i;
  nest_inner in = {j, pthread_self(), thread};
  emb_pool_run(j->pool, 10, nest_inner_task, &in);
  atomic_fetch_add(&j->outer_done, 1);
}

static void test_pool_nested_loop_runs_inline(void **state) {
  (void)state;
  nest_job j;
  j.pool = emb_pool_create(3);
  assert_non_null(j.pool);
  atomic_init(&j.outer_done, 0);
  atomic_init(&j.inner_done, 0);
  atomic_init(&j.wrong_thread, 0);
  emb_pool_run(j.pool, 40, nest_outer_task, &j);
  assert_int_equal(atomic_load(&j.outer_done), 40);
  assert_int_equal(atomic_load(&j.inner_done), 400);
  assert_int_equal(atomic_load(&j.wrong_thread), 0);
  /* The pool still works normally afterwards. */
  run_and_count(j.pool, 1000);
  emb_pool_free(j.pool);
}

static void test_pool_null_runs_inline(void **state) {
  (void)state;
  run_and_count(NULL, 1000);
}

static void test_session_env_uses_the_pool(void **state) {
  (void)state;
  emb_diag d;
  emb_diag_clear(&d);
  emb_session s;
  emb_session_env_init(&s, &d, 3);
  assert_true(s.threads >= 1 && s.threads <= 3);
  assert_true((s.threads > 1) == (s.pool != NULL));
  emb_run_ctx c = {.session = &s, .diag = &d};
  assert_int_equal(emb_run_threads(&c), s.threads);
  /* emb_parallel_for goes through it; thread numbers stay in range. */
  static atomic_int hits[5000];
  atomic_int in_use[EMB_POOL_MAX_THREADS];
  count_job j = {hits, in_use, s.threads};
  atomic_init(&j.bad_thread, 0);
  atomic_init(&j.shared_thread, 0);
  for (int t = 0; t < EMB_POOL_MAX_THREADS; t++) atomic_init(&in_use[t], 0);
  for (size_t i = 0; i < 5000; i++) atomic_init(&hits[i], 0);
  emb_parallel_for(&c, 5000, count_task, &j);
  for (size_t i = 0; i < 5000; i++) assert_int_equal(atomic_load(&hits[i]), 1);
  assert_int_equal(atomic_load(&j.bad_thread), 0);
  assert_int_equal(atomic_load(&j.shared_thread), 0);
  emb_session_env_free(&s);
  /* One thread: no pool, loops inline. */
  emb_session_env_init(&s, &d, 1);
  assert_null(s.pool);
  assert_int_equal(s.threads, 1);
  emb_session_env_free(&s);
}

/* ------------------------------------- the split property of the GEMM */

static void check_gemm_split(size_t m, size_t n, size_t k, bool ta, bool tb,
                             float beta) {
  float *a = rnd_array(m * k), *b = rnd_array(k * n), *c0 = rnd_array(m * n);
  float *full = malloc(m * n * sizeof *full);
  float *tiled = malloc(m * n * sizeof *tiled);
  size_t a_rs = ta ? 1 : k, a_cs = ta ? m : 1;
  size_t b_rs = tb ? 1 : n, b_cs = tb ? k : 1;
  float *work = malloc(ember_f32_gemm_work_floats(m, n, k) * sizeof *work);
  memcpy(full, c0, m * n * sizeof *full);
  ember_f32_gemm(m, n, k, 0.75f, a, a_rs, a_cs, b, b_rs, b_cs, beta, full, n,
                 work);
  static const size_t cuts[][2] = {{2, 1}, {3, 1}, {8, 1}, {1, 2}, {1, 3},
                                   {1, 8}, {2, 3}, {4, 4}};
  ember_f32_gemm_tile tile = ember_f32_gemm_tile_of(ember_kernels_isa());
  for (size_t q = 0; q < sizeof cuts / sizeof cuts[0]; q++) {
    size_t pm = cuts[q][0], pn = cuts[q][1];
    if ((pm > 1 && m / pm < EMB_TILE_MIN) || (pn > 1 && n / pn < EMB_TILE_MIN))
      continue;
    /* Blocks on the register tile (as the ops cut) and anywhere. */
    for (int aligned = 0; aligned < 2; aligned++) {
      size_t am = aligned ? tile.mr : 1, an = aligned ? tile.nr : 1;
      if ((pm > 1 && m / pm < am) || (pn > 1 && n / pn < an)) continue;
      memcpy(tiled, c0, m * n * sizeof *tiled);
      for (size_t bm = 0; bm < pm; bm++)
        for (size_t bn = 0; bn < pn; bn++) {
          size_t m0 = emb_block_start(m, pm, am, bm),
                 m1 = emb_block_start(m, pm, am, bm + 1);
          size_t n0 = emb_block_start(n, pn, an, bn),
                 n1 = emb_block_start(n, pn, an, bn + 1);
          ember_f32_gemm(m1 - m0, n1 - n0, k, 0.75f, a + m0 * a_rs, a_rs, a_cs,
                         b + n0 * b_cs, b_rs, b_cs, beta, tiled + m0 * n + n0,
                         n, work);
        }
      char what[160];
      snprintf(what, sizeof what,
               "isa %s, %zux%zux%zu%s%s beta %g in %zux%zu blocks%s",
               ember_kernels_isa_name(ember_kernels_isa()), m, n, k,
               ta ? " A'" : "", tb ? " B'" : "", (double)beta, pm, pn,
               aligned ? " on the tile" : "");
      expect_same_bits(full, tiled, m * n * sizeof *full, what);
    }
  }
  free(a);
  free(b);
  free(c0);
  free(full);
  free(tiled);
  free(work);
}

static void test_gemm_blocks_match_the_whole_product(void **state) {
  (void)state;
  static const char *const isas[] = {"scalar", "avx2", "avx512f"};
  static const size_t shapes[][3] = {
      {1, 1000, 300},  /* batch-1 fully connected */
      {700, 1, 64},    /* one column */
      {64, 49, 1152},  /* late conv layer: k over several KC slices */
      {37, 203, 50},   /* odd everything */
      {130, 130, 17},  /* square-ish, small k */
      {256, 3136, 64}, /* early conv layer */
  };
  for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
    if (ember_kernels_force_isa(isas[i])) continue; /* not on this machine */
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
      for (int t = 0; t < 4; t++)
        check_gemm_split(shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t & 2,
                         t == 3   ? 1.0f
                         : t == 1 ? 0.5f
                                  : 0.0f);
  }
  ember_kernels_force_isa(NULL);
}

/* --------------------------------- whole models: 1 vs 2 vs 3 threads */

static void *run_tiny_cnn(const ember_model *m, int threads, size_t *nbytes) {
  ember_session_options o;
  ember_session_options_init(&o);
  o.num_threads = threads;
  ember_session *s;
  assert_int_equal(ember_session_create(m, &o, &s), EMBER_OK);
  static float img[4 * 3 * 32 * 32];
  for (size_t i = 0; i < sizeof img / sizeof img[0]; i++)
    img[i] = (float)((i * 7919) % 255) / 255.0f - 0.5f;
  int64_t dims[4] = {4, 3, 32, 32};
  ember_tensor in = {EMBER_FLOAT, 4, dims, img, sizeof img}, out = {0};
  const char *name = "image";
  assert_int_equal(ember_session_run(s, 1, &name, &in, 1, NULL, &out),
                   EMBER_OK);
  void *copy = malloc(out.nbytes);
  memcpy(copy, out.data, out.nbytes);
  *nbytes = out.nbytes;
  ember_session_free(s);
  return copy;
}

static void test_tiny_cnn_same_bits_any_threads(void **state) {
  (void)state;
  ember_model *m;
  assert_int_equal(
      ember_model_load_file(EMBER_SOURCE_DIR "/models/tiny_cnn.onnx", NULL, &m),
      EMBER_OK);
  size_t n1, n2, n3;
  void *r1 = run_tiny_cnn(m, 1, &n1);
  void *r2 = run_tiny_cnn(m, 2, &n2);
  void *r3 = run_tiny_cnn(m, 3, &n3);
  assert_int_equal(n1, n2);
  assert_int_equal(n1, n3);
  expect_same_bits(r1, r2, n1, "tiny_cnn, 1 vs 2 threads");
  expect_same_bits(r1, r3, n1, "tiny_cnn, 1 vs 3 threads");
  free(r1);
  free(r2);
  free(r3);
  ember_model_free(m);
}

/* ----------------------------- single large nodes: 1 vs 2 vs 3 threads */

/* A node description for optest, run at several thread counts. */
typedef struct node_case {
  const char *op;
  int opset;
  int n_in;
  int rank[3];
  int64_t dims[3][6];
  const char *int_attr[4];
  int64_t int_val[4];
  const char *ints_attr[2];
  int n_ints[2];
  int64_t ints_val[2][6];
  int n_out;
} node_case;

static void *run_node(const node_case *nc, float *const *data, int threads,
                      size_t *nbytes) {
  optest *t = optest_new(nc->op, nc->opset);
  optest_threads(t, threads);
  for (int i = 0; i < nc->n_in; i++)
    optest_input(t, EMBER_FLOAT, nc->rank[i], nc->dims[i], data[i]);
  for (int i = 0; i < 4 && nc->int_attr[i]; i++)
    optest_attr_int(t, nc->int_attr[i], nc->int_val[i]);
  for (int i = 0; i < 2 && nc->ints_attr[i]; i++)
    optest_attr_ints(t, nc->ints_attr[i], (size_t)nc->n_ints[i],
                     nc->ints_val[i]);
  if (nc->n_out > 1) optest_outputs(t, nc->n_out);
  ember_status st = optest_run(t);
  if (st)
    fail_msg("%s: run failed (%d): %s", nc->op, (int)st, optest_errmsg(t));
  /* All outputs, one after the other. */
  size_t total = 0;
  for (int o = 0; o < (nc->n_out > 1 ? nc->n_out : 1); o++)
    total += optest_output(t, o)->t.nbytes;
  char *copy = malloc(total ? total : 1), *p = copy;
  for (int o = 0; o < (nc->n_out > 1 ? nc->n_out : 1); o++) {
    const emb_value *v = optest_output(t, o);
    memcpy(p, v->t.data, v->t.nbytes);
    p += v->t.nbytes;
  }
  *nbytes = total;
  optest_free(t);
  return copy;
}

static void check_node_threads(const node_case *nc) {
  float *data[3] = {NULL, NULL, NULL};
  for (int i = 0; i < nc->n_in; i++) {
    size_t n = 1;
    for (int r = 0; r < nc->rank[i]; r++) n *= (size_t)nc->dims[i][r];
    data[i] = rnd_array(n);
  }
  size_t n1, nk;
  void *r1 = run_node(nc, data, 1, &n1);
  static const int ts[] = {2, 3};
  for (size_t k = 0; k < 2; k++) {
    void *rk = run_node(nc, data, ts[k], &nk);
    assert_int_equal(n1, nk);
    char what[96];
    snprintf(what, sizeof what, "%s, 1 vs %d threads", nc->op, ts[k]);
    expect_same_bits(r1, rk, n1, what);
    free(rk);
  }
  free(r1);
  for (int i = 0; i < nc->n_in; i++) free(data[i]);
}

static void test_conv_same_bits_any_threads(void **state) {
  (void)state;
  /* 3x3 padded, with bias: cut along positions and channels. */
  node_case a = {"Conv",
                 13,
                 3,
                 {4, 4, 1},
                 {{1, 16, 40, 40}, {48, 16, 3, 3}, {48}},
                 {NULL},
                 {0},
                 {"pads", NULL},
                 {4, 0},
                 {{1, 1, 1, 1}},
                 1};
  check_node_threads(&a);
  /* Few positions, many channels (a late ResNet layer): cut along m. */
  node_case b = {"Conv",
                 13,
                 2,
                 {4, 4},
                 {{1, 64, 7, 7}, {256, 64, 3, 3}},
                 {NULL},
                 {0},
                 {"pads", NULL},
                 {4, 0},
                 {{1, 1, 1, 1}},
                 1};
  check_node_threads(&b);
  /* Pointwise, batch 2. */
  node_case c = {"Conv", 13,  2,      {4, 4}, {{2, 32, 30, 30}, {64, 32, 1, 1}},
                 {NULL}, {0}, {NULL}, {0},    {{0}},
                 1};
  check_node_threads(&c);
  /* Grouped, strided. */
  node_case d = {"Conv",
                 13,
                 3,
                 {4, 4, 1},
                 {{1, 32, 33, 33}, {64, 8, 3, 3}, {64}},
                 {"group", NULL},
                 {4},
                 {"strides", NULL},
                 {2, 0},
                 {{2, 2}},
                 1};
  check_node_threads(&d);
  /* Depthwise. */
  node_case e = {"Conv",
                 13,
                 2,
                 {4, 4},
                 {{1, 64, 56, 56}, {64, 1, 3, 3}},
                 {"group", NULL},
                 {64},
                 {"pads", NULL},
                 {4, 0},
                 {{1, 1, 1, 1}},
                 1};
  check_node_threads(&e);
  /* ConvTranspose, batch and groups (cut by (image, group)). */
  node_case f = {"ConvTranspose",
                 13,
                 2,
                 {4, 4},
                 {{2, 32, 20, 20}, {32, 8, 3, 3}},
                 {"group", NULL},
                 {2},
                 {"strides", NULL},
                 {2, 0},
                 {{2, 2}},
                 1};
  check_node_threads(&f);
}

static void test_matmul_gemm_same_bits_any_threads(void **state) {
  (void)state;
  /* Batched A against one B: folded into one tall product. */
  node_case a = {"MatMul", 13,  2,      {3, 2}, {{3, 70, 130}, {130, 90}},
                 {NULL},   {0}, {NULL}, {0},    {{0}},
                 1};
  check_node_threads(&a);
  /* Broadcast batches on both sides. */
  node_case b = {
      "MatMul", 13,  2,      {4, 4}, {{2, 3, 40, 64}, {2, 1, 64, 50}},
      {NULL},   {0}, {NULL}, {0},    {{0}},
      1};
  check_node_threads(&b);
  /* Batch-1 fully connected layer: one row, cut along n. */
  node_case c = {"Gemm",
                 13,
                 3,
                 {2, 2, 1},
                 {{1, 1024}, {1000, 1024}, {1000}},
                 {"transB", NULL},
                 {1},
                 {NULL},
                 {0},
                 {{0}},
                 1};
  check_node_threads(&c);
  /* Batch 64, transposed A, C a full matrix. */
  node_case d = {"Gemm",
                 13,
                 3,
                 {2, 2, 2},
                 {{256, 64}, {256, 300}, {64, 300}},
                 {"transA", NULL},
                 {1},
                 {NULL},
                 {0},
                 {{0}},
                 1};
  check_node_threads(&d);
  /* MatMul of a vector: n == 1. */
  node_case e = {"MatMul", 13,  2,     {2, 1}, {{2000, 300}, {300}}, {NULL}, {0},
                 {NULL},   {0}, {{0}}, 1};
  check_node_threads(&e);
}

static void test_pool_and_elementwise_same_bits_any_threads(void **state) {
  (void)state;
  node_case a = {"MaxPool",
                 12,
                 1,
                 {4},
                 {{2, 32, 56, 56}},
                 {NULL},
                 {0},
                 {"kernel_shape", "strides"},
                 {2, 2},
                 {{3, 3}, {2, 2}},
                 2};
  check_node_threads(&a);
  node_case b = {"AveragePool",
                 11,
                 1,
                 {4},
                 {{1, 64, 30, 30}},
                 {"count_include_pad", NULL},
                 {1},
                 {"kernel_shape", "pads"},
                 {2, 4},
                 {{3, 3}, {1, 1, 1, 1}},
                 1};
  check_node_threads(&b);
  node_case c = {"GlobalAveragePool",
                 1,
                 1,
                 {4},
                 {{2, 512, 14, 14}},
                 {NULL},
                 {0},
                 {NULL},
                 {0},
                 {{0}},
                 1};
  check_node_threads(&c);
  /* Broadcast along channels: the strided walk, cut mid-row (cheap
   * operators are cut from 1M elements on). */
  node_case d = {"Add",  14,  2,      {4, 3}, {{1, 64, 130, 131}, {64, 1, 1}},
                 {NULL}, {0}, {NULL}, {0},    {{0}},
                 1};
  check_node_threads(&d);
  node_case e = {"Mul",  14,  2,      {3, 3}, {{64, 130, 131}, {64, 130, 131}},
                 {NULL}, {0}, {NULL}, {0},    {{0}},
                 1};
  check_node_threads(&e);
  /* Pow calls into libm: cut from 64K elements on. */
  node_case g = {"Pow",  15,  2,      {3, 1}, {{8, 100, 101}, {1}},
                 {NULL}, {0}, {NULL}, {0},    {{0}},
                 1};
  check_node_threads(&g);
  node_case f = {"Sigmoid", 13,  1,     {4}, {{1, 64, 56, 56}}, {NULL}, {0},
                 {NULL},    {0}, {{0}}, 1};
  check_node_threads(&f);
}

/* ------------------------------------------------- lifetime and leaks */

static void test_sessions_with_threads_create_and_free(void **state) {
  (void)state;
  ember_model *m;
  assert_int_equal(
      ember_model_load_file(EMBER_SOURCE_DIR "/models/tiny_cnn.onnx", NULL, &m),
      EMBER_OK);
  for (int i = 0; i < 60; i++) {
    ember_session_options o;
    ember_session_options_init(&o);
    o.num_threads = 1 + i % 5;
    ember_session *s;
    assert_int_equal(ember_session_create(m, &o, &s), EMBER_OK);
    if (i % 3 == 0) { /* some run, some never do */
      static float img[1 * 3 * 32 * 32];
      int64_t dims[4] = {1, 3, 32, 32};
      ember_tensor in = {EMBER_FLOAT, 4, dims, img, sizeof img}, out = {0};
      const char *name = "image";
      assert_int_equal(ember_session_run(s, 1, &name, &in, 1, NULL, &out),
                       EMBER_OK);
    }
    ember_session_free(s);
  }
  /* Several sessions with pools alive at once, on one model. */
  ember_session *ss[6];
  for (int i = 0; i < 6; i++) {
    ember_session_options o;
    ember_session_options_init(&o);
    o.num_threads = 3;
    assert_int_equal(ember_session_create(m, &o, &ss[i]), EMBER_OK);
  }
  for (int i = 6; i-- > 0;) ember_session_free(ss[i]);
  ember_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pool_runs_every_index_once),
      cmocka_unit_test(test_pool_many_back_to_back_loops),
      cmocka_unit_test(test_pool_late_workers),
      cmocka_unit_test(test_pool_size_is_clamped),
      cmocka_unit_test(test_pool_nested_loop_runs_inline),
      cmocka_unit_test(test_pool_null_runs_inline),
      cmocka_unit_test(test_session_env_uses_the_pool),
      cmocka_unit_test(test_gemm_blocks_match_the_whole_product),
      cmocka_unit_test(test_tiny_cnn_same_bits_any_threads),
      cmocka_unit_test(test_conv_same_bits_any_threads),
      cmocka_unit_test(test_matmul_gemm_same_bits_any_threads),
      cmocka_unit_test(test_pool_and_elementwise_same_bits_any_threads),
      cmocka_unit_test(test_sessions_with_threads_create_and_free),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
