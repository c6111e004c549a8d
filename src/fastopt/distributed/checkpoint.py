"""Checkpoints of data-parallel and sharded optimizers: one consolidated file, or a
directory of one file per rank, loadable into any number of ranks."""
from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any

import numpy as np

from .. import checkpoint as _ckpt
from .._core import _native
from . import _mpi
from ._layout import Piece
from .data_parallel import DataParallel
from .zero import ZeroRedundancyOptimizer, _join, _slice

MANIFEST = "manifest.json"
SHARDED_FORMAT = "fastopt-sharded-checkpoint"
SHARDED_VERSION = 1
#: The name of the folder of one sharded checkpoint: step-<step>-<8 hex digits>.
_SET = re.compile(r"step-[0-9]+-[0-9a-f]{8}\Z")


def save(path: str | os.PathLike, optimizer: Any, scheduler: Any = None, params: Any = None,
         *, ema: Any = None, sharded: bool = False) -> None:
    """Write a checkpoint of a :class:`DataParallel` or :class:`ZeroRedundancyOptimizer`
    (collective: every rank calls it).

    ``sharded=False``: one file, as :func:`fastopt.save` writes for one process, written
    by rank 0 (a ZeroRedundancyOptimizer's state is gathered there first).  It loads into
    any number of ranks, or into the optimizer class in one process with ``fastopt.load``.

    ``sharded=True`` (ZeroRedundancyOptimizer): ``path`` is a directory; each rank writes
    its slice of the state and of the parameters into a file of its own, and rank 0 then
    replaces ``manifest.json``, which names the files, and removes the previous set.  Every
    file and the manifest are written atomically, so a crash at any point leaves the
    previous checkpoint or the new one.  It loads into any number of ranks.

    ``scheduler``, ``params`` and ``ema`` as in :func:`fastopt.save` (the scheduler and
    EMA are the same on every rank; rank 0's are written).  Where any rank fails, every
    rank raises and the old checkpoint stays.
    """
    path = os.fspath(path)
    wrapper = _check_wrapper(optimizer)
    what = f"saving {path}"
    if not sharded:
        state = (wrapper.consolidated_state_dict(0)
                 if isinstance(wrapper, ZeroRedundancyOptimizer) else None)

        def write_file() -> None:
            if wrapper.rank == 0:
                inner, owner = _target(wrapper, scheduler)
                _ckpt.write(path, inner, state if state is not None else inner.state_dict(),
                            scheduler, params, ema, owner)
        _mpi.run_agreed(wrapper.comm, wrapper.timeout, what, write_file)
        return
    if not isinstance(wrapper, ZeroRedundancyOptimizer):
        raise TypeError("a DataParallel keeps the whole state on every rank: save it with "
                        "sharded=False")
    if params is not None:
        raise TypeError("a sharded checkpoint stores the optimizer's own parameters, each "
                        "rank its slice: params must be None")
    comm = wrapper.comm
    token = comm.bcast(os.urandom(4).hex() if wrapper.rank == 0 else None, root=0)
    tag = f"step-{wrapper.step_count}-{token}"
    names = [f"rank-{r:05d}-of-{wrapper.size:05d}.fastopt" for r in range(wrapper.size)]
    folder = os.path.join(path, tag)

    def make_folder() -> None:
        if wrapper.rank == 0:
            os.makedirs(folder)
    _mpi.run_agreed(comm, wrapper.timeout, what, make_folder)

    def write_shard() -> None:
        inner = wrapper.optimizer
        _ckpt.write(os.path.join(folder, names[wrapper.rank]), inner, inner.state_dict(),
                    scheduler, None, ema if wrapper.rank == 0 else None, wrapper)
    try:
        _mpi.run_agreed(comm, wrapper.timeout, what, write_shard)
    except Exception:
        if wrapper.rank == 0:
            shutil.rmtree(folder, ignore_errors=True)
        raise

    def commit() -> None:
        if wrapper.rank != 0:
            return
        manifest = {
            "format": SHARDED_FORMAT, "format_version": SHARDED_VERSION,
            "optimizer": type(wrapper.optimizer).__name__, "step": wrapper.step_count,
            "ranks": wrapper.size, "folder": tag, "files": names,
            # each parameter's key, shape and dtype, in order
            "parameters": [[_ckpt.Encoder().encode(k, ("key",)), list(a.shape), a.dtype.str]
                           for k, a in wrapper.named_parameters()],
            # each rank's piece of each parameter: [start, stop) of its flattened elements
            "pieces": [[[p.start, p.stop] for p in wrapper.layout.pieces(r)]
                       for r in range(wrapper.size)],
        }
        text = json.dumps(manifest, indent=1).encode("utf-8")
        _ckpt.write_atomically(os.path.join(path, MANIFEST), lambda f: f.write(text))
        for entry in os.listdir(path):          # the sets older manifests named
            if entry != tag and _SET.match(entry):
                shutil.rmtree(os.path.join(path, entry), ignore_errors=True)
    _mpi.run_agreed(comm, wrapper.timeout, what, commit)


def load(path: str | os.PathLike, optimizer: Any, scheduler: Any = None, params: Any = None,
         *, ema: Any = None) -> None:
    """Restore a checkpoint into a :class:`DataParallel` or
    :class:`ZeroRedundancyOptimizer` (collective).  ``path``: a file written by
    :func:`save` (or by :func:`fastopt.save` in one process), or a sharded checkpoint's
    directory, written by any number of ranks.  Everything is checked on every rank
    before anything is written; a checkpoint any rank refuses changes nothing on any."""
    path = os.fspath(path)
    wrapper = _check_wrapper(optimizer)
    if os.path.isdir(path):
        commit = _mpi.run_agreed(wrapper.comm, wrapper.timeout, f"loading {path}",
                                 _prepare_sharded, path, wrapper, scheduler, params, ema)
    else:
        def prepare() -> Any:
            meta, arrays = _ckpt.read(path)
            owner = _target(wrapper, scheduler)[1]
            return _ckpt.prepare_load(path, meta, arrays, wrapper, scheduler, params, ema,
                                      owner)
        commit = _mpi.run_agreed(wrapper.comm, wrapper.timeout, f"loading {path}", prepare)
    _native.uninterrupted(commit, ())


def _check_wrapper(optimizer: Any) -> Any:
    if not isinstance(optimizer, (DataParallel, ZeroRedundancyOptimizer)):
        raise TypeError(f"fastopt.distributed.save and load take a DataParallel or a "
                        f"ZeroRedundancyOptimizer (fastopt.save and load the rest), got "
                        f"{type(optimizer).__name__}")
    return optimizer


def _target(wrapper: Any, scheduler: Any) -> tuple[Any, Any]:
    """The optimizer a checkpoint file is written from, and the one ``scheduler`` must
    belong to."""
    if isinstance(wrapper, DataParallel):
        owner = getattr(scheduler, "optimizer", None)
        return wrapper.optimizer, (wrapper if owner is wrapper else wrapper.optimizer)
    return wrapper, wrapper


class _Pieces:
    """What checkpoint.prepare_load reads of an optimizer, for a state_dict holding this
    rank's pieces of the state."""

    def __init__(self, wrapper: Any):
        self.wrapper = wrapper

    def prepare_load_state_dict(self, state_dict: dict[str, Any]) -> Any:
        if isinstance(self.wrapper, ZeroRedundancyOptimizer):
            return self.wrapper.prepare_load_pieces(state_dict)
        return self.wrapper.optimizer.prepare_load_state_dict(state_dict)

    def named_parameters(self) -> list[tuple[Any, np.ndarray]]:
        return self.wrapper.named_parameters()


def _prepare_sharded(path: str, wrapper: Any, scheduler: Any, params: Any,
                     ema: Any) -> Any:
    """Read a sharded checkpoint's files, keep this rank's pieces of the state and all the
    parameters, and check them as checkpoint.prepare_load does; returns the commit."""
    manifest_path = os.path.join(path, MANIFEST)
    try:
        with open(manifest_path, "rb") as f:
            manifest = json.loads(f.read().decode("utf-8"))
        if manifest.get("format") != SHARDED_FORMAT:
            raise ValueError("not a fastopt sharded checkpoint")
        if manifest.get("format_version") != SHARDED_VERSION:
            raise ValueError(f"format {manifest.get('format_version')!r} is not supported "
                             f"(this fastopt reads {SHARDED_VERSION})")
        files = [os.path.join(path, manifest["folder"], name) for name in manifest["files"]]
        old_pieces = [[Piece(int(a), int(b), 0) for a, b in rank] for rank in manifest["pieces"]]
        saved_params = [(_ckpt.decode(k, {}), tuple(shape), np.dtype(dt))
                        for k, shape, dt in manifest["parameters"]]
        if not files or len(old_pieces) != len(files):
            raise ValueError("its pieces and files do not match")
    except FileNotFoundError:
        raise
    except Exception as e:
        raise _ckpt.CheckpointError(f"{manifest_path}: not a readable manifest ({e})") from e
    named = wrapper.named_parameters()
    expected = [(k, a.shape, a.dtype) for k, a in named]
    if saved_params != expected:
        raise _ckpt.CheckpointError(
            f"{path}: the checkpoint holds parameters {saved_params} (key, shape, dtype), "
            f"this optimizer {expected}")
    for i, (key, a) in enumerate(named):        # the pieces must tile each parameter
        spans = sorted((p[i].start, p[i].stop) for p in old_pieces if len(p) == len(named)
                       and p[i].stop > p[i].start)
        end = 0
        for start, stop in spans:
            if start != end:
                break
            end = stop
        if any(len(p) != len(named) for p in old_pieces) or end != a.size:
            raise _ckpt.CheckpointError(f"{manifest_path}: its pieces do not cover "
                                        f"parameter {key!r} exactly")
    if isinstance(wrapper, ZeroRedundancyOptimizer):
        mine = wrapper.pieces
    else:
        mine = [Piece(0, a.size, 0) for _, a in named]
    values = [np.empty(a.size, a.dtype) for _, a in named]
    parts: list[dict[str, list[Any]]] = [{} for _ in named]
    first: dict[str, Any] = {}
    for r, file in enumerate(files):
        meta, arrays = _ckpt.read(file)
        try:
            state = _ckpt.decode(meta["optimizer"], arrays)
            saved = list(_ckpt.decode(meta["params"], arrays).items())
        except Exception as e:
            raise _ckpt.CheckpointError(f"{file}: not a shard of a fastopt checkpoint "
                                        f"({e!r})") from e
        if [k for k, _ in saved] != [k for k, _ in named]:
            raise _ckpt.CheckpointError(f"{file}: holds parameters {[k for k, _ in saved]}, "
                                        f"this optimizer {[k for k, _ in named]}")
        if r == 0:
            first = {"state": state, "meta": meta, "arrays": arrays}
        for i, ((key, piece), old, want) in enumerate(zip(saved, old_pieces[r], mine)):
            if piece.size != old.size or piece.dtype != named[i][1].dtype:
                raise _ckpt.CheckpointError(f"{file}: parameter {key!r} holds {piece.size} "
                                            f"elements, the manifest says {old.size}")
            values[i][old.start:old.stop] = piece.reshape(-1)
            lo, hi = max(want.start, old.start), min(want.stop, old.stop)
            entries = state["state"].get(key) if isinstance(state.get("state"), dict) else None
            if not isinstance(entries, dict):
                raise _ckpt.CheckpointError(f"{file}: no state for parameter {key!r}")
            for name, entry in entries.items():
                if hi > lo or not parts[i].get(name):
                    cut = Piece(lo - old.start, hi - old.start, 0) if hi > lo else Piece(0, 0, 0)
                    parts[i].setdefault(name, []).append(_slice(entry, cut))
        del meta, arrays, state, saved
    opt_state = first["state"]
    opt_state["state"] = {
        key: {name: _join([p for p in got if _size(p)] or got[:1],
                          _like(a, want, isinstance(wrapper, ZeroRedundancyOptimizer)))
              for name, got in part.items()}
        for (key, a), part, want in zip(named, parts, mine)}
    enc = _ckpt.Encoder()
    meta0 = first["meta"]
    meta = {"optimizer": enc.encode(opt_state, ("optimizer",)),
            "params": enc.encode({k: v.reshape(a.shape) for (k, a), v in zip(named, values)},
                                 ("params",)),
            "scheduler": meta0["scheduler"] and {
                "type": meta0["scheduler"].get("type"),
                "state": enc.encode(_ckpt.decode(meta0["scheduler"]["state"], first["arrays"]),
                                    ("scheduler",))},
            "ema": meta0["ema"] and enc.encode(_ckpt.decode(meta0["ema"], first["arrays"]),
                                               ("ema",))}
    owner = _target(wrapper, scheduler)[1]
    return _ckpt.prepare_load(path, meta, enc.arrays, _Pieces(wrapper), scheduler, params,
                              ema, owner)


def _size(entry: Any) -> int:
    return int(entry["codes"].size if isinstance(entry, dict) else entry.size)


def _like(array: np.ndarray, piece: Piece, sharded: bool) -> np.ndarray:
    """What a state entry's pieces are joined into the shape of: this rank's piece (a
    ZeroRedundancyOptimizer's state) or the whole parameter."""
    return array.reshape(-1)[piece.start:piece.stop] if sharded else array
