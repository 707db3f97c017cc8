/*
 * inspect.c: `ember inspect MODEL`, a readable description of a model
 * taken from the public API alone: file-level strings (IR version,
 * producer, domain, graph name, doc string), opset imports, the inputs and
 * outputs with kind, element type and shape (symbolic dimensions by name),
 * the metadata properties, a histogram of the operators left after loading
 * and the number of parameter elements.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

const char cli_inspect_usage[] =
    "usage: ember inspect MODEL\n"
    "\n"
    "Describe an ONNX model: IR version, producer, opset imports, inputs and\n"
    "outputs (kind, element type, shape; symbolic dimensions by name),\n"
    "metadata, the operators after loading (with counts) and the number of\n"
    "parameters.\n";

typedef struct op_count {
  const char *op;
  size_t count;
} op_count;

static int by_count_then_name(const void *a, const void *b) {
  const op_count *x = a, *y = b;
  if (x->count != y->count)
    return x->count < y->count ? 1 : -1;
  return strcmp(x->op, y->op);
}

/* Print one line of text, replacing control characters, cut at `max`. */
static void print_clean(const char *s, size_t max) {
  size_t i;
  for (i = 0; s[i] && i < max; i++) {
    unsigned char c = (unsigned char)s[i];
    putchar(c < 0x20 || c == 0x7f ? ' ' : c);
  }
  if (s[i])
    fputs("...", stdout);
}

static void print_values(const ember_model *model, int outputs) {
  size_t n = outputs ? ember_model_output_count(model)
                     : ember_model_input_count(model);
  size_t k, width = 4;
  printf("%s (%zu):\n", outputs ? "outputs" : "inputs", n);
  for (k = 0; k < n; k++) {
    ember_value_info info;
    if ((outputs ? ember_model_output_info(model, k, &info)
                 : ember_model_input_info(model, k, &info)) == EMBER_OK &&
        strlen(info.name) > width)
      width = strlen(info.name);
  }
  if (width > 40)
    width = 40;
  for (k = 0; k < n; k++) {
    ember_value_info info;
    char shape[512];
    ember_status st = outputs ? ember_model_output_info(model, k, &info)
                              : ember_model_input_info(model, k, &info);
    if (st != EMBER_OK) {
      printf("  %zu  (cannot read: %s)\n", k, ember_status_str(st));
      continue;
    }
    cli_format_info_shape(shape, sizeof shape, &info);
    printf("  %-3zu %-*s  %-8s %-8s %s\n", k, (int)width, info.name,
           cli_kind_name(info.kind),
           info.dtype == EMBER_UNDEFINED ? "?" : ember_dtype_name(info.dtype),
           shape);
  }
}

static void print_count(uint64_t n) {
  char digits[32], out[48];
  size_t len, i, o = 0;
  snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
  len = strlen(digits);
  for (i = 0; i < len; i++) {
    if (i && (len - i) % 3 == 0)
      out[o++] = ',';
    out[o++] = digits[i];
  }
  out[o] = '\0';
  if (n >= 1000000)
    printf("%s (%.1fM)", out, (double)n / 1e6);
  else if (n >= 1000)
    printf("%s (%.1fK)", out, (double)n / 1e3);
  else
    printf("%s", out);
}

int cli_inspect_main(int argc, char **argv) {
  cli_args a = {argc, argv, 1, "inspect", 0};
  const char *path = NULL;
  ember_model *model;
  size_t k, n, nops = 0;
  op_count *ops;
  static const char *const keys[] = {"producer_name", "producer_version",
                                     "domain", "graph_name", "doc_string"};
  while (a.i < argc) {
    const char *arg = argv[a.i];
    if (!a.only_positional && strcmp(arg, "--") == 0) {
      a.only_positional = 1;
      a.i++;
    } else if (!a.only_positional && arg[0] == '-' && arg[1]) {
      return cli_usage_error("inspect", "unknown option '%s'", arg);
    } else if (path) {
      return cli_usage_error("inspect", "one MODEL only");
    } else {
      path = arg;
      a.i++;
    }
  }
  if (!path)
    return cli_usage_error("inspect", "missing MODEL");
  if (cli_load_model(path, &model) != EMBER_OK)
    return CLI_EXIT_FAIL;

  printf("model: %s\n", path);
  printf("ir_version: %lld\n", (long long)ember_model_ir_version(model));
  printf("model_version: %lld\n", (long long)ember_model_version(model));
  for (k = 0; k < sizeof keys / sizeof keys[0]; k++) {
    const char *v = ember_model_string(model, keys[k]);
    if (v && v[0]) {
      printf("%s: ", keys[k]);
      print_clean(v, 200);
      putchar('\n');
    }
  }
  n = ember_model_opset_count(model);
  printf("opsets:");
  for (k = 0; k < n; k++) {
    const char *domain = NULL;
    int64_t version = 0;
    if (ember_model_opset(model, k, &domain, &version) == EMBER_OK)
      printf(" %s %lld%s", domain && domain[0] ? domain : "ai.onnx",
             (long long)version, k + 1 < n ? "," : "");
  }
  printf("%s\n", n ? "" : " (none)");
  print_values(model, 0);
  print_values(model, 1);

  n = ember_model_metadata_count(model);
  if (n) {
    printf("metadata (%zu):\n", n);
    for (k = 0; k < n; k++) {
      const char *key = NULL, *value = NULL;
      if (ember_model_metadata(model, k, &key, &value) != EMBER_OK)
        continue;
      printf("  ");
      print_clean(key ? key : "", 80);
      printf(" = ");
      print_clean(value ? value : "", 200);
      putchar('\n');
    }
  }

  n = ember_model_node_count(model);
  ops = calloc(n ? n : 1, sizeof *ops);
  if (!ops) {
    cli_error("out of memory");
    ember_model_free(model);
    return CLI_EXIT_FAIL;
  }
  for (k = 0; k < n; k++) {
    const char *op = ember_model_node_op(model, k);
    size_t j;
    if (!op)
      op = "?";
    for (j = 0; j < nops && strcmp(ops[j].op, op) != 0; j++)
      ;
    if (j == nops)
      ops[nops++].op = op;
    ops[j].count++;
  }
  qsort(ops, nops, sizeof *ops, by_count_then_name);
  printf("nodes: %zu (%zu operator type%s)\n", n, nops, nops == 1 ? "" : "s");
  for (k = 0; k < nops; k++)
    printf("  %-24s %zu\n", ops[k].op, ops[k].count);
  free(ops);
  printf("parameters: ");
  print_count(ember_model_parameter_count(model));
  putchar('\n');
  ember_model_free(model);
  return CLI_EXIT_OK;
}
