/*
 * The graph optimizer: rewrites run once per graph at load, after type
 * inference, constant folding and dead-node removal (lib/ir/infer.c), and
 * before any session exists.  Each pass lives in its own file of this
 * folder and only removes nodes or replaces a node in place, so the node
 * list stays in execution order; emb_optimize runs them to a fixed point
 * and then drops the removed nodes and the nodes nobody reads.
 *
 * Invariants every pass keeps (and the helpers below maintain): each
 * value's n_uses counts the node inputs and implicit captures that read
 * it; each produced value's `producer` names the live node that writes it;
 * every graph output is still produced (or is an input or a constant); a
 * value captured by a subgraph (an implicit input) is never renamed,
 * because the subgraph refers to it by index.  A constant of the model
 * that a caller may override at run (an initializer listed as a graph
 * input, has_default) is not treated as constant.
 */
#ifndef EMBER_OPT_H
#define EMBER_OPT_H

#include "ir/ir.h"

/* Optimize g (one graph; subgraphs are optimized by their own
 * emb_graph_prepare call).  Fails only on out of memory. */
ember_status emb_optimize(emb_ir *ir, emb_graph *g, emb_diag *d);

/* ------------------------------------------------ for the passes only */

typedef struct emb_opt {
  emb_ir *ir;
  emb_graph *g;
  emb_diag *d;
  bool *dead; /* per node: removed, dropped by the final sweep */
} emb_opt;

/* Each pass visits every live node once and returns the number of
 * rewrites it made through *changes; a status only on out of memory. */
ember_status emb_opt_identity(emb_opt *o, int *changes);
ember_status emb_opt_transpose(emb_opt *o, int *changes);
ember_status emb_opt_reshape(emb_opt *o, int *changes);
ember_status emb_opt_convbn(emb_opt *o, int *changes);
ember_status emb_opt_matmul_add(emb_opt *o, int *changes);

/* Whether node n is op_type in the default ONNX domain. */
bool emb_opt_is(const emb_node *n, const char *op_type);
/* The constant value of v, or NULL when it has none or may be overridden
 * at run (has_default). */
const emb_tensor *emb_opt_const(const emb_graph *g, int v);
/* Whether some node captures v as an implicit (subgraph) input. */
bool emb_opt_captured(const emb_opt *o, int v);
/* The live node that is the only reader of v (through exactly one input
 * slot, no captures) when v is not a graph output; -1 otherwise. */
int emb_opt_sole_reader(const emb_opt *o, int v);
/* Point every live node input reading `from` at `to` (n_uses moved).
 * `from` must not be captured. */
void emb_opt_rewire(emb_opt *o, int from, int to);
/* Remove node i: its inputs lose a use, its outputs their producer. */
void emb_opt_kill(emb_opt *o, int i);
/* Give node i a new input array (arena) of n entries; uses adjusted. */
ember_status emb_opt_set_inputs(emb_opt *o, int i, int n, const int *in);
/* A new tensor in the model arena, zeroed; NULL on OOM (d set). */
emb_tensor *emb_opt_tensor(emb_opt *o, int32_t dtype, int rank,
                           const int64_t *dims);
/* A new constant value named "<base><suffix>" (made unique) holding t;
 * its index, or -1 on OOM (d set).  g->vals may move. */
int emb_opt_add_const(emb_opt *o, const char *base, const char *suffix,
                      emb_tensor *t);
/* "<name><suffix>" in the arena; NULL on OOM (d set). */
const char *emb_opt_name(emb_opt *o, const char *name, const char *suffix);
/* Run node n's type inference against the types (and constants) its
 * inputs have in g; true when it succeeds and every output's inferred
 * type agrees with the type its value already has (a rewrite that passes
 * this check changes no type the rest of the graph relies on).  n need
 * not be in g yet: passes check a candidate before committing it. */
bool emb_opt_infer_agrees(const emb_opt *o, const emb_node *n);

#endif
