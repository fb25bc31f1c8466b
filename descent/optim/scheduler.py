"""`LRScheduler`, the base of every learning-rate scheduler, and the helpers they share."""

from __future__ import annotations

import copy
from typing import Any

from descent.optim.optimizer import Optimizer


class LRScheduler:
    """Base class: a subclass says in `get_lr()` what each group's lr is at `last_epoch`."""

    _not_saved: tuple[str, ...] = ("optimizer",)

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        # A subclass whose base learning rates are not the groups' initial_lr
        # (CyclicLR) sets self.base_lrs before calling this.
        self.optimizer = checked_optimizer(optimizer, type(self).__name__)
        groups = optimizer.param_groups
        if last_epoch == -1:
            for group in groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr', which "
                        f"resuming with {last_epoch=} needs; load the optimizer's state_dict "
                        "first, or start with last_epoch=-1"
                    )
        if not hasattr(self, "base_lrs"):
            self.base_lrs = [group["initial_lr"] for group in groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list[float]:
        """The lr of each param group at `last_epoch`."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch (or batch) and set the optimizer's learning rates."""
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The learning rates this scheduler set last, one per param group."""
        return list(self._last_lr)

    def scale_lr(self, factor: float) -> None:
        """Multiply the learning rates by `factor`, now and for the rest of the schedule.

        descent's schedules compute the lr from the step count, so a change made
        to `group["lr"]` by hand would be undone at the next `step()`; this is the
        way to lower it for good (the divergence guard does).
        """
        self._scale_schedule(factor)
        for group in self.optimizer.param_groups:
            group["lr"] *= factor
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _scale_schedule(self, factor: float) -> None:
        for name in ("base_lrs", "max_lrs", "min_lrs"):
            values = getattr(self, name, None)
            if isinstance(values, list):
                setattr(self, name, [value * factor for value in values])

    def _apply(self) -> None:
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer and any function, copied."""
        return {k: copy.deepcopy(v) for k, v in vars(self).items() if k not in self._not_saved}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a `state_dict()`; it must come from a scheduler of this kind."""
        check_keys(self, state_dict)
        self.__dict__.update(copy.deepcopy(state_dict))

    def _restart(self) -> None:
        """Go back to epoch 0 and set its learning rates (SequentialLR's switch)."""
        self.last_epoch = 0
        self._apply()


def checked_optimizer(optimizer: Any, owner: str) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{owner}: optimizer must be a descent Optimizer, got {type(optimizer).__name__}"
        )
    return optimizer


def per_group(owner: str, name: str, value: Any, optimizer: Optimizer) -> list:
    """One value per param group: a list or tuple of that length, or one value for all."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{owner}: {name} has {len(value)} values for {n} param groups")
        return list(value)
    return [value] * n


def check_keys(scheduler: LRScheduler, state_dict: dict[str, Any]) -> None:
    expected, given = set(scheduler.state_dict()), set(state_dict)
    if expected != given:
        raise ValueError(
            f"{type(scheduler).__name__}.load_state_dict: missing keys {sorted(expected - given)}, "
            f"unexpected keys {sorted(given - expected)}; was it saved from another scheduler?"
        )
