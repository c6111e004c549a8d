"""Oracles for the optimizers torch.optim lacks: NumPy transcriptions of optax's, each
array in the parameters' dtype as in JAX.  optax has no maximize: a maximizing run is a
minimizing run of -g.

Each takes the hyperparameters of every parameter (a list, one dict each, so that param
groups are covered), the starting parameters and the gradients of every step, and returns
a harness.Result (the state under fastopt's buffer names)."""
import math

import numpy as np

from harness import Result


def optax_lion(kwargs, params, grads):
    """optax.lion: chain(scale_by_lion(b1, b2), add_decayed_weights(wd),
    scale_by_learning_rate(lr)), then optax.apply_updates."""
    params = [p.copy() for p in params]
    mu = [np.zeros_like(p) for p in params]
    for gs in grads:
        for i, (p, kw) in enumerate(zip(params, kwargs)):
            lr, (b1, b2) = kw.get("lr", 1e-4), kw.get("betas", (0.9, 0.99))
            wd = kw.get("weight_decay", 0.0)
            g = -gs[i] if kw.get("maximize") else gs[i]
            update = np.sign((1. - b1) * g + b1 * mu[i])     # scale_by_lion
            mu[i] = (1. - b2) * g + b2 * mu[i]
            update = update + wd * p                        # add_decayed_weights
            update = -lr * update                           # scale_by_learning_rate
            params[i] = p + update                          # apply_updates
    return Result(params, {i: {"exp_avg": m} for i, m in enumerate(mu)})


def optax_lamb(kwargs, params, grads):
    """optax.lamb: chain(scale_by_adam(b1, b2, eps, eps_root=0), add_decayed_weights(wd),
    scale_by_trust_ratio(), scale_by_learning_rate(lr)), then optax.apply_updates."""
    params = [p.copy() for p in params]
    mu = [np.zeros_like(p) for p in params]
    nu = [np.zeros_like(p) for p in params]
    for t, gs in enumerate(grads):
        count = t + 1
        for i, (p, kw) in enumerate(zip(params, kwargs)):
            dtype = p.dtype.type
            lr, (b1, b2) = kw.get("lr", 1e-3), kw.get("betas", (0.9, 0.999))
            eps, wd = kw.get("eps", 1e-6), kw.get("weight_decay", 0.0)
            g = -gs[i] if kw.get("maximize") else gs[i]
            mu[i] = (1 - b1) * g + b1 * mu[i]                 # update_moment
            nu[i] = (1 - b2) * g ** 2 + b2 * nu[i]            # update_moment_per_elem_norm
            mu_hat = mu[i] / dtype(1 - b1 ** count)           # bias_correction
            nu_hat = nu[i] / dtype(1 - b2 ** count)
            u = mu_hat / (np.sqrt(nu_hat + 0.0) + eps)
            u = u + wd * p                                    # add_decayed_weights
            p_norm, u_norm = np.linalg.norm(p), np.linalg.norm(u)    # scale_by_trust_ratio
            ratio = dtype(1.0) if p_norm == 0 or u_norm == 0 else p_norm / u_norm
            u = u * ratio
            params[i] = p + -lr * u                           # scale_by_learning_rate
    return Result(params, {i: {"exp_avg": m, "exp_avg_sq": v}
                           for i, (m, v) in enumerate(zip(mu, nu))})


# ---- optax itself (optax.contrib), where it is installed ------------------------------

def _run_optax(make, kwargs, params, grads, state_names, before=None):
    """Each parameter through its own ``make(kw)`` transformation (its param group's
    hyperparameters), in the parameters' dtype, maximize as a minimization of -g.  ``before(kw, t, p)`` returns the parameter
    the step starts from (a weight decay applied outside optax).  ``state_names`` maps
    fastopt's buffer names to the fields of the transformation's state."""
    import pytest
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    jnp = jax.numpy
    # Op by op (no jit): XLA's CPU compiler fuses a*b + c into one fused multiply-add,
    # rounding once where NumPy, torch's CPU kernels and fastopt round twice.  x64 on also
    # for float32 arrays (which stay float32): optax's per-step scalars (1 - b1, 1 - b2**t)
    # are then computed in float64 and rounded once to the arrays' dtype, as fastopt and
    # torch compute theirs, not in float32 from an already rounded b1.
    with jax.enable_x64(True), jax.disable_jit():
        txs = [make(optax, jnp, kw) for kw in kwargs]
        ps = [jnp.asarray(p) for p in params]
        states = [tx.init(p) for tx, p in zip(txs, ps)]
        for t, gs in enumerate(grads, 1):
            for i, (tx, kw) in enumerate(zip(txs, kwargs)):
                g = jnp.asarray(-gs[i] if kw.get("maximize") else gs[i])
                p = ps[i] if before is None else jnp.asarray(before(kw, t, np.asarray(ps[i])))
                updates, states[i] = tx.update(g, states[i], p)
                ps[i] = optax.apply_updates(p, updates)
        out = [np.asarray(p).astype(params[0].dtype) for p in ps]

        def field(state, name):
            """The field ``name`` of a state, or of the chain's state that has it."""
            if hasattr(state, name):
                return np.asarray(getattr(state, name))
            return next(field(s, name) for s in state
                        if isinstance(s, tuple) and _has_field(s, name))
        state = {i: {ours: field(s, theirs).astype(params[0].dtype)
                     for ours, theirs in state_names.items()} for i, s in enumerate(states)}
    return Result(out, state)


def _has_field(state, name):
    return hasattr(state, name) or any(isinstance(s, tuple) and _has_field(s, name)
                                       for s in state)


def optax_adopt(kwargs, params, grads):
    """optax.contrib.adopt; L2 weight decay as optax.add_decayed_weights before it, the
    decoupled one as the authors' implementation: p + (-lr*wd)*p from the second step
    (fastopt's p*(1 - lr*wd) rounds differently)."""
    def make(optax, jnp, kw):
        b1, b2 = kw.get("betas", (0.9, 0.9999))
        exponent = kw.get("clip_exponent", 0.25)
        tx = optax.contrib.adopt(kw.get("lr", 1e-3), b1, b2, kw.get("eps", 1e-6),
                                 nesterov=kw.get("nesterov", False),
                                 use_clipping=exponent is not None,
                                 clip_value_fn=lambda c: c ** (exponent or 0.0))
        wd = kw.get("weight_decay", 0.0)
        if wd and not kw.get("decoupled_weight_decay"):
            tx = optax.chain(optax.add_decayed_weights(wd), tx)
        return tx

    def before(kw, t, p):
        wd, lr = kw.get("weight_decay", 0.0), kw.get("lr", 1e-3)
        if wd and kw.get("decoupled_weight_decay") and t > 1:
            return p + p.dtype.type(-lr * wd) * p
        return p
    return _run_optax(make, kwargs, params, grads,
                      {"exp_avg": "mu", "exp_avg_sq": "nu"}, before)


def optax_ademamix(kwargs, params, grads):
    """optax.contrib.ademamix, with the paper's warmups of alpha and beta3 as its
    schedules (optax counts steps from 0, fastopt from 1); its weight decay is
    add_decayed_weights (lr*(u + wd*p), fastopt p*(1 - lr*wd) - lr*u: equal to rounding)."""
    def make(optax, jnp, kw):
        b1, b2, b3 = kw.get("betas", (0.9, 0.999, 0.9999))
        alpha, t_alpha, t_beta3 = kw.get("alpha", 5.0), kw.get("t_alpha"), kw.get("t_beta3")
        # The schedules return Python floats (the paper's schedulers, in float64), which
        # jax takes as weakly typed: the moments stay in the parameters' dtype.
        if t_alpha is None:
            alpha_fn = alpha
        else:
            def alpha_fn(c):
                return min((int(c) + 1) * alpha / t_alpha, alpha)
        if t_beta3 is None:
            b3_fn = b3
        else:
            ln1, ln3 = math.log(b1), math.log(b3)

            def b3_fn(c):
                s = (int(c) + 1) / t_beta3
                return min(math.exp(ln1 * ln3 / ((1 - s) * ln3 + s * ln1)), b3)
        return optax.contrib.ademamix(kw.get("lr", 1e-3), b1, b2, b3_fn, alpha_fn,
                                      eps=kw.get("eps", 1e-8),
                                      weight_decay=kw.get("weight_decay", 0.0))
    return _run_optax(make, kwargs, params, grads,
                      {"exp_avg_fast": "m1", "exp_avg_slow": "m2", "exp_avg_sq": "nu"})


# ---- the schedulefree package (on torch), where it is installed ------------------------

def _run_schedulefree(cls_name, kwargs, params, grads):
    """The package's optimizer, one param group per parameter (its hyperparameters), in
    train mode throughout; torch's default dtype follows the parameters' (the package
    keeps no tensor scalars, so this only matters for torch's own)."""
    import pytest
    pytest.importorskip("schedulefree")
    import schedulefree
    import torch
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if params[0].dtype == np.float64 else torch.float32)
    try:
        ps = [torch.tensor(p.copy()) for p in params]
        groups = [{"params": [p], **{k: v for k, v in kw.items() if k != "maximize"}}
                  for p, kw in zip(ps, kwargs)]
        opt = getattr(schedulefree, cls_name)(groups)
        opt.train()
        for gs in grads:
            for p, g, kw in zip(ps, gs, kwargs):
                p.grad = torch.from_numpy(-g if kw.get("maximize") else g.copy())
            opt.step()
        state = {i: {k: v.numpy().copy() for k, v in opt.state[p].items()}
                 for i, p in enumerate(ps) if opt.state[p]}
        return Result([p.numpy().copy() for p in ps], state)
    finally:
        torch.set_default_dtype(previous)


def schedulefree_adamw(kwargs, params, grads):
    """schedulefree.AdamWScheduleFree (its default, foreach, path)."""
    return _run_schedulefree("AdamWScheduleFree", kwargs, params, grads)


def schedulefree_sgd(kwargs, params, grads):
    """schedulefree.SGDScheduleFree (its default, foreach, path)."""
    return _run_schedulefree("SGDScheduleFree", kwargs, params, grads)


def torch_sparse_adam(kwargs, params, grads):
    """torch.optim.SparseAdam given each dense gradient as the row-sparse one that names
    every row (fastopt's meaning of a dense gradient; torch refuses dense ones), one
    optimizer per parameter so that each has its param group's hyperparameters."""
    import pytest
    torch = pytest.importorskip("torch")
    ps = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opts = [torch.optim.SparseAdam([p], **kw) for p, kw in zip(ps, kwargs)]
    for gs in grads:
        for p, opt, g in zip(ps, opts, gs):
            rows = torch.arange(g.shape[0] if g.ndim else 0)[None]
            p.grad = torch.sparse_coo_tensor(rows, torch.from_numpy(g.copy()), g.shape)
            opt.step()
    state = {i: {name: opt.state[p][name].numpy().copy()
                 if opt.state[p] else np.zeros_like(params[i])
                 for name in ("exp_avg", "exp_avg_sq")}
             for i, (p, opt) in enumerate(zip(ps, opts))}
    return Result([p.detach().numpy().copy() for p in ps], state)


def newton_schulz_without_cast(grad, ns_coefficients, ns_steps, eps):
    """torch.optim._muon._zeropower_via_newtonschulz (torch 2.13) without its cast of the
    iterate to bfloat16: the iteration in the gradient's dtype, as fastopt.Muon runs it."""
    import torch
    a, b, c = ns_coefficients
    ortho_grad = grad.clone()
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    ortho_grad.div_(ortho_grad.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram_matrix = ortho_grad @ ortho_grad.T
        gram_update = torch.addmm(gram_matrix, gram_matrix, gram_matrix, beta=b, alpha=c)
        ortho_grad = torch.addmm(ortho_grad, gram_update, ortho_grad, beta=a)
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    return ortho_grad


def torch_muon(kwargs, params, grads, groups=None, cast=False):
    """torch.optim.Muon run on copies of ``params`` with the gradients of every step
    (``groups``: lists of parameter indices with their own hyperparameters); without the
    bfloat16 cast of the Newton-Schulz iterate unless ``cast``."""
    import torch
    import torch.optim._muon as muon
    tensors = [torch.tensor(p.copy()) for p in params]
    spec = (tensors if groups is None else
            [{"params": [tensors[i] for i in idx], **over} for idx, over in groups])
    opt = torch.optim.Muon(spec, **kwargs)
    shipped = muon._zeropower_via_newtonschulz
    if not cast:
        muon._zeropower_via_newtonschulz = newton_schulz_without_cast
    try:
        for gs in grads:
            for t, g in zip(tensors, gs):
                t.grad = torch.tensor(g)
            opt.step()
    finally:
        muon._zeropower_via_newtonschulz = shipped
    return Result([t.numpy() for t in tensors],
                  {i: {"momentum_buffer": opt.state[t]["momentum_buffer"].numpy()}
                   for i, t in enumerate(tensors)})
