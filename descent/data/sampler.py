"""Samplers: the order in which a `DataLoader` visits a data set, with torch's names.

A sampler yields sample indices (ints), a batch sampler yields lists of them, as in
`torch.utils.data`. descent's own samplers also draw a whole epoch's order as one
array (`_indices`), which the loader slices into batches with no per-sample Python
loop. A random sampler draws from its `generator` (a `numpy.random.Generator`), or,
with none, from a fresh generator seeded from descent's default one each epoch, so
`descent.manual_seed` makes it reproducible (torch does the same with its own).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sized

import numpy as np

from descent.random import default_generator
from descent.tensor import Tensor


def check_generator(generator, who: str) -> np.random.Generator | None:
    """`generator` if it is a NumPy Generator (or None); otherwise a TypeError with the fix."""
    if generator is None or isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(
        f"{who}: generator={generator!r} must be a numpy.random.Generator, e.g. "
        "np.random.default_rng(0), or None for descent's default generator"
    )


def _positive_int(value, name: str, who: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(
            f"{who}: {name} should be a positive integer value, but got {name}={value}"
        )
    return int(value)


class Sampler:
    """Base class: `__iter__` yields indices; `__len__`, where defined, counts them."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError


class _ArraySampler(Sampler):
    """A sampler that draws one epoch's indices as an array: `_indices(generator)`."""

    generator: np.random.Generator | None = None
    random = True  # draws from a generator; SequentialSampler does not

    def _indices(self, generator: np.random.Generator | None) -> np.ndarray:
        raise NotImplementedError

    def _epoch_generator(self) -> np.random.Generator | None:
        """The generator for one epoch: the sampler's own, or a fresh one seeded from
        descent's default generator (None for a sampler that draws nothing)."""
        if self.generator is not None or not self.random:
            return self.generator
        return np.random.default_rng(int(default_generator().integers(2**63)))

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices(self._epoch_generator()).tolist())


def epoch_indices(sampler) -> bool:
    """Whether `sampler` is one of descent's array samplers, unchanged by a subclass's
    `__iter__`, so that the loader may draw its epoch with `_indices` instead."""
    return isinstance(sampler, _ArraySampler) and type(sampler).__iter__ is _ArraySampler.__iter__


class SequentialSampler(_ArraySampler):
    """0, 1, ..., len(data_source) - 1, every epoch."""

    random = False

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _indices(self, generator=None) -> np.ndarray:
        return np.arange(len(self.data_source))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(_ArraySampler):
    """A new random order every epoch; with `replacement`, `num_samples` independent draws.

    Without replacement, `num_samples` larger than the data set chains whole
    permutations (and cuts the last one short), as torch does.
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(
                f"RandomSampler: replacement should be a boolean value, but got {replacement=}"
            )
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = check_generator(generator, "RandomSampler")
        _positive_int(self.num_samples, "num_samples", "RandomSampler")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _indices(self, generator: np.random.Generator) -> np.ndarray:
        n, count = len(self.data_source), self.num_samples
        if self.replacement:
            return generator.integers(0, n, size=count)
        rounds = [generator.permutation(n) for _ in range(math.ceil(count / n))]
        return np.concatenate(rounds)[:count]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(_ArraySampler):
    """The given indices, in a new random order every epoch."""

    def __init__(self, indices, generator: np.random.Generator | None = None) -> None:
        self.indices = indices
        self.generator = check_generator(generator, "SubsetRandomSampler")

    def _indices(self, generator: np.random.Generator) -> np.ndarray:
        indices = np.asarray(self.indices, dtype=np.int64)
        return indices[generator.permutation(len(indices))]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(_ArraySampler):
    """`num_samples` indices drawn with probability proportional to `weights`.

    With `replacement=False` an index is drawn at most once, so `num_samples` may not
    exceed the number of positive weights.
    """

    def __init__(
        self,
        weights,
        num_samples: int,
        replacement: bool = True,
        generator: np.random.Generator | None = None,
    ) -> None:
        who = "WeightedRandomSampler"
        self.num_samples = _positive_int(num_samples, "num_samples", who)
        if not isinstance(replacement, bool):
            raise ValueError(
                f"{who}: replacement should be a boolean value, but got {replacement=}"
            )
        array = np.asarray(weights._data if isinstance(weights, Tensor) else weights, np.float64)
        if array.ndim != 1:
            raise ValueError(
                f"{who}: weights should be a 1d sequence but given weights have shape {array.shape}"
            )
        if not np.isfinite(array).all() or (array < 0).any() or array.sum() <= 0:
            raise ValueError(
                f"{who}: weights must be finite and >= 0 with a positive sum; "
                f"got min {array.min(initial=0):g}, sum {array.sum():g}"
            )
        positive = int((array > 0).sum())
        if not replacement and self.num_samples > positive:
            raise ValueError(
                f"{who}: {num_samples=} without replacement needs as many positive weights, "
                f"there are {positive}; lower num_samples or use replacement=True"
            )
        self.weights = array
        self.replacement = replacement
        self.generator = check_generator(generator, who)

    def _indices(self, generator: np.random.Generator) -> np.ndarray:
        p = self.weights / self.weights.sum()
        return generator.choice(len(p), size=self.num_samples, replace=self.replacement, p=p)

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of `sampler` into lists of `batch_size` (the last one shorter,
    unless `drop_last`)."""

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool) -> None:
        _positive_int(batch_size, "batch_size", "BatchSampler")
        if not isinstance(drop_last, bool):
            raise ValueError(
                f"BatchSampler: drop_last should be a boolean value, but got {drop_last=}"
            )
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size  # type: ignore[arg-type]
        return math.ceil(len(self.sampler) / self.batch_size)  # type: ignore[arg-type]
