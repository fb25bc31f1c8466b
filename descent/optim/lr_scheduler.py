"""PyTorch's learning-rate schedulers, as thin adapters over the functions in `schedules`.

A scheduler sets each param group's "lr" to its schedule's value at
`last_epoch`. Constructing one takes the first step, as in PyTorch: it
records `initial_lr` in every group (the `base_lrs`) and sets the lr for
epoch 0. Call `step()` after `optimizer.step()`.

Each scheduler sets the lr from the step count (closed form), where
PyTorch's chainable schedulers rescale the current lr: so two schedulers
stepping one optimizer do not compose here; use SequentialLR to chain them.
`state_dict()` is JSON-serialisable and holds no functions.
"""

from __future__ import annotations

import copy
import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from descent.optim import schedules
from descent.optim.cyclic_lr import CyclicLR, OneCycleLR
from descent.optim.optimizer import Optimizer
from descent.optim.scheduler import LRScheduler, check_keys, checked_optimizer, per_group

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


class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch), one function for all groups or one per group.

    The functions are not saved by `state_dict()` (PyTorch saves None for them).
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

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        functions = self.lr_lambdas  # the state holds None placeholders: keep the functions
        super().load_state_dict(state_dict)
        self.lr_lambdas = functions


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (epoch // step_size)."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        if not step_size > 0:
            raise ValueError(f"StepLR: {step_size=} must be > 0")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            schedules.step_decay(self.last_epoch, base, self.step_size, self.gamma)
            for base in self.base_lrs
        ]


class MultiStepLR(LRScheduler):
    """lr = initial_lr * gamma ** (number of milestones <= epoch)."""

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        self.milestones = sorted(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            schedules.multistep_decay(self.last_epoch, base, self.milestones, self.gamma)
            for base in self.base_lrs
        ]


class ExponentialLR(LRScheduler):
    """lr = initial_lr * gamma ** epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [schedules.exponential_decay(self.last_epoch, b, self.gamma) for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2.

    Past T_max the cosine goes on (back up to initial_lr at 2 * T_max), as PyTorch's does.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_max: int,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: {T_max=} must be > 0")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            schedules.cosine_annealing(self.last_epoch, base, self.T_max, self.eta_min)
            for base in self.base_lrs
        ]


class LinearLR(LRScheduler):
    """lr = initial_lr * factor, the factor linear from start_factor to end_factor.

    The factor reaches end_factor after total_iters epochs and stays there: a
    warm-up when start_factor < end_factor.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: {start_factor=} must be in (0, 1]")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: {end_factor=} must be in [0, 1]")
        if not total_iters > 0:
            raise ValueError(f"LinearLR: {total_iters=} must be > 0")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            schedules.linear_ramp(
                self.last_epoch, base, self.start_factor, self.end_factor, self.total_iters
            )
            for base in self.base_lrs
        ]


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by `factor` when a metric has not improved for `patience` epochs.

    `step(metric)` once per epoch. "Improved" means below best * (1 - threshold)
    (mode 'min', threshold_mode 'rel'), below best - threshold ('abs'), or the
    mirror images for mode 'max'. After a cut, `cooldown` epochs pass before bad
    epochs count again; no lr goes below its min_lr, and a cut smaller than eps
    is skipped.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        self.optimizer = checked_optimizer(optimizer, "ReduceLROnPlateau")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: {factor=} must be < 1")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: {mode=} must be 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: {threshold_mode=} must be 'rel' or 'abs'")
        self.min_lrs = per_group("ReduceLROnPlateau", "min_lr", min_lr, optimizer)
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def step(self, metrics: Any) -> None:  # type: ignore[override]
        """Record this epoch's metric (a number, or a one-element tensor or array)."""
        current = float(metrics.item() if hasattr(metrics, "item") else metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def scale_lr(self, factor: float) -> None:
        """Lower the current lrs; min_lrs stay, they are floors rather than a schedule."""
        for group in self.optimizer.param_groups:
            group["lr"] *= factor
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, current: float) -> bool:
        best, threshold = self.best, self.threshold
        if self.mode == "min":
            return current < (
                best * (1.0 - threshold) if self.threshold_mode == "rel" else best - threshold
            )
        return current > (
            best * (threshold + 1.0) if self.threshold_mode == "rel" else best + threshold
        )

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            raise ValueError(
                f"ReduceLROnPlateau: the optimizer has {len(groups)} param groups and min_lrs "
                f"{len(self.min_lrs)}; set scheduler.min_lrs to one value per group"
            )
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new


class SequentialLR(LRScheduler):
    """Run `schedulers` one after another, switching at each of `milestones` (epochs).

    Each scheduler starts from its own epoch 0 when its turn comes.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ) -> None:
        self.optimizer = checked_optimizer(optimizer, "SequentialLR")
        if len(schedulers) < 1:
            raise ValueError("SequentialLR: give at least one scheduler")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"SequentialLR: scheduler {i} is a ReduceLROnPlateau, whose step() needs a "
                    "metric; step it yourself"
                )
            if getattr(scheduler, "optimizer", None) is not optimizer:
                raise ValueError(
                    f"SequentialLR: scheduler {i} ({type(scheduler).__name__}) steps another "
                    "optimizer than this one"
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: {len(schedulers)} schedulers need {len(schedulers) - 1} "
                f"milestones, got {len(milestones)}"
            )
        if list(milestones) != sorted(milestones):
            raise ValueError(f"SequentialLR: {milestones=} must be increasing")
        self._schedulers, self._milestones = list(schedulers), list(milestones)
        self.last_epoch = last_epoch + 1
        # Undo the first step each scheduler took when it was built, then take
        # the first step of the one that runs at epoch 0.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for scheduler in self._schedulers:
            _undo_first_step(scheduler)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first.step()
        self._last_lr = first.get_last_lr()

    def _scale_schedule(self, factor: float) -> None:
        for scheduler in self._schedulers:  # the optimizer's lrs are scaled once, by scale_lr
            scheduler._scale_schedule(factor)

    def step(self) -> None:
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._restart()
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    _not_saved = ("optimizer", "_schedulers")

    def state_dict(self) -> dict[str, Any]:
        """Its own counters, and each scheduler's state_dict under "_schedulers"."""
        return {**super().state_dict(), "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        check_keys(self, state_dict)
        children = state_dict["_schedulers"]
        if len(children) != len(self._schedulers):
            raise ValueError(
                f"SequentialLR.load_state_dict: the state has {len(children)} schedulers, "
                f"this one {len(self._schedulers)}"
            )
        for scheduler, child in zip(self._schedulers, children):
            scheduler.load_state_dict(child)
        own = {k: v for k, v in state_dict.items() if k != "_schedulers"}
        self.__dict__.update(copy.deepcopy(own))


def _undo_first_step(scheduler: LRScheduler) -> None:
    for child in getattr(scheduler, "_schedulers", []):
        _undo_first_step(child)
    scheduler.last_epoch -= 1
