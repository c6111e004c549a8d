"""Benchmarks of fastopt's optimizers against their peers, measured in the same run.

The cases come from the optimizer table (``fastopt.optimizers.table``): one per ``Bench``
entry.  Used by ``benches/`` (pytest-benchmark) and by ``python -m fastopt bench``.

- ``cases``: the bench cases;
- ``peers``: each implementation's step function for a case (fastopt's backends,
  hand-written NumPy, torch.optim, the twin);
- ``handwritten``: the hand-written NumPy optimizers, naive and in-place;
- ``twin``: the memory-traffic twin, a fake optimizer with the same memory traffic and
  no math;
- ``workloads``: sizes, parameters and gradients, MLP shapes, work between steps;
- ``timing``: interleaved rounds of timing, waiting for a quiet machine;
- ``report``: the table's text; ``cli``: ``python -m fastopt bench``.
"""
