"""Adam, AdamW and AMSGrad: every backend, dtype and option against the NumPy reference,
against each other, and against torch.optim."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastopt
from harness import (BACKENDS, DTYPES, SIZES, assert_bitwise, assert_close, python_env,
                     run_fastopt, run_torch)

OPTIONS = [
    dict(),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    dict(weight_decay=0.1),
    dict(weight_decay=0.1, decoupled_weight_decay=True),
    dict(amsgrad=True),
    dict(amsgrad=True, weight_decay=0.05, maximize=True),
    dict(maximize=True, lr=0.003),
    dict(betas=(0.0, 0.0)),
]


@pytest.mark.parametrize("backend", ["cython", "numba"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_backends_match_reference_bitwise(backend, dtype, kwargs):
    ref = run_fastopt(fastopt.Adam, kwargs, "numpy", dtype)
    assert_bitwise(run_fastopt(fastopt.Adam, kwargs, backend, dtype), ref)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_sizes(backend, dtype, size):
    kwargs = dict(lr=0.01, amsgrad=True, weight_decay=0.01)
    ref = run_fastopt(fastopt.Adam, kwargs, "numpy", dtype, shapes=[(size,)], steps=50)
    assert_bitwise(run_fastopt(fastopt.Adam, kwargs, backend, dtype, shapes=[(size,)]), ref)


@pytest.mark.parametrize("form", ["flat", "dict"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_parameter_forms_agree(form, backend):
    kwargs = dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)
    ref = run_fastopt(fastopt.Adam, kwargs, "numpy", np.float32)
    assert_bitwise(run_fastopt(fastopt.Adam, kwargs, backend, np.float32, form=form), ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_matches_torch_adam(dtype, kwargs):
    torch = pytest.importorskip("torch")
    ours = run_fastopt(fastopt.Adam, kwargs, "cython", dtype)
    assert_close(ours, run_torch(torch.optim.Adam, kwargs, dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [dict(), dict(weight_decay=0.3, amsgrad=True),
                                    dict(maximize=True, weight_decay=0.0)], ids=str)
def test_adamw_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    ours = run_fastopt(fastopt.AdamW, kwargs, "cython", dtype)
    assert_close(ours, run_torch(torch.optim.AdamW, kwargs, dtype), dtype)


def test_adamw_is_adam_with_decoupled_decay():
    a = run_fastopt(fastopt.AdamW, dict(lr=0.01), "cython", np.float32)
    b = run_fastopt(fastopt.Adam, dict(lr=0.01, weight_decay=1e-2,
                                       decoupled_weight_decay=True), "cython", np.float32)
    assert_bitwise(a, b)
    assert fastopt.AdamW([np.zeros(1, np.float32)]).defaults["weight_decay"] == 1e-2


def test_defaults_are_torchs():
    torch = pytest.importorskip("torch")
    ours = fastopt.Adam([np.zeros(1, np.float32)]).defaults
    theirs = torch.optim.Adam([torch.zeros(1, requires_grad=True)]).defaults
    for key, value in ours.items():
        assert theirs[key] == value, key


@pytest.mark.parametrize("cpu", ["base", "v3", "v4"])
def test_every_cpu_level_gives_the_same_bits(cpu, tmp_path):
    """The math compiled for each CPU level (picked at import) agrees bitwise."""
    tests = os.path.dirname(os.path.abspath(__file__))
    code = (f"import numpy as np, fastopt, sys; sys.path.insert(0, {tests!r}); "
            "from harness import run_fastopt; from fastopt._core import _native; "
            "print(_native.CPU_LEVEL); "
            "ps = run_fastopt(fastopt.Adam, dict(amsgrad=True, weight_decay=0.1), 'cython', "
            "np.float32, shapes=[(1003,)]) + run_fastopt(fastopt.Adam, dict(lr=0.1), "
            "'cython', np.float64, shapes=[(1003,)]); "
            "sys.stdout.write(b''.join(p.tobytes() for p in ps).hex())")
    env = python_env(FASTOPT_CPU=cpu)
    # run from elsewhere, so that the fastopt imported is the one under test, not the sources
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=tmp_path)
    if out.returncode != 0:
        if f"No module named 'fastopt._backends.cython._math_{cpu}'" in out.stderr or out.returncode < 0:
            pytest.skip(f"CPU level {cpu} is not built or not runnable here")
        raise AssertionError(out.stderr)
    level, bits = out.stdout.split("\n", 1)
    assert level == cpu
    ps = run_fastopt(fastopt.Adam, dict(amsgrad=True, weight_decay=0.1), "numpy", np.float32,
                     shapes=[(1003,)]) + run_fastopt(fastopt.Adam, dict(lr=0.1), "numpy",
                                                     np.float64, shapes=[(1003,)])
    assert bits == b"".join(p.tobytes() for p in ps).hex()
