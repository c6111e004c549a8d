"""Embeddings with row-sparse gradients: matrix factorisation of a synthetic low-rank
ratings matrix, trained with SparseAdam on (indices, rows) gradients beside dense Adam.

The code is src/fastopt/examples/embedding_factorization.py (installed with fastopt, so
that `python -m fastopt demo` can run it from anywhere); read and copy it from there.
Run:  python examples/embedding_factorization.py [--quick] [--out DIR]   (options: --help)
"""
from fastopt.examples.embedding_factorization import cli

if __name__ == "__main__":
    cli()
