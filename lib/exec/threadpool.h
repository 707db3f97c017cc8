/*
 * The thread pool a session runs its parallel loops on (emb_parallel_for,
 * ops/op.h).  A pool of T threads is T-1 worker threads plus the thread
 * that calls emb_pool_run, which works as thread 0 rather than waiting.
 * One loop at a time: the loop's index range is handed out in chunks
 * claimed with an atomic counter, and emb_pool_run returns once every
 * index ran and every worker has let go of the loop (a barrier), so the
 * next loop may reuse everything.  Idle workers sleep on a condition
 * variable after polling for a short while (longer during a session run,
 * emb_pool_begin / emb_pool_end); nothing is allocated per loop.  A
 * session is used by one thread at a time, so a pool has one caller; a
 * loop started from inside one of its own tasks (an operator nested in a
 * task) runs inline instead of deadlocking.
 */
#ifndef EMBER_THREADPOOL_H
#define EMBER_THREADPOOL_H

#include <stddef.h>

typedef struct emb_pool emb_pool;

/* One iteration: `thread` in [0, emb_pool_threads(pool)) names the thread
 * running it (0 = the caller); no two iterations running at the same time
 * share a thread number. */
typedef void (*emb_pool_fn)(void *arg, size_t i, int thread);

/* Upper bound on a pool's size (the caller included); larger requests are
 * clamped. */
#define EMB_POOL_MAX_THREADS 256

/* A pool of `threads` threads in all, or NULL when threads <= 1, when
 * memory is short or when not a single worker thread could be started:
 * the caller then runs loops inline.  When the system refuses some of the
 * threads the pool is smaller than asked (emb_pool_threads says how
 * large).  Workers block every signal, so signals go to the host's own
 * threads. */
emb_pool *emb_pool_create(int threads);

/* Stop and join the workers and free the pool.  NULL is a no-op.  Must
 * not be called while a loop runs. */
void emb_pool_free(emb_pool *pool);

/* Threads of the pool, the caller included (1 for NULL). */
int emb_pool_threads(const emb_pool *pool);

/* A run (a burst of loops, one session run) begins / ends: in between,
 * threads that wait for the next loop, or for the end of the current one,
 * poll longer before they sleep (see threadpool.c).  NULL is a no-op. */
void emb_pool_begin(emb_pool *pool);
void emb_pool_end(emb_pool *pool);

/* Call fn(arg, i, thread) for every i in [0, n) and return when all calls
 * are done; their effects are then visible to the caller.  Inline, with
 * the calling thread's number, when pool is NULL, n == 1, or the call
 * comes from inside one of this pool's tasks. */
void emb_pool_run(emb_pool *pool, size_t n, emb_pool_fn fn, void *arg);

#endif
