"""split and Standardizer: sizes, stratification, seeding, training-only statistics."""

import json
import sys

import numpy as np
import pytest

from descent.data import Standardizer, TensorDataset, split

rng = np.random.default_rng(0)
LABELS = np.repeat([0, 1, 2], [500, 300, 200])
FEATURES = rng.standard_normal((1000, 3)) + LABELS[:, None]


def proportions(y):
    return np.bincount(y, minlength=3) / len(y)


def test_three_parts_have_the_asked_sizes_and_cover_everything_once():
    train, val, test = split((FEATURES, LABELS), (0.7, 0.2, 0.1), seed=0)
    assert [len(p[1]) for p in (train, val, test)] == [700, 200, 100]
    rows = np.concatenate([p[0] for p in (train, val, test)])
    assert len(np.unique(rows, axis=0)) == 1000


def test_stratified_split_keeps_class_proportions():
    parts = split((FEATURES, LABELS), (0.8, 0.1, 0.1), stratify=LABELS, seed=1)
    for _, y in parts:
        np.testing.assert_allclose(proportions(y), [0.5, 0.3, 0.2], atol=0.011)


def test_stratified_split_of_a_rare_class_is_exact_for_every_seed():
    y = np.repeat([0, 1], [90, 10])
    x = np.arange(100.0)[:, None]
    for s in range(20):
        _, (_, y_test) = split((x, y), (0.8, 0.2), stratify=True, seed=s)
        assert np.bincount(y_test).tolist() == [18, 2]


def test_dataset_in_dataset_out_and_seed_reproducible():
    ds = TensorDataset(FEATURES, LABELS)
    a = split(ds, test_size=0.2, val_size=0.1, stratify=True, seed=5)
    b = split(ds, test_size=0.2, val_size=0.1, stratify=True, seed=5)
    c = split(ds, test_size=0.2, val_size=0.1, stratify=True, seed=6)
    assert all(isinstance(p, TensorDataset) for p in a)
    assert [len(p) for p in a] == [700, 100, 200]
    np.testing.assert_array_equal(a[0].arrays[0], b[0].arrays[0])
    assert not np.array_equal(a[0].arrays[0], c[0].arrays[0])


def test_test_size_alone_gives_two_parts():
    train, test = split((FEATURES, LABELS), test_size=0.25, seed=0)
    assert len(train[0]) == 750 and len(test[0]) == 250


@pytest.mark.parametrize(
    ("fractions", "message"),
    [((0.8, 0.3), "add up to 1"), ((1.0, 0.0), "> 0"), ((1.0,), "train, test")],
)
def test_bad_fractions_are_refused(fractions, message):
    with pytest.raises(ValueError, match=message):
        split((FEATURES, LABELS), fractions)


def test_too_few_samples_per_class_for_stratification_is_a_clear_error():
    with pytest.raises(ValueError, match="split:"):
        split((FEATURES[:10], LABELS[:10] * 0 + np.arange(10)), (0.8, 0.2), stratify=True)


def test_split_needs_no_scikit_learn(monkeypatch):
    expected = split((FEATURES, LABELS), test_size=0.25, stratify=True, seed=0)
    monkeypatch.setitem(sys.modules, "sklearn.model_selection", None)  # importing it raises
    train, test = split((FEATURES, LABELS), test_size=0.25, stratify=True, seed=0)
    assert len(train[0]) == 750 and len(test[0]) == 250
    np.testing.assert_array_equal(train[0], expected[0][0])


def test_standardizer_uses_training_statistics_only():
    train = np.array([[1.0, 5.0], [3.0, 5.0]])
    test = np.array([[5.0, 7.0]])
    scaler = Standardizer().fit(train)
    np.testing.assert_allclose(scaler.transform(train), [[-1.0, 0.0], [1.0, 0.0]])
    # (5 - mean 2) / std 1 = 3; the constant column has scale 1: 7 - 5 = 2, not NaN
    np.testing.assert_allclose(scaler.transform(test), [[3.0, 2.0]])
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(test)), test)


def test_standardizer_on_datasets_keeps_targets_and_float32():
    train, test = split(TensorDataset(FEATURES, LABELS), (0.8, 0.2), seed=0)
    scaler = Standardizer().fit(train)
    out = scaler.transform(test)
    assert isinstance(out, TensorDataset) and out.arrays[0].dtype == np.float32
    np.testing.assert_array_equal(out.arrays[1], test.arrays[1])
    fitted = scaler.transform(train).arrays[0]
    np.testing.assert_allclose(fitted.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(fitted.std(axis=0), 1, atol=1e-5)
    assert np.abs(out.arrays[0].mean(axis=0)).max() > 1e-4  # test statistics were not used


def test_standardizer_state_round_trips_through_json():
    scaler = Standardizer().fit(FEATURES)
    other = Standardizer()
    other.load_state_dict(json.loads(json.dumps(scaler.state_dict())))
    np.testing.assert_array_equal(other.transform(FEATURES), scaler.transform(FEATURES))


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().transform(FEATURES)
    bad = FEATURES.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="column 2"):
        Standardizer().fit(bad)
    with pytest.raises(ValueError, match="shape"):
        Standardizer().fit(FEATURES).transform(FEATURES[:, :2])


def test_standardizer_can_scale_a_regressions_targets():
    from descent.data import SupervisedDataset

    rng = np.random.default_rng(0)
    data = SupervisedDataset(rng.normal(size=(50, 3)), rng.normal(150, 70, size=50),
                             task="regression")  # fmt: skip
    scaler = Standardizer(array=1).fit(data)
    scaled = scaler.transform(data)
    assert np.allclose(scaled.targets.mean(), 0, atol=1e-5)
    assert np.allclose(scaled.targets.std(), 1, atol=1e-5)
    assert np.array_equal(scaled.features, data.features)  # the features are untouched
    np.testing.assert_allclose(scaler.inverse_transform(scaled.targets), data.targets, rtol=1e-5)
