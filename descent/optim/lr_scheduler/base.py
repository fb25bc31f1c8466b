"""`LRScheduler`, the one base of every learning-rate scheduler, and the checks they share."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from descent.optim.optimizer import Optimizer, Range, same_kind

POSITIVE = Range(0.0, closed_low=False)
COUNT = Range(0.0, 2.0**53, closed=True, integer=True)
"""A count of steps or epochs: a whole number a float still counts exactly."""
RATES = Range(shape="list")


@dataclass(frozen=True)
class Choice:
    """A setting that is one of a few words (a mode), checked like a `Range`."""

    options: tuple[str, ...]

    def check(self, owner: str, option: str, value: Any) -> None:
        if not isinstance(value, str) or value not in self.options:
            words = ", ".join(map(repr, self.options))
            raise ValueError(f"{owner}: {option}={value!r} must be one of {words}")


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

    setting_ranges: Mapping[str, Range | Choice] = {
        "last_epoch": COUNT,
        "base_lrs": RATES,
        "lr_scale": Range(),
        "_last_lr": Range(-math.inf, closed_low=False, shape="list"),
    }
    """The values each setting accepts, by attribute name: the constructor's arguments and
    a loaded state pass through `check_settings`, so both are checked one way."""

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

    def check_settings(self, values: Mapping[str, Any]) -> None:
        """Raise ValueError or TypeError for a value outside its `setting_ranges`."""
        for name, value in values.items():
            accepted = self.setting_ranges.get(name)
            if accepted is not None:
                accepted.check(type(self).__name__, name, value)

    def check_state_dict(self, state_dict: Any) -> None:
        """Raise ValueError or TypeError naming the key unless `state_dict` would load: the
        keys of this kind of scheduler, each value of the kind this one holds (as many
        lrs as param groups) and in the range its constructor accepts. Touches nothing."""
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{name}: the state must be a dict, not a {type(state_dict).__name__}")
        own = self.state_dict()
        expected, given = set(own), set(state_dict)
        if expected != given:
            raise ValueError(
                f"{name}: missing keys {sorted(expected - given)}, unexpected keys "
                f"{sorted(map(str, given - expected))}; was it saved from another scheduler?"
            )
        for key, value in own.items():
            _check_kind(f"{name}: {key}", value, state_dict[key])
        try:
            self.check_settings(state_dict)
        except (ValueError, TypeError) as error:
            raise type(error)(f"{name}: {error}") from None

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a `state_dict()` once `check_state_dict` passes it."""
        self.check_state_dict(state_dict)
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


def _check_kind(where: str, own: Any, saved: Any) -> None:
    """`saved` has the layout of `own`: the same keys, list lengths and kinds of values."""
    if isinstance(own, dict):
        if not isinstance(saved, dict) or set(saved) != set(own):
            raise ValueError(f"{where} must be a dict with the keys {sorted(own)}, not {saved!r}")
        for key in own:
            _check_kind(f"{where}.{key}", own[key], saved[key])
    elif isinstance(own, (list, tuple)):
        if not isinstance(saved, (list, tuple)) or len(saved) != len(own):
            raise ValueError(f"{where} must be a list of {len(own)} values, not {saved!r}")
        for i, (mine, theirs) in enumerate(zip(own, saved)):
            _check_kind(f"{where}[{i}]", mine, theirs)
    elif not same_kind(own, saved):
        raise TypeError(f"{where} is {saved!r}; this scheduler holds a {type(own).__name__}")
