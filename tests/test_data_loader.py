"""TensorDataset and DataLoader: batch counts, coverage, seeding, exact resume, bad input."""

import json
import math

import numpy as np
import pytest

import descent as dc
from descent.data import DataLoader, Dataset, TensorDataset

N = 23
X = np.arange(N * 2, dtype=np.float64).reshape(N, 2)
Y = np.arange(N)


def dataset():
    return TensorDataset(X, Y)


def labels_of(batches):
    return [y.numpy().tolist() for _, y in batches]


def test_tensor_dataset_dtypes_and_items():
    ds = dataset()
    assert len(ds) == N
    assert ds.arrays[0].dtype == np.float32 and ds.arrays[1].dtype == np.int64
    x, y = ds[4]
    assert isinstance(x, dc.Tensor) and x.numpy().tolist() == [8.0, 9.0] and y.item() == 4
    assert TensorDataset(X, Y, dtype=np.float64).arrays[0].dtype == np.float64
    kept = TensorDataset(dc.tensor(X, dtype=np.float64), Y)
    assert kept.arrays[0].dtype == np.float64


def test_tensor_dataset_unequal_lengths_names_sizes():
    with pytest.raises(ValueError, match=r"\[23, 22\]"):
        TensorDataset(X, Y[:-1])


def test_tensor_dataset_nan_names_row_and_column():
    bad = X.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="row 5, column 1"):
        TensorDataset(bad, Y)


@pytest.mark.parametrize(
    ("batch_size", "expected"), [(1, N), (4, math.ceil(N / 4)), (N, 1), (100, 1), ("full", 1)]
)
def test_one_epoch_makes_ceil_n_over_k_batches_covering_every_sample_once(batch_size, expected):
    loader = DataLoader(dataset(), batch_size=batch_size, shuffle=True, seed=0)
    batches = list(loader)
    assert len(batches) == expected == len(loader)
    seen = np.concatenate([y.numpy() for _, y in batches])
    assert sorted(seen.tolist()) == list(range(N))
    for x, y in batches:  # features travel with their labels
        np.testing.assert_array_equal(x.numpy()[:, 0], 2 * y.numpy())
        assert x.dtype == np.float32 and y.dtype == np.int64


def test_drop_last_makes_floor_n_over_k_full_batches():
    loader = DataLoader(dataset(), batch_size=4, shuffle=True, drop_last=True, seed=0)
    batches = list(loader)
    assert len(batches) == len(loader) == N // 4
    assert all(len(y) == 4 for _, y in batches)


def test_no_shuffle_keeps_order():
    loader = DataLoader(dataset(), batch_size=5, shuffle=False)
    assert sum(labels_of(loader), []) == list(range(N))


def test_same_seed_same_order_different_seed_differs_and_epochs_differ():
    first = labels_of(DataLoader(dataset(), batch_size=4, shuffle=True, seed=7))
    assert labels_of(DataLoader(dataset(), batch_size=4, shuffle=True, seed=7)) == first
    assert labels_of(DataLoader(dataset(), batch_size=4, shuffle=True, seed=8)) != first
    loader = DataLoader(dataset(), batch_size=4, shuffle=True, seed=7)
    assert labels_of(loader) != labels_of(loader)  # a new order each epoch


def test_seed_none_follows_manual_seed():
    dc.manual_seed(3)
    a = labels_of(DataLoader(dataset(), batch_size=4, shuffle=True))
    dc.manual_seed(3)
    assert labels_of(DataLoader(dataset(), batch_size=4, shuffle=True)) == a


@pytest.mark.parametrize("json_round_trip", [False, True])
@pytest.mark.parametrize("stop_after", [0, 1, 3, 5])
def test_resume_mid_epoch_yields_the_remaining_batches_then_the_same_epochs(
    stop_after, json_round_trip
):
    straight = DataLoader(dataset(), batch_size=4, shuffle=True, seed=11)
    expected = [labels_of(straight) for _ in range(3)]

    first = DataLoader(dataset(), batch_size=4, shuffle=True, seed=11)
    first_epoch, state = [], first.state_dict()
    for _, y in first if stop_after else ():
        first_epoch.append(y.numpy().tolist())  # a training step, then a checkpoint
        state = first.state_dict()
        if len(first_epoch) == stop_after:
            break  # the process dies here; the checkpoint above is what survives
    if json_round_trip:
        state = json.loads(json.dumps(state))

    resumed = DataLoader(dataset(), batch_size=4, shuffle=True, seed=999)  # the state wins
    resumed.load_state_dict(state)
    assert first_epoch + labels_of(resumed) == expected[0]
    assert labels_of(resumed) == expected[1]
    assert labels_of(resumed) == expected[2]


def test_a_break_abandons_the_epoch_live_and_in_the_saved_state():
    live = DataLoader(dataset(), batch_size=4, shuffle=True, seed=5)
    for _ in live:
        break
    state = live.state_dict()
    assert state["position"] == 0 and state["epoch"] == 1
    restored = DataLoader(dataset(), batch_size=4, shuffle=True)
    restored.load_state_dict(state)
    assert labels_of(restored) == labels_of(live)


def test_state_after_a_whole_epoch_points_at_the_next_epoch():
    loader = DataLoader(dataset(), batch_size=4, shuffle=True, seed=2)
    list(loader)
    state = loader.state_dict()
    assert state["position"] == 0 and state["epoch"] == 1
    nxt = labels_of(loader)
    other = DataLoader(dataset(), batch_size=4, shuffle=True)
    other.load_state_dict(state)
    assert labels_of(other) == nxt


def test_state_inside_the_loop_after_the_last_batch_is_the_next_epoch():
    loader = DataLoader(dataset(), batch_size=4, shuffle=True, seed=2)
    for _ in loader:
        state = loader.state_dict()  # a checkpoint taken after each step
    assert state["position"] == 0 and state["epoch"] == 1


def test_state_is_json_plain():
    loader = DataLoader(dataset(), batch_size=4, shuffle=True, seed=2)
    iterator = iter(loader)
    next(iterator)
    state = loader.state_dict()
    assert json.loads(json.dumps(state)) == state
    assert state["position"] == 1


def test_load_state_for_another_data_set_is_refused():
    state = DataLoader(dataset(), batch_size=4, shuffle=True, seed=2).state_dict()
    other = DataLoader(TensorDataset(X[:10], Y[:10]), batch_size=4)
    with pytest.raises(ValueError, match="10 in batches of 4"):
        other.load_state_dict(state)


@pytest.mark.parametrize("bad", [0, -3])
def test_batch_size_below_one_is_refused(bad):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(dataset(), batch_size=bad)


@pytest.mark.parametrize("bad", ["all", "Full"])
def test_batch_size_string_other_than_full_is_refused(bad):
    with pytest.raises(ValueError, match="'full'"):
        DataLoader(dataset(), batch_size=bad)


@pytest.mark.parametrize("bad", [2.5, True, [4]])
def test_batch_size_of_wrong_type_is_refused(bad):
    with pytest.raises(TypeError, match="batch_size"):
        DataLoader(dataset(), batch_size=bad)


def test_empty_data_set_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="empty"):
        DataLoader(TensorDataset(np.zeros((0, 2)), np.zeros(0, dtype=int)), batch_size=4)


def test_batch_larger_than_data_with_drop_last_is_refused():
    with pytest.raises(ValueError, match="no batch"):
        DataLoader(dataset(), batch_size=N + 1, drop_last=True)


class Squares(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.array([i, i * i], dtype=np.float32), i


def test_plain_dataset_is_collated_per_sample():
    batches = list(DataLoader(Squares(), batch_size=3, shuffle=False))
    assert len(batches) == 3
    x, y = batches[0]
    assert x.shape == (3, 2) and y.numpy().tolist() == [0, 1, 2]


class Float64Samples(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return np.array([i, 0.5 * i]), i  # float64, as NumPy makes them


def test_a_plain_dataset_of_float64_samples_keeps_float64_as_torch():
    x, y = next(iter(DataLoader(Float64Samples(), batch_size=2)))
    assert x.dtype == np.float64 and y.dtype == np.int64
