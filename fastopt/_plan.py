"""Plans: what one kernel call works on.

A plan holds the tensors of one param group and one dtype, their state in flat 64-byte
aligned buffers, and the two tables every backend's kernels read:

- ``addrs[row, j]``: the address of buffer j of the plan's tensor ``row``; column 0 is the
  parameter, 1 the gradient, 2.. the optimizer's state buffers in the order it declares
  them (0 where a state buffer is not in use);
- ``chunks[c] = (row, start, length)``: every tensor cut into pieces of ``CHUNK``
  elements.  The cut does not depend on the thread count, so neither do the results.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import numpy as np

from ._params import Tensor, aligned_zeros, padded

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
        self.state: dict[str, np.ndarray] = {}
        for name in live:
            buf = aligned_zeros(total, dtype)
            fill = init(name)
            if fill != 0:
                buf.fill(fill)
            self.state[name] = buf
        itemsize = dtype.itemsize
        for row, t in enumerate(tensors):
            self.addrs[row, PARAM] = address(t.array)
            self.addrs[row, GRAD] = address(t.flat.grads[t.key]) if t.flat is not None else 0
            for j, name in enumerate(buffer_names):
                if name in self.state:
                    self.addrs[row, 2 + j] = address(self.state[name]) + self.offsets[row] * itemsize
        self.chunks = np.array(
            [(row, start, min(CHUNK, t.array.size - start))
             for row, t in enumerate(tensors) for start in range(0, t.array.size, CHUNK)],
            dtype=np.int64).reshape(-1, 3)

    def state_view(self, name: str, row: int) -> np.ndarray:
        """Buffer ``name`` of tensor ``row``, shaped like the parameter (a view)."""
        t = self.tensors[row]
        off = self.offsets[row]
        return self.state[name][off:off + t.array.size].reshape(t.array.shape)

    def bind(self, backend: Any, kernel: str, n_seg_in: int = 0, n_out: int = 0):
        """``backend``'s kernel bound to this plan, with the per-tensor input array
        (n_tensors x n_seg_in) and per-chunk output array (n_chunks x n_out) it uses."""
        seg_in = np.zeros((len(self.tensors), n_seg_in)) if n_seg_in else None
        out = np.zeros((len(self.chunks), n_out)) if n_out else None
        run = backend.bind(kernel, self.addrs, self.chunks, self.dtype, self.nelem, seg_in, out)
        return run, seg_in, out


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
