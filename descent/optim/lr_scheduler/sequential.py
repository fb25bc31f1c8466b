"""`SequentialLR`: schedulers run one after another, switching at given epochs."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from descent.optim.lr_scheduler.base import COUNT, LRScheduler, checked_optimizer
from descent.optim.lr_scheduler.plateau import ReduceLROnPlateau
from descent.optim.optimizer import Optimizer, Range


class SequentialLR(LRScheduler):
    """Run `schedulers` one after another, switching at each of `milestones` (epochs).

    Each scheduler starts from its own epoch 0 (its `restart()`) when its turn
    comes, and is stepped until the next milestone. It drives them only
    through their public methods, so a SequentialLR can hold another.
    """

    _not_saved = ("optimizer", "_schedulers")

    setting_ranges = {
        **LRScheduler.setting_ranges,
        "_milestones": Range(COUNT.low, COUNT.high, closed=True, integer=True, shape="list"),
    }

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ) -> None:
        checked_optimizer(optimizer, "SequentialLR")
        if len(schedulers) < 1:
            raise ValueError("SequentialLR: give at least one scheduler")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"SequentialLR: scheduler {i} is a ReduceLROnPlateau, whose step() needs a "
                    "metric; step it yourself"
                )
            if not isinstance(scheduler, LRScheduler):
                raise TypeError(
                    f"SequentialLR: scheduler {i} must be a descent LRScheduler, got "
                    f"{type(scheduler).__name__}"
                )
            if scheduler.optimizer is not optimizer:
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
        self.check_settings({"_milestones": list(milestones)})
        self._schedulers, self._milestones = list(schedulers), list(milestones)
        super().__init__(optimizer, last_epoch)

    def step(self) -> None:
        """Step the scheduler whose turn it is, or restart it at its milestone."""
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        start = self._milestones[index - 1] if index > 0 else 0
        scheduler = self._schedulers[index]
        if self.last_epoch == start:
            scheduler.restart()
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def restart(self) -> None:
        """Go back to epoch 0: the first scheduler restarts."""
        self.last_epoch = -1
        self.step()

    def scale_lr(self, factor: float) -> None:
        """Scale every scheduler's schedule, then set the running one's scaled lrs."""
        for scheduler in self._schedulers:
            scheduler.scale_lr(factor)  # each writes its own lrs; the last write below wins
        super().scale_lr(factor)

    def state_dict(self) -> dict[str, Any]:
        """Its own counters, and each scheduler's state_dict under "_schedulers"."""
        return {**super().state_dict(), "_schedulers": [s.state_dict() for s in self._schedulers]}

    def check_state_dict(self, state_dict: Any) -> None:
        """Its own counters as the base checks them, increasing milestones, and each
        scheduler's state through that scheduler's own `check_state_dict`."""
        super().check_state_dict(state_dict)
        milestones = state_dict["_milestones"]
        if list(milestones) != sorted(milestones):
            raise ValueError(f"SequentialLR.load_state_dict: {milestones=} must be increasing")
        for scheduler, child in zip(self._schedulers, state_dict["_schedulers"]):
            scheduler.check_state_dict(child)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a `state_dict()`, each scheduler through its own `load_state_dict`."""
        super().load_state_dict(state_dict)
        for scheduler, child in zip(self._schedulers, state_dict["_schedulers"]):
            scheduler.load_state_dict(child)
