"""DataLoader(num_workers=k): the same batches in the same order as in-process loading,
seeded workers, errors raised in the main process, and no worker left behind."""

import multiprocessing
import os
import time

import numpy as np
import pytest

import descent as dc
from descent.data import DataLoader, Dataset, TensorDataset, get_worker_info


class Rows(Dataset):
    """Samples made by Python code one at a time, as a user's data set does."""

    def __init__(self, n=24, fail_at=None, exit_at=None, sleep=0.0):
        self.n, self.fail_at, self.exit_at, self.sleep = n, fail_at, exit_at, sleep

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if type(i) is not int:  # torch hands a data set Python ints
            raise TypeError(f"index {i!r} is a {type(i).__name__}")
        if i == self.fail_at:
            raise ValueError(f"bad sample {i}")
        if i == self.exit_at:
            os._exit(3)  # a worker dying without a word, as when the kernel kills it
        time.sleep(self.sleep)
        return np.array([i, 2 * i], dtype=np.float32), i


class Noisy(Dataset):
    """Each sample draws from the generators a worker seeds, and says who loaded it."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        who = -1 if info is None else info.id
        return float(dc.randn(1).item()), float(np.random.random()), who, os.getpid()


def batches(loader):
    return [[getattr(t, "tolist", lambda t=t: t)() for t in batch] for batch in loader]


def no_children_left():
    deadline = time.monotonic() + 5
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not multiprocessing.active_children()


@pytest.mark.parametrize(
    "options",
    [
        {"batch_size": 5},
        {"batch_size": 5, "shuffle": True, "seed": 3, "drop_last": True},
        {"batch_size": None},
        {"batch_size": 4, "prefetch_factor": 1, "sampler": [7, 3, 3, 0, 23]},
    ],
    ids=["sequential", "shuffled", "unbatched", "sampler"],
)
def test_workers_serve_what_the_main_process_serves(options):
    workers = 1 if "sampler" in options else 2
    in_process = DataLoader(Rows(), **{k: v for k, v in options.items() if "prefetch" not in k})
    expected = [batches(in_process), batches(in_process)]
    loader = DataLoader(Rows(), num_workers=workers, **options)
    assert [batches(loader), batches(loader)] == expected
    assert no_children_left()


def test_resume_mid_epoch_with_workers():
    straight = batches(DataLoader(Rows(), batch_size=5, shuffle=True, seed=9))
    loader = DataLoader(Rows(), batch_size=5, shuffle=True, seed=9, num_workers=2)
    iterator = iter(loader)
    first = [[t.tolist() for t in next(iterator)]]
    state = loader.state_dict()
    del iterator
    resumed = DataLoader(Rows(), batch_size=5, shuffle=True, num_workers=2)
    resumed.load_state_dict(state)
    assert first + batches(resumed) == straight


def test_an_error_in_a_worker_is_raised_with_its_message_and_workers_are_ended():
    loader = DataLoader(Rows(fail_at=13), batch_size=4, num_workers=2)
    with pytest.raises(ValueError, match="bad sample 13") as info:
        batches(loader)
    assert "DataLoader worker process" in str(info.value)
    assert no_children_left()


def test_a_worker_that_dies_is_reported_not_waited_for():
    loader = DataLoader(Rows(exit_at=6), batch_size=4, num_workers=2)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        batches(loader)
    assert time.monotonic() - start < 10
    assert no_children_left()


def test_timeout_names_the_limit():
    loader = DataLoader(Rows(n=2, sleep=0.6), batch_size=1, num_workers=1, timeout=0.2)
    with pytest.raises(RuntimeError, match="timed out after 0.2 seconds"):
        batches(loader)
    assert no_children_left()


def test_worker_init_fn_failure_is_raised():
    def init(worker_id):
        raise KeyError(f"no config for worker {worker_id}")

    with pytest.raises(KeyError, match="no config for worker"):
        batches(DataLoader(Rows(), batch_size=4, num_workers=1, worker_init_fn=init))
    assert no_children_left()


def test_a_break_ends_the_workers_at_once():
    loader = DataLoader(Rows(n=400, sleep=0.01), batch_size=4, num_workers=2, prefetch_factor=4)
    start = time.monotonic()
    for _ in loader:
        break
    assert no_children_left() and time.monotonic() - start < 4
    assert loader.state_dict()["position"] == 0  # the abandoned epoch is over, as in torch


def test_workers_are_seeded_per_worker_and_reproducibly():
    def load():
        dc.manual_seed(0)
        return batches(DataLoader(Noisy(), batch_size=3, num_workers=2))

    first, second = load(), load()
    assert [b[:3] for b in first] == [b[:3] for b in second]  # the same draws, pids aside
    torch_like, numpy_like, workers, pids = (sum((b[k] for b in first), []) for k in range(4))
    assert workers == [0, 0, 0, 1, 1, 1] * 2  # batch i goes to worker i mod 2
    assert len(set(torch_like)) == len(set(numpy_like)) == 12  # no two workers draw alike
    assert os.getpid() not in pids and get_worker_info() is None


def test_persistent_workers_live_across_epochs_and_are_reseeded_never():
    loader = DataLoader(Noisy(), batch_size=3, num_workers=2, persistent_workers=True)
    one, two = batches(loader), batches(loader)
    assert set(sum((b[3] for b in one), [])) == set(sum((b[3] for b in two), []))
    assert [b[0] for b in one] != [b[0] for b in two]  # the workers' generators go on
    del loader
    assert no_children_left()


def test_an_array_backed_data_set_loads_in_the_main_process():
    data = TensorDataset(np.arange(40.0).reshape(20, 2), np.arange(20))
    loader = DataLoader(data, batch_size=6, num_workers=2)
    for _ in loader:
        assert not multiprocessing.active_children()
    assert batches(loader) == batches(DataLoader(data, batch_size=6))


def test_spawned_workers_load_the_same_batches():
    loader = DataLoader(Rows(n=8), batch_size=4, num_workers=1, multiprocessing_context="spawn")
    assert batches(loader) == batches(DataLoader(Rows(n=8), batch_size=4))
    assert no_children_left()
