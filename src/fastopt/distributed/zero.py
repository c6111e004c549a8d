"""ZeRO-1: each rank keeps the optimizer state of its own slice of the parameters."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

import numpy as np

from .._core import _native
from .._core.optimizer import Optimizer
from .._core.params import GradsLike, ParamsLike, Tensor, grads_in_order, parse_params
from .._core.plan import GRAD, address, check_entry, fsum_partials
from .._core import storage
from ..optimizers.lamb import Lamb
from . import _mpi
from ._forward import forwarded
from ._layout import Piece, ShardLayout


class ZeroRedundancyOptimizer:
    """Data-parallel training where each rank keeps the optimizer state of its own slice
    of the parameters only (ZeRO stage 1; torch's ``ZeroRedundancyOptimizer``).

    ``ZeroRedundancyOptimizer(params, fastopt.AdamW, lr=1e-3, ...)`` builds, on every
    rank of ``comm`` (MPI.COMM_WORLD by default), ``optimizer_class`` over this rank's
    slice of ``params`` with the other arguments (hyperparameters, param-group options,
    ``backend``, ``max_grad_norm``, ``nonfinite``, ``state_precision``, ...).  Each
    :meth:`step`:

    1. checks this rank's gradients and hyperparameters, and agrees with the other ranks
       that all can go ahead (else every rank raises, and nothing changes anywhere);
    2. reduce-scatters the gradients: this rank receives the mean over the ranks of its
       slice (``reduction="ordered"``: summed in rank order, bitwise reproducible);
    3. updates its slice of the parameters and its state;
    4. allgathers the parameters: every rank ends with the same bits.

    The slices are contiguous ranges of the flat parameter buffer cut at the kernels'
    chunk boundaries, so a rank's per-chunk partial sums are those one process computes:
    the global gradient norm (``max_grad_norm``), the non-finite check (one rank's NaN
    skips or refuses the step on every rank) and LAMB's per-tensor trust ratios combine
    them exactly as one process does.  Given the same mean gradient, a step is bitwise the
    step of ``optimizer_class`` in one process, for any number of ranks.

    An optimizer class whose step flat slices cannot run (SparseAdam, Adafactor, Muon) is
    refused with a TypeError giving its ``unshardable`` reason.

    Parameters must share one dtype.  ``fastopt.flatten(...)`` parameters are gathered
    in place; other forms go through a flat copy each step.  The gradients are never
    written: the mean of this rank's slice goes to :attr:`shard_grad`.  Every rank must make the same calls in the same order, as with
    any MPI collective; ``timeout`` (seconds) bounds how long a rank waits for the
    others at the start of a step before it raises :class:`DistributedError`.
    """

    def __init__(self, params: ParamsLike, optimizer_class: type, comm: Any = None, *,
                 reduction: str = "allreduce", timeout: float = _mpi.DEFAULT_TIMEOUT,
                 num_threads: int | None = None, **kwargs: Any):
        self.comm = comm = _mpi.communicator(comm)
        self.timeout = _mpi.check_timeout(timeout)
        self.reduction = _mpi.check_reduction(reduction)
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        _mpi.run_agreed(comm, self.timeout, "building a ZeroRedundancyOptimizer",
                        self._build, params, optimizer_class, kwargs)
        _mpi.run_agreed(comm, self.timeout, "building a ZeroRedundancyOptimizer",
                        _mpi.check_same_optimizer, comm, self.optimizer,
                        self.named_parameters())
        self.num_threads = _mpi.set_threads(comm, num_threads)
        self._shard.setup(self.optimizer)
        self._broadcast_parameters()

    def _build(self, params: ParamsLike, optimizer_class: type,
               kwargs: dict[str, Any]) -> None:
        if not (isinstance(optimizer_class, type) and issubclass(optimizer_class, Optimizer)):
            raise TypeError(f"optimizer_class must be a fastopt optimizer class (fastopt.AdamW, "
                            f"...), got {optimizer_class!r}")
        if optimizer_class.unshardable:     # refused on every rank, before any collective
            raise TypeError(f"ZeroRedundancyOptimizer does not support "
                            f"{optimizer_class.__name__}: {optimizer_class.unshardable}")
        overrides, tensors, flat = parse_params(params)
        if not tensors:
            raise ValueError("no parameters to optimize")
        self._tensors, self._flat = tensors, flat
        self.layout = layout = ShardLayout(tensors, flat, self.size)
        self.pieces = pieces = layout.pieces(self.rank)
        lo, hi = int(layout.bounds[self.rank]), int(layout.bounds[self.rank + 1])
        self._lo, self._hi = lo, hi
        dtype = layout.dtype
        #: The mean gradient of this rank's slice, after a step's reduce-scatter (a
        #: rank alone on FlatParams steps on their gradient buffer and leaves it be).
        self.shard_grad = np.zeros(hi - lo, dtype)
        # Flat buffers of every rank's data, for parameters not given as FlatParams.
        self._stage_grad = np.zeros(layout.total, dtype) if flat is None else None
        self._stage_param = np.zeros(layout.total, dtype) if flat is None else None
        self._scratch = (np.empty(self.size * int(layout.counts.max()), dtype)
                         if self.reduction == "ordered" else None)
        self._shard = _Shard(self.comm, tensors, pieces, self.size)
        cls = _sharded_class(optimizer_class, self._shard)
        views = [_piece_view(t.array, p) for t, p in zip(tensors, pieces)]
        self._piece_grads = [self.shard_grad[p.offset - lo:p.offset - lo + p.size]
                             for p in pieces]
        named = isinstance(tensors[0].key, str)
        groups = []
        for gi, override in enumerate(overrides):
            members = [(t.key, v) for t, v in zip(tensors, views) if t.group == gi]
            groups.append({"params": dict(members) if named else [v for _, v in members],
                           **override})
        self.optimizer = cls(groups if len(groups) > 1 or overrides[0] else groups[0]["params"],
                             **kwargs)
        self._piece_grads_arg = _like_params(tensors, self._piece_grads, named)
        # One rank alone steps on the FlatParams gradient buffer where it is.
        self._flat_grads_arg = None if flat is None else _like_params(
            tensors, [flat.grad[p.offset:p.offset + p.size] for p in pieces], named)
        # What a gradient is checked with before it is used: each parameter whole.
        self._arrays = [t.array for t in tensors]
        self._labels = [t.label for t in tensors]
        self._check_table = np.zeros((len(tensors), 2), np.int64)
        self._check_rows = np.arange(len(tensors), dtype=np.intp)
        spans = sorted((address(a), address(a) + a.nbytes, t.label)
                       for t, a in zip(tensors, self._arrays) if a.nbytes)
        self._span_lo = np.array([s[0] for s in spans], np.int64)
        self._span_hi = np.array([s[1] for s in spans], np.int64)
        self._span_labels = [s[2] for s in spans]

    def _broadcast_parameters(self) -> None:
        """Every rank starts from rank 0's parameters."""
        for a in self._arrays:
            self.comm.Bcast(a.reshape(-1), root=0)

    # ---- the step -----------------------------------------------------------------------

    def step(self, grads: GradsLike = None) -> None:
        """One step on the mean of every rank's gradients (``grads`` as the optimizer
        class takes them; None for the ``FlatParams`` gradient buffer)."""
        opt = self.optimizer
        send = _mpi.run_agreed(self.comm, self.timeout, f"step {opt.step_count + 1}",
                               self._check_step, grads,
                               fingerprint=_mpi.step_fingerprint(opt, grads))
        before = opt.step_count
        if self.size == 1 and self._flat is not None and send is self._flat.grad:
            opt.step(self._flat_grads_arg)
            return
        _mpi.reduce_scatter_mean(self.comm, send, self.shard_grad, self.layout.counts,
                                 self.layout.displs, self.reduction, self._scratch)
        opt.step(self._piece_grads_arg)
        if opt.step_count == before or self.size == 1:   # skipped (non-finite) on every
            return                                          # rank, or no other rank
        self._allgather_parameters()

    def train(self) -> None:
        """The optimizer's ``train()`` (Schedule-Free): each rank moves its own slice of
        the parameters, then every rank gathers the others' (collective)."""
        self._switch_mode("train")

    def eval(self) -> None:
        """The optimizer's ``eval()`` (Schedule-Free), as :meth:`train` (collective)."""
        self._switch_mode("eval")

    def _switch_mode(self, name: str) -> None:
        switch = getattr(self.optimizer, name, None)
        _mpi.run_agreed(self.comm, self.timeout, f"{name}()", _check_switch,
                        self.optimizer, switch, name)
        assert switch is not None           # (refused above otherwise)
        before = [gs.get("train_mode") for gs in self.optimizer.group_state]
        switch()
        if self.size > 1 and before != [gs.get("train_mode")
                                        for gs in self.optimizer.group_state]:
            self._allgather_parameters()

    def _allgather_parameters(self) -> None:
        """Every rank's slice of the parameters to every rank."""
        MPI = _mpi.mpi()
        kind = _mpi.mpi_type(self.layout.dtype)
        target = [self.layout.counts, self.layout.displs, kind]
        if self._flat is not None:
            self.comm.Allgatherv(MPI.IN_PLACE, [self._flat.data] + target)
            return
        stage = self._stage_param
        assert stage is not None            # (parameters not given as FlatParams)
        for t, p in zip(self._tensors, self.pieces):
            stage[p.offset:p.offset + p.size] = _piece_view(t.array, p)
        self.comm.Allgatherv(MPI.IN_PLACE, [stage] + target)
        for t, off in zip(self._tensors, self.layout.offsets):
            t.array.reshape(-1)[...] = stage[off:off + t.array.size]

    def _check_step(self, grads: GradsLike) -> np.ndarray:
        """The flat buffer this rank's gradient is reduced from, once the gradient and
        every group's hyperparameters check (nothing is changed)."""
        self.optimizer._check_next_step()
        if grads is None:
            if self._flat is None:
                raise TypeError("step() needs the gradients: pass them in the parameters' "
                                "structure, or build the optimizer on fastopt.flatten(...) "
                                "and write them into params.grads")
            return self._flat.grad
        if isinstance(grads, np.ndarray):
            return self._check_flat_grad(grads)
        ordered = grads_in_order(grads, self._tensors)
        _native.gather_addresses(ordered, self._arrays, self._labels, self._check_table,
                                 self._check_rows, GRAD, self._span_lo, self._span_hi,
                                 self._span_labels)
        stage = self._stage_grad if self._stage_grad is not None else self._flat_stage()
        for g, off in zip(ordered, self.layout.offsets):
            stage[off:off + g.size] = g.reshape(-1)
        return stage

    def _flat_stage(self) -> np.ndarray:
        self._stage_grad = np.zeros(self.layout.total, self.layout.dtype)
        return self._stage_grad

    def _check_flat_grad(self, grad: np.ndarray) -> np.ndarray:
        if grad.dtype != self.layout.dtype:
            raise TypeError(f"the flat gradient has dtype {grad.dtype.str}, the parameters "
                            f"{self.layout.dtype}")
        # FlatParams: its own layout (padded); other forms: the parameters one after the
        # other, as their optimizer class takes one flat gradient
        n = self.layout.total if self._flat is not None else sum(self.layout.sizes)
        if grad.shape != (n,) or not grad.flags.c_contiguous:
            raise ValueError(f"the flat gradient must be a contiguous array of shape "
                             f"({n},), got {grad.shape}")
        for a, label in zip(self._arrays, self._labels):
            if np.shares_memory(a, grad):
                raise ValueError(f"the flat gradient shares memory with parameter {label}")
        if self._flat is not None:
            return grad
        stage = self._stage_grad if self._stage_grad is not None else self._flat_stage()
        start = 0
        for off, size in zip(self.layout.offsets, self.layout.sizes):
            stage[off:off + size] = grad[start:start + size]
            start += size
        return stage

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the ``FlatParams`` gradient buffer (as Optimizer.zero_grad)."""
        if self._flat is not None:
            self._flat.zero_grad()

    # ---- what the optimizer shows ------------------------------------------------------

    param_groups = forwarded(
        "param_groups", """The param groups (hyperparameters shared by every rank; ``"params"``
        holds this rank's pieces).  Schedulers change them as on any optimizer; every rank
        must.""")
    defaults = forwarded("defaults")
    step_count = forwarded("step_count")
    skipped_steps = forwarded("skipped_steps")
    grad_norm = forwarded("grad_norm", "The global gradient norm of the last guarded step "
                                       "(the same on every rank).")
    max_grad_norm = forwarded("max_grad_norm", settable=True)
    nonfinite = forwarded("nonfinite", settable=True)
    state_precision = forwarded("state_precision")
    state_nbytes = forwarded("state_nbytes", "Bytes of optimizer state this rank keeps "
                                             "(about 1/ranks of one process's).")
    state = forwarded("state", "This rank's state: each parameter's piece (1-D; see "
                               ":attr:`pieces`).")

    def named_parameters(self) -> list[tuple[Any, np.ndarray]]:
        """``(key, array)`` of every parameter, whole."""
        return [(t.key, t.array) for t in self._tensors]

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        raise TypeError("a ZeroRedundancyOptimizer's parameters are fixed once it is "
                        "sharded: build it with every param group")

    def __reduce__(self) -> Any:
        raise TypeError("a ZeroRedundancyOptimizer belongs to its MPI processes and cannot "
                        "be pickled or copied; save it with fastopt.distributed.save")

    def __repr__(self) -> str:
        return (f"ZeroRedundancyOptimizer(rank {self.rank} of {self.size}, "
                f"{self.layout.counts[self.rank]} of {self.layout.total} elements, "
                f"reduction={self.reduction!r})\n{self.optimizer!r}")

    # ---- state_dict: the whole optimizer, as one process's --------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The state_dict of the whole optimizer, as ``optimizer_class`` in one process
        has it (collective: every rank calls it and gets it)."""
        sd = self._gather_state(None)
        assert sd is not None
        return sd

    def consolidated_state_dict(self, root: int = 0) -> dict[str, Any] | None:
        """:meth:`state_dict` on rank ``root`` only (None elsewhere): the state travels to
        one rank, not to all."""
        return self._gather_state(root)

    def _gather_state(self, root: int | None) -> dict[str, Any] | None:
        sd = self.optimizer.state_dict()
        mine = {t.key: sd["state"][t.key] for t, p in zip(self._tensors, self.pieces)
                if p.size}
        parts = self.comm.allgather(mine) if root is None else self.comm.gather(mine, root)
        if parts is None:
            return None
        full = {}
        for t in self._tensors:
            got = [part[t.key] for part in parts if t.key in part]
            names = sd["state"][t.key].keys()
            full[t.key] = {name: _join([g[name] for g in got], t.array) if got
                           else _reshape(sd["state"][t.key][name], t.array)
                           for name in names}
        sd["state"] = full
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state_dict of the whole optimizer (from :meth:`state_dict`, or from
        ``optimizer_class`` in one process); collective: checked on every rank, and
        loaded on none unless it checks on all."""
        load = _mpi.run_agreed(self.comm, self.timeout, "load_state_dict",
                               self.prepare_load_state_dict, state_dict)
        _native.uninterrupted(load, ())

    def prepare_load_state_dict(self, state_dict: dict[str, Any]) -> Callable[[], None]:
        """Check a whole-optimizer state_dict against this rank's slice, changing
        nothing, and return the function that loads it (fastopt.load uses this)."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        state = state_dict.get("state")
        keys = [t.key for t in self._tensors]
        if not isinstance(state, Mapping) or set(state) != set(keys):
            raise ValueError("the state_dict's state is for other parameters")
        sliced = {}
        for t, p in zip(self._tensors, self.pieces):
            entries = state[t.key]
            if not isinstance(entries, Mapping):
                raise ValueError(f"state of parameter {t.label} must be a dict")
            for name, entry in entries.items():
                check_entry(entry, t.array, f"state {name!r} of parameter {t.label}")
            sliced[t.key] = {name: _slice(entry, p) for name, entry in entries.items()}
        return self.prepare_load_pieces({**state_dict, "state": sliced})

    def prepare_load_pieces(self, state_dict: dict[str, Any]) -> Callable[[], None]:
        """As :meth:`prepare_load_state_dict`, for a state_dict whose state holds this
        rank's pieces only (a sharded checkpoint's)."""
        return self.optimizer.prepare_load_state_dict(dict(state_dict))


# ---- the optimizer on one rank's slice ---------------------------------------------------

class _Shard:
    """What an optimizer on one rank's slice needs of the others: the per-chunk partial
    sums of every rank, and the size of each parameter whole."""

    def __init__(self, comm: Any, tensors: list[Tensor], pieces: list[Piece], size: int):
        self.comm = comm
        self.size = size
        self.whole_size = {t.key: t.array.size for t in tensors}
        self.index = {t.key: i for i, t in enumerate(tensors)}
        self.starts = {t.key: p.start for t, p in zip(tensors, pieces)}
        self.labels = [t.label for t in tensors]

    def setup(self, opt: Optimizer) -> None:
        """Learn every rank's chunks (collective; once the optimizer is built)."""
        mine = [(self.index[plan.tensors[int(row)].key],
                 self.starts[plan.tensors[int(row)].key] + int(start))
                for plan in opt._plans for row, start, _ in plan.chunks.tolist()]
        every = self.comm.allgather(mine)
        self.counts = np.array([len(m) for m in every], np.int64)
        self.displs = np.cumsum(self.counts) - self.counts
        self.chunk_ids = [c for m in every for c in m]
        self.gathered: dict[int, np.ndarray] = {}
        if isinstance(opt, Lamb):
            self._setup_trust_ratios(opt)

    def allgather_partials(self, outs: list[np.ndarray], cols: int) -> np.ndarray:
        """Columns ``:cols`` of this rank's per-chunk partials (one array per plan, in
        plan order), and every other rank's, one row per chunk in rank order."""
        MPI = _mpi.mpi()
        send = (np.concatenate([o[:, :cols] for o in outs]) if outs
                else np.zeros((0, cols)))
        recv = self.gathered.get(cols)
        if recv is None:
            recv = self.gathered[cols] = np.zeros((int(self.counts.sum()), cols))
        self.comm.Allgatherv(np.ascontiguousarray(send),
                             [recv, self.counts * cols, self.displs * cols, MPI.DOUBLE])
        return recv

    def _setup_trust_ratios(self, opt: Any) -> None:
        """For each plan: its tensors' chunks on every rank, in chunk order, and LAMB's
        TrustRatios over them (the same stage one process runs over its chunks)."""
        self.trust: list[tuple[np.ndarray, np.ndarray, Any]] = []
        for plan, (_, _, _, lr_ratio) in zip(opt._plans, opt._runs):
            rows = {self.index[t.key]: row for row, t in enumerate(plan.tensors)}
            picked = sorted((rows[i], start, c) for c, (i, start) in enumerate(self.chunk_ids)
                            if i in rows)
            take = np.array([c for _, _, c in picked], np.intp)
            chunks = np.array([(row, start, 0) for row, start, _ in picked],
                              np.int64).reshape(-1, 3)
            partial = np.zeros((len(picked), 2))
            self.trust.append((take, partial,
                               opt._module.TrustRatios(chunks, partial, lr_ratio)))


def _sharded_class(cls: type, shard: _Shard) -> type:
    """``cls`` on one rank's slice: its state precision decided by each parameter's whole
    size, and its reductions over the chunks of every rank."""

    def _precision_of(self: Any, t: Tensor) -> str:
        return self._precision_for_size(shard.whole_size[t.key])

    def _prepass_total(self: Any) -> float:
        return fsum_partials([shard.allgather_partials(self._prepass_outs, 1)])

    def _nonfinite_labels(self: Any) -> list[str]:
        local = Optimizer._nonfinite_labels(self)
        bad = {label for labels in shard.comm.allgather(local)
               for label in labels}
        return [label for label in shard.labels if label in bad]

    body: dict[str, Any] = dict(_precision_of=_precision_of, _prepass_total=_prepass_total,
                                _nonfinite_labels=_nonfinite_labels,
                                __module__=cls.__module__, __qualname__=cls.__qualname__,
                                __doc__=cls.__doc__)
    if issubclass(cls, Lamb):
        def _bind(self: Any, module: Any, plan: Any) -> Any:
            moments, _, partial = plan.bind(module, self.kernel)
            update, lr_ratio, _ = plan.bind(module, self.update_kernel)
            return moments, partial, update, lr_ratio

        def _run(self: Any, scalars: list[tuple[float, ...]], step: int) -> None:
            for (moments, _, _, _), s in zip(self._runs, scalars):
                moments(s)
            every = shard.allgather_partials([run[1] for run in self._runs], 2)
            for (_, _, update, _), (take, partial, ratios), s in zip(
                    self._runs, shard.trust, scalars):
                np.take(every, take, axis=0, out=partial)
                ratios(s)
                update(s)
        body.update(_bind=_bind, _run=_run)
    return type(cls.__name__, (cls,), body)


# ---- pieces of arrays and of state entries -----------------------------------------------

def _like_params(tensors: list[Tensor], arrays: list[np.ndarray], named: bool) -> Any:
    """``arrays`` (one per tensor) as gradients are given: by name, or as a list."""
    return {t.key: a for t, a in zip(tensors, arrays)} if named else list(arrays)


def _piece_view(array: np.ndarray, p: Piece) -> np.ndarray:
    return array.reshape(-1)[p.start:p.stop]


def _slice(entry: Any, p: Piece) -> Any:
    """Piece ``p`` of a (checked) state entry of the whole parameter."""
    if isinstance(entry, Mapping):
        block = storage.BLOCK
        first = p.start // block            # (a piece starts on a block)
        return {"codes": entry["codes"].reshape(-1)[p.start:p.stop],
                "absmax": entry["absmax"][first:-(-p.stop // block) if p.size else first]}
    return entry.reshape(-1)[p.start:p.stop]


def _join(parts: list[Any], like: np.ndarray) -> Any:
    """The state entry of a whole parameter like ``like`` from its pieces, in order."""
    if isinstance(parts[0], Mapping):
        return {"codes": np.concatenate([p["codes"] for p in parts]).reshape(like.shape),
                "absmax": np.concatenate([p["absmax"] for p in parts])}
    return np.concatenate(parts).reshape(like.shape)


def _reshape(entry: Any, like: np.ndarray) -> Any:
    if isinstance(entry, Mapping):
        return {"codes": entry["codes"].reshape(like.shape), "absmax": entry["absmax"]}
    return entry.reshape(like.shape)


def _check_switch(optimizer: Any, switch: Any, name: str) -> None:
    if switch is None:
        raise TypeError(f"{name}() switches the parameters of optimizers with train and eval "
                        f"modes (Schedule-Free); {type(optimizer).__name__} has none")
