"""The core checks a group's hyperparameters once and again only when one of them is
replaced (Optimizer._group_step).  These tests hold that cache to the uncached
behaviour: every change takes effect on the next step, every bad value is still refused,
and values that can change in place (a list of betas) are checked on every step."""
import numpy as np
import pytest

import fastopt
from fastopt.optimizers.table import BUILT_AS_BASE, FIRST_ONLY, NO_EFFECT, OPTIMIZERS
from harness import initial, snapshot


def _params(n=8):
    return [np.linspace(-1, 1, n).astype(np.float32)]


def _grads(n=8):
    return [np.full(n, 0.5, np.float32)]


def _fresh_scalars(step, **kwargs):
    return fastopt.Adam(_params(), **kwargs)._group_step(0, step)[0]


def test_every_new_lr_takes_effect():
    opt = fastopt.Adam(_params(), lr=0.1)
    for t in range(1, 60):
        lr = float(f"{0.1 / t:.6g}")     # a new float object every step, ids get reused
        opt.param_groups[0]["lr"] = lr
        assert opt._group_step(0, t)[0] == _fresh_scalars(t, lr=lr)
        opt.step(_grads())


@pytest.mark.parametrize("key, value", [("lr", -1.0), ("lr", float("nan")), ("lr", True),
                                        ("eps", 0.0), ("betas", (0.9, 1.0)),
                                        ("weight_decay", -0.1), ("maximize", 1),
                                        ("amsgrad", True)])
def test_bad_value_after_cached_steps_is_refused(key, value):
    params = _params()
    opt = fastopt.Adam(params, lr=1.0)
    for _ in range(3):
        opt.step(_grads())
    before = params[0].copy()
    opt.param_groups[0][key] = value
    with pytest.raises((ValueError, TypeError)):
        opt.step(_grads())
    assert params[0].tobytes() == before.tobytes() and opt.step_count == 3


def test_list_betas_changed_in_place_are_checked_every_step():
    params = _params()
    opt = fastopt.Adam(params, betas=[0.9, 0.999])
    opt.step(_grads())
    opt.param_groups[0]["betas"][1] = 0.5
    assert opt._group_step(0, 2)[0] == _fresh_scalars(2, betas=(0.9, 0.5))
    opt.param_groups[0]["betas"][0] = 1.5
    with pytest.raises(ValueError, match=r"betas\[0\]"):
        opt.step(_grads())


def test_equal_but_different_type_is_checked():
    opt = fastopt.Adam(_params(), lr=1.0)
    opt.step(_grads())
    opt.param_groups[0]["lr"] = True         # == 1.0, but a bool is refused
    with pytest.raises(TypeError, match="lr"):
        opt.step(_grads())


def test_multi_group_error_names_the_group():
    a, b = _params(), _params()
    opt = fastopt.Adam([{"params": a}, {"params": b, "lr": 0.5}])
    opt.step(_grads() + _grads())
    opt.param_groups[1]["eps"] = -1.0
    with pytest.raises(ValueError, match="param group 1: eps"):
        opt.step(_grads() + _grads())


# ---- every optimizer ------------------------------------------------------------------
#
# Each row of the optimizer table gives a base configuration (hyper_base, with every
# optional buffer on, so that every hyperparameter can change), the changes a param group
# can take between steps (hyper_changes, some marked BUILT_AS_BASE, NO_EFFECT or
# FIRST_ONLY: see the table) and the values a step must refuse (refused, beside the
# common ones here).

NAN = float("nan")
_COMMON_BAD = [{"lr": -1.0}, {"lr": NAN}, {"lr": True}, {"lr": "0.1"}, {"maximize": 1}]
ROWS = {getattr(fastopt, info.cls): info for info in OPTIMIZERS}
CLASSES = list(ROWS)


def _base(cls):
    return ROWS[cls].hyper_base


def _changes(cls):
    return [(c, None) if isinstance(c, dict) else c for c in ROWS[cls].hyper_changes]


def _bad(cls):
    return _COMMON_BAD + [bad for bad, _, _ in ROWS[cls].refused]


def _cases(which):
    out = []
    for cls in CLASSES:
        if which == "good":
            out += [pytest.param(cls, c, how, id=f"{cls.__name__}-{_id(c)}")
                    for c, how in _changes(cls)]
        else:
            out += [pytest.param(cls, c, id=f"{cls.__name__}-{_id(c)}") for c in _bad(cls)]
    return out


def _id(change):
    return ",".join(f"{k}={v!r}" for k, v in change.items())


def _start(shapes=((6,), (2, 3))):
    return initial(shapes, np.float32, seed=1)


def _grad_seq(steps, shapes=((6,), (2, 3))):
    rng = np.random.default_rng(2)
    return [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(steps)]


@pytest.mark.parametrize("before", [0, 3])
@pytest.mark.parametrize("cls, change, how", _cases("good"))
def test_change_between_steps_takes_effect(cls, change, how, before):
    """Set between steps (after ``before`` steps with the old values, so the cache holds
    them), the new value gives bitwise what a fresh optimizer given the new value and the
    old one's state does."""
    base = _base(cls)
    grads = _grad_seq(before + 8)     # RAdam rectifies from step 6 on
    params = _start()
    opt = cls(params, **base)
    for g in grads[:before]:
        opt.step(g)
    saved = opt.state_dict()
    at_save = [p.copy() for p in params]
    opt.param_groups[0].update(change)
    for g in grads[before:]:
        opt.step(g)

    fresh_params = [p.copy() for p in at_save]
    fresh = cls(fresh_params, **(base if how == BUILT_AS_BASE else {**base, **change}))
    saved["param_groups"][0].update(change)
    fresh.load_state_dict(saved)
    for g in grads[before:]:
        fresh.step(g)
    assert snapshot(opt, params) == snapshot(fresh, fresh_params)

    unchanged_params = _start()
    unchanged = cls(unchanged_params, **base)
    for g in grads:
        unchanged.step(g)
    differs = snapshot(unchanged, unchanged_params) != snapshot(opt, params)
    assert differs == (how != NO_EFFECT and not (how == FIRST_ONLY and before)), \
        "the case does not test what it says"


def _refusal(make):
    """(type, message) of the error ``make()`` raises, None where it raises none."""
    try:
        make()
    except (TypeError, ValueError) as e:
        return type(e), str(e)
    return None


def _twin_run(cls, base, grads):
    params = _start()
    opt = cls(params, **base)
    for g in grads:
        opt.step(g)
    return opt, params


@pytest.mark.parametrize("cls, bad", _cases("bad"))
def test_bad_value_between_steps_is_refused(cls, bad):
    """Set after cached steps, a bad value is refused with the error building with it
    gives, the refused step changes nothing, and the values put back step as if the bad
    one had never been there."""
    base = _base(cls)
    grads = _grad_seq(5)
    params = _start()
    opt = cls(params, **base)
    for g in grads[:3]:
        opt.step(g)
    before = snapshot(opt, params)
    good = dict(opt.param_groups[0])
    opt.param_groups[0].update(bad)
    refused = _refusal(lambda: opt.step(grads[3]))
    assert refused is not None
    assert snapshot(opt, params) == before
    at_build = _refusal(lambda: cls(_start(), **{**base, **bad}))
    if at_build is not None:        # amsgrad (structural) is refused only once built
        assert refused == at_build
    assert _refusal(lambda: opt.step(grads[3])) == refused     # and again, the same
    opt.param_groups[0].update(good)
    for g in grads[3:]:
        opt.step(g)
    assert snapshot(opt, params) == snapshot(*_twin_run(cls, base, grads))


@pytest.mark.parametrize("cls, bad", _cases("bad"))
def test_bad_value_in_loaded_state_dict_is_refused(cls, bad):
    """load_state_dict checks the loaded groups in full (as a step would): refused with
    the same error, nothing changed, and the optimizer steps on as before."""
    base = _base(cls)
    grads = _grad_seq(5)
    params = _start()
    opt = cls(params, **base)
    for g in grads[:3]:
        opt.step(g)
    sd = opt.state_dict()
    sd["param_groups"][0].update(bad)
    before, hyper = snapshot(opt, params), list(opt.param_groups[0].items())
    refused = _refusal(lambda: opt.load_state_dict(sd))
    assert refused is not None
    assert snapshot(opt, params) == before
    assert all(k1 == k2 and v1 is v2
               for (k1, v1), (k2, v2) in zip(opt.param_groups[0].items(), hyper, strict=True))
    opt.param_groups[0].update(bad)
    assert _refusal(lambda: opt.step(grads[3])) == refused
    opt.param_groups[0].update(dict(hyper))
    for g in grads[3:]:
        opt.step(g)
    assert snapshot(opt, params) == snapshot(*_twin_run(cls, base, grads))


def _swapped(group, a, b):
    """The group with keys a and b trading places, each value left where it was: the
    same values in the same order (what the cache compares), a and b's values swapped."""
    keys = [b if k == a else a if k == b else k for k in group]
    return dict(zip(keys, group.values()))


@pytest.mark.parametrize("cls", CLASSES)
def test_loaded_group_of_the_cached_values_under_other_keys_is_checked(cls):
    """A loaded group holding the very objects the cache checked, in the same order, but
    under other keys (lr <-> maximize) is checked, not taken from the cache."""
    params = _start()
    opt = cls(params, **_base(cls))
    opt.step(_grad_seq(1)[0])
    sd = opt.state_dict()
    live = opt.param_groups[0]
    saved = {k: live[k] for k in live if k != "params"}       # the live objects, in order
    sd["param_groups"][0] = {**_swapped(saved, "lr", "maximize"),
                             "params": sd["param_groups"][0]["params"]}
    before = snapshot(opt, params)
    with pytest.raises(TypeError, match="maximize must be True or False"):
        opt.load_state_dict(sd)
    assert snapshot(opt, params) == before


@pytest.mark.parametrize("cls", CLASSES)
def test_replaced_group_of_the_cached_values_under_other_keys_is_checked(cls):
    """A group dict replaced by one holding the very objects the cache checked, in the
    same order, but under other keys (lr <-> maximize) is checked at the next step."""
    params = _start()
    opt = cls(params, **_base(cls))
    opt.step(_grad_seq(1)[0])
    live = opt.param_groups[0]
    assert next(iter(live)) == "params"
    opt.param_groups[0] = {"params": live["params"],
                           **_swapped({k: live[k] for k in live if k != "params"},
                                      "lr", "maximize")}
    before = snapshot(opt, params)
    with pytest.raises(TypeError, match="maximize must be True or False"):
        opt.step(_grad_seq(2)[1])
    assert snapshot(opt, params) == before


@pytest.mark.parametrize("cls", [c for c in CLASSES
                                 if any(isinstance(v, tuple) for v in _base(c).values())])
def test_pairs_changed_in_place_are_checked_every_step(cls):
    """A pair given as a list (betas, etas, step_sizes) and changed in place takes effect
    on the next step and is refused when bad: the cache is not kept for mutable values."""
    base = _base(cls)
    grads = _grad_seq(6)
    for key, pair in base.items():
        if not isinstance(pair, tuple):
            continue
        params = _start()
        opt = cls(params, **{**base, key: list(pair)})
        for g in grads[:2]:
            opt.step(g)
        new = [pair[0] * 0.5, *pair[1:]]
        opt.param_groups[0][key][0] = new[0]
        saved = opt.state_dict()
        at_save = [p.copy() for p in params]
        for g in grads[2:4]:
            opt.step(g)
        fresh_params = [p.copy() for p in at_save]
        fresh = cls(fresh_params, **{**base, key: tuple(new)})
        saved["param_groups"][0][key] = tuple(new)
        fresh.load_state_dict(saved)
        for g in grads[2:4]:
            fresh.step(g)
        assert snapshot(opt, params) == snapshot(fresh, fresh_params), key
        opt.param_groups[0][key][1] = -1.0
        before = snapshot(opt, params)
        with pytest.raises((TypeError, ValueError), match=key):
            opt.step(grads[4])
        assert snapshot(opt, params) == before


@pytest.mark.parametrize("cls", CLASSES)
def test_every_optimizer_names_the_refusing_group(cls):
    a, b = _start(), _start()
    opt = cls([{"params": a}, {"params": b}], **_base(cls))
    grads = _grad_seq(2)
    opt.step(grads[0] + grads[1])
    before = snapshot(opt, a + b)
    opt.param_groups[1]["lr"] = -1.0
    with pytest.raises(ValueError, match=r"^param group 1: lr must be a finite number >= 0"):
        opt.step(grads[1] + grads[0])
    assert snapshot(opt, a + b) == before


# ---- optimizers whose scalars do not read the step reuse them (scalars_read_step) -------

STEP_FREE = [cls for cls in CLASSES if not cls.scalars_read_step]


def test_step_free_optimizers_are_declared():
    # Their reuse is what makes a small SGD step cheaper than NumPy's w -= lr*g; a class
    # losing the declaration would still be right, only slower.
    assert {c.__name__ for c in STEP_FREE} >= {"SGD", "RMSprop", "Adadelta", "Lion"}


@pytest.mark.parametrize("option_set", range(3))
@pytest.mark.parametrize("cls", STEP_FREE, ids=lambda c: c.__name__)
def test_step_free_scalars_do_not_read_the_step(cls, option_set):
    """What the declaration promises: the scalars and the next group state are the same
    at every step, for every option set of the table and every group state reached."""
    info = ROWS[cls]
    options = info.option_sets[option_set % len(info.option_sets)]
    opt = cls(_start(), **options)
    for t in range(4):
        gstate = opt.group_state[0]
        h = opt._check_group(0, opt.param_groups[0], cache=False)[2]
        results = {(opt._scalars(0, h, s, gstate),
                    repr(opt._next_group_state(0, h, s, gstate)))
                   for s in (1, 2, 3, 10, 2 ** 40)}
        assert len(results) == 1, f"{cls.__name__}{options}: scalars read the step"
        opt.step(_grad_seq(1)[0])


@pytest.mark.parametrize("cls", STEP_FREE, ids=lambda c: c.__name__)
def test_reused_scalars_follow_changes_and_loads(cls):
    """Reused scalars are bitwise what a fresh optimizer computes, through hyperparameter
    changes, a group state that changes (SGD's momentum buffer) and a load_state_dict."""
    params = _start()
    opt = cls(params, **_base(cls))
    fresh_params = _start()
    for t, grads in enumerate(_grad_seq(8), 1):
        if t == 4:
            for change, _ in _changes(cls)[:1]:
                opt.param_groups[0].update(change)
        if t == 6:
            opt.load_state_dict(opt.state_dict())
        # the same step from the same state on a copy built afresh (nothing cached)
        fresh = cls(fresh_params, **{k: v for k, v in opt.param_groups[0].items()
                                     if k != "params"})
        fresh.load_state_dict(opt.state_dict())
        for a, b in zip(fresh_params, params):
            a[...] = b
        opt.step(grads)
        fresh.step(grads)
        for a, b in zip(fresh_params, params):
            assert a.tobytes() == b.tobytes(), f"{cls.__name__}: step {t} differs"
