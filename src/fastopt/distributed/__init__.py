"""Training over many processes and machines on MPI (mpi4py): ``pip install 'fastopt[mpi]'``,
then ``mpiexec -n 4 python -m mpi4py train.py``.

- :class:`DataParallel` wraps an optimizer: each step replaces the gradients by their
  mean over the ranks (an in-place allreduce), then steps; every rank keeps the whole
  state.
- :class:`ZeroRedundancyOptimizer` (ZeRO stage 1) builds an optimizer class over this
  rank's slice of the parameters: the gradients are reduce-scattered, each rank updates
  its slice and keeps only its slice's state, and the parameters are allgathered.
- :func:`save` and :func:`load`: checkpoints in one file or one file per rank, loadable
  into any number of ranks.

Importing this module imports mpi4py (and so initialises MPI); ``import fastopt`` does
not.
"""
from __future__ import annotations

from ._mpi import DEFAULT_TIMEOUT, REDUCTIONS, DistributedError, mpi
from .checkpoint import load, save
from .data_parallel import DataParallel
from .zero import ZeroRedundancyOptimizer

mpi()       # a clear ImportError here where mpi4py is not installed

__all__ = ["DataParallel", "ZeroRedundancyOptimizer", "save", "load", "DistributedError",
           "DEFAULT_TIMEOUT", "REDUCTIONS"]
