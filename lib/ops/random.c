/*
 * The random operators: RandomNormal, RandomUniform, RandomNormalLike,
 * RandomUniformLike, Bernoulli and Multinomial, and the generator they
 * share with training-mode Dropout (declared in rng.h): Philox4x32-10,
 * written from the paper, keyed by the node's seed or, without one, by
 * clock and address entropy.  Element i of an output always comes from
 * counter block i / 2, whatever the thread count, so the outputs are
 * filled in parallel chunks.  Values are made in double (53-bit uniforms,
 * Box-Muller normals) and rounded once to the output type; uniform
 * samples that round up to `high` are moved one step below it, keeping
 * the range half-open.  All of these are EMB_OP_NO_FOLD: a node without a
 * seed must give new values at every run, so none is computed at load.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "ops/op.h"
#include "ops/rng.h"

/* ------------------------------------------------------- the generator */

/* Philox4x32 multipliers and Weyl key increments, from the paper. */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void emb_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
                       uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    if (round) {
      k0 += PHILOX_W0;
      k1 += PHILOX_W1;
    }
    uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c1 = (uint32_t)p1;
    c3 = (uint32_t)p0;
    c0 = n0;
    c2 = n2;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/* A 64-bit bijective mixer (the splitmix64 finalizer of Steele, Lea and
 * Flood), to spread seeds and entropy over the key: nearby seeds (0, 1,
 * 2) then give unrelated keys. */
static uint64_t rng_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

bool emb_rng_seed_attr(const emb_node *n, uint64_t *seed) {
  const emb_attr *a = emb_node_attr(n, "seed");
  if (!a) return false;
  if (a->type == EMB_ATTR_INT) {
    *seed = (uint64_t)a->i;
    return true;
  }
  if (a->type != EMB_ATTR_FLOAT) return false;
  float f = a->f;
  if (f == floorf(f) && fabsf(f) < 0x1p62f) {
    *seed = (uint64_t)(int64_t)f;
  } else { /* fractional, huge, infinite or NaN: the bits, tagged so as
              not to collide with the integers */
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    *seed = 0x5EED000000000000ull ^ ((uint64_t)0xF1 << 32) ^ bits;
  }
  return true;
}

void emb_rng_from_seed(emb_rng *r, uint64_t seed) {
  uint64_t k = rng_mix64(seed ^ 0x243F6A8885A308D3ull);
  r->key[0] = (uint32_t)k;
  r->key[1] = (uint32_t)(k >> 32);
  r->stream[0] = r->stream[1] = 0;
}

void emb_rng_from_entropy(emb_rng *r, const void *a, const void *b) {
  struct timespec ts;
  uint64_t t = 0;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
    t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  uint64_t k = rng_mix64(t ^ rng_mix64((uint64_t)(uintptr_t)a));
  uint64_t s = rng_mix64(k ^ rng_mix64((uint64_t)(uintptr_t)b + t));
  r->key[0] = (uint32_t)k;
  r->key[1] = (uint32_t)(k >> 32);
  /* a nonzero stream: never the stream of a seeded node */
  s |= 1;
  r->stream[0] = (uint32_t)s;
  r->stream[1] = (uint32_t)(s >> 32);
}

void emb_rng_for_node(emb_rng *r, const emb_node *n, const void *session) {
  uint64_t seed;
  if (emb_rng_seed_attr(n, &seed))
    emb_rng_from_seed(r, seed);
  else
    emb_rng_from_entropy(r, n, session);
}

static void rng_block(const emb_rng *r, uint64_t b, uint32_t w[4]) {
  uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), r->stream[0],
                     r->stream[1]};
  emb_philox4x32_10(ctr, r->key, w);
}

/* 53 bits of two words as a double in [0, 1). */
static double rng_u53(uint32_t hi, uint32_t lo) {
  uint64_t x = (((uint64_t)hi << 32) | lo) >> 11;
  return (double)x * 0x1p-53;
}

void emb_rng_uniform(const emb_rng *r, uint64_t first, size_t n,
                     double *out) {
  uint32_t w[4];
  bool have = false;
  uint64_t cur = 0;
  for (size_t k = 0; k < n; k++) {
    uint64_t i = first + k, b = i >> 1;
    if (!have || b != cur) {
      rng_block(r, b, w);
      cur = b;
      have = true;
    }
    unsigned h = (unsigned)(i & 1) * 2;
    out[k] = rng_u53(w[h], w[h + 1]);
  }
}

void emb_rng_normal(const emb_rng *r, uint64_t first, size_t n, double *out) {
  const double two_pi = 6.283185307179586476925286766559;
  double z[2] = {0, 0};
  bool have = false;
  uint64_t cur = 0;
  for (size_t k = 0; k < n; k++) {
    uint64_t i = first + k, b = i >> 1;
    if (!have || b != cur) {
      uint32_t w[4];
      rng_block(r, b, w);
      /* 1 - u lies in (0, 1], so the logarithm is finite */
      double u1 = 1.0 - rng_u53(w[0], w[1]), u2 = rng_u53(w[2], w[3]);
      double rad = sqrt(-2.0 * log(u1)), th = two_pi * u2;
      z[0] = rad * cos(th);
      z[1] = rad * sin(th);
      cur = b;
      have = true;
    }
    out[k] = z[i & 1];
  }
}

/* ------------------------------------------------------------- helpers */

/* Elements per parallel task, and per batch of doubles on the stack. */
#define RND_TASK 8192
#define RND_BATCH 256

static size_t rnd_tasks(size_t n) { return (n + RND_TASK - 1) / RND_TASK; }

/* The elements [*lo, *hi) of task `task` over n elements. */
static void rnd_span(size_t task, size_t n, size_t *lo, size_t *hi) {
  *lo = task * RND_TASK;
  *hi = n - *lo < RND_TASK ? n : *lo + RND_TASK;
}

typedef struct rnd_state {
  int32_t dtype;       /* output element type; 0: the input's            */
  double a, b;         /* mean and scale, or low and high                */
  int rank;            /* RandomNormal / RandomUniform: the shape        */
  int64_t dims[EMB_MAX_RANK];
  int64_t sample_size; /* Multinomial                                    */
} rnd_state;

/* Output element types of the Random* operators. */
static bool rnd_float_type(int64_t dt) {
  return dt == EMBER_FLOAT || dt == EMBER_DOUBLE || dt == EMBER_FLOAT16 ||
         dt == EMBER_BFLOAT16;
}

/* Output element types of Bernoulli: numbers and bool. */
static bool rnd_bernoulli_type(int64_t dt) {
  switch (dt) {
    case EMBER_UINT8: case EMBER_UINT16: case EMBER_UINT32:
    case EMBER_UINT64: case EMBER_INT8: case EMBER_INT16: case EMBER_INT32:
    case EMBER_INT64: case EMBER_BOOL:
      return true;
    default:
      return rnd_float_type(dt);
  }
}

/* The seed must be a number when given (a float by the spec; an int is
 * accepted as well, as Dropout's is one). */
static ember_status rnd_check_seed(emb_init_ctx *c) {
  const emb_attr *a = emb_node_attr(c->node, "seed");
  if (a && a->type != EMB_ATTR_FLOAT && a->type != EMB_ATTR_INT)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'seed' must be a float");
  return EMBER_OK;
}

/* The state, the seed check and the dtype attribute (def when absent;
 * def 0: the input's type) checked with ok(). */
static ember_status rnd_init_common(emb_init_ctx *c, int64_t def,
                                    bool (*ok)(int64_t), const char *what,
                                    rnd_state **out) {
  rnd_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  int64_t dt;
  ember_status st = rnd_check_seed(c);
  if (!st) st = emb_attr_int(c->node, "dtype", def, &dt, c->diag);
  if (st) return st;
  if ((def || dt) && !ok(dt))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "dtype %lld is not %s", (long long)dt, what);
  s->dtype = (int32_t)dt;
  c->node->state = s;
  *out = s;
  return EMBER_OK;
}

static ember_status rnd_attr_f64(emb_init_ctx *c, const char *name,
                                 float def, double *out) {
  float f;
  ember_status st = emb_attr_float(c->node, name, def, &f, c->diag);
  *out = f;
  return st;
}

/* The required `shape` of RandomNormal and RandomUniform. */
static ember_status rnd_shape_attr(emb_init_ctx *c, rnd_state *s) {
  const int64_t *v;
  size_t n, numel;
  ember_status st = emb_attr_ints(c->node, "shape", &v, &n, c->diag);
  if (st) return st;
  if (!emb_node_attr(c->node, "shape"))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'shape' is required");
  if (n > EMB_MAX_RANK)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "'shape' has %zu dimensions; at most %d are supported",
                       n, EMB_MAX_RANK);
  for (size_t k = 0; k < n; k++)
    if (v[k] < 0)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "'shape' has a negative dimension %lld (axis %zu)",
                         (long long)v[k], k);
  if (!emb_shape_numel((int)n, v, &numel))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "'shape' has too many elements");
  s->rank = (int)n;
  if (n) memcpy(s->dims, v, n * sizeof *v);
  return EMBER_OK;
}

/* The input, when its type is known, must be a tensor. */
static ember_status rnd_want_tensor(emb_infer_ctx *c) {
  const emb_type *t = c->in[0];
  if (t && t->kind && t->kind != EMBER_KIND_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input 0 must be a tensor");
  return EMBER_OK;
}

/* Output 0: the input's shape (symbols kept) with element type dt. */
static void rnd_like_shape(emb_infer_ctx *c, int32_t dt) {
  const emb_type *t = c->in[0];
  emb_type *o = &c->out[0];
  if (t && t->kind == EMBER_KIND_TENSOR) {
    *o = *t;
  } else {
    emb_type_unknown(o);
    o->kind = EMBER_KIND_TENSOR;
  }
  o->dtype = dt;
}

/* Write n doubles as elements off.. of t, rounding once. */
static void rnd_store(emb_tensor *t, size_t off, const double *v, size_t n) {
  switch (t->dtype) {
    case EMBER_FLOAT: {
      float *y = (float *)t->data + off;
      for (size_t k = 0; k < n; k++) y[k] = (float)v[k];
      break;
    }
    case EMBER_DOUBLE:
      memcpy((double *)t->data + off, v, n * sizeof *v);
      break;
    default:
      for (size_t k = 0; k < n; k++) emb_tensor_set_f64(t, off + k, v[k]);
      break;
  }
}

/* Element i of a float tensor, once rounded, must stay below `high`:
 * (float)(1 - 2^-53) is 1.0f.  Step it down by one unit in the last
 * place of its own type. */
static void rnd_below(emb_tensor *t, size_t i, double high) {
  if (emb_tensor_get_f64(t, i) < high) return;
  switch (t->dtype) {
    case EMBER_FLOAT: {
      float *y = (float *)t->data + i;
      *y = nextafterf(*y, -INFINITY);
      break;
    }
    case EMBER_DOUBLE: {
      double *y = (double *)t->data + i;
      *y = nextafter(*y, -INFINITY);
      break;
    }
    default: { /* float16, bfloat16: sign and magnitude bits */
      uint16_t *h = (uint16_t *)t->data + i;
      if (*h & 0x8000u)
        *h = (uint16_t)(*h + 1);
      else
        *h = *h ? (uint16_t)(*h - 1) : 0x8001u;
      break;
    }
  }
}

/* --------------------------------------------- normal and uniform fills */

enum { RND_NORMAL, RND_UNIFORM };

typedef struct rnd_fill_job {
  emb_rng rng;
  int kind;
  double a, b; /* mean, scale or low, high */
  emb_tensor *y;
  size_t n;
} rnd_fill_job;

static void rnd_fill_task(void *arg, size_t task, int thread) {
  (void)thread;
  const rnd_fill_job *j = arg;
  size_t lo, hi;
  rnd_span(task, j->n, &lo, &hi);
  bool clamp = j->kind == RND_UNIFORM && j->b > j->a && isfinite(j->b);
  double v[RND_BATCH];
  for (size_t off = lo; off < hi; off += RND_BATCH) {
    size_t m = hi - off < RND_BATCH ? hi - off : RND_BATCH;
    if (j->kind == RND_NORMAL) {
      emb_rng_normal(&j->rng, off, m, v);
      for (size_t k = 0; k < m; k++) v[k] = j->a + j->b * v[k];
    } else {
      emb_rng_uniform(&j->rng, off, m, v);
      for (size_t k = 0; k < m; k++) v[k] = j->a + (j->b - j->a) * v[k];
    }
    rnd_store(j->y, off, v, m);
    if (clamp)
      for (size_t k = 0; k < m; k++) rnd_below(j->y, off + k, j->b);
  }
}

static ember_status rnd_fill_run(emb_run_ctx *c, int kind) {
  const rnd_state *s = c->node->state;
  emb_tensor *y = emb_out_t(c, 0);
  if (!y) return EMBER_OK;
  rnd_fill_job j;
  emb_rng_for_node(&j.rng, c->node, c->session);
  j.kind = kind;
  j.a = s->a;
  j.b = s->b;
  j.y = y;
  j.n = emb_tensor_numel(y);
  if (j.n) emb_parallel_for(c, rnd_tasks(j.n), rnd_fill_task, &j);
  return EMBER_OK;
}

static ember_status rnd_normal_run(emb_run_ctx *c) {
  return rnd_fill_run(c, RND_NORMAL);
}

static ember_status rnd_uniform_run(emb_run_ctx *c) {
  return rnd_fill_run(c, RND_UNIFORM);
}

/* --------------------------------------- RandomNormal, RandomUniform */

static ember_status rnd_fixed_init(emb_init_ctx *c, bool normal) {
  rnd_state *s = NULL;
  ember_status st = rnd_init_common(c, EMBER_FLOAT, rnd_float_type,
                                    "a floating point element type", &s);
  if (st) return st;
  if (normal) {
    if ((st = rnd_attr_f64(c, "mean", 0.0f, &s->a)) ||
        (st = rnd_attr_f64(c, "scale", 1.0f, &s->b)))
      return st;
  } else {
    if ((st = rnd_attr_f64(c, "low", 0.0f, &s->a)) ||
        (st = rnd_attr_f64(c, "high", 1.0f, &s->b)))
      return st;
  }
  return rnd_shape_attr(c, s);
}

static ember_status rnd_normal_init(emb_init_ctx *c) {
  return rnd_fixed_init(c, true);
}

static ember_status rnd_uniform_init(emb_init_ctx *c) {
  return rnd_fixed_init(c, false);
}

static ember_status rnd_fixed_infer(emb_infer_ctx *c) {
  const rnd_state *s = c->node->state;
  emb_type_tensor(&c->out[0], s->dtype, s->rank, s->dims);
  return EMBER_OK;
}

const emb_opdef emb_op_randomnormal = {0, 0, 1, 1, EMB_OP_NO_FOLD,
                                       rnd_normal_init, rnd_fixed_infer,
                                       rnd_normal_run};
const emb_opdef emb_op_randomuniform = {0, 0, 1, 1, EMB_OP_NO_FOLD,
                                        rnd_uniform_init, rnd_fixed_infer,
                                        rnd_uniform_run};

/* ------------------------------- RandomNormalLike, RandomUniformLike */

static ember_status rnd_like_init(emb_init_ctx *c, bool normal) {
  rnd_state *s = NULL;
  ember_status st = rnd_init_common(c, 0, rnd_float_type,
                                    "a floating point element type", &s);
  if (st) return st;
  if (normal)
    return (st = rnd_attr_f64(c, "mean", 0.0f, &s->a))
               ? st
               : rnd_attr_f64(c, "scale", 1.0f, &s->b);
  return (st = rnd_attr_f64(c, "low", 0.0f, &s->a))
             ? st
             : rnd_attr_f64(c, "high", 1.0f, &s->b);
}

static ember_status rnd_normal_like_init(emb_init_ctx *c) {
  return rnd_like_init(c, true);
}

static ember_status rnd_uniform_like_init(emb_init_ctx *c) {
  return rnd_like_init(c, false);
}

/* Any input type gives the shape; without dtype the input's type is the
 * output's and must then be a floating point one. */
static ember_status rnd_like_infer(emb_infer_ctx *c) {
  const rnd_state *s = c->node->state;
  ember_status st = rnd_want_tensor(c);
  if (st) return st;
  int32_t in = c->in[0] && c->in[0]->kind ? c->in[0]->dtype : 0;
  if (!s->dtype && in && !rnd_float_type(in))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input 0 has element type %s, which is not a "
                       "floating point type, and no 'dtype' is given",
                       ember_dtype_name(in));
  rnd_like_shape(c, s->dtype ? s->dtype : in);
  return EMBER_OK;
}

const emb_opdef emb_op_randomnormallike = {1, 1, 1, 1, EMB_OP_NO_FOLD,
                                           rnd_normal_like_init,
                                           rnd_like_infer, rnd_normal_run};
const emb_opdef emb_op_randomuniformlike = {1, 1, 1, 1, EMB_OP_NO_FOLD,
                                            rnd_uniform_like_init,
                                            rnd_like_infer, rnd_uniform_run};

/* ----------------------------------------------------------- Bernoulli */

static ember_status bern_init(emb_init_ctx *c) {
  rnd_state *s = NULL;
  return rnd_init_common(c, 0, rnd_bernoulli_type,
                         "a numeric or bool element type", &s);
}

static ember_status bern_infer(emb_infer_ctx *c) {
  const rnd_state *s = c->node->state;
  ember_status st = rnd_want_tensor(c);
  if (st) return st;
  int32_t in = c->in[0] && c->in[0]->kind ? c->in[0]->dtype : 0;
  if (in && !rnd_float_type(in))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input 0 has element type %s; the probabilities must "
                       "be floating point",
                       ember_dtype_name(in));
  rnd_like_shape(c, s->dtype ? s->dtype : in);
  return EMBER_OK;
}

typedef struct bern_job {
  emb_rng rng;
  const emb_tensor *p;
  emb_tensor *y;
  size_t n;
} bern_job;

static void bern_task(void *arg, size_t task, int thread) {
  (void)thread;
  const bern_job *j = arg;
  size_t lo, hi;
  rnd_span(task, j->n, &lo, &hi);
  double v[RND_BATCH];
  for (size_t off = lo; off < hi; off += RND_BATCH) {
    size_t m = hi - off < RND_BATCH ? hi - off : RND_BATCH;
    emb_rng_uniform(&j->rng, off, m, v);
    /* P(u < p) = p for u uniform in [0, 1): p = 0 never, p = 1 always */
    for (size_t k = 0; k < m; k++)
      v[k] = v[k] < emb_tensor_get_f64(j->p, off + k) ? 1.0 : 0.0;
    rnd_store(j->y, off, v, m);
  }
}

static ember_status bern_run(emb_run_ctx *c) {
  const emb_tensor *p = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  if (!y) return EMBER_OK;
  size_t n = emb_tensor_numel(p);
  for (size_t i = 0; i < n; i++) {
    double v = emb_tensor_get_f64(p, i);
    if (!(v >= 0.0 && v <= 1.0))
      return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                         "probability %g at element %zu is outside [0, 1]",
                         v, i);
  }
  bern_job j;
  emb_rng_for_node(&j.rng, c->node, c->session);
  j.p = p;
  j.y = y;
  j.n = n;
  if (n) emb_parallel_for(c, rnd_tasks(n), bern_task, &j);
  return EMBER_OK;
}

const emb_opdef emb_op_bernoulli = {1, 1, 1, 1, EMB_OP_NO_FOLD, bern_init,
                                    bern_infer, bern_run};

/* --------------------------------------------------------- Multinomial */

static bool multi_out_type(int64_t dt) {
  return dt == EMBER_INT32 || dt == EMBER_INT64;
}

static ember_status multi_init(emb_init_ctx *c) {
  rnd_state *s = NULL;
  ember_status st = rnd_init_common(c, EMBER_INT32, multi_out_type,
                                    "int32 or int64", &s);
  if (!st)
    st = emb_attr_int(c->node, "sample_size", 1, &s->sample_size, c->diag);
  if (st) return st;
  if (s->sample_size < 0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "sample_size %lld is negative",
                       (long long)s->sample_size);
  return EMBER_OK;
}

static ember_status multi_infer(emb_infer_ctx *c) {
  const rnd_state *s = c->node->state;
  ember_status st = rnd_want_tensor(c);
  if (st) return st;
  const emb_type *t = c->in[0];
  int32_t in = t && t->kind ? t->dtype : 0;
  if (in && !rnd_float_type(in))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input 0 has element type %s; the log-probabilities "
                       "must be floating point",
                       ember_dtype_name(in));
  int rank = t && t->kind ? t->rank : -1;
  if (rank >= 0 && rank != 2)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "input 0 must be 2-D [batch_size, class_size], not of "
                       "rank %d",
                       rank);
  emb_type *o = &c->out[0];
  emb_type_tensor(o, s->dtype, 2, NULL);
  if (rank == 2) o->dims[0] = t->dims[0];
  o->dims[1].v = s->sample_size;
  return EMBER_OK;
}

typedef struct multi_job {
  emb_rng rng;
  const emb_tensor *x;
  emb_tensor *y;
  size_t classes, samples;
  double *cum; /* classes doubles per thread */
} multi_job;

/* One batch row: cumulative exp(x - max) in double, then each sample is
 * the first class whose cumulative weight exceeds u * total. */
static void multi_task(void *arg, size_t row, int thread) {
  const multi_job *j = arg;
  double *cum = j->cum + (size_t)thread * j->classes;
  size_t base = row * j->classes;
  double mx = -INFINITY, total = 0.0;
  for (size_t k = 0; k < j->classes; k++) {
    double v = emb_tensor_get_f64(j->x, base + k);
    if (v > mx) mx = v;
  }
  for (size_t k = 0; k < j->classes; k++) {
    double v = emb_tensor_get_f64(j->x, base + k);
    total += v == -INFINITY ? 0.0 : exp(v - mx);
    cum[k] = total;
  }
  double u[RND_BATCH];
  size_t first = row * j->samples;
  for (size_t off = 0; off < j->samples; off += RND_BATCH) {
    size_t m = j->samples - off < RND_BATCH ? j->samples - off : RND_BATCH;
    emb_rng_uniform(&j->rng, first + off, m, u);
    for (size_t k = 0; k < m; k++) {
      double target = u[k] * total;
      size_t lo = 0, hi = j->classes; /* first cum[i] > target */
      while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > target)
          hi = mid;
        else
          lo = mid + 1;
      }
      if (lo == j->classes) { /* u * total rounded up to total */
        lo = j->classes - 1;
        while (lo > 0 && cum[lo] == cum[lo - 1]) lo--;
      }
      size_t at = first + off + k;
      if (j->y->dtype == EMBER_INT32)
        ((int32_t *)j->y->data)[at] = (int32_t)lo;
      else
        ((int64_t *)j->y->data)[at] = (int64_t)lo;
    }
  }
}

static ember_status multi_run(emb_run_ctx *c) {
  const rnd_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  if (!y) return EMBER_OK;
  if (x->rank != 2)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "input 0 must be 2-D, not of rank %d", (int)x->rank);
  size_t batch = (size_t)x->dims[0], classes = (size_t)x->dims[1];
  size_t samples = (size_t)s->sample_size;
  if (!batch || !samples) return EMBER_OK;
  if (!classes)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "cannot sample from zero classes");
  /* every row needs a finite maximum: a class of nonzero probability and
   * none of infinite or undefined weight */
  for (size_t r = 0; r < batch; r++) {
    bool any = false;
    for (size_t k = 0; k < classes; k++) {
      double v = emb_tensor_get_f64(x, r * classes + k);
      if (isnan(v) || v == INFINITY)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                           "log-probability %g at [%zu, %zu]", v, r, k);
      if (v != -INFINITY) any = true;
    }
    if (!any)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                         "row %zu has no class of nonzero probability (all "
                         "log-probabilities are -inf)",
                         r);
  }
  int threads = emb_run_threads(c);
  if (classes > SIZE_MAX / sizeof(double) / (size_t)threads)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "too many classes (%zu)", classes);
  multi_job j;
  j.cum = emb_scratch(c, (size_t)threads * classes * sizeof(double));
  if (!j.cum) return EMBER_ERR_OUT_OF_MEMORY;
  emb_rng_for_node(&j.rng, c->node, c->session);
  j.x = x;
  j.y = y;
  j.classes = classes;
  j.samples = samples;
  emb_parallel_for(c, batch, multi_task, &j);
  return EMBER_OK;
}

const emb_opdef emb_op_multinomial = {1, 1, 1, 1, EMB_OP_NO_FOLD, multi_init,
                                      multi_infer, multi_run};
