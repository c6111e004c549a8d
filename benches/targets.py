"""Measure the targets of the "Speed" issue and print them as a markdown table: each figure
with its goal and whether it is met, peers timed in the same run (interleaved rounds,
medians), so the ratios hold on a noisy machine.

    python benches/targets.py --repeat 3 [--wait-quiet 120] [--budget S] [--threads N]
                              [--only NAME ...] [--case ID ...]

``--repeat 3`` is the issue's "medians of three runs": each figure is measured three times
and the table shows the median (and the three runs).  The figures, by ``--only`` name
(float32 throughout; "FlatParams" = one flat buffer with the gradient already in place, the
whole ``opt.step()`` timed; a case is a ``Bench`` entry of the optimizer table,
``fastopt._bench.cases.CASES``: Adam, AMSGrad, AdamW, SGD, SGD-momentum, ..., Lamb):

- ``small``: every case's step at 1k elements, FlatParams: cython (goal <= 2.5 us) and
  numba (goal: faster than the hand-written in-place NumPy peer timed beside it); torch's
  fused step, where torch has one, in the detail.
- ``vs-numpy``: every case at the sizes of ``python -m fastopt bench`` (1e3, 1e5, 1e6,
  1e7), FlatParams: the speedup of cython and of numba over the hand-written in-place NumPy
  peer, the three timed interleaved; the figure is the worst size (goal > 1 at every size),
  each size in the detail.  1e6 and 1e7 take fewer rounds (at most 30 and 7).
- ``guard``: every case at 10M elements, cython, FlatParams: the plain step,
  ``max_grad_norm=1.0``, ``nonfinite="skip"`` and both, stepped round-robin in one process
  (with the memory-traffic twin); the figure is the worst guarded variant's median time
  over the plain step's (goal <= 1.15, or <= floor x 1.05 where the floor is above 1.15).
  The floor is what one more read of the gradient costs a step that runs at the speed of
  memory: (B + 4) / B, where the plain step moves B = passes x 4 x (3 + 2 x buffers) bytes
  per element (its twin's traffic: g read, p and each state buffer read and written, per
  pass): SGD 16/12 = 1.33, SGD-momentum 24/20 = 1.20, Adam 32/28 = 1.14, AMSGrad 40/36,
  Lamb 60/56.  ``benches/guard_cost.py`` prints the same measurement variant by variant.
- ``1m``: Adam at 1M against torch's fused Adam (goal >= 1.45x).
- ``10m``: Adam at 10M against the memory-traffic twin (goal >= 0.95) and torch fused
  (goal >= 1x).
- ``many``: Adam on 200 MLP-shaped tensors (1.01M elements) as a list against torch fused
  (goal >= 3x).
- ``realistic``: Adam in a training loop's rhythm (NumPy work between steps): whole
  iterations on 1 thread over 2 threads (goal: 2 never slower).
- ``alloc``: bytes still allocated after 1000 steady-state steps, every case, cython and
  numba, FlatParams and a list of arrays (goal 0 per step); the worst case as the figure.
- ``import``: ``import fastopt`` in a fresh process (goal <= 0.15 s, numba not imported).
- ``numba``: the numba backend in a fresh process with a warm cache: build + first step
  (1k, a list), numba's own import timed apart (goal < 0.7 s without the import), for Adam
  (median of 5) and for every case (median of 3 each; the slowest as the figure); the
  import of numba reported on its own row.

Not measured here: "results bitwise as before" is the tests' (``pytest tests``: every
backend held to the reference bitwise).

On a shared machine: ``--repeat 3`` reports the median of three runs of each figure
(``import``, ``numba`` and ``alloc`` take their own medians in one run),
``--wait-quiet 120`` waits (up to 120 s) for the CPUs to be idle before each run,
``--threads N`` sets fastopt's and torch's thread counts (default: their own defaults),
``--case Adam SGD`` narrows the per-case figures and ``--budget S`` scales every figure's
timing (default 1; 0.2 for a quick check).  One run of everything takes about 7 minutes on
2 cores.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import tracemalloc
from typing import Any, Callable

import numpy as np

import fastopt
from fastopt._bench import cases, peers, timing, workloads
from fastopt._bench.report import format_size, format_time, machine_line

ADAM = cases.CASES_BY_ID["Adam"]
BACKENDS = ("cython", "numba")
NUMPY = "numpy-inplace"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastopt.__file__)))

#: the cases the per-case figures run (``--case`` narrows them)
SELECTED: list[cases.Case] = cases.available_cases()

# target -> goal, judge (a function of the median, or None), fmt, [(value, detail, verdict)]
FIGURES: dict[str, dict] = {}
ORDER: list[str] = []


def report(target: str, value: float, goal: str, ok: Callable[[float], bool] | bool | None,
           fmt: str, detail: str = "") -> None:
    """One run's value of a figure.  ``ok``: a function of the value (applied to the median
    of the runs), or this run's own verdict (a bool: the table takes the verdict of the
    median run), or None (reported, no goal)."""
    if target not in FIGURES:
        FIGURES[target] = dict(goal=goal, judge=ok if callable(ok) else None, fmt=fmt, runs=[])
        ORDER.append(target)
    verdict = ok(value) if callable(ok) else ok
    FIGURES[target]["runs"].append((value, detail, verdict))
    met = {True: "met", False: "NOT MET", None: "reported"}[verdict]
    print(f"  {target}: {fmt.format(value)} {detail} (goal {goal}: {met})", file=sys.stderr)


def _ms(t: float) -> str:
    return f"{t * 1e3:.2f} ms"


def _us(t: float) -> str:
    return f"{t * 1e6:.2f} us"


def case_steps(case: cases.Case, impls, n: int, pg, **kwargs: Any) -> dict[str, Callable]:
    """Step functions of ``impls`` for ``case`` on float32 ``pg`` of ``n`` elements, leaving
    out those that can't run here (no torch, no hand-written NumPy, ...)."""
    steps = {}
    for impl in impls:
        try:
            steps[impl] = peers.make_step(case, impl, "float32", [(n,)], params_grads=pg,
                                          **kwargs)
        except peers.Unavailable:
            pass
    return steps


def flat_peers(n: int, impls, budget: float) -> dict[str, float]:
    pg = workloads.data("float32", [(n,)])
    return timing.measure(case_steps(ADAM, impls, n, pg), budget=budget, min_rounds=5)


# ---- every case at 1k ----------------------------------------------------------------


def target_small(budget: float) -> None:
    torch = peers.import_torch()
    for case in SELECTED:
        pg = workloads.data("float32", [(1_000,)])
        fused = ("torch-fused",) if torch is not None and "fused" in case.torch_impls else ()
        steps = case_steps(case, BACKENDS + (NUMPY,) + fused, 1_000, pg)
        samples = timing.measure_samples(steps, budget=budget / 2, min_rounds=5)
        t = {k: statistics.median(v) for k, v in samples.items()}
        labels = {NUMPY: "NumPy in-place", "torch-fused": "torch fused"}
        for b in BACKENDS:
            detail = "; ".join([f"fastest sample {_us(min(samples[b]))}"] + [
                f"{labels[k]} {_us(t[k])} ({t[k] / t[b]:.1f}x)" for k in labels if k in t])
            detail = f"[{detail}]"
            if b == "cython":
                report(f"1k, FlatParams: whole opt.step() ({case.id}, cython)", t[b] * 1e6,
                       "<= 2.5 us", lambda v: v <= 2.5, "{:.2f} us", detail)
            else:
                report(f"1k, FlatParams: whole opt.step() ({case.id}, {b})", t[b] * 1e6,
                       "faster than NumPy in-place (timed beside it)",
                       t[b] < t[NUMPY] if NUMPY in t else None, "{:.2f} us", detail)


# ---- every case and size against hand-written NumPy ------------------------------------

#: rounds (at least, at most) per size: large steps need fewer samples for a stable median
ROUNDS = {1_000_000: (5, 30), 10_000_000: (3, 7)}


def target_vs_numpy(budget: float) -> None:
    for case in SELECTED:
        speedup: dict[str, dict[int, float]] = {b: {} for b in BACKENDS}
        times: dict[int, float] = {}
        for n in workloads.SIZES:
            pg = workloads.data("float32", [(n,)])
            steps = case_steps(case, BACKENDS + (NUMPY,), n, pg)
            if NUMPY not in steps:
                break
            lo, hi = ROUNDS.get(n, (5, 1000))
            t = timing.measure(steps, budget=budget / 4, min_rounds=lo, max_rounds=hi)
            del steps, pg
            times[n] = t[NUMPY]
            for b in BACKENDS:
                speedup[b][n] = t[NUMPY] / t[b]
        for b in BACKENDS:
            name = (f"vs hand-written NumPy in-place, FlatParams 1e3-1e7 ({case.id}, {b}): "
                    f"speedup at the worst size")
            if not speedup[b]:
                report(name, float("nan"), "> 1 at every size", None, "{}",
                       "[no hand-written NumPy peer]")
                continue
            worst = min(speedup[b], key=speedup[b].get)
            sizes = ", ".join(f"{format_size(n)} {r:.2f}x" for n, r in speedup[b].items())
            report(name, speedup[b][worst], "> 1 at every size", lambda v: v > 1, "{:.2f}x",
                   f"[{sizes}; worst {format_size(worst)}, NumPy there "
                   f"{format_time(times[worst])}]")


# ---- the guarded step ----------------------------------------------------------------

GUARDS: dict[str, dict[str, Any]] = {
    "plain": {}, "max_grad_norm=1.0": dict(max_grad_norm=1.0),
    'nonfinite="skip"': dict(nonfinite="skip"),
    "both": dict(max_grad_norm=1.0, nonfinite="skip")}
GUARD_GOAL = 1.15


def traffic_bytes(case: cases.Case, itemsize: int = 4) -> int:
    """Bytes per element a plain step of ``case`` moves at least: its memory-traffic twin's,
    per pass g read, p read and written, each state buffer read and written."""
    return case.passes * itemsize * (3 + 2 * case.twin_buffers)


def guard_floor(case: cases.Case, itemsize: int = 4) -> float:
    """The guarded step's time over the plain step's when the pre-pass reads the gradient
    once more at the speed of memory and the plain step runs at the speed of memory."""
    b = traffic_bytes(case, itemsize)
    return (b + itemsize) / b


def guard_limit(case: cases.Case) -> float:
    """The goal: 1.15x, or 5% above the floor where the floor itself is above 1.15."""
    floor = guard_floor(case)
    return GUARD_GOAL if floor <= GUARD_GOAL else floor * 1.05


def guard_times(case: cases.Case, n: int = 10_000_000, backend: str = "cython",
                rounds: int = 30, budget: float = 0.0, twin: bool = True) -> dict[str, float]:
    """Median seconds per step of the plain step and each guarded variant (and the twin),
    float32, FlatParams, stepped round-robin in one process: 5 warm-up steps each, then at
    least ``rounds`` rounds (and ``budget`` seconds per variant)."""
    pg = workloads.data("float32", [(n,)])
    steps = {}
    for name, kw in GUARDS.items():
        variant = dataclasses.replace(case, kwargs={**case.kwargs, **kw})
        steps[name] = peers.make_step(variant, backend, "float32", [(n,)], params_grads=pg)
    if twin:
        steps["twin"] = peers.make_step(case, peers.TWIN, "float32", [(n,)], params_grads=pg)
    return timing.measure(steps, budget=budget, min_rounds=rounds, warmup=5)


def target_guard(budget: float) -> None:
    for case in SELECTED:
        t = guard_times(case, rounds=max(10, round(30 * budget)))
        floor, limit = guard_floor(case), guard_limit(case)
        ratios = {k: t[k] / t["plain"] for k in GUARDS if k != "plain"}
        b = traffic_bytes(case)
        each = ", ".join(f"{k} {r:.3f} ({(r / floor - 1) * 100:+.0f}% vs floor)"
                         for k, r in ratios.items())
        report(f"guarded step, 10M, FlatParams ({case.id}, cython): worst of max_grad_norm / "
               f"nonfinite=skip / both, time over plain", max(ratios.values()),
               f"<= {GUARD_GOAL}, or <= floor x 1.05 where the floor is above {GUARD_GOAL}",
               lambda v, limit=limit: v <= limit, "{:.3f}",
               f"[{each}; floor ({b}+4)/{b} B = {floor:.3f}, limit {limit:.3f}; "
               f"plain {_ms(t['plain'])} = {t['twin'] / t['plain']:.2f} of the twin]")


# ---- Adam against torch and the twin ----------------------------------------------------


def target_1m(budget: float) -> None:
    t = flat_peers(1_000_000, BACKENDS + ("torch-fused", "twin"), budget)
    for b in BACKENDS:
        report(f"1M: torch fused / fastopt (Adam, {b})", t["torch-fused"] / t[b], ">= 1.45x",
               lambda v: v >= 1.45, "{:.2f}x",
               f"[{_ms(t[b])} vs {_ms(t['torch-fused'])}; twin {_ms(t['twin'])}]")


def target_10m(budget: float) -> None:
    t = flat_peers(10_000_000, BACKENDS + ("torch-fused", "twin"), budget)
    for b in BACKENDS:
        report(f"10M: twin / fastopt (Adam, {b})", t["twin"] / t[b], ">= 0.95",
               lambda v: v >= 0.95, "{:.2f}", f"[{_ms(t[b])} vs twin {_ms(t['twin'])}]")
        report(f"10M: torch fused / fastopt (Adam, {b})", t["torch-fused"] / t[b], ">= 1",
               lambda v: v >= 1, "{:.2f}x", f"[torch fused {_ms(t['torch-fused'])}]")


def target_many(budget: float) -> None:
    shapes = workloads.mlp_shapes(200, 1_000_000)
    pg = workloads.data("float32", shapes)
    impls = BACKENDS + ("torch-fused", "torch-foreach", "twin")
    steps = {i: peers.make_step(ADAM, i, "float32", shapes, flat=False, params_grads=pg)
             for i in impls}
    t = timing.measure(steps, budget=budget, min_rounds=5)
    for b in BACKENDS:
        report(f"200 tensors as a list (1.01M elements): torch fused / fastopt (Adam, {b})",
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


def _alloc_retained(case: cases.Case, backend: str, form: str) -> tuple[int, int]:
    """tracemalloc over 1000 steps after 300 warm-up steps (so the step counter is already
    a heap int): the bytes that stay allocated, and the peak on the way."""
    rng = np.random.default_rng(0)
    cls = cases.fastopt_class(case)
    if form == "flat":
        fp = fastopt.flatten({"w": rng.standard_normal(10_000, dtype=np.float32)})
        fp.grads["w"][...] = rng.standard_normal(10_000, dtype=np.float32)
        step = cls(fp, backend=backend, **case.kwargs).step
    else:
        ps = [rng.standard_normal(s, dtype=np.float32) for s in [(100, 50), (50,)] * 4]
        gs = [np.ones_like(p) for p in ps]
        opt = cls(ps, backend=backend, **case.kwargs)

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
    return after - before, peak - before


def target_alloc(budget: float = 0) -> None:
    for b in BACKENDS:
        for form in ("flat", "list"):
            got = {case.id: _alloc_retained(case, b, form) for case in SELECTED}
            worst = max(got, key=lambda k: got[k][0])
            clean = sum(1 for r, _ in got.values() if r <= 64)
            # A few dozen bytes are this loop's own ints (the loop index, the step count).
            report(f"allocation, steady state ({b}, {form}): bytes retained after 1000 "
                   f"steps, worst case", got[worst][0],
                   "0 per step (<= 64 B: the loop's own ints)", lambda v: v <= 64, "{:.0f} B",
                   f"[worst {worst} (peak above start {got[worst][1]} B); {clean} of "
                   f"{len(got)} cases <= 64 B; largest peak "
                   f"{max(p for _, p in got.values())} B]")


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


NUMBA_FIRST = """\
import time, numpy as np, fastopt
p = [np.zeros(1000, np.float32)]; g = [np.ones(1000, np.float32)]
t0 = time.perf_counter(); import numba; t1 = time.perf_counter()
opt = fastopt.{cls}(p, backend='numba', **{kwargs!r}); opt.step(g)
t2 = time.perf_counter(); import sys
print(t1 - t0, t2 - t1, 'scipy' in sys.modules)"""
NUMBA_GOAL = 0.7


def numba_first(case: cases.Case, repeats: int) -> tuple[float, float, bool]:
    """Median seconds of ``import numba``, and of the build + first step after it, in fresh
    processes after ``import numpy, fastopt`` (one run first fills the caches); and whether
    numba imported scipy."""
    code = NUMBA_FIRST.format(cls=case.cls, kwargs=case.kwargs)
    _python(code)                                  # fill the caches
    runs = [_python(code).split() for _ in range(repeats)]
    imp, first = (statistics.median(float(r[i]) for r in runs) for i in range(2))
    return imp, first, runs[0][2] == "True"


def target_numba_first(budget: float = 0) -> None:
    imp, first, scipy = numba_first(ADAM, 5)
    report("numba backend: build + first step (Adam, 1k list) in a fresh process, warm "
           "cache, numba's import excluded (median of 5)", first, f"< {NUMBA_GOAL} s",
           lambda v: v < NUMBA_GOAL, "{:.2f} s",
           f"[import numba {imp:.2f} s before it: {imp + first:.2f} s in all"
           f"{'; numba imported scipy' if scipy else ''}]")
    report("import numba in a fresh process, after numpy and fastopt (median of 5)", imp,
           "reported apart (not in the build + first step)", None, "{:.2f} s")
    got = {ADAM.id: first} if ADAM in SELECTED else {}
    imports = [imp]
    for case in SELECTED:
        if case.id not in got:
            imp, got[case.id], _ = numba_first(case, 3)
            imports.append(imp)
    worst = max(got, key=got.get)
    report("numba backend: build + first step in a fresh process, warm cache, numba's import "
           "excluded, every case (median of 3 each): the slowest", got[worst],
           f"< {NUMBA_GOAL} s", lambda v: v < NUMBA_GOAL, "{:.2f} s",
           f"[{worst}; " + ", ".join(f"{k} {v:.2f}" for k, v in got.items())
           + f" s; import numba {min(imports):.2f}-{max(imports):.2f} s]")


TARGETS = {"small": target_small, "vs-numpy": target_vs_numpy, "guard": target_guard,
           "1m": target_1m, "10m": target_10m, "many": target_many,
           "realistic": target_realistic, "alloc": target_alloc, "import": target_import,
           "numba": target_numba_first}
#: figures that take their own medians within one run (``--repeat`` doesn't rerun them)
ONCE = ("import", "numba", "alloc")


def select_cases(names: list[str] | None) -> list[cases.Case]:
    have = cases.available_cases()
    if not names:
        return have
    by_lower = {c.id.lower(): c for c in have}
    out = []
    for name in (n.strip() for arg in names for n in arg.split(",") if n.strip()):
        if name.lower() not in by_lower:
            raise SystemExit(f"targets.py: unknown case {name!r}; choose from "
                             f"{', '.join(c.id for c in have)}")
        out.append(by_lower[name.lower()])
    return out


def table() -> str:
    lines = ["| target | measured | goal | met |", "|---|---|---|---|"]
    for target in ORDER:
        f = FIGURES[target]
        values = [v for v, _, _ in f["runs"]]
        med = statistics.median(values)
        # the run nearest the median (the median run itself for an odd count)
        _, detail, verdict = min(f["runs"], key=lambda r: abs(r[0] - med))
        if f["judge"] is not None:
            verdict = f["judge"](med)
        spread = (f" (runs: {', '.join(f['fmt'].format(v) for v in values)})"
                  if len(values) > 1 else "")
        met = {True: "yes", False: "**no**", None: "-"}[verdict]
        lines.append(f"| {target} | {f['fmt'].format(med)}{spread} {detail} | {f['goal']} | "
                     f"{met} |")
    return "\n".join(lines)


def main() -> None:
    global SELECTED
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, default=1.0,
                    help="scales every figure's timing: seconds of timing per peer for the "
                         "Adam figures (default 1; 0.2 for a quick check)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per figure; the median is kept")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="before each run, wait up to S seconds for idle CPUs")
    ap.add_argument("--threads", type=int, default=None,
                    help="fastopt's and torch's thread count (default: theirs)")
    ap.add_argument("--only", nargs="+", choices=list(TARGETS), help="some figures only")
    ap.add_argument("--case", nargs="+", metavar="ID",
                    help="the per-case figures (small, vs-numpy, guard, alloc, numba) for "
                         f"these cases only: {', '.join(c.id for c in cases.CASES)}")
    args = ap.parse_args()
    SELECTED = select_cases(args.case)
    if args.threads is not None:
        fastopt.set_num_threads(args.threads)
        torch = peers.import_torch()
        if torch is not None:
            torch.set_num_threads(args.threads)
    machine = machine_line(True)
    print(machine, file=sys.stderr)
    for name in args.only or TARGETS:
        for _ in range(args.repeat if name not in ONCE else 1):
            if args.wait_quiet:
                timing.wait_quiet(args.wait_quiet)
            TARGETS[name](args.budget)
            if args.threads is not None:
                fastopt.set_num_threads(args.threads)
    print(f"<!-- {machine}; {' '.join(sys.argv[1:])} -->")
    print(table())


if __name__ == "__main__":
    main()
