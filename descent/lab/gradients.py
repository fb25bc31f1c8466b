"""The gradient as one flat float64 vector, and what the lab measures with it.

Comparing directions (the cosine between a mini-batch gradient and the full-batch
one) and differencing gradients (the Hessian-vector products behind `sharpness`)
both need the gradient of every parameter laid end to end, in float64 so that the
arithmetic on it adds no rounding of its own. `flat_grad` is that vector,
`loss_gradient` computes it for a batch.
"""

from __future__ import annotations

import math

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


def gradient_cosine(model, loss_fn, x, y, batch_size: int,
                    batches: int = GRAD_COSINE_BATCHES, seed: int = 0) -> float:  # fmt: skip
    """The mean cosine between mini-batch gradients and the full-batch gradient, at the
    model's current weights: 1 for batch descent, lower the noisier the updates.

    `batches` mini-batches of `batch_size` samples are drawn without replacement by a
    generator seeded with `seed`. For SGD the update direction is minus that gradient;
    for adaptive optimizers it is the gradient the update is built from. The model's
    weights, buffers, gradients and descent's random generator are left as they were.
    Returns NaN when the full-batch gradient is zero or not finite.
    """
    n = int(np.shape(getattr(x, "data", x))[0])
    with preserved(model):
        full = loss_gradient(model, loss_fn, x, y)
        if batch_size >= n:
            return 1.0 if np.isfinite(full).all() and full.any() else math.nan
        generator, cosines = np.random.default_rng(seed), []
        for _ in range(batches):
            rows = generator.choice(n, batch_size, replace=False)
            g = loss_gradient(model, loss_fn, x[rows], y[rows])
            cosines.append(float(g @ full) / (np.linalg.norm(g) * np.linalg.norm(full) or math.nan))
        value = float(np.mean(cosines))
        return value if math.isfinite(value) else math.nan
