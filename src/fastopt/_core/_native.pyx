# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, cpow=True
"""The compiled backend: a chunk driver over raw addresses, calling the optimizers' math
(compiled per CPU level in the _math_* modules), and the per-step gathering of gradient
addresses.

Work is described by two int64 tables built once per optimizer (see ``plan.py``):
``addrs[row, j]`` is the address of buffer ``j`` (param, grad, then the state buffers)
of tensor ``row``; ``chunks[c] = (row, start, length)`` splits every tensor into pieces
of a fixed size.  The driver hands each chunk to an optimizer's chunk function, serially
below the size threshold and over an OpenMP static schedule above it.  Because chunk
boundaries never depend on the thread count, element-wise results and per-chunk partial
sums are bitwise the same for 1 thread and for N.
"""
import numpy as np

from fastopt._core import storage

cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t, intptr_t, uint8_t

cnp.import_array()

cdef extern from "_openmp.h":
    int omp_get_max_threads() noexcept nogil
    int FASTOPT_HAVE_OPENMP

cdef enum:
    MAX_BUFFERS = 8
    MAX_SCALARS = 24
    MAX_STORED = 3           # state buffers of a plan with stored state (stored.pxi)
    QBLOCK = 256             # values per 8-bit block (fastopt._core.storage.BLOCK)

# One chunk of one tensor: b[j] points at buffer j for this chunk (NULL where a state buffer
# is absent), s holds the step's scalars in the buffer's dtype, seg_in the tensor's inputs
# (per-tensor scalars), out the chunk's outputs (partial sums).
ctypedef void (*chunk_f32)(float** b, Py_ssize_t n, const float* s,
                           const double* seg_in, double* out) noexcept nogil
ctypedef void (*chunk_f64)(double** b, Py_ssize_t n, const double* s,
                           const double* seg_in, double* out) noexcept nogil
# Four chunks at once (a reduction that reads one buffer, so that four memory streams are in
# flight): b[i], n[i] and out[i] as above for chunk i.
ctypedef void (*chunks4_f32)(float*** b, const Py_ssize_t* n, double** out) noexcept nogil
ctypedef void (*chunks4_f64)(double*** b, const Py_ssize_t* n, double** out) noexcept nogil
# A chunk whose state is stored in bfloat16 or 8 bits (stored.pxi): inner is the chunk
# function above; b[2 + j] the stored state buffer j and b[2 + nstate + j] its per-block
# absmax (8-bit), write 0 where the kernel only reads its state; piece: how many values
# it decodes, updates and encodes at a time.
ctypedef void (*stored_f32)(void* inner, void** b, Py_ssize_t n, const float* s,
                            const double* seg_in, double* out, Py_ssize_t nstate,
                            const uint8_t* unsigned_map, int write,
                            Py_ssize_t piece) noexcept nogil
ctypedef void (*stored_f64)(void* inner, void** b, Py_ssize_t n, const double* s,
                            const double* seg_in, double* out, Py_ssize_t nstate,
                            const uint8_t* unsigned_map, int write,
                            Py_ssize_t piece) noexcept nogil


# ----------------------------------------------------------------------------------------
# Threads.

cdef int _num_threads = 0            # 0: follow OpenMP (OMP_NUM_THREADS, threadpoolctl)
# Below this many elements a plan runs on the calling thread.  Waking the sleeping worker
# costs about 50 us on a 2-core VM (futex wake of an idle vCPU): Adam float32 on 2 threads
# took 100 us at 300K elements against 55 us on one, broke even at 750K, and gained from
# 1M on (166 against 190 us; 375 against 602 us at 2M).
cdef Py_ssize_t _parallel_threshold = 3 << 18
# A process forked after its OpenMP thread pool started cannot use that pool:
# the pool's threads do not exist in the child, and libgomp's next parallel region waits
# for them forever.  Such a child runs every kernel on its own thread.
cdef bint _threads_started = False
cdef bint _serial_only = False


def openmp_enabled():
    """Whether this build has OpenMP (a serial build runs every kernel on one thread)."""
    return bool(FASTOPT_HAVE_OPENMP)


def set_num_threads(int n):
    global _num_threads
    _num_threads = n


def get_num_threads():
    if _serial_only:
        return 1
    return _num_threads if _num_threads > 0 else omp_get_max_threads()


def after_fork_in_child():
    """Called in a child process right after fork(): serial from now on if the parent's
    thread pools had started (see _serial_only)."""
    global _serial_only
    if _threads_started:
        _serial_only = True


def serial_only():
    """Whether this process is a fork of one whose thread pool had started."""
    return bool(_serial_only)


def set_parallel_threshold(Py_ssize_t n):
    global _parallel_threshold
    _parallel_threshold = n


def get_parallel_threshold():
    return _parallel_threshold


cdef inline int _threads_for(Py_ssize_t nelem) noexcept nogil:
    global _threads_started
    if not FASTOPT_HAVE_OPENMP or nelem < _parallel_threshold or _serial_only:
        return 1
    cdef int n = _num_threads if _num_threads > 0 else omp_get_max_threads()
    if n > 1:
        _threads_started = True
    return n


def threads_for(Py_ssize_t nelem):
    """The number of threads a kernel over ``nelem`` elements runs on."""
    return _threads_for(nelem)


# ----------------------------------------------------------------------------------------
# The driver.

cdef inline void _one_chunk(floating* s, void* fn, const int64_t* addrs, Py_ssize_t nbuf,
                            const int64_t* chunk, const double* seg_in, Py_ssize_t n_in,
                            double* out) noexcept nogil:
    cdef floating* bufs[MAX_BUFFERS]
    cdef Py_ssize_t row = chunk[0], start = chunk[1], j
    cdef int64_t a
    for j in range(nbuf):
        a = addrs[row * nbuf + j]
        bufs[j] = (<floating*><intptr_t>a) + start if a != 0 else NULL
    if floating is float:
        (<chunk_f32>fn)(bufs, chunk[2], s, seg_in + row * n_in, out)
    else:
        (<chunk_f64>fn)(bufs, chunk[2], s, seg_in + row * n_in, out)


cdef inline void _four_chunks(void* fn, const int64_t* addrs, Py_ssize_t nbuf,
                              const int64_t* chunk, double* out,
                              Py_ssize_t n_out, floating* unused) noexcept nogil:
    cdef floating* bufs[4][MAX_BUFFERS]
    cdef floating** b[4]
    cdef Py_ssize_t n[4]
    cdef double* o[4]
    cdef Py_ssize_t i, j, row, start
    cdef int64_t a
    for i in range(4):
        row, start, n[i] = chunk[3 * i], chunk[3 * i + 1], chunk[3 * i + 2]
        for j in range(nbuf):
            a = addrs[row * nbuf + j]
            bufs[i][j] = (<floating*><intptr_t>a) + start if a != 0 else NULL
        b[i] = bufs[i]
        o[i] = out + i * n_out
    if floating is float:
        (<chunks4_f32>fn)(b, n, o)
    else:
        (<chunks4_f64>fn)(b, n, o)


cdef void _drive4(floating* s, void* fn, void* fn4, const int64_t* addrs, Py_ssize_t nbuf,
                  const int64_t* chunks, Py_ssize_t nchunks, double* out, Py_ssize_t n_out,
                  int nthreads) noexcept nogil:
    # The last chunks one by one, then groups of four consecutive chunks, last group
    # first: each chunk's outputs are what _drive computes, whatever the thread count.
    # Backwards, because the step that follows a reduction (the guarded step's pre-pass)
    # walks forwards: what the reduction read last, the cache still holds when the step
    # starts.
    cdef Py_ssize_t grp, c, ngroups = nchunks // 4
    for c in range(nchunks - 1, 4 * ngroups - 1, -1):
        _one_chunk(s, fn, addrs, nbuf, chunks + 3 * c, NULL, 0, out + c * n_out)
    if nthreads > 1:
        for grp in prange(ngroups, num_threads=nthreads, schedule="static"):
            c = 4 * (ngroups - 1 - grp)
            _four_chunks(fn4, addrs, nbuf, chunks + 3 * c, out + c * n_out, n_out, s)
    else:
        for grp in range(ngroups - 1, -1, -1):
            c = 4 * grp
            _four_chunks(fn4, addrs, nbuf, chunks + 3 * c, out + c * n_out, n_out, s)


cdef struct Stored:
    # How a plan's state is stored, for kernels bound with a stored chunk function.
    void* wrap                 # stored_f32 / stored_f64 of the plan's dtype
    Py_ssize_t nstate          # state buffer columns: 2..2+nstate codes, then absmax
    Py_ssize_t code_size       # bytes per stored value (1: 8-bit, 2: bfloat16)
    uint8_t unsigned_map[MAX_STORED]
    int write
    Py_ssize_t piece           # values decoded, updated and encoded at a time
    void* direct               # or NULL: the kernel's own form for this storage, run as is


cdef inline void _one_stored_chunk(floating* s, void* fn, const Stored* st,
                                   const int64_t* addrs, Py_ssize_t nbuf,
                                   const int64_t* chunk, const double* seg_in,
                                   Py_ssize_t n_in, double* out) noexcept nogil:
    cdef void* bufs[MAX_BUFFERS]
    cdef Py_ssize_t row = chunk[0], start = chunk[1], j, ns = st.nstate
    cdef const int64_t* a = addrs + row * nbuf
    for j in range(2):
        bufs[j] = <void*>((<floating*><intptr_t>a[j]) + start) if a[j] != 0 else NULL
    for j in range(ns):     # (chunks of stored plans start on a block boundary)
        bufs[2 + j] = <void*>((<char*><intptr_t>a[2 + j]) + start * st.code_size) \
            if a[2 + j] != 0 else NULL
        bufs[2 + ns + j] = <void*>((<floating*><intptr_t>a[2 + ns + j]) + start // QBLOCK) \
            if a[2 + ns + j] != 0 else NULL
    if st.direct != NULL:
        if floating is float:
            (<chunk_f32>st.direct)(<float**>bufs, chunk[2], s, seg_in + row * n_in, out)
        else:
            (<chunk_f64>st.direct)(<double**>bufs, chunk[2], s, seg_in + row * n_in, out)
    elif floating is float:
        (<stored_f32>st.wrap)(fn, bufs, chunk[2], s, seg_in + row * n_in, out, ns,
                              st.unsigned_map, st.write, st.piece)
    else:
        (<stored_f64>st.wrap)(fn, bufs, chunk[2], s, seg_in + row * n_in, out, ns,
                              st.unsigned_map, st.write, st.piece)


cdef void _drive_stored(floating* s, void* fn, const Stored* st, const int64_t* addrs,
                        Py_ssize_t nbuf, const int64_t* chunks, Py_ssize_t nchunks,
                        const double* seg_in, Py_ssize_t n_in, double* out, Py_ssize_t n_out,
                        int nthreads) noexcept nogil:
    cdef Py_ssize_t c
    if nthreads > 1:
        for c in prange(nchunks, num_threads=nthreads, schedule="static"):
            _one_stored_chunk(s, fn, st, addrs, nbuf, chunks + 3 * c, seg_in, n_in,
                              out + c * n_out)
    else:
        for c in range(nchunks):
            _one_stored_chunk(s, fn, st, addrs, nbuf, chunks + 3 * c, seg_in, n_in,
                              out + c * n_out)


cdef void _drive(floating* s, void* fn, const int64_t* addrs, Py_ssize_t nbuf,
                 const int64_t* chunks, Py_ssize_t nchunks, const double* seg_in,
                 Py_ssize_t n_in, double* out, Py_ssize_t n_out, int nthreads) noexcept nogil:
    cdef Py_ssize_t c
    if nthreads > 1:
        for c in prange(nchunks, num_threads=nthreads, schedule="static"):
            _one_chunk(s, fn, addrs, nbuf, chunks + 3 * c, seg_in, n_in, out + c * n_out)
    else:
        for c in range(nchunks):
            _one_chunk(s, fn, addrs, nbuf, chunks + 3 * c, seg_in, n_in, out + c * n_out)


cdef class Kernel:
    """An optimizer's chunk function for both dtypes, with its arity: compiled here (the
    _math_* modules) or elsewhere (numba's cfuncs, see :func:`kernel_at`)."""
    cdef void* f32
    cdef void* f64
    cdef void* four_f32          # four chunks at once (or NULL; see chunks4_f32)
    cdef void* four_f64
    cdef void* bf16_f32          # its form for bfloat16 state (or NULL: see Stored.direct)
    cdef void* bf16_f64
    cdef readonly str name
    cdef readonly int n_scalars, n_seg_in, n_out
    cdef object owner          # what keeps the machine code alive (numba's cfuncs)

    def __repr__(self):
        return f"<fastopt kernel {self.name}>"


def kernel_at(str name, intptr_t f32, intptr_t f64, int n_scalars, int n_seg_in, int n_out,
              owner=None):
    """A Kernel whose chunk functions are at these addresses (numba cfuncs of the
    ``chunk_f32`` / ``chunk_f64`` signatures; 0 for a dtype it is not compiled for), kept
    alive by ``owner``.  Bound with :func:`bind`, it runs in this module's driver like a
    Cython kernel."""
    if not f32 and not f64:
        raise ValueError(f"kernel {name}: no chunk function address")
    if not (0 <= n_scalars <= MAX_SCALARS) or n_seg_in < 0 or n_out < 0:
        raise ValueError(f"kernel {name}: bad arity")
    cdef Kernel k = Kernel.__new__(Kernel)
    k.name = name
    k.f32 = <void*>f32
    k.f64 = <void*>f64
    k.n_scalars, k.n_seg_in, k.n_out = n_scalars, n_seg_in, n_out
    k.owner = owner
    return k


cdef extern from *:
    """
    static int fastopt_cpu_level(void) {
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
    #if !defined(__clang__) && __GNUC__ >= 12
        if (__builtin_cpu_supports("x86-64-v4")) return 4;
        if (__builtin_cpu_supports("x86-64-v3")) return 3;
    #else
        /* clang (Apple's too) and older GCC reject the level names: test the features
           that tell the levels apart (a CPU with these has the rest of its level). */
        int v3 = __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2")
            && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi")
            && __builtin_cpu_supports("bmi2");
        if (v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
                && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq")
                && __builtin_cpu_supports("avx512vl")) return 4;
        if (v3) return 3;
    #endif
    #endif
        return 1;
    }
    """
    int fastopt_cpu_level() noexcept nogil


def _load_math():
    """The math module for the best CPU level that this CPU runs and this build has
    ($FASTOPT_CPU = base, v3 or v4 asks for one; tests use it to compare levels)."""
    import importlib
    import os
    wanted = os.environ.get("FASTOPT_CPU")
    if wanted:
        if wanted not in ("base", "v3", "v4"):
            raise ImportError(f"FASTOPT_CPU={wanted!r}: choose base, v3 or v4")
        return wanted, importlib.import_module(f"fastopt._backends.cython._math_{wanted}")
    level = fastopt_cpu_level()
    for name, need in (("v4", 4), ("v3", 3)):
        if level >= need:
            try:
                return name, importlib.import_module(f"fastopt._backends.cython._math_{name}")
            except ImportError:
                pass
    return "base", importlib.import_module("fastopt._backends.cython._math_base")


CPU_LEVEL, _math = _load_math()


cdef Kernel _kernel(str name, tuple entry):
    cdef Kernel k = Kernel.__new__(Kernel)
    k.name = name
    k.f32 = <void*><intptr_t>entry[0]
    k.f64 = <void*><intptr_t>entry[1]
    k.n_scalars, k.n_seg_in, k.n_out = entry[2], entry[3], entry[4]
    if k.n_seg_in == 0:         # (a four-chunk function reads no per-tensor inputs)
        k.four_f32 = <void*><intptr_t>entry[5]
        k.four_f64 = <void*><intptr_t>entry[6]
    return k


KERNELS = {name: _kernel(name, entry) for name, entry in _math.kernels().items()}
for _name, (_f32, _f64) in _math.bfloat16_kernels().items():
    (<Kernel>KERNELS[_name]).bf16_f32 = <void*><intptr_t>_f32
    (<Kernel>KERNELS[_name]).bf16_f64 = <void*><intptr_t>_f64
STORED_CHUNKS = _math.stored_chunks()
for _name, _value in _math.stored_constants().items():
    if getattr(storage, _name) != _value:
        raise ImportError(f"fastopt's compiled kernels have {_name} = {_value}, its "
                          f"storage module {getattr(storage, _name)}: rebuild the extensions")
_math.set_quantization_maps([storage.quantization_map(True), storage.quantization_map(False)])


cdef class Stage:
    """A compiled part of a step, run with the plan's scalars: ``check`` refuses what
    ``run`` could not do (before anything of the step runs), and ``run`` cannot fail, so
    a step made of stages commits in one C call (see _commit_compiled)."""

    def __call__(self, tuple scalars):
        self.check(scalars)
        self.run(scalars)

    cdef int check(self, tuple scalars) except -1:
        return 0

    cdef void run(self, tuple scalars) noexcept:
        pass


cdef class Program(Stage):
    """Stages run in order with the same scalars (LAMB: moments, trust ratios, update)."""
    cdef readonly tuple stages

    def __init__(self, *stages):
        for st in stages:
            if not isinstance(st, Stage):
                raise TypeError(f"a Program runs Stages, not {type(st).__name__}")
        self.stages = stages

    cdef int check(self, tuple scalars) except -1:
        cdef Stage st
        for st in self.stages:
            st.check(scalars)
        return 0

    cdef void run(self, tuple scalars) noexcept:
        cdef Stage st
        for st in self.stages:
            st.run(scalars)


cdef class BoundKernel(Stage):
    """A kernel bound to one plan: calling it with the step's scalars runs one step.

    ``seg_in`` (float64, one row per tensor) and ``out`` (float64, one row per chunk) are
    arrays the caller owns and may refill between calls."""
    cdef Kernel kernel
    cdef cnp.ndarray addrs_arr, chunks_arr, seg_in_arr, out_arr
    cdef const int64_t* addrs
    cdef const int64_t* chunks
    cdef const double* seg_in
    cdef double* out
    cdef Py_ssize_t nbuf, nchunks, nelem
    cdef bint is_f32
    cdef Stored stored
    cdef bint has_stored

    def __cinit__(self, Kernel kernel, cnp.ndarray addrs, cnp.ndarray chunks, dtype,
                  Py_ssize_t nelem, cnp.ndarray seg_in=None, cnp.ndarray out=None,
                  tuple storage=None):
        if addrs.dtype != np.int64 or not addrs.flags.c_contiguous or addrs.ndim != 2:
            raise TypeError("addrs must be a C-contiguous 2-D int64 array")
        if chunks.dtype != np.int64 or not chunks.flags.c_contiguous or chunks.ndim != 2 \
                or chunks.shape[1] != 3:
            raise TypeError("chunks must be a C-contiguous (n, 3) int64 array")
        if addrs.shape[1] > MAX_BUFFERS:
            raise ValueError(f"at most {MAX_BUFFERS} buffers per tensor")
        if kernel.n_seg_in and (seg_in is None or seg_in.dtype != np.float64
                                or not seg_in.flags.c_contiguous
                                or seg_in.shape[0] != addrs.shape[0]
                                or seg_in.size != addrs.shape[0] * kernel.n_seg_in):
            raise TypeError(f"kernel {kernel.name} needs seg_in of shape "
                            f"({addrs.shape[0]}, {kernel.n_seg_in}), float64")
        if kernel.n_out and (out is None or out.dtype != np.float64 or not out.flags.c_contiguous
                             or out.shape[0] != chunks.shape[0]
                             or out.size != chunks.shape[0] * kernel.n_out):
            raise TypeError(f"kernel {kernel.name} needs out of shape "
                            f"({chunks.shape[0]}, {kernel.n_out}), float64")
        self.kernel = kernel
        self.addrs_arr = addrs
        self.chunks_arr = chunks
        self.seg_in_arr = seg_in
        self.out_arr = out
        self.addrs = <const int64_t*>cnp.PyArray_DATA(addrs)
        self.chunks = <const int64_t*>cnp.PyArray_DATA(chunks)
        self.seg_in = <const double*>cnp.PyArray_DATA(seg_in) if seg_in is not None else NULL
        self.out = <double*>cnp.PyArray_DATA(out) if out is not None else NULL
        self.nbuf = addrs.shape[1]
        self.nchunks = chunks.shape[0]
        self.nelem = nelem
        dtype = np.dtype(dtype)
        if dtype == np.float32:
            self.is_f32 = True
        elif dtype == np.float64:
            self.is_f32 = False
        else:
            raise TypeError(f"unsupported dtype {dtype}")
        if (kernel.f32 if self.is_f32 else kernel.f64) == NULL:
            raise TypeError(f"kernel {kernel.name} is not compiled for {dtype}")
        self.has_stored = storage is not None
        if storage is not None:
            self._store(storage)

    cdef int _store(self, tuple storage) except -1:
        """storage = (precision, unsigned_map, write): the state columns hold ``precision``
        ("bfloat16" or "8bit") values, buffer j with the unsigned 8-bit map where
        unsigned_map[j]; write False where the kernel only reads its state."""
        precision, unsigned_map, write = storage
        cdef Py_ssize_t j, ns = len(unsigned_map)
        if precision not in STORED_CHUNKS:
            raise ValueError(f"no stored chunk function for state precision {precision!r}")
        if ns > MAX_STORED or self.nbuf != 2 + 2 * ns:
            raise ValueError(f"a plan with stored state has 2 + 2*n columns for n <= "
                             f"{MAX_STORED} state buffers, got {self.nbuf} for {ns}")
        self.stored.wrap = <void*><intptr_t>STORED_CHUNKS[precision][0 if self.is_f32 else 1]
        self.stored.nstate = ns
        self.stored.code_size = 1 if precision.startswith("8bit") else 2
        for j in range(ns):
            self.stored.unsigned_map[j] = 1 if unsigned_map[j] else 0
        self.stored.write = 1 if write else 0
        # A block at a time; a kernel with per-chunk outputs takes its chunk whole.
        self.stored.piece = QBLOCK if self.kernel.n_out == 0 else (<Py_ssize_t>1) << 62
        # A kernel with a form of its own for bfloat16 state reads and writes it in place.
        self.stored.direct = NULL
        if precision == "bfloat16":
            self.stored.direct = self.kernel.bf16_f32 if self.is_f32 else self.kernel.bf16_f64
        return 0

    cdef int check(self, tuple scalars) except -1:
        if len(scalars) != self.kernel.n_scalars:
            raise ValueError(f"kernel {self.kernel.name} takes {self.kernel.n_scalars} "
                             f"scalars, got {len(scalars)}")
        return 0

    cdef void run(self, tuple scalars) noexcept:
        """The step (scalars checked by check first: this cannot fail)."""
        cdef float s32[MAX_SCALARS]
        cdef double s64[MAX_SCALARS]
        cdef Py_ssize_t i, ns = len(scalars)
        cdef int nthreads
        nthreads = _threads_for(self.nelem)
        if self.is_f32:
            for i in range(ns):
                s32[i] = <float>(<double>scalars[i])
            with nogil:
                self._drive(s32, self.kernel.f32, self.kernel.four_f32, nthreads)
        else:
            for i in range(ns):
                s64[i] = <double>scalars[i]
            with nogil:
                self._drive(s64, self.kernel.f64, self.kernel.four_f64, nthreads)

    cdef void _drive(self, floating* s, void* fn, void* fn4, int nthreads) noexcept nogil:
        # Four chunks at once where the kernel has a four-chunk function, from 8 chunks on
        # (a group of four for each of two threads); else one by one.
        if self.has_stored:
            _drive_stored(s, fn, &self.stored, self.addrs, self.nbuf, self.chunks,
                          self.nchunks, self.seg_in, self.kernel.n_seg_in, self.out,
                          self.kernel.n_out, nthreads)
        elif fn4 != NULL and self.nchunks >= 8:
            _drive4(s, fn, fn4, self.addrs, self.nbuf, self.chunks, self.nchunks, self.out,
                    self.kernel.n_out, nthreads)
        else:
            _drive(s, fn, self.addrs, self.nbuf, self.chunks, self.nchunks, self.seg_in,
                   self.kernel.n_seg_in, self.out, self.kernel.n_out, nthreads)


# ----------------------------------------------------------------------------------------
# Committing a step: the kernels, the per-group scalar state and the step counter change
# together or not at all.  KeyboardInterrupt is raised by the interpreter between two
# bytecodes, never inside a C call: a step whose kernels are all compiled commits in one
# C call (_commit_compiled), and one that runs Python code (the NumPy backend, an
# optimizer with a pass of its own) holds SIGINT back while it runs
# (_commit_deferred) and re-raises it once the step is whole.

cdef extern from *:
    """
    #include <signal.h>
    #include <string.h>
    static volatile sig_atomic_t fastopt_sigint_seen = 0;
    static int fastopt_defer_depth = 0;      /* changed with the GIL held */
    static int fastopt_swapped = 0;
    static void fastopt_note_sigint(int sig) { (void)sig; fastopt_sigint_seen = 1; }
    #ifdef _WIN32
    static void (*fastopt_saved)(int) = NULL;
    static void fastopt_hold_sigint(void) {
        if (fastopt_defer_depth++ > 0) return;
        void (*old)(int) = signal(SIGINT, fastopt_note_sigint);
        if (old == SIG_ERR) { fastopt_swapped = 0; return; }
        if (old == SIG_DFL || old == SIG_IGN) { signal(SIGINT, old); fastopt_swapped = 0; return; }
        fastopt_saved = old; fastopt_swapped = 1;
    }
    static void fastopt_restore_sigint(void) {
        if (--fastopt_defer_depth > 0 || !fastopt_swapped) return;
        signal(SIGINT, fastopt_saved); fastopt_swapped = 0;
    }
    #else
    static struct sigaction fastopt_saved;
    static void fastopt_hold_sigint(void) {
        struct sigaction ours;
        if (fastopt_defer_depth++ > 0) return;
        fastopt_swapped = 0;
        if (sigaction(SIGINT, NULL, &fastopt_saved) != 0) return;
        /* SIG_DFL ends the process, SIG_IGN ignores: only a handler (Python's) is held */
        if (!(fastopt_saved.sa_flags & SA_SIGINFO) && (fastopt_saved.sa_handler == SIG_DFL
                                                       || fastopt_saved.sa_handler == SIG_IGN))
            return;
        memset(&ours, 0, sizeof ours);
        ours.sa_handler = fastopt_note_sigint;
        sigemptyset(&ours.sa_mask);
        ours.sa_flags = fastopt_saved.sa_flags & ~SA_SIGINFO;
        if (sigaction(SIGINT, &ours, NULL) == 0) fastopt_swapped = 1;
    }
    static void fastopt_restore_sigint(void) {
        if (--fastopt_defer_depth > 0 || !fastopt_swapped) return;
        sigaction(SIGINT, &fastopt_saved, NULL); fastopt_swapped = 0;
    }
    #endif
    /* Whether a SIGINT was held back, once the outermost hold has ended. */
    static int fastopt_take_sigint(void) {
        int seen;
        if (fastopt_defer_depth > 0) return 0;
        seen = fastopt_sigint_seen;
        fastopt_sigint_seen = 0;
        return seen;
    }
    """
    void fastopt_hold_sigint() noexcept nogil
    void fastopt_restore_sigint() noexcept nogil
    int fastopt_take_sigint() noexcept nogil

from cpython.exc cimport PyErr_CheckSignals, PyErr_SetInterrupt


cdef int _finish(StepPath path, group_states, step, list updates) except -1:
    # Only C-level operations on built-in objects: no bytecode runs here.
    cdef Py_ssize_t gi
    if updates is not None:
        for gi in range(len(updates)):
            update = updates[gi]
            if update is not None:
                (<dict>group_states[gi]).update(<dict>update)
    path.step = step
    return 0


cdef int _commit_compiled(StepPath path, group_states, list scalars, step,
                          list updates) except -1:
    """Run ``runs[i](scalars[i])`` for every plan (Stages), then apply the per-group
    state updates (a dict or None per group) and set the step count, in one C call."""
    cdef list runs = path.runs
    cdef Py_ssize_t i, n = len(runs)
    if len(scalars) != n:
        raise ValueError("one tuple of scalars per kernel")
    for i in range(n):
        (<Stage?>runs[i]).check(<tuple?>scalars[i])
    for i in range(n):
        (<Stage>runs[i]).run(<tuple>scalars[i])
    _finish(path, group_states, step, updates)
    return 0


cdef int _commit_deferred(StepPath path, group_states, list scalars, step,
                          list updates) except -1:
    """``path.run(scalars, step)`` (Python code that must not be cut short), then the state
    updates as _commit_compiled does; a Ctrl-C that arrives meanwhile is raised once all
    is done."""
    fastopt_hold_sigint()
    try:
        PyErr_CheckSignals()        # a Ctrl-C from just before: raised before anything ran
        path.run(scalars, step)
        _finish(path, group_states, step, updates)
    finally:
        fastopt_restore_sigint()
        if fastopt_take_sigint():
            PyErr_SetInterrupt()        # Python's SIGINT handler runs at the next check
    return 0


def uninterrupted(run, tuple args):
    """``run(*args)`` with Ctrl-C held back until it returns (as _commit_deferred)."""
    fastopt_hold_sigint()
    try:
        PyErr_CheckSignals()
        return run(*args)
    finally:
        fastopt_restore_sigint()
        if fastopt_take_sigint():
            PyErr_SetInterrupt()


def bind(spec, cnp.ndarray addrs, cnp.ndarray chunks, dtype, Py_ssize_t nelem,
         cnp.ndarray seg_in=None, cnp.ndarray out=None, dict kernels=None,
         tuple storage=None):
    """The backend entry point: the compiled kernel of ``spec`` (a fastopt._core.kernel.
    Kernel) bound to a plan's tables, from ``kernels`` (name -> Kernel; default: the
    Cython kernels).  One whose arity is not the Kernel's is refused here, and a tuple of
    another length than its scalar count at each call (by check).  ``storage``: where the
    plan's state is stored in bfloat16 or 8 bits, (precision, unsigned_map, write) (see
    BoundKernel._store)."""
    name = spec.name
    cdef Kernel kernel = (KERNELS if kernels is None else kernels)[name]
    if (kernel.n_scalars, kernel.n_seg_in, kernel.n_out) != \
            (len(spec.all_scalars), len(spec.seg_in), len(spec.outputs)):
        raise ValueError(f"kernel {name} is compiled for {kernel.n_scalars} scalars, "
                         f"{kernel.n_seg_in} seg_in inputs and {kernel.n_out} outputs, but "
                         f"its definition has {len(spec.all_scalars)}, {len(spec.seg_in)} "
                         f"and {len(spec.outputs)}: rebuild the extensions")
    return BoundKernel(kernel, addrs, chunks, dtype, nelem, seg_in, out, storage)


# ----------------------------------------------------------------------------------------
# Gradients given per step: validated, then their addresses written into the plan tables.

cdef inline bint _same_shape(cnp.ndarray a, cnp.ndarray b):
    cdef int d, nd = cnp.PyArray_NDIM(a)
    if nd != cnp.PyArray_NDIM(b):
        return False
    for d in range(nd):
        if cnp.PyArray_DIM(a, d) != cnp.PyArray_DIM(b, d):
            return False
    return True


cdef Py_ssize_t _overlapping(int64_t lo, int64_t hi, const int64_t* span_lo,
                             const int64_t* span_hi, Py_ssize_t nspans) noexcept:
    """The index of a span [span_lo[k], span_hi[k]) that [lo, hi) overlaps, or -1.  The
    spans are sorted and disjoint: only the last one starting before ``hi`` can."""
    cdef Py_ssize_t a = 0, b = nspans, m
    if hi <= lo:
        return -1
    while a < b:                     # the first span starting at or after hi
        m = (a + b) // 2
        if span_lo[m] < hi:
            a = m + 1
        else:
            b = m
    if a > 0 and span_hi[a - 1] > lo:
        return a - 1
    return -1


cdef inline const int64_t* _int64_data(cnp.ndarray a, Py_ssize_t n, str what) except NULL:
    """The data of ``a``, a C-contiguous int64 array of ``n`` elements (-1: any)."""
    if cnp.PyArray_TYPE(a) != cnp.NPY_INT64 or not cnp.PyArray_IS_C_CONTIGUOUS(a) \
            or (n >= 0 and cnp.PyArray_SIZE(a) != n):
        raise TypeError(f"{what} must be a C-contiguous int64 array"
                        + (f" of {n} elements" if n >= 0 else ""))
    return <const int64_t*>cnp.PyArray_DATA(a)


def overlapping(int64_t address, int64_t nbytes, cnp.ndarray span_lo, cnp.ndarray span_hi):
    """Which of the sorted, disjoint spans [span_lo, span_hi) the bytes at ``address``
    overlap (an index), or -1."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(span_lo)
    return _overlapping(address, address + nbytes, _int64_data(span_lo, n, "span_lo"),
                        _int64_data(span_hi, n, "span_hi"), n)


def gather_addresses(seq, list params, list labels, cnp.ndarray table, cnp.ndarray rows,
                     Py_ssize_t col, cnp.ndarray span_lo, cnp.ndarray span_hi,
                     list span_labels):
    """Check that ``seq[i]`` is a valid gradient for ``params[i]`` for every i, then write
    its data address to ``table[rows[i], col]``.  Nothing is written unless all are valid.
    A gradient may not share memory with any span [span_lo[k], span_hi[k]) (sorted and
    disjoint: the parameters and the optimizer's state), named ``span_labels[k]``.
    """
    cdef Py_ssize_t i, k, n = len(params), nbytes, nspans = cnp.PyArray_SIZE(span_lo)
    cdef cnp.ndarray g, p
    cdef int64_t gp
    cdef const int64_t* lo = _int64_data(span_lo, nspans, "span_lo")
    cdef const int64_t* hi = _int64_data(span_hi, nspans, "span_hi")
    if len(seq) != n:
        raise ValueError(f"expected {n} gradients (one per parameter), got {len(seq)}")
    for i in range(n):
        obj = seq[i]
        p = <cnp.ndarray>params[i]
        if not isinstance(obj, cnp.ndarray):
            if isinstance(obj, tuple) and len(obj) == 2:
                raise TypeError(f"gradient for parameter {labels[i]} is row-sparse "
                                f"(indices, rows): this optimizer does not support sparse "
                                f"gradients, please consider fastopt.SparseAdam instead")
            raise TypeError(f"gradient for parameter {labels[i]} must be a NumPy array, "
                            f"got {type(obj).__name__}")
        g = <cnp.ndarray>obj
        if cnp.PyArray_TYPE(g) != cnp.PyArray_TYPE(p) or not cnp.PyArray_ISNOTSWAPPED(g):
            raise TypeError(f"gradient for parameter {labels[i]} has dtype "
                            f"{g.dtype.str if not cnp.PyArray_ISNOTSWAPPED(g) else g.dtype}, "
                            f"the parameter has {p.dtype}"
                            + (" (in the machine's byte order)"
                               if not cnp.PyArray_ISNOTSWAPPED(g) else ""))
        if not _same_shape(g, p):
            raise ValueError(f"gradient for parameter {labels[i]} has shape {(<object>g).shape}, "
                             f"the parameter has {(<object>p).shape}")
        if not cnp.PyArray_IS_C_CONTIGUOUS(g):
            raise ValueError(f"gradient for parameter {labels[i]} is not C-contiguous "
                             f"(use np.ascontiguousarray)")
        gp = <int64_t><intptr_t>cnp.PyArray_DATA(g)
        nbytes = cnp.PyArray_NBYTES(g)
        k = _overlapping(gp, gp + nbytes, lo, hi, nspans)
        if k >= 0:
            what = span_labels[k]
            raise ValueError(f"gradient for parameter {labels[i]} shares memory with "
                             + ("the parameter itself" if what == labels[i] else what))
    cdef int64_t[:, ::1] t = table
    cdef Py_ssize_t[::1] r = rows
    for i in range(n):
        t[r[i], col] = <int64_t><intptr_t>cnp.PyArray_DATA(<cnp.ndarray>seq[i])


from cpython.dict cimport PyDict_Next
from cpython.ref cimport PyObject


cpdef bint group_unchanged(dict group, tuple entry):
    """Whether the hyperparameter check cached in ``entry`` (see Optimizer._check_group)
    still holds for ``group``: the very dict it was made from (entry[3]), with the same
    keys in the same order (entry[4]) and the very same value objects (entry[0]).  Keys
    and values are compared by identity, so 1 == 1.0 == True never hides a change; a key
    re-added as an equal but other string only costs a check."""
    cdef tuple values = <tuple>entry[0]
    cdef tuple keys = <tuple>entry[4]
    cdef Py_ssize_t pos = 0, i = 0, n = len(keys)
    cdef PyObject* key
    cdef PyObject* value
    if group is not entry[3] or len(group) != n or len(values) != n:
        return False
    while PyDict_Next(group, &pos, &key, &value):
        if key is not <PyObject*>keys[i] or value is not <PyObject*>values[i]:
            return False
        i += 1
    return True


cpdef check_params(param_groups, list group_arrays, list labels, cnp.ndarray table,
                 cnp.ndarray rows, cnp.ndarray nbytes):
    """Check that the optimizer's parameters are where it was built with them:
    ``param_groups`` (the user-visible list) holds the same groups with the same arrays
    (``group_arrays[gi]``, a tuple, in the user's order), and each array still has the
    data address ``table[rows[i], 0]``, ``nbytes[i]`` bytes and is writeable (resizing
    an array in place moves its data: the optimizer would write into freed memory)."""
    cdef Py_ssize_t gi, j, m, i = 0, ngroups = len(group_arrays)
    cdef Py_ssize_t ncols = cnp.PyArray_DIM(table, 1) if cnp.PyArray_NDIM(table) == 2 else 0
    cdef Py_ssize_t ntensors = cnp.PyArray_SIZE(nbytes)
    cdef const int64_t* t = _int64_data(table, ntensors * ncols, "table")
    cdef const int64_t* sizes = _int64_data(nbytes, ntensors, "nbytes")
    cdef const Py_ssize_t* r
    cdef cnp.ndarray a
    cdef tuple arrays
    cdef list held_list
    if cnp.PyArray_TYPE(rows) != cnp.NPY_INTP or cnp.PyArray_SIZE(rows) != ntensors \
            or not cnp.PyArray_IS_C_CONTIGUOUS(rows):
        raise TypeError("rows must be a C-contiguous intp array, one per tensor")
    r = <const Py_ssize_t*>cnp.PyArray_DATA(rows)
    if type(param_groups) is not list or len(<list>param_groups) != ngroups:
        n = len(param_groups) if isinstance(param_groups, list) else None
        raise ValueError(
            (f"param_groups holds {n} groups, but this optimizer has {ngroups}: "
             if n is not None else f"param_groups must be a list of {ngroups} dicts: ")
            + "add a group with add_param_group(), or build a new optimizer")
    for gi in range(ngroups):
        group = (<list>param_groups)[gi]
        if type(group) is not dict:
            raise TypeError(f"param group {gi} must be a dict, got {type(group).__name__}")
        arrays = <tuple>group_arrays[gi]
        m = len(arrays)
        held = (<dict>group).get("params")
        if type(held) is not list or len(<list>held) != m:
            _params_changed(gi)
        held_list = <list>held
        for j in range(m):
            if held_list[j] is not arrays[j]:
                _params_changed(gi)
            a = <cnp.ndarray>arrays[j]
            if i >= ntensors:
                raise ValueError("group_arrays holds more tensors than the table")
            if <int64_t><intptr_t>cnp.PyArray_DATA(a) != t[r[i] * ncols] \
                    or cnp.PyArray_NBYTES(a) != sizes[i]:
                raise ValueError(f"parameter {labels[i]} was resized or reallocated after "
                                 f"the optimizer was built (its data moved); build a new "
                                 f"optimizer for it")
            if not cnp.PyArray_ISWRITEABLE(a):
                raise ValueError(f"parameter {labels[i]} has become read-only")
            i += 1


cdef int _params_changed(Py_ssize_t gi) except -1:
    raise ValueError(f"param group {gi}'s 'params' are no longer the arrays this optimizer "
                     f"was built with: parameters cannot be added, removed or swapped "
                     f"there; use add_param_group(), or build a new optimizer")


# ----------------------------------------------------------------------------------------
# Per-tensor reductions: combining the chunks' partial sums (kernels with n_out > 0).

from libc.math cimport sqrt


cdef class TrustRatios(Stage):
    """LAMB's step between its two kernels, for one plan: for each tensor (row), ``a`` and
    ``b``, the sums of its chunks' partial sums in columns 0 and 1 of ``partial`` (added in
    chunk order, in float64, so they do not depend on the thread count), and
    ``out[row, 0] = scale * sqrt(a) / sqrt(b)``, or ``scale`` where either norm is 0 (lr
    times the trust ratio ||p|| / ||u||), ``scale`` being the step's last scalar.  A
    tensor with no chunks (size 0) gets ``scale``."""
    cdef readonly cnp.ndarray chunks, partial, out
    cdef const int64_t* chunk_rows
    cdef const double* sums
    cdef double* ratios
    cdef Py_ssize_t nchunks, nrows, pcols, ocols

    def __init__(self, cnp.ndarray chunks, cnp.ndarray partial, cnp.ndarray out):
        for what, a, dt in (("chunks", chunks, np.int64), ("partial", partial, np.float64),
                            ("out", out, np.float64)):
            if a.dtype != dt or a.ndim != 2 or not a.flags.c_contiguous:
                raise TypeError(f"TrustRatios: {what} must be a C-contiguous 2-D {dt.__name__} "
                                f"array")
        if chunks.shape[0] != partial.shape[0] or chunks.shape[1] != 3 \
                or partial.shape[1] < 2 or out.shape[1] < 1:
            raise ValueError("TrustRatios: chunks, partial and out do not match")
        self.chunks, self.partial, self.out = chunks, partial, out
        self.chunk_rows = <const int64_t*>cnp.PyArray_DATA(chunks)
        self.sums = <const double*>cnp.PyArray_DATA(partial)
        self.ratios = <double*>cnp.PyArray_DATA(out)
        self.nchunks, self.nrows = chunks.shape[0], out.shape[0]
        self.pcols, self.ocols = partial.shape[1], out.shape[1]

    cdef int check(self, tuple scalars) except -1:
        if len(scalars) == 0:
            raise ValueError("TrustRatios needs the step's scalars (lr last)")
        return 0

    cdef void run(self, tuple scalars) noexcept:
        cdef double scale = <double>scalars[len(scalars) - 1]
        cdef Py_ssize_t c = 0, row
        cdef double a, b
        with nogil:
            for row in range(self.nrows):
                a = 0.0
                b = 0.0
                while c < self.nchunks and self.chunk_rows[3 * c] == row:
                    a = a + self.sums[c * self.pcols]
                    b = b + self.sums[c * self.pcols + 1]
                    c = c + 1
                a = sqrt(a)
                b = sqrt(b)
                self.ratios[row * self.ocols] = scale if a == 0 or b == 0 else scale * (a / b)


# ----------------------------------------------------------------------------------------
# Rules run one whole tensor per call (Adafactor: row, column and tensor sums), on the
# calling thread: fn(b, info, scratch, s) with b[j] buffer j of the tensor (param, grad,
# then state; NULL where absent), info its row of a static int64 table, scratch float64
# work space and s the step's scalars as doubles.

ctypedef void (*tensor_fn)(void** b, const int64_t* info, double* scratch,
                           const double* s) noexcept nogil

#: name -> (float32 address, float64 address, number of scalars) of the Cython rules.
TENSOR_KERNELS = _math.tensor_kernels()


cdef class TensorStage(Stage):
    """A per-tensor rule bound to one plan: each step calls ``fn`` once per tensor (row of
    the address table, read at call time: the gradients' addresses change between steps),
    in row order, without the GIL.  ``info`` (int64, one row per tensor) and ``scratch``
    (float64) are arrays the caller built for the rule; ``owner`` keeps the code alive."""
    cdef readonly cnp.ndarray addrs, info, scratch
    cdef readonly object owner
    cdef tensor_fn fn
    cdef Py_ssize_t nrows, nbuf, ninfo, n_scalars

    def __init__(self, intptr_t fn, Py_ssize_t n_scalars, cnp.ndarray addrs,
                 cnp.ndarray info, cnp.ndarray scratch, owner=None):
        for what, a, dt in (("addrs", addrs, np.int64), ("info", info, np.int64),
                            ("scratch", scratch, np.float64)):
            if a.dtype != dt or not a.flags.c_contiguous or a.ndim != (1 if what == "scratch" else 2):
                raise TypeError(f"TensorStage: {what} must be a C-contiguous {dt.__name__} array")
        if info.shape[0] != addrs.shape[0] or addrs.shape[1] > MAX_BUFFERS \
                or n_scalars > MAX_SCALARS or scratch.shape[0] == 0 or fn == 0:
            raise ValueError("TensorStage: addrs, info, scratch and the rule do not match")
        self.fn = <tensor_fn><void*>fn
        self.n_scalars = n_scalars
        self.addrs, self.info, self.scratch, self.owner = addrs, info, scratch, owner
        self.nrows, self.nbuf, self.ninfo = addrs.shape[0], addrs.shape[1], info.shape[1]

    cdef int check(self, tuple scalars) except -1:
        if len(scalars) != self.n_scalars:
            raise ValueError(f"this rule takes {self.n_scalars} scalars, got {len(scalars)}")
        return 0

    cdef void run(self, tuple scalars) noexcept:
        cdef double s[MAX_SCALARS]
        cdef void* b[MAX_BUFFERS]
        cdef Py_ssize_t i, j, row
        cdef const int64_t* addrs = <const int64_t*>cnp.PyArray_DATA(self.addrs)
        cdef const int64_t* info = <const int64_t*>cnp.PyArray_DATA(self.info)
        cdef double* scratch = <double*>cnp.PyArray_DATA(self.scratch)
        for i in range(self.n_scalars):
            s[i] = <double>scalars[i]
        with nogil:
            for row in range(self.nrows):
                for j in range(self.nbuf):
                    b[j] = <void*><intptr_t>addrs[row * self.nbuf + j]
                self.fn(b, info + row * self.ninfo, scratch, s)


def tensor_stage(name, dtype, cnp.ndarray addrs, cnp.ndarray info, cnp.ndarray scratch):
    """The Cython rule ``name`` for ``dtype`` as a TensorStage on a plan's tables."""
    f32, f64, n_scalars = TENSOR_KERNELS[name]
    return TensorStage(f32 if np.dtype(dtype) == np.float32 else f64, n_scalars, addrs, info,
                       scratch)


# ----------------------------------------------------------------------------------------
# The step: Optimizer.step after its closure, in one C function that calls back into
# Python only for what an optimizer defines (its scalars and group state) and for the less
# common paths (a param group whose values changed, gradients given per step, the guarded
# step, kernels that are not Stages).  A small step is mostly this path: each Python frame
# it does not enter saves a tenth of a microsecond.

#: The step counter is an int64: a step count beyond this is refused.
MAX_STEP = 2 ** 62

from cpython.pythread cimport (PyThread_type_lock, PyThread_allocate_lock, PyThread_free_lock,
                               PyThread_acquire_lock, PyThread_release_lock, NOWAIT_LOCK,
                               PY_LOCK_ACQUIRED)

cdef extern from "pythread.h":
    int PyThread_acquire_lock_timed(PyThread_type_lock, long long microseconds,
                                    int intr_flag) nogil


cdef class StepPath:
    """What a step reads about its optimizer, as C fields (each attribute of a Python
    object read costs a dictionary lookup, and a small step made about twenty), and the
    lock its steps take turns on (``with path:``).

    The optimizer owns the objects: the lists here are its own (changed in place, never
    replaced), and the layout's are set again with each layout (Optimizer._install_layout).
    """
    cdef PyThread_type_lock lock
    #: the step count, an int
    cdef public object step
    cdef public bint guarded, grads_are_default, compiled, has_group_state, joint_hook
    cdef public list checked, joined, runs, plan_groups, scalar_cache, group_arrays, labels
    cdef public cnp.ndarray table, rows, nbytes
    #: Optimizer._run, for kernels that are not Stages
    cdef public object run

    def __cinit__(self):
        self.lock = PyThread_allocate_lock()
        if self.lock == NULL:
            raise MemoryError("cannot allocate a lock")
        self.step = 0

    def __dealloc__(self):
        if self.lock != NULL:
            PyThread_free_lock(self.lock)

    cdef int acquire(self) except -1:
        cdef int got
        if PyThread_acquire_lock(self.lock, NOWAIT_LOCK):
            return 0
        while True:         # wait without the GIL, but see a Ctrl-C every 20 ms
            with nogil:
                got = PyThread_acquire_lock_timed(self.lock, 20000, 0)
            if got == PY_LOCK_ACQUIRED:
                return 0
            PyErr_CheckSignals()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        PyThread_release_lock(self.lock)
        return False


from collections.abc import Mapping


def step(self, grads=None, closure=None):
    """One update of every parameter; returns what ``closure`` returned (or None).

    ``grads``: the gradients in the parameters' structure (a list in order, or a dict
    by name), or one flat array; omitted for ``FlatParams``, whose ``.grads`` buffer
    is used.  ``closure`` (torch's habit, also accepted as the only argument): a
    function called first that writes the gradients -- into ``params.grads`` for
    ``FlatParams``, or into the arrays passed as ``grads`` -- and returns the loss.

    A refused call changes nothing, and a step is never taken in part: after an
    exception (a KeyboardInterrupt too) parameters, state, per-group state and
    ``step_count`` are all as before the step or all as after it.  Two threads
    stepping one optimizer take turns.
    """
    if closure is None:
        if grads is None or not callable(grads) or isinstance(grads, (np.ndarray, Mapping)):
            _step(self, grads)
            return None
        grads, closure = None, grads
    if grads is None and self._flat is None:
        raise TypeError("step(closure): the closure writes the gradients, and these "
                        "parameters keep none; pass the arrays it writes into as "
                        "well (step(grads, closure)), or build the optimizer on "
                        "fastopt.flatten(...) and write into params.grads")
    loss = closure()
    _step(self, grads)
    return loss


cdef int _step(opt, grads) except -1:
    # One step of ``opt`` with ``grads`` (None: FlatParams' own), taking turns with other
    # threads.
    cdef StepPath path = opt._path
    path.acquire()
    try:
        _step_locked(opt, path, grads)
    finally:
        PyThread_release_lock(path.lock)
    return 0


cdef int _step_locked(opt, StepPath path, grads) except -1:
    # (the user-visible lists, any sequence as before: check_params says what is wrong)
    param_groups = opt.param_groups
    group_states = opt.group_state
    cdef list joined = path.joined
    cdef list plan_groups
    cdef Py_ssize_t gi, i, ngroups = len(param_groups)
    check_params(param_groups, path.group_arrays, path.labels, path.table, path.rows,
                 path.nbytes)
    if grads is not None or not path.grads_are_default:
        opt._take_grads(grads)
    t = path.step + 1
    if t > MAX_STEP:
        raise ValueError(f"the step count would pass {MAX_STEP}")
    cdef list per_group = [_group_step(opt, path, gi, t - joined[gi], param_groups[gi],
                                       group_states[gi])
                           for gi in range(ngroups)]
    cdef list scalars, updates = None
    if ngroups == 1:
        scalars = [(<tuple>per_group[0])[0]] * len(path.runs)
    else:
        plan_groups = path.plan_groups
        scalars = [(<tuple>per_group[<Py_ssize_t>plan_groups[i]])[0]
                   for i in range(len(plan_groups))]
    if path.has_group_state:
        updates = [(<tuple>u)[1] for u in per_group]
    if path.guarded:
        scalars = opt._guarded_scalars(scalars, t)
        if scalars is None:
            return 0
    if path.compiled:
        _commit_compiled(path, group_states, scalars, t, updates)
    else:
        _commit_deferred(path, group_states, scalars, t, updates)
    return 0


def group_step(opt, Py_ssize_t gi, step):
    """Group ``gi``'s kernel scalars for its own step ``step`` and its group state after
    it (the changed entries, or None), checking everything they are made of."""
    return _group_step(opt, opt._path, gi, step, opt.param_groups[gi], opt.group_state[gi])


cdef tuple _group_step(opt, StepPath path, Py_ssize_t gi, step, group, gstate):
    # The group's values are checked once and then only when one of them is replaced
    # (see group_unchanged); checking costs more than the rest of a small step.
    checked = path.checked[gi]
    if checked is None or type(group) is not dict or not group_unchanged(group, checked):
        return opt._checked_group_step(gi, step, group, gstate, True)
    # Where the optimizer's scalars and group state do not read the step (SGD, ...), they
    # are reused while the checked values and the group state stay the same objects.
    cdef list cache = path.scalar_cache
    cached = cache[gi] if cache is not None else None
    if cached is not None and (<tuple>cached)[0] is checked and type(gstate) is dict \
            and group_unchanged(gstate, <tuple>(<tuple>cached)[1]):
        return <tuple>(<tuple>cached)[2]
    h = (<tuple>checked)[2]
    try:
        if path.joint_hook:
            own, update = opt._scalars_and_group_state(gi, h, step, gstate)
            scalars = (<tuple>checked)[1] + own
        else:
            scalars = (<tuple>checked)[1] + opt._scalars(gi, h, step, gstate)
            update = opt._next_group_state(gi, h, step, gstate) if path.has_group_state \
                else None
    except (TypeError, ValueError, OverflowError) as e:
        raise opt._group_error(e, gi) from None
    result = (scalars, update)
    if cache is not None and type(gstate) is dict:
        cache[gi] = (checked, (tuple(gstate.values()), None, None, gstate, tuple(gstate)),
                     result)
    return result
