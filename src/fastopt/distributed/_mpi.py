"""What fastopt.distributed asks of MPI (through mpi4py), in one place: the communicator,
the agreement every collective call starts with, waits that give up after a timeout, and
the gradient reductions."""
from __future__ import annotations

import atexit
import os
import time
import zlib
from typing import Any

import numpy as np

#: Seconds a rank waits for the others to reach the same call before it raises.
DEFAULT_TIMEOUT = 300.0
#: Bytes of gradient reduced per MPI call (bounds MPI's own scratch memory).
DEFAULT_BUCKET_BYTES = 1 << 24
REDUCTIONS = ("allreduce", "ordered")


class DistributedError(RuntimeError):
    """Another rank refused or never reached a collective call (see its message)."""


def mpi() -> Any:
    """mpi4py's MPI module, or an ImportError saying how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError("fastopt.distributed runs on MPI through mpi4py: "
                          "pip install 'fastopt[mpi]' (mpi4py and the mpich runtime)") from e
    return MPI


def communicator(comm: Any) -> Any:
    """``comm``, or MPI.COMM_WORLD for None; anything else than an intracommunicator is
    refused."""
    MPI = mpi()
    if comm is None:
        return MPI.COMM_WORLD
    if not isinstance(comm, MPI.Intracomm):
        raise TypeError(f"comm must be an mpi4py intracommunicator (MPI.COMM_WORLD, ...), "
                        f"got {type(comm).__name__}")
    return comm


def check_timeout(timeout: Any) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not timeout > 0:
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    return float(timeout)


def check_reduction(reduction: Any) -> str:
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}, "
                         f"got {reduction!r}")
    return reduction


def mpi_type(dtype: np.dtype) -> Any:
    MPI = mpi()
    return MPI.FLOAT if dtype == np.float32 else MPI.DOUBLE


def wait(comm: Any, request: Any, timeout: float, what: str) -> None:
    """Complete ``request`` on ``comm``, or raise DistributedError after ``timeout``
    seconds.  It polls: for 50 ms yielding the core between polls (the usual case, all
    ranks close together; ranks that share a core let each other run), then with sleeps,
    so that a rank waiting for a slow one leaves it the cores.

    A collective call that was given up on cannot be cancelled, so the communicator is
    broken: when this process exits, it aborts the job (MPI_Abort), or ranks still
    running would wait for it forever."""
    start = time.monotonic()
    pause = 0.0
    yield_cpu = getattr(os, "sched_yield", lambda: None)
    while not request.Test():
        elapsed = time.monotonic() - start
        if elapsed > timeout:
            atexit.register(comm.Abort, 1)
            raise DistributedError(
                f"{what}: not every rank arrived within {timeout:g} s (one stopped, "
                f"crashed or is still busy).  The communicator cannot be used again: the "
                f"job ends when this process does")
        if elapsed < 0.05:
            yield_cpu()             # ranks that share a core get it at once
        else:
            pause = min(max(pause * 2, 1e-4), 5e-3)
            time.sleep(pause)


def agree(comm: Any, error: BaseException | None, timeout: float, what: str,
          fingerprint: str = "") -> None:
    """Every rank says whether its part of ``what`` can go ahead (``error`` is None) and
    learns whether all can.  Where one cannot, each rank raises: its own error, or a
    DistributedError naming the ranks that refused and why.  ``fingerprint``: what the
    call's collective steps depend on (options, the form of the gradients); ranks whose
    fingerprints differ would call different collectives, so every rank raises.  Waits
    at most ``timeout``."""
    MPI = mpi()
    fp = zlib.crc32(fingerprint.encode("utf-8"))
    mine = np.array([0 if error is None else 1, fp, -fp], np.int64)
    most = np.zeros(3, np.int64)
    wait(comm, comm.Iallreduce(mine, most, op=MPI.MAX), timeout, what)
    if most[0] == 0 and most[1] == -most[2]:
        return
    said = comm.allgather(None if error is None else f"{type(error).__name__}: {error}")
    if error is not None:
        raise error
    if most[0] == 0:
        every = comm.allgather(fingerprint)
        raise DistributedError(f"{what}: the ranks did not make the same call, and nothing "
                               f"changed on any rank ({'; '.join(f'rank {r}: {f}' for r, f in enumerate(every))})")
    refused = "; ".join(f"rank {r}: {msg}" for r, msg in enumerate(said) if msg is not None)
    raise DistributedError(f"{what} was refused on another rank, and nothing changed on "
                           f"any rank ({refused})")


def run_agreed(comm: Any, timeout: float, what: str, prepare: Any, *args: Any,
               fingerprint: str = "") -> Any:
    """``prepare(*args)`` on every rank, then :func:`agree` on whether it raised; its
    result where none did."""
    try:
        result = prepare(*args)
    except Exception as e:
        agree(comm, e, timeout, what, fingerprint)
        raise                               # (agree raised already)
    agree(comm, None, timeout, what, fingerprint)
    return result


def step_fingerprint(opt: Any, grads: Any) -> str:
    """What a step's collective calls depend on: the guard options and the form of the
    gradients (every rank must give them alike)."""
    form = ("buffer" if grads is None else
            f"array {getattr(grads, 'shape', '')}" if isinstance(grads, np.ndarray)
            else type(grads).__name__)
    return f"max_grad_norm={opt.max_grad_norm!r} nonfinite={opt.nonfinite!r} grads={form}"


def check_same_optimizer(comm: Any, opt: Any, named: list[tuple[Any, np.ndarray]]) -> None:
    """Refuse, on every rank, optimizers that differ between the ranks: their class,
    parameters (``named``: key and array, whole), options or param groups (collective)."""
    signature = repr((type(opt).__qualname__,
                      [(k, a.shape, a.dtype.str) for k, a in named],
                      opt.max_grad_norm, opt.nonfinite, opt.state_precision,
                      opt._min_8bit_size,
                      [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]))
    every = comm.allgather(signature)
    differ = [r for r, v in enumerate(every) if v != every[0]]
    if differ:
        raise ValueError(f"every rank must build the same optimizer over the same "
                         f"parameters, with the same options and param groups: rank(s) "
                         f"{differ} differ from rank 0")


def set_threads(comm: Any, num_threads: int | None) -> int:
    """Give this process ``num_threads`` threads, or (None) its share of the node's
    cores; returns the count."""
    n = default_threads(comm) if num_threads is None else num_threads
    use_threads(n)
    return n


def default_threads(comm: Any) -> int:
    """This rank's share of the cores it may run on: the cores divided among the ranks
    of its node (at least 1)."""
    MPI = mpi()
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        ranks_here = node.Get_size()
    finally:
        node.Free()
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:                  # (not on Linux)
        cores = os.cpu_count() or 1
    return max(1, cores // ranks_here)


def use_threads(n: int) -> None:
    """Run this process's kernels, and its BLAS where threadpoolctl can reach it, on
    ``n`` threads."""
    from .. import set_num_threads
    set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=n, user_api="blas")


# ---- gradient reductions: every rank's gradient summed, then divided by the rank count --

def allreduce_mean(comm: Any, buf: np.ndarray, reduction: str, bucket: int,
                   scratch: np.ndarray | None) -> None:
    """``buf`` (1-D, contiguous) replaced in place by its mean over the ranks, ``bucket``
    elements per MPI call.  "allreduce": MPI's in-place allreduce; "ordered": the sum in
    rank order, ((g0 + g1) + g2) + ..., on every rank (``scratch``: ranks x
    ceil(bucket / ranks) elements)."""
    MPI = mpi()
    size = comm.Get_size()
    if size == 1:
        return                          # the mean of one gradient is itself
    for lo in range(0, buf.size, bucket):
        part = buf[lo:lo + bucket]
        if reduction == "allreduce":
            comm.Allreduce(MPI.IN_PLACE, part, op=MPI.SUM)
        else:
            assert scratch is not None
            counts = _even_counts(part.size, size)
            displs = np.cumsum(counts) - counts
            mine = _ordered_sum(comm, part, counts, displs, scratch)
            rank = comm.Get_rank()
            part[displs[rank]:displs[rank] + counts[rank]] = mine
            comm.Allgatherv(MPI.IN_PLACE, [part, counts, displs, mpi_type(part.dtype)])
        np.divide(part, size, out=part)


def reduce_scatter_mean(comm: Any, send: np.ndarray, recv: np.ndarray, counts: np.ndarray,
                        displs: np.ndarray, reduction: str,
                        scratch: np.ndarray | None) -> None:
    """``recv`` = this rank's segment (``counts``/``displs``) of the mean over the ranks of
    their ``send`` buffers.  "ordered" sums in rank order (``scratch``: ranks x the
    largest segment)."""
    MPI = mpi()
    if comm.Get_size() == 1:
        np.copyto(recv, send)           # the mean of one gradient is itself
        return
    if reduction == "allreduce":
        comm.Reduce_scatter(send, recv, recvcounts=counts, op=MPI.SUM)
    else:
        assert scratch is not None
        recv[...] = _ordered_sum(comm, send, counts, displs, scratch)
    np.divide(recv, comm.Get_size(), out=recv)


def _ordered_sum(comm: Any, send: np.ndarray, counts: np.ndarray, displs: np.ndarray,
                 scratch: np.ndarray) -> np.ndarray:
    """This rank's segment of the sum of every rank's ``send``, added in rank order."""
    size, rank = comm.Get_size(), comm.Get_rank()
    n = int(counts[rank])
    got = scratch[:size * n].reshape(size, n)
    kind = mpi_type(send.dtype)
    comm.Alltoallv([send, counts, displs, kind],
                   [got, np.full(size, n), np.arange(size) * n, kind])
    for r in range(1, size):
        np.add(got[0], got[r], out=got[0])
    return got[0]


def _even_counts(n: int, size: int) -> np.ndarray:
    counts = np.full(size, n // size, np.int64)
    counts[:n % size] += 1
    return counts
