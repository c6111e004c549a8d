"""benches/distributed.py as a smoke test: tiny sizes, 2 ranks, a few steps (skipped
without mpi4py)."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("mpi4py")

HERE = os.path.dirname(os.path.abspath(__file__))


def test_distributed_bench_runs():
    out = subprocess.run([sys.executable, os.path.join(HERE, "distributed.py"), "--sizes",
                          "1e4", "--ranks", "2", "--steps", "2"],
                         capture_output=True, text=True, timeout=600, check=True).stdout
    rows = [line for line in out.splitlines() if line.startswith("| fastopt")]
    assert len(rows) == 2, out
