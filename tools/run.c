/*
 * run.c: `ember run MODEL`, one run of a model on inputs read from files or
 * generated (see inputs.c).  Every output is summarized on stdout (name,
 * element type, shape, min/max/mean of numeric tensors, the first values)
 * and, with --output-dir, saved as DIR/<output name>.npy so that it can be
 * checked with numpy.  Sequence outputs are saved one file per item,
 * DIR/<name>_<i>.npy; an absent optional output is reported and not saved.
 */
#include "cli.h"
#include "npy.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char cli_run_usage[] =
    "usage: ember run MODEL [--input NAME=FILE]... [--output-dir DIR]\n"
    "                 [--threads N]\n"
    "\n"
    "Run MODEL once and print a summary of each output (element type, shape,\n"
    "min/max/mean, first values).\n"
    "\n"
    "  --input NAME=FILE   value of graph input NAME, from a NumPy .npy file\n"
    "                      (little-endian, C order) or an ONNX TensorProto /\n"
    "                      SequenceProto / OptionalProto .pb file.  Inputs not\n"
    "                      given are generated from their declared shape\n"
    "                      (symbolic dimensions = 1): floats arange(n)/n,\n"
    "                      integers i %% 10, booleans alternating, strings \"a\".\n"
    "  --output-dir DIR    also save each output as DIR/<name>.npy (characters\n"
    "                      other than letters, digits, '.', '_', '-' become\n"
    "                      '_'); DIR is created if needed\n"
    "  --threads N         threads for the run (default 0: one per core)\n";

#define SHOW_VALUES 8

static void print_elem(int32_t dtype, const void *data, size_t i) {
  if (dtype == EMBER_STRING) {
    const char *s = ((const char *const *)data)[i];
    size_t k;
    putchar('"');
    for (k = 0; s && s[k] && k < 40; k++) {
      unsigned char c = (unsigned char)s[k];
      putchar(c < 0x20 || c == '"' ? '?' : c);
    }
    fputs(s && s[k] ? "...\"" : "\"", stdout);
  } else if (dtype == EMBER_COMPLEX64 || dtype == EMBER_COMPLEX128) {
    double re, im;
    if (dtype == EMBER_COMPLEX64) {
      float v[2];
      memcpy(v, (const char *)data + 8 * i, sizeof v);
      re = v[0];
      im = v[1];
    } else {
      double v[2];
      memcpy(v, (const char *)data + 16 * i, sizeof v);
      re = v[0];
      im = v[1];
    }
    printf("(%.6g%+.6gj)", re, im);
  } else if (dtype == EMBER_BOOL) {
    fputs(cli_elem_int(dtype, data, i) ? "true" : "false", stdout);
  } else if (dtype == EMBER_UINT64) {
    printf("%llu", (unsigned long long)(uint64_t)cli_elem_int(dtype, data, i));
  } else if (cli_dtype_is_float(dtype)) {
    printf("%.6g", cli_elem_double(dtype, data, i));
  } else {
    printf("%lld", (long long)cli_elem_int(dtype, data, i));
  }
}

/* Print the statistics line of a tensor with `n` elements. */
static void print_stats(const ember_tensor *t, size_t n) {
  size_t i, nan = 0, seen = 0;
  double sum = 0;
  if (!cli_dtype_is_real(t->dtype) || n == 0)
    return;
  if (t->dtype == EMBER_BOOL) {
    size_t ones = 0;
    for (i = 0; i < n; i++)
      ones += cli_elem_int(t->dtype, t->data, i) != 0;
    printf("    true: %zu of %zu\n", ones, n);
    return;
  }
  if (cli_dtype_is_float(t->dtype)) {
    double lo = INFINITY, hi = -INFINITY;
    for (i = 0; i < n; i++) {
      double v = cli_elem_double(t->dtype, t->data, i);
      if (isnan(v)) {
        nan++;
        continue;
      }
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
      sum += v;
      seen++;
    }
    if (seen)
      printf("    min %.6g  max %.6g  mean %.6g", lo, hi, sum / (double)seen);
    else
      printf("    all NaN");
    if (nan && seen)
      printf("  (NaN: %zu)", nan);
    putchar('\n');
    return;
  }
  if (t->dtype == EMBER_UINT64) {
    uint64_t lo = UINT64_MAX, hi = 0;
    for (i = 0; i < n; i++) {
      uint64_t v = (uint64_t)cli_elem_int(t->dtype, t->data, i);
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
      sum += (double)v;
    }
    printf("    min %llu  max %llu  mean %.6g\n", (unsigned long long)lo,
           (unsigned long long)hi, sum / (double)n);
    return;
  }
  {
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (i = 0; i < n; i++) {
      int64_t v = cli_elem_int(t->dtype, t->data, i);
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
      sum += (double)v;
    }
    printf("    min %lld  max %lld  mean %.6g\n", (long long)lo,
           (long long)hi, sum / (double)n);
  }
}

/* Summarize one tensor under `label`; returns -1 if it is malformed. */
static int print_tensor(const char *label, const ember_tensor *t) {
  char dims[512];
  size_t n, i;
  int ok;
  n = cli_tensor_count(t, &ok);
  cli_format_dims(dims, sizeof dims, t->rank, t->dims);
  printf("%s: %s %s\n", label, ember_dtype_name(t->dtype), ok ? dims : "?");
  if (!ok || (n && (!t->data ||
                    t->nbytes < ember_dtype_bytes(t->dtype, n)))) {
    printf("    (malformed: the data does not match the shape)\n");
    return -1;
  }
  print_stats(t, n);
  printf("    values:");
  for (i = 0; i < n && i < SHOW_VALUES; i++) {
    putchar(' ');
    print_elem(t->dtype, t->data, i);
  }
  printf("%s\n", n > SHOW_VALUES ? " ..." : (n ? "" : " (empty)"));
  return 0;
}

static int save_tensor(const char *dir, const char *file,
                       const ember_tensor *t) {
  char path[4096], err[512];
  const char *note = NULL;
  if ((size_t)snprintf(path, sizeof path, "%s/%s.npy", dir, file) >=
      sizeof path) {
    cli_error("output path too long in %s", dir);
    return -1;
  }
  if (npy_write(path, t, &note, err, sizeof err) != 0) {
    cli_error("%s", err);
    return -1;
  }
  printf("    saved %s%s%s%s\n", path, note ? " (" : "", note ? note : "",
         note ? ")" : "");
  return 0;
}

/* Summarize (and with `dir` save) output `name` holding value `v`. */
static int report_output(const char *name, const char *file,
                         const ember_value *v, const char *dir) {
  int rc = 0;
  size_t i;
  char label[600];
  const ember_value *inner = v;
  ember_value tmp;
  if (v->kind == EMBER_KIND_OPTIONAL) {
    if (!v->has_value) {
      printf("%s: optional, no value\n", name);
      return 0;
    }
    tmp = *v;
    tmp.kind = v->elem_kind;
    inner = &tmp;
  }
  if (inner->kind == EMBER_KIND_TENSOR) {
    if (print_tensor(name, &inner->tensor) != 0)
      return -1;
    if (dir)
      rc = save_tensor(dir, file, &inner->tensor);
    return rc;
  }
  if (inner->kind == EMBER_KIND_SEQUENCE) {
    printf("%s: sequence of %zu %s tensor%s\n", name, inner->count,
           ember_dtype_name(inner->elem_dtype), inner->count == 1 ? "" : "s");
    for (i = 0; i < inner->count; i++) {
      char item_file[600];
      snprintf(label, sizeof label, "  [%zu]", i);
      if (print_tensor(label, &inner->items[i]) != 0)
        return -1;
      snprintf(item_file, sizeof item_file, "%s_%zu", file, i);
      if (dir && save_tensor(dir, item_file, &inner->items[i]) != 0)
        rc = -1;
    }
    return rc;
  }
  printf("%s: a %s, which this tool cannot show\n", name,
         cli_kind_name(inner->kind));
  return 0;
}

int cli_run_main(int argc, char **argv) {
  cli_args a = {argc, argv, 1, "run", 0};
  const char *path = NULL, *dir = NULL, *v;
  long long threads = 0;
  cli_input_spec *specs;
  size_t nspecs = 0, k, nout;
  int rc = CLI_EXIT_FAIL, m;
  ember_model *model = NULL;
  ember_session *sess = NULL;
  cli_inputs in;
  ember_value *outs = NULL;
  char (*files)[256] = NULL;
  ember_status st;
  double t0, t1;

  memset(&in, 0, sizeof in);
  specs = calloc((size_t)argc, sizeof *specs);
  if (!specs) {
    cli_error("out of memory");
    return CLI_EXIT_FAIL;
  }
  while (a.i < argc) {
    const char *arg = argv[a.i];
    if ((m = cli_opt(&a, "--input", &v)) != 0) {
      if (m < 0 || cli_input_spec_parse("run", (char *)v, &specs[nspecs]) != 0)
        goto usage;
      nspecs++;
    } else if ((m = cli_opt(&a, "--output-dir", &v)) != 0) {
      if (m < 0)
        goto usage;
      dir = v;
    } else if ((m = cli_opt(&a, "--threads", &v)) != 0) {
      if (m < 0 || cli_parse_count("run", "--threads", v, 4096, &threads) != 0)
        goto usage;
    } else if (!a.only_positional && strcmp(arg, "--") == 0) {
      a.only_positional = 1;
      a.i++;
    } else if (!a.only_positional && arg[0] == '-' && arg[1]) {
      cli_usage_error("run", "unknown option '%s'", arg);
      goto usage;
    } else if (path) {
      cli_usage_error("run", "one MODEL only (unexpected '%s')", arg);
      goto usage;
    } else {
      path = arg;
      a.i++;
    }
  }
  if (!path) {
    cli_usage_error("run", "missing MODEL");
    goto usage;
  }
  if (dir && dir[0] == '\0') {
    cli_usage_error("run", "--output-dir is empty");
    goto usage;
  }

  if (cli_load_model(path, &model) != EMBER_OK)
    goto done;
  if (cli_inputs_prepare(model, specs, nspecs, &in) != 0)
    goto done;
  if (cli_create_session(model, (int)threads, &sess) != EMBER_OK)
    goto done;
  nout = ember_model_output_count(model);
  outs = calloc(nout ? nout : 1, sizeof *outs);
  files = calloc(nout ? nout : 1, sizeof *files);
  if (!outs || !files) {
    cli_error("out of memory");
    goto done;
  }
  if (dir && cli_mkdir_p(dir) != 0) {
    cli_error("cannot create folder %s: %s", dir, strerror(errno));
    goto done;
  }
  /* one note line naming every generated input */
  for (k = 0, m = 0; k < in.count; k++)
    if (in.generated[k]) {
      fprintf(stderr, "%s'%s'", m ? ", " : "ember: generated inputs: ",
              in.names[k]);
      m = 1;
    }
  if (m)
    fputs(" (from the declared shapes; give others with --input)\n", stderr);
  t0 = cli_now_ms();
  st = ember_session_run_values(sess, in.count, in.names, in.values, nout,
                                NULL, outs);
  t1 = cli_now_ms();
  if (st != EMBER_OK) {
    cli_error("run failed: %s: %s", ember_status_str(st),
              ember_session_errmsg(sess));
    goto done;
  }
  printf("ran %s in %.3f ms\n", path, t1 - t0);
  rc = CLI_EXIT_OK;
  for (k = 0; k < nout; k++) {
    ember_value_info info;
    const char *name = "?";
    size_t j;
    if (ember_model_output_info(model, k, &info) == EMBER_OK)
      name = info.name;
    cli_sanitize_name(name, files[k], sizeof files[k] - 24);
    /* two names may sanitize alike: keep the files apart */
    for (j = 0; j < k; j++)
      if (strcmp(files[j], files[k]) == 0) {
        size_t len = strlen(files[k]);
        snprintf(files[k] + len, sizeof files[k] - len, "_%zu", k);
        break;
      }
    if (report_output(name, files[k], &outs[k], dir) != 0)
      rc = CLI_EXIT_FAIL;
  }
done:
  free(files);
  free(outs);
  ember_session_free(sess);
  cli_inputs_free(&in);
  ember_model_free(model);
  free(specs);
  return rc;
usage:
  free(specs);
  return CLI_EXIT_USAGE;
}
