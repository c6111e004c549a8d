"""An MLP classifier on scikit-learn's digits, trained with fastopt on flat buffers,
beside the same loop with a hand-written NumPy Adam.

The code is src/fastopt/examples/digits_mlp.py (installed with fastopt, so that
`python -m fastopt demo` can run it from anywhere); read and copy it from there.
Run:  python examples/digits_mlp.py [--quick] [--out DIR]   (options: --help)
"""
from fastopt.examples.digits_mlp import cli

if __name__ == "__main__":
    cli()
