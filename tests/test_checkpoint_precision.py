"""Checkpoints of state kept in reduced precision (state_precision=): bfloat16 arrays go
through the .npz as their uint16 bits and 8-bit state as its codes and absmax, so resuming
is bitwise identical for every precision; a checkpoint loads into an optimizer of another
precision (its values converted); a tampered bfloat16 or 8-bit member is refused and
changes nothing."""
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import fastopt
from fastopt import CheckpointError
from fastopt._core import storage
from harness import python_env
from test_checkpoint import rewrite

PRECISIONS = ["full", "bfloat16", "8bit"]
OPTIMIZERS = [(fastopt.Adam, dict(lr=0.01)),
              (fastopt.SGD, dict(lr=0.01, momentum=0.9)),
              (fastopt.Lamb, dict(lr=0.01))]
IDS = ["Adam", "SGD", "Lamb"]
# "small" keeps full state under 8bit (fewer than min_8bit_size=4096 elements); "large"
# is not a whole number of 256-blocks.
SHAPES = {"small": (4, 25), "large": (50, 100)}


def make(cls, kwargs, precision, dtype, seed=0):
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}
    return params, cls(params, state_precision=precision, **kwargs)


def grads(step, dtype):
    rng = np.random.default_rng(100 + step)
    return {k: (rng.standard_normal(s) * 10.0 ** rng.integers(-3, 2, s)).astype(dtype)
            for k, s in SHAPES.items()}


def train(opt, dtype, start, stop):
    for t in range(start, stop):
        opt.step(grads(t, dtype))


def as_bytes(a):
    return np.ascontiguousarray(a).view(np.uint8).tobytes()


def entries(opt):
    """Every state_dict entry as (type, dtype, shape, bytes), by parameter and buffer
    (8-bit: codes and absmax)."""
    out = {}
    for key, bufs in opt.state_dict()["state"].items():
        for name, e in bufs.items():
            parts = [e["codes"], e["absmax"]] if isinstance(e, dict) else [e]
            out[key, name] = [(x.dtype.name, x.shape, as_bytes(x)) for x in parts]
    return out


def everything(params, opt):
    sd = opt.state_dict()
    rest = {k: v for k, v in sd.items() if k != "state"}
    return ([as_bytes(params[k]) for k in SHAPES], entries(opt), repr(rest),
            opt.state_precision)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("cls,kwargs", OPTIMIZERS, ids=IDS)
def test_resume_is_bitwise_identical(tmp_path, cls, kwargs, precision, dtype):
    params, opt = make(cls, kwargs, precision, dtype)
    train(opt, dtype, 0, 3)
    path = tmp_path / "c.npz"
    fastopt.save(path, opt)

    params2, opt2 = make(cls, kwargs, precision, dtype, seed=5)
    fastopt.load(path, opt2)
    assert everything(params2, opt2) == everything(params, opt)
    train(opt, dtype, 3, 6)
    train(opt2, dtype, 3, 6)
    assert everything(params2, opt2) == everything(params, opt)

    forms = {name: e for name, e in opt2.state_dict()["state"]["large"].items()}
    if precision == "8bit":
        assert all(isinstance(e, dict) for e in forms.values())
    elif precision == "bfloat16":
        assert all(e.dtype.name == "bfloat16" for e in forms.values())
    else:
        assert all(e.dtype == dtype for e in forms.values())


@pytest.mark.parametrize("precision", ["bfloat16", "8bit"])
def test_members_are_readable(tmp_path, precision):
    """Members keep readable names; plain NumPy reads them (bfloat16: its uint16 bits, and
    the metadata says which members those are)."""
    params, opt = make(fastopt.Adam, dict(lr=0.01), precision, np.float32)
    train(opt, np.float32, 0, 2)
    path = tmp_path / "c.npz"
    fastopt.save(path, opt)
    sd = opt.state_dict()["state"]
    with np.load(path, allow_pickle=False) as npz:
        files = set(npz.files)
        meta = json.loads(npz["__fastopt__"].tobytes().decode("utf-8"))
        state = meta["optimizer"]["state"]
        assert meta["optimizer"]["state_precision"] == precision
        if precision == "8bit":
            for name in ("exp_avg", "exp_avg_sq"):
                for part in ("codes", "absmax"):
                    member = f"optimizer/state/large/{name}/{part}"
                    assert state["large"][name][part] == {"__array__": member}
                    assert as_bytes(npz[member]) == as_bytes(sd["large"][name][part])
                    assert npz[member].dtype == sd["large"][name][part].dtype
                assert state["small"][name] == {"__array__": f"optimizer/state/small/{name}"}
        else:
            for key in SHAPES:
                for name in ("exp_avg", "exp_avg_sq"):
                    member = f"optimizer/state/{key}/{name}"
                    assert state[key][name] == {"__bfloat16__": member}
                    assert npz[member].dtype == np.uint16
                    assert npz[member].shape == SHAPES[key]
                    assert as_bytes(npz[member]) == as_bytes(sd[key][name])
    assert "params/large" in files and "params/small" in files
    with zipfile.ZipFile(path) as z:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())


def test_ml_dtypes_is_imported_only_for_bfloat16_members(tmp_path):
    code = """
import sys, numpy as np, fastopt
params = {"w": np.ones(5000, np.float32), "b": np.ones(7, np.float32)}
for precision in ("full", "8bit"):
    opt = fastopt.Adam(params, state_precision=precision)
    opt.step({k: np.full_like(v, 0.5) for k, v in params.items()})
    fastopt.save(sys.argv[1], opt)
    fastopt.load(sys.argv[1], fastopt.Adam(params, state_precision=precision))
assert "ml_dtypes" not in sys.modules, "ml_dtypes imported"
"""
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "c.npz")],
                         env=python_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


# ---- another precision -------------------------------------------------------------------

def values(opt, dtype):
    return {(k, name): np.asarray(v).astype(dtype)
            for k, bufs in opt.state.items() for name, v in bufs.items()}


def assert_close(got, want, precision, key):
    if precision == "full":
        assert as_bytes(got) == as_bytes(want)
    elif precision == "bfloat16":
        assert np.all(np.abs(got - want) <= 2.0 ** -8 * np.abs(want))
    elif key == "small":                    # below min_8bit_size: full state
        assert as_bytes(got) == as_bytes(want)
    else:
        g, w = got.ravel(), want.ravel()
        for start in range(0, w.size, storage.BLOCK):
            block = slice(start, start + storage.BLOCK)
            absmax = np.max(np.abs(w[block]))
            assert np.max(np.abs(g[block] - w[block])) <= 0.02 * absmax


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("source,dest", [("full", "8bit"), ("full", "bfloat16"),
                                         ("8bit", "full"), ("bfloat16", "full"),
                                         ("bfloat16", "8bit"), ("8bit", "bfloat16")])
@pytest.mark.parametrize("cls,kwargs", OPTIMIZERS, ids=IDS)
def test_load_into_another_precision(tmp_path, cls, kwargs, source, dest, dtype):
    params, opt = make(cls, kwargs, source, dtype)
    train(opt, dtype, 0, 3)
    path = tmp_path / "c.npz"
    fastopt.save(path, opt)
    want = values(opt, dtype)

    params2, opt2 = make(cls, kwargs, dest, dtype, seed=5)
    fastopt.load(path, opt2)
    assert opt2.state_precision == dest
    assert [as_bytes(params2[k]) for k in SHAPES] == [as_bytes(params[k]) for k in SHAPES]
    got = values(opt2, dtype)
    assert got.keys() == want.keys()
    for (key, name), w in want.items():
        assert_close(got[key, name], w, dest, key)
    # and it trains on, stored in its own precision
    train(opt2, dtype, 3, 5)
    large = opt2.state_dict()["state"]["large"]
    for e in large.values():
        if dest == "8bit":
            assert isinstance(e, dict) and e["codes"].dtype == np.uint8
        else:
            assert e.dtype == (dtype if dest == "full" else storage.bfloat16_dtype())


# ---- tampered members are refused ----------------------------------------------------------



BF = "optimizer/state/large/exp_avg"
CODES = "optimizer/state/large/exp_avg/codes"
ABSMAX = "optimizer/state/large/exp_avg/absmax"


def _as_float32(arrays):
    bits = arrays[BF]
    arrays[BF] = storage.from_bfloat16_bits(bits, np.float32)


def _as_uint8(arrays):
    arrays[BF] = arrays[BF].view(np.uint8)


def _shorter(arrays):
    arrays[BF] = arrays[BF][:-1]


def _missing(meta):
    meta["optimizer"]["state"]["large"]["exp_avg"] = {"__bfloat16__": "optimizer/nowhere"}


def _not_a_name(meta):
    meta["optimizer"]["state"]["large"]["exp_avg"] = {"__bfloat16__": 3}


def _unmarked(meta):            # the bits as a plain uint16 array: not a state entry
    meta["optimizer"]["state"]["large"]["exp_avg"] = {"__array__": BF}


def _codes_flat(arrays):
    arrays[CODES] = arrays[CODES].reshape(-1)


def _codes_transposed(arrays):
    arrays[CODES] = np.ascontiguousarray(arrays[CODES].T)


def _codes_int8(arrays):
    arrays[CODES] = arrays[CODES].view(np.int8)


def _absmax_short(arrays):
    arrays[ABSMAX] = arrays[ABSMAX][:-1]


def _absmax_float64(arrays):
    arrays[ABSMAX] = arrays[ABSMAX].astype(np.float64)


def _no_absmax(meta):
    del meta["optimizer"]["state"]["large"]["exp_avg"]["absmax"]


def _drop_absmax(arrays):
    del arrays[ABSMAX]


TAMPERED = [("bfloat16", None, _as_float32, "bfloat16"),
            ("bfloat16", None, _as_uint8, "bfloat16"),
            ("bfloat16", None, _shorter, "shape"),
            ("bfloat16", _missing, None, "does not hold"),
            ("bfloat16", _not_a_name, None, ""),
            ("bfloat16", _unmarked, None, "exp_avg"),
            ("8bit", None, _codes_flat, "codes"),
            ("8bit", None, _codes_transposed, "codes"),
            ("8bit", None, _codes_int8, "codes"),
            ("8bit", None, _absmax_short, "absmax"),
            ("8bit", None, _absmax_float64, "absmax"),
            ("8bit", _no_absmax, _drop_absmax, "codes and absmax")]


@pytest.mark.parametrize("precision,edit_meta,edit_arrays,match", TAMPERED,
                         ids=[(t[1] or t[2]).__name__.strip("_") for t in TAMPERED])
def test_tampered_members_are_refused(tmp_path, precision, edit_meta, edit_arrays, match):
    params, opt = make(fastopt.Adam, dict(lr=0.01), precision, np.float32)
    train(opt, np.float32, 0, 3)
    path = tmp_path / "c.npz"
    fastopt.save(path, opt)
    bad = rewrite(path, tmp_path, edit_meta, edit_arrays)
    # into an optimizer of the same precision and into one of another: nothing changes
    for dest in (precision, "full"):
        params2, opt2 = make(fastopt.Adam, dict(lr=0.01), dest, np.float32, seed=5)
        train(opt2, np.float32, 0, 1)
        before = everything(params2, opt2)
        with pytest.raises(CheckpointError, match=match or None) as info:
            fastopt.load(bad, opt2)
        assert str(bad) in str(info.value)
        assert everything(params2, opt2) == before
    fastopt.load(path, opt2)                            # the untouched file loads


def test_a_bfloat16_checkpoint_without_ml_dtypes_is_refused(tmp_path, monkeypatch):
    params, opt = make(fastopt.Adam, dict(lr=0.01), "bfloat16", np.float32)
    train(opt, np.float32, 0, 2)
    fastopt.save(tmp_path / "c.npz", opt)
    params2, opt2 = make(fastopt.Adam, dict(lr=0.01), "full", np.float32, seed=5)
    before = everything(params2, opt2)
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)          # import ml_dtypes fails
    with pytest.raises(CheckpointError, match="ml_dtypes"):
        fastopt.load(tmp_path / "c.npz", opt2)
    assert everything(params2, opt2) == before


def test_old_checkpoint_still_loads():
    """The 0.1.0 checkpoint (full state, no state_precision key) loads into optimizers of
    every precision."""
    path = os.path.join(os.path.dirname(__file__), "data", "checkpoint_0.1.0.npz")
    for precision in PRECISIONS:
        params = {"w": np.zeros((3, 4), np.float32), "b": np.ones(3, np.float32)}
        opt = fastopt.NAdam(params, lr=0.05, state_precision=precision, min_8bit_size=0)
        fastopt.load(path, opt)
        assert opt.step_count == 5 and opt.state_precision == precision
