"""Embeddings with row-sparse gradients: matrix factorisation of a synthetic low-rank
ratings matrix, trained with SparseAdam on ``(indices, rows)`` gradients, beside dense
Adam on the same model (its gradients scattered into full-size arrays).

    rating(u, i) ≈ <U[u], V[i]>,   U: users x DIM,  V: items x DIM

Each minibatch of observed ratings touches a few hundred rows of the two tables; the
backward pass gives exactly those rows.  SparseAdam updates only them (lazy Adam: the
moments of untouched rows are not decayed), while dense Adam reads and writes every row
of both tables and their moments on every step.  Both reach about the held-out error
of the noise (lazy moments also regularise: dense Adam keeps moving rows on the momentum
of old batches and overfits sooner).  The optimizer step is what differs, by about the
ratio of the tables' rows to the rows a batch touches: small here (a batch touches a
sixth of the rows), over 50x for the bench's 1e6-row table
(benches/test_sparse_rows.py).

Run:  python examples/embedding_factorization.py [--quick] [--out DIR] [--steps N]
"""
from __future__ import annotations

import time

import numpy as np

import fastopt
from fastopt.examples._common import cli as _cli, figure, save

USERS, ITEMS, RANK, DIM = 10_000, 2_000, 4, 8
OBSERVED, BATCH, NOISE = 600_000, 1024, 0.1


def ratings(seed: int = 0):
    """(users, items, ratings) of the training and the test split of a rank-RANK
    matrix with Gaussian noise."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((USERS, RANK)) / RANK ** 0.25
    b = rng.standard_normal((ITEMS, RANK)) / RANK ** 0.25
    u = rng.integers(0, USERS, OBSERVED)
    i = rng.integers(0, ITEMS, OBSERVED)
    r = np.einsum("nk,nk->n", a[u], b[i]) + NOISE * rng.standard_normal(OBSERVED)
    cut = OBSERVED * 9 // 10
    split = (u.astype(np.int32), i.astype(np.int32), r.astype(np.float32))
    return tuple(x[:cut] for x in split), tuple(x[cut:] for x in split)


def rmse(U, V, data) -> float:
    u, i, r = data
    return float(np.sqrt(np.mean((np.einsum("nk,nk->n", U[u], V[i]) - r) ** 2)))


def train(kind: str, train_set, test_set, steps: int, seed: int = 1):
    """Train U and V with ``kind`` ("SparseAdam" or "Adam"); returns the test RMSE
    every 10% of the run and the median seconds of one optimizer step."""
    rng = np.random.default_rng(seed)
    U = (0.1 * rng.standard_normal((USERS, DIM))).astype(np.float32)
    V = (0.1 * rng.standard_normal((ITEMS, DIM))).astype(np.float32)
    lr = 3e-2
    opt: fastopt.Optimizer
    if kind == "SparseAdam":
        opt = fastopt.SparseAdam({"U": U, "V": V}, lr=lr)
    else:
        opt = fastopt.Adam({"U": U, "V": V}, lr=lr)
        gU, gV = np.zeros_like(U), np.zeros_like(V)
    batches = np.random.default_rng(seed + 1)      # the same minibatches for both
    u_all, i_all, r_all = train_set
    curve, times = [], []
    for t in range(steps):
        pick = batches.integers(0, len(r_all), BATCH)
        u, i, r = u_all[pick], i_all[pick], r_all[pick]
        err = np.einsum("nk,nk->n", U[u], V[i]) - r
        scale = (2.0 / BATCH) * err[:, None]
        rows_u, rows_v = scale * V[i], scale * U[u]        # d loss / d U[u], d V[i]
        start = time.perf_counter()
        if kind == "SparseAdam":
            opt.step({"U": (u, rows_u), "V": (i, rows_v)})
        else:
            gU.fill(0)
            gV.fill(0)
            np.add.at(gU, u, rows_u)
            np.add.at(gV, i, rows_v)
            opt.step({"U": gU, "V": gV})
        times.append(time.perf_counter() - start)
        if (t + 1) % max(steps // 10, 1) == 0:
            curve.append((t + 1, rmse(U, V, test_set)))
    # the step alone (the dense one includes scattering its gradient: what it needs)
    return curve, float(np.median(times))


def plot(curves, out_dir):
    fig = figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    for label, curve in curves.items():
        steps, errors = zip(*curve)
        ax.plot(steps, errors, marker="o", label=label)
    ax.set(xlabel="step", ylabel="test RMSE",
           title=f"matrix factorisation, {USERS}x{ITEMS} ratings, embeddings of {DIM}")
    ax.legend()
    return save(fig, out_dir, "embedding_factorization.png")


def main(quick: bool = False, out_dir: str | None = None, steps: int | None = None) -> dict:
    steps = steps or (900 if quick else 1500)
    train_set, test_set = ratings()
    sparse_curve, sparse_s = train("SparseAdam", train_set, test_set, steps)
    dense_curve, dense_s = train("Adam", train_set, test_set, steps)
    metrics = {"steps": steps, "noise_rmse": NOISE,
               "sparse_adam_test_rmse": sparse_curve[-1][1],
               "adam_test_rmse": dense_curve[-1][1],
               "sparse_adam_step_us": sparse_s * 1e6, "adam_step_us": dense_s * 1e6,
               "step_speedup": dense_s / sparse_s,
               "curves": {"SparseAdam": sparse_curve, "Adam": dense_curve}}
    if out_dir is not None:
        metrics["figure"] = plot(metrics["curves"], out_dir)
    return metrics


def cli(argv=None):
    def options(parser):
        parser.add_argument("--steps", type=int, default=None)
    return _cli(main, __doc__, options, argv)


if __name__ == "__main__":
    cli()
