/*
 * The ONNX front end: turns the bytes of a ModelProto into Ember's IR
 * (lib/ir).  The protobuf-c types stay inside lib/onnx/; these entry
 * points take and give only IR types.
 */
#ifndef EMBER_ONNX_LOADER_H
#define EMBER_ONNX_LOADER_H

#include "ir/ir.h"

/* Parse a model.  base_dir: folder for external data (NULL: refused).
 * On success *out is a new IR (free with emb_ir_free), not yet inferred. */
ember_status emb_onnx_load(const void *data, size_t size,
                           const char *base_dir, emb_ir **out, emb_diag *d);

/* Decode a TensorProto (an Emberpb__Tensor *) into out.  With an arena the
 * data lives there (owned = false), else it is malloc'ed (owned).  With an
 * arena the message itself must have been parsed into that arena: raw_data
 * is then adopted as the tensor's data without a copy. */
ember_status emb_tensor_from_pb(const void *proto, emb_arena *arena,
                                const char *base_dir, emb_tensor *out,
                                emb_diag *d);
/* A SparseTensorProto, densified. */
ember_status emb_sparse_from_pb(const void *proto, emb_arena *arena,
                                const char *base_dir, emb_tensor *out,
                                emb_diag *d);
/* After a failed unpack: where the bytes go wrong, as text to append to a
 * message (written to buf, which is returned). */
const char *emb_pb_scan_error(const void *data, size_t size, char *buf,
                              size_t bufsize);

#endif
