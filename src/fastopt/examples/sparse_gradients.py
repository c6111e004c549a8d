"""Sparse gradients: a 100-dimensional quadratic where, at each step, only ~10% of the
coordinates receive a gradient (the others get exactly zero), as with embeddings or
rare features.

    f(x) = ½ Σᵢ hᵢ (xᵢ - cᵢ)²,   curvatures hᵢ spread over 10⁻³ … 1

The learning rate of every optimizer follows a cosine schedule to 0.  SGD's progress on
a coordinate is proportional to its curvature and to how often it is hit, so the flat,
rarely-hit coordinates lag far behind; Adam divides each coordinate's step by the root
of its own running second moment and moves them all at a similar pace.  (Adam's momentum
also keeps moving a coordinate on the steps where its gradient is zero.)  Adagrad, made
for sparse features, is shown beside them.  SGD and Adagrad come from ``fastopt.SGD`` and
``fastopt.Adagrad``: where this fastopt does not have them yet, those runs are skipped
and listed as missing.

Run:  python examples/sparse_gradients.py [--quick] [--out DIR]
                                          [--state-precision {full,bfloat16,8bit}] [--min-8bit-size N]
"""
from __future__ import annotations

import numpy as np

import fastopt
from fastopt.examples._common import (available, cli as _cli, figure, precision_kwargs, save,
                                      state_precision_options, state_report)

DIM, DENSITY = 100, 0.1

# (label, fastopt class name, constructor kwargs, metric name): each with a learning rate
# near the best for this problem (SGD's close to the stability limit 2/max(h) of the
# stiffest coordinate), decayed to 0 by a cosine schedule over the run.
OPTIMIZERS = [
    ("SGD", "SGD", dict(lr=1.5), "sgd"),
    ("SGD momentum=0.9", "SGD", dict(lr=0.15, momentum=0.9), "sgd_momentum"),
    ("Adam", "Adam", dict(lr=0.1), "adam"),
    ("Adagrad", "Adagrad", dict(lr=1.0), "adagrad"),
]


def problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    h = np.logspace(-3, 0, DIM)
    rng.shuffle(h)
    return h, rng.standard_normal(DIM)


def run(cls, kwargs, h, c, steps, seed=1, precision=("full", 4096)):
    """Loss after each step (the first entry is the start, x = 0), with the learning
    rate annealed to 0 over ``steps`` (fastopt.lr_scheduler, torch's semantics), and what
    the optimizer's state takes."""
    rng = np.random.default_rng(seed)            # the same masks for every optimizer
    x = np.zeros(DIM)
    g = np.empty(DIM)
    opt = cls([x], **kwargs, **precision_kwargs(cls, *precision))
    schedule = fastopt.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    losses = np.empty(steps + 1)
    losses[0] = 0.5 * np.sum(h * (x - c) ** 2)
    for t in range(steps):
        mask = rng.random(DIM) < DENSITY
        np.multiply(h * (x - c), mask, out=g)    # zero where the coordinate got no gradient
        opt.step([g])
        schedule.step()
        losses[t + 1] = 0.5 * np.sum(h * (x - c) ** 2)
    return losses, state_report(opt)


def plot(curves, missing, steps, out_dir):
    fig = figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    for label, losses in curves.items():
        ax.plot(losses, label=label, lw=1.5)
    title = (f"{DIM}-d quadratic, ~{DENSITY:.0%} of coordinates get a gradient per step\n"
             f"(learning rates: cosine schedule to 0)")
    if missing:
        title += f"\n(not in this fastopt, skipped: {', '.join(missing)})"
    ax.set(yscale="log", xlabel="step", ylabel="loss", title=title, xlim=(0, steps))
    ax.legend(loc="lower left")
    return save(fig, out_dir, "sparse_gradients.png")


def main(quick: bool = False, out_dir: str | None = None, steps: int | None = None,
         state_precision: str = "full", min_8bit_size: int = 4096) -> dict:
    steps = steps or (300 if quick else 1000)
    h, c = problem()
    present, missing = available(OPTIMIZERS)
    if missing:
        absent = sorted({name for label, name, *_ in OPTIMIZERS if label in missing})
        print(f"sparse_gradients: this fastopt has no {', '.join(absent)}; skipping {', '.join(missing)}")
    runs = {label: run(cls, kwargs, h, c, steps, precision=(state_precision, min_8bit_size))
            for label, cls, kwargs, _ in present}
    curves = {label: losses for label, (losses, _) in runs.items()}
    metrics = {"steps": steps, "initial_loss": float(curves["Adam"][0]),
               "final_loss": {label: float(v[-1]) for label, v in curves.items()},
               "missing": missing, "state_precision": state_precision,
               "state": {label: state for label, (_, state) in runs.items()},
               **runs["Adam"][1]}         # Adam's state_nbytes, parameters_with_8bit_state
    for label, _, _, key in present:
        metrics[f"{key}_final_loss"] = float(curves[label][-1])
    if out_dir is not None:
        metrics["figure"] = plot(curves, missing, steps, out_dir)
    return metrics


def cli(argv=None):
    def options(parser):
        parser.add_argument("--steps", type=int, default=None)
        state_precision_options(parser)
    return _cli(main, __doc__, options, argv)


if __name__ == "__main__":
    cli()
