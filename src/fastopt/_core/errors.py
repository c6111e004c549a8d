"""Exceptions of fastopt's own."""


class NonFiniteError(FloatingPointError, RuntimeError):
    """Gradients with inf or NaN values where finite ones are required.

    Raised by an optimizer built with ``nonfinite="raise"`` (nothing is updated) and by
    :func:`fastopt.clip_grad_norm_` with ``error_if_nonfinite=True`` (nothing is
    clipped).  It is a ``FloatingPointError`` and, like the error torch raises in the
    second case, a ``RuntimeError``: code written for either catches it.
    """
