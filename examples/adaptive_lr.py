"""Adam's effective step size, per coordinate and over time, read from ``opt.state``.

The code is src/fastopt/examples/adaptive_lr.py (installed with fastopt, so that
`python -m fastopt demo` can run it from anywhere); read and copy it from there.
Run:  python examples/adaptive_lr.py [--quick] [--out DIR]   (options: --help)
"""
from fastopt.examples.adaptive_lr import cli

if __name__ == "__main__":
    cli()
