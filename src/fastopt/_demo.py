"""``python -m fastopt demo``: run every example, write their figures and summary.json.

The examples live in ``fastopt.examples`` (so the demo works from an installed wheel,
from any directory); each has ``main(quick, out_dir) -> dict``.  The demo runs them in
turn, times each, and writes into the output folder the figures and ``summary.json``:
one entry per example (its metrics and ``seconds``) and ``run`` (fastopt's version,
backend, the optimizers it has, the total time).  It needs matplotlib and scikit-learn:
``pip install 'fastopt[demo]'``.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import time
import traceback
from typing import Any

from .optimizers.table import OPTIMIZERS

#: Per example, the metrics the printed table shows (when present).
HEADLINES = {
    "diabetes": ("test_rmse", "tuned_test_rmse", "least_squares_test_rmse"),
    "optimizer_comparison": ("optimizers", "adam_bowl_loss", "adam_rosenbrock_loss", "best_on_rosenbrock"),
    "sparse_gradients": ("adam_final_loss", "sgd_momentum_final_loss", "adagrad_final_loss"),
    "digits": ("test_accuracy", "fastopt_step_us", "handwritten_step_us", "optimizer_speedup"),
    "digits_optimizers": ("adamw_test_accuracy", "adafactor_test_accuracy", "muon_test_accuracy",
                          "schedulefree_test_accuracy"),
    "adaptive_lr": ("effective_step_slope", "max_weight_error"),
    "embedding_factorization": ("sparse_adam_test_rmse", "adam_test_rmse", "step_speedup"),
}

#: The optimizer family fastopt is growing into (for the report of what this one has).
FAMILY = tuple(info.cls for info in OPTIMIZERS)


def add_parser(commands) -> argparse.ArgumentParser:
    """Register ``demo`` on the ``python -m fastopt`` subcommands."""
    from .examples import EXAMPLES
    parser = commands.add_parser(
        "demo", help="run the examples; write their figures and summary.json",
        description="Run every example (diabetes regression, optimizer comparison, sparse "
                    "gradients, digits MLP, Adam's adaptive step sizes), write their figures "
                    "and summary.json into --out, and print a table of their metrics.")
    parser.add_argument("--out", default="fastopt-demo", metavar="DIR",
                        help="output folder (default: ./fastopt-demo; --out docs refreshes "
                             "the figures the repository's docs embed)")
    parser.add_argument("--quick", action="store_true", help="short runs (a few seconds), as the tests do")
    parser.add_argument("--tune", action="store_true",
                        help="also run the diabetes example's Optuna study (pip install 'fastopt[tune]')")
    parser.add_argument("--only", nargs="+", choices=[key for key, _ in EXAMPLES], metavar="EXAMPLE",
                        help=f"run only these ({', '.join(key for key, _ in EXAMPLES)})")
    parser.set_defaults(run=lambda args: main(args.out, quick=args.quick, tune=args.tune, only=args.only))
    return parser


def check_dependencies() -> None:
    missing = [name for name, module in (("matplotlib", "matplotlib"), ("scikit-learn", "sklearn"))
               if importlib.util.find_spec(module) is None]
    if missing:
        raise SystemExit(f"the demo needs {' and '.join(missing)}: pip install 'fastopt[demo]'  "
                         f"(in a checkout: pip install '.[demo]')")


def run(out_dir: str = "fastopt-demo", quick: bool = False, tune: bool = False,
        only: list[str] | None = None) -> dict[str, Any]:
    """Run the examples; returns the summary (also written to ``out_dir/summary.json``)."""
    check_dependencies()
    import fastopt
    from .examples import EXAMPLES
    start = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    summary: dict[str, Any] = {"run": {
        "fastopt_version": fastopt.__version__,
        "backend": fastopt.get_backend(),
        "quick": quick,
        "optimizers": [n for n in FAMILY if hasattr(fastopt, n)],
        "optimizers_missing": [n for n in FAMILY if not hasattr(fastopt, n)],
    }}
    for key, module_name in EXAMPLES:
        if only and key not in only:
            continue
        module = importlib.import_module(f"fastopt.examples.{module_name}")
        kwargs = {"tune_study": True} if (tune and key == "diabetes") else {}
        t0 = time.perf_counter()
        try:
            metrics = module.main(quick=quick, out_dir=out_dir, **kwargs)
        except Exception as e:  # one broken example must not hide the others' results
            traceback.print_exc()
            metrics = {"error": f"{type(e).__name__}: {e}"}
        metrics["seconds"] = time.perf_counter() - t0
        if "figure" in metrics:
            metrics["figure"] = os.path.basename(metrics["figure"])
        summary[key] = metrics
        print(row(key, metrics), flush=True)
    summary["run"]["total_seconds"] = time.perf_counter() - start
    path = os.path.join(out_dir, "summary.json")
    with open(path, "w") as f:
        json.dump(plain(summary), f, indent=2, allow_nan=False)
        f.write("\n")
    return summary


def plain(value):
    """JSON-safe: NumPy scalars to Python, non-finite floats (a diverged run) to None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):                # NumPy arrays and scalars
        return plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def row(key: str, metrics: dict) -> str:
    if "error" in metrics:
        shown = f"FAILED: {metrics['error']}"
    else:
        shown = ", ".join(f"{name} {fmt(metrics[name])}"
                          for name in HEADLINES.get(key, ()) if name in metrics)
    return f"{key:<22}{metrics['seconds']:7.1f} s   {shown}"


def main(out_dir: str = "fastopt-demo", quick: bool = False, tune: bool = False,
         only: list[str] | None = None) -> int:
    check_dependencies()
    print(f"{'example':<22}{'time':>9}   metrics")
    summary = run(out_dir, quick=quick, tune=tune, only=only)
    info = summary["run"]
    print(f"{'total':<22}{info['total_seconds']:7.1f} s")
    if info["optimizers_missing"]:
        print(f"optimizers in this fastopt: {', '.join(info['optimizers'])} "
              f"(not yet: {', '.join(info['optimizers_missing'])})")
    print(f"figures and summary.json in {os.path.abspath(out_dir)}")
    return 1 if any(isinstance(v, dict) and "error" in v for v in summary.values()) else 0
