"""The digits MLP of ``digits_mlp`` trained by several optimizers from the same start and
on the same minibatches: AdamW, and the optimizers made for large models that a NumPy
user can now try on a small one: Adafactor (factored second moment: a row and a column
statistic per matrix), Muon (orthogonalised momentum for the weight matrices, AdamW for
the biases) and Schedule-Free AdamW (no learning-rate schedule; evaluated at its
averaged point after ``opt.eval()``).

Each run reports its test accuracy after every epoch, its final training loss, the bytes
its state takes and the median time of its optimizer steps.  The learning rates are each
method's usual ones for a model of this size, not tuned per method.

Run:  python examples/digits_optimizers.py [--quick] [--out DIR] [--epochs N]
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from fastopt.examples._common import cli as _cli, figure, optimizer_class, save, single_threaded_blas
from fastopt.examples.digits_mlp import accuracy, init_params, load_data, loss_and_grads

MATRICES = ("w1", "w2", "w3")
BIASES = ("b1", "b2", "b3")


class Trainer:
    """The optimizer(s) of one run over a dict of parameter arrays: ``step(grads)``, and
    ``train()``/``eval()`` for the optimizers that evaluate at another point than they
    train at (Schedule-Free); a no-op for the others."""

    def __init__(self, optimizers: list[tuple[Any, tuple[str, ...]]]):
        self.optimizers = optimizers       # (optimizer, the names of the arrays it steps)

    def step(self, grads: dict[str, np.ndarray]) -> None:
        for opt, names in self.optimizers:
            opt.step([grads[k] for k in names])

    def train(self) -> None:
        for opt, _ in self.optimizers:
            getattr(opt, "train", lambda: None)()

    def eval(self) -> None:
        for opt, _ in self.optimizers:
            getattr(opt, "eval", lambda: None)()

    @property
    def state_nbytes(self) -> int:
        return sum(int(opt.state_nbytes) for opt, _ in self.optimizers)


def _one(name: str, **kwargs) -> Callable[[dict], Trainer] | None:
    cls = optimizer_class(name)
    if cls is None:
        return None
    names = MATRICES + BIASES
    return lambda params: Trainer([(cls([params[k] for k in names], **kwargs), names)])


def _muon(**kwargs) -> Callable[[dict], Trainer] | None:
    muon, adamw = optimizer_class("Muon"), optimizer_class("AdamW")
    if muon is None:
        return None
    # Muon is for matrices only: the biases take AdamW, as Muon's authors train.
    return lambda params: Trainer([
        (muon([params[k] for k in MATRICES], **kwargs), MATRICES),
        (adamw([params[k] for k in BIASES], lr=2e-3, weight_decay=0.0), BIASES)])


#: (key in the metrics, label, how to build it: None where this fastopt lacks it)
RUNS: tuple[tuple[str, str, Callable[[], Callable[[dict], Trainer] | None]], ...] = (
    ("adamw", "AdamW", lambda: _one("AdamW", lr=2e-3, weight_decay=1e-2)),
    ("adafactor", "Adafactor", lambda: _one("Adafactor", lr=1e-2)),
    ("muon", "Muon + AdamW", lambda: _muon(lr=0.02, weight_decay=0.0)),
    ("schedulefree", "ScheduleFreeAdamW", lambda: _one("ScheduleFreeAdamW", lr=2e-3)),
)


def train(build: Callable[[dict], Trainer], data, initial, epochs: int, batch_size: int,
          seed: int):
    x_train, y_train, x_test, y_test = data
    params = {k: v.copy() for k, v in initial.items()}
    grads = {k: np.empty_like(v) for k, v in initial.items()}
    trainer = build(params)
    rng = np.random.default_rng(seed)             # the same minibatches for every run
    curve: dict[str, list[float]] = {"train_loss": [], "test_accuracy": []}
    step_seconds = []
    for _ in range(epochs):
        trainer.train()
        order = rng.permutation(len(y_train))
        losses = []
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            losses.append(loss_and_grads(params, grads, x_train[idx], y_train[idx]))
            t0 = time.perf_counter()
            trainer.step(grads)
            step_seconds.append(time.perf_counter() - t0)
        trainer.eval()
        curve["train_loss"].append(float(np.mean(losses)))
        curve["test_accuracy"].append(accuracy(params, x_test, y_test))
    return curve, float(np.median(step_seconds)), trainer.state_nbytes


def plot(curves, out_dir):
    fig = figure(figsize=(10, 3.6))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for label, curve in curves.items():
        epochs = np.arange(1, len(curve["train_loss"]) + 1)
        ax_loss.plot(epochs, curve["train_loss"], label=label)
        ax_acc.plot(epochs, curve["test_accuracy"], label=label)
    ax_loss.set(yscale="log", xlabel="epoch", ylabel="training loss", title="Digits MLP: training loss")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy", ylim=(0.85, 1.0), title="test accuracy")
    ax_acc.legend(loc="lower right")
    return save(fig, out_dir, "digits_optimizers.png")


def main(quick: bool = False, out_dir: str | None = None, epochs: int | None = None,
         batch_size: int = 64, seed: int = 0) -> dict:
    epochs = epochs or (4 if quick else 30)
    data = load_data(seed)
    initial = init_params(np.random.default_rng(seed))
    curves, missing = {}, []
    metrics: dict[str, Any] = {"epochs": epochs, "seed": seed}
    with single_threaded_blas():
        for key, label, make in RUNS:
            build = make()
            if build is None:
                missing.append(label)
                continue
            curve, step_s, state_nbytes = train(build, data, initial, epochs, batch_size, seed)
            curves[label] = curve
            metrics.update({f"{key}_test_accuracy": curve["test_accuracy"][-1],
                            f"{key}_final_train_loss": curve["train_loss"][-1],
                            f"{key}_state_nbytes": state_nbytes,
                            f"{key}_step_us": 1e6 * step_s})
    metrics["missing"] = ", ".join(missing)
    metrics["curves"] = curves
    if out_dir is not None and curves:
        metrics["figure"] = plot(curves, out_dir)
    return metrics


def cli(argv=None):
    def options(parser):
        parser.add_argument("--epochs", type=int, default=None)
        parser.add_argument("--seed", type=int, default=0)
    return _cli(main, __doc__, options, argv)


if __name__ == "__main__":
    cli()
