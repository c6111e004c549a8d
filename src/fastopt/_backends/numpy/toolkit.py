"""The training toolkit's rules: gradient norms, clipping and weight averaging.

The reductions write the same per-chunk partials as the compiled kernels: element i of a
chunk goes to lane i % 16, each lane is summed in element order, and the lanes are folded
by the same pairwise tree (_common.lane_sums).
"""
import math
from typing import Any, Callable

import numpy as np

from ._common import lane_sums, lerp


def _lane_sum(terms: np.ndarray) -> float:
    """Sum float64 ``terms`` as the kernels do: 16 sequential lanes, then a fixed tree."""
    return float(lane_sums(terms))


def sumsq(p, g, out):
    """out[0] = sum of g*g in float64; out[1] = sum of g*0 (NaN iff some g is inf/NaN),
    computed only where out[0] is not finite."""
    x = g.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # inf * 0 is the NaN we look for
        total = _lane_sum(x * x)
        out[0] = total
        out[1] = 0.0 if total <= np.finfo(np.float64).max else np.cumsum(x * 0.0)[-1]


def abs_sum(p, g, out):
    out[0] = _lane_sum(np.abs(g).astype(np.float64))


def abs_max(p, g, out):
    out[0] = np.abs(g).max()                          # np.max propagates NaN


def _pow(x: float, q: float) -> float:
    """The C library's pow, as the compiled kernels call it (np.power may use another
    implementation and round differently); inf where it overflows, as C's does."""
    try:
        return math.pow(x, q)
    except OverflowError:
        return math.inf


def pow_sum(p, g, seg_in, out):
    norm_type = float(seg_in[0])
    out[0] = _lane_sum(np.array([_pow(x, norm_type) for x in np.abs(g).astype(np.float64).tolist()]))


def scale(p, g, factor):
    g *= factor


def clamp(p, g, clip_value):
    """g = min(max(g, -clip_value), clip_value), NaN kept (torch.clamp)."""
    np.clip(g, -clip_value, clip_value, out=g)


def ema(p, g, average, weight):
    """average += weight * (param - average) (weight = 1 - decay), as torch.lerp computes
    it."""
    with np.errstate(invalid="ignore", over="ignore"):   # inf/NaN parameters: as compiled
        average[...] = lerp(average, p, weight)


def swap(p, g, average):
    held = p.copy()
    p[...] = average
    average[...] = held


KERNELS: dict[str, Callable[..., Any]] = {
    "sumsq": sumsq, "abs_sum": abs_sum, "abs_max": abs_max, "pow_sum": pow_sum,
    "scale": scale, "clamp": clamp, "ema": ema, "swap": swap}
