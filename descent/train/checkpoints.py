"""`ModelCheckpoint`: the training state saved after epochs, the last one and the best one."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any

from descent.files import json_safe
from descent.train.callbacks import Callback, better, monitored, resolve_mode


class ModelCheckpoint(Callback):
    """Save model, optimizer, scheduler and loader in `descent.checkpoint.save`'s files.

    `path` may hold `{epoch}` (1-based), e.g. 'ckpt-{epoch:03d}.dc'. Every `every`
    epochs it writes `path`; with `save_best`, it writes `best_path` (default
    `path` with '.best' before the extension) when `monitor` improves on the best
    value in the run's history, so a resumed run's best must beat the saved one.
    `state` names more objects whose `state_dict()` each checkpoint keeps (e.g. a
    callback's series so far); `resume(..., state=)` gives them back.

    A checkpoint is taken at the epoch's end and written on the run's file thread
    (`Run.files`) while the next epoch trains; each epoch's end first waits for the last
    epoch's files, so a crash loses at most the newest checkpoint, and `fit` returns
    once every one is on disk.

    Each checkpoint's `extra` holds the epoch, its logs, the history and `state`: all
    that `resume` needs to go on as if the run had never stopped. The best is written
    before the last, so a crash between the two leaves the last at the epoch before;
    the resumed run redoes that epoch and writes the same best again. (The other way
    round, the last checkpoint's history would already count the new best, and the
    resumed run would never write it.)
    """

    def __init__(self, path: str | os.PathLike, every: int | None = 1, save_best: bool = True,
                 monitor: str = "val_loss", mode: str = "auto",
                 best_path: str | os.PathLike | None = None,
                 state: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        self.path, self.every, self.save_best = os.fspath(path), every, save_best
        self.monitor, self.mode = monitor, resolve_mode(monitor, mode)
        if best_path is None:
            root, ext = os.path.splitext(self.path)
            best_path = re.sub(r"[-_.]?\{epoch[^}]*\}", "", root) + ".best" + ext
        self.best_path = os.fspath(best_path)
        self.state = dict(state or {})
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved: list[str] = []

    def on_train_begin(self, logs=None):
        earlier = [v for v in self.run.history.metrics.get(self.monitor, []) if v is not None]
        for value in earlier:
            if math.isfinite(value) and better(value, self.best, self.mode):
                self.best = value

    def _state(self, epoch: int, logs: dict) -> bytes:
        """The checkpoint of the run as it is at this epoch's end, as the file's bytes."""
        from descent.checkpoint import to_bytes

        run = self.run
        loader = run.train_loader if hasattr(run.train_loader, "state_dict") else None
        state = {name: obj.state_dict() for name, obj in self.state.items()}
        extra = {"epoch": epoch + 1, "logs": json_safe(dict(logs)),
                 "history": run.history.to_dict(), "state": state}  # fmt: skip
        return to_bytes(model=run.model, optimizer=run.optimizer, scheduler=run.scheduler,
                        loader=loader, extra=extra)  # fmt: skip

    def _save(self, path: str, data: bytes) -> None:
        self.run.files.write(path, data)
        self.saved.append(path)

    def on_epoch_end(self, epoch, logs=None):
        data = None  # taken once: an epoch's best and last checkpoints are the same bytes
        if self.save_best:
            value = monitored(logs, self.monitor, "ModelCheckpoint")
            if math.isfinite(value) and better(value, self.best, self.mode):
                self.best = value
                data = self._state(epoch, logs)
                self._save(self.best_path, data)
        if self.every and (epoch + 1) % self.every == 0:
            data = data or self._state(epoch, logs)
            self._save(self.path.format(epoch=epoch + 1), data)
