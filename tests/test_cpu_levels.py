"""The Cython math compiled for each CPU level (base, x86-64-v3, x86-64-v4; picked at
import, or by $FASTOPT_CPU) gives bitwise the reference's results for every optimizer
here, in both dtypes, at a size that runs the vector loops and their remainders."""
import functools
import os
import subprocess
import sys

import numpy as np
import pytest

import fastopt
from harness import run_fastopt

CASES = [
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.3, maximize=True)),
    ("SGD", dict(lr=0.01)),
    ("RMSprop", dict(centered=True, momentum=0.9, weight_decay=0.1, lr=0.001)),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(momentum=0.5, lr=0.001)),
    ("RMSprop", dict()),
    ("Adagrad", dict(lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.1)),
    ("Adadelta", dict(rho=0.95, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(betas=(0.8, 0.99), weight_decay=0.1)),
]
CODE = """
import sys, numpy as np, fastopt
sys.path.insert(0, 'tests')
from harness import run_fastopt
from test_cpu_levels import bits
from fastopt._core import _native
print(_native.CPU_LEVEL)
sys.stdout.write(bits('cython'))
"""


@functools.lru_cache
def bits(backend):
    out = []
    for name, kwargs in CASES:
        for dtype in (np.float32, np.float64):
            ps = run_fastopt(getattr(fastopt, name), kwargs, backend, dtype, shapes=[(1003,)],
                             steps=10)
            out.append(b"".join(p.tobytes() for p in ps).hex())
    return "".join(out)


@pytest.mark.parametrize("cpu", ["base", "v3", "v4"])
def test_every_cpu_level_gives_the_reference_bits(cpu):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", CODE], env=dict(os.environ, FASTOPT_CPU=cpu),
                         capture_output=True, text=True, cwd=root)
    if out.returncode != 0:
        if "No module named" in out.stderr or "Illegal instruction" in out.stderr \
                or out.returncode < 0:
            pytest.skip(f"CPU level {cpu} is not built or not runnable here")
        raise AssertionError(out.stderr)
    level, got = out.stdout.split("\n", 1)
    assert level == cpu
    assert got == bits("numpy")
