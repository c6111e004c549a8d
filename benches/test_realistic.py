"""A training loop's rhythm: a few milliseconds of NumPy work between two steps, as a
forward and backward pass would do (np.sin over 8 MB on one thread, or a matmul on
BLAS's threads), with fastopt on 1 and on 2 threads.  In a tight loop a thread pool stays
hot; here it has gone to sleep by the next step, which is what decides whether threads
pay, and a worker still spinning would slow the matmul (see src/fastopt/_threads.py).
Each table: the work alone, then work + step for each backend and thread count."""
import pytest

import fastopt
from _common import peer_or_skip, run, size_param
from fastopt._bench import cases, report, workloads

ADAM = cases.CASES_BY_ID["Adam"]


@pytest.fixture(params=["sin", "matmul"])
def work(request):
    return workloads.busy_work(request.param)


@pytest.fixture
def threads():
    """Set fastopt's thread count for one test, then go back to the default."""
    yield fastopt.set_num_threads
    fastopt.set_num_threads(None)


@pytest.mark.parametrize("size", [size_param(n) for n in workloads.SIZES])
@pytest.mark.parametrize("impl", ["work-only", "cython-1", "cython-2", "numba-1", "numba-2",
                                  "torch-fused"])
def test_realistic_loop(benchmark, work, threads, impl, size):
    benchmark.group = (f"realistic loop: Adam float32 n={report.format_size(size)}, "
                       f"{work.kind} between steps")
    benchmark.extra_info.update(impl=impl, size=size)
    if impl == "work-only":
        run(benchmark, work)
        return
    backend, _, n = impl.partition("-")
    if backend != "torch":
        threads(int(n))
        backend_impl = backend
    else:
        backend_impl = impl
    step, _ = peer_or_skip(ADAM, backend_impl, "float32", [(size,)])

    def iteration():
        work()
        step()
    run(benchmark, iteration)
