"""pytest-benchmark suite.  Sizes of 1e6 elements and more are marked ``large`` and
skipped unless ``--large`` is given, so ``pytest benches/ --benchmark-disable`` is a quick
smoke test (each benchmark runs once) and ``pytest benches/ --large`` the full run."""
import pytest


def pytest_addoption(parser):
    parser.addoption("--large", action="store_true", default=False,
                     help="also run the large sizes (1e6 and 1e7 elements)")
    parser.addoption("--case", action="append", default=[], metavar="NAME",
                     help="only these benchmark cases (fastopt._bench.cases.CASES ids, e.g. Adam, "
                          "SGD-momentum; repeat or comma-separate)")


def pytest_configure(config):
    config.addinivalue_line("markers", "large: 1e6 elements or more; run with --large")


def pytest_collection_modifyitems(config, items):
    wanted = {n.strip().lower() for arg in config.getoption("--case") for n in arg.split(",")
              if n.strip()}
    if wanted:
        keep, drop = [], []
        for item in items:
            case = getattr(item, "callspec", None) and item.callspec.params.get("case")
            (drop if case is not None and case.id.lower() not in wanted else keep).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
    if config.getoption("--large"):
        return
    skip = pytest.mark.skip(reason="large size: run with --large")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip)

