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
from libc.stdint cimport intptr_t


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
