"""Adam with its state in float32, bfloat16 and 8-bit blocks, beside its peers in one run:
each precision's memory-traffic twin (the same bytes moved, trivial math), torch's fused
Adam and, where installed, bitsandbytes' CPU ``Adam8bit``.  Interleaved rounds, medians.

    python benches/state_precision.py [--sizes 1e3 1e7] [--budget S] [--threads N]
                                      [--backend cython|numba] [--dtype float32|float64]

Prints a markdown table per size: time per step (ms, or us below 1e5 elements), bytes of state per parameter, each step's
time over its twin's and the speedup over fastopt's float32 Adam.  At 1e3 elements the
8-bit rows use ``min_8bit_size=0`` (the default threshold of 4096 would keep a 1k tensor in
float32).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import fastopt
from fastopt._bench import cases, peers, timing, workloads
from fastopt._bench.report import machine_line
from fastopt._bench.twin import Twin

PRECISIONS = ("full", "bfloat16", "8bit")


def _fastopt(n: int, precision: str, backend: str, pg, twin: bool = False):
    params, grads = pg
    flat = fastopt.flatten({"w": params[0].copy()})
    flat.grads["w"][...] = grads[0]
    kw = dict(state_precision=precision, min_8bit_size=0 if n < 4096 else 4096)
    opt = Twin(flat, 2, backend=backend, **kw) if twin else \
        fastopt.Adam(flat, lr=1e-3, backend=backend, **kw)
    return opt.step, opt.state_nbytes / n


def _bitsandbytes(pg):
    try:
        import bitsandbytes as bnb
        import torch
    except Exception:           # absent, or a build without CPU support
        return None
    params, grads = pg
    p = torch.nn.Parameter(torch.from_numpy(params[0].copy()))
    p.grad = torch.from_numpy(grads[0].copy())
    opt = bnb.optim.Adam8bit([p], lr=1e-3)
    opt.step()
    st = opt.state[p]
    nbytes = sum(v.numel() * v.element_size() for v in st.values() if torch.is_tensor(v)
                 and v.numel() > 256)      # (not the shared 256-value maps)
    return opt.step, nbytes / params[0].size


def measure(n: int, backend: str, dtype: str, budget: float) -> str:
    pg = workloads.data(dtype, [(n,)])
    steps, state_bytes = {}, {}
    for precision in PRECISIONS:
        for twin in (False, True):
            name = f"{precision}{' twin' if twin else ''}"
            steps[name], state_bytes[name] = _fastopt(n, precision, backend, pg, twin)
    if dtype == "float32":
        try:
            steps["torch fused"] = peers.make_step(cases.CASES_BY_ID["Adam"],
                                                   "torch-fused", dtype, [(n,)],
                                                   params_grads=pg)
            state_bytes["torch fused"] = 8.0
        except peers.Unavailable:
            pass
        bnb = _bitsandbytes(pg)
        if bnb is not None:
            steps["bitsandbytes Adam8bit"], state_bytes["bitsandbytes Adam8bit"] = bnb
    t = timing.measure(steps, budget=budget, min_rounds=7 if n >= 1_000_000 else 30,
                       warmup=3)
    lines = [f"### {n:.0e} elements, {dtype}, {backend}", "",
             f"| step | {'ms' if n >= 100_000 else 'us'} | state B/param | twin / step | "
             f"speedup over float32 |",
             "|---|---|---|---|---|"]
    for name in steps:
        twin = f"{name} twin"
        ratio = f"{t[twin] / t[name]:.2f}" if twin in t else ""
        shown = t[name] * (1e3 if n >= 100_000 else 1e6)
        lines.append(f"| {name} | {shown:.2f} | {state_bytes[name]:.2f} | {ratio} | "
                     f"{t['full'] / t[name]:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e3, 1e7])
    ap.add_argument("--budget", type=float, default=2.0, help="seconds of timing per step")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--backend", default="cython", choices=("cython", "numba"))
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = ap.parse_args()
    if args.threads is not None:
        fastopt.set_num_threads(args.threads)
        torch = peers.import_torch()
        if torch is not None:
            torch.set_num_threads(args.threads)
    print(f"<!-- {machine_line(True)}; {' '.join(sys.argv[1:])} -->")
    for n in args.sizes:
        print(measure(int(n), args.backend, args.dtype, args.budget))
        print()


if __name__ == "__main__":
    main()
