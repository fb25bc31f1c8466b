"""descent's train_test_split draws scikit-learn's splits without importing it."""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split as sklearn_split

from descent.data.shuffle_split import train_test_split


def cases():
    rng = np.random.default_rng(0)
    for case in range(40):
        n = int(rng.integers(6, 400))
        classes = int(rng.integers(2, 7))
        labels = rng.integers(0, classes, n)
        labels[:classes] = np.arange(classes)  # every class at least twice
        labels[classes : 2 * classes] = np.arange(classes)
        test = int(rng.integers(classes, n - classes + 1))
        indices = rng.permutation(n)[:n] + 1000 * (case % 2)  # not just 0..n-1
        yield indices, test, int(rng.integers(2**31)), labels


@pytest.mark.parametrize("stratified", [False, True])
def test_same_split_as_scikit_learn_for_every_seed_size_and_labels(stratified):
    for indices, test_size, seed, labels in cases():
        stratify = labels if stratified else None
        ours = train_test_split(indices, test_size=test_size, random_state=seed,
                                stratify=stratify)  # fmt: skip
        theirs = sklearn_split(indices, test_size=test_size, random_state=seed,
                               stratify=stratify)  # fmt: skip
        for part, expected in zip(ours, theirs):
            np.testing.assert_array_equal(part, expected)


def test_tied_remainders_and_string_labels_match_too():
    labels = np.array(["a", "b", "c"] * 7)  # three equal classes: ties in every draw
    for seed in range(20):
        for test_size in (3, 4, 5, 10, 11, 17):
            ours = train_test_split(np.arange(21), test_size=test_size, random_state=seed,
                                    stratify=labels)  # fmt: skip
            theirs = sklearn_split(np.arange(21), test_size=test_size, random_state=seed,
                                   stratify=labels)  # fmt: skip
            for part, expected in zip(ours, theirs):
                np.testing.assert_array_equal(part, expected)


@pytest.mark.parametrize(
    ("labels", "test_size", "message"),
    [
        ([0, 0, 0, 1, 2, 2], 2, r"classes \[1\] have only 1 sample"),
        ([0, 0, 1, 1, 2, 2], 2, "test part's 2 samples cannot hold one of each of the 3"),
        ([0, 0, 1, 1, 2, 2], 4, "train part's 2 samples"),
        (None, 6, "test_size=6 must be between 0 and the 6 samples"),
    ],
)
def test_impossible_splits_are_refused_with_the_reason(labels, test_size, message):
    with pytest.raises(ValueError, match=message):
        train_test_split(np.arange(6), test_size=test_size, random_state=0, stratify=labels)
