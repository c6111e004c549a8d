import os
import sys

import pytest

# Tests import the helpers in this folder (harness.py) by name.
sys.path.insert(0, os.path.dirname(__file__))


def pytest_report_header(config):
    import fastopt
    from fastopt._core import _native
    return (f"fastopt {fastopt.__version__} from {os.path.dirname(fastopt.__file__)}; "
            f"CPU level {_native.CPU_LEVEL}; OpenMP {_native.openmp_enabled()}")


def pytest_configure(config):
    # FASTOPT_TEST_INSTALLED=1 (CI, cibuildwheel): the tests must run against the installed
    # wheel, never against a source tree that happens to be importable.
    if os.environ.get("FASTOPT_TEST_INSTALLED", "") not in ("", "0"):
        import fastopt
        where = os.path.dirname(os.path.abspath(fastopt.__file__))
        beside = os.path.dirname(where)
        if any(os.path.exists(os.path.join(beside, f)) for f in ("setup.py", "pyproject.toml")):
            raise pytest.UsageError(f"FASTOPT_TEST_INSTALLED is set, but fastopt was imported "
                                    f"from {where}, not from an installed wheel")


@pytest.fixture(autouse=True, scope="session")
def tests_parallel_threshold():
    """The tests' parallel threshold: 2^18 elements, below the default, so that the sizes
    of 300K elements that the tests use take the threaded path without costing the time
    of sizes above the default."""
    from fastopt._core import threads
    threshold = threads.parallel_threshold()
    threads.set_parallel_threshold(1 << 18)
    yield
    threads.set_parallel_threshold(threshold)


@pytest.fixture
def threaded():
    """Force the threaded path on small plans; restore the defaults afterwards."""
    import fastopt
    from fastopt._core import threads
    threshold = threads.parallel_threshold()
    threads.set_parallel_threshold(0)
    yield
    threads.set_parallel_threshold(threshold)
    fastopt.set_num_threads(None)
