# State stored in bfloat16 or in 8-bit blocks (the rule: fastopt/_core/storage.py and
# docs/state_precision.md).  A stored chunk function wraps an optimizer's chunk function
# (`inner`, of either backend): it decodes the chunk's state into scratch buffers in the
# parameter's dtype, runs `inner` on them, and encodes the new values back (unless the
# kernel only reads its state: `write` = 0).  So each optimizer's math exists once,
# whatever the precision, and the parameter update reads the new state before rounding.
# (The Cython kernels' own bfloat16 forms, math.pxi's _load/_store, read bfloat16 state in
# place; the bfloat16 chunk function here serves the numba kernels.)
#
# b[0], b[1]: the parameter and gradient of the chunk; b[2 + j]: state buffer j's codes
# (uint8) or bfloat16 bits (uint16), NULL where absent; b[2 + nstate + j]: its per-block
# absmax (8-bit only), from the chunk's first block.  unsigned_map[j] picks buffer j's
# 8-bit map (0: signed, 1: unsigned).  The chunk is worked through in pieces of `piece`
# values (whole blocks), decoded, updated and encoded in turn: short phases of memory
# traffic and of arithmetic overlap better than three long passes.  A kernel with per-chunk
# outputs (partial sums) takes the chunk as one piece.

from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memset

cdef extern from "<float.h>":
    float FLT_MAX
    double DBL_MAX

cdef extern from "stored_codec.h":
    ctypedef struct fastopt_qmap:
        float values[256]
        float mid[256]
        int32_t positive_floor
        int32_t lut[1]
    void fastopt_qmap_steps(fastopt_qmap* m) noexcept nogil
    void fastopt_decode8_f32(const uint8_t* codes, Py_ssize_t n, float a, const fastopt_qmap* m,
                             float* x) noexcept nogil
    void fastopt_decode8_f64(const uint8_t* codes, Py_ssize_t n, double a,
                             const fastopt_qmap* m, double* x) noexcept nogil
    void fastopt_encode8_f32(const float* x, Py_ssize_t n, float inv, const fastopt_qmap* m,
                             uint8_t* codes) noexcept nogil
    void fastopt_encode8_f64(const double* x, Py_ssize_t n, double inv, const fastopt_qmap* m,
                             uint8_t* codes) noexcept nogil

cdef enum:
    QBLOCK = 256
    STORED_CHUNK = 2048
    MAX_STORED = 3
    MAG_LO = 104 << 7
    MAG_BUCKETS = 25 * 128

# The two 8-bit maps ([0]: signed, [1]: unsigned), set once from storage.py's definition.
cdef fastopt_qmap _qmaps[2]
cdef uint8_t _qzero[2]


def stored_constants():
    """The layout constants compiled in, which fastopt._core.storage must match."""
    return {"BLOCK": QBLOCK, "STORED_CHUNK": STORED_CHUNK, "MAG_LO": MAG_LO,
            "MAG_BUCKETS": MAG_BUCKETS}


def set_quantization_maps(list maps):
    """Copy the maps (storage.Map for the signed and the unsigned map) into the tables the
    encoder and decoder read."""
    cdef int m, i
    for m in range(2):
        values, midpoints, lut = maps[m].values, maps[m].midpoints, maps[m].lut
        if len(values) != 256 or len(midpoints) != 255 or len(lut) != 2 * MAG_BUCKETS:
            raise ValueError("a quantization map needs 256 values, 255 midpoints and "
                             f"{2 * MAG_BUCKETS} buckets")
        for i in range(256):
            _qmaps[m].values[i] = values[i]
            _qmaps[m].mid[i] = midpoints[i] if i < 255 else float("inf")
        for i in range(2 * MAG_BUCKETS):
            _qmaps[m].lut[i] = lut[i]
        _qmaps[m].positive_floor = 0 if maps[m].signed else 1
        fastopt_qmap_steps(&_qmaps[m])
        _qzero[m] = maps[m].zero_code


cdef inline floating _block_absmax(const floating* x, Py_ssize_t n) noexcept nogil:
    """max |x| (NaN if some x is NaN), as the integer max of the bits without the sign:
    exact and vectorised (see abs_max_chunk)."""
    cdef uint32_t m32 = 0, y32
    cdef uint64_t m64 = 0, y64
    cdef Py_ssize_t i
    if floating is float:
        for i in range(n):
            y32 = fastopt_f32_bits(x[i]) & 0x7fffffffu
            m32 = y32 if y32 > m32 else m32
        return fastopt_f32_from(m32)
    else:
        for i in range(n):
            y64 = fastopt_f64_bits(x[i]) & 0x7fffffffffffffffu
            m64 = y64 if y64 > m64 else m64
        return fastopt_f64_from(m64)


cdef inline void _decode8(const uint8_t* codes, const floating* absmax, Py_ssize_t n,
                          floating* x, int m) noexcept nogil:
    cdef Py_ssize_t k, start
    for k in range((n + QBLOCK - 1) // QBLOCK):
        start = k * QBLOCK
        if floating is float:
            fastopt_decode8_f32(codes + start, min(n - start, QBLOCK), absmax[k], &_qmaps[m],
                                x + start)
        else:
            fastopt_decode8_f64(codes + start, min(n - start, QBLOCK), absmax[k], &_qmaps[m],
                                x + start)


cdef inline void _encode8(const floating* x, Py_ssize_t n, uint8_t* codes, floating* absmax,
                          int m) noexcept nogil:
    """Each block: absmax a = max |x|; code = the number of midpoints below x/a (rounded
    to float32), at least 1 for a positive value in the unsigned map (stored_codec.h); a
    block whose absmax is inf or NaN stores the code of 0 throughout (it decodes as NaN)."""
    cdef Py_ssize_t k, start, end
    cdef floating a, inv
    cdef floating largest = FLT_MAX if floating is float else DBL_MAX
    for k in range((n + QBLOCK - 1) // QBLOCK):
        start = k * QBLOCK
        end = min(n, start + QBLOCK)
        a = _block_absmax(x + start, end - start)
        absmax[k] = a
        if not (a <= largest):
            memset(codes + start, _qzero[m], end - start)
            continue
        inv = 1 / a if a != 0 else 0
        if floating is float:
            fastopt_encode8_f32(x + start, end - start, inv, &_qmaps[m], codes + start)
        else:
            fastopt_encode8_f64(x + start, end - start, inv, &_qmaps[m], codes + start)


cdef inline void _decode16(const uint16_t* h, Py_ssize_t n, floating* x) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        x[i] = <floating>_from_bfloat16(h[i])


cdef inline void _encode16(const floating* x, Py_ssize_t n, uint16_t* h) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        h[i] = _to_bfloat16(x[i])


cdef inline void _run_inner(void* inner, floating** bb, Py_ssize_t n, const floating* s,
                            const double* seg_in, double* out) noexcept nogil:
    if floating is float:
        (<void (*)(float**, Py_ssize_t, const float*, const double*, double*) noexcept nogil>
         inner)(bb, n, s, seg_in, out)
    else:
        (<void (*)(double**, Py_ssize_t, const double*, const double*, double*) noexcept nogil>
         inner)(bb, n, s, seg_in, out)


cdef inline void _stored_chunk(void* inner, void** b, Py_ssize_t n, const floating* s,
                               const double* seg_in, double* out, Py_ssize_t nstate,
                               const uint8_t* unsigned_map, int write, Py_ssize_t piece,
                               bint eight) noexcept nogil:
    """The stored chunk function of either kind (``eight``: 8-bit codes, else bfloat16),
    piece by piece: decode into scratch, run ``inner``, encode back."""
    cdef floating scratch[MAX_STORED][STORED_CHUNK]
    cdef floating* bb[2 + MAX_STORED]
    cdef Py_ssize_t j, m, base = 0
    while base < n:
        m = min(piece, n - base)
        bb[0] = (<floating*>b[0]) + base
        bb[1] = (<floating*>b[1]) + base
        for j in range(nstate):
            bb[2 + j] = scratch[j] if b[2 + j] != NULL else NULL
            if b[2 + j] == NULL:
                continue
            if eight:
                _decode8(<const uint8_t*>b[2 + j] + base,
                         (<floating*>b[2 + nstate + j]) + base // QBLOCK, m, scratch[j],
                         unsigned_map[j])
            else:
                _decode16(<const uint16_t*>b[2 + j] + base, m, scratch[j])
        _run_inner(inner, bb, m, s, seg_in, out)
        for j in range(nstate if write else 0):
            if b[2 + j] == NULL:
                continue
            if eight:
                _encode8(scratch[j], m, <uint8_t*>b[2 + j] + base,
                         (<floating*>b[2 + nstate + j]) + base // QBLOCK, unsigned_map[j])
            else:
                _encode16(scratch[j], m, <uint16_t*>b[2 + j] + base)
        base = base + m


cdef void stored8_chunk(void* inner, void** b, Py_ssize_t n, const floating* s,
                        const double* seg_in, double* out, Py_ssize_t nstate,
                        const uint8_t* unsigned_map, int write, Py_ssize_t piece) noexcept nogil:
    _stored_chunk(inner, b, n, s, seg_in, out, nstate, unsigned_map, write, piece, True)


cdef void stored16_chunk(void* inner, void** b, Py_ssize_t n, const floating* s,
                         const double* seg_in, double* out, Py_ssize_t nstate,
                         const uint8_t* unsigned_map, int write, Py_ssize_t piece) noexcept nogil:
    _stored_chunk(inner, b, n, s, seg_in, out, nstate, unsigned_map, write, piece, False)


# The memory-traffic twin (src/fastopt/_bench/twin.py) on stored state: the reads and
# writes of a kernel on bfloat16 or 8-bit state with trivial math, in one pass -- p += g,
# each stored value + 1 (and each 8-bit block's absmax + 1).

cdef void twin8_chunk(void* inner, void** b, Py_ssize_t n, const floating* s,
                      const double* seg_in, double* out, Py_ssize_t nstate,
                      const uint8_t* unsigned_map, int write, Py_ssize_t piece) noexcept nogil:
    cdef floating* p = <floating*>b[0]
    cdef const floating* g = <const floating*>b[1]
    cdef uint8_t* c0 = <uint8_t*>b[2]
    cdef uint8_t* c1 = <uint8_t*>b[3] if nstate > 1 else NULL
    cdef uint8_t* c2 = <uint8_t*>b[4] if nstate > 2 else NULL
    cdef floating* a
    cdef Py_ssize_t i, j, nb = (n + QBLOCK - 1) // QBLOCK
    if c2 != NULL:
        for i in range(n):
            p[i] = p[i] + g[i]
            c0[i] = c0[i] + 1
            c1[i] = c1[i] + 1
            c2[i] = c2[i] + 1
    elif c1 != NULL:
        for i in range(n):
            p[i] = p[i] + g[i]
            c0[i] = c0[i] + 1
            c1[i] = c1[i] + 1
    elif c0 != NULL:
        for i in range(n):
            p[i] = p[i] + g[i]
            c0[i] = c0[i] + 1
    else:
        for i in range(n):
            p[i] = p[i] + g[i]
    for j in range(nstate):
        a = <floating*>b[2 + nstate + j]
        if a != NULL:
            for i in range(nb):
                a[i] = a[i] + 1


cdef void twin16_chunk(void* inner, void** b, Py_ssize_t n, const floating* s,
                       const double* seg_in, double* out, Py_ssize_t nstate,
                       const uint8_t* unsigned_map, int write, Py_ssize_t piece) noexcept nogil:
    cdef floating* p = <floating*>b[0]
    cdef const floating* g = <const floating*>b[1]
    cdef uint16_t* c0 = <uint16_t*>b[2]
    cdef uint16_t* c1 = <uint16_t*>b[3] if nstate > 1 else NULL
    cdef uint16_t* c2 = <uint16_t*>b[4] if nstate > 2 else NULL
    cdef Py_ssize_t i
    if c2 != NULL:
        for i in range(n):
            p[i] = p[i] + g[i]
            c0[i] = c0[i] + 1
            c1[i] = c1[i] + 1
            c2[i] = c2[i] + 1
    elif c1 != NULL:
        for i in range(n):
            p[i] = p[i] + g[i]
            c0[i] = c0[i] + 1
            c1[i] = c1[i] + 1
    elif c0 != NULL:
        for i in range(n):
            p[i] = p[i] + g[i]
            c0[i] = c0[i] + 1
    else:
        for i in range(n):
            p[i] = p[i] + g[i]
