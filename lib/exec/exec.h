/*
 * The executor: runs a graph's nodes in order on run-time values.  A frame
 * holds the values of one graph execution (constants and inputs borrowed,
 * intermediates owned and freed after their last use); subgraph bodies run
 * in child frames that borrow captured values from the parent frame.  The
 * same per-node entry point serves constant folding at load.
 */
#ifndef EMBER_EXEC_H
#define EMBER_EXEC_H

#include "ops/op.h"

/* Execution environment shared by all frames of one session (or of one
 * folding pass at load). */
struct emb_session {
  emb_diag *diag;
  int threads;           /* what emb_run_threads reports: the pool's size,
                            1 without a pool                            */
  struct emb_pool *pool; /* NULL: loops run inline                      */
  void *scratch;
  size_t scratch_cap;
  ember_profile_fn prof; /* per-node timing of the main graph, or NULL */
  void *prof_user;
};

typedef struct emb_frame {
  const emb_graph *g;
  struct emb_frame *parent;
  emb_value *vals;     /* one per graph value                         */
  uint8_t *borrowed;   /* 1: vals[i] is a view, never cleared here     */
  int *uses;           /* remaining reads of each value in this run    */
} emb_frame;

/* Set up s; with threads > 1 this starts a thread pool of that many
 * threads (the caller included).  Never fails: when the system refuses
 * threads the pool is smaller, or absent, and s->threads says what was
 * obtained. */
void emb_session_env_init(emb_session *s, emb_diag *d, int threads);
/* Stop the pool and free the scratch buffer. */
void emb_session_env_free(emb_session *s);

/* Allocate / free a frame for g. */
ember_status emb_frame_init(emb_frame *f, const emb_graph *g,
                            emb_frame *parent, emb_diag *d);
void emb_frame_free(emb_frame *f);
/* Drop every owned value and bind constants and captured values again;
 * inputs are bound by the caller after this. */
void emb_frame_reset(emb_frame *f);
/* Bind `v` (borrowed) as the value of graph value index i. */
void emb_frame_bind(emb_frame *f, int i, const emb_value *v);
/* Run every node of the frame's graph. */
ember_status emb_exec_graph(emb_session *s, emb_frame *f);

/* Run a single node: infer shapes from the actual inputs, allocate the
 * outputs, run.  `out` values must be empty on entry. */
ember_status emb_exec_node(emb_session *s, emb_frame *f, const emb_node *n,
                           emb_value *const *in, emb_value *const *out);

/* The run-time type of a value (for inference at run). */
void emb_value_type(const emb_value *v, emb_type *t);

#endif
