"""One optimizer step, every case x peer x dtype x size.  Each table (benchmark group)
is one (case, dtype, size): fastopt's backends, hand-written NumPy (naive and in-place),
torch.optim (for-loop, foreach, fused) and the memory-traffic twin, measured in the same
run.  Parameters are one FlatParams buffer (one tensor for NumPy and torch)."""
import pytest

from _common import DTYPES, peer_or_skip, run, size_param
from fastopt._bench import cases, peers, report, workloads

CASES = [pytest.param(c, id=c.id) for c in cases.CASES]


@pytest.mark.parametrize("size", [size_param(n) for n in workloads.SIZES])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("impl", peers.IMPLS)
@pytest.mark.parametrize("case", CASES)
def test_step(benchmark, case, impl, dtype, size):
    if cases.fastopt_class(case) is None:
        pytest.skip(f"fastopt has no {case.cls} yet")
    step, _ = peer_or_skip(case, impl, dtype, [(size,)])
    benchmark.group = f"{case.id} {dtype} n={report.format_size(size)}"
    benchmark.extra_info.update(case=case.id, impl=impl, dtype=dtype, size=size)
    run(benchmark, step)
