"""Build of fastopt's compiled kernels (everything else is in pyproject.toml).

Flags follow the kernel rules: -O3 so the loops vectorise, -fno-math-errno so sqrt
vectorises, -fno-trapping-math so selects (weight decay on or off, NaN-propagating max)
become blends (it changes no result, only whether FP exception flags may be raised), -ffp-contract=off so no multiply-add is fused behind our back (results stay
bitwise equal to the numba and NumPy backends), and never -march=native.  OpenMP is used
where a test program compiles and links with it; otherwise the build is serial, with a
warning.
"""
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
import warnings

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

OPENMP_TEST = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def openmp_flags():
    """(compile, link) flags for OpenMP, or None where the compiler has none."""
    if os.environ.get("FASTOPT_DISABLE_OPENMP"):
        return None
    if sys.platform == "win32":
        return ["/openmp"], []
    if sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "omp.c")
        with open(src, "w") as f:
            f.write(OPENMP_TEST)
        for cflags, ldflags in candidates:
            cmd = cc.split() + cflags + [src, "-o", os.path.join(tmp, "omp")] + ldflags
            if subprocess.run(cmd, capture_output=True).returncode == 0:
                return cflags, ldflags
    return None


def compiles_with(flags):
    """Whether the C compiler accepts ``flags``."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as f:
            f.write("int main(void) { return 0; }\n")
        cmd = cc.split() + flags + ["-c", src, "-o", os.path.join(tmp, "t.o")]
        return subprocess.run(cmd, capture_output=True).returncode == 0


def cpu_levels():
    """The math is compiled once per CPU level and the best one is picked at import:
    baseline everywhere, plus x86-64-v3 (AVX2) and v4 (AVX-512) on x86-64 compilers
    that know them.  Shipped code never uses -march=native."""
    levels = {"base": []}
    if platform.machine().lower() in ("x86_64", "amd64") and sys.platform != "win32":
        for name in ("v3", "v4"):
            flags = [f"-march=x86-64-{name}", "-mtune=generic"]
            if compiles_with(flags):
                levels[name] = flags
    elif sys.platform == "win32" and platform.machine().lower() in ("amd64", "x86_64"):
        levels.update(v3=["/arch:AVX2"], v4=["/arch:AVX512"])
    return levels


def extensions():
    if sys.platform == "win32":
        cflags, ldflags = ["/O2", "/fp:precise"], []
    else:
        cflags = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"]
        ldflags = []
    omp = openmp_flags()
    if omp is None:
        warnings.warn("fastopt: the C compiler has no OpenMP; building serial kernels "
                      "(every step runs on one thread)")
        omp = [], []
    common = dict(include_dirs=[numpy.get_include(), "fastopt"],
                  define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")])
    exts = [Extension("fastopt._kernels", ["fastopt/_kernels.pyx"],
                      extra_compile_args=cflags + omp[0], extra_link_args=ldflags + omp[1],
                      **common)]
    for name, flags in cpu_levels().items():
        exts.append(Extension(f"fastopt._math_{name}", [f"fastopt/_math_{name}.pyx"],
                              extra_compile_args=cflags + flags, extra_link_args=ldflags,
                              **common))
    return exts


setup(ext_modules=cythonize(extensions(), compiler_directives={"language_level": "3"}))
