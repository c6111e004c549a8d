"""The kernel backends, three sibling packages of the same shape.

Each of ``cython``, ``numba`` and ``numpy`` has one file per optimizer (its kernels, named
as the optimizer's ``Kernel`` says, taking the buffers and scalars in that order), the
training toolkit's kernels and the memory-traffic twin's, and exposes
``bind(kernel, addrs, chunks, dtype, nelem, seg_in, out)``: a callable that runs the kernel
over a plan's chunks from a tuple of scalars.  ``numpy`` is the readable reference the
compiled two are held to, bitwise.
"""
