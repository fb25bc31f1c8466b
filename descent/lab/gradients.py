"""The gradient as one flat float64 vector, and what the lab measures with it.

Comparing directions (the cosine between a mini-batch gradient and the full-batch
one) and differencing gradients (the Hessian-vector products behind `sharpness`)
both need the gradient of every parameter laid end to end, in float64 so that the
arithmetic on it adds no rounding of its own. `flat_grad` is that vector,
`loss_gradient` computes it for a batch, and `gradient_probe` reads the noise of
mini-batch gradients off it: their cosine with the full gradient, the spread of the loss
change they cause, and the gradient noise scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from descent.train.state import preserved

GRAD_COSINE_BATCHES = 16
"""Mini-batches whose gradients are compared with the full-batch gradient at a point."""


def flat_grad(params) -> np.ndarray:
    """Every parameter's `.grad` raveled and concatenated, as float64; zeros where None."""
    return np.concatenate(
        [
            np.zeros(p.numel()) if p.grad is None else p.grad.numpy().ravel().astype(np.float64)
            for p in params
        ]
    )


def loss_gradient(model, loss_fn, x, y, params=None) -> np.ndarray:
    """`flat_grad` of `loss_fn(model(x), y)` in `params` (by default all of the model's),
    from gradients set to None first. The parameters' `.grad` hold it afterwards."""
    params = list(model.parameters()) if params is None else params
    for p in params:
        p.grad = None
    loss_fn(model(x), y).backward()
    return flat_grad(params)


@dataclass(frozen=True)
class GradientProbe:
    """What mini-batch gradients of one size say at one point of the weights.

    `cosine`: the mean cosine between a mini-batch gradient g_B and the full-batch
    gradient G (1 for batch descent). `gradient_noise`: E|g_B - G|^2 / |G|^2, how far the
    update's direction strays from the full-batch one relative to its size, whatever the
    learning rate: 0 for batch descent, largest for stochastic descent (it is B_simple / B
    with the finite-population correction). `loss_step_noise`: the spread (standard deviation)
    across mini-batches of the first-order change of the training loss that one SGD step
    makes, lr G.g_B: 0 for batch descent, and near 0 when the weights hardly move, however
    different the samples (NaN for optimizers other than SGD, whose step is not lr g_B).
    `noise_scale`: the gradient noise scale B_simple = tr(Sigma) / |G|^2 (McCandlish et al.
    2018), Sigma the covariance of per-sample gradients; it predicts the critical batch
    size, below which a larger batch saves updates nearly in proportion and above which it
    mostly wastes samples.
    """

    cosine: float
    gradient_noise: float
    loss_step_noise: float
    noise_scale: float


def gradient_probe(model, loss_fn, x, y, batch_size: int, lr: float = math.nan,
                   batches: int = GRAD_COSINE_BATCHES, seed=0) -> GradientProbe:  # fmt: skip
    """A `GradientProbe` at the model's current weights, from the full-batch gradient and
    `batches` mini-batches of `batch_size` drawn without replacement (half the data when
    `batch_size` covers it all, for the noise scale alone) by `np.random.default_rng(seed)`.

    tr(Sigma) comes from E|g_B - G|^2 = tr(Sigma) / B (n - B) / (n - 1), which holds for a
    loss that averages over samples. The weights, buffers, gradients and descent's random
    generator are left as they were; NaN where a gradient is not finite or G is zero.
    """
    n = int(np.shape(getattr(x, "data", x))[0])
    whole = batch_size >= n
    size = max(n // 2, 1) if whole else batch_size
    generator = np.random.default_rng(seed)
    with preserved(model):
        full = loss_gradient(model, loss_fn, x, y)
        grads = []
        for _ in range(batches if size < n else 0):
            rows = generator.choice(n, size, replace=False)
            grads.append(loss_gradient(model, loss_fn, x[rows], y[rows]))
    square = float(full @ full)
    if not (np.isfinite(full).all() and square > 0):
        return GradientProbe(math.nan, math.nan, math.nan, math.nan)
    grads = np.array(grads).reshape(len(grads), full.size)
    spread = float(np.mean(np.sum((grads - full) ** 2, axis=1))) if len(grads) else math.nan
    trace = spread * size * (n - 1) / (n - size) if size < n else math.nan
    if whole:
        return GradientProbe(1.0, 0.0, 0.0 if math.isfinite(lr) else math.nan, trace / square)
    cosines = grads @ full / (np.linalg.norm(grads, axis=1) * math.sqrt(square))
    step = lr * float(np.std(grads @ full, ddof=1)) if len(grads) > 1 else math.nan
    values = (float(np.mean(cosines)), spread / square, step, trace / square)
    return GradientProbe(*(v if math.isfinite(v) else math.nan for v in values))


def gradient_cosine(model, loss_fn, x, y, batch_size: int,
                    batches: int = GRAD_COSINE_BATCHES, seed: int = 0) -> float:  # fmt: skip
    """The mean cosine between mini-batch gradients and the full-batch gradient, at the
    model's current weights: 1 for batch descent, lower the noisier the updates
    (`gradient_probe`'s cosine). For SGD the update direction is minus that gradient;
    for adaptive optimizers it is the gradient the update is built from.
    """
    return gradient_probe(model, loss_fn, x, y, batch_size, batches=batches, seed=seed).cosine
