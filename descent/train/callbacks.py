"""Callbacks with Keras's hooks: progress, early stopping, divergence guard, checkpoints, logs.

`fit` gives each callback a `run` (the model, optimizer, scheduler, history and
loaders) before `on_train_begin`; a callback ends training by setting
`self.stop_training = True`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import sys
import time
from typing import Any

import numpy as np

from descent.tensor import Tensor
from descent.train.history import json_safe


class TrainingDiverged(RuntimeError):
    """The loss went NaN, Inf or past the explosion bound and could not be recovered."""


class Callback:
    """Override any of the hooks; `self.run` is set by `fit`."""

    run: Any = None
    stop_training = False

    def set_run(self, run) -> None:
        self.run = run

    def on_train_begin(self, logs: dict | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...

    def on_batch_end(self, step: int, logs: dict | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...

    def on_train_end(self, logs: dict | None = None) -> None: ...


def _copy_state(state: dict) -> Any:
    """A deep copy of a state_dict's arrays, lists and dicts (so later steps cannot change it)."""
    if isinstance(state, dict):
        return {k: _copy_state(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_copy_state(v) for v in state]
    if isinstance(state, np.ndarray | Tensor):
        return state.copy() if isinstance(state, np.ndarray) else state.clone()
    return state


# -- progress --------------------------------------------------------------------------------


class ProgressBar(Callback):
    """A tqdm bar per epoch showing loss, lr and samples/s; quiet when not on a terminal."""

    def __init__(self, disable: bool | None = None, refresh_seconds: float = 0.1,
                 leave: bool = True) -> None:  # fmt: skip
        self.disable, self.refresh_seconds, self.leave = disable, refresh_seconds, leave
        self.bar = None

    def on_epoch_begin(self, epoch, logs=None):
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


def _mode(monitor: str, mode: str) -> str:
    if mode == "auto":
        return "max" if any(word in monitor for word in ("acc", "r2")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode={mode!r} must be 'min', 'max' or 'auto'")
    return mode


def _monitored(logs: dict, monitor: str, owner: str) -> float:
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
        self.mode = _mode(monitor, mode)
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch, self.wait, self.stopped_epoch = None, 0, None
        self.best_weights = None
        self.stop_training = False

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        value = _monitored(logs, self.monitor, "EarlyStopping")
        if math.isfinite(value) and self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = _copy_state(self.run.model.state_dict())
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


# -- divergence guard ------------------------------------------------------------------------


class DivergenceGuard(Callback):
    """Roll back and lower the learning rate when the loss goes NaN, Inf or explodes.

    The last good state (model and optimizer, copied arrays) is kept in memory:
    the state when training begins, and one taken after an epoch without trouble
    (or every `snapshot_every` good steps) once the next loss, computed with those
    weights, is at most `healthy` times the first loss. A step whose loss is not
    finite or exceeds `explode` times the first loss restores that state and
    multiplies every group's lr by `factor`, and the scheduler's base, max and min
    lrs too, so it does not set the old lr back. After `max_retries` roll-backs the
    next bad step raises `TrainingDiverged`, naming the step and the learning rate.
    """

    def __init__(self, max_retries: int = 3, factor: float = 0.5, explode: float = 1e4,
                 snapshot_every: int | None = None, healthy: float = 10.0) -> None:  # fmt: skip
        if not 0.0 < factor < 1.0:
            raise ValueError(f"DivergenceGuard: {factor=} must be in (0, 1)")
        self.max_retries, self.factor, self.explode = int(max_retries), factor, explode
        self.snapshot_every, self.healthy = snapshot_every, healthy

    def on_train_begin(self, logs=None):
        self.retries, self.first_loss, self._good_steps = 0, None, 0
        self._good, self._pending = self._snapshot(), None

    def _snapshot(self) -> tuple[dict, dict]:
        run = self.run
        return _copy_state(run.model.state_dict()), _copy_state(run.optimizer.state_dict())

    def _bad(self, loss: float) -> str | None:
        if math.isnan(loss):
            return "NaN"
        if math.isinf(loss):
            return "Inf"
        if self.first_loss is None:
            self.first_loss = abs(loss)
        elif abs(loss) > self.explode * max(self.first_loss, 1e-12):
            return f"{loss:.4g}, over {self.explode:g} x the first loss {self.first_loss:.4g}"
        return None

    def on_batch_end(self, step, logs=None):
        loss = float(logs["loss"])
        trouble = self._bad(loss)
        if trouble is None:
            if self._pending is not None:  # this loss came from the pending weights
                if abs(loss) <= self.healthy * max(self.first_loss, 1e-12):
                    self._good = self._pending
                self._pending = None
            self._good_steps += 1
            if self.snapshot_every and self._good_steps % self.snapshot_every == 0:
                self._pending = self._snapshot()
            return
        self._pending = None
        run = self.run
        lrs = [float(group["lr"]) for group in run.optimizer.param_groups]
        where = f"step {step} (epoch {logs['epoch'] + 1}, batch {logs['batch'] + 1})"
        if self.retries >= self.max_retries:
            raise TrainingDiverged(
                f"training diverged at {where}: loss {trouble} with learning rate "
                f"{_fmt(lrs)}, after {self.retries} roll-back(s) each lowering the learning "
                f"rate by a factor {self.factor}. Run a learning-rate range test (`descent "
                "lr-find`, or descent.lab.lr_find) and pick a rate well below where the loss "
                "turns up, or clip gradients"
            )
        self.retries += 1
        model_state, optimizer_state = self._good
        run.model.load_state_dict(model_state)
        run.optimizer.load_state_dict(_copy_state(optimizer_state))
        for group, lr in zip(run.optimizer.param_groups, lrs):
            group["lr"] = lr
        if run.scheduler is not None:
            run.scheduler.scale_lr(self.factor)  # else the schedule would set the old lr back
        else:
            for group in run.optimizer.param_groups:
                group["lr"] *= self.factor
        message = (
            f"DivergenceGuard: loss {trouble} at {where} with learning rate {_fmt(lrs)}; "
            f"rolled back to the last good state, learning rate now "
            f"{_fmt([lr * self.factor for lr in lrs])} (retry {self.retries}/{self.max_retries})"
        )
        logs["rolled_back"] = True
        run.history.events.append(
            {"event": "divergence_rollback", "step": step, "loss": loss, "lr": lrs,
             "new_lr": [lr * self.factor for lr in lrs], "retry": self.retries}
        )  # fmt: skip
        run.log(message)

    def on_epoch_end(self, epoch, logs=None):
        if all(math.isfinite(float(v)) for v in logs.values()):
            self._pending = self._snapshot()


def _fmt(lrs: list[float]) -> str:
    return f"{lrs[0]:.4g}" if len(lrs) == 1 else "[" + ", ".join(f"{x:.4g}" for x in lrs) + "]"


# -- checkpoints and logs --------------------------------------------------------------------


class ModelCheckpoint(Callback):
    """Save model, optimizer, scheduler and loader with `descent.checkpoint.save`.

    `path` may hold `{epoch}` (1-based), e.g. 'ckpt-{epoch:03d}.dc'. Every `every`
    epochs it writes `path`; with `save_best`, it writes `best_path` (default
    `path` with '.best' before the extension) when `monitor` improves.
    """

    def __init__(self, path: str | os.PathLike, every: int | None = 1, save_best: bool = True,
                 monitor: str = "val_loss", mode: str = "auto",
                 best_path: str | os.PathLike | None = None) -> None:  # fmt: skip
        self.path, self.every, self.save_best = os.fspath(path), every, save_best
        self.monitor, self.mode = monitor, _mode(monitor, mode)
        if best_path is None:
            root, ext = os.path.splitext(self.path)
            best_path = re.sub(r"[-_.]?\{epoch[^}]*\}", "", root) + ".best" + ext
        self.best_path = os.fspath(best_path)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved: list[str] = []

    def _save(self, path: str, epoch: int, logs: dict) -> None:
        from descent.checkpoint import save

        run = self.run
        save(path, model=run.model, optimizer=run.optimizer, scheduler=run.scheduler,
             loader=run.train_loader if hasattr(run.train_loader, "state_dict") else None,
             extra={"epoch": epoch + 1, "logs": json_safe(dict(logs)),
                    "history": run.history.to_dict()})  # fmt: skip
        self.saved.append(path)

    def on_epoch_end(self, epoch, logs=None):
        if self.every and (epoch + 1) % self.every == 0:
            self._save(self.path.format(epoch=epoch + 1), epoch, logs)
        if self.save_best:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            better = value < self.best if self.mode == "min" else value > self.best
            if math.isfinite(value) and better:
                self.best = value
                self._save(self.best_path, epoch, logs)


class CSVLogger(Callback):
    """One CSV row per epoch: epoch, time and every logged value.

    The file is rewritten whole from the `History` after every epoch, through a temporary
    file and a rename: a resumed run continues it without gaps or repeats, and a crash
    never leaves half a row.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)

    def on_epoch_end(self, epoch, logs=None):
        history = self.run.history
        keys = list(history.metrics)
        temporary = self.path + ".tmp"
        with open(temporary, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["epoch", "time", *keys])
            for i, seconds in enumerate(history.epoch_time):
                writer.writerow([i + 1, seconds, *(_cell(history.metrics[k], i) for k in keys)])
        os.replace(temporary, self.path)


def _cell(series: list, index: int):
    return series[index] if index < len(series) and series[index] is not None else ""


class JSONLogger(Callback):
    """Rewrite `path` after every epoch with the whole `History.to_dict()`."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)

    def _write(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w") as handle:
            json.dump(self.run.history.to_dict(), handle)
        os.replace(tmp, self.path)

    def on_epoch_end(self, epoch, logs=None):
        self._write()

    def on_train_end(self, logs=None):
        self._write()
