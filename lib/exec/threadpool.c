/*
 * The session thread pool (see threadpool.h).  A loop is published by
 * writing its description under the mutex and bumping `gen`; each worker
 * runs chunks until the counter passes n, then checks out by decrementing
 * `busy`, and the last one to do so wakes the caller.  Because the caller
 * waits for every worker to check out, a worker can never see two loops
 * at once, and the description needs no further synchronisation.  Memory
 * written by tasks is published to the caller through `busy` (a
 * sequentially consistent read-modify-write) or the mutex.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "exec/threadpool.h"

/* Polls of a shared counter before sleeping on a condition variable: the
 * next loop usually follows within microseconds (the next node), and a
 * futex wake-up costs more than that.  Bounded, so an idle session burns
 * no CPU (about 10-50 us at the default). */
#ifndef EMB_POOL_SPIN
#define EMB_POOL_SPIN 2000
#endif

static inline void emb_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

typedef struct emb_worker {
  emb_pool *pool;
  int index; /* thread number, >= 1 */
  pthread_t tid;
} emb_worker;

struct emb_pool {
  pthread_mutex_t mu;
  pthread_cond_t wake; /* workers: a new loop, or stop              */
  pthread_cond_t done; /* caller: the last worker checked out       */
  int threads;         /* workers + the caller                      */
  emb_worker *workers; /* threads - 1                               */
  /* The current loop, written by the caller before `gen` moves. */
  emb_pool_fn fn;
  void *arg;
  size_t n, chunk;
  atomic_size_t next;  /* first index of the next unclaimed chunk   */
  atomic_uint gen;     /* loops published so far                    */
  atomic_int busy;     /* workers still in the current loop         */
  atomic_bool running; /* a loop is in flight (nesting check)       */
  int sleepers;        /* workers waiting on `wake` (under mu)      */
  bool stop;           /* under mu                                  */
};

static void emb_pool_chunks(emb_pool *p, int thread) {
  size_t n = p->n, chunk = p->chunk;
  for (;;) {
    size_t i = atomic_fetch_add_explicit(&p->next, chunk, memory_order_relaxed);
    if (i >= n) return;
    size_t end = n - i < chunk ? n : i + chunk;
    for (; i < end; i++) p->fn(p->arg, i, thread);
  }
}

static void *emb_pool_main(void *vw) {
  emb_worker *w = vw;
  emb_pool *p = w->pool;
  unsigned seen = 0;
  for (;;) {
    unsigned g = atomic_load(&p->gen);
    for (int s = 0; g == seen && s < EMB_POOL_SPIN; s++) {
      emb_cpu_relax();
      g = atomic_load(&p->gen);
    }
    if (g == seen) {
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
    emb_pool_chunks(p, w->index);
    if (atomic_fetch_sub(&p->busy, 1) == 1) {
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->mu);
    }
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
  atomic_init(&p->next, 0);
  atomic_init(&p->gen, 0);
  atomic_init(&p->busy, 0);
  atomic_init(&p->running, false);
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
  size_t per = n / ((size_t)p->threads * 4);
  atomic_store(&p->running, true);
  p->fn = fn;
  p->arg = arg;
  p->n = n;
  p->chunk = per ? per : 1;
  atomic_store_explicit(&p->next, 0, memory_order_relaxed);
  atomic_store(&p->busy, p->threads - 1);
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add(&p->gen, 1);
  if (p->sleepers) pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  emb_pool_chunks(p, 0);
  for (int s = 0; atomic_load(&p->busy) > 0 && s < EMB_POOL_SPIN; s++)
    emb_cpu_relax();
  if (atomic_load(&p->busy) > 0) {
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->busy) > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
  }
  atomic_store(&p->running, false);
}
