/*
 * The operator registry: the table built from ops.def and its lookups.
 * The table is read-only and built at compile time.
 */
#include <string.h>

#include "ops/op.h"

#define EMB_OPSET_MAX 28

/* Until every family lands, definitions are weak so the tree links with
 * some missing; a missing one reads as an unsupported operator. */
#define EMB_OP(sym, dom, name, since, until) \
  extern const emb_opdef emb_op_##sym __attribute__((weak));
#include "ops/ops.def"
#undef EMB_OP

static const emb_opreg emb_registry[] = {
#define EMB_OP(sym, dom, name, since, until) \
  {dom, name, since, until, &emb_op_##sym},
#include "ops/ops.def"
#undef EMB_OP
};

static const char *emb_norm_domain(const char *domain) {
  if (!domain || strcmp(domain, "ai.onnx") == 0) return "";
  return domain;
}

const emb_opreg *emb_op_lookup(const char *domain, const char *op_type,
                               int64_t version) {
  domain = emb_norm_domain(domain);
  for (size_t i = 0; i < EMB_ARRAY_LEN(emb_registry); i++) {
    const emb_opreg *r = &emb_registry[i];
    if (r->def && strcmp(r->name, op_type) == 0 &&
        strcmp(r->domain, domain) == 0 && version >= r->since &&
        version <= r->until)
      return r;
  }
  return NULL;
}

const emb_opreg *emb_op_lookup_any(const char *domain, const char *op_type) {
  domain = emb_norm_domain(domain);
  for (size_t i = 0; i < EMB_ARRAY_LEN(emb_registry); i++) {
    const emb_opreg *r = &emb_registry[i];
    if (r->def && strcmp(r->name, op_type) == 0 &&
        strcmp(r->domain, domain) == 0)
      return r;
  }
  return NULL;
}

size_t emb_op_count(void) { return EMB_ARRAY_LEN(emb_registry); }

const emb_opreg *emb_op_at(size_t i) {
  return i < EMB_ARRAY_LEN(emb_registry) ? &emb_registry[i] : NULL;
}
