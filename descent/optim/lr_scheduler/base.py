"""`LRScheduler`, the one base of every learning-rate scheduler, and the checks they share."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from descent.optim.optimizer import Optimizer


class LRScheduler:
    """Set each param group's lr to the schedule's value at `last_epoch`, times `lr_scale`.

    A subclass says in `get_lr()` what each group's lr is at `last_epoch`,
    in closed form (a call into `descent.optim.lr_schedules`); this base
    multiplies it by `lr_scale` and writes it to the optimizer. Constructing
    a scheduler takes the first step, as in PyTorch: it records `initial_lr`
    in every group (the `base_lrs`) and sets the lrs of epoch 0.

    Attributes:
        interval: a class attribute saying when a training loop calls `step()`:
            "epoch" (after every epoch) or "batch" (after every optimizer step:
            OneCycleLR and CyclicLR, whose cycles are counted in steps).
        last_epoch: how many steps have been taken since epoch 0.
        base_lrs: each group's lr at the start of the schedule.
        lr_scale: the product of the factors given to `scale_lr`; one number,
            so that rescaling never has to know which parameters hold lrs.
    """

    interval: str = "epoch"
    _not_saved: tuple[str, ...] = ("optimizer",)

    def __init__(
        self,
        optimizer: Optimizer,
        last_epoch: int = -1,
        *,
        base_lrs: Sequence[float] | None = None,
    ) -> None:
        """`base_lrs`: for a schedule that does not start from the groups' lrs (CyclicLR)."""
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
        initial = [group["initial_lr"] for group in groups]
        self.base_lrs = initial if base_lrs is None else list(base_lrs)
        self.lr_scale = 1.0
        self.last_epoch = last_epoch
        self._initial_step()

    def get_lr(self) -> list[float]:
        """The lr of each param group at `last_epoch`, before `lr_scale`."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch (or batch, as `interval` says) and set the optimizer's lrs."""
        self.last_epoch += 1
        self._apply()

    def restart(self) -> None:
        """Go back to epoch 0 and set its lrs (SequentialLR starts each scheduler so)."""
        self.last_epoch = 0
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The learning rates this scheduler set last, one per param group."""
        return list(self._last_lr)

    def scale_lr(self, factor: float) -> None:
        """Multiply the learning rates by `factor`, now and for the rest of the schedule.

        The schedule sets the lr from the step count, so a change made to
        `group["lr"]` by hand would be undone at the next `step()`; this is the
        way to lower it for good (descent's DivergenceGuard does).
        """
        self.lr_scale *= factor
        self._set_lrs([lr * factor for lr in self._last_lr])

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer and any function, copied: JSON-serialisable."""
        return {k: copy.deepcopy(v) for k, v in vars(self).items() if k not in self._not_saved}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a `state_dict()`; it must come from a scheduler of this kind."""
        expected, given = set(self.state_dict()), set(state_dict)
        if expected != given:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: missing keys {sorted(expected - given)}, "
                f"unexpected keys {sorted(given - expected)}; was it saved from another scheduler?"
            )
        saved = {k: v for k, v in state_dict.items() if k not in self._not_saved}
        self.__dict__.update(copy.deepcopy(saved))

    def _initial_step(self) -> None:
        """Construction's step from `last_epoch` (-1 for a new run) to the next epoch."""
        self.step()

    def _apply(self) -> None:
        self._set_lrs([self.lr_scale * lr for lr in self.get_lr()])

    def _set_lrs(self, lrs: list[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = list(lrs)


def checked_optimizer(optimizer: Any, owner: str) -> Optimizer:
    """`optimizer`, once it is a descent Optimizer (a torch one is the usual mistake)."""
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
