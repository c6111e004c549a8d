"""Sparse gradients: a 100-dimensional quadratic where, at each step, only ~10% of the
coordinates receive a gradient (the others get exactly zero), as with embeddings or
rare features.

The code is src/fastopt/examples/sparse_gradients.py (installed with fastopt, so that
`python -m fastopt demo` can run it from anywhere); read and copy it from there.
Run:  python examples/sparse_gradients.py [--quick] [--out DIR]   (options: --help)
"""
from fastopt.examples.sparse_gradients import cli

if __name__ == "__main__":
    cli()
