"""Benchmarks of fastopt's optimizers against their peers, measured in the same run.

Everything is driven by ``CASES``, one line per benchmark case: which fastopt class with
which arguments, which torch.optim class and implementations to compare with, and how
many state buffers its memory-traffic twin (``fastopt._bench.twin.Twin``) has.  Cases whose
class this fastopt doesn't have are skipped, so adding an optimizer is one line here (and
optionally its hand-written NumPy versions in ``HANDWRITTEN``).

Peers of one case (``make_step(case, impl, dtype, shapes)``):

- ``cython``, ``numba``, ``numpy``: fastopt's backends;
- ``numpy-naive``: hand-written NumPy in the style that allocates on every step
  (``m = b1*m + (1-b1)*g``); ``numpy-inplace``: the best in-place NumPy with scratch buffers;
- ``torch-forloop``, ``torch-foreach``, ``torch-fused``: torch.optim with ``foreach=False``,
  ``foreach=True`` and ``fused=True`` (where torch has it on CPU);
- ``twin``: the memory-traffic twin on the Cython backend, the physical floor.

Used by ``benches/`` (pytest-benchmark) and by ``python -m fastopt bench``, which prints a
table for the machine it runs on.  torch and numba are imported only when a case needs them.
"""
from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

FASTOPT_BACKENDS = ("cython", "numba", "numpy")
NUMPY_IMPLS = ("numpy-naive", "numpy-inplace")
TORCH_IMPLS = ("torch-forloop", "torch-foreach", "torch-fused")
TWIN = "twin"
IMPLS = FASTOPT_BACKENDS + NUMPY_IMPLS + TORCH_IMPLS + (TWIN,)
_TORCH_FLAGS = {"torch-forloop": dict(foreach=False), "torch-foreach": dict(foreach=True),
                "torch-fused": dict(fused=True)}
ALL_TORCH = ("forloop", "foreach", "fused")
NO_FUSED = ("forloop", "foreach")
SIZES = (1_000, 100_000, 1_000_000, 10_000_000)
LARGE = 1_000_000            # sizes from here on are "large" (skipped by quick runs)


@dataclass(frozen=True)
class Case:
    id: str                              # the name benches and the CLI use
    cls: str                             # the fastopt class (skipped where fastopt lacks it)
    kwargs: dict[str, Any]               # arguments for fastopt and torch alike
    torch: str | None                    # the torch.optim class, or None
    torch_impls: tuple[str, ...]         # of "forloop", "foreach", "fused" (on CPU)
    buffers: int                         # state buffers of its memory-traffic twin
    passes: int = 1                      # passes over memory per step (LAMB: 2)
    numpy_kwargs: dict[str, Any] = field(default_factory=dict)   # for HANDWRITTEN only


# One line per case.  torch 2.13 on CPU has fused=True for Adam, AdamW, SGD and Adagrad
# (tests/test_bench_cli.py checks these claims against the installed torch).
CASES = [
    Case("Adam", "Adam", dict(lr=1e-3), "Adam", ALL_TORCH, 2),
    Case("AdamW", "AdamW", dict(lr=1e-3, weight_decay=1e-2), "AdamW", ALL_TORCH, 2),
    Case("AMSGrad", "Adam", dict(lr=1e-3, amsgrad=True), "Adam", ALL_TORCH, 3),
    Case("SGD", "SGD", dict(lr=1e-2), "SGD", ALL_TORCH, 0),
    Case("SGD-momentum", "SGD", dict(lr=1e-2, momentum=0.9), "SGD", ALL_TORCH, 1),
    Case("RMSprop", "RMSprop", dict(lr=1e-2), "RMSprop", NO_FUSED, 1),
    Case("Adagrad", "Adagrad", dict(lr=1e-2), "Adagrad", ALL_TORCH, 1),
    Case("Adadelta", "Adadelta", dict(lr=1.0), "Adadelta", NO_FUSED, 2),
    Case("Adamax", "Adamax", dict(lr=2e-3), "Adamax", NO_FUSED, 2),
    Case("NAdam", "NAdam", dict(lr=2e-3), "NAdam", NO_FUSED, 2),
    Case("RAdam", "RAdam", dict(lr=1e-3), "RAdam", NO_FUSED, 2),
    Case("Rprop", "Rprop", dict(lr=1e-2), "Rprop", NO_FUSED, 2),
    Case("Lion", "Lion", dict(lr=1e-4), None, (), 1),
    Case("Lamb", "Lamb", dict(lr=1e-3), None, (), 2, passes=2),
]
CASES_BY_ID = {c.id: c for c in CASES}


class Unavailable(Exception):
    """This implementation can't run here (no torch, no such class, ...): skip it."""


def fastopt_class(case: Case):
    import fastopt
    return getattr(fastopt, case.cls, None)


def available_cases() -> list[Case]:
    """The cases whose optimizer class this fastopt has."""
    return [c for c in CASES if fastopt_class(c) is not None]


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


# ----------------------------------------------------------------------------------------
# The peers, each built into a zero-argument step function.

def data(dtype, shapes, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Parameters and gradients of the given shapes (gradients are fixed: the benches
    measure the step, not the backward pass)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    params = [rng.standard_normal(s, dtype=dtype) for s in shapes]
    grads = [rng.standard_normal(s, dtype=dtype) for s in shapes]
    return params, grads


def make_step(case: Case, impl: str, dtype, shapes, *, flat: bool = True,
              params_grads=None) -> Callable[[], None]:
    """A function that runs one step of ``impl`` on fresh parameters of ``shapes``.

    ``flat``: fastopt gets a ``FlatParams`` (else the user's own list of arrays with a
    list of gradients per step).  ``params_grads``: (params, grads) to start from (the
    params are copied; the gradients are shared, read-only).  Raises ``Unavailable``."""
    return make_peer(case, impl, dtype, shapes, flat=flat, params_grads=params_grads)[0]


def make_peer(case: Case, impl: str, dtype, shapes, *, flat: bool = True,
              params_grads=None) -> tuple[Callable[[], None], list[np.ndarray]]:
    """``make_step``'s function and the arrays that hold the parameters it updates."""
    params, grads = params_grads if params_grads is not None else data(dtype, shapes)
    params = [p.copy() for p in params]
    if impl in FASTOPT_BACKENDS or impl == TWIN:
        import fastopt
        if impl == TWIN:
            from .twin import Twin
            make = lambda p: Twin(p, case.buffers, passes=case.passes,  # noqa: E731
                                  backend="cython")
        else:
            cls = fastopt_class(case)
            if cls is None:
                raise Unavailable(f"fastopt has no {case.cls}")
            make = lambda p: cls(p, backend=impl, **case.kwargs)  # noqa: E731
        if flat:
            fp = fastopt.flatten(params)
            for i, g in enumerate(grads):
                fp.grads[i][...] = g
            return make(fp).step, [fp[i] for i in range(len(params))]
        step = make(params).step
        return (lambda: step(grads)), params
    if impl in NUMPY_IMPLS:
        if case.id not in HANDWRITTEN:
            raise Unavailable(f"no hand-written NumPy {case.id}")
        factory = HANDWRITTEN[case.id][NUMPY_IMPLS.index(impl)]
        kw = {**case.kwargs, **case.numpy_kwargs}
        steps = [factory(p, g, kw) for p, g in zip(params, grads)]
        if len(steps) == 1:
            return steps[0], params

        def step_all():
            for s in steps:
                s()
        return step_all, params
    if impl in TORCH_IMPLS:
        torch = _torch()
        if torch is None:
            raise Unavailable("torch is not installed")
        if case.torch is None or impl.split("-", 1)[1] not in case.torch_impls:
            raise Unavailable(f"torch has no {impl} {case.id}")
        tensors = []
        for p, g in zip(params, grads):
            t = torch.from_numpy(p).requires_grad_()     # shares p's memory
            t.grad = torch.from_numpy(g)
            tensors.append(t)
        opt = getattr(torch.optim, case.torch)(tensors, **case.kwargs, **_TORCH_FLAGS[impl])
        return opt.step, params
    raise ValueError(f"unknown implementation {impl!r}; choose from {', '.join(IMPLS)}")


# ----------------------------------------------------------------------------------------
# Hand-written NumPy: what a user writes without fastopt.  ``naive`` allocates on every
# step, as textbook code does; ``inplace`` is the best one can do with NumPy alone
# (ufuncs with out=, scratch buffers allocated once).  Each factory takes one parameter
# array, its gradient (fixed) and the case's kwargs, and returns a step function.

def _adam(decoupled: bool = False):
    def hyper(kw):
        b1, b2 = kw.get("betas", (0.9, 0.999))
        return (kw.get("lr", 1e-3), b1, b2, kw.get("eps", 1e-8),
                kw.get("weight_decay", 0.0), kw.get("amsgrad", False))

    def naive(p, g, kw):
        lr, b1, b2, eps, wd, amsgrad = hyper(kw)
        s = dict(m=np.zeros_like(p), v=np.zeros_like(p), vmax=np.zeros_like(p), t=0)

        def step():
            s["t"] += 1
            t = s["t"]
            grad = g
            if wd and decoupled:
                p[...] = p - lr * wd * p
            elif wd:
                grad = g + wd * p
            s["m"] = b1 * s["m"] + (1 - b1) * grad
            s["v"] = b2 * s["v"] + (1 - b2) * grad * grad
            v = s["v"]
            if amsgrad:
                s["vmax"] = np.maximum(s["vmax"], v)
                v = s["vmax"]
            m_hat = s["m"] / (1 - b1 ** t)
            v_hat = v / (1 - b2 ** t)
            p[...] = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        return step

    def inplace(p, g, kw):
        lr, b1, b2, eps, wd, amsgrad = hyper(kw)
        m, v, tmp = np.zeros_like(p), np.zeros_like(p), np.empty_like(p)
        vmax = np.zeros_like(p) if amsgrad else None
        gw = np.empty_like(p) if wd and not decoupled else None
        state = [0]

        def step(p=p, gw=gw, m=m, v=v, tmp=tmp):
            state[0] += 1
            t = state[0]
            grad = g
            if wd and decoupled:
                p *= 1 - lr * wd
            elif wd:
                np.multiply(p, wd, out=gw)
                gw += g
                grad = gw
            m *= b1
            np.multiply(grad, 1 - b1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(grad, grad, out=tmp)
            tmp *= 1 - b2
            v += tmp
            d = v
            if amsgrad:
                np.maximum(vmax, v, out=vmax)
                d = vmax
            np.sqrt(d, out=tmp)
            tmp /= math.sqrt(1 - b2 ** t)
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= lr / (1 - b1 ** t)
            p -= tmp
        return step
    return naive, inplace


def _sgd_naive(p, g, kw):
    lr, mom = kw["lr"], kw.get("momentum", 0.0)
    s = dict(buf=None)

    def step():
        d = g
        if mom:
            s["buf"] = g.copy() if s["buf"] is None else mom * s["buf"] + g
            d = s["buf"]
        p[...] = p - lr * d
    return step


def _sgd_inplace(p, g, kw):
    lr, mom = kw["lr"], kw.get("momentum", 0.0)
    buf, tmp, started = np.empty_like(p), np.empty_like(p), [False]

    def step(buf=buf, p=p):
        d = g
        if mom:
            if started[0]:
                buf *= mom
                buf += g
            else:
                np.copyto(buf, g)
                started[0] = True
            d = buf
        np.multiply(d, lr, out=tmp)
        p -= tmp
    return step


def _rmsprop_naive(p, g, kw):
    lr, alpha, eps = kw.get("lr", 1e-2), kw.get("alpha", 0.99), kw.get("eps", 1e-8)
    s = dict(sq=np.zeros_like(p))

    def step():
        s["sq"] = alpha * s["sq"] + (1 - alpha) * g * g
        p[...] = p - lr * g / (np.sqrt(s["sq"]) + eps)
    return step


def _rmsprop_inplace(p, g, kw):
    lr, alpha, eps = kw.get("lr", 1e-2), kw.get("alpha", 0.99), kw.get("eps", 1e-8)
    sq, tmp = np.zeros_like(p), np.empty_like(p)

    def step(sq=sq, tmp=tmp, p=p):
        sq *= alpha
        np.multiply(g, g, out=tmp)
        tmp *= 1 - alpha
        sq += tmp
        np.sqrt(sq, out=tmp)
        tmp += eps
        np.divide(g, tmp, out=tmp)
        tmp *= lr
        p -= tmp
    return step


def _adagrad_naive(p, g, kw):
    lr, decay, eps = kw.get("lr", 1e-2), kw.get("lr_decay", 0.0), kw.get("eps", 1e-10)
    s = dict(sum=np.zeros_like(p), t=0)

    def step():
        s["t"] += 1
        s["sum"] = s["sum"] + g * g
        clr = lr / (1 + (s["t"] - 1) * decay)
        p[...] = p - clr * g / (np.sqrt(s["sum"]) + eps)
    return step


def _adagrad_inplace(p, g, kw):
    lr, decay, eps = kw.get("lr", 1e-2), kw.get("lr_decay", 0.0), kw.get("eps", 1e-10)
    acc, tmp, state = np.zeros_like(p), np.empty_like(p), [0]

    def step(acc=acc, tmp=tmp, p=p):
        state[0] += 1
        np.multiply(g, g, out=tmp)
        acc += tmp
        np.sqrt(acc, out=tmp)
        tmp += eps
        np.divide(g, tmp, out=tmp)
        tmp *= lr / (1 + (state[0] - 1) * decay)
        p -= tmp
    return step


def _adadelta_naive(p, g, kw):
    lr, rho, eps = kw.get("lr", 1.0), kw.get("rho", 0.9), kw.get("eps", 1e-6)
    s = dict(sq=np.zeros_like(p), acc=np.zeros_like(p))

    def step():
        s["sq"] = rho * s["sq"] + (1 - rho) * g * g
        delta = np.sqrt(s["acc"] + eps) / np.sqrt(s["sq"] + eps) * g
        s["acc"] = rho * s["acc"] + (1 - rho) * delta * delta
        p[...] = p - lr * delta
    return step


def _adadelta_inplace(p, g, kw):
    lr, rho, eps = kw.get("lr", 1.0), kw.get("rho", 0.9), kw.get("eps", 1e-6)
    sq, acc, t1, t2 = (np.zeros_like(p) for _ in range(4))

    def step(sq=sq, t1=t1, t2=t2, acc=acc, p=p):
        sq *= rho
        np.multiply(g, g, out=t1)
        t1 *= 1 - rho
        sq += t1
        np.add(sq, eps, out=t1)
        np.sqrt(t1, out=t1)
        np.add(acc, eps, out=t2)
        np.sqrt(t2, out=t2)
        t2 /= t1
        t2 *= g                               # delta
        acc *= rho
        np.multiply(t2, t2, out=t1)
        t1 *= 1 - rho
        acc += t1
        t2 *= lr
        p -= t2
    return step


def _adamax_naive(p, g, kw):
    lr, (b1, b2), eps = kw.get("lr", 2e-3), kw.get("betas", (0.9, 0.999)), kw.get("eps", 1e-8)
    s = dict(m=np.zeros_like(p), u=np.zeros_like(p), t=0)

    def step():
        s["t"] += 1
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["u"] = np.maximum(b2 * s["u"], np.abs(g) + eps)
        p[...] = p - lr / (1 - b1 ** s["t"]) * s["m"] / s["u"]
    return step


def _adamax_inplace(p, g, kw):
    lr, (b1, b2), eps = kw.get("lr", 2e-3), kw.get("betas", (0.9, 0.999)), kw.get("eps", 1e-8)
    m, u, tmp, state = np.zeros_like(p), np.zeros_like(p), np.empty_like(p), [0]

    def step(m=m, u=u, tmp=tmp, p=p):
        state[0] += 1
        m *= b1
        np.multiply(g, 1 - b1, out=tmp)
        m += tmp
        u *= b2
        np.abs(g, out=tmp)
        tmp += eps
        np.maximum(u, tmp, out=u)
        np.divide(m, u, out=tmp)
        tmp *= lr / (1 - b1 ** state[0])
        p -= tmp
    return step


def _nadam_scalars(kw, s):
    lr, (b1, b2) = kw.get("lr", 2e-3), kw.get("betas", (0.9, 0.999))
    psi = kw.get("momentum_decay", 4e-3)
    t = s["t"]
    mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    s["mu_prod"] *= mu
    c_grad = lr * (1 - mu) / (1 - s["mu_prod"])
    c_avg = lr * mu_next / (1 - s["mu_prod"] * mu_next)
    return b1, b2, 1 - b2 ** t, c_grad, c_avg


def _nadam_naive(p, g, kw):
    eps = kw.get("eps", 1e-8)
    s = dict(m=np.zeros_like(p), v=np.zeros_like(p), t=0, mu_prod=1.0)

    def step():
        s["t"] += 1
        b1, b2, bc2, c_grad, c_avg = _nadam_scalars(kw, s)
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        denom = np.sqrt(s["v"] / bc2) + eps
        p[...] = p - c_grad * g / denom - c_avg * s["m"] / denom
    return step


def _nadam_inplace(p, g, kw):
    eps = kw.get("eps", 1e-8)
    s = dict(t=0, mu_prod=1.0)
    m, v, tmp, t2 = np.zeros_like(p), np.zeros_like(p), np.empty_like(p), np.empty_like(p)

    def step(m=m, v=v, tmp=tmp, t2=t2, p=p):
        s["t"] += 1
        b1, b2, bc2, c_grad, c_avg = _nadam_scalars(kw, s)
        m *= b1
        np.multiply(g, 1 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp
        np.divide(v, bc2, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += eps
        np.divide(g, tmp, out=t2)
        t2 *= c_grad
        p -= t2
        np.divide(m, tmp, out=t2)
        t2 *= c_avg
        p -= t2
    return step


def _radam_scalars(kw, t):
    lr, (b1, b2) = kw.get("lr", 1e-3), kw.get("betas", (0.9, 0.999))
    bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * b2 ** t / bc2
    rect = None
    if rho_t > 5:
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                         / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    return lr, b1, b2, bc1, bc2, rect


def _radam_naive(p, g, kw):
    eps = kw.get("eps", 1e-8)
    s = dict(m=np.zeros_like(p), v=np.zeros_like(p), t=0)

    def step():
        s["t"] += 1
        lr, b1, b2, bc1, bc2, rect = _radam_scalars(kw, s["t"])
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        m_hat = s["m"] / bc1
        if rect is None:
            p[...] = p - lr * m_hat
        else:
            p[...] = p - lr * m_hat * rect * math.sqrt(bc2) / (np.sqrt(s["v"]) + eps)
    return step


def _radam_inplace(p, g, kw):
    eps = kw.get("eps", 1e-8)
    m, v, tmp, state = np.zeros_like(p), np.zeros_like(p), np.empty_like(p), [0]

    def step(m=m, v=v, tmp=tmp, p=p):
        state[0] += 1
        lr, b1, b2, bc1, bc2, rect = _radam_scalars(kw, state[0])
        m *= b1
        np.multiply(g, 1 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp
        if rect is None:
            np.multiply(m, lr / bc1, out=tmp)
        else:
            np.sqrt(v, out=tmp)
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= lr / bc1 * rect * math.sqrt(bc2)
        p -= tmp
    return step


def _rprop_hyper(kw, p):
    dt = p.dtype.type
    (eta_minus, eta_plus), (lo, hi) = kw.get("etas", (0.5, 1.2)), kw.get("step_sizes", (1e-6, 50))
    return dt(eta_minus), dt(eta_plus), dt(lo), dt(hi), kw.get("lr", 1e-2)


def _rprop_naive(p, g, kw):
    eta_minus, eta_plus, lo, hi, lr = _rprop_hyper(kw, p)
    one = p.dtype.type(1)
    s = dict(prev=np.zeros_like(p), size=np.full_like(p, lr))

    def step():
        sign = np.sign(g * s["prev"])
        factor = np.where(sign > 0, eta_plus, np.where(sign < 0, eta_minus, one))
        s["size"] = np.clip(s["size"] * factor, lo, hi)
        grad = np.where(sign < 0, p.dtype.type(0), g)
        p[...] = p - np.sign(grad) * s["size"]
        s["prev"] = grad
    return step


def _rprop_inplace(p, g, kw):
    eta_minus, eta_plus, lo, hi, lr = _rprop_hyper(kw, p)
    prev, size = np.zeros_like(p), np.full_like(p, lr)
    t1, t2, mask = np.empty_like(p), np.empty_like(p), np.empty(p.shape, bool)

    def step(size=size, t1=t1, p=p):
        np.multiply(g, prev, out=t1)
        t2.fill(1)
        np.greater(t1, 0, out=mask)
        np.copyto(t2, eta_plus, where=mask)
        np.less(t1, 0, out=mask)
        np.copyto(t2, eta_minus, where=mask)
        size *= t2
        np.clip(size, lo, hi, out=size)
        np.copyto(prev, g)
        np.copyto(prev, 0, where=mask)
        np.sign(prev, out=t1)
        t1 *= size
        p -= t1
    return step


def _lion_naive(p, g, kw):
    lr, (b1, b2), wd = kw.get("lr", 1e-4), kw.get("betas", (0.9, 0.99)), kw.get("weight_decay", 0.0)
    s = dict(m=np.zeros_like(p))

    def step():
        if wd:
            p[...] = p * (1 - lr * wd)
        c = b1 * s["m"] + (1 - b1) * g
        p[...] = p - lr * np.sign(c)
        s["m"] = b2 * s["m"] + (1 - b2) * g
    return step


def _lion_inplace(p, g, kw):
    lr, (b1, b2), wd = kw.get("lr", 1e-4), kw.get("betas", (0.9, 0.99)), kw.get("weight_decay", 0.0)
    m, tmp = np.zeros_like(p), np.empty_like(p)

    def step(p=p, tmp=tmp, m=m):
        if wd:
            p *= 1 - lr * wd
        np.subtract(g, m, out=tmp)
        tmp *= 1 - b1
        tmp += m
        np.sign(tmp, out=tmp)
        tmp *= lr
        p -= tmp
        np.subtract(g, m, out=tmp)
        tmp *= 1 - b2
        m += tmp
    return step


def _lamb_hyper(kw):
    b1, b2 = kw.get("betas", (0.9, 0.999))
    return kw.get("lr", 1e-3), b1, b2, kw.get("eps", 1e-6), kw.get("weight_decay", 0.0)


def _trust(w_norm, r_norm):
    return w_norm / r_norm if w_norm > 0 and r_norm > 0 else 1.0


def _lamb_naive(p, g, kw):
    lr, b1, b2, eps, wd = _lamb_hyper(kw)
    s = dict(m=np.zeros_like(p), v=np.zeros_like(p), t=0)

    def step():
        s["t"] += 1
        t = s["t"]
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        r = (s["m"] / (1 - b1 ** t)) / (np.sqrt(s["v"] / (1 - b2 ** t)) + eps) + wd * p
        p[...] = p - lr * _trust(np.linalg.norm(p), np.linalg.norm(r)) * r
    return step


def _lamb_inplace(p, g, kw):
    lr, b1, b2, eps, wd = _lamb_hyper(kw)
    m, v, tmp, state = np.zeros_like(p), np.zeros_like(p), np.empty_like(p), [0]
    flat_p, flat_tmp = p.reshape(-1), tmp.reshape(-1)

    def step(m=m, v=v, tmp=tmp, p=p):
        state[0] += 1
        t = state[0]
        m *= b1
        np.multiply(g, 1 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp /= math.sqrt(1 - b2 ** t)
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= 1 / (1 - b1 ** t)
        if wd:
            tmp += wd * p
        w_norm = math.sqrt(float(np.dot(flat_p, flat_p)))
        r_norm = math.sqrt(float(np.dot(flat_tmp, flat_tmp)))
        tmp *= lr * _trust(w_norm, r_norm)
        p -= tmp
    return step


_ADAM, _ADAMW = _adam(), _adam(decoupled=True)
#: case id -> (naive factory, in-place factory)
HANDWRITTEN: dict[str, tuple[Callable, Callable]] = {
    "Adam": _ADAM, "AMSGrad": _ADAM, "AdamW": _ADAMW,
    "SGD": (_sgd_naive, _sgd_inplace), "SGD-momentum": (_sgd_naive, _sgd_inplace),
    "RMSprop": (_rmsprop_naive, _rmsprop_inplace), "Adagrad": (_adagrad_naive, _adagrad_inplace),
    "Adadelta": (_adadelta_naive, _adadelta_inplace), "Adamax": (_adamax_naive, _adamax_inplace),
    "NAdam": (_nadam_naive, _nadam_inplace), "RAdam": (_radam_naive, _radam_inplace),
    "Rprop": (_rprop_naive, _rprop_inplace), "Lion": (_lion_naive, _lion_inplace),
    "Lamb": (_lamb_naive, _lamb_inplace),
}


# ----------------------------------------------------------------------------------------
# Many tensors, and the realistic loop.

def mlp_shapes(n_tensors: int = 200, total: int = 1_000_000) -> list[tuple[int, ...]]:
    """``n_tensors`` arrays shaped like an MLP's weights and biases (alternating), about
    ``total`` elements in all."""
    layers = n_tensors // 2
    widths = [64, 96, 128, 80, 112]
    scale = math.sqrt(total / sum(widths[i % 5] * widths[(i + 1) % 5] for i in range(layers)))
    shapes: list[tuple[int, ...]] = []
    for i in range(layers):
        a = max(1, round(widths[i % 5] * scale))
        b = max(1, round(widths[(i + 1) % 5] * scale))
        shapes += [(a, b), (b,)]
    return shapes


class Work:
    """A few milliseconds of NumPy work, as a forward and backward pass would do between
    two steps: long enough for a thread pool to go to sleep.  Call it to run it once.

    ``sin``: np.sin over ``nbytes`` (default 8 MB) of float32, on one thread; ``matmul``: a
    float32 matmul of square matrices of ``nbytes`` (default 1 MB) in all, on BLAS's
    threads (which a spinning OpenMP worker would compete with)."""

    def __init__(self, kind: str = "sin", nbytes: int | None = None):
        nbytes = nbytes or (8 << 20 if kind == "sin" else 1 << 20)
        if kind == "sin":
            self.x = np.linspace(0, 1, nbytes // 4, dtype=np.float32)
            self.y = np.empty_like(self.x)
        elif kind == "matmul":
            side = int(math.sqrt(nbytes // 12))
            rng = np.random.default_rng(0)
            self.x, self.w = (rng.standard_normal((side, side), dtype=np.float32)
                              for _ in range(2))
            self.y = np.empty_like(self.x)
        else:
            raise ValueError(f"unknown work {kind!r}: sin or matmul")
        self.kind = kind

    def __call__(self) -> None:
        if self.kind == "sin":
            np.sin(self.x, out=self.y)
        else:
            np.matmul(self.x, self.w, out=self.y)


def busy_work(kind: str = "sin", nbytes: int | None = None) -> Work:
    """``Work(kind, nbytes)``: NumPy work to run between two steps."""
    return Work(kind, nbytes)


# ----------------------------------------------------------------------------------------
# Timing: round robin over the peers, so that noise on a shared machine hits all of them.

def measure(steps: dict[str, Callable[[], Any]], budget: float = 0.3,
            **kwargs: Any) -> dict[str, float]:
    """Median seconds per call of each function, timed in interleaved rounds (see
    ``measure_samples``)."""
    return {name: statistics.median(s)
            for name, s in measure_samples(steps, budget, **kwargs).items()}


def measure_samples(steps: dict[str, Callable[[], Any]], budget: float = 0.3,
                    min_rounds: int = 5, max_rounds: int = 1000, sample: float = 2e-3,
                    warmup: int = 2) -> dict[str, list[float]]:
    """Seconds per call of each function, one sample per round, in interleaved rounds.

    Each function is called ``warmup`` times first (numba compiles, caches fill), then
    timed in samples of enough calls to last about ``sample`` seconds, one sample per
    function per round, until each has had ``budget`` seconds (and ``min_rounds``)."""
    number: dict[str, int] = {}
    for name, f in steps.items():
        for _ in range(warmup):
            f()
        t0 = time.perf_counter()
        f()
        one = max(time.perf_counter() - t0, 1e-7)
        number[name] = max(1, int(sample / one))
    samples: dict[str, list[float]] = {name: [] for name in steps}
    spent = dict.fromkeys(steps, 0.0)
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for r in range(max_rounds):
            for name, f in steps.items():
                n = number[name]
                t0 = time.perf_counter()
                for _ in range(n):
                    f()
                dt = time.perf_counter() - t0
                samples[name].append(dt / n)
                spent[name] += dt
            if r + 1 >= min_rounds and min(spent.values()) >= budget:
                break
    finally:
        if gc_was:
            gc.enable()
    return samples


def cpu_idle(seconds: float = 1.0) -> float:
    """The fraction of CPU time idle over the next ``seconds`` (Linux; 1.0 elsewhere)."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)
    try:
        i0, t0 = sample()
        time.sleep(seconds)
        i1, t1 = sample()
    except OSError:
        return 1.0
    return (i1 - i0) / max(t1 - t0, 1)


def wait_quiet(max_wait: float, idle: float = 0.9) -> None:
    """Wait up to ``max_wait`` seconds for two seconds in a row with the CPUs idle."""
    deadline = time.monotonic() + max_wait
    calm = 0
    while time.monotonic() < deadline:
        calm = calm + 1 if cpu_idle() >= idle else 0
        if calm >= 2:
            return
    print("  (the machine did not go quiet; measuring anyway)", file=sys.stderr)



# ----------------------------------------------------------------------------------------
# python -m fastopt bench

def parse_size(text: str) -> int:
    """1000, 1e6, 1k, 10M."""
    t = text.strip().lower().replace("_", "")
    mult = {"k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9}.get(t[-1:], 1)
    if mult != 1:
        t = t[:-1]
    try:
        value = float(t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
    if value != int(value) or value < 1:
        raise argparse.ArgumentTypeError(f"a size must be a whole number >= 1: {text!r}")
    return int(value)


def format_size(n: int) -> str:
    e = int(math.log10(n)) if n > 0 else 0
    return f"1e{e}" if n == 10 ** e else f"{n:,}"


def format_time(s: float) -> str:
    for unit, f in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= f:
            return f"{s / f:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}x"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``bench`` on the ``python -m fastopt`` dispatcher."""
    p = subparsers.add_parser(
        "bench", help="time fastopt's optimizers against NumPy and torch on this machine",
        description="Time one optimizer step of fastopt's optimizers on this machine, "
                    "beside hand-written in-place NumPy, torch.optim (fused, else foreach) "
                    "when torch is installed, and the memory-traffic twin (a kernel with "
                    "the same memory traffic and no math: the physical floor).")
    p.add_argument("--quick", action="store_true",
                   help="short timings and sizes 1e3, 1e5 (unless --sizes)")
    p.add_argument("--optimizer", nargs="+", metavar="NAME", type=str.strip,
                   help=f"cases to run (default: all that fastopt has): "
                        f"{', '.join(c.id for c in CASES)}")
    p.add_argument("--sizes", nargs="+", type=parse_size, metavar="N",
                   help="parameter counts (default 1e3 1e5 1e6 1e7)")
    p.add_argument("--backend", nargs="+", choices=FASTOPT_BACKENDS,
                   default=["cython", "numba"], help="fastopt backends (default cython numba)")
    p.add_argument("--dtype", nargs="+", choices=("float32", "float64"), default=["float32"])
    p.add_argument("--threads", type=int, default=None,
                   help="fastopt.set_num_threads for the run (default: OpenMP's count)")
    p.add_argument("--no-torch", action="store_true", help="don't compare with torch")
    p.set_defaults(run=main)
    return p


class Progress:
    """A one-line progress bar on stderr (only where stderr is a terminal)."""

    def __init__(self, total: int, stream=None, width: int = 30):
        self.total, self.done, self.width = max(total, 1), 0, width
        self.stream = stream if stream is not None else sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.label = ""

    def show(self, label: str | None = None) -> None:
        if label is not None:
            self.label = label
        if not self.live:
            return
        filled = int(self.width * self.done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} {self.label[:40]:<40}")
        self.stream.flush()

    def advance(self) -> None:
        self.done += 1
        self.show()

    def close(self) -> None:
        if self.live:
            self.stream.write("\r" + " " * (self.width + 50) + "\r")
            self.stream.flush()


def _select_cases(names: list[str] | None) -> list[Case]:
    have = available_cases()
    if not names:
        return have
    by_lower = {c.id.lower(): c for c in CASES}
    out = []
    for name in (n for arg in names for n in arg.split(",") if n):
        case = by_lower.get(name.lower())
        if case is None:
            raise SystemExit(f"fastopt bench: unknown optimizer {name!r}; choose from "
                             f"{', '.join(c.id for c in have)}")
        if case not in have:
            raise SystemExit(f"fastopt bench: this fastopt has no {case.cls}")
        out.append(case)
    return out


def run_table(cases: list[Case], sizes: list[int], backends: list[str], dtypes: list[str],
              *, budget: float, use_torch: bool, progress: Progress | None = None) -> list[dict]:
    """Measure every (case, dtype, size): one row per fastopt backend."""
    rows = []
    torch = _torch() if use_torch else None
    for case in cases:
        for dtype in dtypes:
            for n in sizes:
                if progress is not None:
                    progress.show(f"{case.id} {dtype} {format_size(n)}")
                pg = data(dtype, [(n,)])
                steps = {b: make_step(case, b, dtype, [(n,)], params_grads=pg) for b in backends}
                if case.id in HANDWRITTEN:
                    steps["numpy-inplace"] = make_step(case, "numpy-inplace", dtype, [(n,)],
                                                       params_grads=pg)
                torch_impl = None
                if torch is not None and case.torch is not None:
                    for impl in ("fused", "foreach"):
                        if impl in case.torch_impls:
                            torch_impl = f"torch-{impl}"
                            steps[torch_impl] = make_step(case, torch_impl, dtype, [(n,)],
                                                          params_grads=pg)
                            break
                steps[TWIN] = make_step(case, TWIN, dtype, [(n,)], params_grads=pg)
                # Large sizes need fewer samples for a stable median.
                t = measure(steps, budget=budget, min_rounds=3 if n >= LARGE else 5)
                del steps, pg
                for b in backends:
                    step = t[b]
                    rows.append(dict(
                        optimizer=case.id, dtype=dtype, size=n, backend=b, time=step,
                        vs_numpy=t["numpy-inplace"] / step if "numpy-inplace" in t else None,
                        vs_torch=t[torch_impl] / step if torch_impl else None,
                        torch_impl=torch_impl.split("-", 1)[1] if torch_impl else None,
                        floor=t[TWIN] / step))
                if progress is not None:
                    progress.advance()
    return rows


COLUMNS = ("optimizer", "dtype", "size", "backend", "time/step", "vs NumPy", "vs torch", "floor")


def format_table(rows: list[dict]) -> str:
    cells = [COLUMNS]
    for r in rows:
        torch_cell = ("-" if r["vs_torch"] is None
                      else f"{_ratio(r['vs_torch'])} ({r['torch_impl']})")
        cells.append((r["optimizer"], r["dtype"], format_size(r["size"]), r["backend"],
                      format_time(r["time"]), _ratio(r["vs_numpy"]), torch_cell,
                      f"{r['floor']:.2f}"))
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    left = {0, 1, 3}
    lines = []
    for k, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i in left else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine_line(use_torch: bool) -> str:
    import fastopt
    from .._core import _native
    parts = [f"fastopt {fastopt.__version__} (CPU level {_native.CPU_LEVEL}, "
             f"{fastopt.get_num_threads()} thread(s), OpenMP "
             f"{'on' if _native.openmp_enabled() else 'off'})",
             f"NumPy {np.__version__}"]
    torch = _torch() if use_torch else None
    parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch
                 else "torch not used")
    parts.append(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    return "; ".join(parts)


LEGEND = """\
time/step: median wall time of one opt.step() on FlatParams (the gradient is already in place).
vs NumPy: speedup over the best hand-written in-place NumPy (ufuncs with out=, scratch buffers).
vs torch: speedup over torch.optim on the same data (fused=True where torch has it, else foreach).
floor: memory-traffic twin time / step time, the twin being a kernel with the same reads and
       writes and no math (1.00 = at the speed of memory; in cache, small steps are bound by
       the per-call overhead or by the math instead)."""


def main(args: argparse.Namespace) -> int:
    import fastopt
    cases = _select_cases(args.optimizer)
    sizes = args.sizes or ([1_000, 100_000] if args.quick else list(SIZES))
    budget = 0.05 if args.quick else 0.3
    use_torch = not args.no_torch
    if args.threads is not None:
        fastopt.set_num_threads(args.threads)
    print(machine_line(use_torch))
    progress = Progress(len(cases) * len(sizes) * len(args.dtype))
    progress.show()
    try:
        rows = run_table(cases, sizes, args.backend, args.dtype, budget=budget,
                         use_torch=use_torch, progress=progress)
    finally:
        progress.close()
    print(format_table(rows))
    print()
    print(LEGEND)
    return 0
