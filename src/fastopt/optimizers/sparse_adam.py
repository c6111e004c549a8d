"""SparseAdam: lazy Adam over row-sparse gradients (docs/optimizers.md#sparseadam)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np

from .._core import _native
from .._core import checks as check
from .._core.errors import NonFiniteError
from .._core.kernel import Kernel
from .._core.optimizer import MAX_STEP, Optimizer
from .._core.params import GradsLike, ParamsLike, grads_in_order
from .._core.plan import address
from .._core.row_sparse import RowRuns, check_row_sparse, is_row_sparse, whole
from ._docstrings import shared_parameters


@shared_parameters
class SparseAdam(Optimizer):
    """Lazy Adam for embeddings, as torch.optim.SparseAdam: a 2-D parameter's gradient may
    be row-sparse, ``(indices, rows)``, and a step reads and writes only the rows it names;
    the moments of the other rows are not decayed.

    ``indices`` is a 1-D integer array of length k (any integer dtype, in [0, n_rows),
    duplicates and any order allowed: duplicates are summed first, in the order given, as
    torch's ``coalesce()`` sums them, though in its sort's order) and ``rows`` a C-contiguous (k, n_cols) array of the
    parameter's dtype.  Sparse and dense gradients mix in one step
    (``opt.step({"emb": (idx, rows), "w": gw})``); a dense gradient (the only form a
    parameter that is not 2-D takes, and what ``FlatParams``' own ``.grads`` are) names
    every row, where torch's SparseAdam refuses dense gradients.

    Each step t, for every touched row (element-wise; ``g`` is the coalesced gradient,
    negated if ``maximize``)::

        m = m + (1 - beta1)*(g - m)
        v = v + (1 - beta2)*(g*g - v)
        p = p - lr*sqrt(1 - beta2**t)/(1 - beta1**t) * m/(sqrt(v) + eps)

    with ``eps`` added to the uncorrected root ("epsilon hat", as torch's SparseAdam; Adam
    adds it to the bias-corrected one).  ``t`` counts the steps the parameter's group has
    taken: every parameter gets a gradient each step, so it is torch's per-parameter step
    count.  The rule in full: docs/optimizers.md#sparseadam.

    The state is kept in full precision (``state_precision="full"`` only).
    ``max_grad_norm`` measures the norm over the coalesced rows (and dense gradients);
    ``nonfinite`` looks at the same values.  ``fastopt.distributed`` refuses it.

    Parameters
    ----------
    %(params)s
    lr : float, default 0.001
        The learning rate.
    betas : tuple of float, default (0.9, 0.999)
        ``(beta1, beta2)``: the decay rates of the moving averages of the gradient and of
        its square, each in [0, 1).
    eps : float, default 1e-08
        Added to ``sqrt(v)`` (not bias-corrected).  Must be > 0.
    %(maximize)s
    %(backend)s
    %(options)s
    """

    # One rule per element; a step with only dense gradients runs it over the chunks as
    # every optimizer does, a step with a row-sparse one runs it over the touched rows.
    kernel = Kernel("sparse_adam", buffers=("exp_avg", "exp_avg_sq"),
                    scalars=("one_minus_beta1", "one_minus_beta2", "eps", "neg_step_size"),
                    nonnegative=("exp_avg_sq",))
    takes_row_sparse = True
    unshardable = "its row-sparse step is not sharded"
    # Moving averages, but updated a row at a time in place: full precision only.
    state_is_moments = False
    full_state_reason = ("state is updated a few single rows at a time, in place, which "
                         "bfloat16 or 8-bit block storage does not allow")

    def __init__(self, params: ParamsLike, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, *,
                 maximize: bool = False, backend: str | None = None, **options: Any) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize),
                         backend, **options)

    hyperparameters = dict(lr=check.non_negative, betas=check.betas, eps=check.positive)

    def _scalars(self, gi: int, h: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        lr, (beta1, beta2) = h["lr"], h["betas"]
        bias_correction1 = 1.0 - beta1 ** step
        bias_correction2 = 1.0 - beta2 ** step
        step_size = lr * math.sqrt(bias_correction2) / bias_correction1
        return self.kernel.pack(one_minus_beta1=1.0 - beta1, one_minus_beta2=1.0 - beta2,
                                eps=h["eps"], neg_step_size=-step_size)

    # ---- the layout: the row kernel beside the chunk driver ------------------------------

    def _install_layout(self, layout: dict[str, Any]) -> None:
        Optimizer._install_layout(self, layout)
        self._row_kernel: Callable[..., None] = self._module.sparse_adam_rows
        # Each tensor's (param, exp_avg, exp_avg_sq) as 2-D views: its own rows for a
        # row-sparse gradient, one row of everything for a dense one.
        self._views: list[tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]] = []
        self._scratch: list[np.ndarray] = []
        for plan in self._plans:
            for row, t in enumerate(plan.tensors):
                bufs = (t.array, plan.state_view("exp_avg", row),
                        plan.state_view("exp_avg_sq", row))
                by_rows = bufs if t.array.ndim == 2 else ()
                self._views.append((by_rows, tuple(b.reshape(1, -1) for b in bufs)))
                cols = t.array.shape[1] if t.array.ndim == 2 else 1
                self._scratch.append(np.zeros(max(cols, 1), t.array.dtype))
        order = {id(t): i for i, t in enumerate(t for plan in self._plans
                                                for t in plan.tensors)}
        self._view_of = [order[id(t)] for t in self._tensors]

    # ---- the step ----------------------------------------------------------------------

    def step(self, grads: GradsLike = None,    # type: ignore[override]
             closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter; returns what ``closure`` returned (or None).

        ``grads``: a list or dict in the parameters' structure whose entries are dense
        arrays or, for 2-D parameters, row-sparse ``(indices, rows)`` tuples; one flat
        array; or omitted for ``FlatParams`` (its ``.grads``).  ``closure``: called
        first, as in :meth:`fastopt.Optimizer.step`.  A refused call changes nothing."""
        if not _names_rows(grads):
            return Optimizer.step(self, grads, closure)
        loss = closure() if closure is not None else None
        with self._path:
            self._sparse_step(grads)
        return loss

    def _sparse_step(self, grads: GradsLike) -> None:
        t = self._step + 1
        if t > MAX_STEP:
            raise ValueError(f"the step count would pass {MAX_STEP}")
        runs = [self._runs_of(i, g) for i, g in enumerate(self._gradients(grads))]
        scalars = []
        for gi, group in enumerate(self.param_groups):
            s, _ = self._checked_group_step(gi, t - self._joined[gi], group,
                                            self.group_state[gi], True)
            scalars.append(s)
        if self._guarded:
            coef = self._guard(runs, t)
            if coef is None:
                return
            if coef != 1.0:
                scalars = [(s[0] * coef,) + s[1:] for s in scalars]
        # every tensor's rows and the step count as one commit: Ctrl-C waits for it
        _native.uninterrupted(self._commit, (runs, scalars, t))

    def _commit(self, runs: list[Any], scalars: list[tuple[float, ...]], t: int) -> None:
        kernel = self._row_kernel
        cast = self.backend == "numpy"      # the reference takes scalars in the dtype
        for i, (tensor, r) in enumerate(zip(self._tensors, runs)):
            by_rows, whole_views = self._views[self._view_of[i]]
            p, m, v = by_rows if by_rows and r.rows.shape[1] == by_rows[0].shape[1] \
                else whole_views
            s = scalars[tensor.group]
            if cast:
                dt = p.dtype.type
                s = tuple(dt(x) for x in s)
            kernel(p, m, v, r.rows, r.order, r.starts, r.targets,
                   self._scratch[self._view_of[i]], *s)
        self._step = t

    def _gradients(self, grads: GradsLike) -> list[Any]:
        """Each tensor's gradient, in tensor order (dense arrays or row-sparse tuples)."""
        if grads is None:
            if self._flat is None:
                raise TypeError("step() needs the gradients: pass them in the parameters' "
                                "structure, or build the optimizer on fastopt.flatten(...) "
                                "and write them into params.grads")
            return [self._flat.grads[t.key] for t in self._tensors]
        if isinstance(grads, np.ndarray):
            self._take_flat_grad(grads)             # checks it (dtype, shape, memory)
            assert self._flat_grad_offsets is not None
            flat = grads.reshape(-1)
            size = flat.itemsize
            return [flat[o // size:o // size + t.array.size].reshape(t.array.shape)
                    for o, t in zip(self._flat_grad_offsets.tolist(), self._tensors)]
        seq = grads_in_order(grads, self._tensors)
        if len(seq) != len(self._tensors):
            raise ValueError(f"expected {len(self._tensors)} gradients (one per parameter), "
                             f"got {len(seq)}")
        return seq

    def _runs_of(self, i: int, grad: Any) -> RowRuns:
        """Tensor ``i``'s gradient checked and in the row kernel's form."""
        t = self._tensors[i]
        if is_row_sparse(grad):
            return check_row_sparse(grad, t.array, t.label, self._span_lo, self._span_hi,
                                    self._span_labels)
        p = t.array
        if not isinstance(grad, np.ndarray):
            raise TypeError(f"gradient for parameter {t.label} must be a NumPy array or "
                            f"(indices, rows), got {type(grad).__name__}")
        if grad.dtype != p.dtype or not grad.dtype.isnative:
            raise TypeError(f"gradient for parameter {t.label} has dtype {grad.dtype.str}, "
                            f"the parameter has {p.dtype}")
        if grad.shape != p.shape:
            raise ValueError(f"gradient for parameter {t.label} has shape {grad.shape}, the "
                             f"parameter has {p.shape}")
        if not grad.flags.c_contiguous:
            raise ValueError(f"gradient for parameter {t.label} is not C-contiguous")
        k = _native.overlapping(address(grad), grad.nbytes, self._span_lo, self._span_hi)
        if k >= 0:
            what = self._span_labels[k]
            raise ValueError(f"gradient for parameter {t.label} shares memory with "
                             + (what if what.startswith("the ") else f"parameter {what}"))
        return whole(grad)

    def _guard(self, runs: list[RowRuns], t: int) -> float | None:
        """The clipping factor for step ``t`` (1.0 without clipping), or None where the
        step is skipped; raises NonFiniteError where the gradients say so.  (A step with
        dense gradients only has the core's pre-pass instead.)"""
        from ..clip import get_total_norm        # (clip imports the optimizers' core)
        values = [r.coalesced() for r in runs]
        # The norm as fastopt.clip_grad_norm_ measures it (the same fixed-order partial
        # sums), so a fused clip equals clipping the coalesced gradients first.
        norm = get_total_norm(values, backend=self.backend)
        bad = [] if math.isfinite(norm) else \
            [t.label for t, v in zip(self._tensors, values) if not np.isfinite(v).all()]
        if bad and self._nonfinite != "propagate":
            self.grad_norm = norm
            if self._nonfinite == "skip":
                self._skipped += 1
                return None
            raise NonFiniteError(
                f"non-finite gradient (inf or NaN) for parameter"
                f"{'s' if len(bad) > 1 else ''} {', '.join(bad)}: step {t} was not "
                f"taken, nothing changed")
        self.grad_norm = norm
        if self._max_grad_norm is not None:
            return min(self._max_grad_norm / (norm + 1e-6), 1.0)
        return 1.0


def _names_rows(grads: Any) -> bool:
    """Whether ``grads`` (as ``step`` takes them) holds a row-sparse gradient."""
    if isinstance(grads, Mapping):
        return any(is_row_sparse(g) for g in grads.values())
    if isinstance(grads, (list, tuple)):
        return any(is_row_sparse(g) for g in grads)
    return False
