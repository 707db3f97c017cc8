/*
 * Unit tests for the ai.onnx.ml operators (lib/ops/ml.c) through the
 * one-node harness: LabelEncoder (versions 1, 2 and 4), TreeEnsemble,
 * Binarizer and ArrayFeatureExtractor.  Expected results come from
 * references written here: a linear scan over the keys from the last one
 * (LabelEncoder), a recursive walk over the tree attributes comparing in
 * the input's own type (TreeEnsemble), and plain loops for the others.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "optest.h"

static optest *ml_new(const char *op, int version) {
  optest *t = optest_new(op, 18);
  optest_domain(t, "ai.onnx.ml", version);
  return t;
}

static void run_ok(optest *t) {
  ember_status st = optest_run(t);
  if (st) fail_msg("run failed (%d): %s", (int)st, optest_errmsg(t));
}

/* The run must fail with `want` and a message naming the operator and
 * containing `part`. */
static void run_fails(optest *t, const char *op, ember_status want,
                      const char *part) {
  ember_status st = optest_run(t);
  if (st != want)
    fail_msg("status %d, expected %d: %s", (int)st, (int)want,
             optest_errmsg(t));
  if (!strstr(optest_errmsg(t), op) || !strstr(optest_errmsg(t), part))
    fail_msg("unexpected message: %s", optest_errmsg(t));
}

static void expect_shape(const emb_value *v, int32_t dtype, int rank,
                         const int64_t *dims) {
  assert_int_equal(v->kind, EMB_VK_TENSOR);
  if (v->t.dtype != dtype)
    fail_msg("dtype %d, expected %d", (int)v->t.dtype, (int)dtype);
  assert_int_equal(v->t.rank, rank);
  for (int i = 0; i < rank; i++)
    if (v->t.dims[i] != dims[i])
      fail_msg("dim %d is %lld, expected %lld", i, (long long)v->t.dims[i],
               (long long)dims[i]);
}

static void expect_strings(const emb_value *v, size_t n,
                           const char *const *want) {
  for (size_t i = 0; i < n; i++) {
    const char *g = ((char *const *)v->t.data)[i];
    if (strcmp(g, want[i]))
      fail_msg("element %zu is '%s', expected '%s'", i, g, want[i]);
  }
}

/* -------------------------------------------------------- LabelEncoder */

static void test_le_strings_to_ints_last_key_wins(void **state) {
  (void)state;
  const char *keys[] = {"a", "b", "c", "a", ""};
  const int64_t vals[] = {1, 2, 3, 4, 5};
  const char *x[] = {"a", "b", "d", "c", "", "A", "b"};
  for (int version = 2; version <= 4; version += 2)
    for (int def = 0; def <= 1; def++) {
      optest *t = ml_new("LabelEncoder", version);
      optest_attr_strings(t, "keys_strings", 5, keys);
      optest_attr_ints(t, "values_int64s", 5, vals);
      if (def) optest_attr_int(t, "default_int64", 42);
      int64_t d[] = {7};
      optest_input(t, EMBER_STRING, 1, d, x);
      run_ok(t);
      int64_t want[7];
      for (int i = 0; i < 7; i++) {
        want[i] = def ? 42 : -1;
        for (int k = 4; k >= 0; k--)
          if (!strcmp(x[i], keys[k])) {
            want[i] = vals[k];
            break;
          }
      }
      optest_expect_i64(optest_output(t, 0), 1, d, want);
      optest_free(t);
    }
}

static uint32_t f32_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

/* Floats to strings: version 4 matches any NaN with a NaN key and -0 with
 * 0; version 2 compares bits. */
static void test_le_float_keys_nan_and_zero(void **state) {
  (void)state;
  float nan_a = nanf(""), nan_b;
  uint32_t nb = f32_bits(nan_a) | 0x1234u;
  memcpy(&nan_b, &nb, sizeof nan_b);
  const float keys[] = {1.5f, nan_a, -0.0f, 2.0f, 1.5f};
  const char *vals[] = {"x", "nan", "zero", "two", "x2"};
  const float x[] = {nan_b, nan_a, 0.0f, -0.0f, 1.5f, 3.0f, 2.0f};
  int64_t d[] = {7};
  for (int version = 2; version <= 4; version += 2) {
    optest *t = ml_new("LabelEncoder", version);
    optest_attr_floats(t, "keys_floats", 5, keys);
    optest_attr_strings(t, "values_strings", 5, vals);
    optest_attr_string(t, "default_string", "?");
    optest_input(t, EMBER_FLOAT, 1, d, x);
    run_ok(t);
    const char *want[7];
    for (int i = 0; i < 7; i++) {
      want[i] = "?";
      for (int k = 4; k >= 0; k--) {
        int eq = version == 2 ? f32_bits(x[i]) == f32_bits(keys[k])
                              : (isnan(x[i]) && isnan(keys[k])) ||
                                    x[i] == keys[k];
        if (eq) {
          want[i] = vals[k];
          break;
        }
      }
    }
    expect_shape(optest_output(t, 0), EMBER_STRING, 1, d);
    expect_strings(optest_output(t, 0), 7, want);
    optest_free(t);
  }
}

/* Version 4 tensor attributes over every key and value type. */
static void test_le_tensor_attributes(void **state) {
  (void)state;
  const int32_t types[] = {EMBER_INT64, EMBER_INT32, EMBER_INT16,
                           EMBER_FLOAT, EMBER_DOUBLE, EMBER_STRING};
  const double key_v[] = {3, -1, 7, 0, 3};
  const double val_v[] = {10, 20, 30, 40, 50};
  const double x_v[] = {7, 1, 3, -1, 0, 8};
  const char *key_s[] = {"3", "-1", "7", "0", "3"};
  const char *val_s[] = {"10", "20", "30", "40", "50"};
  const char *x_s[] = {"7", "1", "3", "-1", "0", "8"};
  for (int kt = 0; kt < 6; kt++)
    for (int vt = 0; vt < 6; vt++)
      for (int def = 0; def <= 1; def++) {
        int32_t kd = types[kt], vd = types[vt];
        char kbuf[5 * 8], vbuf[5 * 8], xbuf[6 * 8], dbuf[8];
        const void *kp = kd == EMBER_STRING ? (const void *)key_s : kbuf;
        const void *vp = vd == EMBER_STRING ? (const void *)val_s : vbuf;
        const void *xp = kd == EMBER_STRING ? (const void *)x_s : xbuf;
        const char *dstr = "none";
        for (int i = 0; i < 6; i++) {
          emb_tensor tk = {.dtype = kd, .data = kbuf};
          emb_tensor tv = {.dtype = vd, .data = vbuf};
          emb_tensor tx = {.dtype = kd, .data = xbuf};
          if (i < 5 && kd != EMBER_STRING) emb_tensor_set_f64(&tk, i, key_v[i]);
          if (i < 5 && vd != EMBER_STRING) emb_tensor_set_f64(&tv, i, val_v[i]);
          if (kd != EMBER_STRING) emb_tensor_set_f64(&tx, i, x_v[i]);
        }
        emb_tensor td = {.dtype = vd, .data = dbuf};
        if (vd != EMBER_STRING) emb_tensor_set_f64(&td, 0, -5);
        optest *t = ml_new("LabelEncoder", 4);
        int64_t d5[] = {5}, d1[] = {1}, d6[] = {6};
        optest_attr_tensor(t, "keys_tensor", kd, 1, d5, kp);
        optest_attr_tensor(t, "values_tensor", vd, 1, d5, vp);
        if (def)
          optest_attr_tensor(t, "default_tensor", vd, 1, d1,
                             vd == EMBER_STRING ? (const void *)&dstr
                                                : (const void *)dbuf);
        optest_input(t, kd, 1, d6, xp);
        run_ok(t);
        const emb_value *y = optest_output(t, 0);
        expect_shape(y, vd, 1, d6);
        for (int i = 0; i < 6; i++) {
          int k = 4;
          while (k >= 0 && key_v[k] != x_v[i]) k--;
          if (vd == EMBER_STRING) {
            const char *w = k >= 0 ? val_s[k] : def ? "none" : "_Unused";
            const char *g = ((char *const *)y->t.data)[i];
            if (strcmp(g, w))
              fail_msg("keys %d values %d: element %d is '%s', expected '%s'",
                       kt, vt, i, g, w);
          } else {
            double w = k >= 0 ? val_v[k] : def ? -5 : vd == EMBER_FLOAT ||
                                                          vd == EMBER_DOUBLE
                                                      ? -0.0
                                                      : -1;
            double g = emb_tensor_get_f64(&y->t, (size_t)i);
            if (g != w)
              fail_msg("keys %d values %d: element %d is %g, expected %g", kt,
                       vt, i, g, w);
          }
        }
        optest_free(t);
      }
}

static void test_le_version1_both_directions(void **state) {
  (void)state;
  const char *classes[] = {"x", "y", "x", "z"};
  const char *xs[] = {"z", "x", "q", "y"};
  const int64_t xi[] = {0, 3, 4, -1, 1};
  int64_t d4[] = {4}, d5[] = {5};
  for (int def = 0; def <= 1; def++) {
    /* strings -> ints: the first index of the string. */
    optest *t = ml_new("LabelEncoder", 1);
    optest_attr_strings(t, "classes_strings", 4, classes);
    if (def) optest_attr_int(t, "default_int64", 9);
    optest_input(t, EMBER_STRING, 1, d4, xs);
    run_ok(t);
    int64_t want[4];
    for (int i = 0; i < 4; i++) {
      want[i] = def ? 9 : -1;
      for (int k = 0; k < 4; k++)
        if (!strcmp(xs[i], classes[k])) {
          want[i] = k;
          break;
        }
    }
    optest_expect_i64(optest_output(t, 0), 1, d4, want);
    optest_free(t);
    /* ints -> strings: the class at the index. */
    t = ml_new("LabelEncoder", 1);
    optest_attr_strings(t, "classes_strings", 4, classes);
    if (def) optest_attr_string(t, "default_string", "none");
    optest_input(t, EMBER_INT64, 1, d5, xi);
    run_ok(t);
    const char *ws[5];
    for (int i = 0; i < 5; i++)
      ws[i] = xi[i] >= 0 && xi[i] < 4 ? classes[xi[i]]
                                      : def ? "none" : "_Unused";
    expect_shape(optest_output(t, 0), EMBER_STRING, 1, d5);
    expect_strings(optest_output(t, 0), 5, ws);
    optest_free(t);
  }
}

static void test_le_shapes_and_constant_input(void **state) {
  (void)state;
  const int64_t keys[] = {1, 2}, x[] = {2, 1, 5, 2, 2, 1};
  const float vals[] = {0.5f, 1.5f}, want[] = {1.5f, 0.5f, -0.0f,
                                               1.5f, 1.5f, 0.5f};
  int64_t d23[] = {2, 3}, d0[] = {0, 4};
  for (int k = 0; k <= 1; k++) {
    optest *t = ml_new("LabelEncoder", 2);
    optest_attr_ints(t, "keys_int64s", 2, keys);
    optest_attr_floats(t, "values_floats", 2, vals);
    if (k)
      optest_input_const(t, EMBER_INT64, 2, d23, x);
    else
      optest_input(t, EMBER_INT64, 2, d23, x);
    run_ok(t);
    optest_expect_f32(optest_output(t, 0), 2, d23, want, 0, 0);
    assert_true(signbit(((const float *)optest_output(t, 0)->t.data)[2]));
    optest_free(t);
  }
  optest *t = ml_new("LabelEncoder", 2);
  optest_attr_ints(t, "keys_int64s", 2, keys);
  optest_attr_floats(t, "values_floats", 2, vals);
  optest_input(t, EMBER_INT64, 2, d0, x);
  run_ok(t);
  expect_shape(optest_output(t, 0), EMBER_FLOAT, 2, d0);
  optest_free(t);
}

static void test_le_errors(void **state) {
  (void)state;
  const char *ks[] = {"a", "b"};
  const int64_t ki[] = {1, 2}, x[] = {1};
  const double dv[] = {1};
  int64_t d1[] = {1};
  /* Lengths differ. */
  optest *t = ml_new("LabelEncoder", 2);
  optest_attr_strings(t, "keys_strings", 2, ks);
  optest_attr_ints(t, "values_int64s", 1, ki);
  optest_input(t, EMBER_STRING, 1, d1, ks);
  run_fails(t, "LabelEncoder", EMBER_ERR_INVALID_MODEL, "entries");
  optest_free(t);
  /* Two key attributes. */
  t = ml_new("LabelEncoder", 2);
  optest_attr_strings(t, "keys_strings", 2, ks);
  optest_attr_ints(t, "keys_int64s", 2, ki);
  optest_attr_ints(t, "values_int64s", 2, ki);
  optest_input(t, EMBER_STRING, 1, d1, ks);
  run_fails(t, "LabelEncoder", EMBER_ERR_INVALID_MODEL, "only one");
  optest_free(t);
  /* No values. */
  t = ml_new("LabelEncoder", 2);
  optest_attr_strings(t, "keys_strings", 2, ks);
  optest_input(t, EMBER_STRING, 1, d1, ks);
  run_fails(t, "LabelEncoder", EMBER_ERR_INVALID_MODEL, "values_");
  optest_free(t);
  /* A default tensor of another type. */
  t = ml_new("LabelEncoder", 4);
  optest_attr_strings(t, "keys_strings", 2, ks);
  optest_attr_ints(t, "values_int64s", 2, ki);
  optest_attr_tensor(t, "default_tensor", EMBER_DOUBLE, 1, d1, dv);
  optest_input(t, EMBER_STRING, 1, d1, ks);
  run_fails(t, "LabelEncoder", EMBER_ERR_INVALID_MODEL, "default_tensor");
  optest_free(t);
  /* The input is not of the keys' type. */
  t = ml_new("LabelEncoder", 2);
  optest_attr_strings(t, "keys_strings", 2, ks);
  optest_attr_ints(t, "values_int64s", 2, ki);
  optest_input(t, EMBER_INT64, 1, d1, x);
  run_fails(t, "LabelEncoder", EMBER_ERR_TYPE, "int64");
  optest_free(t);
  /* Version 1 with both defaults. */
  t = ml_new("LabelEncoder", 1);
  optest_attr_strings(t, "classes_strings", 2, ks);
  optest_attr_int(t, "default_int64", 1);
  optest_attr_string(t, "default_string", "x");
  optest_input(t, EMBER_INT64, 1, d1, x);
  run_fails(t, "LabelEncoder", EMBER_ERR_INVALID_MODEL, "default");
  optest_free(t);
}

/* -------------------------------------------------------- TreeEnsemble */

#define TE_NODES 64
#define TE_LEAVES 64
#define TE_MEMBERS 128

/* An ensemble described by its attribute arrays. */
typedef struct te_model {
  int n_nodes, n_leaves, n_trees, n_targets, n_feat;
  int64_t feat[TE_NODES], tid[TE_NODES], tleaf[TE_NODES], fid[TE_NODES],
      fleaf[TE_NODES], nan_true[TE_NODES];
  uint8_t mode[TE_NODES];
  double split[TE_NODES];
  double members[TE_MEMBERS];
  int n_members;
  int set_at[TE_NODES], set_len[TE_NODES];
  int64_t roots[8], ltarget[TE_LEAVES];
  double lweight[TE_LEAVES];
} te_model;

static uint32_t te_rng = 777;
static uint32_t te_rand(uint32_t n) {
  te_rng = te_rng * 1664525u + 1013904223u;
  return (te_rng >> 8) % n;
}

static const double te_values[] = {-1.5, 0, 0.25, 1, 2.5, 3};

/* Add a random subtree of the given depth; returns its child code
 * (node index, or -(leaf + 1)). */
static int64_t te_grow(te_model *m, int depth) {
  if (depth == 0 || te_rand(4) == 0) {
    int l = m->n_leaves++;
    assert_true(l < TE_LEAVES);
    m->ltarget[l] = te_rand((uint32_t)m->n_targets);
    m->lweight[l] = 0.05 + 0.9 * te_rand(1000) / 1000.0;
    return -(l + 1);
  }
  int i = m->n_nodes++;
  assert_true(i < TE_NODES);
  m->feat[i] = te_rand((uint32_t)m->n_feat);
  m->mode[i] = (uint8_t)te_rand(7);
  m->split[i] = te_values[te_rand(6)] + (te_rand(2) ? 0.1 : 0);
  m->nan_true[i] = te_rand(2);
  if (m->mode[i] == 6) {
    m->set_at[i] = m->n_members;
    m->set_len[i] = 1 + (int)te_rand(3);
    for (int k = 0; k < m->set_len[i]; k++)
      m->members[m->n_members++] = te_values[te_rand(6)];
    m->members[m->n_members++] = NAN;
  }
  int64_t t = te_grow(m, depth - 1), f = te_grow(m, depth - 1);
  m->tleaf[i] = t < 0;
  m->tid[i] = t < 0 ? -t - 1 : t;
  m->fleaf[i] = f < 0;
  m->fid[i] = f < 0 ? -f - 1 : f;
  return i;
}

static void te_random(te_model *m, int trees, int targets, int feat) {
  memset(m, 0, sizeof *m);
  m->n_targets = targets;
  m->n_feat = feat;
  m->n_trees = trees;
  for (int t = 0; t < trees; t++) {
    int64_t r = te_grow(m, 3);
    if (r < 0) { /* a lone leaf: one node whose branches both reach it */
      int i = m->n_nodes++;
      m->feat[i] = 0;
      m->mode[i] = 0;
      m->tleaf[i] = m->fleaf[i] = 1;
      m->tid[i] = m->fid[i] = -r - 1;
      r = i;
    }
    m->roots[t] = r;
  }
}

static optest *te_node(const te_model *m, int agg, int post,
                       int32_t split_dtype) {
  optest *t = ml_new("TreeEnsemble", 5);
  int64_t dn[] = {m->n_nodes}, dl[] = {m->n_leaves}, dm[] = {m->n_members};
  optest_attr_int(t, "n_targets", m->n_targets);
  optest_attr_int(t, "aggregate_function", agg);
  optest_attr_int(t, "post_transform", post);
  optest_attr_ints(t, "tree_roots", (size_t)m->n_trees, m->roots);
  optest_attr_ints(t, "nodes_featureids", (size_t)m->n_nodes, m->feat);
  optest_attr_ints(t, "nodes_truenodeids", (size_t)m->n_nodes, m->tid);
  optest_attr_ints(t, "nodes_trueleafs", (size_t)m->n_nodes, m->tleaf);
  optest_attr_ints(t, "nodes_falsenodeids", (size_t)m->n_nodes, m->fid);
  optest_attr_ints(t, "nodes_falseleafs", (size_t)m->n_nodes, m->fleaf);
  optest_attr_ints(t, "nodes_missing_value_tracks_true", (size_t)m->n_nodes,
                   m->nan_true);
  optest_attr_tensor(t, "nodes_modes", EMBER_UINT8, 1, dn, m->mode);
  optest_attr_ints(t, "leaf_targetids", (size_t)m->n_leaves, m->ltarget);
  float sf[TE_NODES], wf[TE_LEAVES], mf[TE_MEMBERS];
  for (int i = 0; i < m->n_nodes; i++) sf[i] = (float)m->split[i];
  for (int i = 0; i < m->n_leaves; i++) wf[i] = (float)m->lweight[i];
  for (int i = 0; i < m->n_members; i++) mf[i] = (float)m->members[i];
  bool dbl = split_dtype == EMBER_DOUBLE;
  optest_attr_tensor(t, "nodes_splits", split_dtype, 1, dn,
                     dbl ? (const void *)m->split : sf);
  optest_attr_tensor(t, "leaf_weights", split_dtype, 1, dl,
                     dbl ? (const void *)m->lweight : wf);
  if (m->n_members)
    optest_attr_tensor(t, "membership_values", split_dtype, 1, dm,
                       dbl ? (const void *)m->members : mf);
  return t;
}

/* The reference compares in float for a float input, in double for a
 * double one, against thresholds given as `split_dtype`. */
static bool te_ref_go(const te_model *m, int i, double x, bool f32,
                      bool split_f32) {
  if (isnan(x)) return m->nan_true[i] != 0;
  double s = split_f32 ? (float)m->split[i] : m->split[i];
  if (f32) {
    float a = (float)x, b = (float)s;
    switch (m->mode[i]) {
      case 0: return a <= b;
      case 1: return a < b;
      case 2: return a >= b;
      case 3: return a > b;
      case 4: return a == b;
      case 5: return a != b;
      default:
        for (int k = 0; k < m->set_len[i]; k++)
          if (a == (float)m->members[m->set_at[i] + k]) return true;
        return false;
    }
  }
  switch (m->mode[i]) {
    case 0: return x <= s;
    case 1: return x < s;
    case 2: return x >= s;
    case 3: return x > s;
    case 4: return x == s;
    case 5: return x != s;
    default:
      for (int k = 0; k < m->set_len[i]; k++) {
        double v = m->members[m->set_at[i] + k];
        if (x == (split_f32 ? (float)v : v)) return true;
      }
      return false;
  }
}

static int te_ref_leaf(const te_model *m, int64_t node, const double *row,
                       bool f32, bool split_f32) {
  bool go = te_ref_go(m, (int)node, row[m->feat[node]], f32, split_f32);
  int64_t id = go ? m->tid[node] : m->fid[node];
  bool leaf = go ? m->tleaf[node] : m->fleaf[node];
  return leaf ? (int)id : te_ref_leaf(m, id, row, f32, split_f32);
}

/* erf^-1 by bisection (NaN outside [-1, 1]). */
static double ref_erfinv(double y) {
  if (y < -1 || y > 1) return NAN;
  if (y == -1) return -INFINITY;
  if (y == 1) return INFINITY;
  double lo = -10, hi = 10;
  for (int k = 0; k < 200; k++) {
    double mid = (lo + hi) / 2;
    if (erf(mid) < y)
      lo = mid;
    else
      hi = mid;
  }
  return (lo + hi) / 2;
}

static void te_reference(const te_model *m, int agg, int post,
                         const double *x, int rows, bool f32, bool split_f32,
                         double *y) {
  for (int r = 0; r < rows; r++) {
    double *o = y + r * m->n_targets;
    int hits[16] = {0};
    for (int k = 0; k < m->n_targets; k++) o[k] = 0;
    for (int t = 0; t < m->n_trees; t++) {
      int l = te_ref_leaf(m, m->roots[t], x + r * m->n_feat, f32, split_f32);
      int k = (int)m->ltarget[l];
      double w = split_f32 ? (float)m->lweight[l] : m->lweight[l];
      if (!hits[k]++) {
        o[k] = w;
      } else if (agg == 2) {
        o[k] = fmin(o[k], w);
      } else if (agg == 3) {
        o[k] = fmax(o[k], w);
      } else {
        o[k] += w;
      }
    }
    if (agg == 0)
      for (int k = 0; k < m->n_targets; k++) o[k] /= m->n_trees;
    double sum = 0, mx = -INFINITY;
    for (int k = 0; k < m->n_targets; k++)
      if (!(post == 3 && o[k] == 0)) mx = fmax(mx, o[k]);
    for (int k = 0; k < m->n_targets; k++) {
      switch (post) {
        case 1: o[k] = exp(o[k] - mx); sum += o[k]; break;
        case 3: o[k] = o[k] == 0 ? 0 : exp(o[k] - mx); sum += o[k]; break;
        case 2: o[k] = 1 / (1 + exp(-o[k])); break;
        case 4: o[k] = sqrt(2.0) * ref_erfinv(2 * o[k] - 1); break;
        default: break;
      }
    }
    if ((post == 1 || post == 3) && sum > 0)
      for (int k = 0; k < m->n_targets; k++) o[k] /= sum;
  }
}

static void test_te_random_ensembles_match_reference(void **state) {
  (void)state;
  enum { ROWS = 23, FEAT = 4 };
  double x[ROWS * FEAT];
  for (int i = 0; i < ROWS * FEAT; i++)
    x[i] = te_rand(9) == 0 ? NAN : te_values[te_rand(6)] +
                                       (te_rand(3) == 0 ? 0.1 : 0);
  for (int trial = 0; trial < 6; trial++) {
    te_model m;
    te_random(&m, 1 + trial, 1 + trial % 3, FEAT);
    for (int agg = 0; agg < 4; agg++)
      for (int post = 0; post < 5; post++)
        for (int in_t = 0; in_t < 2; in_t++)
          for (int sp_t = 0; sp_t < 2; sp_t++) {
            bool f32 = in_t == 0, split_f32 = sp_t == 0;
            optest *t = te_node(&m, agg, post,
                                split_f32 ? EMBER_FLOAT : EMBER_DOUBLE);
            float xf[ROWS * FEAT];
            for (int i = 0; i < ROWS * FEAT; i++) xf[i] = (float)x[i];
            int64_t dx[] = {ROWS, FEAT};
            optest_input(t, f32 ? EMBER_FLOAT : EMBER_DOUBLE, 2, dx,
                         f32 ? (const void *)xf : x);
            run_ok(t);
            double want[ROWS * 3];
            te_reference(&m, agg, post, x, ROWS, f32, split_f32, want);
            const emb_value *y = optest_output(t, 0);
            int64_t dy[] = {ROWS, m.n_targets};
            expect_shape(y, f32 ? EMBER_FLOAT : EMBER_DOUBLE, 2, dy);
            for (int i = 0; i < ROWS * m.n_targets; i++) {
              double g = emb_tensor_get_f64(&y->t, (size_t)i), w = want[i];
              double tol = (f32 ? 1e-5 : 1e-9) * (1 + fabs(w));
              if (!(fabs(g - w) <= tol) && g != w && !(isnan(g) && isnan(w)))
                fail_msg("trial %d agg %d post %d in %s splits %s: element "
                         "%d is %.12g, expected %.12g",
                         trial, agg, post, f32 ? "float" : "double",
                         split_f32 ? "float" : "double", i, g, w);
            }
            optest_free(t);
          }
  }
}

static void test_te_float16_input(void **state) {
  (void)state;
  te_model m;
  te_random(&m, 3, 2, 3);
  uint16_t xh[5 * 3];
  double x[5 * 3];
  for (int i = 0; i < 15; i++) {
    xh[i] = emb_f32_to_f16((float)te_values[te_rand(6)]);
    x[i] = emb_f16_to_f32(xh[i]);
  }
  /* Thresholds that are exact in float16 make the comparisons agree. */
  for (int i = 0; i < m.n_nodes; i++)
    m.split[i] = emb_f16_to_f32(emb_f32_to_f16((float)m.split[i]));
  for (int i = 0; i < m.n_members; i++)
    if (!isnan(m.members[i]))
      m.members[i] = emb_f16_to_f32(emb_f32_to_f16((float)m.members[i]));
  optest *t = te_node(&m, 1, 0, EMBER_FLOAT);
  int64_t dx[] = {5, 3}, dy[] = {5, 2};
  optest_input(t, EMBER_FLOAT16, 2, dx, xh);
  run_ok(t);
  double want[10];
  te_reference(&m, 1, 0, x, 5, true, true, want);
  const emb_value *y = optest_output(t, 0);
  expect_shape(y, EMBER_FLOAT16, 2, dy);
  for (int i = 0; i < 10; i++) {
    double g = emb_tensor_get_f64(&y->t, (size_t)i);
    double w = emb_f16_to_f32(emb_f32_to_f16((float)want[i]));
    if (g != w) fail_msg("element %d is %g, expected %g", i, g, w);
  }
  optest_free(t);
}

/* A one-tree ensemble written out by hand for the error cases. */
static optest *te_small(const int64_t *tid, const int64_t *tleaf,
                        const uint8_t *modes, int64_t feature) {
  optest *t = ml_new("TreeEnsemble", 5);
  const int64_t roots[] = {0}, feat[] = {feature, 0}, fid[] = {1, 1};
  const int64_t fleaf[] = {1, 1}, targets[] = {0, 0};
  const float splits[] = {1, 2}, weights[] = {3, 4};
  int64_t d2[] = {2};
  optest_attr_ints(t, "tree_roots", 1, roots);
  optest_attr_ints(t, "nodes_featureids", 2, feat);
  optest_attr_ints(t, "nodes_truenodeids", 2, tid);
  optest_attr_ints(t, "nodes_trueleafs", 2, tleaf);
  optest_attr_ints(t, "nodes_falsenodeids", 2, fid);
  optest_attr_ints(t, "nodes_falseleafs", 2, fleaf);
  optest_attr_tensor(t, "nodes_modes", EMBER_UINT8, 1, d2, modes);
  optest_attr_tensor(t, "nodes_splits", EMBER_FLOAT, 1, d2, splits);
  optest_attr_ints(t, "leaf_targetids", 2, targets);
  optest_attr_tensor(t, "leaf_weights", EMBER_FLOAT, 1, d2, weights);
  return t;
}

static void test_te_errors(void **state) {
  (void)state;
  const int64_t tid_ok[] = {1, 0}, tleaf_ok[] = {0, 1};
  const int64_t tid_cycle[] = {1, 0}, tleaf_cycle[] = {0, 0};
  const int64_t tid_far[] = {5, 0};
  const uint8_t modes_ok[] = {0, 1}, modes_bad[] = {0, 7},
                modes_member[] = {6, 0};
  float x[6] = {0};
  int64_t d23[] = {2, 3}, d6[] = {6};
  struct {
    const int64_t *tid, *tleaf;
    const uint8_t *modes;
    int64_t feature;
    int rank;
    int32_t dtype;
    ember_status st;
    const char *part;
  } c[] = {
      {tid_cycle, tleaf_cycle, modes_ok, 0, 2, EMBER_FLOAT,
       EMBER_ERR_INVALID_MODEL, "cycle"},
      {tid_far, tleaf_ok, modes_ok, 0, 2, EMBER_FLOAT,
       EMBER_ERR_INVALID_MODEL, "out of range"},
      {tid_ok, tleaf_ok, modes_bad, 0, 2, EMBER_FLOAT,
       EMBER_ERR_INVALID_MODEL, "mode"},
      {tid_ok, tleaf_ok, modes_member, 0, 2, EMBER_FLOAT,
       EMBER_ERR_INVALID_MODEL, "membership_values"},
      {tid_ok, tleaf_ok, modes_ok, 3, 2, EMBER_FLOAT, EMBER_ERR_SHAPE,
       "feature 3"},
      {tid_ok, tleaf_ok, modes_ok, 0, 1, EMBER_FLOAT, EMBER_ERR_SHAPE,
       "[N, F]"},
      {tid_ok, tleaf_ok, modes_ok, 0, 2, EMBER_INT32, EMBER_ERR_UNSUPPORTED,
       "int32"},
  };
  for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
    optest *t = te_small(c[k].tid, c[k].tleaf, c[k].modes, c[k].feature);
    optest_input(t, c[k].dtype, c[k].rank, c[k].rank == 2 ? d23 : d6, x);
    ember_status st = optest_run(t);
    if (st != c[k].st)
      fail_msg("case %zu: status %d, expected %d: %s", k, (int)st,
               (int)c[k].st, optest_errmsg(t));
    if (!strstr(optest_errmsg(t), "TreeEnsemble") ||
        !strstr(optest_errmsg(t), c[k].part))
      fail_msg("case %zu: unexpected message: %s", k, optest_errmsg(t));
    optest_free(t);
  }
  /* The well-formed small tree runs. */
  optest *t = te_small(tid_ok, tleaf_ok, modes_ok, 2);
  const float xr[] = {0, 0, 0.5f, 0, 0, 1.5f};
  optest_input(t, EMBER_FLOAT, 2, d23, xr);
  run_ok(t);
  /* Row 0: 0.5 <= 1 -> node 1, 0 < 2 -> leaf 0 (3); row 1: 1.5 > 1 ->
   * leaf 1 (4). */
  const float want[] = {3, 4};
  int64_t dy[] = {2, 1};
  optest_expect_f32(optest_output(t, 0), 2, dy, want, 0, 0);
  optest_free(t);
}

/* ----------------------------------------------------------- Binarizer */

static void test_binarizer_all_types(void **state) {
  (void)state;
  const double xs[] = {-2, -0.5, 0, 0.4, 0.5, 0.6, 1, 2, 3, -1};
  const float thresholds[] = {0.5f, 0.0f, -1.0f, 2.0f, 1e20f};
  const int32_t types[] = {EMBER_FLOAT, EMBER_DOUBLE, EMBER_INT32,
                           EMBER_INT64};
  int64_t d25[] = {2, 5};
  for (int ti = 0; ti < 4; ti++)
    for (int hi = 0; hi < 5; hi++) {
      char buf[10 * 8];
      emb_tensor x = {.dtype = types[ti], .data = buf};
      for (int i = 0; i < 10; i++) emb_tensor_set_f64(&x, (size_t)i, xs[i]);
      optest *t = ml_new("Binarizer", 1);
      optest_attr_float(t, "threshold", thresholds[hi]);
      optest_input(t, types[ti], 2, d25, buf);
      run_ok(t);
      const emb_value *y = optest_output(t, 0);
      expect_shape(y, types[ti], 2, d25);
      for (int i = 0; i < 10; i++) {
        double v = emb_tensor_get_f64(&x, (size_t)i);
        double w = v > (double)thresholds[hi] ? 1 : 0;
        double g = emb_tensor_get_f64(&y->t, (size_t)i);
        if (g != w)
          fail_msg("type %d threshold %g: element %d (%g) gave %g", ti,
                   (double)thresholds[hi], i, v, g);
      }
      optest_free(t);
    }
  /* NaN is not above any threshold; the default threshold is 0. */
  const float xn[] = {NAN, 0.0f, 1e-30f, -1e-30f};
  const float want[] = {0, 0, 1, 0};
  int64_t d4[] = {4};
  optest *t = ml_new("Binarizer", 1);
  optest_input(t, EMBER_FLOAT, 1, d4, xn);
  run_ok(t);
  optest_expect_f32(optest_output(t, 0), 1, d4, want, 0, 0);
  optest_free(t);
  /* Strings are refused. */
  const char *s[] = {"a"};
  int64_t d1[] = {1};
  t = ml_new("Binarizer", 1);
  optest_input(t, EMBER_STRING, 1, d1, s);
  run_fails(t, "Binarizer", EMBER_ERR_UNSUPPORTED, "string");
  optest_free(t);
}

/* ----------------------------------------------- ArrayFeatureExtractor */

static void afe_case(int32_t dtype, int rank, const int64_t *dims,
                     const void *x, int idx_rank, const int64_t *idx_dims,
                     const int64_t *idx) {
  size_t k = 1, n = 1;
  for (int i = 0; i < idx_rank; i++) k *= (size_t)idx_dims[i];
  for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
  size_t d = (size_t)dims[rank - 1], rows = n / d;
  int64_t zd[8];
  int zr = rank == 1 ? 2 : rank;
  if (rank == 1) zd[0] = 1;
  for (int i = 0; i + 1 < rank; i++) zd[i] = dims[i];
  zd[zr - 1] = (int64_t)k;
  optest *t = ml_new("ArrayFeatureExtractor", 1);
  optest_input(t, dtype, rank, dims, x);
  optest_input(t, EMBER_INT64, idx_rank, idx_dims, idx);
  run_ok(t);
  const emb_value *z = optest_output(t, 0);
  expect_shape(z, dtype, zr, zd);
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < k; j++) {
      size_t from = r * d + (size_t)idx[j], to = r * k + j;
      if (dtype == EMBER_STRING) {
        const char *g = ((char *const *)z->t.data)[to];
        const char *w = ((const char *const *)x)[from];
        if (strcmp(g, w)) fail_msg("element %zu: '%s' vs '%s'", to, g, w);
      } else {
        emb_tensor xt = {.dtype = dtype, .data = (void *)x};
        if (emb_tensor_get_f64(&z->t, to) != emb_tensor_get_f64(&xt, from))
          fail_msg("element %zu differs", to);
      }
    }
  optest_free(t);
}

static void test_afe_shapes_and_types(void **state) {
  (void)state;
  float xf[24];
  int64_t xi[24];
  double xd[24];
  const char *xs[24];
  static char names[24][8];
  for (int i = 0; i < 24; i++) {
    xf[i] = (float)i * 1.5f;
    xi[i] = 100 - i;
    xd[i] = i / 3.0;
    snprintf(names[i], sizeof names[i], "s%d", i);
    xs[i] = names[i];
  }
  int64_t d34[] = {3, 4}, d5[] = {5}, d223[] = {2, 2, 3}, d64[] = {6, 4};
  int64_t i4[] = {0, 3, 3, 1}, i2[] = {4, 0}, i1[] = {2}, d4[] = {4},
          d2[] = {2}, d1[] = {1}, d12[] = {1, 2}, d0[] = {0};
  afe_case(EMBER_FLOAT, 2, d34, xf, 1, d4, i4);
  afe_case(EMBER_FLOAT, 1, d5, xf, 1, d2, i2);
  afe_case(EMBER_INT64, 3, d223, xi, 1, d1, i1);
  afe_case(EMBER_DOUBLE, 2, d64, xd, 2, d12, i4 + 1);
  afe_case(EMBER_STRING, 2, d34, xs, 1, d4, i4);
  afe_case(EMBER_FLOAT, 2, d34, xf, 1, d0, i4);
}

static void test_afe_index_errors(void **state) {
  (void)state;
  float x[6] = {0};
  int64_t d23[] = {2, 3}, d1[] = {1};
  const int64_t bad[] = {3, -1};
  const int32_t i32[] = {0};
  for (int k = 0; k < 2; k++) {
    optest *t = ml_new("ArrayFeatureExtractor", 1);
    optest_input(t, EMBER_FLOAT, 2, d23, x);
    optest_input(t, EMBER_INT64, 1, d1, bad + k);
    run_fails(t, "ArrayFeatureExtractor", EMBER_ERR_RUNTIME, "out of range");
    optest_free(t);
  }
  optest *t = ml_new("ArrayFeatureExtractor", 1);
  optest_input(t, EMBER_FLOAT, 2, d23, x);
  optest_input(t, EMBER_INT32, 1, d1, i32);
  run_fails(t, "ArrayFeatureExtractor", EMBER_ERR_UNSUPPORTED, "int32");
  optest_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_le_strings_to_ints_last_key_wins),
      cmocka_unit_test(test_le_float_keys_nan_and_zero),
      cmocka_unit_test(test_le_tensor_attributes),
      cmocka_unit_test(test_le_version1_both_directions),
      cmocka_unit_test(test_le_shapes_and_constant_input),
      cmocka_unit_test(test_le_errors),
      cmocka_unit_test(test_te_random_ensembles_match_reference),
      cmocka_unit_test(test_te_float16_input),
      cmocka_unit_test(test_te_errors),
      cmocka_unit_test(test_binarizer_all_types),
      cmocka_unit_test(test_afe_shapes_and_types),
      cmocka_unit_test(test_afe_index_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
