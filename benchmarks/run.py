#!/usr/bin/env python3
"""Benchmark Ember against onnxruntime on real-weight models.

    python3 benchmarks/run.py [--models a,b] [--threads 1,2] [--runs N]
                              [--rounds N] [--out DIR] [--ember PATH]
                              [--ort-no-spin]   (see --help for the rest)

For each model (built once by ../shared/bench/make_models.py into
benchmarks/models/, with manifest.json giving each model's FLOPs):

1. accuracy: one seeded random input (standard normal, saved as .npy and
   fed to both runtimes) goes through `ember run --output-dir` and through
   onnxruntime; every output is compared (max abs error, max rel error over
   elements with |ref| >= atol, and the count outside
   |ember - ort| <= atol + rtol * |ort| with rtol 1e-3, atol 1e-4).  When
   an output comes from a Softmax, its input (the logits) is compared too,
   through a copy of the model that outputs it (models/check/).
2. timing, per thread count: --rounds rounds, each running
   `ember bench --json` and benchmarks/ort_worker.py in their own processes,
   one after the other, in alternating order (Ember first in even rounds,
   onnxruntime first in odd ones), so that the load of a shared machine
   falls on both alike.  The timed runs of all rounds are pooled for the
   median and p90; load times are the median over rounds; peak RSS the
   largest.  onnxruntime runs at graph optimization level ALL with
   intra_op_num_threads = N and inter_op_num_threads = 1.
3. the sgemm peak: benchmarks/sgemm_peak.py (NumPy's OpenBLAS, 2048^3
   float32) at each thread count, in its own process with
   OPENBLAS_NUM_THREADS = N and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
   removed: at the start, after each model's timing at that thread count,
   and at the end; the best rate seen is the peak (a busy machine only
   ever lowers it).

GFLOP/s is the model's FLOPs (2 x the MACs of Conv, Gemm and MatMul) over
the median time; "% peak" is that over the sgemm peak at the same thread
count.  Prints a table per model and a summary, and writes results.csv,
results.json (with every timed run and the machine's details), summary.md
(the summary as a Markdown table) and chart.png to --out (default
benchmarks/results/).  --runs 0 checks accuracy only.

Needs Python 3 with numpy, onnx, onnxruntime and matplotlib (installed
with pip when missing) and the ember tool (built in build/ when --ember is
not given).
"""
import argparse
import csv
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Default order: quick models first.  Heavy ones get fewer runs.
ALL_MODELS = ["mlp_b1", "mlp_b1024", "squeezenet", "shufflenet",
              "mobilenet_v2", "bert_l6_h384", "bvlc_alexnet", "inception_v1",
              "inception_v2", "resnet50", "densenet121", "zfnet512", "vgg19"]
HEAVY_RUNS = {"vgg19": 10, "zfnet512": 10}
RTOL, ATOL = 1e-3, 1e-4
PIP_NAMES = {"numpy": "numpy", "onnx": "onnx", "onnxruntime": "onnxruntime",
             "matplotlib": "matplotlib"}


def log(msg):
    print(msg, flush=True)


def ensure_modules(names):
    """pip-install the modules that are missing (as scripts/deps.sh does)."""
    missing = [n for n in names if importlib.util.find_spec(n) is None]
    for n in missing:
        log("installing %s (pip)" % PIP_NAMES[n])
        cmd = [sys.executable, "-m", "pip", "install", "-q", PIP_NAMES[n]]
        if subprocess.call(cmd, stderr=subprocess.DEVNULL) != 0:
            subprocess.check_call(cmd + ["--break-system-packages"])


def run_cmd(cmd, env=None, timeout=3600):
    """Run cmd; return stdout, raising RuntimeError with stderr's last line
    on failure."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=env, timeout=timeout)
    if p.returncode != 0:
        lines = (p.stderr or p.stdout).strip().splitlines()
        raise RuntimeError("%s exited %d: %s" % (
            os.path.basename(cmd[0]) if cmd[0] != sys.executable else cmd[1],
            p.returncode, lines[-1] if lines else ""))
    return p.stdout


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON in output: %r" % text[-200:])


# ----------------------------------------------------------------- set-up

def find_ember(args):
    if args.ember:
        if not os.access(args.ember, os.X_OK):
            sys.exit("run.py: %s is not an executable" % args.ember)
        return args.ember
    build = os.path.join(ROOT, "build")
    if not os.path.isdir(os.path.join(build, "meson-info")):
        log("configuring %s (meson, release)" % build)
        subprocess.check_call(["meson", "setup", build,
                               "--buildtype=release"], cwd=ROOT,
                              stdout=subprocess.DEVNULL)
    if not args.no_build:
        subprocess.check_call(["ninja", "-C", build, "tools/ember"],
                              stdout=subprocess.DEVNULL)
    try:
        with open(os.path.join(build, "meson-info",
                               "intro-buildoptions.json")) as f:
            opts = {o["name"]: o["value"] for o in json.load(f)}
        if str(opts.get("optimization")) not in ("2", "3") or \
                opts.get("b_sanitize", "none") != "none":
            log("warning: %s is built with optimization=%s, b_sanitize=%s;"
                " timings will not be representative" % (
                    build, opts.get("optimization"), opts.get("b_sanitize")))
    except (OSError, ValueError):
        pass
    return os.path.join(build, "tools", "ember")


def build_models(names, models_dir, make_models):
    manifest_path = os.path.join(models_dir, "manifest.json")
    manifest = {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    todo = [n for n in names if n not in manifest or not os.path.exists(
        os.path.join(models_dir, manifest[n]["file"]))]
    if todo:
        if not os.path.exists(make_models):
            sys.exit("run.py: %s not found (use --make-models)" % make_models)
        log("building models: %s" % ", ".join(todo))
        cmd = [sys.executable, make_models, models_dir, "--only",
               ",".join(todo)]
        tests = os.environ.get("EMBER_ONNX_TESTS")
        if tests and os.path.isdir(os.path.join(tests, "light")):
            cmd += ["--light-dir", os.path.join(tests, "light")]
        subprocess.check_call(cmd)
        with open(manifest_path) as f:
            manifest = json.load(f)
    lost = [n for n in names if n not in manifest]
    if lost:
        sys.exit("run.py: make_models.py did not build %s" % ", ".join(lost))
    return manifest


def make_inputs(name, entry, models_dir):
    """Seeded inputs for a model: [(graph input name, .npy path)]."""
    import numpy as np
    folder = os.path.join(models_dir, "inputs", name)
    os.makedirs(folder, exist_ok=True)
    specs = []
    for k, inp in enumerate(entry["inputs"]):
        shape = [d if isinstance(d, int) and d > 0 else 1
                 for d in inp["shape"]]
        path = os.path.join(folder, "input_%d.npy" % k)
        if not os.path.exists(path):
            rng = np.random.default_rng([zlib.crc32(name.encode()), k])
            if inp["elem_type"] == "FLOAT":
                arr = rng.standard_normal(shape, dtype=np.float32)
            else:
                arr = np.zeros(shape, dtype=np.int64)
            np.save(path, arr)
        specs.append((inp["name"], path))
    return specs


def input_args(specs):
    out = []
    for name, path in specs:
        out += ["--input", "%s=%s" % (name, path)]
    return out


def sanitize(name):
    """The file name `ember run --output-dir` gives an output (see
    cli_sanitize_name in tools/util.c)."""
    s = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return "_" if s in ("", ".", "..") else s


# --------------------------------------------------------------- accuracy

def accuracy_model(name, path, models_dir):
    """The model to check accuracy on: when a graph output is made by a
    Softmax, a copy (cached in models/check/) that also outputs the
    Softmax's input.  With random weights the class probabilities of
    several CNNs saturate to one-hot, where any error in the logits would
    go unseen.  Returns the path and the names of the added outputs."""
    import onnx
    from onnx import helper
    out = os.path.join(models_dir, "check", name + ".onnx")
    side = out[:-len(".onnx")] + ".json"
    if os.path.exists(side) and os.path.getmtime(side) >= os.path.getmtime(
            path):
        with open(side) as f:
            extra = json.load(f)
        if not extra or os.path.exists(out):
            return (out if extra else path), extra
    m = onnx.load(path)
    outputs = {o.name for o in m.graph.output}
    extra = [n.input[0] for n in m.graph.node
             if n.op_type == "Softmax" and n.output[0] in outputs
             and n.input[0] not in outputs]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if extra:
        for x in extra:
            m.graph.output.append(helper.make_tensor_value_info(
                x, onnx.TensorProto.FLOAT, None))
        onnx.save(m, out + ".tmp")
        os.replace(out + ".tmp", out)
    with open(side, "w") as f:
        json.dump(extra, f)
    return (out if extra else path), extra


def check_accuracy(ember, name, path, specs, work, models_dir):
    import numpy as np
    path, extra = accuracy_model(name, path, models_dir)
    edir = os.path.join(work, name + "_ember")
    os.makedirs(edir, exist_ok=True)
    for fn in os.listdir(edir):
        os.remove(os.path.join(edir, fn))
    run_cmd([ember, "run", path, "--output-dir", edir] + input_args(specs))
    npz = os.path.join(work, name + "_ort.npz")
    run_cmd([sys.executable, os.path.join(HERE, "ort_worker.py"), path,
             "--threads", "1", "--save", npz] + input_args(specs),
            env=worker_env(1))
    ref = np.load(npz)
    names = output_names(path)
    res = {"max_abs": 0.0, "max_rel": 0.0, "bad": 0, "elements": 0,
           "ok": True, "notes": [], "outputs": {}}
    files = []
    for k, oname in enumerate(names):
        f = sanitize(oname)
        if f in files:
            f += "_%d" % k
        files.append(f)
        o = ref["out_%d" % k]
        try:
            e = np.load(os.path.join(edir, f + ".npy"))
        except OSError:
            res["ok"] = False
            res["notes"].append("%s: no Ember output" % oname)
            continue
        if e.shape != o.shape:
            res["ok"] = False
            res["notes"].append("%s: shape %s vs %s" % (oname, e.shape,
                                                        o.shape))
            continue
        if o.dtype.kind not in "fc":
            same = int(np.count_nonzero(e != o))
            res["bad"] += same
            res["elements"] += o.size
            res["ok"] &= same == 0
            continue
        e64, o64 = e.astype(np.float64), o.astype(np.float64)
        diff = np.abs(e64 - o64)
        diff[np.isnan(e64) & np.isnan(o64)] = 0
        diff[np.isnan(diff)] = np.inf
        big = np.abs(o64) >= ATOL
        rel = diff[big] / np.abs(o64[big]) if big.any() else np.zeros(1)
        bad = int(np.count_nonzero(~(diff <= ATOL + RTOL * np.abs(o64))))
        res["outputs"][oname] = {
            "max_abs": float(diff.max(initial=0)),
            "max_rel": float(rel.max(initial=0)), "bad": bad,
            "elements": int(o.size), "ref_max_abs": float(np.abs(o64).max(
                initial=0)), "softmax_input": oname in extra}
        res["max_abs"] = max(res["max_abs"], float(diff.max(initial=0)))
        res["max_rel"] = max(res["max_rel"], float(rel.max(initial=0)))
        res["bad"] += bad
        res["elements"] += o.size
        res["ok"] &= bad == 0
    return res


def output_names(path):
    import onnx
    m = onnx.load(path, load_external_data=False)
    return [o.name for o in m.graph.output]


# ----------------------------------------------------------------- timing

def worker_env(threads):
    env = dict(os.environ)
    # NumPy's OpenBLAS must not start a thread pool of its own in the
    # onnxruntime worker.
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def sgemm_peak(threads, reps=16):
    env = dict(os.environ)
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(k, None)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    env["OMP_NUM_THREADS"] = str(threads)
    return last_json(run_cmd([sys.executable,
                              os.path.join(HERE, "sgemm_peak.py"),
                              "--threads", str(threads), "--reps", str(reps)],
                             env=env))


def pooled(samples):
    s = sorted(samples)
    n = len(s)
    median = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    return median, s[max((9 * n + 9) // 10, 1) - 1]


def median_of(xs):
    return pooled(xs)[0]


def time_model(ember, path, specs, threads, runs, warmup, rounds,
               ort_flags=()):
    """Alternate Ember / onnxruntime processes; return pooled figures."""
    rounds = max(1, min(rounds, runs))
    per = [runs // rounds + (1 if r < runs % rounds else 0)
           for r in range(rounds)]
    raw = {"ember": [], "ort": []}
    for r, n in enumerate(per):
        order = ("ember", "ort") if r % 2 == 0 else ("ort", "ember")
        for who in order:
            common = ["--threads", str(threads), "--warmup", str(warmup),
                      "--runs", str(n)] + input_args(specs)
            if who == "ember":
                out = run_cmd([ember, "bench", path, "--json"] + common)
            else:
                out = run_cmd([sys.executable,
                               os.path.join(HERE, "ort_worker.py"), path] +
                              common + list(ort_flags),
                              env=worker_env(threads))
            raw[who].append(last_json(out))
    res = {}
    for who, rs in raw.items():
        times = [t for j in rs for t in j["times_ms"]]
        med, p90 = pooled(times)
        load = median_of([j["load_ms"] + j.get("session_ms", 0) for j in rs])
        first = median_of([j["first_run_ms"] for j in rs])
        res[who] = {
            "median_ms": med, "p90_ms": p90, "min_ms": min(times),
            "runs": len(times), "rounds": len(rs),
            "load_ms": load, "first_run_ms": first,
            "load_to_first_ms": median_of([
                j["load_ms"] + j.get("session_ms", 0) + j["first_run_ms"]
                for j in rs]),
            "peak_rss_mb": max(j["peak_rss_mb"] for j in rs),
            "times_ms": times,
            "version": rs[0].get("version"),
        }
        if who == "ort":
            res[who]["rss_base_mb"] = max(j["rss_base_mb"] for j in rs)
    return res


# ---------------------------------------------------------------- reports

COLUMNS = ["model", "threads", "gflop", "ember_ms", "ember_p90_ms", "ort_ms",
           "ort_p90_ms", "ratio", "ember_gflops", "ember_pct_peak",
           "ort_gflops", "ort_pct_peak", "sgemm_peak_gflops",
           "ember_load_ms", "ember_first_run_ms", "ember_load_to_first_ms",
           "ort_load_ms", "ort_first_run_ms", "ort_load_to_first_ms",
           "ember_rss_mb", "ort_rss_mb", "ort_rss_base_mb", "ember_runs",
           "ort_runs", "max_abs_err", "max_rel_err", "accuracy_ok"]


def row_for(name, entry, threads, t, acc, peak):
    gflop = 2.0 * entry["macs"] / 1e9
    e, o = t["ember"], t["ort"]
    eg = gflop / (e["median_ms"] / 1e3)
    og = gflop / (o["median_ms"] / 1e3)
    return {
        "model": name, "threads": threads, "gflop": gflop,
        "ember_ms": e["median_ms"], "ember_p90_ms": e["p90_ms"],
        "ort_ms": o["median_ms"], "ort_p90_ms": o["p90_ms"],
        "ratio": e["median_ms"] / o["median_ms"],
        "ember_gflops": eg, "ember_pct_peak": 100 * eg / peak,
        "ort_gflops": og, "ort_pct_peak": 100 * og / peak,
        "sgemm_peak_gflops": peak,
        "ember_load_ms": e["load_ms"], "ember_first_run_ms": e["first_run_ms"],
        "ember_load_to_first_ms": e["load_to_first_ms"],
        "ort_load_ms": o["load_ms"], "ort_first_run_ms": o["first_run_ms"],
        "ort_load_to_first_ms": o["load_to_first_ms"],
        "ember_rss_mb": e["peak_rss_mb"], "ort_rss_mb": o["peak_rss_mb"],
        "ort_rss_base_mb": o["rss_base_mb"],
        "ember_runs": e["runs"], "ort_runs": o["runs"],
        "max_abs_err": acc["max_abs"] if acc else None,
        "max_rel_err": acc["max_rel"] if acc else None,
        "accuracy_ok": acc["ok"] if acc else None,
    }


def fmt_ms(x):
    return "%.3f" % x if x < 10 else ("%.2f" % x if x < 100 else "%.1f" % x)


def print_model_table(name, entry, acc, rows):
    log("")
    log("== %s: %.4g GFLOP, %.3g M params" % (
        name, 2.0 * entry["macs"] / 1e9, entry["params"] / 1e6))
    if acc:
        log("   accuracy vs onnxruntime (rtol %g, atol %g): %s%s" % (
            RTOL, ATOL, "ok" if acc["ok"] else "MISMATCH",
            ("  (" + "; ".join(acc["notes"]) + ")") if acc["notes"] else ""))
        for oname, o in acc.get("outputs", {}).items():
            log("     %-24s max abs %.2e, max rel %.2e, %d of %d outside"
                " (max |ref| %.3g)" % (
                    oname + (" (logits)" if o.get("softmax_input") else ""),
                    o["max_abs"], o["max_rel"], o["bad"], o["elements"],
                    o["ref_max_abs"]))
    if not rows:
        return
    hdr = ("   %-3s %11s %11s %11s %11s %7s %8s %6s %8s %6s %15s %13s" % (
        "thr", "ember ms", "(p90)", "ort ms", "(p90)", "ratio", "GFLOP/s",
        "%peak", "ortGF/s", "%peak", "1st result ms", "RSS MB"))
    log(hdr)
    for r in rows:
        log("   %-3d %11s %11s %11s %11s %6.2fx %8.1f %5.1f%% %8.1f %5.1f%%"
            " %7s/%-7s %6.0f/%-6.0f" % (
                r["threads"], fmt_ms(r["ember_ms"]), fmt_ms(r["ember_p90_ms"]),
                fmt_ms(r["ort_ms"]), fmt_ms(r["ort_p90_ms"]), r["ratio"],
                r["ember_gflops"], r["ember_pct_peak"], r["ort_gflops"],
                r["ort_pct_peak"], fmt_ms(r["ember_load_to_first_ms"]),
                fmt_ms(r["ort_load_to_first_ms"]), r["ember_rss_mb"],
                r["ort_rss_mb"]))


def summary_markdown(rows, peaks):
    lines = ["| model | thr | Ember ms | ORT ms | Ember/ORT | Ember GFLOP/s |"
             " % peak | load→1st ms (Ember / ORT) | RSS MB (Ember / ORT) |"
             " max abs err | max rel err |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %d | %s | %s | %.2f | %.1f | %.1f | %s / %s |"
                     " %.0f / %.0f | %s | %s |" % (
                         r["model"], r["threads"], fmt_ms(r["ember_ms"]),
                         fmt_ms(r["ort_ms"]), r["ratio"], r["ember_gflops"],
                         r["ember_pct_peak"],
                         fmt_ms(r["ember_load_to_first_ms"]),
                         fmt_ms(r["ort_load_to_first_ms"]), r["ember_rss_mb"],
                         r["ort_rss_mb"],
                         "%.1e" % r["max_abs_err"]
                         if r["max_abs_err"] is not None else "-",
                         "%.1e" % r["max_rel_err"]
                         if r["max_rel_err"] is not None else "-"))
    lines.append("")
    lines.append("sgemm peak (GFLOP/s): " + ", ".join(
        "%d thread%s %.1f" % (t, "" if t == 1 else "s", p)
        for t, p in sorted(peaks.items())))
    return "\n".join(lines)


def write_chart(rows, threads, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401  (used as matplotlib.ticker)
    models = []
    for r in rows:
        if r["model"] not in models:
            models.append(r["model"])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(8, 0.9 * len(models)
                                                      + 3), 8))
    width = 0.8 / max(len(threads), 1)
    for k, t in enumerate(threads):
        by = {r["model"]: r for r in rows if r["threads"] == t}
        xs = [i + (k - (len(threads) - 1) / 2) * width
              for i in range(len(models))]
        ax1.bar(xs, [by[m]["ratio"] if m in by else 0 for m in models],
                width, label="%d thread%s" % (t, "" if t == 1 else "s"))
        ax2.bar(xs, [by[m]["ember_pct_peak"] if m in by else 0
                     for m in models], width,
                label="Ember, %d thread%s" % (t, "" if t == 1 else "s"))
        ax2.scatter(xs, [by[m]["ort_pct_peak"] if m in by else 0
                         for m in models], marker="_", s=200, color="black",
                    zorder=3, label="onnxruntime" if k == 0 else None)
    ax1.axhline(1.0, color="black", linewidth=0.8)
    ax1.set_yscale("log")
    ax1.yaxis.set_major_locator(matplotlib.ticker.FixedLocator(
        [0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64]))
    ax1.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax1.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax1.grid(axis="y", which="major", linewidth=0.3)
    ax1.set_ylabel("Ember time / onnxruntime time")
    ax1.set_title("Median latency ratio (lower is better; 1 = parity)")
    ax2.set_ylabel("% of sgemm peak")
    ax2.set_title("Achieved GFLOP/s as % of OpenBLAS sgemm peak")
    for ax in (ax1, ax2):
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels(models, rotation=30, ha="right")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="",
                    help="comma-separated names (default: all): " +
                    ",".join(ALL_MODELS))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=30,
                    help="timed runs per runtime (vgg19, zfnet512: at most "
                    "10); 0: check accuracy only")
    ap.add_argument("--warmup", type=int, default=2,
                    help="untimed runs per process, the first included "
                    "(vgg19, zfnet512: 1)")
    ap.add_argument("--rounds", type=int, default=5,
                    help="processes per runtime that the runs are split "
                    "over, alternating Ember / onnxruntime")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--models-dir", default=os.path.join(HERE, "models"))
    ap.add_argument("--make-models", default=os.path.normpath(os.path.join(
        ROOT, "..", "shared", "bench", "make_models.py")))
    ap.add_argument("--ember", help="the ember tool (default: build/tools/"
                    "ember, configured and built if needed)")
    ap.add_argument("--no-build", action="store_true",
                    help="do not run ninja on build/ first")
    ap.add_argument("--no-accuracy", action="store_true")
    ap.add_argument("--ort-no-spin", action="store_true",
                    help="onnxruntime pool threads sleep instead of "
                    "spinning (fairer on an oversubscribed machine; the "
                    "default is onnxruntime's own, spinning)")
    args = ap.parse_args()

    names = [m for m in args.models.split(",") if m] or ALL_MODELS
    threads = [int(t) for t in args.threads.split(",") if t]
    ensure_modules(["numpy", "onnx", "onnxruntime", "matplotlib"])
    ember = find_ember(args)
    os.makedirs(args.models_dir, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    manifest = build_models(names, args.models_dir, args.make_models)
    work = os.path.join(args.out, "outputs")
    os.makedirs(work, exist_ok=True)

    import numpy
    import onnxruntime
    started = time.time()
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": platform.machine(), "cpu": cpu_name(),
        "cpus": os.cpu_count(), "loadavg_start": os.getloadavg(),
        "python": platform.python_version(), "numpy": numpy.__version__,
        "onnxruntime": onnxruntime.__version__,
        "ember": run_cmd([ember, "--version"]).strip(),
        "settings": {"runs": args.runs, "warmup": args.warmup,
                     "rounds": args.rounds, "threads": threads,
                     "ort_spinning": not args.ort_no_spin,
                     "rtol": RTOL, "atol": ATOL},
    }
    log("%s, %d CPUs, load %.1f; %s; onnxruntime %s" % (
        info["cpu"], info["cpus"], info["loadavg_start"][0], info["ember"],
        info["onnxruntime"]))

    if args.runs == 0:  # accuracy only
        threads = []
    sgemm = {t: [sgemm_peak(t)] for t in threads}
    for t in threads:
        s = sgemm[t][0]
        log("sgemm peak, %d thread%s: %.1f GFLOP/s (%s, %s)" % (
            t, "" if t == 1 else "s", s["best_gflops"], s.get("blas"),
            s.get("blas_architecture", "architecture unknown")))

    results, rows = [], []
    for name in names:
        entry = manifest[name]
        path = os.path.join(args.models_dir, entry["file"])
        specs = make_inputs(name, entry, args.models_dir)
        rec = {"model": name, "gflop": 2.0 * entry["macs"] / 1e9,
               "params": entry["params"], "accuracy": None, "timing": {}}
        results.append(rec)
        acc = None
        if not args.no_accuracy:
            try:
                acc = check_accuracy(ember, name, path, specs, work,
                                     args.models_dir)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                log("\n== %s: accuracy check failed: %s" % (name, e))
                rec["error"] = str(e)
                continue
            rec["accuracy"] = acc
        runs = min(args.runs, HEAVY_RUNS.get(name, args.runs))
        warmup = min(args.warmup, 1) if name in HEAVY_RUNS else args.warmup
        if acc:
            log("%-13s accuracy: max abs %.2e, max rel %.2e: %s" % (
                name, acc["max_abs"], acc["max_rel"],
                "ok" if acc["ok"] else "MISMATCH"))
        for t in threads:
            try:
                tm = time_model(ember, path, specs, t, runs, warmup,
                                args.rounds,
                                ["--no-spin"] if args.ort_no_spin else [])
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                log("%-13s %d thread(s): timing failed: %s" % (name, t, e))
                rec.setdefault("errors", []).append(str(e))
                continue
            rec["timing"][str(t)] = tm
            log("%-13s %d thread(s): Ember %s ms, onnxruntime %s ms, "
                "ratio %.2f" % (name, t, fmt_ms(tm["ember"]["median_ms"]),
                                fmt_ms(tm["ort"]["median_ms"]),
                                tm["ember"]["median_ms"] /
                                tm["ort"]["median_ms"]))
            sgemm[t].append(sgemm_peak(t, reps=4))

    # the peak again at the end; the best of all measurements is used
    for t in threads:
        sgemm[t].append(sgemm_peak(t))
    peaks = {t: max(s["best_gflops"] for s in sgemm[t]) for t in threads}
    for rec in results:
        entry = manifest[rec["model"]]
        rec_rows = [row_for(rec["model"], entry, t, rec["timing"][str(t)],
                            rec["accuracy"], peaks[t])
                    for t in threads if str(t) in rec["timing"]]
        rows.extend(rec_rows)
        if rec_rows or rec["accuracy"]:
            print_model_table(rec["model"], entry, rec["accuracy"], rec_rows)

    info["loadavg_end"] = os.getloadavg()
    info["seconds"] = round(time.time() - started, 1)
    info["sgemm"] = {str(t): sgemm[t] for t in threads}
    info["sgemm_peak_gflops"] = {str(t): p for t, p in peaks.items()}

    with open(os.path.join(args.out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow(r)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"info": info, "rows": rows, "models": results}, f,
                  indent=1)
    if rows:
        md = summary_markdown(rows, peaks)
        with open(os.path.join(args.out, "summary.md"), "w") as f:
            f.write(md + "\n")
        write_chart(rows, threads, os.path.join(args.out, "chart.png"))
        log("\n" + md)
        log("\nonnxruntime's RSS includes its Python process (%.0f-%.0f MB "
            "before the session)." % (min(r["ort_rss_base_mb"] for r in rows),
                                      max(r["ort_rss_base_mb"] for r in rows)))
    log("load %.1f at the start, %.1f at the end; %.0f s in all; wrote "
        "results.csv, results.json%s to %s" % (
            info["loadavg_start"][0], info["loadavg_end"][0],
            info["seconds"], ", summary.md and chart.png" if rows else "",
            args.out))
    return 0 if all(r["accuracy"] is None or r["accuracy"]["ok"]
                    for r in results) and not any(
        "error" in r or "errors" in r for r in results) else 1


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
