"""Plot time per step against size for one optimizer: fastopt (cython, numba), hand-written
NumPy (naive, in-place), torch.optim (fused, foreach) and the memory-traffic twin, all
measured in the same run (interleaved rounds, medians).  Needs matplotlib (the ``plot``
extra).

    python benches/plot.py [--optimizer Adam] [--dtype float32] [--out benches/adam_float32.png]
                           [--budget 0.3] [--wait-quiet 60]
"""
from __future__ import annotations

import argparse
import os
import sys

from fastopt._bench import cases, cli, peers, report, timing, workloads

IMPLS = [  # (peer, label, style)
    ("cython", "fastopt (cython)", dict(color="C0", marker="o")),
    ("numba", "fastopt (numba)", dict(color="C1", marker="o")),
    ("numpy-naive", "NumPy, naive (allocates)", dict(color="C3", marker="s", ls="--")),
    ("numpy-inplace", "NumPy, in-place", dict(color="C2", marker="s", ls="--")),
    ("torch-fused", "torch.optim fused", dict(color="C4", marker="^", ls=":")),
    ("torch-foreach", "torch.optim foreach", dict(color="C5", marker="^", ls=":")),
    ("twin", "memory-traffic twin (floor)", dict(color="0.5", ls="-", lw=3, alpha=0.5)),
]
SIZES = [1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000]


def measure(case, dtype, sizes, budget, wait):
    results: dict[str, dict[int, float]] = {name: {} for name, _, _ in IMPLS}
    for i, n in enumerate(sizes):
        if wait:
            timing.wait_quiet(wait)
        print(f"[{i + 1}/{len(sizes)}] {case.id} {dtype} n={n:,}", file=sys.stderr)
        pg = workloads.data(dtype, [(n,)])
        steps = {}
        for name, _, _ in IMPLS:
            try:
                steps[name] = peers.make_step(case, name, dtype, [(n,)], params_grads=pg)
            except peers.Unavailable:
                pass
        t = timing.measure(steps, budget=budget, min_rounds=3 if n >= workloads.LARGE else 5)
        for name, v in t.items():
            results[name][n] = v
    return results


def plot(results, case, dtype, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.6))
    for name, label, style in IMPLS:
        r = results.get(name)
        if not r:
            continue
        xs = sorted(r)
        ax.plot(xs, [r[x] for x in xs], label=label, ms=4, **style)
        ax2.plot(xs, [r[x] / x * 1e9 for x in xs], label=label, ms=4, **style)
    ax.set(xscale="log", yscale="log", xlabel="parameters (elements)",
           ylabel="time per step (s)", title=f"{case.id} {dtype}: time per step")
    ax2.set(xscale="log", yscale="log", xlabel="parameters (elements)",
            ylabel="ns per element", title="per element (lower is better)")
    for a in (ax, ax2):
        a.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.text(0.5, 0.005, report.machine_line(True), ha="center", fontsize=7, color="0.3")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out, dpi=90)
    print(f"wrote {out} ({os.path.getsize(out) // 1024} KB)", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--optimizer", default="Adam", choices=list(cases.CASES_BY_ID))
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--sizes", nargs="+", type=cli.parse_size, default=SIZES)
    ap.add_argument("--budget", type=float, default=0.3, help="seconds per peer per size")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="before each size, wait up to S seconds for idle CPUs")
    ap.add_argument("--out", default=None, help="default: benches/<optimizer>_<dtype>.png")
    args = ap.parse_args()
    case = cases.CASES_BY_ID[args.optimizer]
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                   f"{case.id.lower()}_{args.dtype}.png")
    results = measure(case, args.dtype, args.sizes, args.budget, args.wait_quiet)
    print(f"{'size':>10}  " + "  ".join(f"{name:>13}" for name, _, _ in IMPLS))
    for n in args.sizes:
        print(f"{n:>10,}  " + "  ".join(
            f"{report.format_time(results[name][n]):>13}" if n in results[name] else f"{'-':>13}"
            for name, _, _ in IMPLS))
    plot(results, case, args.dtype, out)


if __name__ == "__main__":
    main()
