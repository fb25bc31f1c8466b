"""Defaults that train: with no flag but the batch size, `descent train`'s rate (see
`descent.cli.config.default_lr`) reaches a good result on every built-in data set at batch
sizes 1, 32 and full.

Shortened runs keep the test cheap (the command's 20 epochs, or 200 for batch descent, do
better); the test metrics are the best validation epoch's, as the command tests its best
checkpoint.
"""

from __future__ import annotations

import warnings

import pytest

from descent.cli.build import build
from descent.cli.config import RunConfig
from descent.data import list_datasets
from descent.train import EarlyStopping, evaluate, fit

EPOCHS = {1: 10, 32: 10, "full": 200}
# accuracy for classification, r2 for regression; diabetes is noisy (a linear fit's r2 is ~0.45)
GOOD = {"digits": 0.94, "iris": 0.9, "wine": 0.9, "breast_cancer": 0.93, "diabetes": 0.15,
        "moons": 0.97, "circles": 0.97, "spirals": 0.9, "xor": 0.95, "linear": 0.98}  # fmt: skip


def test_every_builtin_has_a_threshold():
    assert set(GOOD) == set(list_datasets())


@pytest.mark.parametrize("batch_size", [1, 32, "full"])
@pytest.mark.parametrize("data", sorted(GOOD))
def test_the_default_lr_trains(data, batch_size):
    setup = build(RunConfig(data=data, batch_size=batch_size, epochs=EPOCHS[batch_size]))
    best = EarlyStopping(monitor="val_loss", patience=10**6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no guard roll-back, no overflow
        fit(setup.model, setup.loss_fn, setup.optimizer, setup.train_loader,
            setup.config.epochs, val_loader=setup.val_loader, metrics=setup.metrics,
            callbacks=[best], progress=False)  # fmt: skip
    test = evaluate(setup.model, setup.loss_fn, setup.test_loader, setup.metrics)
    score = test["accuracy" if "accuracy" in test else "r2"]
    assert score >= GOOD[data], (data, batch_size, setup.config.lr, test)
