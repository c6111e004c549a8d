"""Schedule-Free AdamW and SGD beyond the table: the train/eval switch against the
schedulefree package, steps refused in eval mode, the mode in state_dict and checkpoints,
and switches before the first step."""
import numpy as np
import pytest

import fastopt
from harness import BACKENDS

CASES = [("ScheduleFreeAdamW", "AdamWScheduleFree", dict(lr=0.01, weight_decay=0.05,
                                                         warmup_steps=3, betas=(0.8, 0.99))),
         ("ScheduleFreeSGD", "SGDScheduleFree", dict(lr=0.1, momentum=0.8, r=0.5,
                                                     warmup_steps=2))]


def _grads(n, shape=(40,), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(n)]


@pytest.mark.parametrize("ours, theirs, kwargs", CASES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_train_and_eval_points_match_the_package(ours, theirs, kwargs, backend):
    schedulefree = pytest.importorskip("schedulefree")
    import torch
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        start = np.linspace(-1, 1, 40)
        p = start.copy()
        opt = getattr(fastopt, ours)([p], backend=backend, **kwargs)
        tp = torch.tensor(start.copy())
        topt = getattr(schedulefree, theirs)([tp], **kwargs)
        topt.train()
        for t, g in enumerate(_grads(12)):
            opt.step([g])
            tp.grad = torch.tensor(g.copy())
            topt.step()
            if t % 4 == 3:
                opt.eval()
                topt.eval()
                np.testing.assert_allclose(p, tp.numpy(), rtol=1e-13, atol=1e-15)
                assert not opt.training
                opt.train()
                topt.train()
            np.testing.assert_allclose(p, tp.numpy(), rtol=1e-13, atol=1e-15)
    finally:
        torch.set_default_dtype(previous)


@pytest.mark.parametrize("name", ["ScheduleFreeAdamW", "ScheduleFreeSGD"])
def test_step_in_eval_mode_is_refused_and_changes_nothing(name):
    p = np.linspace(-1, 1, 10)
    opt = getattr(fastopt, name)([p], lr=0.1)
    g = _grads(3, (10,))
    opt.step([g[0]])
    opt.eval()
    before = (p.copy(), opt.state_dict())
    with pytest.raises(RuntimeError, match="eval mode: call opt.train"):
        opt.step([g[1]])
    assert p.tobytes() == before[0].tobytes() and opt.step_count == 1
    assert repr(opt.state_dict()) == repr(before[1])
    opt.train()
    opt.step([g[1]])
    assert opt.step_count == 2


@pytest.mark.parametrize("name", ["ScheduleFreeAdamW", "ScheduleFreeSGD"])
def test_switches_before_the_first_step_and_repeated_switches_move_nothing(name):
    p = np.linspace(-1, 1, 10)
    opt = getattr(fastopt, name)([p])
    assert opt.training
    opt.train()
    opt.eval()
    opt.eval()
    assert p.tobytes() == np.linspace(-1, 1, 10).tobytes() and not opt.training
    opt.train()
    opt.step([np.ones(10)])
    opt.eval()
    x = p.copy()
    opt.eval()                              # already in eval mode: nothing moves
    assert p.tobytes() == x.tobytes()


@pytest.mark.parametrize("name", ["ScheduleFreeAdamW", "ScheduleFreeSGD"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_checkpoint_keeps_the_mode_and_resumes_bitwise(name, mode, tmp_path):
    grads = _grads(8, (12,))
    p = np.linspace(-1, 1, 12)
    opt = getattr(fastopt, name)({"w": p}, lr=0.05)
    for g in grads[:4]:
        opt.step({"w": g})
    getattr(opt, mode)()
    fastopt.save(tmp_path / "ckpt.npz", opt)

    q = np.zeros(12)
    resumed = getattr(fastopt, name)({"w": q}, lr=0.05)
    fastopt.load(tmp_path / "ckpt.npz", resumed)
    assert q.tobytes() == p.tobytes() and resumed.training == (mode == "train")
    for o in (opt, resumed):
        o.train()
        for g in grads[4:]:
            o.step({"w": g})
        o.eval()
    assert q.tobytes() == p.tobytes()


def test_new_group_starts_its_own_average():
    a, b = np.linspace(-1, 1, 6), np.linspace(1, 2, 4)
    opt = fastopt.ScheduleFreeAdamW([a], lr=0.01)
    for g in _grads(3, (6,)):
        opt.step([g])
    opt.add_param_group({"params": [b]})
    opt.eval()                      # the new group has not stepped: b does not move
    assert b.tobytes() == np.linspace(1, 2, 4).tobytes()
    opt.train()
    gb = _grads(2, (4,), seed=1)
    for g, h in zip(_grads(2, (6,), seed=2), gb):
        opt.step([g, h])
    solo_b = np.linspace(1, 2, 4)
    solo = fastopt.ScheduleFreeAdamW([solo_b], lr=0.01)
    for h in gb:
        solo.step([h])
    assert b.tobytes() == solo_b.tobytes()


def test_bad_group_state_is_refused():
    opt = fastopt.ScheduleFreeSGD([np.zeros(3)])
    sd = opt.state_dict()
    sd["group_state"][0]["train_mode"] = 0.5
    with pytest.raises(ValueError, match="train_mode must be 1.0 or 0.0"):
        opt.load_state_dict(sd)


def _package_step(name, h, step, gstate):
    """The kernel scalars of step ``step`` and the group state after it, in the package's
    Python arithmetic, in its order."""
    k, warmup = step - 1, h["warmup_steps"]
    lr = h["lr"] * ((k + 1) / warmup if k < warmup else 1.0)
    lr_max = max(lr, gstate["lr_max"])
    weight = ((k + 1) ** h["r"]) * (lr_max ** h["weight_lr_power"])
    weight_sum = gstate["weight_sum"] + weight
    ckp1 = weight / weight_sum if weight_sum != 0.0 else 0.0
    first = 1.0 if step == 1 else 0.0
    if name == "ScheduleFreeAdamW":
        beta1, beta2 = h["betas"]
        scalars = (1.0 - beta2, beta2, 1.0 - beta2 ** step, h["eps"], h["weight_decay"], ckp1,
                   lr * (beta1 * (1.0 - ckp1) - 1.0), lr, first)
    else:
        scalars = (h["weight_decay"], ckp1, lr * (h["momentum"] * (1.0 - ckp1) - 1.0), lr,
                   first)
    return (1.0,) + scalars, {"lr_max": lr_max, "weight_sum": weight_sum}


@pytest.mark.parametrize("name", ["ScheduleFreeAdamW", "ScheduleFreeSGD"])
@pytest.mark.parametrize("options", [dict(warmup_steps=5, r=0.5, weight_lr_power=1.5),
                                     dict(warmup_steps=3, r=2.0, weight_lr_power=0.0),
                                     dict(warmup_steps=2 ** 60), dict(warmup_steps=2 ** 70)])
def test_compiled_scalars_are_the_packages_arithmetic(name, options):
    """Each step's scalars and group state, bit for bit, with the learning rate raised and
    lowered between steps (lr_max keeps the largest), and warmups beyond int64."""
    p = np.zeros(4)
    opt = getattr(fastopt, name)([p], lr=0.3, **options)
    for t, lr in enumerate([0.3, 0.3, 0.7, 0.1, 0.1, 0.5, 2e-3, 0.9], start=1):
        opt.param_groups[0]["lr"] = lr
        expected = _package_step(name, opt.param_groups[0], t, opt.group_state[0])
        scalars, update = opt._group_step(0, t)
        assert repr(scalars) == repr(expected[0]) and repr(update) == repr(expected[1])
        opt.step([np.ones(4)])
        assert opt.group_state[0] == {**expected[1], "train_mode": 1.0}


@pytest.mark.parametrize("name", ["ScheduleFreeAdamW", "ScheduleFreeSGD"])
def test_an_averaging_weight_that_overflows_is_refused_naming_it(name):
    p = np.zeros(3)
    with pytest.raises(ValueError, match=r"lr_max\*\*weight_lr_power = 1e\+200\*\*2.0 overflows"):
        getattr(fastopt, name)([p], lr=1e200)
    opt = getattr(fastopt, name)([p], lr=1.0, r=200.0)
    opt.step([np.ones(3)])
    opt._step = 2 ** 40                     # step**r overflows from here
    before = (p.copy(), repr(opt.state_dict()))
    with pytest.raises(ValueError, match=r"step\*\*r = .* overflows"):
        opt.step([np.ones(3)])
    assert p.tobytes() == before[0].tobytes() and repr(opt.state_dict()) == before[1]
