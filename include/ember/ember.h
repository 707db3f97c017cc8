/*
 * ember.h: the whole public C API of Ember, an embeddable ONNX inference
 * runtime.  This header is the manual: if something is not written here it
 * is not API.  It compiles as C99 and as C++.
 *
 * The model of use is three steps, load / run / free:
 *
 *     ember_model *model;
 *     if (ember_model_load_file("net.onnx", NULL, &model) != EMBER_OK) {
 *         fprintf(stderr, "%s\n", ember_model_errmsg(model));
 *         ember_model_free(model);
 *         return 1;
 *     }
 *     ember_session *sess;
 *     if (ember_session_create(model, NULL, &sess) != EMBER_OK) { ... }
 *     ember_tensor in = {EMBER_FLOAT, 4, dims, pixels, sizeof pixels};
 *     ember_tensor out;
 *     const char *in_name = "data";
 *     if (ember_session_run(sess, 1, &in_name, &in, 1, NULL, &out) != EMBER_OK)
 *         fprintf(stderr, "%s\n", ember_session_errmsg(sess));
 *     ... out.data is valid until the next run or ember_session_free ...
 *     ember_session_free(sess);
 *     ember_model_free(model);
 *
 * Threads: an ember_model is immutable once loaded and may be shared by any
 * number of sessions and threads.  An ember_session owns its working memory
 * and must be used by one thread at a time (different sessions of one model
 * may run concurrently).  The library keeps no global mutable state, never
 * prints, never calls exit() or abort().
 *
 * Ownership: every pointer the library returns says in its documentation
 * whether it is borrowed (and until when) or yours (and how to free it).
 * Every create has a free, and free(NULL) is a no-op.
 */
#ifndef EMBER_EMBER_H
#define EMBER_EMBER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* EMBER_API marks the exported symbols; everything else is hidden. */
#if defined(_WIN32) && defined(EMBER_BUILDING_SHARED)
#define EMBER_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define EMBER_API __attribute__((visibility("default")))
#else
#define EMBER_API
#endif

/* ---------------------------------------------------------------- version */

#define EMBER_VERSION_MAJOR 0
#define EMBER_VERSION_MINOR 1
#define EMBER_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH, comparable with <, >. */
#define EMBER_VERSION_NUMBER                                                  \
  (EMBER_VERSION_MAJOR * 10000 + EMBER_VERSION_MINOR * 100 + EMBER_VERSION_PATCH)
#define EMBER_VERSION_STRING "0.1.0"

/* The version of the library actually linked, as EMBER_VERSION_NUMBER.
 * Compare it with the macro to detect a header/library mismatch. */
EMBER_API int ember_version_number(void);
/* The same as a static string ("0.1.0"); never freed. */
EMBER_API const char *ember_version_string(void);

/* ----------------------------------------------------------------- status */

/* Every fallible call returns one of these.  The values are fixed and will
 * never be renumbered; new codes are only ever appended. */
typedef enum ember_status {
  EMBER_OK = 0,
  EMBER_ERR_INVALID_ARGUMENT = 1, /* NULL where a pointer is required, bad
                                     option, index out of range            */
  EMBER_ERR_OUT_OF_MEMORY = 2,    /* an allocation failed                  */
  EMBER_ERR_IO = 3,               /* a file could not be opened or read    */
  EMBER_ERR_PARSE = 4,            /* the bytes are not a valid ONNX model
                                     or tensor (truncated, garbage)        */
  EMBER_ERR_INVALID_MODEL = 5,    /* well-formed protobuf, inconsistent
                                     graph (undefined value, cycle, bad
                                     attribute, ...)                       */
  EMBER_ERR_UNSUPPORTED = 6,      /* valid ONNX that Ember does not run:
                                     unknown operator, opset, data type    */
  EMBER_ERR_TYPE = 7,             /* an input has the wrong element type   */
  EMBER_ERR_SHAPE = 8,            /* an input has the wrong rank or a
                                     dimension that contradicts the model  */
  EMBER_ERR_NOT_FOUND = 9,        /* no input / output of that name        */
  EMBER_ERR_MISSING_INPUT = 10,   /* a required input was not given        */
  EMBER_ERR_BUFFER_TOO_SMALL = 11,/* a caller output buffer is too small   */
  EMBER_ERR_RUNTIME = 12,         /* an operator failed on the given data
                                     (index out of range, ...)             */
  EMBER_ERR_LIMIT = 13            /* a size or nesting limit was exceeded  */
} ember_status;

/* A short static description of a status code ("invalid model", ...);
 * never NULL, never freed.  Unknown codes give "unknown status". */
EMBER_API const char *ember_status_str(ember_status status);

/* ------------------------------------------------------------ data types */

/* Element types.  The values are those of ONNX TensorProto.DataType. */
typedef enum ember_dtype {
  EMBER_UNDEFINED = 0,
  EMBER_FLOAT = 1,
  EMBER_UINT8 = 2,
  EMBER_INT8 = 3,
  EMBER_UINT16 = 4,
  EMBER_INT16 = 5,
  EMBER_INT32 = 6,
  EMBER_INT64 = 7,
  EMBER_STRING = 8, /* data is an array of const char *, one per element,
                       each NUL-terminated UTF-8                          */
  EMBER_BOOL = 9,   /* one byte per element, 0 or 1                       */
  EMBER_FLOAT16 = 10,
  EMBER_DOUBLE = 11,
  EMBER_UINT32 = 12,
  EMBER_UINT64 = 13,
  EMBER_COMPLEX64 = 14,
  EMBER_COMPLEX128 = 15,
  EMBER_BFLOAT16 = 16,
  EMBER_FLOAT8E4M3FN = 17,
  EMBER_FLOAT8E4M3FNUZ = 18,
  EMBER_FLOAT8E5M2 = 19,
  EMBER_FLOAT8E5M2FNUZ = 20,
  EMBER_UINT4 = 21, /* sub-byte types are packed, low nibble first */
  EMBER_INT4 = 22,
  EMBER_FLOAT4E2M1 = 23,
  EMBER_FLOAT8E8M0 = 24,
  EMBER_UINT2 = 25,
  EMBER_INT2 = 26
} ember_dtype;

/* A static lower-case name of an element type ("float32", "int64",
 * "bfloat16", ...); "unknown" for a value that is not an ember_dtype. */
EMBER_API const char *ember_dtype_name(int32_t dtype);
/* Bytes for `count` elements of `dtype` (packed for sub-byte types; for
 * EMBER_STRING, count * sizeof(char *)); 0 for an unknown type. */
EMBER_API size_t ember_dtype_bytes(int32_t dtype, size_t count);

/* Kinds of value a model input or output can be. */
typedef enum ember_kind {
  EMBER_KIND_TENSOR = 1,
  EMBER_KIND_SEQUENCE = 2, /* an ordered list of tensors of one type     */
  EMBER_KIND_MAP = 3,
  EMBER_KIND_OPTIONAL = 4, /* a tensor or sequence that may be absent    */
  EMBER_KIND_SPARSE_TENSOR = 5
} ember_kind;

/* A dense tensor as it crosses the API.  The descriptor never owns what it
 * points to: who owns `dims` and `data` is said by the call it is passed to
 * or returned from.  Elements are stored row-major (C order), `nbytes` is
 * the size of `data` in bytes (see ember_dtype_bytes).  A scalar has rank
 * 0 and one element; a tensor with a zero dimension has no elements and
 * `data` may be NULL. */
typedef struct ember_tensor {
  int32_t dtype;        /* an ember_dtype                                  */
  int32_t rank;         /* number of dimensions                            */
  const int64_t *dims;  /* rank entries, each >= 0                         */
  void *data;           /* the elements                                    */
  size_t nbytes;        /* bytes at data                                   */
} ember_tensor;

/* A value of any kind: a tensor, a sequence of tensors, or an absent
 * optional.  Only the members for `kind` are read or written. */
typedef struct ember_value {
  int32_t kind;               /* EMBER_KIND_TENSOR, _SEQUENCE, _OPTIONAL   */
  int32_t has_value;          /* for EMBER_KIND_OPTIONAL: 0 = absent; when
                                 1, `tensor` or `items` holds the value and
                                 `elem_kind` says which                     */
  int32_t elem_kind;          /* for EMBER_KIND_OPTIONAL with a value      */
  int32_t elem_dtype;         /* for sequences: the element type (needed
                                 when count is 0)                          */
  ember_tensor tensor;        /* for EMBER_KIND_TENSOR                     */
  size_t count;               /* for sequences: number of tensors          */
  const ember_tensor *items;  /* for sequences: count tensors              */
} ember_value;

/* ------------------------------------------------------------------ model */

/* A loaded model: immutable, shareable across threads. */
typedef struct ember_model ember_model;

/* Options for loading.  Zero-initialise, or call ember_model_options_init;
 * `struct_size` lets later versions add fields without breaking callers.
 * NULL options mean the defaults. */
typedef struct ember_model_options {
  size_t struct_size;      /* sizeof(ember_model_options)                */
  uint32_t flags;          /* reserved, must be 0                         */
  const char *base_dir;    /* folder for external data when loading from
                              memory; NULL: external data is refused.
                              For ember_model_load_file it defaults to the
                              model's own folder.  Borrowed during load.  */
} ember_model_options;

EMBER_API void ember_model_options_init(ember_model_options *opts);

/* Load an ONNX model (ModelProto, IR versions 3 and later) from a file.
 *
 * On success returns EMBER_OK and stores a new model in *out_model.
 * On failure returns the status and, except when out_model is NULL or
 * memory ran out for the handle itself, still stores a handle in
 * *out_model that carries only the error: read it with
 * ember_model_errmsg() and release it with ember_model_free(); every other
 * call on it returns EMBER_ERR_INVALID_ARGUMENT.
 * External data (TensorProto.data_location = EXTERNAL) is read relative to
 * the model's folder and may not leave it.  `path` is borrowed. */
EMBER_API ember_status ember_model_load_file(const char *path,
                                             const ember_model_options *opts,
                                             ember_model **out_model);

/* The same from `size` bytes at `data`, which are borrowed for the call
 * only (the model keeps its own copy of what it needs). */
EMBER_API ember_status ember_model_load_memory(const void *data, size_t size,
                                               const ember_model_options *opts,
                                               ember_model **out_model);

/* Release a model and everything it owns.  Sessions created from it must
 * be freed first.  NULL is a no-op. */
EMBER_API void ember_model_free(ember_model *model);

/* The message of the last failure on this model handle ("" if none).
 * Borrowed until the model is freed.  Never NULL (for a NULL model it is a
 * static string). */
EMBER_API const char *ember_model_errmsg(const ember_model *model);
/* The status of the load that made this handle. */
EMBER_API ember_status ember_model_status(const ember_model *model);

/* Information on a graph input or output.  Every pointer inside is
 * borrowed until the model is freed. */
typedef struct ember_value_info {
  const char *name;
  int32_t kind;             /* ember_kind; for sequences and optionals the
                               fields below describe the tensor element   */
  int32_t dtype;            /* element type, EMBER_UNDEFINED if unknown   */
  int32_t rank;             /* -1 if the rank is not known                */
  const int64_t *dims;      /* rank entries; -1 for a dimension that is
                               symbolic or unknown                        */
  const char *const *dim_names; /* rank entries: the symbolic name of each
                               dimension ("batch"), NULL where the
                               dimension is fixed or anonymous            */
  int32_t elem_kind;        /* for EMBER_KIND_OPTIONAL: the kind it holds
                               when present (TENSOR or SEQUENCE); else 0  */
} ember_value_info;

/* Counts of graph inputs (initializers excluded) and outputs. */
EMBER_API size_t ember_model_input_count(const ember_model *model);
EMBER_API size_t ember_model_output_count(const ember_model *model);
/* Fill *out with input / output `index` (0-based, graph order).
 * EMBER_ERR_INVALID_ARGUMENT if index is out of range. */
EMBER_API ember_status ember_model_input_info(const ember_model *model,
                                              size_t index,
                                              ember_value_info *out);
EMBER_API ember_status ember_model_output_info(const ember_model *model,
                                               size_t index,
                                               ember_value_info *out);

/* Opset imports: `index` in [0, count).  *domain is "" for the default ONNX
 * domain; borrowed until the model is freed. */
EMBER_API size_t ember_model_opset_count(const ember_model *model);
EMBER_API ember_status ember_model_opset(const ember_model *model,
                                         size_t index, const char **domain,
                                         int64_t *version);

/* Model-level strings: "producer_name", "producer_version", "domain",
 * "doc_string", "graph_name".  Returns NULL for an unknown key; "" when the
 * model does not set it.  Borrowed until the model is freed. */
EMBER_API const char *ember_model_string(const ember_model *model,
                                         const char *key);
/* ModelProto.ir_version and model_version. */
EMBER_API int64_t ember_model_ir_version(const ember_model *model);
EMBER_API int64_t ember_model_version(const ember_model *model);

/* ModelProto.metadata_props, in file order.  Borrowed until model free. */
EMBER_API size_t ember_model_metadata_count(const ember_model *model);
EMBER_API ember_status ember_model_metadata(const ember_model *model,
                                            size_t index, const char **key,
                                            const char **value);

/* Statistics for tools: number of nodes after loading (Constant nodes and
 * folded constants excluded), and the number of parameters: elements of
 * the floating-point constants the graph reads after folding (weights
 * from initializers, Constant nodes or ConstantOfShape alike). */
EMBER_API size_t ember_model_node_count(const ember_model *model);
/* Op type of node `index`, in execution order; NULL if out of range.
 * Borrowed until the model is freed. */
EMBER_API const char *ember_model_node_op(const ember_model *model,
                                          size_t index);
EMBER_API uint64_t ember_model_parameter_count(const ember_model *model);

/* ---------------------------------------------------------------- session */

/* A session runs a model; it owns its working memory.  One thread at a
 * time. */
typedef struct ember_session ember_session;

typedef struct ember_session_options {
  size_t struct_size;   /* sizeof(ember_session_options)                  */
  int32_t num_threads;  /* threads for one run; 0 = one per core, 1 = run
                           on the calling thread only.  With N > 1 the
                           session starts N-1 worker threads when it is
                           created (they sleep between runs and stop in
                           ember_session_free; the calling thread is the
                           N-th).  Fewer are used when the system refuses
                           some (never an error); at most 256.  Results do
                           not depend on the thread count.  The workers
                           do not survive fork(): a child process creates
                           its own sessions.                              */
} ember_session_options;

EMBER_API void ember_session_options_init(ember_session_options *opts);

/* Create a session on `model`, which must outlive it.  Same failure
 * convention as ember_model_load_file: on failure *out_session (unless
 * NULL or out of memory) holds a handle carrying the message, to read with
 * ember_session_errmsg() and free with ember_session_free().  NULL opts
 * means the defaults. */
EMBER_API ember_status ember_session_create(const ember_model *model,
                                            const ember_session_options *opts,
                                            ember_session **out_session);
/* NULL is a no-op. */
EMBER_API void ember_session_free(ember_session *session);

/* The message of the last failed call on this session, "" after a success.
 * Borrowed until the next call on the session.  Never NULL. */
EMBER_API const char *ember_session_errmsg(const ember_session *session);

/* Run the model on tensor inputs.
 *
 * inputs: n_inputs tensors, named by input_names (graph input names).  Each
 *   required graph input must be given once; an input may be omitted only
 *   when the model gives it a default initializer.  Element type and rank
 *   must match the model; fixed dimensions must match; symbolic dimensions
 *   (same name = same size) take their sizes from the inputs, and a
 *   mismatch is EMBER_ERR_SHAPE with a message naming the input and the
 *   dimension.  Inputs are borrowed for the duration of the call only.
 * outputs: n_outputs descriptors to fill.  With output_names NULL they are
 *   the first n_outputs graph outputs in order; else the outputs named.
 *   - If outputs[i].data is NULL on entry, the library fills the
 *     descriptor with a library-owned buffer valid until the next run or
 *     ember_session_free, whichever comes first.  A descriptor filled so
 *     by the previous run may be passed again unchanged: its data pointer
 *     is recognised as the library's and treated as NULL.
 *   - Otherwise outputs[i].data is a caller buffer of outputs[i].nbytes
 *     bytes: the result is copied there and nbytes set to the bytes
 *     written; if it is too small the call returns
 *     EMBER_ERR_BUFFER_TOO_SMALL naming the output and the size needed.
 *   In both cases dtype, rank and dims are set; dims is library-owned and
 *   valid until the next run.  String outputs cannot go to caller buffers.
 * An output that is not a tensor (a sequence) gives EMBER_ERR_TYPE here:
 * use ember_session_run_values.
 * Returns EMBER_OK or a status with ember_session_errmsg() naming the node,
 * tensor or input at fault. */
EMBER_API ember_status ember_session_run(ember_session *session,
                                         size_t n_inputs,
                                         const char *const *input_names,
                                         const ember_tensor *inputs,
                                         size_t n_outputs,
                                         const char *const *output_names,
                                         ember_tensor *outputs);

/* The general form for values of any kind (tensors, sequences, optionals).
 * Inputs as in ember_session_run.  Each outputs[i] is filled with
 * library-owned data valid until the next run or ember_session_free (no
 * caller buffers here). */
EMBER_API ember_status ember_session_run_values(ember_session *session,
                                                size_t n_inputs,
                                                const char *const *input_names,
                                                const ember_value *inputs,
                                                size_t n_outputs,
                                                const char *const *output_names,
                                                ember_value *outputs);

/* Profiling: a function called after each node of the model's main graph
 * runs, with the node's position in execution order, its op type and name
 * (borrowed for the call), and its start and end time in nanoseconds of
 * CLOCK_MONOTONIC.  It runs on the thread calling ember_session_run and
 * must not call back into the session.  Pass NULL to stop profiling.
 * Nodes folded at load do not run and are not reported. */
typedef void (*ember_profile_fn)(void *user, size_t node_index,
                                 const char *op_type, const char *node_name,
                                 uint64_t start_ns, uint64_t end_ns);
EMBER_API ember_status ember_session_set_profiler(ember_session *session,
                                                  ember_profile_fn fn,
                                                  void *user);

/* -------------------------------------------------------- tensor files */

/* Parse a serialized ONNX TensorProto, SequenceProto or OptionalProto (the
 * .pb files of the ONNX test suite; `format` is EMBER_PB_TENSOR,
 * EMBER_PB_SEQUENCE or EMBER_PB_OPTIONAL) into a value the
 * library allocates.  On success *out_value is yours: free it with
 * ember_value_free().  On failure, if errbuf is not NULL, a message naming
 * the byte offset or field at fault is written there (NUL-terminated,
 * truncated to errbuf_size). */
enum { EMBER_PB_TENSOR = 1, EMBER_PB_SEQUENCE = 2, EMBER_PB_OPTIONAL = 3 };
EMBER_API ember_status ember_value_parse(const void *data, size_t size,
                                         int format, ember_value **out_value,
                                         char *errbuf, size_t errbuf_size);
/* Release a value made by ember_value_parse.  NULL is a no-op. */
EMBER_API void ember_value_free(ember_value *value);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_EMBER_H */
