"""PyTorch's learning-rate schedulers, as thin adapters over the functions in `lr_schedules`.

A scheduler sets each param group's "lr" to its schedule's value at
`last_epoch`. Constructing one takes the first step, as in PyTorch: it
records `initial_lr` in every group (the `base_lrs`) and sets the lr for
epoch 0. Call `step()` after `optimizer.step()`: after every epoch, or
after every batch where the class's `interval` is "batch".

Each scheduler sets the lr from the step count (closed form), where
PyTorch's chainable schedulers rescale the current lr: so two schedulers
stepping one optimizer do not compose here; use SequentialLR to chain them.
`state_dict()` is JSON-serialisable and holds no functions.

The modules: `base` (LRScheduler, the one base), `decay` (the closed-form
epoch schedulers), `cyclic` (OneCycleLR, CyclicLR), `plateau`
(ReduceLROnPlateau), `sequential` (SequentialLR).
"""

from descent.optim.lr_scheduler.base import LRScheduler
from descent.optim.lr_scheduler.cyclic import CyclicLR, OneCycleLR
from descent.optim.lr_scheduler.decay import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    StepLR,
)
from descent.optim.lr_scheduler.plateau import ReduceLROnPlateau
from descent.optim.lr_scheduler.sequential import SequentialLR

__all__ = [
    "CosineAnnealingLR",
    "CyclicLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]
