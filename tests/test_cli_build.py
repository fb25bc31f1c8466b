"""From a config to a run's objects: splits, model, loss, optimizer, schedule."""

import numpy as np
import pytest

from descent import nn, optim
from descent.cli.build import build, make_loss
from descent.cli.config import RunConfig
from descent.cli.data import features_for_prediction


def test_the_same_config_builds_the_same_run():
    first, second = build(RunConfig(data="iris")), build(RunConfig(data="iris"))
    assert np.array_equal(first.data.train.features, second.data.train.features)
    for a, b in zip(first.model.parameters(), second.model.parameters(), strict=True):
        assert np.array_equal(a.data, b.data)
    other = build(RunConfig(data="iris", seed=1))
    assert not np.array_equal(first.data.train.features, other.data.train.features)


def test_splits_sizes_and_standardization():
    run = build(RunConfig(data="digits", val_split=0.1, test_split=0.2))
    sizes = run.data.info()["sizes"]
    assert sizes == {"train": 1294, "val": 144, "test": 359}  # 20% test, then 10% of the rest
    assert np.allclose(run.data.train.features.mean(axis=0), 0, atol=1e-5)
    assert run.data.standardizer is not None and run.data.target_standardizer is None


@pytest.mark.parametrize(
    "settings, kind",
    [({"optimizer": "sgd", "momentum": 0.5, "nesterov": True}, optim.SGD),
     ({"optimizer": "adam"}, optim.Adam), ({"optimizer": "rmsprop"}, optim.RMSprop),
     ({"optimizer": "adagrad"}, optim.Adagrad), ({"optimizer": "adamw"}, optim.AdamW)],
)  # fmt: skip
def test_optimizers_get_their_options(settings, kind):
    run = build(RunConfig(data="iris", lr=0.02, weight_decay=1e-3, **settings))
    group = run.optimizer.param_groups[0]
    assert type(run.optimizer) is kind and group["lr"] == 0.02 and group["weight_decay"] == 1e-3
    if kind is optim.SGD:
        assert group["momentum"] == 0.5 and group["nesterov"]


@pytest.mark.parametrize("schedule", ["constant", "step", "exponential", "cosine", "onecycle"])
def test_schedules(schedule):
    run = build(RunConfig(data="iris", schedule=schedule, epochs=4))
    assert (run.scheduler is None) == (schedule == "constant")


def test_losses_must_fit_the_task():
    assert isinstance(make_loss(RunConfig(data="diabetes", loss="huber"), "regression"),
                      nn.HuberLoss)  # fmt: skip
    with pytest.raises(ValueError, match="classification task"):
        make_loss(RunConfig(data="iris", loss="l1"), "classification")
    with pytest.raises(ValueError, match="regression task"):
        make_loss(RunConfig(data="diabetes", loss="cross_entropy"), "regression")


def test_prediction_features_are_shaped_and_scaled_as_in_training():
    run = build(RunConfig(data="iris"))
    info = run.data.info()
    raw = run.data.standardizer.inverse_transform(run.data.test.features)
    np.testing.assert_allclose(features_for_prediction(info, raw), run.data.test.features,
                               atol=1e-5)  # fmt: skip
    image = {"sample_shape": [1, 2, 2], "standardizer": None}
    assert features_for_prediction(image, np.zeros((3, 4))).shape == (3, 1, 2, 2)
    with pytest.raises(ValueError, match=r"has \(5,\) features per sample"):
        features_for_prediction(image, np.zeros((3, 5)))
