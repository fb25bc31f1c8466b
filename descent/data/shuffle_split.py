"""scikit-learn's `train_test_split` on an index array, without importing scikit-learn.

Importing scikit-learn takes about a second, more than a default `descent train` spends
training. This draws the same random numbers in the same order as scikit-learn's
`ShuffleSplit` and `StratifiedShuffleSplit` (a `RandomState` seeded with the seed), so a
seed gives the same split with or without it; tests compare the two.
"""

from __future__ import annotations

import numpy as np


def train_test_split(
    indices: np.ndarray, *, test_size: int, random_state: int, stratify=None
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test): `indices` shuffled and cut, `test_size` of them in test.

    Args:
        indices: a 1-D array, e.g. sample numbers.
        test_size: how many go to the test part (a whole number, 0 < test_size < n).
        random_state: the seed.
        stratify: a label per index; each class is then split in proportion.
    """
    indices = np.asarray(indices)
    n = len(indices)
    if not 0 < test_size < n:
        raise ValueError(f"test_size={test_size} must be between 0 and the {n} samples")
    rng = np.random.RandomState(random_state)
    if stratify is None:
        order = rng.permutation(n)
        return indices[order[test_size:]], indices[order[:test_size]]
    train, test = _stratified(np.asarray(stratify), n - test_size, test_size, rng)
    return indices[train], indices[test]


def _stratified(labels: np.ndarray, n_train: int, n_test: int, rng) -> tuple:
    """`StratifiedShuffleSplit`'s draw: per class, a share of each part close to the
    class's share of the data, then each class's samples shuffled and dealt out."""
    if labels.ndim == 2:  # multi-label rows: one class per distinct row
        labels = np.array([" ".join(row.astype("str")) for row in labels])
    classes, label_indices, class_counts = np.unique(
        labels, return_inverse=True, return_counts=True
    )
    if class_counts.min() < 2:
        raise ValueError(
            f"the classes {classes[class_counts < 2].tolist()} have only 1 sample; "
            "stratifying needs at least 2 per class"
        )
    for part, size in (("train", n_train), ("test", n_test)):
        if size < len(classes):
            raise ValueError(
                f"the {part} part's {size} samples cannot hold one of each of the "
                f"{len(classes)} classes"
            )
    by_class = np.split(np.argsort(label_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    train_counts = _approximate_mode(class_counts, n_train, rng)
    test_counts = _approximate_mode(class_counts - train_counts, n_test, rng)
    train, test = [], []
    for members, n_i, t_i in zip(by_class, train_counts, test_counts):
        shuffled = members.take(rng.permutation(len(members)), mode="clip")
        train.extend(shuffled[:n_i])
        test.extend(shuffled[n_i : n_i + t_i])
    return rng.permutation(train), rng.permutation(test)


def _approximate_mode(class_counts: np.ndarray, draws: int, rng) -> np.ndarray:
    """How many of `draws` samples each class gets: its floored share, then one more for
    the largest remainders, ties broken at random (scikit-learn's `_approximate_mode`)."""
    share = class_counts / class_counts.sum() * draws
    counts = np.floor(share)
    missing = int(draws - counts.sum())
    remainder = share - counts
    for value in np.sort(np.unique(remainder))[::-1]:
        if missing <= 0:
            break
        (tied,) = np.where(remainder == value)
        chosen = rng.choice(tied, size=min(len(tied), missing), replace=False)
        counts[chosen] += 1
        missing -= len(chosen)
    return counts.astype(int)
