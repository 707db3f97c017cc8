#!/usr/bin/env python3
"""Measure the machine's single-precision GEMM rate: the yardstick for
"% of sgemm peak" in benchmarks/run.py.

Times C = A @ B for float32 A, B of N x N (default 2048) through NumPy's
BLAS (OpenBLAS in pip's NumPy) and prints one JSON object: the best and the
median GFLOP/s over the repetitions, and which BLAS did it.  The thread
count is fixed by the caller through OPENBLAS_NUM_THREADS (run.py starts
this script in its own process with that variable set and with
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed, so that OpenBLAS picks the
kernel for this CPU); --threads only checks it and, when threadpoolctl is
installed, enforces it.
"""
import argparse
import json
import os
import time

import numpy as np


def blas_info():
    info = {"numpy": np.__version__}
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        info["blas"] = "%s %s" % (blas.get("name"), blas.get("version"))
    except Exception:  # noqa: BLE001  (old NumPy)
        pass
    try:
        import threadpoolctl
        pools = [p for p in threadpoolctl.threadpool_info()
                 if p.get("user_api") == "blas"]
        if pools:
            info["blas_architecture"] = pools[0].get("architecture")
            info["blas_threads"] = pools[0].get("num_threads")
    except ImportError:
        pass
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--reps", type=int, default=8)
    args = ap.parse_args()
    limiter = None
    try:
        import threadpoolctl
        limiter = threadpoolctl.threadpool_limits(args.threads, "blas")
    except ImportError:
        pass
    n = args.size
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = a @ b  # warm-up: thread start, page faults
    rates = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        rates.append(2.0 * n * n * n / (time.perf_counter() - t0) / 1e9)
    rates.sort()
    out = {"threads": args.threads, "size": n, "reps": args.reps,
           "best_gflops": rates[-1], "median_gflops": rates[len(rates) // 2],
           "env_OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS")}
    out.update(blas_info())
    print(json.dumps(out))
    del limiter


if __name__ == "__main__":
    main()
