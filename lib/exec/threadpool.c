/*
 * The session thread pool (see threadpool.h).  The caller publishes a loop
 * by writing its description (fn, arg, n, chunk) and then bumping `gen`;
 * every thread, the caller included, claims chunks of indices from
 * `claim`, runs them and adds their count to `finished`, and the loop is
 * over when `finished` reaches n.  The caller never waits for a worker
 * that has nothing left to do: on a busy machine a worker may not get a
 * CPU for milliseconds, and the caller then simply runs every chunk
 * itself.  Such a late worker must not take part in a later loop by
 * mistake, so `claim` carries the loop's generation next to the next
 * index, a claim is a compare-and-swap that checks both, and the caller
 * closes the finished loop's claims (index at its maximum) before it
 * writes the next description.  A successful claim therefore proves that
 * the loop is still running and that the description the claimer read
 * is its own.  All of it is sequentially consistent atomics: a handful
 * of operations per chunk.
 *
 * Waiting: a waiting thread polls its counter before it sleeps on a
 * condition variable.  Outside a run it polls EMB_POOL_SPIN times with a
 * pause in between (a few tens of microseconds), so an idle session
 * sleeps.  Inside a run (between emb_pool_begin and emb_pool_end) it then
 * keeps polling for up to EMB_POOL_SPIN_RUN_US, yielding the CPU between
 * polls, which covers the gap between one node's loop and the next.
 * Measured on a shared 2-vCPU virtual machine: waking a sleeping worker
 * costs 10 to 30 us, and the kernel often woke it onto the caller's busy
 * CPU, where the two threads then took turns (2 threads no faster than 1
 * in half the runs of SqueezeNet and ResNet-50).  Yielding rather than
 * pausing matters when a poller shares its CPU with the thread it waits
 * for: the other thread runs instead of waiting out the poll.
 */
#include <assert.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "exec/threadpool.h"

/* Polls before sleeping outside a run. */
#ifndef EMB_POOL_SPIN
#define EMB_POOL_SPIN 2000
#endif
/* Polling time before sleeping inside a run, in microseconds. */
#ifndef EMB_POOL_SPIN_RUN_US
#define EMB_POOL_SPIN_RUN_US 2000
#endif

static inline void emb_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static uint64_t emb_now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

typedef struct emb_worker {
  emb_pool *pool;
  int index; /* thread number, >= 1 */
  pthread_t tid;
} emb_worker;

/* `claim`: the generation (modulo 2^24: a worker would have to stall
 * between reading the generation and claiming for 16 million loops to
 * mistake one for another) in the high bits, the next index in the low. */
#define EMB_CLAIM_BITS 40
#define EMB_CLAIM_INDEX ((UINT64_C(1) << EMB_CLAIM_BITS) - 1)

struct emb_pool {
  pthread_mutex_t mu;
  pthread_cond_t wake; /* workers: a new loop, or stop               */
  pthread_cond_t done; /* caller: a worker finished the last chunk   */
  int threads;         /* workers + the caller                       */
  emb_worker *workers; /* threads - 1                                */
  /* The current loop, written by the caller before `gen` moves. */
  _Atomic(emb_pool_fn) fn;
  _Atomic(void *) arg;
  atomic_size_t n, chunk;
  _Atomic uint64_t claim; /* generation | next unclaimed index       */
  atomic_size_t finished; /* indices run so far                      */
  atomic_uint gen;        /* loops published so far                  */
  atomic_bool running;    /* a loop is in flight (nesting check)     */
  atomic_bool in_run;     /* between emb_pool_begin and emb_pool_end */
  int sleepers;           /* threads waiting on `wake` (under mu)    */
  bool stop;              /* under mu                                */
};

/* Called after poll i came back empty: whether to poll again (after a
 * pause through the first EMB_POOL_SPIN polls, then, inside a run, after
 * yielding the CPU, until *deadline). */
static bool emb_pool_keep_polling(emb_pool *p, unsigned long i,
                                  uint64_t *deadline) {
  if (i < EMB_POOL_SPIN) {
    emb_cpu_relax();
    return true;
  }
  if (!atomic_load_explicit(&p->in_run, memory_order_relaxed)) return false;
  uint64_t now = emb_now_ns();
  if (!*deadline)
    *deadline = now + (uint64_t)EMB_POOL_SPIN_RUN_US * 1000u;
  else if (now >= *deadline)
    return false;
  sched_yield();
  return true;
}

/* Poll until gen differs from `seen` (true, with *g the new value) or the
 * polling budget is spent (false). */
static bool emb_pool_poll_gen(emb_pool *p, unsigned seen, unsigned *g) {
  uint64_t deadline = 0;
  for (unsigned long i = 0;; i++) {
    *g = atomic_load(&p->gen);
    if (*g != seen) return true;
    if (!emb_pool_keep_polling(p, i, &deadline)) return false;
  }
}

/* Poll until the current loop's n indices have all run (true) or the
 * polling budget is spent (false). */
static bool emb_pool_poll_done(emb_pool *p, size_t n) {
  uint64_t deadline = 0;
  for (unsigned long i = 0;; i++) {
    if (atomic_load(&p->finished) == n) return true;
    if (!emb_pool_keep_polling(p, i, &deadline)) return false;
  }
}

static uint64_t emb_claim_tag(unsigned gen) {
  return (uint64_t)gen << EMB_CLAIM_BITS;
}

/* Claim and run chunks of loop `gen` until none is left (or the loop is
 * over and another may have begun). */
static void emb_pool_chunks(emb_pool *p, unsigned gen, int thread) {
  emb_pool_fn fn = atomic_load(&p->fn);
  void *arg = atomic_load(&p->arg);
  size_t n = atomic_load(&p->n), chunk = atomic_load(&p->chunk);
  uint64_t tag = emb_claim_tag(gen), v = atomic_load(&p->claim);
  for (;;) {
    if ((v & ~EMB_CLAIM_INDEX) != tag) return;
    size_t i = (size_t)(v & EMB_CLAIM_INDEX);
    if (i >= n) return;
    size_t end = n - i < chunk ? n : i + chunk;
    if (!atomic_compare_exchange_weak(&p->claim, &v, tag | end)) continue;
    for (size_t j = i; j < end; j++) fn(arg, j, thread);
    if (atomic_fetch_add(&p->finished, end - i) + (end - i) == n &&
        thread != 0) {
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->mu);
    }
    v = atomic_load(&p->claim);
  }
}

static void *emb_pool_main(void *vw) {
  emb_worker *w = vw;
  emb_pool *p = w->pool;
  unsigned seen = 0, g;
  for (;;) {
    if (!emb_pool_poll_gen(p, seen, &g)) {
      pthread_mutex_lock(&p->mu);
      while ((g = atomic_load(&p->gen)) == seen && !p->stop) {
        p->sleepers++;
        pthread_cond_wait(&p->wake, &p->mu);
        p->sleepers--;
      }
      bool stop = p->stop && g == seen;
      pthread_mutex_unlock(&p->mu);
      if (stop) return NULL;
    }
    seen = g;
    emb_pool_chunks(p, g, w->index);
  }
}

emb_pool *emb_pool_create(int threads) {
  if (threads > EMB_POOL_MAX_THREADS) threads = EMB_POOL_MAX_THREADS;
  if (threads <= 1) return NULL;
  emb_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->workers = calloc((size_t)threads - 1, sizeof *p->workers);
  if (!p->workers) {
    free(p);
    return NULL;
  }
  if (pthread_mutex_init(&p->mu, NULL)) goto fail_mu;
  if (pthread_cond_init(&p->wake, NULL)) goto fail_wake;
  if (pthread_cond_init(&p->done, NULL)) goto fail_done;
  atomic_init(&p->fn, NULL);
  atomic_init(&p->arg, NULL);
  atomic_init(&p->n, 0);
  atomic_init(&p->chunk, 1);
  atomic_init(&p->claim, EMB_CLAIM_INDEX); /* loop 0: closed */
  atomic_init(&p->finished, 0);
  atomic_init(&p->gen, 0);
  atomic_init(&p->running, false);
  atomic_init(&p->in_run, false);
  /* Workers inherit the creating thread's signal mask: block everything
   * while creating them, then restore. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int started = 0;
  for (int i = 0; i < threads - 1; i++) {
    emb_worker *w = &p->workers[started];
    w->pool = p;
    w->index = started + 1;
    if (pthread_create(&w->tid, NULL, emb_pool_main, w)) break;
    started++;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  p->threads = started + 1;
  if (started == 0) {
    emb_pool_free(p);
    return NULL;
  }
  return p;
fail_done:
  pthread_cond_destroy(&p->wake);
fail_wake:
  pthread_mutex_destroy(&p->mu);
fail_mu:
  free(p->workers);
  free(p);
  return NULL;
}

void emb_pool_free(emb_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = true;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->threads - 1; i++)
    pthread_join(p->workers[i].tid, NULL);
  pthread_cond_destroy(&p->done);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->mu);
  free(p->workers);
  free(p);
}

int emb_pool_threads(const emb_pool *p) { return p ? p->threads : 1; }

void emb_pool_begin(emb_pool *p) {
  if (p) atomic_store(&p->in_run, true);
}

void emb_pool_end(emb_pool *p) {
  if (p) atomic_store(&p->in_run, false);
}

/* The calling thread's number in p: a worker's index, else 0 (the
 * caller).  Only needed for nested loops, so a linear search is fine. */
static int emb_pool_self(const emb_pool *p) {
  pthread_t self = pthread_self();
  for (int i = 0; i < p->threads - 1; i++)
    if (pthread_equal(p->workers[i].tid, self)) return p->workers[i].index;
  return 0;
}

void emb_pool_run(emb_pool *p, size_t n, emb_pool_fn fn, void *arg) {
  if (n == 0) return;
  /* `running` is only ever set by the pool's one caller, so seeing it set
   * here means this call comes from inside one of the loop's tasks. */
  if (!p || n == 1 || atomic_load(&p->running)) {
    int self = p ? emb_pool_self(p) : 0;
    for (size_t i = 0; i < n; i++) fn(arg, i, self);
    return;
  }
  assert(n < EMB_CLAIM_INDEX);
  size_t per = n / ((size_t)p->threads * 4);
  atomic_store(&p->running, true);
  /* The previous loop's claims were closed when it ended. */
  unsigned g = atomic_load(&p->gen) + 1;
  atomic_store(&p->fn, fn);
  atomic_store(&p->arg, arg);
  atomic_store(&p->n, n);
  atomic_store(&p->chunk, per ? per : 1);
  atomic_store(&p->finished, 0);
  atomic_store(&p->claim, emb_claim_tag(g));
  pthread_mutex_lock(&p->mu);
  atomic_store(&p->gen, g);
  if (p->sleepers) pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  emb_pool_chunks(p, g, 0);
  if (!emb_pool_poll_done(p, n)) {
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->finished) != n)
      pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
  }
  /* Close the loop: a late worker's claim now fails whatever it read. */
  atomic_store(&p->claim, emb_claim_tag(g) | EMB_CLAIM_INDEX);
  atomic_store(&p->running, false);
}
