"""The epoch schedulers: each group's lr is a closed-form function of the epoch.

StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR and LinearLR are each
a thin adapter over one function of `descent.optim.lr_schedules`; LambdaLR
over the user's function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from descent.optim import lr_schedules
from descent.optim.lr_scheduler.base import (
    POSITIVE,
    LRScheduler,
    checked_optimizer,
)
from descent.optim.optimizer import Optimizer, Range

GAMMA = POSITIVE  # a factor of 0 or less, or not finite, makes no schedule


class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch), one function for all groups or one per group.

    The functions are not saved by `state_dict()` (PyTorch saves None for them):
    `load_state_dict()` keeps the ones this scheduler was built with.
    """

    _not_saved = ("optimizer", "lr_lambdas")

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        n = len(checked_optimizer(optimizer, "LambdaLR").param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"LambdaLR: got {len(lr_lambda)} lr_lambdas for {n} param groups")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"LambdaLR: lr_lambda must be a function of the epoch, got {fn!r}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "lr_lambdas": [None] * len(self.lr_lambdas)}


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (epoch // step_size)."""

    setting_ranges = {
        **LRScheduler.setting_ranges,
        "step_size": Range(1.0, integer=True),
        "gamma": GAMMA,
    }

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.check_settings({"step_size": step_size, "gamma": gamma})
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            lr_schedules.step_decay(self.last_epoch, base, self.step_size, self.gamma)
            for base in self.base_lrs
        ]


class MultiStepLR(LRScheduler):
    """lr = initial_lr * gamma ** (number of milestones <= epoch)."""

    setting_ranges = {
        **LRScheduler.setting_ranges,
        "milestones": Range(0.0, 2.0**53, closed=True, integer=True, shape="list"),
        "gamma": GAMMA,
    }

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        milestones = list(milestones)
        self.check_settings({"milestones": milestones, "gamma": gamma})
        self.milestones = sorted(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            lr_schedules.multistep_decay(self.last_epoch, base, self.milestones, self.gamma)
            for base in self.base_lrs
        ]


class ExponentialLR(LRScheduler):
    """lr = initial_lr * gamma ** epoch."""

    setting_ranges = {**LRScheduler.setting_ranges, "gamma": GAMMA}

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.check_settings({"gamma": gamma})
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            lr_schedules.exponential_decay(self.last_epoch, b, self.gamma) for b in self.base_lrs
        ]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2.

    Past T_max the cosine goes on (back up to initial_lr at 2 * T_max), as PyTorch's does.
    """

    setting_ranges = {**LRScheduler.setting_ranges, "T_max": POSITIVE, "eta_min": Range()}

    def __init__(
        self,
        optimizer: Optimizer,
        T_max: int,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        self.check_settings({"T_max": T_max, "eta_min": eta_min})
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            lr_schedules.cosine_annealing(self.last_epoch, base, self.T_max, self.eta_min)
            for base in self.base_lrs
        ]


class LinearLR(LRScheduler):
    """lr = initial_lr * factor, the factor linear from start_factor to end_factor.

    The factor reaches end_factor after total_iters epochs and stays there: a
    warm-up when start_factor < end_factor.
    """

    setting_ranges = {
        **LRScheduler.setting_ranges,
        "start_factor": Range(0.0, 1.0, closed=True, closed_low=False),
        "end_factor": Range(0.0, 1.0, closed=True),
        "total_iters": Range(1.0, integer=True),
    }

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        self.check_settings(
            {"start_factor": start_factor, "end_factor": end_factor, "total_iters": total_iters}
        )
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            lr_schedules.linear_ramp(
                self.last_epoch, base, self.start_factor, self.end_factor, self.total_iters
            )
            for base in self.base_lrs
        ]
