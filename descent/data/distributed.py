"""`DistributedSampler`: each rank's share of a data set for data-parallel training.

torch's semantics: the epoch's order (a permutation seeded by `seed + epoch`, the same on
every rank, or 0..n-1 without `shuffle`) is padded by repeating its first indices until it
divides by the number of replicas (or cut short with `drop_last`), and rank r takes every
num_replicas-th index from r on. So the ranks' shares are disjoint, equal in size, and
together cover the data set. The shuffled order is NumPy's, not torch's.
"""

from __future__ import annotations

import math
from collections.abc import Sized

import numpy as np

from descent.data.sampler import _ArraySampler


class DistributedSampler(_ArraySampler):
    """The indices of `dataset` that rank `rank` of `num_replicas` reads this epoch.

    Call `set_epoch(epoch)` at the start of every epoch, on every rank, so that each epoch
    is shuffled differently (and identically across ranks). `num_replicas` and `rank`
    default to the process group's (`descent.distributed`).
    """

    random = False  # its order comes from seed + epoch, not from a generator

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            from descent import distributed  # the process group, a layer above the data

            if not distributed.is_initialized():
                raise RuntimeError(
                    "DistributedSampler: num_replicas and rank default to the process "
                    "group's; call descent.distributed.init_process_group() first, or pass both"
                )
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: {num_replicas=} must be >= 1")
        if not 0 <= rank < num_replicas:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Which epoch comes next: it seeds the shuffle, so every rank must set the same."""
        self.epoch = epoch

    def _indices(self, generator=None) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.drop_last:
            order = order[: self.total_size]
        else:
            order = np.resize(order, self.total_size)  # pads by repeating from the start
        return order[self.rank : self.total_size : self.num_replicas]

    def __len__(self) -> int:
        return self.num_samples
