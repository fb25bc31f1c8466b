"""A run stopped after 5 epochs and resumed from its checkpoint equals 10 straight, bit for bit;
the objects a checkpoint is given the state of come back with it."""

import numpy as np
import pytest

import descent as dc
from descent import nn, optim
from descent.data import DataLoader, TensorDataset
from descent.nn import functional as F
from descent.train import Callback, ModelCheckpoint, fit, resume

RNG = np.random.default_rng(0)
FEATURES = RNG.standard_normal((120, 5)).astype(np.float32)
LABELS = (FEATURES[:, 0] * FEATURES[:, 1] > 0).astype(np.int64)


def build():
    """Model with dropout, Adam, a step schedule and a shuffled loader, all from one seed."""
    dc.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    loader = DataLoader(TensorDataset(FEATURES, LABELS), batch_size=16, shuffle=True, seed=1)
    return model, optimizer, scheduler, loader


def comparable(history):
    """Everything in the history but wall-clock times, which no rerun reproduces."""
    data = history.to_dict()
    data.pop("epoch_time")
    return data


def test_five_epochs_plus_resume_plus_five_equals_ten_straight(tmp_path):
    model, optimizer, scheduler, loader = build()
    straight = fit(model, F.cross_entropy, optimizer, loader, 10, scheduler=scheduler,
                   progress=False)  # fmt: skip
    expected = {name: p.detach().numpy().copy() for name, p in model.named_parameters()}

    path = tmp_path / "run.dc"
    model, optimizer, scheduler, loader = build()
    fit(model, F.cross_entropy, optimizer, loader, 5, scheduler=scheduler, progress=False,
        callbacks=[ModelCheckpoint(path, save_best=False)])  # fmt: skip
    del model, optimizer, scheduler, loader

    dc.manual_seed(123)  # the checkpoint, not this, must decide what comes next
    model, optimizer, scheduler, loader = build()
    dc.manual_seed(456)
    resumed = resume(path, model, F.cross_entropy, optimizer, loader, 10, scheduler=scheduler,
                     progress=False)  # fmt: skip

    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, expected[name], err_msg=name)
    assert comparable(resumed) == comparable(straight)
    assert resumed.epochs == 10


class EpochCounter(Callback):
    """A callback with state of its own, as `ModelCheckpoint(state=...)` keeps."""

    def __init__(self):
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1

    def state_dict(self):
        return {"epochs": self.epochs}

    def load_state_dict(self, state):
        self.epochs = state["epochs"]


def test_a_checkpoint_keeps_the_state_of_the_objects_it_is_given(tmp_path):
    path = tmp_path / "run.dc"
    model, optimizer, scheduler, loader = build()
    counter = EpochCounter()
    saving = ModelCheckpoint(path, save_best=False, state={"counter": counter})
    fit(model, F.cross_entropy, optimizer, loader, 3, scheduler=scheduler, progress=False,
        callbacks=[counter, saving])  # fmt: skip

    model, optimizer, scheduler, loader = build()
    counter = EpochCounter()
    resume(path, model, F.cross_entropy, optimizer, loader, 5, scheduler=scheduler,
           state={"counter": counter}, callbacks=[counter], progress=False)  # fmt: skip
    assert counter.epochs == 5
    with pytest.raises(ValueError, match="holds no state 'other'"):
        resume(path, model, F.cross_entropy, optimizer, loader, 5, scheduler=scheduler,
               state={"other": EpochCounter()}, progress=False)  # fmt: skip
