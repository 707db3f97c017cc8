/*
 * Helpers shared by the data-movement operators (shape.c, gather.c,
 * pad.c): element sizes for every dtype, and the begin/end bracket that
 * lets one byte-moving implementation serve strings and sub-byte types.
 * Defined in shape.c.
 *
 * How the bracket works: between emb_mv_begin and emb_mv_end an operator
 * copies `esize`-byte elements from m.src (or its own inputs' data) to
 * m.dst.  For EMBER_STRING, esize is a pointer and dst is the output's own
 * pointer array, so the copies are borrowed pointers; emb_mv_end replaces
 * each by its own strdup (emb_mv_abort clears them on an error path).  For
 * packed sub-byte types (int4, uint4, float4e2m1, int2, uint2) the input is
 * unpacked to one byte per element in scratch and the result packed back
 * into the output by emb_mv_end.  Other types copy straight through.
 */
#ifndef EMBER_OPS_MOVEMENT_H
#define EMBER_OPS_MOVEMENT_H

#include "ops/op.h"

/* Bytes per element as the movers see it: the element size for byte types,
 * sizeof(char *) for strings, 1 for packed sub-byte types (unpacked form),
 * 0 for unknown types. */
size_t emb_mv_esize(int32_t dtype);
/* Whether elements are packed below one byte. */
bool emb_mv_packed(int32_t dtype);

typedef struct emb_mv {
  const char *src;   /* in's elements (unpacked for packed types)        */
  char *dst;         /* where to write the output's elements             */
  size_t esize;      /* bytes per element at src and dst                 */
  void *extra;       /* `extra` bytes of scratch asked for, or NULL      */
  int32_t dtype;
} emb_mv;

/* Prepare to fill `out` (allocated by the executor) from `in` (may be NULL
 * when the operator reads several inputs itself; packed types then need
 * it).  `extra` bytes of scratch, 16-byte aligned, are handed back in
 * m->extra: operators must not call emb_scratch themselves in between,
 * because the buffer is shared. */
ember_status emb_mv_begin(emb_run_ctx *c, const emb_tensor *in,
                          emb_tensor *out, size_t extra, emb_mv *m);
/* Finish: duplicate borrowed strings, pack sub-byte elements. */
ember_status emb_mv_end(emb_run_ctx *c, emb_tensor *out, emb_mv *m);
/* Leave `out` safe to free after a failure between begin and end. */
void emb_mv_abort(emb_tensor *out, emb_mv *m);

/* The value of element 0 of `t` converted into `esize` bytes of the mover
 * form of t's dtype (unpacked for packed types; for strings the borrowed
 * pointer).  For the constant of Pad and the fill of ConstantOfShape. */
void emb_mv_elem(const emb_tensor *t, size_t i, void *out);

#endif
