"""State precision: how an optimizer's state buffers are stored between steps.

``"full"``
    In the parameter's dtype (the default).
``"bfloat16"``
    Each value as a bfloat16 (NumPy sees the buffers as ``ml_dtypes.bfloat16``): decoded
    exactly into the parameter's dtype for the update, written back rounded to nearest,
    ties to even, directly from that dtype.
``"8bit"``
    Block-wise dynamic quantization (Dettmers et al., 2022): each tensor's state is cut
    into blocks of :data:`BLOCK` values; a block stores its largest magnitude ``absmax``
    (in the parameter's dtype) and one byte per value, a code into a 256-value map of
    [-1, 1] (first moments, which have a sign) or [0, 1] (buffers declared non-negative).
    Tensors of fewer than ``min_8bit_size`` elements keep full-precision state.

The update itself always runs on values in the parameter's dtype: each state value is
decoded, the optimizer's unchanged math runs on it, and the new value is encoded back.
So the parameter update uses the new state before it is rounded, and the optimizer's math
is written once whatever the precision.  (The compiled kernels read and write bfloat16
state in place, value by value; 8-bit state, whose blocks need their absmax before any
value can be encoded, goes through a scratch buffer a block at a time.)

This module holds the rule (the maps and the reference encoders, readable NumPy); the
compiled kernels follow it bit for bit (docs/state_precision.md writes it out).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

PRECISIONS = ("full", "bfloat16", "8bit")
BLOCK = 256
#: The chunk length of a plan whose state is stored in bfloat16 or 8 bits: a whole number
#: of blocks whose scratch buffers stay in the L1 cache.
STORED_CHUNK = 2048
#: Tensors smaller than this keep full-precision state under "8bit" (as bitsandbytes).
MIN_8BIT_SIZE = 4096

# The 8-bit encoder's fast path finds a code from a bucket of the float32's magnitude
# (exponent and 7 mantissa bits: its bits 16..30) and sign.  Magnitudes below 2**-23 share
# the first bucket and those from 2 on the last; neither holds a midpoint of either map.
MAG_LO = 104 << 7           # the bucket of 2**-23
MAG_BUCKETS = 25 * 128      # exponents 2**-23 to 2**1


def check_precision(value: Any) -> str:
    if not isinstance(value, str) or value not in PRECISIONS:
        raise ValueError(f"state_precision must be one of {', '.join(map(repr, PRECISIONS))}, "
                         f"got {value!r}")
    return value


def check_min_8bit_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"min_8bit_size must be an int >= 0, got {value!r}")
    return int(value)


def bfloat16_dtype() -> np.dtype:
    import ml_dtypes
    return np.dtype(ml_dtypes.bfloat16)


# ---- bfloat16 ----------------------------------------------------------------------------

def to_bfloat16_bits(x: np.ndarray) -> np.ndarray:
    """The bfloat16 bit patterns (uint16) of float32/float64 values, rounded to nearest,
    ties to even, in one rounding; NaN stays NaN (quieted), inf stays inf."""
    if x.dtype == np.float64:
        # Round to float32 by truncation, keeping a sticky bit in the last place where the
        # rounding was inexact ("round to odd"): float32 has 16 more bits than bfloat16,
        # so rounding that to bfloat16 rounds the double exactly once.
        f = x.astype(np.float32)
        too_far = np.abs(f.astype(np.float64)) > np.abs(x)
        f = np.where(too_far, np.nextafter(f, np.float32(0)), f)
        bits = f.view(np.uint32) | (f.astype(np.float64) != x).astype(np.uint32)
        bits = np.where(np.isnan(x), np.uint32(0x7fc00000) | (np.signbit(x).astype(np.uint32) << 31),
                        bits)
    else:
        bits = np.ascontiguousarray(x, np.float32).view(np.uint32)
    bits = bits.astype(np.uint32)
    nan = (bits & 0x7fffffff) > 0x7f800000
    rounded = (bits + 0x7fff + ((bits >> 16) & 1)) >> 16
    quiet = (bits >> 16) | 0x0040
    return np.where(nan, quiet, rounded).astype(np.uint16)


def from_bfloat16_bits(bits: np.ndarray, dtype: Any) -> np.ndarray:
    """bfloat16 bit patterns as float32/float64 values (exact)."""
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(dtype)


# ---- 8-bit block-wise dynamic quantization ------------------------------------------------

def dynamic_map(signed: bool) -> np.ndarray:
    """The 256 values (float32, ascending) of the dynamic quantization map of Dettmers et
    al. (bitsandbytes' ``create_dynamic_map``): 7 decades, 10**-6 to 1, each a linear
    range of evenly spaced means; a signed map has 2**i means per decade i on each side
    of 0, an unsigned one 2**(i+1) per decade; both hold 0 and 1."""
    values = [np.float32(0.0), np.float32(1.0)]
    for i in range(7):
        n = 2 ** i if signed else 2 ** (i + 1)
        bounds = _linspace32(0.1, 1.0, n + 1)
        means = (bounds[:-1] + bounds[1:]) / np.float32(2)
        scaled = np.float32(10.0 ** (i - 6)) * means
        values += list(scaled)
        if signed:
            values += list(-scaled)
    out = np.sort(np.array(values, np.float32))
    assert out.size == 256 and np.all(np.diff(out) > 0)
    return out


def _linspace32(start: float, stop: float, num: int) -> np.ndarray:
    """float32 points from start to stop as torch.linspace computes them, which the map's
    definition uses: a float32 step, then start + step*i for the first half and
    stop - step*(num-1-i) for the rest, each rounded once (a fused multiply-add; the float64
    products and sums here are exact, so one rounding to float32 gives the same bits)."""
    a, b = np.float32(start), np.float32(stop)
    step = np.float64((b - a) / np.float32(num - 1))
    i = np.arange(num)
    first = np.float64(a) + step * i
    last = np.float64(b) - step * (num - 1 - i)
    return np.where(i < num // 2, first, last).astype(np.float32)


def bucket(x: np.ndarray) -> np.ndarray:
    """The fast encoder's bucket of float32 values: magnitude bucket, plus MAG_BUCKETS if
    the sign bit is set."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.int64)
    mag = np.clip(((u & 0x7fffffff) >> 16) - MAG_LO, 0, MAG_BUCKETS - 1)
    return mag + (u >> 31) * MAG_BUCKETS


class Map:
    """One 8-bit map: ``values[code]``, the 255 ``midpoints`` between neighbours (float32,
    rounded to nearest from their exact mean), the code of 0, and the fast encoder's bucket
    table (``lut[bucket]`` = the number of midpoints below the bucket).

    A value's code is that of the nearest map value, with one exception in the unsigned
    map (second moments): a positive value never becomes 0, but at least the smallest
    positive value.  A second moment rounded to 0 beside a first moment that is not would
    make Adam divide by eps alone, a step thousands of times too long (the "zero-point
    problem" of Li et al., 2023, which is what sparse gradients, as from ReLU layers, run
    into)."""

    def __init__(self, signed: bool):
        self.signed = signed
        self.values = dynamic_map(signed)
        v = self.values.astype(np.float64)
        self.midpoints = ((v[:-1] + v[1:]) / 2).astype(np.float32)
        self.zero_code = int(np.flatnonzero(self.values == 0)[0])
        # The lowest value of each bucket: its smallest magnitude where positive, its
        # largest where negative (the clamped end buckets reach 0 and 2**2).
        mag = (np.arange(MAG_BUCKETS, dtype=np.uint32) + MAG_LO) << 16
        mag[0] = 0
        top = (mag | 0xffff).view(np.float32)
        top[-1] = 4.0
        lowest = np.concatenate([mag.view(np.float32), -top])
        self.lut = np.searchsorted(self.midpoints, lowest, side="left").astype(np.int32)
        # Every bucket holds at most one midpoint, so one comparison finishes a lookup.
        assert np.bincount(bucket(self.midpoints), minlength=2 * MAG_BUCKETS).max() <= 1
        assert np.abs(self.midpoints).min() > 2.0 ** -23

    def encode_block(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        """The codes and absmax of one block of new state values (float32 or float64)."""
        a = np.max(np.abs(x)) if x.size else x.dtype.type(0)
        if not np.isfinite(a):
            return np.full(x.shape, self.zero_code, np.uint8), a
        inv = x.dtype.type(1) / a if a != 0 else x.dtype.type(0)
        r = (x * inv).astype(np.float32)
        codes = np.searchsorted(self.midpoints, r, side="left")
        if not self.signed:
            codes = np.where(r > 0, np.maximum(codes, 1), codes)
        return codes.astype(np.uint8), a

    def decode(self, codes: np.ndarray, absmax: np.ndarray, dtype: Any) -> np.ndarray:
        """State values from codes and their blocks' absmax (one per BLOCK codes)."""
        scale = np.repeat(absmax.astype(dtype), BLOCK)[:codes.size]
        return self.values.astype(dtype)[codes] * scale

    def encode(self, x: np.ndarray, codes: np.ndarray, absmax: np.ndarray) -> None:
        """Write the codes and per-block absmax of values ``x`` (from a block boundary)."""
        for k, start in enumerate(range(0, x.size, BLOCK)):
            codes[start:start + BLOCK], absmax[k] = self.encode_block(x[start:start + BLOCK])


@lru_cache(maxsize=None)
def quantization_map(signed: bool) -> Map:
    return Map(signed)


def n_blocks(n: int) -> int:
    return -(-n // BLOCK)


def decode(precision: str, stored: np.ndarray, absmax: np.ndarray | None, signed: bool,
           dtype: Any) -> np.ndarray:
    """The values (a new array of ``dtype``, shaped like ``stored``) of state stored in
    ``precision``: the values themselves, bfloat16 bits (uint16), or 8-bit codes with their
    blocks' absmax (``signed``: which map)."""
    if precision == "full":
        return np.array(stored, dtype)
    if precision == "bfloat16":
        return from_bfloat16_bits(stored, dtype)
    assert absmax is not None, "8-bit state needs its blocks' absmax"
    codes = np.ascontiguousarray(stored)
    return quantization_map(signed).decode(codes.ravel(), absmax, dtype).reshape(codes.shape)


def encode(precision: str, values: np.ndarray, stored: np.ndarray, absmax: np.ndarray | None,
           signed: bool) -> None:
    """Write ``values`` into ``stored`` (and 8-bit blocks' ``absmax``) in ``precision``,
    blocks counted from the first value; ``stored`` is a contiguous array or view."""
    if precision == "full":
        stored[...] = values.reshape(stored.shape)
    elif precision == "bfloat16":
        stored[...] = to_bfloat16_bits(values).reshape(stored.shape)
    else:
        assert absmax is not None, "8-bit state needs its blocks' absmax"
        quantization_map(signed).encode(values.ravel(), stored.reshape(-1), absmax)
