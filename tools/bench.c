/*
 * bench.c: `ember bench MODEL`, the latency measurement of the tool.  It
 * times the model load and the session creation, the first run (which
 * pays for lazy set-up and cold caches), then `--warmup` untimed runs and
 * `--runs` timed runs, and reports min / median / p90 / mean latency and
 * the peak resident set size of the process.  The first run counts as the
 * first warm-up run; with --warmup 0 it is also the first timed run.
 * Output is a short table, or with --json one JSON object on stdout.  A
 * progress line goes to stderr only when stderr is a terminal.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

const char cli_bench_usage[] =
    "usage: ember bench MODEL [--threads N] [--warmup N] [--runs N] [--json]\n"
    "                   [--input NAME=FILE]...\n"
    "\n"
    "Measure how long MODEL takes to load and to run.\n"
    "\n"
    "  --threads N        threads per run (default 0: one per core)\n"
    "  --warmup N         untimed runs before timing, the first run included\n"
    "                     (default 3)\n"
    "  --runs N           timed runs (default 20, at least 1)\n"
    "  --json             print one JSON object: load_ms, session_ms,\n"
    "                     first_run_ms, min_ms, median_ms, p90_ms, mean_ms,\n"
    "                     max_ms, runs, warmup, threads, peak_rss_mb\n"
    "  --input NAME=FILE  as for 'ember run'; other inputs are generated\n";

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : (x > y ? 1 : 0);
}

/* Write `s` as a JSON string literal. */
static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static double peak_rss_mb(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  /* Linux reports kilobytes (macOS bytes; this tool targets Linux) */
  return (double)ru.ru_maxrss / 1024.0;
}

int cli_bench_main(int argc, char **argv) {
  cli_args a = {argc, argv, 1, "bench", 0};
  const char *path = NULL, *v;
  long long threads = 0, warmup = 3, runs = 20;
  int json = 0, m, progress = isatty(2), rc = CLI_EXIT_FAIL;
  cli_input_spec *specs;
  size_t nspecs = 0, nout, k;
  ember_model *model = NULL;
  ember_session *sess = NULL;
  cli_inputs in;
  ember_value *outs = NULL;
  double *times = NULL;
  double t0, load_ms, session_ms, first_ms = 0, sum = 0, median, p90;
  long long r, timed = 0, total;

  memset(&in, 0, sizeof in);
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
  if (!outs || !times) {
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
    t0 = cli_now_ms();
    st = ember_session_run_values(sess, in.count, in.names, in.values, nout,
                                  NULL, outs);
    ms = cli_now_ms() - t0;
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

  for (r = 0; r < timed; r++)
    sum += times[r];
  qsort(times, (size_t)timed, sizeof *times, cmp_double);
  median = timed % 2 ? times[timed / 2]
                     : (times[timed / 2 - 1] + times[timed / 2]) / 2;
  /* nearest-rank percentile: the smallest time not exceeded by 90% */
  k = (size_t)((9 * timed + 9) / 10);
  p90 = times[k ? k - 1 : 0];
  if (threads == 0)
    threads = cli_cpu_count();

  if (json) {
    printf("{\"model\": ");
    json_string(path);
    printf(", \"load_ms\": %.4f, \"session_ms\": %.4f, \"first_run_ms\": "
           "%.4f, \"min_ms\": %.4f, \"median_ms\": %.4f, \"p90_ms\": %.4f, "
           "\"mean_ms\": %.4f, \"max_ms\": %.4f, \"runs\": %lld, "
           "\"warmup\": %lld, \"threads\": %lld, \"peak_rss_mb\": %.2f, "
           "\"version\": \"%s\"}\n",
           load_ms, session_ms, first_ms, times[0], median, p90,
           sum / (double)timed, times[timed - 1], timed, warmup, threads,
           peak_rss_mb(), ember_version_string());
  } else {
    printf("model        %s\n", path);
    printf("threads      %lld\n", threads);
    printf("load         %10.3f ms\n", load_ms);
    printf("session      %10.3f ms\n", session_ms);
    printf("first run    %10.3f ms\n", first_ms);
    printf("runs         %10lld (after %lld warm-up)\n", timed, warmup);
    printf("min          %10.3f ms\n", times[0]);
    printf("median       %10.3f ms\n", median);
    printf("p90          %10.3f ms\n", p90);
    printf("mean         %10.3f ms\n", sum / (double)timed);
    printf("max          %10.3f ms\n", times[timed - 1]);
    printf("peak RSS     %10.1f MB\n", peak_rss_mb());
  }
  rc = CLI_EXIT_OK;
done:
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
