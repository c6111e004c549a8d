"""An MLP classifier on scikit-learn's digits, trained with fastopt on flat buffers,
beside the same loop with a hand-written NumPy Adam.

The model's weights live in one flat buffer (``fastopt.flatten``); backprop writes each
gradient straight into ``params.grads[...]`` and one ``opt.step()`` updates every
parameter.  The second run starts from the same weights, sees the same minibatches and
uses the Adam most NumPy code writes by hand (``m = b1*m + (1-b1)*g`` ..., allocating
temporaries on every step).  Both follow the same rule (torch's), so they draw the same
learning curve; what differs is the time the optimizer takes, measured around the
optimizer calls only.

``--state-precision bfloat16`` or ``8bit`` keeps fastopt's Adam state in fewer bytes; the
hand-written Adam stays in float32, so the gap between the two curves is then what the
precision costs.  Under 8bit, w1 (16384 values) and w2 (32768) are quantized, but w3
(1280) and the biases are below the default ``--min-8bit-size`` of 4096 and keep full
state; ``--min-8bit-size 0`` quantizes every parameter.

Run:  python examples/digits_mlp.py [--quick] [--out DIR]
                                    [--state-precision {full,bfloat16,8bit}] [--min-8bit-size N]
"""
from __future__ import annotations

import time

from typing import Any, Callable

import numpy as np

import fastopt
from fastopt.examples._common import (cli as _cli, figure, need, precision_kwargs, save,
                                      single_threaded_blas, state_precision_options, state_report)

SIZES = (64, 256, 128, 10)          # 8x8 pixels -> two ReLU layers -> 10 classes


def load_data(seed: int = 0, dtype=np.float32):
    """Digits as (x_train, y_train, x_test, y_test): 80/20, stratified, pixels
    (0..16) scaled to [0, 1]."""
    datasets = need("sklearn.datasets")
    model_selection = need("sklearn.model_selection")
    x, y = datasets.load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = model_selection.train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=seed)
    return (x_train / 16).astype(dtype), y_train, (x_test / 16).astype(dtype), y_test


def init_params(rng: np.random.Generator, dtype=np.float32) -> dict[str, np.ndarray]:
    """He initialisation for the ReLU layers, zero biases."""
    params = {}
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:]), 1):
        params[f"w{i}"] = (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(dtype)
        params[f"b{i}"] = np.zeros(n_out, dtype)
    return params


def forward(p, x: np.ndarray):
    """Logits and the activations backprop needs."""
    h1 = np.maximum(x @ p["w1"] + p["b1"], 0)
    h2 = np.maximum(h1 @ p["w2"] + p["b2"], 0)
    return h2 @ p["w3"] + p["b3"], (h1, h2)


def loss_and_grads(p, g, x: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy; the gradient of every parameter is written into ``g[name]``
    (the flat gradient's views for fastopt, plain arrays for the hand-written Adam)."""
    logits, (h1, h2) = forward(p, x)
    logits -= logits.max(1, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(1, keepdims=True)
    rows = np.arange(len(y))
    loss = -np.log(prob[rows, y] + 1e-12).mean()
    d3 = prob
    d3[rows, y] -= 1
    d3 /= len(y)
    np.dot(h2.T, d3, out=g["w3"])
    np.sum(d3, 0, out=g["b3"])
    d2 = d3 @ p["w3"].T
    d2 *= h2 > 0
    np.dot(h1.T, d2, out=g["w2"])
    np.sum(d2, 0, out=g["b2"])
    d1 = d2 @ p["w2"].T
    d1 *= h1 > 0
    np.dot(x.T, d1, out=g["w1"])
    np.sum(d1, 0, out=g["b1"])
    return float(loss)


def accuracy(p, x: np.ndarray, y: np.ndarray) -> float:
    return float((forward(p, x)[0].argmax(1) == y).mean())


class HandwrittenAdam:
    """Adam as NumPy code usually writes it by hand: a dict of moments, one expression
    per line, new arrays on every step.  Same rule as torch.optim.Adam (and fastopt)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads):
        b1, b2 = self.betas
        self.t += 1
        for k, p in self.params.items():
            g = grads[k]
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g ** 2
            m_hat = self.m[k] / (1 - b1 ** self.t)
            v_hat = self.v[k] / (1 - b2 ** self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def train(kind: str, data, initial, epochs: int, batch_size: int, lr: float, seed: int,
          precision: dict | None = None):
    """Train from ``initial`` with ``kind`` = "fastopt" or "handwritten"; returns the
    per-epoch curves, the seconds each optimizer step took and (fastopt only) what its
    state takes.  ``precision``: fastopt's state precision options."""
    x_train, y_train, x_test, y_test = data
    params: Any
    grads: Any
    step: Callable[[], None]
    fast: fastopt.Adam | None = None
    if kind == "fastopt":
        params = fastopt.flatten({k: v.copy() for k, v in initial.items()})
        grads = params.grads                      # views into the flat gradient buffer
        fast = fastopt.Adam(params, lr=lr, **(precision or {}))
        step = fast.step                          # one kernel call over every parameter
    else:
        params = {k: v.copy() for k, v in initial.items()}
        grads = {k: np.empty_like(v) for k, v in initial.items()}
        handwritten = HandwrittenAdam(params, lr=lr)
        step = lambda: handwritten.step(grads)    # noqa: E731
    rng = np.random.default_rng(seed)             # the same minibatches for both
    curve: dict[str, list[float]] = {"train_loss": [], "test_accuracy": []}
    step_seconds = []
    for _ in range(epochs):
        order = rng.permutation(len(y_train))
        losses = []
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            losses.append(loss_and_grads(params, grads, x_train[idx], y_train[idx]))
            t0 = time.perf_counter()
            step()
            step_seconds.append(time.perf_counter() - t0)
        curve["train_loss"].append(float(np.mean(losses)))
        curve["test_accuracy"].append(accuracy(params, x_test, y_test))
    return curve, np.array(step_seconds), state_report(fast) if fast is not None else {}


def plot(curves, step_seconds, out_dir, state_precision="full"):
    fig = figure(figsize=(11, 3.6))
    ax_loss, ax_acc, ax_time = fig.subplots(1, 3, width_ratios=(1, 1, 0.8))
    styles = {"fastopt": dict(color="C0", lw=2.5), "handwritten": dict(color="C1", lw=1.2, ls="--")}
    state = "" if state_precision == "full" else f", {state_precision} state"
    labels = {"fastopt": f"fastopt.Adam (flat buffer{state})", "handwritten": "hand-written NumPy Adam"}
    for kind, curve in curves.items():
        epochs = np.arange(1, len(curve["train_loss"]) + 1)
        ax_loss.plot(epochs, curve["train_loss"], label=labels[kind], **styles[kind])
        ax_acc.plot(epochs, curve["test_accuracy"], label=labels[kind], **styles[kind])
    ax_loss.set(yscale="log", xlabel="epoch", ylabel="training loss", title="Digits MLP: same learning curve")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy", ylim=(0.85, 1.0), title="test accuracy")
    ax_loss.legend(loc="upper right")
    per_step = [1e6 * np.median(step_seconds[k]) for k in ("fastopt", "handwritten")]
    bars = ax_time.bar(["fastopt", "hand-written"], per_step, color=["C0", "C1"])
    ax_time.bar_label(bars, fmt="%.0f µs")
    ax_time.set(ylabel="µs per optimizer step (median)", ylim=(0, 1.2 * max(per_step)),
                title=f"optimizer time per step\n(fastopt: {per_step[1] / per_step[0]:.1f}× less)")
    return save(fig, out_dir, "digits_learning_curve.png")


def main(quick: bool = False, out_dir: str | None = None, epochs: int | None = None,
         batch_size: int = 64, lr: float = 2e-3, seed: int = 0, state_precision: str = "full",
         min_8bit_size: int = 4096) -> dict:
    epochs = epochs or (6 if quick else 30)
    data = load_data(seed)
    initial = init_params(np.random.default_rng(seed))
    precision = precision_kwargs(fastopt.Adam, state_precision, min_8bit_size)
    curves, step_seconds, state = {}, {}, {}
    with single_threaded_blas():
        for kind in ("fastopt", "handwritten"):
            curves[kind], step_seconds[kind], state[kind] = train(
                kind, data, initial, epochs, batch_size, lr, seed, precision)
    fast, hand = curves["fastopt"], curves["handwritten"]
    fast_s, hand_s = step_seconds["fastopt"], step_seconds["handwritten"]
    difference = np.abs(np.subtract(fast["test_accuracy"], hand["test_accuracy"]))
    metrics = {
        "test_accuracy": fast["test_accuracy"][-1],
        "handwritten_test_accuracy": hand["test_accuracy"][-1],
        "max_accuracy_difference": float(difference.max()),
        "final_train_loss": fast["train_loss"][-1],
        "epochs": epochs,
        "seed": seed,
        "state_precision": state_precision,
        **state["fastopt"],               # state_nbytes, parameters_with_8bit_state
        "optimizer_steps": len(fast_s),
        "parameters": int(sum(v.size for v in initial.values())),
        # the optimizer calls only: in total, and the median step (robust on a busy machine)
        "fastopt_optimizer_seconds": float(fast_s.sum()),
        "handwritten_optimizer_seconds": float(hand_s.sum()),
        "fastopt_step_us": 1e6 * float(np.median(fast_s)),
        "handwritten_step_us": 1e6 * float(np.median(hand_s)),
        "optimizer_speedup": float(np.median(hand_s) / np.median(fast_s)),
        "curves": curves,
    }
    if out_dir is not None:
        metrics["figure"] = plot(curves, step_seconds, out_dir, state_precision)
    return metrics


def cli(argv=None):
    def options(parser):
        parser.add_argument("--epochs", type=int, default=None)
        parser.add_argument("--lr", type=float, default=2e-3)
        parser.add_argument("--seed", type=int, default=0)
        state_precision_options(parser)
    return _cli(main, __doc__, options, argv)


if __name__ == "__main__":
    cli()
