"""Adam's effective step size, per coordinate and over time, read from ``opt.state``.

Adam moves each coordinate by ``lr/bc1 * m / (sqrt(v/bc2) + eps)``: the learning rate is
the same for all, but the effective step size that multiplies the momentum ``m``,

    lr/bc1 / (sqrt(v/bc2) + eps),      bc1 = 1 - beta1**t,  bc2 = 1 - beta2**t,

is each coordinate's own.  Here a linear regression (full batch) has eight uncorrelated
features whose scales span four orders of magnitude (0.01 … 100), so the gradients of
their weights span eight.  Plain gradient descent could not learn the small-scale weights
(a learning rate stable for the scale-100 feature moves the scale-0.01 weight 10⁸ times
slower); Adam's effective step size comes out inversely proportional to each weight's
gradient (the gradient of weight i is 2·scaleᵢ²·errorᵢ, so ∝ 1/scale²), and every weight
converges at the same pace.  ``opt.state[key]["exp_avg_sq"]`` is a live view of
v, so reading it costs nothing inside the optimizer.

Run:  python examples/adaptive_lr.py [--quick] [--out DIR]
"""
from __future__ import annotations

from typing import Any

import numpy as np

import fastopt
from fastopt.examples._common import cli as _cli, figure, save, single_threaded_blas

SCALES = np.logspace(-2, 2, 8)            # each feature's standard deviation


def make_data(n: int = 500, seed: int = 0):
    """Uncorrelated features of very different scales, weights of ±1, a little noise.
    (The features are made exactly uncorrelated so that each weight's gradient depends on
    its own error only: with correlated ones, the large-scale features' errors leak into
    the small-scale weights' gradients and those converge one after another.)"""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, len(SCALES))))
    x = q * np.sqrt(n) * SCALES
    w_true = rng.choice([-1.0, 1.0], len(SCALES))
    y = x @ w_true + 0.01 * rng.standard_normal(n)
    return x, y, w_true


def effective_step(opt, key) -> np.ndarray:
    """lr/bc1 / (sqrt(v/bc2) + eps) for each coordinate of parameter ``key``: the factor
    by which the optimizer's last step multiplied the momentum exp_avg."""
    group = opt.param_groups[0]
    beta1, beta2 = group["betas"]
    t = opt.step_count
    v = opt.state[key]["exp_avg_sq"]
    return group["lr"] / (1 - beta1 ** t) / (np.sqrt(v / (1 - beta2 ** t)) + group["eps"])


def train(steps: int, lr: float = 0.01, seed: int = 0):
    x, y, _ = make_data(seed=seed)
    w_best = np.linalg.lstsq(x, y, rcond=None)[0]       # where training should end up
    params = fastopt.flatten({"w": np.zeros(len(SCALES))})
    w, gw = params["w"], params.grads["w"]
    opt = fastopt.Adam(params, lr=lr)
    history: dict[str, list[Any]] = {"effective_step": [], "weight_error": [], "loss": []}
    for _ in range(steps):
        residual = x @ w - y
        np.dot(x.T, residual, out=gw)
        gw *= 2 / len(y)                              # gradient of the mean squared error
        opt.step()
        history["effective_step"].append(effective_step(opt, "w"))
        history["weight_error"].append(np.abs(w - w_best))
        history["loss"].append(float(np.mean((x @ w - y) ** 2)))
    return {k: np.array(v) for k, v in history.items()}


def plot(history, out_dir):
    fig = figure(figsize=(12, 3.8))
    ax_eff, ax_err, ax_final = fig.subplots(1, 3)
    steps = np.arange(1, len(history["loss"]) + 1)
    cmap = __import__("matplotlib").colormaps["viridis"]
    colors = [cmap(i / (len(SCALES) - 1)) for i in range(len(SCALES))]
    for i, scale in enumerate(SCALES):
        ax_eff.plot(steps, history["effective_step"][:, i], color=colors[i], label=f"{scale:.3g}")
        ax_err.plot(steps, history["weight_error"][:, i], color=colors[i])
    ax_eff.set(xscale="log", yscale="log", xlabel="step", ylabel="lr/bc1 / (√(v/bc2) + eps)",
               title="Adam's effective step size per weight")
    ax_eff.legend(title="feature scale", fontsize=7, title_fontsize=8, ncols=2, loc="upper right")
    ax_err.set(xscale="log", yscale="log", xlabel="step", ylabel="|w - least-squares w|",
               title="every weight converges at the same pace")
    final = history["effective_step"][-1]
    ax_final.loglog(SCALES, final, "o-", color="C3", label="Adam, last step")
    ax_final.loglog(SCALES, final[0] * (SCALES[0] / SCALES) ** 2, "k--", lw=0.8, label="∝ 1/scale²")
    ax_final.set(xlabel="feature scale", ylabel="effective step size",
                 title="∝ 1/gradient ∝ 1/scale²")
    ax_final.legend(loc="upper right")
    return save(fig, out_dir, "adaptive_lr.png")


def main(quick: bool = False, out_dir: str | None = None, steps: int | None = None,
         lr: float = 0.01) -> dict:
    steps = steps or (300 if quick else 1000)
    with single_threaded_blas():
        history = train(steps, lr)
    final = history["effective_step"][-1]
    slope = np.polyfit(np.log(SCALES), np.log(final), 1)[0]
    metrics = {
        "steps": steps,
        "final_loss": history["loss"][-1],
        "max_weight_error": float(history["weight_error"][-1].max()),
        "effective_step_smallest_scale": float(final[0]),
        "effective_step_largest_scale": float(final[-1]),
        # log-log against the feature scale: -2, as a weight's gradient 2*scale²*error is
        # proportional to scale² when the errors are alike
        "effective_step_slope": float(slope),
    }
    if out_dir is not None:
        metrics["figure"] = plot(history, out_dir)
    return metrics


def cli(argv=None):
    def options(parser):
        parser.add_argument("--steps", type=int, default=None)
        parser.add_argument("--lr", type=float, default=0.01)
    return _cli(main, __doc__, options, argv)


if __name__ == "__main__":
    cli()
