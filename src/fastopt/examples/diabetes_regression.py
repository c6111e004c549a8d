"""Linear regression on scikit-learn's diabetes data, trained with fastopt.Adam.

442 patients, 10 features, a measure of disease progression one year later.  The data
is split 60/20/20 into train, validation and test sets; the features are standardised
with the training set's statistics; the model ``y = x @ w + b`` is trained on minibatches
of the mean squared error.  The test RMSE is reported, beside the exact least-squares
solution's, the best a linear model fitted to this training set can do.

``--tune`` runs an Optuna study over Adam's lr, betas and eps and the number of epochs,
each trial scored on the validation set, then trains with the best and reports the test
RMSE (Optuna is an optional extra: ``pip install 'fastopt[tune]'``).

Run:  python examples/diabetes_regression.py [--quick] [--out DIR] [--tune [--trials N]]
                                             [--state-precision {full,bfloat16,8bit}] [--min-8bit-size N]
"""
from __future__ import annotations

from typing import Any

import numpy as np

import fastopt
from fastopt.examples._common import (cli as _cli, figure, need, precision_kwargs, save,
                                      single_threaded_blas, state_precision_options, state_report)

DEFAULTS = dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, epochs=100)


def load_data(seed: int = 42):
    """(x, y) for the train, validation and test sets, features standardised."""
    datasets = need("sklearn.datasets")
    model_selection = need("sklearn.model_selection")
    x, y = datasets.load_diabetes(return_X_y=True)
    x_rest, x_test, y_rest, y_test = model_selection.train_test_split(x, y, test_size=0.2, random_state=seed)
    x_train, x_val, y_train, y_val = model_selection.train_test_split(x_rest, y_rest, test_size=0.25,
                                                                      random_state=seed)
    mean, std = x_train.mean(0), x_train.std(0)
    return [((a - mean) / std, b) for a, b in ((x_train, y_train), (x_val, y_val), (x_test, y_test))]


def rmse(params, x, y) -> float:
    return float(np.sqrt(np.mean((x @ params["w"] + params["b"] - y) ** 2)))


def train(train_set, lr, beta1, beta2, eps, epochs, batch_size=32, seed=0, curve_on=None,
          precision=None):
    """Fit w and b with Adam on minibatches; returns the parameters, for each (x, y) in
    ``curve_on`` its RMSE after every epoch, and what the optimizer's state takes."""
    x, y = train_set
    params = fastopt.flatten({"w": np.zeros(x.shape[1]), "b": np.array([y.mean()])})
    p, g = params, params.grads
    opt = fastopt.Adam(params, lr=lr, betas=(beta1, beta2), eps=eps, **(precision or {}))
    rng = np.random.default_rng(seed)
    curves = [[] for _ in curve_on or ()]
    for _ in range(int(epochs)):
        order = rng.permutation(len(y))
        for i in range(0, len(y), batch_size):
            idx = order[i:i + batch_size]
            error = x[idx] @ p["w"] + p["b"] - y[idx]
            np.dot(x[idx].T, error, out=g["w"])
            g["w"] *= 2 / len(idx)
            g["b"][0] = 2 * error.mean()
            opt.step()
        for curve, (cx, cy) in zip(curves, curve_on or ()):
            curve.append(rmse(params, cx, cy))
    return params, curves, state_report(opt)


def tune(data, trials: int, seed: int = 0, precision=None) -> dict:
    """An Optuna study of Adam's hyperparameters and the epochs, minimising the
    validation RMSE (``precision``: Adam's state precision options).  Returns the best
    settings."""
    optuna = need("optuna", extra="pip install 'fastopt[tune]'  (or: pip install optuna)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    train_set, val_set, _ = data

    def objective(trial):
        settings = dict(
            lr=trial.suggest_float("lr", 1e-4, 1.0, log=True),
            beta1=trial.suggest_float("beta1", 0.5, 0.999),
            beta2=trial.suggest_float("beta2", 0.9, 0.9999),
            eps=trial.suggest_float("eps", 1e-10, 1e-1, log=True),
            epochs=trial.suggest_int("epochs", 10, 300),
        )
        params, _, _ = train(train_set, **settings, precision=precision)
        score = rmse(params, *val_set)
        return score if np.isfinite(score) else float("inf")

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    return dict(study.best_params)


def plot(curves, labels, out_dir):
    fig = figure(figsize=(6.4, 4))
    ax = fig.subplots()
    for (train_curve, val_curve), label, color in zip(curves, labels, ("C0", "C1")):
        epochs = np.arange(1, len(train_curve) + 1)
        ax.plot(epochs, train_curve, color=color, label=f"{label}: train")
        ax.plot(epochs, val_curve, color=color, ls="--", label=f"{label}: validation")
    ax.set(xlabel="epoch", ylabel="RMSE", title="Diabetes, linear regression with fastopt.Adam")
    ax.set_ylim(top=min(ax.get_ylim()[1], 100))
    ax.legend(loc="upper right")
    return save(fig, out_dir, "diabetes_regression.png")


def main(quick: bool = False, out_dir: str | None = None, tune_study: bool = False,
         trials: int | None = None, seed: int = 42, state_precision: str = "full",
         min_8bit_size: int = 4096) -> dict:
    data = load_data(seed)
    (x_train, y_train), val_set, test_set = data
    settings = dict(DEFAULTS, epochs=20 if quick else DEFAULTS["epochs"])
    runs = [("default", settings)]
    metrics: dict[str, Any] = {}
    precision = precision_kwargs(fastopt.Adam, state_precision, min_8bit_size)
    with single_threaded_blas():
        if tune_study:
            best = tune(data, trials or (10 if quick else 50), seed, precision)
            runs.append(("tuned", best))
            metrics["tuned_settings"] = best
        curves = []
        for name, s in runs:
            params, (train_curve, val_curve), state = train(
                (x_train, y_train), **s, curve_on=[(x_train, y_train), val_set], precision=precision)
            curves.append((train_curve, val_curve))
            prefix = "" if name == "default" else "tuned_"
            metrics[f"{prefix}test_rmse"] = rmse(params, *test_set)
            metrics[f"{prefix}validation_rmse"] = val_curve[-1]
            if name == "default":
                metrics.update(state)         # state_nbytes, parameters_with_8bit_state
    # The exact least-squares fit of the same model on the same training set.
    design = np.hstack([x_train, np.ones((len(y_train), 1))])
    coef = np.linalg.lstsq(design, y_train, rcond=None)[0]
    metrics["least_squares_test_rmse"] = rmse({"w": coef[:-1], "b": coef[-1]}, *test_set)
    metrics["default_settings"] = settings
    metrics["state_precision"] = state_precision
    metrics["sizes"] = {"train": len(y_train), "validation": len(val_set[1]), "test": len(test_set[1])}
    if out_dir is not None:
        metrics["figure"] = plot(curves, [name for name, _ in runs], out_dir)
    return metrics


def cli(argv=None):
    def options(parser):
        parser.add_argument("--tune", dest="tune_study", action="store_true",
                            help="run an Optuna study over lr, betas, eps and epochs (needs optuna)")
        parser.add_argument("--trials", type=int, default=None,
                            help="Optuna trials (default 50; 10 with --quick)")
        state_precision_options(parser)
    return _cli(main, __doc__, options, argv)


if __name__ == "__main__":
    cli()
