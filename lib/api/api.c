/*
 * The public C API (include/ember/ember.h): model and session handles,
 * status strings, introspection, input validation against the model's
 * declared types with symbolic dimensions, and output hand-over.  This is
 * the only file that turns internal state into the ABI's descriptors.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/exec.h"
#include "ir/infer.h"
#include "onnx/loader.h"

struct ember_model {
  ember_status status;
  emb_diag diag;
  emb_ir *ir;
  ember_value_info *in_info, *out_info;
};

struct ember_session {
  ember_status status;
  emb_diag diag;
  const ember_model *model;
  emb_session env;
  emb_frame frame;
  int64_t *sym_vals;     /* per run: size bound to each symbol, -1 unset */
  ember_tensor **seq_items; /* per output: descriptors of sequence items */
  size_t *seq_cap;
  void **prev_out;       /* per graph output: the data pointer the last run
                            handed out, to recognise a reused descriptor */
};

int ember_version_number(void) { return EMBER_VERSION_NUMBER; }
const char *ember_version_string(void) { return EMBER_VERSION_STRING; }

const char *ember_status_str(ember_status st) {
  switch (st) {
    case EMBER_OK: return "ok";
    case EMBER_ERR_INVALID_ARGUMENT: return "invalid argument";
    case EMBER_ERR_OUT_OF_MEMORY: return "out of memory";
    case EMBER_ERR_IO: return "I/O error";
    case EMBER_ERR_PARSE: return "parse error";
    case EMBER_ERR_INVALID_MODEL: return "invalid model";
    case EMBER_ERR_UNSUPPORTED: return "unsupported";
    case EMBER_ERR_TYPE: return "type mismatch";
    case EMBER_ERR_SHAPE: return "shape mismatch";
    case EMBER_ERR_NOT_FOUND: return "not found";
    case EMBER_ERR_MISSING_INPUT: return "missing input";
    case EMBER_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case EMBER_ERR_RUNTIME: return "runtime error";
    case EMBER_ERR_LIMIT: return "limit exceeded";
  }
  return "unknown status";
}

/* ---------------------------------------------------------------- model */

void ember_model_options_init(ember_model_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
}

static const ember_model *emb_ok_model(const ember_model *m) {
  return m && m->status == EMBER_OK && m->ir ? m : NULL;
}

static ember_status emb_fill_info(ember_model *m, const emb_graph *g,
                                  int count, const int *idx,
                                  ember_value_info **out) {
  emb_arena *ar = &m->ir->arena;
  ember_value_info *info = emb_arena_array(ar, (size_t)count + 1, sizeof *info);
  if (!info)
    return emb_fail(&m->diag, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
  for (int i = 0; i < count; i++) {
    const emb_val *v = &g->vals[idx[i]];
    const emb_type *t = v->has_decl ? &v->decl : &v->type;
    info[i].name = v->name;
    info[i].kind = t->kind ? t->kind : EMBER_KIND_TENSOR;
    info[i].elem_kind = t->kind == EMBER_KIND_OPTIONAL ? t->elem_kind : 0;
    info[i].dtype = t->dtype;
    info[i].rank = t->rank;
    if (t->rank > 0) {
      int64_t *dims = emb_arena_array(ar, (size_t)t->rank, sizeof *dims);
      const char **names = emb_arena_array(ar, (size_t)t->rank, sizeof *names);
      if (!dims || !names)
        return emb_fail(&m->diag, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
      for (int r = 0; r < t->rank; r++) {
        dims[r] = t->dims[r].v >= 0 ? t->dims[r].v : -1;
        names[r] = t->dims[r].sym > 0 ? m->ir->symbols[t->dims[r].sym - 1]
                                      : NULL;
      }
      info[i].dims = dims;
      info[i].dim_names = names;
    }
  }
  *out = info;
  return EMBER_OK;
}

static ember_status emb_model_finish(ember_model *m, const void *data,
                                     size_t size, const char *base_dir) {
  ember_status st = emb_onnx_load(data, size, base_dir, &m->ir, &m->diag);
  if (!st) st = emb_graph_prepare(m->ir, m->ir->main, &m->diag);
  if (!st) {
    const emb_graph *g = m->ir->main;
    /* Parameters: floating-point constants still read after folding. */
    m->ir->n_params = 0;
    for (int i = 0; i < g->n_vals; i++) {
      const emb_val *v = &g->vals[i];
      if (v->konst && emb_dtype_is_float(v->konst->dtype) &&
          (v->n_uses > 0 || v->output_index >= 0))
        m->ir->n_params += emb_tensor_numel(v->konst);
    }
    st = emb_fill_info(m, g, g->n_inputs, g->inputs, &m->in_info);
    if (!st) st = emb_fill_info(m, g, g->n_outputs, g->outputs, &m->out_info);
  }
  if (st) {
    emb_ir_free(m->ir);
    m->ir = NULL;
  }
  m->status = st;
  return st;
}

static ember_model *emb_model_new(void) {
  ember_model *m = calloc(1, sizeof *m);
  if (m) emb_diag_clear(&m->diag);
  return m;
}

ember_status ember_model_load_memory(const void *data, size_t size,
                                     const ember_model_options *opts,
                                     ember_model **out_model) {
  if (!out_model) return EMBER_ERR_INVALID_ARGUMENT;
  *out_model = NULL;
  ember_model *m = emb_model_new();
  if (!m) return EMBER_ERR_OUT_OF_MEMORY;
  *out_model = m;
  if (!data && size) {
    m->status = emb_fail(&m->diag, EMBER_ERR_INVALID_ARGUMENT,
                         "ember_model_load_memory: data is NULL");
    return m->status;
  }
  if (opts && opts->struct_size < sizeof(size_t)) {
    m->status = emb_fail(&m->diag, EMBER_ERR_INVALID_ARGUMENT,
                         "ember_model_options.struct_size is not set");
    return m->status;
  }
  const char *base = opts && opts->struct_size >= sizeof *opts ? opts->base_dir
                                                               : NULL;
  return emb_model_finish(m, data ? data : "", size, base);
}

ember_status ember_model_load_file(const char *path,
                                   const ember_model_options *opts,
                                   ember_model **out_model) {
  if (!out_model) return EMBER_ERR_INVALID_ARGUMENT;
  *out_model = NULL;
  ember_model *m = emb_model_new();
  if (!m) return EMBER_ERR_OUT_OF_MEMORY;
  *out_model = m;
  if (!path) {
    m->status = emb_fail(&m->diag, EMBER_ERR_INVALID_ARGUMENT,
                         "ember_model_load_file: path is NULL");
    return m->status;
  }
  if (opts && opts->struct_size < sizeof(size_t)) {
    m->status = emb_fail(&m->diag, EMBER_ERR_INVALID_ARGUMENT,
                         "ember_model_options.struct_size is not set");
    return m->status;
  }
  void *data = NULL;
  size_t size = 0;
  bool mapped = false;
  ember_status st = emb_map_file(path, &data, &size, &mapped, &m->diag);
  if (st) {
    m->status = st;
    return st;
  }
  char *copy = strdup(path);
  if (!copy) {
    emb_unmap_file(data, size, mapped);
    m->status = emb_fail(&m->diag, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
    return m->status;
  }
  const char *base = opts && opts->struct_size >= sizeof *opts && opts->base_dir
                         ? opts->base_dir
                         : dirname(copy);
  st = emb_model_finish(m, data, size, base);
  if (st) emb_diag_prefix(&m->diag, "%s: ", path);
  free(copy);
  emb_unmap_file(data, size, mapped);
  return st;
}

void ember_model_free(ember_model *m) {
  if (!m) return;
  emb_ir_free(m->ir);
  free(m);
}

const char *ember_model_errmsg(const ember_model *m) {
  if (!m) return "no model (NULL handle)";
  return m->diag.msg;
}

ember_status ember_model_status(const ember_model *m) {
  return m ? m->status : EMBER_ERR_INVALID_ARGUMENT;
}

size_t ember_model_input_count(const ember_model *m) {
  return emb_ok_model(m) ? (size_t)m->ir->main->n_inputs : 0;
}

size_t ember_model_output_count(const ember_model *m) {
  return emb_ok_model(m) ? (size_t)m->ir->main->n_outputs : 0;
}

ember_status ember_model_input_info(const ember_model *m, size_t i,
                                    ember_value_info *out) {
  if (!emb_ok_model(m) || !out || i >= (size_t)m->ir->main->n_inputs)
    return EMBER_ERR_INVALID_ARGUMENT;
  *out = m->in_info[i];
  return EMBER_OK;
}

ember_status ember_model_output_info(const ember_model *m, size_t i,
                                     ember_value_info *out) {
  if (!emb_ok_model(m) || !out || i >= (size_t)m->ir->main->n_outputs)
    return EMBER_ERR_INVALID_ARGUMENT;
  *out = m->out_info[i];
  return EMBER_OK;
}

size_t ember_model_opset_count(const ember_model *m) {
  return emb_ok_model(m) ? (size_t)m->ir->n_opsets : 0;
}

ember_status ember_model_opset(const ember_model *m, size_t i,
                               const char **domain, int64_t *version) {
  if (!emb_ok_model(m) || i >= (size_t)m->ir->n_opsets)
    return EMBER_ERR_INVALID_ARGUMENT;
  if (domain) *domain = m->ir->opsets[i].domain;
  if (version) *version = m->ir->opsets[i].version;
  return EMBER_OK;
}

const char *ember_model_string(const ember_model *m, const char *key) {
  if (!emb_ok_model(m) || !key) return NULL;
  if (!strcmp(key, "producer_name")) return m->ir->producer_name;
  if (!strcmp(key, "producer_version")) return m->ir->producer_version;
  if (!strcmp(key, "domain")) return m->ir->domain;
  if (!strcmp(key, "doc_string")) return m->ir->doc_string;
  if (!strcmp(key, "graph_name")) return m->ir->main->name;
  return NULL;
}

int64_t ember_model_ir_version(const ember_model *m) {
  return emb_ok_model(m) ? m->ir->ir_version : 0;
}

int64_t ember_model_version(const ember_model *m) {
  return emb_ok_model(m) ? m->ir->model_version : 0;
}

size_t ember_model_metadata_count(const ember_model *m) {
  return emb_ok_model(m) ? (size_t)m->ir->n_meta : 0;
}

ember_status ember_model_metadata(const ember_model *m, size_t i,
                                  const char **key, const char **value) {
  if (!emb_ok_model(m) || i >= (size_t)m->ir->n_meta)
    return EMBER_ERR_INVALID_ARGUMENT;
  if (key) *key = m->ir->meta_keys[i];
  if (value) *value = m->ir->meta_values[i];
  return EMBER_OK;
}

size_t ember_model_node_count(const ember_model *m) {
  return emb_ok_model(m) ? (size_t)m->ir->main->n_nodes : 0;
}

const char *ember_model_node_op(const ember_model *m, size_t i) {
  if (!emb_ok_model(m) || i >= (size_t)m->ir->main->n_nodes) return NULL;
  return m->ir->main->nodes[i].op_type;
}

uint64_t ember_model_parameter_count(const ember_model *m) {
  return emb_ok_model(m) ? m->ir->n_params : 0;
}

/* -------------------------------------------------------------- session */

void ember_session_options_init(ember_session_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->num_threads = 0;
}

ember_status ember_session_create(const ember_model *model,
                                  const ember_session_options *opts,
                                  ember_session **out) {
  if (!out) return EMBER_ERR_INVALID_ARGUMENT;
  *out = NULL;
  ember_session *s = calloc(1, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  *out = s;
  emb_diag_clear(&s->diag);
  if (!emb_ok_model(model)) {
    s->status = emb_fail(&s->diag, EMBER_ERR_INVALID_ARGUMENT,
                         model ? "the model failed to load: %s"
                               : "ember_session_create: model is NULL%s",
                         model ? model->diag.msg : "");
    return s->status;
  }
  int threads = 0;
  if (opts) {
    if (opts->struct_size < offsetof(ember_session_options, num_threads) +
                                sizeof(int32_t)) {
      s->status = emb_fail(&s->diag, EMBER_ERR_INVALID_ARGUMENT,
                           "ember_session_options.struct_size is not set");
      return s->status;
    }
    if (opts->num_threads < 0) {
      s->status = emb_fail(&s->diag, EMBER_ERR_INVALID_ARGUMENT,
                           "num_threads is negative (%d)",
                           (int)opts->num_threads);
      return s->status;
    }
    threads = opts->num_threads;
  }
  if (threads == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    threads = n > 0 ? (int)n : 1;
  }
  s->model = model;
  emb_session_env_init(&s->env, &s->diag, threads);
  const emb_graph *g = model->ir->main;
  s->sym_vals = calloc((size_t)model->ir->n_symbols + 1, sizeof *s->sym_vals);
  s->seq_items = calloc((size_t)g->n_outputs + 1, sizeof *s->seq_items);
  s->seq_cap = calloc((size_t)g->n_outputs + 1, sizeof *s->seq_cap);
  s->prev_out = calloc((size_t)g->n_outputs + 1, sizeof *s->prev_out);
  if (!s->sym_vals || !s->seq_items || !s->seq_cap || !s->prev_out) {
    s->status = emb_fail(&s->diag, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
    return s->status;
  }
  s->status = emb_frame_init(&s->frame, g, NULL, &s->diag);
  return s->status;
}

void ember_session_free(ember_session *s) {
  if (!s) return;
  emb_frame_free(&s->frame);
  emb_session_env_free(&s->env);
  if (s->seq_items)
    for (int i = 0; s->model && s->model->ir &&
                    i < s->model->ir->main->n_outputs; i++)
      free(s->seq_items[i]);
  free(s->seq_items);
  free(s->seq_cap);
  free(s->prev_out);
  free(s->sym_vals);
  free(s);
}

ember_status ember_session_set_profiler(ember_session *s, ember_profile_fn fn,
                                        void *user) {
  if (!s || !s->model || s->status != EMBER_OK)
    return EMBER_ERR_INVALID_ARGUMENT;
  s->env.prof = fn;
  s->env.prof_user = user;
  return EMBER_OK;
}

const char *ember_session_errmsg(const ember_session *s) {
  if (!s) return "no session (NULL handle)";
  return s->diag.msg;
}

/* Check one input against its declared type and bind it. */
static ember_status emb_bind_input(ember_session *s, int vi,
                                   const ember_value *in) {
  const emb_graph *g = s->model->ir->main;
  const emb_val *v = &g->vals[vi];
  const emb_type *t = v->has_decl ? &v->decl : &v->type;
  const char *const *syms = s->model->ir->symbols;
  emb_diag *d = &s->diag;
  if (in->kind == EMBER_KIND_TENSOR) {
    const ember_tensor *x = &in->tensor;
    if (t->kind && t->kind != EMBER_KIND_TENSOR &&
        !(t->kind == EMBER_KIND_OPTIONAL &&
          (!t->elem_kind || t->elem_kind == EMBER_KIND_TENSOR)))
      return emb_fail(d, EMBER_ERR_TYPE,
                      "input '%s': the model expects a %s, got a tensor",
                      v->name, t->kind == EMBER_KIND_SEQUENCE ? "sequence"
                                                              : "non-tensor");
    if (!emb_dtype_valid(x->dtype))
      return emb_fail(d, EMBER_ERR_TYPE, "input '%s': invalid element type %d",
                      v->name, (int)x->dtype);
    if (t->dtype && x->dtype != t->dtype)
      return emb_fail(d, EMBER_ERR_TYPE,
                      "input '%s' has element type %s, the model expects %s",
                      v->name, ember_dtype_name(x->dtype),
                      ember_dtype_name(t->dtype));
    if (x->rank < 0 || x->rank > EMB_MAX_RANK || (x->rank && !x->dims))
      return emb_fail(d, EMBER_ERR_INVALID_ARGUMENT,
                      "input '%s': invalid rank %d or NULL dims", v->name,
                      (int)x->rank);
    if (t->rank >= 0 && x->rank != t->rank)
      return emb_fail(d, EMBER_ERR_SHAPE,
                      "input '%s' has rank %d, the model expects rank %d",
                      v->name, (int)x->rank, (int)t->rank);
    for (int r = 0; r < x->rank; r++) {
      if (x->dims[r] < 0)
        return emb_fail(d, EMBER_ERR_SHAPE,
                        "input '%s': dimension %d is negative", v->name, r);
      if (t->rank < 0) continue;
      emb_dim dm = t->dims[r];
      if (dm.v >= 0 && dm.v != x->dims[r])
        return emb_fail(d, EMBER_ERR_SHAPE,
                        "input '%s': dimension %d is %lld, the model expects "
                        "%lld",
                        v->name, r, (long long)x->dims[r], (long long)dm.v);
      if (dm.v < 0 && dm.sym > 0) {
        int64_t *bound = &s->sym_vals[dm.sym];
        if (*bound >= 0 && *bound != x->dims[r])
          return emb_fail(d, EMBER_ERR_SHAPE,
                          "input '%s': dimension %d ('%s') is %lld, but "
                          "another input set '%s' to %lld",
                          v->name, r, syms[dm.sym - 1],
                          (long long)x->dims[r], syms[dm.sym - 1],
                          (long long)*bound);
        *bound = x->dims[r];
      }
    }
    size_t n;
    if (!emb_shape_numel(x->rank, x->dims, &n))
      return emb_fail(d, EMBER_ERR_SHAPE, "input '%s': shape too large",
                      v->name);
    size_t need = ember_dtype_bytes(x->dtype, n);
    if (x->nbytes < need || (need && !x->data))
      return emb_fail(d, EMBER_ERR_INVALID_ARGUMENT,
                      "input '%s': %zu bytes given, the shape needs %zu",
                      v->name, x->data ? x->nbytes : 0, need);
    if (x->dtype == EMBER_STRING)
      for (size_t i = 0; i < n; i++)
        if (!((char *const *)x->data)[i])
          return emb_fail(d, EMBER_ERR_INVALID_ARGUMENT,
                          "input '%s': string element %zu is NULL", v->name, i);
    emb_value bv;
    memset(&bv, 0, sizeof bv);
    bv.kind = EMB_VK_TENSOR;
    bv.t.dtype = x->dtype;
    bv.t.rank = x->rank;
    if (x->rank) memcpy(bv.t.dims, x->dims, (size_t)x->rank * sizeof(int64_t));
    bv.t.data = x->data;
    bv.t.nbytes = need;
    emb_frame_bind(&s->frame, vi, &bv);
    return EMBER_OK;
  }
  if (in->kind == EMBER_KIND_SEQUENCE ||
      (in->kind == EMBER_KIND_OPTIONAL && in->has_value &&
       in->elem_kind == EMBER_KIND_SEQUENCE)) {
    if (t->kind == EMBER_KIND_TENSOR)
      return emb_fail(d, EMBER_ERR_TYPE,
                      "input '%s': the model expects a tensor, got a "
                      "sequence",
                      v->name);
    emb_value sv;
    memset(&sv, 0, sizeof sv);
    sv.kind = EMB_VK_SEQUENCE;
    sv.seq.elem_dtype = in->elem_dtype ? in->elem_dtype : t->dtype;
    if (in->count && !in->items)
      return emb_fail(d, EMBER_ERR_INVALID_ARGUMENT,
                      "input '%s': sequence items are NULL", v->name);
    for (size_t i = 0; i < in->count; i++) {
      const ember_tensor *x = &in->items[i];
      emb_tensor tv;
      memset(&tv, 0, sizeof tv);
      size_t n;
      if (x->rank < 0 || x->rank > EMB_MAX_RANK || (x->rank && !x->dims) ||
          !emb_shape_numel(x->rank, x->dims, &n) || !emb_dtype_valid(x->dtype) ||
          x->nbytes < ember_dtype_bytes(x->dtype, n) ||
          (ember_dtype_bytes(x->dtype, n) && !x->data)) {
        emb_value_clear(&sv);
        return emb_fail(d, EMBER_ERR_INVALID_ARGUMENT,
                        "input '%s': sequence item %zu is not a valid tensor",
                        v->name, i);
      }
      if (t->dtype && x->dtype != t->dtype) {
        emb_value_clear(&sv);
        return emb_fail(d, EMBER_ERR_TYPE,
                        "input '%s': item %zu has element type %s, the model "
                        "expects %s",
                        v->name, i, ember_dtype_name(x->dtype),
                        ember_dtype_name(t->dtype));
      }
      tv.dtype = x->dtype;
      tv.rank = x->rank;
      if (x->rank) memcpy(tv.dims, x->dims, (size_t)x->rank * sizeof(int64_t));
      tv.data = x->data;
      tv.nbytes = ember_dtype_bytes(x->dtype, n);
      ember_status st = emb_seq_push(&sv, &tv, d);
      if (st) {
        emb_value_clear(&sv);
        return st;
      }
    }
    emb_frame_bind(&s->frame, vi, &sv);
    s->frame.borrowed[vi] = 0; /* the copy is ours: free it at reset */
    return EMBER_OK;
  }
  if (in->kind == EMBER_KIND_OPTIONAL) {
    if (in->has_value) {
      ember_value inner = *in;
      inner.kind = in->elem_kind;
      return emb_bind_input(s, vi, &inner);
    }
    if (t->kind && t->kind != EMBER_KIND_OPTIONAL)
      return emb_fail(d, EMBER_ERR_TYPE,
                      "input '%s' is not optional but no value was given",
                      v->name);
    emb_value nv;
    memset(&nv, 0, sizeof nv);
    nv.kind = EMB_VK_NONE;
    emb_frame_bind(&s->frame, vi, &nv);
    return EMBER_OK;
  }
  return emb_fail(d, EMBER_ERR_INVALID_ARGUMENT,
                  "input '%s': unknown value kind %d", v->name, (int)in->kind);
}

static ember_status emb_run_common(ember_session *s, size_t n_inputs,
                                   const char *const *names,
                                   const ember_value *inputs) {
  const emb_graph *g = s->model->ir->main;
  emb_diag *d = &s->diag;
  if (n_inputs && (!names || !inputs))
    return emb_fail(d, EMBER_ERR_INVALID_ARGUMENT,
                    "input names or values are NULL");
  emb_frame_reset(&s->frame);
  for (int i = 0; i <= s->model->ir->n_symbols; i++) s->sym_vals[i] = -1;
  for (size_t i = 0; i < n_inputs; i++) {
    if (!names[i])
      return emb_fail(d, EMBER_ERR_INVALID_ARGUMENT, "input name %zu is NULL",
                      i);
    int vi = emb_graph_find(g, names[i]);
    if (vi < 0 || (g->vals[vi].input_index < 0 && !g->vals[vi].has_default)) {
      char list[512];
      size_t k = 0;
      list[0] = '\0';
      for (int j = 0; j < g->n_inputs && k < sizeof list; j++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s'%s'",
                              j ? ", " : "", g->vals[g->inputs[j]].name);
      return emb_fail(d, EMBER_ERR_NOT_FOUND,
                      "the model has no input named '%s' (its inputs: %s)",
                      names[i], list);
    }
    for (size_t j = 0; j < i; j++)
      if (strcmp(names[j], names[i]) == 0)
        return emb_fail(d, EMBER_ERR_INVALID_ARGUMENT,
                        "input '%s' is given twice", names[i]);
    ember_status st = emb_bind_input(s, vi, &inputs[i]);
    if (st) return st;
  }
  for (int j = 0; j < g->n_inputs; j++) {
    int vi = g->inputs[j];
    if (s->frame.vals[vi].kind != EMB_VK_EMPTY) continue;
    const emb_type *t = g->vals[vi].has_decl ? &g->vals[vi].decl
                                             : &g->vals[vi].type;
    if (t->kind == EMBER_KIND_OPTIONAL) continue; /* absent optional */
    return emb_fail(d, EMBER_ERR_MISSING_INPUT, "input '%s' was not given",
                    g->vals[vi].name);
  }
  ember_status st = emb_exec_graph(&s->env, &s->frame);
  if (st) return st;
  /* An output that is just an input must not point at caller memory. */
  for (int j = 0; j < g->n_outputs; j++) {
    int vi = g->outputs[j];
    if (s->frame.borrowed[vi] && !g->vals[vi].konst) {
      emb_value c;
      st = emb_value_copy(&c, &s->frame.vals[vi], d);
      if (st) return st;
      s->frame.vals[vi] = c;
      s->frame.borrowed[vi] = 0;
    }
  }
  return EMBER_OK;
}

static ember_status emb_find_output(ember_session *s, size_t i,
                                    const char *const *names, int *oi) {
  const emb_graph *g = s->model->ir->main;
  if (!names) {
    if (i >= (size_t)g->n_outputs)
      return emb_fail(&s->diag, EMBER_ERR_INVALID_ARGUMENT,
                      "%zu outputs asked for, the model has %d", i + 1,
                      g->n_outputs);
    *oi = (int)i;
    return EMBER_OK;
  }
  for (int j = 0; names[i] && j < g->n_outputs; j++)
    if (strcmp(g->vals[g->outputs[j]].name, names[i]) == 0) {
      *oi = j;
      return EMBER_OK;
    }
  return emb_fail(&s->diag, EMBER_ERR_NOT_FOUND,
                  "the model has no output named '%s'",
                  names[i] ? names[i] : "(NULL)");
}

static void emb_pub_tensor(ember_tensor *p, const emb_tensor *t) {
  p->dtype = t->dtype;
  p->rank = t->rank;
  p->dims = t->dims;
  p->data = t->data;
  p->nbytes = t->nbytes;
}

static ember_status emb_session_check(ember_session *s) {
  if (!s) return EMBER_ERR_INVALID_ARGUMENT;
  if (!s->model || s->status != EMBER_OK) return EMBER_ERR_INVALID_ARGUMENT;
  emb_diag_clear(&s->diag);
  return EMBER_OK;
}

ember_status ember_session_run(ember_session *s, size_t n_inputs,
                               const char *const *input_names,
                               const ember_tensor *inputs, size_t n_outputs,
                               const char *const *output_names,
                               ember_tensor *outputs) {
  if (emb_session_check(s)) return EMBER_ERR_INVALID_ARGUMENT;
  const emb_graph *g = s->model->ir->main;
  if (n_outputs && !outputs)
    return emb_fail(&s->diag, EMBER_ERR_INVALID_ARGUMENT, "outputs is NULL");
  if (n_inputs && !inputs)
    return emb_fail(&s->diag, EMBER_ERR_INVALID_ARGUMENT, "inputs is NULL");
  /* Check the outputs asked for before running anything. */
  for (size_t i = 0; i < n_outputs; i++) {
    int oi;
    ember_status st = emb_find_output(s, i, output_names, &oi);
    if (st) return st;
  }
  /* A descriptor the previous run filled, passed again as is, asks for
   * library-owned data again.  Compare now, while those buffers are still
   * allocated (the run frees them). */
  for (size_t i = 0; i < n_outputs; i++)
    for (int j = 0; outputs[i].data && j < g->n_outputs; j++)
      if (outputs[i].data == s->prev_out[j]) outputs[i].data = NULL;
  /* Wrap the tensors as values; on the stack for the usual handful of
   * inputs, so a run allocates nothing here. */
  ember_value stack_vals[16] = {{0}};
  ember_value *vals = stack_vals;
  if (n_inputs > 16) {
    vals = calloc(n_inputs, sizeof *vals);
    if (!vals)
      return emb_fail(&s->diag, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
  }
  if (n_inputs) {
    for (size_t i = 0; i < n_inputs; i++) {
      vals[i].kind = EMBER_KIND_TENSOR;
      vals[i].tensor = inputs[i];
    }
  }
  ember_status st = emb_run_common(s, n_inputs, input_names, vals);
  if (vals != stack_vals) free(vals);
  for (size_t i = 0; i < n_outputs && !st; i++) {
    int oi;
    st = emb_find_output(s, i, output_names, &oi);
    if (st) break;
    const emb_value *v = &s->frame.vals[g->outputs[oi]];
    const char *name = g->vals[g->outputs[oi]].name;
    if (v->kind != EMB_VK_TENSOR) {
      st = emb_fail(&s->diag, EMBER_ERR_TYPE,
                    "output '%s' is not a tensor: use "
                    "ember_session_run_values",
                    name);
      break;
    }
    if (outputs[i].data) {
      if (v->t.dtype == EMBER_STRING) {
        st = emb_fail(&s->diag, EMBER_ERR_INVALID_ARGUMENT,
                      "output '%s' holds strings, which cannot be copied to "
                      "a caller buffer",
                      name);
        break;
      }
      if (outputs[i].nbytes < v->t.nbytes) {
        st = emb_fail(&s->diag, EMBER_ERR_BUFFER_TOO_SMALL,
                      "output '%s' needs %zu bytes, the buffer has %zu", name,
                      v->t.nbytes, outputs[i].nbytes);
        break;
      }
      if (v->t.nbytes) memcpy(outputs[i].data, v->t.data, v->t.nbytes);
      outputs[i].dtype = v->t.dtype;
      outputs[i].rank = v->t.rank;
      outputs[i].dims = v->t.dims;
      outputs[i].nbytes = v->t.nbytes;
    } else {
      emb_pub_tensor(&outputs[i], &v->t);
    }
  }
  for (int j = 0; j < g->n_outputs; j++)
    s->prev_out[j] = st ? NULL : s->frame.vals[g->outputs[j]].t.data;
  return st;
}

ember_status ember_session_run_values(ember_session *s, size_t n_inputs,
                                      const char *const *input_names,
                                      const ember_value *inputs,
                                      size_t n_outputs,
                                      const char *const *output_names,
                                      ember_value *outputs) {
  if (emb_session_check(s)) return EMBER_ERR_INVALID_ARGUMENT;
  const emb_graph *g = s->model->ir->main;
  if (n_outputs && !outputs)
    return emb_fail(&s->diag, EMBER_ERR_INVALID_ARGUMENT, "outputs is NULL");
  ember_status st = emb_run_common(s, n_inputs, input_names, inputs);
  for (size_t i = 0; i < n_outputs && !st; i++) {
    int oi;
    st = emb_find_output(s, i, output_names, &oi);
    if (st) break;
    const emb_value *v = &s->frame.vals[g->outputs[oi]];
    const emb_val *gv = &g->vals[g->outputs[oi]];
    const emb_type *t = gv->has_decl ? &gv->decl : &gv->type;
    ember_value *o = &outputs[i];
    memset(o, 0, sizeof *o);
    int kind = v->kind == EMB_VK_SEQUENCE ? EMBER_KIND_SEQUENCE
               : v->kind == EMB_VK_TENSOR ? EMBER_KIND_TENSOR
                                          : 0;
    if (kind == EMBER_KIND_TENSOR) {
      emb_pub_tensor(&o->tensor, &v->t);
    } else if (kind == EMBER_KIND_SEQUENCE) {
      size_t n = v->seq.count;
      if (n > s->seq_cap[oi]) {
        ember_tensor *p = realloc(s->seq_items[oi], n * sizeof *p);
        if (!p) {
          st = emb_fail(&s->diag, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
          break;
        }
        s->seq_items[oi] = p;
        s->seq_cap[oi] = n;
      }
      for (size_t k = 0; k < n; k++)
        emb_pub_tensor(&s->seq_items[oi][k], &v->seq.items[k]);
      o->count = n;
      o->items = s->seq_items[oi];
      o->elem_dtype = v->seq.elem_dtype;
    }
    if (t->kind == EMBER_KIND_OPTIONAL || v->kind == EMB_VK_NONE) {
      o->kind = EMBER_KIND_OPTIONAL;
      o->has_value = kind != 0;
      o->elem_kind = kind;
    } else {
      o->kind = kind;
    }
  }
  return st;
}
