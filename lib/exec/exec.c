/*
 * The executor (see exec.h).  Values are freed as soon as their last
 * reader has run, so peak memory follows the graph's live set; the
 * lifetime-based arena planner replaces the per-value allocations later
 * (lib/plan).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/exec.h"
#include "exec/threadpool.h"

void emb_session_env_init(emb_session *s, emb_diag *d, int threads) {
  memset(s, 0, sizeof *s);
  s->diag = d;
  s->pool = threads > 1 ? emb_pool_create(threads) : NULL;
  s->threads = emb_pool_threads(s->pool);
}

void emb_session_env_free(emb_session *s) {
  emb_pool_free(s->pool);
  s->pool = NULL;
  s->threads = 1;
  free(s->scratch);
  s->scratch = NULL;
  s->scratch_cap = 0;
}

void *emb_scratch(emb_run_ctx *c, size_t bytes) {
  emb_session *s = c->session;
  if (bytes < 64) bytes = 64; /* never NULL for a zero-byte request */
  if (bytes > s->scratch_cap) {
    void *p = realloc(s->scratch, bytes);
    if (!p) {
      emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                  "out of memory for %zu bytes of scratch", bytes);
      return NULL;
    }
    s->scratch = p;
    s->scratch_cap = bytes;
  }
  return s->scratch;
}

int emb_run_threads(const emb_run_ctx *c) {
  return c->session && c->session->threads > 0 ? c->session->threads : 1;
}

void emb_parallel_for(emb_run_ctx *c, size_t n, emb_task_fn fn, void *arg) {
  emb_pool_run(c->session ? c->session->pool : NULL, n, fn, arg);
}

/* --------------------------------------------------------------- frames */

ember_status emb_frame_init(emb_frame *f, const emb_graph *g,
                            emb_frame *parent, emb_diag *d) {
  memset(f, 0, sizeof *f);
  f->g = g;
  f->parent = parent;
  size_t n = (size_t)(g->n_vals ? g->n_vals : 1);
  f->vals = calloc(n, sizeof *f->vals);
  f->borrowed = calloc(n, 1);
  f->uses = calloc(n, sizeof *f->uses);
  if (!f->vals || !f->borrowed || !f->uses) {
    emb_frame_free(f);
    return emb_fail(d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
  }
  emb_frame_reset(f);
  return EMBER_OK;
}

void emb_frame_free(emb_frame *f) {
  if (!f->g) return;
  for (int i = 0; f->vals && i < f->g->n_vals; i++)
    if (!f->borrowed[i]) emb_value_clear(&f->vals[i]);
  free(f->vals);
  free(f->borrowed);
  free(f->uses);
  memset(f, 0, sizeof *f);
}

void emb_frame_bind(emb_frame *f, int i, const emb_value *v) {
  if (!f->borrowed[i]) emb_value_clear(&f->vals[i]);
  f->vals[i] = *v;
  f->vals[i].t.owned = false;
  f->borrowed[i] = 1;
}

void emb_frame_reset(emb_frame *f) {
  const emb_graph *g = f->g;
  for (int i = 0; i < g->n_vals; i++) {
    const emb_val *v = &g->vals[i];
    if (!f->borrowed[i]) emb_value_clear(&f->vals[i]);
    memset(&f->vals[i], 0, sizeof f->vals[i]);
    f->borrowed[i] = 0;
    f->uses[i] = v->n_uses;
    if (v->konst) {
      f->vals[i].kind = EMB_VK_TENSOR;
      emb_tensor_view(&f->vals[i].t, v->konst);
      f->borrowed[i] = 1;
    } else if (v->outer >= 0 && f->parent) {
      emb_value pv = f->parent->vals[v->outer];
      f->vals[i] = pv;
      f->vals[i].t.owned = false;
      f->borrowed[i] = 1;
    }
  }
}

/* ------------------------------------------------------------ execution */

void emb_value_type(const emb_value *v, emb_type *t) {
  emb_type_unknown(t);
  if (!v) return;
  if (v->kind == EMB_VK_TENSOR) {
    emb_type_tensor(t, v->t.dtype, v->t.rank, v->t.dims);
  } else if (v->kind == EMB_VK_SEQUENCE) {
    t->kind = EMBER_KIND_SEQUENCE;
    t->elem_kind = EMBER_KIND_TENSOR;
    t->dtype = v->seq.elem_dtype;
    t->rank = -1;
  } else if (v->kind == EMB_VK_NONE) {
    t->kind = EMBER_KIND_OPTIONAL;
  }
}

ember_status emb_exec_node(emb_session *s, emb_frame *f, const emb_node *n,
                           emb_value *const *in, emb_value *const *out) {
  emb_type in_types[n->n_in ? n->n_in : 1];
  const emb_type *in_tp[n->n_in ? n->n_in : 1];
  const emb_tensor *vals[n->n_in ? n->n_in : 1];
  emb_type out_types[n->n_out ? n->n_out : 1];
  const emb_opdef *def = n->def;
  ember_status st;
  for (int k = 0; k < n->n_in; k++) {
    in_tp[k] = NULL;
    vals[k] = NULL;
    if (!in[k]) continue;
    emb_value_type(in[k], &in_types[k]);
    in_tp[k] = &in_types[k];
    if (in[k]->kind == EMB_VK_TENSOR) vals[k] = &in[k]->t;
  }
  for (int k = 0; k < n->n_out; k++) emb_type_unknown(&out_types[k]);
  emb_infer_ctx ic = {
      .node = n, .n_in = n->n_in, .in = in_tp, .values = vals,
      .rvalues = (const emb_value *const *)in, .n_out = n->n_out,
      .out = out_types, .at_run = true, .diag = s->diag};
  if (def->infer && (st = def->infer(&ic))) return st;
  if (!(def->flags & EMB_OP_OWN_OUTPUTS)) {
    for (int k = 0; k < n->n_out; k++) {
      if (!out[k]) continue;
      const emb_type *t = &out_types[k];
      if (t->kind != EMBER_KIND_TENSOR) continue; /* op builds it */
      if (!emb_type_static(t))
        return emb_op_fail(s->diag, n, EMBER_ERR_RUNTIME,
                           "could not determine the shape of output %d", k);
      int64_t dims[EMB_MAX_RANK];
      for (int r = 0; r < t->rank; r++) dims[r] = t->dims[r].v;
      st = emb_tensor_alloc(&out[k]->t, t->dtype, t->rank, dims, s->diag);
      if (st) {
        emb_diag_prefix(s->diag, "%s: output %d: ", n->op_type, k);
        return st;
      }
      out[k]->kind = EMB_VK_TENSOR;
    }
  }
  emb_run_ctx rc = {.node = n, .n_in = n->n_in, .in = in, .n_out = n->n_out,
                    .out = out, .session = s, .diag = s->diag, .frame = f};
  st = def->run(&rc);
  if (st) {
    if (!s->diag->status)
      emb_op_fail(s->diag, n, st, "failed (%s)", ember_status_str(st));
    return st;
  }
  for (int k = 0; k < n->n_out; k++)
    if (out[k] && out[k]->kind == EMB_VK_EMPTY)
      return emb_op_fail(s->diag, n, EMBER_ERR_RUNTIME,
                         "produced no value for output %d", k);
  return EMBER_OK;
}

static void emb_release(emb_frame *f, int v) {
  if (v < 0) return;
  if (--f->uses[v] > 0) return;
  if (f->borrowed[v] || f->g->vals[v].output_index >= 0) return;
  emb_value_clear(&f->vals[v]);
}

static ember_status emb_exec_nodes(emb_session *s, emb_frame *f) {
  const emb_graph *g = f->g;
  for (int i = 0; i < g->n_nodes; i++) {
    const emb_node *n = &g->nodes[i];
    emb_value *in[n->n_in ? n->n_in : 1];
    emb_value *out[n->n_out ? n->n_out : 1];
    for (int k = 0; k < n->n_in; k++) {
      int v = n->in[k];
      in[k] = NULL;
      if (v < 0) continue;
      if (f->vals[v].kind == EMB_VK_EMPTY) {
        /* An optional input the caller did not give (directly or through
         * the enclosing graph); the op sees NULL. */
        if (g->vals[v].input_index >= 0 || g->vals[v].outer >= 0) continue;
        return emb_op_fail(s->diag, n, EMBER_ERR_RUNTIME,
                           "input '%s' has no value", g->vals[v].name);
      }
      in[k] = &f->vals[v];
    }
    for (int k = 0; k < n->n_out; k++) {
      int v = n->out[k];
      out[k] = v >= 0 ? &f->vals[v] : NULL;
      if (out[k]) emb_value_clear(out[k]);
    }
    ember_status st;
    if (s->prof && !f->parent) {
      struct timespec t0, t1;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      st = emb_exec_node(s, f, n, in, out);
      clock_gettime(CLOCK_MONOTONIC, &t1);
      s->prof(s->prof_user, (size_t)i, n->op_type, n->name,
              (uint64_t)t0.tv_sec * 1000000000u + (uint64_t)t0.tv_nsec,
              (uint64_t)t1.tv_sec * 1000000000u + (uint64_t)t1.tv_nsec);
    } else {
      st = emb_exec_node(s, f, n, in, out);
    }
    if (st) return st;
    for (int k = 0; k < n->n_in; k++) emb_release(f, n->in[k]);
    for (int k = 0; k < n->n_implicit; k++) emb_release(f, n->implicit[k]);
  }
  return EMBER_OK;
}

ember_status emb_exec_graph(emb_session *s, emb_frame *f) {
  if (f->parent) return emb_exec_nodes(s, f);
  /* The main graph: the pool's threads stay ready between nodes. */
  emb_pool_begin(s->pool);
  ember_status st = emb_exec_nodes(s, f);
  emb_pool_end(s->pool);
  return st;
}

ember_status emb_run_subgraph(emb_run_ctx *c, const emb_graph *g, int n_in,
                              const emb_value *const *in, int n_out,
                              emb_value *out) {
  emb_frame f;
  if (n_in != g->n_inputs)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "subgraph '%s' takes %d inputs, %d given", g->name,
                       g->n_inputs, n_in);
  if (n_out > g->n_outputs)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "subgraph '%s' has %d outputs, %d wanted", g->name,
                       g->n_outputs, n_out);
  ember_status st = emb_frame_init(&f, g, c->frame, c->diag);
  if (st) return st;
  for (int i = 0; i < n_in; i++)
    if (in[i]) emb_frame_bind(&f, g->inputs[i], in[i]);
  st = emb_exec_graph(c->session, &f);
  for (int i = 0; i < n_out && !st; i++) {
    int v = g->outputs[i];
    emb_value_clear(&out[i]);
    if (f.borrowed[v] || f.uses[v] > 0) {
      st = emb_value_copy(&out[i], &f.vals[v], c->diag);
    } else {
      out[i] = f.vals[v]; /* move */
      memset(&f.vals[v], 0, sizeof f.vals[v]);
    }
    /* A value listed twice as output was moved already: copy instead. */
    for (int j = i + 1; j < g->n_outputs; j++)
      if (g->outputs[j] == v && !f.borrowed[v]) {
        f.vals[v] = out[i];
        f.borrowed[v] = 1;
      }
  }
  if (st) {
    char desc[300];
    emb_diag_prefix(c->diag, "in subgraph '%s' of %s: ", g->name,
                    emb_node_desc(c->node, desc, sizeof desc));
  }
  emb_frame_free(&f);
  return st;
}
