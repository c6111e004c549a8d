# The optimizers' math, compiled once per CPU level (see setup.py): _math_base.pyx,
# _math_v3.pyx and _math_v4.pyx each include this file and nothing else.  fastopt._native
# picks the best level the CPU runs and reads the chunk functions' addresses from
# ``kernels()``.  Every level gives bitwise the same results: no FMA contraction, no
# fast-math, so vector width changes only the speed.
#
# A chunk function updates n consecutive elements: b[j] points at buffer j (param, grad,
# then the optimizer's state buffers; NULL where a state buffer is not in use), s holds the
# step's scalars already in the buffer's dtype, seg_in the tensor's own inputs and out the
# chunk's outputs (partial sums), both float64.

from cython cimport floating
from libc.math cimport fabs, fabsf, sqrt, sqrtf
from libc.stdint cimport intptr_t, uint16_t, uint32_t, uint64_t

cdef extern from "stored_codec.h":
    uint32_t fastopt_f32_bits(float x) noexcept nogil
    float fastopt_f32_from(uint32_t u) noexcept nogil
    uint64_t fastopt_f64_bits(double x) noexcept nogil
    double fastopt_f64_from(uint64_t u) noexcept nogil
    void fastopt_prefetch_line(const void* p, Py_ssize_t offset) noexcept nogil


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating _abs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline floating _max_nan(floating a, floating b) noexcept nogil:
    """max(a, b) that propagates NaN from either side, as np.maximum and torch.maximum do."""
    return a if (a >= b) | (a != a) else b


cdef inline floating _clamp(floating x, floating c) noexcept nogil:
    """min(max(x, -c), c) for c >= 0, as torch.clamp and jnp.clip: two selects, so NaN
    stays NaN and an infinite c leaves x as it is."""
    return -c if x < -c else (c if x > c else x)


cdef inline floating _lerp(floating a, floating b, floating w) noexcept nogil:
    """a + w*(b - a) computed as torch.lerp does: from the nearer end, so that w = 1 gives
    exactly b (w is a per-step scalar: the select is on a loop invariant)."""
    return a + w * (b - a) if w < <floating>0.5 else b - (b - a) * (<floating>1 - w)


cdef inline floating _grad(floating g, floating p, floating gscale, floating wd) noexcept nogil:
    """The gradient as the update sees it: scaled (sign flip for maximize, clipping factor),
    plus L2 weight decay where it is on.  A select, not an add of 0*p, so that wd == 0
    leaves g bitwise as it was (also for p = inf and for -0.0)."""
    g = g * gscale
    return g + wd * p if wd != 0 else g


cdef inline floating _sign(floating x) noexcept nogil:
    """torch.sign: 1, -1, or +0 for a zero of either sign and for NaN (selects only)."""
    return <floating>1 if x > 0 else (<floating>-1 if x < 0 else <floating>0)


cdef inline floating _sign_nan(floating x) noexcept nogil:
    """np.sign / jnp.sign: 1, -1, +0 for a zero of either sign, NaN for NaN."""
    return <floating>1 if x > 0 else (<floating>-1 if x < 0 else (<floating>0 if x == x else x))


# ---- Float64 sums ----------------------------------------------------------------------
# A sum keeps LANES lanes: element i of a run goes to lane i % LANES, each lane adds in
# element order (a fixed sequence of float64 additions, which vectorises across lanes),
# and the lanes are folded pairwise: lane k += lane k+8, k+4, k+2, k+1.  Nothing is left
# for the compiler to reassociate, so every CPU level gives the same bits, and the NumPy
# reference (fastopt/_backends/numpy/_common.py: lane_sums) the same sums.

cdef enum:
    LANES = 16


cdef inline double _fold_sum(double* acc) noexcept nogil:
    cdef int w = LANES // 2, k
    while w > 0:
        for k in range(w):
            acc[k] = acc[k] + acc[k + w]
        w = w // 2
    return acc[0]


# ---- How a kernel reaches its buffers ---------------------------------------------------
# A kernel reads and writes its state through _load and _store, with a storage that is a
# constant of each compiled form of the kernel: FULL, values in the parameter's dtype, or
# BFLOAT16, bfloat16 bits decoded exactly and written back rounded to nearest, ties to
# even (the rule: fastopt/_core/storage.py).  The new value stays in a local for the rest
# of the update, so the update reads the state before it is rounded, whatever the storage.
# (8-bit state needs each block's absmax before any value can be encoded: it goes through
# the stored chunk functions of stored.pxi.)
#
# The loops run STRIDE elements at a time and first ask for the buffers AHEAD elements
# on (a hint: it never faults, also past a buffer's end).  The hardware prefetcher alone
# falls behind where the math is heavy: Adam at 10M float32 ran at 0.83 of its
# memory-traffic twin without the hints, and a bfloat16 form gained nothing over float32.

cdef enum:
    FULL = 0
    BFLOAT16 = 1
    STRIDE = 64
    AHEAD = 256


cdef inline float _from_bfloat16(uint16_t h) noexcept nogil:
    return fastopt_f32_from((<uint32_t>h) << 16)


cdef inline uint16_t _to_bfloat16(floating x) noexcept nogil:
    """Round to nearest, ties to even, NaN quieted.  A double is first truncated to float32
    with a sticky last bit where that was inexact ("round to odd"), so that rounding the
    float32 to bfloat16 rounds the double once."""
    cdef uint32_t u
    cdef float f
    if floating is float:
        u = fastopt_f32_bits(x)
    else:
        f = <float>x
        u = fastopt_f32_bits(f)
        u = u - 1 if fabs(<double>f) > fabs(x) else u
        u = u | (fastopt_f32_from(u) != x)
        u = (0x7fc00000u | (<uint32_t>(fastopt_f64_bits(x) >> 32) & 0x80000000u)) \
            if x != x else u
    return <uint16_t>(((u >> 16) | 0x40) if (u & 0x7fffffffu) > 0x7f800000u
                      else ((u + 0x7fffu + ((u >> 16) & 1)) >> 16))


cdef inline floating _load(const floating* buf, Py_ssize_t i, int storage) noexcept nogil:
    if storage == BFLOAT16:
        return <floating>_from_bfloat16((<const uint16_t*>buf)[i])
    return buf[i]


cdef inline void _store(floating* buf, Py_ssize_t i, floating x, int storage) noexcept nogil:
    if storage == BFLOAT16:
        (<uint16_t*>buf)[i] = _to_bfloat16(x)
    else:
        buf[i] = x


cdef inline void _prefetch_ahead(const void* buf, Py_ssize_t i, Py_ssize_t size) noexcept nogil:
    """Hint the cache about elements i + AHEAD .. i + AHEAD + STRIDE of ``buf`` (elements
    of ``size`` bytes)."""
    cdef Py_ssize_t k
    for k in range(0, STRIDE * size, 64):
        fastopt_prefetch_line(buf, (i + AHEAD) * size + k)


cdef inline void _prefetch(floating** b, int nbuf, Py_ssize_t i, int storage) noexcept nogil:
    """_prefetch_ahead on b[0] .. b[nbuf-1] (the parameter, the gradient, then state in
    ``storage``), where present."""
    cdef int j
    for j in range(nbuf):
        if b[j] != NULL:
            _prefetch_ahead(b[j], i, 2 if j >= 2 and storage == BFLOAT16 else sizeof(floating))


include "adam.pxi"
include "sgd.pxi"
include "rmsprop.pxi"
include "adagrad.pxi"
include "adadelta.pxi"
include "adamax.pxi"
include "nadam.pxi"
include "radam.pxi"
include "rprop.pxi"
include "lion.pxi"
include "lamb.pxi"
include "adopt.pxi"
include "ademamix.pxi"
include "asgd.pxi"
include "schedulefree.pxi"
include "sparse_adam.pxi"
include "adafactor.pxi"
include "muon.pxi"
include "toolkit.pxi"
include "twin.pxi"
include "stored.pxi"


cdef tuple _entry(void* f32, void* f64, int n_scalars, int n_seg_in=0, int n_out=0,
                  void* four_f32=NULL, void* four_f64=NULL):
    return (<intptr_t>f32, <intptr_t>f64, n_scalars, n_seg_in, n_out, <intptr_t>four_f32,
            <intptr_t>four_f64)


def kernels():
    """name -> (float32 function address, float64 function address, number of scalars,
    per-tensor inputs, per-chunk outputs, and where the kernel has one, the addresses of
    its four-chunk function for each dtype (0 where it has none))."""
    return {
        "adam": _entry(<void*>adam_chunk[float], <void*>adam_chunk[double], ADAM_SCALARS),
        "sgd": _entry(<void*>sgd_chunk[float], <void*>sgd_chunk[double], SGD_SCALARS),
        "rmsprop": _entry(<void*>rmsprop_chunk[float], <void*>rmsprop_chunk[double],
                          RMSPROP_SCALARS),
        "adagrad": _entry(<void*>adagrad_chunk[float], <void*>adagrad_chunk[double],
                          ADAGRAD_SCALARS),
        "adadelta": _entry(<void*>adadelta_chunk[float], <void*>adadelta_chunk[double],
                           ADADELTA_SCALARS),
        "adamax": _entry(<void*>adamax_chunk[float], <void*>adamax_chunk[double],
                         ADAMAX_SCALARS),
        "nadam": _entry(<void*>nadam_chunk[float], <void*>nadam_chunk[double], NADAM_SCALARS),
        "radam": _entry(<void*>radam_chunk[float], <void*>radam_chunk[double], RADAM_SCALARS),
        "rprop": _entry(<void*>rprop_chunk[float], <void*>rprop_chunk[double], RPROP_SCALARS),
        "lion": _entry(<void*>lion_chunk[float], <void*>lion_chunk[double], LION_SCALARS),
        "lamb_moments": _entry(<void*>lamb_moments_chunk[float], <void*>lamb_moments_chunk[double],
                               LAMB_SCALARS, 0, LAMB_OUTPUTS),
        "lamb_update": _entry(<void*>lamb_update_chunk[float], <void*>lamb_update_chunk[double],
                              LAMB_SCALARS, 1, 0),
        "adopt": _entry(<void*>adopt_chunk[float], <void*>adopt_chunk[double], ADOPT_SCALARS),
        "ademamix": _entry(<void*>ademamix_chunk[float], <void*>ademamix_chunk[double],
                           ADEMAMIX_SCALARS),
        "asgd": _entry(<void*>asgd_chunk[float], <void*>asgd_chunk[double], ASGD_SCALARS),
        "schedulefree_adamw": _entry(<void*>schedulefree_adamw_chunk[float],
                                     <void*>schedulefree_adamw_chunk[double],
                                     SCHEDULEFREE_ADAMW_SCALARS),
        "schedulefree_sgd": _entry(<void*>schedulefree_sgd_chunk[float],
                                   <void*>schedulefree_sgd_chunk[double],
                                   SCHEDULEFREE_SGD_SCALARS),
        "schedulefree_swap": _entry(<void*>schedulefree_swap_chunk[float],
                                    <void*>schedulefree_swap_chunk[double], 1),
        "sparse_adam": _entry(<void*>sparse_adam_chunk[float], <void*>sparse_adam_chunk[double],
                              SPARSE_ADAM_SCALARS),
        "muon_momentum": _entry(<void*>muon_momentum_chunk[float],
                                <void*>muon_momentum_chunk[double], MUON_SCALARS),
        "muon_update": _entry(<void*>muon_update_chunk[float], <void*>muon_update_chunk[double],
                              MUON_SCALARS, 1, 0),
        # the training toolkit (toolkit.pxi)
        "sumsq": _entry(<void*>sumsq_chunk[float], <void*>sumsq_chunk[double], 0, 0, 2,
                        <void*>sumsq_chunks4[float], <void*>sumsq_chunks4[double]),
        "abs_sum": _entry(<void*>abs_sum_chunk[float], <void*>abs_sum_chunk[double], 0, 0, 1),
        "abs_max": _entry(<void*>abs_max_chunk[float], <void*>abs_max_chunk[double], 0, 0, 1),
        "pow_sum": _entry(<void*>pow_sum_chunk[float], <void*>pow_sum_chunk[double], 0, 1, 1),
        "scale": _entry(<void*>scale_chunk[float], <void*>scale_chunk[double], 1),
        "clamp": _entry(<void*>clamp_chunk[float], <void*>clamp_chunk[double], 1),
        "ema": _entry(<void*>ema_chunk[float], <void*>ema_chunk[double], 1),
        "swap": _entry(<void*>swap_chunk[float], <void*>swap_chunk[double], 0),
        "twin": _entry(<void*>twin_chunk[float], <void*>twin_chunk[double], TWIN_SCALARS),
    }


def tensor_kernels():
    """name -> (float32 function address, float64 function address, number of scalars) of
    the rules run one whole tensor per call (TensorStage in fastopt._core._native)."""
    return {"adafactor": (<intptr_t><void*>adafactor_tensor[float],
                          <intptr_t><void*>adafactor_tensor[double], ADAFACTOR_SCALARS)}


def bfloat16_kernels():
    """name -> (float32, float64) addresses of the kernel's form for state stored as
    bfloat16: the chunk function's signature, its state columns holding bfloat16 bits."""
    return {
        "adam": (<intptr_t><void*>adam_chunk_bf16[float],
                 <intptr_t><void*>adam_chunk_bf16[double]),
        "sgd": (<intptr_t><void*>sgd_chunk_bf16[float],
                <intptr_t><void*>sgd_chunk_bf16[double]),
        "rmsprop": (<intptr_t><void*>rmsprop_chunk_bf16[float],
                    <intptr_t><void*>rmsprop_chunk_bf16[double]),
        "adagrad": (<intptr_t><void*>adagrad_chunk_bf16[float],
                    <intptr_t><void*>adagrad_chunk_bf16[double]),
        "adadelta": (<intptr_t><void*>adadelta_chunk_bf16[float],
                     <intptr_t><void*>adadelta_chunk_bf16[double]),
        "adamax": (<intptr_t><void*>adamax_chunk_bf16[float],
                   <intptr_t><void*>adamax_chunk_bf16[double]),
        "nadam": (<intptr_t><void*>nadam_chunk_bf16[float],
                  <intptr_t><void*>nadam_chunk_bf16[double]),
        "radam": (<intptr_t><void*>radam_chunk_bf16[float],
                  <intptr_t><void*>radam_chunk_bf16[double]),
        "lion": (<intptr_t><void*>lion_chunk_bf16[float],
                 <intptr_t><void*>lion_chunk_bf16[double]),
        "lamb_moments": (<intptr_t><void*>lamb_moments_chunk_bf16[float],
                         <intptr_t><void*>lamb_moments_chunk_bf16[double]),
        "lamb_update": (<intptr_t><void*>lamb_update_chunk_bf16[float],
                        <intptr_t><void*>lamb_update_chunk_bf16[double]),
        "adopt": (<intptr_t><void*>adopt_chunk_bf16[float],
                  <intptr_t><void*>adopt_chunk_bf16[double]),
        "ademamix": (<intptr_t><void*>ademamix_chunk_bf16[float],
                     <intptr_t><void*>ademamix_chunk_bf16[double]),
    }


def stored_chunks():
    """precision -> (float32, float64) addresses of the functions that run a chunk
    function on state stored in that precision (stored.pxi)."""
    return {"8bit": (<intptr_t><void*>stored8_chunk[float], <intptr_t><void*>stored8_chunk[double]),
            "bfloat16": (<intptr_t><void*>stored16_chunk[float],
                         <intptr_t><void*>stored16_chunk[double]),
            # the benches' memory-traffic twin, which moves stored values without decoding
            "8bit twin": (<intptr_t><void*>twin8_chunk[float], <intptr_t><void*>twin8_chunk[double]),
            "bfloat16 twin": (<intptr_t><void*>twin16_chunk[float],
                              <intptr_t><void*>twin16_chunk[double])}
