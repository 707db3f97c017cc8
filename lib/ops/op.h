/*
 * The operator interface.  Every ONNX operator Ember runs is one emb_opdef,
 * listed once in ops.def (domain, op type, opset range, definition) and
 * implemented in one file of this folder.  A definition has the same parts
 * everywhere:
 *
 *   init   at load: parse and check attributes, store them in node->state
 *          (allocated from the model arena with emb_op_state).  Optional.
 *   infer  output types and shapes from input types.  Called at load with
 *          whatever is known (dims may be symbolic, `values` holds known
 *          constants) and again at every run with concrete inputs and all
 *          values known; at run it must give every output a full shape
 *          (kind TENSOR) unless the op sets EMB_OP_OWN_OUTPUTS.
 *   run    compute.  Outputs of kind TENSOR arrive allocated with the shape
 *          infer gave; sequences and EMB_OP_OWN_OUTPUTS outputs are built
 *          by the op itself into ctx->out[i].
 *
 * Errors name the node: use emb_op_fail(), which prefixes "node 'x' (Op):".
 */
#ifndef EMBER_OP_H
#define EMBER_OP_H

#include "ir/ir.h"

typedef struct emb_session emb_session;

typedef struct emb_init_ctx {
  emb_node *node;
  emb_ir *ir;          /* for arena allocations (node state)            */
  emb_diag *diag;
} emb_init_ctx;

typedef struct emb_infer_ctx {
  const emb_node *node;
  int n_in;
  const emb_type *const *in;         /* NULL for an omitted input          */
  const emb_tensor *const *values;   /* known constant values or NULL      */
  const emb_value *const *rvalues;   /* at run: the actual values (NULL
                                        for omitted); at load: NULL array  */
  int n_out;
  emb_type *out;                     /* to fill; preset to unknown         */
  bool at_run;
  emb_diag *diag;
} emb_infer_ctx;

typedef struct emb_run_ctx {
  const emb_node *node;
  int n_in;
  emb_value *const *in;              /* NULL for an omitted input          */
  int n_out;
  emb_value *const *out;             /* NULL for an omitted output         */
  emb_session *session;
  emb_diag *diag;
  struct emb_frame *frame;           /* the executing graph's values (for
                                        emb_run_subgraph); NULL when
                                        constant-folding at load           */
} emb_run_ctx;

enum {
  EMB_OP_NO_FOLD = 1u << 0,     /* never constant-fold (random, stateful) */
  EMB_OP_OWN_OUTPUTS = 1u << 1, /* run allocates its own outputs          */
  EMB_OP_VARIADIC_OUT = 1u << 2, /* any number of outputs                 */
  EMB_OP_SHAPE_ONLY = 1u << 3    /* reads only its inputs' shapes, never
                                    their data (Shape, Size): foldable as
                                    soon as the shapes are static          */
};

/* What an operator does; the name, domain and opset range it answers to
 * are in ops.def (emb_opreg), so one definition can serve several
 * registry lines. */
struct emb_opdef {
  int min_in, max_in; /* input count bounds (max -1: unbounded)          */
  int min_out, max_out;
  unsigned flags;
  ember_status (*init)(emb_init_ctx *c);
  ember_status (*infer)(emb_infer_ctx *c);
  ember_status (*run)(emb_run_ctx *c);
};

/* ------------------------------------------------------------ registry */

/* One line of ops.def. */
typedef struct emb_opreg {
  const char *domain;  /* "" for ai.onnx                                 */
  const char *name;
  int since, until;    /* opset versions handled (inclusive)             */
  const emb_opdef *def;
} emb_opreg;

/* The registry line for (domain, op_type) at opset `version`, or NULL.
 * "ai.onnx" is accepted for "". */
const emb_opreg *emb_op_lookup(const char *domain, const char *op_type,
                               int64_t version);
/* Whether any version of the operator is registered (for messages). */
const emb_opreg *emb_op_lookup_any(const char *domain, const char *op_type);
/* All registry lines (for tests, docs and `ember inspect`). */
size_t emb_op_count(void);
const emb_opreg *emb_op_at(size_t i);

/* --------------------------------------------------------- op helpers */

/* Fail naming the node: "node 'name' (OpType): <message>". */
ember_status emb_op_fail(emb_diag *d, const emb_node *n, ember_status st,
                         const char *fmt, ...) EMB_PRINTF(4, 5);

/* Arena allocation for node state (zeroed). */
void *emb_op_state(emb_init_ctx *c, size_t size);

/* Typed attribute getters with defaults.  They fail (returning the
 * status, message naming node and attribute) when the attribute is
 * present with another type. */
ember_status emb_attr_int(const emb_node *n, const char *name, int64_t def,
                          int64_t *out, emb_diag *d);
ember_status emb_attr_float(const emb_node *n, const char *name, float def,
                            float *out, emb_diag *d);
/* *out borrowed from the IR; def when absent. */
ember_status emb_attr_string(const emb_node *n, const char *name,
                             const char *def, const char **out,
                             emb_diag *d);
/* *vals borrowed (NULL and *count 0 when absent). */
ember_status emb_attr_ints(const emb_node *n, const char *name,
                           const int64_t **vals, size_t *count, emb_diag *d);
ember_status emb_attr_floats(const emb_node *n, const char *name,
                             const float **vals, size_t *count, emb_diag *d);

/* Normalize an axis in [-rank, rank) to [0, rank); fails naming the node. */
ember_status emb_axis(const emb_node *n, int64_t axis, int rank, int *out,
                      emb_diag *d);

/* Infer helpers. */
/* Numpy-style broadcast of n types into out (dims: known, symbolic or
 * unknown). Fails on incompatible known dims. */
ember_status emb_infer_broadcast(emb_infer_ctx *c, int n,
                                 const emb_type *const *in, emb_type *out);
/* Output 0 = input 0's type (elementwise unary ops). */
ember_status emb_infer_same(emb_infer_ctx *c);
/* Require input i to be a tensor of one of the dtypes (0-terminated
 * list; NULL list = any); unknown types pass at load. */
ember_status emb_infer_check_dtype(emb_infer_ctx *c, int i,
                                   const int32_t *allowed);
/* Require all present inputs in [first, last] to share input first's
 * dtype. */
ember_status emb_infer_same_dtype(emb_infer_ctx *c, int first, int last);

/* Broadcast iteration: for an output of rank r and dims od, and inputs of
 * their own ranks/dims, compute per-input element strides (0 along
 * broadcast axes) aligned to the output's rank. */
void emb_broadcast_strides(int out_rank, const int64_t *od, int in_rank,
                           const int64_t *id, int64_t *strides);

/* Run a subgraph (If/Loop/Scan bodies) from an op: inputs bound to the
 * graph's inputs in order; outputs receive copies of the graph's outputs
 * (moved where possible).  `outer` values are resolved in the calling
 * frame. */
ember_status emb_run_subgraph(emb_run_ctx *c, const emb_graph *g,
                              int n_in, const emb_value *const *in,
                              int n_out, emb_value *out);

/* Scratch memory for one op run, owned by the session and reused (valid
 * until the op returns or calls emb_run_subgraph).  One buffer: a second
 * call may move it and invalidates the first pointer, so ask once for the
 * total and split it.  NULL on OOM (after setting c->diag). */
void *emb_scratch(emb_run_ctx *c, size_t bytes);
/* Threads the session may use for this run (>= 1). */
int emb_run_threads(const emb_run_ctx *c);

/* Parallel loop: call fn(arg, i, thread) for every i in [0, n) on the
 * session's thread pool, the calling thread included, and return when all
 * calls are done.  `thread` is in [0, emb_run_threads(c)) and tells which
 * slice of a scratch buffer a call may use; iterations run in any order
 * and concurrently, so they must write disjoint memory.  fn cannot fail:
 * check everything before the loop.  Without a pool (one thread, or
 * constant folding at load) the loop runs inline. */
typedef void (*emb_task_fn)(void *arg, size_t i, int thread);
void emb_parallel_for(emb_run_ctx *c, size_t n, emb_task_fn fn, void *arg);

/* Convenience accessors. */
static inline emb_tensor *emb_in_t(emb_run_ctx *c, int i) {
  return (i < c->n_in && c->in[i]) ? &c->in[i]->t : NULL;
}
static inline emb_tensor *emb_out_t(emb_run_ctx *c, int i) {
  return (i < c->n_out && c->out[i]) ? &c->out[i]->t : NULL;
}

#endif
