"""Parameters in every form a user has them: a list of arrays, a dict of named arrays,
torch-style param groups, or a ``FlatParams`` made by :func:`flatten`."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Union

import numpy as np

ALIGN_BYTES = 64
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

Key = Union[str, int]


def aligned_zeros(n: int, dtype: Any) -> np.ndarray:
    """A zeroed 1-D array of ``n`` elements whose data starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    raw = np.zeros(n * dtype.itemsize + ALIGN_BYTES, np.uint8)
    skip = (-raw.ctypes.data) % ALIGN_BYTES
    return raw[skip:skip + n * dtype.itemsize].view(dtype)


def padded(n: int, dtype: Any) -> int:
    """``n`` rounded up to a whole number of 64-byte lines of ``dtype``."""
    per_line = ALIGN_BYTES // np.dtype(dtype).itemsize
    return -(-n // per_line) * per_line


def label_of(key: Key) -> str:
    return repr(key) if isinstance(key, str) else f"#{key}"


def check_float_array(arr: Any, label: str) -> np.ndarray:
    """A parameter's values must be a float32/float64 NumPy array (in the machine's byte
    order)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"parameter {label} must be a NumPy array, got {type(arr).__name__}")
    if arr.dtype not in DTYPES:
        kind = (f"{arr.dtype.str} (not in the machine's byte order)"
                if arr.dtype.newbyteorder() in DTYPES else str(arr.dtype))
        raise TypeError(f"parameter {label} has dtype {kind}; fastopt updates float32 "
                        f"and float64 arrays")
    return arr


def check_param_array(arr: Any, label: str) -> np.ndarray:
    """A parameter must be a writeable, C-contiguous float32/float64 NumPy array."""
    check_float_array(arr, label)
    if not arr.flags.c_contiguous:
        raise ValueError(f"parameter {label} is not C-contiguous; it is updated in place, "
                         f"so pass a contiguous array (np.ascontiguousarray makes a copy)")
    if not arr.flags.writeable:
        raise ValueError(f"parameter {label} is read-only")
    return arr


class FlatParams(Mapping):
    """Parameters living in one contiguous, 64-byte-aligned buffer per dtype.

    ``params[key]`` is a view of the parameter inside the flat buffer (what the model
    should use), ``params.grads[key]`` the matching view of the flat gradient buffer
    (where backprop should write), ``params.data`` / ``params.grad`` the flat buffers
    themselves.  Every view starts on a 64-byte boundary; the padding between views is
    zero and stays zero.
    """

    def __init__(self, arrays: Mapping[Key, np.ndarray]):
        if not isinstance(arrays, Mapping):
            raise TypeError(f"FlatParams takes a dict of arrays, got {type(arrays).__name__} "
                            f"(fastopt.flatten takes a list too)")
        for key, arr in arrays.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(f"parameter names must be strings, got {key!r}")
            check_float_array(arr, label_of(key))
        sizes: dict[np.dtype, int] = {}
        offsets: dict[Key, int] = {}
        for key, arr in arrays.items():
            offsets[key] = sizes.get(arr.dtype, 0)
            sizes[arr.dtype] = offsets[key] + padded(arr.size, arr.dtype)
        buffers = {dt: (aligned_zeros(n, dt), aligned_zeros(n, dt)) for dt, n in sizes.items()}
        views: dict[Key, np.ndarray] = {}
        grads: dict[Key, np.ndarray] = {}
        for key, arr in arrays.items():
            data, grad = buffers[arr.dtype]
            sl = slice(offsets[key], offsets[key] + arr.size)
            views[key] = data[sl].reshape(arr.shape)
            views[key][...] = arr
            grads[key] = grad[sl].reshape(arr.shape)
        self._views = views
        #: The flat buffers, (data, grad) per dtype (read-only mapping).
        self.buffers: Mapping[np.dtype, tuple[np.ndarray, np.ndarray]] = \
            MappingProxyType(buffers)
        #: The gradient views by key (a read-only mapping: write into the views).
        self.grads: Mapping[Key, np.ndarray] = _GradViews(grads)
        self.offsets = MappingProxyType(offsets)

    def __reduce__(self) -> tuple:
        # pickle / deepcopy: the values and gradients, laid out afresh on load
        return (_rebuild_flat, ({k: v.copy() for k, v in self._views.items()},
                                {k: v.copy() for k, v in self.grads.items()}))

    def __getitem__(self, key: Key) -> np.ndarray:
        if isinstance(key, (slice, tuple)) or key is Ellipsis:
            raise TypeError("FlatParams maps each parameter's name to its view; the flat "
                            "parameter buffer is params.data")
        return self._views[key]

    def __iter__(self) -> Iterator[Key]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def _only_buffer(self, which: int) -> np.ndarray:
        if len(self.buffers) != 1:
            kinds = ", ".join(str(dt) for dt in self.buffers)
            raise TypeError(f"these parameters have one buffer per dtype ({kinds}); use "
                            f".buffers[dtype]")
        return next(iter(self.buffers.values()))[which]

    @property
    def data(self) -> np.ndarray:
        """The flat parameter buffer (parameters of a single dtype)."""
        return self._only_buffer(0)

    @property
    def grad(self) -> np.ndarray:
        """The flat gradient buffer (parameters of a single dtype)."""
        return self._only_buffer(1)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the flat gradient buffers (``set_to_none``, torch's option, is accepted;
        a view into the flat buffer cannot be None)."""
        for _, grad in self.buffers.values():
            grad.fill(0)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k!r}: {v.shape}" for k, v in self._views.items())
        return f"FlatParams({{{shapes}}})"


_NOT_AN_ARRAY = ("params.grads maps each parameter's name to its gradient view; the flat "
                 "gradient buffer is params.grad (params.grad[...] = g)")


class _GradViews(Mapping):
    """``FlatParams.grads``: the gradient views by key.  Read-only: the optimizer reads
    the flat buffer behind them, so a view replaced by another array would be ignored."""

    def __init__(self, views: dict[Key, np.ndarray]):
        self._views = views

    def __getitem__(self, key: Key) -> np.ndarray:
        if isinstance(key, (slice, tuple)) or key is Ellipsis:
            raise TypeError(_NOT_AN_ARRAY)
        return self._views[key]

    def __iter__(self) -> Iterator[Key]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def __setitem__(self, key: Key, value: Any) -> None:
        if isinstance(key, (slice, tuple)) or key is Ellipsis:
            raise TypeError(_NOT_AN_ARRAY)
        if key in self._views and value is self._views[key]:
            return      # params.grads[k] *= c: the view, changed in place, assigned back
        raise TypeError(f"params.grads[{key!r}] is a view into the flat gradient buffer, "
                        f"and cannot be replaced: write into it, params.grads[{key!r}][...] "
                        f"= gradient (or np.dot(..., out=params.grads[{key!r}]))")

    def __delitem__(self, key: Key) -> None:
        raise TypeError("params.grads cannot be changed: its views are the flat gradient "
                        "buffer the optimizer reads")

    def __repr__(self) -> str:
        return f"FlatParams.grads({{{', '.join(f'{k!r}: {v.shape}' for k, v in self.items())}}})"


def _rebuild_flat(values: dict[Key, np.ndarray], grads: dict[Key, np.ndarray]) -> FlatParams:
    flat = FlatParams(values)
    for key, grad in grads.items():
        flat.grads[key][...] = grad
    return flat


#: What an optimizer takes as ``params``: a list of arrays, a dict of named arrays,
#: torch-style param groups (a list of dicts with a "params" entry), or a FlatParams.
#: (Sequence[Any]: a list of dicts of mixed value types is inferred as list[object].)
ParamsLike = Union[FlatParams, Mapping[str, np.ndarray], Sequence[Any]]
#: What ``step`` takes as gradients: a list (in the parameters' order), a dict (by name),
#: one flat array, or None for FlatParams (their ``.grads`` buffer).
#: One parameter's gradient: an array, or for SparseAdam's 2-D parameters the row-sparse
#: ``(indices, rows)`` (fastopt._core.row_sparse).
Grad = Union[np.ndarray, tuple[np.ndarray, np.ndarray]]
GradsLike = Union[Sequence[Grad], Mapping[str, Grad], np.ndarray, None]


def flatten(params: Mapping[str, np.ndarray] | Sequence[np.ndarray]) -> FlatParams:
    """Copy a dict of named arrays (or a list of arrays) into a :class:`FlatParams`."""
    if isinstance(params, FlatParams):
        raise TypeError("these parameters are already flat")
    items: list[tuple[Key, Any]]
    if isinstance(params, Mapping):
        items = list(params.items())
        for key, _ in items:
            if not isinstance(key, str):
                raise TypeError(f"parameter names must be strings, got {key!r}")
    elif isinstance(params, (list, tuple)):
        items = list(enumerate(params))
    else:
        raise TypeError(f"flatten takes a dict or a list of arrays, got {type(params).__name__}")
    arrays: dict[Key, np.ndarray] = {}
    for key, arr in items:
        arrays[key] = check_float_array(arr, label_of(key))
    return FlatParams(arrays)


@dataclass(eq=False)
class Tensor:
    """One parameter array as the optimizer sees it."""
    key: Key
    array: np.ndarray
    group: int
    flat: FlatParams | None = None

    @property
    def label(self) -> str:
        return label_of(self.key)

    def check_like(self, arr: Any, what: str) -> None:
        """``arr`` (named ``what`` in the error) must be an array of this parameter's
        dtype and shape: a state buffer, an average, a copy target."""
        if not isinstance(arr, np.ndarray) or arr.shape != self.array.shape \
                or arr.dtype != self.array.dtype:
            got = (f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray)
                   else type(arr).__name__)
            raise ValueError(f"{what} must be a {self.array.dtype} array of shape "
                             f"{self.array.shape}, got {got}")


def _listed(obj: Any, what: str) -> list:
    """``obj`` as a list: a list or tuple as it is, any other iterable (a generator,
    ``dict.values()``, ``named_parameters()``-style pairs) read once."""
    if isinstance(obj, (list, tuple)):
        return list(obj)
    if isinstance(obj, np.ndarray):
        raise TypeError(f"{what} must be a list or dict of arrays, not a single array "
                        f"(wrap it: [array])")
    if isinstance(obj, (str, bytes)) or not isinstance(obj, Iterable):
        raise TypeError(f"{what} must be a list, dict, param groups or FlatParams, got "
                        f"{type(obj).__name__}")
    return list(obj)


def _is_named_pair(item: Any) -> bool:
    return type(item) is tuple and len(item) == 2 and isinstance(item[0], str)


def _named_or_listed(obj: Any, next_index: int, what: str) -> list[tuple[Key, Any]]:
    if isinstance(obj, Mapping):
        for key in obj:
            if not isinstance(key, str):
                raise TypeError(f"parameter names must be strings, got {key!r}")
        return list(obj.items())
    items = _listed(obj, what)
    if items and all(_is_named_pair(item) for item in items):     # (name, array) pairs
        names = [name for name, _ in items]
        if len(set(names)) != len(names):
            raise ValueError(f"a parameter name appears twice in {what}")
        return list(items)
    return [(next_index + i, arr) for i, arr in enumerate(items)]


def parse_params(params: Any) -> tuple[list[dict[str, Any]], list[Tensor], FlatParams | None]:
    """Turn what the user passed into (group overrides, tensors, flat params or None).

    Each group override is the group's dict without "params"; tensors are in the user's
    order, which is the order gradients are given in.
    """
    if isinstance(params, FlatParams):
        tensors = [Tensor(key, params[key], 0, params) for key in params]
        return [{}], tensors, params
    groups, named = _parse_structure(params)
    tensors = [Tensor(key, arr, gi) for key, arr, gi in named]
    for t in tensors:
        check_param_array(t.array, t.label)
    _refuse_overlaps(tensors)
    return groups, tensors, None


def named_arrays(params: Any) -> list[tuple[Key, np.ndarray]]:
    """(key, array) for arrays given in any form an optimizer takes, keyed as an
    optimizer keys them, of any dtype (a checkpoint stores whatever arrays it is given)."""
    if isinstance(params, FlatParams):
        return [(key, params[key]) for key in params]
    _, named = _parse_structure(params)
    for key, arr, _ in named:
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"parameter {label_of(key)} must be a NumPy array, got "
                            f"{type(arr).__name__}")
    return [(key, arr) for key, arr, _ in named]


def _parse_structure(params: Any) -> tuple[list[dict[str, Any]], list[tuple[Key, Any, int]]]:
    """The group overrides and every (key, array, group index) of params given as a list,
    a dict, (name, array) pairs or param groups; the arrays are not checked."""
    if not isinstance(params, Mapping):
        params = _listed(params, "params")
    named: list[tuple[Key, Any, int]] = []
    if isinstance(params, list) and params and all(isinstance(p, Mapping) for p in params):
        groups = []
        for gi, group in enumerate(params):
            if "params" not in group:
                raise ValueError(f"param group {gi} has no 'params' entry")
            if isinstance(group["params"], FlatParams):
                raise TypeError(f"param group {gi}: a FlatParams is one group of its own; "
                                f"pass it as params")
            overrides = {k: v for k, v in group.items() if k != "params"}
            for key in overrides:
                if not isinstance(key, str):
                    raise TypeError(f"param group {gi} has a key that is not a string: "
                                    f"{key!r}")
            named += [(key, arr, gi) for key, arr in
                      _named_or_listed(group["params"], len(named), f"param group {gi}")]
            groups.append(overrides)
    else:
        groups = [{}]
        named = [(key, arr, 0) for key, arr in _named_or_listed(params, 0, "params")]
    keys = [key for key, _, _ in named]
    if any(isinstance(k, str) for k in keys) and not all(isinstance(k, str) for k in keys):
        raise TypeError("either name every parameter (dicts) or none (lists)")
    if len(set(keys)) != len(keys):
        raise ValueError("a parameter name appears in more than one group")
    return groups, named


def _refuse_overlaps(tensors: list[Tensor]) -> None:
    """No two parameters may share memory: each would see the other's update."""
    spans = sorted((t.array.__array_interface__["data"][0], t.array.nbytes, t.label)
                   for t in tensors if t.array.nbytes)
    for (a0, an, alabel), (b0, _, blabel) in zip(spans, spans[1:]):
        if b0 < a0 + an:
            raise ValueError(f"parameters {alabel} and {blabel} share memory (the same array "
                             f"given twice, or overlapping views)")


def grads_in_order(grads: Any, tensors: list[Tensor]) -> list[Any]:
    """Gradients given as a dict (by name) or a list (by position), in tensor order."""
    if isinstance(grads, Mapping):
        keys = [t.key for t in tensors]
        if keys and not isinstance(keys[0], str):
            raise TypeError("the parameters were given as a list: pass the gradients as a "
                            "list in the same order")
        if len(grads) != len(keys) or any(k not in grads for k in keys):
            missing = [label_of(k) for k in keys if k not in grads]
            extra = [repr(k) for k in grads if k not in set(keys)]
            raise ValueError("gradients must match the parameters' names: "
                             + (f"missing {', '.join(missing)}" if missing else "")
                             + ("; " if missing and extra else "")
                             + (f"unknown {', '.join(extra)}" if extra else ""))
        return [grads[k] for k in keys]
    if type(grads) is list:
        return grads                 # read, never kept: no copy on the per-step path
    if isinstance(grads, (list, tuple)):
        return list(grads)
    raise TypeError(f"gradients must be a list, a dict or one flat array, got "
                    f"{type(grads).__name__}")
