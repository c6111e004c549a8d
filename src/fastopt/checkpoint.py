"""Checkpoints: an optimizer, its scheduler, the parameters (and an EMA) in one file.

    >>> fastopt.save("run/ckpt.npz", opt, sched)            # params: the optimizer's own
    >>> fastopt.load("run/ckpt.npz", opt, sched)            # into freshly built objects

The file is an ``.npz`` archive (written to exactly ``path``, no extension added): every
array stored natively, uncompressed, and one member ``__fastopt__`` holding the rest as
UTF-8 JSON -- the format name and version, the optimizer's and scheduler's state dicts
with their arrays replaced by member names, and the parameters' names, shapes and dtypes.
Nothing is pickled, and loading reads numeric arrays only: a checkpoint cannot run code.
Arrays are keyed by parameter name (list position for parameters given as a list), and
member names follow them where names are plain (``optimizer/state/w/exp_avg``).

Saving writes a temporary file in the same directory, flushes and fsyncs it, and
renames it over ``path`` (``os.replace``, atomic), then fsyncs the directory: a crash
leaves either the old checkpoint or the new one, never half of one.

Loading reads and checks everything first -- that the file is whole (zip CRCs), its
format, that it holds no member its metadata does not name (such members are never
decompressed), each array's size against its header, that it is for this optimizer type
and parameter layout, the parameters' names, shapes and dtypes, the scheduler's type and
state (loaded into a copy first), the EMA's -- and only then writes into the optimizer,
parameters, scheduler and EMA.  A refused load raises :class:`CheckpointError` (a
``ValueError``) and changes nothing.  Saving runs the same checks on what it is about to
write, so a file that save() writes, load() reads.

Resuming from a checkpoint is bitwise identical to never having stopped: floats go
through JSON as their shortest round-tripping repr, tuples and NumPy scalars keep their
types, and arrays their bits.  That holds for state kept in reduced precision
(``state_precision=``) too: 8-bit state is its ``codes`` (uint8) and ``absmax`` members
(``optimizer/state/w/exp_avg/codes``), and a bfloat16 array, which ``.npz`` cannot hold,
is stored as its uint16 bits, marked ``{"__bfloat16__": name}`` in the metadata and
viewed back as ``ml_dtypes.bfloat16`` on load (ml_dtypes is imported only then).
"""
from __future__ import annotations

import copy
import os
import re
import sys
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._core.params import label_of, named_arrays

__all__ = ["save", "load", "CheckpointError", "FORMAT_VERSION"]

FORMAT = "fastopt-checkpoint"
FORMAT_VERSION = 1
META = "__fastopt__"

_TAGS = ("__tuple__", "__dict__", "__array__", "__numpy__", "__bfloat16__")
#: The dtype kinds of the arrays a checkpoint holds: booleans, integers, floats (bfloat16
#: arrays are stored as their uint16 bits).
_ARRAY_KINDS = "biuf"
_PLAIN = re.compile(r"[A-Za-z0-9_.\-]{1,100}\Z")


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded here: damaged or truncated, of another format,
    or for another optimizer, scheduler, EMA or parameter layout."""


# ---- values <-> JSON -------------------------------------------------------------------

class Encoder:
    """Plain Python values to JSON-able ones, arrays to npz members."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def member(self, path: tuple) -> str:
        parts = [str(p) for p in path]
        name = "/".join(parts)
        if not all(_PLAIN.match(p) for p in parts) or name in self.arrays or name == META:
            name = f"{parts[0]}/#{len(self.arrays)}"
        return name

    def encode(self, x: Any, path: tuple) -> Any:
        if x is None or isinstance(x, (bool, str)):
            return x
        if isinstance(x, np.ndarray):
            if x.dtype.hasobject:
                raise TypeError(f"{_where(path)} is an object array, which a checkpoint "
                                f"cannot store")
            if _is_bfloat16(x.dtype):
                name = self.member(path)
                self.arrays[name] = x.view(np.uint16)       # its bits: load views them back
                return {"__bfloat16__": name}
            if x.dtype.kind not in _ARRAY_KINDS or x.dtype.fields is not None:
                raise TypeError(f"{_where(path)} is an array of {x.dtype} values, which a "
                                f"checkpoint cannot store (only booleans, integers, floats "
                                f"and bfloat16)")
            name = self.member(path)
            self.arrays[name] = x
            return {"__array__": name}
        if isinstance(x, np.generic):
            if not isinstance(x, (np.bool_, np.integer, np.floating)):
                raise TypeError(f"{_where(path)} is a {type(x).__name__}, which a checkpoint "
                                f"cannot store")
            return {"__numpy__": [x.dtype.str, x.item()]}
        if isinstance(x, int):
            return int(x)
        if isinstance(x, float):
            return float(x)
        if isinstance(x, tuple):
            return {"__tuple__": [self.encode(v, path + (i,)) for i, v in enumerate(x)]}
        if isinstance(x, list):
            return [self.encode(v, path + (i,)) for i, v in enumerate(x)]
        if isinstance(x, Mapping):
            if all(isinstance(k, str) for k in x) and not any(k in _TAGS for k in x):
                return {k: self.encode(v, path + (k,)) for k, v in x.items()}
            return {"__dict__": [[self.encode(k, path + ("key",)), self.encode(v, path + (k,))]
                                 for k, v in x.items()]}
        raise TypeError(f"{_where(path)} is a {type(x).__name__}, which a checkpoint cannot "
                        f"store (only numbers, strings, lists, tuples, dicts and arrays)")


def _is_bfloat16(dtype: np.dtype) -> bool:
    """Whether ``dtype`` is ml_dtypes' bfloat16 (an array of it means ml_dtypes is loaded)."""
    if dtype.kind != "V" or dtype.itemsize != 2 or dtype.name != "bfloat16":
        return False
    ml_dtypes = sys.modules.get("ml_dtypes")
    return ml_dtypes is not None and dtype == ml_dtypes.bfloat16


def _bfloat16_view(bits: np.ndarray, name: str) -> np.ndarray:
    """Member ``name``, the uint16 bits of a bfloat16 array, as that array."""
    if bits.dtype.kind != "u" or bits.dtype.itemsize != 2:
        raise CheckpointError(f"the checkpoint's bfloat16 array {name!r} is stored as "
                              f"{bits.dtype} values, not as its uint16 bits")
    try:
        import ml_dtypes
    except ImportError:
        raise CheckpointError(f"the checkpoint holds bfloat16 arrays ({name!r}), which need "
                              f"the ml_dtypes package (pip install ml_dtypes)") from None
    return bits.astype(np.uint16, copy=False).view(ml_dtypes.bfloat16)


def _where(path: tuple) -> str:
    return path[0] + "".join(f"[{p!r}]" for p in path[1:])


def decode(x: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(x, list):
        return [decode(v, arrays) for v in x]
    if not isinstance(x, dict):
        return x
    if len(x) == 1:
        (tag, value), = x.items()
        if tag == "__array__":
            if value not in arrays:
                raise CheckpointError(f"the checkpoint names an array {value!r} it does "
                                      f"not hold")
            return arrays[value]
        if tag == "__bfloat16__":
            if not isinstance(value, str) or value not in arrays:
                raise CheckpointError(f"the checkpoint names a bfloat16 array {value!r} it "
                                      f"does not hold")
            return _bfloat16_view(arrays[value], value)
        if tag == "__tuple__":
            return tuple(decode(v, arrays) for v in value)
        if tag == "__dict__":
            return {decode(k, arrays): decode(v, arrays) for k, v in value}
        if tag == "__numpy__":
            dtype = np.dtype(value[0])
            if dtype.kind not in "biuf":
                raise CheckpointError(f"the checkpoint holds a scalar of dtype {dtype}")
            return dtype.type(value[1])
    return {k: decode(v, arrays) for k, v in x.items()}


# ---- save ------------------------------------------------------------------------------

def save(path: str | os.PathLike, optimizer: Any, scheduler: Any = None, params: Any = None,
         *, ema: Any = None) -> None:
    """Write ``optimizer`` (and ``scheduler``, ``params``, ``ema``) to the checkpoint
    ``path``, atomically.

    ``params``: the arrays to store (list, dict, param groups or FlatParams); None stores
    the optimizer's own parameters.  ``scheduler``: an ``fastopt.lr_scheduler`` scheduler
    of this optimizer, or None.  ``ema``: a :class:`fastopt.EMA`, or None.

    Everything is encoded and checked as :func:`load` will check it before the file is
    opened: a value that cannot be stored raises TypeError, a state that :func:`load`
    would refuse (a NaN learning rate set between steps, say) raises
    :class:`CheckpointError`, and either leaves the old checkpoint alone.  The folder must
    exist.  Temporary files that a save killed midway left beside ``path`` are removed.
    """
    write(os.fspath(path), optimizer, optimizer.state_dict(), scheduler, params, ema)


def write(path: str, optimizer: Any, optimizer_state: dict[str, Any], scheduler: Any = None,
          params: Any = None, ema: Any = None, owner: Any = None) -> None:
    """:func:`save` of ``optimizer_state``, ``optimizer``'s state_dict (fastopt.distributed
    gathers it from every rank); ``owner``: the optimizer the scheduler belongs to, where
    that is not ``optimizer``."""
    import json                         # here, not at import: keeps `import fastopt` light
    from . import __version__
    if ema is not None and ema.swapped:
        raise RuntimeError("save() inside ema.average_parameters(): the parameters hold the "
                           "averaged weights")
    enc = Encoder()
    named = optimizer.named_parameters() if params is None else named_arrays(params)
    meta: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "fastopt_version": __version__,
        "optimizer": enc.encode(optimizer_state, ("optimizer",)),
        "params": enc.encode({k: a for k, a in named}, ("params",)),
        "scheduler": None, "ema": None,
    }
    if scheduler is not None:
        _check_scheduler_owner(scheduler, owner or optimizer)
        meta["scheduler"] = {"type": type(scheduler).__name__,
                             "state": enc.encode(scheduler.state_dict(), ("scheduler",))}
    if ema is not None:
        meta["ema"] = enc.encode(ema.state_dict(), ("ema",))
    text = json.dumps(meta, allow_nan=True, separators=(",", ":"))
    # What load() will read back, checked as load() checks it.
    try:
        prepare_load(path, json.loads(text), enc.arrays, optimizer, scheduler, params, ema,
                     owner)
    except CheckpointError as e:
        raise CheckpointError(f"{path} not written (the old file, if any, is kept): this "
                              f"state would not load back: {e.args[0]}") from None
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save {path}: the folder {directory} does not exist")
    members = {META: np.frombuffer(text.encode("utf-8"), np.uint8), **enc.arrays}
    _remove_stale_temporaries(path)
    _write_atomically(path, members)


def _check_scheduler_owner(scheduler: Any, optimizer: Any) -> None:
    owner = getattr(scheduler, "optimizer", optimizer)
    if owner is not optimizer:
        raise ValueError(f"the {type(scheduler).__name__} is attached to another optimizer")


# A save writes ``.{name}.{host}.{pid}.{random}.tmp`` beside ``name`` and renames it over
# ``name``.  One killed midway leaves that file behind; the next save of ``name`` removes
# it once its process is gone (or, for another host's, once it is a day old: a save that
# may still be running elsewhere is never touched).  On Windows, where os.kill(pid, 0)
# would end the process instead of probing it, the age rule applies to every file.
_STALE_AFTER = 24 * 3600.0


def _host() -> str:
    import socket
    return re.sub(r"[^A-Za-z0-9_\-]", "_", socket.gethostname())[:64] or "host"


def _temporary_name(path: str) -> str:
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.{_host()}.{os.getpid()}.{os.urandom(4).hex()}.tmp")


def _remove_stale_temporaries(path: str) -> None:
    import time
    directory, name = os.path.split(os.path.abspath(path))
    pattern = re.compile(re.escape(f".{name}.") + r"(?:([A-Za-z0-9_\-]+)\.(\d+)\.)?[0-9a-f]+\.tmp\Z")
    host = _host()
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        m = pattern.match(entry)
        if not m:
            continue
        full = os.path.join(directory, entry)
        try:
            if m.group(1) == host and os.name != "nt":
                stale = not _process_alive(int(m.group(2)))
            else:               # another host's, or written before names held a pid
                stale = time.time() - os.stat(full).st_mtime > _STALE_AFTER
            if stale:
                os.unlink(full)
        except OSError:
            pass


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (POSIX only: see above)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True         # exists (another user's), or cannot tell: keep the file
    return True


def _write_atomically(path: str, members: dict[str, np.ndarray]) -> None:
    write_atomically(path, lambda f: np.savez(f, **members))  # type: ignore[arg-type]


def write_atomically(path: str, write: Any) -> None:
    """``write(f)`` into a temporary file beside ``path``, flushed to disk, then renamed
    over ``path``: a crash leaves the old file or the new one."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = _temporary_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as e:
        raise type(e)(e.errno, f"cannot save {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:                                 # make the rename itself durable (POSIX)
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


# ---- load ------------------------------------------------------------------------------

#: The metadata member is JSON text; more than this is not a checkpoint fastopt wrote.
_MAX_META_BYTES = 1 << 26


def read(path: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata and the arrays it names, read from the zip directory down: members it
    does not name are refused unread, each array's size is checked against its header
    before its data is read, and every byte read is CRC-checked."""
    try:
        archive = zipfile.ZipFile(path)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as e:
        raise _damaged(path, _not_a_zip(path, e)) from e
    try:
        with archive:
            return _read_archive(path, archive)
    except CheckpointError:
        raise
    except Exception as e:          # zipfile, JSON, NumPy headers, memory, recursion...
        raise _damaged(path, e) from e


def _not_a_zip(path: str, e: Exception) -> Exception:
    try:
        with open(path, "rb") as f:
            if f.read(6) == b"\x93NUMPY":
                return CheckpointError(f"{path} is a .npy file, not a fastopt checkpoint")
    except OSError:
        pass
    return e


def _damaged(path: str, e: Exception) -> CheckpointError:
    if isinstance(e, CheckpointError):
        return e
    return CheckpointError(f"{path} is not a readable fastopt checkpoint (damaged or "
                           f"truncated?): {type(e).__name__}: {e}")


def _read_archive(path: str, archive: zipfile.ZipFile) -> tuple[dict[str, Any],
                                                                  dict[str, np.ndarray]]:
    import json
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        if info.filename in infos:
            raise ValueError(f"the archive holds member {info.filename!r} twice")
        infos[info.filename] = info
    meta_info = infos.get(META + ".npy")
    if meta_info is None:
        raise CheckpointError(f"{path} is not a fastopt checkpoint (no {META} member)")
    raw = _read_member(archive, meta_info, _MAX_META_BYTES)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError(f"{path} is not a fastopt checkpoint ({META} is not text)")
    meta = json.loads(raw.tobytes().decode("utf-8"))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a fastopt checkpoint")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {version!r}; this fastopt "
                              f"reads format {FORMAT_VERSION} (saved by fastopt "
                              f"{meta.get('fastopt_version', '?')})")
    for key in ("optimizer", "params", "scheduler", "ema"):
        if key not in meta:
            raise CheckpointError(f"{path}: the checkpoint's metadata has no {key!r}")
    named = _array_names(meta)
    missing = sorted(n for n in named if n + ".npy" not in infos)
    if missing:
        raise CheckpointError(f"{path}: the checkpoint names an array {missing[0]!r} it "
                              f"does not hold")
    unused = sorted(n for n in infos
                    if not n.endswith(".npy") or (n != META + ".npy" and n[:-4] not in named))
    if unused:
        raise CheckpointError(f"{path} holds members its metadata does not use "
                              f"({', '.join(map(repr, unused[:5]))}); not read")
    return meta, {name: _read_member(archive, infos[name + ".npy"]) for name in named}


def _array_names(meta: Any) -> set[str]:
    """The member names the metadata refers to ({"__array__": name} or
    {"__bfloat16__": name} anywhere)."""
    names: set[str] = set()
    todo = [meta]
    while todo:
        x = todo.pop()
        if isinstance(x, list):
            todo += x
        elif isinstance(x, dict):
            tag = next(iter(x)) if len(x) == 1 else None
            if tag in ("__array__", "__bfloat16__"):
                if not isinstance(x[tag], str):
                    raise ValueError("an array reference that is not a name")
                names.add(x[tag])
            else:
                todo += x.values()
    return names


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo,
                 max_bytes: int | None = None) -> np.ndarray:
    """One .npy member: stored uncompressed (as save writes it), unencrypted, of a numeric
    dtype, its data exactly the size its header gives."""
    from numpy.lib import format as npy
    name = info.filename
    if info.flag_bits & 0x1:
        raise ValueError(f"member {name!r} is encrypted")
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"member {name!r} is compressed (fastopt writes checkpoints "
                         f"uncompressed)")
    if max_bytes is not None and info.file_size > max_bytes:
        raise ValueError(f"member {name!r} is {info.file_size} bytes, more than a "
                         f"checkpoint's {max_bytes}")
    with archive.open(info) as f:
        version = npy.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(f)
        else:
            raise ValueError(f"member {name!r} has .npy format {version}")
        if dtype.hasobject or dtype.kind not in _ARRAY_KINDS or dtype.fields is not None:
            raise ValueError(f"member {name!r} holds {dtype} values, not numbers")
        count = 1
        for n in shape:
            count *= int(n)
        nbytes = count * dtype.itemsize
        if nbytes != info.file_size - f.tell():
            raise ValueError(f"member {name!r} is {info.file_size - f.tell()} bytes of data "
                             f"for {shape} {dtype}")
        data = bytearray(nbytes)
        view, done = memoryview(data), 0
        while done < nbytes:
            got = f.readinto(view[done:])  # type: ignore[attr-defined]
            if not got:
                raise ValueError(f"member {name!r} ends early")
            done += got
        if f.read(1):           # and reading to the end checks the CRC
            raise ValueError(f"member {name!r} is longer than its header says")
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")


def load(path: str | os.PathLike, optimizer: Any, scheduler: Any = None, params: Any = None,
         *, ema: Any = None) -> None:
    """Restore a checkpoint written by :func:`save` into ``optimizer`` (and
    ``scheduler``, ``params``, ``ema``), built the same way as the saved ones.

    ``params``: where the stored parameters go (same names, shapes and dtypes); None: the
    optimizer's own parameters.  A ``scheduler`` or ``ema`` given must have been saved;
    one saved but not given is left out.  Everything is checked before anything is
    written: a file that is damaged, not a checkpoint, or for other objects raises
    :class:`CheckpointError` and changes nothing (a missing or unreadable file raises the
    usual ``OSError``).  Once checked, the state is written whole, even through Ctrl-C.
    """
    from ._core import _native
    path = os.fspath(path)
    meta, arrays = read(path)
    commit = prepare_load(path, meta, arrays, optimizer, scheduler, params, ema)
    _native.uninterrupted(commit, ())


def prepare_load(path: str, meta: dict[str, Any], arrays: Mapping[str, np.ndarray],
                 optimizer: Any, scheduler: Any, params: Any, ema: Any,
                 owner: Any = None) -> Any:
    """Check everything ``meta`` and ``arrays`` would load into the objects, and return
    the function that loads it (which cannot fail).  ``owner``: the optimizer the
    scheduler belongs to, where that is not ``optimizer``."""
    def fail(what: str, e: Exception) -> CheckpointError:
        if isinstance(e, CheckpointError) and path in str(e):
            return e
        return CheckpointError(f"{path}: cannot load the {what}: {e}")

    # the optimizer
    try:
        opt_state = decode(meta["optimizer"], arrays)
        load_optimizer = optimizer.prepare_load_state_dict(opt_state)
    except Exception as e:
        raise fail("optimizer state", e) from e

    # the parameters
    targets = optimizer.named_parameters() if params is None else named_arrays(params)
    try:
        saved = decode(meta["params"], arrays)
    except Exception as e:
        raise fail("parameters", e) from e
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path}: the checkpoint's parameters are damaged")
    keys = [k for k, _ in targets]
    if list(saved) != keys:
        raise CheckpointError(
            f"{path}: the checkpoint holds parameters "
            f"{[label_of(k) if isinstance(k, (str, int)) else repr(k) for k in saved]}, "
            f"these are {[label_of(k) for k in keys]}")
    for key, dest in targets:
        src = saved[key]
        if not isinstance(src, np.ndarray) or src.shape != dest.shape \
                or src.dtype != dest.dtype:
            got = f"{src.dtype} {src.shape}" if isinstance(src, np.ndarray) else type(src).__name__
            raise CheckpointError(f"{path}: parameter {label_of(key)} is a {dest.dtype} array "
                                  f"of shape {dest.shape}, the checkpoint holds {got}")
        if not dest.flags.writeable:
            raise CheckpointError(f"{path}: parameter {label_of(key)} is read-only")

    # the scheduler: loaded into a copy first (sharing the optimizer, which it must not
    # touch), so that a state it refuses changes nothing
    sched_state = None
    if scheduler is not None:
        if meta["scheduler"] is None:
            raise CheckpointError(f"{path}: the checkpoint holds no scheduler state")
        saved_type = meta["scheduler"].get("type") if isinstance(meta["scheduler"], dict) else None
        if saved_type != type(scheduler).__name__:
            raise CheckpointError(f"{path}: the checkpoint's scheduler is {saved_type}, not "
                                  f"{type(scheduler).__name__}")
        try:
            _check_scheduler_owner(scheduler, owner or optimizer)
            sched_state = decode(meta["scheduler"]["state"], arrays)
            if not isinstance(sched_state, dict):
                raise TypeError("the state is not a dict")
            current = scheduler.state_dict()
            if set(sched_state) != set(current):
                raise ValueError(f"the state holds {sorted(sched_state)}, this "
                                 f"{type(scheduler).__name__} {sorted(current)}")
            owner = getattr(scheduler, "optimizer", None)
            trial = copy.deepcopy(scheduler, {id(owner): owner} if owner is not None else {})
            trial.load_state_dict(copy.deepcopy(sched_state))
        except Exception as e:                      # a scheduler's own refusal, any kind
            raise fail("scheduler state", e) from e

    # the EMA
    load_ema = None
    if ema is not None:
        if meta["ema"] is None:
            raise CheckpointError(f"{path}: the checkpoint holds no EMA state")
        try:
            load_ema = ema.prepare_load_state_dict(decode(meta["ema"], arrays))
        except Exception as e:
            raise fail("EMA state", e) from e

    def commit() -> None:
        load_optimizer()
        for key, dest in targets:
            np.copyto(dest, saved[key])
        if scheduler is not None:
            scheduler.load_state_dict(sched_state)
        if load_ema is not None:
            load_ema()

    return commit
