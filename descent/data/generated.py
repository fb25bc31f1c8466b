"""Small synthetic problems, generated from a seed: each returns (features, targets)."""

from __future__ import annotations

import numpy as np


def moons(n_samples: int, noise: float, rng: np.random.Generator):
    """Two interleaving half circles (scikit-learn's `make_moons`)."""
    from sklearn.datasets import make_moons

    seed = int(rng.integers(2**31))
    x, y = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return x, y


def circles(n_samples: int, noise: float, rng: np.random.Generator, factor: float = 0.5):
    """A circle inside a larger one (scikit-learn's `make_circles`)."""
    from sklearn.datasets import make_circles

    seed = int(rng.integers(2**31))
    x, y = make_circles(n_samples=n_samples, noise=noise, factor=factor, random_state=seed)
    return x, y


def spirals(n_samples: int, noise: float, rng: np.random.Generator, num_classes: int = 2):
    """`num_classes` arms of an Archimedean spiral winding around the origin."""
    labels = np.arange(n_samples) % num_classes
    radius = rng.uniform(0.05, 1.0, n_samples)
    angle = 3.0 * np.pi * radius + 2.0 * np.pi * labels / num_classes
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    x += noise * rng.standard_normal(x.shape)
    return x, labels


def xor(n_samples: int, noise: float, rng: np.random.Generator):
    """Points in [-1, 1]^2, class 1 where the two coordinates have different signs."""
    x = rng.uniform(-1.0, 1.0, (n_samples, 2))
    labels = (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(np.int64)
    return x + noise * rng.standard_normal(x.shape), labels


def linear(n_samples: int, noise: float, rng: np.random.Generator, num_features: int = 3):
    """y = x @ w + b + noise, with x standard normal and w, b drawn once from the seed."""
    x = rng.standard_normal((n_samples, num_features))
    w = rng.uniform(-2.0, 2.0, num_features)
    b = rng.uniform(-1.0, 1.0)
    return x, x @ w + b + noise * rng.standard_normal(n_samples)
