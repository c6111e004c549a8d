"""200 arrays shaped like an MLP's weights and biases (about 1M elements), passed as the
user's own list with a list of gradients each step: fastopt (no flattening) against
torch.optim's fused and foreach kernels on the same tensors, a NumPy loop over the arrays,
and the twin on the same list."""
import math

import pytest

from _common import peer_or_skip, run
from fastopt._bench import cases, peers, workloads

SHAPES = workloads.mlp_shapes(200, 1_000_000)
CASES = [pytest.param(c, id=c.id) for c in cases.CASES]


@pytest.mark.parametrize("impl", peers.IMPLS)
@pytest.mark.parametrize("case", CASES)
def test_many_tensors(benchmark, case, impl):
    if cases.fastopt_class(case) is None:
        pytest.skip(f"fastopt has no {case.cls} yet")
    if impl == "numpy-naive" or impl == "numpy":
        pytest.skip("covered by test_steps; too slow a loop to add anything here")
    step, _ = peer_or_skip(case, impl, "float32", SHAPES, flat=False)
    benchmark.group = f"many tensors: {case.id} float32, {len(SHAPES)} arrays"
    benchmark.extra_info.update(case=case.id, impl=impl, tensors=len(SHAPES),
                                size=sum(math.prod(s) for s in SHAPES))
    run(benchmark, step)
