#!/usr/bin/env python3
"""test_cli.py: end-to-end checks of the `ember` command-line tool.

Runs the built binary the way a user would and checks what it prints,
writes and returns: help and version, one-line errors with exit code 2 for
usage mistakes and 1 for bad files, `inspect` on ONNX test models, `run`
with .npy (format 1, 2 and 3) and .pb inputs and generated inputs, the
.npy files it writes (loaded back with numpy and compared with the
expected values), `bench --json`, and `conform` on case folders, on made-up
failing and broken cases and on light/.  Checks that need a model the
library cannot load yet (EMBER_ERR_UNSUPPORTED) are reported as skipped,
so this test follows the tool, not the operator coverage.

usage: test_cli.py EMBER_BINARY ONNX_TESTS_FOLDER
Exit status 0 when every check passed, 1 when one failed, 77 (skipped)
when the ONNX test folder is absent.  Needs python3 and numpy only.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:  # pragma: no cover
    print("SKIP: numpy is not installed")
    sys.exit(77)

SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped$")


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok    {name}")
        else:
            self.failed += 1
            print(f"FAIL  {name}" + (f": {detail}" if detail else ""))
        return ok

    def skip(self, name, why):
        self.skipped += 1
        print(f"skip  {name}: {why}")


T = Checks()
EMBER = None


def ember(*args, timeout=600):
    return subprocess.run([EMBER, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def one_line_error(name, r, code):
    """An error: exit `code`, nothing on stdout, one line on stderr."""
    lines = r.stderr.splitlines()
    T.check(name, r.returncode == code and len(lines) == 1 and not r.stdout,
            f"exit {r.returncode} (want {code}), stdout {r.stdout!r}, "
            f"stderr {r.stderr!r}")


# ------------------------------------------------------- TensorProto reader

def _varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


NP_TYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 5: np.int16,
            6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64}


def read_tensor_pb(path):
    """Just enough of TensorProto for the float/int test files used here:
    dims, data_type, raw_data, float_data, int64_data, double_data."""
    b = open(path, "rb").read()
    i, dims, dtype, raw, floats, ints, doubles = 0, [], 1, None, [], [], []
    while i < len(b):
        key, i = _varint(b, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(b, i)
            if field == 1:
                dims.append(v)
            elif field == 2:
                dtype = v
            elif field == 7:
                ints.append(v - (1 << 64) if v >= 1 << 63 else v)
        elif wire == 2:
            n, i = _varint(b, i)
            chunk, i = b[i:i + n], i + n
            if field == 1:
                j = 0
                while j < len(chunk):
                    v, j = _varint(chunk, j)
                    dims.append(v)
            elif field == 9:
                raw = chunk
            elif field == 4:
                floats += struct.unpack(f"<{len(chunk) // 4}f", chunk)
            elif field == 10:
                doubles += struct.unpack(f"<{len(chunk) // 8}d", chunk)
            elif field == 7:
                j = 0
                while j < len(chunk):
                    v, j = _varint(chunk, j)
                    ints.append(v - (1 << 64) if v >= 1 << 63 else v)
        elif wire == 5:
            if field == 4:
                floats.append(struct.unpack("<f", b[i:i + 4])[0])
            i += 4
        elif wire == 1:
            i += 8
        else:
            raise ValueError(f"{path}: wire type {wire}")
    t = NP_TYPES[dtype]
    if raw is not None:
        a = np.frombuffer(raw, dtype=np.dtype(t).newbyteorder("<"))
    else:
        a = np.array(floats or doubles or ints, dtype=t)
    return a.reshape(dims)


# ------------------------------------------------------------------ checks

def check_basics(tmp):
    r = ember("--version")
    T.check("--version prints the version",
            r.returncode == 0 and re.match(r"^ember \d+\.\d+\.\d+", r.stdout),
            repr(r.stdout))
    r = ember("help")
    T.check("help lists the commands", r.returncode == 0 and all(
        c in r.stdout for c in ("inspect", "run", "bench", "conform")))
    r = ember("--help")
    T.check("--help works", r.returncode == 0 and "usage" in r.stdout)
    for cmd, word in (("run", "--output-dir"), ("bench", "--json"),
                      ("conform", "--report"), ("inspect", "MODEL")):
        r = ember("help", cmd)
        T.check(f"help {cmd}", r.returncode == 0 and word in r.stdout)
        r = ember(cmd, "--help")
        T.check(f"{cmd} --help", r.returncode == 0 and word in r.stdout)
    r = ember()
    T.check("no arguments: usage, exit 2", r.returncode == 2 and r.stderr)
    garbage = os.path.join(tmp, "garbage.onnx")
    with open(garbage, "wb") as f:
        f.write(b"\x08\x07this is not a protobuf model\xff\xff\xff")
    one_line_error("unknown command", ember("frobnicate"), 2)
    one_line_error("unknown top-level option", ember("--frobnicate"), 2)
    one_line_error("help for an unknown command", ember("help", "nope"), 2)
    one_line_error("run without MODEL", ember("run"), 2)
    one_line_error("inspect with two models", ember("inspect", "a", "b"), 2)
    one_line_error("run with an unknown option",
                   ember("run", garbage, "--frobnicate"), 2)
    one_line_error("--threads needs a value", ember("run", garbage,
                                                    "--threads"), 2)
    one_line_error("--threads wants a number",
                   ember("run", garbage, "--threads", "many"), 2)
    one_line_error("--input wants NAME=FILE",
                   ember("run", garbage, "--input", "x.npy"), 2)
    one_line_error("bench --runs 0", ember("bench", garbage, "--runs", "0"), 2)
    one_line_error("bench --runs abc",
                   ember("bench", garbage, "--runs", "abc"), 2)
    one_line_error("bench --json=1", ember("bench", garbage, "--json=1"), 2)
    one_line_error("conform without PATH", ember("conform"), 2)
    one_line_error("conform --jobs -1",
                   ember("conform", "--jobs", "-1", tmp), 2)
    one_line_error("inspect a missing file",
                   ember("inspect", os.path.join(tmp, "missing.onnx")), 1)
    one_line_error("run a missing file",
                   ember("run", os.path.join(tmp, "missing.onnx")), 1)
    one_line_error("inspect a garbage file", ember("inspect", garbage), 1)
    one_line_error("bench a garbage file", ember("bench", garbage), 1)
    one_line_error("conform a missing folder",
                   ember("conform", os.path.join(tmp, "missing")), 1)
    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    one_line_error("conform a folder without cases", ember("conform", empty),
                   1)


def loads(model):
    """Whether the library can load `model` now; None with the reason
    when it says unsupported."""
    r = ember("inspect", model)
    if r.returncode == 0:
        return True, ""
    return False, r.stderr.strip()


def check_conform(tmp, tests):
    node = os.path.join(tests, "node")
    abs_case = os.path.join(node, "test_abs")
    report = os.path.join(tmp, "report.tsv")
    # one case folder, with a report
    r = ember("conform", "--report", report, abs_case)
    lines = r.stdout.splitlines()
    m = SUMMARY.match(lines[-1]) if lines else None
    T.check("conform: last line is the summary", m is not None, r.stdout)
    rep = open(report).read().splitlines() if os.path.exists(report) else []
    T.check("conform: report has one line per case",
            len(rep) == 1 and re.match(
                r"^node/test_abs\t(pass|fail|unsupported)\t", rep[0]),
            repr(rep))
    status = rep[0].split("\t")[1] if rep else "?"
    T.check("conform: exit code follows failures",
            r.returncode == (1 if status == "fail" else 0),
            f"exit {r.returncode} with status {status}")

    # several paths: sorted by name, same case twice counted once
    add_case = os.path.join(node, "test_add")
    r = ember("conform", "--report", report, "-j", "2", add_case, abs_case,
              node + "/test_abs/")
    rep = open(report).read().splitlines()
    names = [x.split("\t")[0] for x in rep]
    T.check("conform: cases sorted, duplicates dropped",
            names == ["node/test_abs", "node/test_add"], repr(names))
    m = SUMMARY.match(r.stdout.splitlines()[-1])
    T.check("conform: counts add up",
            m and sum(int(g) for g in m.groups()) == 2, r.stdout)

    # --filter and --verbose on the whole node folder (fast: only matches)
    r = ember("conform", "--verbose", "--filter", "test_abs", node)
    listed = [x for x in r.stdout.splitlines() if "node/test_abs" in x]
    T.check("conform --filter --verbose lists the one case",
            len(listed) == 1 and SUMMARY.match(r.stdout.splitlines()[-1]),
            r.stdout)

    # made-up cases: a wrong expected output, a garbage model
    cases = os.path.join(tmp, "cases")
    wrong = os.path.join(cases, "test_abs_wrong")
    shutil.copytree(abs_case, wrong)
    shutil.copy(os.path.join(node, "test_neg", "test_data_set_0",
                             "output_0.pb"),
                os.path.join(wrong, "test_data_set_0", "output_0.pb"))
    broken = os.path.join(cases, "test_broken")
    os.makedirs(os.path.join(broken, "test_data_set_0"))
    with open(os.path.join(broken, "model.onnx"), "wb") as f:
        f.write(b"\xff" * 64)
    r = ember("conform", "--report", report, cases)
    rep = dict((x.split("\t")[0], x.split("\t")[1:])
               for x in open(report).read().splitlines())
    T.check("conform: a garbage model is a failure, not a skip",
            rep.get("cases/test_broken", [""])[0] == "fail"
            and "FAIL cases/test_broken" in r.stdout and r.returncode == 1,
            f"{rep} {r.stdout!r}")
    if status == "pass":
        got = rep.get("cases/test_abs_wrong", ["", ""])
        T.check("conform: wrong values fail with the first difference",
                got[0] == "fail" and "differ" in got[1] and "got" in got[1],
                repr(got))
    else:
        T.skip("conform: wrong values", f"test_abs is '{status}'")

    # light/: only squeezenet, to stay quick
    r = ember("conform", "--verbose", "--filter", "squeezenet",
              os.path.join(tests, "light"), timeout=900)
    lines = r.stdout.splitlines()
    T.check("conform light/: names and summary",
            len(lines) == 2 and "light/light_squeezenet" in lines[0]
            and SUMMARY.match(lines[1]), r.stdout)
    if lines and lines[0].startswith("PASS"):
        T.check("conform light/: squeezenet passes", True)
    elif lines and lines[0].startswith("SKIP"):
        T.skip("conform light/: squeezenet passes", lines[0])
    else:
        T.check("conform light/: squeezenet passes", False, r.stdout)
    return status == "pass"


def save_npy(path, a, version=None):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, a, version=version, allow_pickle=False)


def check_run_abs(tmp, tests):
    case = os.path.join(tests, "node", "test_abs")
    model = os.path.join(case, "model.onnx")

    r = ember("inspect", model)
    T.check("inspect test_abs", r.returncode == 0 and all(
        w in r.stdout for w in ("x", "y", "float", "[3,4,5]", "Abs",
                                "parameters", "opsets")), r.stdout)

    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    for version in ((1, 0), (2, 0), (3, 0)):
        d = os.path.join(tmp, f"out_v{version[0]}")
        xin = os.path.join(tmp, f"x_v{version[0]}.npy")
        save_npy(xin, x, version)
        r = ember("run", model, "--input", f"x={xin}", "--output-dir", d,
                  "--threads", "1")
        ok = r.returncode == 0 and os.path.exists(os.path.join(d, "y.npy"))
        y = np.load(os.path.join(d, "y.npy")) if ok else None
        T.check(f"run with a .npy v{version[0]} input writes y.npy = |x|",
                ok and y.dtype == np.float32 and y.shape == (3, 4, 5)
                and np.array_equal(y, np.abs(x)),
                f"exit {r.returncode}: {r.stderr.strip()}")
    T.check("run prints a summary",
            re.search(r"^y: float(32)? \[3,4,5\]", r.stdout, re.M)
            and "min" in r.stdout and "mean" in r.stdout, r.stdout)

    # .pb input, compared with the expected .pb output
    d = os.path.join(tmp, "out_pb")
    r = ember("run", model, "--input",
              "x=" + os.path.join(case, "test_data_set_0", "input_0.pb"),
              "--output-dir", d)
    want = read_tensor_pb(os.path.join(case, "test_data_set_0",
                                       "output_0.pb"))
    ok = r.returncode == 0 and os.path.exists(os.path.join(d, "y.npy"))
    T.check("run with a .pb input matches output_0.pb",
            ok and np.allclose(np.load(os.path.join(d, "y.npy")), want,
                               rtol=1e-3, atol=1e-7), r.stderr)

    # no input: arange(n)/n of the declared shape
    d = os.path.join(tmp, "out_gen")
    r = ember("run", model, "--output-dir", d)
    gen = (np.arange(60).reshape(3, 4, 5) / 60).astype(np.float32)
    ok = r.returncode == 0 and os.path.exists(os.path.join(d, "y.npy"))
    T.check("run without inputs generates arange(n)/n",
            ok and np.array_equal(np.load(os.path.join(d, "y.npy")), gen),
            r.stderr)
    d = os.path.join(tmp, "not_written")
    r = ember("run", model)
    T.check("run without --output-dir writes nothing",
            r.returncode == 0 and not os.path.exists(d) and "y:" in r.stdout)

    # bad input files: one line, exit 1
    f = os.path.join(tmp, "fortran.npy")
    save_npy(f, np.asfortranarray(x))
    r = ember("run", model, "--input", f"x={f}")
    one_line_error("run refuses Fortran-ordered .npy", r, 1)
    T.check("... saying so", "Fortran" in r.stderr, r.stderr)
    f = os.path.join(tmp, "big.npy")
    save_npy(f, x.astype(">f4"))
    r = ember("run", model, "--input", f"x={f}")
    one_line_error("run refuses big-endian .npy", r, 1)
    T.check("... saying so", "big-endian" in r.stderr, r.stderr)
    f = os.path.join(tmp, "double.npy")
    save_npy(f, x.astype(np.float64))
    one_line_error("run refuses a float64 input for a float model",
                   ember("run", model, "--input", f"x={f}"), 1)
    f = os.path.join(tmp, "short.npy")
    save_npy(f, x)
    with open(f, "r+b") as fh:
        fh.truncate(os.path.getsize(f) - 8)
    one_line_error("run refuses a truncated .npy",
                   ember("run", model, "--input", f"x={f}"), 1)
    f = os.path.join(tmp, "notnpy.npy")
    with open(f, "wb") as fh:
        fh.write(b"hello")
    one_line_error("run refuses a file that is not .npy",
                   ember("run", model, "--input", f"x={f}"), 1)
    one_line_error("run refuses an unknown input name",
                   ember("run", model, "--input",
                         f"nope={os.path.join(tmp, 'x_v1.npy')}"), 1)
    one_line_error("run refuses an input file of unknown format",
                   ember("run", model, "--input", f"x={model}"), 1)

    # bench
    r = ember("bench", model, "--json", "--runs", "5", "--warmup", "1",
              "--threads", "1")
    try:
        j = json.loads(r.stdout)
    except ValueError:
        j = None
    keys = ("load_ms", "first_run_ms", "median_ms", "p90_ms", "min_ms",
            "mean_ms", "runs", "threads", "peak_rss_mb")
    T.check("bench --json prints one JSON object with the keys",
            r.returncode == 0 and isinstance(j, dict)
            and all(k in j for k in keys) and len(r.stdout.splitlines()) == 1,
            r.stdout + r.stderr)
    if isinstance(j, dict) and all(k in j for k in keys):
        T.check("bench --json figures are consistent",
                j["runs"] == 5 and j["threads"] == 1
                and 0 <= j["min_ms"] <= j["median_ms"] <= j["p90_ms"]
                and j["min_ms"] <= j["mean_ms"] and j["peak_rss_mb"] > 0
                and j["load_ms"] >= 0, repr(j))
    T.check("bench writes no progress when stderr is not a terminal",
            r.stderr == "", repr(r.stderr))
    r = ember("bench", model, "--runs", "3", "--warmup", "0")
    T.check("bench prints a table", r.returncode == 0 and all(
        w in r.stdout for w in ("load", "first run", "median", "p90",
                                "peak RSS")), r.stdout)


def check_light(tmp, tests):
    model = os.path.join(tests, "light", "light_shufflenet.onnx")
    ok, why = loads(model)
    if not ok:
        T.skip("run light_shufflenet", why)
        return
    r = ember("inspect", model)
    T.check("inspect light_shufflenet", r.returncode == 0 and all(
        w in r.stdout for w in ("gpu_0/data_0", "[1,3,224,224]", "Conv",
                                "gpu_0/softmax_1")), r.stdout)
    d = os.path.join(tmp, "out_light")
    r = ember("run", model, "--output-dir", d, timeout=900)
    f = os.path.join(d, "gpu_0_softmax_1.npy")
    T.check("run names the file after the output, '/' made '_'",
            r.returncode == 0 and os.path.exists(f),
            f"{r.stderr.strip()} {os.listdir(d) if os.path.isdir(d) else ''}")
    if os.path.exists(f):
        got = np.load(f)
        want = read_tensor_pb(os.path.join(tests, "light",
                                           "light_shufflenet_output_0.pb"))
        T.check("run light_shufflenet on arange(n)/n matches the expected "
                "output", got.shape == want.shape
                and np.allclose(got, want, rtol=1e-3, atol=1e-7),
                f"shape {got.shape} vs {want.shape}, max diff "
                f"{np.max(np.abs(got - want)) if got.shape == want.shape else '-'}")


def main():
    global EMBER
    if len(sys.argv) != 3:
        print("usage: test_cli.py EMBER_BINARY ONNX_TESTS_FOLDER",
              file=sys.stderr)
        return 2
    EMBER = os.path.abspath(sys.argv[1])
    tests = os.environ.get("EMBER_ONNX_TESTS") or sys.argv[2]
    if not os.access(EMBER, os.X_OK):
        print(f"FAIL: {EMBER} is not an executable", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="ember-cli-") as tmp:
        check_basics(tmp)
        if not os.path.isdir(os.path.join(tests, "node", "test_abs")):
            print(f"SKIP: no ONNX test data at {tests}; "
                  f"{T.passed} basic checks passed, {T.failed} failed")
            return 1 if T.failed else 77
        abs_ok = check_conform(tmp, tests)
        ok, why = loads(os.path.join(tests, "node", "test_abs", "model.onnx"))
        if ok:
            check_run_abs(tmp, tests)
        else:
            T.skip("run/bench/inspect on test_abs", why)
        if ok and not abs_ok:
            T.check("test_abs loads, so conform should pass it", False)
        check_light(tmp, tests)
    print(f"{T.passed} passed, {T.failed} failed, {T.skipped} skipped")
    return 1 if T.failed else 0


if __name__ == "__main__":
    sys.exit(main())
