"""Data sets: the `Dataset` protocol, arrays held in memory, and labelled data with its task."""

from __future__ import annotations

import numpy as np

from descent.dtypes import get_default_dtype
from descent.tensor import Tensor, wrap


class Dataset:
    """A collection of samples: `len(ds)` and `ds[i]` for 0 <= i < len(ds).

    A subclass may also define `__getitems__(indices)` returning a whole batch at
    once (PyTorch's name); `DataLoader` uses it when present, instead of one
    `__getitem__` call per sample.
    """

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError


def _as_data_array(value, float_dtype) -> np.ndarray:
    """An array for a data set: floats in `float_dtype`, integers as int64, a Tensor kept as is."""
    if isinstance(value, Tensor):
        return value._data
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return array.astype(float_dtype, copy=False)
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    if array.dtype.kind == "b":
        return array
    raise TypeError(
        f"TensorDataset: arrays must be numeric, got dtype {array.dtype}; "
        "convert text or object columns to numbers first (see descent.data.read_csv)"
    )


def _check_finite(array: np.ndarray, position: int) -> None:
    """Refuse NaN and infinity, naming the first bad row and column."""
    if array.dtype.kind != "f" or np.isfinite(array).all():
        return
    where = np.argwhere(~np.isfinite(array))[0]
    row, column = int(where[0]), (int(where[1]) if array.ndim > 1 else None)
    place = f"row {row}" + (f", column {column}" if column is not None else "")
    raise ValueError(
        f"TensorDataset: array {position} holds {array[tuple(where)]} at {place}; "
        "remove or impute missing values before training"
    )


class TensorDataset(Dataset):
    """Samples taken along the first dimension of equally long arrays (features, targets, ...).

    Floating arrays become `dtype` (float32 unless told), integer arrays int64; a
    Tensor keeps its dtype. `ds[i]` and `ds.__getitems__(indices)` return a tuple
    of Tensors, one per array, gathered by fancy indexing on the whole arrays.
    """

    def __init__(self, *arrays, dtype=None):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array, e.g. TensorDataset(X, y)")
        float_dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        converted = tuple(_as_data_array(a, float_dtype) for a in arrays)
        sizes = [a.shape[0] if a.ndim else None for a in converted]
        if None in sizes:
            raise ValueError("TensorDataset: every array needs a first (sample) dimension")
        if len(set(sizes)) > 1:
            raise ValueError(
                f"TensorDataset: arrays have different first dimensions {sizes}; "
                "each array must hold one entry per sample"
            )
        for position, array in enumerate(converted):
            _check_finite(array, position)
        self.arrays = converted

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        return tuple(wrap(a[index]) for a in self.arrays)

    def __getitems__(self, indices) -> tuple[Tensor, ...]:
        indices = np.asarray(indices, dtype=np.intp)
        return tuple(wrap(np.take(a, indices, axis=0)) for a in self.arrays)

    def subset(self, indices) -> TensorDataset:
        """A new data set of the same kind holding the samples at `indices` (copied)."""
        indices = np.asarray(indices, dtype=np.intp)
        return self._replace(tuple(np.take(a, indices, axis=0) for a in self.arrays))

    def _replace(self, arrays) -> TensorDataset:
        out = object.__new__(type(self))
        out.__dict__.update(self.__dict__)
        out.arrays = tuple(arrays)
        return out

    def __repr__(self) -> str:
        parts = ", ".join(f"{a.shape} {a.dtype}" for a in self.arrays)
        return f"{type(self).__name__}({len(self)} samples: {parts})"


TASKS = ("classification", "regression")


class SupervisedDataset(TensorDataset):
    """Features and targets with what they are for: a `TensorDataset(features, targets)`.

    `task` is 'classification' (targets int64 class indices 0..num_classes-1, shape (N,))
    or 'regression' (targets float, shape (N, 1) to match a model's (N, 1) output).
    """

    def __init__(
        self,
        features,
        targets,
        task: str,
        num_classes: int | None = None,
        name: str = "",
        description: str = "",
        feature_names: list[str] | None = None,
        class_names: list[str] | None = None,
        dtype=None,
    ):
        if task not in TASKS:
            raise ValueError(f"{task=} must be one of {TASKS}")
        targets = np.asarray(targets._data if isinstance(targets, Tensor) else targets)
        if task == "classification":
            if targets.dtype.kind == "f" and not np.all(np.mod(targets, 1) == 0):
                raise ValueError("classification targets must be whole numbers (class indices)")
            targets = targets.astype(np.int64).reshape(-1)
            if num_classes is None:
                num_classes = int(targets.max()) + 1 if targets.size else 0
        else:
            targets = targets.astype(
                targets.dtype if targets.dtype.kind == "f" else get_default_dtype()
            )
            targets = targets.reshape(len(targets), -1)
            num_classes = None
        super().__init__(features, targets, dtype=dtype)
        self.task = task
        self.num_classes = num_classes
        self.name = name
        self.description = description
        self.feature_names = feature_names
        self.class_names = class_names

    @property
    def features(self) -> np.ndarray:
        return self.arrays[0]

    @property
    def targets(self) -> np.ndarray:
        return self.arrays[1]

    @property
    def num_features(self) -> int:
        return int(np.prod(self.features.shape[1:]))

    def __repr__(self) -> str:
        classes = f", {self.num_classes} classes" if self.task == "classification" else ""
        name = f"{self.name!r}, " if self.name else ""
        return (
            f"SupervisedDataset({name}{len(self)} samples, features {self.features.shape[1:]}, "
            f"{self.task}{classes})"
        )
