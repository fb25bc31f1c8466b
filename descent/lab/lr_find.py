"""The learning-rate range test (Smith, "Cyclical Learning Rates for Training Neural Nets", 2017).

The learning rate grows exponentially from `start_lr` to `end_lr`, one mini-batch
per value; the loss is smoothed by an exponential moving average with bias
correction, and the sweep stops once the smoothed loss is not finite or exceeds
`diverge_factor` times the best seen. The suggested learning rate is where the
smoothed loss falls fastest per unit of log learning rate, before its minimum.
The model, the optimizer, the loader's position and descent's random generator
are left exactly as they were.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from descent.files import json_safe
from descent.train.divergence import divergence
from descent.train.state import preserved


@dataclass
class LRFindResult:
    """What a range test measured, one entry per step taken (all lists have one length).

    `diverged_at` is the learning rate at which the sweep stopped on divergence, or
    None when it ran to `end_lr`. `suggested_lr` is None when no step went down.
    """

    lrs: list[float]
    losses: list[float]
    smoothed_losses: list[float]
    suggested_lr: float | None
    reason: str
    diverged_at: float | None

    def to_dict(self) -> dict:
        """A JSON-safe dict: a loss that is NaN or infinite becomes None."""
        return json_safe(asdict(self))


def _check(start_lr, end_lr, num_steps, smoothing, diverge_factor) -> None:
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)):
        raise TypeError(f"lr_find: {num_steps=} must be an integer >= 2")
    if num_steps < 2:
        raise ValueError(f"lr_find: {num_steps=} must be >= 2 (a sweep needs two points)")
    if not (math.isfinite(start_lr) and start_lr > 0):
        raise ValueError(f"lr_find: {start_lr=} must be a finite number > 0 (the sweep is in log)")
    if not (math.isfinite(end_lr) and end_lr > start_lr):
        raise ValueError(
            f"lr_find: start_lr must be < end_lr, got {start_lr=} and {end_lr=}; the sweep "
            "goes up from start_lr to end_lr"
        )
    if not 0 < smoothing <= 1:
        raise ValueError(f"lr_find: {smoothing=} must be in (0, 1]; 1 means no smoothing")
    if not diverge_factor > 1:
        raise ValueError(f"lr_find: {diverge_factor=} must be > 1")


class _Cycle:
    """Batches from `loader`, starting it again whenever it runs out."""

    def __init__(self, loader) -> None:
        self.loader, self.iterator = loader, iter(loader)

    def next(self):
        try:
            return next(self.iterator)
        except StopIteration:
            self.close()
            self.iterator = iter(self.loader)
            try:
                return next(self.iterator)
            except StopIteration:
                raise ValueError(
                    "lr_find: the loader yielded no batches; pass a loader with at least one "
                    "(x, y) batch"
                ) from None

    def close(self) -> None:
        close = getattr(self.iterator, "close", None)
        if close is not None:
            close()


def suggest(lrs, smoothed, smoothing: float = 0.05) -> tuple[float | None, str]:
    """Half the lowest learning rate at which `smoothed` had made 90% of its fall, from the
    sweep's start to its minimum.

    Neither the minimum nor the steepest fall is a rate to train at: the smoothed loss lags
    the rate (its average spans ~1/smoothing steps, and momentum carries earlier steps on),
    so its minimum sits where training is already unstable, or, on a small data set the
    sweep memorises, at the sweep's end; its steepest fall is noise-ridden. Measured on the
    10 built-ins at batch sizes 32 and full with `descent lr-find`'s 300-step sweep, training
    at this rate scored within two points of the default rate on all 20, one point on 19
    (the steepest fall's rate: within one point on 12 of 20; a tenth of the minimum's, 15).
    At batch size 1 a sweep of 300 single samples is too noisy for any of them. The
    steepest fall is reported beside it.
    """
    lrs, smoothed = np.asarray(lrs, float), np.asarray(smoothed, float)
    bad = np.flatnonzero(~np.isfinite(smoothed))
    end = int(bad[0]) if bad.size else smoothed.size  # the finite points before any NaN or Inf
    if end == 0:
        return None, "no finite loss was measured: even start_lr diverged; lower start_lr"
    lrs, smoothed = lrs[:end], smoothed[:end]
    best = int(np.argmin(smoothed))
    if best < 2:
        return None, (
            f"the smoothed loss was lowest at step {best} (lr={lrs[best]:.3g}) and never fell "
            "after; lower start_lr"
        )
    slopes = np.gradient(smoothed[: best + 1], np.log10(lrs[: best + 1]))
    # The first ~1/smoothing points average only a few noisy losses, so their slopes are
    # noise (fastai skips the first 10 points for the same reason); keep at least half.
    skip = min(round(1 / smoothing), best // 2)
    steepest = skip + int(np.argmin(slopes[skip:]))
    if slopes[steepest] >= 0:
        return None, "the smoothed loss never fell; lower start_lr or check the model"
    fallen = smoothed[best] + 0.1 * (smoothed[0] - smoothed[best])
    reached = int(np.flatnonzero(smoothed[: best + 1] <= fallen)[0])
    lr = float(lrs[reached]) / 2
    return lr, (
        f"half of lr={lrs[reached]:.3g}, where the smoothed loss had made 90% of its fall from "
        f"{smoothed[0]:.4g} to its minimum {smoothed[best]:.4g} (at lr={lrs[best]:.3g}); its "
        f"steepest descent ({slopes[steepest]:.3g} per decade of lr) was at "
        f"lr={lrs[steepest]:.3g}"
    )


def lr_find(
    model,
    loss_fn,
    optimizer,
    loader,
    start_lr: float = 1e-7,
    end_lr: float = 10,
    num_steps: int = 100,
    smoothing: float = 0.05,
    diverge_factor: float = 4.0,
) -> LRFindResult:
    """Sweep the learning rate exponentially over mini-batches and suggest one.

    Args:
        model, loss_fn, optimizer: as for `descent.train.fit`; every param group of
            `optimizer` gets the swept learning rate.
        loader: yields (x, y) batches; started again when it runs out.
        start_lr, end_lr: the sweep's ends (0 < start_lr < end_lr).
        num_steps: the number of learning rates (and updates), >= 2.
        smoothing: the weight of the newest loss in the moving average (1 - beta).
        diverge_factor: stop when the smoothed loss exceeds this times the best one.

    Returns:
        An `LRFindResult`. Afterwards the model's parameters, buffers, gradients and
        modes, the optimizer's state and learning rates, the loader's position (for a
        loader with `state_dict`) and descent's random generator are as before.
    """
    _check(start_lr, end_lr, num_steps, smoothing, diverge_factor)
    ratio = end_lr / start_lr
    lrs, losses, smoothed = [], [], []
    average, best, diverged_at = 0.0, math.inf, None
    beta = 1.0 - smoothing
    with preserved(model, optimizer, loader):
        batches = _Cycle(loader)
        try:
            model.train()
            for step in range(num_steps):
                lr = start_lr * ratio ** (step / (num_steps - 1))
                for group in optimizer.param_groups:
                    group["lr"] = lr
                x, y = batches.next()
                loss = loss_fn(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                value = float(loss.item())
                average = beta * average + (1 - beta) * value
                smooth = average / (1 - beta ** (step + 1))
                lrs.append(lr)
                losses.append(value)
                smoothed.append(smooth)
                if divergence(smooth, best, diverge_factor) is not None:
                    diverged_at = lr
                    break
                best = min(best, smooth)
        finally:
            batches.close()  # before the loader's position is put back

    suggested, reason = suggest(lrs, smoothed, smoothing)
    if diverged_at is not None:
        reason += f"; the loss diverged at lr={diverged_at:.3g}"
    return LRFindResult(lrs, losses, smoothed, suggested, reason, diverged_at)
