"""Build of fastopt's compiled kernels (everything else is in pyproject.toml).

Flags follow the kernel rules: -O3 so the loops vectorise, -fno-math-errno so sqrt
vectorises, -fno-trapping-math so selects (weight decay on or off, NaN-propagating max)
become blends (it changes no result, only whether FP exception flags may be raised),
-ffp-contract=off so no multiply-add is fused behind our back (results stay bitwise equal
to the numba and NumPy backends), and never -march=native in what is shipped.

The optimizers' math is compiled once per CPU level (``_math_base``, ``_math_v3``,
``_math_v4``) and ``fastopt._core._native`` picks the best one the CPU runs at import.

OpenMP is used where a test program compiles and links with it (``-fopenmp``; MSVC
``/openmp``; macOS ``-Xpreprocessor -fopenmp -lomp`` with Homebrew's or $LIBOMP_PREFIX's
libomp, or the include/library paths given in CPPFLAGS/LDFLAGS); otherwise the build is
serial, with a warning.

Environment knobs:
  FASTOPT_DISABLE_OPENMP=1   build serial kernels even where the compiler has OpenMP
  FASTOPT_NATIVE=1           compile everything with -march=native, for local experiments
                             only (a wheel built so may crash on another CPU; never ship it)
"""
import os
import platform
import re
import shlex
import struct
import subprocess
import sys
import sysconfig
import tempfile
import warnings

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OPENMP_TEST = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""

MSVC = sys.platform == "win32"


def env_on(name):
    """Whether environment variable ``name`` is set to something other than 0/false/no/off."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def try_compile(source, cflags, ldflags=(), link=True):
    """Whether the C compiler (with the environment's CPPFLAGS/CFLAGS/LDFLAGS/ARCHFLAGS,
    as the real build uses them) builds ``source`` with ``cflags`` and ``ldflags``."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    env_flags = [f for var in ("ARCHFLAGS", "CPPFLAGS", "CFLAGS")
                 for f in shlex.split(os.environ.get(var, ""))]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as f:
            f.write(source)
        out = os.path.join(tmp, "t" if link else "t.o")
        cmd = shlex.split(cc) + env_flags + list(cflags) + [src, "-o", out]
        if link:
            cmd += shlex.split(os.environ.get("LDFLAGS", "")) + list(ldflags)
        else:
            cmd.insert(-3, "-c")
        try:
            return subprocess.run(cmd, capture_output=True).returncode == 0
        except OSError:
            return False


def openmp_flags():
    """(compile, link) flags for OpenMP, or None where the compiler has none."""
    if env_on("FASTOPT_DISABLE_OPENMP"):
        return None
    if MSVC:
        return ["/openmp"], []
    candidates = []
    if sys.platform == "darwin":
        # Apple's clang has OpenMP only through the preprocessor, with libomp beside it.
        candidates.append((["-Xpreprocessor", "-fopenmp"], ["-lomp"]))
        for prefix in (os.environ.get("LIBOMP_PREFIX"), "/opt/homebrew/opt/libomp",
                       "/usr/local/opt/libomp"):
            if prefix and os.path.exists(os.path.join(prefix, "include", "omp.h")):
                candidates.append((["-Xpreprocessor", "-fopenmp", f"-I{prefix}/include"],
                                   [f"-L{prefix}/lib", "-lomp"]))
    candidates.append((["-fopenmp"], ["-fopenmp"]))
    for cflags, ldflags in candidates:
        if try_compile(OPENMP_TEST, cflags, ldflags):
            return cflags, ldflags
    return None


def is_musl():
    return sys.platform.startswith("linux") and "musl" in (
        sysconfig.get_config_var("HOST_GNU_TYPE") or sysconfig.get_config_var("MULTIARCH")
        or "")


def target_is_x86_64():
    """Whether the extension is built for (only) x86-64.  On macOS the target comes from
    ARCHFLAGS where it is set (cross and universal2 builds), not from the build machine."""
    if sys.platform == "darwin" and os.environ.get("ARCHFLAGS"):
        return re.findall(r"-arch\s+(\S+)", os.environ["ARCHFLAGS"]) == ["x86_64"]
    return (platform.machine().lower() in ("x86_64", "amd64")
            and struct.calcsize("P") == 8)


def cpu_levels():
    """The CPU levels the math is compiled for, with their flags.

    Baseline everywhere; x86-64-v3 (AVX2, FMA) and x86-64-v4 (AVX-512) only where the
    import-time dispatch can choose them: GCC or clang on glibc or macOS x86-64.  Not on
    aarch64 or other CPUs (baseline only), not on musl (the dispatch is only relied on with
    glibc), not with MSVC (fastopt._core._native has no CPU detection there, so the levels would
    never be picked)."""
    levels = {"base": []}
    if MSVC or is_musl() or not target_is_x86_64():
        return levels
    for name in ("v3", "v4"):
        flags = [f"-march=x86-64-{name}", "-mtune=generic"]
        if try_compile("int main(void) { return 0; }\n", flags, link=False):
            levels[name] = flags
    return levels


def extensions():
    if MSVC:
        # /fp:precise: no fast-math; VS 2022 and later fuse no multiply-adds under it.
        cflags, ldflags = ["/O2", "/fp:precise"], []
    else:
        cflags = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"]
        ldflags = []
    levels = cpu_levels()
    if env_on("FASTOPT_NATIVE"):
        if MSVC:
            warnings.warn("fastopt: FASTOPT_NATIVE is ignored with MSVC")
        else:
            warnings.warn("fastopt: FASTOPT_NATIVE=1: compiling with -march=native; this "
                          "build runs only on CPUs like this one and must not be shipped")
            cflags = cflags + ["-march=native"]
            levels = {name: [] for name in levels}
    omp = openmp_flags()
    if omp is None:
        warnings.warn("fastopt: the C compiler has no OpenMP (or FASTOPT_DISABLE_OPENMP is "
                      "set); building serial kernels (every step runs on one thread)")
        omp = [], []
    common = dict(include_dirs=[numpy.get_include(), "src/fastopt/_core"],
                  define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")])
    exts = [Extension("fastopt._core._native", ["src/fastopt/_core/_native.pyx"],
                      extra_compile_args=cflags + omp[0], extra_link_args=ldflags + omp[1],
                      **common)]
    exts.append(Extension("fastopt.optimizers._step_scalars",
                          ["src/fastopt/optimizers/_step_scalars.pyx"],
                          extra_compile_args=cflags, extra_link_args=ldflags))
    for name, flags in levels.items():
        exts.append(Extension(f"fastopt._backends.cython._math_{name}",
                              [f"src/fastopt/_backends/cython/_math_{name}.pyx"],
                              extra_compile_args=cflags + flags, extra_link_args=ldflags,
                              **common))
    return exts


class BuildExt(build_ext):
    """build_ext that compiles the extensions in parallel unless told otherwise (-j)."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1


setup(ext_modules=cythonize(extensions(), compiler_directives={"language_level": "3"}),
      cmdclass={"build_ext": BuildExt})
