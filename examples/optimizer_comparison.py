"""Every fastopt optimizer on two functions of (x, y): the Rosenbrock function and the
bowl x² + y².  Draws each optimizer's path over the contour plot and its loss against
the step.

The code is src/fastopt/examples/optimizer_comparison.py (installed with fastopt, so that
`python -m fastopt demo` can run it from anywhere); read and copy it from there.
Run:  python examples/optimizer_comparison.py [--quick] [--out DIR]   (options: --help)
"""
from fastopt.examples.optimizer_comparison import cli

if __name__ == "__main__":
    cli()
