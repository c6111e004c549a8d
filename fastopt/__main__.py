"""``python -m fastopt COMMAND``: fastopt's command-line tools (``demo``)."""
import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastopt", description="fastopt's command-line tools")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from . import _demo
    _demo.add_parser(commands)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
