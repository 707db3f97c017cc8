/*
 * Operators of the ai.onnx.ml domain: LabelEncoder (versions 1, 2 and 4),
 * TreeEnsemble (version 5), Binarizer and ArrayFeatureExtractor (version
 * 1).  The attribute-heavy ones (LabelEncoder, TreeEnsemble) turn their
 * attributes into compact tables in the model arena at load (sorted keys
 * for a binary search; trees as child-index arrays checked to be acyclic),
 * so that a run only looks things up.  Outputs are plain tensors whose
 * shape follows from the inputs' shapes.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

/* ------------------------------------------------------------- helpers */

static const emb_attr *ml_attr(const emb_node *n, const char *name) {
  return emb_node_attr(n, name);
}

/* An invalid-model failure at init, naming the node. */
#define ML_BAD(c, ...) \
  emb_op_fail((c)->diag, (c)->node, EMBER_ERR_INVALID_MODEL, __VA_ARGS__)

/* Element size in bytes of a fixed-size type (0 for strings and the
 * packed sub-byte types). */
static size_t ml_elem_size(int32_t dtype) {
  int bits = emb_dtype_bits(dtype);
  return dtype != EMBER_STRING && bits >= 8 ? (size_t)bits / 8 : 0;
}

/* strdup is POSIX, not C11. */
static char *ml_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* Input 0 at infer must be present and a tensor (or not known yet). */
static ember_status ml_want_tensor(emb_infer_ctx *c, int i) {
  const emb_type *t = i < c->n_in ? c->in[i] : NULL;
  if (!t)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "input %d is required", i);
  if (t->kind && t->kind != EMBER_KIND_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input %d must be a tensor", i);
  return EMBER_OK;
}

/* -------------------------------------------------------- LabelEncoder */

/* Keys are compared as 64-bit codes: integers as their int64 value; floats
 * (version 4) as the bits of the double, with every NaN one NaN and -0
 * made +0, so that equal values (and any two NaNs) meet; floats in
 * versions 2 and 3 as the bits of the float, the bit-wise comparison those
 * versions specify.  The (code, position) pairs are sorted and duplicates
 * dropped so that the last key wins (the first, for version 1's
 * classes_strings, where a string's number is the first index it has).
 * Values are kept as an array of the output type, so a run copies
 * elements.
 *
 * Version 1 maps strings to their index in classes_strings (default_int64
 * for the rest) or integers to the class at that index (default_string
 * when out of range).  Which way is given by the default attribute that is
 * set; with neither, by the input's element type. */

typedef struct le_key {
  uint64_t code;     /* numeric keys */
  const char *s;     /* string keys  */
  size_t len;
  size_t pos;        /* position in the keys attribute */
} le_key;

typedef struct le_state {
  int version;         /* 1, 2 (and 3) or 4 */
  int32_t key_dtype;   /* 0 for version 1 with no default set */
  int32_t val_dtype;
  bool bitwise;        /* versions 2-3: float keys by bits */
  size_t n;            /* distinct keys */
  le_key *keys;        /* sorted */
  const void *vals;    /* n values of val_dtype, parallel to keys[i].pos */
  const void *def;     /* one value of val_dtype (char * for strings) */
  /* version 1 */
  const char *const *classes;
  size_t n_classes;
  int64_t def_int;
  const char *def_str;
} le_state;

static int le_cmp_code(const void *a, const void *b) {
  const le_key *x = a, *y = b;
  if (x->code != y->code) return x->code < y->code ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int le_cmp_str(const char *a, size_t an, const char *b, size_t bn) {
  int r = memcmp(a, b, an < bn ? an : bn);
  if (r) return r;
  return an < bn ? -1 : an > bn;
}

static int le_cmp_skey(const void *a, const void *b) {
  const le_key *x = a, *y = b;
  int r = le_cmp_str(x->s, x->len, y->s, y->len);
  if (r) return r;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The comparison code of element i of a numeric tensor of type dt. */
static uint64_t le_code(const le_state *s, int32_t dt, const void *p,
                        size_t i) {
  double d;
  switch (dt) {
    case EMBER_INT64: return (uint64_t)((const int64_t *)p)[i];
    case EMBER_INT32: return (uint64_t)(int64_t)((const int32_t *)p)[i];
    case EMBER_INT16: return (uint64_t)(int64_t)((const int16_t *)p)[i];
    case EMBER_FLOAT:
      if (s->bitwise) {
        uint32_t b;
        memcpy(&b, (const float *)p + i, sizeof b);
        return b;
      }
      d = ((const float *)p)[i];
      break;
    default: d = ((const double *)p)[i]; break;
  }
  if (isnan(d)) return 0x7ff8000000000000u;
  if (d == 0) d = 0; /* -0 -> +0 */
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  return b;
}

/* Where key element i of the input sits among the keys, or -1. */
static ptrdiff_t le_find(const le_state *s, const emb_tensor *x, size_t i) {
  size_t lo = 0, hi = s->n;
  if (x->dtype == EMBER_STRING) {
    const char *e = ((char *const *)x->data)[i];
    if (!e) e = "";
    size_t len = strlen(e);
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      int r = le_cmp_str(s->keys[mid].s, s->keys[mid].len, e, len);
      if (!r) return (ptrdiff_t)mid;
      if (r < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    return -1;
  }
  uint64_t code = le_code(s, x->dtype, x->data, i);
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->keys[mid].code == code) return (ptrdiff_t)mid;
    if (s->keys[mid].code < code)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

/* One list attribute (keys_* or values_*) found on the node. */
typedef struct le_list {
  const char *name;
  int32_t dtype;
  size_t n;
  const void *data;   /* int64, float, char * or the tensor's data */
  const size_t *lens; /* strings: lengths (NULL: use strlen) */
} le_list;

static bool le_tensor_dtype_ok(int32_t dt) {
  return dt == EMBER_STRING || dt == EMBER_INT64 || dt == EMBER_FLOAT ||
         dt == EMBER_INT32 || dt == EMBER_INT16 || dt == EMBER_DOUBLE;
}

/* Find exactly one of prefix_strings / _int64s / _floats / _tensor. */
static ember_status le_get_list(emb_init_ctx *c, const char *prefix,
                                le_list *out) {
  static const char *const suffix[] = {"strings", "int64s", "floats",
                                       "tensor"};
  static const int types[] = {EMB_ATTR_STRINGS, EMB_ATTR_INTS,
                              EMB_ATTR_FLOATS, EMB_ATTR_TENSOR};
  int found = 0;
  memset(out, 0, sizeof *out);
  for (int k = 0; k < 4; k++) {
    char name[32];
    snprintf(name, sizeof name, "%s_%s", prefix, suffix[k]);
    const emb_attr *a = ml_attr(c->node, name);
    if (!a) continue;
    if (found++)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "only one of the attributes %s_* may be set, not "
                         "both '%s' and '%s'",
                         prefix, out->name, a->name);
    out->name = a->name;
    if (a->type != types[k])
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "attribute '%s' has the wrong type", a->name);
    switch (k) {
      case 0:
        out->dtype = EMBER_STRING;
        out->n = a->n;
        out->data = a->strings;
        out->lens = a->strlens;
        break;
      case 1:
        out->dtype = EMBER_INT64;
        out->n = a->n;
        out->data = a->ints;
        break;
      case 2:
        out->dtype = EMBER_FLOAT;
        out->n = a->n;
        out->data = a->floats;
        break;
      default:
        if (!a->t || !le_tensor_dtype_ok(a->t->dtype))
          return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                             "attribute '%s' must be a tensor of strings, "
                             "int64, int32, int16, float or double",
                             a->name);
        out->dtype = a->t->dtype;
        out->n = emb_tensor_numel(a->t);
        out->data = a->t->data;
        break;
    }
  }
  if (!found)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "one of the attributes %s_strings, %s_int64s, "
                       "%s_floats or %s_tensor is required",
                       prefix, prefix, prefix, prefix);
  return EMBER_OK;
}

/* Sort the keys and drop duplicates: the last (or, `keep_first`, the
 * first) of equal keys stays.  Returns the distinct count. */
static size_t le_sort(le_key *k, size_t n, bool strings, bool keep_first) {
  if (!n) return 0;
  qsort(k, n, sizeof *k, strings ? le_cmp_skey : le_cmp_code);
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    bool same = m && (strings ? le_cmp_str(k[m - 1].s, k[m - 1].len, k[i].s,
                                           k[i].len) == 0
                              : k[m - 1].code == k[i].code);
    if (!same)
      k[m++] = k[i];
    else if (!keep_first)
      k[m - 1] = k[i]; /* sorted by position: i is later */
  }
  return m;
}

static ember_status le_init_v1(emb_init_ctx *c, le_state *s) {
  emb_arena *ar = &c->ir->arena;
  const emb_attr *cls = ml_attr(c->node, "classes_strings");
  const emb_attr *di = ml_attr(c->node, "default_int64");
  const emb_attr *ds = ml_attr(c->node, "default_string");
  if (cls && cls->type != EMB_ATTR_STRINGS)
    return ML_BAD(c, "attribute '%s' must be a list of strings",
                  "classes_strings");
  if (di && ds)
    return ML_BAD(c, "only one of the attributes default_int64 and "
                     "default_string may be set");
  ember_status st = emb_attr_int(c->node, "default_int64", -1, &s->def_int,
                                 c->diag);
  if (!st)
    st = emb_attr_string(c->node, "default_string", "_Unused", &s->def_str,
                         c->diag);
  if (st) return st;
  s->key_dtype = di ? EMBER_STRING : ds ? EMBER_INT64 : 0;
  s->val_dtype = di ? EMBER_INT64 : ds ? EMBER_STRING : 0;
  s->classes = cls ? cls->strings : NULL;
  s->n_classes = cls ? cls->n : 0;
  size_t n = s->n_classes;
  s->keys = emb_arena_array(ar, n ? n : 1, sizeof *s->keys);
  if (!s->keys)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  for (size_t i = 0; i < n; i++) {
    s->keys[i].s = cls->strings[i];
    s->keys[i].len = cls->strlens ? cls->strlens[i] : strlen(cls->strings[i]);
    s->keys[i].pos = i;
  }
  s->n = le_sort(s->keys, n, true, true);
  return EMBER_OK;
}

static ember_status le_init(emb_init_ctx *c) {
  emb_arena *ar = &c->ir->arena;
  le_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  int v = c->node->opset;
  s->version = v >= 4 ? 4 : v >= 2 ? 2 : 1;
  if (s->version == 1) {
    ember_status st = le_init_v1(c, s);
    if (!st) c->node->state = s;
    return st;
  }
  s->bitwise = s->version == 2;
  le_list keys, vals;
  ember_status st = le_get_list(c, "keys", &keys);
  if (!st) st = le_get_list(c, "values", &vals);
  if (st) return st;
  if (keys.n != vals.n)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "'%s' has %zu entries but '%s' has %zu", keys.name,
                       keys.n, vals.name, vals.n);
  s->key_dtype = keys.dtype;
  s->val_dtype = vals.dtype;

  /* Keys. */
  size_t n = keys.n;
  s->keys = emb_arena_array(ar, n ? n : 1, sizeof *s->keys);
  if (!s->keys)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  for (size_t i = 0; i < n; i++) {
    le_key *k = &s->keys[i];
    k->pos = i;
    if (keys.dtype == EMBER_STRING) {
      k->s = ((const char *const *)keys.data)[i];
      if (!k->s) k->s = "";
      k->len = keys.lens ? keys.lens[i] : strlen(k->s);
    } else {
      k->code = le_code(s, keys.dtype, keys.data, i);
    }
  }
  s->n = le_sort(s->keys, n, keys.dtype == EMBER_STRING, false);

  /* Values (kept in the attribute's storage, which lives in the arena). */
  s->vals = vals.data;

  /* The default: default_tensor, else the default_* of the values' kind. */
  const emb_attr *dt = ml_attr(c->node, "default_tensor");
  size_t es = vals.dtype == EMBER_STRING ? sizeof(char *)
                                         : ml_elem_size(vals.dtype);
  void *def = emb_arena_alloc(ar, es);
  if (!def)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  if (dt) {
    if (dt->type != EMB_ATTR_TENSOR || !dt->t)
      return ML_BAD(c, "attribute '%s' must be a tensor", "default_tensor");
    if (dt->t->dtype != vals.dtype || emb_tensor_numel(dt->t) != 1)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "attribute 'default_tensor' must hold one %s "
                         "(the type of '%s')",
                         ember_dtype_name(vals.dtype), vals.name);
    memcpy(def, dt->t->data, es);
  } else if (vals.dtype == EMBER_STRING) {
    const char *d;
    st = emb_attr_string(c->node, "default_string", "_Unused", &d, c->diag);
    if (st) return st;
    memcpy(def, &d, sizeof d);
  } else if (vals.dtype == EMBER_FLOAT || vals.dtype == EMBER_DOUBLE) {
    float f;
    st = emb_attr_float(c->node, "default_float", -0.0f, &f, c->diag);
    if (st) return st;
    emb_tensor t = {.dtype = vals.dtype, .data = def};
    emb_tensor_set_f64(&t, 0, f);
  } else {
    int64_t i;
    st = emb_attr_int(c->node, "default_int64", -1, &i, c->diag);
    if (st) return st;
    emb_tensor t = {.dtype = vals.dtype, .data = def};
    emb_tensor_set_i64(&t, 0, i);
  }
  s->def = def;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status le_infer(emb_infer_ctx *c) {
  static const int32_t v1_types[] = {EMBER_STRING, EMBER_INT64, 0};
  const le_state *s = c->node->state;
  ember_status st = ml_want_tensor(c, 0);
  if (st) return st;
  const emb_type *x = c->in[0];
  int32_t xd = x->kind ? x->dtype : 0;
  if (s->version == 1 && !s->key_dtype) {
    st = emb_infer_check_dtype(c, 0, v1_types);
    if (st) return st;
  } else if (xd && xd != s->key_dtype) {
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input has element type %s but the keys are %s",
                       ember_dtype_name(xd),
                       ember_dtype_name(s->key_dtype));
  }
  int32_t yd = s->val_dtype;
  if (!yd && xd) yd = xd == EMBER_STRING ? EMBER_INT64 : EMBER_STRING;
  if (x->kind) {
    c->out[0] = *x;
    c->out[0].dtype = yd;
  } else {
    emb_type_tensor(&c->out[0], yd, -1, NULL);
  }
  if (!yd) emb_type_unknown(&c->out[0]);
  return EMBER_OK;
}

static ember_status le_put_string(emb_run_ctx *c, emb_tensor *y, size_t i,
                                  const char *v) {
  char *r = ml_strdup(v ? v : "");
  if (!r)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  char **o = y->data;
  free(o[i]);
  o[i] = r;
  return EMBER_OK;
}

static ember_status le_run(emb_run_ctx *c) {
  const le_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  if (!y) return EMBER_OK;
  size_t n = emb_tensor_numel(x);
  if (s->version == 1 && x->dtype == EMBER_INT64) {
    for (size_t i = 0; i < n; i++) {
      int64_t k = ((const int64_t *)x->data)[i];
      const char *v = k >= 0 && (uint64_t)k < s->n_classes
                          ? s->classes[k]
                          : s->def_str;
      ember_status st = le_put_string(c, y, i, v);
      if (st) return st;
    }
    return EMBER_OK;
  }
  if (s->version == 1) {
    for (size_t i = 0; i < n; i++) {
      ptrdiff_t k = le_find(s, x, i);
      ((int64_t *)y->data)[i] =
          k < 0 ? s->def_int : (int64_t)s->keys[k].pos;
    }
    return EMBER_OK;
  }
  if (y->dtype == EMBER_STRING) {
    const char *const *vals = s->vals;
    for (size_t i = 0; i < n; i++) {
      ptrdiff_t k = le_find(s, x, i);
      const char *v = k < 0 ? *(const char *const *)s->def
                            : vals[s->keys[k].pos];
      ember_status st = le_put_string(c, y, i, v);
      if (st) return st;
    }
    return EMBER_OK;
  }
  size_t es = ml_elem_size(y->dtype);
  const char *vals = s->vals;
  char *out = y->data;
  for (size_t i = 0; i < n; i++) {
    ptrdiff_t k = le_find(s, x, i);
    memcpy(out + i * es, k < 0 ? s->def : vals + s->keys[k].pos * es, es);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_labelencoder = {1, 1, 1, 1, 0, le_init, le_infer,
                                       le_run};

/* -------------------------------------------------------- TreeEnsemble */

/* A node's two children are encoded in one int64 each: >= 0 an interior
 * node, < 0 leaf -(c + 1).  Thresholds and set members are kept three
 * times, exactly and rounded to float and to float16, so that a tree
 * compares in the input's own type (as a float input's 1.2f against a
 * threshold written as the double 1.2 must) while always working in
 * doubles.  A NaN feature takes the branch nodes_missing_value_tracks_true
 * says (false by default) whatever the mode.  Scores accumulate in double
 * per target; a target no leaf reached scores 0 under every aggregate. */

enum { TE_LEQ, TE_LT, TE_GTE, TE_GT, TE_EQ, TE_NEQ, TE_MEMBER };
enum { TE_AVERAGE, TE_SUM, TE_MIN, TE_MAX };
enum { TE_NONE, TE_SOFTMAX, TE_LOGISTIC, TE_SOFTMAX_ZERO, TE_PROBIT };

typedef struct te_state {
  size_t n_nodes, n_leaves, n_trees;
  int64_t n_targets;
  int agg, post;
  int64_t max_feature;
  int64_t *feature;
  uint8_t *mode;
  uint8_t *nan_true;
  int64_t *child[2];     /* [0] true branch, [1] false branch */
  double *split[3];      /* exact, float-rounded, float16-rounded */
  size_t *set_start, *set_len; /* members of node i's set */
  double *members[3];
  int64_t *roots;
  int64_t *leaf_target;
  double *leaf_weight;
} te_state;

static ember_status te_ints(emb_init_ctx *c, const char *name, bool required,
                            const int64_t **v, size_t *n) {
  const emb_attr *a = ml_attr(c->node, name);
  if (!a && required)
    return ML_BAD(c, "attribute '%s' is required", name);
  return emb_attr_ints(c->node, name, v, n, c->diag);
}

/* A tensor attribute as n doubles (float, double or float16 data). */
static ember_status te_reals(emb_init_ctx *c, const char *name,
                            bool required, const emb_tensor **out) {
  const emb_attr *a = ml_attr(c->node, name);
  *out = NULL;
  if (!a) return required ? ML_BAD(c, "attribute '%s' is required", name)
                          : EMBER_OK;
  if (a->type != EMB_ATTR_TENSOR || !a->t)
    return ML_BAD(c, "attribute '%s' must be a tensor", name);
  int32_t dt = a->t->dtype;
  if (dt != EMBER_FLOAT && dt != EMBER_DOUBLE && dt != EMBER_FLOAT16)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute '%s' must be a float, double or float16 "
                       "tensor, not %s",
                       name, ember_dtype_name(dt));
  *out = a->t;
  return EMBER_OK;
}

/* Fill r[0..2][i] with v exactly, as float and as float16. */
static void te_round3(double *r[3], size_t i, double v) {
  r[0][i] = v;
  r[1][i] = (float)v;
  r[2][i] = emb_f16_to_f32(emb_f32_to_f16((float)v));
}

/* Every interior node must lead to leaves: no cycles (Kahn's algorithm
 * over the child links between interior nodes). */
static bool te_acyclic(const te_state *s, emb_arena *ar) {
  size_t n = s->n_nodes;
  int64_t *indeg = emb_arena_array(ar, n ? n : 1, sizeof *indeg);
  size_t *queue = emb_arena_array(ar, n ? n : 1, sizeof *queue);
  if (!indeg || !queue) return false;
  for (size_t i = 0; i < n; i++)
    for (int b = 0; b < 2; b++)
      if (s->child[b][i] >= 0) indeg[s->child[b][i]]++;
  size_t head = 0, tail = 0;
  for (size_t i = 0; i < n; i++)
    if (!indeg[i]) queue[tail++] = i;
  while (head < tail) {
    size_t i = queue[head++];
    for (int b = 0; b < 2; b++) {
      int64_t ch = s->child[b][i];
      if (ch >= 0 && --indeg[ch] == 0) queue[tail++] = (size_t)ch;
    }
  }
  return tail == n;
}

static ember_status te_init(emb_init_ctx *c) {
  emb_arena *ar = &c->ir->arena;
  te_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  const int64_t *feat, *tids, *tleaf, *fids, *fleaf, *nantrue, *ltarget,
      *roots;
  size_t n_feat, n_tids, n_tleaf, n_fids, n_fleaf, n_nantrue, n_ltarget,
      n_roots;
  const emb_tensor *modes_t, *splits_t, *weights_t, *members_t;
  int64_t agg, post, n_targets;
  ember_status st = te_ints(c, "nodes_featureids", true, &feat, &n_feat);
  if (!st) st = te_ints(c, "nodes_truenodeids", true, &tids, &n_tids);
  if (!st) st = te_ints(c, "nodes_trueleafs", true, &tleaf, &n_tleaf);
  if (!st) st = te_ints(c, "nodes_falsenodeids", true, &fids, &n_fids);
  if (!st) st = te_ints(c, "nodes_falseleafs", true, &fleaf, &n_fleaf);
  if (!st)
    st = te_ints(c, "nodes_missing_value_tracks_true", false, &nantrue,
                 &n_nantrue);
  if (!st) st = te_ints(c, "leaf_targetids", true, &ltarget, &n_ltarget);
  if (!st) st = te_ints(c, "tree_roots", true, &roots, &n_roots);
  if (!st) st = te_reals(c, "nodes_splits", true, &splits_t);
  if (!st) st = te_reals(c, "leaf_weights", true, &weights_t);
  if (!st) st = te_reals(c, "membership_values", false, &members_t);
  if (!st)
    st = emb_attr_int(c->node, "aggregate_function", TE_SUM, &agg, c->diag);
  if (!st)
    st = emb_attr_int(c->node, "post_transform", TE_NONE, &post, c->diag);
  if (!st) st = emb_attr_int(c->node, "n_targets", -1, &n_targets, c->diag);
  if (st) return st;
  const emb_attr *ma = ml_attr(c->node, "nodes_modes");
  if (!ma) return ML_BAD(c, "attribute '%s' is required", "nodes_modes");
  if (ma->type != EMB_ATTR_TENSOR || !ma->t ||
      !emb_dtype_is_int(ma->t->dtype))
    return ML_BAD(c, "attribute '%s' must be an integer (uint8) tensor",
                  "nodes_modes");
  modes_t = ma->t;
  if (agg < TE_AVERAGE || agg > TE_MAX)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'aggregate_function' must be 0-3, not %lld",
                       (long long)agg);
  if (post < TE_NONE || post > TE_PROBIT)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'post_transform' must be 0-4, not %lld",
                       (long long)post);
  size_t n = n_feat, nl = n_ltarget;
  if (n_tids != n || n_tleaf != n || n_fids != n || n_fleaf != n ||
      (n_nantrue && n_nantrue != n) || emb_tensor_numel(modes_t) != n ||
      emb_tensor_numel(splits_t) != n)
    return ML_BAD(c, "the nodes_* attributes must all have the same "
                     "length");
  if (emb_tensor_numel(weights_t) != nl)
    return ML_BAD(c, "attributes 'leaf_targetids' and 'leaf_weights' must "
                     "have the same length");
  if (!n || !n_roots)
    return ML_BAD(c, "the ensemble has no trees");
  s->n_nodes = n;
  s->n_leaves = nl;
  s->n_trees = n_roots;
  s->agg = (int)agg;
  s->post = (int)post;

  s->feature = emb_arena_memdup(ar, feat, n * sizeof *feat);
  s->mode = emb_arena_alloc(ar, n);
  s->nan_true = emb_arena_alloc(ar, n);
  s->child[0] = emb_arena_array(ar, n, sizeof(int64_t));
  s->child[1] = emb_arena_array(ar, n, sizeof(int64_t));
  s->set_start = emb_arena_array(ar, n, sizeof(size_t));
  s->set_len = emb_arena_array(ar, n, sizeof(size_t));
  s->roots = emb_arena_memdup(ar, roots, n_roots * sizeof *roots);
  s->leaf_target = emb_arena_memdup(ar, ltarget, nl ? nl * sizeof *ltarget
                                                    : 1);
  s->leaf_weight = emb_arena_array(ar, nl ? nl : 1, sizeof(double));
  bool ok = s->feature && s->mode && s->nan_true && s->child[0] &&
            s->child[1] && s->set_start && s->set_len && s->roots &&
            s->leaf_target && s->leaf_weight;
  for (int r = 0; r < 3 && ok; r++)
    ok = (s->split[r] = emb_arena_array(ar, n, sizeof(double))) != NULL;
  if (!ok)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");

  size_t n_member_nodes = 0;
  s->max_feature = -1;
  for (size_t i = 0; i < n; i++) {
    int64_t m = emb_tensor_get_i64(modes_t, i);
    if (m < TE_LEQ || m > TE_MEMBER)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "nodes_modes[%zu] = %lld is not a mode (0-6)", i,
                         (long long)m);
    s->mode[i] = (uint8_t)m;
    if (m == TE_MEMBER) n_member_nodes++;
    if (feat[i] < 0)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "nodes_featureids[%zu] = %lld is negative", i,
                         (long long)feat[i]);
    if (feat[i] > s->max_feature) s->max_feature = feat[i];
    s->nan_true[i] = n_nantrue && nantrue[i] != 0;
    te_round3(s->split, i, emb_tensor_get_f64(splits_t, i));
    const int64_t *ids[2] = {tids, fids}, *leaf[2] = {tleaf, fleaf};
    for (int b = 0; b < 2; b++) {
      int64_t id = ids[b][i];
      bool is_leaf = leaf[b][i] != 0;
      if (id < 0 || (uint64_t)id >= (is_leaf ? nl : n))
        return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                           "node %zu: %s branch %s %lld is out of range", i,
                           b ? "false" : "true", is_leaf ? "leaf" : "node",
                           (long long)id);
      s->child[b][i] = is_leaf ? -(id + 1) : id;
    }
  }
  for (size_t i = 0; i < n_roots; i++)
    if (roots[i] < 0 || (uint64_t)roots[i] >= n)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "tree_roots[%zu] = %lld is out of range", i,
                         (long long)roots[i]);
  int64_t max_target = -1;
  for (size_t i = 0; i < nl; i++) {
    if (ltarget[i] < 0)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "leaf_targetids[%zu] = %lld is negative", i,
                         (long long)ltarget[i]);
    if (ltarget[i] > max_target) max_target = ltarget[i];
    s->leaf_weight[i] = emb_tensor_get_f64(weights_t, i);
  }
  if (n_targets < 0) n_targets = max_target + 1;
  if (n_targets < 1 || max_target >= n_targets || n_targets > INT32_MAX)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'n_targets' (%lld) must be positive and "
                       "above every leaf_targetids value (up to %lld)",
                       (long long)n_targets, (long long)max_target);
  s->n_targets = n_targets;

  /* Set members: one NaN-terminated run per BRANCH_MEMBER node, in node
   * order (the last NaN may be left out). */
  if (n_member_nodes) {
    if (!members_t)
      return ML_BAD(c, "attribute '%s' is required by BRANCH_MEMBER nodes",
                    "membership_values");
    size_t nm = emb_tensor_numel(members_t);
    for (int r = 0; r < 3; r++)
      if (!(s->members[r] = emb_arena_array(ar, nm ? nm : 1, sizeof(double))))
        return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                           "out of memory");
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
      if (s->mode[i] != TE_MEMBER) continue;
      if (pos >= nm)
        return ML_BAD(c, "attribute 'membership_values' has fewer sets than "
                         "there are BRANCH_MEMBER nodes");
      s->set_start[i] = pos;
      while (pos < nm && !isnan(emb_tensor_get_f64(members_t, pos))) {
        te_round3(s->members, pos, emb_tensor_get_f64(members_t, pos));
        pos++;
      }
      s->set_len[i] = pos - s->set_start[i];
      pos++; /* the NaN */
    }
  }
  if (!te_acyclic(s, ar))
    return ML_BAD(c, "the trees have a cycle");
  c->node->state = s;
  return EMBER_OK;
}

static ember_status te_infer(emb_infer_ctx *c) {
  static const int32_t types[] = {EMBER_FLOAT, EMBER_DOUBLE, EMBER_FLOAT16,
                                  0};
  const te_state *s = c->node->state;
  ember_status st = ml_want_tensor(c, 0);
  if (!st) st = emb_infer_check_dtype(c, 0, types);
  if (st) return st;
  const emb_type *x = c->in[0];
  if (x->kind && x->rank >= 0 && x->rank != 2) {
    char b[200];
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "input is %s; it must have shape [N, F]",
                       emb_type_str(x, NULL, b, sizeof b));
  }
  if (x->kind && x->rank == 2 && x->dims[1].v >= 0 &&
      x->dims[1].v <= s->max_feature)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "the trees read feature %lld but the input has %lld",
                       (long long)s->max_feature, (long long)x->dims[1].v);
  emb_type_tensor(&c->out[0], x->kind ? x->dtype : 0, 2, NULL);
  c->out[0].dims[0] = x->kind && x->rank == 2 ? x->dims[0]
                                              : (emb_dim){-1, 0};
  c->out[0].dims[1] = (emb_dim){s->n_targets, 0};
  if (!c->out[0].dtype) emb_type_unknown(&c->out[0]);
  return EMBER_OK;
}

/* The leaf that tree `root` sends the row of features f to. */
static size_t te_leaf(const te_state *s, int64_t root, const double *f,
                      int r) {
  int64_t i = root;
  for (;;) {
    double v = f[s->feature[i]], t = s->split[r][i];
    bool go;
    if (isnan(v)) {
      go = s->nan_true[i];
    } else {
      switch (s->mode[i]) {
        case TE_LEQ: go = v <= t; break;
        case TE_LT: go = v < t; break;
        case TE_GTE: go = v >= t; break;
        case TE_GT: go = v > t; break;
        case TE_EQ: go = v == t; break;
        case TE_NEQ: go = v != t; break;
        default: {
          const double *m = s->members[r] + s->set_start[i];
          go = false;
          for (size_t k = 0; k < s->set_len[i] && !go; k++) go = v == m[k];
          break;
        }
      }
    }
    int64_t ch = s->child[go ? 0 : 1][i];
    if (ch < 0) return (size_t)(-ch - 1);
    i = ch;
  }
}

/* The inverse error function: a closed-form first guess refined by Newton
 * steps on erf. */
static double te_erfinv(double y) {
  if (!(y > -1 && y < 1)) return y == 1 ? INFINITY : y == -1 ? -INFINITY : NAN;
  const double a = 0.147, pi = 3.14159265358979323846;
  double l = log(1 - y * y), b = 2 / (pi * a) + l / 2;
  double x = sqrt(sqrt(b * b - l / a) - b);
  if (y < 0) x = -x;
  for (int k = 0; k < 4; k++) {
    double e = erf(x) - y, d = 2 / sqrt(pi) * exp(-x * x);
    if (d == 0) break;
    x -= e / d;
  }
  return x;
}

static void te_post(int post, double *v, size_t n) {
  switch (post) {
    case TE_SOFTMAX:
    case TE_SOFTMAX_ZERO: {
      bool zero = post == TE_SOFTMAX_ZERO;
      double mx = -INFINITY, sum = 0;
      for (size_t k = 0; k < n; k++)
        if (!(zero && v[k] == 0) && v[k] > mx) mx = v[k];
      for (size_t k = 0; k < n; k++) {
        v[k] = zero && v[k] == 0 ? 0 : exp(v[k] - mx);
        sum += v[k];
      }
      if (sum > 0)
        for (size_t k = 0; k < n; k++) v[k] /= sum;
      break;
    }
    case TE_LOGISTIC:
      for (size_t k = 0; k < n; k++) v[k] = 1 / (1 + exp(-v[k]));
      break;
    case TE_PROBIT:
      for (size_t k = 0; k < n; k++)
        v[k] = sqrt(2.0) * te_erfinv(2 * v[k] - 1);
      break;
    default: break;
  }
}

static ember_status te_run(emb_run_ctx *c) {
  const te_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  if (!y) return EMBER_OK;
  size_t rows = (size_t)x->dims[0], nf = (size_t)x->dims[1];
  size_t nt = (size_t)s->n_targets;
  if ((int64_t)nf <= s->max_feature)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "the trees read feature %lld but the input has %zu",
                       (long long)s->max_feature, nf);
  int r = x->dtype == EMBER_DOUBLE ? 0 : x->dtype == EMBER_FLOAT ? 1 : 2;
  double *f = emb_scratch(c, (nf + 2 * nt) * sizeof *f);
  if (!f) return c->diag->status;
  double *acc = f + nf;
  uint8_t *hit = (uint8_t *)(acc + nt);
  for (size_t row = 0; row < rows; row++) {
    for (size_t k = 0; k < nf; k++)
      f[k] = emb_tensor_get_f64(x, row * nf + k);
    for (size_t k = 0; k < nt; k++) {
      acc[k] = 0;
      hit[k] = 0;
    }
    for (size_t t = 0; t < s->n_trees; t++) {
      size_t leaf = te_leaf(s, s->roots[t], f, r);
      size_t k = (size_t)s->leaf_target[leaf];
      double w = s->leaf_weight[leaf];
      if (!hit[k])
        acc[k] = w;
      else if (s->agg == TE_MIN)
        acc[k] = w < acc[k] ? w : acc[k];
      else if (s->agg == TE_MAX)
        acc[k] = w > acc[k] ? w : acc[k];
      else
        acc[k] += w;
      hit[k] = 1;
    }
    if (s->agg == TE_AVERAGE)
      for (size_t k = 0; k < nt; k++) acc[k] /= (double)s->n_trees;
    te_post(s->post, acc, nt);
    for (size_t k = 0; k < nt; k++) emb_tensor_set_f64(y, row * nt + k, acc[k]);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_treeensemble = {1, 1, 1, 1, 0, te_init, te_infer,
                                       te_run};

/* ----------------------------------------------------------- Binarizer */

typedef struct bin_state {
  float threshold;
} bin_state;

static ember_status bin_init(emb_init_ctx *c) {
  bin_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st =
      emb_attr_float(c->node, "threshold", 0.0f, &s->threshold, c->diag);
  if (st) return st;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status bin_infer(emb_infer_ctx *c) {
  static const int32_t types[] = {EMBER_FLOAT, EMBER_DOUBLE, EMBER_INT64,
                                  EMBER_INT32, 0};
  ember_status st = ml_want_tensor(c, 0);
  if (!st) st = emb_infer_check_dtype(c, 0, types);
  if (st) return st;
  return emb_infer_same(c);
}

static ember_status bin_run(emb_run_ctx *c) {
  const bin_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  if (!y) return EMBER_OK;
  size_t n = emb_tensor_numel(x);
  double t = s->threshold;
  switch (x->dtype) {
    case EMBER_FLOAT: {
      const float *a = x->data;
      float *b = y->data;
      for (size_t i = 0; i < n; i++) b[i] = a[i] > s->threshold ? 1.0f : 0.0f;
      break;
    }
    case EMBER_DOUBLE: {
      const double *a = x->data;
      double *b = y->data;
      for (size_t i = 0; i < n; i++) b[i] = a[i] > t ? 1.0 : 0.0;
      break;
    }
    default: {
      /* For integers x > t exactly when x > floor(t); a NaN threshold
       * admits nothing. */
      double ft = floor(t);
      bool none = isnan(t) || ft >= 9223372036854775807.0;
      bool all = !none && ft < -9223372036854775807.0;
      int64_t it = none || all ? 0 : (int64_t)ft;
      for (size_t i = 0; i < n; i++) {
        int64_t v = emb_tensor_get_i64(x, i);
        emb_tensor_set_i64(y, i, !none && (all || v > it));
      }
      break;
    }
  }
  return EMBER_OK;
}

const emb_opdef emb_op_binarizer = {1, 1, 1, 1, 0, bin_init, bin_infer,
                                    bin_run};

/* ----------------------------------------------- ArrayFeatureExtractor */

/* Z = X[..., Y] with Y's indices flattened; a 1-D X gives a [1, k] result
 * (as a row of one sample). */

static ember_status afe_infer(emb_infer_ctx *c) {
  static const int32_t idx_types[] = {EMBER_INT64, 0};
  ember_status st = ml_want_tensor(c, 0);
  if (!st) st = ml_want_tensor(c, 1);
  if (!st) st = emb_infer_check_dtype(c, 1, idx_types);
  if (st) return st;
  const emb_type *x = c->in[0], *y = c->in[1];
  int32_t dt = x->kind ? x->dtype : 0;
  if (dt && dt != EMBER_STRING && !ml_elem_size(dt))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "input 0 has element type %s, which is not supported",
                       ember_dtype_name(dt));
  if (!x->kind || x->rank < 0) {
    emb_type_tensor(&c->out[0], dt, -1, NULL);
    if (!dt) emb_type_unknown(&c->out[0]);
    return EMBER_OK;
  }
  if (x->rank == 0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "input 0 must have at least one dimension");
  emb_dim k = {-1, 0};
  if (y->kind && y->rank >= 0) {
    int64_t n = 1;
    for (int i = 0; i < y->rank && n >= 0; i++)
      n = y->dims[i].v < 0 ? -1 : n * y->dims[i].v;
    if (n >= 0) k.v = n;
    if (y->rank == 1 && n < 0) k = y->dims[0];
  }
  emb_type *z = &c->out[0];
  emb_type_tensor(z, dt, x->rank == 1 ? 2 : x->rank, NULL);
  if (x->rank == 1) {
    z->dims[0] = (emb_dim){1, 0};
  } else {
    for (int i = 0; i + 1 < x->rank; i++) z->dims[i] = x->dims[i];
  }
  z->dims[z->rank - 1] = k;
  if (!dt) emb_type_unknown(z);
  return EMBER_OK;
}

static ember_status afe_run(emb_run_ctx *c) {
  const emb_tensor *x = emb_in_t(c, 0), *y = emb_in_t(c, 1);
  emb_tensor *z = emb_out_t(c, 0);
  if (!z) return EMBER_OK;
  size_t k = emb_tensor_numel(y), d = (size_t)x->dims[x->rank - 1];
  size_t rows = d ? emb_tensor_numel(x) / d : 0;
  if (x->rank == 1) rows = 1;
  const int64_t *idx = y->data;
  for (size_t j = 0; j < k; j++)
    if (idx[j] < 0 || (uint64_t)idx[j] >= d)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                         "index %lld (at %zu) is out of range [0, %zu)",
                         (long long)idx[j], j, d);
  if (x->dtype == EMBER_STRING) {
    char *const *a = x->data;
    char **b = z->data;
    for (size_t r = 0; r < rows; r++)
      for (size_t j = 0; j < k; j++) {
        const char *e = a[r * d + (size_t)idx[j]];
        char *s = ml_strdup(e ? e : "");
        if (!s)
          return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                             "out of memory");
        free(b[r * k + j]);
        b[r * k + j] = s;
      }
    return EMBER_OK;
  }
  size_t es = ml_elem_size(x->dtype);
  const char *a = x->data;
  char *b = z->data;
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < k; j++)
      memcpy(b + (r * k + j) * es, a + (r * d + (size_t)idx[j]) * es, es);
  return EMBER_OK;
}

const emb_opdef emb_op_arrayfeatureextractor = {2, 2, 1, 1, 0, NULL,
                                                afe_infer, afe_run};
