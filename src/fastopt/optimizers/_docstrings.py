"""The parameter descriptions that every optimizer's docstring shares, written once.

A class docstring names one by a placeholder line in its Parameters section
(``%(params)s``, ``%(maximize)s``, ``%(backend)s``, ``%(options)s``), which
:func:`shared_parameters` fills in when the class is defined.
"""
from __future__ import annotations

from typing import TypeVar

_SHARED = {
    "params": """\
params : list or dict of arrays, list of param groups, or FlatParams
    The float32/float64 arrays to optimize, updated in place: a list, a dict of named
    arrays, torch-style param groups (dicts with ``"params"`` and their own
    hyperparameters), or ``fastopt.flatten(...)``.""",
    "maximize": """\
maximize : bool, default False
    Maximize the objective instead: the gradient is negated before anything else.""",
    "backend": """\
backend : str or None, default None
    The kernels: ``"cython"``, ``"numba"`` or ``"numpy"`` (the readable reference);
    None uses ``fastopt.get_backend()`` (``"cython"`` unless set otherwise).""",
    "schedulefree": """\
warmup_steps : int, default 0
    The learning rate rises linearly over this many steps.
r : float, default 0.0
    The average's weights grow as ``t**r``.
weight_lr_power : float, default 2.0
    ... and as ``lr_max**weight_lr_power`` (the largest lr so far).""",
    "options": """\
**options
    The step options every optimizer takes, keyword-only: ``max_grad_norm=None``
    (clip the global gradient norm inside the step) and ``nonfinite="propagate"``
    (``"skip"`` or ``"raise"`` on inf/NaN gradients).  See :class:`fastopt.Optimizer`.""",
}
# Docstring lines below the first are indented by 4 spaces inside a class body.
_INDENTED = {name: text.replace("\n", "\n    ") for name, text in _SHARED.items()}

T = TypeVar("T", bound=type)


def shared_parameters(cls: T) -> T:
    """Fill the shared parameter descriptions into ``cls``'s docstring."""
    if cls.__doc__:
        cls.__doc__ = cls.__doc__ % _INDENTED
    return cls
