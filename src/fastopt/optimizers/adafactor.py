"""Adafactor (docs/optimizers.md#adafactor)."""
from __future__ import annotations

import ctypes
import math
from typing import Any

import numpy as np

from .._backends.numpy.adafactor import adafactor as _reference_step
from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from .._core.plan import GRAD
from . import _step_scalars
from ._docstrings import shared_parameters

_BUFFERS = ("row_var", "col_var", "variance")


def _eps(name: str, value: Any) -> tuple[float | None, float]:
    eps1, eps2 = check.pair(name, value)
    return (None if eps1 is None else check.non_negative(f"{name}[0]", eps1),
            check.non_negative(f"{name}[1]", eps2))


def _beta2_decay(name: str, value: Any) -> float:
    return check.bounded(name, value, hi=0.0)


def _clip_threshold(name: str, value: Any) -> float:
    return check.bounded(name, value, lo=1.0)


@shared_parameters
class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern, 2018) as torch.optim.Adafactor: a second moment
    factored into row and column statistics for every parameter of two or more
    dimensions (over its last two; leading dimensions are a batch), so its state takes
    rows + cols values instead of rows x cols; vectors and scalars keep a full
    ``variance``.  No first moment; a relative step size.

    Each step t, per parameter (``g`` is the gradient, negated if ``maximize``;
    ``RMS(x) = ||x||/sqrt(numel)``)::

        beta2_t = t**beta2_decay;  rho_t = min(lr, 1/sqrt(t))
        alpha = max(eps2, RMS(p)) * rho_t
        p = p*(1 - lr*weight_decay)
        matrix: row_var = lerp(row_var, mean(g*g, last dim), beta2_t)
                col_var = lerp(col_var, mean(g*g, second-to-last dim), beta2_t)
                v = row_var*col_var / max(mean(row_var), eps1)
        vector: variance = lerp(variance, g*g, beta2_t);  v = variance
        u = g / sqrt(max(v, eps1**2))
        p = p - alpha/max(1, RMS(u)/d) * u

    The rule in full and where it differs from torch: docs/optimizers.md#adafactor.
    Its state is not shaped like the parameters, so it is stored in full precision only
    (``state_precision`` "bfloat16" and "8bit" are refused) and
    ``fastopt.distributed.ZeroRedundancyOptimizer`` does not shard it.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.01
        The learning rate: caps the relative step size ``rho_t``, and scales the weight
        decay.
    beta2_decay : float, default -0.8
        ``beta2_t = t**beta2_decay`` weighs the new gradient statistics; must be <= 0.
    eps : tuple, default (None, 0.001)
        ``(eps1, eps2)``: eps1 bounds the second-moment estimate from below (None: the
        parameters' dtype's machine epsilon); eps2 bounds ``RMS(p)`` from below in the
        step size.  Each >= 0.
    d : float, default 1.0
        The update clipping threshold: the update is scaled down where its RMS exceeds
        ``d``.  Must be >= 1 (as torch).
    weight_decay : float, default 0.0
        Decoupled weight decay: ``p = p*(1 - lr*weight_decay)`` each step.
    %(maximize)s
    %(backend)s
    %(options)s
    """

    kernel = Kernel("adafactor", buffers=_BUFFERS,
                    scalars=_step_scalars.ADAFACTOR_SCALARS,
                    nonnegative=_BUFFERS, chunked=False)
    unshardable = ("its state has shapes of its own (factored statistics over each "
                   "matrix's rows and columns), which ZeRO's flat slices of the parameters "
                   "would cut apart; use DataParallel (every rank keeps the whole state)")

    # Its statistics are rows + cols values per matrix, and block-wise bfloat16 or 8-bit
    # storage works on state shaped like the parameters: full precision only.
    state_is_moments = False
    full_state_reason = ("state is not shaped like its parameters (rows + cols values per "
                         "matrix), and only state shaped like them is stored in blocks")

    def __init__(self, params: Any, lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0,
                 weight_decay: float = 0.0, *, maximize: bool = False,
                 backend: str | None = None, **options: Any):
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d,
                                      weight_decay=weight_decay, maximize=maximize),
                         backend, **options)

    hyperparameters = dict(lr=check.non_negative, beta2_decay=_beta2_decay, eps=_eps,
                           d=_clip_threshold, weight_decay=check.non_negative)

    parameter_shaped_state = False

    def _state_shape(self, name: str, shape: tuple[int, ...],
                     precision: str) -> tuple[int, ...] | None:
        if len(shape) >= 2:
            if name == "row_var":
                return shape[:-1] + (1,)
            if name == "col_var":
                return shape[:-2] + (1, shape[-1])
            return None
        return shape if name == "variance" else None

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        # t**beta2_decay, min(lr, 1/sqrt(t)), eps1 (NaN for None: the dtype's epsilon),
        # eps2, d and 1 - lr*weight_decay (compiled: _step_scalars)
        return _step_scalars.adafactor(h, step)

    def _bind(self, module: Any, plan: Any) -> Any:
        # One step reads whole tensors (row, column and RMS sums), so the compiled
        # backends run it tensor by tensor in one call per plan (a TensorStage: no
        # Python per tensor), over each tensor seen as batch x R rows of C elements.
        info = np.zeros((len(plan.tensors), 4), np.int64)
        for row, t in enumerate(plan.tensors):
            shape = t.array.shape
            if len(shape) >= 2:
                info[row] = (math.prod(shape[:-2]), shape[-2], shape[-1], 1)
            else:
                info[row] = (1, 1, t.array.size, 0)
        # the columns' sums of g*g (the widest matrix's), allocated once
        scratch = np.zeros(max([int(c) for c, f in zip(info[:, 2], info[:, 3]) if f] + [1]))
        if self.backend != "numpy":
            return module.tensor_stage(self.kernel.name, plan.dtype, plan.addrs, info, scratch)
        return self._reference_run(plan)

    def _reference_run(self, plan: Any) -> Any:
        """The NumPy backend's step: the reference rule on views of each tensor."""
        ctype = ctypes.c_float if plan.dtype == np.float32 else ctypes.c_double
        params = [t.array for t in plan.tensors]
        states = [tuple(plan._stored(name, row) if plan.has(name, row) else None
                        for name in _BUFFERS) for row in range(len(plan.tensors))]
        addrs = plan.addrs

        def run(scalars: tuple[float, ...]) -> None:
            for row, (p, state) in enumerate(zip(params, states)):
                if p.size == 0:
                    continue
                addr = int(addrs[row, GRAD])
                g = np.ctypeslib.as_array((ctype * p.size).from_address(addr)).reshape(p.shape)
                _reference_step(p, g, *state, *scalars)
        return run
