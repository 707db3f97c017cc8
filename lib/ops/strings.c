/*
 * StringNormalizer (opset 10 on): drops the stop words from a [C] or
 * [1, C] string tensor, then lower- or upper-cases what is left.  The
 * result has the kept count on its last axis, so infer computes the exact
 * shape from the input's value (always known at run); when every element
 * is dropped the result is one empty string, shaped [1] or [1, 1].
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
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

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
