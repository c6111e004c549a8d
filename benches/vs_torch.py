"""One optimizer step of fastopt against torch.optim, case by case, on the shapes the
optimizers are used on (a matrix, a vector, a least-squares problem):

    python benches/vs_torch.py [--case NAME ...] [--budget 2.0] [--small]

For each case, the peers step the same parameters and gradients, interleaved in rounds in
one process (fastopt._bench.timing), so noise on a shared machine hits them all alike;
each one's median seconds per step, and each torch peer's time over it (above 1: fastopt
is faster).  ``--small``: tiny shapes and a short budget (the smoke test).  Without torch,
only fastopt's peers run.  Markdown on stdout.  What one timed call is depends on the
case's kind:

- ``step`` (Adafactor): one ``step()`` with the gradients already in place (torch's
  ``.grad``, fastopt's FlatParams ``.grads``); fastopt's cython, numba and numpy backends
  against torch.optim with foreach=False and foreach=True.  fastopt's per-tensor rules run
  on one thread; torch uses its own thread count (printed).
- ``muon``: one ``step()`` likewise, against torch.optim.Muon as shipped (its
  Newton-Schulz iterate in bfloat16) and against the same torch code with that one cast
  removed (the iteration in float32, fastopt's algorithm).  The matmuls are most of the
  step: fastopt's run on NumPy's BLAS, torch's on its own, each with its default threads.
- ``lbfgs``: the weights put back to the same start, a fresh optimizer, and one
  ``step(closure)`` (up to ``max_iter`` iterations; the constructor is microseconds of
  it), so every call does the same work.  The closure is each library's own: NumPy
  matmuls returning ``(loss, grads)`` for fastopt, torch ops and ``backward()`` for torch,
  on the same data.  "closure only" rows time one evaluation at the start; the lines under
  the table give, timed inside the steps (medians), the closure's evaluations per step and
  their time, and the rest of the step: the optimizer's own.

A case is a row of CASES: add one there for another optimizer (a new kind needs a peer
factory in KINDS).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import fastopt
from fastopt._bench.timing import measure


@dataclass(frozen=True)
class Case:
    name: str                            # the id --case takes
    cls: str                             # fastopt.<cls> and torch.optim.<cls>
    shape: tuple[int, ...]               # the parameters' (lbfgs: the design matrix's)
    small: tuple[int, ...]               # the shape of --small
    kwargs: dict[str, Any] = field(default_factory=dict)
    dtype: Any = np.float32
    torch_impls: tuple[str, ...] = ("forloop", "foreach")
    kind: str = "step"                   # the peer factory: a key of KINDS
    timing: dict[str, Any] = field(default_factory=dict)   # measure()'s options


@dataclass
class Peers:
    steps: dict[str, Callable[[], Any]]  # timed together, interleaved
    units: dict[str, str] = field(default_factory=dict)   # ratios only within a unit
    notes: Callable[[dict[str, float]], list[str]] = lambda times: []


#: Adafactor's step grows RMS(p) by up to lr per step under one fixed gradient; decay by
#: lr*weight_decay = lr keeps the parameters finite over the many timed steps.
_ADAFACTOR = dict(lr=1e-2, weight_decay=1.0)
#: a Muon step at 10M is seconds (five Newton-Schulz iterations of 2441^2 x 4096 matmuls):
#: fewer calls than the default, still a median of three interleaved rounds
_SLOW = dict(min_rounds=3, warmup=1)
#: torch's defaults but for the history: 10 pairs, L-BFGS's usual size (SciPy's default);
#: torch's 100 would never fill in the 20 iterations of one step from a fresh start
_LBFGS = dict(max_iter=20, history_size=10)

CASES = (
    Case("Adafactor 4096x2441", "Adafactor", (4096, 2441), (64, 39), _ADAFACTOR),
    Case("Adafactor 1k vector", "Adafactor", (1000,), (100,), _ADAFACTOR),
    Case("Muon 4096x2441", "Muon", (4096, 2441), (64, 39), kind="muon", timing=_SLOW),
    Case("LBFGS strong_wolfe 20000x500", "LBFGS", (20000, 500), (200, 10),
         dict(_LBFGS, line_search_fn="strong_wolfe"), np.float64, kind="lbfgs"),
    Case("LBFGS 20000x500", "LBFGS", (20000, 500), (200, 10), _LBFGS, np.float64,
         kind="lbfgs"),
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


def step_peers(case: Case, torch: Any, small: bool) -> Peers:
    p, g = _data(case, small)
    steps = {f"fastopt {b}": fastopt_peer(case, b, p, g) for b in BACKENDS}
    for impl in case.torch_impls if torch is not None else ():
        t = torch.tensor(p.copy(), requires_grad=True)
        t.grad = torch.tensor(g)
        steps[f"torch {impl}"] = getattr(torch.optim, case.cls)(
            [t], foreach=impl == "foreach", **case.kwargs).step
    return Peers(steps)


def muon_peers(case: Case, torch: Any, small: bool) -> Peers:
    p, g = _data(case, small)
    steps = {f"fastopt {b}": fastopt_peer(case, b, p, g) for b in BACKENDS}
    if torch is not None:
        import torch.optim._muon as muon
        shipped = muon._zeropower_via_newtonschulz

        def float32_ns(grad: Any, *args: Any) -> Any:
            # torch's own function, its one cast (grad.bfloat16()) made a plain copy
            torch.Tensor.bfloat16 = torch.Tensor.clone
            try:
                out = shipped(grad, *args)
            finally:
                del torch.Tensor.bfloat16
            if out.dtype != grad.dtype:
                raise RuntimeError("torch's Newton-Schulz no longer casts with "
                                   "Tensor.bfloat16(): update float32_ns")
            return out

        def without_cast(step: Callable[[], Any]) -> Callable[[], Any]:
            def run() -> Any:
                muon._zeropower_via_newtonschulz = float32_ns
                try:
                    return step()
                finally:
                    muon._zeropower_via_newtonschulz = shipped
            return run

        for name, wrap in (("torch bfloat16 NS", lambda s: s), ("torch float32 NS", without_cast)):
            t = torch.tensor(p.copy(), requires_grad=True)
            t.grad = torch.tensor(g)
            steps[name] = wrap(torch.optim.Muon([t], **case.kwargs).step)
    return Peers(steps)


def lbfgs_peers(case: Case, torch: Any, small: bool) -> Peers:
    rng = np.random.default_rng(0)
    n, d = case.small if small else case.shape
    # columns scaled from 1 to 10 (X^T X's condition number in the hundreds): no step
    # stops before its max_iter iterations, which a well-conditioned problem would
    x = (rng.standard_normal((n, d)) * np.logspace(0, 1, d)).astype(case.dtype)
    y = (x @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)).astype(case.dtype)
    w0 = np.zeros(d, case.dtype)
    w = w0.copy()

    def closure() -> tuple[float, list[np.ndarray]]:
        err = x @ w - y
        return float(err @ err) / n, [(2.0 / n) * (x.T @ err)]

    def fastopt_step(counted: Callable[[], Any]) -> Any:
        w[...] = w0
        return fastopt.LBFGS([w], **case.kwargs).step(counted)

    def fastopt_closure() -> Any:
        w[...] = w0
        return closure()

    inside = {"fastopt": _Inside(closure, fastopt_step)}
    steps = {"fastopt": inside["fastopt"].step, "fastopt closure only": fastopt_closure}
    if torch is not None:
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)      # the same data, not a copy
        tw = torch.zeros(d, dtype=tx.dtype, requires_grad=True)

        def tclosure() -> Any:
            tw.grad = None                  # optimizer.zero_grad()
            loss = (tx @ tw - ty).square().mean()
            loss.backward()
            return loss

        def torch_step(counted: Callable[[], Any]) -> Any:
            with torch.no_grad():
                tw.zero_()
            return torch.optim.LBFGS([tw], **case.kwargs).step(counted)

        def torch_closure() -> Any:
            with torch.no_grad():
                tw.zero_()
            return tclosure()

        inside["torch"] = _Inside(tclosure, torch_step)
        steps.update({"torch": inside["torch"].step, "torch closure only": torch_closure})

    def notes(times: dict[str, float]) -> list[str]:
        return [f"{lib}: {c.evals} closure evaluations per step taking "
                f"{_fmt(statistics.median(c.closure_s))}; the rest of the step (the "
                f"optimizer's own) {_fmt(statistics.median(c.own_s))}"
                for lib, c in inside.items()]
    return Peers(steps, {k: "closure" for k in steps if k.endswith("closure only")}, notes)


class _Inside:
    """A step through ``run(closure)``, timing the closure's calls inside it: per step,
    their count and seconds, and the step's other seconds (the optimizer's own), measured
    in the same call rather than as a difference of medians, which noise swamps."""

    def __init__(self, closure: Callable[[], Any], run: Callable[[Callable[[], Any]], Any]):
        self.closure, self.run = closure, run
        self.evals, self.closure_s, self.own_s = 0, [], []

    def step(self) -> Any:
        self.evals, self._in = 0, 0.0
        t0 = time.perf_counter()
        out = self.run(self._call)
        self.own_s.append(time.perf_counter() - t0 - self._in)
        self.closure_s.append(self._in)
        return out

    def _call(self) -> Any:
        self.evals += 1
        t0 = time.perf_counter()
        try:
            return self.closure()
        finally:
            self._in += time.perf_counter() - t0


KINDS = {"step": step_peers, "muon": muon_peers, "lbfgs": lbfgs_peers}


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
        peers = KINDS[case.kind](case, torch, args.small)
        timing = {"min_rounds": 5, **case.timing, **({"min_rounds": 3} if args.small else {})}
        times = measure(peers.steps, budget=budget, **timing)
        unit = lambda name: peers.units.get(name, "step")     # noqa: E731
        torch_names = [n for n in times if n.startswith("torch")]
        shape = "x".join(map(str, case.small if args.small else case.shape))
        print(f"### {case.name} ({shape}, {np.dtype(case.dtype).name})\n")
        print("| peer | median | " + " | ".join(f"{n} / peer" for n in torch_names) + " |")
        print("|---|---:|" + "---:|" * len(torch_names))
        for name, t in times.items():
            ratios = " | ".join(f"{times[n] / t:.2f}x" if unit(n) == unit(name) else ""
                                for n in torch_names)
            print(f"| {name} | {_fmt(t)} | {ratios} |")
        print("".join(f"\n{line}\n" for line in peers.notes(times)))


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us"


if __name__ == "__main__":
    main()
