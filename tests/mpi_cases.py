"""fastopt.distributed's checks, run on every rank under mpiexec by
tests/test_distributed.py:  mpiexec -n N python tests/mpi_cases.py SUITE [ARGS].

Each rank runs the same cases in the same order and checks what it holds; rank 0 prints
one JSON line per case, ``{"case": name, "failures": [what failed, on which rank]}``.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback

import numpy as np
from mpi4py import MPI

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fastopt                                       # noqa: E402
from fastopt import distributed as dist              # noqa: E402
from fastopt.optimizers.table import OPTIMIZERS      # noqa: E402
from harness import gradient                         # noqa: E402

comm = MPI.COMM_WORLD
RANK, SIZE = comm.Get_rank(), comm.Get_size()
# Slices cut the first two parameters inside (chunks are 32768 elements), and ranks may
# hold no piece of the small ones.
SHAPES = {"a": (70_001,), "b": (300, 217), "c": (33,), "d": (5, 1, 3), "e": (0,)}
STEPS = 4


def report(case: str, check) -> None:
    """Run ``check()`` on every rank; rank 0 prints what failed where."""
    try:
        check()
        mine = None
    except Exception:
        mine = "".join(traceback.format_exc(limit=-2).splitlines(True)[-4:])
    every = comm.gather(mine, root=0)
    if RANK == 0:
        failures = [f"rank {r}: {m}" for r, m in enumerate(every) if m is not None]
        print(json.dumps({"case": case, "failures": failures}), flush=True)


def same_everywhere(*arrays: np.ndarray) -> None:
    mine = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)
    every = comm.allgather(mine)
    assert all(x == every[0] for x in every), "the ranks' parameters differ"


def initial(dtype) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}


def local_grads(dtype, step: int, nan_at: int | None = None) -> dict[str, np.ndarray]:
    """This rank's gradients at ``step`` (each rank its own)."""
    rng = np.random.default_rng(1000 * step + RANK)
    grads = {k: gradient(rng, s, dtype, step) for k, s in SHAPES.items()}
    if nan_at == step and RANK == SIZE - 1:
        grads["b"][3, 5] = np.nan
    return grads


def as_groups(values: dict[str, np.ndarray], info) -> object:
    """``values`` in the optimizer's param groups of the table (by name)."""
    if info.groups is None:
        return values
    keys = list(values)
    return [{"params": {k: values[k] for k in keys[i::len(info.groups.groups)]}, **g}
            for i, g in enumerate(info.groups.groups)]


def compare_state(ours: dict, ref: dict) -> None:
    assert ours.keys() == ref.keys()
    for k in ref["state"]:
        for name, entry in ref["state"][k].items():
            mine = ours["state"][k][name]
            if isinstance(entry, dict):
                for part in ("codes", "absmax"):
                    assert np.array_equal(mine[part], entry[part]), (k, name, part)
            else:
                assert mine.dtype == entry.dtype and mine.shape == entry.shape, (k, name)
                assert np.array_equal(mine.view(np.uint8), entry.view(np.uint8)), (k, name)
    for key in ("step", "skipped_steps", "group_state", "param_groups"):
        assert repr(ours[key]) == repr(ref[key]), key


# ---- bitwise: every optimizer, option set, dtype and form against one process -----------

def zero_case(info, kwargs: dict, dtype, form: str, reduction: str,
              nan_at: int | None = None) -> None:
    cls = getattr(fastopt, info.cls)
    start = initial(dtype)
    opt_kwargs = dict(info.groups.kwargs) if (form == "groups" and info.groups) else kwargs
    try:
        cls(fastopt.flatten(start), **opt_kwargs)
    except ValueError as e:             # refused in one process: refused here too
        try:
            dist.ZeroRedundancyOptimizer(fastopt.flatten(start), cls, **opt_kwargs)
        except ValueError as ours:
            assert str(ours) == str(e), (str(ours), str(e))
            return
        raise AssertionError(f"not refused: {e}") from None
    if form == "flat":
        params = fastopt.flatten({k: v.copy() for k, v in start.items()})
        zo = dist.ZeroRedundancyOptimizer(params, cls, reduction=reduction, **opt_kwargs)
        ref_params = fastopt.flatten({k: v.copy() for k, v in start.items()})
        ref = cls(ref_params, **opt_kwargs)
        ours = params
    else:
        ours = {k: v.copy() for k, v in start.items()}
        zo = dist.ZeroRedundancyOptimizer(as_groups(ours, info), cls, reduction=reduction,
                                          **opt_kwargs)
        ref_arrays = {k: v.copy() for k, v in start.items()}
        ref = cls(as_groups(ref_arrays, info), **opt_kwargs)
    refs = ref_params if form == "flat" else ref_arrays
    for t in range(1, STEPS + 1):
        grads = local_grads(dtype, t, nan_at)
        if form == "flat":
            for k, g in grads.items():
                params.grads[k][...] = g
            zo.step()
        else:
            zo.step(grads)
        # the mean gradient this step used, as one flat buffer: one process steps on it
        mean = np.zeros(zo.layout.total, dtype)
        comm.Allgatherv(zo.shard_grad, [mean, zo.layout.counts, zo.layout.displs,
                                        MPI.FLOAT if dtype == np.float32 else MPI.DOUBLE])
        ref_grads = {k: mean[o:o + start[k].size].reshape(start[k].shape)
                     for (k, _), o in zip(zo.named_parameters(), zo.layout.offsets)}
        if nan_at is not None and kwargs.get("nonfinite") == "raise" and t == nan_at:
            continue
        ref.step(ref_grads)
        assert zo.step_count == ref.step_count and zo.skipped_steps == ref.skipped_steps
        assert repr(zo.grad_norm) == repr(ref.grad_norm), (zo.grad_norm, ref.grad_norm)
    if hasattr(ref, "eval"):        # Schedule-Free: the average, then y again, on every rank
        for switch in ("eval", "train"):
            getattr(zo, switch)()
            getattr(ref, switch)()
            for k in SHAPES:
                assert np.array_equal(ours[k], refs[k]), f"{switch}(): parameter {k} differs"
            same_everywhere(*[ours[k] for k in SHAPES])
    for k in SHAPES:
        assert np.array_equal(ours[k], refs[k]), f"parameter {k} differs from one process"
    same_everywhere(*[ours[k] for k in SHAPES])
    compare_state(zo.state_dict(), ref.state_dict())


def data_parallel_case(info, kwargs: dict, dtype, reduction: str,
                       bucket_bytes: int = 1 << 24) -> None:
    cls = getattr(fastopt, info.cls)
    start = initial(dtype)
    params = fastopt.flatten({k: v.copy() for k, v in start.items()})
    dp = dist.DataParallel(cls(params, **kwargs), reduction=reduction,
                           bucket_bytes=bucket_bytes)
    ref_params = fastopt.flatten({k: v.copy() for k, v in start.items()})
    ref = cls(ref_params, **kwargs)
    for t in range(1, STEPS + 1):
        for k, g in local_grads(dtype, t).items():
            params.grads[k][...] = g
        mine = params.grad.copy()
        dp.step()
        if reduction == "ordered":            # the mean, as the docs define it
            every = comm.allgather(mine)
            total = every[0].copy()
            for g in every[1:]:
                total += g
            assert np.array_equal(params.grad, total / SIZE), "not the ordered mean"
        ref_params.grad[...] = params.grad
        ref.step()
    same_everywhere(params.data)
    assert np.array_equal(params.data, ref_params.data), "differs from one process"
    compare_state(dp.state_dict(), ref.state_dict())


def suite_bitwise() -> None:
    for info in OPTIMIZERS:
        if getattr(fastopt, info.cls).takes_row_sparse:
            continue            # refused by both wrappers (tests/test_sparse_adam.py)
        option_sets = list(info.option_sets) + [
            {**info.full, "max_grad_norm": 0.5},
            {**info.full, "max_grad_norm": 1e-3, "nonfinite": "skip"}]
        if getattr(fastopt, info.cls).state_is_moments:
            option_sets += [{**info.full, "state_precision": "bfloat16"},
                            {**info.full, "state_precision": "8bit", "min_8bit_size": 50_000,
                             "max_grad_norm": 0.5}]
        # ZeRO refuses an optimizer whose step cannot run on flat slices (Adafactor);
        # DataParallel takes it
        shardable = getattr(fastopt, info.cls).unshardable is None
        for dtype in (np.float32, np.float64):
            name = np.dtype(dtype).name
            for i, kwargs in enumerate(option_sets if shardable else ()):
                report(f"zero {info.cls} options[{i}] {name} flat ordered",
                       lambda: zero_case(info, kwargs, dtype, "flat", "ordered"))
            if shardable:
                report(f"zero {info.cls} full {name} flat allreduce",
                       lambda: zero_case(info, info.full, dtype, "flat", "allreduce"))
                report(f"zero {info.cls} full {name} groups ordered",
                       lambda: zero_case(info, info.full, dtype, "groups", "ordered"))
                report(f"zero {info.cls} nonfinite skip {name}",
                       lambda: zero_case(info, {**info.full, "nonfinite": "skip"}, dtype,
                                         "flat", "ordered", nan_at=2))
            for reduction in ("allreduce", "ordered"):
                report(f"data-parallel {info.cls} full {name} {reduction}",
                       lambda: data_parallel_case(info, info.full, dtype, reduction))
            # buckets of an odd number of elements, which the ranks share unevenly
            report(f"data-parallel {info.cls} full {name} ordered small buckets",
                   lambda: data_parallel_case(info, info.full, dtype, "ordered",
                                              bucket_bytes=1001 * np.dtype(dtype).itemsize))



# ---- Muon: refused by ZeRO; its recipe under the wrappers ---------------------------------

def suite_muon() -> None:
    def refused() -> None:
        matrix = {"b": initial(np.float32)["b"]}
        try:
            dist.ZeroRedundancyOptimizer(matrix, fastopt.Muon, lr=0.02)
        except TypeError as e:
            assert "does not support Muon: it orthogonalises each weight matrix" in str(e)
            assert "DataParallel(fastopt.Muon(...))" in str(e), str(e)
        else:
            raise AssertionError("ZeroRedundancyOptimizer took Muon")
    report("muon: ZeroRedundancyOptimizer refuses it, saying why and what to use", refused)

    def recipe() -> None:
        # What the refusal points to: Muon under DataParallel for the matrices, ZeRO with
        # AdamW for the rest; given the same mean gradient, the one-process steps.
        start = initial(np.float32)
        split = ({k: v for k, v in start.items() if v.ndim == 2},
                 {k: v for k, v in start.items() if v.ndim != 2})
        ours = [fastopt.flatten({k: v.copy() for k, v in part.items()}) for part in split]
        refs = [fastopt.flatten({k: v.copy() for k, v in part.items()}) for part in split]
        muon = dist.DataParallel(fastopt.Muon(ours[0], lr=0.02))
        adamw = dist.ZeroRedundancyOptimizer(ours[1], fastopt.AdamW, lr=1e-3)
        ref_muon, ref_adamw = fastopt.Muon(refs[0], lr=0.02), fastopt.AdamW(refs[1], lr=1e-3)
        for t in range(1, STEPS + 1):
            grads = local_grads(np.float32, t)
            for params in ours:
                for k in params.grads:
                    params.grads[k][...] = grads[k]
            muon.step()
            adamw.step()
            refs[0].grad[...] = ours[0].grad          # DataParallel's mean, in place
            ref_muon.step()
            comm.Allgatherv(adamw.shard_grad, [refs[1].grad, adamw.layout.counts,
                                               adamw.layout.displs, MPI.FLOAT])
            ref_adamw.step()
        for params, ref in zip(ours, refs):
            assert np.array_equal(params.data, ref.data), "differs from one process"
            same_everywhere(params.data)
    report("muon: DataParallel Muon for the matrices, ZeRO AdamW for the rest", recipe)


# ---- refusals: one rank's bad input refuses the step on every rank ---------------------

def snapshot(opt, arrays) -> bytes:
    sd = opt.state_dict()
    state = b"".join(np.ascontiguousarray(e).tobytes() for k in sorted(sd["state"])
                     for e in sd["state"][k].values())
    return b"".join(a.tobytes() for a in arrays) + state + repr(
        (sd["step"], sd["param_groups"], sd["group_state"])).encode()


def expect_refused(opt, arrays, call, own_error: type, bad_rank: int, match: str) -> None:
    """``call()`` raises on every rank -- ``own_error`` on ``bad_rank``, DistributedError
    naming it elsewhere -- and nothing changes anywhere."""
    before = snapshot(opt, arrays)
    try:
        call()
    except Exception as e:
        if RANK == bad_rank:
            assert isinstance(e, own_error), repr(e)
        else:
            assert isinstance(e, dist.DistributedError), repr(e)
            assert f"rank {bad_rank}:" in str(e), str(e)
        assert match in str(e), (match, str(e))
    else:
        raise AssertionError("not refused")
    assert snapshot(opt, arrays) == before, "changed by a refused call"


def suite_refusals() -> None:
    bad = SIZE - 1
    for kind in ("zero", "data-parallel"):
        for form in ("flat", "dict"):
            def check(kind=kind, form=form) -> None:
                start = initial(np.float32)
                if form == "flat":
                    params = fastopt.flatten(start)
                    arrays = [params.data]
                else:
                    params = start
                    arrays = list(start.values())
                if kind == "zero":
                    opt = dist.ZeroRedundancyOptimizer(params, fastopt.AdamW, lr=1e-2,
                                                       nonfinite="raise", timeout=60)
                else:
                    opt = dist.DataParallel(fastopt.AdamW(params, lr=1e-2,
                                                          nonfinite="raise"), timeout=60)
                grads = local_grads(np.float32, 1)
                opt.step(grads)
                # a gradient of the wrong shape on one rank
                wrong = dict(grads)
                if RANK == bad:
                    wrong["b"] = np.zeros((217, 300), np.float32)
                expect_refused(opt, arrays, lambda: opt.step(wrong), ValueError, bad,
                               "gradient")
                # a learning rate set wrong on one rank
                if RANK == bad:
                    opt.param_groups[0]["lr"] = -1.0
                expect_refused(opt, arrays, lambda: opt.step(grads), ValueError, bad, "lr")
                opt.param_groups[0]["lr"] = 1e-2
                # a NaN in one rank's gradient: the mean is NaN on every rank
                nan = {k: g.copy() for k, g in grads.items()}
                if RANK == bad:
                    nan["b"][0, 0] = np.nan
                before = snapshot(opt, arrays)
                try:
                    opt.step(nan)
                except fastopt.NonFiniteError as e:
                    assert "'b'" in str(e) and "'a'" not in str(e), str(e)
                else:
                    raise AssertionError("a NaN gradient was not refused")
                assert snapshot(opt, arrays) == before
                # a state_dict that one rank cannot load
                sd = opt.state_dict()
                if RANK == bad:
                    sd["state"] = {}
                expect_refused(opt, arrays, lambda: opt.load_state_dict(sd), ValueError, bad,
                               "state")
                # guard options set on one rank only: the ranks would call different
                # collectives, so every rank refuses
                if RANK == bad:
                    opt.max_grad_norm = 1.0
                expect_refused(opt, arrays, lambda: opt.step(grads), dist.DistributedError,
                               bad, "did not make the same call")
                opt.max_grad_norm = None
                # a read-only gradient (DataParallel writes the mean into the gradients)
                frozen = {k: g.copy() for k, g in grads.items()}
                if RANK == bad:
                    frozen["c"].flags.writeable = False
                if kind == "data-parallel":
                    expect_refused(opt, arrays, lambda: opt.step(frozen), ValueError, bad,
                                   "read-only")
                # and the communicator still works: a step on every rank
                opt.step(grads)
                assert opt.step_count == 2
                same_everywhere(*arrays)
            report(f"refusals {kind} {form}", check)

    def different_options() -> None:
        start = initial(np.float32)
        for build in (
                lambda **kw: dist.ZeroRedundancyOptimizer(fastopt.flatten(start),
                                                          fastopt.Adam, **kw),
                lambda **kw: dist.DataParallel(fastopt.Adam(fastopt.flatten(start), **kw))):
            try:
                build(max_grad_norm=1.0 if RANK == bad else None)
            except ValueError as e:
                assert "same" in str(e), str(e)
            else:
                raise AssertionError("ranks with different options were not refused")
    report("refusals: options that differ between ranks", different_options)

    def grads_in_another_form() -> None:
        params = fastopt.flatten(initial(np.float32))
        opt = dist.DataParallel(fastopt.Adam(params))
        grads = local_grads(np.float32, 1)
        for k, g in grads.items():
            params.grads[k][...] = g
        try:
            opt.step(grads if RANK == bad else None)
        except dist.DistributedError as e:
            assert "did not make the same call" in str(e), str(e)
        else:
            raise AssertionError("not refused")
        opt.step()
        same_everywhere(params.data)
    report("refusals: gradients given in another form on one rank", grads_in_another_form)


def suite_checkpoint_mismatch(folder: str) -> None:
    """A sharded checkpoint refused, with CheckpointError on every rank and nothing
    changed, by parameters of another shape or size; a consolidated DataParallel
    checkpoint loads with a scheduler of the wrapped optimizer."""
    def check() -> None:
        path = os.path.join(folder, "sharded")
        opt = dist.ZeroRedundancyOptimizer(fastopt.flatten(initial(np.float32)),
                                           fastopt.SGD, lr=0.1)
        opt.step(local_grads(np.float32, 1))
        dist.save(path, opt, sharded=True)
        for key, shape in (("b", (217, 300)), ("a", (70_002,))):
            other = {**initial(np.float32), key: np.zeros(shape, np.float32)}
            params = fastopt.flatten(other)
            target = dist.ZeroRedundancyOptimizer(params, fastopt.SGD, lr=0.1)
            before = params.data.copy()
            try:
                dist.load(path, target)
            except fastopt.CheckpointError as e:
                assert "parameters" in str(e), str(e)
            else:
                raise AssertionError(f"{key} of shape {shape} loaded")
            assert np.array_equal(params.data, before) and target.step_count == 0
        params = fastopt.flatten(initial(np.float32))
        dp = dist.DataParallel(fastopt.Adam(params, lr=0.1))
        sched = fastopt.lr_scheduler.StepLR(dp.optimizer, step_size=1, gamma=0.5)
        dp.step(local_grads(np.float32, 1))
        sched.step()
        file = os.path.join(folder, "dp.npz")
        dist.save(file, dp, sched)
        dp2 = dist.DataParallel(fastopt.Adam(fastopt.flatten(initial(np.float32)), lr=0.1))
        sched2 = fastopt.lr_scheduler.StepLR(dp2.optimizer, step_size=1, gamma=0.5)
        dist.load(file, dp2, sched2)
        assert sched2.get_last_lr() == sched.get_last_lr() and dp2.step_count == 1
    report("checkpoint mismatches", check)


# ---- a rank that never arrives ----------------------------------------------------------

def suite_timeout() -> None:
    """Rank 1 hangs; the others raise DistributedError after their timeout (run under
    ``python -m mpi4py``, whose abort then ends the job)."""
    params = fastopt.flatten(initial(np.float32))
    opt = dist.ZeroRedundancyOptimizer(params, fastopt.Adam, timeout=2)
    if RANK == 1:
        time.sleep(60)
    start = time.monotonic()
    try:
        opt.step()
    except dist.DistributedError:
        print(f"rank {RANK} gave up after {time.monotonic() - start:.1f} s", flush=True)
        raise


# ---- threads -----------------------------------------------------------------------------

def suite_threads(expected: str) -> None:
    def check() -> None:
        opt = dist.DataParallel(fastopt.Adam(fastopt.flatten(initial(np.float32))))
        assert opt.num_threads == int(expected), (opt.num_threads, expected)
        assert fastopt.get_num_threads() == int(expected)
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            if pool["user_api"] == "blas":
                assert pool["num_threads"] == int(expected), pool
        dist.ZeroRedundancyOptimizer(fastopt.flatten(initial(np.float32)), fastopt.Adam,
                                     num_threads=1)
        assert fastopt.get_num_threads() == 1
    report(f"threads {SIZE} ranks", check)


# ---- training that is killed, restarted and resharded -------------------------------------

WORKERS = 4     # the gradient of a step is the mean of 4 workers', dealt out to the ranks


def dyadic_grads(step: int) -> dict[str, np.ndarray]:
    """This rank's share of step ``step``'s gradient: multiples of 2**-10 small enough
    that every sum is exact, so the mean over 1, 2 or 4 ranks has the same bits."""
    per_rank = WORKERS // SIZE
    total = None
    for j in range(RANK * per_rank, (RANK + 1) * per_rank):
        rng = np.random.default_rng(10_000 * step + j)
        d = {k: (np.round(rng.standard_normal(s) * 64) / 1024).astype(np.float32)
             for k, s in SHAPES.items()}
        total = d if total is None else {k: total[k] + d[k] for k in d}
    assert total is not None
    return {k: g * np.float32(SIZE / WORKERS) for k, g in total.items()}


def suite_train(kind: str, precision: str, out: str, checkpoint: str, steps: str,
                kill_at: str) -> None:
    """Train AdamW with a scheduler and an EMA for ``steps`` steps, resuming from ``checkpoint`` where
    it exists and saving it every 3 steps (a directory: sharded; a file: consolidated);
    rank 1 kills itself (SIGKILL) after step ``kill_at``.  Rank 0 writes the parameters
    and the whole state to ``out``."""
    import signal
    assert WORKERS % SIZE == 0
    params = fastopt.flatten(initial(np.float32))
    kwargs = dict(lr=1e-2, weight_decay=0.01, max_grad_norm=5.0, state_precision=precision,
                  min_8bit_size=1000)
    if kind == "zero":
        opt = dist.ZeroRedundancyOptimizer(params, fastopt.AdamW, **kwargs)
    elif kind == "data-parallel":
        opt = dist.DataParallel(fastopt.AdamW(params, **kwargs))
    else:
        assert kind == "plain" and SIZE == 1
        opt = fastopt.AdamW(params, **kwargs)
    sched = fastopt.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    ema = fastopt.EMA(params, decay=0.9)
    sharded = not checkpoint.endswith(".npz")
    if os.path.exists(checkpoint):
        (fastopt.load if kind == "plain" else dist.load)(checkpoint, opt, sched, ema=ema)
    for t in range(opt.step_count + 1, int(steps) + 1):
        grads = dyadic_grads(t)
        for k, g in grads.items():
            params.grads[k][...] = g
        opt.step()
        sched.step()
        ema.update()
        if t % 3 == 0:
            if kind == "plain":
                fastopt.save(checkpoint, opt, sched, ema=ema)
            else:
                dist.save(checkpoint, opt, sched, ema=ema, sharded=sharded and kind == "zero")
        if t == int(kill_at) and RANK == 1:
            os.kill(os.getpid(), signal.SIGKILL)
    sd = opt.state_dict()
    if RANK == 0:
        arrays = {f"param/{k}": params[k] for k in SHAPES}
        arrays.update({f"ema/{k}": v for k, v in ema.shadow.items()})
        for k, entries in sd["state"].items():
            for name, e in entries.items():
                parts = e.items() if isinstance(e, dict) else [("", e)]
                for part, a in parts:
                    arrays[f"state/{k}/{name}/{part}"] = np.asarray(a).view(np.uint8)
        np.savez(out, step=sd["step"], lr=sched.get_last_lr()[0], **arrays)


if __name__ == "__main__":
    globals()[f"suite_{sys.argv[1].replace('-', '_')}"](*sys.argv[2:])
