"""The optimizer table: one row per optimizer class, read by the generic tests (every
backend against the reference, against the oracle, refusals, resume, every parameter form)
and by the benches (``python -m fastopt bench``, ``benches/``).  Adding an optimizer adds
one row here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: torch.optim's implementations on CPU, as the benches name them.
ALL_TORCH = ("forloop", "foreach", "fused")
NO_FUSED = ("forloop", "foreach")


@dataclass(frozen=True)
class Bench:
    """One configuration the benches time, beside its peers."""
    name: str                            # the id benches and the CLI use
    kwargs: dict[str, Any]               # arguments for fastopt and torch alike
    twin_buffers: int                    # state buffers of its memory-traffic twin
    passes: int = 1                      # passes over memory per step (LAMB: 2)


@dataclass(frozen=True)
class OptimizerInfo:
    """What the tests and benches need to know of one optimizer class."""
    cls: str                             # the class in fastopt
    torch: str | None                    # the torch.optim class with the same math, or None
    torch_impls: tuple[str, ...]         # of ALL_TORCH that torch 2.13 has on CPU
    benches: tuple[Bench, ...]
    #: Option sets the tests run every backend and the oracle on.
    options: tuple[dict[str, Any], ...] = ()
    #: One option set with everything on (sizes, parameter forms, refusals, resume).
    full: dict[str, Any] = field(default_factory=dict)


# torch 2.13 on CPU has fused=True for Adam, AdamW, SGD and Adagrad (tests/test_bench_cli.py
# checks these claims against the installed torch).
OPTIMIZERS: tuple[OptimizerInfo, ...] = (
    OptimizerInfo("Adam", "Adam", ALL_TORCH, (
        Bench("Adam", dict(lr=1e-3), 2),
        Bench("AMSGrad", dict(lr=1e-3, amsgrad=True), 3))),
    OptimizerInfo("AdamW", "AdamW", ALL_TORCH, (
        Bench("AdamW", dict(lr=1e-3, weight_decay=1e-2), 2),)),
    OptimizerInfo("SGD", "SGD", ALL_TORCH, (
        Bench("SGD", dict(lr=1e-2), 0),
        Bench("SGD-momentum", dict(lr=1e-2, momentum=0.9), 1))),
    OptimizerInfo("RMSprop", "RMSprop", NO_FUSED, (Bench("RMSprop", dict(lr=1e-2), 1),)),
    OptimizerInfo("Adagrad", "Adagrad", ALL_TORCH, (Bench("Adagrad", dict(lr=1e-2), 1),)),
    OptimizerInfo("Adadelta", "Adadelta", NO_FUSED, (Bench("Adadelta", dict(lr=1.0), 2),)),
    OptimizerInfo("Adamax", "Adamax", NO_FUSED, (Bench("Adamax", dict(lr=2e-3), 2),)),
    OptimizerInfo("NAdam", "NAdam", NO_FUSED, (Bench("NAdam", dict(lr=2e-3), 2),)),
    OptimizerInfo("RAdam", "RAdam", NO_FUSED, (Bench("RAdam", dict(lr=1e-3), 2),)),
    OptimizerInfo("Rprop", "Rprop", NO_FUSED, (Bench("Rprop", dict(lr=1e-2), 2),)),
    OptimizerInfo("Lion", None, (), (Bench("Lion", dict(lr=1e-4), 1),)),
    OptimizerInfo("Lamb", None, (), (Bench("Lamb", dict(lr=1e-3), 2, passes=2),)),
)
