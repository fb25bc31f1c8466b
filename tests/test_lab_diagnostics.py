"""descent.lab.diagnostics: dead ReLUs in networks built to have them; per-layer norms, ratios."""

import json
import math

import numpy as np
import pytest

import descent as dc
from descent import nn, optim
from descent.data import DataLoader, TensorDataset
from descent.lab import LayerDiagnostics, dead_relu_fraction
from descent.lab.diagnostics import layer_of
from descent.train import Callback, fit


def known_dead_network():
    """Linear(3, 4) -> ReLU -> Linear(4, 2) -> ReLU -> Linear(2, 1): in the first ReLU,
    units 1 and 3 have zero weights and a bias of -1, so they are dead for every input;
    in the second, unit 0 is dead the same way and unit 1 is alive (bias +1)."""
    dc.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.ReLU(), nn.Linear(2, 1))
    first, second = model[0], model[2]
    first.weight.data[[1, 3]] = 0.0
    first.bias.data[[1, 3]] = -1.0
    first.weight.data[[0, 2]] = np.abs(first.weight.data[[0, 2]]) + 0.1
    second.weight.data[...] = 0.0
    second.bias.data[...] = [-1.0, 1.0]
    return model


def test_dead_relu_fraction_on_a_network_with_known_dead_units():
    model = known_dead_network()
    x = np.abs(np.random.default_rng(0).standard_normal((64, 3))).astype(np.float32)
    assert dead_relu_fraction(model, x) == {"1": 0.5, "3": 0.5}
    # the hooks are gone and the mode is back
    assert all("forward" not in vars(m) for m in model.modules())
    assert model.training


def test_a_unit_alive_for_one_sample_is_alive():
    model = nn.Sequential(nn.Linear(1, 2), nn.ReLU())
    model[0].weight.data[...] = [[1.0], [-1.0]]
    model[0].bias.data[...] = 0.0
    x = np.array([[-1.0], [-2.0], [3.0]], dtype=np.float32)  # unit 0 fires only on the last
    assert dead_relu_fraction(model, x) == {"1": 0.0}
    assert dead_relu_fraction(model, x[:2]) == {"1": 0.5}


def test_a_conv_unit_is_a_channel():
    dc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
    model[0].weight.data[:2] = 0.0
    model[0].bias.data[:2] = -1.0  # channels 0 and 1 are dead everywhere
    model[0].bias.data[2:] = 5.0
    x = np.random.default_rng(0).standard_normal((8, 1, 5, 5)).astype(np.float32)
    assert dead_relu_fraction(model, x) == {"1": 0.5}


def test_a_model_without_relus_gives_no_series():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    assert dead_relu_fraction(model, np.ones((2, 3), np.float32)) == {}


def regression_data(n=64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return TensorDataset(x, (x.sum(axis=1, keepdims=True) ** 2).astype(np.float32))


class LastStepSpy(Callback):
    """The oracle: each epoch's last step's gradient norms and weight changes, per parameter,
    recorded in the plainest way."""

    def on_train_begin(self, logs=None):
        self.before, self.grad_norm, self.update_ratio = None, [], []

    def on_batch_begin(self, step, logs=None):
        if logs["batch"] == self.run.batches_per_epoch - 1:
            self.before = {n: p.detach().numpy().copy()
                           for n, p in self.run.model.named_parameters()}  # fmt: skip

    def on_batch_end(self, step, logs=None):
        if self.before is not None:
            params = dict(self.run.model.named_parameters())
            self.grad_norm.append({n: np.linalg.norm(p.grad.numpy()) for n, p in params.items()})
            self.update_ratio.append(
                {
                    n: np.linalg.norm(params[n].detach().numpy() - w) / np.linalg.norm(w)
                    for n, w in self.before.items()
                }
            )
            self.before = None


def train(model, epochs=3, batch_size=16, callbacks=()):
    diagnostics, spy = LayerDiagnostics(probe_size=32), LastStepSpy()
    loader = DataLoader(regression_data(), batch_size, shuffle=True, seed=0)
    fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01), loader, epochs,
        metrics=None, callbacks=[diagnostics, spy, *callbacks], progress=False)  # fmt: skip
    return diagnostics, spy


def test_layer_series_have_one_entry_per_epoch_and_aggregate_the_parameters():
    diagnostics, spy = train(known_dead_network())
    assert diagnostics.epochs == 3 and len(spy.grad_norm) == 3
    assert diagnostics.dead_relu == {"1": [0.5] * 3, "3": [0.5] * 3}  # dead units stay dead
    assert set(diagnostics.grad_norm) == set(diagnostics.update_ratio) == {"0", "2", "4"}
    for layer in ("0", "2", "4"):
        expected = [np.hypot(norms[f"{layer}.weight"], norms[f"{layer}.bias"])
                    for norms in spy.grad_norm]  # fmt: skip
        np.testing.assert_allclose(diagnostics.grad_norm[layer], expected, rtol=1e-6)
        np.testing.assert_allclose(
            diagnostics.update_ratio[layer],
            [r[f"{layer}.weight"] for r in spy.update_ratio],
            rtol=1e-6,
        )
        assert all(r > 0 for r in diagnostics.update_ratio[layer])


def test_a_model_without_relus_records_an_empty_dead_series():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    diagnostics, _ = train(model, epochs=2)
    assert diagnostics.dead_relu == {}
    assert len(diagnostics.grad_norm["0"]) == 2


class StopMidEpoch(Callback):
    def on_batch_end(self, step, logs=None):
        self.stop_training = step == 5  # the second epoch's second batch (4 an epoch)


def test_an_epoch_cut_short_has_nan_layer_entries_and_to_dict_is_json():
    diagnostics, spy = train(known_dead_network(), callbacks=[StopMidEpoch()])
    assert diagnostics.epochs == 2 and len(spy.grad_norm) == 1
    assert math.isnan(diagnostics.grad_norm["0"][1])
    assert math.isnan(diagnostics.update_ratio["0"][1])
    data = json.loads(json.dumps(diagnostics.to_dict(), allow_nan=False))
    assert data["grad_norm"]["0"][1] is None and data["epochs"] == 2
    assert data["dead_relu"]["1"] == [0.5, 0.5]


def test_layer_of_names_the_owning_module():
    assert layer_of("2.weight") == "2"
    assert layer_of("block.0.bias") == "block.0"
    assert layer_of("scale") == ""


def test_probe_size_must_be_positive():
    with pytest.raises(ValueError, match="probe_size"):
        LayerDiagnostics(probe_size=0)
