"""Linear regression on scikit-learn's diabetes data, trained with fastopt.Adam.

The code is src/fastopt/examples/diabetes_regression.py (installed with fastopt, so that
`python -m fastopt demo` can run it from anywhere); read and copy it from there.
Run:  python examples/diabetes_regression.py [--quick] [--out DIR]   (options: --help)
"""
from fastopt.examples.diabetes_regression import cli

if __name__ == "__main__":
    cli()
