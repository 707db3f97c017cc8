/*
 * Constant folding: a node whose inputs are all known constants is run
 * once at load and its outputs become constants of the graph.  This
 * resolves Constant, ConstantOfShape and shape-arithmetic subgraphs
 * (Shape -> Gather -> Concat -> Reshape) so that shapes are static and
 * the run-time graph holds only real work.
 */
#ifndef EMBER_FOLD_H
#define EMBER_FOLD_H

#include "ir/ir.h"

/* Try to fold node `i` of g; *folded says whether it was. */
ember_status emb_fold_node(emb_ir *ir, emb_graph *g, int i, bool *folded,
                           emb_diag *d);

#endif
