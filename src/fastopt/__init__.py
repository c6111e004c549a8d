"""fastopt: Adam and its whole family for NumPy, as in-place updates at the speed of memory.

    >>> import numpy as np, fastopt
    >>> w = np.zeros(3, np.float32)
    >>> opt = fastopt.Adam([w], lr=0.1)
    >>> opt.step([np.ones(3, np.float32)])
    >>> w
    array([-0.09999999, -0.09999999, -0.09999999], dtype=float32)
"""
# isort: off
from ._core.threads import get_num_threads, set_num_threads    # first: it loads the kernels
# isort: on
from . import lr_scheduler
from ._core.backend import get_backend, set_backend
from ._core.errors import NonFiniteError
from ._core.optimizer import Optimizer
from ._core.params import FlatParams, flatten
from ._version import __version__
from .checkpoint import CheckpointError, load, save
from .clip import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .ema import EMA
from .optimizers import *  # noqa: F401,F403  (every optimizer class, as optimizers.__all__)
from .optimizers import __all__ as _optimizer_names

__all__ = [
    *_optimizer_names,
    "FlatParams", "Optimizer", "flatten", "lr_scheduler",
    "get_backend", "set_backend", "get_num_threads", "set_num_threads",
    # the training toolkit
    "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
    "EMA", "save", "load", "CheckpointError", "NonFiniteError",
]
