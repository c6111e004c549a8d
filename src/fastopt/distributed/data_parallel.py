"""Data parallel: every rank keeps the whole optimizer and steps on the mean gradient."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .._core import _native
from .._core.optimizer import Optimizer
from .._core.params import GradsLike, grads_in_order
from . import _mpi
from ._forward import forwarded


class DataParallel:
    """``DataParallel(optimizer)``: ``optimizer`` (any fastopt optimizer, built the same
    way on every rank of ``comm``, MPI.COMM_WORLD by default) stepping on the mean of
    every rank's gradients.

    Each :meth:`step` checks this rank's gradients and hyperparameters and agrees with the
    other ranks that all can go ahead (else every rank raises and nothing changes), then
    replaces the gradients in place by their mean over the ranks -- MPI's allreduce,
    ``bucket_bytes`` at a time, or with ``reduction="ordered"`` summed in rank order,
    bitwise reproducible for a given number of ranks -- and steps.  Every rank then holds
    bitwise the same parameters and state.  Building it gives every rank rank 0's
    parameters and optimizer state.

    Everything else (``param_groups``, ``state_dict``, ``grad_norm``, schedulers, ...) is
    the wrapped optimizer's.  Every rank must make the same calls in the same order;
    ``timeout`` (seconds) bounds how long a rank waits for the others at the start of a
    step before it raises :class:`DistributedError`.
    """

    def __init__(self, optimizer: Optimizer, comm: Any = None, *,
                 reduction: str = "allreduce", bucket_bytes: int = _mpi.DEFAULT_BUCKET_BYTES,
                 timeout: float = _mpi.DEFAULT_TIMEOUT, num_threads: int | None = None):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"DataParallel wraps a fastopt optimizer, got "
                            f"{type(optimizer).__name__}")
        if optimizer.takes_row_sparse:      # refused on every rank, before any collective
            raise TypeError(f"DataParallel does not support {type(optimizer).__name__}: "
                            f"row-sparse gradients differ in their rows from rank to rank "
                            f"and are not averaged by one allreduce of a flat buffer")
        if isinstance(bucket_bytes, bool) or not isinstance(bucket_bytes, int) \
                or bucket_bytes < 64:
            raise ValueError(f"bucket_bytes must be an int >= 64, got {bucket_bytes!r}")
        self.optimizer = optimizer
        self.comm = comm = _mpi.communicator(comm)
        self.reduction = _mpi.check_reduction(reduction)
        self.timeout = _mpi.check_timeout(timeout)
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self._bucket_bytes = bucket_bytes
        _mpi.run_agreed(comm, self.timeout, "building a DataParallel",
                        _mpi.check_same_optimizer, comm, optimizer,
                        optimizer.named_parameters())
        self.num_threads = _mpi.set_threads(comm, num_threads)
        for _, a in optimizer.named_parameters():
            comm.Bcast(a.reshape(-1), root=0)
        state = comm.bcast(optimizer.state_dict() if self.rank == 0 else None, root=0)
        if self.rank != 0:
            optimizer.load_state_dict(state)
        self._scratch: dict[np.dtype, np.ndarray] = {}

    def step(self, grads: GradsLike = None) -> None:
        """Replace the gradients by their mean over the ranks, then step."""
        opt = self.optimizer
        buffers = _mpi.run_agreed(self.comm, self.timeout, f"step {opt.step_count + 1}",
                                  self._check_step, grads,
                                  fingerprint=_mpi.step_fingerprint(opt, grads))
        for buf in buffers:
            bucket = max(1, self._bucket_bytes // buf.itemsize)
            scratch = None
            if self.reduction == "ordered":     # every rank's share of a bucket
                need = self.size * -(-bucket // self.size)
                scratch = self._scratch.get(buf.dtype)
                if scratch is None or scratch.size < need:
                    scratch = self._scratch[buf.dtype] = np.empty(need, buf.dtype)
            _mpi.allreduce_mean(self.comm, buf, self.reduction, bucket, scratch)
        opt.step(grads)

    def _check_step(self, grads: GradsLike) -> list[np.ndarray]:
        """The gradient arrays to reduce (flat, in place), once the gradients and every
        group's hyperparameters check."""
        opt = self.optimizer
        opt._check_next_step()
        opt._take_grads(grads)
        if grads is None:
            flat = opt._flat
            assert flat is not None
            return [g for _, g in flat.buffers.values()]
        if isinstance(grads, np.ndarray):
            buffers = [grads.reshape(-1)]
        else:
            buffers = [g.reshape(-1) for g in grads_in_order(grads, opt._tensors)]
        for g in buffers:       # the mean is written into them
            if not g.flags.writeable:
                raise ValueError("DataParallel averages the gradients in place: a gradient "
                                 "is read-only")
        return buffers

    # ---- the wrapped optimizer's interface ---------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name == "optimizer":                 # (not set yet: building failed)
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    param_groups = forwarded("param_groups")
    # the options that can change between steps, set on the wrapped optimizer
    max_grad_norm = forwarded("max_grad_norm", settable=True)
    nonfinite = forwarded("nonfinite", settable=True)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load on every rank, or on none (collective)."""
        load = _mpi.run_agreed(self.comm, self.timeout, "load_state_dict",
                               self.optimizer.prepare_load_state_dict, state_dict)
        _native.uninterrupted(load, ())

    def prepare_load_state_dict(self, state_dict: dict[str, Any]) -> Callable[[], None]:
        return self.optimizer.prepare_load_state_dict(state_dict)

    def __reduce__(self) -> Any:
        raise TypeError("a DataParallel belongs to its MPI processes and cannot be pickled "
                        "or copied; save it with fastopt.distributed.save, or pickle its "
                        ".optimizer")

    def __repr__(self) -> str:
        return (f"DataParallel(rank {self.rank} of {self.size}, reduction="
                f"{self.reduction!r})\n{self.optimizer!r}")
