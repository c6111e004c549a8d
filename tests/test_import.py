"""What ``import fastopt`` costs: numba is imported only when the numba backend is used
(importing it takes 0.25-0.4 s), and neither are torch or the bench module's peers."""
import os
import subprocess
import sys

import fastopt


def _env():
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastopt.__file__)))
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_fastopt_does_not_import_numba():
    assert _run("import sys, fastopt, numpy as np\n"
                "opt = fastopt.Adam([np.zeros(3)]); opt.step([np.ones(3)])\n"
                "print(sorted(m for m in sys.modules if m.split('.')[0] in "
                "('numba', 'torch', 'llvmlite')))") == "[]"


def test_numba_backend_imports_numba_on_first_use():
    assert _run("import sys, fastopt, numpy as np\n"
                "opt = fastopt.Adam([np.zeros(3)], backend='numba')\n"
                "print('numba' in sys.modules)") == "True"


def test_bench_cli_parser_imports_neither_numba_nor_torch():
    assert _run("import sys\n"
                "from fastopt.__main__ import build_parser\n"
                "build_parser().parse_args(['bench', '--quick'])\n"
                "print(sorted(m for m in sys.modules if m.split('.')[0] in "
                "('numba', 'torch', 'matplotlib')))") == "[]"
