"""benches/vs_torch.py as a smoke test: every case (so every kind of case: a plain step,
Muon, LBFGS with its closures) at its small shape, a short budget; with torch where it is
installed, and with torch hidden, as on a machine without it."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "vs_torch.py")
# the script run with ``import torch`` failing, whether torch is installed or not
WITHOUT_TORCH = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = sys.argv[1:]; "
                 "runpy.run_path(sys.argv[0], run_name='__main__')")


def _run(*command):
    return subprocess.run([sys.executable, *command, SCRIPT, "--small"], capture_output=True,
                          text=True, timeout=600, check=True).stdout


@pytest.mark.parametrize("torch_hidden", [False, True], ids=["torch", "no-torch"])
def test_vs_torch_bench_runs(torch_hidden):
    from vs_torch import CASES, KINDS
    assert {c.kind for c in CASES} == set(KINDS)
    out = _run("-c", WITHOUT_TORCH) if torch_hidden else _run()
    for case in CASES:
        assert f"### {case.name} (" in out, out
    steps = [c for c in CASES if c.kind != "lbfgs"]
    assert out.count("| fastopt cython |") == len(steps), out
    assert out.count("| fastopt closure only |") == len(CASES) - len(steps), out
    has_torch = "torch not installed" not in out
    assert not (torch_hidden and has_torch), out
    assert ("| torch" in out) == has_torch, out       # torch's rows, and only with torch
