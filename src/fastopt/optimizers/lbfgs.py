"""L-BFGS (docs/optimizers.md#lbfgs)."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .._core import checks as check
from .._core.params import grads_in_order, parse_params

_STATE_SCALARS = ("func_evals", "n_iter", "t", "H_diag", "prev_loss", "count", "start")


def cubic_interpolate(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                      bounds: tuple[float, float] | None = None) -> float:
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to
    ``bounds`` (default: between x1 and x2); their midpoint where the cubic has none
    (torch.optim.lbfgs._cubic_interpolate)."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def strong_wolfe(obj_func: Callable[[float], tuple[float, np.ndarray]], t: float,
                 d: np.ndarray, f: float, g: np.ndarray, gtd: float, c1: float = 1e-4,
                 c2: float = 0.9, tolerance_change: float = 1e-9, max_ls: int = 25
                 ) -> tuple[float, np.ndarray, float, int]:
    """A step length t along d meeting the strong Wolfe conditions: bracketing, then
    zoom by cubic interpolation (torch.optim.lbfgs._strong_wolfe, itself after
    minFunc).  ``obj_func(t)`` returns the loss and a gradient array at x + t*d that
    stays valid until the next call returns (this function copies what it keeps).
    Returns (loss, gradient, t, evaluations)."""
    d_norm = float(np.max(np.abs(d))) if d.size else 0.0
    g = g.copy()
    f_new, g_new = obj_func(t)
    ls_func_evals = 1
    gtd_new = float(np.dot(g_new, d))
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket: list[float] = []
    bracket_f: list[float] = []
    bracket_g: list[np.ndarray] = []
    bracket_gtd: list[float] = []
    while ls_iter < max_ls:
        # the Armijo condition fails, or no decrease: the minimum is bracketed
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:           # strong Wolfe: done
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new.copy()]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # extrapolate
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                              bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(t)
        ls_func_evals += 1
        gtd_new = float(np.dot(g_new, d))
        ls_iter += 1
    if ls_iter == max_ls:                        # reached the evaluation budget
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new.copy()]
    # zoom: shrink the bracket until a point meets the conditions
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                              bracket[1], bracket_f[1], bracket_gtd[1])
        # a point too near the bracket's ends makes little progress: move it inward
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(t)
        ls_func_evals += 1
        gtd_new = float(np.dot(g_new, d))
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos] = bracket[low_pos]
                bracket_f[high_pos] = bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


def _line_search_fn(name: str, value: Any) -> str | None:
    if value is not None and value != "strong_wolfe":
        raise ValueError(f"{name} must be None or 'strong_wolfe', got {value!r}")
    return value


class LBFGS:
    """L-BFGS (Liu and Nocedal, 1989), as torch.optim.LBFGS: a quasi-Newton method that
    builds its search direction from the last ``history_size`` pairs of steps and
    gradient changes (the two-loop recursion), optionally with a strong-Wolfe line
    search.  One ``step(closure)`` runs up to ``max_iter`` iterations, evaluating the
    objective through ``closure`` as often as they need.  Full-batch, deterministic
    objectives only (a regression, a small model), as in torch.

    The closure contract: ``closure()`` computes the objective at the parameters as
    they are now and returns ``(loss, grads)``: the loss as a real number, the
    gradients as ``step(grads)`` of the other optimizers takes them (a list in the
    parameters' order, a dict by name; for ``fastopt.flatten`` parameters also the flat
    gradient array, or None after writing ``params.grads``).  Anything else is a
    TypeError.  ``step`` returns the first loss the closure gave, as torch's.

    The state lives in flat buffers of the parameters' dtype: the direction, the previous
    gradient and two ring buffers of ``history_size`` rows for the steps and gradient
    changes (allocated once), with ``func_evals``, ``n_iter``, ``t``, ``H_diag`` and
    ``prev_loss``; ``state_dict`` holds them all and a loaded optimizer resumes bitwise.
    The rule in full: docs/optimizers.md#lbfgs.

    Parameters
    ----------
    params : list or dict of arrays, or FlatParams
        The float32/float64 arrays to optimize (one dtype, one param group), updated in
        place.
    lr : float, default 1
        The step length of each iteration (the line search's first trial).
    max_iter : int, default 20
        Iterations per ``step``.
    max_eval : int or None, default None
        Closure evaluations per ``step`` (None: ``max_iter * 5 // 4``).
    tolerance_grad : float, default 1e-07
        Stop when the gradient's largest magnitude is at most this.
    tolerance_change : float, default 1e-09
        Stop when the step or the change of the loss is smaller than this.
    history_size : int, default 100
        Pairs of (step, gradient change) kept.
    line_search_fn : {None, "strong_wolfe"}, default None
        None takes steps of length ``lr``; "strong_wolfe" searches along each direction.

    The guards of the other optimizers do not apply: ``max_grad_norm`` would clip the
    gradients the curvature pairs and the line search are built from, ``nonfinite`` has
    no step to skip inside an iteration, and the state is not moving averages
    (``state_precision``); each is refused with a TypeError.
    """

    def __init__(self, params: Any, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None, **options: Any):
        for name in options:
            if name in ("max_grad_norm", "nonfinite", "state_precision", "min_8bit_size"):
                raise TypeError(
                    f"LBFGS does not take {name}: its curvature pairs and line search need "
                    f"the true gradients, and its state is not moving averages "
                    f"(docs/optimizers.md#lbfgs)")
            raise TypeError(f"LBFGS got an unexpected keyword argument {name!r}")
        if max_eval is None:
            max_eval = check.integer("max_iter", max_iter, lo=1) * 5 // 4
        self.defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                             tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                             history_size=history_size, line_search_fn=line_search_fn)
        self._check_group(self.defaults)
        overrides, tensors, flat = parse_params(params)
        if len(overrides) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        if not tensors:
            raise ValueError("LBFGS got no parameters")
        dtypes = {t.array.dtype for t in tensors}
        if len(dtypes) != 1:
            raise TypeError(f"LBFGS needs parameters of one dtype, got "
                            f"{', '.join(sorted(map(str, dtypes)))}")
        extra = set(overrides[0]) - set(self.defaults)
        if extra:
            raise TypeError(f"LBFGS has no hyperparameter {', '.join(map(repr, sorted(extra)))}")
        group = {**self.defaults, **overrides[0]}
        self._check_group(group)
        self._tensors = tensors
        self._flat = flat
        self.dtype = tensors[0].array.dtype
        self.param_groups = [{"params": [t.array for t in tensors], **group}]
        sizes = [t.array.size for t in tensors]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        n = int(self._offsets[-1])
        self._n = n
        # The flat state (torch's names); the history is two ring buffers
        self.flat_grad = np.zeros(n, self.dtype)
        self.d = np.zeros(n, self.dtype)
        self.prev_flat_grad = np.zeros(n, self.dtype)
        self._x_init = np.zeros(n, self.dtype)
        self._q = np.zeros(n, self.dtype)
        self._history_size = group["history_size"]
        # one spare row: a new pair is written before it is known to be kept
        self.old_dirs = np.zeros((self._history_size + 1, n), self.dtype)
        self.old_stps = np.zeros((self._history_size + 1, n), self.dtype)
        self.ro = np.zeros(self._history_size + 1, self.dtype)
        self._al = np.zeros(self._history_size, self.dtype)
        self._scalars: dict[str, Any] = dict(func_evals=0, n_iter=0, t=0.0, H_diag=1.0,
                                             prev_loss=0.0, count=0, start=0)

    # ---- hyperparameters --------------------------------------------------------------

    @staticmethod
    def _check_group(group: dict[str, Any]) -> dict[str, Any]:
        checked = dict(
            lr=check.non_negative("lr", group["lr"]),
            max_iter=check.integer("max_iter", group["max_iter"], lo=1),
            max_eval=check.integer("max_eval", group["max_eval"], lo=1),
            tolerance_grad=check.non_negative("tolerance_grad", group["tolerance_grad"]),
            tolerance_change=check.non_negative("tolerance_change", group["tolerance_change"]),
            history_size=check.integer("history_size", group["history_size"], lo=1),
            line_search_fn=_line_search_fn("line_search_fn", group["line_search_fn"]))
        return checked

    # ---- parameters and gradients as flat vectors -------------------------------------

    def _gather(self, grads: Any, out: np.ndarray) -> None:
        """The closure's gradients into ``out``, checked (nothing is written on error)."""
        tensors, flat = self._tensors, self._flat
        if flat is not None and grads is None:
            arrays = [flat.grads[t.key] for t in tensors]
        elif flat is not None and isinstance(grads, np.ndarray):
            whole = flat.grad
            if grads.shape != whole.shape or grads.dtype != whole.dtype:
                raise ValueError(f"the flat gradient must be a {whole.dtype} array of shape "
                                 f"{whole.shape}, got {grads.dtype} {grads.shape}")
            arrays = [grads[flat.offsets[t.key]:flat.offsets[t.key] + t.array.size]
                      for t in tensors]
        else:
            if grads is None or isinstance(grads, np.ndarray):
                raise TypeError("the closure must return (loss, grads) with the gradients "
                                "as a list or dict like the parameters")
            arrays = grads_in_order(grads, tensors)
            if len(arrays) != len(tensors):
                raise ValueError(f"expected {len(tensors)} gradients, got {len(arrays)}")
            for t, g in zip(tensors, arrays):
                if not isinstance(g, np.ndarray) or g.shape != t.array.shape \
                        or g.dtype != t.array.dtype:
                    got = f"{g.dtype} {g.shape}" if isinstance(g, np.ndarray) \
                        else type(g).__name__
                    raise ValueError(f"gradient of {t.label} must be a {t.array.dtype} array "
                                     f"of shape {t.array.shape}, got {got}")
        for i, g in enumerate(arrays):
            out[self._offsets[i]:self._offsets[i + 1]] = g.reshape(-1)

    def _evaluate(self, closure: Callable[[], Any]) -> float:
        """Run the closure: its loss, and its gradients into ``flat_grad``."""
        result = closure()
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError(f"the closure must return (loss, grads), got "
                            f"{type(result).__name__}")
        loss, grads = result
        if not check.is_real(loss) and not (isinstance(loss, np.ndarray) and loss.size == 1):
            raise TypeError(f"the closure's loss must be a real number, got "
                            f"{type(loss).__name__}")
        self._gather(grads, self.flat_grad)
        return float(loss)

    def _params_to(self, out: np.ndarray) -> None:
        for i, t in enumerate(self._tensors):
            out[self._offsets[i]:self._offsets[i + 1]] = t.array.reshape(-1)

    def _add(self, t: Any, d: np.ndarray) -> None:
        """p += t*d, in the parameters' dtype (torch's p.add_(d, alpha=t))."""
        step = self.dtype.type(t)
        for i, arr in enumerate(t_.array for t_ in self._tensors):
            view = arr.reshape(-1)
            view += step * d[self._offsets[i]:self._offsets[i + 1]]

    def _set(self, x: np.ndarray) -> None:
        for i, t in enumerate(self._tensors):
            t.array.reshape(-1)[...] = x[self._offsets[i]:self._offsets[i + 1]]

    # ---- the step ---------------------------------------------------------------------

    def step(self, closure: Callable[[], Any]) -> float:
        """Up to ``max_iter`` L-BFGS iterations; returns the closure's first loss."""
        if not callable(closure):
            raise TypeError("LBFGS.step needs a closure: step(closure), where closure() "
                            "returns (loss, grads)")
        group = self._check_group(self.param_groups[0])
        if group["history_size"] != self._history_size:
            raise ValueError("history_size cannot change once the optimizer is built "
                             "(it sizes the history buffers)")
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        st = self._scalars
        dt = self.dtype.type
        hs = self._history_size
        rows = hs + 1
        flat_grad, d, prev_flat_grad = self.flat_grad, self.d, self.prev_flat_grad
        dirs, stps, ro, al = self.old_dirs, self.old_stps, self.ro, self._al

        orig_loss = self._evaluate(closure)
        loss = orig_loss
        current_evals = 1
        st["func_evals"] += 1
        opt_cond = float(np.max(np.abs(flat_grad))) <= tolerance_grad
        if opt_cond:                            # optimal already
            return orig_loss
        t, H_diag = dt(st["t"]), dt(st["H_diag"])
        prev_loss = st["prev_loss"]
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            st["n_iter"] += 1
            if st["n_iter"] == 1:
                np.negative(flat_grad, out=d)
                st["count"], st["start"] = 0, 0
                H_diag = dt(1)
            else:
                # the new pair goes into the ring's free row (it has history_size + 1),
                # kept only where y's > 1e-10; a full history then drops its oldest pair
                row = (st["start"] + st["count"]) % rows
                y, s = dirs[row], stps[row]
                np.subtract(flat_grad, prev_flat_grad, out=y)
                np.multiply(d, t, out=s)
                ys = np.dot(y, s)
                if ys > 1e-10:
                    if st["count"] == hs:
                        st["start"] = (st["start"] + 1) % rows
                    else:
                        st["count"] += 1
                    ro[row] = dt(1.0) / ys
                    H_diag = ys / np.dot(y, y)
                # the two-loop recursion, newest pair first
                num_old = st["count"]
                order = [(st["start"] + i) % rows for i in range(num_old)]
                q = self._q
                np.negative(flat_grad, out=q)
                for i in range(num_old - 1, -1, -1):
                    r_ = order[i]
                    al[i] = np.dot(stps[r_], q) * ro[r_]
                    q += dt(-al[i]) * dirs[r_]
                np.multiply(q, H_diag, out=d)
                for i in range(num_old):
                    r_ = order[i]
                    be_i = np.dot(dirs[r_], d) * ro[r_]
                    d += dt(al[i] - be_i) * stps[r_]
            prev_flat_grad[...] = flat_grad
            prev_loss = loss
            if st["n_iter"] == 1:
                t = min(dt(1.0), dt(1.0) / np.sum(np.abs(flat_grad))) * dt(lr)
            else:
                t = dt(lr)
            gtd = np.dot(flat_grad, d)
            if gtd > -tolerance_change:         # not a descent direction
                break
            ls_func_evals = 0
            if group["line_search_fn"] is not None:
                x_init = self._x_init
                self._params_to(x_init)

                def obj_func(step: float) -> tuple[float, np.ndarray]:
                    self._add(step, d)
                    f = self._evaluate(closure)
                    self._set(x_init)
                    return f, flat_grad

                loss, g_found, t_found, ls_func_evals = strong_wolfe(
                    obj_func, float(t), d, loss, flat_grad, float(gtd),
                    max_ls=max_eval - current_evals)
                t = dt(t_found)
                flat_grad[...] = g_found
                self._add(t, d)
                opt_cond = float(np.max(np.abs(flat_grad))) <= tolerance_grad
            else:
                self._add(t, d)
                if n_iter != max_iter:
                    loss = self._evaluate(closure)
                    opt_cond = float(np.max(np.abs(flat_grad))) <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            st["func_evals"] += ls_func_evals
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if float(np.max(np.abs(d * t))) <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break
        st["t"], st["H_diag"], st["prev_loss"] = float(t), float(H_diag), float(prev_loss)
        return orig_loss

    # ---- state ------------------------------------------------------------------------

    @property
    def state(self) -> dict[str, Any]:
        """The state by torch's names: ``d``, ``prev_flat_grad``, ``old_dirs``/``old_stps``
        (the history's rows, oldest first: copies), ``ro``, and the scalars."""
        st = self._scalars
        order = [(st["start"] + i) % (self._history_size + 1) for i in range(st["count"])]
        return dict(d=self.d, prev_flat_grad=self.prev_flat_grad,
                    old_dirs=self.old_dirs[order], old_stps=self.old_stps[order],
                    ro=self.ro[order], **{k: st[k] for k in ("func_evals", "n_iter", "t",
                                                             "H_diag", "prev_loss")})

    def state_dict(self) -> dict[str, Any]:
        """A snapshot: the flat state buffers (copies), the ring's position, the scalars
        and the hyperparameters."""
        hyper = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        return {"optimizer": "LBFGS", "dtype": str(self.dtype), "size": self._n,
                "param_groups": [hyper], "scalars": dict(self._scalars),
                "buffers": {name: getattr(self, name).copy() for name in _BUFFERS}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a snapshot from :meth:`state_dict` (checked in full first)."""
        self.prepare_load_state_dict(state_dict)()

    def prepare_load_state_dict(self, state_dict: dict[str, Any]) -> Callable[[], None]:
        """Check ``state_dict`` in full, changing nothing; return what loads it (as
        fastopt.load uses it, to check every part of a checkpoint before any is loaded)."""
        if not isinstance(state_dict, dict) or state_dict.get("optimizer") != "LBFGS":
            raise ValueError("not a state_dict of LBFGS")
        if state_dict.get("dtype") != str(self.dtype) or state_dict.get("size") != self._n:
            raise ValueError(f"the state_dict is of {state_dict.get('size')} "
                             f"{state_dict.get('dtype')} elements, these parameters have "
                             f"{self._n} {self.dtype}")
        groups = state_dict.get("param_groups")
        if not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], dict):
            raise ValueError("the state_dict must hold one param group")
        hyper = dict(groups[0])
        if set(hyper) != set(self.defaults):
            raise ValueError(f"the state_dict's param group must hold {sorted(self.defaults)}")
        group = self._check_group(hyper)
        if group["history_size"] != self._history_size:
            raise ValueError("the state_dict's history_size differs from this optimizer's")
        scalars = state_dict.get("scalars")
        if not isinstance(scalars, dict) or set(scalars) != set(_STATE_SCALARS):
            raise ValueError(f"the state_dict's scalars must be {sorted(_STATE_SCALARS)}")
        rows = self._history_size + 1
        for key in ("func_evals", "n_iter", "count", "start"):
            if not check.is_integer(scalars[key]) or scalars[key] < 0:
                raise ValueError(f"the state_dict's {key} must be an integer >= 0")
        if scalars["count"] > self._history_size or scalars["start"] >= rows:
            raise ValueError("the state_dict's history position is out of range")
        for key in ("t", "H_diag", "prev_loss"):
            check.real(key, scalars[key])
        buffers = state_dict.get("buffers")
        if not isinstance(buffers, dict):
            raise ValueError("the state_dict has no buffers")
        for name in _BUFFERS:
            mine = getattr(self, name)
            got = buffers.get(name)
            if not isinstance(got, np.ndarray) or got.shape != mine.shape \
                    or got.dtype != mine.dtype:
                raise ValueError(f"the state_dict's {name} must be a {mine.dtype} array of "
                                 f"shape {mine.shape}")

        def load() -> None:
            for name in _BUFFERS:
                getattr(self, name)[...] = buffers[name]
            self._scalars = {k: (int(v) if k in ("func_evals", "n_iter", "count", "start")
                                 else float(v)) for k, v in scalars.items()}
            self.param_groups[0].update(hyper)
        return load

    def named_parameters(self) -> list[tuple[Any, np.ndarray]]:
        """(key, array) of every parameter, as the optimizer was given them."""
        return [(t.key, t.array) for t in self._tensors]

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.param_groups[0].items() if k != "params")
        return f"LBFGS({hyper})"


_BUFFERS = ("d", "prev_flat_grad", "old_dirs", "old_stps", "ro")

