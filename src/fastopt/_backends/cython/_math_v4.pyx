# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, cpow=True
"""The optimizers' math compiled for CPU level v4 (see math.pxi)."""
include "math.pxi"
