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

A plan's state is stored in one precision (storage.py): in the parameters' dtype, or in
bfloat16 or 8-bit codes, whose tables hold the address of the stored values and, after the
state columns, of each buffer's per-block absmax (8-bit); their chunks are
``STORED_CHUNK`` long, so that each starts on a block boundary.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any, Callable, Iterable

import numpy as np

from . import storage
from .kernel import Kernel
from .params import Tensor, aligned_zeros, padded

#: ``state_shape(name, param_shape, precision)``: the shape of state buffer ``name`` of a
#: parameter of that shape whose state is stored in ``precision``, or None where the
#: parameter has no such buffer.
StateShape = Callable[[str, tuple[int, ...], str], "tuple[int, ...] | None"]

CHUNK = 1 << 15      # elements; a multiple of 16 so chunks of aligned tensors stay aligned
PARAM, GRAD = 0, 1   # the first two columns of the address table


def address(arr: np.ndarray) -> int:
    return arr.__array_interface__["data"][0]


class Plan:
    def __init__(self, group: int, dtype: np.dtype, tensors: list[Tensor], table: np.ndarray,
                 first_row: int, buffer_names: tuple[str, ...], live: tuple[str, ...],
                 init: Callable[[str], float], precision: str = "full",
                 nonnegative: tuple[str, ...] = (), state_shape: StateShape | None = None):
        self.group = group
        self.dtype = dtype
        self.tensors = tensors
        self.addrs = table[first_row:first_row + len(tensors)]
        self.first_row = first_row
        self.buffer_names = buffer_names
        #: How the state is stored: "full", "bfloat16" or "8bit" (storage.py).
        self.precision = precision
        self.unsigned = tuple(name in nonnegative for name in buffer_names)
        self.offsets = []
        self.block_offsets = []
        total = blocks = 0
        for t in tensors:
            self.offsets.append(total)
            self.block_offsets.append(blocks)
            total += padded(t.array.size, dtype)
            blocks += storage.n_blocks(t.array.size)
        self.nelem = sum(t.array.size for t in tensors)
        self.total = total
        self.total_blocks = blocks
        # Each buffer's shape per tensor (None: the tensor has no such buffer) and where
        # it starts in the buffer's flat array; parameter-shaped state shares the
        # parameters' offsets.
        self.state_shapes: dict[str, list[tuple[int, ...] | None]] = {}
        self.state_offsets: dict[str, list[int]] = {}
        self.state_totals: dict[str, int] = {}
        for name in buffer_names:
            shapes = [state_shape(name, t.array.shape, precision) if state_shape is not None
                      else t.array.shape for t in tensors]
            self.state_shapes[name] = shapes
            if all(s == t.array.shape for s, t in zip(shapes, tensors)):
                self.state_offsets[name], self.state_totals[name] = self.offsets, total
                continue
            if all(s is None for s in shapes):      # no tensor here has it: nothing stored
                self.state_offsets[name], self.state_totals[name] = [0] * len(tensors), 0
                continue
            if precision != "full":
                raise ValueError(f"state {name!r} is not shaped like its parameters: it can "
                                 f"only be stored in full precision, not {precision!r}")
            offsets, end = [], 0
            for s in shapes:
                offsets.append(end)
                end += padded(math.prod(s), dtype) if s is not None else 0
            self.state_offsets[name], self.state_totals[name] = offsets, end
        #: Each state buffer's values (in the parameters' dtype), bfloat16 bits (uint16)
        #: or 8-bit codes (uint8), by name; 8-bit buffers' per-block absmax in ``absmax``.
        self.state: dict[str, np.ndarray] = {}
        self.absmax: dict[str, np.ndarray] = {}
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
        self.chunks = chunk_table([t.array.size for t in tensors],
                                  CHUNK if precision == "full" else storage.STORED_CHUNK)

    def add_buffer(self, name: str, fill: float = 0.0) -> None:
        """Allocate state buffer ``name`` (filled with ``fill``) and point the table at it."""
        j = self.buffer_names.index(name)
        if self.state_totals[name] == 0:
            buf = aligned_zeros(0, self.dtype)
        elif self.precision == "full":
            buf = aligned_zeros(self.state_totals[name], self.dtype)
            if fill != 0:
                buf.fill(fill)
        elif self.precision == "bfloat16":
            buf = aligned_zeros(self.total, np.uint16)
            buf.fill(storage.to_bfloat16_bits(np.array([fill], self.dtype))[0])
        else:
            buf = aligned_zeros(self.total, np.uint8)
            code, a = self._map(j).encode_block(np.array([fill], self.dtype))
            buf.fill(code[0])
            absmax = aligned_zeros(self.total_blocks, self.dtype)
            absmax.fill(a)
            self.absmax[name] = absmax
            for row in range(len(self.tensors)):
                self.addrs[row, 2 + len(self.buffer_names) + j] = \
                    address(absmax) + self.block_offsets[row] * self.dtype.itemsize
        self.state[name] = buf
        for row in range(len(self.tensors)):
            self.addrs[row, 2 + j] = (address(buf) + self.state_offsets[name][row] * buf.itemsize
                                      if self.has(name, row) else 0)

    def has(self, name: str, row: int) -> bool:
        """Whether tensor ``row`` has state buffer ``name`` at all (Adafactor: a vector
        has a variance, a matrix row and column statistics)."""
        return self.state_shapes[name][row] is not None

    def state_shape(self, name: str, row: int) -> tuple[int, ...]:
        """The shape of buffer ``name`` of tensor ``row`` (which has it)."""
        shape = self.state_shapes[name][row]
        assert shape is not None, f"tensor {row} has no state {name!r}"
        return shape

    def _map(self, j: int) -> storage.Map:
        return storage.quantization_map(not self.unsigned[j])

    def arrays(self) -> list[np.ndarray]:
        """Every array the state lives in."""
        return list(self.state.values()) + list(self.absmax.values())

    def _stored(self, name: str, row: int) -> np.ndarray:
        """Buffer ``name`` of tensor ``row`` as stored, in its shape (a view)."""
        shape = self.state_shape(name, row)
        off = self.state_offsets[name][row]
        return self.state[name][off:off + math.prod(shape)].reshape(shape)

    def _absmax(self, name: str, row: int) -> np.ndarray:
        off = self.block_offsets[row]
        return self.absmax[name][off:off + storage.n_blocks(self.tensors[row].array.size)]

    def state_view(self, name: str, row: int) -> np.ndarray:
        """Buffer ``name`` of tensor ``row``, shaped like the parameter: a live view in the
        parameters' dtype or in bfloat16, or for 8-bit state its values decoded (a
        read-only copy)."""
        stored = self._stored(name, row)
        if self.precision == "full":
            return stored
        if self.precision == "bfloat16":
            return stored.view(storage.bfloat16_dtype())
        values = self.values(name, row)
        values.flags.writeable = False
        return values

    def values(self, name: str, row: int) -> np.ndarray:
        """Buffer ``name`` of tensor ``row`` in the parameters' dtype (a new array)."""
        return entry_values(self.entry(name, row), self.tensors[row].array,
                            self.unsigned[self.buffer_names.index(name)])

    def entry(self, name: str, row: int) -> Any:
        """Buffer ``name`` of tensor ``row`` as state_dict holds it (a copy of what is
        stored): an array like the parameter, in its dtype or in bfloat16, or for 8-bit
        state ``{"codes": uint8 array like the parameter, "absmax": one per block}``."""
        stored = self._stored(name, row).copy()
        if self.precision == "full":
            return stored
        if self.precision == "bfloat16":
            return stored.view(storage.bfloat16_dtype())
        return {"codes": stored, "absmax": self._absmax(name, row).copy()}

    def restore(self, name: str, row: int, entry: Any) -> None:
        """Set buffer ``name`` of tensor ``row`` from a state_dict entry (checked by
        :func:`check_entry`): bitwise where it is stored in this plan's precision, else
        its values encoded in it."""
        j = self.buffer_names.index(name)
        stored = self._stored(name, row)
        param = self.tensors[row].array
        form = entry_precision(entry, param)
        if form == self.precision == "8bit":
            stored[...] = entry["codes"]
            self._absmax(name, row)[...] = entry["absmax"]
        elif form == self.precision:
            stored[...] = entry.view(stored.dtype) if form == "bfloat16" else entry
        else:
            storage.encode(self.precision, entry_values(entry, param, self.unsigned[j]), stored,
                           self._absmax(name, row) if self.precision == "8bit" else None,
                           not self.unsigned[j])

    def bind(self, backend: Any, kernel: Kernel):
        """``backend``'s ``kernel`` bound to this plan, with the per-tensor input array
        (n_tensors x len(kernel.seg_in)) and per-chunk output array (n_chunks x
        len(kernel.outputs)) it uses (None where it has none).  An optimizer's kernel on
        a plan with stored state runs inside the backend's stored chunk function; kernels
        that read no state (the toolkit's) run as they are."""
        seg_in = np.zeros((len(self.tensors), len(kernel.seg_in))) if kernel.seg_in else None
        out = np.zeros((len(self.chunks), len(kernel.outputs))) if kernel.outputs else None
        if self.precision != "full" and kernel.buffers:
            if kernel.buffers != self.buffer_names:
                raise ValueError(f"kernel {kernel.name} reads buffers {kernel.buffers}, "
                                 f"the plan stores {self.buffer_names}")
            how = (self.precision if kernel.decodes_state else f"{self.precision} {kernel.name}",
                   tuple(name in kernel.nonnegative for name in kernel.buffers),
                   kernel.writes_state)
            run = backend.bind(kernel, self.addrs, self.chunks, self.dtype, self.nelem, seg_in,
                               out, storage=how)
        else:
            run = backend.bind(kernel, self.addrs, self.chunks, self.dtype, self.nelem,
                               seg_in, out)
        return run, seg_in, out

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays())


def entry_precision(entry: Any, like: np.ndarray) -> str:
    """The precision a (checked) state_dict entry of a parameter like ``like`` is in."""
    if isinstance(entry, dict):
        return "8bit"
    return "full" if entry.dtype == like.dtype else "bfloat16"


def entry_values(entry: Any, like: np.ndarray, unsigned: bool) -> np.ndarray:
    """A (checked) state_dict entry's values in the dtype of ``like``, shaped like it."""
    form = entry_precision(entry, like)
    if form == "8bit":
        stored, absmax = entry["codes"], entry["absmax"]
    else:
        stored = np.ascontiguousarray(entry).view(np.uint16) if form == "bfloat16" else entry
        absmax = None
    return storage.decode(form, stored, absmax, not unsigned, like.dtype)


def check_entry(entry: Any, like: np.ndarray, what: str,
                shape: tuple[int, ...] | None = None) -> None:
    """Refuse a state_dict entry that is not a parameter's state in one of the stored
    forms (see Plan.entry); ``shape``: the state's, where it is not the parameter's
    (then only its full-precision form is allowed)."""
    if shape is not None and shape != like.shape:
        if not isinstance(entry, np.ndarray) or entry.shape != shape \
                or entry.dtype != like.dtype:
            got = (f"{entry.dtype} {entry.shape}" if isinstance(entry, np.ndarray)
                   else type(entry).__name__)
            raise ValueError(f"{what} must be a {like.dtype} array of shape {shape}, "
                             f"got {got}")
        return
    if isinstance(entry, dict):
        if set(entry) != {"codes", "absmax"}:
            raise ValueError(f"{what}: 8-bit state must hold codes and absmax, got "
                             f"{sorted(map(str, entry))}")
        codes, absmax = entry["codes"], entry["absmax"]
        blocks = (storage.n_blocks(like.size),)
        if not isinstance(codes, np.ndarray) or codes.dtype != np.uint8 \
                or codes.shape != like.shape:
            raise ValueError(f"{what}: codes must be a uint8 array of shape {like.shape}")
        if not isinstance(absmax, np.ndarray) or absmax.dtype != like.dtype \
                or absmax.shape != blocks:
            raise ValueError(f"{what}: absmax must be a {like.dtype} array of shape {blocks}")
        return
    if isinstance(entry, np.ndarray) and entry.dtype.name == "bfloat16" \
            and entry.dtype.itemsize == 2:
        if entry.shape != like.shape:
            raise ValueError(f"{what} must be a bfloat16 array of shape {like.shape}, got "
                             f"{entry.shape}")
        return
    if not isinstance(entry, np.ndarray) or entry.shape != like.shape \
            or entry.dtype != like.dtype:
        got = (f"{entry.dtype} {entry.shape}" if isinstance(entry, np.ndarray)
               else type(entry).__name__)
        raise ValueError(f"{what} must be a {like.dtype} array of shape {like.shape} (or "
                         f"its bfloat16 or 8-bit form), got {got}")


def chunk_table(sizes: Iterable[int], chunk: int = CHUNK) -> np.ndarray:
    """``(row, start, length)`` of every piece of ``chunk`` elements of arrays of these
    sizes, row by row (an (n, 3) int64 table; empty arrays have no piece)."""
    sizes = np.asarray(list(sizes), np.int64)
    counts = -(-sizes // chunk)
    rows = np.repeat(np.arange(len(sizes), dtype=np.int64), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    starts = (np.arange(len(rows), dtype=np.int64) - first) * chunk
    lengths = np.minimum(chunk, sizes[rows] - starts)
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
                init: Callable[[int, str], float],
                precision: Callable[[Tensor], str] = lambda t: "full",
                nonnegative: tuple[str, ...] = (),
                state_shape: StateShape | None = None
                ) -> tuple[list[Plan], np.ndarray, np.ndarray]:
    """Plans for every (group, dtype, state precision), the shared address table, and
    each tensor's row in it (in the user's order of tensors)."""
    table = np.zeros((len(tensors), 2 + 2 * len(buffer_names)), np.int64)
    rows = np.empty(len(tensors), np.intp)
    plans = []
    first = 0
    kinds = [precision(t) for t in tensors]
    for g in range(n_groups):
        for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
            for kind in storage.PRECISIONS:
                members = [i for i, t in enumerate(tensors)
                           if t.group == g and t.array.dtype == dtype and kinds[i] == kind]
                if not members:
                    continue
                rows[members] = np.arange(first, first + len(members))
                plans.append(Plan(g, dtype, [tensors[i] for i in members], table, first,
                                  buffer_names, live(g), partial(init, g), kind, nonnegative,
                                  state_shape))
                first += len(members)
    return plans, table, rows
