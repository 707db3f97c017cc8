/*
 * Load-time preparation of a graph: operator init (attribute parsing),
 * type and shape inference with symbolic dimensions, constant folding
 * (lib/opt/fold.c) and dead-node removal.  Runs once per model, over the
 * main graph and, recursively, every subgraph.
 */
#ifndef EMBER_INFER_H
#define EMBER_INFER_H

#include "ir/ir.h"

ember_status emb_graph_prepare(emb_ir *ir, emb_graph *g, emb_diag *d);

#endif
