"""What a user gets from pip: the version, the type information, the compiled modules
and, for wheels tested by CI (FASTOPT_TEST_INSTALLED=1), OpenMP."""
import importlib
import importlib.util
import os
import platform
import sys

import pytest

import fastopt
from fastopt._core import _native

INSTALLED = os.environ.get("FASTOPT_TEST_INSTALLED", "") not in ("", "0")
PACKAGE = os.path.dirname(os.path.abspath(fastopt.__file__))


def test_version_has_one_source():
    from fastopt._version import __version__
    assert fastopt.__version__ == __version__
    if INSTALLED:
        from importlib.metadata import version
        assert version("fastopt") == __version__


def test_typed_package():
    assert os.path.exists(os.path.join(PACKAGE, "py.typed"))
    assert os.path.exists(os.path.join(PACKAGE, "_core", "_native.pyi"))


def test_cpu_level_modules():
    """The dispatch picked a level that was built; Linux x86-64 wheels have all three
    levels (only looked up here: importing one this CPU can't run could crash)."""
    assert _native.CPU_LEVEL in ("base", "v3", "v4")
    assert importlib.util.find_spec(f"fastopt._backends.cython._math_{_native.CPU_LEVEL}") is not None
    assert importlib.util.find_spec("fastopt._backends.cython._math_base") is not None
    x86 = platform.machine().lower() in ("x86_64", "amd64") and sys.maxsize > 2**32
    if INSTALLED and x86 and sys.platform.startswith("linux"):
        for level in ("v3", "v4"):
            assert importlib.util.find_spec(f"fastopt._backends.cython._math_{level}") is not None, level


@pytest.mark.skipif(not INSTALLED, reason="a local build may be serial on purpose")
def test_wheel_has_openmp():
    assert _native.openmp_enabled()
