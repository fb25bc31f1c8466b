"""The learning-rate schedules a run config names, each built from the config's numbers.

`constant` is no scheduler at all; the others are torch's schedulers, laid out over the
run's epochs (and, for onecycle, its batches).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from descent.optim import lr_scheduler

if TYPE_CHECKING:
    from descent.cli.config import RunConfig
    from descent.optim import Optimizer


def _step(optimizer: Optimizer, config: RunConfig, batches_per_epoch: int):
    return lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)


def _exponential(optimizer: Optimizer, config: RunConfig, batches_per_epoch: int):
    return lr_scheduler.ExponentialLR(optimizer, gamma=config.gamma)


def _cosine(optimizer: Optimizer, config: RunConfig, batches_per_epoch: int):
    # after a warm-up, the cosine spans the epochs left, so that it still ends near 0
    epochs_left = max(1, config.epochs - config.warmup_length)
    return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs_left)


def _onecycle(optimizer: Optimizer, config: RunConfig, batches_per_epoch: int):
    return lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, epochs=config.epochs,
                                   steps_per_epoch=batches_per_epoch)  # fmt: skip


SCHEDULES: dict[str, Callable | None] = {
    "constant": None,
    "step": _step,
    "exponential": _exponential,
    "cosine": _cosine,
    "onecycle": _onecycle,
}

FIXED_LENGTH = ("cosine", "onecycle")
"""Schedules laid out for the run's length: a resumed run cannot stretch them."""


def make_scheduler(config: RunConfig, optimizer: Optimizer, batches_per_epoch: int):
    """The config's schedule over `optimizer` (None for a constant rate)."""
    factory = SCHEDULES[config.schedule]
    return factory(optimizer, config, batches_per_epoch) if factory else None
