"""Callbacks with Keras's hooks, and the small ones: progress, epoch table, early stopping,
scheduler stepping. The divergence guard, checkpoints and loggers have modules of their own.

`fit` gives each callback a `run` (the model, optimizer, scheduler, history and
loaders) before `on_train_begin`; a callback ends training by setting
`self.stop_training = True`.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import numpy as np


class Callback:
    """Override any of the hooks; `self.run` is set by `fit`."""

    run: Any = None
    stop_training = False

    def set_run(self, run) -> None:
        self.run = run

    def on_train_begin(self, logs: dict | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...

    def on_batch_begin(self, step: int, logs: dict | None = None) -> None: ...

    def on_after_backward(self, step: int, logs: dict | None = None) -> None:
        """Runs between backward and the optimizer's step: the gradients are there to read
        or change (`GradientClipping`)."""

    def on_batch_end(self, step: int, logs: dict | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...

    def on_train_end(self, logs: dict | None = None) -> None:
        """Runs when training ends, even by an exception (then before it propagates)."""


# -- progress --------------------------------------------------------------------------------


class ProgressBar(Callback):
    """A tqdm bar per epoch showing loss, lr and samples/s; quiet when not on a terminal."""

    def __init__(self, disable: bool | None = None, refresh_seconds: float = 0.1,
                 leave: bool = True) -> None:  # fmt: skip
        self.disable, self.refresh_seconds, self.leave = disable, refresh_seconds, leave
        self.bar = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.disable is True:  # turned off: no tqdm to import or build
            return
        from tqdm.auto import tqdm

        total = self.run.batches_per_epoch
        epochs = self.run.epochs
        self.bar = tqdm(
            total=total, desc=f"epoch {epoch + 1}/{epochs}", disable=self.disable,
            file=sys.stderr, leave=self.leave, unit="batch", dynamic_ncols=True,
        )  # fmt: skip
        self._start = self._shown = time.perf_counter()
        self._samples = 0

    def on_batch_end(self, step, logs=None):
        bar = self.bar
        if bar is None or bar.disable:
            return
        self._samples += logs["batch_size"]
        bar.update(1)
        now = time.perf_counter()
        if now - self._shown >= self.refresh_seconds:
            self._shown = now
            rate = self._samples / max(now - self._start, 1e-9)
            bar.set_postfix(loss=f"{logs['loss']:.4g}", lr=f"{logs['lr']:.3g}",
                            samples_s=f"{rate:.0f}", refresh=False)  # fmt: skip

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is not None:
            if not self.bar.disable:
                shown = {k: f"{v:.4g}" for k, v in logs.items() if k != "lr"}
                self.bar.set_postfix(shown, refresh=False)
            self.bar.close()
            self.bar = None

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class EpochTable(Callback):
    """Print one aligned row per epoch: the epoch, every logged value and its seconds.

    The columns come from the first epoch's logs; `echo` takes each line (default: print).
    """

    def __init__(self, echo=print) -> None:
        self.echo = echo
        self._widths: dict[str, int] | None = None

    def on_epoch_end(self, epoch, logs=None):
        if self._widths is None:
            self._widths = {key: max(11, len(key) + 2) for key in (*logs, "seconds")}
            self.echo("epoch".rjust(6) + "".join(k.rjust(w) for k, w in self._widths.items()))
        history = self.run.history
        values = {**logs, "seconds": history.epoch_time[-1] if history.epoch_time else math.nan}
        self.echo(f"{epoch + 1:6d}" + "".join(
            " " + f"{values.get(k, math.nan):.{'3f' if k == 'seconds' else '4g'}}".rjust(w - 1)
            for k, w in self._widths.items()))  # fmt: skip


# -- early stopping --------------------------------------------------------------------------


def resolve_mode(monitor: str, mode: str) -> str:
    """'min' or 'max' for `monitor`; 'auto' maximises accuracies and r2, minimises the rest."""
    if mode == "auto":
        return "max" if any(word in monitor for word in ("acc", "r2")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode={mode!r} must be 'min', 'max' or 'auto'")
    return mode


def better(value: float, best: float, mode: str, min_delta: float = 0.0) -> bool:
    return value < best - min_delta if mode == "min" else value > best + min_delta


def monitored(logs: dict, monitor: str, owner: str) -> float:
    if monitor not in logs:
        hint = " (pass val_loader to fit, or monitor='loss')" if monitor.startswith("val_") else ""
        raise KeyError(f"{owner}: no {monitor!r} in the epoch logs {sorted(logs)}{hint}")
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by `min_delta` for `patience` epochs.

    With `restore_best_weights`, the model gets back the weights of its best epoch
    when training ends.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True) -> None:  # fmt: skip
        self.monitor, self.patience, self.min_delta = monitor, int(patience), abs(min_delta)
        self.mode = resolve_mode(monitor, mode)
        self.restore_best_weights = restore_best_weights
        self._reset()

    def on_train_begin(self, logs=None):
        self.stop_training = False
        if not self.run.history.epochs:  # a resumed run goes on from `load_state_dict`
            self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch, self.wait, self.stopped_epoch = None, 0, None
        self.best_weights = None

    def state_dict(self) -> dict:
        """Where the patience stands (best value, its epoch and weights, the wait), so a
        resumed run stops where an uninterrupted one would (`ModelCheckpoint(state=...)`)."""
        return {"best": self.best if math.isfinite(self.best) else None,
                "best_epoch": self.best_epoch, "wait": self.wait,
                "best_weights": self.best_weights}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        self._reset()
        if state["best"] is not None:
            self.best = float(state["best"])
        self.best_epoch, self.wait = state["best_epoch"], int(state["wait"])
        self.best_weights = state["best_weights"]

    def on_epoch_end(self, epoch, logs=None):
        value = monitored(logs, self.monitor, "EarlyStopping")
        if math.isfinite(value) and better(value, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = {
                    k: np.array(v, copy=True) for k, v in self.run.model.state_dict().items()
                }
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.stop_training = True
            self.run.history.events.append(
                {"event": "early_stopping", "epoch": epoch + 1, "best_epoch": self.best_epoch + 1
                 if self.best_epoch is not None else None, self.monitor: self.best}
            )  # fmt: skip

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.run.model.load_state_dict(self.best_weights)
            self.run.history.events.append(
                {"event": "restored_best_weights", "epoch": self.best_epoch + 1,
                 self.monitor: self.best}
            )  # fmt: skip


# -- gradients -------------------------------------------------------------------------------


class GradientClipping(Callback):
    """Scale all gradients together down to a total L2 norm of at most `max_norm` before each
    step (`descent.nn.utils.clip_grad_norm_`): a rare huge gradient then moves the weights
    no further than a normal one."""

    def __init__(self, max_norm: float) -> None:
        if not max_norm > 0:
            raise ValueError(f"GradientClipping: {max_norm=} must be > 0")
        self.max_norm = float(max_norm)

    def on_after_backward(self, step, logs=None):
        from descent.nn.utils import clip_grad_norm_

        clip_grad_norm_(self.run.model.parameters(), self.max_norm)


# -- learning-rate schedules -----------------------------------------------------------------


class SchedulerStep(Callback):
    """Step a learning-rate scheduler: after every batch when its `interval` is "batch"
    (OneCycleLR, CyclicLR), after every epoch otherwise. ReduceLROnPlateau is given the
    monitored value: the validation loss, or the training loss without validation.

    `fit(..., scheduler=s)` adds one first among the callbacks, so the lr is stepped
    before a checkpoint saves the scheduler.
    """

    def __init__(self, scheduler) -> None:
        from descent.optim.lr_scheduler import ReduceLROnPlateau

        self.scheduler = scheduler
        self.per_batch = getattr(scheduler, "interval", "epoch") == "batch"
        self.on_plateau = isinstance(scheduler, ReduceLROnPlateau)

    def on_batch_end(self, step, logs=None):
        if self.per_batch:
            self.scheduler.step()

    def on_epoch_end(self, epoch, logs=None):
        if self.on_plateau:
            self.scheduler.step(logs.get("val_loss", logs["loss"]))
        elif not self.per_batch:
            self.scheduler.step()
