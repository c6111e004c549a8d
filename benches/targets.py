"""Measure the speed targets of the "Speed" issue (Adam float32) and print them as a
markdown table: each figure with its goal, peers timed in the same run (interleaved
rounds, medians), so the ratios hold on a noisy machine.

    python benches/targets.py [--budget S] [--repeat K] [--wait-quiet S] [--threads N]
                              [--only NAME ...]

Figures: the whole opt.step() at 1k elements and its ratio to torch's fused Adam; the
ratios to torch fused at 1M and 10M and to the memory-traffic twin at 10M; 200 tensors as
a list against torch fused; the realistic loop (NumPy work between steps) on 2 threads
against 1; bytes allocated per step; ``import fastopt`` time; the numba backend's first
step in a fresh process with a warm cache.

On a shared machine: ``--repeat 3`` reports the median of three runs of each figure,
``--wait-quiet 120`` waits (up to 120 s) for the CPUs to be idle before each run, and
``--threads N`` sets fastopt's and torch's thread counts (default: their own defaults).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import tracemalloc

import numpy as np

import fastopt
from fastopt._bench import cases, peers, timing, workloads
from fastopt._bench.report import format_size, machine_line

ADAM = cases.CASES_BY_ID["Adam"]
BACKENDS = ("cython", "numba")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastopt.__file__)))

# target -> goal, check, format, [(value, detail) per run]
FIGURES: dict[str, dict] = {}
ORDER: list[str] = []


def report(target: str, value: float, goal: str, ok, fmt: str, detail: str = "") -> None:
    if target not in FIGURES:
        FIGURES[target] = dict(goal=goal, ok=ok, fmt=fmt, runs=[])
        ORDER.append(target)
    FIGURES[target]["runs"].append((value, detail))
    print(f"  {target}: {fmt.format(value)} {detail} (goal {goal})", file=sys.stderr)


def flat_peers(n: int, impls, budget: float) -> dict[str, float]:
    pg = workloads.data("float32", [(n,)])
    steps = {i: peers.make_step(ADAM, i, "float32", [(n,)], params_grads=pg) for i in impls}
    return timing.measure(steps, budget=budget, min_rounds=5)


def _ms(t: float) -> str:
    return f"{t * 1e3:.2f} ms"


def target_small(budget: float) -> None:
    pg = workloads.data("float32", [(1_000,)])
    steps = {i: peers.make_step(ADAM, i, "float32", [(1_000,)], params_grads=pg)
             for i in BACKENDS + ("torch-fused",)}
    samples = timing.measure_samples(steps, budget=budget, min_rounds=5)
    t = {k: statistics.median(v) for k, v in samples.items()}
    for b in BACKENDS:
        report(f"1k, FlatParams: whole opt.step() ({b})", t[b] * 1e6, "<= 3 us",
               lambda v: v <= 3, "{:.2f} us",
               f"[fastest sample {min(samples[b]) * 1e6:.2f} us]")
        report(f"1k: torch fused / fastopt ({b})", t["torch-fused"] / t[b], ">= 10x",
               lambda v: v >= 10, "{:.0f}x", f"[torch fused {t['torch-fused'] * 1e6:.0f} us]")


def target_1m(budget: float) -> None:
    t = flat_peers(1_000_000, BACKENDS + ("torch-fused", "twin"), budget)
    for b in BACKENDS:
        report(f"1M: torch fused / fastopt ({b})", t["torch-fused"] / t[b], ">= 2x",
               lambda v: v >= 2, "{:.2f}x",
               f"[{_ms(t[b])} vs {_ms(t['torch-fused'])}; twin {_ms(t['twin'])}]")


def target_10m(budget: float) -> None:
    t = flat_peers(10_000_000, BACKENDS + ("torch-fused", "twin"), budget)
    for b in BACKENDS:
        report(f"10M: twin / fastopt ({b})", t["twin"] / t[b], ">= 0.9", lambda v: v >= 0.9,
               "{:.2f}", f"[{_ms(t[b])} vs twin {_ms(t['twin'])}]")
        report(f"10M: torch fused / fastopt ({b})", t["torch-fused"] / t[b], ">= 1",
               lambda v: v >= 1, "{:.2f}x", f"[torch fused {_ms(t['torch-fused'])}]")


def target_many(budget: float) -> None:
    shapes = workloads.mlp_shapes(200, 1_000_000)
    pg = workloads.data("float32", shapes)
    impls = BACKENDS + ("torch-fused", "torch-foreach", "twin")
    steps = {i: peers.make_step(ADAM, i, "float32", shapes, flat=False, params_grads=pg)
             for i in impls}
    t = timing.measure(steps, budget=budget, min_rounds=5)
    for b in BACKENDS:
        report(f"200 tensors as a list (1.01M elements): torch fused / fastopt ({b})",
               t["torch-fused"] / t[b], ">= 3x", lambda v: v >= 3, "{:.2f}x",
               f"[{_ms(t[b])} vs {_ms(t['torch-fused'])}; foreach {_ms(t['torch-foreach'])}; "
               f"twin {_ms(t['twin'])}]")


def target_realistic(budget: float) -> None:
    for kind in ("sin", "matmul"):
        work = workloads.busy_work(kind)
        for n in (1_000, 100_000, 300_000, 1_000_000, 10_000_000):
            pg = workloads.data("float32", [(n,)])
            steps = {"work": work}
            for b in BACKENDS:
                step = peers.make_step(ADAM, b, "float32", [(n,)], params_grads=pg)
                for k in (1, 2):
                    def it(step=step, k=k):
                        fastopt.set_num_threads(k)
                        work()
                        step()
                    steps[f"{b}-{k}"] = it
            t = timing.measure(steps, budget=budget, min_rounds=7)
            fastopt.set_num_threads(None)
            for b in BACKENDS:
                one, two = t[f"{b}-1"] - t["work"], t[f"{b}-2"] - t["work"]
                # the ratio of whole iterations (work + step): robust where the step is tiny
                report(f"realistic loop ({kind} between steps), {format_size(n)} ({b}): "
                       f"iteration 1 thread / 2 threads", t[f"{b}-1"] / t[f"{b}-2"],
                       ">= 1 (2 never slower)", lambda v: v >= 0.97, "{:.2f}",
                       f"[step within the loop: 1t {one * 1e6:.0f} us, 2t {two * 1e6:.0f} us;"
                       f" work {t['work'] * 1e6:.0f} us]")


def target_alloc(budget: float = 0) -> None:
    """tracemalloc over 1000 steps after 300 warm-up steps (so the step counter is already
    a heap int): what stays allocated, and the peak on the way."""
    rng = np.random.default_rng(0)
    for b in BACKENDS:
        for form in ("flat", "list"):
            if form == "flat":
                fp = fastopt.flatten({"w": rng.standard_normal(10_000, dtype=np.float32)})
                opt = fastopt.Adam(fp, backend=b)
                step = opt.step
            else:
                ps = [rng.standard_normal(s, dtype=np.float32) for s in [(100, 50), (50,)] * 4]
                gs = [np.ones_like(p) for p in ps]
                opt = fastopt.Adam(ps, backend=b)

                def step(opt=opt, gs=gs):
                    opt.step(gs)
            for _ in range(300):
                step()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            for _ in range(1000):
                step()
            after, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            # A few dozen bytes are this loop's own ints (the loop index, the step count).
            report(f"allocation, steady state ({b}, {form}): bytes retained after 1000 steps",
                   after - before, "0 per step (<= 64 B: the loop's own ints)",
                   lambda v: v <= 64, "{:.0f} B", f"[peak above start {peak - before} B]")


def _python(code: str) -> str:
    """Run ``code`` in a fresh interpreter, with bytecode caching on (in a private prefix,
    as an installed package would have its .pyc files) whatever PYTHONDONTWRITEBYTECODE
    says."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [ROOT, os.environ.get("PYTHONPATH")])),
        "PYTHONPYCACHEPREFIX": os.path.join(tempfile.gettempdir(), "fastopt-targets-pyc")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=300)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return out.stdout.strip()


def target_import(budget: float = 0, repeats: int = 7) -> None:
    _python("import fastopt")                      # write the bytecode cache
    code = ("import time; t0 = time.perf_counter(); import numpy; "
            "t1 = time.perf_counter(); import fastopt; t2 = time.perf_counter(); "
            "import sys; print(t2 - t0, t2 - t1, 'numba' in sys.modules)")
    runs = [_python(code).split() for _ in range(repeats)]
    total = statistics.median(float(r[0]) for r in runs)
    own = statistics.median(float(r[1]) for r in runs)
    report("import fastopt in a fresh process, after numpy (median of 7)", own, "<= 0.15 s",
           lambda v: v <= 0.15, "{:.3f} s")
    report("import fastopt in a fresh process, numpy's own import included", total,
           "<= 0.15 s", lambda v: v <= 0.15, "{:.3f} s")
    report("import fastopt imports numba (0 = no)", float(any(r[2] == "True" for r in runs)),
           "0", lambda v: v == 0, "{:.0f}")


def target_numba_first(budget: float = 0, repeats: int = 5) -> None:
    code = ("import time, numpy as np, fastopt\n"
            "p = [np.zeros(1000, np.float32)]; g = [np.ones(1000, np.float32)]\n"
            "t0 = time.perf_counter(); import numba; t1 = time.perf_counter()\n"
            "opt = fastopt.Adam(p, backend='numba'); opt.step(g)\n"
            "t2 = time.perf_counter(); import sys\n"
            "print(t2 - t0, t1 - t0, t2 - t1, 'scipy' in sys.modules)")
    _python(code)                                  # fill the caches
    runs = [_python(code).split() for _ in range(repeats)]
    total, imp, first = (statistics.median(float(r[i]) for r in runs) for i in range(3))
    scipy = "; numba imported scipy" if runs[0][3] == "True" else ""
    report("numba backend: build + first step in a fresh process, warm cache, numba's "
           "import included (median of 5)", total, "<= 1 s", lambda v: v <= 1.0, "{:.2f} s",
           f"[import numba {imp:.2f} s, then build + first step {first:.2f} s{scipy}]")


TARGETS = {"small": target_small, "1m": target_1m, "10m": target_10m, "many": target_many,
           "realistic": target_realistic, "alloc": target_alloc, "import": target_import,
           "numba": target_numba_first}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, default=1.0,
                    help="seconds of timing per peer per figure (default 1)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per figure; the median is kept")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="before each run, wait up to S seconds for idle CPUs")
    ap.add_argument("--threads", type=int, default=None,
                    help="fastopt's and torch's thread count (default: theirs)")
    ap.add_argument("--only", nargs="+", choices=list(TARGETS), help="some figures only")
    args = ap.parse_args()
    if args.threads is not None:
        fastopt.set_num_threads(args.threads)
        torch = peers.import_torch()
        if torch is not None:
            torch.set_num_threads(args.threads)
    machine = machine_line(True)
    print(machine, file=sys.stderr)
    for name in args.only or TARGETS:
        for _ in range(args.repeat if name not in ("import", "numba", "alloc") else 1):
            if args.wait_quiet:
                timing.wait_quiet(args.wait_quiet)
            TARGETS[name](args.budget)
            if args.threads is not None:
                fastopt.set_num_threads(args.threads)
    print(f"<!-- {machine}; {' '.join(sys.argv[1:])} -->")
    print("| target | measured | goal | met |")
    print("|---|---|---|---|")
    for target in ORDER:
        f = FIGURES[target]
        values = [v for v, _ in f["runs"]]
        med = statistics.median(values)
        detail = min(f["runs"], key=lambda r: abs(r[0] - med))[1]
        spread = (f" (runs: {', '.join(f['fmt'].format(v) for v in values)})"
                  if len(values) > 1 else "")
        print(f"| {target} | {f['fmt'].format(med)}{spread} {detail} | {f['goal']} | "
              f"{'yes' if f['ok'](med) else '**no**'} |")


if __name__ == "__main__":
    main()
