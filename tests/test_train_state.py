"""descent.train.state (snapshots of the training state) and descent.train.divergence."""

import math

import numpy as np
import pytest

import descent as dc
from descent import nn, optim
from descent.data import DataLoader, TensorDataset
from descent.lab.gradients import flat_grad
from descent.train.divergence import divergence
from descent.train.state import TrainingState, preserved


def setup():
    """A model with a buffer and dropout, Adam with state, a loader mid-epoch, gradients."""
    dc.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Linear(4, 1))
    rng = np.random.default_rng(0)
    data = TensorDataset(rng.standard_normal((40, 3)), rng.standard_normal((40, 1)))
    loader = DataLoader(data, batch_size=8, shuffle=True, seed=0)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    batches = iter(loader)
    for _ in range(2):
        step(model, optimizer, next(batches))
    nn.MSELoss()(model(next(batches)[0]), next(batches)[1]).backward()
    model[3].bias.grad = None  # one parameter without a gradient
    return model, optimizer, loader


def step(model, optimizer, batch):
    optimizer.zero_grad()
    nn.MSELoss()(model(batch[0]), batch[1]).backward()
    optimizer.step()


def everything(model, optimizer, loader):
    return {
        "weights": {k: np.array(v, copy=True) for k, v in model.state_dict().items()},
        "grads": [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()],
        "modes": [m.training for m in model.modules()],
        "optimizer": plain(optimizer.state_dict()),
        "loader": loader.state_dict(),
        "rng": dc.random.get_rng_state(),
    }


def plain(value):
    """A state with its Tensors as arrays, for `np.testing.assert_equal`."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value.numpy().copy() if isinstance(value, dc.Tensor) else value


def assert_equal(a, b):
    np.testing.assert_equal(a, b)  # walks dicts and lists, compares arrays exactly


def disturb(model, optimizer, loader):
    model.train()
    x, y = next(iter(loader))
    nn.MSELoss()(model(x), y).backward()  # accumulates into the gradients it finds
    for batch in loader:
        step(model, optimizer, batch)
    model[1].eval()
    optimizer.param_groups[0]["lr"] = 5.0
    dc.randn(3)


def test_preserved_restores_model_gradients_modes_optimizer_loader_and_rng():
    model, optimizer, loader = setup()
    before = everything(model, optimizer, loader)
    with preserved(model, optimizer, loader) as state:
        disturb(model, optimizer, loader)
        assert state.rng == before["rng"]
    assert_equal(everything(model, optimizer, loader), before)


def test_preserved_restores_after_an_error():
    model, optimizer, loader = setup()
    before = everything(model, optimizer, loader)
    with pytest.raises(RuntimeError, match="boom"), preserved(model, optimizer, loader):
        disturb(model, optimizer, loader)
        raise RuntimeError("boom")
    assert_equal(everything(model, optimizer, loader), before)


def test_a_snapshot_restores_any_number_of_times():
    """A guard rolls back to one snapshot repeatedly: restoring must not hand it out."""
    model, optimizer, loader = setup()
    before = everything(model, optimizer, loader)
    state = TrainingState.capture(model, optimizer, loader)
    for _ in range(3):
        disturb(model, optimizer, loader)
        state.restore()
        assert_equal(everything(model, optimizer, loader), before)


def test_the_optimizer_and_loader_are_optional():
    model, optimizer, loader = setup()
    weights = everything(model, optimizer, loader)["weights"]
    with preserved(model):
        disturb(model, optimizer, loader)
    assert_equal(everything(model, optimizer, loader)["weights"], weights)
    with preserved(model, optimizer, [1, 2]) as state:  # a plain list has no position to keep
        assert state.loader is None


def test_flat_grad_is_float64_in_parameter_order_with_zeros_for_none():
    model, _, _ = setup()
    params = list(model.parameters())
    flat = flat_grad(params)
    assert flat.dtype == np.float64 and flat.size == sum(p.numel() for p in params)
    np.testing.assert_array_equal(flat[: params[0].numel()], params[0].grad.numpy().ravel())
    assert not flat[-1:].any()  # the last bias has no gradient


@pytest.mark.parametrize(
    ("loss", "reference", "factor", "why"),
    [
        (math.nan, 1.0, 10, "NaN"),
        (math.inf, 1.0, 10, "Inf"),
        (-math.inf, 1.0, 10, "Inf"),
        (10.5, 1.0, 10, "10.5, over 10 x the reference 1"),
        (-10.5, -1.0, 10, "-10.5, over 10 x the reference -1"),
        (10.0, 1.0, 10, None),
        (1e9, math.inf, 4, None),  # no reference yet: only NaN and Inf count
        (1e-9, 0.0, 10, "1e-09, over 10 x the reference 0"),  # a zero reference still bounds
    ],
)
def test_divergence_says_why(loss, reference, factor, why):
    assert divergence(loss, reference, factor) == why


def test_divergence_names_its_reference():
    why = divergence(2e4, 1.5, 1e4, reference_name="the first loss")
    assert why == "2e+04, over 10000 x the first loss 1.5"
