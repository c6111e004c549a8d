"""Hand-written NumPy optimizers: what a user writes without fastopt, the benches'
"vs NumPy" peers (checked against fastopt in tests/test_bench_peers.py).

One module per optimizer, named as in ``fastopt/optimizers/``.  Each holds a function that
takes the hyperparameters (torch's names, fastopt's defaults, only the options it
implements) and returns the optimizer's two versions side by side:

- ``naive(p, g)``: allocates on every step, as textbook code does (``m = b1*m + (1-b1)*g``);
- ``inplace(p, g)``: the best one can do with NumPy alone (ufuncs with ``out=``, scratch
  buffers allocated once).

Both take one parameter array (updated in place) and its gradient (read on every step) and
return a zero-argument step function.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from .adadelta import adadelta
from .adafactor import adafactor
from .adagrad import adagrad
from .adam import adam, adamw
from .adamax import adamax
from .ademamix import ademamix
from .adopt import adopt
from .asgd import asgd
from .lamb import lamb
from .lion import lion
from .nadam import nadam
from .radam import radam
from .rmsprop import rmsprop
from .rprop import rprop
from .schedulefree import schedulefree_adamw, schedulefree_sgd
from .sgd import sgd

#: (p, g) -> step function
Factory = Callable[[Any, Any], Callable[[], None]]

#: fastopt class name -> its hand-written versions
HANDWRITTEN: dict[str, Callable[..., tuple[Factory, Factory]]] = {
    "Adam": adam, "AdamW": adamw, "SGD": sgd, "RMSprop": rmsprop, "Adagrad": adagrad,
    "Adadelta": adadelta, "Adamax": adamax, "NAdam": nadam, "RAdam": radam, "Rprop": rprop,
    "Lion": lion, "Lamb": lamb, "ADOPT": adopt, "AdEMAMix": ademamix, "ASGD": asgd,
    "ScheduleFreeAdamW": schedulefree_adamw, "ScheduleFreeSGD": schedulefree_sgd,
    "Adafactor": adafactor,
}


def versions(cls: str, kwargs: dict[str, Any]) -> tuple[Factory, Factory] | None:
    """The naive and in-place versions of fastopt's ``cls`` with ``kwargs``, or None where
    there is no hand-written ``cls`` or it lacks one of the options."""
    optimizer = HANDWRITTEN.get(cls)
    if optimizer is None:
        return None
    try:
        inspect.signature(optimizer).bind(**kwargs)
    except TypeError:
        return None
    return optimizer(**kwargs)
