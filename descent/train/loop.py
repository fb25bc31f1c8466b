"""`fit`: the training loop, and `evaluate` for validation.

The inner step is the textbook one (Chainer's `StandardUpdater.update_core`):
batch, forward, loss, zero grads, backward, step; callbacks' `on_after_backward` runs
between the last two (gradient clipping). Everything else (progress,
scheduler stepping, statistics, early stopping, the divergence guard,
checkpoints, logs) is a callback.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from descent.autograd import no_grad
from descent.files import FileWriter
from descent.train.callbacks import Callback, ProgressBar, SchedulerStep
from descent.train.history import History
from descent.train.metrics import resolve


def _array(value) -> np.ndarray:
    return np.asarray(getattr(value, "data", value))


def _size(x) -> int:
    return int(np.shape(getattr(x, "data", x))[0])


class EpochMeans:
    """The sample-weighted mean loss and the metrics of one epoch, batch by batch."""

    def __init__(self, metrics: dict) -> None:
        self.metrics, self.preds, self.targets = metrics, [], []
        self.total, self.count, self._last = 0.0, 0, None

    def add(self, loss: float, n: int, pred, target) -> None:
        self.total += loss * n
        self.count += n
        self._last = (loss, n)
        if self.metrics:
            self.preds.append(_array(pred))
            self.targets.append(_array(target))

    def discard_last(self) -> None:
        """Leave the last batch out: a guard undid its step (see `DivergenceGuard`)."""
        if self._last is not None:
            loss, n = self._last
            self.total, self.count, self._last = self.total - loss * n, self.count - n, None
            if self.preds:
                self.preds.pop()
                self.targets.pop()

    def results(self, prefix: str = "") -> dict[str, float]:
        means = {prefix + "loss": self.total / self.count if self.count else math.nan}
        if self.metrics and self.preds:
            pred, target = np.concatenate(self.preds), np.concatenate(self.targets)
            means |= {prefix + name: float(fn(pred, target)) for name, fn in self.metrics.items()}
        return means


@dataclass
class Run:
    """What the callbacks of one `fit` call can reach."""

    model: Any
    optimizer: Any
    scheduler: Any
    train_loader: Any
    val_loader: Any
    epochs: int
    history: History
    batches_per_epoch: int | None
    callbacks: list = field(default_factory=list)
    loss_fn: Any = None
    epoch_means: EpochMeans | None = None  # of the epoch in progress
    files: FileWriter = field(default_factory=FileWriter)
    """The run's files (checkpoints, logs) are written on its thread while training goes
    on; `fit` waits for them before it returns or raises."""

    def log(self, message: str) -> None:
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def evaluate(model, loss_fn, loader: Iterable, metrics=("accuracy",)) -> dict[str, float]:
    """The mean loss and the metrics of `model` over `loader`, in eval mode without grad."""
    means = EpochMeans(resolve(metrics))
    was_training = getattr(model, "training", True)
    model.eval()
    try:
        with no_grad():
            for x, y in loader:
                pred = model(x)
                means.add(float(loss_fn(pred, y).item()), _size(x), pred, y)
    finally:
        model.train(was_training)
    if means.count == 0:
        raise ValueError("evaluate: the loader served no batch")
    return means.results()


def fit(
    model,
    loss_fn,
    optimizer,
    train_loader: Iterable,
    epochs: int,
    val_loader: Iterable | None = None,
    scheduler=None,
    metrics: Sequence | dict | None = ("accuracy",),
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    initial_epoch: int = 0,
    history: History | None = None,
) -> History:
    """Train `model` for `epochs` passes over `train_loader`; return the `History`.

    Args:
        model: a `Module`; put in train mode for training, eval mode for validation.
        loss_fn: `loss_fn(prediction, target) -> scalar Tensor`, a mean over the batch.
        optimizer: an `Optimizer` over the model's parameters.
        train_loader, val_loader: iterables of (inputs, targets) batches, e.g. `DataLoader`s.
        scheduler: a learning-rate scheduler, stepped by a `SchedulerStep` callback: after
            every batch when its `interval` is "batch" (OneCycleLR, CyclicLR), after every
            epoch otherwise; ReduceLROnPlateau gets the validation loss (the training loss
            without validation).
        metrics: names ('accuracy', 'mse', 'mae', 'r2'), callables(pred, target) -> float,
            or {name: callable}; logged per epoch, with 'val_' versions when validating.
        callbacks: `Callback`s; one that sets `stop_training` ends the run after its batch
            or epoch. Every callback's `on_train_end` runs, even when training raises.
        progress: a tqdm bar per epoch (also quiet when stderr is not a terminal).
        initial_epoch, history: where a resumed run starts (Keras's `initial_epoch`)
            and the history it continues; see `resume`.
    """
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"fit: epochs={epochs!r} must be a whole number >= 0")
    if not 0 <= initial_epoch <= epochs:
        raise ValueError(f"fit: {initial_epoch=} must lie between 0 and epochs={epochs}")
    metrics = resolve(metrics)
    history = history if history is not None else History()
    try:
        batches = len(train_loader)  # type: ignore[arg-type]
    except TypeError:
        batches = None
    callbacks = [
        *([ProgressBar()] if progress else []),
        *([SchedulerStep(scheduler)] if scheduler is not None else []),
        *callbacks,
    ]
    run = Run(model, optimizer, scheduler, train_loader, val_loader, int(epochs), history,
              batches, callbacks, loss_fn)  # fmt: skip
    for callback in callbacks:
        callback.set_run(run)
        callback.stop_training = False

    def hook(name: str, *args) -> bool:
        for callback in callbacks:
            getattr(callback, name)(*args)
        return any(callback.stop_training for callback in callbacks)

    with contextlib.ExitStack() as ends:
        # last: after every on_train_end has queued its files; a write error does not hide
        # the error already on its way out (a divergence, a Ctrl-C), it is only warned of
        ends.push(lambda error_type, *_: run.files.close(raise_errors=error_type is None))
        ends.callback(model.train)
        for callback in reversed(callbacks):  # the stack unwinds them in list order
            ends.callback(callback.on_train_end, {})
        hook("on_train_begin", {})
        step = history.steps
        for epoch in range(int(initial_epoch), int(epochs)):
            hook("on_epoch_begin", epoch, {})
            start = time.perf_counter()
            epoch_lr = float(optimizer.param_groups[0]["lr"])
            model.train()
            run.epoch_means = means = EpochMeans(metrics)
            stop, batch_count = False, 0
            for batch, (x, y) in enumerate(train_loader):
                lr = float(optimizer.param_groups[0]["lr"])
                hook("on_batch_begin", step, {"epoch": epoch, "batch": batch})
                # -- the step ---------------------------------------------------------------
                pred = model(x)
                loss = loss_fn(pred, y)
                optimizer.zero_grad()
                loss.backward()
                hook("on_after_backward", step, {"epoch": epoch, "batch": batch})
                optimizer.step()
                # ----------------------------------------------------------------------------
                value, n = float(loss.item()), _size(x)
                means.add(value, n, pred, y)
                history.record_step(value, lr, n)
                logs = {"loss": value, "lr": lr, "batch_size": n, "epoch": epoch, "batch": batch}
                stop = hook("on_batch_end", step, logs)
                step += 1
                batch_count += 1
                if stop:
                    break
            if batch_count == 0:
                raise ValueError("fit: the training loader served no batch")
            logs = means.results()
            if val_loader is not None:
                val = evaluate(model, loss_fn, val_loader, metrics)
                logs |= {"val_" + k: v for k, v in val.items()}
            logs["lr"] = epoch_lr
            history.record_epoch(logs, time.perf_counter() - start)
            run.files.wait()  # the last epoch's files are on disk before this one's are queued
            if hook("on_epoch_end", epoch, dict(logs)) or stop:
                break
    return history


def resume(path, model, loss_fn, optimizer, train_loader, epochs: int, scheduler=None,
           state: Mapping[str, Any] | None = None, **fit_options) -> History:  # fmt: skip
    """Continue a run from a `ModelCheckpoint` file as if it had never stopped.

    The checkpoint restores the model, optimizer, scheduler, data-loader position
    and random state, and each object of `state` (by the name it was saved under
    with `ModelCheckpoint(state=...)`); the run goes on from the saved epoch up to
    `epochs`, with the saved history extended.
    """
    from descent.checkpoint import load

    loader = train_loader if hasattr(train_loader, "load_state_dict") else None
    extra = load(path, model=model, optimizer=optimizer, scheduler=scheduler, loader=loader,
                 rng=True)  # fmt: skip
    if "epoch" not in extra or "history" not in extra:
        raise ValueError(
            f"resume: {path} holds no epoch and history; write it with ModelCheckpoint"
        )
    saved = extra.get("state", {})
    for name, obj in (state or {}).items():
        if name not in saved:
            raise ValueError(f"resume: {path} holds no state {name!r}; it has {sorted(saved)}")
        obj.load_state_dict(saved[name])
    return fit(model, loss_fn, optimizer, train_loader, epochs, scheduler=scheduler,
               initial_epoch=int(extra["epoch"]), history=History.from_dict(extra["history"]),
               **fit_options)  # fmt: skip
