"""What the numba kernels share: the compile options, the arrays over the addresses in a
plan's table, and the element helpers of the Cython kernels' math (../cython/math.pxi)."""
from __future__ import annotations

from typing import Any

from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

JIT: dict[str, Any] = dict(cache=True, error_model="numpy", fastmath=False, nogil=True)


@intrinsic
def _array_at(typingctx, addr, n, like):
    """A 1-D C array of ``n`` elements of ``like``'s dtype at integer address ``addr``."""
    dtype = like.dtype
    arrty = types.Array(dtype, 1, "C")

    def codegen(context, builder, signature, args):
        addr_v, n_v, _ = args
        ptr = builder.inttoptr(addr_v, context.get_data_type(dtype).as_pointer())
        ary = context.make_array(arrty)(context, builder)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(
            context.get_data_type(dtype)))
        context.populate_array(ary, data=ptr, shape=cgutils.pack_array(builder, [n_v]),
                               strides=cgutils.pack_array(builder, [itemsize]),
                               itemsize=itemsize, meminfo=None)
        return ary._getvalue()

    return arrty(types.int64, types.intp, like), codegen


@njit(inline="always", **JIT)
def buffer(addrs, chunk, j, like):
    """Buffer ``j`` of the piece of tensor ``chunk[0]`` that the chunk covers."""
    row, start, n = chunk[0], chunk[1], chunk[2]
    a = addrs[row, j]
    if a != 0:
        a += start * like.itemsize
    return _array_at(a, n, like)


@njit(inline="always", **JIT)
def grad(g, p, gscale, wd):
    """The gradient as the update sees it: scaled (maximize, clipping), plus L2 weight
    decay where it is on (a select, so wd == 0 leaves g bitwise as it was)."""
    g = g * gscale
    return g + wd * p if wd != 0 else g


@njit(inline="always", **JIT)
def max_nan(a, b):
    """max(a, b) propagating NaN from either side, as np.maximum does."""
    return a if (a >= b or a != a) else b


@njit(inline="always", **JIT)
def lerp(a, b, w, one_minus_w):
    """a + w*(b - a) computed as torch.lerp does: from the nearer end, so that w = 1 gives
    exactly b.  ``one_minus_w`` is 1 - w in the buffer's dtype, computed once per call."""
    return a + w * (b - a) if w < 0.5 else b - (b - a) * one_minus_w


@njit(inline="always", **JIT)
def sign(x, zero, one):
    """torch.sign: 1, -1, or +0 for a zero of either sign and for NaN.  ``zero`` and
    ``one`` are 0 and 1 in the buffer's dtype."""
    return one if x > zero else (-one if x < zero else zero)


@njit(inline="always", **JIT)
def sign_nan(x, zero, one):
    """np.sign / jnp.sign: 1, -1, +0 for a zero of either sign, NaN for NaN."""
    return one if x > zero else (-one if x < zero else (zero if x == x else x))
