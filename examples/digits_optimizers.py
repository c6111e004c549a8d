"""The digits MLP trained by AdamW, Adafactor, Muon and Schedule-Free AdamW from the same
start on the same minibatches: test accuracy, state size and step time of each.

The code is src/fastopt/examples/digits_optimizers.py (installed with fastopt, so that
`python -m fastopt demo` can run it from anywhere); read and copy it from there.
Run:  python examples/digits_optimizers.py [--quick] [--out DIR]   (options: --help)
"""
from fastopt.examples.digits_optimizers import cli

if __name__ == "__main__":
    cli()
