"""The examples (fastopt.examples) in quick mode, their scripts, and
``python -m fastopt demo --quick`` end to end.  Skipped without the demo extra
(matplotlib, scikit-learn)."""
import importlib
import json
import math
import os
import subprocess
import sys

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

import fastopt  # noqa: E402
from fastopt.examples import EXAMPLES  # noqa: E402
from harness import python_env  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def example(name):
    return importlib.import_module(f"fastopt.examples.{name}")


def test_diabetes_regression_reaches_least_squares():
    m = example("diabetes_regression").main(quick=True)
    # 20 epochs of Adam get within a few points of the exact least-squares fit (~54).
    assert m["test_rmse"] < 60
    assert abs(m["test_rmse"] - m["least_squares_test_rmse"]) < 3


def test_diabetes_tune_runs_a_study():
    pytest.importorskip("optuna")
    m = example("diabetes_regression").main(quick=True, tune_study=True, trials=3)
    assert set(m["tuned_settings"]) == {"lr", "beta1", "beta2", "eps", "epochs"}
    assert m["tuned_test_rmse"] < 70


def test_optimizer_comparison_runs_every_optimizer():
    m = example("optimizer_comparison").main(quick=True)
    assert m["adam_bowl_loss"] < 1e-3                 # from 8.5 at the start
    for problem in ("rosenbrock", "bowl"):
        finals = m[problem]["final_loss"]
        assert "Adam" in finals and "AdamW" in finals
        assert m["optimizers"] + len(m["missing"]) == len(example("optimizer_comparison")
                                                           .PROBLEMS[problem]["optimizers"])
        start = m[problem]["initial_loss"]
        for label, loss in finals.items():           # every optimizer fastopt has got somewhere
            assert math.isfinite(loss) and loss < 0.7 * start, (problem, label, loss, start)
    assert ("SGD" in m["missing"]) == (getattr(fastopt, "SGD", None) is None)


def test_sparse_gradients():
    m = example("sparse_gradients").main(quick=True)
    assert m["adam_final_loss"] < 1e-2 * m["initial_loss"]
    if getattr(fastopt, "SGD", None) is None:
        assert "SGD momentum=0.9" in m["missing"]
    else:
        assert m["adam_final_loss"] < m["sgd_momentum_final_loss"]


@pytest.fixture(scope="module")
def digits_quick():
    return example("digits_mlp").main(quick=True)


def test_digits_mlp_fastopt_and_handwritten_adam_agree(digits_quick):
    m = digits_quick
    assert m["test_accuracy"] >= 0.9
    # the same rule from the same start on the same minibatches: the same curve
    assert m["max_accuracy_difference"] <= 0.01
    assert m["fastopt_optimizer_seconds"] > 0 and m["handwritten_optimizer_seconds"] > 0


@pytest.mark.parametrize("argv, quantized", [
    (["--state-precision", "bfloat16"], 0),
    (["--state-precision", "8bit"], 64 * 256 + 256 * 128),     # w1, w2; w3 (1280) is too small
    (["--state-precision", "8bit", "--min-8bit-size", "0"], None),     # every parameter
])
def test_digits_mlp_state_precision(digits_quick, argv, quantized, tmp_path):
    full = digits_quick
    m = example("digits_mlp").cli(["--quick", "--out", str(tmp_path), *argv])
    assert m["state_precision"] == argv[1] and full["state_precision"] == "full"
    assert full["parameters_with_8bit_state"] == 0
    assert m["parameters_with_8bit_state"] == (full["parameters"] if quantized is None else quantized)
    if argv[1] == "bfloat16":
        assert m["state_nbytes"] == full["state_nbytes"] // 2
    else:
        assert m["state_nbytes"] < 0.3 * full["state_nbytes"]
    # The test set has 360 images, so accuracy moves in steps of 0.28 points.  Over 15
    # seeds of quick mode, bfloat16 and 8-bit state ended within 2 images (0.56 points) of
    # full state, either way (mean +0.02 to +0.07 points): 0.5 points would fail on a
    # 2-image difference, so this allows 3 images (< 1 point).
    assert abs(m["test_accuracy"] - full["test_accuracy"]) < 0.01
    assert m["test_accuracy"] >= 0.9


def test_digits_optimizers_train_every_optimizer_this_fastopt_has():
    m = example("digits_optimizers").main(quick=True)
    runs = [key for key, _, _ in example("digits_optimizers").RUNS]
    trained = [key for key in runs if f"{key}_test_accuracy" in m]
    assert "adamw" in trained
    assert len(trained) + len(m["missing"].split(", ") if m["missing"] else []) == len(runs)
    for key in trained:
        assert m[f"{key}_test_accuracy"] > 0.85, (key, m[f"{key}_test_accuracy"])
        assert m[f"{key}_state_nbytes"] > 0


def test_adaptive_lr_effective_step_follows_the_gradient():
    m = example("adaptive_lr").main(quick=True)
    assert m["effective_step_slope"] == pytest.approx(-2.0, abs=0.1)
    assert m["max_weight_error"] < 1e-2


def test_embedding_factorization_sparse_adam_matches_dense_adam():
    m = example("embedding_factorization").main(quick=True)
    assert m["sparse_adam_test_rmse"] < m["adam_test_rmse"] + 0.1     # as good
    assert m["adam_test_rmse"] < 0.5 and m["sparse_adam_test_rmse"] < 0.5    # std of r: 1
    curve = m["curves"]["SparseAdam"]
    assert curve[-1][1] < curve[0][1]                   # it learns


@pytest.mark.parametrize("name", [name for _, name in EXAMPLES])
def test_example_script_calls_the_module(name):
    path = os.path.join(ROOT, "examples", f"{name}.py")
    if not os.path.exists(path):
        pytest.skip("not a source checkout")
    with open(path) as f:
        assert f"from fastopt.examples.{name} import cli" in f.read()
    assert callable(example(name).cli) and callable(example(name).main)


def test_demo_command(tmp_path):
    out = subprocess.run([sys.executable, "-m", "fastopt", "demo", "--quick", "--out", "out"],
                         capture_output=True, text=True, cwd=tmp_path, env=python_env(), timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    with open(tmp_path / "out" / "summary.json") as f:
        summary = json.load(f)
    assert set(summary) == {"run"} | {key for key, _ in EXAMPLES}
    assert summary["run"]["quick"] is True
    assert "Adam" in summary["run"]["optimizers"]
    for key, _ in EXAMPLES:
        assert "error" not in summary[key], summary[key]
        assert summary[key]["seconds"] > 0
        assert (tmp_path / "out" / summary[key]["figure"]).stat().st_size > 1000
    assert summary["digits"]["test_accuracy"] >= 0.9
    assert summary["diabetes"]["test_rmse"] < 60
    assert "digits" in out.stdout and "total" in out.stdout


def test_examples_take_state_precision_on_the_command_line(tmp_path):
    for name in ("diabetes_regression", "optimizer_comparison", "sparse_gradients"):
        m = example(name).cli(["--quick", "--out", str(tmp_path), "--state-precision", "8bit",
                               "--min-8bit-size", "0"])
        assert m["state_precision"] == "8bit"
        assert m["parameters_with_8bit_state"] > 0      # below 4096 elements: only with 0
