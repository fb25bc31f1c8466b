"""A model, optimizer and scheduler saved mid-run continue exactly as the uninterrupted run."""

import numpy as np
import pytest

import descent as dc
from descent import nn, optim
from descent.nn import functional as F

DATA = np.random.default_rng(0).standard_normal((64, 6)).astype(np.float32)
LABELS = (DATA[:, 0] + DATA[:, 1] > 0).astype(np.int64) + (DATA[:, 2] > 1).astype(np.int64)


def build(make_optimizer):
    dc.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 3))
    optimizer = make_optimizer(model.parameters())
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    return model, optimizer, scheduler


def train(model, optimizer, scheduler, steps, start):
    for step in range(start, start + steps):
        batch = slice(8 * (step % 8), 8 * (step % 8) + 8)
        loss = F.cross_entropy(model(dc.tensor(DATA[batch])), LABELS[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
        lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    ],
    ids=["sgd", "adam", "rmsprop"],
)
def test_resume_from_state_dicts_is_exact(make_optimizer):
    straight = build(make_optimizer)
    train(*straight, steps=10, start=0)

    first = build(make_optimizer)
    train(*first, steps=5, start=0)
    model_state = {k: v.clone() for k, v in first[0].state_dict().items()}
    optimizer_state, scheduler_state = first[1].state_dict(), first[2].state_dict()
    del first

    resumed = build(make_optimizer)
    resumed[0].load_state_dict(model_state)
    resumed[1].load_state_dict(optimizer_state)
    resumed[2].load_state_dict(scheduler_state)
    train(*resumed, steps=5, start=5)

    for (name, expected), actual in zip(straight[0].state_dict().items(),
                                        resumed[0].state_dict().values()):  # fmt: skip
        np.testing.assert_array_equal(actual, expected, err_msg=name)
    assert resumed[2].get_last_lr() == straight[2].get_last_lr()
