"""How ``python -m fastopt bench`` writes its results: sizes and times, the table, its
legend, and a line about the machine."""
from __future__ import annotations

import math
import os
import platform

import numpy as np

from .peers import import_torch


def format_size(n: int) -> str:
    e = int(math.log10(n)) if n > 0 else 0
    return f"1e{e}" if n == 10 ** e else f"{n:,}"


def format_time(s: float) -> str:
    for unit, f in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= f:
            return f"{s / f:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}x"


COLUMNS = ("optimizer", "dtype", "size", "backend", "time/step", "vs NumPy", "vs torch", "floor")


def format_table(rows: list[dict]) -> str:
    cells = [COLUMNS]
    for r in rows:
        torch_cell = ("-" if r["vs_torch"] is None
                      else f"{_ratio(r['vs_torch'])} ({r['torch_impl']})")
        cells.append((r["optimizer"], r["dtype"], format_size(r["size"]), r["backend"],
                      format_time(r["time"]), _ratio(r["vs_numpy"]), torch_cell,
                      f"{r['floor']:.2f}"))
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    left = {0, 1, 3}
    lines = []
    for k, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i in left else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine_line(use_torch: bool) -> str:
    import fastopt
    from .._core import _native
    parts = [f"fastopt {fastopt.__version__} (CPU level {_native.CPU_LEVEL}, "
             f"{fastopt.get_num_threads()} thread(s), OpenMP "
             f"{'on' if _native.openmp_enabled() else 'off'})",
             f"NumPy {np.__version__}"]
    torch = import_torch() if use_torch else None
    parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch
                 else "torch not used")
    parts.append(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    return "; ".join(parts)


LEGEND = """\
time/step: median wall time of one opt.step() on FlatParams (the gradient is already in place).
vs NumPy: speedup over the best hand-written in-place NumPy (ufuncs with out=, scratch buffers).
vs torch: speedup over torch.optim on the same data (fused=True where torch has it, else foreach).
floor: memory-traffic twin time / step time, the twin being a kernel with the same reads and
       writes and no math (1.00 = at the speed of memory; in cache, small steps are bound by
       the per-call overhead or by the math instead)."""

