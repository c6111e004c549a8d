"""SparseAdam and row-sparse gradients: every backend against torch.optim.SparseAdam fed
torch.sparse_coo_tensor gradients (duplicates included), the backends bitwise against each
other, the parameter forms, the guards, resume, and the refusals."""
import pickle

import numpy as np
import pytest

import fastopt
from harness import BACKENDS, DTYPES

OPTIONS = [
    dict(),
    dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=3e-3, maximize=True),
    dict(lr=1e-2, betas=(0.0, 0.0), eps=1e-3),
    dict(lr=0.1, betas=(0.5, 0.9), eps=1e-8, maximize=True),
]
SHAPE = (50, 7)
STEPS = 8


def sparse_grads(shape, dtype, steps, seed=0, k=30, pairs=False):
    """Row-sparse gradients with duplicates, unsorted, of several index dtypes; some
    steps touch no row at all.  ``pairs``: no index more than twice."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        n = 0 if t == 3 else k
        if pairs:
            first = rng.permutation(shape[0])[:n - n // 3]
            idx = rng.permutation(np.concatenate([first, first[:n // 3]]))
        else:
            idx = rng.integers(0, shape[0], n)
        idx = idx.astype([np.int64, np.int32, np.uint16][t % 3])
        rows = rng.standard_normal((n, shape[1])).astype(dtype)
        out.append((idx, rows))
    return out


def torch_sparse_adam(p0, grads, kwargs, dtype):
    torch = pytest.importorskip("torch")
    torch.sparse.check_sparse_tensor_invariants.disable()
    p = torch.tensor(p0.copy(), requires_grad=True)
    opt = torch.optim.SparseAdam([p], **kwargs)
    for idx, rows in grads:
        p.grad = torch.sparse_coo_tensor(torch.tensor(idx.astype(np.int64))[None],
                                         torch.tensor(rows), p0.shape)
        opt.step()
    state = opt.state[p]
    return (p.detach().numpy(), state["exp_avg"].numpy(), state["exp_avg_sq"].numpy())


def ours(p0, grads, kwargs, backend, form="list"):
    p = p0.copy()
    if form == "flat":
        params = fastopt.flatten({"emb": p})
        opt = fastopt.SparseAdam(params, backend=backend, **kwargs)
        for g in grads:
            opt.step({"emb": g})
        p = params["emb"]
    elif form == "dict":
        opt = fastopt.SparseAdam({"emb": p}, backend=backend, **kwargs)
        for g in grads:
            opt.step({"emb": g})
    else:
        opt = fastopt.SparseAdam([p], backend=backend, **kwargs)
        for g in grads:
            opt.step([g])
    key = "emb" if form in ("flat", "dict") else 0
    return p, opt.state[key]["exp_avg"], opt.state[key]["exp_avg_sq"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_against_torch(kwargs, dtype, backend):
    """float32 moments bitwise where no row is named more than twice (a + b is b + a);
    with more duplicates torch sums them in the order of its unstable sort, fastopt in the
    order given, so the sums may differ in the last bit.  The parameters agree to the
    rounding of the update: bitwise on Intel CPUs, while on an AVX-512 AMD CPU (Zen 5)
    torch's own kernels (chosen by CPU) left a few elements up to 2 ulps of the parameter
    or 11 float32 epsilons of the update apart.  fastopt's three backends agree with each
    other bitwise everywhere."""
    p0 = np.random.default_rng(1).standard_normal(SHAPE).astype(dtype)
    grads = sparse_grads(SHAPE, dtype, STEPS, pairs=True)
    theirs = torch_sparse_adam(p0, grads, kwargs, dtype)
    mine = ours(p0, grads, kwargs, backend)
    for a, b in zip(mine[1:], theirs[1:]):
        if dtype == np.float32:
            np.testing.assert_array_equal(a, b)  # bitwise: same operations, same order
        else:       # torch's vectorised float64 step rounds a few elements 1 ulp apart
            np.testing.assert_allclose(a, b, rtol=2e-15, atol=0)
    p, theirs_p = mine[0], theirs[0]
    update_rounding = 16 * np.finfo(dtype).eps * np.abs(p - p0) + 2 * np.spacing(np.abs(theirs_p))
    assert np.all(np.abs(p - theirs_p) <= update_rounding)
    assert not np.array_equal(p, p0)
    grads = sparse_grads(SHAPE, dtype, STEPS, seed=9, k=120)     # rows named up to ~8 times
    theirs = torch_sparse_adam(p0, grads, kwargs, dtype)
    mine = ours(p0, grads, kwargs, backend)
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())


@pytest.mark.parametrize("form", ["list", "dict", "flat"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_backends_bitwise_and_forms(form, dtype):
    p0 = np.random.default_rng(2).standard_normal(SHAPE).astype(dtype)
    grads = sparse_grads(SHAPE, dtype, STEPS, seed=3, k=200)     # many duplicates
    ref = ours(p0, grads, OPTIONS[1], "numpy", form)
    for backend in ("cython", "numba"):
        for a, b in zip(ours(p0, grads, OPTIONS[1], backend, form), ref):
            assert a.tobytes() == b.tobytes()


def test_untouched_rows_are_not_read_or_written():
    p = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    opt = fastopt.SparseAdam([p], lr=0.1)
    before = p.copy()
    opt.step([(np.array([2, 7, 2]), np.ones((3, 4), np.float32))])
    changed = np.flatnonzero((p != before).any(axis=1)).tolist()
    assert changed == [2, 7]
    m = opt.state[0]["exp_avg"]
    m_before = m.copy()
    opt.step([(np.array([7]), np.ones((1, 4), np.float32))])
    assert np.array_equal(m[2], m_before[2])            # lazy: row 2 is not decayed
    assert opt.step_count == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_mixed_sparse_and_dense_against_torch(backend):
    """A dense gradient names every row: torch's SparseAdam given every row by index."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    emb0 = rng.standard_normal((20, 5)).astype(np.float64)
    w0 = rng.standard_normal((5, 3)).astype(np.float64)
    b0 = rng.standard_normal(3).astype(np.float64)
    emb, w, b = emb0.copy(), w0.copy(), b0.copy()
    opt = fastopt.SparseAdam({"emb": emb, "w": w, "b": b}, lr=0.05, backend=backend)
    te, tw, tb = (torch.tensor(a.copy(), requires_grad=True) for a in (emb0, w0, b0))
    topt = torch.optim.SparseAdam([te, tw, tb], lr=0.05)
    for t in range(5):
        idx = rng.integers(0, 20, 9)
        rows = rng.standard_normal((9, 5))
        gw, gb = rng.standard_normal((5, 3)), rng.standard_normal(3)
        opt.step({"emb": (idx, rows), "w": gw, "b": gb})
        te.grad = torch.sparse_coo_tensor(torch.tensor(idx)[None], torch.tensor(rows), (20, 5))
        tw.grad = torch.sparse_coo_tensor(torch.arange(5)[None], torch.tensor(gw), (5, 3))
        tb.grad = torch.sparse_coo_tensor(torch.arange(3)[None], torch.tensor(gb), (3,))
        topt.step()
    for a, tt in ((emb, te), (w, tw), (b, tb)):
        np.testing.assert_allclose(a, tt.detach().numpy(), rtol=2e-15, atol=0)


def test_flat_buffer_own_grads_are_dense():
    params = fastopt.flatten({"emb": np.ones((6, 2), np.float32), "b": np.ones(2, np.float32)})
    opt = fastopt.SparseAdam(params, lr=0.1)
    params.grads["emb"][...] = 1.0
    params.grads["b"][...] = -1.0
    opt.step()
    assert np.all(params["emb"] < 1) and np.all(params["b"] > 1)
    opt.step(params.grad.copy())                      # one flat gradient array
    assert opt.step_count == 2


def test_param_groups_and_per_group_step():
    a = np.zeros((4, 2))
    b = np.zeros((4, 2))
    opt = fastopt.SparseAdam([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.2}])
    g = (np.array([1]), np.ones((1, 2)))
    opt.step([g, g])
    assert a[1, 0] == pytest.approx(-0.1) and b[1, 0] == pytest.approx(-0.2)


def test_resume_bitwise(tmp_path):
    rng = np.random.default_rng(5)
    p0 = rng.standard_normal((30, 4)).astype(np.float32)
    grads = sparse_grads((30, 4), np.float32, 6, seed=6, k=12)
    straight, _, _ = ours(p0, grads, OPTIONS[1], "cython")
    p = p0.copy()
    opt = fastopt.SparseAdam([p], **OPTIONS[1])
    for g in grads[:3]:
        opt.step([g])
    fastopt.save(tmp_path / "ckpt", optimizer=opt, params=[p])
    state = opt.state_dict()
    assert state["state"][0]["exp_avg"].shape == p.shape      # full-size moments
    p2 = p.copy()
    opt2 = fastopt.SparseAdam([p2], backend="numba", **OPTIONS[1])
    opt2.load_state_dict(pickle.loads(pickle.dumps(state)))
    for g in grads[3:]:
        opt2.step([g])
    assert p2.tobytes() == straight.tobytes()
    p3 = np.zeros_like(p0)
    opt3 = fastopt.SparseAdam([p3], **OPTIONS[1])
    fastopt.load(tmp_path / "ckpt", optimizer=opt3, params=[p3])
    for g in grads[3:]:
        opt3.step([g])
    assert p3.tobytes() == straight.tobytes()


def test_max_grad_norm_over_coalesced_rows():
    p = np.zeros((5, 2))
    q = np.zeros((5, 2))
    opt = fastopt.SparseAdam([p], lr=0.1, max_grad_norm=1.0)
    ref = fastopt.SparseAdam([q], lr=0.1)
    idx = np.array([1, 1, 3])
    rows = np.array([[3.0, 0.0], [0.0, 4.0], [0.0, 0.0]])
    opt.step([(idx, rows)])
    assert opt.grad_norm == pytest.approx(5.0)                # ||(3, 4)||, duplicates summed
    ref.step([(np.array([1, 3]), np.array([[0.6, 0.8], [0.0, 0.0]]) / (1 + 2e-7))])
    np.testing.assert_allclose(p, q, rtol=1e-6)


@pytest.mark.parametrize("mode", ["skip", "raise"])
def test_nonfinite_rows(mode):
    p = np.ones((5, 2), np.float32)
    opt = fastopt.SparseAdam([p], nonfinite=mode)
    opt.step([(np.array([0]), np.ones((1, 2), np.float32))])
    before = (p.copy(), opt.state_dict())
    bad = (np.array([4, 2]), np.array([[1, 1], [np.nan, 0]], np.float32))
    if mode == "raise":
        with pytest.raises(fastopt.NonFiniteError, match="parameter #0"):
            opt.step([bad])
    else:
        opt.step([bad])
        assert opt.skipped_steps == 1
    assert np.array_equal(p, before[0]) and opt.step_count == 1
    np.testing.assert_array_equal(opt.state[0]["exp_avg"], before[1]["state"][0]["exp_avg"])


def _refused(opt, p, grads, exc, match):
    before = (p.tobytes(), pickle.dumps(opt.state_dict()), opt.step_count)
    with pytest.raises(exc, match=match):
        opt.step(grads)
    assert (p.tobytes(), pickle.dumps(opt.state_dict()), opt.step_count) == before


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_row_sparse_gradients_refused(backend):
    p = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    b = np.zeros(3, np.float32)
    opt = fastopt.SparseAdam([p, b], backend=backend)
    opt.step([(np.array([1]), np.ones((1, 3), np.float32)), np.ones(3, np.float32)])
    good_b = np.ones(3, np.float32)
    rows = np.ones((2, 3), np.float32)
    cases = [
        ((np.array([1, 6]), rows), ValueError, "index 6 is out of range"),
        ((np.array([-1, 0]), rows), ValueError, "index -1 is out of range"),
        ((np.array([1.0, 0.0]), rows), TypeError, "integers"),
        ((np.array([1, 0, 2]), rows), ValueError, "3 indices for 2 rows"),
        ((np.array([[1, 0]]), rows), ValueError, "1-D"),
        ((np.array([1, 0]), np.ones((2, 4), np.float32)), ValueError, "shape"),
        ((np.array([1, 0]), np.ones((2, 3), np.float64)), TypeError, "dtype"),
        ((np.array([1, 0]), np.ones((3, 2), np.float32).T), ValueError, "C-contiguous"),
        ((np.array([1, 0]), p[:2]), ValueError, "share memory"),
        (([1, 0], rows), TypeError, "NumPy arrays"),
    ]
    for g, exc, match in cases:
        _refused(opt, p, [g, good_b], exc, match)
    _refused(opt, p, [(np.array([1]), np.ones((1, 3), np.float32)),
                      (np.array([0]), np.ones((1, 3), np.float32))], TypeError, "1-D")
    # a later parameter's bad gradient leaves the earlier ones untouched too
    _refused(opt, p, [(np.array([1]), np.ones((1, 3), np.float32)), np.ones(4, np.float32)],
             ValueError, "shape")


def test_other_optimizers_refuse_row_sparse():
    p = np.zeros((4, 2), np.float32)
    for cls in (fastopt.Adam, fastopt.SGD):
        opt = cls([p])
        with pytest.raises(TypeError, match="parameter #0 is row-sparse.*SparseAdam"):
            opt.step([(np.array([1]), np.ones((1, 2), np.float32))])
    assert not fastopt.Adam.takes_row_sparse and fastopt.SparseAdam.takes_row_sparse


def test_state_precision_refused():
    for precision in ("bfloat16", "8bit"):
        with pytest.raises(ValueError, match="single rows.*state_precision must be .full."):
            fastopt.SparseAdam([np.zeros((4, 2), np.float32)], state_precision=precision)


@pytest.mark.parametrize("bad, match", [(dict(lr=-1.0), "lr"), (dict(eps=0.0), "eps"),
                                        (dict(betas=(1.0, 0.9)), "betas"),
                                        (dict(maximize=None), "maximize")])
def test_hyperparameters_refused(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fastopt.SparseAdam([np.zeros((4, 2))], **bad)
    p = np.zeros((4, 2))
    opt = fastopt.SparseAdam([p])
    opt.param_groups[0].update(bad)
    _refused(opt, p, [(np.array([0]), np.ones((1, 2)))], (ValueError, TypeError), match)


def test_defaults_match_torch():
    torch = pytest.importorskip("torch")
    t = torch.optim.SparseAdam([torch.zeros(2, 2, requires_grad=True)]).defaults
    ours_ = fastopt.SparseAdam([np.zeros((2, 2))]).defaults
    assert {k: ours_[k] for k in ("lr", "betas", "eps", "maximize")} == \
        {k: t[k] for k in ("lr", "betas", "eps", "maximize")}


def test_same_result_for_any_thread_count():
    p0 = np.random.default_rng(7).standard_normal((2000, 64)).astype(np.float32)
    grads = sparse_grads((2000, 64), np.float32, 3, seed=8, k=3000)
    results = []
    for n in (1, 2):
        fastopt.set_num_threads(n)
        results.append(ours(p0, grads, {}, "cython")[0].tobytes())
    fastopt.set_num_threads(None)
    assert results[0] == results[1]


def test_distributed_refuses_sparse_adam():
    """Refused when built, on every rank alike, before any collective."""
    pytest.importorskip("mpi4py")
    from fastopt import distributed
    p = np.zeros((4, 2), np.float32)
    with pytest.raises(TypeError, match="DataParallel does not support SparseAdam"):
        distributed.DataParallel(fastopt.SparseAdam([p]))
    with pytest.raises(TypeError, match="does not support SparseAdam"):
        distributed.ZeroRedundancyOptimizer([p], fastopt.SparseAdam)
