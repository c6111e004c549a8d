"""LBFGS, held to torch.optim.LBFGS (with and without the strong-Wolfe line search) on
Rosenbrock's function and on least squares on scikit-learn's diabetes data, its line
search's pieces to torch's own functions, its closure contract, its refusals and its
state_dict.  LBFGS steps through a closure, not step(grads), so it is not a row of the
generic tests: this file is its whole check."""
import math

import numpy as np
import pytest

import fastopt
from fastopt.optimizers.lbfgs import cubic_interpolate, strong_wolfe

torch = pytest.importorskip("torch")
from torch.optim import lbfgs as tl  # noqa: E402

DTYPES = [np.float64, np.float32]
# The same operations in the same order as torch; only NumPy's and torch's sums (the dot
# products, the |g| sum) group their terms differently.  Over a few iterations that is
# rounding (SHORT: measured 1e-16 in float64, 3e-8 in float32); over many, on these
# ill-conditioned problems, the iterations amplify it (LONG: measured up to 5e-8 in
# float64 and 1e-3 in float32 relative, after 4 steps of 20 iterations).
SHORT = {np.float64: 1e-14, np.float32: 1e-6}
TOL = {np.float64: 1e-7, np.float32: 5e-3}


def rosenbrock(x):
    """f and its gradient for the n-dimensional Rosenbrock function."""
    f = np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return float(f), g


def torch_closure(params, objective):
    """A closure for torch.optim.LBFGS that evaluates the same NumPy ``objective`` as
    fastopt's closure does (loss, list of gradients), so that only the optimizers differ."""
    def closure():
        f, grads = objective(*[p.detach().numpy() for p in params])
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        return torch.tensor(f, dtype=params[0].dtype)
    return closure


def _diabetes():
    datasets = pytest.importorskip("sklearn.datasets")
    x, y = datasets.load_diabetes(return_X_y=True)
    return (x - x.mean(0)) / x.std(0), y


def _run_rosenbrock(kwargs, dtype, steps=4, start=(-1.5, 2.0, -0.5, 1.2, 0.3)):
    x = np.array(start, dtype)
    opt = fastopt.LBFGS([x], **kwargs)
    losses = []
    for _ in range(steps):
        losses.append(opt.step(lambda: (lambda f, g: (f, [g.astype(dtype)]))(*rosenbrock(x))))
    tx = torch.tensor(np.array(start, dtype))
    topt = torch.optim.LBFGS([tx], **kwargs)
    closure = torch_closure([tx], lambda x: (lambda f, g: (f, [g]))(*rosenbrock(x)))
    tlosses = [float(topt.step(closure)) for _ in range(steps)]
    return x, tx.detach().numpy(), losses, tlosses, opt, topt


KWARGS = [dict(), dict(line_search_fn="strong_wolfe"),
          dict(lr=0.5, max_iter=7, history_size=3),
          dict(line_search_fn="strong_wolfe", history_size=2, max_iter=30, max_eval=40),
          dict(tolerance_change=1e-3, tolerance_grad=1e-3)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("kwargs", [dict(max_iter=5), dict(max_iter=5, history_size=2),
                                    dict(max_iter=5, line_search_fn="strong_wolfe", lr=0.3)],
                         ids=str)
def test_rosenbrock_few_iterations_match_torch_to_rounding(kwargs, dtype):
    ours, theirs, losses, tlosses, opt, topt = _run_rosenbrock(kwargs, dtype, steps=1)
    np.testing.assert_allclose(ours, theirs, rtol=SHORT[dtype], atol=SHORT[dtype])
    assert losses == tlosses


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("kwargs", KWARGS, ids=str)
def test_rosenbrock_matches_torch(kwargs, dtype):
    ours, theirs, losses, tlosses, opt, topt = _run_rosenbrock(kwargs, dtype)
    np.testing.assert_allclose(ours, theirs, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(losses, tlosses, rtol=TOL[dtype], atol=TOL[dtype])
    if dtype == np.float32:          # a stopping test may flip near convergence
        return
    tstate = topt.state[topt._params[0]]
    assert opt.state["func_evals"] == tstate["func_evals"]
    assert opt.state["n_iter"] == tstate["n_iter"]
    assert len(opt.state["old_dirs"]) == len(tstate["old_dirs"])
    if dtype == np.float64:
        np.testing.assert_allclose(opt.state["d"], tstate["d"].numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_diabetes_least_squares_matches_torch(line_search_fn, dtype):
    x, y = _diabetes()
    x, y = x.astype(dtype), y.astype(dtype)
    def objective(w, b):             # mean squared error and its gradients
        err = x @ w + b - y
        return float(np.mean(err * err)), [(2 / len(y)) * (x.T @ err),
                                           np.array([2 * err.mean()], dtype)]

    params = fastopt.flatten({"w": np.zeros(x.shape[1], dtype), "b": np.zeros(1, dtype)})
    opt = fastopt.LBFGS(params, lr=1 if line_search_fn else 0.1, max_iter=25,
                        line_search_fn=line_search_fn)

    def closure():                   # writes params.grads, returns (loss, None)
        loss, (gw, gb) = objective(params["w"], params["b"])
        params.grads["w"][...] = gw
        params.grads["b"][...] = gb
        return loss, None

    tw = torch.zeros(x.shape[1], dtype=getattr(torch, np.dtype(dtype).name))
    tb = torch.zeros(1, dtype=tw.dtype)
    topt = torch.optim.LBFGS([tw, tb], lr=1 if line_search_fn else 0.1, max_iter=25,
                             line_search_fn=line_search_fn)
    tclosure = torch_closure([tw, tb], objective)

    # float32: one step of 25 iterations.  Over 75 the sums' different rounding grew to 11%
    # on an AVX-512 AMD CPU (NumPy's and torch's BLAS group the dot products by CPU),
    # while 25 agreed to 4e-6 there.
    for _ in range(3 if dtype == np.float64 else 1):
        opt.step(closure)
        topt.step(tclosure)
    np.testing.assert_allclose(params["w"], tw.numpy(), rtol=TOL[dtype], atol=TOL[dtype])
    if line_search_fn and dtype == np.float64:      # converged: the least-squares fit
        a = np.c_[x, np.ones(len(y))]
        exact = np.linalg.lstsq(a, y, rcond=None)[0]
        best = objective(exact[:-1], exact[-1:])[0]
        assert objective(params["w"], params["b"])[0] == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("case", [
    (0.0, 1.0, -2.0, 1.0, 0.5, 1.0, None), (1.0, 0.5, 1.0, 0.0, 1.0, -2.0, None),
    (0.0, 1.0, -2.0, 1.0, 0.5, 1.0, (1.01, 10.0)), (0.0, 1.0, -1.0, 2.0, 3.0, 5.0, None),
    (0.0, 1.0, 1.0, 1.0, 2.0, -3.0, None),           # no real minimiser: the midpoint
    (0.3, 2.0, -0.5, 0.9, 1.7, 0.25, (0.0, 0.5))])
def test_cubic_interpolate_is_torchs(case):
    *args, bounds = case
    theirs = tl._cubic_interpolate(*[torch.tensor(a, dtype=torch.float64) for a in args],
                                   bounds=bounds)
    assert cubic_interpolate(*args, bounds=bounds) == pytest.approx(float(theirs), rel=1e-15)


@pytest.mark.parametrize("t0", [1.0, 0.01, 5.0])
@pytest.mark.parametrize("max_ls", [25, 2])
def test_strong_wolfe_is_torchs(t0, max_ls):
    x0 = np.array([-1.2, 1.0, 0.5])
    f0, g0 = rosenbrock(x0)
    d = -g0 / np.linalg.norm(g0)

    def ours_obj(t):
        return rosenbrock(x0 + t * d)

    def their_obj(x, t, dd):
        f, g = rosenbrock(x.numpy() + float(t) * dd.numpy())
        return f, torch.tensor(g)

    f, g, t, n = strong_wolfe(ours_obj, t0, d, f0, g0, float(g0 @ d), max_ls=max_ls)
    tf, tg, tt, tn = tl._strong_wolfe(their_obj, torch.tensor(x0), t0, torch.tensor(d), f0,
                                      torch.tensor(g0), torch.tensor(g0 @ d), max_ls=max_ls)
    assert (f, float(t), n) == pytest.approx((float(tf), float(tt), tn), rel=1e-12)
    np.testing.assert_allclose(g, tg.numpy(), rtol=1e-12)


def test_closure_contract_forms():
    """Lists, dicts, FlatParams with the flat array or None: all the same run."""
    start = np.array([-1.5, 2.0, -0.5, 1.2])
    results = []
    xs = [start.copy()]
    opt = fastopt.LBFGS(xs, line_search_fn="strong_wolfe")
    opt.step(lambda: (lambda f, g: (f, [g]))(*rosenbrock(xs[0])))
    results.append(xs[0])
    named = {"x": start.copy()}
    opt = fastopt.LBFGS(named, line_search_fn="strong_wolfe")
    opt.step(lambda: (lambda f, g: (f, {"x": g}))(*rosenbrock(named["x"])))
    results.append(named["x"])
    for give_array in (True, False):
        flat = fastopt.flatten({"x": start.copy()})
        opt = fastopt.LBFGS(flat, line_search_fn="strong_wolfe")

        def closure():
            f, g = rosenbrock(flat["x"])
            if give_array:
                grad = np.zeros_like(flat.grad)
                grad[:g.size] = g
                return f, grad
            flat.grads["x"][...] = g
            return f, None
        opt.step(closure)
        results.append(flat["x"].copy())
    for r in results[1:]:
        assert r.tobytes() == results[0].tobytes()


def test_closure_contract_refusals_change_nothing():
    x = np.array([-1.5, 2.0])
    opt = fastopt.LBFGS([x])
    with pytest.raises(TypeError, match="needs a closure"):
        opt.step([np.zeros(2)])
    bad = [lambda: 1.0, lambda: (1.0,), lambda: ("a", [np.zeros(2)]),
           lambda: (1.0, None), lambda: (1.0, [np.zeros(3)]),
           lambda: (1.0, [np.zeros(2, np.float32)])]
    for closure in bad:
        with pytest.raises((TypeError, ValueError), match="closure|gradient|loss"):
            opt.step(closure)
    assert x.tolist() == [-1.5, 2.0] and opt.state["func_evals"] == 0


@pytest.mark.parametrize("bad,exc,match", [
    (dict(lr=-1.0), ValueError, "lr"), (dict(max_iter=0), ValueError, "max_iter"),
    (dict(max_iter=2.5), TypeError, "max_iter"), (dict(max_eval=0), ValueError, "max_eval"),
    (dict(tolerance_grad=-1.0), ValueError, "tolerance_grad"),
    (dict(tolerance_change=float("nan")), ValueError, "tolerance_change"),
    (dict(history_size=0), ValueError, "history_size"),
    (dict(line_search_fn="armijo"), ValueError, "line_search_fn"),
    (dict(max_grad_norm=1.0), TypeError, "max_grad_norm.*true gradients"),
    (dict(nonfinite="skip"), TypeError, "nonfinite"),
    (dict(state_precision="bfloat16"), TypeError, "state_precision"),
    (dict(momentum=0.9), TypeError, "momentum")], ids=str)
def test_refused_options(bad, exc, match):
    with pytest.raises(exc, match=match):
        fastopt.LBFGS([np.zeros(3)], **bad)


def test_refused_parameters():
    with pytest.raises(ValueError, match="parameter groups"):
        fastopt.LBFGS([{"params": [np.zeros(2)]}, {"params": [np.zeros(2)]}])
    with pytest.raises(TypeError, match="one dtype"):
        fastopt.LBFGS([np.zeros(2), np.zeros(2, np.float32)])


def test_max_eval_default_and_hyperparameter_changes():
    opt = fastopt.LBFGS([np.zeros(3)], max_iter=8)
    assert opt.param_groups[0]["max_eval"] == 10
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr"):
        opt.step(lambda: (0.0, [np.ones(3)]))
    opt.param_groups[0]["lr"] = 1.0
    opt.param_groups[0]["history_size"] = 5
    with pytest.raises(ValueError, match="history_size cannot change"):
        opt.step(lambda: (0.0, [np.ones(3)]))


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_state_dict_resumes_bitwise(line_search_fn, dtype):
    def make(x):
        return fastopt.LBFGS([x], max_iter=3, history_size=4, line_search_fn=line_search_fn)

    def closure_for(x):
        return lambda: (lambda f, g: (f, [g.astype(dtype)]))(*rosenbrock(x))

    start = np.array([-1.5, 2.0, -0.5, 1.2, 0.3], dtype)
    x = start.copy()
    full = make(x)
    for _ in range(8):
        full.step(closure_for(x))
    y = start.copy()
    half = make(y)
    for _ in range(4):
        half.step(closure_for(y))
    sd = half.state_dict()
    z = y.copy()
    resumed = make(z)
    resumed.load_state_dict(sd)
    for _ in range(4):
        resumed.step(closure_for(z))
    assert z.tobytes() == x.tobytes()
    assert resumed.state_dict()["scalars"] == full.state_dict()["scalars"]


def test_load_state_dict_refusals():
    opt = fastopt.LBFGS([np.zeros(3)], history_size=4)
    good = opt.state_dict()
    for bad in ({}, {**good, "size": 4}, {**good, "dtype": "float32"},
                {**good, "buffers": {**good["buffers"], "d": np.zeros(2)}},
                {**good, "param_groups": [{**good["param_groups"][0], "history_size": 3}]}):
        with pytest.raises(ValueError):
            opt.load_state_dict(bad)


def test_history_is_a_ring_of_preallocated_rows():
    x = np.array([-1.5, 2.0, -0.5, 1.2, 0.3])
    opt = fastopt.LBFGS([x], history_size=3, max_iter=50)
    rows = opt.old_dirs
    opt.step(lambda: (lambda f, g: (f, [g]))(*rosenbrock(x)))
    assert opt.old_dirs is rows and opt.old_dirs.shape == (4, 5)
    assert len(opt.state["old_dirs"]) == 3


def test_converges_on_rosenbrock():
    x = np.array([-1.2, 1.0, -1.2, 1.0])
    opt = fastopt.LBFGS([x], line_search_fn="strong_wolfe", max_iter=200, max_eval=300)
    opt.step(lambda: (lambda f, g: (f, [g]))(*rosenbrock(x)))
    assert math.isclose(rosenbrock(x)[0], 0.0, abs_tol=1e-9)


def test_checkpoint_files_resume_bitwise(tmp_path):
    def make(x):
        return fastopt.LBFGS([x], max_iter=3, history_size=4, line_search_fn="strong_wolfe")

    def closure_for(x):
        return lambda: (lambda f, g: (f, [g]))(*rosenbrock(x))

    x = np.array([-1.5, 2.0, -0.5, 1.2, 0.3])
    opt = make(x)
    for _ in range(2):
        opt.step(closure_for(x))
    fastopt.save(tmp_path / "ckpt", opt, params=[x])
    y = np.zeros_like(x)
    loaded = make(y)
    fastopt.load(tmp_path / "ckpt", loaded, params=[y])
    assert loaded.state_dict()["scalars"] == opt.state_dict()["scalars"]
    for _ in range(3):
        opt.step(closure_for(x))
        loaded.step(closure_for(y))
    assert x.tobytes() == y.tobytes()
