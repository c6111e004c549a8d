# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=False
"""The per-step scalars of NAdam, RAdam and LAMB, compiled: their arithmetic (powers,
square roots, a dozen products) took longer in Python than a 1,000-element update.

The arithmetic is Python's float arithmetic, operation for operation: ``x ** y`` is C's
``pow`` (as float.__pow__), ``/`` raises ZeroDivisionError on a zero divisor
(cdivision=False), and each expression is evaluated in torch's order.  Each function
returns the kernel's scalars in the order of its ``*_SCALARS`` names, which the optimizer
declares its kernel with.
"""
from libc.math cimport pow

NADAM_SCALARS = ("decay", "weight_decay", "one_minus_beta1", "beta2", "one_minus_beta2",
                 "bias_correction2", "eps", "c_grad", "c_avg")
LAMB_SCALARS = ("one_minus_beta1", "beta1", "one_minus_beta2", "beta2", "bias_correction1",
                "bias_correction2", "eps", "weight_decay", "lr")
RADAM_SCALARS = ("decay", "weight_decay", "one_minus_beta1", "beta2", "one_minus_beta2",
                 "bias_correction1", "lr", "bias_correction2_sqrt", "eps", "rect",
                 "rectified")


cdef inline double _mu(double beta1, double momentum_decay, long long step):
    # torch: beta1 * (1. - 0.5 * (0.96 ** (step * momentum_decay)))
    return beta1 * (1.0 - 0.5 * pow(0.96, <double>step * momentum_decay))


def nadam_group_state(dict h, long long step, double mu_product):
    """NAdam's group state after ``step``: mu_product times mu_step."""
    return {"mu_product": mu_product * _mu(h["betas"][0], h["momentum_decay"], step)}


def nadam(dict h, long long step, double mu_product):
    """NAdam's scalars at ``step`` for the checked hyperparameters ``h``, given the
    product of mu_1..mu_(step-1)."""
    cdef double lr = h["lr"], eps = h["eps"], weight_decay = h["weight_decay"]
    cdef double momentum_decay = h["momentum_decay"]
    cdef bint decoupled = h["decoupled_weight_decay"]
    cdef double beta1, beta2
    beta1, beta2 = h["betas"]
    cdef double mu = _mu(beta1, momentum_decay, step)
    cdef double mu_next = _mu(beta1, momentum_decay, step + 1)
    cdef double product = mu_product * mu
    cdef double product_next = product * mu_next
    return (1.0 - lr * weight_decay if decoupled else 1.0,
            0.0 if decoupled else weight_decay,
            1.0 - beta1, beta2, 1.0 - beta2, 1.0 - pow(beta2, <double>step), eps,
            -lr * (1.0 - mu) / (1.0 - product),
            (-lr * mu_next) / (1.0 - product_next))


def radam(dict h, long long step):
    """RAdam's scalars at ``step`` for the checked hyperparameters ``h``: the
    rectification term (torch's arithmetic, in its order) and whether it applies
    (rho_t > 5)."""
    cdef double lr = h["lr"], eps = h["eps"], weight_decay = h["weight_decay"]
    cdef bint decoupled = h["decoupled_weight_decay"]
    cdef double beta1, beta2
    beta1, beta2 = h["betas"]
    cdef double beta2_t = pow(beta2, <double>step)
    cdef double bias_correction1 = 1.0 - pow(beta1, <double>step)
    cdef double bias_correction2 = 1.0 - beta2_t
    cdef double rho_inf = 2 / (1 - beta2) - 1
    cdef double rho_t = rho_inf - 2 * <double>step * beta2_t / bias_correction2
    cdef double rect = 0.0, rectified = 0.0
    if rho_t > 5.0:
        rect = pow((rho_t - 4) * (rho_t - 2) * rho_inf
                   / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.5)
        rectified = 1.0
    return (1.0 - lr * weight_decay if decoupled else 1.0,
            0.0 if decoupled else weight_decay,
            1.0 - beta1, beta2, 1.0 - beta2, bias_correction1, lr,
            pow(bias_correction2, 0.5), eps, rect, rectified)


def lamb(dict h, long long step):
    """LAMB's scalars at ``step`` for the checked hyperparameters ``h`` (lr last: the
    trust-ratio stage scales it)."""
    cdef double beta1, beta2
    beta1, beta2 = h["betas"]
    return (1.0 - beta1, beta1, 1.0 - beta2, beta2, 1.0 - pow(beta1, <double>step),
            1.0 - pow(beta2, <double>step), <double>h["eps"], <double>h["weight_decay"],
            <double>h["lr"])
