"""The memory-traffic twin: the physical floor that benches measure optimizers against.

A twin reads and writes what an optimizer with ``buffers`` state buffers does (p and g,
then each state buffer once) with trivial math: ``p += g`` and ``s += g`` for each state
buffer.  It runs through the same plans, kernels and per-step path as an optimizer, in
every backend, so an optimizer step can't beat the twin with as many buffers, and a good
one comes within about 10% of it out of cache.  Buffers per optimizer: SGD 0, SGD with
momentum / RMSprop / Adagrad 1, Adam / AdamW / NAdam / Adamax / Adadelta 2, AMSGrad 3;
LAMB's twin makes 2 passes.  With ``state_precision="bfloat16"`` or ``"8bit"`` its state is
stored as an optimizer's would be and moved as it is (each stored value + 1, each 8-bit
block's scale + 1), the floor of a step on state in fewer bytes.

    >>> import numpy as np
    >>> from fastopt._bench.twin import Twin
    >>> p = np.zeros(3, np.float32)
    >>> twin = Twin([p], buffers=2)
    >>> twin.step([np.ones(3, np.float32)])
    >>> p, twin.state[0]["s1"]
    (array([1., 1., 1.], dtype=float32), array([1., 1., 1.], dtype=float32))

Private: for benches and tests, not part of the API.
"""
from __future__ import annotations

from typing import Any

from .._core.kernel import TWIN
from .._core.optimizer import Optimizer

MAX_BUFFERS = 3


class Twin(Optimizer):
    """``p += g`` and ``s += g`` for ``buffers`` (0 to 3) state buffers, ``passes`` times
    per step."""

    kernel = TWIN
    structural = ("buffers",)

    def __init__(self, params: Any, buffers: int = 2, *, passes: int = 1,
                 backend: str | None = None, state_precision: str = "full",
                 min_8bit_size: int = 4096):
        if isinstance(buffers, bool) or not isinstance(buffers, int) \
                or not 0 <= buffers <= MAX_BUFFERS:
            raise ValueError(f"buffers must be an int from 0 to {MAX_BUFFERS}, got {buffers!r}")
        if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
            raise ValueError(f"passes must be an int >= 1, got {passes!r}")
        self.passes = passes
        super().__init__(params, dict(buffers=buffers, maximize=False), backend,
                         state_precision=state_precision, min_8bit_size=min_8bit_size)

    hyperparameters = dict(buffers=lambda name, value: value)    # checked in __init__

    def _live_buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return self.kernel.buffers[:group["buffers"]]

    def _scalars(self, gi: int, group: dict[str, Any], step: int,
                 gstate: dict[str, float]) -> tuple[float, ...]:
        return self.kernel.pack(k=float(group["buffers"]))

    def step(self, grads: Any = None, closure: Any = None) -> Any:
        loss = super().step(grads, closure)
        for _ in range(self.passes - 1):
            for plan, run in zip(self._plans, self._runs):
                run(self._group_step(plan.group, self._step - self._joined[plan.group])[0])
        return loss

    def __repr__(self) -> str:
        return (f"Twin({self.param_groups[0]['buffers']} buffers, {self.passes} pass(es), "
                f"backend={self.backend!r})")
