"""One optimizer step of fastopt against torch.optim, case by case, on the shapes the
optimizers are used on (a matrix, a vector):

    python benches/vs_torch.py [--case NAME ...] [--budget 2.0] [--small]

For each case, the peers (fastopt's cython, numba and numpy backends; torch.optim with
foreach=False and foreach=True) step the same parameters and gradients, interleaved in
rounds in one process (fastopt._bench.timing), so noise on a shared machine hits them all
alike; each one's median seconds per step, and torch's time over it (above 1: fastopt is
faster).  The gradients are already in place (torch's ``.grad``, fastopt's FlatParams
``.grads``).  fastopt's per-tensor rules run on one thread; torch uses its own thread count
(printed).  ``--small``: tiny shapes and a short budget (the smoke test).  Without torch,
only fastopt's peers run.  Markdown on stdout.

A case is a row of CASES: add one there for another optimizer.
"""
from __future__ import annotations

import argparse
import os
import platform
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import fastopt
from fastopt._bench.timing import measure


@dataclass(frozen=True)
class Case:
    name: str                            # the id --case takes
    cls: str                             # fastopt.<cls> and torch.optim.<cls>
    shape: tuple[int, ...]
    small: tuple[int, ...]               # the shape of --small
    kwargs: dict[str, Any] = field(default_factory=dict)
    dtype: Any = np.float32
    torch_impls: tuple[str, ...] = ("forloop", "foreach")


#: Adafactor's step grows RMS(p) by up to lr per step under one fixed gradient; decay by
#: lr*weight_decay = lr keeps the parameters finite over the many timed steps.
_ADAFACTOR = dict(lr=1e-2, weight_decay=1.0)

CASES = (
    Case("Adafactor 4096x2441", "Adafactor", (4096, 2441), (64, 39), _ADAFACTOR),
    Case("Adafactor 1k vector", "Adafactor", (1000,), (100,), _ADAFACTOR),
)

BACKENDS = ("cython", "numba", "numpy")


def _data(case: Case, small: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    shape = case.small if small else case.shape
    return (rng.standard_normal(shape).astype(case.dtype),
            rng.standard_normal(shape).astype(case.dtype))


def fastopt_peer(case: Case, backend: str, p: np.ndarray, g: np.ndarray) -> Callable[[], Any]:
    params = fastopt.flatten({"w": p.copy()})
    params.grads["w"][...] = g
    return getattr(fastopt, case.cls)(params, backend=backend, **case.kwargs).step


def torch_peer(torch: Any, case: Case, impl: str, p: np.ndarray,
               g: np.ndarray) -> Callable[[], Any]:
    t = torch.tensor(p.copy(), requires_grad=True)
    t.grad = torch.tensor(g)
    return getattr(torch.optim, case.cls)([t], foreach=impl == "foreach", **case.kwargs).step


def peers(case: Case, torch: Any, small: bool) -> dict[str, Callable[[], Any]]:
    p, g = _data(case, small)
    steps = {f"fastopt {b}": fastopt_peer(case, b, p, g) for b in BACKENDS}
    if torch is not None:
        for impl in case.torch_impls:
            steps[f"torch {impl}"] = torch_peer(torch, case, impl, p, g)
    return steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", nargs="+", metavar="NAME",
                    help="cases (default all): " + ", ".join(c.name for c in CASES))
    ap.add_argument("--budget", type=float, default=2.0,
                    help="seconds of timing per peer and case (default 2)")
    ap.add_argument("--small", action="store_true", help="tiny shapes, short budget")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    cases = [c for c in CASES if args.case is None or c.name in args.case]
    budget = 0.05 if args.small else args.budget
    print(f"fastopt {fastopt.__version__}, NumPy {np.__version__}, "
          + (f"torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch
             else "torch not installed")
          + f"; {platform.machine()}, {os.cpu_count()} CPUs\n")
    for case in cases:
        steps = peers(case, torch, args.small)
        times = measure(steps, budget=budget, min_rounds=3 if args.small else 5)
        torch_names = [n for n in times if n.startswith("torch")]
        shape = "x".join(map(str, case.small if args.small else case.shape))
        print(f"### {case.name} ({shape}, {np.dtype(case.dtype).name})\n")
        print("| peer | median | " + " | ".join(f"{n} / peer" for n in torch_names) + " |")
        print("|---|---:|" + "---:|" * len(torch_names))
        for name, t in times.items():
            ratios = " | ".join(f"{times[n] / t:.2f}x" for n in torch_names)
            print(f"| {name} | {_fmt(t)} | {ratios} |")
        print()


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us"


if __name__ == "__main__":
    main()
