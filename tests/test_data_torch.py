"""descent.utils.data against torch.utils.data: one loader program run under both libraries.

Everything here is deterministic (sequential order, explicit samplers, collation, sizes,
errors), so the two runs must record the same batches in the same order. Random orders
cannot match torch's generator; tests/test_data_samplers.py checks their properties.
"""

import torch
from dualrun.harness import assert_same, run_program

import descent

PRELUDE = '''
import collections
import numpy as np
import torch
import torch.utils.data as tud
from torch.utils.data import (
    BatchSampler, ConcatDataset, DataLoader, Dataset, RandomSampler, SequentialSampler,
    Subset, SubsetRandomSampler, TensorDataset, WeightedRandomSampler, default_collate,
    default_convert, random_split,
)

results = {}


def plain(value):
    """A batch's structure and contents as plain values: container types, dtypes, numbers."""
    if isinstance(value, torch.Tensor):
        return ["tensor", str(value.dtype).replace("torch.", ""), list(value.shape),
                value.tolist()]
    if isinstance(value, dict):
        return ["dict", {k: plain(v) for k, v in value.items()}]
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, [plain(v) for v in value]]
    return [type(value).__name__, value]


rng = np.random.default_rng(3)
X = rng.normal(size=(10, 3)).astype(np.float32)
Y = np.arange(10) % 3
ds = TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
'''

LOADERS = """
loader = DataLoader(ds, batch_size=4)
results["defaults"] = [loader.batch_size, loader.drop_last, type(loader.sampler).__name__,
                       type(loader.batch_sampler).__name__, len(loader)]
results["sequential"] = [plain(b) for b in loader]
results["drop_last"] = [len(DataLoader(ds, batch_size=4, drop_last=True)),
                        [plain(b) for b in DataLoader(ds, batch_size=4, drop_last=True)]]
results["batch_size_1"] = plain(next(iter(DataLoader(ds))))
results["no_batching"] = [plain(b) for b in DataLoader(ds, batch_size=None)][:3]
results["sampler_list"] = [plain(b) for b in DataLoader(ds, batch_size=3, sampler=[9, 0, 4, 4])]
batches = BatchSampler(SequentialSampler(range(10)), 3, drop_last=False)
results["batch_sampler"] = [list(batches), len(batches),
                            list(BatchSampler(range(10), 3, drop_last=True)),
                            len(BatchSampler(range(10), 3, drop_last=True))]
by_batches = DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 6, False))
results["with_batch_sampler"] = [len(by_batches), by_batches.batch_size,
                                 [plain(b) for b in by_batches]]
results["custom_collate"] = [plain(b) for b in DataLoader(
    ds, batch_size=5, collate_fn=lambda samples: [len(samples), samples[0][1]])]
results["subset_loader"] = [plain(b) for b in DataLoader(Subset(ds, [7, 1, 5]), batch_size=2)]
results["concat_loader"] = [plain(b) for b in DataLoader(ds + Subset(ds, [0, 1]), batch_size=5)]
shuffled = DataLoader(ds, batch_size=3, shuffle=True)
epochs = [sorted(sum((y.tolist() for _, y in shuffled), [])) for _ in range(2)]
results["shuffle_covers"] = [type(shuffled.sampler).__name__, len(shuffled), epochs]
results["sampler_lens"] = [
    len(RandomSampler(ds)), len(RandomSampler(ds, replacement=True, num_samples=25)),
    len(SubsetRandomSampler([1, 5, 2])), len(WeightedRandomSampler([0.1, 0.9], 7)),
    len(list(RandomSampler(ds, num_samples=23))), sorted(SubsetRandomSampler([1, 5, 2])),
]
"""


DATASETS = '''
Point = collections.namedtuple("Point", ["x", "y"])


class Records(Dataset):
    """A map-style data set of mixed samples, indexed one at a time."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {
            "features": np.full((2, 2), i, dtype=np.float64),
            "label": i % 2,
            "weight": 0.5 * i,
            "name": f"s{i}",
            "pair": (np.float32(i), True),
            "point": Point(i, [i, -i]),
        }


records = DataLoader(Records(), batch_size=2)
results["records"] = [len(records), [plain(b) for b in records]]


class Pairs(Dataset):
    def __init__(self):
        self.rows = [[np.arange(3) * i, i] for i in range(4)]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


results["pairs"] = [plain(b) for b in DataLoader(Pairs(), batch_size=3)]
results["collate"] = [
    plain(default_collate([1, 2, 3])), plain(default_collate([1.5, 2.5])),
    plain(default_collate([True, False])), plain(default_collate([np.float32(1), np.float32(2)])),
    plain(default_collate([np.int32(1), np.int32(2)])), plain(default_collate([np.array(1.0)])),
    plain(default_collate(["a", "b"])), plain(default_collate([(1, 2.0), (3, 4.0)])),
    plain(default_collate([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])])),
]
results["convert"] = [plain(default_convert(np.arange(3))), plain(default_convert((1, np.ones(2)))),
                      plain(default_convert({"a": np.zeros(1), "b": 2})), default_convert(7)]

sub = Subset(ds, [4, 2, 7])
both = ConcatDataset([Subset(ds, range(3)), ds])
results["subset"] = [len(sub), plain(sub[1]), plain(sub[[0, 2]])]
results["concat"] = [len(both), both.cumulative_sizes, plain(both[2]), plain(both[3]),
                     plain(both[-1]), type(ds + ds).__name__]
results["random_split"] = [
    [len(p) for p in random_split(ds, [6, 4])],
    [len(p) for p in random_split(range(10), [0.5, 0.3, 0.2])],
    [len(p) for p in random_split(range(10), [0.33, 0.33, 0.34])],
    [len(p) for p in random_split(range(7), [0.5, 0.5])],
    type(random_split(ds, [5, 5])[0]).__name__,
    sorted(sum((list(p.indices) for p in random_split(range(10), [3, 3, 4])), [])),
]
'''

ERRORS = """
results["errors"] = {
    "shuffle_and_sampler": raises(lambda: DataLoader(ds, shuffle=True, sampler=[0, 1])),
    "batch_sampler_and_size": raises(
        lambda: DataLoader(ds, batch_size=3, batch_sampler=[[0, 1]])),
    "batch_sampler_and_drop_last": raises(
        lambda: DataLoader(ds, drop_last=True, batch_sampler=[[0, 1]])),
    "no_batching_and_drop_last": raises(lambda: DataLoader(ds, batch_size=None, drop_last=True)),
    "negative_workers": raises(lambda: DataLoader(ds, num_workers=-1)),
    "negative_timeout": raises(lambda: DataLoader(ds, timeout=-1)),
    "prefetch_without_workers": raises(lambda: DataLoader(ds, prefetch_factor=2)),
    "persistent_without_workers": raises(lambda: DataLoader(ds, persistent_workers=True)),
    "random_num_samples": raises(lambda: RandomSampler(ds, num_samples=0)),
    "random_replacement": raises(lambda: RandomSampler(ds, replacement=1)),
    "weighted_2d": raises(lambda: WeightedRandomSampler([[0.5, 0.5]], 2)),
    "weighted_num_samples": raises(lambda: WeightedRandomSampler([0.5, 0.5], 0)),
    "batch_sampler_size": raises(lambda: BatchSampler(range(4), 0, False)),
    "batch_sampler_drop_last": raises(lambda: BatchSampler(range(4), 2, 1)),
    "split_sum": raises(lambda: random_split(range(10), [3, 3])),
    "split_fraction": raises(lambda: random_split(range(10), [1.5, -0.5])),
    "collate_unequal_lists": raises(lambda: default_collate([[1, 2], [3]])),
    "collate_unequal_shapes": raises(
        lambda: default_collate([torch.zeros(2), torch.zeros(3)])),
    "collate_objects": raises(lambda: default_collate([object(), object()])),
    "concat_out_of_range": raises(lambda: ConcatDataset([ds])[10]),
    "dataset_getitem": raises(lambda: Dataset()[0]),
}
"""


def same_under_both(source: str) -> None:
    torch.manual_seed(0)
    expected = run_program(PRELUDE + source, torch)
    actual = run_program(PRELUDE + source, descent)
    assert_same(expected, actual)


def test_loaders_serve_torchs_batches_in_torchs_order():
    same_under_both(LOADERS)


def test_datasets_collation_subsets_and_splits_match_torch():
    same_under_both(DATASETS)


def test_bad_arguments_raise_what_torch_raises():
    same_under_both(ERRORS)


def test_descent_utils_data_is_descent_data():
    import descent.data
    import descent.utils.data as tud

    assert tud.DataLoader is descent.data.DataLoader
    assert tud.TensorDataset is descent.data.TensorDataset
    for name in ("Dataset", "Sampler", "random_split", "default_collate", "get_worker_info"):
        assert getattr(tud, name) is getattr(descent.data, name)
