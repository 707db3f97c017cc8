/*
 * inputs.c: how `ember run` and `ember bench` obtain the inputs of a
 * model.  An input named by `--input NAME=FILE` is read from a NumPy .npy
 * file or from a serialized ONNX TensorProto / SequenceProto /
 * OptionalProto (.pb, parsed by ember_value_parse according to the kind the
 * model declares).  Every other input is generated deterministically from
 * its declared type and shape, symbolic dimensions taken as 1: floats hold
 * arange(n)/n (the convention of the light/ conformance models), integers
 * i % 10, booleans alternate 0, 1, and strings are "a".
 */
#include "cli.h"
#include "npy.h"

#include <stdlib.h>
#include <string.h>

int cli_input_spec_parse(const char *cmd, char *text, cli_input_spec *spec) {
  char *eq = strchr(text, '=');
  if (!eq || eq == text || eq[1] == '\0')
    return cli_usage_error(cmd, "--input wants NAME=FILE, not '%s'", text),
           -1;
  /* split in place: the name is the part before the first '=' */
  *eq = '\0';
  spec->name = text;
  spec->path = eq + 1;
  return 0;
}

/* Keep `p` until cli_inputs_free; frees it and returns NULL on failure. */
static void *keep(cli_inputs *in, void *p) {
  if (!p)
    return NULL;
  if (in->nblocks == in->capblocks) {
    size_t ncap = in->capblocks ? in->capblocks * 2 : 16;
    void **nb = realloc(in->blocks, ncap * sizeof *nb);
    if (!nb) {
      free(p);
      return NULL;
    }
    in->blocks = nb;
    in->capblocks = ncap;
  }
  in->blocks[in->nblocks++] = p;
  return p;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

void cli_fill_arange(float *data, size_t n) {
  size_t i;
  /* computed in double and rounded once, as numpy's arange(n) / n then
   * astype(float32) does */
  for (i = 0; i < n; i++)
    data[i] = (float)((double)i / (double)n);
}

/* Fill element i of a generated tensor. */
static void gen_elem(int32_t dtype, void *data, size_t i, size_t n) {
  unsigned char *p = data;
  double f = (double)i / (double)n;
  int64_t k = (int64_t)(i % 10);
  switch (dtype) {
  case EMBER_FLOAT: { float v = (float)f; memcpy(p + 4 * i, &v, 4); break; }
  case EMBER_DOUBLE: memcpy(p + 8 * i, &f, 8); break;
  case EMBER_FLOAT16: { uint16_t v = cli_float_to_half((float)f); memcpy(p + 2 * i, &v, 2); break; }
  case EMBER_BFLOAT16: { uint16_t v = cli_float_to_bf16((float)f); memcpy(p + 2 * i, &v, 2); break; }
  case EMBER_COMPLEX64: { float v[2] = {(float)f, 0.0f}; memcpy(p + 8 * i, v, 8); break; }
  case EMBER_COMPLEX128: { double v[2] = {f, 0.0}; memcpy(p + 16 * i, v, 16); break; }
  case EMBER_BOOL: p[i] = (unsigned char)(i & 1); break;
  case EMBER_INT8: case EMBER_UINT8: p[i] = (unsigned char)k; break;
  case EMBER_INT16: case EMBER_UINT16: { uint16_t v = (uint16_t)k; memcpy(p + 2 * i, &v, 2); break; }
  case EMBER_INT32: case EMBER_UINT32: { uint32_t v = (uint32_t)k; memcpy(p + 4 * i, &v, 4); break; }
  case EMBER_INT64: case EMBER_UINT64: { uint64_t v = (uint64_t)k; memcpy(p + 8 * i, &v, 8); break; }
  case EMBER_INT4: case EMBER_UINT4: {
    unsigned v = (unsigned)(i % 8);  /* in range for both signednesses */
    p[i / 2] = (unsigned char)((i & 1) ? (p[i / 2] & 0x0f) | (v << 4)
                                       : (p[i / 2] & 0xf0) | v);
    break;
  }
  case EMBER_INT2: case EMBER_UINT2: {
    unsigned v = (unsigned)(i % 2), s = 2 * (unsigned)(i & 3);
    p[i / 4] = (unsigned char)((p[i / 4] & ~(3u << s)) | (v << s));
    break;
  }
  default:
    /* float8 and float4 formats: zero, which every one of them encodes
     * as all bits clear */
    break;
  }
}

/* Make one tensor of `dtype` with the declared shape of `info`. */
static int gen_tensor(cli_inputs *in, const ember_value_info *info,
                      int32_t dtype, ember_tensor *t) {
  int32_t rank = info->rank < 0 ? 1 : info->rank;
  int64_t *dims = keep(in, malloc(sizeof(int64_t) * (rank ? (size_t)rank : 1)));
  size_t n = 1, bytes, i;
  int32_t d;
  void *data;
  if (!dims)
    goto oom;
  for (d = 0; d < rank; d++) {
    int64_t v = (info->rank < 0 || !info->dims || info->dims[d] < 0)
                    ? 1 : info->dims[d];
    dims[d] = v;
    if (v > 0 && (uint64_t)v > (SIZE_MAX / 64) / n) {
      cli_error("input '%s': the declared shape is too large to generate",
                info->name);
      return -1;
    }
    n *= (size_t)v;
  }
  bytes = ember_dtype_bytes(dtype, n);
  if (dtype == EMBER_STRING) {
    const char **s = keep(in, malloc(bytes ? bytes : 1));
    if (!s)
      goto oom;
    for (i = 0; i < n; i++)
      s[i] = "a";
    data = s;
  } else {
    data = keep(in, calloc(1, bytes ? bytes : 1));
    if (!data)
      goto oom;
    for (i = 0; i < n; i++)
      gen_elem(dtype, data, i, n);
  }
  t->dtype = dtype;
  t->rank = rank;
  t->dims = dims;
  t->data = data;
  t->nbytes = bytes;
  return 0;
oom:
  cli_error("out of memory generating input '%s'", info->name);
  return -1;
}

static int generate(cli_inputs *in, size_t k, const ember_value_info *info) {
  ember_value *v = &in->values[k];
  int32_t dtype = info->dtype;
  if (dtype == EMBER_UNDEFINED || ember_dtype_bytes(dtype, 1) == 0) {
    cli_error("input '%s' has an element type (%s) that cannot be "
              "generated; give it with --input %s=FILE", info->name,
              ember_dtype_name(dtype), info->name);
    return -1;
  }
  switch (info->kind) {
  case EMBER_KIND_TENSOR:
    v->kind = EMBER_KIND_TENSOR;
    return gen_tensor(in, info, dtype, &v->tensor);
  case EMBER_KIND_SEQUENCE: {
    /* a sequence of one tensor of the element's declared shape */
    ember_tensor *item = keep(in, calloc(1, sizeof *item));
    if (!item) {
      cli_error("out of memory");
      return -1;
    }
    if (gen_tensor(in, info, dtype, item) != 0)
      return -1;
    v->kind = EMBER_KIND_SEQUENCE;
    v->elem_dtype = dtype;
    v->count = 1;
    v->items = item;
    return 0;
  }
  case EMBER_KIND_OPTIONAL:
    v->kind = EMBER_KIND_OPTIONAL;
    v->has_value = 1;
    v->elem_kind = EMBER_KIND_TENSOR;
    return gen_tensor(in, info, dtype, &v->tensor);
  default:
    cli_error("input '%s' is a %s, which cannot be generated", info->name,
              cli_kind_name(info->kind));
    return -1;
  }
}

static int load_file(cli_inputs *in, size_t k, const ember_value_info *info,
                     const char *path) {
  char err[512];
  if (ends_with(path, ".npy")) {
    npy_array *a = keep(in, calloc(1, sizeof *a));
    if (!a) {
      cli_error("out of memory");
      return -1;
    }
    if (npy_read(path, a, err, sizeof err) != 0) {
      cli_error("input '%s': %s", info->name, err);
      return -1;
    }
    /* the array's buffers join the kept blocks; the struct stays too */
    if (!keep(in, a->dims) || !keep(in, a->data)) {
      cli_error("out of memory");
      return -1;
    }
    if (info->kind == EMBER_KIND_SEQUENCE) {
      /* an .npy file given for a sequence input is a sequence of one */
      in->values[k].kind = EMBER_KIND_SEQUENCE;
      in->values[k].elem_dtype = a->tensor.dtype;
      in->values[k].count = 1;
      in->values[k].items = &a->tensor;
    } else if (info->kind == EMBER_KIND_OPTIONAL) {
      in->values[k].kind = EMBER_KIND_OPTIONAL;
      in->values[k].has_value = 1;
      in->values[k].elem_kind = EMBER_KIND_TENSOR;
      in->values[k].tensor = a->tensor;
    } else {
      in->values[k].kind = EMBER_KIND_TENSOR;
      in->values[k].tensor = a->tensor;
    }
    return 0;
  }
  if (ends_with(path, ".pb")) {
    unsigned char *bytes;
    size_t size;
    int format = info->kind == EMBER_KIND_SEQUENCE   ? EMBER_PB_SEQUENCE
                 : info->kind == EMBER_KIND_OPTIONAL ? EMBER_PB_OPTIONAL
                                                     : EMBER_PB_TENSOR;
    ember_status st;
    if (cli_read_file(path, &bytes, &size, err, sizeof err) != 0) {
      cli_error("input '%s': %s", info->name, err);
      return -1;
    }
    err[0] = '\0';
    st = ember_value_parse(bytes, size, format, &in->parsed[k], err,
                           sizeof err);
    free(bytes);
    if (st != EMBER_OK || !in->parsed[k]) {
      cli_error("input '%s': cannot parse %s: %s%s%s", info->name, path,
                ember_status_str(st), err[0] ? ": " : "", err);
      return -1;
    }
    in->values[k] = *in->parsed[k];
    return 0;
  }
  cli_error("input '%s': cannot tell the format of %s (want .npy or .pb)",
            info->name, path);
  return -1;
}

int cli_inputs_prepare(const ember_model *model, const cli_input_spec *specs,
                       size_t nspecs, cli_inputs *out) {
  size_t n = ember_model_input_count(model), k, s;
  memset(out, 0, sizeof *out);
  /* every spec must name a graph input, once */
  for (s = 0; s < nspecs; s++) {
    int found = 0;
    size_t t;
    for (k = 0; k < n && !found; k++) {
      ember_value_info info;
      if (ember_model_input_info(model, k, &info) == EMBER_OK &&
          strcmp(info.name, specs[s].name) == 0)
        found = 1;
    }
    if (!found) {
      cli_error("the model has no input named '%s' (see 'ember inspect')",
                specs[s].name);
      return -1;
    }
    for (t = 0; t < s; t++)
      if (strcmp(specs[t].name, specs[s].name) == 0) {
        cli_error("input '%s' is given twice", specs[s].name);
        return -1;
      }
  }
  out->count = n;
  out->names = calloc(n ? n : 1, sizeof *out->names);
  out->values = calloc(n ? n : 1, sizeof *out->values);
  out->generated = calloc(n ? n : 1, sizeof *out->generated);
  out->parsed = calloc(n ? n : 1, sizeof *out->parsed);
  if (!out->names || !out->values || !out->generated || !out->parsed) {
    cli_error("out of memory");
    goto fail;
  }
  for (k = 0; k < n; k++) {
    ember_value_info info;
    const char *path = NULL;
    if (ember_model_input_info(model, k, &info) != EMBER_OK) {
      cli_error("cannot read the description of input %zu", k);
      goto fail;
    }
    out->names[k] = info.name;
    for (s = 0; s < nspecs; s++)
      if (strcmp(specs[s].name, info.name) == 0)
        path = specs[s].path;
    if (path) {
      if (load_file(out, k, &info, path) != 0)
        goto fail;
    } else {
      out->generated[k] = 1;
      if (generate(out, k, &info) != 0)
        goto fail;
    }
  }
  return 0;
fail:
  cli_inputs_free(out);
  return -1;
}

void cli_inputs_free(cli_inputs *in) {
  size_t k;
  if (!in)
    return;
  if (in->parsed)
    for (k = 0; k < in->count; k++)
      ember_value_free(in->parsed[k]);
  for (k = 0; k < in->nblocks; k++)
    free(in->blocks[k]);
  free(in->blocks);
  free(in->parsed);
  free(in->generated);
  free(in->values);
  free(in->names);
  memset(in, 0, sizeof *in);
}
