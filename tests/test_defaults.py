"""Defaults that train: with no flag but the batch size, `descent train`'s rate (see
`descent.cli.config.default_lr`) reaches a good result on every built-in data set at batch
sizes 1, 32 and full.

And lr-find's suggestion, used as the rate, does as well.

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
from descent.lab import lr_find
from descent.train import EarlyStopping, evaluate, fit

EPOCHS = {1: 10, 32: 10, "full": 200}
# accuracy for classification, r2 for regression; diabetes is noisy (a linear fit's r2 is ~0.45)
GOOD = {"digits": 0.94, "iris": 0.9, "wine": 0.9, "breast_cancer": 0.93, "diabetes": 0.15,
        "moons": 0.97, "circles": 0.97, "spirals": 0.9, "xor": 0.95, "linear": 0.98}  # fmt: skip


def test_every_builtin_has_a_threshold():
    assert set(GOOD) == set(list_datasets())


def score(config: RunConfig) -> float:
    """The test accuracy (r2 for regression) of the best validation epoch of a run."""
    setup = build(config)
    best = EarlyStopping(monitor="val_loss", patience=10**6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no guard roll-back, no overflow
        fit(setup.model, setup.loss_fn, setup.optimizer, setup.train_loader,
            config.epochs, val_loader=setup.val_loader, metrics=setup.metrics,
            callbacks=[best, *setup.callbacks()], progress=False)  # fmt: skip
    test = evaluate(setup.model, setup.loss_fn, setup.test_loader, setup.metrics)
    return test["accuracy" if "accuracy" in test else "r2"]


@pytest.mark.parametrize("batch_size", [1, 32, "full"])
@pytest.mark.parametrize("data", sorted(GOOD))
def test_the_default_lr_trains(data, batch_size):
    config = RunConfig(data=data, batch_size=batch_size, epochs=EPOCHS[batch_size])
    assert score(config) >= GOOD[data], (data, batch_size, config.lr)


@pytest.mark.parametrize("batch_size", [32, "full"])
@pytest.mark.parametrize("data", sorted(GOOD))
def test_lr_finds_suggestion_trains_as_well_as_the_default(data, batch_size):
    """With `descent lr-find`'s sweep, as good as GOOD asks and within 2 points of the
    default's score (xor at 32: 0.97 against 0.99, 4 of 200 test samples; the rest within 1).
    Not at batch size 1: a sweep of 300 single samples is too noisy (see `suggest`)."""
    from descent.cli.command import lr_find as command

    sweep = {p.name: p.default for p in command.params if p.name in ("start_lr", "end_lr", "steps")}
    config = RunConfig(data=data, batch_size=batch_size, epochs=EPOCHS[batch_size])
    setup = build(config)
    found = lr_find(setup.model, setup.loss_fn, setup.optimizer, setup.train_loader,
                    sweep["start_lr"], sweep["end_lr"], sweep["steps"])  # fmt: skip
    suggested = found.suggested_lr
    if suggested is None:  # no suggestion, and a reason, where the loss never fell
        pytest.skip(f"{data}: no suggestion")
    found = score(config.replace(lr=suggested))
    assert found >= GOOD[data] and found >= score(config) - 0.02, suggested
