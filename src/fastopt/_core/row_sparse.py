"""Row-sparse gradients: ``(indices, rows)`` for a 2-D parameter, checked and coalesced.

``indices`` is a 1-D integer array of length k (any integer dtype, values in [0, n_rows),
duplicates and any order allowed) and ``rows`` a C-contiguous (k, n_cols) array of the
parameter's dtype: row j of the gradient is the sum of ``rows[i]`` over every i with
``indices[i] == j``, and rows that no index names are not touched.

Coalescing is a stable argsort of the indices: the runs of equal indices in that order say
which gradient rows are summed into which parameter row, in the order they were given
(as torch's ``coalesce()``), and every backend's row kernel sums them alike.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from . import _native
from .plan import address


class RowRuns(NamedTuple):
    """The coalesced form a row kernel reads: parameter row ``targets[r]`` gets the sum of
    ``rows[order[starts[r]]]``, ..., ``rows[order[starts[r+1] - 1]]``."""
    rows: np.ndarray        # (k, n_cols), the gradient rows as given
    order: np.ndarray       # int64 (k,)
    starts: np.ndarray      # int64 (runs + 1,)
    targets: np.ndarray     # int64 (runs,), increasing

    def coalesced(self) -> np.ndarray:
        """The summed rows, (runs, n_cols) (a new array; for the norm and the inf/NaN
        check of a guarded step)."""
        if len(self.targets) == 0:
            return self.rows[:0]
        return np.add.reduceat(self.rows[self.order], self.starts[:-1], axis=0)


def is_row_sparse(grad: Any) -> bool:
    """Whether ``grad`` is given in the row-sparse form (a 2-tuple)."""
    return isinstance(grad, tuple) and len(grad) == 2


def check_row_sparse(grad: tuple, param: np.ndarray, label: str, span_lo: np.ndarray,
                     span_hi: np.ndarray, span_labels: list[str]) -> RowRuns:
    """``grad = (indices, rows)`` for ``param`` checked (TypeError/ValueError naming the
    parameter) and coalesced; nothing is changed."""
    indices, rows = grad
    where = f"row-sparse gradient (indices, rows) for parameter {label}"
    if param.ndim != 2:
        raise TypeError(f"{where}: the parameter is {param.ndim}-D, row-sparse gradients "
                        f"are for 2-D parameters (pass a dense array)")
    if not isinstance(indices, np.ndarray) or not isinstance(rows, np.ndarray):
        raise TypeError(f"{where}: indices and rows must be NumPy arrays, got "
                        f"{type(indices).__name__} and {type(rows).__name__}")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{where}: indices must be integers, got dtype {indices.dtype}")
    if indices.ndim != 1:
        raise ValueError(f"{where}: indices must be 1-D, got shape {indices.shape}")
    if rows.dtype != param.dtype or not rows.dtype.isnative:
        raise TypeError(f"{where}: rows have dtype {rows.dtype.str}, the parameter has "
                        f"{param.dtype}")
    if rows.ndim != 2 or rows.shape[1] != param.shape[1]:
        raise ValueError(f"{where}: rows have shape {rows.shape}, expected "
                         f"(k, {param.shape[1]})")
    if rows.shape[0] != indices.shape[0]:
        raise ValueError(f"{where}: {indices.shape[0]} indices for {rows.shape[0]} rows")
    if not rows.flags.c_contiguous:
        raise ValueError(f"{where}: rows are not C-contiguous")
    k = _native.overlapping(address(rows), rows.nbytes, span_lo, span_hi)
    if k >= 0:
        what = span_labels[k]
        raise ValueError(f"{where}: rows share memory with "
                         + (what if what.startswith("the ") else f"parameter {what}"))
    n_rows = param.shape[0]
    if indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= n_rows:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{where}: index {bad} is out of range for a parameter of "
                             f"{n_rows} rows")
    return coalesce(indices.astype(np.int64, copy=False), rows)


def coalesce(indices: np.ndarray, rows: np.ndarray) -> RowRuns:
    """The runs of equal ``indices`` (int64, checked) in stable sorted order."""
    k = indices.shape[0]
    order = np.argsort(indices, kind="stable")
    ordered = indices[order]
    starts = np.empty(k + 1 if k else 1, np.int64)
    if k:
        new = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
        starts = np.concatenate(([0], new, [k])).astype(np.int64, copy=False)
    else:
        starts[0] = 0
    return RowRuns(rows, order, starts, ordered[starts[:-1]])


def whole(grad: np.ndarray) -> RowRuns:
    """A dense gradient as the row-sparse one that names every element: one row of all
    of them (the update is element-wise, so this is the same as every row by index)."""
    return RowRuns(grad.reshape(1, -1), _ZERO, _ONE_RUN, _ZERO)


_ZERO = np.zeros(1, np.int64)
_ONE_RUN = np.array([0, 1], np.int64)
