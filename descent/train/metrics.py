"""Metrics for `fit`: each takes (predictions, targets) as arrays and returns a float."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

Metric = Callable[[np.ndarray, np.ndarray], float]


def _labels(pred: np.ndarray) -> np.ndarray:
    if pred.ndim >= 2 and pred.shape[-1] > 1:
        return pred.argmax(axis=-1)
    return (pred.reshape(pred.shape[0], -1)[:, 0] > 0).astype(np.int64)  # one logit: binary


def accuracy(pred: np.ndarray, target: np.ndarray) -> float:
    """The fraction of samples whose argmax of the logits equals the integer label."""
    target = np.asarray(target)
    if target.ndim >= 2 and target.shape[-1] > 1:  # one-hot targets
        target = target.argmax(axis=-1)
    if not np.issubdtype(target.dtype, np.integer):
        if not np.all(target == np.round(target)):
            raise ValueError(
                "accuracy: the targets are not class labels (non-integer values); for "
                "regression pass metrics=('mse', 'mae', 'r2') to fit"
            )
    return float(np.mean(_labels(np.asarray(pred)) == target.reshape(-1)))


def _aligned(pred, target) -> tuple[np.ndarray, np.ndarray]:
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    if pred.size != target.size:
        raise ValueError(
            f"regression metric: predictions of shape {pred.shape} do not match targets of "
            f"shape {target.shape}"
        )
    return pred.reshape(-1), target.reshape(-1)


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error."""
    pred, target = _aligned(pred, target)
    return float(np.mean((pred - target) ** 2))


def mae(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute error."""
    pred, target = _aligned(pred, target)
    return float(np.mean(np.abs(pred - target)))


def r2(pred: np.ndarray, target: np.ndarray) -> float:
    """Coefficient of determination, 1 - SS_res / SS_tot (0 for a constant target fit exactly)."""
    pred, target = _aligned(pred, target)
    total = float(np.sum((target - target.mean()) ** 2))
    residual = float(np.sum((target - pred) ** 2))
    if total == 0.0:
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


METRICS: dict[str, Metric] = {"accuracy": accuracy, "mse": mse, "mae": mae, "r2": r2}


def resolve(metrics) -> dict[str, Metric]:
    """Turn names, callables or a {name: callable} mapping into {name: callable}."""
    if metrics is None:
        return {}
    if isinstance(metrics, Mapping):
        return dict(metrics)
    if isinstance(metrics, str) or callable(metrics):
        metrics = (metrics,)
    out: dict[str, Metric] = {}
    for metric in metrics if isinstance(metrics, Iterable) else (metrics,):
        if isinstance(metric, str):
            if metric not in METRICS:
                raise ValueError(f"unknown metric {metric!r}; known: {sorted(METRICS)}")
            out[metric] = METRICS[metric]
        elif callable(metric):
            out[getattr(metric, "__name__", type(metric).__name__)] = metric
        else:
            raise TypeError(f"a metric is a name or a callable(pred, target), got {metric!r}")
    for name in out:
        if name == "loss" or name.startswith("val_"):
            raise ValueError(f"metric name {name!r} clashes with fit's own log keys")
    return out
