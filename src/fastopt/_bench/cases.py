"""The bench cases: one per ``Bench`` entry of the optimizer table
(``fastopt.optimizers.table.OPTIMIZERS``), so adding an optimizer's row adds its cases."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..optimizers.table import OPTIMIZERS


@dataclass(frozen=True)
class Case:
    id: str                              # the name benches and the CLI use
    cls: str                             # the fastopt class (skipped where fastopt lacks it)
    kwargs: dict[str, Any]               # arguments for fastopt and torch alike
    torch: str | None                    # the torch.optim class, or None
    torch_impls: tuple[str, ...]         # of "forloop", "foreach", "fused" (on CPU)
    twin_buffers: int                    # state buffers of its memory-traffic twin
    passes: int                          # passes over memory per step (LAMB: 2)


CASES: tuple[Case, ...] = tuple(
    Case(bench.name, info.cls, bench.kwargs, info.torch, info.torch_impls,
         bench.twin_buffers, bench.passes)
    for info in OPTIMIZERS for bench in info.benches)
CASES_BY_ID = {c.id: c for c in CASES}


def fastopt_class(case: Case) -> Any:
    import fastopt
    return getattr(fastopt, case.cls, None)


def available_cases() -> list[Case]:
    """The cases whose optimizer class this fastopt has."""
    return [c for c in CASES if fastopt_class(c) is not None]
