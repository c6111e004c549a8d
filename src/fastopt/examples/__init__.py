"""The workloads fastopt grew from, as runnable examples.

Each module is a self-contained NumPy training script on fastopt with
``main(quick=False, out_dir=None) -> dict`` (its metrics; figures are written into
``out_dir`` when one is given) and ``cli()`` for the command line.  The scripts in the
repository's ``examples/`` folder call ``cli()``; ``python -m fastopt demo`` runs them all.

    diabetes_regression    linear regression on scikit-learn's diabetes data; --tune runs Optuna
    optimizer_comparison   every optimizer on the Rosenbrock function and on x² + y²
    sparse_gradients       a quadratic where each step only ~10% of coordinates get a gradient
    digits_mlp             an MLP on load_digits on flat buffers, beside a hand-written NumPy Adam
    digits_optimizers      the same MLP trained by AdamW, Adafactor, Muon and Schedule-Free AdamW
    adaptive_lr            Adam's effective per-coordinate step size, read from opt.state
    embedding_factorization  matrix factorisation with SparseAdam on row-sparse gradients

They need matplotlib and scikit-learn: ``pip install 'fastopt[demo]'``.

``digits_mpi`` trains the digits MLP on several processes (fastopt.distributed): it runs
under ``mpiexec -n N python -m mpi4py examples/digits_mpi.py`` and needs
``pip install 'fastopt[mpi,demo]'``, so the demo leaves it out.
"""

#: (key in the demo's summary.json, module name), in the order the demo runs them.
EXAMPLES = (
    ("diabetes", "diabetes_regression"),
    ("optimizer_comparison", "optimizer_comparison"),
    ("sparse_gradients", "sparse_gradients"),
    ("digits", "digits_mlp"),
    ("digits_optimizers", "digits_optimizers"),
    ("adaptive_lr", "adaptive_lr"),
    ("embedding_factorization", "embedding_factorization"),
)
