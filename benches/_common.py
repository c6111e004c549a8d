"""Helpers shared by the bench modules."""
import pytest

from fastopt._bench import peers, report, workloads

DTYPES = ["float32", "float64"]


def size_param(n: int):
    """A size as a pytest param, marked large from workloads.LARGE elements on."""
    marks = [pytest.mark.large] if n >= workloads.LARGE else []
    return pytest.param(n, id=report.format_size(n), marks=marks)


def peer_or_skip(case, impl, dtype, shapes, **kwargs):
    """(step, params) of ``impl`` for ``case``, or skip the test where it can't run."""
    if impl.startswith("torch-"):
        pytest.importorskip("torch")
    if impl == "numba":
        pytest.importorskip("numba")
    try:
        return peers.make_peer(case, impl, dtype, shapes, **kwargs)
    except peers.Unavailable as e:
        pytest.skip(str(e))


def run(benchmark, step, warmup=2):
    """Benchmark ``step`` after a few untimed calls (numba compiles on the first); with
    --benchmark-disable (the smoke test) it just runs once."""
    if not benchmark.disabled:
        for _ in range(warmup):
            step()
    benchmark(step)
