"""The Cython math compiled for each CPU level (base, x86-64-v3, x86-64-v4; picked at
import, or by $FASTOPT_CPU) gives bitwise the reference's results for every option set of
every optimizer in the table, in both dtypes and every state precision, at sizes that run
the vector loops and their remainders."""
import functools
import json
import subprocess
import sys

import numpy as np
import pytest

import fastopt
from fastopt.optimizers.table import OPTIMIZERS
from harness import DTYPES, python_env, run

SHAPES = [(1003,), (17,)]
CODE = """
import os, sys
sys.path.insert(0, {tests!r})
from test_cpu_levels import bits
from fastopt._core import _native
print(_native.CPU_LEVEL)
sys.stdout.write(bits('cython'))
"""


@functools.lru_cache
def bits(backend) -> str:
    """{optimizer, options, dtype: the parameters' and state's bytes, in hex} as JSON."""
    out = {}
    for info in OPTIMIZERS:
        cls = getattr(fastopt, info.cls)
        for kwargs in info.option_sets:
            for precision in ("full", "bfloat16", "8bit"):
                if precision != "full" and (not cls.state_is_moments or kwargs.get("centered")):
                    continue
                stored = dict(kwargs, state_precision=precision, min_8bit_size=0)
                for dtype in DTYPES:
                    params, state, _ = run(cls, stored, backend, dtype, shapes=SHAPES, steps=20)
                    arrays = params + [b for i in sorted(state)
                                       for _, b in sorted(state[i].items())]
                    out[f"{info.cls} {kwargs} {precision} {np.dtype(dtype).name}"] = \
                        b"".join(a.tobytes() for a in arrays).hex()
    return json.dumps(out)


@pytest.mark.parametrize("cpu", ["base", "v3", "v4"])
def test_every_cpu_level_gives_the_reference_bits(cpu, tmp_path):
    import os
    tests = os.path.dirname(os.path.abspath(__file__))
    # run from elsewhere, so that the fastopt imported is the one under test, not the sources
    out = subprocess.run([sys.executable, "-c", CODE.format(tests=tests)],
                         env=python_env(FASTOPT_CPU=cpu), capture_output=True, text=True,
                         cwd=tmp_path)
    if out.returncode != 0:
        if "No module named" in out.stderr or "Illegal instruction" in out.stderr \
                or out.returncode < 0:
            pytest.skip(f"CPU level {cpu} is not built or not runnable here")
        raise AssertionError(out.stderr)
    level, got = out.stdout.split("\n", 1)
    assert level == cpu
    got, want = json.loads(got), json.loads(bits("numpy"))
    assert got.keys() == want.keys()
    assert [k for k in want if got[k] != want[k]] == []
