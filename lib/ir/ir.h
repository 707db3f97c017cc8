/*
 * Ember's intermediate representation: element types, tensors, values
 * (tensor, sequence, absent optional), static types with symbolic
 * dimensions, and graphs of nodes.  The ONNX loader (lib/onnx) builds it,
 * type inference (lib/ir/infer.c) and the optimizer (lib/opt) refine it,
 * the executor (lib/exec) runs it.  Nothing here knows about protobuf.
 *
 * Ownership: a model's graphs, nodes, names, attributes and constant
 * tensors live in the model's arena (emb_arena) and are freed together.
 * Tensors made at run time own their data (`owned` = 1) and are released
 * with emb_value_clear.
 */
#ifndef EMBER_IR_H
#define EMBER_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/ember.h"
#include "util/util.h"

/* Tensors of higher rank are refused with EMBER_ERR_LIMIT. */
#define EMB_MAX_RANK 16

/* ------------------------------------------------------------ dtypes */

/* Bits per element (4 for int4, 64 for int64, pointer bits for strings);
 * 0 for an unknown or unsupported type. */
int emb_dtype_bits(int32_t dtype);
bool emb_dtype_valid(int32_t dtype);
bool emb_dtype_is_float(int32_t dtype); /* float16/32/64, bfloat16 */
bool emb_dtype_is_int(int32_t dtype);   /* signed or unsigned integers */
bool emb_dtype_is_signed(int32_t dtype);

/* ------------------------------------------------------------ tensors */

typedef struct emb_tensor {
  int32_t dtype;
  int32_t rank;
  int64_t dims[EMB_MAX_RANK];
  void *data;      /* row-major elements; char ** for EMBER_STRING        */
  size_t nbytes;   /* bytes at data                                      */
  bool owned;      /* data (and, for strings, each string) is malloc'ed
                      and freed with the tensor                          */
} emb_tensor;

/* Number of elements; 1 for a scalar. Callers have checked overflow when
 * the shape was accepted (emb_shape_numel). */
size_t emb_tensor_numel(const emb_tensor *t);
/* Checked element count of a shape; 0 on overflow or negative dims. */
bool emb_shape_numel(int rank, const int64_t *dims, size_t *out);

/* Allocate data for a tensor of the given type and shape (zeroed; strings
 * set to empty "" strings).  On failure the tensor is left empty and a
 * message written to d. */
ember_status emb_tensor_alloc(emb_tensor *t, int32_t dtype, int rank,
                              const int64_t *dims, emb_diag *d);
/* Release what the tensor owns and make it empty. */
void emb_tensor_clear(emb_tensor *t);
/* Deep copy (always owned). */
ember_status emb_tensor_copy(emb_tensor *dst, const emb_tensor *src,
                             emb_diag *d);
/* A borrowed view (not owned) of src's data. */
void emb_tensor_view(emb_tensor *dst, const emb_tensor *src);
/* Read element i of a numeric tensor as double / int64 (any numeric
 * dtype incl. bool). For shape arithmetic and tests, not hot loops. */
double emb_tensor_get_f64(const emb_tensor *t, size_t i);
int64_t emb_tensor_get_i64(const emb_tensor *t, size_t i);
/* Write element i of a numeric tensor from double / int64, converting
 * with C semantics (float16/bfloat16 round to nearest even). */
void emb_tensor_set_f64(emb_tensor *t, size_t i, double v);
void emb_tensor_set_i64(emb_tensor *t, size_t i, int64_t v);

/* float16 / bfloat16 <-> float conversions (round to nearest even). */
float emb_f16_to_f32(uint16_t h);
uint16_t emb_f32_to_f16(float f);
float emb_bf16_to_f32(uint16_t h);
uint16_t emb_f32_to_bf16(float f);

/* ------------------------------------------------------------- values */

/* Kinds of run-time value; the first ones equal ember_kind.  VK_NONE is an
 * absent optional; VK_EMPTY a slot nobody has written yet. */
enum {
  EMB_VK_EMPTY = 0,
  EMB_VK_TENSOR = EMBER_KIND_TENSOR,
  EMB_VK_SEQUENCE = EMBER_KIND_SEQUENCE,
  EMB_VK_NONE = 16
};

typedef struct emb_seq {
  int32_t elem_dtype;
  size_t count, cap;
  emb_tensor *items;  /* owned array of owned tensors */
} emb_seq;

typedef struct emb_value {
  int32_t kind;       /* EMB_VK_* */
  emb_tensor t;       /* EMB_VK_TENSOR */
  emb_seq seq;        /* EMB_VK_SEQUENCE */
} emb_value;

void emb_value_clear(emb_value *v);
ember_status emb_value_copy(emb_value *dst, const emb_value *src,
                            emb_diag *d);
/* Append a deep copy of t to a sequence value (kind set to SEQUENCE). */
ember_status emb_seq_push(emb_value *v, const emb_tensor *t, emb_diag *d);
/* Insert a deep copy of t at position pos (0 <= pos <= count). */
ember_status emb_seq_insert(emb_value *v, size_t pos, const emb_tensor *t,
                            emb_diag *d);

/* ------------------------------------------------------ static types */

/* A dimension during type inference.  v >= 0: known size.  v < 0: unknown;
 * then sym > 0 names it (index + 1 in the model's symbol table) so equal
 * symbols mean equal sizes; sym == 0 means anonymous. */
typedef struct emb_dim {
  int64_t v;
  int32_t sym;
} emb_dim;

/* Static type of a value.  kind 0 = nothing known. */
typedef struct emb_type {
  int32_t kind;       /* 0, EMBER_KIND_TENSOR, _SEQUENCE, _OPTIONAL, _MAP */
  int32_t elem_kind;  /* for OPTIONAL: TENSOR or SEQUENCE                  */
  int32_t dtype;      /* tensor element type (of the elements for seq/opt)*/
  int32_t rank;       /* -1 when unknown                                   */
  emb_dim dims[EMB_MAX_RANK];
} emb_type;

void emb_type_unknown(emb_type *t);
void emb_type_tensor(emb_type *t, int32_t dtype, int rank,
                     const int64_t *dims);
bool emb_type_static(const emb_type *t); /* tensor with all dims known */
/* Format "float32[1,3,N,224]" into buf. */
const char *emb_type_str(const emb_type *t, const char *const *symbols,
                         char *buf, size_t n);

/* ----------------------------------------------------------- graphs */

typedef struct emb_graph emb_graph;
typedef struct emb_opdef emb_opdef;

/* Attribute types: the values of ONNX AttributeProto.AttributeType. */
enum {
  EMB_ATTR_FLOAT = 1,
  EMB_ATTR_INT = 2,
  EMB_ATTR_STRING = 3,
  EMB_ATTR_TENSOR = 4,
  EMB_ATTR_GRAPH = 5,
  EMB_ATTR_FLOATS = 6,
  EMB_ATTR_INTS = 7,
  EMB_ATTR_STRINGS = 8,
  EMB_ATTR_TENSORS = 9,
  EMB_ATTR_GRAPHS = 10,
  EMB_ATTR_SPARSE_TENSOR = 11,
  EMB_ATTR_SPARSE_TENSORS = 12,
  EMB_ATTR_TYPE_PROTO = 13,
  EMB_ATTR_TYPE_PROTOS = 14
};

typedef struct emb_attr {
  const char *name;
  int32_t type;
  float f;
  int64_t i;
  const char *s;      /* STRING: bytes plus a NUL; slen excludes it   */
  size_t slen;
  emb_tensor *t;      /* TENSOR / SPARSE_TENSOR (densified)           */
  emb_graph *g;       /* GRAPH                                        */
  emb_type *tp;       /* TYPE_PROTO                                   */
  size_t n;           /* count for the list types                     */
  float *floats;
  int64_t *ints;
  const char **strings;
  size_t *strlens;
  emb_tensor *tensors;
  emb_graph **graphs;
} emb_attr;

/* A named value of a graph. */
typedef struct emb_val {
  const char *name;
  emb_type type;
  emb_tensor *konst;   /* known constant value (initializer, Constant,
                          folded) or NULL; lives in the model arena      */
  int producer;        /* index of the producing node, -1 if none       */
  int input_index;     /* position in graph inputs, or -1                */
  int output_index;    /* position in graph outputs (first), or -1       */
  int outer;           /* >= 0: this value is captured from the enclosing
                          graph; index of the value there              */
  int n_uses;          /* node inputs (incl. implicit) reading it        */
  bool has_default;    /* an input that also has an initializer          */
  bool has_decl;       /* the model declares a type (ValueInfoProto)     */
  emb_type decl;       /* that declared type                             */
} emb_val;

typedef struct emb_node {
  const char *name;     /* never NULL; "" when the model gives none      */
  const char *op_type;
  const char *domain;   /* "" for the default ONNX domain                */
  int opset;            /* the opset version of that domain in force     */
  const emb_opdef *def; /* from the registry                             */
  int n_in, n_out;
  int *in;              /* value indices; -1 for an omitted optional     */
  int *out;             /* value indices; -1 for an omitted optional     */
  int n_attr;
  emb_attr *attrs;
  int n_implicit;       /* values captured by subgraph attributes        */
  int *implicit;
  void *state;          /* op-private data made by def->init (arena)     */
} emb_node;

struct emb_graph {
  const char *name;
  emb_graph *parent;    /* enclosing graph for subgraphs, else NULL      */
  int n_vals, cap_vals;
  emb_val *vals;
  emb_strmap names;     /* name -> index into vals                       */
  int n_nodes;
  emb_node *nodes;      /* in execution (topological) order              */
  int n_inputs, n_outputs;
  int *inputs;          /* value indices of graph inputs, in order       */
  int *outputs;         /* value indices of graph outputs, in order      */
  int n_outer;          /* values captured from the enclosing graph       */
  struct emb_ir *ir;    /* owning model                                  */
};

/* A whole loaded model. */
typedef struct emb_opset {
  const char *domain;
  int64_t version;
} emb_opset;

typedef struct emb_ir {
  emb_arena arena;
  emb_graph *main;
  int64_t ir_version, model_version;
  const char *producer_name, *producer_version, *domain, *doc_string;
  int n_opsets;
  emb_opset *opsets;
  int n_meta;
  const char **meta_keys, **meta_values;
  /* Symbolic dimension names: symbols[k] for sym k + 1. */
  int n_symbols, cap_symbols;
  const char **symbols;
  uint64_t n_params;
  int n_graphs_alloc;   /* all graphs, to free their maps                 */
  int cap_graphs;
  emb_graph **graphs;
} emb_ir;

/* Create / free a model IR. */
emb_ir *emb_ir_new(void);
void emb_ir_free(emb_ir *ir);
/* A new empty graph owned by ir. */
emb_graph *emb_graph_new(emb_ir *ir, emb_graph *parent, const char *name);
/* Add a named value; returns its index or -1 on OOM / duplicate (d set). */
int emb_graph_add_val(emb_graph *g, const char *name, emb_diag *d);
/* Index of a value by name in g only, or -1. */
int emb_graph_find(const emb_graph *g, const char *name);
/* Symbol id (>0) for a dimension name, creating it; 0 on OOM. */
int32_t emb_ir_symbol(emb_ir *ir, const char *name);
/* The opset version of a domain ("" and "ai.onnx" are the same), or -1. */
int64_t emb_ir_opset(const emb_ir *ir, const char *domain);

/* Attribute lookup on a node; NULL when absent. */
const emb_attr *emb_node_attr(const emb_node *n, const char *name);

/* A short description of a node for messages: "node 'conv1' (Conv)". */
const char *emb_node_desc(const emb_node *n, char *buf, size_t size);

#endif
