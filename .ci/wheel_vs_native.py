"""The shipped wheel against a -march=native build of the same code, in one run.

    python .ci/wheel_vs_native.py --wheel-python .venv-ci/bin/python --native-src DIR

``--wheel-python``: an interpreter whose environment has the repaired wheel installed
(``bash .ci/run`` leaves one in .venv-ci).  ``--native-src``: a copy of the source tree;
it is built in place with ``FASTOPT_NATIVE=1`` by this script's interpreter if it has no
compiled modules yet (it must be the same Python version as the wheel's).  Both run
under the wheel's interpreter (same NumPy), so only fastopt's build differs.

Speed: Adam float32 steps at each size and thread count, wheel and native back to back
(which goes first alternates by round), each in a fresh subprocess, ``--steps`` timed
steps per subprocess after 5 warm-up steps.  The table gives, per variant, the median
over rounds of each subprocess's median step time (and the minimum over rounds), and the
median of the per-round wheel/native ratios, which is what to read on a shared machine.

Bits: the same deterministic runs (Adam, and AMSGrad with weight decay; float32 and
float64) under the wheel with FASTOPT_CPU=base, v3, v4 and its own choice, and under the
native build, must give bitwise the same parameters and state.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import hashlib, json, os, sys, time
import numpy as np
import fastopt
from fastopt._core import _native
mode, n, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if threads:
    fastopt.set_num_threads(threads)
out = {"file": os.path.dirname(fastopt.__file__), "level": _native.CPU_LEVEL,
       "threads": fastopt.get_num_threads()}
if mode == "speed":
    rng = np.random.default_rng(0)
    p = rng.standard_normal(n, dtype=np.float32)
    g = rng.standard_normal(n, dtype=np.float32)
    opt = fastopt.Adam([p], lr=1e-3)
    for _ in range(5):
        opt.step([g])
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        opt.step([g])
        times.append(time.perf_counter() - t0)
    times.sort()
    out["median_ms"] = 1e3 * times[len(times) // 2]
    out["min_ms"] = 1e3 * times[0]
else:
    h = hashlib.sha256()
    for dtype in (np.float32, np.float64):
        for kw in (dict(), dict(amsgrad=True, weight_decay=0.1), dict(lr=0.1, maximize=True)):
            rng = np.random.default_rng(1)
            p = rng.standard_normal(n).astype(dtype)
            opt = fastopt.Adam([p], **kw)
            for t in range(steps):
                g = (rng.standard_normal(n) * 10.0 ** rng.integers(-6, 3, n)).astype(dtype)
                opt.step([g])
            h.update(p.tobytes())
            for bufs in opt.state.values():
                for name in sorted(bufs):
                    h.update(bufs[name].tobytes())
    out["sha256"] = h.hexdigest()
print(json.dumps(out))
"""


def run(python, env_extra, pythonpath, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FASTOPT_CPU")}
    env.update(env_extra)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryDirectory() as cwd:     # no source tree importable by accident
        res = subprocess.run([python, "-c", CHILD, *map(str, args)], env=env, cwd=cwd,
                             capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{python} {args} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def build_native(src):
    if any(f.startswith("_native.") and f.endswith((".so", ".pyd"))
           for f in os.listdir(os.path.join(src, "fastopt"))):
        return
    print(f"building {src} with FASTOPT_NATIVE=1 ...", flush=True)
    subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-q"], cwd=src,
                   env={**os.environ, "FASTOPT_NATIVE": "1"}, check=True,
                   stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel-python", required=True)
    ap.add_argument("--native-src", required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--threads", type=int, nargs="+", default=[0, 1],
                    help="0: fastopt's default (OpenMP's count)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=31)
    a = ap.parse_args()
    native_src = os.path.abspath(a.native_src)
    wheel_python = os.path.abspath(a.wheel_python)   # not realpath: keep the venv
    build_native(native_src)
    variants = {"wheel": (wheel_python, None), "native": (wheel_python, native_src)}

    # Bits first: every variant must compute the same thing.
    print("bitwise agreement (100,003 elements, 20 steps; Adam, AMSGrad+wd, maximize; "
          "float32 and float64):")
    digests = {}
    for label, (py, path), cpu in [("wheel auto", variants["wheel"], None),
                                   ("wheel base", variants["wheel"], "base"),
                                   ("wheel v3", variants["wheel"], "v3"),
                                   ("wheel v4", variants["wheel"], "v4"),
                                   ("native", variants["native"], None)]:
        r = run(py, {"FASTOPT_CPU": cpu} if cpu else {}, path, "bits", 100_003, 20, 0)
        digests[label] = r["sha256"]
        print(f"  {label:<11} level {r['level']:<5} {r['sha256'][:16]}  {r['file']}")
    same = len(set(digests.values())) == 1
    print("  all identical" if same else "  DIFFERENT RESULTS")

    results = {}
    for rnd in range(a.rounds):
        order = list(variants) if rnd % 2 == 0 else list(reversed(variants))
        for n in a.sizes:
            for th in a.threads:
                for name in order:
                    py, path = variants[name]
                    r = run(py, {}, path, "speed", n, a.steps, th)
                    results.setdefault((n, th, name), []).append(r)
        print(f"round {rnd + 1}/{a.rounds} done", flush=True)

    print(f"\nAdam float32 step time, ms: median over {a.rounds} rounds of each subprocess's "
          f"median of {a.steps} steps [min over rounds]; wheel/native: median of the "
          f"per-round ratios (the two run back to back)")
    print(f"{'elements':>10} {'threads':>7} {'wheel':>17} {'native':>17} {'wheel/native':>12}")
    for n in a.sizes:
        for th in a.threads:
            w = [r["median_ms"] for r in results[(n, th, "wheel")]]
            nat = [r["median_ms"] for r in results[(n, th, "native")]]
            nthreads = results[(n, th, "wheel")][0]["threads"]
            ratio = statistics.median(x / y for x, y in zip(w, nat))
            print(f"{n:>10,} {nthreads:>7} {statistics.median(w):>8.3f} [{min(w):6.3f}] "
                  f"{statistics.median(nat):>8.3f} [{min(nat):6.3f}] {ratio:>12.3f}")
    levels = {name: results[(a.sizes[0], a.threads[0], name)][0]["level"] for name in variants}
    print(f"levels picked: wheel {levels['wheel']}, native build {levels['native']} "
          f"(every level of the native build is compiled with -march=native)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
