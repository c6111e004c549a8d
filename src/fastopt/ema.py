"""An exponential moving average of the parameters ("weight EMA"), for evaluation.

    >>> ema = fastopt.EMA(params, decay=0.999)
    >>> for batch in data:
    ...     opt.step(grads(batch))
    ...     ema.update()                    # average += (1 - decay) * (param - average)
    >>> with ema.average_parameters():      # the averaged weights are the live ones here
    ...     evaluate(model)
    >>>                                     # and the trained ones again, to the bit

The average starts as a copy of the parameters when the EMA is built, and each
:meth:`EMA.update` moves it towards them with the constant ``decay`` -- no warm-up, the
behaviour of ``timm.utils.ModelEmaV2`` and of torch's ``AveragedModel`` with
``get_ema_multi_avg_fn`` (the first update of which copies).  ``use_num_updates=True``
adds the warm-up of TensorFlow's ``ExponentialMovingAverage`` and the ``torch_ema``
package: update n (counting from 1) uses ``min(decay, (1 + n) / (10 + n))``, so early
averages follow the parameters closely.

The update is one kernel call per param group and dtype (every backend), allocates
nothing, and computes ``average + (1 - decay) * (param - average)`` as ``torch.lerp``
does -- the formula torch's EMA helpers use.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from typing import Any, Callable, Iterator

import numpy as np

from ._core import backend as _backend
from ._core import checks as check
from ._core.params import Key, grads_in_order, parse_params
from ._core.kernel import EMA_SWAP, EMA_UPDATE
from ._core.plan import build_plans

STATE_FORMAT = 1


class EMA:
    """Exponential moving average of ``params`` (a list or dict of arrays, param groups,
    or :class:`~fastopt.FlatParams`: the forms optimizers take).

    ``decay``: in [0, 1]; 0.999 suits steps in the tens of thousands (the average spans
    about ``1 / (1 - decay)`` steps).  ``use_num_updates``: warm-up, see the module
    docstring.  ``backend``: as for optimizers.

    :meth:`average_parameters` is the context manager that puts the averaged weights into
    the live parameters and back: it *swaps* the two (no copy is allocated), so inside it
    treat the parameters as read-only and do not call :meth:`update`.
    """

    def __init__(self, params: Any, decay: float = 0.999, *, use_num_updates: bool = False,
                 backend: str | None = None):
        self.backend, module = _backend.load(backend)
        overrides, tensors, _ = parse_params(params)
        for gi, override in enumerate(overrides):
            if override:
                raise TypeError(f"param group {gi}: EMA takes no per-group options, got "
                                f"{', '.join(map(repr, override))}")
        self.decay = decay
        self.use_num_updates = check.flag("use_num_updates", use_num_updates)
        #: Updates made so far.
        self.num_updates = 0
        self._tensors = tensors
        self._plans, _, _ = build_plans(tensors, len(overrides), ("average",),
                                        lambda gi: ("average",), lambda gi, name: 0.0)
        self._where = [(plan, row) for plan in self._plans for row in range(len(plan.tensors))]
        for plan, row in self._where:
            np.copyto(plan.state_view("average", row), plan.tensors[row].array)
        self._update_runs = [plan.bind(module, EMA_UPDATE)[0] for plan in self._plans]
        self._swap_runs = [plan.bind(module, EMA_SWAP)[0] for plan in self._plans]
        self._swapped = False

    @property
    def decay(self) -> float:
        """The decay of the average, in [0, 1] (may be changed between updates)."""
        return self._decay

    @decay.setter
    def decay(self, value: float) -> None:
        self._decay = check.unit_interval("decay", value, closed=True)

    @property
    def swapped(self) -> bool:
        """True inside :meth:`average_parameters`, where the parameters hold the averaged
        weights."""
        return self._swapped

    def _refuse_when_swapped(self, what: str) -> None:
        if self._swapped:
            raise RuntimeError(f"EMA.{what}() inside average_parameters(): the averaged "
                               f"weights are swapped into the parameters")

    def update(self) -> None:
        """Move the average towards the current parameters by ``1 - decay``."""
        self._refuse_when_swapped("update")
        n = self.num_updates + 1
        decay = self._decay
        if self.use_num_updates:
            decay = min(decay, (1.0 + n) / (10.0 + n))
        w = (1.0 - decay,)
        for run in self._update_runs:
            run(w)
        self.num_updates = n

    @property
    def shadow(self) -> dict[Key, np.ndarray]:
        """Views of the averaged weights, keyed like the parameters (list positions for
        lists).  Inside :meth:`average_parameters` they hold the trained weights."""
        return {plan.tensors[row].key: plan.state_view("average", row)
                for plan, row in self._where}

    def copy_to(self, target: Any = None) -> None:
        """Copy the averaged weights into ``target`` (arrays in the parameters' structure:
        a list in order, a dict by name, or FlatParams), or into the parameters
        themselves when ``target`` is None (which overwrites the trained weights).  A
        refused call copies nothing."""
        self._refuse_when_swapped("copy_to")
        order = {id(t): i for i, t in enumerate(self._tensors)}
        if target is None:
            dests = [t.array for t in self._tensors]
        else:
            if isinstance(target, np.ndarray) or not isinstance(target, (Mapping, list, tuple)):
                raise TypeError(f"target must be a list, dict or FlatParams of arrays, got "
                                f"{type(target).__name__}")
            dests = grads_in_order(target, self._tensors)
            if len(dests) != len(self._tensors):
                raise ValueError(f"target holds {len(dests)} arrays, the EMA averages "
                                 f"{len(self._tensors)}")
            for t, d in zip(self._tensors, dests):
                t.check_like(d, f"target for parameter {t.label}")
                if not d.flags.writeable:
                    raise ValueError(f"target for parameter {t.label} is read-only")
        for plan, row in self._where:
            np.copyto(dests[order[id(plan.tensors[row])]], plan.state_view("average", row))

    def _swap(self) -> None:
        for run in self._swap_runs:
            run(())

    @contextlib.contextmanager
    def average_parameters(self) -> Iterator[EMA]:
        """``with ema.average_parameters(): evaluate()`` -- the averaged weights are the
        live parameters inside the block; on leaving it (also by an exception) the
        trained weights are back, bit for bit."""
        if self._swapped:
            raise RuntimeError("average_parameters() is already active")
        self._swap()
        self._swapped = True
        try:
            yield self
        finally:
            self._swap()
            self._swapped = False

    # ---- state ------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The average and its settings, as NumPy arrays and plain Python values."""
        shadow = {}
        for plan, row in self._where:
            t = plan.tensors[row]
            src = t.array if self._swapped else plan.state_view("average", row)
            shadow[t.key] = src.copy()
        return {"type": "EMA", "format_version": STATE_FORMAT, "decay": self._decay,
                "use_num_updates": self.use_num_updates,
                "num_updates": int(self.num_updates), "shadow": shadow}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s snapshot; one for other parameters is refused and
        nothing changes."""
        self._apply_state_dict(self._check_state_dict(state_dict))

    def prepare_load_state_dict(self, state_dict: dict[str, Any]) -> Callable[[], None]:
        """Check ``state_dict`` as :meth:`load_state_dict` does, changing nothing, and
        return the function that loads it (which cannot fail; see fastopt.checkpoint)."""
        return functools.partial(self._apply_state_dict, self._check_state_dict(state_dict))

    def _check_state_dict(self, state_dict: dict[str, Any]) -> dict[str, Any]:
        self._refuse_when_swapped("load_state_dict")
        sd = state_dict
        if not isinstance(sd, Mapping):
            raise TypeError(f"state_dict must be a dict, got {type(sd).__name__}")
        missing = {"type", "format_version", "decay", "use_num_updates", "num_updates",
                   "shadow"} - set(sd)
        if missing:
            raise ValueError(f"not an EMA state_dict: no {', '.join(sorted(missing))}")
        if sd["type"] != "EMA":
            raise ValueError(f"this state_dict is from {sd['type']!r}, not EMA")
        if sd["format_version"] != STATE_FORMAT:
            raise ValueError(f"EMA state_dict format {sd['format_version']!r} is not "
                             f"supported (this fastopt reads format {STATE_FORMAT})")
        decay = check.unit_interval("decay", sd["decay"], closed=True)
        use_num_updates = check.flag("use_num_updates", sd["use_num_updates"])
        n = sd["num_updates"]
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"num_updates must be an int >= 0, got {n!r}")
        shadow = sd["shadow"]
        keys = [t.key for t in self._tensors]
        if not isinstance(shadow, Mapping) or set(shadow) != set(keys):
            got = sorted(map(str, shadow)) if isinstance(shadow, Mapping) else shadow
            raise ValueError(f"the state_dict averages parameters {got}, this EMA "
                             f"{sorted(map(str, keys))}")
        for t in self._tensors:
            t.check_like(shadow[t.key], f"average of parameter {t.label}")
        return {"decay": decay, "use_num_updates": use_num_updates, "num_updates": int(n),
                "shadow": shadow}

    def _apply_state_dict(self, checked: dict[str, Any]) -> None:
        for plan, row in self._where:
            np.copyto(plan.state_view("average", row), checked["shadow"][plan.tensors[row].key])
        self._decay = checked["decay"]
        self.use_num_updates = checked["use_num_updates"]
        self.num_updates = checked["num_updates"]

    def __repr__(self) -> str:
        n = sum(t.array.size for t in self._tensors)
        return (f"EMA({len(self._tensors)} parameters, {n} elements, decay={self._decay}, "
                f"num_updates={self.num_updates}, backend={self.backend!r})")


__all__ = ["EMA"]
