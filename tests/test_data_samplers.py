"""Random samplers, random_split, Subset and ConcatDataset: the properties torch's RNG can't
give us to compare (a permutation per epoch, seeds, frequencies), the fast batch path, and
exact resume with a sampler."""

import json

import numpy as np
import pytest

import descent as dc
from descent.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    random_split,
)

N = 20
X = np.arange(N * 2, dtype=np.float32).reshape(N, 2)
Y = np.arange(N)


def dataset():
    return TensorDataset(X, Y)


def labels(loader):
    return [y.tolist() for _, y in loader]


def test_random_sampler_draws_a_new_permutation_every_epoch():
    sampler = RandomSampler(range(N), generator=np.random.default_rng(0))
    first, second = list(sampler), list(sampler)
    assert sorted(first) == sorted(second) == list(range(N))
    assert first != second
    again = RandomSampler(range(N), generator=np.random.default_rng(0))
    assert [list(again), list(again)] == [first, second]


def test_random_sampler_without_generator_follows_manual_seed():
    dc.manual_seed(4)
    a = list(RandomSampler(range(N)))
    dc.manual_seed(4)
    assert list(RandomSampler(range(N))) == a


def test_random_sampler_num_samples_and_replacement():
    chained = list(RandomSampler(range(5), num_samples=12, generator=np.random.default_rng(1)))
    assert len(chained) == 12
    assert sorted(chained[:5]) == sorted(chained[5:10]) == list(range(5))  # whole permutations
    drawn = list(RandomSampler(range(5), True, 1000, generator=np.random.default_rng(1)))
    assert len(drawn) == 1000 and set(drawn) == set(range(5))


def test_subset_random_sampler_permutes_its_indices():
    indices = [3, 9, 14, 2]
    sampler = SubsetRandomSampler(indices, generator=np.random.default_rng(2))
    orders = [list(sampler) for _ in range(4)]
    assert all(sorted(order) == sorted(indices) for order in orders)
    assert len({tuple(order) for order in orders}) > 1


def test_weighted_sampling_frequencies_match_the_weights():
    weights = [1.0, 2.0, 3.0, 0.0, 4.0]
    drawn = list(WeightedRandomSampler(weights, 20000, generator=np.random.default_rng(3)))
    frequencies = np.bincount(drawn, minlength=5) / len(drawn)
    np.testing.assert_allclose(frequencies, np.array(weights) / 10, atol=0.01)
    assert frequencies[3] == 0
    once = list(WeightedRandomSampler(weights, 4, replacement=False,
                                      generator=np.random.default_rng(3)))  # fmt: skip
    assert sorted(once) == [0, 1, 2, 4]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: WeightedRandomSampler([1.0, -1.0], 2), "weights"),
        (lambda: WeightedRandomSampler([1.0, 0.0], 2, replacement=False), "num_samples"),
        (lambda: RandomSampler(range(3), generator=7), "generator="),
        (lambda: random_split(range(4), [2, 2], generator="seed"), "generator="),
        (lambda: DataLoader(dataset(), generator=np.random.default_rng(0), seed=1), "seed="),
        (lambda: DataLoader(dataset(), shuffle=True, sampler=range(N)), "shuffle"),
        (lambda: DataLoader(dataset(), num_workers=-2), "num_workers"),
        (lambda: random_split(range(10), [3, 3]), "does not equal"),
    ],
)
def test_bad_arguments_name_the_argument_and_the_fix(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


def test_loader_generator_and_seed_give_the_same_order():
    by_seed = labels(DataLoader(dataset(), batch_size=6, shuffle=True, seed=5))
    by_generator = DataLoader(dataset(), batch_size=6, shuffle=True,
                              generator=np.random.default_rng(5))  # fmt: skip
    assert labels(by_generator) == by_seed


def test_random_split_sizes_cover_and_seeds():
    parts = random_split(dataset(), [0.5, 0.3, 0.2], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [10, 6, 4]
    assert all(isinstance(p, Subset) for p in parts)
    assert sorted(sum((list(p.indices) for p in parts), [])) == list(range(N))
    again = random_split(dataset(), [0.5, 0.3, 0.2], generator=np.random.default_rng(0))
    assert [p.indices for p in again] == [p.indices for p in parts]
    dc.manual_seed(1)
    a = random_split(range(N), [15, 5])[0].indices
    dc.manual_seed(1)
    assert random_split(range(N), [15, 5])[0].indices == a
    with pytest.warns(UserWarning, match="index 2 is 0"):
        assert [len(p) for p in random_split(range(3), [0.5, 0.5, 0.0])] == [2, 1, 0]


def test_subset_and_concat_index_like_the_whole():
    sub = Subset(dataset(), [5, 0, 19])
    assert len(sub) == 3 and sub[0][1].item() == 5 and sub[-1][1].item() == 19
    both = ConcatDataset([sub, dataset()])
    assert len(both) == 23 and both.cumulative_sizes == [3, 23]
    assert [both[i][1].item() for i in (0, 2, 3, 22, -1, -23)] == [5, 19, 0, 19, 19, 5]
    with pytest.raises(IndexError):
        both[23]
    with pytest.raises(ValueError, match="length"):
        both[-24]


@pytest.mark.parametrize(
    "make",
    [
        dataset,
        lambda: Subset(dataset(), list(range(N - 1, -1, -2))),
        lambda: ConcatDataset([dataset(), Subset(dataset(), [4, 4, 7])]) + dataset(),
    ],
    ids=["tensor", "subset", "concat"],
)
def test_array_backed_data_sets_are_gathered_per_batch_and_equal_per_sample(make, monkeypatch):
    per_sample = DataLoader(make(), batch_size=7, shuffle=True, seed=3,
                            collate_fn=lambda samples: default_collate(samples))  # fmt: skip
    expected = [[t.numpy().copy() for t in batch] for batch in per_sample]

    def refuse(self, index):
        raise AssertionError("the fast path must not index one sample at a time")

    monkeypatch.setattr(TensorDataset, "__getitem__", refuse)
    fast = [[t.numpy() for t in batch] for batch in DataLoader(make(), 7, shuffle=True, seed=3)]
    assert len(fast) == len(expected)
    for got, want in zip(fast, expected):
        assert isinstance(got, list)
        for a, b in zip(got, want):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


def test_full_batch_with_a_sampler_is_the_whole_sampler():
    loader = DataLoader(dataset(), batch_size="full", sampler=SubsetRandomSampler([1, 2, 3]))
    assert len(loader) == 1 and sorted(labels(loader)[0]) == [1, 2, 3]


class EveryOther(Sampler):
    """A user's sampler (no `_indices`): odd indices in an order drawn from its generator."""

    def __init__(self, generator):
        self.generator = generator

    def __iter__(self):
        return iter(self.generator.permutation(np.arange(1, N, 2)).tolist())

    def __len__(self):
        return N // 2


@pytest.mark.parametrize(
    "sampler",
    [
        lambda: RandomSampler(range(N), generator=np.random.default_rng(8)),
        lambda: RandomSampler(range(N)),  # a fresh generator from the default one each epoch
        lambda: WeightedRandomSampler(
            np.linspace(1, 2, N), 15, generator=np.random.default_rng(8)
        ),  # fmt: skip
        lambda: EveryOther(np.random.default_rng(8)),
        lambda: SequentialSampler(range(N)),
    ],
    ids=["random", "random-default", "weighted", "user", "sequential"],
)
def test_resume_mid_epoch_with_a_sampler(sampler):
    dc.manual_seed(0)
    straight = DataLoader(dataset(), batch_size=3, sampler=sampler())
    expected = labels(straight) + labels(straight)
    dc.manual_seed(0)
    first = DataLoader(dataset(), batch_size=3, sampler=sampler())
    served = []
    for _, y in first:
        served.append(y.tolist())
        if len(served) == 2:
            break
        state = json.loads(json.dumps(first.state_dict()))
    served.pop()  # the checkpoint was taken after the first batch
    resumed = DataLoader(dataset(), batch_size=3, sampler=sampler())
    resumed.load_state_dict(state)
    assert served + labels(resumed) == expected[: len(expected) // 2]
    if not isinstance(resumed.sampler, RandomSampler) or resumed.sampler.generator is not None:
        assert labels(resumed) == expected[len(expected) // 2 :]


class Squares(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return np.array([i, i * i]), i


def test_plain_dataset_without_batching_serves_converted_samples():
    samples = list(DataLoader(Squares(), batch_size=None))
    x, y = samples[2]
    assert len(samples) == 6 and x.tolist() == [2, 4] and y == 2


def test_a_torch_style_generator_seeds_random_split_reproducibly():
    import descent as dc
    from descent.utils.data import TensorDataset, random_split

    dataset = TensorDataset(dc.arange(20.0))
    first = random_split(dataset, [15, 5], generator=dc.Generator().manual_seed(42))
    again = random_split(dataset, [15, 5], generator=dc.Generator().manual_seed(42))
    other = random_split(dataset, [15, 5], generator=dc.Generator().manual_seed(7))
    assert list(first[1].indices) == list(again[1].indices)
    assert list(first[1].indices) != list(other[1].indices)
    assert sorted([*first[0].indices, *first[1].indices]) == list(range(20))
    assert dc.Generator().manual_seed(3).initial_seed() == 3
