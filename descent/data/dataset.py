"""Data sets: the `Dataset` protocol, arrays held in memory, subsets, concatenations, and
labelled data with its task."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

import numpy as np

from descent.dtypes import get_default_dtype
from descent.tensor import Tensor, wrap


class Dataset:
    """A map-style data set: `ds[i]` for 0 <= i < len(ds), and `len(ds)` (torch's protocol).

    A subclass may also define `__getitems__(indices)` returning the list of samples at
    `indices` at once (torch's name); `DataLoader` then calls it once per batch and
    collates the list, instead of calling `__getitem__` once per sample.
    """

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


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
    Tensor keeps its dtype. `ds[i]` is a tuple of Tensors, one per array, as torch's
    `TensorDataset`; a `DataLoader` gathers a whole batch by fancy indexing on the
    arrays, with no per-sample Python loop. `ds.__getitems__(indices)` returns that
    batch as a tuple of stacked Tensors (descent's older batched form, not torch's
    list of samples).
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

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """The arrays as Tensors sharing their memory (torch's attribute)."""
        return tuple(wrap(a) for a in self.arrays)

    def __getitem__(self, index):
        return tuple(wrap(np.asarray(a[index])) for a in self.arrays)

    def _gather(self, indices) -> list[Tensor]:
        """The batch at `indices`, as `default_collate` makes it from the samples."""
        indices = np.asarray(indices, dtype=np.intp)
        return [wrap(np.take(a, indices, axis=0)) for a in self.arrays]

    def __getitems__(self, indices) -> tuple[Tensor, ...]:
        return tuple(self._gather(indices))

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


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order (nothing is copied)."""

    def __init__(self, dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices: list[int]) -> list:
        return fetch_samples(self.dataset, [self.indices[i] for i in indices])

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several data sets one after the other: sample i of the first, then of the second, ..."""

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        sizes, total = [], 0
        for dataset in self.datasets:
            total += len(dataset)
            sizes.append(total)
        self.cumulative_sizes = sizes

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise ValueError(
                    f"ConcatDataset: absolute value of {index=} should not exceed the "
                    f"dataset length {len(self)}"
                )
            index += len(self)
        part = bisect.bisect_right(self.cumulative_sizes, index)
        if part == len(self.datasets):
            raise IndexError(f"ConcatDataset: {index=} is out of range for {len(self)} samples")
        start = self.cumulative_sizes[part - 1] if part else 0
        return self.datasets[part][index - start]


def fetch_samples(dataset, indices: list[int]) -> list:
    """The samples at `indices`: one `__getitems__` call where the data set has torch's
    (a `TensorDataset`'s returns a stacked batch instead), else one `ds[i]` per index."""
    getitems = getattr(dataset, "__getitems__", None)
    if callable(getitems) and not isinstance(dataset, TensorDataset):
        return getitems(indices)
    return [dataset[i] for i in indices]


def _overrides_getitem(dataset, cls) -> bool:
    return type(dataset).__getitem__ is not cls.__getitem__


def batch_gatherer(dataset) -> Callable[[np.ndarray], list[Tensor]] | None:
    """For a data set held in arrays (a `TensorDataset`, or a `Subset` or `ConcatDataset`
    of them), a function from an index array to the collated batch, gathered by fancy
    indexing; None for any other data set (or a subclass with its own `__getitem__`)."""
    if isinstance(dataset, TensorDataset):
        return None if _overrides_getitem(dataset, TensorDataset) else dataset._gather
    if isinstance(dataset, Subset) and not _overrides_getitem(dataset, Subset):
        inner = batch_gatherer(dataset.dataset)
        if inner is None:
            return None
        mapping = np.asarray(dataset.indices, dtype=np.intp)
        return lambda indices: inner(mapping[indices])
    if isinstance(dataset, ConcatDataset) and not _overrides_getitem(dataset, ConcatDataset):
        parts = [batch_gatherer(d) for d in dataset.datasets]
        if any(part is None for part in parts):
            return None
        return _ConcatGather(parts, np.asarray([0, *dataset.cumulative_sizes]))
    return None


class _ConcatGather:
    """Gather from each part of a `ConcatDataset` at once, then put the rows in order."""

    def __init__(self, parts, starts: np.ndarray) -> None:
        self.parts, self.starts = parts, starts

    def __call__(self, indices) -> list[Tensor]:
        indices = np.asarray(indices, dtype=np.intp)
        which = np.searchsorted(self.starts, indices, side="right") - 1
        pieces, rows = [], []
        for part in np.unique(which):
            chosen = np.flatnonzero(which == part)
            pieces.append(self.parts[part](indices[chosen] - self.starts[part]))
            rows.append(chosen)
        order = np.argsort(np.concatenate(rows), kind="stable")
        fields = zip(*pieces)
        return [wrap(np.concatenate([t._data for t in field])[order]) for field in fields]


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
