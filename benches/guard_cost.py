"""Cost of the guarded step (max_grad_norm, nonfinite="skip") against a plain step, for
every optimizer: the measurement of ``python benches/targets.py --only guard``, printed
variant by variant.

    python benches/guard_cost.py [--optimizer Adam SGD ...] [--backend cython|numba]
                                 [--size 1e7] [--rounds 30]

For each case (default: all; ids as in ``fastopt._bench.cases.CASES``), float32, one
FlatParams buffer of ``--size`` elements (default 10M) with the gradient in place: the
plain step, ``max_grad_norm=1.0``, ``nonfinite="skip"``, both, and the memory-traffic twin,
stepped round-robin in one process (5 warm-up steps each, then ``--rounds`` rounds, default
30); each one's median and its time over the plain step, beside the floor: the plain
step's traffic B bytes per element (its twin's) and one more read of the gradient,
(B + 4) / B, and the goal (1.15x, or 5% above the floor where the floor is above 1.15).
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import targets  # noqa: E402
from fastopt._bench.cli import parse_size  # noqa: E402
from fastopt._bench.report import format_size, machine_line  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--optimizer", nargs="+", metavar="ID",
                    help="cases (default all): "
                         + ", ".join(c.id for c in targets.cases.available_cases()))
    ap.add_argument("--backend", choices=targets.BACKENDS, default="cython")
    ap.add_argument("--size", type=parse_size, default=10_000_000,
                    help="elements (default 1e7)")
    ap.add_argument("--rounds", type=int, default=30, help="measured rounds (default 30)")
    args = ap.parse_args()
    print(f"{machine_line(False)}; {args.backend}, float32, FlatParams, "
          f"{format_size(args.size)} elements, {args.rounds} rounds")
    for case in targets.select_cases(args.optimizer):
        t = targets.guard_times(case, args.size, args.backend, args.rounds)
        b, floor, limit = (targets.traffic_bytes(case), targets.guard_floor(case),
                           targets.guard_limit(case))
        print(f"\n{case.id}: {case.twin_buffers} state buffer(s), {case.passes} pass(es), "
              f"{b} B/element; floor ({b}+4)/{b} = {floor:.3f}, goal <= {limit:.3f}")
        for k, m in t.items():
            r = m / t["plain"]
            verdict = ("" if k in ("plain", "twin")
                       else f"  {(r / floor - 1) * 100:+4.0f}% vs floor  "
                            f"{'met' if r <= limit else 'NOT MET'}")
            print(f"  {k:20s} median {m * 1e3:7.2f} ms  {r:5.3f}x plain{verdict}")


if __name__ == "__main__":
    main()
