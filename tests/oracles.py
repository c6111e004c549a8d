"""Oracles for the optimizers torch.optim lacks: NumPy transcriptions of optax's, each
array in the parameters' dtype as in JAX.  optax has no maximize: a maximizing run is a
minimizing run of -g.

Each takes the hyperparameters of every parameter (a list, one dict each, so that param
groups are covered), the starting parameters and the gradients of every step, and returns
a harness.Result (the state under fastopt's buffer names)."""
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
