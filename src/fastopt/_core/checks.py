"""Hyperparameter checks shared by the optimizers.  Each returns the value as a Python
float (or bool) and raises a ValueError/TypeError that names the hyperparameter."""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def real(name: str, value: Any) -> float:
    if type(value) is float:             # the common case, first: this runs every step
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} is too large for a float: {value!r}") from None


def non_negative(name: str, value: Any) -> float:
    """A finite number >= 0 (learning rates, weight decay, momentum, ...)."""
    x = value if type(value) is float else real(name, value)
    if not 0.0 <= x < math.inf:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return x


def positive(name: str, value: Any) -> float:
    """A finite number > 0 (eps, ...)."""
    x = value if type(value) is float else real(name, value)
    if not 0.0 < x < math.inf:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return x


def unit_interval(name: str, value: Any, *, closed: bool = False) -> float:
    """A number in [0, 1), or [0, 1] with closed=True (decay rates)."""
    x = value if type(value) is float else real(name, value)
    if not (0.0 <= x <= 1.0 if closed else 0.0 <= x < 1.0):
        raise ValueError(f"{name} must be in [0, {'1]' if closed else '1)'}, got {value!r}")
    return x


def pair(name: str, value: Any) -> tuple[Any, Any]:
    """The two items of an ordered pair (a tuple, list or 2-element array; not a set,
    whose order is arbitrary)."""
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (a tuple of 2), got {value!r}")
    return value[0], value[1]


def betas(value: Any, name: str = "betas") -> tuple[float, float]:
    if type(value) is tuple and len(value) == 2:
        b1, b2 = value
        if type(b1) is float and type(b2) is float and 0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0:
            return value
    b1, b2 = pair(name, value)
    return unit_interval(f"{name}[0]", b1), unit_interval(f"{name}[1]", b2)


def flag(name: str, value: Any) -> bool:
    if value is True or value is False:
        return value
    if not isinstance(value, (bool, int, np.bool_)) or value not in (0, 1):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)
