"""Split a data set into parts: torch's `random_split`, and `split` into train, validation and
test parts, stratified by class if asked."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

from descent.data.dataset import Subset, TensorDataset
from descent.data.sampler import check_generator
from descent.data.shuffle_split import train_test_split
from descent.random import default_generator
from descent.tensor import Tensor


def random_split(dataset, lengths, generator: np.random.Generator | None = None) -> list[Subset]:
    """Split `dataset` at random into non-overlapping `Subset`s of the given lengths.

    `lengths` are sample counts adding up to `len(dataset)`, or fractions adding up to
    1: each part then gets floor(fraction * n) samples and the samples left over go one
    each to the first parts, as torch does. `generator` is a `numpy.random.Generator`
    (descent's default generator when None).
    """
    generator = check_generator(generator, "random_split") or default_generator()
    n, lengths = len(dataset), list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
        counts = [math.floor(n * fraction) for fraction in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.",
                    stacklevel=2,
                )
        lengths = counts
    if any(isinstance(k, float) and not k.is_integer() for k in lengths) or min(lengths) < 0:
        raise ValueError(
            f"random_split: {lengths=} must be sample counts >= 0 adding up to {n}, or "
            "fractions adding up to 1"
        )
    lengths = [int(k) for k in lengths]
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: sum of input lengths {sum(lengths)} does not equal the length of "
            f"the input dataset ({n}); give counts adding up to {n} or fractions adding up to 1"
        )
    order = generator.permutation(n).tolist()
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, order[end - k : end]) for end, k in zip(ends, lengths)]


def _fractions(fractions, test_size, val_size) -> tuple[float, ...]:
    if test_size is not None or val_size is not None:
        test = 0.0 if test_size is None else float(test_size)
        parts = (test,) if val_size is None else (float(val_size), test)
        fractions = (1.0 - sum(parts), *parts)
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) not in (2, 3):
        raise ValueError(f"{fractions=} must be (train, test) or (train, val, test)")
    if any(not f > 0 for f in fractions):
        raise ValueError(f"{fractions=}: every part must be > 0")
    if not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"{fractions=} must add up to 1, they add up to {sum(fractions):g}")
    return fractions


def _counts(fractions: tuple[float, ...], n: int) -> list[int]:
    """Sample counts per part: the later parts rounded, the train part takes the rest."""
    later = [round(f * n) for f in fractions[1:]]
    counts = [n - sum(later), *later]
    if min(counts) < 1:
        raise ValueError(
            f"split: {n} samples cannot be split into {fractions}: a part would be empty "
            f"({counts}); use more data or larger fractions"
        )
    return counts


def _labels(stratify, data) -> np.ndarray | None:
    if stratify is None or stratify is False:
        return None
    if stratify is True:  # the last array: a data set's targets
        stratify = data.arrays[-1] if isinstance(data, TensorDataset) else data[-1]
    return np.asarray(stratify._data if isinstance(stratify, Tensor) else stratify)


def split(
    data,
    fractions=(0.8, 0.1, 0.1),
    *,
    test_size: float | None = None,
    val_size: float | None = None,
    stratify=None,
    seed: int | None = None,
):
    """Split `data` at random into parts, as scikit-learn's `train_test_split` does (the same
    draws, by `descent.data.shuffle_split`, without importing scikit-learn).

    Args:
        data: a `TensorDataset` (parts are data sets of the same kind) or a tuple
            of equally long arrays, e.g. (X, y) (parts are tuples of arrays).
        fractions: (train, val, test) or (train, test), adding up to 1.
        test_size, val_size: instead of `fractions`; train takes the rest, and
            without `val_size` there is no validation part.
        stratify: class labels to keep in the same proportions in every part,
            or True for the data's last array (its targets).
        seed: makes the split reproducible; None draws one from descent's default
            generator.

    Returns:
        (train, val, test), or (train, test) when two fractions are given.
    """
    fractions = _fractions(fractions, test_size, val_size)
    is_dataset = isinstance(data, TensorDataset)
    if not is_dataset and not isinstance(data, (tuple, list)):
        raise TypeError(f"split: data must be a TensorDataset or a tuple of arrays, not {data!r}")
    n = len(data) if is_dataset else len(data[0])
    labels = _labels(stratify, data)
    if labels is not None and len(labels) != n:
        raise ValueError(f"split: {len(labels)} stratify labels for {n} samples")
    if seed is None:
        seed = int(default_generator().integers(2**31))
    counts = _counts(fractions, n)

    rest, parts = np.arange(n), []
    for count in reversed(counts[1:]):  # split off test, then validation
        try:
            rest, part = train_test_split(
                rest,
                test_size=count,
                random_state=seed,
                stratify=None if labels is None else labels[rest],
            )
        except ValueError as error:
            raise ValueError(f"split: {error}") from None
        parts.insert(0, np.sort(part))
    parts.insert(0, np.sort(rest))

    if is_dataset:
        return tuple(data.subset(p) for p in parts)
    arrays = [a._data if isinstance(a, Tensor) else np.asarray(a) for a in data]
    return tuple(tuple(a[p] for a in arrays) for p in parts)
