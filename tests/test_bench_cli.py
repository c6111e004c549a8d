"""``python -m fastopt bench``: it runs, and its table has the promised columns."""
import os
import re
import subprocess
import sys

import pytest

import fastopt
from fastopt._bench import cli, peers

HEADER = ["optimizer", "dtype", "size", "backend", "time/step", "vs NumPy", "vs torch", "floor"]


def _env():
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastopt.__file__)))
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def bench(*args, check=True):
    out = subprocess.run([sys.executable, "-m", "fastopt", "bench", *args], env=_env(),
                         capture_output=True, text=True, timeout=300)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def table(stdout: str) -> list[list[str]]:
    """The table's rows (header first) split on runs of 2+ spaces."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("optimizer"))
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        if not set(line) <= {"-", " "}:
            rows.append(re.split(r" {2,}", line.strip()))
    return rows


TIME = re.compile(r"^\d+(\.\d+)? (ns|us|ms|s)$")
RATIO = re.compile(r"^\d+(\.\d+)?(e[+-]\d+)?x$")


def test_quick_table_has_the_columns():
    out = bench("--quick", "--sizes", "1000", "--optimizer", "Adam")
    rows = table(out.stdout)
    assert rows[0] == HEADER
    body = rows[1:]
    assert [r[3] for r in body] == ["cython", "numba"]
    for r in body:
        assert len(r) == len(HEADER), r
        assert r[:3] == ["Adam", "float32", "1e3"]
        assert TIME.match(r[4]), r[4]
        assert RATIO.match(r[5]), r[5]
        if peers.import_torch() is not None:
            assert re.match(r"^\S+x \((fused|foreach)\)$", r[6]), r[6]
        else:
            assert r[6] == "-"
        assert 0 < float(r[7]) < 100
    assert out.stdout.splitlines()[0].startswith("fastopt ")
    assert "floor:" in out.stdout


def test_options_choose_rows():
    out = bench("--quick", "--sizes", "1e3", "2k", "--optimizer", "adam,AMSGrad",
                "--backend", "numpy", "--dtype", "float64", "--no-torch")
    body = table(out.stdout)[1:]
    assert [(r[0], r[1], r[2], r[3]) for r in body] == [
        ("Adam", "float64", "1e3", "numpy"), ("Adam", "float64", "2,000", "numpy"),
        ("AMSGrad", "float64", "1e3", "numpy"), ("AMSGrad", "float64", "2,000", "numpy")]
    assert all(r[6] == "-" for r in body)


def test_unknown_optimizer_is_refused():
    out = bench("--quick", "--optimizer", "Adamm", check=False)
    assert out.returncode != 0 and "unknown optimizer 'Adamm'" in out.stderr


def test_no_command_prints_usage():
    out = subprocess.run([sys.executable, "-m", "fastopt"], env=_env(), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "bench" in out.stderr


@pytest.mark.parametrize("text, n", [("1000", 1000), ("1e6", 10**6), ("10M", 10**7),
                                     ("2k", 2000), ("1_000", 1000)])
def test_parse_size(text, n):
    assert cli.parse_size(text) == n


@pytest.mark.parametrize("text", ["0", "1.5", "x", "-3"])
def test_parse_size_refuses(text):
    with pytest.raises(Exception):
        cli.parse_size(text)


def test_progress_bar_only_on_a_terminal(capsys):
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True
    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = cli.Progress(4, stream=stream)
        bar.show("Adam")
        bar.advance()
        bar.close()
    assert "[" in tty.getvalue() and "1/4" in tty.getvalue()
    assert pipe.getvalue() == ""
