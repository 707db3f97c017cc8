#!/usr/bin/env python3
"""onnxruntime side of benchmarks/run.py: one model, one process.

Timing mode prints one JSON object with the fields of `ember bench --json`
that run.py reads: load_ms (session creation: parse, graph optimization at
level ALL, kernel set-up), first_run_ms, median_ms, p90_ms, min_ms,
mean_ms, times_ms (every timed run, in order), runs, warmup, threads and
peak_rss_mb (VmHWM of this process, so it includes the Python
interpreter, NumPy and onnxruntime themselves: rss_base_mb is that peak
just before the session was created).  The first run counts as the first
warm-up run, as in ember bench.

With --save FILE.npz it runs the model once and saves the outputs
(out_0, out_1, ... in graph output order) for the accuracy check instead.

The session uses the CPU execution provider, ORT_ENABLE_ALL graph
optimizations, intra_op_num_threads = --threads, inter_op_num_threads = 1
and sequential execution; idle pool threads spin (onnxruntime's default)
unless --no-spin.
"""
import argparse
import json
import resource
import sys
import time

import numpy as np
import onnxruntime as ort


def peak_rss_mb():
    """Peak resident set of this process in MiB: VmHWM, as ember bench
    reads it (ru_maxrss survives exec and would include run.py's own)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--input", action="append", default=[],
                    metavar="NAME=FILE.npy")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--save", metavar="FILE.npz")
    ap.add_argument("--no-spin", action="store_true",
                    help="session.intra_op.allow_spinning = 0 (idle pool "
                    "threads sleep instead of spinning)")
    args = ap.parse_args()

    feeds = {}
    for spec in args.input:
        name, _, path = spec.partition("=")
        feeds[name] = np.load(path)
    rss_base = peak_rss_mb()

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if args.no_spin:
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    t0 = time.perf_counter()
    sess = ort.InferenceSession(args.model, so,
                                providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - t0) * 1e3
    missing = [i.name for i in sess.get_inputs() if i.name not in feeds]
    if missing:
        sys.exit("ort_worker: no --input for %s" % ", ".join(missing))

    if args.save:
        outs = sess.run(None, feeds)
        np.savez(args.save, **{"out_%d" % i: o for i, o in enumerate(outs)})
        return

    warmup, runs = args.warmup, max(args.runs, 1)
    total = (warmup if warmup else 1) + runs - (0 if warmup else 1)
    times = []
    first_ms = 0.0
    for r in range(total):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        ms = (time.perf_counter() - t0) * 1e3
        if r == 0:
            first_ms = ms
        if r >= total - runs:
            times.append(ms)
    s = sorted(times)
    n = len(s)
    median = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    p90 = s[max((9 * n + 9) // 10, 1) - 1]  # nearest rank, as ember bench
    print(json.dumps({
        "model": args.model, "load_ms": load_ms, "session_ms": 0.0,
        "first_run_ms": first_ms, "min_ms": s[0], "median_ms": median,
        "p90_ms": p90, "mean_ms": sum(s) / n, "max_ms": s[-1], "runs": n,
        "warmup": warmup, "threads": args.threads,
        "peak_rss_mb": peak_rss_mb(), "rss_base_mb": rss_base,
        "spinning": not args.no_spin, "version": ort.__version__,
        "times_ms": times}))


if __name__ == "__main__":
    main()
