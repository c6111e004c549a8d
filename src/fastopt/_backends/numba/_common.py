"""What the numba kernels share: the compile options, the lanes of the reductions, and the
element helpers of the Cython kernels' math (../cython/math.pxi).

A kernel is the generic chunk function of both dtypes, ``name(b, n, s, seg_in, out)``, as
the Cython kernels' ``chunk_f32`` / ``chunk_f64`` in fastopt._core._native: ``b[j]`` points
at buffer j of the chunk (param, grad, then the state buffers; NULL where a state buffer is
absent: ``carray`` of it is only a view, read it never), ``n`` the chunk's length, ``s`` the
step's scalars already in the buffers' dtype, ``seg_in`` the chunk's tensor's inputs and
``out`` the chunk's outputs (float64).  driver.py compiles it into a cfunc per dtype.
"""
from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

#: The kernels' options (the cfuncs of driver.py take the ones that apply to them).
JIT: dict[str, Any] = dict(cache=True, error_model="numpy", fastmath=False, nogil=True)

#: The lanes of a reduction, as in ../cython/toolkit.pxi and lamb.pxi: partial sums in
#: this many lanes, folded by a fixed pairwise tree, so the sums are the Cython kernels'.
LANES = 16


@intrinsic
def lanes(typingctx):
    """LANES float64 zeros on the stack (a chunk function allocates nothing: np.zeros
    in a cfunc would go through numba's allocator, and could raise with no one to tell)."""
    arrty = types.Array(types.float64, 1, "C")

    def codegen(context, builder, signature, args):
        llty = context.get_data_type(types.float64)
        data = cgutils.alloca_once(builder, llty, size=LANES)
        cgutils.memset(builder, data, cgutils.intp_t(LANES * 8), 0)
        ary = context.make_array(arrty)(context, builder)
        itemsize = context.get_constant(types.intp, 8)
        context.populate_array(ary, data=data,
                               shape=cgutils.pack_array(builder, [cgutils.intp_t(LANES)]),
                               strides=cgutils.pack_array(builder, [itemsize]),
                               itemsize=itemsize, meminfo=None)
        return ary._getvalue()

    return arrty(), codegen


@intrinsic
def lane_count(typingctx):
    """LANES, as a value the optimizer cannot see through (an empty inline asm hands it
    over).  A lanes loop ``for k in range(lane_count())`` is then vectorised across the
    lanes by LLVM's loop vectorizer, each lane's sum still added in element order; a loop
    of a known 16 trips is unrolled into scalar code instead, since numba runs no SLP
    vectorizer.  Adafactor's passes took 4-8x longer that way."""
    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(cgutils.intp_t, [cgutils.intp_t])
        return builder.asm(fnty, "", "=r,0", [cgutils.intp_t(LANES)], side_effect=False)

    return types.intp(), codegen


@njit(inline="always", **JIT)
def fold(acc):
    """The sum of the LANES lanes ``acc``, folded pairwise: lane k += lane k+8, k+4, k+2,
    k+1 (as math.pxi's _fold_sum)."""
    w = LANES // 2
    while w > 0:
        for k in range(w):
            acc[k] = acc[k] + acc[k + w]
        w //= 2
    return acc[0]


@intrinsic
def present(typingctx, arr):
    """Whether ``carray(b[j], n)`` views a buffer (not NULL: the tensor has buffer j)."""
    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return builder.icmp_unsigned("!=", data, ir.Constant(data.type, None))

    return types.boolean(arr), codegen


#: As the Cython kernels' loops (../cython/math.pxi): STRIDE elements at a time, each
#: stretch first hinting the cache about its buffers AHEAD elements on.
STRIDE = 64
AHEAD = 256


@intrinsic
def _prefetch(typingctx, arr, index):
    """Hint the cache about arr[index], as __builtin_prefetch does (llvm.prefetch): a hint,
    which never faults, also past the array's end."""
    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        # (declare_intrinsic mangles the name for the pointer type as this LLVM wants it)
        fn = builder.module.declare_intrinsic(
            "llvm.prefetch", [i8p], ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]))
        address = builder.bitcast(builder.gep(ary.data, [args[1]]), i8p)
        builder.call(fn, [address, i32(1), i32(3), i32(1)])   # write, keep, data
        return context.get_dummy_value()

    return types.void(arr, index), codegen


@njit(inline="always", **JIT)
def hint(a, i):
    """Hint the cache about a[i + AHEAD : i + AHEAD + STRIDE], a line at a time."""
    for k in range(0, STRIDE, 8):
        _prefetch(a, i + AHEAD + k)


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
def clamp_to(x, c):
    """min(max(x, -c), c) for c >= 0: two selects, NaN kept (as math.pxi's _clamp)."""
    return -c if x < -c else (c if x > c else x)


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
