"""The kernel backends, three sibling packages of the same shape.

Each of ``cython``, ``numba`` and ``numpy`` has one file per optimizer (its kernels, which
read the buffers and scalars of the optimizer's ``Kernel`` in its order into variables of
its names), the training toolkit's kernels and the memory-traffic twin's.  Its
``__init__`` holds the registry of kernels by name (the Cython one is ``kernels()`` in
``cython/math.pxi``) and exposes ``bind(kernel, addrs, chunks, dtype, nelem, seg_in, out)``
for a :class:`~fastopt._core.kernel.Kernel`: a callable that runs the kernel over a plan's
chunks from a tuple of scalars (a kernel whose arity differs from its ``Kernel`` is
refused there).  ``numpy`` is the readable reference the compiled two are held to,
bitwise; ``tests/test_kernel_interfaces.py`` holds every backend to the ``Kernel``
definitions.
"""
