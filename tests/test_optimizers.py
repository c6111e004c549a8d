"""Every optimizer of the table (fastopt.optimizers.table) through the same checks: every
backend bitwise against the NumPy reference (every option set, size, parameter form,
param groups, thread count; parameters and state), the oracle (torch.optim, or optax's
transcription) to rounding, refused hyperparameters and gradients changing nothing,
state_dict resumes, and torch's defaults.  What is particular to one optimizer is in its
own file."""
import numpy as np
import pytest

import fastopt
import oracles
from fastopt.optimizers.table import OPTIMIZERS, OWN_TESTS
from harness import (BACKENDS, DTYPES, SHAPES, SIZES, assert_bitwise, assert_close,
                     check_backend, check_bad_gradients_refused, check_defaults,
                     check_refused, check_resume, deal, default_steps, gradients,
                     groups_snapshot, initial, reference, run, run_torch, snapshot, start)

FAST = ["cython", "numba"]          # held to the reference, the numpy backend


def _id(value):
    """A case's id: its hyperparameters (the first dict of a tuple, the number before)."""
    if isinstance(value, tuple):
        return "-".join(_id(v) for v in value if isinstance(v, (dict, int)))
    if isinstance(value, dict):
        return ",".join(f"{k}={v!r}" for k, v in value.items()) or "defaults"
    return str(value)


def cases(what, *more):
    """pytest params (info, x) for every row and every x of ``what(info)`` (just (info,)
    where ``what`` is None), times the further parameter lists ``more``."""
    if what is None:
        out = [pytest.param(info, id=info.cls) for info in OPTIMIZERS]
    else:
        out = [pytest.param(info, x, id=f"{info.cls}-{_id(x)}")
               for info in OPTIMIZERS for x in what(info)]
    for values in more:
        out = [pytest.param(*p.values, v, id=f"{p.id}-{getattr(v, '__name__', v)}")
               for p in out for v in values]
    return out


def rows(*more):
    return cases(None, *more)


def _cls(info):
    return getattr(fastopt, info.cls)


def oracle(info, kwargs, dtype, groups=None, **run_args):
    """The oracle's run: torch.optim (skipped where torch is missing), or optax's
    transcription (tests/oracles.py)."""
    if info.oracle is None:
        torch = pytest.importorskip("torch")
        return run_torch(getattr(torch.optim, info.torch), kwargs, dtype, groups=groups,
                         **run_args)
    shapes = run_args.get("shapes", SHAPES)
    per_param = [dict(kwargs) for _ in shapes]
    for g in groups or []:
        for i in g["params"]:
            per_param[i].update({k: v for k, v in g.items() if k != "params"})
    steps = run_args.get("steps") or default_steps(shapes)
    return getattr(oracles, info.oracle)(per_param, start(shapes, dtype),
                                         gradients(shapes, dtype, steps))


def _oracle_bitwise(info, kwargs, groups=()):
    """Whether the oracle must agree bitwise: the row says so for these options (given
    to the constructor or to a group)."""
    unless = info.oracle_bitwise_unless
    return unless is not None and not any(
        d.get(k) for d in (kwargs, *groups) for k in unless)


def test_every_exported_optimizer_has_one_row():
    classes = {name for name in fastopt.__all__ if isinstance(getattr(fastopt, name), type)
               and issubclass(getattr(fastopt, name), fastopt.Optimizer)
               and getattr(fastopt, name) is not fastopt.Optimizer}
    assert sorted(info.cls for info in OPTIMIZERS + OWN_TESTS) == sorted(classes)


@pytest.mark.parametrize("info", rows())
def test_row_is_complete(info):
    """Each row varies every hyperparameter (in its options, or between steps where
    torch has no such option) and refuses bad values of each."""
    names = set(_cls(info)([np.zeros(1, np.float32)]).defaults)
    changes = [c if isinstance(c, dict) else c[0] for c in info.hyper_changes]
    assert len(info.option_sets) > 1 and info.groups is not None
    assert {k for o in (*info.option_sets, *changes) for k in o} >= names
    assert {k for bad, _, _ in info.refused for k in bad} \
        | {k for _, change, _ in info.fixed for k in change} >= names


# ---- the math: bitwise against the reference, to rounding against the oracle -------

@pytest.mark.parametrize("info, kwargs, dtype, backend",
                         cases(lambda i: i.option_sets, DTYPES, FAST))
def test_backends_match_reference_bitwise(info, kwargs, dtype, backend):
    check_backend(_cls(info), kwargs, backend, dtype)


@pytest.mark.parametrize("info, kwargs, dtype", cases(lambda i: i.option_sets, DTYPES))
def test_matches_oracle(info, kwargs, dtype):
    """cython's run (bitwise the reference's) against the oracle's."""
    theirs = oracle(info, kwargs, dtype)
    ours = run(_cls(info), kwargs, "cython", dtype)
    if _oracle_bitwise(info, kwargs):
        assert_bitwise(ours, theirs)
    else:
        assert_close(ours, theirs, dtype)


@pytest.mark.parametrize("info, dtype, backend", rows(DTYPES, BACKENDS))
def test_param_groups_match_reference_and_oracle(info, dtype, backend):
    """Param groups with their own hyperparameters, dealt parameters in blocks."""
    spec = deal(len(SHAPES), info.groups.groups)
    kwargs = info.groups.kwargs
    if backend != "numpy":
        check_backend(_cls(info), kwargs, backend, dtype, groups=spec)
        return
    ours = reference(_cls(info), kwargs, dtype, groups=spec)
    theirs = oracle(info, kwargs, dtype, groups=spec)
    if _oracle_bitwise(info, kwargs, info.groups.groups):
        assert_bitwise(ours, theirs)
    else:
        assert_close(ours, theirs, dtype)


def _sized(info):
    return [(n, info.full) for n in SIZES] + [(n, o) for n in SIZES if n <= 1000
                                             for o in info.size_options]


@pytest.mark.parametrize("info, case, dtype, backend", cases(_sized, DTYPES, BACKENDS))
def test_sizes(info, case, dtype, backend):
    """Every size, the threaded one included (the numpy backend, the reference itself,
    in flat form)."""
    size, kwargs = case
    check_backend(_cls(info), kwargs, backend, dtype, shapes=[(size,)],
                  form="flat" if backend == "numpy" else "list")


def test_sizes_reach_the_threaded_path():
    assert max(SIZES) >= fastopt._core._native.get_parallel_threshold()


@pytest.mark.parametrize("info, form, backend", rows(["dict", "flat", "groups"], BACKENDS))
def test_parameter_forms_agree(info, form, backend):
    """A dict, a FlatParams (LAMB's trust ratio is per array inside it too) and param
    groups of the same hyperparameters give bitwise the list's result."""
    check_backend(_cls(info), info.full, backend, np.float32, form=form)


@pytest.mark.parametrize("info, dtype, backend", rows(DTYPES, FAST))
def test_one_and_two_threads_bitwise(threaded, info, dtype, backend):
    """Fixed chunks: the same bits on 1 and 2 threads, and the reference's."""
    shapes = [(70_001,), (33, 40), (0,), (40_000,), (1,)]       # several chunks per array
    results = []
    for n in (1, 2):
        fastopt.set_num_threads(n)
        assert fastopt.get_num_threads() == n
        results.append(run(_cls(info), info.full, backend, dtype, shapes=shapes))
    assert_bitwise(results[0], results[1])
    assert_bitwise(results[0], reference(_cls(info), info.full, dtype, shapes=shapes))


# ---- refusals -------------------------------------------------------------------------

@pytest.mark.parametrize("info, refusal", cases(lambda i: i.refused))
def test_bad_hyperparameters_are_refused(info, refusal):
    bad, exc, match = refusal
    check_refused(_cls(info), info.full, bad, exc, match)


@pytest.mark.parametrize("info, fixed", cases(lambda i: i.fixed))
def test_options_that_decide_the_state_cannot_change(info, fixed):
    """Refused by the next step and by load_state_dict, with nothing changed; the
    built value back, it steps on."""
    built, change, match = fixed
    cls = _cls(info)
    params = initial([(5,), (2, 3)], np.float32)
    opt = cls(params, **built)
    grads = gradients([(5,), (2, 3)], np.float32, 2)
    opt.step(grads[0])
    sd = opt.state_dict()
    sd["param_groups"][0].update(change)
    before, groups = snapshot(opt, params), groups_snapshot(opt)
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(sd)
    assert snapshot(opt, params) == before and groups_snapshot(opt) == groups
    good = {k: opt.param_groups[0][k] for k in change}
    opt.param_groups[0].update(change)
    with pytest.raises(ValueError, match=match):
        opt.step(grads[1])
    assert snapshot(opt, params) == before
    opt.param_groups[0].update(good)
    opt.step(grads[1])
    assert opt.step_count == 2


@pytest.mark.parametrize("info, backend", rows(BACKENDS))
def test_bad_gradients_change_nothing(info, backend):
    check_bad_gradients_refused(_cls(info), info.full, backend)


# ---- state_dict and defaults ------------------------------------------------------------

@pytest.mark.parametrize("info, kwargs, dtype, backend",
                         cases(lambda i: i.option_sets, DTYPES, BACKENDS))
def test_state_dict_resumes_bitwise(info, kwargs, dtype, backend):
    """Saved on one backend, resumed on the next."""
    check_resume(_cls(info), kwargs, backend, dtype,
                 BACKENDS[(BACKENDS.index(backend) + 1) % len(BACKENDS)])


@pytest.mark.parametrize("info", [p for p in rows() if p.values[0].torch])
def test_defaults_are_torchs(info):
    torch = pytest.importorskip("torch")
    check_defaults(_cls(info), getattr(torch.optim, info.torch))
