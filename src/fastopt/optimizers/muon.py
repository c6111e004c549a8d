"""Muon (docs/optimizers.md#muon)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._core import checks as check
from .._core.kernel import Kernel
from .._core.optimizer import Optimizer
from ._docstrings import shared_parameters

_BUFFERS = ("momentum_buffer", "orthogonal")
# Both passes read the same scalars; the Newton-Schulz ones (ns_a .. adjust_lr) are read
# by the orthogonalisation between them, in float64 on the Python side.
_SCALARS = ("momentum", "one_minus_momentum", "nesterov", "decay", "lr", "ns_a", "ns_b", "ns_c",
            "eps", "ns_steps", "adjust_lr")
_ADJUST_LR = {None: 0.0, "original": 0.0, "match_rms_adamw": 1.0}


def _lr_ratio(shape: tuple[int, ...], adjust: float) -> float:
    """torch.optim._muon._adjust_lr's ratio for a matrix of ``shape``."""
    rows, cols = shape
    if adjust == 0.0:                           # "original": Keller Jordan's
        return math.sqrt(max(1, rows / cols)) if cols else 1.0
    return 0.2 * math.sqrt(max(rows, cols))     # "match_rms_adamw": Moonshot's


def _adjust_lr_fn(name: str, value: Any) -> float:
    if value is not None and not isinstance(value, str) or value not in _ADJUST_LR:
        raise ValueError(f"{name} must be None, 'original' or 'match_rms_adamw', got {value!r}")
    return _ADJUST_LR[value]


def _ns_coefficients(name: str, value: Any) -> tuple[float, float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise TypeError(f"{name} must be a tuple of three numbers (a, b, c), got {value!r}")
    return tuple(check.real(f"{name}[{i}]", v) for i, v in enumerate(value))  # type: ignore


class NewtonSchulz:
    """The orthogonalisation of one plan's matrices, in place in their ``orthogonal``
    buffers: torch's ``_zeropower_via_newtonschulz`` in the buffer's dtype (torch runs it
    in bfloat16), through BLAS matmuls into one scratch buffer allocated here, so a step
    allocates nothing.  A matrix with more rows than columns is iterated transposed, as
    torch does, so the Gram matrices are the smaller side squared."""

    def __init__(self, matrices: list[np.ndarray], dtype: np.dtype):
        self.dtype = dtype
        shapes = [(min(a.shape), max(a.shape)) for a in matrices]
        need = max([2 * m * n + 2 * m * m for m, n in shapes], default=0)
        scratch = np.empty(need, dtype)
        self.work = []
        for a, (m, n) in zip(matrices, shapes):
            views = (scratch[:m * n].reshape(m, n), scratch[m * n:2 * m * n].reshape(m, n),
                     scratch[2 * m * n:2 * m * n + m * m].reshape(m, m),
                     scratch[2 * m * n + m * m:2 * m * n + 2 * m * m]
                     .reshape(m, m))
            self.work.append((a, a.shape[0] > a.shape[1], views))

    def __call__(self, a: float, b: float, c: float, eps: float, steps: int) -> None:
        dt = self.dtype.type
        a_, b_, c_ = dt(a), dt(b), dt(c)
        for matrix, transposed, (x, y, gram, poly) in self.work:
            src = matrix.T if transposed else matrix
            flat = matrix.reshape(-1)
            norm = dt(math.sqrt(float(np.dot(flat, flat))))
            np.divide(src, max(norm, dt(eps)), out=x)
            for _ in range(steps):
                np.matmul(x, x.T, out=gram)             # A = X X^T
                np.matmul(gram, gram, out=poly)         # B = b*A + c*A A
                poly *= c_
                gram *= b_
                poly += gram
                np.matmul(poly, x, out=y)               # X = a*X + B X
                x *= a_
                y += x
                x, y = y, x
            np.copyto(matrix, x.T if transposed else x)


class _MuonStep:
    """One plan's step: the momentum pass, the orthogonalisation, each matrix's adjusted
    lr, the update pass."""

    def __init__(self, momentum: Any, ns: NewtonSchulz, update: Any, adjusted_lr: np.ndarray,
                 shapes: list[tuple[int, int]]):
        self.momentum, self.ns, self.update = momentum, ns, update
        self.adjusted_lr = adjusted_lr
        self.ratios = {adjust: np.array([_lr_ratio(s, adjust) for s in shapes])
                       for adjust in (0.0, 1.0)}
        self.step = _SCALARS.index("lr") + 1          # after gscale

    def __call__(self, s: tuple[float, ...]) -> None:
        self.momentum(s)
        lr, a, b, c, eps, steps, adjust = s[self.step:self.step + 7]
        self.ns(a, b, c, eps, int(steps))
        np.multiply(lr, self.ratios[adjust], out=self.adjusted_lr[:, 0])
        self.update(s)


@shared_parameters
class Muon(Optimizer):
    """Muon, MomentUm Orthogonalized by Newton-Schulz (Jordan et al., 2024), as
    torch.optim.Muon: SGD momentum whose step for each matrix is replaced by the nearest
    semi-orthogonal matrix, found by a quintic Newton-Schulz iteration.  For 2-D
    parameters only (hidden layers' weight matrices): give biases, norms and embeddings
    to AdamW in a second optimizer (docs/optimizers.md#muon shows the recipe).

    Each step, for each matrix ``p`` (``g`` is its gradient, negated if ``maximize``)::

        B = lerp(B, g, 1 - momentum)                   (B = momentum*B + (1 - momentum)*g)
        U = lerp(g, B, momentum) if nesterov else B
        O = NewtonSchulz(U / max(||U||_F, eps))        (ns_steps iterations)
        p = p*(1 - lr*weight_decay) - lr*ratio(p.shape)*O

    where ``ratio`` is ``sqrt(max(1, rows/cols))`` (``adjust_lr_fn=None``/"original") or
    ``0.2*sqrt(max(rows, cols))`` ("match_rms_adamw").  The rule in full:
    docs/optimizers.md#muon.

    The momentum and the update are fused element-wise kernels; the Newton-Schulz
    iteration is BLAS matmuls in the parameters' dtype into preallocated buffers.  torch
    runs the iteration in bfloat16 (oneDNN); fastopt keeps float32/float64, as NumPy has
    no bfloat16 BLAS (docs/optimizers.md#muon gives the measured distance and speed).

    Parameters
    ----------
    %(params)s
        Every array must be 2-D.
    lr : float, default 0.001
        The learning rate.
    weight_decay : float, default 0.1
        Decoupled weight decay: ``p = p*(1 - lr*weight_decay)`` each step.
    momentum : float, default 0.95
        The momentum factor, >= 0.
    nesterov : bool, default True
        Orthogonalise the Nesterov blend ``lerp(g, B, momentum)`` instead of ``B``.
    ns_coefficients : tuple of float, default (3.4445, -4.775, 2.0315)
        ``(a, b, c)`` of the iteration ``X = a*X + (b*A + c*A@A) @ X``, ``A = X @ X.T``.
    eps : float, default 1e-07
        Floor of the Frobenius norm that ``U`` is divided by.
    ns_steps : int, default 5
        Newton-Schulz iterations per step, in [0, 100).
    adjust_lr_fn : {None, "original", "match_rms_adamw"}, default None
        How each matrix's lr is scaled by its shape (None is "original").
    %(maximize)s
    %(backend)s
    %(options)s
        ``state_precision`` must be "full": the Newton-Schulz iterate is kept in the
        state's buffers and needs the parameters' precision.
    """

    kernel = Kernel("muon_momentum", buffers=_BUFFERS, scalars=_SCALARS)
    update_kernel = Kernel("muon_update", buffers=_BUFFERS, scalars=_SCALARS,
                           seg_in=("adjusted_lr",), writes_state=False)
    scalars_read_step = False
    # The orthogonal buffer holds the Newton-Schulz iterate, not a moving average: the
    # state stays in the parameters' precision (and has no bfloat16 kernels).
    state_is_moments = False
    unshardable = ("it orthogonalises each weight matrix whole, which ZeRO's flat slices of "
                   "the parameters cut apart; use DataParallel(fastopt.Muon(...)) (every "
                   "rank keeps the whole state), or Muon under DataParallel for the matrices "
                   "and ZeroRedundancyOptimizer(..., fastopt.AdamW) for the other parameters "
                   "(docs/optimizers.md#muon)")

    def __init__(self, params: Any, lr: float = 1e-3, weight_decay: float = 0.1,
                 momentum: float = 0.95, nesterov: bool = True,
                 ns_coefficients: tuple[float, float, float] = (3.4445, -4.775, 2.0315),
                 eps: float = 1e-7, ns_steps: int = 5, adjust_lr_fn: str | None = None, *,
                 maximize: bool = False, backend: str | None = None, **options: Any):
        precision = options.get("state_precision", "full")
        if precision != "full":
            raise ValueError(f"Muon keeps the Newton-Schulz iterate in its state buffers, "
                             f"which need the parameters' precision: state_precision must "
                             f"be 'full', got {precision!r}")
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum,
                                      nesterov=nesterov, ns_coefficients=ns_coefficients,
                                      eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn,
                                      maximize=maximize), backend, **options)

    hyperparameters = dict(
        lr=check.non_negative, weight_decay=check.non_negative,
        momentum=check.non_negative, nesterov=check.flag,
        ns_coefficients=_ns_coefficients, eps=check.non_negative,
        ns_steps=lambda name, v: check.integer(name, v, lo=0, hi=99),
        adjust_lr_fn=_adjust_lr_fn)

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        lr, momentum = h["lr"], h["momentum"]
        a, b, c = h["ns_coefficients"]
        return self.kernel.pack(
            momentum=momentum, one_minus_momentum=1.0 - momentum,
            nesterov=1.0 if h["nesterov"] else 0.0, decay=1.0 - lr * h["weight_decay"], lr=lr,
            ns_a=a, ns_b=b, ns_c=c, eps=h["eps"], ns_steps=float(h["ns_steps"]),
            adjust_lr=h["adjust_lr_fn"])

    def _make_layout(self, tensors: list, flat: Any, keep: Any) -> dict[str, Any]:
        for t in tensors:
            if t.array.ndim != 2:
                raise ValueError(
                    f"Muon optimizes 2-D parameters only; {t.label} has shape "
                    f"{t.array.shape}: give it to fastopt.AdamW in a second optimizer "
                    f"(docs/optimizers.md#muon)")
        return super()._make_layout(tensors, flat, keep)

    def _state_names(self, gi: int, gstate: dict[str, float]) -> tuple[str, ...]:
        # "orthogonal" is scratch: rewritten from the momentum every step
        return tuple(n for n in super()._state_names(gi, gstate) if n != "orthogonal")

    def _bind(self, module: Any, plan: Any) -> Any:
        momentum, _, _ = plan.bind(module, self.kernel)
        update, adjusted_lr, _ = plan.bind(module, self.update_kernel)
        matrices = [plan.state_view("orthogonal", row) for row in range(len(plan.tensors))]
        return _MuonStep(momentum, NewtonSchulz(matrices, plan.dtype), update, adjusted_lr,
                         [m.shape for m in matrices])
