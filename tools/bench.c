/*
 * bench.c: `ember bench MODEL`, the latency measurement of the tool.  It
 * times the model load and the session creation, the first run (which
 * pays for lazy set-up and cold caches), then `--warmup` untimed runs and
 * `--runs` timed runs, and reports min / median / p90 / mean latency and
 * the peak resident set size of the process.  The first run counts as the
 * first warm-up run; with --warmup 0 it is also the first timed run.
 * Output is a short table, or with --json one JSON object on stdout.  A
 * progress line goes to stderr only when stderr is a terminal.
 *
 * With --profile FILE the timed runs (not the warm-up) are also timed node
 * by node through ember_session_set_profiler and written as a Chrome trace
 * (JSON, opened by Perfetto or chrome://tracing): one "run N" slice per
 * timed run on a single track with its nodes nested inside, on the real
 * monotonic time line.  Every timed run is kept, so a node's spread is
 * visible and Perfetto's slice aggregation gives its mean; the table output
 * adds the slowest nodes and the time per op type, averaged over those
 * runs.  The hook costs two clock reads and one call per node.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

const char cli_bench_usage[] =
    "usage: ember bench MODEL [--threads N] [--warmup N] [--runs N] [--json]\n"
    "                   [--input NAME=FILE]... [--profile FILE.json]\n"
    "\n"
    "Measure how long MODEL takes to load and to run.\n"
    "\n"
    "  --threads N        threads per run (default 0: one per core)\n"
    "  --warmup N         untimed runs before timing, the first run included\n"
    "                     (default 3)\n"
    "  --runs N           timed runs (default 20, at least 1)\n"
    "  --json             print one JSON object: load_ms, session_ms,\n"
    "                     first_run_ms, min_ms, median_ms, p90_ms, mean_ms,\n"
    "                     max_ms, runs, warmup, threads, peak_rss_mb, nodes,\n"
    "                     times_ms (every timed run, in run order)\n"
    "  --input NAME=FILE  as for 'ember run'; other inputs are generated\n"
    "  --profile FILE     time every node of the timed runs and write them to\n"
    "                     FILE as a Chrome trace (open it in Perfetto); the\n"
    "                     table adds the slowest nodes and the time per op\n";

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : (x > y ? 1 : 0);
}

/* Write `s` as a JSON string literal. */
static void json_string(FILE *f, const char *s) {
  putc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      putc(c, f);
  }
  putc('"', f);
}

/* Peak resident set of this process in MiB.  Linux's VmHWM is the high
 * water mark of this program's own memory; getrusage's ru_maxrss is kept
 * across exec, so in a process started by a large parent (a Python
 * harness) it would report the parent's footprint. */
static double peak_rss_mb(void) {
  struct rusage ru;
  FILE *f = fopen("/proc/self/status", "r");
  if (f) {
    char line[256];
    unsigned long long kb;
    while (fgets(line, sizeof line, f))
      if (sscanf(line, "VmHWM: %llu kB", &kb) == 1) {
        fclose(f);
        return (double)kb / 1024.0;
      }
    fclose(f);
  }
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  /* Linux reports kilobytes (macOS bytes; this tool targets Linux) */
  return (double)ru.ru_maxrss / 1024.0;
}

/* ------------------------------------------------------------ profiling */

/* One executed node of one timed run, times in ns of CLOCK_MONOTONIC. */
typedef struct prof_event {
  size_t node;
  uint64_t t0, t1;
} prof_event;

/* What the profiler callback fills.  The op type and name the library
 * passes are borrowed for the call only, so each node's are copied once,
 * the first time the node is seen; events are kept for every timed run.
 * Storage is reserved before timing so that the callback does not
 * allocate in the common case (it grows the arrays if the model runs more
 * nodes than ember_model_node_count said). */
typedef struct prof_rec {
  prof_event *ev;
  size_t nev, capev;
  char **op, **name;  /* per node index, NULL until seen                 */
  size_t nnodes;      /* entries in op / name                           */
  size_t *run_first;  /* per timed run: index of its first event        */
  double *run_t0, *run_t1; /* per timed run: bounds in ms (cli_now_ms)   */
  int failed;         /* an allocation failed: events were dropped      */
} prof_rec;

static char *dup_str(const char *s) {
  size_t n = strlen(s ? s : "") + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s ? s : "", n);
  return d;
}

static int prof_grow_nodes(prof_rec *p, size_t need) {
  size_t n = p->nnodes ? p->nnodes : 16, i;
  char **op, **name;
  while (n < need)
    n *= 2;
  op = realloc(p->op, n * sizeof *op);
  if (!op)
    return -1;
  p->op = op;
  name = realloc(p->name, n * sizeof *name);
  if (!name)
    return -1;
  p->name = name;
  for (i = p->nnodes; i < n; i++)
    p->op[i] = p->name[i] = NULL;
  p->nnodes = n;
  return 0;
}

static void prof_callback(void *user, size_t node, const char *op_type,
                          const char *node_name, uint64_t start_ns,
                          uint64_t end_ns) {
  prof_rec *p = user;
  if (node >= p->nnodes && prof_grow_nodes(p, node + 1) != 0) {
    p->failed = 1;
    return;
  }
  if (!p->op[node]) {
    p->op[node] = dup_str(op_type);
    p->name[node] = dup_str(node_name);
    if (!p->op[node] || !p->name[node]) {
      p->failed = 1;
      return;
    }
  }
  if (p->nev == p->capev) {
    size_t n = p->capev ? 2 * p->capev : 256;
    prof_event *ev = realloc(p->ev, n * sizeof *ev);
    if (!ev) {
      p->failed = 1;
      return;
    }
    p->ev = ev;
    p->capev = n;
  }
  p->ev[p->nev].node = node;
  p->ev[p->nev].t0 = start_ns;
  p->ev[p->nev].t1 = end_ns;
  p->nev++;
}

static int prof_init(prof_rec *p, size_t nodes, size_t runs) {
  memset(p, 0, sizeof *p);
  p->run_first = calloc(runs + 1, sizeof *p->run_first);
  p->run_t0 = calloc(runs, sizeof *p->run_t0);
  p->run_t1 = calloc(runs, sizeof *p->run_t1);
  if (!p->run_first || !p->run_t0 || !p->run_t1 ||
      prof_grow_nodes(p, nodes ? nodes : 1) != 0)
    return -1;
  if (nodes && runs <= ((size_t)-1 / sizeof *p->ev) / nodes) {
    p->ev = malloc(nodes * runs * sizeof *p->ev);
    if (p->ev)
      p->capev = nodes * runs;
  }
  return 0;
}

static void prof_free(prof_rec *p) {
  size_t i;
  for (i = 0; i < p->nnodes; i++) {
    free(p->op[i]);
    free(p->name[i]);
  }
  free(p->op);
  free(p->name);
  free(p->ev);
  free(p->run_first);
  free(p->run_t0);
  free(p->run_t1);
}

/* Write the trace of `runs` timed runs.  Times are microseconds from the
 * start of the first timed run.  Returns 0, or -1 after a message. */
static int prof_write(const prof_rec *p, size_t runs, const char *model,
                      long long threads, const char *file) {
  FILE *f = fopen(file, "w");
  double base_us;
  size_t r, e;
  if (!f) {
    cli_error("cannot write %s: %s", file, strerror(errno));
    return -1;
  }
  base_us = runs ? p->run_t0[0] * 1e3 : 0;
  fputs("{\"displayTimeUnit\": \"ms\", \"otherData\": {\"model\": ", f);
  json_string(f, model);
  fprintf(f, ", \"threads\": %lld, \"runs\": %zu, \"version\": \"%s\"},\n"
             "\"traceEvents\": [\n", threads, runs, ember_version_string());
  fputs("{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": 1, "
        "\"args\": {\"name\": \"ember bench\"}},\n", f);
  fprintf(f, "{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 1, "
             "\"tid\": 1, \"args\": {\"name\": \"session run, %lld "
             "thread%s\"}}", threads, threads == 1 ? "" : "s");
  for (r = 0; r < runs; r++) {
    fprintf(f, ",\n{\"name\": \"run %zu\", \"cat\": \"run\", \"ph\": \"X\", "
               "\"ts\": %.3f, \"dur\": %.3f, \"pid\": 1, \"tid\": 1, "
               "\"args\": {\"run\": %zu, \"ms\": %.4f}}",
            r + 1, p->run_t0[r] * 1e3 - base_us,
            (p->run_t1[r] - p->run_t0[r]) * 1e3, r + 1,
            p->run_t1[r] - p->run_t0[r]);
    for (e = p->run_first[r]; e < p->run_first[r + 1]; e++) {
      const prof_event *ev = &p->ev[e];
      fputs(",\n{\"name\": ", f);
      /* "Conv conv1_1"; a node without a name is called by its index */
      {
        const char *op = p->op[ev->node], *nm = p->name[ev->node];
        char buf[512];
        if (nm[0])
          snprintf(buf, sizeof buf, "%s %s", op, nm);
        else
          snprintf(buf, sizeof buf, "%s #%zu", op, ev->node);
        json_string(f, buf);
        fprintf(f, ", \"cat\": \"node\", \"ph\": \"X\", \"ts\": %.3f, "
                   "\"dur\": %.3f, \"pid\": 1, \"tid\": 1, \"args\": "
                   "{\"node\": %zu, \"op\": ",
                (double)ev->t0 / 1e3 - base_us,
                (double)(ev->t1 - ev->t0) / 1e3, ev->node);
        json_string(f, op);
        fputs(", \"name\": ", f);
        json_string(f, nm);
        fprintf(f, ", \"run\": %zu}}", r + 1);
      }
    }
  }
  fputs("\n]}\n", f);
  if (ferror(f) | fclose(f)) {
    cli_error("cannot write %s: %s", file, strerror(errno));
    return -1;
  }
  return 0;
}

typedef struct prof_total {
  const char *key;    /* node index (as text) or op type                */
  size_t node;
  double ns;          /* summed over the profiled runs                  */
  size_t count;       /* executions                                     */
} prof_total;

static int cmp_total_desc(const void *a, const void *b) {
  double x = ((const prof_total *)a)->ns, y = ((const prof_total *)b)->ns;
  return x > y ? -1 : (x < y ? 1 : 0);
}

/* Print the ten slowest nodes and the time per op type, as means per run
 * over the profiled runs, and the share of the run time they take. */
static void prof_summary(const prof_rec *p, size_t runs) {
  prof_total *nodes = calloc(p->nnodes ? p->nnodes : 1, sizeof *nodes);
  prof_total *ops = calloc(p->nnodes ? p->nnodes : 1, sizeof *ops);
  size_t nops = 0, i, e, r;
  double run_ns = 0, node_ns = 0;
  if (!nodes || !ops || !runs) {
    free(nodes);
    free(ops);
    return;
  }
  for (r = 0; r < runs; r++)
    run_ns += (p->run_t1[r] - p->run_t0[r]) * 1e6;
  for (e = 0; e < p->nev; e++) {
    const prof_event *ev = &p->ev[e];
    nodes[ev->node].node = ev->node;
    nodes[ev->node].ns += (double)(ev->t1 - ev->t0);
    nodes[ev->node].count++;
    node_ns += (double)(ev->t1 - ev->t0);
  }
  for (i = 0; i < p->nnodes; i++) {
    size_t k;
    if (!nodes[i].count)
      continue;
    for (k = 0; k < nops && strcmp(ops[k].key, p->op[i]) != 0; k++)
      ;
    if (k == nops)
      ops[nops++].key = p->op[i];
    ops[k].ns += nodes[i].ns;
    ops[k].count += nodes[i].count;
  }
  qsort(nodes, p->nnodes, sizeof *nodes, cmp_total_desc);
  qsort(ops, nops, sizeof *ops, cmp_total_desc);
  printf("profile      %zu runs; nodes take %.1f%% of the run time\n", runs,
         run_ns > 0 ? 100.0 * node_ns / run_ns : 0.0);
  printf("slowest nodes (mean ms per run, %% of run):\n");
  for (i = 0; i < p->nnodes && i < 10 && nodes[i].count; i++)
    printf("  %10.3f  %5.1f%%  #%-4zu %s %s\n",
           nodes[i].ns / 1e6 / (double)runs,
           run_ns > 0 ? 100.0 * nodes[i].ns / run_ns : 0.0, nodes[i].node,
           p->op[nodes[i].node], p->name[nodes[i].node]);
  printf("time per op type (mean ms per run, %% of run, nodes):\n");
  for (i = 0; i < nops; i++)
    printf("  %10.3f  %5.1f%%  %-24s %zu\n", ops[i].ns / 1e6 / (double)runs,
           run_ns > 0 ? 100.0 * ops[i].ns / run_ns : 0.0, ops[i].key,
           ops[i].count / runs);
  free(nodes);
  free(ops);
}

int cli_bench_main(int argc, char **argv) {
  cli_args a = {argc, argv, 1, "bench", 0};
  const char *path = NULL, *v, *profile = NULL;
  long long threads = 0, warmup = 3, runs = 20;
  int json = 0, m, progress = isatty(2), rc = CLI_EXIT_FAIL;
  cli_input_spec *specs;
  size_t nspecs = 0, nout, k;
  ember_model *model = NULL;
  ember_session *sess = NULL;
  cli_inputs in;
  ember_value *outs = NULL;
  double *times = NULL, *sorted = NULL;
  prof_rec prof;
  int profiling = 0;
  double t0, load_ms, session_ms, first_ms = 0, sum = 0, median, p90;
  long long r, timed = 0, total;

  memset(&in, 0, sizeof in);
  memset(&prof, 0, sizeof prof);
  specs = calloc((size_t)argc, sizeof *specs);
  if (!specs) {
    cli_error("out of memory");
    return CLI_EXIT_FAIL;
  }
  while (a.i < argc) {
    const char *arg = argv[a.i];
    if ((m = cli_opt(&a, "--input", &v)) != 0) {
      if (m < 0 ||
          cli_input_spec_parse("bench", (char *)v, &specs[nspecs]) != 0)
        goto usage;
      nspecs++;
    } else if ((m = cli_opt(&a, "--threads", &v)) != 0) {
      if (m < 0 ||
          cli_parse_count("bench", "--threads", v, 4096, &threads) != 0)
        goto usage;
    } else if ((m = cli_opt(&a, "--warmup", &v)) != 0) {
      if (m < 0 ||
          cli_parse_count("bench", "--warmup", v, 1000000, &warmup) != 0)
        goto usage;
    } else if ((m = cli_opt(&a, "--runs", &v)) != 0) {
      if (m < 0 || cli_parse_count("bench", "--runs", v, 10000000, &runs) != 0)
        goto usage;
      if (runs < 1) {
        cli_usage_error("bench", "--runs must be at least 1");
        goto usage;
      }
    } else if ((m = cli_opt(&a, "--profile", &v)) != 0) {
      if (m < 0)
        goto usage;
      if (!v[0]) {
        cli_usage_error("bench", "--profile needs a file name");
        goto usage;
      }
      profile = v;
    } else if ((m = cli_opt(&a, "--json", NULL)) != 0) {
      if (m < 0)
        goto usage;
      json = 1;
    } else if (!a.only_positional && strcmp(arg, "--") == 0) {
      a.only_positional = 1;
      a.i++;
    } else if (!a.only_positional && arg[0] == '-' && arg[1]) {
      cli_usage_error("bench", "unknown option '%s'", arg);
      goto usage;
    } else if (path) {
      cli_usage_error("bench", "one MODEL only (unexpected '%s')", arg);
      goto usage;
    } else {
      path = arg;
      a.i++;
    }
  }
  if (!path) {
    cli_usage_error("bench", "missing MODEL");
    goto usage;
  }

  t0 = cli_now_ms();
  if (cli_load_model(path, &model) != EMBER_OK)
    goto done;
  load_ms = cli_now_ms() - t0;
  t0 = cli_now_ms();
  if (cli_create_session(model, (int)threads, &sess) != EMBER_OK)
    goto done;
  session_ms = cli_now_ms() - t0;
  if (cli_inputs_prepare(model, specs, nspecs, &in) != 0)
    goto done;
  nout = ember_model_output_count(model);
  outs = calloc(nout ? nout : 1, sizeof *outs);
  times = calloc((size_t)runs, sizeof *times);
  sorted = calloc((size_t)runs, sizeof *sorted);
  if (!outs || !times || !sorted ||
      (profile && prof_init(&prof, ember_model_node_count(model),
                            (size_t)runs) != 0)) {
    cli_error("out of memory");
    goto done;
  }

  /* warm-up runs (the first of them timed on its own), then timed runs */
  total = (warmup ? warmup : 1) + runs - (warmup ? 0 : 1);
  for (r = 0; r < total; r++) {
    ember_status st;
    double ms;
    if (progress && (r == 0 || r + 1 == total || r % 5 == 0)) {
      fprintf(stderr, "\rember bench: run %lld of %lld", r + 1, total);
      fflush(stderr);
    }
    memset(outs, 0, (nout ? nout : 1) * sizeof *outs);
    /* the profiler is on for the timed runs only */
    if (profile && !profiling && r >= total - runs) {
      st = ember_session_set_profiler(sess, prof_callback, &prof);
      if (st != EMBER_OK) {
        cli_error("cannot profile: %s: %s", ember_status_str(st),
                  ember_session_errmsg(sess));
        goto done;
      }
      profiling = 1;
    }
    if (profiling)
      prof.run_first[timed] = prof.nev;
    t0 = cli_now_ms();
    st = ember_session_run_values(sess, in.count, in.names, in.values, nout,
                                  NULL, outs);
    ms = cli_now_ms() - t0;
    if (profiling) {
      prof.run_t0[timed] = t0;
      prof.run_t1[timed] = t0 + ms;
      prof.run_first[timed + 1] = prof.nev;
    }
    if (st != EMBER_OK) {
      if (progress)
        fputc('\n', stderr);
      cli_error("run %lld failed: %s: %s", r + 1, ember_status_str(st),
                ember_session_errmsg(sess));
      goto done;
    }
    if (r == 0)
      first_ms = ms;
    if (r >= total - runs)
      times[timed++] = ms;
  }
  if (progress)
    fputs("\r\033[K", stderr);

  if (profiling)
    ember_session_set_profiler(sess, NULL, NULL);

  for (r = 0; r < timed; r++) {
    sum += times[r];
    sorted[r] = times[r];
  }
  qsort(sorted, (size_t)timed, sizeof *sorted, cmp_double);
  median = timed % 2 ? sorted[timed / 2]
                     : (sorted[timed / 2 - 1] + sorted[timed / 2]) / 2;
  /* nearest-rank percentile: the smallest time not exceeded by 90% */
  k = (size_t)((9 * timed + 9) / 10);
  p90 = sorted[k ? k - 1 : 0];
  if (threads == 0)
    threads = cli_cpu_count();
  if (profile) {
    if (prof.failed) {
      cli_error("out of memory while profiling");
      goto done;
    }
    if (prof_write(&prof, (size_t)timed, path, threads, profile) != 0)
      goto done;
  }

  if (json) {
    printf("{\"model\": ");
    json_string(stdout, path);
    printf(", \"load_ms\": %.4f, \"session_ms\": %.4f, \"first_run_ms\": "
           "%.4f, \"min_ms\": %.4f, \"median_ms\": %.4f, \"p90_ms\": %.4f, "
           "\"mean_ms\": %.4f, \"max_ms\": %.4f, \"runs\": %lld, "
           "\"warmup\": %lld, \"threads\": %lld, \"peak_rss_mb\": %.2f, "
           "\"nodes\": %zu, \"version\": \"%s\", \"times_ms\": [",
           load_ms, session_ms, first_ms, sorted[0], median, p90,
           sum / (double)timed, sorted[timed - 1], timed, warmup, threads,
           peak_rss_mb(), ember_model_node_count(model),
           ember_version_string());
    for (r = 0; r < timed; r++)
      printf("%s%.4f", r ? ", " : "", times[r]);
    printf("]}\n");
  } else {
    printf("model        %s\n", path);
    printf("threads      %lld\n", threads);
    printf("load         %10.3f ms\n", load_ms);
    printf("session      %10.3f ms\n", session_ms);
    printf("first run    %10.3f ms\n", first_ms);
    printf("runs         %10lld (after %lld warm-up)\n", timed, warmup);
    printf("min          %10.3f ms\n", sorted[0]);
    printf("median       %10.3f ms\n", median);
    printf("p90          %10.3f ms\n", p90);
    printf("mean         %10.3f ms\n", sum / (double)timed);
    printf("max          %10.3f ms\n", sorted[timed - 1]);
    printf("peak RSS     %10.1f MB\n", peak_rss_mb());
    if (profile) {
      printf("trace        %s\n", profile);
      prof_summary(&prof, (size_t)timed);
    }
  }
  rc = CLI_EXIT_OK;
done:
  prof_free(&prof);
  free(sorted);
  free(times);
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
