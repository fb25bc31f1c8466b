"""`OneCycleLR` and `CyclicLR`: batch schedules that move the lr and, against it, the momentum."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from descent.optim import lr_schedules
from descent.optim.lr_scheduler.base import (
    POSITIVE,
    RATES,
    Choice,
    LRScheduler,
    checked_optimizer,
    per_group,
)
from descent.optim.optimizer import Optimizer, Range


class _CyclesMomentum(LRScheduler):
    """A schedule that also moves momentum (SGD, RMSprop) or beta1 (Adam) against the lr."""

    setting_ranges = {
        **LRScheduler.setting_ranges,
        "max_lrs": RATES,
        "base_momentums": RATES,
        "max_momentums": RATES,
    }

    def _init_momentum(
        self, cycle_momentum: bool, base_momentum: Any, max_momentum: Any, last_epoch: int
    ) -> None:
        name, optimizer = type(self).__name__, self.optimizer
        self.cycle_momentum = bool(cycle_momentum)
        if not self.cycle_momentum:
            return
        if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
            raise ValueError(
                f"{name}: cycle_momentum=True needs an optimizer with momentum or betas (SGD, "
                f"RMSprop, Adam, AdamW), not {type(optimizer).__name__}; pass cycle_momentum=False"
            )
        self.use_beta1 = "betas" in optimizer.defaults
        bottoms = per_group(name, "base_momentum", base_momentum, optimizer)
        tops = per_group(name, "max_momentum", max_momentum, optimizer)
        self.check_settings({"base_momentums": bottoms, "max_momentums": tops})
        self.base_momentums, self.max_momentums = bottoms, tops
        if last_epoch == -1:
            for group, top, bottom in zip(
                optimizer.param_groups, self.max_momentums, self.base_momentums
            ):
                self._set_momentum(group, top)
                group["max_momentum"], group["base_momentum"] = top, bottom

    def get_momentum(self) -> list[float]:
        """The momentum (or beta1) of each param group at `last_epoch`."""
        raise NotImplementedError

    def _set_momentum(self, group: dict[str, Any], value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _apply(self) -> None:
        super()._apply()
        if self.cycle_momentum:
            for group, value in zip(self.optimizer.param_groups, self.get_momentum(), strict=True):
                self._set_momentum(group, value)


class OneCycleLR(_CyclesMomentum):
    """The 1cycle policy (Smith, 2018): up to max_lr, then far below where it started.

    The lr goes from max_lr / div_factor (the initial_lr) to max_lr over the
    first pct_start of total_steps, then down to initial_lr / final_div_factor.
    Momentum (beta1 for Adam) moves the other way, max_momentum -> base_momentum ->
    max_momentum. three_phase=True comes back to the initial lr symmetrically first and
    then anneals to the minimum, as in the paper. Step it after every batch.
    """

    interval = "batch"

    setting_ranges = {
        **_CyclesMomentum.setting_ranges,
        "total_steps": Range(1.0, 2.0**53, closed=True, integer=True),
        "pct_start": Range(0.0, 1.0, closed=True),
        "anneal_strategy": Choice(("cos", "linear")),
        "min_lrs": RATES,
        "div_factor": POSITIVE,
        "final_div_factor": POSITIVE,
    }

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        self.optimizer = checked_optimizer(optimizer, "OneCycleLR")
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or both epochs and steps_per_epoch")
            for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
                if not isinstance(value, int) or value <= 0:
                    raise ValueError(f"OneCycleLR: {name}={value!r} must be a positive integer")
            total_steps = epochs * steps_per_epoch
        max_lrs = per_group("OneCycleLR", "max_lr", max_lr, optimizer)
        settings = dict(total_steps=total_steps, pct_start=pct_start, max_lrs=max_lrs)
        settings.update(anneal_strategy=anneal_strategy, div_factor=div_factor)
        self.check_settings({**settings, "final_div_factor": final_div_factor})
        self.total_steps, self.pct_start = total_steps, pct_start
        self.anneal_strategy, self.three_phase = anneal_strategy, three_phase

        self.max_lrs = max_lrs
        base_lrs = [top / div_factor for top in self.max_lrs]
        self.min_lrs = [start / final_div_factor for start in base_lrs]
        if last_epoch == -1:
            for group, start, top, end in zip(
                optimizer.param_groups, base_lrs, self.max_lrs, self.min_lrs
            ):
                group["initial_lr"], group["max_lr"], group["min_lr"] = start, top, end
        self._init_momentum(cycle_momentum, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch, base_lrs=base_lrs)

    def get_lr(self) -> list[float]:
        if self.last_epoch > self.total_steps:
            raise ValueError(
                f"OneCycleLR: stepped {self.last_epoch} times, past total_steps="
                f"{self.total_steps}; give a larger total_steps"
            )
        return [
            self._value(start, top, end)
            for start, top, end in zip(self.base_lrs, self.max_lrs, self.min_lrs)
        ]

    def get_momentum(self) -> list[float]:
        return [
            self._value(top, bottom, top)
            for top, bottom in zip(self.max_momentums, self.base_momentums)
        ]

    def _value(self, start: float, peak: float, end: float) -> float:
        return lr_schedules.one_cycle(
            self.last_epoch,
            start,
            peak,
            end,
            self.total_steps,
            self.pct_start,
            self.anneal_strategy,
            self.three_phase,
        )


class CyclicLR(_CyclesMomentum):
    """Cyclical learning rates (Smith, 2017): triangles between base_lr and max_lr.

    The lr climbs from base_lr to max_lr in step_size_up steps and comes back in
    step_size_down, each triangle's height scaled as `mode` says ('triangular',
    'triangular2', 'exp_range') or by scale_fn.
    Momentum (beta1 for Adam) moves the other way, max_momentum down to base_momentum.
    A scale_fn is not saved by `state_dict()`. Step it after every batch.
    """

    interval = "batch"

    _not_saved = ("optimizer", "scale_fn")

    setting_ranges = {
        **_CyclesMomentum.setting_ranges,
        "step_size_up": POSITIVE,
        "step_size_down": Range(),
        "mode": Choice(("triangular", "triangular2", "exp_range")),
        "gamma": POSITIVE,
        "scale_mode": Choice(("cycle", "iterations")),
    }

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | Sequence[float],
        max_lr: float | Sequence[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.8,
        max_momentum: float | Sequence[float] = 0.9,
        last_epoch: int = -1,
    ) -> None:
        self.optimizer = checked_optimizer(optimizer, "CyclicLR")
        if step_size_down is None:
            step_size_down = step_size_up
        max_lrs = per_group("CyclicLR", "max_lr", max_lr, optimizer)
        base_lrs = per_group("CyclicLR", "base_lr", base_lr, optimizer)
        settings = dict(step_size_up=step_size_up, step_size_down=step_size_down, mode=mode)
        settings.update(gamma=gamma, scale_mode=scale_mode, max_lrs=max_lrs, base_lrs=base_lrs)
        self.check_settings(settings)
        if scale_fn is None:  # the built-in modes fix what they scale by, as in PyTorch
            scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self.step_size_up, self.step_size_down = float(step_size_up), float(step_size_down)
        self.mode, self.gamma, self.scale_fn, self.scale_mode = mode, gamma, scale_fn, scale_mode

        self.max_lrs = max_lrs
        if last_epoch == -1:
            for group, lr in zip(optimizer.param_groups, base_lrs):
                group["lr"] = lr
        self._init_momentum(cycle_momentum, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch, base_lrs=base_lrs)

    def get_lr(self) -> list[float]:
        return [self._value(low, high) for low, high in zip(self.base_lrs, self.max_lrs)]

    def get_momentum(self) -> list[float]:
        return [
            self._value(top, bottom) for top, bottom in zip(self.max_momentums, self.base_momentums)
        ]

    def _value(self, low: float, high: float) -> float:
        return lr_schedules.cyclic(
            self.last_epoch,
            low,
            high,
            self.step_size_up,
            self.step_size_down,
            self.mode,
            self.gamma,
            self.scale_fn,
            self.scale_mode,
        )
