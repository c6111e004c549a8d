"""The numba backend's kernels are numba cfuncs run by the Cython backend's C driver
(fastopt._core._native): its steps are _native Stages (one C call, committed atomically,
threaded by fastopt.set_num_threads), each kernel is compiled per dtype when a plan of that
dtype first binds it, and numba's disk cache serves no stale kernel after an edit of the
helpers that the kernels inline (which numba's own cache key does not cover)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastopt
from fastopt._core import _native

pytest.importorskip("numba")
from fastopt._backends import numba as backend  # noqa: E402


def test_steps_are_native_stages():
    assert backend.Program is _native.Program
    assert backend.TrustRatios is _native.TrustRatios
    for cls, kwargs in ((fastopt.Adam, {}), (fastopt.Lamb, {}),
                        (fastopt.SGD, {"momentum": .9})):
        p = [np.zeros(40, np.float32), np.zeros((3, 5), np.float32)]
        opt = cls(p, backend="numba", **kwargs)
        opt.step([np.ones(40, np.float32), np.ones((3, 5), np.float32)])
        assert opt.step_count == 1
        assert opt._runs and all(isinstance(r, _native.Stage) for r in opt._runs)
        assert opt._compiled            # committed in one C call (Ctrl-C atomic)


def test_a_bound_kernel_is_a_native_bound_kernel():
    from fastopt._core.kernel import SCALE
    from fastopt._core.plan import address, chunk_table
    g = np.full(37, 3.0, np.float32)
    addrs = np.array([[0, address(g)]], np.int64)
    run = backend.bind(SCALE, addrs, chunk_table([37]), np.float32, 37)
    assert isinstance(run, _native.BoundKernel)
    run((0.5,))
    np.testing.assert_array_equal(g, 1.5)


def _python(code: str, env: dict | None = None) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_each_dtype_is_compiled_on_its_first_bind():
    out = _python(
        "import numpy as np, fastopt\n"
        "from fastopt._backends import numba as nb\n"
        "p, g = [np.zeros(8, np.float32)], [np.ones(8, np.float32)]\n"
        "fastopt.Adam(p, backend='numba').step(g)\n"
        "print(sorted(nb._CFUNCS))\n"
        "fastopt.Adam([np.zeros(8)], backend='numba').step([np.ones(8)])\n"
        "print(sorted(nb._CFUNCS))\n")
    first, second = out.splitlines()
    assert first == "[('adam', 'float32')]"
    assert second == "[('adam', 'float32'), ('adam', 'float64')]"


def test_a_kernel_compiled_for_one_dtype_refuses_the_other():
    """What the lazy compile relies on: a kernel_at with one address is not bound to the
    other dtype (bind compiles that dtype first)."""
    from fastopt._core.kernel import SCALE
    k = _native.kernel_at("scale", 0, 1, 1, 0, 0)
    from fastopt._core.plan import chunk_table
    with pytest.raises(TypeError, match="not compiled for float32"):
        _native.bind(SCALE, np.zeros((1, 2), np.int64), chunk_table([1]), np.float32, 1,
                     kernels={"scale": k})


STEP = ("import numpy as np, fastopt\n"
        "from fastopt._backends import numba as nb\n"
        "p = [np.ones(20, np.float32)]\n"
        "fastopt.SGD(p, lr=1.0, backend='numba').step([np.ones(20, np.float32)])\n"
        "print(p[0][0], nb._CFUNCS['sgd', 'float32'].cache_hits)\n")


def test_the_disk_cache_follows_edits_of_the_inlined_helpers(tmp_path):
    """A copy of fastopt whose _common.grad doubles the gradient: the kernel compiled
    before the edit is served from the cache until the edit, and not after it."""
    copy = tmp_path / "fastopt"
    src = os.path.dirname(fastopt.__file__)
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__", "*.c"))
    # an installed wheel's bundled OpenMP runtime sits beside the package (auditwheel)
    libs = os.path.join(os.path.dirname(src), "fastopt.libs")
    if os.path.isdir(libs):
        shutil.copytree(libs, tmp_path / "fastopt.libs")
    env = {"PYTHONPATH": str(tmp_path), "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    assert _python(STEP, env) == "0.0 0"             # compiled
    assert _python(STEP, env) == "0.0 1"             # from the cache
    common = copy / "_backends" / "numba" / "_common.py"
    text = common.read_text()
    assert "    g = g * gscale\n" in text
    stat = os.stat(common)
    common.write_text(text.replace("    g = g * gscale\n", "    g = g * gscale * 2\n"))
    os.utime(common, ns=(stat.st_atime_ns, stat.st_mtime_ns))   # not even the time tells
    assert _python(STEP, env) == "-1.0 0"            # recompiled with the edit
    assert _python(STEP, env) == "-1.0 1"


def test_digest_covers_the_kernel_file_and_the_shared_files(tmp_path):
    from fastopt._backends.numba import driver
    kernel = tmp_path / "k.py"
    kernel.write_text("a")
    before = driver.digest(str(kernel))
    kernel.write_text("b")
    assert driver.digest(str(kernel)) != before
    assert driver.SHARED == ("driver.py", "_common.py")


def test_numba_and_cython_threaded_steps_are_bitwise_equal():
    n = 1 << 19                      # above the parallel threshold: 2 OpenMP threads
    fastopt.set_num_threads(2)
    try:
        out = {}
        for b in ("cython", "numba"):
            w = np.linspace(-1, 1, n).astype(np.float32)
            opt = fastopt.Adam([w], lr=0.1, backend=b)
            for _ in range(3):
                opt.step([np.cos(np.arange(n, dtype=np.float32))])
            out[b] = w
        assert np.array_equal(out["cython"], out["numba"])
    finally:
        fastopt.set_num_threads(None)


def test_chunk_functions_cannot_fail(dtype="float32"):
    """They run on the driver's OpenMP threads without the GIL: the compiled kernel returns
    no error status (so the cfunc wrapper's path that takes the GIL to report an error is
    dead), allocates nothing and calls nothing but sqrt (the rest of the math is LLVM
    intrinsics).  An np.zeros in a kernel fails this.  (numba's private API: the optimized
    module of each cfunc, compiled here without the cache, whose code numba cannot show;
    one dtype: the same code, and 7 s of compiling each.)"""
    import re
    from fastopt._backends.numba import driver
    for name, kernel in backend.KERNELS.items():
        library = driver.compile(name, kernel, dtype, cache=False)._library
        bodies = [str(f) for f in library._final_module.functions
                  if not f.is_declaration and f.name.startswith("_ZN7fastopt")]
        assert len(bodies) == 1, f"{name} {dtype}: {len(bodies)} kernel functions"
        statuses = set(re.findall(r"\bret i32 ([^\s,]+)", bodies[0]))
        calls = {c for c in re.findall(r"\bcall\b[^@\n]*@([\w.$]+)", bodies[0])
                 if not c.startswith("llvm.")}
        assert statuses == {"0"}, f"{name} {dtype} may return an error status: {statuses}"
        assert calls <= {"sqrt", "sqrtf"}, f"{name} {dtype} calls {sorted(calls)}"
