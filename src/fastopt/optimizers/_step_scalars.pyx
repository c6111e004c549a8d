# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=False
"""The per-step scalars of NAdam, RAdam, LAMB, Adafactor and Schedule-Free, compiled: their
arithmetic (powers, square roots, a dozen products) took longer in Python than a
1,000-element update.

The arithmetic is Python's float arithmetic, operation for operation: ``x ** y`` is C's
``pow`` (as float.__pow__), ``/`` raises ZeroDivisionError on a zero divisor
(cdivision=False), and each expression is evaluated in torch's order.  Each function
returns the kernel's scalars in the order of its ``*_SCALARS`` names, which the optimizer
declares its kernel with.
"""
from cpython.long cimport PyLong_AsLongLongAndOverflow
from libc.math cimport NAN, isinf, pow, sqrt

NADAM_SCALARS = ("decay", "weight_decay", "one_minus_beta1", "beta2", "one_minus_beta2",
                 "bias_correction2", "eps", "c_grad", "c_avg")
LAMB_SCALARS = ("one_minus_beta1", "beta1", "one_minus_beta2", "beta2", "bias_correction1",
                "bias_correction2", "eps", "weight_decay", "lr")
SCHEDULEFREE_ADAMW_SCALARS = ("one_minus_beta2", "beta2", "bias_correction2", "eps",
                              "weight_decay", "ckp1", "y_step", "lr", "first")
SCHEDULEFREE_SGD_SCALARS = ("weight_decay", "ckp1", "y_step", "lr", "first")
ADAFACTOR_SCALARS = ("lr", "beta2_t", "rho_t", "eps1", "eps2", "d", "decay")
RADAM_SCALARS = ("decay", "weight_decay", "one_minus_beta1", "beta2", "one_minus_beta2",
                 "bias_correction1", "lr", "bias_correction2_sqrt", "eps", "rect",
                 "rectified")


cdef inline double _mu(double beta1, double momentum_decay, long long step):
    # torch: beta1 * (1. - 0.5 * (0.96 ** (step * momentum_decay)))
    return beta1 * (1.0 - 0.5 * pow(0.96, <double>step * momentum_decay))


def nadam(self, Py_ssize_t gi, dict group not None, long long step, dict gstate not None):
    """NAdam's scalars at ``step`` for the checked hyperparameters ``group`` and its next
    group state, together (the optimizer's _scalars_and_group_state): mu_product, the
    product of mu_1..mu_(step-1), is read from ``gstate`` and checked (it is per-group
    state, which load_state_dict may bring), then times mu_step."""
    cdef dict h = group
    mu_product = gstate.get("mu_product")
    if type(mu_product) is not float or not 0.0 <= <double>mu_product <= 1.0:
        mu_product = self._checked_mu_product(gstate)        # raises, naming it
    cdef double lr = h["lr"], eps = h["eps"], weight_decay = h["weight_decay"]
    cdef double momentum_decay = h["momentum_decay"]
    cdef bint decoupled = h["decoupled_weight_decay"]
    cdef double beta1, beta2
    beta1, beta2 = h["betas"]
    cdef double mu = _mu(beta1, momentum_decay, step)
    cdef double mu_next = _mu(beta1, momentum_decay, step + 1)
    cdef double product = <double>mu_product * mu
    cdef double product_next = product * mu_next
    return ((1.0 - lr * weight_decay if decoupled else 1.0,
             0.0 if decoupled else weight_decay,
             1.0 - beta1, beta2, 1.0 - beta2, 1.0 - pow(beta2, <double>step), eps,
             -lr * (1.0 - mu) / (1.0 - product),
             (-lr * mu_next) / (1.0 - product_next)),
            {"mu_product": product})


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


def adafactor(dict h, long long step):
    """Adafactor's scalars at ``step`` (eps1 NaN where it is None: the rule then takes the
    parameters' machine epsilon)."""
    cdef double lr = h["lr"], rho = 1.0 / sqrt(<double>step)
    eps1, eps2 = h["eps"]
    return (lr, pow(<double>step, <double>h["beta2_decay"]),
            rho if rho < lr else lr,                          # min(lr, 1/sqrt(t))
            NAN if eps1 is None else <double>eps1, <double>eps2, <double>h["d"],
            1.0 - lr * <double>h["weight_decay"])


# ---- Schedule-Free ----------------------------------------------------------------------
# Each function is the optimizer's _scalars_and_group_state itself (a class attribute:
# no Python frame on the step's path), the package's arithmetic in its order.

cdef double _float_pow(double x, double y, str what) except? -1.0:
    # float.__pow__ for finite x, y >= 0: C's pow, and an OverflowError where it overflows
    cdef double z = pow(x, y)
    if isinf(z):
        raise OverflowError(f"the averaging weight's {what} = {x!r}**{y!r} overflows")
    return z


cdef int _averaging(opt, Py_ssize_t gi, dict h, long long step, dict gstate,
                    double* out) except -1:
    # out = (lr, ckp1, lr_max, weight_sum) of step ``step`` (from 1); refuses a step in
    # eval mode (the parameters hold x, not y).  Only the optimizer's own group state
    # refuses: a state being loaded (checked with its next step) may be in eval mode.
    if gstate["train_mode"] != 1.0 and gstate is opt.group_state[gi]:
        raise RuntimeError(f"{type(opt).__name__}.step() in eval mode: call opt.train() "
                           f"before training steps")
    cdef double lr = h["lr"], lr_max = gstate["lr_max"], weight, weight_sum, factor = 1.0
    cdef int overflow = 0
    warmup_steps = h["warmup_steps"]
    cdef long long warmup = PyLong_AsLongLongAndOverflow(warmup_steps, &overflow)
    # lr * ((k + 1) / warmup if k < warmup else 1.0), k = step - 1: Python's int division
    # is correctly rounded, as the double one where both are exact (<= 2**53)
    if overflow == 0 and warmup <= 9007199254740992:
        if step <= warmup:
            factor = <double>step / <double>warmup
    elif step <= warmup_steps:
        factor = step / warmup_steps
    lr = lr * factor
    if not lr_max > lr:                     # max(lr, lr_max): the first of equals
        lr_max = lr
    weight = (_float_pow(<double>step, h["r"], "step**r")
              * _float_pow(lr_max, h["weight_lr_power"], "lr_max**weight_lr_power"))
    weight_sum = <double>gstate["weight_sum"] + weight
    out[0] = lr
    out[1] = weight / weight_sum if weight_sum != 0.0 else 0.0
    out[2] = lr_max
    out[3] = weight_sum
    return 0


def schedulefree_adamw(self, Py_ssize_t gi, dict group not None, long long step,
                       dict gstate not None):
    """ScheduleFreeAdamW's scalars at ``step`` for the checked hyperparameters ``group``
    and its next group state (lr_max, weight_sum)."""
    cdef dict h = group
    cdef double a[4]
    _averaging(self, gi, h, step, gstate, a)
    cdef double beta1, beta2, lr = a[0], ckp1 = a[1]
    beta1, beta2 = h["betas"]
    return ((1.0 - beta2, beta2, 1.0 - pow(beta2, <double>step), <double>h["eps"],
             <double>h["weight_decay"], ckp1, lr * (beta1 * (1.0 - ckp1) - 1.0), lr,
             1.0 if step == 1 else 0.0),
            {"lr_max": a[2], "weight_sum": a[3]})


def schedulefree_sgd(self, Py_ssize_t gi, dict group not None, long long step,
                     dict gstate not None):
    """ScheduleFreeSGD's scalars at ``step`` for the checked hyperparameters ``group`` and
    its next group state (lr_max, weight_sum)."""
    cdef dict h = group
    cdef double a[4]
    _averaging(self, gi, h, step, gstate, a)
    cdef double lr = a[0], ckp1 = a[1], momentum = h["momentum"]
    return ((<double>h["weight_decay"], ckp1, lr * (momentum * (1.0 - ckp1) - 1.0), lr,
             1.0 if step == 1 else 0.0),
            {"lr_max": a[2], "weight_sum": a[3]})
