"""``python -m fastopt bench``: times every case's fastopt backends beside hand-written
in-place NumPy, torch.optim and the memory-traffic twin, and prints a table."""
from __future__ import annotations

import argparse
import sys

from .cases import CASES, Case, available_cases
from .peers import FASTOPT_BACKENDS, TWIN, Unavailable, import_torch, make_step
from .report import LEGEND, format_size, format_table, machine_line
from .timing import measure
from .workloads import LARGE, SIZES, data


def parse_size(text: str) -> int:
    """1000, 1e6, 1k, 10M."""
    t = text.strip().lower().replace("_", "")
    mult = {"k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9}.get(t[-1:], 1)
    if mult != 1:
        t = t[:-1]
    try:
        value = float(t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
    if value != int(value) or value < 1:
        raise argparse.ArgumentTypeError(f"a size must be a whole number >= 1: {text!r}")
    return int(value)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``bench`` on the ``python -m fastopt`` dispatcher."""
    p = subparsers.add_parser(
        "bench", help="time fastopt's optimizers against NumPy and torch on this machine",
        description="Time one optimizer step of fastopt's optimizers on this machine, "
                    "beside hand-written in-place NumPy, torch.optim (fused, else foreach) "
                    "when torch is installed, and the memory-traffic twin (a kernel with "
                    "the same memory traffic and no math: the physical floor).")
    p.add_argument("--quick", action="store_true",
                   help="short timings and sizes 1e3, 1e5 (unless --sizes)")
    p.add_argument("--optimizer", nargs="+", metavar="NAME", type=str.strip,
                   help=f"cases to run (default: all that fastopt has): "
                        f"{', '.join(c.id for c in CASES)}")
    p.add_argument("--sizes", nargs="+", type=parse_size, metavar="N",
                   help="parameter counts (default 1e3 1e5 1e6 1e7)")
    p.add_argument("--backend", nargs="+", choices=FASTOPT_BACKENDS,
                   default=["cython", "numba"], help="fastopt backends (default cython numba)")
    p.add_argument("--dtype", nargs="+", choices=("float32", "float64"), default=["float32"])
    p.add_argument("--threads", type=int, default=None,
                   help="fastopt.set_num_threads for the run (default: OpenMP's count)")
    p.add_argument("--no-torch", action="store_true", help="don't compare with torch")
    p.set_defaults(run=main)
    return p


class Progress:
    """A one-line progress bar on stderr (only where stderr is a terminal)."""

    def __init__(self, total: int, stream=None, width: int = 30):
        self.total, self.done, self.width = max(total, 1), 0, width
        self.stream = stream if stream is not None else sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.label = ""

    def show(self, label: str | None = None) -> None:
        if label is not None:
            self.label = label
        if not self.live:
            return
        filled = int(self.width * self.done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} {self.label[:40]:<40}")
        self.stream.flush()

    def advance(self) -> None:
        self.done += 1
        self.show()

    def close(self) -> None:
        if self.live:
            self.stream.write("\r" + " " * (self.width + 50) + "\r")
            self.stream.flush()


def _select_cases(names: list[str] | None) -> list[Case]:
    have = available_cases()
    if not names:
        return have
    by_lower = {c.id.lower(): c for c in CASES}
    out = []
    for name in (n for arg in names for n in arg.split(",") if n):
        case = by_lower.get(name.lower())
        if case is None:
            raise SystemExit(f"fastopt bench: unknown optimizer {name!r}; choose from "
                             f"{', '.join(c.id for c in have)}")
        if case not in have:
            raise SystemExit(f"fastopt bench: this fastopt has no {case.cls}")
        out.append(case)
    return out


def run_table(cases: list[Case], sizes: list[int], backends: list[str], dtypes: list[str],
              *, budget: float, use_torch: bool, progress: Progress | None = None) -> list[dict]:
    """Measure every (case, dtype, size): one row per fastopt backend."""
    rows = []
    torch = import_torch() if use_torch else None
    for case in cases:
        for dtype in dtypes:
            for n in sizes:
                if progress is not None:
                    progress.show(f"{case.id} {dtype} {format_size(n)}")
                pg = data(dtype, [(n,)])
                steps = {b: make_step(case, b, dtype, [(n,)], params_grads=pg) for b in backends}
                try:
                    steps["numpy-inplace"] = make_step(case, "numpy-inplace", dtype, [(n,)],
                                                       params_grads=pg)
                except Unavailable:
                    pass                        # no hand-written NumPy: no "vs NumPy"
                torch_impl = None
                if torch is not None and case.torch is not None:
                    for impl in ("fused", "foreach"):
                        if impl in case.torch_impls:
                            torch_impl = f"torch-{impl}"
                            steps[torch_impl] = make_step(case, torch_impl, dtype, [(n,)],
                                                          params_grads=pg)
                            break
                steps[TWIN] = make_step(case, TWIN, dtype, [(n,)], params_grads=pg)
                # Large sizes need fewer samples for a stable median.
                t = measure(steps, budget=budget, min_rounds=3 if n >= LARGE else 5)
                del steps, pg
                for b in backends:
                    step = t[b]
                    rows.append(dict(
                        optimizer=case.id, dtype=dtype, size=n, backend=b, time=step,
                        vs_numpy=t["numpy-inplace"] / step if "numpy-inplace" in t else None,
                        vs_torch=t[torch_impl] / step if torch_impl else None,
                        torch_impl=torch_impl.split("-", 1)[1] if torch_impl else None,
                        floor=t[TWIN] / step))
                if progress is not None:
                    progress.advance()
    return rows


def main(args: argparse.Namespace) -> int:
    import fastopt
    cases = _select_cases(args.optimizer)
    sizes = args.sizes or ([1_000, 100_000] if args.quick else list(SIZES))
    budget = 0.05 if args.quick else 0.3
    use_torch = not args.no_torch
    if args.threads is not None:
        fastopt.set_num_threads(args.threads)
    print(machine_line(use_torch))
    progress = Progress(len(cases) * len(sizes) * len(args.dtype))
    progress.show()
    try:
        rows = run_table(cases, sizes, args.backend, args.dtype, budget=budget,
                         use_torch=use_torch, progress=progress)
    finally:
        progress.close()
    print(format_table(rows))
    print()
    print(LEGEND)
    return 0
