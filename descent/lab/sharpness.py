"""Sharpness: the top eigenvalue of the loss's Hessian with respect to all parameters.

Gradient descent on a quadratic overshoots along any direction whose curvature exceeds
its stability limit (2/lr for plain SGD; see `stability`); on networks the sharpness
rises to about that limit and hovers there (the edge of stability, Cohen et al. 2021).

descent has no double backward (`create_graph` is refused), so a Hessian-vector
product is a central difference of gradients,

    H v ~ (g(w + eps v) - g(w - eps v)) / (2 eps),

taken on a float64 copy of the model with eps = 1e-8 |w|. In float32 the step had to be
about 1e-3 |w|, which crossed ReLU kinks and read a ReLU network's sharpness 19% high at
initialization; in float64 the step is 10^5 times smaller, the difference is exact to
about 1e-7 for a smooth loss, and a kink is almost never crossed. Lanczos on those
products (`lanczos`) gives the top eigenvalue with a bound on its error.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from descent.files import json_safe
from descent.lab.gradients import loss_gradient
from descent.lab.lanczos import Eigenvalue, extreme_eigenvalues
from descent.lab.stability import stability_limit
from descent.optim import OPTIMIZERS
from descent.random import set_rng_state
from descent.tensor import Tensor, wrap
from descent.train import Callback
from descent.train.state import preserved

STEP = 1e-8
"""The finite-difference step, relative to the weights' norm (about sqrt(float64 eps):
rounding in the difference stays near 1e-8 relative, truncation is far below it)."""


def as_float64(value) -> Tensor:
    """Floating-point data as a float64 Tensor; integer labels stay as they are."""
    array = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
    return wrap(array.astype(np.float64) if array.dtype.kind == "f" else array)


def top_eigenvalue(model, loss_fn, x, y, iterations: int = 50, tol: float = 1e-4,
                   seed: int = 0) -> Eigenvalue:  # fmt: skip
    """The top (most positive) eigenvalue of the Hessian of `loss_fn(model(x), y)` in all
    trainable parameters, with the residual that bounds its error (see `Eigenvalue`).

    Args:
        model, loss_fn: as for `descent.train.fit`.
        x, y: the batch the loss is measured on (the whole training set for the
            sharpness that full-batch gradient descent sees); arrays or Tensors.
        iterations: the most Lanczos steps (each costs two backward passes).
        tol: stop when the residual is at most `tol` times the spectrum's scale.
        seed: seeds the random start vector.

    The model is copied and cast to float64; its parameters, buffers, gradients and
    descent's random generator are left as they were. Every gradient is taken with the
    same random state, so a dropout layer draws the same mask each time.
    """
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)):
        raise TypeError(f"sharpness: {iterations=} must be an integer >= 1")
    if iterations < 1:
        raise ValueError(f"sharpness: {iterations=} must be >= 1")
    if not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"sharpness: {tol=} must be a finite number >= 0")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("sharpness: the model has no trainable parameters")
    with preserved(model) as saved:
        twin = copy.deepcopy(model).double()
        params = [p for p in twin.parameters() if p.requires_grad]
        x, y = as_float64(x), as_float64(y)
        w0 = np.concatenate([p._data.ravel() for p in params])
        sizes = np.cumsum([0] + [p._data.size for p in params])
        eps = STEP * max(float(np.linalg.norm(w0)), 1.0)

        def gradient(w: np.ndarray) -> np.ndarray:
            for p, a, b in zip(params, sizes[:-1], sizes[1:]):
                p._data[...] = w[a:b].reshape(p.shape)
            set_rng_state(saved.rng)  # the same dropout mask for every gradient
            return loss_gradient(twin, loss_fn, x, y, params)

        def hvp(v: np.ndarray) -> np.ndarray:
            return (gradient(w0 + eps * v) - gradient(w0 - eps * v)) / (2 * eps)

        try:
            top, _ = extreme_eigenvalues(hvp, w0.size, int(iterations), tol, seed)
        except FloatingPointError as error:
            raise FloatingPointError(f"sharpness: {error}") from None
    return top


def sharpness(
    model, loss_fn, x, y, iterations: int = 50, tol: float = 1e-4, seed: int = 0
) -> float:
    """The top eigenvalue of the Hessian of `loss_fn(model(x), y)`: `top_eigenvalue`'s
    value, for those who need only the number (its arguments are the same)."""
    return top_eigenvalue(model, loss_fn, x, y, iterations, tol, seed).value


def optimizer_limit(optimizer) -> float:
    """`stability_limit` of an optimizer object, from its class and first parameter group."""
    names = {cls: name for name, cls in OPTIMIZERS.items()}
    group = optimizer.param_groups[0]
    return stability_limit(names.get(type(optimizer), ""), float(group["lr"]), group)


class SharpnessTracker(Callback):
    """Measure the sharpness every `every` epochs of `fit`, beside the stability limit.

    `x, y` is a fixed batch (a subset of the training data keeps each measurement to
    a few dozen backward passes); `iterations`, `tol` and `seed` are `top_eigenvalue`'s.
    `records` holds one dict per measurement: epoch, update, sharpness (NaN where the
    loss was not finite), residual (some eigenvalue lies within it of the sharpness),
    lr, 2/lr, and edge_of_stability, the optimizer's `stability_limit` ((2 + 2 momentum)
    / lr for heavy ball; NaN for adaptive optimizers). `to_dict()` is JSON-safe.
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
            found = top_eigenvalue(run.model, run.loss_fn, self.x, self.y, self.iterations,
                                   self.tol, self.seed)  # fmt: skip
            value, residual = found.value, found.residual
        except FloatingPointError:
            value = residual = math.nan  # the weights have diverged; the loss curve says so
        self.records.append({"epoch": epoch, "update": run.history.steps, "sharpness": value,
                             "residual": residual, "lr": lr, "two_over_lr": 2.0 / lr,
                             "edge_of_stability": optimizer_limit(run.optimizer)})  # fmt: skip

    def on_train_begin(self, logs=None):
        if not self.records:
            self._measure(self.run.history.epochs)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self._measure(epoch + 1)

    def to_dict(self) -> dict:
        return json_safe({"every": self.every, "samples": len(self.x), "records": self.records})
