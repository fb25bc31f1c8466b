"""`Standardizer`: zero mean, unit variance per feature, fitted on the training split only."""

from __future__ import annotations

import numpy as np

from descent.data.dataset import TensorDataset
from descent.tensor import Tensor, wrap


def _values(data, array: int) -> np.ndarray:
    if isinstance(data, TensorDataset):
        return data.arrays[array]
    if isinstance(data, Tensor):
        return data._data
    return np.asarray(data)


class Standardizer:
    """x' = (x - mean) / std per feature (column), as scikit-learn's `StandardScaler`.

    The statistics come from `fit` on the training data only; `transform` applies
    them to any split. A feature with zero variance gets scale 1, so it becomes 0
    instead of NaN. Accepts arrays, Tensors, or a `TensorDataset`, of which it scales
    the array numbered `array`: 0, the features, or 1, a regression's targets (scikit-
    learn's `TransformedTargetRegressor`); returns the same kind it was given.
    """

    def __init__(self, array: int = 0):
        self.array = array
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def fit(self, data) -> Standardizer:
        x = _values(data, self.array)
        if x.ndim < 2 or x.shape[0] == 0:
            raise ValueError(f"Standardizer.fit: needs (samples, features) data, got {x.shape}")
        if x.dtype.kind not in "fiu":
            raise TypeError(f"Standardizer.fit: features must be numeric, got {x.dtype}")
        bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=0)
        if bad.any():
            raise ValueError(
                f"Standardizer.fit: feature column {int(np.argmax(bad))} holds NaN or infinity; "
                "remove or impute missing values first"
            )
        x64 = x.astype(np.float64)  # statistics in float64, applied in the data's dtype
        self.mean = x64.mean(axis=0)
        std = x64.std(axis=0)
        self.scale = np.where(std > 0, std, 1.0)
        return self

    def _check(self, x: np.ndarray) -> None:
        if self.mean is None:
            raise RuntimeError("Standardizer: call fit(train) before transform")
        if x.shape[1:] != self.mean.shape:
            raise ValueError(
                f"Standardizer: fitted on features of shape {self.mean.shape}, got {x.shape[1:]}"
            )

    def _apply(self, data, fn):
        x = _values(data, self.array)
        self._check(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        out = fn(x.astype(np.float64)).astype(dtype)
        if isinstance(data, TensorDataset):
            arrays = list(data.arrays)
            arrays[self.array] = out
            return data._replace(arrays)
        return wrap(out) if isinstance(data, Tensor) else out

    def transform(self, data):
        return self._apply(data, lambda x: (x - self.mean) / self.scale)

    def inverse_transform(self, data):
        return self._apply(data, lambda x: x * self.scale + self.mean)

    def fit_transform(self, data):
        return self.fit(data).transform(data)

    def state_dict(self) -> dict:
        """The fitted statistics as JSON-safe lists."""
        if self.mean is None:
            raise RuntimeError("Standardizer: nothing to save before fit")
        return {
            "shape": list(self.mean.shape),
            "mean": self.mean.ravel().tolist(),
            "scale": self.scale.ravel().tolist(),
        }

    def load_state_dict(self, state: dict) -> None:
        shape = tuple(int(s) for s in state["shape"])
        mean = np.asarray(state["mean"], dtype=np.float64)
        scale = np.asarray(state["scale"], dtype=np.float64)
        if mean.size != int(np.prod(shape)) or scale.size != mean.size:
            raise ValueError(f"Standardizer.load_state_dict: sizes do not match shape {shape}")
        if not (scale > 0).all():
            raise ValueError("Standardizer.load_state_dict: every scale must be > 0")
        self.mean, self.scale = mean.reshape(shape), scale.reshape(shape)
