"""The loss landscape against closed forms: least squares is a quadratic in the weights, so
every line and plane through weight space cuts it in an exact parabola / paraboloid."""

import numpy as np
import pytest

import descent as dc
from descent import nn
from descent.data import DataLoader, TensorDataset
from descent.lab import plots
from descent.lab.landscape import (
    TrajectoryRecorder,
    filter_normalized_direction,
    flat_weights,
    loss_along_line,
    loss_surface,
)
from descent.train import fit
from descent.train.state import TrainingState


def regression(n=64, d=4):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = (x @ rng.standard_normal((d, 2)) + 0.3 * rng.standard_normal((n, 2))).astype(np.float32)
    dc.manual_seed(0)
    return nn.Linear(d, 2), x, y


def mse(w, b, x, y):
    """descent's MSELoss: the mean over samples and outputs of the squared error (no 1/2)."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    return np.mean((x @ w.T + b - y) ** 2)


def unchanged(model, before: TrainingState):
    after = model.state_dict()
    assert all(np.array_equal(before.weights[k], after[k]) for k in after)
    assert [m.training for m, _ in before.modes] == [t for _, t in before.modes]
    assert dc.random.get_rng_state() == before.rng


def test_the_loss_along_a_line_is_the_parabola_of_least_squares():
    model, x, y = regression()
    before = TrainingState.capture(model)
    start = {k: np.array(v) for k, v in model.state_dict().items()}
    rng = np.random.default_rng(1)
    end = {k: v + rng.standard_normal(v.shape).astype(np.float32) for k, v in start.items()}
    line = loss_along_line(model, nn.MSELoss(), x, y, start, end, steps=9, extend=0.5)
    # residuals r(t) = r0 + t dr, so the loss is (|r0|^2 + 2 t r0.dr + t^2 |dr|^2) / (n outputs)
    r0 = x @ start["weight"].T.astype(float) + start["bias"] - y
    dr = x @ (end["weight"] - start["weight"]).T.astype(float) + end["bias"] - start["bias"]
    a, b, c = np.sum(r0 * r0), 2 * np.sum(r0 * dr), np.sum(dr * dr)
    exact = (a + b * line.t + c * line.t**2) / y.size
    assert line.t[0] == -0.5 and line.t[4] == 0 and line.t[12] == 1 and line.t[-1] == 1.5
    np.testing.assert_allclose(line.loss, exact, rtol=1e-6)
    unchanged(model, before)
    assert line.to_dict()["loss"] == pytest.approx(exact, rel=1e-6)


def test_the_two_dimensional_slice_of_least_squares_is_its_closed_form():
    model, x, y = regression()
    before = TrainingState.capture(model)
    w0, b0 = model.weight.detach().numpy().astype(float), model.bias.detach().numpy().astype(float)
    rng = np.random.default_rng(2)
    d1, d2 = ({"weight": rng.standard_normal((2, 4)), "bias": rng.standard_normal(2)}
              for _ in range(2))  # fmt: skip
    surface = loss_surface(model, nn.MSELoss(), x, y, directions=(d1, d2), span=0.5, steps=5)
    for i, beta in enumerate(surface.beta):
        for j, alpha in enumerate(surface.alpha):
            w = w0 + alpha * d1["weight"] + beta * d2["weight"]
            b = b0 + alpha * d1["bias"] + beta * d2["bias"]
            assert surface.loss[i, j] == pytest.approx(mse(w, b, x, y), rel=1e-9)
    assert surface.center_loss == pytest.approx(mse(w0, b0, x, y), rel=1e-9)
    assert surface.directions == "given" and surface.path is None
    unchanged(model, before)


def test_filter_normalized_directions_match_each_filter_and_zero_the_rest():
    dc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(12, 5))  # fmt: skip
    before = TrainingState.capture(model)
    direction = filter_normalized_direction(model, np.random.default_rng(0))
    for name, p in model.named_parameters():
        w, d = p.detach().numpy().astype(float), direction[name]
        assert d.shape == w.shape
        if w.ndim == 1:  # biases, BatchNorm's scale and shift
            assert not d.any()
            continue
        norms = [np.linalg.norm(f) for f in w]
        np.testing.assert_allclose([np.linalg.norm(f) for f in d], norms, rtol=1e-12)
        assert not np.allclose(d / np.linalg.norm(d), w / np.linalg.norm(w))  # random, not w
    unchanged(model, before)


def test_pca_directions_reproduce_a_trajectory_in_a_plane():
    """A path in a 2-D plane through the center projects with no error, and the top two
    principal directions hold all of its spread."""
    model, x, y = regression()
    before = TrainingState.capture(model)
    center = flat_weights(model)
    rng = np.random.default_rng(3)
    u, v = rng.standard_normal((2, center.size))
    coords = np.c_[np.linspace(2, 0, 8), np.sin(np.linspace(0, 3, 8))]
    path = center + coords @ np.stack([u, v])
    surface = loss_surface(model, nn.MSELoss(), x, y, trajectory=path, steps=3)
    assert surface.directions == "pca"
    assert np.max(surface.path_error) < 1e-10
    assert sum(surface.explained) == pytest.approx(1.0, abs=1e-12)
    basis = np.linalg.lstsq(surface.path, path - center, rcond=None)[0]
    np.testing.assert_allclose(surface.path @ basis + center, path, atol=1e-9)
    assert surface.alpha[-1] == pytest.approx(1.2 * np.abs(surface.path).max())
    unchanged(model, before)
    figure = plots.loss_contour(surface.to_dict())
    (ax, _) = figure.axes
    np.testing.assert_allclose(ax.lines[0].get_xydata(), surface.path)


def test_a_trajectory_recorded_during_fit_has_one_point_per_interval():
    model, x, y = regression()
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=0)  # 8 batches
    by_batch, by_epoch = TrajectoryRecorder(every=3), TrajectoryRecorder(unit="epoch")
    start = flat_weights(model)
    fit(model, nn.MSELoss(), dc.optim.SGD(model.parameters(), lr=0.05), loader, epochs=2,
        metrics=(), callbacks=[by_batch, by_epoch], progress=False)  # fmt: skip
    assert by_batch.trajectory.shape == (1 + 16 // 3, start.size)
    assert by_epoch.trajectory.shape == (3, start.size)
    np.testing.assert_array_equal(by_epoch.trajectory[0], start)
    np.testing.assert_array_equal(by_epoch.trajectory[-1], flat_weights(model))
    surface = loss_surface(model, nn.MSELoss(), x, y, trajectory=by_epoch.trajectory, steps=3)
    assert surface.path.shape == (3, 2) and surface.path_error[-1] == 0
    assert surface.loss[1, 1] == pytest.approx(surface.center_loss)


def test_random_slices_and_lines_draw():
    model, x, y = regression()
    before = TrainingState.capture(model)
    surface = loss_surface(model, nn.MSELoss(), x, y, steps=3, seed=1)
    assert surface.directions == "random" and surface.alpha[-1] == 1.0
    assert np.isnan(surface.explained).all() and surface.to_dict()["explained"] == [None, None]
    start = {k: np.array(v) for k, v in model.state_dict().items()}
    line = loss_along_line(model, nn.MSELoss(), x, y, start, {k: 0 * v for k, v in start.items()})
    (ax,) = plots.loss_line(line.to_dict()).axes
    np.testing.assert_allclose(ax.lines[0].get_ydata(), line.loss)
    assert plots.loss_contour(surface.to_dict()).axes
    unchanged(model, before)
