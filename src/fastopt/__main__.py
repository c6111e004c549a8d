"""``fastopt COMMAND`` (or ``python -m fastopt COMMAND``): fastopt's command-line tools.

    python -m fastopt bench [--quick] [--optimizer NAME ...] [--sizes N ...]
                            [--backend B ...] [--dtype D ...]
    python -m fastopt demo  [--quick] ...

Each command lives in its own module, whose ``add_parser(commands)`` registers a
subparser and sets ``run`` (a function of the parsed arguments returning the exit code);
adding a command is an import and a call in ``build_parser``.
"""
from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    from . import _demo
    from ._bench import cli as bench
    invoked = os.path.basename(sys.argv[0])
    prog = "fastopt" if invoked in ("fastopt", "fastopt.exe") else "python -m fastopt"
    parser = argparse.ArgumentParser(prog=prog,
                                     description="fastopt's command-line tools")
    commands = parser.add_subparsers(dest="command", required=True)
    bench.add_parser(commands)
    _demo.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
