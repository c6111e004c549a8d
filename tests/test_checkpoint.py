"""fastopt.save / fastopt.load: resuming is bitwise identical to never stopping; the file is
an npz without pickles, written atomically; every refused load (damaged file, other
optimizer, other layout, other scheduler) changes nothing."""
import json
import os
import zipfile

import numpy as np
import pytest

import fastopt
from fastopt import lr_scheduler as sched_mod
from harness import BACKENDS, gradient, initial, snapshot

SHAPES = [(3000,), (33, 40), (0,), (7,)]
NAMES = ["w", "b", "empty", "c"]


def build(kind="dict", backend="cython", cls=fastopt.Adam, seed=0, scheduler="onecycle",
          ema=False, shapes=SHAPES, **opt_kwargs):
    """A fresh training setup: params, optimizer, scheduler, EMA (each None where absent)."""
    arrays = initial(shapes, np.float32, seed)
    if kind == "flat":
        params = fastopt.flatten(dict(zip(NAMES, arrays)))
    elif kind == "dict":
        params = dict(zip(NAMES, arrays))
    else:
        params = arrays
    opt = cls(params, lr=0.01, backend=backend, **opt_kwargs)
    sched = None
    if scheduler == "onecycle":
        sched = sched_mod.OneCycleLR(opt, max_lr=0.05, total_steps=40)
    elif scheduler == "cosine":
        sched = sched_mod.CosineAnnealingLR(opt, T_max=7)
    elif scheduler == "sequential":
        sched = sched_mod.SequentialLR(opt, [sched_mod.LinearLR(opt, 0.1, total_iters=4),
                                             sched_mod.ExponentialLR(opt, gamma=0.9)],
                                       milestones=[4])
    e = fastopt.EMA(params, decay=0.9, backend=backend) if ema else None
    return params, opt, sched, e


def live_arrays(params):
    if isinstance(params, fastopt.FlatParams):
        return [params[k] for k in params]
    return list(params.values()) if isinstance(params, dict) else params


def train(params, opt, sched, ema, start, stop, *, poison=False):
    arrays = live_arrays(params)
    for t in range(start, stop):
        rng = np.random.default_rng(1000 + t)         # the data of step t
        grads = [gradient(rng, a.shape, np.float32, t) for a in arrays]
        if poison and t % 5 == 3:
            grads[0][1] = np.nan
        if isinstance(params, fastopt.FlatParams):
            for k, g in zip(params, grads):
                params.grads[k][...] = g
            opt.step()
        elif isinstance(params, dict):
            opt.step(dict(zip(params, grads)))
        else:
            opt.step(grads)
        if sched is not None:
            sched.step()
        if ema is not None:
            ema.update()


def everything(params, opt, sched, ema):
    """Every bit of the setup that training changes or reads."""
    out = snapshot(opt, live_arrays(params)) + repr(opt.skipped_steps).encode()
    out += json.dumps([{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups],
                      sort_keys=True, default=repr).encode()
    out += repr(opt.group_state).encode()
    if sched is not None:
        out += repr(sorted(sched.state_dict().items(), key=lambda kv: kv[0])).encode()
    if ema is not None:
        out += b"".join(a.tobytes() for a in ema.shadow.values()) + repr(ema.num_updates).encode()
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["dict", "list", "flat"])
@pytest.mark.parametrize("scheduler", ["onecycle", "cosine", "sequential"])
def test_resume_is_bitwise_identical(tmp_path, backend, kind, scheduler):
    opts = dict(amsgrad=True, weight_decay=0.01)
    straight = build(kind, backend, scheduler=scheduler, ema=True, **opts)
    train(*straight, 0, 20)

    first = build(kind, backend, scheduler=scheduler, ema=True, **opts)
    train(*first, 0, 9)
    path = tmp_path / "ckpt.npz"
    fastopt.save(path, first[1], first[2], first[0], ema=first[3])

    resumed = build(kind, backend, scheduler=scheduler, ema=True, seed=7, **opts)
    fastopt.load(path, resumed[1], resumed[2], resumed[0], ema=resumed[3])
    assert everything(*resumed) == everything(*first)
    train(*resumed, 9, 20)
    assert everything(*resumed) == everything(*straight)


def test_resume_with_guarded_steps(tmp_path):
    """skipped_steps and clipping survive a resume (AdamW, skip + max_grad_norm)."""
    opts = dict(cls=fastopt.AdamW, max_grad_norm=0.5, nonfinite="skip")
    straight = build(**opts)
    train(*straight, 0, 20, poison=True)
    first = build(**opts)
    train(*first, 0, 10, poison=True)
    fastopt.save(tmp_path / "c.npz", first[1], first[2])          # params: the optimizer's
    assert first[1].skipped_steps == 2
    resumed = build(seed=3, **opts)
    fastopt.load(tmp_path / "c.npz", resumed[1], resumed[2])
    assert resumed[1].skipped_steps == 2
    train(*resumed, 10, 20, poison=True)
    assert everything(*resumed) == everything(*straight)
    assert resumed[1].skipped_steps == 4


def test_file_format(tmp_path):
    params, opt, sched, ema = build()
    train(params, opt, sched, ema, 0, 3)
    path = tmp_path / "run.ckpt"                                  # written to exactly path
    fastopt.save(str(path), opt, sched)
    assert os.listdir(tmp_path) == ["run.ckpt"]
    assert zipfile.is_zipfile(path)
    with np.load(path, allow_pickle=False) as npz:               # plain NumPy reads it
        files = set(npz.files)
        meta = json.loads(npz["__fastopt__"].tobytes().decode("utf-8"))
        assert npz["params/w"].tobytes() == params["w"].tobytes()
        assert npz["optimizer/state/b/exp_avg"].tobytes() == \
            opt.state["b"]["exp_avg"].tobytes()
    assert {"params/w", "params/b", "params/empty", "params/c",
            "optimizer/state/w/exp_avg", "optimizer/state/w/exp_avg_sq"} <= files
    assert meta["format"] == "fastopt-checkpoint" and meta["format_version"] == 1
    assert meta["scheduler"]["type"] == "OneCycleLR"
    assert meta["optimizer"]["optimizer"] == "Adam" and meta["optimizer"]["step"] == 3
    with zipfile.ZipFile(path) as z:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())


def test_odd_names_are_stored_and_matched_by_name(tmp_path):
    a = {"layer 1/weight": np.ones(5, np.float32), "__tuple__": np.zeros(3, np.float32)}
    opt = fastopt.Adam(a)
    opt.step({k: np.ones_like(v) for k, v in a.items()})
    fastopt.save(tmp_path / "c", opt)
    b = {"layer 1/weight": np.zeros(5, np.float32), "__tuple__": np.ones(3, np.float32)}
    opt2 = fastopt.Adam(b)
    fastopt.load(tmp_path / "c", opt2)
    assert all(b[k].tobytes() == a[k].tobytes() for k in a)
    assert opt2.state_dict()["state"].keys() == opt.state_dict()["state"].keys()


def test_extra_params_and_params_none(tmp_path):
    """params= may hold more than the optimizer's (a model's frozen arrays)."""
    params, opt, sched, _ = build()
    model = dict(params, running_mean=np.arange(4, dtype=np.float64))
    train(params, opt, sched, None, 0, 2)
    fastopt.save(tmp_path / "c.npz", opt, sched, model)
    p2, opt2, sched2, _ = build(seed=5)
    model2 = dict(p2, running_mean=np.zeros(4))
    with pytest.raises(fastopt.CheckpointError, match="holds parameters"):
        fastopt.load(tmp_path / "c.npz", opt2, sched2)            # params=None: opt's own
    fastopt.load(tmp_path / "c.npz", opt2, sched2, model2)
    assert (model2["running_mean"] == np.arange(4)).all()
    assert everything(p2, opt2, sched2, None) == everything(params, opt, sched, None)


@pytest.mark.parametrize("scheduler", [
    lambda o: sched_mod.LambdaLR(o, lambda e: 0.9 ** e),
    lambda o: sched_mod.MultiplicativeLR(o, lambda e: 0.95),
    lambda o: sched_mod.StepLR(o, step_size=2),
    lambda o: sched_mod.MultiStepLR(o, milestones=[2, 4, 4]),
    lambda o: sched_mod.ConstantLR(o),
    lambda o: sched_mod.LinearLR(o),
    lambda o: sched_mod.ExponentialLR(o, gamma=0.9),
    lambda o: sched_mod.PolynomialLR(o, total_iters=4, power=2.0),
    lambda o: sched_mod.CosineAnnealingLR(o, T_max=3),
    lambda o: sched_mod.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2),
    lambda o: sched_mod.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=2),
    lambda o: sched_mod.OneCycleLR(o, max_lr=0.1, total_steps=10, three_phase=True),
    lambda o: sched_mod.ChainedScheduler([sched_mod.ConstantLR(o, total_iters=2),
                                          sched_mod.ExponentialLR(o, gamma=0.9)]),
    lambda o: sched_mod.ReduceLROnPlateau(o, patience=1),
], ids=lambda f: "")
def test_every_scheduler_round_trips(tmp_path, scheduler):
    def setup(seed):
        p = initial([(10,)], np.float32, seed)
        o = fastopt.Adam(p, lr=0.01)
        return p, o, scheduler(o)

    def advance(p, o, s, start, stop):
        for t in range(start, stop):
            o.step([np.full(10, 0.1 * (t + 1), np.float32)])
            if isinstance(s, sched_mod.ReduceLROnPlateau):
                s.step(1.0)                              # a plateau: lr is cut
            else:
                s.step()

    straight = setup(0)
    advance(*straight, 0, 9)
    first = setup(0)
    advance(*first, 0, 5)
    fastopt.save(tmp_path / "c.npz", first[1], first[2])
    again = setup(1)
    fastopt.load(tmp_path / "c.npz", again[1], again[2])
    assert repr(again[2].state_dict()) == repr(first[2].state_dict())
    advance(*again, 5, 9)
    assert snapshot(again[1], again[0]) == snapshot(straight[1], straight[0])
    assert again[2].get_last_lr() == straight[2].get_last_lr()


# ---- atomic writes -----------------------------------------------------------------------

def test_crash_while_writing_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    params, opt, sched, _ = build()
    path = tmp_path / "c.npz"
    fastopt.save(path, opt, sched)
    old = path.read_bytes()
    train(params, opt, sched, None, 0, 3)

    real_savez = np.savez

    def crash_midway(file, **arrays):
        real_savez(file, **dict(list(arrays.items())[:3]))   # part of the file is written
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        fastopt.save(path, opt, sched)
    monkeypatch.undo()
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["c.npz"]

    def no_rename(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="rename failed"):
        fastopt.save(path, opt, sched)
    monkeypatch.undo()
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["c.npz"]

    fastopt.save(path, opt, sched)
    assert path.read_bytes() != old and os.listdir(tmp_path) == ["c.npz"]


def test_unstorable_state_refused_before_writing(tmp_path):
    class Factor:
        def __init__(self):
            self.history = {1, 2}                        # a set: not storable

        def __call__(self, epoch):
            return 1.0

    params, opt, _, _ = build(scheduler=None)
    sched = sched_mod.LambdaLR(opt, Factor())
    path = tmp_path / "c.npz"
    with pytest.raises(TypeError, match=r"scheduler\['lr_lambdas'\]\[0\]\['history'\] is a set"):
        fastopt.save(path, opt, sched)
    assert os.listdir(tmp_path) == []


def test_save_inside_ema_context_refused(tmp_path):
    params, opt, sched, ema = build(ema=True)
    with ema.average_parameters():
        with pytest.raises(RuntimeError, match="average_parameters"):
            fastopt.save(tmp_path / "c.npz", opt, sched, ema=ema)
    assert os.listdir(tmp_path) == []
    fastopt.save(tmp_path / "c.npz", opt, sched, ema=ema)


def test_scheduler_of_another_optimizer_refused(tmp_path):
    _, opt, _, _ = build(scheduler=None)
    _, other, sched, _ = build()
    with pytest.raises(ValueError, match="another optimizer"):
        fastopt.save(tmp_path / "c.npz", opt, sched)
    assert os.listdir(tmp_path) == []


# ---- refused loads change nothing ----------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    """A checkpoint of a trained setup (with EMA), and its path."""
    setup = build(ema=True)
    train(*setup, 0, 5)
    path = tmp_path / "c.npz"
    fastopt.save(path, setup[1], setup[2], setup[0], ema=setup[3])
    return path


def target():
    setup = build(seed=11, ema=True)
    train(*setup, 0, 2)
    return setup


def refused(path, setup, match, **kw):
    params, opt, sched, ema = setup
    before = everything(*setup)
    kw = dict(dict(scheduler=sched, params=params, ema=ema), **kw)
    with pytest.raises(fastopt.CheckpointError, match=match or None):
        fastopt.load(path, opt, **kw)
    assert everything(*setup) == before


@pytest.mark.parametrize("cut", [0, 1, 100, 0.5, 0.9, -22, -1])
def test_truncated_file(saved, tmp_path, cut):
    data = saved.read_bytes()
    n = int(len(data) * cut) if isinstance(cut, float) else cut % len(data)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(data[:n])
    refused(bad, target(), "damaged or truncated")


@pytest.mark.parametrize("where", [0.02, 0.3, 0.5, 0.7, 0.97])
def test_flipped_byte(saved, tmp_path, where):
    data = bytearray(saved.read_bytes())
    data[int(len(data) * where)] ^= 0x10
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(data))
    refused(bad, target(), "")


def test_not_a_checkpoint(tmp_path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.ones(3))
    refused(plain, target(), "not a fastopt checkpoint")
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __fastopt__=np.array([{"a": 1}], dtype=object))
    refused(pickled, target(), "damaged or truncated")           # allow_pickle=False
    npy = tmp_path / "one.npy"
    np.save(npy, np.ones(3))
    refused(npy, target(), "not a fastopt checkpoint")


def rewrite(path, tmp_path, edit_meta=None, edit_arrays=None):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays.pop("__fastopt__").tobytes().decode())
    if edit_meta:
        edit_meta(meta)
    if edit_arrays:
        edit_arrays(arrays)
    out = tmp_path / "edited.npz"
    np.savez(out, __fastopt__=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    return out


def test_future_format_version(saved, tmp_path):
    bad = rewrite(saved, tmp_path, lambda m: m.update(format_version=2))
    refused(bad, target(), "format 2; this fastopt reads format 1")


def test_other_optimizer_type(tmp_path):
    setup = build(cls=fastopt.AdamW)
    train(*setup, 0, 2)
    fastopt.save(tmp_path / "c.npz", setup[1], setup[2])
    refused(tmp_path / "c.npz", target(), "from AdamW, not Adam", ema=None)


@pytest.mark.parametrize("change", ["shape", "names", "count", "dtype", "amsgrad"])
def test_other_layout(tmp_path, change):
    shapes, names, kw = list(SHAPES), list(NAMES), {}
    if change == "shape":
        shapes[1] = (40, 33)
    elif change == "count":
        shapes, names = shapes[:3], names[:3]
    elif change == "amsgrad":
        kw = dict(amsgrad=True)
    arrays = initial(shapes, np.float64 if change == "dtype" else np.float32)
    if change == "names":
        names[0] = "weight"
    params = dict(zip(names, arrays))
    opt = fastopt.Adam(params, **kw)
    opt.step({k: np.ones_like(v) for k, v in params.items()})
    fastopt.save(tmp_path / "c.npz", opt)
    refused(tmp_path / "c.npz", target(), "", scheduler=None, ema=None)


def test_params_layout_checked_even_when_optimizer_matches(saved, tmp_path):
    def shrink(arrays):
        arrays["params/c"] = arrays["params/c"][:5]
    refused(rewrite(saved, tmp_path, edit_arrays=shrink), target(), "'c'.*shape")

    def retype(arrays):
        arrays["params/w"] = arrays["params/w"].astype(np.float64)
    refused(rewrite(saved, tmp_path, edit_arrays=retype), target(), "'w'.*float32")

    def lose_state(arrays):
        del arrays["optimizer/state/w/exp_avg"]
    refused(rewrite(saved, tmp_path, edit_arrays=lose_state), target(), "does not hold")

    def bad_state(arrays):
        arrays["optimizer/state/w/exp_avg"] = arrays["optimizer/state/w/exp_avg"][:-1]
    refused(rewrite(saved, tmp_path, edit_arrays=bad_state), target(), "exp_avg.*'w'")


def test_scheduler_checked(saved, tmp_path):
    params, opt, _, ema = setup = target()
    other = sched_mod.CosineAnnealingLR(opt, T_max=3)
    refused(saved, (params, opt, other, ema), "scheduler is OneCycleLR, not CosineAnnealingLR")

    def drop_key(meta):
        del meta["scheduler"]["state"]["total_steps"]
    refused(rewrite(saved, tmp_path, drop_key), target(), "scheduler state")

    def no_scheduler(meta):
        meta["scheduler"] = None
    refused(rewrite(saved, tmp_path, no_scheduler), target(), "no scheduler state")

    def bad_children(meta):                      # a state the scheduler itself refuses
        meta["scheduler"]["type"] = "SequentialLR"
    seq_setup = build(seed=2, scheduler="sequential", ema=True)
    refused(rewrite(saved, tmp_path, bad_children), seq_setup, "scheduler state")

    # a checkpoint without a scheduler may be loaded without one
    params, opt, sched, ema = setup
    fastopt.load(saved, opt, None, params, ema=ema)


def test_ema_checked(saved, tmp_path):
    def drop(meta):
        meta["ema"] = None

    def drop_arrays(arrays):
        for name in [n for n in arrays if n.startswith("ema/")]:
            del arrays[name]
    refused(rewrite(saved, tmp_path, drop, drop_arrays), target(), "no EMA state")
    refused(rewrite(saved, tmp_path, drop), target(), "members its metadata does not use")

    def decay(meta):
        meta["ema"]["decay"] = 3.0
    refused(rewrite(saved, tmp_path, decay), target(), "EMA state.*decay")


def test_unknown_array_reference(saved, tmp_path):
    def rename(meta):
        meta["params"]["w"] = {"__array__": "params/nowhere"}
    refused(rewrite(saved, tmp_path, rename), target(), "does not hold")
