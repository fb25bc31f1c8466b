"""`fit`: the training loop, and `evaluate` for validation.

The inner step is the textbook one (Chainer's `StandardUpdater.update_core`):
batch, forward, loss, zero grads, backward, step. Everything else (progress,
early stopping, the divergence guard, checkpoints, logs) is a callback.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from descent.autograd import no_grad
from descent.optim.cyclic_lr import CyclicLR, OneCycleLR
from descent.optim.lr_scheduler import ReduceLROnPlateau
from descent.train.callbacks import Callback, ProgressBar
from descent.train.history import History
from descent.train.metrics import resolve

PER_BATCH_SCHEDULERS = (OneCycleLR, CyclicLR)


def steps_per_batch(scheduler) -> bool:
    """Whether `scheduler` is stepped after every batch (OneCycleLR, CyclicLR, or `per_batch`)."""
    return isinstance(scheduler, PER_BATCH_SCHEDULERS) or bool(getattr(scheduler, "per_batch", 0))


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

    def log(self, message: str) -> None:
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _array(value) -> np.ndarray:
    return np.asarray(getattr(value, "data", value))


def _size(x) -> int:
    return int(np.shape(getattr(x, "data", x))[0])


class _Outputs:
    """Predictions and targets of an epoch, batch by batch, for the metrics."""

    def __init__(self, metrics: dict) -> None:
        self.metrics, self.preds, self.targets = metrics, [], []

    def add(self, pred, target) -> None:
        if self.metrics:
            self.preds.append(_array(pred))
            self.targets.append(_array(target))

    def drop_last(self) -> None:
        if self.preds:
            self.preds.pop()
            self.targets.pop()

    def results(self, prefix: str = "") -> dict[str, float]:
        if not self.metrics or not self.preds:
            return {}
        pred, target = np.concatenate(self.preds), np.concatenate(self.targets)
        return {prefix + name: float(fn(pred, target)) for name, fn in self.metrics.items()}


def evaluate(model, loss_fn, loader: Iterable, metrics=("accuracy",)) -> dict[str, float]:
    """The mean loss and the metrics of `model` over `loader`, in eval mode without grad."""
    metrics = resolve(metrics)
    was_training = getattr(model, "training", True)
    model.eval()
    total, count, outputs = 0.0, 0, _Outputs(metrics)
    try:
        with no_grad():
            for x, y in loader:
                pred = model(x)
                n = _size(x)
                total += float(loss_fn(pred, y).item()) * n
                count += n
                outputs.add(pred, y)
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("evaluate: the loader served no batch")
    return {"loss": total / count, **outputs.results()}


def _measure_before(named) -> list[tuple[str, Any, np.ndarray, float]]:
    """Each parameter's gradient norm and a copy of its weights, before the last step."""
    out = []
    for name, p in named:
        grad_norm = float(np.linalg.norm(p._grad._data)) if p._grad is not None else math.nan
        out.append((name, p, p._data.copy(), grad_norm))
    return out


def _measure_after(before, history: History) -> None:
    for name, p, old, grad_norm in before:
        weight = float(np.linalg.norm(old))
        delta = float(np.linalg.norm(p._data - old))
        ratio = delta / weight if weight > 0 else (0.0 if delta == 0 else math.inf)
        history.grad_norm.setdefault(name, []).append(grad_norm)
        history.update_ratio.setdefault(name, []).append(ratio)


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
        scheduler: stepped after every batch for OneCycleLR and CyclicLR (or any with
            `per_batch = True`), after every epoch otherwise; ReduceLROnPlateau gets
            the validation loss (the training loss without validation).
        metrics: names ('accuracy', 'mse', 'mae', 'r2'), callables(pred, target) -> float,
            or {name: callable}; logged per epoch, with 'val_' versions when validating.
        callbacks: `Callback`s; one that sets `stop_training` ends the run after its epoch.
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
    callbacks = list(callbacks)
    if progress:
        callbacks.insert(0, ProgressBar(disable=None))
    run = Run(model, optimizer, scheduler, train_loader, val_loader, int(epochs), history,
              batches, callbacks, loss_fn)  # fmt: skip
    for callback in callbacks:
        callback.set_run(run)
        callback.stop_training = False
    per_batch = scheduler is not None and steps_per_batch(scheduler)
    named = list(model.named_parameters())
    step = len(history.step_loss)

    def hook(name: str, *args) -> bool:
        for callback in callbacks:
            getattr(callback, name)(*args)
        return any(callback.stop_training for callback in callbacks)

    hook("on_train_begin", {})
    try:
        for epoch in range(int(initial_epoch), int(epochs)):
            hook("on_epoch_begin", epoch, {})
            start = time.perf_counter()
            epoch_lr = float(optimizer.param_groups[0]["lr"])
            model.train()
            total, count, outputs = 0.0, 0, _Outputs(metrics)
            stop, batch_count = False, 0
            for batch, (x, y) in enumerate(train_loader):
                last = batch == (batches - 1 if batches else 0)
                lr = float(optimizer.param_groups[0]["lr"])
                # -- the step ------------------------------------------------------------
                pred = model(x)
                loss = loss_fn(pred, y)
                optimizer.zero_grad()
                loss.backward()
                before = _measure_before(named) if last else None
                optimizer.step()
                # -------------------------------------------------------------------------
                if before is not None:
                    _measure_after(before, history)
                if per_batch:
                    scheduler.step()
                value, n = float(loss.item()), _size(x)
                total += value * n
                count += n
                history.samples_seen += n
                history.step_loss.append(value)
                history.step_lr.append(lr)
                outputs.add(pred, y)
                logs = {"loss": value, "lr": lr, "batch_size": n, "epoch": epoch, "batch": batch}
                if hook("on_batch_end", step, logs):
                    stop = True
                if logs.get("rolled_back"):  # a guard undid this step: leave it out of the means
                    total, count = total - value * n, count - n
                    outputs.drop_last()
                step += 1
                batch_count += 1
                if stop:
                    break
            if count == 0 and batch_count == 0:
                raise ValueError("fit: the training loader served no batch")
            logs = {"loss": total / count if count else math.nan, **outputs.results()}
            if val_loader is not None:
                val = evaluate(model, loss_fn, val_loader, metrics)
                logs.update({"val_" + k: v for k, v in val.items()})
            logs["lr"] = epoch_lr
            if scheduler is not None and not per_batch:
                if isinstance(scheduler, ReduceLROnPlateau):
                    scheduler.step(logs.get("val_loss", logs["loss"]))
                else:
                    scheduler.step()
            history.record_epoch(logs, time.perf_counter() - start)
            if hook("on_epoch_end", epoch, dict(logs)) or stop:
                break
    finally:
        model.train()
        for callback in callbacks:
            if isinstance(callback, ProgressBar):
                callback.on_train_end({})
    hook("on_train_end", {})
    return history


def resume(path, model, loss_fn, optimizer, train_loader, epochs: int, scheduler=None,
           **fit_options) -> History:  # fmt: skip
    """Continue a run from a `ModelCheckpoint` file as if it had never stopped.

    The checkpoint restores the model, optimizer, scheduler, data-loader position
    and random state; the run goes on from the saved epoch up to `epochs`, with
    the saved history extended.
    """
    from descent.checkpoint import load

    loader = train_loader if hasattr(train_loader, "load_state_dict") else None
    extra = load(path, model=model, optimizer=optimizer, scheduler=scheduler, loader=loader,
                 rng=True)  # fmt: skip
    if "epoch" not in extra or "history" not in extra:
        raise ValueError(
            f"resume: {path} holds no epoch and history; write it with ModelCheckpoint"
        )
    return fit(model, loss_fn, optimizer, train_loader, epochs, scheduler=scheduler,
               initial_epoch=int(extra["epoch"]), history=History.from_dict(extra["history"]),
               **fit_options)  # fmt: skip
