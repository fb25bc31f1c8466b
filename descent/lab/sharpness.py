"""Sharpness: the top eigenvalue of the loss's Hessian with respect to all parameters.

Gradient descent on a quadratic with step `lr` overshoots along any direction whose
curvature exceeds 2/lr; on networks the sharpness rises to about 2/lr and hovers
there (the edge of stability, Cohen et al. 2021). descent has no double backward,
so a Hessian-vector product is a central difference of gradients,

    H v ~ (g(w + eps v) - g(w - eps v)) / (2 eps),

exact up to rounding for a quadratic loss, with eps scaled to the weights' norm.
Power iteration on H v converges to the eigenvalue of largest magnitude.
"""

from __future__ import annotations

import math

import numpy as np

from descent.files import json_safe
from descent.lab.gradients import loss_gradient
from descent.random import set_rng_state
from descent.tensor import Tensor, wrap
from descent.train import Callback
from descent.train.state import preserved


def _as_input(value, dtype) -> Tensor:
    if isinstance(value, Tensor):
        return value
    array = np.asarray(value)
    return wrap(array.astype(dtype) if array.dtype.kind == "f" else array)


def sharpness(
    model, loss_fn, x, y, iterations: int = 50, tol: float = 1e-4, seed: int = 0
) -> float:
    """The top eigenvalue of the Hessian of `loss_fn(model(x), y)` in all trainable parameters.

    Args:
        model, loss_fn: as for `descent.train.fit`.
        x, y: the batch the loss is measured on (the whole training set for the
            sharpness that full-batch gradient descent sees); arrays or Tensors.
        iterations: the most power-iteration steps (each costs two backward passes).
        tol: stop when the estimate changes by at most `tol` times its size.
        seed: seeds the random start vector.

    Returns:
        The top (most positive) eigenvalue, as a Rayleigh quotient v.Hv. Power iteration
        finds the eigenvalue of largest magnitude; when that one is negative (a saddle,
        common at initialization), a second run on H - lambda I finds the top one. The
        model's parameters, buffers, gradients and descent's random generator are
        left as they were; every gradient is taken with the same random state, so a
        dropout layer draws the same mask each time.
    """
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)):
        raise TypeError(f"sharpness: {iterations=} must be an integer >= 1")
    if iterations < 1:
        raise ValueError(f"sharpness: {iterations=} must be >= 1")
    if not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"sharpness: {tol=} must be a finite number >= 0")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("sharpness: the model has no trainable parameters")
    dtype = np.result_type(*(p.dtype for p in params))
    work = np.float64 if dtype == np.float64 else np.float32
    x, y = _as_input(x, dtype), _as_input(y, dtype)

    w0 = np.concatenate([p._data.ravel().astype(np.float64) for p in params])
    sizes = np.cumsum([0] + [p._data.size for p in params])
    # cbrt(machine epsilon) balances the O(eps^2) truncation and O(u / eps) rounding errors
    eps = float(np.finfo(work).eps) ** (1 / 3) * max(float(np.linalg.norm(w0)), 1.0)

    with preserved(model) as saved:

        def gradient(w: np.ndarray) -> np.ndarray:
            for p, a, b in zip(params, sizes[:-1], sizes[1:]):
                p._data[...] = w[a:b].reshape(p.shape)
            set_rng_state(saved.rng)  # the same dropout mask for every gradient
            return loss_gradient(model, loss_fn, x, y, params)

        def hvp(v: np.ndarray) -> np.ndarray:
            return (gradient(w0 + eps * v) - gradient(w0 - eps * v)) / (2 * eps)

        largest = _power_iteration(hvp, w0.size, int(iterations), tol, seed)
        if largest >= 0:
            return largest
        # Every eigenvalue of H - largest * I is >= 0, and its top one is top - largest.
        shifted = _power_iteration(lambda v: hvp(v) - largest * v, w0.size, int(iterations),
                                   tol, seed)  # fmt: skip
        return shifted + largest


def _power_iteration(matvec, size: int, iterations: int, tol: float, seed: int) -> float:
    """The eigenvalue of largest magnitude of the symmetric map `matvec`, as v.Av."""
    v = np.random.default_rng(seed).standard_normal(size)
    v /= np.linalg.norm(v)
    estimate = math.nan
    for _ in range(iterations):
        av = matvec(v)
        previous, estimate = estimate, float(v @ av)
        if not math.isfinite(estimate):
            raise FloatingPointError(
                "sharpness: a Hessian-vector product is not finite; is the loss finite "
                "at these weights?"
            )
        norm = float(np.linalg.norm(av))
        if norm == 0:
            return 0.0  # A v = 0: v is in the null space; the loss is flat there
        v = av / norm
        if abs(estimate - previous) <= tol * abs(estimate):
            break
    return estimate


class SharpnessTracker(Callback):
    """Measure the sharpness every `every` epochs of `fit`, beside 2/lr.

    `x, y` is a fixed batch (a subset of the training data keeps each measurement to
    a few dozen backward passes); `iterations`, `tol` and `seed` are `sharpness`'s.
    `records` holds one dict per measurement: epoch, update, sharpness (NaN where the
    loss was not finite), lr and 2/lr; `to_dict()` is JSON-safe.
    """

    def __init__(self, x, y, every: int = 1, iterations: int = 20, seed: int = 0,
                 tol: float = 1e-4) -> None:  # fmt: skip
        if every < 1:
            raise ValueError(f"SharpnessTracker: {every=} must be >= 1")
        self.x, self.y, self.every = x, y, every
        self.iterations, self.tol, self.seed = iterations, tol, seed
        self.records: list[dict] = []

    def _measure(self, epoch: int) -> None:
        run = self.run
        lr = float(run.optimizer.param_groups[0]["lr"])
        try:
            value = sharpness(run.model, run.loss_fn, self.x, self.y,
                              self.iterations, self.tol, self.seed)  # fmt: skip
        except FloatingPointError:
            value = math.nan  # the weights have diverged; the loss curve says so
        self.records.append({"epoch": epoch, "update": run.history.steps, "sharpness": value,
                             "lr": lr, "two_over_lr": 2.0 / lr})  # fmt: skip

    def on_train_begin(self, logs=None):
        if not self.records:
            self._measure(self.run.history.epochs)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self._measure(epoch + 1)

    def to_dict(self) -> dict:
        return json_safe({"every": self.every, "samples": len(self.x), "records": self.records})
