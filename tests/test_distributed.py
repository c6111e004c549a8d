"""fastopt.distributed under ``mpiexec -n 2`` and ``-n 4`` (oversubscribed on small
machines): tests/mpi_cases.py runs on every rank, and these tests read what it reports.
Skipped where mpi4py or mpiexec is missing (``pip install '.[mpi]'``)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("mpi4py")

import fastopt  # noqa: E402
from fastopt.optimizers.table import OPTIMIZERS  # noqa: E402
from harness import python_env  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MPIEXEC = next((p for p in (os.path.join(os.path.dirname(sys.executable), "mpiexec"),
                            shutil.which("mpiexec")) if p and os.path.exists(p)), None)
if MPIEXEC is None:
    pytest.skip("no mpiexec (pip install mpich)", allow_module_level=True)

RANKS = (2, 4)


def mpirun(n: int, *args: str, timeout: float = 900, abort_on_error: bool = False,
           check: bool = True) -> subprocess.CompletedProcess:
    runner = ["-m", "mpi4py"] if abort_on_error else []
    proc = subprocess.run([MPIEXEC, "-n", str(n), sys.executable, *runner, *args],
                          capture_output=True, text=True, timeout=timeout, env=python_env())
    if check and proc.returncode != 0:
        raise AssertionError(f"mpiexec -n {n} {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def cases(n: int, suite: str, *args: str) -> dict[str, list[str]]:
    """What each case of ``suite`` reported: its failures by rank (none: it passed)."""
    out = mpirun(n, os.path.join(HERE, "mpi_cases.py"), suite, *args).stdout
    reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert reports, out
    return {r["case"]: r["failures"] for r in reports}


_bitwise: dict[int, dict[str, list[str]]] = {}


def mpi_cases_sharded() -> set[str]:
    """The table's optimizers the wrappers take (SparseAdam's row-sparse step is refused
    by both: tests/test_sparse_adam.py)."""
    return {i.cls for i in OPTIMIZERS if not getattr(fastopt, i.cls).takes_row_sparse}


@pytest.mark.parametrize("n", RANKS)
@pytest.mark.parametrize("info", [i for i in OPTIMIZERS if i.cls in mpi_cases_sharded()],
                         ids=lambda i: i.cls)
def test_sharded_and_data_parallel_steps_equal_one_process_bitwise(info, n):
    """ZeroRedundancyOptimizer (both reductions, flat and param groups, every option set
    of the table, guards, state precisions) and DataParallel, float32 and float64: given
    the same mean gradient, bitwise the step of one process, the same bits on every rank,
    and state_dict() the one process's; a NaN on one rank skips the step on all."""
    if n not in _bitwise:
        _bitwise[n] = cases(n, "bitwise")
    mine = {case: failures for case, failures in _bitwise[n].items()
            if case.split()[1] == info.cls}
    assert len(mine) >= 6      # DataParallel's alone (ZeRO adds its own where it takes it)
    failed = {case: failures for case, failures in mine.items() if failures}
    assert not failed, "\n".join(f"{c}:\n{''.join(f)}" for c, f in failed.items())


@pytest.mark.parametrize("n", RANKS)
def test_one_ranks_bad_input_refuses_the_step_on_every_rank(n):
    """A wrong gradient, learning rate or state_dict on one rank, or a NaN: every rank
    raises (its own error, or DistributedError naming the rank), nothing changes, and the
    next step runs."""
    reports = cases(n, "refusals")
    assert len(reports) == 6
    assert not any(reports.values()), reports


def test_muon_is_refused_by_zero_and_its_recipe_runs_on_two_ranks():
    """ZeroRedundancyOptimizer refuses Muon (whole matrices) up front, on every rank,
    saying what to use instead; that works: DataParallel Muon for the matrices and ZeRO
    AdamW for the rest, bitwise one process's steps."""
    reports = cases(2, "muon")
    assert len(reports) == 2
    assert not any(reports.values()), reports


@pytest.mark.parametrize("cls", [c for c in vars(fastopt).values() if isinstance(c, type)
                                 and issubclass(c, fastopt.Optimizer)],
                         ids=lambda c: c.__name__)
def test_zero_refuses_what_it_cannot_shard_and_says_why(cls):
    """An optimizer whose step is row-sparse or whose state is not shaped like the
    parameters declares why flat slices cannot run it, and ZeRO refuses it with that."""
    if cls.takes_row_sparse or not cls.parameter_shaped_state:
        assert cls.unshardable
    if not cls.unshardable:
        return
    from fastopt.distributed import ZeroRedundancyOptimizer
    with pytest.raises(TypeError) as e:
        ZeroRedundancyOptimizer([np.zeros((4, 4), np.float32)], cls)
    assert str(e.value) == (f"ZeroRedundancyOptimizer does not support {cls.__name__}: "
                            f"{cls.unshardable}")


def test_a_sharded_checkpoint_for_other_parameters_is_refused(tmp_path):
    """Parameters of another shape or size: CheckpointError on every rank, nothing
    loaded; a DataParallel file loads with its wrapped optimizer's scheduler."""
    reports = cases(2, "checkpoint-mismatch", str(tmp_path))
    assert not any(reports.values()), reports


def test_a_rank_that_never_arrives_raises_within_the_timeout():
    start = time.monotonic()
    proc = mpirun(2, os.path.join(HERE, "mpi_cases.py"), "timeout", check=False,
                  abort_on_error=True, timeout=120)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0
    assert "rank 0 gave up after 2." in proc.stdout, proc.stdout + proc.stderr
    assert "not every rank arrived within 2 s" in proc.stderr
    assert elapsed < 40          # not the 60 s rank 1 sleeps


@pytest.mark.parametrize("n, expected", [(4, 1), (1, None)])
def test_each_rank_defaults_to_its_share_of_the_cores(n, expected):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    expected = expected if expected is not None else cores
    if n == 4 and cores >= 8:
        expected = cores // 4
    pytest.importorskip("threadpoolctl")
    reports = cases(n, "threads", str(expected))
    assert not any(reports.values()), reports


def _final(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """The run in one process (plain fastopt.AdamW), per state precision."""
    class OneProcess:
        def __init__(self) -> None:
            self.made: dict[str, str] = {}

        def run(self, precision: str) -> str:
            if precision not in self.made:
                d = tmp_path_factory.mktemp(f"plain-{precision}")
                mpirun(1, os.path.join(HERE, "mpi_cases.py"), "train", "plain", precision,
                       str(d / "out.npz"), str(d / "ck.npz"), "12", "-1")
                self.made[precision] = str(d)
            return self.made[precision]

        def __call__(self, precision: str) -> dict[str, np.ndarray]:
            """The parameters and state it ends with."""
            return _final(os.path.join(self.run(precision), "out.npz"))

        def checkpoint(self, precision: str) -> str:
            """Its fastopt.save checkpoint of step 12."""
            return os.path.join(self.run(precision), "ck.npz")
    return OneProcess()


@pytest.mark.parametrize("kind, precision, first, then, form", [
    ("zero", "full", 4, 2, "sharded"),
    ("zero", "8bit", 2, 4, "sharded"),
    ("zero", "bfloat16", 4, 1, "sharded"),
    ("zero", "full", 2, 4, "consolidated"),
    ("data-parallel", "full", 4, 2, "consolidated"),
    ("zero", "8bit", 4, "plain", "consolidated"),     # resumed in one process: fastopt.load
])
def test_a_killed_run_restarts_from_its_checkpoint_with_any_number_of_ranks(
        tmp_path, one_process, kind, precision, first, then, form):
    """Rank 1 is killed (SIGKILL) after step 8; the job is restarted with another number
    of ranks from the checkpoint of step 6 and runs to step 12: the parameters, the whole
    state and the scheduler end bitwise where one process's do (the gradients are built
    so that their mean has the same bits for 1, 2 and 4 ranks)."""
    checkpoint = str(tmp_path / ("ck" if form == "sharded" else "ck.npz"))
    out = str(tmp_path / "out.npz")
    script = os.path.join(HERE, "mpi_cases.py")
    killed = mpirun(first, script, "train", kind, precision, out, checkpoint, "12", "8",
                    check=False, timeout=300)
    assert killed.returncode != 0 and not os.path.exists(out)
    assert os.path.exists(checkpoint)
    if then == "plain":
        mpirun(1, script, "train", "plain", precision, out, checkpoint, "12", "-1")
    else:
        mpirun(then, script, "train", kind, precision, out, checkpoint, "12", "-1",
               timeout=300)
    ours, ref = _final(out), one_process(precision)
    assert sorted(ours) == sorted(ref)
    for key in ref:
        assert np.array_equal(ours[key], ref[key]), key


@pytest.mark.parametrize("kind, n", [("zero", 2), ("data-parallel", 4)])
def test_a_one_process_checkpoint_loads_into_any_number_of_ranks(tmp_path, one_process,
                                                                   kind, n):
    """fastopt.save's file of the one-process run at step 12, loaded with
    fastopt.distributed.load: the whole state and the parameters, bitwise."""
    ref = one_process("8bit")
    checkpoint = one_process.checkpoint("8bit")
    out = str(tmp_path / "out.npz")
    mpirun(n, os.path.join(HERE, "mpi_cases.py"), "train", kind, "8bit", out, checkpoint,
           "12", "-1")
    ours = _final(out)
    assert sorted(ours) == sorted(ref)
    for key in ref:
        assert np.array_equal(ours[key], ref[key]), key


def test_the_example_trains_on_two_ranks_as_one_process_does():
    pytest.importorskip("sklearn")
    proc = mpirun(2, "-m", "fastopt.examples.digits_mpi", "--quick", abort_on_error=True,
                  timeout=300)
    metrics = json.loads(proc.stdout)
    assert metrics["ranks"] == 2 and metrics["steps"] == 6 * 23
    assert metrics["test_accuracy"] > 0.94
    assert metrics["largest_state_bytes_of_a_rank"] < metrics["state_bytes_one_process"]


def test_import_fastopt_does_not_import_mpi():
    code = "import sys, fastopt; assert 'mpi4py' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env=python_env())


def test_without_mpi4py_the_error_says_what_to_install():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "try:\n    import fastopt.distributed\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env=python_env()).stdout
    assert "pip install 'fastopt[mpi]'" in out


def test_shard_layout_cuts_at_chunks_and_covers_everything():
    from fastopt._core.params import parse_params
    from fastopt._core.plan import CHUNK
    from fastopt.distributed._layout import ShardLayout
    params = fastopt.flatten({"a": np.zeros(100_001, np.float32),
                              "b": np.zeros((300, 217), np.float32),
                              "c": np.zeros(5, np.float32)})
    _, tensors, flat = parse_params(params)
    for ranks in (1, 2, 3, 4, 7, 64):
        layout = ShardLayout(tensors, flat, ranks)
        assert layout.bounds[0] == 0 and layout.bounds[-1] == params.data.size
        assert (np.diff(layout.bounds) >= 0).all()
        seen = [np.zeros(t.array.size, int) for t in tensors]
        for r in range(ranks):
            for t, p, s in zip(tensors, layout.pieces(r), seen):
                assert p.start % CHUNK == 0 or p.size == 0
                s[p.start:p.stop] += 1
        assert all((s == 1).all() for s in seen)     # every element on exactly one rank
        if ranks <= 4:      # about equal slices, at chunk granularity
            assert layout.counts.max() - layout.counts.min() <= 2 * CHUNK
