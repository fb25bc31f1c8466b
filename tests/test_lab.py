"""descent.lab: sharpness against the closed-form Hessian, and the learning-rate range test."""

import json

import numpy as np
import pytest

import descent as dc
from descent import nn, optim
from descent.data import DataLoader, TensorDataset
from descent.lab import LRFindResult, lr_find, sharpness
from descent.lab.sharpness import SharpnessTracker
from descent.train import fit

N, D = 256, 5


@pytest.fixture
def regression():
    """Linear regression with MSE: the Hessian is 2/N X^T X, its top eigenvalue known."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D)) * np.linspace(0.5, 2.0, D)  # distinct eigenvalues
    y = x @ rng.standard_normal((D, 1)) + 0.1 * rng.standard_normal((N, 1))
    lam_max = np.linalg.eigvalsh(2 / N * x.T @ x)[-1]
    best = float(np.mean((x @ np.linalg.lstsq(x, y, rcond=None)[0] - y) ** 2))
    return x, y, lam_max, best


def linear_model(seed=0):
    dc.manual_seed(seed)
    model = nn.Linear(D, 1, bias=False)
    model.weight.data = model.weight.data.astype(np.float64)
    return model


def full_batch_gd(model, x, y, lr, steps):
    """Plain gradient descent on the whole data per step; the loss at each step."""
    optimizer, loss_fn = optim.SGD(model.parameters(), lr=lr), nn.MSELoss()
    xt, yt = dc.tensor(x, dtype=np.float64), dc.tensor(y, dtype=np.float64)
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(xt), yt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
    return losses


def snapshot(model, optimizer):
    return (
        {k: v.clone() for k, v in model.state_dict().items()},
        [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()],
        optimizer.state_dict(),
    )


def assert_same(before, after):
    (w0, g0, o0), (w1, g1, o1) = before, after
    assert w0.keys() == w1.keys()
    for key in w0:
        np.testing.assert_array_equal(w0[key], w1[key])
        assert w0[key].dtype == w1[key].dtype
    for a, b in zip(g0, g1):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)
    assert o0["param_groups"] == o1["param_groups"]
    assert o0["state"].keys() == o1["state"].keys()
    for index in o0["state"]:
        for key, value in o0["state"][index].items():
            np.testing.assert_array_equal(value, o1["state"][index][key])


# -- sharpness -------------------------------------------------------------------------


def test_sharpness_matches_the_closed_form_top_eigenvalue(regression):
    x, y, lam_max, _ = regression
    model = linear_model()
    before = model.weight.detach().numpy().copy()
    estimate = sharpness(model, nn.MSELoss(), x, y)
    assert abs(estimate - lam_max) / lam_max < 0.01, (estimate, lam_max)
    np.testing.assert_array_equal(model.weight.data, before)  # weights restored exactly
    assert model.weight.grad is None


def test_gd_converges_below_two_over_sharpness_and_diverges_above(regression):
    x, y, _, best = regression
    lam = sharpness(linear_model(), nn.MSELoss(), x, y)
    stable = full_batch_gd(linear_model(), x, y, 0.9 * 2 / lam, 300)
    assert stable[-1] < best * 1.001, (stable[-1], best)
    unstable = full_batch_gd(linear_model(), x, y, 1.1 * 2 / lam, 300)
    assert unstable[-1] > 1e6 * unstable[0] or not np.isfinite(unstable[-1])
    assert all(b > a for a, b in zip(unstable[50:], unstable[51:]))  # growing, step on step


def test_sharpness_is_reproducible_and_checks_its_arguments(regression):
    x, y, _, _ = regression
    model = linear_model()
    assert sharpness(model, nn.MSELoss(), x, y, seed=3) == sharpness(
        model, nn.MSELoss(), x, y, seed=3
    )
    with pytest.raises(ValueError, match="iterations"):
        sharpness(model, nn.MSELoss(), x, y, iterations=0)
    with pytest.raises(ValueError, match="tol"):
        sharpness(model, nn.MSELoss(), x, y, tol=-1.0)


def test_sharpness_tracker_measures_at_the_start_and_every_few_epochs(regression):
    x, y, lam_max, _ = regression
    model = linear_model()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    tracker = SharpnessTracker(x, y, every=2)
    fit(model, nn.MSELoss(), optimizer, regression_loader(x, y, "full"), 4, metrics=None,
        callbacks=[tracker], progress=False)  # fmt: skip
    assert [(r["epoch"], r["update"]) for r in tracker.records] == [(0, 0), (2, 2), (4, 4)]
    for record in tracker.records:  # a quadratic loss: the same sharpness everywhere
        assert record["sharpness"] == pytest.approx(lam_max, rel=1e-3)
        assert record["two_over_lr"] == pytest.approx(20.0)
    assert json.loads(json.dumps(tracker.to_dict(), allow_nan=False))["samples"] == N


# -- lr_find ---------------------------------------------------------------------------


def regression_loader(x, y, batch_size=32):
    return DataLoader(
        TensorDataset(x, y, dtype=np.float64), batch_size=batch_size, shuffle=True, seed=0
    )


@pytest.mark.parametrize("batch_size", [32, "full"])
def test_lr_find_suggests_a_stable_learning_rate_that_makes_progress(regression, batch_size):
    x, y, lam_max, best = regression
    model = linear_model()
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    result = lr_find(model, nn.MSELoss(), optimizer, regression_loader(x, y, batch_size), 1e-4)
    assert isinstance(result, LRFindResult)
    lr = result.suggested_lr
    assert lr is not None and lr < 2 / lam_max, (lr, 2 / lam_max, result.reason)
    assert "steepest" in result.reason
    # the range where it makes progress, established by running GD: 200 full-batch steps
    # at the suggested rate remove at least 90% of the excess loss over the optimum
    losses = full_batch_gd(linear_model(), x, y, lr, 200)
    assert losses[-1] - best < 0.1 * (losses[0] - best), (lr, losses[-1], losses[0], best)
    # the sweep ran past 2/lam_max, where GD is unstable, and so diverged
    assert result.diverged_at is not None and result.diverged_at > 2 / lam_max
    assert result.lrs[-1] == result.diverged_at
    n = len(result.lrs)
    assert 2 <= n < 100 and len(result.losses) == len(result.smoothed_losses) == n
    assert np.all(np.diff(np.log(result.lrs)) > 0)


def test_lr_find_restores_model_optimizer_loader_and_rng(regression):
    x, y, _, _ = regression
    model = nn.Sequential(nn.Linear(D, 8), nn.Dropout(0.2), nn.Tanh(), nn.Linear(8, 1))
    model.eval()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=1)
    loss_fn = nn.MSELoss()
    for i, (xb, yb) in enumerate(loader):  # give Adam state, gradients, a loader mid-epoch
        optimizer.zero_grad()
        loss_fn(model(xb), yb).backward()
        optimizer.step()
        if i == 3:
            break
    loss_fn(model(xb), yb).backward()
    before = snapshot(model, optimizer)
    rng_before, loader_before = dc.random.get_rng_state(), loader.state_dict()
    result = lr_find(model, loss_fn, optimizer, loader, num_steps=60)
    assert_same(before, snapshot(model, optimizer))
    assert all(not m.training for m in model.modules())
    assert optimizer.param_groups[0]["lr"] == 1e-3
    assert dc.random.get_rng_state() == rng_before
    assert loader.state_dict() == loader_before
    json.dumps(result.to_dict(), allow_nan=False)


def test_lr_find_cycles_a_short_loader_and_reports_divergence(regression):
    x, y, _, _ = regression
    model = linear_model()
    loader = regression_loader(x[:40], y[:40], batch_size=20)  # 2 batches per epoch
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    result = lr_find(model, nn.MSELoss(), optimizer, loader, 1e-3, 1e4, num_steps=50)
    assert result.diverged_at is not None and result.diverged_at > 0.1
    assert "diverged" in result.reason
    quiet = lr_find(model, nn.MSELoss(), optimizer, loader, 1e-6, 1e-3, num_steps=30)
    assert quiet.diverged_at is None and len(quiet.lrs) == 30
    assert quiet.lrs[0] == pytest.approx(1e-6) and quiet.lrs[-1] == pytest.approx(1e-3)


def test_lr_find_to_dict_is_json_safe_with_non_finite_losses():
    result = LRFindResult([1e-3, 1e-2], [1.0, float("inf")], [1.0, float("nan")], None, "x", 1e-2)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["losses"] == [1.0, None] and data["smoothed_losses"] == [1.0, None]
    assert data["diverged_at"] == 1e-2 and data["suggested_lr"] is None


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"num_steps": 1}, "num_steps"),
        ({"start_lr": 1.0, "end_lr": 1.0}, "end_lr"),
        ({"start_lr": 2.0, "end_lr": 1.0}, "start_lr"),
        ({"start_lr": 0.0}, "start_lr"),
        ({"smoothing": 0.0}, "smoothing"),
        ({"diverge_factor": 1.0}, "diverge_factor"),
    ],
)
def test_lr_find_rejects_bad_arguments(regression, kwargs, name):
    x, y, _, _ = regression
    model = linear_model()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=name):
        lr_find(model, nn.MSELoss(), optimizer, regression_loader(x, y), **kwargs)


def test_lr_find_rejects_an_empty_loader_and_leaves_the_model():
    model = linear_model()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    before = snapshot(model, optimizer)
    with pytest.raises(ValueError, match="loader"):
        lr_find(model, nn.MSELoss(), optimizer, [])
    assert_same(before, snapshot(model, optimizer))


def test_sharpness_is_the_top_eigenvalue_even_when_a_negative_one_is_larger():
    """At a saddle the eigenvalue of largest magnitude is negative; sharpness is the top one."""
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    hessian = basis @ np.diag([-3.0, -1.0, 0.5, 2.0]) @ basis.T

    class Quadratic(dc.nn.Module):
        def __init__(self):
            self.w = dc.nn.Parameter(rng.normal(size=(4, 1)))

        def forward(self, x):
            return self.w

    def loss_fn(w, y):
        return 0.5 * (w * (dc.tensor(hessian, dtype=w.dtype) @ w)).sum()

    value = sharpness(Quadratic(), loss_fn, np.zeros(1), np.zeros(1), iterations=500, tol=1e-12)
    assert value == pytest.approx(2.0, rel=1e-3)
