"""Every backend's kernels follow the one definition of their interface, the ``Kernel``
(fastopt/_core/kernel.py): the NumPy functions take ``Kernel.arguments``; the Cython and
numba kernels read buffer j and scalar k into variables named as the definition's j-th
buffer and k-th scalar; each registry holds exactly the defined kernels.

The bitwise tests catch a kernel that reads a wrong position only where the values
differ; these checks catch it by name.
"""
from __future__ import annotations

import inspect
import os
import re

import numpy as np
import pytest

import fastopt
from fastopt._core.kernel import SCALE, TOOLKIT, Kernel
from fastopt._core.optimizer import Optimizer

BACKENDS = os.path.join(os.path.dirname(fastopt.__file__), "_backends")


def _definitions() -> dict[str, Kernel]:
    """Every Kernel: the toolkit's and those of every optimizer class (``kernel``, and
    any other Kernel attribute such as LAMB's ``update_kernel``)."""
    found = {k.name: k for k in TOOLKIT}
    todo = [Optimizer]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        for k in vars(cls).values():
            if isinstance(k, Kernel) and k.chunked:
                assert found.get(k.name, k) is k or _same(found[k.name], k), \
                    f"two different kernels are named {k.name}"
                found[k.name] = k
    return found


def _same(a: Kernel, b: Kernel) -> bool:
    return (a.buffers, a.all_scalars, a.seg_in, a.outputs) == \
        (b.buffers, b.all_scalars, b.seg_in, b.outputs)


DEFINED = _definitions()
NAMES = sorted(DEFINED)


def _without_comments(source: str, comment: str = "#") -> str:
    """Source with its comments and string literals blanked out."""
    source = re.sub(r'"""[\s\S]*?"""', '""', source)
    return re.sub(re.escape(comment) + r".*", "", source)


def _functions(source: str) -> dict[str, str]:
    """Top-level function name -> its text (the def line and its indented body)."""
    found: dict[str, str] = {}
    pattern = re.compile(r"^(?:cdef|cpdef|def)\b[^\n(]*?\b(\w+)\s*\(", re.M)
    starts = [(m.start(), m.group(1)) for m in pattern.finditer(source)]
    for i, (start, name) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(source)
        found[name] = source[start:end]
    return found


def _check_reads(kernel: Kernel, backend: str, text: str, read: str, what: str,
                 names: tuple[str, ...]) -> int:
    """Every read of position j in ``text`` (``read`` is a regex with the position as its
    group 'j' and the variable it is read into as its group 'name') must be into
    ``names[j]``; returns how many reads were checked."""
    reads = list(re.finditer(read, text))
    for m in reads:
        j, name = int(m.group("j")), m.group("name")
        assert j < len(names), (
            f"kernel {kernel.name!r}, backend {backend}: reads {what} {j}, but the kernel "
            f"has only {len(names)} {what}s {names}")
        assert name == names[j], (
            f"kernel {kernel.name!r}, backend {backend}: {what} {j} is read into {name!r}, "
            f"but the Kernel names {what} {j} {names[j]!r} (all: {names})")
    return len(reads)


def _check_no_other_reads(kernel: Kernel, backend: str, text: str, any_read: str,
                          named_read: str, what: str) -> None:
    """Every position read (``any_read``) is read by a named assignment (``named_read``)."""
    every = [m.start() for m in re.finditer(any_read, text)]
    named = {m.start("read") for m in re.finditer(named_read, text)}
    loose = [text[max(0, at - 30):at + 12].replace("\n", " ") for at in every if at not in named]
    assert not loose, (
        f"kernel {kernel.name!r}, backend {backend}: {what} read without being assigned to "
        f"a variable of its name: {loose}")

def _check_compiled_source(kernel: Kernel, backend: str, text: str,
                           patterns: tuple[tuple[str, str], ...]) -> None:
    """A compiled kernel's source ``text`` reads its buffers, scalars and seg_in inputs
    (``patterns``: the named read and any read of each, in that order) into variables of
    the Kernel's names, reads nothing else, and writes only the Kernel's outputs."""
    checked = 0
    for (named, loose), what, names in zip(
            patterns, ("buffer", "scalar", "seg_in input"),
            (("p", "g") + kernel.buffers, kernel.all_scalars, kernel.seg_in)):
        _check_no_other_reads(kernel, backend, text, loose, named, what)
        checked += _check_reads(kernel, backend, text, named, what, names)
    outputs = [int(j) for j in re.findall(r"\bout\[(\d+)\]", text)]
    assert all(j < len(kernel.outputs) for j in outputs), (
        f"kernel {kernel.name!r}, backend {backend}: writes out{sorted(set(outputs))}, but "
        f"the Kernel has the outputs {kernel.outputs}")
    assert checked, f"kernel {kernel.name!r}, backend {backend}: no named read found"



# ---- (a) NumPy ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_numpy_signature_is_the_kernel_arguments(name):
    from fastopt._backends import numpy as backend
    kernel = DEFINED[name]
    fn = backend.KERNELS[name]
    params = tuple(inspect.signature(fn).parameters)
    for j, (got, want) in enumerate(zip(params, kernel.arguments)):
        assert got == want, (
            f"kernel {name!r}, backend numpy: parameter {j} of {fn.__module__}.{fn.__name__} "
            f"is {got!r}, the Kernel's argument {j} is {want!r} (all: {kernel.arguments})")
    assert params == kernel.arguments, (
        f"kernel {name!r}, backend numpy: {fn.__name__} takes {params}, the Kernel's "
        f"arguments are {kernel.arguments}")


# ---- (b) Cython --------------------------------------------------------------------------

def _cython_sources() -> dict[str, str]:
    """Kernel function name (NAME_chunk and its helpers _NAME_*) -> source, from every
    .pxi of the source tree."""
    folder = os.path.join(BACKENDS, "cython")
    pxis = [f for f in os.listdir(folder) if f.endswith(".pxi")] if os.path.isdir(folder) else []
    if "math.pxi" not in pxis:
        pytest.skip(f"the Cython sources (.pxi) are not in {folder} (an installed wheel "
                    f"ships only the compiled modules)")
    found: dict[str, str] = {}
    for f in pxis:
        with open(os.path.join(folder, f)) as fh:
            found.update(_functions(_without_comments(fh.read())))
    return found


CYTHON_B = r"(?P<name>\w+)\s*=\s*(?:<[^>]+>\s*)?(?P<read>\bb\[(?P<j>\d+)\])"
CYTHON_S = r"(?P<name>\w+)\s*=\s*(?:<[^>]+>\s*)?(?P<read>\bs\[(?P<j>\d+)\])"
CYTHON_SEG = r"(?P<name>\w+)\s*=\s*(?:<[^>]+>\s*)?(?P<read>\bseg_in\[(?P<j>\d+)\])"


@pytest.mark.parametrize("name", NAMES)
def test_cython_reads_buffers_and_scalars_by_their_names(name):
    kernel = DEFINED[name]
    sources = _cython_sources()
    assert f"{name}_chunk" in sources, \
        f"kernel {name!r}, backend cython: no {name}_chunk in the .pxi files"
    text = "".join(src for fn, src in sources.items()
                   if fn == f"{name}_chunk" or fn.startswith(f"_{name}_"))
    _check_compiled_source(kernel, "cython", text, (
        (CYTHON_B, r"\bb\["), (CYTHON_S, r"\bs\["), (CYTHON_SEG, r"\bseg_in\[")))


def test_cython_has_a_bfloat16_form_of_every_kernel_that_may_keep_bfloat16_state():
    """The compiled backend runs bfloat16 state through a kernel's own bfloat16 form; a
    kernel without one would still give the same bits (through the stored chunk function),
    only slower, so only this test would notice."""
    from fastopt._core import _native
    want, todo = set(), [Optimizer]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.state_is_moments:
            want |= {k.name for k in vars(cls).values()
                     if isinstance(k, Kernel) and k.buffers and k.decodes_state and k.chunked}
    assert want, "no optimizer kernel with state found"
    assert set(_native._math.bfloat16_kernels()) == want


@pytest.mark.parametrize("name", NAMES)
def test_cython_kernels_report_the_arity(name):
    from fastopt._core import _native
    kernel = DEFINED[name]
    entry = _native._math.kernels()[name]
    for got, want, what in ((entry[2], len(kernel.all_scalars), "scalars"),
                            (entry[3], len(kernel.seg_in), "seg_in inputs"),
                            (entry[4], len(kernel.outputs), "outputs")):
        assert got == want, (f"kernel {name!r}, backend cython: kernels() reports {got} "
                             f"{what}, the Kernel has {want}")


# ---- (c) numba ---------------------------------------------------------------------------

NUMBA_B = r"(?P<name>\w+)\s*=\s*\bcarray\((?P<read>\bb\[(?P<j>\d+)\]),\s*n\)"
NUMBA_S = r"(?P<name>\w+)\s*=\s*(?:\w+\()?(?P<read>\bs\[(?P<j>\d+)\])"
NUMBA_SEG = r"(?P<name>\w+)\s*=\s*(?:\w+\()?(?P<read>\bseg_in\[(?P<j>\d+)\])"


@pytest.mark.parametrize("name", NAMES)
def test_numba_reads_buffers_and_scalars_by_their_names(name):
    pytest.importorskip("numba")
    from fastopt._backends import numba as backend
    kernel = DEFINED[name]
    fn = backend.KERNELS[name].py_func
    text = _without_comments(inspect.getsource(fn))
    _check_compiled_source(kernel, "numba", text, (
        (NUMBA_B, r"\bb\["), (NUMBA_S, r"\bs\["), (NUMBA_SEG, r"\bseg_in\[")))


# ---- (d) the registries ------------------------------------------------------------------

def _registry(backend: str) -> set[str]:
    if backend == "cython":
        from fastopt._core import _native
        return set(_native._math.kernels())
    if backend == "numba":
        pytest.importorskip("numba")
    module = __import__(f"fastopt._backends.{backend}", fromlist=["KERNELS"])
    return set(module.KERNELS)


@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_registry_holds_exactly_the_defined_kernels(backend):
    held = _registry(backend)
    assert held == set(DEFINED), (
        f"backend {backend}: kernels defined but missing: {sorted(set(DEFINED) - held)}; "
        f"kernels held but not defined: {sorted(held - set(DEFINED))}")


# ---- bind refuses a kernel whose scalar count differs ------------------------------------

@pytest.mark.parametrize("backend", ["cython", "numba", "numpy"])
def test_a_wrong_number_of_scalars_is_refused(backend):
    if backend == "numba":
        pytest.importorskip("numba")
    module = __import__(f"fastopt._backends.{backend}", fromlist=["bind"])
    p, g = np.ones(4, np.float32), np.ones(4, np.float32)
    from fastopt._core.plan import address, chunk_table
    addrs = np.array([[address(p), address(g)]], np.int64)
    run = module.bind(SCALE, addrs, chunk_table([4]), np.float32, 4)
    # The NumPy function's own signature refuses it (at no cost per step).
    with pytest.raises(TypeError if backend == "numpy" else ValueError, match="scale"):
        run((2.0, 3.0))
    run((2.0,))
    np.testing.assert_array_equal(g, 2.0)


@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_bind_refuses_a_kernel_whose_arity_is_not_its_definitions(backend):
    module = __import__(f"fastopt._backends.{backend}", fromlist=["bind"])
    from fastopt._core.plan import address, chunk_table
    p, g = np.ones(4, np.float32), np.ones(4, np.float32)
    addrs = np.array([[address(p), address(g)]], np.int64)
    wrong = Kernel("scale", (), ("factor", "offset"), gscale=False)
    with pytest.raises(ValueError, match="kernel scale"):
        module.bind(wrong, addrs, chunk_table([4]), np.float32, 4)
