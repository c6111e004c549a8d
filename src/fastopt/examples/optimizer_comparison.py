"""Every fastopt optimizer on two functions of (x, y): the Rosenbrock function and the
bowl x² + y².  Draws each optimizer's path over the contour plot and its loss against
the step.

The parameter is one float64 array of shape (2,), updated in place by ``opt.step([g])``.
Each optimizer gets a learning rate suited to the problem (the defaults of torch.optim
are made for networks, not for a 2-D valley); they are in ``PROBLEMS`` below.  Optimizers
this version of fastopt does not have are listed as missing and skipped.

Run:  python examples/optimizer_comparison.py [--quick] [--out DIR]
                                              [--state-precision {full,bfloat16,8bit}] [--min-8bit-size N]
"""
from __future__ import annotations

from typing import Any

import numpy as np

from fastopt.examples._common import (available, cli as _cli, figure, precision_kwargs, save,
                                      state_precision_options, state_report)


def rosenbrock(p):
    x, y = p
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def rosenbrock_grad(p, out):
    x, y = p
    out[0] = -2 * (1 - x) - 400 * x * (y - x * x)
    out[1] = 200 * (y - x * x)


def bowl(p):
    return p[0] ** 2 + p[1] ** 2


def bowl_grad(p, out):
    np.multiply(p, 2, out=out)


# Per problem: the function, its gradient, the start, the minimum, the plot's window, the
# steps (full, quick), and (label, fastopt class name, constructor kwargs) per optimizer.
PROBLEMS: dict[str, dict[str, Any]] = {
    "rosenbrock": dict(
        title="Rosenbrock (1-x)² + 100(y-x²)²", f=rosenbrock, grad=rosenbrock_grad,
        start=(-1.5, 2.0), minimum=(1.0, 1.0), window=((-2.0, 2.0), (-1.0, 3.0)), steps=(1500, 300),
        optimizers=[
            ("SGD", "SGD", dict(lr=1e-3)),
            ("SGD momentum=0.9", "SGD", dict(lr=1e-3, momentum=0.9)),
            ("Adam", "Adam", dict(lr=0.1)),
            ("AdamW", "AdamW", dict(lr=0.1)),
            ("NAdam", "NAdam", dict(lr=0.03)),
            ("RAdam", "RAdam", dict(lr=0.01)),
            ("Adamax", "Adamax", dict(lr=0.3)),
            ("Adagrad", "Adagrad", dict(lr=1.0)),
            ("Adadelta", "Adadelta", dict(lr=1.0)),
            ("RMSprop", "RMSprop", dict(lr=0.01)),
            ("Rprop", "Rprop", dict(lr=0.01)),
            ("Lion", "Lion", dict(lr=0.01)),
            ("Lamb", ("Lamb", "LAMB"), dict(lr=0.03)),
            ("ADOPT", "ADOPT", dict(lr=0.1)),
            ("AdEMAMix", "AdEMAMix", dict(lr=0.1)),
            ("ASGD", "ASGD", dict(lr=1e-3)),
            ("ScheduleFreeAdamW", "ScheduleFreeAdamW", dict(lr=0.03)),
            ("ScheduleFreeSGD", "ScheduleFreeSGD", dict(lr=3e-3)),
        ]),
    "bowl": dict(
        title="bowl x² + y²", f=bowl, grad=bowl_grad,
        start=(-2.5, 1.5), minimum=(0.0, 0.0), window=((-3.0, 3.0), (-3.0, 3.0)), steps=(300, 100),
        optimizers=[
            ("SGD", "SGD", dict(lr=0.1)),
            ("SGD momentum=0.9", "SGD", dict(lr=0.01, momentum=0.9)),
            ("Adam", "Adam", dict(lr=0.1)),
            ("AdamW", "AdamW", dict(lr=0.1)),
            ("NAdam", "NAdam", dict(lr=0.1)),
            ("RAdam", "RAdam", dict(lr=0.1)),
            ("Adamax", "Adamax", dict(lr=0.1)),
            ("Adagrad", "Adagrad", dict(lr=1.0)),
            ("Adadelta", "Adadelta", dict(lr=3.0)),
            ("RMSprop", "RMSprop", dict(lr=0.03)),
            ("Rprop", "Rprop", dict(lr=0.01)),
            ("Lion", "Lion", dict(lr=0.03)),
            ("Lamb", ("Lamb", "LAMB"), dict(lr=0.1)),
            ("ADOPT", "ADOPT", dict(lr=0.1)),
            ("AdEMAMix", "AdEMAMix", dict(lr=0.1)),
            ("ASGD", "ASGD", dict(lr=0.1)),
            ("ScheduleFreeAdamW", "ScheduleFreeAdamW", dict(lr=0.1)),
            ("ScheduleFreeSGD", "ScheduleFreeSGD", dict(lr=0.1)),
        ]),
}


def run(cls, kwargs, f, grad, start, steps, precision=("full", 4096)):
    """The path (steps+1, 2) and the losses (steps+1,) of one optimizer from ``start``,
    and what its state takes (``precision``: its state precision and min_8bit_size)."""
    p = np.array(start, dtype=np.float64)
    g = np.empty_like(p)
    opt = cls([p], **kwargs, **precision_kwargs(cls, *precision))
    path = np.empty((steps + 1, 2))
    path[0] = p
    for t in range(steps):
        grad(p, g)
        opt.step([g])
        path[t + 1] = p
    with np.errstate(over="ignore", invalid="ignore"):
        return path, np.array([f(q) for q in path]), state_report(opt)


def plot(results, missing, out_dir):
    labels = [label for label, *_ in PROBLEMS["rosenbrock"]["optimizers"]]
    palette = [f"C{i}" for i in range(10)] + ["black", "gold", "darkcyan", "purple", "olive",
                                              "crimson", "slategray", "lime"]
    colors = dict(zip(labels, palette))
    fig = figure(figsize=(11, 8.4))
    axes = fig.subplots(2, 2, height_ratios=(1.25, 1))
    for col, (name, problem) in enumerate(PROBLEMS.items()):
        ax, ax_loss = axes[0, col], axes[1, col]
        (x0, x1), (y0, y1) = problem["window"]
        xs, ys = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
        zs = problem["f"](np.stack([xs, ys]))
        levels = np.logspace(-1, 3.5, 16) if name == "rosenbrock" else np.linspace(0.25, 18, 12) ** 1.5 / 4
        ax.contour(xs, ys, zs, levels=levels, colors="0.75", linewidths=0.7)
        for label, (path, losses) in results[name].items():
            ax.plot(path[:, 0], path[:, 1], color=colors[label], lw=1.2, label=label)
            ax.plot(*path[-1], "o", color=colors[label], ms=4)
            finite = np.isfinite(losses)
            ax_loss.plot(np.arange(len(losses))[finite], np.maximum(losses[finite], 1e-16),
                         color=colors[label], lw=1.2, label=label)
        ax.plot(*problem["start"], "ks", ms=6)
        ax.plot(*problem["minimum"], "k*", ms=12)
        ax.set(xlim=(x0, x1), ylim=(y0, y1), title=problem["title"], xlabel="x", ylabel="y")
        ax_loss.set(yscale="log", ylim=(1e-16, None), xlabel="step", ylabel="loss", title="loss against step")
    handles, names = axes[0, 0].get_legend_handles_labels()
    if missing:
        names = names + [f"(not in this fastopt: {', '.join(missing)})"]
        handles = handles + [axes[0, 0].plot([], [], alpha=0)[0]]
    fig.legend(handles, names, loc="outside lower center", ncols=5, fontsize=9)
    return save(fig, out_dir, "optimizer_comparison.png")


def main(quick: bool = False, out_dir: str | None = None, state_precision: str = "full",
         min_8bit_size: int = 4096) -> dict:
    results: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    missing: list[str] = []
    for name, problem in PROBLEMS.items():
        present, missing = available(problem["optimizers"])
        steps = problem["steps"][1 if quick else 0]
        runs = {label: run(cls, kwargs, problem["f"], problem["grad"], problem["start"], steps,
                           (state_precision, min_8bit_size))
                for label, cls, kwargs in present}
        results[name] = {label: (path, losses) for label, (path, losses, _) in runs.items()}
        metrics[name] = {
            "steps": steps,
            "initial_loss": float(problem["f"](np.array(problem["start"]))),
            "final_loss": {label: float(losses[-1]) for label, (_, losses) in results[name].items()},
            "distance_to_minimum": {
                label: float(np.linalg.norm(path[-1] - problem["minimum"]))
                for label, (path, _) in results[name].items()},
            "state": {label: state for label, (_, _, state) in runs.items()},
        }
    finals = metrics["rosenbrock"]["final_loss"]
    metrics.update(
        optimizers=len(results["rosenbrock"]),
        state_precision=state_precision,
        missing=missing,
        adam_bowl_loss=metrics["bowl"]["final_loss"]["Adam"],
        adam_rosenbrock_loss=metrics["rosenbrock"]["final_loss"]["Adam"],
        # Adam's state (every optimizer's is in metrics[problem]["state"])
        **metrics["rosenbrock"]["state"]["Adam"],
        best_on_rosenbrock=min(finals, key=lambda k: finals[k] if np.isfinite(finals[k]) else np.inf),
    )
    if out_dir is not None:
        metrics["figure"] = plot(results, missing, out_dir)
    return metrics


def cli(argv=None):
    return _cli(main, __doc__, state_precision_options, argv)


if __name__ == "__main__":
    cli()
