"""Checkpoint files as they meet the world: save writes only what load reads, a bad file
raises CheckpointError and nothing else, members the metadata does not name are never
decompressed, a killed save's temporary file is cleaned up, and the messages speak of the
user's file in fastopt's terms."""
import json
import os
import re
import signal
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import fastopt
from fastopt import CheckpointError
from harness import groups_snapshot, python_env, snapshot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(precision="full"):
    params = [np.linspace(-1, 1, 12).astype(np.float32), np.zeros(3, np.float32)]
    opt = fastopt.Adam(params, lr=0.1, state_precision=precision, min_8bit_size=0)
    sched = fastopt.lr_scheduler.StepLR(opt, step_size=2)
    for t in range(3):
        opt.step([np.full(12, 0.5, np.float32), np.full(3, -0.25, np.float32)])
        sched.step()
    return params, opt, sched


def state(params, opt, sched):
    return snapshot(opt, params), groups_snapshot(opt), repr(sched.state_dict())


@pytest.fixture
def saved(tmp_path):
    params, opt, sched = build()
    path = tmp_path / "good.npz"
    fastopt.save(path, opt, sched)
    return path


# ---- save refuses what load would refuse -------------------------------------------------

def test_save_refuses_a_nan_lr_and_keeps_the_old_file(tmp_path):
    params, opt, sched = build()
    path = tmp_path / "c.npz"
    fastopt.save(path, opt, sched)
    good = path.read_bytes()
    opt.param_groups[0]["lr"] = float("nan")
    with pytest.raises(CheckpointError, match="not written.*lr"):
        fastopt.save(path, opt, sched)
    assert path.read_bytes() == good and sorted(os.listdir(tmp_path)) == ["c.npz"]


def test_save_refuses_keys_reordered_past_the_cache(tmp_path):
    params, opt, sched = build()
    path = tmp_path / "c.npz"
    fastopt.save(path, opt)
    good = path.read_bytes()
    group = opt.param_groups[0]
    group["weight_decay"] = 0.0
    opt.step([np.zeros(12, np.float32), np.zeros(3, np.float32)])
    keys, values = list(group), list(group.values())
    i, j = keys.index("eps"), keys.index("weight_decay")
    keys[i], keys[j] = keys[j], keys[i]
    group.clear()
    group.update(zip(keys, values))          # eps now holds the 0.0 object
    with pytest.raises(CheckpointError, match="eps"):
        fastopt.save(path, opt)
    assert path.read_bytes() == good


# ---- only CheckpointError, nothing changed ---------------------------------------------

def _mutations(data: bytes):
    rng = np.random.default_rng(0)
    for cut in (0, 1, 4, 30, len(data) // 3, len(data) - 22, len(data) - 1):
        yield data[:cut]
    for pos in rng.integers(0, len(data), 150).tolist() + list(range(0, 64)):
        for bit in (0x01, 0x80):
            b = bytearray(data)
            b[pos] ^= bit
            yield bytes(b)
    b = bytearray(data)
    for pos in rng.integers(0, len(data), 40).tolist():
        b[pos] = 0xFF
    yield bytes(b)


@pytest.mark.parametrize("precision", ["full", "bfloat16", "8bit"])
def test_damaged_files_raise_only_checkpoint_error(tmp_path, precision):
    good = tmp_path / "good.npz"
    fastopt.save(good, *build(precision)[1:])
    data = good.read_bytes()
    params, opt, sched = build(precision)
    before = state(params, opt, sched)
    bad = tmp_path / "bad.npz"
    outcomes = set()
    for mutated in _mutations(data):
        bad.write_bytes(mutated)
        try:
            fastopt.load(bad, opt, sched)
            outcomes.add("loaded")
            params, opt, sched = build(precision)    # a flip in unused bytes: loads fine
            before = state(params, opt, sched)
        except CheckpointError as e:
            outcomes.add("refused")
            assert "allow_pickle" not in str(e) and str(bad) in str(e)
            assert state(params, opt, sched) == before
    assert "refused" in outcomes


def _rewrite_meta(path, out, text: str):
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(out, "w") as w:
        for info in z.infolist():
            if info.filename == "__fastopt__.npy":
                raw = text.encode()
                arr = np.frombuffer(raw, np.uint8)
                import io
                buf = io.BytesIO()
                np.save(buf, arr)
                w.writestr(info.filename, buf.getvalue())
            else:
                w.writestr(info, z.read(info))
    return out


@pytest.mark.parametrize("text", [
    "[" * 100000 + "]" * 100000,                              # deeply nested
    '{"format": "fastopt-checkpoint", "format_version": 1, "optimizer": '
    + "[" * 5000 + "]" * 5000 + ', "params": {}, "scheduler": null, "ema": null}',
    '{"format": "fastopt-checkpoint", "format_version": 1' + ', "x": ' + "9" * 100000 + "}",
    '{"format": "fastopt-checkpoint", "format_version": 1e999}',
    '{"format": "fastopt-checkpoint", "format_version": 1, "optimizer": {"step": 1e999}, '
    '"params": {}, "scheduler": null, "ema": null}',
    '\udcff', "not json", '{"format": "fastopt-checkpoint", "format_version": 1, '
    '"optimizer": {"__array__": 5}, "params": {}, "scheduler": null, "ema": null}',
    '{"format": "fastopt-checkpoint", "format_version": 1, '
    '"optimizer": {"__bfloat16__": [1]}, "params": {}, "scheduler": null, "ema": null}',
    '{"format": "fastopt-checkpoint", "format_version": 1, '
    '"optimizer": {"__bfloat16__": "params/0"}, "params": {}, "scheduler": null, '
    '"ema": null}'])
def test_hostile_metadata_raises_checkpoint_error(saved, tmp_path, text):
    params, opt, sched = build()
    before = state(params, opt, sched)
    try:
        bad = _rewrite_meta(saved, tmp_path / "bad.npz", text)
    except UnicodeEncodeError:
        bad = tmp_path / "bad.npz"
        with zipfile.ZipFile(saved) as z, zipfile.ZipFile(bad, "w") as w:
            for info in z.infolist():
                w.writestr(info, b"\x93NUMPY\x01\x00\x10\x00\xff\xfe\xfd" + b" " * 20
                           if info.filename == "__fastopt__.npy" else z.read(info))
    with pytest.raises(CheckpointError):
        fastopt.load(bad, opt, sched)
    assert state(params, opt, sched) == before


def test_encrypted_and_compressed_members_are_refused(saved, tmp_path):
    params, opt, sched = build()
    data = bytearray(saved.read_bytes())
    # set the "encrypted" flag of every member, in the local headers and the directory
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        for m in re.finditer(re.escape(sig), bytes(data)):
            data[m.start() + off] |= 0x01
    enc = tmp_path / "enc.npz"
    enc.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="encrypted"):
        fastopt.load(enc, opt, sched)
    comp = tmp_path / "comp.npz"
    with zipfile.ZipFile(saved) as z, zipfile.ZipFile(comp, "w", zipfile.ZIP_DEFLATED) as w:
        for info in z.infolist():
            w.writestr(info.filename, z.read(info))
    with pytest.raises(CheckpointError, match="compressed"):
        fastopt.load(comp, opt, sched)


def test_unused_members_are_never_decompressed(saved, tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(saved) as z, zipfile.ZipFile(bomb, "w") as w:
        for info in z.infolist():
            w.writestr(info, z.read(info))
        with w.open(zipfile.ZipInfo("zeros.npy"), "w", force_zip64=True) as f:
            pass
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as w:
        w.writestr("huge.npy", b"\0" * (64 << 20))          # 64 MB of zeros, ~64 KB on disk
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(name.filename if isinstance(name, zipfile.ZipInfo) else name)
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    params, opt, sched = build()
    before = state(params, opt, sched)
    with pytest.raises(CheckpointError, match="does not use"):
        fastopt.load(bomb, opt, sched)
    assert "huge.npy" not in opened and "zeros.npy" not in opened
    assert state(params, opt, sched) == before


def test_array_sizes_are_checked_before_reading(saved, tmp_path):
    """A member whose .npy header claims far more data than the member holds is refused
    from the header, before any buffer of that size is made."""
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(saved) as z, zipfile.ZipFile(bad, "w") as w:
        for info in z.infolist():
            raw = z.read(info)
            if info.filename.startswith("optimizer/"):
                raw = raw.replace(b"'shape': (", b"'shape': (10000000000, ", 1)
            w.writestr(info, raw)
    params, opt, sched = build()
    with pytest.raises(CheckpointError, match="bytes of data"):
        fastopt.load(bad, opt, sched)


def test_save_refuses_arrays_load_would_not_read(tmp_path, monkeypatch):
    """Arrays of other kinds than booleans, integers, floats and bfloat16 (which load would
    refuse) raise TypeError at save, before the file is opened."""
    params, opt, sched = build()
    path = tmp_path / "c.npz"
    fastopt.save(path, opt, sched)
    good = path.read_bytes()
    real = opt.state_dict
    for value in (np.zeros(2, np.complex64), np.array(["a"]), np.zeros(2, "V2"),
                  np.zeros(2, [("x", np.float32)]), np.zeros(2, "M8[s]")):
        monkeypatch.setattr(opt, "state_dict", lambda: dict(real(), extra=value))
        with pytest.raises(TypeError, match=r"optimizer\['extra'\] is an array of"):
            fastopt.save(path, opt, sched)
        assert path.read_bytes() == good and sorted(os.listdir(tmp_path)) == ["c.npz"]


# ---- temporary files ---------------------------------------------------------------------

def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_save_leaves_a_file_the_next_save_removes(tmp_path):
    path = tmp_path / "c.npz"
    code = f"""
import os, signal, numpy as np, fastopt
params = [np.ones(1 << 20, np.float32)]
opt = fastopt.Adam(params)
real = np.savez
def die_midway(file, **arrays):
    file.write(b"partial")
    file.flush()
    os.kill(os.getpid(), signal.SIGKILL)
np.savez = die_midway
fastopt.save({str(path)!r}, opt)
"""
    out = subprocess.run([sys.executable, "-c", code], env=python_env(), timeout=120)
    assert out.returncode == -signal.SIGKILL
    left = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert len(left) == 1 and not path.exists()
    host = left[0].split(".")[2]
    other_host = tmp_path / f".c.npz.otherhost.{_dead_pid()}.0a0b.tmp"
    other_host.write_bytes(b"x")
    old_style = tmp_path / ".c.npz.0a1b2c3d4e5f.tmp"
    old_style.write_bytes(b"x")
    os.utime(old_style, (0, 0))
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        running = tmp_path / f".c.npz.{host}.{live.pid}.0c0d.tmp"
        running.write_bytes(b"x")
        params, opt, sched = build()
        fastopt.save(path, opt, sched)
        remaining = sorted(os.listdir(tmp_path))
        assert remaining == sorted(["c.npz", running.name, other_host.name])
    finally:
        live.kill()
        live.wait()
    fastopt.load(path, opt, sched)


# ---- messages ----------------------------------------------------------------------------

def test_saving_into_a_missing_folder_names_the_folder(tmp_path):
    params, opt, sched = build()
    with pytest.raises(FileNotFoundError) as info:
        fastopt.save(tmp_path / "nowhere" / "c.npz", opt, sched)
    assert "nowhere" in str(info.value) and ".tmp" not in str(info.value)
    assert os.listdir(tmp_path) == []


def test_object_members_are_refused_in_fastopt_terms(tmp_path):
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __fastopt__=np.array([{"a": 1}], dtype=object))
    params, opt, sched = build()
    with pytest.raises(CheckpointError) as info:
        fastopt.load(pickled, opt, sched)
    assert "allow_pickle" not in str(info.value) and "not numbers" in str(info.value)


def test_readme_checkpoint_snippet_runs_as_written(tmp_path, monkeypatch):
    readme = os.path.join(ROOT, "README.md")
    if not os.path.exists(readme):
        pytest.skip("README.md is not beside the tests")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"```python\n(import os, numpy as np, fastopt\n.*?)```", text, re.S)
    assert block, "README's checkpoint snippet"
    env = dict(epochs=2, steps_per_epoch=3, batch=lambda step: step,
               forward_backward=lambda b, out: (out["w"].fill(0.01), 0.5)[1],
               evaluate=lambda params: None)
    monkeypatch.chdir(tmp_path)
    exec(compile(block.group(1), "README.md", "exec"), dict(env))
    assert os.path.exists("run/last.npz")
    resumed = dict(env)
    exec(compile(block.group(1), "README.md", "exec"), resumed)       # resumes, at the end
    assert resumed["opt"].step_count == 6


# ---- a checkpoint from before ------------------------------------------------------------

def test_a_checkpoint_saved_by_fastopt_0_1_0_resumes():
    """tests/data/checkpoint_0.1.0.npz: NAdam on {"w": (3, 4), "b": (3,)} float32 with
    StepLR(step_size=2, gamma=0.5) and EMA(decay=0.9) after 5 steps, saved by 0.1.0;
    the next step's values are what 0.1.0 computed from it."""
    path = os.path.join(os.path.dirname(__file__), "data", "checkpoint_0.1.0.npz")
    w, b = np.zeros((3, 4), np.float32), np.ones(3, np.float32)
    params = {"w": w, "b": b}
    opt = fastopt.NAdam(params, lr=0.05)
    sched = fastopt.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    ema = fastopt.EMA(params, decay=0.9)
    fastopt.load(path, opt, sched, ema=ema)
    assert opt.step_count == 5 and sched.last_epoch == 5
    opt.step({"w": np.full((3, 4), 0.5, np.float32), "b": np.full(3, -0.5, np.float32)})
    expected_w = [-1.052423357963562, -0.809807538986206, -0.5356164574623108,
                  -0.40519699454307556, -0.28389352560043335, -0.2101101279258728,
                  0.02424229122698307, 0.2617565095424652, 0.5692193508148193,
                  0.7000868916511536, 0.827020525932312, 0.8678286075592041]
    expected_b = [-0.06760520488023758, -0.07113050669431686, -0.01813061721622944]
    assert w.ravel().tobytes() == np.array(expected_w, np.float32).tobytes()
    assert b.tobytes() == np.array(expected_b, np.float32).tobytes()
    assert opt.group_state == [{"mu_product": 0.008332268306426593}]


def test_windows_never_probes_a_pid(tmp_path, monkeypatch):
    """On Windows os.kill(pid, 0) terminates the process: there, a temporary file of this
    host is judged by its age only."""
    from fastopt import checkpoint
    probed = []
    monkeypatch.setattr(checkpoint, "_process_alive", lambda pid: probed.append(pid) or False)
    monkeypatch.setattr(checkpoint.os, "name", "nt")
    fresh = tmp_path / f".c.npz.{checkpoint._host()}.{_dead_pid()}.0a0b.tmp"
    fresh.write_bytes(b"x")
    checkpoint._remove_stale_temporaries(str(tmp_path / "c.npz"))
    assert probed == [] and fresh.exists()
