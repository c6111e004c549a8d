"""Each kernel's interface, defined once.

A :class:`Kernel` names what one kernel call works on, in order: the state buffers after
the parameter and the gradient, the per-step scalars (an optimizer's start with the
gradient scale ``gscale`` that the core supplies), the per-tensor float64 inputs and the
per-chunk float64 outputs.  Every backend's kernel of that name follows it:

- ``numpy``: a function whose parameters are :attr:`Kernel.arguments`, by name;
- ``cython``: ``b[j]`` is buffer j of ``("p", "g") + buffers`` and ``s[k]`` scalar k of
  :attr:`Kernel.all_scalars`, read into variables of those names;
- ``numba``: the same reads (``carray(b[j], n)``, ``s[k]``).

``tests/test_kernel_interfaces.py`` holds every backend to this, and ``bind`` refuses a
compiled kernel whose scalar count differs.  The optimizer computes its scalars by name
with :meth:`Kernel.pack`, so nothing but this definition decides their order.
"""
from __future__ import annotations

from typing import Any, Callable


class Kernel:
    """The interface of the kernel ``name``."""

    def __init__(self, name: str, buffers: tuple[str, ...], scalars: tuple[str, ...],
                 seg_in: tuple[str, ...] = (), outputs: tuple[str, ...] = (), *,
                 gscale: bool = True, nonnegative: tuple[str, ...] = (),
                 writes_state: bool = True, decodes_state: bool = True, chunked: bool = True):
        self.name = name
        #: False where no backend runs it over the chunks of a plan (SparseAdam's row
        #: kernel, Adafactor's per-tensor rule): it then names the state and the scalars of
        #: a step the optimizer runs itself, and the chunk registries do not hold it.
        self.chunked = chunked
        #: State buffers, in the address table's column order (after "p" and "g").
        self.buffers = tuple(buffers)
        #: The state buffers whose values are never negative (second moments): stored in
        #: 8 bits with the unsigned map, which spends all 256 codes on [0, 1].
        self.nonnegative = tuple(nonnegative)
        if not set(self.nonnegative) <= set(self.buffers):
            raise ValueError(f"kernel {name}: nonnegative names buffers it does not have")
        #: False where the kernel only reads its state (LAMB's update pass): state stored
        #: in bfloat16 or 8 bits is then not written back.
        self.writes_state = writes_state
        #: False for the memory-traffic twin, which on bfloat16 or 8-bit state moves the
        #: stored values as they are (each backend's "<precision> <name>" function).
        self.decodes_state = decodes_state
        #: Per-step scalars computed by the optimizer (:meth:`pack`), after "gscale".
        self.scalars = tuple(scalars)
        #: Every scalar the kernel reads, in order: "gscale" first where the core
        #: supplies it (every optimizer's kernel; not the toolkit's).
        self.all_scalars = (("gscale",) if gscale else ()) + self.scalars
        #: Per-tensor float64 inputs (one row per tensor of a plan).
        self.seg_in = tuple(seg_in)
        #: Per-chunk float64 outputs (partial sums, one row per chunk).
        self.outputs = tuple(outputs)
        self.pack = _packer(name, self.scalars)

    @property
    def arguments(self) -> tuple[str, ...]:
        """The reference function's parameters, in order."""
        return (("p", "g") + self.buffers + self.all_scalars
                + (("seg_in",) if self.seg_in else ()) + (("out",) if self.outputs else ()))

    def __repr__(self) -> str:
        return (f"Kernel({self.name!r}, buffers={self.buffers}, scalars={self.scalars}"
                + (f", seg_in={self.seg_in}" if self.seg_in else "")
                + (f", outputs={self.outputs}" if self.outputs else "") + ")")


def _packer(name: str, scalars: tuple[str, ...]) -> Callable[..., tuple[Any, ...]]:
    """``pack(*, a, b, ...) -> (a, b, ...)`` for these scalar names: keyword-only, so that a
    missing, unknown or misspelt scalar is a TypeError, and as fast as building the tuple
    by hand (a generated function, as collections.namedtuple makes its __new__)."""
    for s in scalars:
        if not s.isidentifier() or s.startswith("_"):
            raise ValueError(f"kernel {name}: scalar name {s!r} is not a plain identifier")
    if len(set(scalars)) != len(scalars) or "gscale" in scalars:
        raise ValueError(f"kernel {name}: scalar names must be distinct and not gscale")
    args = ", ".join(scalars)
    source = (f"def pack(*, {args}):\n    return ({args}{',' if len(scalars) == 1 else ''})\n"
              if scalars else "def pack():\n    return ()\n")
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    pack = namespace["pack"]
    pack.__qualname__ = f"Kernel({name!r}).pack"
    return pack


# The training toolkit's kernels (gradient norms for clipping and the guarded step's
# pre-pass, clipping, weight averaging) and the benches' memory-traffic twin.  Reductions
# read the gradient column only and write float64 partials per chunk.
SUMSQ = Kernel("sumsq", (), (), outputs=("sum_of_squares", "nonfinite_probe"), gscale=False)
ABS_SUM = Kernel("abs_sum", (), (), outputs=("abs_sum",), gscale=False)
ABS_MAX = Kernel("abs_max", (), (), outputs=("abs_max",), gscale=False)
POW_SUM = Kernel("pow_sum", (), (), seg_in=("norm_type",), outputs=("pow_sum",), gscale=False)
SCALE = Kernel("scale", (), ("factor",), gscale=False)
CLAMP = Kernel("clamp", (), ("clip_value",), gscale=False)
EMA_UPDATE = Kernel("ema", ("average",), ("weight",), gscale=False)
EMA_SWAP = Kernel("swap", ("average",), (), gscale=False)
TWIN = Kernel("twin", ("s0", "s1", "s2"), ("k",), decodes_state=False)
TOOLKIT = (SUMSQ, ABS_SUM, ABS_MAX, POW_SUM, SCALE, CLAMP, EMA_UPDATE, EMA_SWAP, TWIN)
