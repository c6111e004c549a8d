"""``python -m fastopt <command>``: small tools that come with fastopt.

    python -m fastopt bench [--quick] [--optimizer NAME ...] [--sizes N ...]
                            [--backend B ...] [--dtype D ...]

Each command lives in its own module, which registers a subparser with ``add_parser``
(and sets ``func``); adding one is an import and a call below.
"""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    from . import _bench
    parser = argparse.ArgumentParser(prog="python -m fastopt",
                                     description="Tools that come with fastopt.")
    commands = parser.add_subparsers(dest="command", required=True)
    _bench.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
