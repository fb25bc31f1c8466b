"""`ReduceLROnPlateau`: the scheduler that follows a metric instead of the epoch count."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from descent.optim.lr_scheduler.base import (
    COUNT,
    RATES,
    Choice,
    LRScheduler,
    checked_optimizer,
    per_group,
)
from descent.optim.optimizer import Optimizer, Range


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by `factor` when a metric has not improved for `patience` epochs.

    `step(metric)` once per epoch. "Improved" means below best * (1 - threshold)
    (mode 'min', threshold_mode 'rel'), below best - threshold ('abs'), or the
    mirror images for mode 'max'. After a cut, `cooldown` epochs pass before bad
    epochs count again; no lr goes below its min_lr, and a cut smaller than eps
    is skipped. Its lrs have no closed form: each cut starts from the group's
    current lr, as PyTorch's does, and `scale_lr` lowers that lr (min_lrs stay:
    they are floors, not a schedule).
    """

    setting_ranges = {
        **LRScheduler.setting_ranges,
        "mode": Choice(("min", "max")),
        "factor": Range(0.0, 1.0),
        "patience": COUNT,
        "threshold": Range(),
        "threshold_mode": Choice(("rel", "abs")),
        "cooldown": COUNT,
        "min_lrs": RATES,
        "eps": Range(),
        "best": Range(-math.inf, math.inf, closed=True),  # infinite before the first metric
        "num_bad_epochs": COUNT,
        "cooldown_counter": COUNT,
    }

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
        checked_optimizer(optimizer, "ReduceLROnPlateau")
        min_lrs = per_group("ReduceLROnPlateau", "min_lr", min_lr, optimizer)
        settings = dict(mode=mode, factor=factor, patience=patience, threshold=threshold)
        settings.update(threshold_mode=threshold_mode, cooldown=cooldown, eps=eps)
        self.check_settings({**settings, "min_lrs": min_lrs})
        self.min_lrs = min_lrs
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        super().__init__(optimizer)

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
            self._set_lrs(self._reduced_lrs())
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        else:
            self._set_lrs(self._group_lrs())

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _initial_step(self) -> None:
        """Epoch 0 keeps the optimizer's lrs: there is no metric yet."""
        self.last_epoch = 0
        self._set_lrs(self._group_lrs())

    def _is_better(self, current: float) -> bool:
        best, threshold = self.best, self.threshold
        if self.mode == "min":
            return current < (
                best * (1.0 - threshold) if self.threshold_mode == "rel" else best - threshold
            )
        return current > (
            best * (threshold + 1.0) if self.threshold_mode == "rel" else best + threshold
        )

    def _group_lrs(self) -> list[float]:
        """The lrs now in the optimizer: each cut starts from them (there is no `get_lr()`)."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def _reduced_lrs(self) -> list[float]:
        lrs = self._group_lrs()
        if len(lrs) != len(self.min_lrs):
            raise ValueError(
                f"ReduceLROnPlateau: the optimizer has {len(lrs)} param groups and min_lrs "
                f"{len(self.min_lrs)}; set scheduler.min_lrs to one value per group"
            )
        cut = [max(float(old) * self.factor, min_lr) for old, min_lr in zip(lrs, self.min_lrs)]
        return [new if old - new > self.eps else old for old, new in zip(lrs, cut)]
