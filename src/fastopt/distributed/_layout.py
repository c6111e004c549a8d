"""Where each parameter lies in one flat buffer, and the slice of it each rank updates."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._core import storage
from .._core.params import FlatParams, Tensor, padded
from .._core.plan import CHUNK

# Slices start on a kernel chunk of their tensor (which is a whole number of 8-bit blocks
# and of the chunks of stored state): each rank's chunks are then the very chunks one
# process has, with the same partial sums.
UNIT = CHUNK
assert UNIT % storage.STORED_CHUNK == 0 and storage.STORED_CHUNK % storage.BLOCK == 0


@dataclass(frozen=True)
class Piece:
    """Elements ``[start, stop)`` of a parameter (flattened) that one rank updates, at
    ``offset`` in the flat buffer."""
    start: int
    stop: int
    offset: int

    @property
    def size(self) -> int:
        return self.stop - self.start


class ShardLayout:
    """The parameters of one dtype laid out in one flat buffer (a FlatParams' own, or
    the same layout made up for other forms), cut into ``ranks`` contiguous slices of
    about equal size at chunk boundaries of the tensors.  Each tensor meets each slice
    in one piece (empty for most)."""

    def __init__(self, tensors: list[Tensor], flat: FlatParams | None, ranks: int):
        dtypes = {t.array.dtype for t in tensors}
        if len(dtypes) != 1:
            raise TypeError(f"sharded parameters must share one dtype, got "
                            f"{', '.join(sorted(map(str, dtypes)))}")
        self.dtype = np.dtype(dtypes.pop())
        self.sizes = [t.array.size for t in tensors]
        if flat is not None:
            self.offsets = [int(flat.offsets[t.key]) for t in tensors]
            self.total = flat.data.size
        else:
            ends = np.cumsum([padded(n, self.dtype) for n in self.sizes])
            self.offsets = [int(e) for e in ends - [padded(n, self.dtype) for n in self.sizes]]
            self.total = int(ends[-1]) if len(ends) else 0
        cuts = sorted({off + k for off, n in zip(self.offsets, self.sizes)
                       for k in range(0, n, UNIT)} | {0, self.total})
        bounds = [0]
        for r in range(1, ranks):
            target = r * self.total / ranks
            i = int(np.searchsorted(cuts, target))
            near = min(cuts[max(i - 1, 0):i + 1], key=lambda c: abs(c - target))
            bounds.append(max(near, bounds[-1]))
        bounds.append(self.total)
        self.bounds = np.array(bounds, np.int64)
        self.counts = np.diff(self.bounds)
        self.displs = self.bounds[:-1].copy()

    def pieces(self, rank: int) -> list[Piece]:
        """Each tensor's piece in rank ``rank``'s slice (``start == stop`` where none)."""
        lo, hi = int(self.bounds[rank]), int(self.bounds[rank + 1])
        out = []
        for off, n in zip(self.offsets, self.sizes):
            start = min(max(lo - off, 0), n)
            stop = max(min(hi - off, n), start)
            out.append(Piece(start, stop, off + start))
        return out
