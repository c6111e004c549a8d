"""benches/vs_torch.py as a smoke test: every case at its small shape, a short budget."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def test_vs_torch_bench_runs():
    from vs_torch import CASES
    out = subprocess.run([sys.executable, os.path.join(HERE, "vs_torch.py"), "--small"],
                         capture_output=True, text=True, timeout=600, check=True).stdout
    assert out.count("### ") == len(CASES), out
    assert out.count("| fastopt cython |") == len(CASES), out
