/*
 * Operators on string tensors: StringNormalizer (opset 10 on),
 * StringConcat, StringSplit and RegexFullMatch (opset 20 on) and
 * TfIdfVectorizer (opset 9 on, which also takes integer tokens).  String
 * elements are NUL-terminated UTF-8 (char *, owned by the tensor), so every
 * op that makes strings mallocs each result string and frees the empty
 * string the executor put there.  Ops whose result shape depends on the
 * strings themselves (StringNormalizer's kept count, StringSplit's widest
 * row) compute it in infer from the input's value, which is always known
 * at run.  RegexFullMatch uses PCRE2 when the build has it (meson option
 * `regex`); without it the op is refused at load with EMBER_ERR_UNSUPPORTED.
 *
 * StringNormalizer drops the stop words from a [C] or [1, C] string
 * tensor, then lower- or upper-cases what is left.  The result has the kept
 * count on its last axis; when every element is dropped the result is one
 * empty string, shaped [1] or [1, 1].
 *
 * Case mapping is Ember's own, independent of the C library's locale (a
 * library must not touch the process locale): simple one-to-one mappings
 * of UTF-8 code points for ASCII, Latin-1, Latin Extended-A, basic Greek
 * and basic Cyrillic.  Other characters, and bytes that are not valid
 * UTF-8, pass unchanged.  Locales whose language is Turkish or Azeri ("tr",
 * "az") map dotted and dotless i the Turkish way; every other locale
 * (default "en_US") gets the plain mapping.  Only one-to-one mappings are
 * used, as C's towupper does: sharp s stays as it is in upper case (no
 * "SS").  Case-insensitive stop-word matching compares lower(upper(c)) of
 * both sides, which also folds long s and final sigma.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

#ifdef EMBER_HAVE_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

enum { STRN_NONE, STRN_LOWER, STRN_UPPER };

typedef struct strn_state {
  int action;          /* STRN_* */
  bool case_sensitive;
  bool turkic;         /* tr / az dotted and dotless i */
  size_t n_stop;
  const char **stop;   /* case-sensitive: as given; else folded (arena) */
  size_t *stop_len;
} strn_state;

/* ---------------------------------------------------------- case maps */

static uint32_t strn_upper_cp(uint32_t c, bool turkic) {
  if (c < 0x80) {
    if (turkic && c == 'i') return 0x130;
    return (c >= 'a' && c <= 'z') ? c - 32 : c;
  }
  if (c == 0xB5) return 0x39C; /* micro sign -> capital mu */
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c >= 0x100 && c <= 0x12F) return (c & 1) ? c - 1 : c;
  if (c == 0x131) return 'I';
  if (c >= 0x132 && c <= 0x137) return (c & 1) ? c - 1 : c;
  if (c >= 0x139 && c <= 0x148) return (c & 1) ? c : c - 1;
  if (c >= 0x14A && c <= 0x177) return (c & 1) ? c - 1 : c;
  if (c == 0x17A || c == 0x17C || c == 0x17E) return c - 1;
  if (c == 0x17F) return 'S';
  if (c == 0x3AC) return 0x386;
  if (c >= 0x3AD && c <= 0x3AF) return c - 37;
  if (c >= 0x3B1 && c <= 0x3CB) return c == 0x3C2 ? 0x3A3 : c - 32;
  if (c == 0x3CC) return 0x38C;
  if (c == 0x3CD || c == 0x3CE) return c - 63;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}

static uint32_t strn_lower_cp(uint32_t c, bool turkic) {
  if (c < 0x80) {
    if (turkic && c == 'I') return 0x131;
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  }
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c >= 0x100 && c <= 0x12F) return (c & 1) ? c : c + 1;
  if (c == 0x130) return 'i';
  if (c >= 0x132 && c <= 0x137) return (c & 1) ? c : c + 1;
  if (c >= 0x139 && c <= 0x148) return (c & 1) ? c + 1 : c;
  if (c >= 0x14A && c <= 0x177) return (c & 1) ? c : c + 1;
  if (c == 0x178) return 0xFF;
  if (c == 0x179 || c == 0x17B || c == 0x17D) return c + 1;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  return c;
}

/* Decode one UTF-8 code point at s (n bytes left); its length, or 0 when
 * the bytes there are not well-formed UTF-8. */
static size_t strn_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned char b = s[0];
  size_t len;
  uint32_t c, min;
  if (b < 0x80) {
    *cp = b;
    return 1;
  } else if (b >= 0xC2 && b <= 0xDF) {
    len = 2, c = b & 0x1Fu, min = 0x80;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3, c = b & 0x0Fu, min = 0x800;
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4, c = b & 0x07u, min = 0x10000;
  } else {
    return 0;
  }
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    c = (c << 6) | (s[i] & 0x3Fu);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  return len;
}

static size_t strn_encode_len(uint32_t c) {
  return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

static void strn_encode(uint32_t c, unsigned char *o) {
  switch (strn_encode_len(c)) {
    case 1: o[0] = (unsigned char)c; break;
    case 2:
      o[0] = (unsigned char)(0xC0 | (c >> 6));
      o[1] = (unsigned char)(0x80 | (c & 0x3F));
      break;
    case 3:
      o[0] = (unsigned char)(0xE0 | (c >> 12));
      o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
      o[2] = (unsigned char)(0x80 | (c & 0x3F));
      break;
    default:
      o[0] = (unsigned char)(0xF0 | (c >> 18));
      o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
      o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
      o[3] = (unsigned char)(0x80 | (c & 0x3F));
      break;
  }
}

/* Map one code point with `how`: STRN_LOWER, STRN_UPPER, or -1 for the
 * case fold used in matching. */
static uint32_t strn_map_cp(uint32_t c, int how, bool turkic) {
  if (how == STRN_UPPER) return strn_upper_cp(c, turkic);
  if (how == STRN_LOWER) return strn_lower_cp(c, turkic);
  return strn_lower_cp(strn_upper_cp(c, turkic), turkic);
}

/* Map the n bytes at s with `how` (see strn_map_cp) into out, which is
 * NUL-terminated; with out NULL only measure.  Returns the mapped length
 * (at most 2 n: the longest growth is Turkish i to U+0130). */
static size_t strn_map(const char *s, size_t n, char *out, int how,
                       bool turkic) {
  const unsigned char *p = (const unsigned char *)s;
  unsigned char *o = (unsigned char *)out;
  size_t i = 0, k = 0;
  while (i < n) {
    uint32_t c;
    size_t len = strn_decode(p + i, n - i, &c);
    if (!len) { /* not UTF-8: keep the byte */
      if (o) o[k] = p[i];
      k++;
      i++;
      continue;
    }
    uint32_t m = strn_map_cp(c, how, turkic);
    if (o) strn_encode(m, o + k);
    k += strn_encode_len(m);
    i += len;
  }
  if (o) o[k] = 0;
  return k;
}

/* ---------------------------------------------------------------- init */

static ember_status strn_init(emb_init_ctx *c) {
  const char *action, *locale;
  int64_t cs;
  ember_status st =
      emb_attr_string(c->node, "case_change_action", "NONE", &action,
                      c->diag);
  if (!st) st = emb_attr_int(c->node, "is_case_sensitive", 0, &cs, c->diag);
  if (!st) st = emb_attr_string(c->node, "locale", "", &locale, c->diag);
  if (st) return st;
  strn_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  if (strcmp(action, "NONE") == 0)
    s->action = STRN_NONE;
  else if (strcmp(action, "LOWER") == 0)
    s->action = STRN_LOWER;
  else if (strcmp(action, "UPPER") == 0)
    s->action = STRN_UPPER;
  else
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'case_change_action' must be LOWER, UPPER "
                       "or NONE, not '%s'", action);
  s->case_sensitive = cs != 0;
  /* The language is what precedes '_', '-', '.' or '@' ("tr_TR.UTF-8"). */
  size_t ll = strcspn(locale, "_-.@");
  s->turkic = ll == 2 && (strncmp(locale, "tr", 2) == 0 ||
                          strncmp(locale, "az", 2) == 0);

  const emb_attr *a = emb_node_attr(c->node, "stopwords");
  if (!a) {
    c->node->state = s;
    return EMBER_OK;
  }
  if (a->type != EMB_ATTR_STRINGS)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'stopwords' must be a list of strings");
  s->n_stop = a->n;
  if (a->n) {
    s->stop = emb_arena_array(&c->ir->arena, a->n, sizeof *s->stop);
    s->stop_len = emb_arena_array(&c->ir->arena, a->n, sizeof *s->stop_len);
    if (!s->stop || !s->stop_len)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                         "out of memory");
  }
  for (size_t i = 0; i < a->n; i++) {
    size_t len = a->strlens ? a->strlens[i] : strlen(a->strings[i]);
    if (s->case_sensitive) {
      s->stop[i] = a->strings[i];
      s->stop_len[i] = len;
      continue;
    }
    char *f = emb_arena_alloc(
        &c->ir->arena, strn_map(a->strings[i], len, NULL, -1, s->turkic) + 1);
    if (!f)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                         "out of memory");
    s->stop_len[i] = strn_map(a->strings[i], len, f, -1, s->turkic);
    s->stop[i] = f;
  }
  c->node->state = s;
  return EMBER_OK;
}

/* ------------------------------------------------------- infer and run */

/* Whether the case fold of the n bytes at x equals the (folded) stop word
 * w of length wn; folds on the fly so that matching needs no buffer. */
static bool strn_fold_eq(const char *x, size_t n, const char *w, size_t wn,
                         bool turkic) {
  const unsigned char *p = (const unsigned char *)x;
  size_t i = 0, j = 0;
  while (i < n) {
    unsigned char enc[4];
    uint32_t c = 0;
    size_t len = strn_decode(p + i, n - i, &c), el;
    if (!len) { /* not UTF-8: compare the byte */
      enc[0] = p[i];
      el = 1;
      len = 1;
    } else {
      uint32_t m = strn_map_cp(c, -1, turkic);
      strn_encode(m, enc);
      el = strn_encode_len(m);
    }
    if (j + el > wn || memcmp(w + j, enc, el) != 0) return false;
    i += len;
    j += el;
  }
  return j == wn;
}

/* Whether string x (length n) is a stop word. */
static bool strn_is_stop(const strn_state *s, const char *x, size_t n) {
  for (size_t i = 0; i < s->n_stop; i++) {
    if (s->case_sensitive) {
      if (s->stop_len[i] == n && memcmp(s->stop[i], x, n) == 0) return true;
    } else if (strn_fold_eq(x, n, s->stop[i], s->stop_len[i], s->turkic)) {
      return true;
    }
  }
  return false;
}

/* The number of elements of x that are kept. */
static size_t strn_count(const strn_state *s, const emb_tensor *x) {
  size_t n = emb_tensor_numel(x), k = 0;
  char *const *v = x->data;
  for (size_t i = 0; i < n; i++) {
    const char *e = v[i] ? v[i] : "";
    if (!strn_is_stop(s, e, strlen(e))) k++;
  }
  return k;
}

static ember_status strn_infer(emb_infer_ctx *c) {
  const strn_state *s = c->node->state;
  const emb_type *x = c->in[0];
  if (!x) return EMBER_OK;
  if (x->kind && x->kind != EMBER_KIND_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input must be a tensor");
  if (x->kind && x->dtype && x->dtype != EMBER_STRING)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input must be a string tensor, not %s",
                       ember_dtype_name(x->dtype));
  if (x->kind && x->rank >= 0 &&
      (x->rank < 1 || x->rank > 2 ||
       (x->rank == 2 && x->dims[0].v >= 0 && x->dims[0].v != 1))) {
    char b[200];
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "input is %s; it must have shape [C] or [1, C]",
                       emb_type_str(x, NULL, b, sizeof b));
  }
  emb_type *y = &c->out[0];
  emb_type_tensor(y, EMBER_STRING, x->kind ? x->rank : -1, NULL);
  if (y->rank < 0) return EMBER_OK;
  if (y->rank == 2) y->dims[0] = (emb_dim){1, 0};
  const emb_tensor *v = c->values ? c->values[0] : NULL;
  if (!v && c->at_run && c->rvalues && c->rvalues[0] &&
      c->rvalues[0]->kind == EMB_VK_TENSOR)
    v = &c->rvalues[0]->t;
  emb_dim *last = &y->dims[y->rank - 1];
  if (v) {
    if (v->dtype != EMBER_STRING || v->rank < 1 || v->rank > 2 ||
        (v->rank == 2 && v->dims[0] != 1)) {
      char b[200];
      emb_type t;
      emb_type_tensor(&t, v->dtype, v->rank, v->dims);
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "input is %s; it must be a string tensor of shape "
                         "[C] or [1, C]",
                         emb_type_str(&t, NULL, b, sizeof b));
    }
    size_t kept = strn_count(s, v);
    emb_type_tensor(y, EMBER_STRING, v->rank, NULL);
    if (v->rank == 2) y->dims[0] = (emb_dim){1, 0};
    y->dims[v->rank - 1] = (emb_dim){kept ? (int64_t)kept : 1, 0};
  } else if (!s->n_stop && x->dims[x->rank - 1].v > 0) {
    *last = x->dims[x->rank - 1];
  }
  return EMBER_OK;
}

static ember_status strn_run(emb_run_ctx *c) {
  const strn_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  if (!x || !y) return EMBER_OK;
  if (x->dtype != EMBER_STRING || y->dtype != EMBER_STRING)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input must be a string tensor");
  size_t n = emb_tensor_numel(x), ny = emb_tensor_numel(y);
  char *const *xv = x->data;
  char **yv = y->data;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const char *e = xv[i] ? xv[i] : "";
    size_t len = strlen(e);
    if (strn_is_stop(s, e, len)) continue;
    if (k >= ny)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                         "output was not allocated with the kept count");
    size_t rlen = s->action == STRN_NONE
                      ? len
                      : strn_map(e, len, NULL, s->action, s->turkic);
    char *r = malloc(rlen + 1);
    if (!r)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                         "out of memory");
    if (s->action == STRN_NONE)
      memcpy(r, e, len + 1);
    else
      strn_map(e, len, r, s->action, s->turkic);
    free(yv[k]);
    yv[k++] = r;
  }
  /* All dropped: the single output element stays the empty string the
   * executor allocated. */
  if (k != ny && !(k == 0 && ny == 1))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "output was not allocated with the kept count");
  return EMBER_OK;
}

const emb_opdef emb_op_stringnormalizer = {
    1, 1, 1, 1, 0, strn_init, strn_infer, strn_run};

/* ------------------------------------------------------ shared helpers */

/* Element i of a string tensor ("" for a missing string). */
static const char *str_at(const emb_tensor *t, size_t i) {
  const char *s = ((char *const *)t->data)[i];
  return s ? s : "";
}

/* A malloc'ed copy of the n bytes at s plus a NUL, or NULL. */
static char *str_dupn(const char *s, size_t n) {
  char *r = malloc(n + 1);
  if (!r) return NULL;
  if (n) memcpy(r, s, n);
  r[n] = 0;
  return r;
}

/* Make the malloc'ed string r element i of y (freeing what was there). */
static void str_put(emb_tensor *y, size_t i, char *r) {
  char **v = y->data;
  free(v[i]);
  v[i] = r;
}

/* Input i at infer must be present and a string tensor (or not known
 * yet). */
static ember_status str_want_strings(emb_infer_ctx *c, int i) {
  const emb_type *t = i < c->n_in ? c->in[i] : NULL;
  if (!t)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "input %d is required", i);
  if (t->kind && t->kind != EMBER_KIND_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input %d must be a tensor", i);
  if (t->kind && t->dtype && t->dtype != EMBER_STRING)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input %d must be a string tensor, not %s", i,
                       ember_dtype_name(t->dtype));
  return EMBER_OK;
}

/* The value of input i at infer: a known constant at load, always known
 * at run. */
static const emb_tensor *str_infer_value(emb_infer_ctx *c, int i) {
  if (i >= c->n_in) return NULL;
  if (c->values && c->values[i]) return c->values[i];
  if (c->at_run && c->rvalues && c->rvalues[i] &&
      c->rvalues[i]->kind == EMB_VK_TENSOR)
    return &c->rvalues[i]->t;
  return NULL;
}

/* ---------------------------------------------------------- StringConcat */

static ember_status sconcat_infer(emb_infer_ctx *c) {
  ember_status st = str_want_strings(c, 0);
  if (!st) st = str_want_strings(c, 1);
  if (!st) st = emb_infer_broadcast(c, 2, c->in, &c->out[0]);
  if (st) return st;
  c->out[0].kind = EMBER_KIND_TENSOR;
  c->out[0].dtype = EMBER_STRING;
  return EMBER_OK;
}

static ember_status sconcat_run(emb_run_ctx *c) {
  const emb_tensor *x = emb_in_t(c, 0), *y = emb_in_t(c, 1);
  emb_tensor *z = emb_out_t(c, 0);
  if (!z) return EMBER_OK;
  if (!x || !y || x->dtype != EMBER_STRING || y->dtype != EMBER_STRING)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "inputs must be string tensors");
  int64_t sx[EMB_MAX_RANK], sy[EMB_MAX_RANK], idx[EMB_MAX_RANK] = {0};
  emb_broadcast_strides(z->rank, z->dims, x->rank, x->dims, sx);
  emb_broadcast_strides(z->rank, z->dims, y->rank, y->dims, sy);
  size_t n = emb_tensor_numel(z);
  int64_t ix = 0, iy = 0;
  for (size_t k = 0; k < n; k++) {
    const char *a = str_at(x, (size_t)ix), *b = str_at(y, (size_t)iy);
    size_t la = strlen(a), lb = strlen(b);
    char *r = malloc(la + lb + 1);
    if (!r)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                         "out of memory");
    memcpy(r, a, la);
    memcpy(r + la, b, lb + 1);
    str_put(z, k, r);
    /* Step the output index like an odometer, moving both inputs. */
    for (int d = z->rank - 1; d >= 0; d--) {
      ix += sx[d];
      iy += sy[d];
      if (++idx[d] < z->dims[d]) break;
      ix -= sx[d] * z->dims[d];
      iy -= sy[d] * z->dims[d];
      idx[d] = 0;
    }
  }
  return EMBER_OK;
}

const emb_opdef emb_op_stringconcat = {
    2, 2, 1, 1, 0, NULL, sconcat_infer, sconcat_run};

/* ----------------------------------------------------------- StringSplit */

/* StringSplit follows Python's str.split, which the ONNX reference uses:
 * with a delimiter, every occurrence splits (consecutive ones delimit
 * empty strings, and "" gives one empty substring); without one (or with
 * ""), runs of white space split, leading white space is dropped and an
 * all-space string gives no substrings.  After `maxsplit` splits the rest
 * of the string is one last substring, kept as it is (trailing white space
 * included).  A negative maxsplit means no limit, as in Python.  White
 * space is Python's: ASCII \t \n \v \f \r, 0x1C-0x1F and space, plus the
 * Unicode spaces U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029,
 * U+202F, U+205F and U+3000 in UTF-8. */

typedef struct ssplit_state {
  const char *delim;
  size_t dlen;       /* 0: split on white space */
  int64_t maxsplit;  /* < 0: no limit */
} ssplit_state;

static ember_status ssplit_init(emb_init_ctx *c) {
  const emb_attr *d = emb_node_attr(c->node, "delimiter");
  int64_t maxsplit;
  ember_status st = emb_attr_int(c->node, "maxsplit", -1, &maxsplit, c->diag);
  if (st) return st;
  if (d && d->type != EMB_ATTR_STRING)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'delimiter' must be a string");
  ssplit_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->delim = d ? d->s : "";
  s->dlen = d ? d->slen : 0;
  s->maxsplit = maxsplit;
  c->node->state = s;
  return EMBER_OK;
}

/* Whether the character at s (n > 0 bytes left) is white space; its length
 * in bytes goes to *len (1 for a byte that is not UTF-8). */
static bool ssplit_space(const char *s, size_t n, size_t *len) {
  uint32_t cp;
  size_t l = strn_decode((const unsigned char *)s, n, &cp);
  if (!l) {
    *len = 1;
    return false;
  }
  *len = l;
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) ||
         cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* First occurrence of the m bytes w in the n bytes at s, or NULL. */
static const char *ssplit_find(const char *s, size_t n, const char *w,
                               size_t m) {
  for (size_t i = 0; i + m <= n; i++)
    if (s[i] == w[0] && memcmp(s + i, w, m) == 0) return s + i;
  return NULL;
}

/* Split s; the substrings go to out[0..] (malloc'ed, replacing what was
 * there) unless out is NULL.  Returns the number of substrings, or
 * SIZE_MAX when out of memory. */
static size_t ssplit_do(const ssplit_state *st, const char *s, char **out) {
  size_t n = strlen(s), i = 0, k = 0;
  int64_t splits = 0;
  for (;;) {
    size_t from, to, l;
    bool last = st->maxsplit >= 0 && splits >= st->maxsplit;
    if (st->dlen) {
      const char *p = last ? NULL : ssplit_find(s + i, n - i, st->delim,
                                                st->dlen);
      from = i;
      to = p ? (size_t)(p - s) : n;
      last = !p;
      i = to + st->dlen;
    } else {
      while (i < n && ssplit_space(s + i, n - i, &l)) i += l;
      if (i == n) return k;
      from = i;
      to = n;
      if (!last)
        for (to = i; to < n && !ssplit_space(s + to, n - to, &l); to += l) {
        }
      i = to;
    }
    if (out) {
      char *r = str_dupn(s + from, to - from);
      if (!r) return SIZE_MAX;
      free(out[k]);
      out[k] = r;
    }
    k++;
    splits++;
    if (st->dlen && last) return k;
  }
}

static ember_status ssplit_infer(emb_infer_ctx *c) {
  const ssplit_state *s = c->node->state;
  ember_status st = str_want_strings(c, 0);
  if (st) return st;
  const emb_type *x = c->in[0];
  emb_type *y = &c->out[0], *z = c->n_out > 1 ? &c->out[1] : NULL;
  int rank = x->kind ? x->rank : -1;
  if (rank + 1 > EMB_MAX_RANK)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "result rank %d exceeds the limit %d", rank + 1,
                       EMB_MAX_RANK);
  emb_type_tensor(y, EMBER_STRING, rank < 0 ? -1 : rank + 1, NULL);
  if (z) emb_type_tensor(z, EMBER_INT64, rank, NULL);
  if (rank < 0) return EMBER_OK;
  for (int k = 0; k < rank; k++) {
    y->dims[k] = x->dims[k];
    if (z) z->dims[k] = x->dims[k];
  }
  y->dims[rank] = (emb_dim){-1, 0};
  const emb_tensor *v = str_infer_value(c, 0);
  if (v && v->dtype == EMBER_STRING) {
    size_t n = emb_tensor_numel(v), w = 0;
    for (size_t i = 0; i < n; i++) {
      size_t k = ssplit_do(s, str_at(v, i), NULL);
      if (k > w) w = k;
    }
    y->dims[rank] = (emb_dim){(int64_t)w, 0};
  }
  return EMBER_OK;
}

static ember_status ssplit_run(emb_run_ctx *c) {
  const ssplit_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0), *z = emb_out_t(c, 1);
  if (!x || x->dtype != EMBER_STRING)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input must be a string tensor");
  size_t n = emb_tensor_numel(x);
  size_t w = y ? (size_t)y->dims[y->rank - 1] : 0;
  for (size_t i = 0; i < n; i++) {
    const char *e = str_at(x, i);
    size_t k = ssplit_do(s, e, NULL);
    if (y) {
      if (k > w)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                           "output was not allocated with the widest split");
      if (ssplit_do(s, e, (char **)y->data + i * w) == SIZE_MAX)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                           "out of memory");
    }
    if (z) ((int64_t *)z->data)[i] = (int64_t)k;
  }
  return EMBER_OK;
}

const emb_opdef emb_op_stringsplit = {
    1, 1, 1, 2, 0, ssplit_init, ssplit_infer, ssplit_run};

/* -------------------------------------------------------- RegexFullMatch */

/* The spec asks for RE2 syntax; PCRE2 accepts all of it that the ONNX
 * tests use and more.  Compiled with UTF (a pattern or subject is UTF-8;
 * a subject that is not valid UTF-8 just fails to match), without UCP, so
 * \w \d \s \b are ASCII as in RE2; `$` only matches at the very end as
 * in RE2 (DOLLAR_ENDONLY); newline is LF; the escape \v is rewritten to
 * the vertical tab it means in RE2 (PCRE2 reads it as a class of vertical
 * white space).  Known differences from RE2 that remain: PCRE2 also
 * accepts constructs RE2 rejects (back-references, look-around, atomic
 * groups, possessive quantifiers, recursion, \h, \Z) instead of refusing
 * the model; \s also matches the vertical tab (RE2's \s is
 * [\t\n\f\r ]); counted repeats go up to 65535 rather than 1000; and
 * matching backtracks rather than running in linear time, so a
 * pathological pattern can hit PCRE2's match or heap limit, which fails
 * the run (EMBER_ERR_RUNTIME) rather than hanging.
 *
 * The compiled pattern lives in the model arena: PCRE2's allocator for
 * compiling is the arena (its free is a no-op), so the code is released
 * with the model and no release hook is needed.  Each run makes (and frees)
 * its own match data, as one model may be run by several sessions at
 * once. */

typedef struct regex_state {
#ifdef EMBER_HAVE_PCRE2
  pcre2_code *code;
#endif
  const char *pattern;
} regex_state;

#ifdef EMBER_HAVE_PCRE2
static void *regex_arena_alloc(PCRE2_SIZE size, void *arena) {
  return emb_arena_alloc(arena, size);
}

static void regex_arena_free(void *p, void *arena) {
  (void)p;
  (void)arena;
}

/* RE2 reads \v as the vertical tab, PCRE2 as any vertical white space:
 * rewrite it as \x0B (outside \Q...\E, where it is literal text).  The
 * rewritten pattern (or p itself when there is nothing to rewrite) is
 * returned with its length in *out_n; NULL when out of memory. */
static const char *regex_re2_escapes(emb_arena *ar, const char *p, size_t n,
                                     size_t *out_n) {
  char *q = NULL;
  size_t k = 0;
  for (int pass = 0; pass < 2; pass++) {
    bool literal = false;
    size_t count = 0;
    k = 0;
    for (size_t i = 0; i < n;) {
      bool esc = p[i] == '\\' && i + 1 < n;
      size_t len = esc ? 2 : 1;
      if (literal) { /* only \E means anything here */
        literal = !(esc && p[i + 1] == 'E');
        if (literal) len = 1;
      } else if (esc && p[i + 1] == 'Q') {
        literal = true;
      } else if (esc && p[i + 1] == 'v') {
        count++;
        if (q) memcpy(q + k, "\\x0B", 4);
        k += 4;
        i += 2;
        continue;
      }
      if (q) memcpy(q + k, p + i, len);
      k += len;
      i += len;
    }
    if (!count) {
      *out_n = n;
      return p;
    }
    if (!q && !(q = emb_arena_alloc(ar, k + 1))) return NULL;
  }
  q[k] = 0;
  *out_n = k;
  return q;
}

/* Whether the n bytes at s are well-formed UTF-8.  A string that is not
 * matches no pattern (in RE2, `.` and classes match whole characters only,
 * so nothing can cover a stray byte).  Checking here rather than with
 * PCRE2_MATCH_INVALID_UTF matters: in that mode PCRE2 treats the end of a
 * valid stretch as the subject's end for ENDANCHORED, so "a.*" would fully
 * match "ab\xff". */
static bool regex_valid_utf8(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t l = strn_decode(p + i, n - i, &cp);
    if (!l) return false;
    i += l;
  }
  return true;
}
#endif

static ember_status regex_init(emb_init_ctx *c) {
  const emb_attr *a = emb_node_attr(c->node, "pattern");
  if (!a)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'pattern' is required");
  if (a->type != EMB_ATTR_STRING)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'pattern' must be a string");
#ifndef EMBER_HAVE_PCRE2
  return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                     "this build of Ember has no regular expression library "
                     "(build with PCRE2: meson -Dregex=enabled)");
#else
  regex_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->pattern = a->s;
  pcre2_general_context *gc = pcre2_general_context_create(
      regex_arena_alloc, regex_arena_free, &c->ir->arena);
  pcre2_compile_context *cc = gc ? pcre2_compile_context_create(gc) : NULL;
  if (!cc)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
  uint32_t opts = PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ANCHORED |
                  PCRE2_ENDANCHORED;
  size_t plen;
  const char *pat = regex_re2_escapes(&c->ir->arena, a->s, a->slen, &plen);
  if (!pat)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  int err = 0;
  PCRE2_SIZE off = 0;
  s->code = pcre2_compile((PCRE2_SPTR)pat, plen, opts, &err, &off, cc);
  if (!s->code) {
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(err, msg, sizeof msg) < 0)
      snprintf((char *)msg, sizeof msg, "error %d", err);
    return emb_op_fail(c->diag, c->node,
                       err == PCRE2_ERROR_NOMEMORY ? EMBER_ERR_OUT_OF_MEMORY
                                                   : EMBER_ERR_INVALID_MODEL,
                       "attribute 'pattern' is not a valid regular "
                       "expression: %s (at offset %zu)",
                       (const char *)msg, (size_t)off);
  }
  c->node->state = s;
  return EMBER_OK;
#endif
}

static ember_status regex_infer(emb_infer_ctx *c) {
  ember_status st = str_want_strings(c, 0);
  if (st) return st;
  const emb_type *x = c->in[0];
  if (x->kind) {
    c->out[0] = *x;
    c->out[0].dtype = EMBER_BOOL;
  } else {
    emb_type_tensor(&c->out[0], EMBER_BOOL, -1, NULL);
  }
  return EMBER_OK;
}

static ember_status regex_run(emb_run_ctx *c) {
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  if (!x || x->dtype != EMBER_STRING)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input must be a string tensor");
  if (!y) return EMBER_OK;
#ifndef EMBER_HAVE_PCRE2
  return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                     "this build of Ember has no regular expression library");
#else
  const regex_state *s = c->node->state;
  size_t n = emb_tensor_numel(x);
  if (!n) return EMBER_OK;
  pcre2_match_data *md = pcre2_match_data_create(1, NULL);
  pcre2_match_context *mc = pcre2_match_context_create(NULL);
  ember_status st = EMBER_OK;
  if (!md || !mc) {
    st = emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                     "out of memory");
    n = 0;
  } else {
    pcre2_set_heap_limit(mc, 64 * 1024); /* KiB of backtracking frames */
  }
  uint8_t *out = y->data;
  for (size_t i = 0; i < n; i++) {
    const char *e = str_at(x, i);
    size_t len = strlen(e);
    if (!regex_valid_utf8(e, len)) {
      out[i] = 0;
      continue;
    }
    int rc = pcre2_match(s->code, (PCRE2_SPTR)e, len, 0, PCRE2_NO_UTF_CHECK,
                         md, mc);
    if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH) {
      out[i] = rc >= 0;
      continue;
    }
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(rc, msg, sizeof msg) < 0)
      snprintf((char *)msg, sizeof msg, "error %d", rc);
    st = emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                     "matching element %zu failed: %s", i,
                     (const char *)msg);
    break;
  }
  pcre2_match_context_free(mc);
  pcre2_match_data_free(md);
  return st;
#endif
}

const emb_opdef emb_op_regexfullmatch = {
    1, 1, 1, 1, 0, regex_init, regex_infer, regex_run};

/* ------------------------------------------------------- TfIdfVectorizer */

/* The pool holds n-grams level by level: ngram_counts[l] is where the
 * (l+1)-grams start, and n-gram number i (counted over all levels in pool
 * order) is counted at output coordinate ngram_indexes[i].  At load the
 * n-grams go into an open-addressing hash table keyed by their tokens;
 * string tokens are first replaced by a number (the pool position where
 * that string first appears, found through a second hash table), so that
 * one search serves both token types.  At run every start position of a
 * row is tried with every n-gram length in [min_gram_length,
 * max_gram_length] and every skip in [0, max_skip_count] (unigrams once,
 * skips make no difference to them).  Counts accumulate per output
 * coordinate; IDF and TFIDF then weight them with the weight of the
 * n-gram mapped there. */

enum { TFIDF_TF, TFIDF_IDF, TFIDF_TFIDF };

typedef struct tfidf_state {
  int mode;
  int64_t min_n, max_n, max_skip;
  int64_t top;             /* longest n-gram the pool can hold           */
  bool strings;            /* pool_strings: the input is a string tensor */
  size_t n_grams;
  int64_t *tokens;         /* pool tokens (string numbers for strings)   */
  size_t *start;           /* n-gram i is tokens[start[i]] ..            */
  int32_t *len;            /* .. of len[i] tokens                        */
  int64_t *out_of;         /* its output coordinate                      */
  int64_t out_len;         /* max(ngram_indexes) + 1                     */
  float *out_weight;       /* weight per output coordinate               */
  size_t mask;             /* n-gram table: mask + 1 slots               */
  int64_t *slot;           /* n-gram number, or -1 for an empty slot     */
  /* strings: the pool strings and a table of the distinct ones */
  const char *const *pool_s;
  const size_t *pool_len;
  size_t voc_mask;
  int64_t *voc_slot;       /* pool position, or -1                       */
} tfidf_state;

static uint64_t tfidf_hash_bytes(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325u;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3u;
  }
  return h ^ (h >> 31);
}

static uint64_t tfidf_mix(uint64_t h, int64_t v) {
  h ^= (uint64_t)v;
  h *= 0x9e3779b97f4a7c15u;
  return h ^ (h >> 29);
}

/* The number of the n tokens row[pos], row[pos + step], ... as an n-gram
 * of the pool, or -1. */
static int64_t tfidf_find(const tfidf_state *s, const int64_t *row,
                          size_t pos, size_t step, int32_t n) {
  uint64_t h = 0x84222325cbf29ce4u ^ (uint64_t)n;
  for (int32_t k = 0; k < n; k++) h = tfidf_mix(h, row[pos + (size_t)k * step]);
  for (size_t j = (size_t)h & s->mask;; j = (j + 1) & s->mask) {
    int64_t g = s->slot[j];
    if (g < 0) return -1;
    if (s->len[g] != n) continue;
    const int64_t *t = s->tokens + s->start[g];
    int32_t k = 0;
    while (k < n && t[k] == row[pos + (size_t)k * step]) k++;
    if (k == n) return g;
  }
}

/* The number of string x (length n) in the pool, or -1. */
static int64_t tfidf_word(const tfidf_state *s, const char *x, size_t n) {
  for (size_t j = (size_t)tfidf_hash_bytes(x, n) & s->voc_mask;;
       j = (j + 1) & s->voc_mask) {
    int64_t p = s->voc_slot[j];
    if (p < 0) return -1;
    if (s->pool_len[p] == n && memcmp(s->pool_s[p], x, n) == 0) return p;
  }
}

/* A power-of-two table size with room for 2 n entries, or 0 if too big. */
static size_t tfidf_table_size(size_t n) {
  size_t m = 16;
  while (m < 2 * n) {
    if (m > SIZE_MAX / 4) return 0;
    m *= 2;
  }
  return m;
}

static ember_status tfidf_bad(emb_init_ctx *c, const char *what) {
  return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL, "%s", what);
}

static ember_status tfidf_need(emb_init_ctx *c, const char *name) {
  if (emb_node_attr(c->node, name)) return EMBER_OK;
  return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                     "attribute '%s' is required", name);
}

static ember_status tfidf_init(emb_init_ctx *c) {
  static const char *const required[] = {
      "max_gram_length", "min_gram_length", "max_skip_count", "mode",
      "ngram_counts", "ngram_indexes"};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    ember_status st = tfidf_need(c, required[i]);
    if (st) return st;
  }
  emb_arena *ar = &c->ir->arena;
  const char *mode;
  const int64_t *counts, *indexes, *pool_i = NULL;
  const float *weights;
  size_t n_counts, n_indexes, n_weights, n_pool = 0;
  tfidf_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st =
      emb_attr_int(c->node, "max_gram_length", 0, &s->max_n, c->diag);
  if (!st) st = emb_attr_int(c->node, "min_gram_length", 0, &s->min_n, c->diag);
  if (!st)
    st = emb_attr_int(c->node, "max_skip_count", 0, &s->max_skip, c->diag);
  if (!st) st = emb_attr_string(c->node, "mode", "", &mode, c->diag);
  if (!st)
    st = emb_attr_ints(c->node, "ngram_counts", &counts, &n_counts, c->diag);
  if (!st)
    st = emb_attr_ints(c->node, "ngram_indexes", &indexes, &n_indexes,
                       c->diag);
  if (!st)
    st = emb_attr_floats(c->node, "weights", &weights, &n_weights, c->diag);
  if (st) return st;
  if (strcmp(mode, "TF") == 0)
    s->mode = TFIDF_TF;
  else if (strcmp(mode, "IDF") == 0)
    s->mode = TFIDF_IDF;
  else if (strcmp(mode, "TFIDF") == 0)
    s->mode = TFIDF_TFIDF;
  else
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'mode' must be TF, IDF or TFIDF, not '%s'",
                       mode);
  if (s->min_n < 1 || s->max_n < s->min_n || s->max_n > INT32_MAX)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "n-gram lengths [%lld, %lld] are invalid: need "
                       "1 <= min_gram_length <= max_gram_length",
                       (long long)s->min_n, (long long)s->max_n);
  if (s->max_skip < 0)
    return tfidf_bad(c, "attribute 'max_skip_count' must not be negative");

  const emb_attr *ps = emb_node_attr(c->node, "pool_strings");
  const emb_attr *pi = emb_node_attr(c->node, "pool_int64s");
  if (!ps == !pi)
    return tfidf_bad(c, "exactly one of the attributes 'pool_strings' and "
                        "'pool_int64s' must be given");
  if (ps && ps->type != EMB_ATTR_STRINGS)
    return tfidf_bad(c, "attribute 'pool_strings' must be a list of strings");
  if (pi) {
    st = emb_attr_ints(c->node, "pool_int64s", &pool_i, &n_pool, c->diag);
    if (st) return st;
  } else {
    n_pool = ps->n;
    s->strings = true;
  }

  /* Levels: check the boundaries and count the n-grams. */
  size_t n_grams = 0;
  for (size_t l = 0; l < n_counts; l++) {
    int64_t b = counts[l];
    int64_t e = l + 1 < n_counts ? counts[l + 1] : (int64_t)n_pool;
    if (b < 0 || b > e || e > (int64_t)n_pool)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "attribute 'ngram_counts' is not a list of "
                         "increasing positions in the pool of %zu items",
                         n_pool);
    if ((e - b) % (int64_t)(l + 1))
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "the pool's %zu-grams take %lld items, not a "
                         "multiple of %zu",
                         l + 1, (long long)(e - b), l + 1);
    n_grams += (size_t)(e - b) / (l + 1);
  }
  if (n_indexes != n_grams)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'ngram_indexes' has %zu entries but the "
                       "pool holds %zu n-grams",
                       n_indexes, n_grams);
  if (n_weights && n_weights != n_grams)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'weights' has %zu entries but the pool "
                       "holds %zu n-grams",
                       n_weights, n_grams);
  int64_t max_index = -1;
  for (size_t i = 0; i < n_indexes; i++) {
    if (indexes[i] < 0 || indexes[i] >= INT32_MAX)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "ngram_indexes[%zu] = %lld is out of range", i,
                         (long long)indexes[i]);
    if (indexes[i] > max_index) max_index = indexes[i];
  }
  s->out_len = max_index + 1;
  s->n_grams = n_grams;
  s->top = s->max_n < (int64_t)n_counts ? s->max_n : (int64_t)n_counts;

  /* Tokens: the integers, or the pool position of each string's first
   * appearance. */
  s->tokens = emb_arena_array(ar, n_pool ? n_pool : 1, sizeof *s->tokens);
  s->start = emb_arena_array(ar, n_grams ? n_grams : 1, sizeof *s->start);
  s->len = emb_arena_array(ar, n_grams ? n_grams : 1, sizeof *s->len);
  s->out_of = emb_arena_array(ar, n_grams ? n_grams : 1, sizeof *s->out_of);
  s->out_weight = emb_arena_array(ar, (size_t)s->out_len + 1,
                                  sizeof *s->out_weight);
  s->mask = tfidf_table_size(n_grams) - 1;
  s->slot = s->mask + 1 ? emb_arena_array(ar, s->mask + 1, sizeof *s->slot)
                        : NULL;
  if (!s->tokens || !s->start || !s->len || !s->out_of || !s->out_weight ||
      !s->slot)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  if (s->strings) {
    size_t *lens = emb_arena_array(ar, n_pool ? n_pool : 1, sizeof *lens);
    s->voc_mask = tfidf_table_size(n_pool) - 1;
    s->voc_slot = s->voc_mask + 1 ? emb_arena_array(ar, s->voc_mask + 1,
                                                    sizeof *s->voc_slot)
                                  : NULL;
    if (!lens || !s->voc_slot)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                         "out of memory");
    for (size_t j = 0; j <= s->voc_mask; j++) s->voc_slot[j] = -1;
    s->pool_s = ps->strings;
    s->pool_len = lens;
    for (size_t i = 0; i < n_pool; i++) {
      lens[i] = ps->strlens ? ps->strlens[i] : strlen(ps->strings[i]);
      int64_t p = tfidf_word(s, ps->strings[i], lens[i]);
      if (p < 0) {
        size_t j = (size_t)tfidf_hash_bytes(ps->strings[i], lens[i]) &
                   s->voc_mask;
        while (s->voc_slot[j] >= 0) j = (j + 1) & s->voc_mask;
        s->voc_slot[j] = (int64_t)i;
        p = (int64_t)i;
      }
      s->tokens[i] = p;
    }
  } else if (n_pool) {
    memcpy(s->tokens, pool_i, n_pool * sizeof *pool_i);
  }

  /* N-grams into the table; a repeated n-gram keeps its first number. */
  for (size_t j = 0; j <= s->mask; j++) s->slot[j] = -1;
  for (int64_t k = 0; k < s->out_len; k++) s->out_weight[k] = 1.0f;
  size_t g = 0;
  for (size_t l = 0; l < n_counts; l++) {
    size_t b = (size_t)counts[l],
           e = l + 1 < n_counts ? (size_t)counts[l + 1] : n_pool;
    for (size_t p = b; p < e; p += l + 1, g++) {
      s->start[g] = p;
      s->len[g] = (int32_t)(l + 1);
      s->out_of[g] = indexes[g];
      if (n_weights) s->out_weight[indexes[g]] = weights[g];
      if (tfidf_find(s, s->tokens, p, 1, (int32_t)(l + 1)) >= 0) continue;
      uint64_t h = 0x84222325cbf29ce4u ^ (uint64_t)(l + 1);
      for (size_t k = 0; k <= l; k++) h = tfidf_mix(h, s->tokens[p + k]);
      size_t j = (size_t)h & s->mask;
      while (s->slot[j] >= 0) j = (j + 1) & s->mask;
      s->slot[j] = (int64_t)g;
    }
  }
  c->node->state = s;
  return EMBER_OK;
}

static ember_status tfidf_infer(emb_infer_ctx *c) {
  static const int32_t int_types[] = {EMBER_INT32, EMBER_INT64, 0};
  static const int32_t str_types[] = {EMBER_STRING, 0};
  const tfidf_state *s = c->node->state;
  const emb_type *x = c->in[0];
  if (!x)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "input 0 is required");
  if (x->kind && x->kind != EMBER_KIND_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input must be a tensor");
  if (x->kind && x->dtype &&
      (s->strings ? x->dtype != EMBER_STRING
                  : x->dtype != EMBER_INT32 && x->dtype != EMBER_INT64))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input has element type %s but the pool holds %s",
                       ember_dtype_name(x->dtype),
                       s->strings ? "strings" : "integers");
  ember_status st = emb_infer_check_dtype(c, 0, s->strings ? str_types
                                                           : int_types);
  if (st) return st;
  emb_type *y = &c->out[0];
  int rank = x->kind ? x->rank : -1;
  if (rank == 0 || rank > 2) {
    char b[200];
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "input is %s; it must have shape [C] or [N, C]",
                       emb_type_str(x, NULL, b, sizeof b));
  }
  emb_type_tensor(y, EMBER_FLOAT, rank, NULL);
  if (rank < 0) return EMBER_OK;
  if (rank == 2) y->dims[0] = x->dims[0];
  y->dims[rank - 1] = (emb_dim){s->out_len, 0};
  return EMBER_OK;
}

static ember_status tfidf_run(emb_run_ctx *c) {
  const tfidf_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  if (!y) return EMBER_OK;
  size_t n = emb_tensor_numel(x);
  size_t cols = (size_t)x->dims[x->rank - 1];
  size_t rows = x->rank == 2 ? (size_t)x->dims[0] : 1;
  size_t m = (size_t)s->out_len;
  float *out = y->data;
  if (emb_tensor_numel(y) != rows * m)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "output was not allocated with the result's shape");
  for (size_t i = 0; i < rows * m; i++) out[i] = 0;
  if (!n) return EMBER_OK;
  /* Tokens as int64: strings become their pool number (-1 if absent). */
  const int64_t *tok = x->data;
  if (x->dtype != EMBER_INT64) {
    int64_t *t = emb_scratch(c, n * sizeof *t);
    if (!t) return c->diag->status;
    for (size_t i = 0; i < n; i++) {
      if (x->dtype == EMBER_INT32) {
        t[i] = ((const int32_t *)x->data)[i];
      } else {
        const char *e = str_at(x, i);
        t[i] = tfidf_word(s, e, strlen(e));
      }
    }
    tok = t;
  }
  for (size_t r = 0; r < rows; r++) {
    const int64_t *row = tok + r * cols;
    float *yr = out + r * m;
    for (size_t i = 0; i < cols; i++) {
      for (int64_t len = s->min_n; len <= s->top; len++) {
        if ((uint64_t)(len - 1) > cols - 1 - i) break;
        for (int64_t skip = 0; skip <= s->max_skip; skip++) {
          /* The last token is at i + (len - 1) * (skip + 1); stop once it
           * falls off the row. */
          uint64_t step = (uint64_t)skip + 1;
          if ((uint64_t)(len - 1) > (cols - 1 - i) / step) break;
          int64_t g = tfidf_find(s, row, i, (size_t)step, (int32_t)len);
          if (g >= 0) yr[s->out_of[g]] += 1.0f;
          if (len == 1) break; /* a unigram has no skips */
        }
      }
    }
    if (s->mode == TFIDF_IDF) {
      for (size_t k = 0; k < m; k++)
        yr[k] = yr[k] > 0 ? s->out_weight[k] : 0.0f;
    } else if (s->mode == TFIDF_TFIDF) {
      for (size_t k = 0; k < m; k++) yr[k] *= s->out_weight[k];
    }
  }
  return EMBER_OK;
}

const emb_opdef emb_op_tfidfvectorizer = {
    1, 1, 1, 1, 0, tfidf_init, tfidf_infer, tfidf_run};
