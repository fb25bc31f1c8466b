"""Built-in data sets: every one loads offline with the right shapes, dtypes and classes."""

import numpy as np
import pytest

from descent.data import DataLoader, SupervisedDataset, list_datasets, load_dataset

EXPECTED = {  # name: (samples, features, task, classes)
    "digits": (1797, 64, "classification", 10),
    "iris": (150, 4, "classification", 3),
    "wine": (178, 13, "classification", 3),
    "breast_cancer": (569, 30, "classification", 2),
    "diabetes": (442, 10, "regression", None),
    "moons": (1000, 2, "classification", 2),
    "circles": (1000, 2, "classification", 2),
    "spirals": (1000, 2, "classification", 2),
    "xor": (1000, 2, "classification", 2),
    "linear": (1000, 3, "regression", None),
}


def test_list_datasets_names_each_with_a_one_line_description():
    listing = list_datasets()
    assert set(listing) == set(EXPECTED)
    assert all(d and "\n" not in d for d in listing.values())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_builtin_loads_with_right_shapes_dtypes_and_classes(name):
    samples, features, task, classes = EXPECTED[name]
    train, test = load_dataset(name, seed=0)
    assert isinstance(train, SupervisedDataset) and isinstance(test, SupervisedDataset)
    assert len(train) + len(test) == samples
    assert len(test) == round(0.2 * samples)
    for part in (train, test):
        assert part.task == task and part.num_classes == classes
        assert part.features.shape == (len(part), features)
        assert part.features.dtype == np.float32
        if task == "classification":
            assert part.targets.dtype == np.int64 and part.targets.shape == (len(part),)
            assert set(np.unique(part.targets)) == set(range(classes))
        else:
            assert part.targets.dtype == np.float32 and part.targets.shape == (len(part), 1)
    x, y = next(iter(DataLoader(train, batch_size=16, seed=0)))
    assert x.shape == (16, features) and len(y) == 16


def test_generated_sets_follow_the_seed_and_options():
    a, _ = load_dataset("moons", seed=1)
    b, _ = load_dataset("moons", seed=1)
    c, _ = load_dataset("moons", seed=2)
    np.testing.assert_array_equal(a.features, b.features)
    assert not np.array_equal(a.features, c.features)
    train, test = load_dataset("spirals", n_samples=300, num_classes=3)
    assert len(train) + len(test) == 300 and train.num_classes == 3


def test_xor_labels_follow_the_signs():
    train, _ = load_dataset("xor", seed=0)
    x, y = train.features, train.targets
    np.testing.assert_array_equal(y, (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(np.int64))


def test_linear_regression_is_nearly_linear():
    train, _ = load_dataset("linear", seed=0, noise=0.1)
    x = np.c_[train.features, np.ones(len(train))]
    _, residual, *_ = np.linalg.lstsq(x, train.targets[:, 0], rcond=None)
    assert residual[0] / len(train) < 0.02  # noise variance 0.01


def test_stratified_classes_in_both_parts_and_standardize_option():
    train, test = load_dataset("iris", standardize=True)
    assert np.bincount(test.targets).tolist() == [10, 10, 10]
    np.testing.assert_allclose(train.features.mean(axis=0), 0, atol=1e-5)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError, match="did you mean 'digits'"):
        load_dataset("digts")
    with pytest.raises(ValueError, match="breast_cancer"):
        load_dataset("cancer")


def test_unknown_option_is_refused():
    with pytest.raises(TypeError, match="n_samples"):
        load_dataset("moons", samples=10)
    with pytest.raises(TypeError, match="no options"):
        load_dataset("iris", noise=0.1)


@pytest.mark.parametrize("name", ["digits", "iris", "wine", "breast_cancer"])
def test_bundled_sets_are_read_without_scikit_learn_and_equal_its_loaders(monkeypatch, name):
    import sklearn.datasets

    from descent.data import builtin

    loader = builtin._entry(name).source
    expected = getattr(sklearn.datasets, loader)()
    monkeypatch.setattr(sklearn.datasets, loader, _must_not_be_called)
    x, y, feature_names, class_names = builtin._load_arrays(builtin._entry(name), 0, {})
    np.testing.assert_array_equal(x, expected.data)
    np.testing.assert_array_equal(y, expected.target)
    assert x.dtype == expected.data.dtype and y.dtype == expected.target.dtype
    assert feature_names == [str(n) for n in expected.feature_names]
    assert class_names == [str(n) for n in expected.target_names]


def test_digits_fall_back_to_scikit_learn_without_its_data_file(monkeypatch):
    from descent.data import builtin

    read, _ = load_dataset("digits", seed=3)
    monkeypatch.setattr(builtin, "sklearn_data_file", lambda name: None)
    loaded, _ = load_dataset("digits", seed=3)
    np.testing.assert_array_equal(loaded.features, read.features)
    np.testing.assert_array_equal(loaded.targets, read.targets)
    assert loaded.feature_names == read.feature_names
    assert loaded.class_names == read.class_names


def _must_not_be_called():
    raise AssertionError("scikit-learn's loader was called: its data file should be read directly")
