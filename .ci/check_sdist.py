"""Check an sdist's file list: usage  python .ci/check_sdist.py dist/fastopt-X.tar.gz

The sdist must build and test fastopt by itself, so it must hold every source file of the
package (the .py, and the Cython .pyx/.pxi/.pxd and C headers that the build compiles),
the tests, the build files, the README, LICENSE and CHANGELOG, and the docs that the
sources, tests and README cite (docs/optimizers.md, docs/state_precision.md); and no build
products (generated C, compiled modules).  "Every" is what git tracks under src/fastopt/ and tests/
(or, outside a git checkout, what is on disk there), so a new file that the sdist rules
miss fails here.
"""
import os
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIRED_TOP = ["setup.py", "pyproject.toml", "MANIFEST.in", "README.md", "LICENSE",
                "CHANGELOG.md", "docs/optimizers.md", "docs/state_precision.md"]
SOURCE_DIRS = ["src/fastopt", "tests"]
BUILD_PRODUCTS = (".so", ".pyd", ".dylib", ".dll", ".pyc", ".o")


def tracked_files():
    try:
        out = subprocess.run(["git", "ls-files", "--", *SOURCE_DIRS], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.split()
        if out:
            return out
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for d in SOURCE_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, d)):
            dirnames[:] = [x for x in dirnames if not x.startswith((".", "__pycache__"))]
            for f in filenames:
                if not f.endswith(BUILD_PRODUCTS) and not (d == "src/fastopt" and f.endswith(".c")):
                    files.append(os.path.relpath(os.path.join(dirpath, f), ROOT))
    return files


def main(path):
    with tarfile.open(path) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    prefix = names[0].split("/", 1)[0]
    inside = {n.split("/", 1)[1] for n in names if "/" in n}
    wanted = REQUIRED_TOP + [f.replace(os.sep, "/") for f in tracked_files()]
    missing = sorted(f for f in wanted if f not in inside)
    generated = sorted(f for f in inside if f.endswith(BUILD_PRODUCTS)
                       or (f.startswith("src/fastopt/") and f.endswith(".c")))
    kinds = {ext: sorted(f for f in inside if f.startswith("src/fastopt/") and f.endswith(ext))
             for ext in (".pyx", ".pxi", ".h", ".py")}
    print(f"{os.path.basename(path)}: {len(inside)} files under {prefix}/; "
          + ", ".join(f"{len(v)} {k}" for k, v in kinds.items())
          + f", {sum(f.startswith('tests/') for f in inside)} under tests/")
    problems = []
    if missing:
        problems.append("missing from the sdist: " + ", ".join(missing))
    if generated:
        problems.append("build products in the sdist: " + ", ".join(generated))
    for ext, found in kinds.items():
        if not found:
            problems.append(f"no src/fastopt/*{ext} file in the sdist")
    if not any(f.startswith("tests/test_") for f in inside):
        problems.append("no tests in the sdist")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
