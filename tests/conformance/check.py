#!/usr/bin/env python3
"""Conformance gate: run `ember conform` over the ONNX backend suite and fail
if any case listed in expected-pass.txt does not pass.

usage: check.py [--update] EMBER_BINARY [SUITE_DIR]

--update appends every newly passing case to expected-pass.txt.

SUITE_DIR defaults to $EMBER_ONNX_TESTS, then ../shared/onnx-tests beside
the repository.  When it is absent the test is skipped (exit 77) with a
message.  Cases that pass but are not listed are reported so they can be
added: the list only grows.
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FOLDERS = ["light", "simple", "pytorch-converted", "pytorch-operator", "node"]


def main():
    args = sys.argv[1:]
    update = "--update" in args
    args = [a for a in args if a != "--update"]
    ember = args[0]
    suite = (args[1] if len(args) > 1 else None) or \
        os.environ.get("EMBER_ONNX_TESTS") or \
        os.path.join(ROOT, "..", "shared", "onnx-tests")
    if not os.path.isdir(suite):
        print(f"SKIP: ONNX conformance suite not found at {suite} "
              "(set EMBER_ONNX_TESTS)")
        return 77
    dirs = [os.path.join(suite, f) for f in FOLDERS
            if os.path.isdir(os.path.join(suite, f))]
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.tsv")
        proc = subprocess.run([ember, "conform", "--report", report] + dirs,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
        if not os.path.exists(report):
            print(proc.stdout[-5000:])
            print(f"FAIL: ember conform wrote no report (exit {proc.returncode})")
            return 1
        results = {}
        with open(report) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 2:
                    results[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    expected = []
    with open(os.path.join(HERE, "expected-pass.txt")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                expected.append(line)
    per = {}
    for name, (res, _) in results.items():
        folder = name.split("/")[0]
        p, t = per.get(folder, (0, 0))
        per[folder] = (p + (res == "pass"), t + 1)
    for folder in FOLDERS:
        if folder in per:
            print(f"{folder}: {per[folder][0]}/{per[folder][1]} passed")
    regressions = [c for c in expected if results.get(c, ("missing", ""))[0] != "pass"]
    listed = set(expected)
    new = sorted(c for c, (r, _) in results.items() if r == "pass" and c not in listed)
    if new and update:
        with open(os.path.join(HERE, "expected-pass.txt"), "a") as f:
            for c in new:
                f.write(c + "\n")
        print(f"added {len(new)} newly passing cases to expected-pass.txt")
    elif new:
        print(f"{len(new)} passing cases are not in expected-pass.txt yet "
              "(add them with --update):")
        for c in new:
            print("  " + c)
    for c in regressions:
        res, why = results.get(c, ("missing", "case not found"))
        print(f"REGRESSION {c}: {res} {why}")
    passed = sum(1 for r, _ in results.values() if r == "pass")
    failed = sum(1 for r, _ in results.values() if r == "fail")
    skipped = len(results) - passed - failed
    print(f"expected-pass list: {len(expected)} cases, {len(regressions)} regressions")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
