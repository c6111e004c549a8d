"""Plans: what one kernel call works on.

A plan holds the tensors of one param group and one dtype, their state in flat 64-byte
aligned buffers, and the two tables every backend's kernels read:

- ``addrs[row, j]``: the address of buffer j of the plan's tensor ``row``; column 0 is the
  parameter, 1 the gradient, 2.. the optimizer's state buffers in the order it declares
  them (0 where a state buffer is not in use);
- ``chunks[c] = (row, start, length)``: every tensor cut into pieces of ``CHUNK``
  elements.  The cut does not depend on the thread count, so neither do the results.

Reductions (gradient norms) write one float64 partial per chunk; :func:`fsum_partials`
combines them with an exactly rounded sum, which depends neither on the thread count nor
on the order of the chunks, plans or param groups.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any, Callable, Iterable

import numpy as np

from .kernel import Kernel
from .params import Tensor, aligned_zeros, padded

CHUNK = 1 << 15      # elements; a multiple of 16 so chunks of aligned tensors stay aligned
PARAM, GRAD = 0, 1   # the first two columns of the address table


def address(arr: np.ndarray) -> int:
    return arr.__array_interface__["data"][0]


class Plan:
    def __init__(self, group: int, dtype: np.dtype, tensors: list[Tensor], table: np.ndarray,
                 first_row: int, buffer_names: tuple[str, ...], live: tuple[str, ...],
                 init: Callable[[str], float]):
        self.group = group
        self.dtype = dtype
        self.tensors = tensors
        self.addrs = table[first_row:first_row + len(tensors)]
        self.first_row = first_row
        self.buffer_names = buffer_names
        self.offsets = []
        total = 0
        for t in tensors:
            self.offsets.append(total)
            total += padded(t.array.size, dtype)
        self.nelem = sum(t.array.size for t in tensors)
        self.total = total
        self.state: dict[str, np.ndarray] = {}
        # The flat gradient views of FlatParams: held here, since the table keeps only
        # their addresses.
        self.flat_grads = [t.flat.grads[t.key] if t.flat is not None else None
                           for t in tensors]
        for row, t in enumerate(tensors):
            self.addrs[row, PARAM] = address(t.array)
            grad = self.flat_grads[row]
            self.addrs[row, GRAD] = address(grad) if grad is not None else 0
        for name in live:
            self.add_buffer(name, init(name))
        self.chunks = chunk_table([t.array.size for t in tensors])

    def add_buffer(self, name: str, fill: float = 0.0) -> None:
        """Allocate state buffer ``name`` (filled with ``fill``) and point the table at it."""
        buf = aligned_zeros(self.total, self.dtype)
        if fill != 0:
            buf.fill(fill)
        self.state[name] = buf
        j = 2 + self.buffer_names.index(name)
        for row in range(len(self.tensors)):
            self.addrs[row, j] = address(buf) + self.offsets[row] * self.dtype.itemsize

    def state_view(self, name: str, row: int) -> np.ndarray:
        """Buffer ``name`` of tensor ``row``, shaped like the parameter (a view)."""
        t = self.tensors[row]
        off = self.offsets[row]
        return self.state[name][off:off + t.array.size].reshape(t.array.shape)

    def bind(self, backend: Any, kernel: Kernel):
        """``backend``'s ``kernel`` bound to this plan, with the per-tensor input array
        (n_tensors x len(kernel.seg_in)) and per-chunk output array (n_chunks x
        len(kernel.outputs)) it uses (None where it has none)."""
        seg_in = np.zeros((len(self.tensors), len(kernel.seg_in))) if kernel.seg_in else None
        out = np.zeros((len(self.chunks), len(kernel.outputs))) if kernel.outputs else None
        run = backend.bind(kernel, self.addrs, self.chunks, self.dtype, self.nelem, seg_in, out)
        return run, seg_in, out


def chunk_table(sizes: Iterable[int]) -> np.ndarray:
    """``(row, start, length)`` of every piece of ``CHUNK`` elements of arrays of these
    sizes, row by row (an (n, 3) int64 table; empty arrays have no piece)."""
    sizes = np.asarray(list(sizes), np.int64)
    counts = -(-sizes // CHUNK)
    rows = np.repeat(np.arange(len(sizes), dtype=np.int64), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    starts = (np.arange(len(rows), dtype=np.int64) - first) * CHUNK
    lengths = np.minimum(CHUNK, sizes[rows] - starts)
    return np.ascontiguousarray(np.stack([rows, starts, lengths], axis=1), np.int64)


def fsum_partials(outs: list[np.ndarray], col: int = 0) -> float:
    """The exactly rounded sum of column ``col`` of per-chunk partials (inf where finite
    partials overflow, NaN where one is NaN)."""
    values = [x for out in outs for x in out[:, col].tolist()] if len(outs) != 1 \
        else outs[0][:, col].tolist()
    try:
        return math.fsum(values)
    except OverflowError:           # finite partials whose sum overflows (or NaN beside them)
        return math.nan if any(x != x for x in values) else math.inf


def build_plans(tensors: list[Tensor], n_groups: int, buffer_names: tuple[str, ...],
                live: Callable[[int], tuple[str, ...]],
                init: Callable[[int, str], float]) -> tuple[list[Plan], np.ndarray, np.ndarray]:
    """Plans for every (group, dtype), the shared address table, and each tensor's row in
    it (in the user's order of tensors)."""
    table = np.zeros((len(tensors), 2 + len(buffer_names)), np.int64)
    rows = np.empty(len(tensors), np.intp)
    plans = []
    first = 0
    for g in range(n_groups):
        for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
            members = [i for i, t in enumerate(tensors) if t.group == g and t.array.dtype == dtype]
            if not members:
                continue
            rows[members] = np.arange(first, first + len(members))
            plans.append(Plan(g, dtype, [tensors[i] for i in members], table, first,
                              buffer_names, live(g), partial(init, g)))
            first += len(members)
    return plans, table, rows
