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

NAN, INF = float("nan"), float("inf")

#: Marks of a hyperparameter change between steps (OptimizerInfo.hyper_changes) whose
#: effect is not that of a fresh optimizer built with the new value:
BUILT_AS_BASE = "built as base"  # leaves a buffer unused: its twin is built with the base
NO_EFFECT = "no effect"          # read only when the optimizer is built
FIRST_ONLY = "first step only"   # read only on the first step


@dataclass(frozen=True)
class Bench:
    """One configuration the benches time, beside its peers."""
    name: str                            # the id benches and the CLI use
    kwargs: dict[str, Any]               # arguments for fastopt and torch alike
    twin_buffers: int                    # state buffers of its memory-traffic twin
    passes: int = 1                      # passes over memory per step (LAMB: 2)


@dataclass(frozen=True)
class ParamGroups:
    """torch-style param groups with their own hyperparameters: the tests deal the
    parameters out to ``groups`` in order, in contiguous blocks."""
    kwargs: dict[str, Any]               # given to the constructor (every group's default)
    groups: tuple[dict[str, Any], ...]   # each group's own hyperparameters


@dataclass(frozen=True)
class OptimizerInfo:
    """What the tests and benches need to know of one optimizer class."""
    cls: str                             # the class in fastopt
    torch: str | None                    # the torch.optim class with the same math, or None
    torch_impls: tuple[str, ...]         # of ALL_TORCH that torch 2.13 has on CPU
    benches: tuple[Bench, ...]
    #: Option sets every backend is held to the reference on (bitwise, both dtypes), the
    #: oracle too, and that a state_dict resumes from (``full`` is added to them).
    options: tuple[dict[str, Any], ...] = ()
    #: One option set with everything on: every size, parameter form, thread count, bad
    #: gradient and refused hyperparameter is tried with it.
    full: dict[str, Any] = field(default_factory=dict)
    #: Further option sets run at the sizes up to 1000 (``full`` runs at every size).
    size_options: tuple[dict[str, Any], ...] = ()
    #: Param groups with their own hyperparameters, checked like ``options``.
    groups: ParamGroups | None = None
    #: What the options are checked against to rounding: None is torch.optim.<torch>;
    #: otherwise a function of tests/oracles.py (a NumPy transcription of optax).
    oracle: str | None = None
    #: Where the oracle agrees bitwise, not just to rounding: with none of these options
    #: set (None: never; (): always).
    oracle_bitwise_unless: tuple[str, ...] | None = None
    #: Hyperparameters refused when building, when set on a param group, between cached
    #: steps and in a loaded state_dict: (values, exception, regex the message matches).
    refused: tuple[tuple[dict[str, Any], type, str], ...] = ()
    #: Options that decide which state buffers exist, refused when changed once built:
    #: (built with, changed to, regex the message matches).
    fixed: tuple[tuple[dict[str, Any], dict[str, Any], str], ...] = ()
    #: The hyperparameter cache (tests/test_hyper_cache.py): a base with every optional
    #: buffer on, and the changes a param group takes between steps, each a dict or a
    #: (dict, BUILT_AS_BASE | NO_EFFECT | FIRST_ONLY) pair.
    hyper_base: dict[str, Any] = field(default_factory=dict)
    hyper_changes: tuple[Any, ...] = ()

    @property
    def option_sets(self) -> tuple[dict[str, Any], ...]:
        """``full``, then ``options`` (without repeating ``full``)."""
        return (self.full,) + tuple(o for o in self.options if o != self.full)


_ADAM_REFUSED = (
    (dict(lr=-1.0), ValueError, "lr"), (dict(lr=NAN), ValueError, "lr"),
    (dict(lr="fast"), TypeError, "lr must be a real number"),
    (dict(betas=(1.0, 0.999)), ValueError, r"betas\[0\] must be in \[0, 1\)"),
    (dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
    (dict(betas=0.9), TypeError, "betas must be a pair"),
    (dict(eps=0.0), ValueError, "eps must be a finite number > 0"),
    (dict(eps=INF), ValueError, "eps"),
    (dict(weight_decay=-0.1), ValueError, "weight_decay"),
    (dict(decoupled_weight_decay=2), TypeError, "decoupled_weight_decay"),
    (dict(maximize=None), TypeError, "maximize must be True or False"),
)

# torch 2.13 on CPU has fused=True for Adam, AdamW, SGD and Adagrad (tests/test_bench_cli.py
# checks these claims against the installed torch).
OPTIMIZERS: tuple[OptimizerInfo, ...] = (
    OptimizerInfo(
        "Adam", "Adam", ALL_TORCH, (
            Bench("Adam", dict(lr=1e-3), 2),
            Bench("AMSGrad", dict(lr=1e-3, amsgrad=True), 3)),
        options=(
            dict(),
            dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
            dict(weight_decay=0.1),
            dict(weight_decay=0.1, decoupled_weight_decay=True),
            dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
            dict(amsgrad=True),
            dict(amsgrad=True, weight_decay=0.1),
            dict(amsgrad=True, weight_decay=0.05, maximize=True),
            dict(maximize=True, lr=0.003),
            dict(lr=0.1),
            dict(betas=(0.0, 0.0)),
        ),
        full=dict(lr=0.01, amsgrad=True, weight_decay=0.01),
        groups=ParamGroups(dict(lr=0.01), (
            {"betas": (0.8, 0.99), "amsgrad": True},
            {"lr": 0.05, "weight_decay": 0.1},
            {"weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True})),
        refused=_ADAM_REFUSED,
        fixed=((dict(), dict(amsgrad=True), "amsgrad cannot change"),),
        hyper_base=dict(lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.01),
        hyper_changes=({"lr": 0.02}, {"betas": (0.8, 0.9)}, {"eps": 1e-3},
                       {"weight_decay": 0.1}, {"decoupled_weight_decay": True},
                       {"maximize": True})),
    OptimizerInfo(
        "AdamW", "AdamW", ALL_TORCH, (Bench("AdamW", dict(lr=1e-3, weight_decay=1e-2), 2),),
        options=(
            dict(),
            dict(weight_decay=0.3, amsgrad=True),
            dict(maximize=True, weight_decay=0.0),
            dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
        ),
        full=dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True),
        groups=ParamGroups(dict(lr=0.01), (
            {"weight_decay": 0.0, "amsgrad": True}, {"lr": 0.05, "weight_decay": 0.3})),
        refused=_ADAM_REFUSED + ((dict(betas=(1.5, 0.9)), ValueError, r"betas\[0\]"),),
        fixed=((dict(amsgrad=True), dict(amsgrad=False), "amsgrad cannot change"),),
        hyper_base=dict(lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True),
        hyper_changes=({"lr": 0.02}, {"betas": (0.8, 0.9)}, {"eps": 1e-3},
                       {"weight_decay": 0.0}, {"decoupled_weight_decay": False},
                       {"maximize": True})),
    OptimizerInfo(
        "SGD", "SGD", ALL_TORCH, (
            Bench("SGD", dict(lr=1e-2), 0),
            Bench("SGD-momentum", dict(lr=1e-2, momentum=0.9), 1)),
        options=(
            dict(),
            dict(lr=0.01),
            dict(lr=0.1),
            dict(lr=0.01, momentum=0.9),
            dict(momentum=0.9, dampening=0.5),
            dict(lr=0.01, momentum=0.9, dampening=0.5),
            dict(lr=0.01, momentum=0.9, dampening=1.0),
            dict(lr=0.01, momentum=0.9, nesterov=True),
            dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.1),
            dict(lr=0.02, weight_decay=0.1),
            dict(lr=0.01, momentum=0.9, dampening=0.2, weight_decay=0.1),
            dict(lr=0.01, maximize=True),
            dict(lr=0.01, momentum=0.9, dampening=0.3, maximize=True),
            dict(lr=0.01, momentum=0.5, dampening=0.1, weight_decay=0.1, maximize=True),
            dict(lr=0.005, momentum=0.99, nesterov=True, weight_decay=0.01, maximize=True),
        ),
        full=dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01),
        size_options=(dict(lr=0.01, momentum=0.9, dampening=0.3), dict(lr=0.01)),
        groups=ParamGroups(dict(lr=0.01), (
            {"momentum": 0.9, "nesterov": True},
            {"lr": 0.05},                                   # no momentum buffer
            {"momentum": 0.5, "dampening": 0.5, "weight_decay": 0.1})),
        refused=(
            (dict(lr=-0.1), ValueError, "lr"), (dict(lr=NAN), ValueError, "lr"),
            (dict(lr="0.1"), TypeError, "lr"),
            (dict(momentum=-0.5), ValueError, "momentum"),
            (dict(momentum=INF), ValueError, "momentum"),
            (dict(dampening=-0.1), ValueError, "dampening"),
            (dict(dampening=1.5), ValueError, "dampening"),
            (dict(weight_decay=-1e-4), ValueError, "weight_decay"),
            (dict(weight_decay=INF), ValueError, "weight_decay"),
            (dict(nesterov="yes"), TypeError, "nesterov"),
            (dict(nesterov=2), TypeError, "nesterov"),
            (dict(maximize=None), TypeError, "maximize"),
            (dict(nesterov=True, dampening=0.5), ValueError, "nesterov"),
            (dict(nesterov=True, momentum=0.0), ValueError, "nesterov"),
            (dict(nesterov=True, momentum=0.9, dampening=0.1), ValueError, "nesterov"),
            (dict(nesterov=True, momentum=0.0, dampening=0.0), ValueError, "nesterov"),
        ),
        hyper_base=dict(lr=0.01, momentum=0.9, dampening=0.0, weight_decay=0.01),
        hyper_changes=({"lr": 0.02}, {"momentum": 0.5}, ({"momentum": 0.0}, BUILT_AS_BASE),
                       {"dampening": 0.3}, {"weight_decay": 0.0}, {"nesterov": True},
                       {"maximize": True})),
    OptimizerInfo(
        "RMSprop", "RMSprop", NO_FUSED, (Bench("RMSprop", dict(lr=1e-2), 1),),
        options=(
            dict(),
            dict(lr=0.001, alpha=0.9, eps=1e-6),
            dict(centered=True),
            dict(momentum=0.5),
            dict(momentum=0.9, lr=0.001),
            dict(momentum=0.5, lr=0.001),
            dict(centered=True, momentum=0.5),
            dict(centered=True, momentum=0.9, weight_decay=0.1, lr=0.001),
            dict(weight_decay=0.1),
            dict(maximize=True),
            dict(centered=True, momentum=0.9, weight_decay=0.05, maximize=True, lr=0.003),
            dict(alpha=0.0, lr=0.001),                   # v = g*g: a sign-like step
            dict(alpha=1.0, lr=1e-9),                    # v stays 0: eps is the root
            dict(alpha=0.5, eps=1e-3, momentum=0.2),
        ),
        full=dict(centered=True, momentum=0.9, weight_decay=0.05, lr=0.001),
        size_options=(dict(), dict(centered=True), dict(momentum=0.9, lr=0.001)),
        groups=ParamGroups(dict(), (
            {"centered": True},
            {"momentum": 0.9, "lr": 0.001},
            {"alpha": 0.9, "weight_decay": 0.1})),
        refused=(
            (dict(lr=-1e-3), ValueError, "lr"), (dict(lr=INF), ValueError, "lr"),
            (dict(alpha=-0.1), ValueError, "alpha"), (dict(alpha=1.01), ValueError, "alpha"),
            (dict(alpha=1.5), ValueError, "alpha"), (dict(alpha=None), TypeError, "alpha"),
            (dict(eps=0.0), ValueError, "eps"), (dict(eps=-1e-8), ValueError, "eps"),
            (dict(weight_decay=-0.1), ValueError, "weight_decay"),
            (dict(momentum=-0.9), ValueError, "momentum"),
            (dict(momentum=-0.5), ValueError, "momentum"),
            (dict(momentum=NAN), ValueError, "momentum"),
            (dict(centered=2), TypeError, "centered"),
            (dict(maximize="no"), TypeError, "maximize"),
        ),
        fixed=((dict(), dict(momentum=0.9), "built with momentum=0"),
               (dict(), dict(centered=True), "built with centered=False")),
        hyper_base=dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.01, momentum=0.5,
                        centered=True),
        hyper_changes=({"lr": 0.02}, {"alpha": 0.5}, {"eps": 1e-3}, {"weight_decay": 0.1},
                       {"momentum": 0.7}, ({"momentum": 0.0}, BUILT_AS_BASE),
                       ({"centered": False}, BUILT_AS_BASE), {"maximize": True})),
    OptimizerInfo(
        "Adagrad", "Adagrad", ALL_TORCH, (Bench("Adagrad", dict(lr=1e-2), 1),),
        options=(
            dict(),
            dict(lr_decay=0.05),
            dict(initial_accumulator_value=0.1),
            dict(weight_decay=0.1),
            dict(maximize=True),
            dict(lr=0.1, eps=1e-6),
            dict(lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.1),
            dict(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.5, weight_decay=0.05,
                 maximize=True, eps=1e-8),
        ),
        full=dict(lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.05),
        size_options=(dict(),),
        groups=ParamGroups(dict(initial_accumulator_value=0.2), (
            {"lr_decay": 0.1}, {"lr": 0.1})),
        refused=(
            (dict(lr=-0.01), ValueError, "lr"), (dict(lr=[0.1]), TypeError, "lr"),
            (dict(lr_decay=-0.1), ValueError, "lr_decay"),
            (dict(lr_decay=INF), ValueError, "lr_decay"),
            (dict(weight_decay=-0.1), ValueError, "weight_decay"),
            (dict(weight_decay=INF), ValueError, "weight_decay"),
            (dict(initial_accumulator_value=-0.1), ValueError, "initial_accumulator_value"),
            (dict(initial_accumulator_value=-1.0), ValueError, "initial_accumulator_value"),
            (dict(eps=0.0), ValueError, "eps"), (dict(eps=NAN), ValueError, "eps"),
            (dict(maximize=0.5), TypeError, "maximize"),
        ),
        hyper_base=dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1,
                        eps=1e-6),
        hyper_changes=({"lr": 0.2}, {"lr_decay": 0.5}, {"weight_decay": 0.1},
                       ({"initial_accumulator_value": 0.5}, NO_EFFECT), {"eps": 1e-1},
                       {"maximize": True})),
    OptimizerInfo(
        "Adadelta", "Adadelta", NO_FUSED, (Bench("Adadelta", dict(lr=1.0), 2),),
        options=(
            dict(),
            dict(rho=0.5),
            dict(rho=0.0),
            dict(rho=1.0, lr=0.01),                      # no averaging: delta = g
            dict(eps=1e-4, lr=0.5),
            dict(weight_decay=0.1),
            dict(maximize=True),
            dict(rho=0.95, weight_decay=0.1, maximize=True),
            dict(rho=0.95, eps=1e-8, weight_decay=0.01, maximize=True, lr=0.1),
        ),
        full=dict(rho=0.95, eps=1e-7, weight_decay=0.01, lr=0.5),
        size_options=(dict(),),
        groups=ParamGroups(dict(), ({"rho": 0.5}, {"lr": 0.1, "weight_decay": 0.1})),
        refused=(
            (dict(lr=-1.0), ValueError, "lr"), (dict(lr=None), TypeError, "lr"),
            (dict(rho=-0.1), ValueError, "rho"), (dict(rho=1.1), ValueError, "rho"),
            (dict(rho=1.5), ValueError, "rho"), (dict(rho=NAN), ValueError, "rho"),
            (dict(eps=0.0), ValueError, "eps"), (dict(eps=-1e-6), ValueError, "eps"),
            (dict(weight_decay=-0.1), ValueError, "weight_decay"),
            (dict(maximize="True"), TypeError, "maximize"),
        ),
        hyper_base=dict(lr=0.5, rho=0.9, eps=1e-6, weight_decay=0.01),
        hyper_changes=({"lr": 1.0}, {"rho": 0.5}, {"eps": 1e-3}, {"weight_decay": 0.1},
                       {"maximize": True})),
    OptimizerInfo(
        "Adamax", "Adamax", NO_FUSED, (Bench("Adamax", dict(lr=2e-3), 2),),
        options=(
            dict(),
            dict(betas=(0.5, 0.9)),
            dict(betas=(0.0, 0.0)),
            dict(betas=(0.95, 0.5), lr=0.01),
            dict(eps=1e-3, lr=0.01),
            dict(weight_decay=0.1),
            dict(betas=(0.8, 0.99), weight_decay=0.1),
            dict(maximize=True),
            dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, maximize=True, lr=0.005),
        ),
        full=dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, lr=0.005),
        size_options=(dict(),),
        groups=ParamGroups(dict(), ({"betas": (0.5, 0.9)}, {"lr": 0.01, "weight_decay": 0.1})),
        refused=(
            (dict(lr=-2e-3), ValueError, "lr"),
            (dict(betas=(1.0, 0.9)), ValueError, r"betas\[0\]"),
            (dict(betas=(0.9, -0.1)), ValueError, r"betas\[1\]"),
            (dict(betas=0.9), TypeError, "betas"), (dict(betas=[0.9]), TypeError, "betas"),
            (dict(eps=0.0), ValueError, "eps"), (dict(eps=-1e-8), ValueError, "eps"),
            (dict(weight_decay=-1.0), ValueError, "weight_decay"),
            (dict(weight_decay=NAN), ValueError, "weight_decay"),
            (dict(maximize=1.0), TypeError, "maximize"),
        ),
        hyper_base=dict(lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.01),
        hyper_changes=({"lr": 0.02}, {"betas": (0.8, 0.9)}, {"eps": 1e-1},
                       {"weight_decay": 0.1}, {"maximize": True})),
    OptimizerInfo(
        "NAdam", "NAdam", NO_FUSED, (Bench("NAdam", dict(lr=2e-3), 2),),
        options=(
            dict(),
            dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
            dict(weight_decay=0.1),
            dict(weight_decay=0.1, decoupled_weight_decay=True),
            dict(lr=0.01, weight_decay=0.3, decoupled_weight_decay=True),
            dict(momentum_decay=0.05),
            dict(momentum_decay=0.0),
            dict(momentum_decay=0.02, weight_decay=0.01),
            dict(maximize=True, lr=0.003),
            dict(maximize=True, weight_decay=0.05, decoupled_weight_decay=True,
                 momentum_decay=0.01),
            dict(betas=(0.0, 0.0)),
        ),
        full=dict(lr=0.01, weight_decay=0.05, momentum_decay=0.01, maximize=True),
        groups=ParamGroups(dict(lr=0.01), (
            {"momentum_decay": 0.02, "betas": (0.8, 0.99)},
            {"weight_decay": 0.1, "decoupled_weight_decay": True})),
        refused=(
            (dict(lr=-1.0), ValueError, "lr"), (dict(lr=NAN), ValueError, "lr"),
            (dict(betas=(1.0, 0.9)), ValueError, r"betas\[0\]"),
            (dict(betas=(0.9, -0.1)), ValueError, r"betas\[1\]"),
            (dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
            (dict(betas=0.9), TypeError, "betas"), (dict(eps=0.0), ValueError, "eps"),
            (dict(weight_decay=-1e-3), ValueError, "weight_decay"),
            (dict(weight_decay=-0.1), ValueError, "weight_decay"),
            (dict(momentum_decay=-1.0), ValueError, "momentum_decay"),
            (dict(momentum_decay=INF), ValueError, "momentum_decay"),
            (dict(decoupled_weight_decay=2), TypeError, "decoupled_weight_decay"),
            (dict(decoupled_weight_decay="yes"), TypeError, "decoupled_weight_decay"),
            (dict(maximize="yes"), TypeError, "maximize"),
        ),
        hyper_base=dict(lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.01),
        hyper_changes=({"lr": 0.02}, {"betas": (0.8, 0.9)}, {"eps": 1e-3},
                       {"weight_decay": 0.1}, {"momentum_decay": 0.1},
                       {"decoupled_weight_decay": True}, {"maximize": True})),
    OptimizerInfo(
        "RAdam", "RAdam", NO_FUSED, (Bench("RAdam", dict(lr=1e-3), 2),),
        options=(
            dict(),                                          # rectified from step 6 on
            dict(lr=0.1),
            dict(lr=0.01, betas=(0.5, 0.9), eps=1e-6),       # rectified from step 7 on
            dict(betas=(0.9, 0.5)),                          # rho_inf = 3: never rectified
            dict(weight_decay=0.1),
            dict(weight_decay=0.01, betas=(0.5, 0.9)),
            dict(weight_decay=0.1, decoupled_weight_decay=True),
            dict(maximize=True, lr=0.003),
            dict(maximize=True, weight_decay=0.05, betas=(0.8, 0.95)),
            dict(maximize=True, weight_decay=0.05, decoupled_weight_decay=True),
            dict(betas=(0.0, 0.0)),
        ),
        full=dict(lr=0.01, weight_decay=0.05, betas=(0.8, 0.95), maximize=True),
        groups=ParamGroups(dict(lr=0.01), (
            {"betas": (0.9, 0.5)}, {"weight_decay": 0.1, "decoupled_weight_decay": True})),
        refused=(
            (dict(lr=-1.0), ValueError, "lr"), (dict(lr=INF), ValueError, "lr"),
            (dict(betas=(-0.1, 0.9)), ValueError, r"betas\[0\]"),
            (dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
            (dict(betas=(0.9,)), TypeError, "betas"),
            (dict(eps=-1e-8), ValueError, "eps"), (dict(eps=NAN), ValueError, "eps"),
            (dict(eps=0.0), ValueError, "eps"),
            (dict(weight_decay=-1e-3), ValueError, "weight_decay"),
            (dict(weight_decay=-0.1), ValueError, "weight_decay"),
            (dict(weight_decay="0.1"), TypeError, "weight_decay"),
            (dict(decoupled_weight_decay=None), TypeError, "decoupled_weight_decay"),
            (dict(decoupled_weight_decay=0.5), TypeError, "decoupled_weight_decay"),
            (dict(maximize=1.0), TypeError, "maximize"),
        ),
        hyper_base=dict(lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.01),
        hyper_changes=({"lr": 0.02}, {"betas": (0.8, 0.9)}, {"eps": 1e-3},
                       {"weight_decay": 0.1}, {"decoupled_weight_decay": True},
                       {"maximize": True})),
    OptimizerInfo(
        "Rprop", "Rprop", NO_FUSED, (Bench("Rprop", dict(lr=1e-2), 2),),
        options=(
            dict(),
            dict(lr=0.05),
            dict(etas=(0.3, 1.5)),
            dict(step_sizes=(1e-3, 0.1)),
            dict(maximize=True),
            dict(lr=0.2, etas=(0.1, 3.0), step_sizes=(0.05, 0.5), maximize=True),
        ),
        full=dict(lr=0.05, etas=(0.4, 1.3), step_sizes=(1e-4, 1.0), maximize=True),
        groups=ParamGroups(dict(lr=0.05), (
            {"etas": (0.3, 1.5)}, {"step_sizes": (1e-3, 0.1), "maximize": True})),
        oracle_bitwise_unless=(),
        refused=(
            (dict(lr=-1.0), ValueError, "lr"), (dict(lr=NAN), ValueError, "lr"),
            (dict(etas=(1.0, 1.2)), ValueError, "etas"),
            (dict(etas=(0.5, 1.0)), ValueError, "etas"),
            (dict(etas=(0.5, 0.9)), ValueError, "etas"),
            (dict(etas=(0.0, 1.2)), ValueError, "etas"),
            (dict(etas=(0.5, INF)), ValueError, "etas"),
            (dict(etas=(NAN, 1.2)), ValueError, "etas"),
            (dict(etas=0.5), TypeError, "etas"), (dict(etas=1.0), TypeError, "etas"),
            (dict(etas=(0.5, "1.2")), TypeError, r"etas\[1\]"),
            (dict(etas=("a", 1.2)), TypeError, r"etas\[0\]"),
            (dict(step_sizes=(0.0, 1.0)), ValueError, "step_sizes"),
            (dict(step_sizes=(1.0, 0.5)), ValueError, "step_sizes"),
            (dict(step_sizes=(NAN, 1.0)), ValueError, "step_sizes"),
            (dict(step_sizes=(1e-6, NAN)), ValueError, "step_sizes"),
            (dict(step_sizes=(None, 1)), TypeError, r"step_sizes\[0\]"),
            (dict(step_sizes=(1e-6, 50, 3)), TypeError, "step_sizes"),
            (dict(maximize=0.5), TypeError, "maximize"),
        ),
        hyper_base=dict(lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0)),
        hyper_changes=(({"lr": 0.02}, FIRST_ONLY), {"etas": (0.3, 1.5)},
                       {"step_sizes": (1e-3, 0.015)}, {"maximize": True})),
    OptimizerInfo(
        "Lion", None, (), (Bench("Lion", dict(lr=1e-4), 1),),
        options=(
            dict(),
            dict(lr=1e-3, betas=(0.95, 0.98)),
            dict(lr=1e-3, weight_decay=0.1),
            dict(weight_decay=0.1),
            dict(maximize=True),
            dict(maximize=True, lr=3e-3, weight_decay=0.5),
            dict(betas=(0.0, 0.0)),
        ),
        full=dict(lr=1e-3, betas=(0.8, 0.95), weight_decay=0.3, maximize=True),
        groups=ParamGroups(dict(lr=1e-3), (
            {"betas": (0.95, 0.98)}, {"weight_decay": 0.1, "maximize": True})),
        oracle="optax_lion",
        # optax computes p - lr*(s + wd*p), fastopt p*(1 - lr*wd) - lr*s
        oracle_bitwise_unless=("weight_decay",),
        refused=(
            (dict(lr=-1.0), ValueError, "lr"), (dict(lr=NAN), ValueError, "lr"),
            (dict(betas=(1.0, 0.9)), ValueError, r"betas\[0\]"),
            (dict(betas=(0.9, 1.5)), ValueError, r"betas\[1\]"),
            (dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
            (dict(betas=None), TypeError, "betas"),
            (dict(weight_decay=-0.1), ValueError, "weight_decay"),
            (dict(weight_decay=INF), ValueError, "weight_decay"),
            (dict(maximize=None), TypeError, "maximize"),
        ),
        hyper_base=dict(lr=0.01, betas=(0.9, 0.99), weight_decay=0.01),
        hyper_changes=({"lr": 0.02}, {"betas": (0.5, 0.9)}, {"weight_decay": 0.1},
                       {"maximize": True})),
    OptimizerInfo(
        "Lamb", None, (), (Bench("Lamb", dict(lr=1e-3), 2, passes=2),),
        options=(
            dict(),
            dict(weight_decay=0.01),
            dict(weight_decay=0.1),
            dict(lr=0.01, betas=(0.8, 0.99), eps=1e-8),
            dict(maximize=True),
            dict(maximize=True, weight_decay=0.1, lr=3e-3),
            dict(betas=(0.0, 0.0)),
        ),
        full=dict(lr=0.01, betas=(0.8, 0.95), weight_decay=0.05, maximize=True),
        groups=ParamGroups(dict(lr=0.01), (
            {"betas": (0.8, 0.99)}, {"weight_decay": 0.1, "maximize": True})),
        oracle="optax_lamb",
        refused=(
            (dict(lr=-1.0), ValueError, "lr"), (dict(lr=NAN), ValueError, "lr"),
            (dict(betas=(1.0, 0.9)), ValueError, r"betas\[0\]"),
            (dict(betas=(0.9, -1.0)), ValueError, r"betas\[1\]"),
            (dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
            (dict(betas="ab"), TypeError, r"betas must be a pair"),
            (dict(eps=0.0), ValueError, "eps"),
            (dict(weight_decay=-0.1), ValueError, "weight_decay"),
            (dict(maximize="no"), TypeError, "maximize"),
        ),
        hyper_base=dict(lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.01),
        hyper_changes=({"lr": 0.02}, {"betas": (0.8, 0.9)}, {"eps": 1e-1},
                       {"weight_decay": 0.1}, {"maximize": True})),
    OptimizerInfo(
        "ADOPT", None, (), (Bench("ADOPT", dict(lr=1e-3), 2),),
        options=(
            dict(),
            dict(lr=0.01, betas=(0.8, 0.99), eps=1e-4),
            dict(weight_decay=0.1),
            dict(weight_decay=0.1, decoupled_weight_decay=True, lr=0.01),
            dict(nesterov=True),
            dict(clip_exponent=None),
            dict(clip_exponent=None, nesterov=True, eps=1e-3),
            dict(clip_exponent=0.0),
            dict(clip_exponent=0.5, betas=(0.5, 0.9)),
            dict(maximize=True, weight_decay=0.05, lr=0.003),
            dict(betas=(0.0, 0.0)),
        ),
        full=dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05, nesterov=True, maximize=True),
        groups=ParamGroups(dict(lr=0.01), (
            {"betas": (0.8, 0.99), "nesterov": True},
            {"weight_decay": 0.1, "decoupled_weight_decay": True, "clip_exponent": None})),
        oracle="optax_adopt",
        # the authors' decoupled decay is p + (-lr*wd)*p, fastopt's p*(1 - lr*wd)
        oracle_bitwise_unless=("decoupled_weight_decay",),
        refused=(
            (dict(lr=-1.0), ValueError, "lr"), (dict(lr=NAN), ValueError, "lr"),
            (dict(betas=(1.0, 0.9)), ValueError, r"betas\[0\]"),
            (dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
            (dict(betas=0.9), TypeError, "betas"),
            (dict(eps=0.0), ValueError, "eps"), (dict(eps=INF), ValueError, "eps"),
            (dict(weight_decay=-0.1), ValueError, "weight_decay"),
            (dict(decoupled_weight_decay=2), TypeError, "decoupled_weight_decay"),
            (dict(nesterov="yes"), TypeError, "nesterov"),
            (dict(clip_exponent=-0.25), ValueError, "clip_exponent"),
            (dict(clip_exponent=INF), ValueError, "clip_exponent"),
            (dict(clip_exponent="0.25"), TypeError, "clip_exponent"),
            (dict(maximize=None), TypeError, "maximize"),
        ),
        hyper_base=dict(lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.01),
        hyper_changes=({"lr": 0.02}, {"betas": (0.8, 0.9)}, {"eps": 10.0},
                       {"weight_decay": 0.1}, {"decoupled_weight_decay": True},
                       {"nesterov": True}, {"clip_exponent": None}, {"clip_exponent": 0.5},
                       {"maximize": True})),
    OptimizerInfo(
        "AdEMAMix", None, (), (Bench("AdEMAMix", dict(lr=1e-3), 3),),
        options=(
            dict(),
            dict(lr=0.01, betas=(0.8, 0.99, 0.999), eps=1e-6),
            dict(alpha=2.0),
            dict(t_alpha=5, t_beta3=5),
            dict(t_alpha=100, t_beta3=50, betas=(0.5, 0.99, 0.9999)),
            dict(weight_decay=0.1),
            dict(maximize=True, weight_decay=0.05, lr=0.003),
            dict(alpha=0.0),
            dict(betas=(0.0, 0.0, 0.0)),
        ),
        full=dict(lr=0.01, betas=(0.8, 0.99, 0.999), alpha=3.0, t_alpha=4, t_beta3=6,
                  weight_decay=0.05, maximize=True),
        groups=ParamGroups(dict(lr=0.01), (
            {"betas": (0.8, 0.99, 0.999), "t_alpha": 3},
            {"weight_decay": 0.1, "t_beta3": 4, "maximize": True})),
        oracle="optax_ademamix",
        refused=(
            (dict(lr=-1.0), ValueError, "lr"), (dict(lr=NAN), ValueError, "lr"),
            (dict(betas=(1.0, 0.9, 0.99)), ValueError, r"betas\[0\]"),
            (dict(betas=(0.9, 0.999, 1.0)), ValueError, r"betas\[2\]"),
            (dict(betas=(0.9, 0.999)), TypeError, "betas must be a triple"),
            (dict(alpha=-1.0), ValueError, "alpha"), (dict(alpha=NAN), ValueError, "alpha"),
            (dict(t_alpha=0), ValueError, "t_alpha"), (dict(t_alpha=2.5), TypeError, "t_alpha"),
            (dict(t_beta3=-3), ValueError, "t_beta3"),
            (dict(t_beta3="10"), TypeError, "t_beta3"),
            (dict(eps=0.0), ValueError, "eps"),
            (dict(weight_decay=-0.1), ValueError, "weight_decay"),
            (dict(maximize="no"), TypeError, "maximize"),
        ),
        hyper_base=dict(lr=0.01, betas=(0.9, 0.99, 0.999), eps=1e-6, weight_decay=0.01),
        hyper_changes=({"lr": 0.02}, {"betas": (0.8, 0.9, 0.99)}, {"alpha": 2.0},
                       {"t_alpha": 10}, {"t_beta3": 10}, {"eps": 1e-3},
                       {"weight_decay": 0.1}, {"maximize": True})),
    OptimizerInfo(
        "ASGD", "ASGD", NO_FUSED, (Bench("ASGD", dict(lr=1e-2), 1),),
        options=(
            dict(),                                          # t0 = 1e6: ax is a copy of p
            dict(t0=3.0),                                    # averaging from step 5 on
            dict(t0=0.0, lr=0.05),
            dict(t0=1.5, lambd=0.1, alpha=0.5, lr=0.05),
            dict(lambd=0.0, t0=2.0),
            dict(weight_decay=0.1, t0=2.0),
            dict(maximize=True, t0=4.0),
            dict(maximize=True, weight_decay=0.05, lambd=0.01, alpha=1.0, t0=0.0),
        ),
        full=dict(lr=0.05, lambd=0.01, alpha=0.6, t0=2.0, weight_decay=0.05, maximize=True),
        groups=ParamGroups(dict(lr=0.05, t0=2.0), (
            {"lambd": 0.1, "alpha": 0.5}, {"t0": 0.0, "weight_decay": 0.1, "maximize": True})),
        refused=(
            (dict(lr=-1.0), ValueError, "lr"), (dict(lr=NAN), ValueError, "lr"),
            (dict(lambd=-0.1), ValueError, "lambd"), (dict(lambd=INF), ValueError, "lambd"),
            (dict(alpha=-0.75), ValueError, "alpha"), (dict(alpha=NAN), ValueError, "alpha"),
            (dict(t0=-1.0), ValueError, "t0"), (dict(t0=NAN), ValueError, "t0"),
            (dict(t0="1e6"), TypeError, "t0"),
            (dict(weight_decay=-0.1), ValueError, "weight_decay"),
            (dict(maximize="no"), TypeError, "maximize"),
        ),
        hyper_base=dict(lr=0.01, lambd=1e-3, alpha=0.75, t0=2.0, weight_decay=0.01),
        hyper_changes=({"lr": 0.02}, {"lambd": 0.1}, {"alpha": 0.5}, {"t0": 0.0},
                       {"weight_decay": 0.1}, {"maximize": True})),
    OptimizerInfo(
        "ScheduleFreeAdamW", None, (), (Bench("ScheduleFreeAdamW", dict(lr=2.5e-3), 2),),
        options=(
            dict(),
            dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
            dict(weight_decay=0.1),
            dict(warmup_steps=5),
            dict(warmup_steps=3, r=0.5, weight_decay=0.01),
            dict(r=1.0, weight_lr_power=0.0),
            dict(lr=0.0),
            dict(maximize=True, lr=0.005),
            dict(betas=(0.5, 0.0)),
        ),
        full=dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05, warmup_steps=4, r=0.5,
                  maximize=True),
        groups=ParamGroups(dict(lr=0.01), (
            {"betas": (0.8, 0.99), "warmup_steps": 3},
            {"weight_decay": 0.1, "r": 1.0, "maximize": True})),
        oracle="schedulefree_adamw",
        refused=(
            (dict(lr=-1.0), ValueError, "lr"), (dict(lr=NAN), ValueError, "lr"),
            (dict(betas=(0.0, 0.9)), ValueError, r"betas\[0\] must be in \(0, 1\)"),
            (dict(betas=(1.0, 0.9)), ValueError, r"betas\[0\]"),
            (dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
            (dict(betas=0.9), TypeError, "betas"),
            (dict(eps=0.0), ValueError, "eps"),
            (dict(weight_decay=-0.1), ValueError, "weight_decay"),
            (dict(warmup_steps=-1), ValueError, "warmup_steps"),
            (dict(warmup_steps=2.5), TypeError, "warmup_steps"),
            (dict(r=-1.0), ValueError, "r"), (dict(r=NAN), ValueError, "r"),
            (dict(weight_lr_power=-2.0), ValueError, "weight_lr_power"),
            (dict(maximize=None), TypeError, "maximize"),
        ),
        hyper_base=dict(lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.01,
                        warmup_steps=2, r=0.5),
        hyper_changes=({"lr": 0.02}, {"betas": (0.8, 0.9)}, {"eps": 0.1},
                       {"weight_decay": 0.1}, {"warmup_steps": 6}, {"r": 1.0},
                       {"weight_lr_power": 1.0}, {"maximize": True})),
    OptimizerInfo(
        "ScheduleFreeSGD", None, (), (Bench("ScheduleFreeSGD", dict(lr=1e-2), 1),),
        options=(
            dict(),
            dict(lr=0.1, momentum=0.5),
            dict(lr=0.1, weight_decay=0.1),
            dict(lr=0.1, warmup_steps=5),
            dict(lr=0.05, warmup_steps=3, r=0.5, weight_decay=0.01),
            dict(lr=0.1, r=1.0, weight_lr_power=0.0),
            dict(maximize=True, lr=0.05),
        ),
        full=dict(lr=0.1, momentum=0.8, weight_decay=0.05, warmup_steps=4, r=0.5,
                  maximize=True),
        groups=ParamGroups(dict(lr=0.1), (
            {"momentum": 0.8, "warmup_steps": 3},
            {"weight_decay": 0.1, "r": 1.0, "maximize": True})),
        oracle="schedulefree_sgd",
        refused=(
            (dict(lr=-1.0), ValueError, "lr"), (dict(lr=NAN), ValueError, "lr"),
            (dict(momentum=0.0), ValueError, r"momentum must be in \(0, 1\)"),
            (dict(momentum=1.0), ValueError, "momentum"),
            (dict(momentum=-0.5), ValueError, "momentum"),
            (dict(weight_decay=-0.1), ValueError, "weight_decay"),
            (dict(warmup_steps=-1), ValueError, "warmup_steps"),
            (dict(warmup_steps="3"), TypeError, "warmup_steps"),
            (dict(r=-1.0), ValueError, "r"),
            (dict(weight_lr_power=INF), ValueError, "weight_lr_power"),
            (dict(maximize=None), TypeError, "maximize"),
        ),
        hyper_base=dict(lr=0.1, momentum=0.9, weight_decay=0.01, warmup_steps=2, r=0.5),
        hyper_changes=({"lr": 0.2}, {"momentum": 0.5}, {"weight_decay": 0.1},
                       {"warmup_steps": 6}, {"r": 1.0}, {"weight_lr_power": 1.0},
                       {"maximize": True})),
    # State of its own shape (row and column statistics of each matrix): its own file,
    # tests/test_adafactor.py, adds the shapes and the state_dict forms that takes.
    OptimizerInfo(
        "Adafactor", "Adafactor", NO_FUSED, (
            # decay by lr*weight_decay holds back the growth of RMS(p) (up to lr per step)
            # over many steps of one gradient (a decay of exactly lr can cancel a step)
            Bench("Adafactor", dict(lr=1e-2, weight_decay=0.9), 1, passes=3),),
        options=(
            dict(),
            dict(lr=0.5),                               # rho_t = 1/sqrt(t) from the start
            dict(lr=0.3, weight_decay=0.1),
            dict(eps=(1e-15, 1e-3)),                   # eps1**2 still a float32 normal
            dict(eps=(1e-3, 0.0), d=2.0),
            dict(beta2_decay=-0.5),
            dict(beta2_decay=0.0),
            dict(maximize=True, lr=0.05),
        ),
        full=dict(lr=0.3, beta2_decay=-0.6, eps=(1e-20, 1e-2), d=1.5, weight_decay=0.1,
                  maximize=True),
        groups=ParamGroups(dict(lr=0.05), (
            {"beta2_decay": -0.5, "d": 2.0},
            {"lr": 0.3, "weight_decay": 0.1, "eps": (None, 1e-2), "maximize": True})),
        refused=(
            (dict(lr=-1.0), ValueError, "lr"), (dict(lr=NAN), ValueError, "lr"),
            (dict(beta2_decay=0.1), ValueError, "beta2_decay"),
            (dict(beta2_decay=NAN), ValueError, "beta2_decay"),
            (dict(eps=(-1.0, 1e-3)), ValueError, r"eps\[0\]"),
            (dict(eps=(None, -1.0)), ValueError, r"eps\[1\]"),
            (dict(eps=1e-3), TypeError, "eps"),
            (dict(d=0.5), ValueError, "d"),
            (dict(weight_decay=-0.1), ValueError, "weight_decay"),
            (dict(maximize=None), TypeError, "maximize"),
        ),
        # eps1 above the smallest v, so a change of eps1 (to None: the dtype's epsilon)
        # shows; eps2 10 is above RMS(p)
        hyper_base=dict(lr=0.05, beta2_decay=-0.8, eps=(0.5, 1e-3), d=1.0,
                        weight_decay=0.01),
        hyper_changes=({"lr": 0.1}, {"beta2_decay": -0.5}, {"eps": (1.0, 1e-3)},
                       {"eps": (None, 1e-3)}, {"eps": (0.5, 10.0)}, {"d": 2.0},
                       {"weight_decay": 0.1}, {"maximize": True})),
    # Driven by the generic tests with dense gradients, which name every row; its
    # row-sparse gradients are tests/test_sparse_adam.py's.
    OptimizerInfo(
        "SparseAdam", None, (), (Bench("SparseAdam", dict(), 2),),
        options=(
            dict(),
            dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6),
            dict(maximize=True),
            dict(lr=3e-3, betas=(0.0, 0.0), eps=1e-3),
        ),
        full=dict(lr=1e-2, betas=(0.85, 0.995), eps=1e-7, maximize=True),
        groups=ParamGroups(dict(lr=1e-2), (
            {"betas": (0.8, 0.99)}, {"eps": 1e-4, "maximize": True})),
        oracle="torch_sparse_adam",
        refused=(
            (dict(lr=-1.0), ValueError, "lr"), (dict(lr=NAN), ValueError, "lr"),
            (dict(betas=(1.0, 0.9)), ValueError, r"betas\[0\]"),
            (dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
            (dict(betas=None), TypeError, "betas"),
            (dict(eps=0.0), ValueError, "eps"), (dict(eps=NAN), ValueError, "eps"),
            (dict(maximize=None), TypeError, "maximize"),
        ),
        hyper_base=dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-6),
        hyper_changes=({"lr": 0.02}, {"betas": (0.8, 0.9)}, {"eps": 1e-3},
                       {"maximize": True})),
)

#: Optimizers whose parameters cannot be the generic tests' (the harness's shapes are
#: 1-D and 3-D as well as 2-D): not in OPTIMIZERS, so no generic test or bench iterates
#: them; each has its own test file, which holds it to its oracle and checks the same
#: promises (backends, refusals, resume, parameter forms, guards).  The tests that every
#: exported optimizer has a row read both tuples.
OWN_TESTS: tuple[OptimizerInfo, ...] = (
    # Muon takes 2-D parameters only: tests/test_muon.py
    OptimizerInfo("Muon", "Muon", ("forloop",), (Bench("Muon", dict(lr=0.02), 2),)),
)
