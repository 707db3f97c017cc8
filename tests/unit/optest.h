/*
 * One-node test harness for operator unit tests.  Builds a real ONNX
 * ModelProto in memory holding a single node (inputs as graph inputs or as
 * initializers), loads it through the public API (so loading, inference,
 * folding and execution all run as for a user's model) and exposes the
 * outputs as IR values for comparison with a reference computed in the
 * test.
 */
#ifndef EMBER_OPTEST_H
#define EMBER_OPTEST_H

#include "ir/ir.h"

typedef struct optest optest;

optest *optest_new(const char *op_type, int opset);
void optest_domain(optest *t, const char *domain, int opset);
void optest_attr_int(optest *t, const char *name, int64_t v);
void optest_attr_float(optest *t, const char *name, float v);
void optest_attr_string(optest *t, const char *name, const char *v);
void optest_attr_ints(optest *t, const char *name, size_t n, const int64_t *v);
void optest_attr_floats(optest *t, const char *name, size_t n, const float *v);
void optest_attr_strings(optest *t, const char *name, size_t n,
                         const char *const *v);
/* A tensor attribute (e.g. ConstantOfShape's value). */
void optest_attr_tensor(optest *t, const char *name, int32_t dtype, int rank,
                        const int64_t *dims, const void *data);
/* Next node input, fed at run (data borrowed until optest_run returns;
 * for EMBER_STRING data is const char *const *). */
void optest_input(optest *t, int32_t dtype, int rank, const int64_t *dims,
                  const void *data);
/* Next node input as an initializer (a constant: exercises folding). */
void optest_input_const(optest *t, int32_t dtype, int rank,
                        const int64_t *dims, const void *data);
/* Next node input omitted (""). */
void optest_input_none(optest *t);
/* Threads of the session that runs the node (num_threads; default 1). */
void optest_threads(optest *t, int threads);
/* Number of node outputs (default 1). */
void optest_outputs(optest *t, int n);
/* Build, load, run.  Returns the first failing status. */
ember_status optest_run(optest *t);
/* Output i after a successful run (a view valid until optest_free). */
const emb_value *optest_output(optest *t, int i);
/* The error message of a failed load or run. */
const char *optest_errmsg(optest *t);
void optest_free(optest *t);

/* Run, failing the cmocka test with the message if the run fails. */
void optest_must_run(optest *t);
/* The run must fail with `want`, the message naming the node ('n0') and,
 * unless part is NULL, containing `part`. */
void optest_must_fail(optest *t, ember_status want, const char *part);
/* Output i, which must be a tensor of this type and shape. */
const emb_tensor *optest_out(optest *t, int i, int32_t dtype, int rank,
                             const int64_t *dims);

/* Compare helpers for tests: fail the cmocka test with the first
 * differing index and both values. */
void optest_expect_f32(const emb_value *v, int rank, const int64_t *dims,
                       const float *expect, float rtol, float atol);
void optest_expect_i64(const emb_value *v, int rank, const int64_t *dims,
                       const int64_t *expect);

#endif
