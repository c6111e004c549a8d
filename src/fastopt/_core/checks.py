"""Argument checks for the whole library: optimizers' hyperparameters, the step options,
clipping, schedulers, EMA and thread counts.  Each returns the value as a Python float,
int or bool and raises a TypeError (wrong kind) or ValueError (out of range) that names
the argument.  A real number is any ``numbers.Real`` but a bool (NumPy's scalars
included); an integer any ``numbers.Integral`` but a bool."""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def real(name: str, value: Any) -> float:
    """Any real number, as a float (inf and NaN included: the callers bound it)."""
    if type(value) is float:             # the common case, first: this runs every step
        return value
    if not is_real(value):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} is too large for a float: {value!r}") from None


def bounded(name: str, value: Any, *, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False, hi_open: bool = False) -> float:
    """A finite real number within the bounds given (each closed unless ``*_open``)."""
    x = real(name, value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo is not None and (x <= lo if lo_open else x < lo):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}, got {value!r}")
    if hi is not None and (x >= hi if hi_open else x > hi):
        raise ValueError(f"{name} must be {'<' if hi_open else '<='} {hi}, got {value!r}")
    return x


def non_negative(name: str, value: Any, *, finite: bool = True) -> float:
    """A number >= 0, finite unless ``finite=False`` (learning rates, weight decay,
    momentum; clipping bounds may be inf)."""
    x = value if type(value) is float else real(name, value)
    if not (0.0 <= x < math.inf if finite else x >= 0.0):
        raise ValueError(f"{name} must be a {'finite ' if finite else ''}number >= 0, got "
                         f"{value!r}")
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


def integer(name: str, value: Any, *, lo: int | None = None, hi: int | None = None) -> int:
    """An integer within the bounds given (both closed), as an int."""
    if not is_integer(value):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    n = int(value)
    if lo is not None and n < lo or hi is not None and n > hi:
        raise ValueError(f"{name} must be an integer from {lo} to {hi}, got {value!r}"
                         if lo is not None and hi is not None else
                         f"{name} must be >= {lo}, got {value!r}" if lo is not None else
                         f"{name} must be <= {hi}, got {value!r}")
    return n


def pair(name: str, value: Any) -> tuple[Any, Any]:
    """The two items of an ordered pair (a tuple, list or 2-element array; not a set,
    whose order is arbitrary)."""
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (a tuple of 2), got {value!r}")
    return value[0], value[1]


def closed_unit_interval(name: str, value: Any) -> float:
    """A number in [0, 1] (dampening, rho, alpha, ...)."""
    return unit_interval(name, value, closed=True)


def betas(name: str, value: Any) -> tuple[float, float]:
    """A pair of decay rates, each in [0, 1)."""
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
