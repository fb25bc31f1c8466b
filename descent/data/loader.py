"""`DataLoader`: batches of a data set with torch's arguments and defaults, in a seeded order
that can be resumed mid-epoch.

Batch, stochastic and mini-batch gradient descent are one data path here:
`batch_size=1` serves one sample per update (stochastic), `batch_size=k` serves
k (mini-batch), `batch_size='full'` (or any k >= the data set size) serves all
of them at once (batch).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math

import numpy as np

from descent.data.collate import default_collate, default_convert
from descent.data.dataset import batch_gatherer
from descent.data.sampler import (
    BatchSampler,
    RandomSampler,
    SequentialSampler,
    _ArraySampler,
    check_generator,
    epoch_indices,
)
from descent.data.workers import WorkerPool, fetch
from descent.random import default_generator

STATE_KEYS = ("epoch", "position", "generator", "num_samples", "batch_size")


def _check_batch_size(batch_size, num_samples: int | None) -> int:
    if isinstance(batch_size, str):
        if batch_size != "full":
            raise ValueError(
                f"{batch_size=} is not understood: use 1 (stochastic), an integer k "
                "(mini-batch) or 'full' (batch gradient descent)"
            )
        if num_samples is None:
            raise ValueError("batch_size='full' needs a sampler with a length")
        return num_samples
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(
            f"{batch_size=} must be a positive integer or 'full', not {type(batch_size).__name__}"
        )
    if batch_size < 1:
        raise ValueError(f"{batch_size=} must be >= 1, or 'full' for the whole data set")
    return int(batch_size) if num_samples is None else min(int(batch_size), num_samples)


def _own_generator(seed, generator) -> np.random.Generator:
    """The loader's generator: `generator`, or one made from `seed`, or one seeded from
    descent's default generator (so `descent.manual_seed` makes the order reproducible)."""
    if seed is not None and generator is not None:
        raise ValueError("DataLoader: pass seed= or generator=, not both")
    if generator is not None:
        return check_generator(generator, "DataLoader")
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        seed = int(default_generator().integers(2**63))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"DataLoader: {seed=} must be an int, a numpy.random.Generator or None")
    return np.random.default_rng(int(seed))


_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
"""NumPy's bit generators, by the name their state carries; a loaded state names one of
these, never an arbitrary attribute of numpy.random."""


def _generator_from_state(state: dict) -> np.random.Generator:
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def _check_count(state: dict, key: str, high: float) -> int:
    value = state[key]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"DataLoader.load_state_dict: {key}={value!r} must be an integer >= 0")
    if value > high:
        raise ValueError(f"DataLoader.load_state_dict: {key}={value!r} must be <= {high}")
    return int(value)


def _jsonable(value):
    """A generator state as plain dicts, lists, ints and strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


def _len_or_none(obj) -> int | None:
    try:
        return len(obj)
    except TypeError:
        return None


class DataLoader:
    """Serve `dataset` in batches, as `torch.utils.data.DataLoader` does.

    Args:
        dataset: a map-style data set (`len(ds)`, `ds[i]`). A `TensorDataset`, or a
            `Subset` or `ConcatDataset` of them, is gathered a whole batch at a time by
            fancy indexing, with no per-sample Python loop.
        batch_size: 1 (stochastic), an integer k (mini-batch), 'full' or anything >=
            the number of samples (batch gradient descent), or None for single samples
            without a batch dimension.
        shuffle: a new random order every epoch (a `RandomSampler` on the loader's
            generator). Off by default, as in torch.
        sampler, batch_sampler: the order of indices, or of lists of indices.
        num_workers: worker processes that load batches in parallel, in the sampler's
            order. They pay for a data set whose `__getitem__` is slow Python work; a
            data set gathered by fancy indexing (see `dataset`) is loaded in the main
            process whatever `num_workers` says, because sending its batches between
            processes costs more than gathering them.
        collate_fn: turns a list of samples into a batch (`default_collate`).
        pin_memory: accepted for torch code; descent runs on the CPU, so it changes nothing.
        drop_last: skip the last batch when it is smaller than `batch_size`.
        timeout: seconds to wait for a worker's batch before raising (0: no limit).
        worker_init_fn: called as `fn(worker_id)` in each worker after seeding it.
        multiprocessing_context: a start method ('fork', 'spawn', ...) or context.
        generator: a `numpy.random.Generator` for the order.
        prefetch_factor: batches each worker loads ahead (2 with workers).
        persistent_workers: keep the workers from one whole epoch to the next.
        seed: descent's shortcut for `generator`: an int or a Generator. With neither,
            the loader seeds its own generator from descent's default generator, so
            `descent.manual_seed` makes the order reproducible.

    One iteration over the loader is one epoch; `len(loader)` is its number of
    batches. `state_dict()` records where the loader stands (generator state at
    the start of the current epoch and the batches served in it) so a run
    stopped mid-epoch resumes with exactly the remaining batches.
    """

    def __init__(
        self,
        dataset,
        batch_size: int | str | None = 1,
        shuffle: bool | None = False,
        sampler=None,
        batch_sampler=None,
        num_workers: int = 0,
        collate_fn=None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator: np.random.Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        seed: int | np.random.Generator | None = None,
    ):
        self._check_workers(num_workers, timeout, prefetch_factor, persistent_workers)
        size = _len_or_none(dataset)
        if size == 0:
            raise ValueError(
                f"DataLoader: the data set {type(dataset).__name__} is empty (0 samples); "
                "check the file or the split that produced it"
            )
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError(
                "DataLoader: sampler option is mutually exclusive with shuffle; the sampler "
                "sets the order, so drop shuffle=True (or use shuffle=True without a sampler)"
            )
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                    "shuffle, sampler, and drop_last; the batch sampler sets all of them"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                "DataLoader: batch_size=None option disables auto-batching and is mutually "
                "exclusive with drop_last"
            )
        self.dataset = dataset
        self.generator = _own_generator(seed, generator)
        if sampler is None:
            if shuffle:
                sampler = RandomSampler(dataset, generator=self.generator)
            else:
                sampler = SequentialSampler(dataset)
        self.num_samples = _len_or_none(sampler)
        if batch_size is not None:
            asked, batch_size = batch_size, _check_batch_size(batch_size, self.num_samples)
            if drop_last and not isinstance(asked, str) and batch_size < asked:
                raise ValueError(
                    f"DataLoader: batch_size={asked} with drop_last=True and {self.num_samples} "
                    "samples would serve no batch at all; use drop_last=False or a smaller "
                    "batch_size"
                )
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._auto_collation = batch_sampler is not None
        default = default_collate if self._auto_collation else default_convert
        self.collate_fn = default if collate_fn is None else collate_fn
        self.num_workers = int(num_workers)
        self.prefetch_factor = 2 if num_workers and prefetch_factor is None else prefetch_factor
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = persistent_workers
        self.in_order = in_order  # batches always come in order here

        self._gather = None
        if self._auto_collation and self.collate_fn is default_collate:
            self._gather = batch_gatherer(dataset)
        self._use_workers = self.num_workers > 0 and self._gather is None
        self._pool: WorkerPool | None = None
        # The sampler that draws the order: a whole epoch is drawn at once from descent's
        # own samplers under the plain BatchSampler, and sliced into batches.
        self._drawer = sampler
        if self._auto_collation:
            plain = type(batch_sampler).__iter__ is BatchSampler.__iter__
            self._drawer = batch_sampler.sampler if plain else batch_sampler
        self._draws_array = epoch_indices(self._drawer)
        self._epoch = 0  # epochs begun and finished (or abandoned) before the current one
        self._position = 0  # batches served in the current epoch
        self._in_epoch = False
        self._order = None  # the current epoch's sample order, when drawn at once
        self._epoch_state = None  # state of the generator the epoch's order was drawn from
        self._resume = False  # the next iteration continues the epoch at `_position`
        self._token = None  # identifies the iteration that owns the current epoch

    @staticmethod
    def _check_workers(num_workers, timeout, prefetch_factor, persistent_workers) -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)):
            raise TypeError(f"DataLoader: {num_workers=} must be an int >= 0")
        if num_workers < 0:
            raise ValueError(
                f"DataLoader: num_workers option should be non-negative, got {num_workers}; "
                "use num_workers=0 to load in the main process"
            )
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                f"DataLoader: {prefetch_factor=} needs worker processes; set num_workers > 0 "
                "or leave prefetch_factor=None"
            )
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError(f"DataLoader: {prefetch_factor=} must be >= 1")
        if persistent_workers and num_workers == 0:
            raise ValueError(
                "DataLoader: persistent_workers option needs num_workers > 0; set num_workers "
                "or drop persistent_workers=True"
            )

    def __len__(self) -> int:
        if self._auto_collation:
            return len(self.batch_sampler)
        return len(self.sampler)

    @property
    def epoch(self) -> int:
        """How many epochs have been begun and finished (or abandoned) before the current one."""
        return self._epoch

    # -- one epoch --------------------------------------------------------------------

    def _kept_generator(self) -> np.random.Generator | None:
        """The generator the order is drawn from, kept from epoch to epoch: the sampler's
        own, or the loader's; None for a descent sampler that takes a fresh one each epoch."""
        own = getattr(self._drawer, "generator", None)
        if isinstance(own, np.random.Generator):
            return own
        if isinstance(self._drawer, _ArraySampler) and self._drawer.random:
            return None
        return self.generator

    def _begin_epoch(self, replay: dict | None = None) -> None:
        if self._in_epoch:  # an epoch left unfinished by a `break`
            self._epoch += 1
        generator = self._kept_generator()
        if replay is not None:
            if generator is None:
                generator = _generator_from_state(replay)
            else:
                generator.bit_generator.state = replay
        elif generator is None:
            generator = np.random.default_rng(int(default_generator().integers(2**63)))
        self._epoch_state = generator.bit_generator.state
        self._order = self._drawer._indices(generator) if self._draws_array else None
        self._position = 0
        self._in_epoch = True
        self._token = object()

    def _end_epoch(self) -> None:
        self._order, self._position, self._in_epoch = None, 0, False
        self._epoch += 1

    def _index_batches(self, start: int):
        """The epoch's batches of indices (single indices without auto-batching) from `start`."""
        order = self._order
        if order is None:
            source = self.batch_sampler if self._auto_collation else self.sampler
            return itertools.islice(iter(source), start, None)
        if not self._auto_collation:
            return iter(order[start:].tolist())
        size, drop_last = self.batch_sampler.batch_size, self.batch_sampler.drop_last
        count = len(order) // size if drop_last else math.ceil(len(order) / size)
        return (order[b * size : (b + 1) * size] for b in range(start, count))

    def _fetch(self, indices):
        if self._gather is not None:
            return self._gather(indices)
        return fetch(self.dataset, self.collate_fn, self._auto_collation, indices)

    def _worker_seed(self) -> int:
        """A base seed for the workers, a function of the epoch and its generator state, so
        a run (and a resumed run) seeds them alike without drawing from the generator."""
        text = json.dumps([self._epoch, _jsonable(self._epoch_state)], sort_keys=True)
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:7], "little")

    def _load(self, index_batches):
        if not self._use_workers:
            for indices in index_batches:
                yield self._fetch(indices)
            return
        pool, self._pool = self._pool, None
        if pool is None:
            pool = WorkerPool(self.dataset, self.collate_fn, self._auto_collation,
                              self.num_workers, self._worker_seed(), self.worker_init_fn,
                              self.multiprocessing_context)  # fmt: skip
        finished = False
        try:
            yield from pool.batches(index_batches, self.prefetch_factor, self.timeout)
            finished = True
        finally:
            if finished and self.persistent_workers:
                self._pool = pool
            else:
                pool.close()

    def __iter__(self):
        if not self._resume:
            self._begin_epoch()
        self._resume = False
        token, count = self._token, _len_or_none(self)
        batches = self._load(self._index_batches(self._position))
        try:
            for batch in batches:
                if self._token is token:
                    self._position += 1
                    if self._position == count:  # the epoch is over once its last batch is out
                        self._end_epoch()
                yield batch
            if self._token is token and self._in_epoch:  # a sampler without a length ran out
                self._end_epoch()
        except GeneratorExit:
            # A `break` abandons the epoch: the next iteration, live or resumed from
            # state_dict(), starts a new one, as PyTorch's loader does.
            if self._token is token and self._in_epoch:
                self._end_epoch()
            raise
        finally:
            batches.close()

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.close()

    # -- exact resume -----------------------------------------------------------

    def state_dict(self) -> dict:
        """Where the loader stands, as JSON-safe values: load it to serve the next batch."""
        if self._in_epoch:
            generator, position = self._epoch_state, self._position
        else:
            generator, position = (self._kept_generator() or self.generator).bit_generator.state, 0
        return {
            "epoch": self._epoch,
            "position": position,
            "generator": _jsonable(generator),
            "num_samples": self.num_samples,
            "batch_size": self.batch_size,
        }

    def check_state_dict(self, state) -> None:
        """Raise ValueError, TypeError or KeyError naming the key unless `state` would load:
        this loader's sample count and batch size, counts in range, and a generator state
        of the kind this loader draws from. Touches nothing."""
        name = "DataLoader.load_state_dict"
        if not isinstance(state, dict):
            raise TypeError(f"{name}: the state must be a dict, not a {type(state).__name__}")
        missing = [key for key in STATE_KEYS if key not in state]
        if missing:
            raise KeyError(f"{name}: state lacks {missing}")
        saved = (state["num_samples"], state["batch_size"])
        if saved != (self.num_samples, self.batch_size):
            raise ValueError(
                f"{name}: the state was saved for {saved[0]} samples in "
                f"batches of {saved[1]}, this loader has {self.num_samples} in batches of "
                f"{self.batch_size}; resume with the same data set and batch size"
            )
        _check_count(state, "epoch", 2**53)
        count = _len_or_none(self)
        position = _check_count(state, "position", math.inf if count is None else max(count - 1, 0))
        generator = state["generator"]
        kind = generator.get("bit_generator") if isinstance(generator, dict) else None
        target = self._kept_generator() or (None if position else self.generator)
        kinds = _BIT_GENERATORS if target is None else (type(target.bit_generator).__name__,)
        if kind not in kinds:
            raise ValueError(
                f"{name}: generator names the bit generator {kind!r}; this loader draws from "
                f"{' or '.join(kinds)}"
            )
        try:
            _generator_from_state(generator)
        except (ValueError, TypeError, KeyError, OverflowError) as error:
            raise ValueError(f"{name}: generator is not a valid {kind} state ({error})") from None

    def load_state_dict(self, state: dict) -> None:
        """Continue from `state` once `check_state_dict` passes it: the next iteration serves
        the rest of that epoch."""
        self.check_state_dict(state)
        position = int(state["position"])
        self._in_epoch, self._order = False, None
        if position > 0:
            self._begin_epoch(replay=state["generator"])  # redraws the saved epoch's order
            self._position = position
            self._resume = True
        else:
            (self._kept_generator() or self.generator).bit_generator.state = state["generator"]
        self._epoch = int(state["epoch"])
