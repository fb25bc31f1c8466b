"""`DataLoader`: batches of a data set in a seeded order, resumable mid-epoch.

Batch, stochastic and mini-batch gradient descent are one data path here:
`batch_size=1` serves one sample per update (stochastic), `batch_size=k` serves
k (mini-batch), `batch_size='full'` (or any k >= the data set size) serves all
of them at once (batch).
"""

from __future__ import annotations

import math

import numpy as np

from descent.random import default_generator
from descent.tensor import Tensor, as_array, wrap

STATE_KEYS = ("epoch", "position", "generator", "num_samples", "batch_size")


def _check_batch_size(batch_size, num_samples: int) -> int:
    if isinstance(batch_size, str):
        if batch_size != "full":
            raise ValueError(
                f"{batch_size=} is not understood: use 1 (stochastic), an integer k "
                "(mini-batch) or 'full' (batch gradient descent)"
            )
        return num_samples
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(
            f"{batch_size=} must be a positive integer or 'full', not {type(batch_size).__name__}"
        )
    if batch_size < 1:
        raise ValueError(f"{batch_size=} must be >= 1, or 'full' for the whole data set")
    return min(int(batch_size), num_samples)


def _jsonable(value):
    """A generator state as plain dicts, lists, ints and strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


def _collate(samples: list):
    """Stack a list of per-sample values into batch Tensors (tuples field by field)."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(_collate([s[i] for s in samples]) for i in range(len(first)))
    arrays = [s._data if isinstance(s, Tensor) else np.asarray(s) for s in samples]
    return wrap(as_array(np.stack(arrays)))  # float64 samples become float32, as everywhere


class DataLoader:
    """Serve `dataset` in batches, shuffled each epoch by the loader's own generator.

    Args:
        dataset: a `Dataset` (a `TensorDataset` is gathered by fancy indexing,
            with no per-sample Python loop).
        batch_size: 1, an integer k, or 'full'; anything >= len(dataset) means full.
        shuffle: draw a new order every epoch.
        drop_last: skip the last batch when it is smaller than `batch_size`.
        seed: an int, a `numpy.random.Generator`, or None to seed from descent's
            default generator (so `dc.manual_seed` makes the order reproducible).

    One iteration over the loader is one epoch; `len(loader)` is its number of
    batches. `state_dict()` records where the loader stands (generator state at
    the start of the current epoch and the batches served in it) so a run
    stopped mid-epoch resumes with exactly the remaining batches.
    """

    def __init__(
        self,
        dataset,
        batch_size: int | str = 1,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int | np.random.Generator | None = None,
    ):
        num_samples = len(dataset)
        if num_samples == 0:
            raise ValueError(
                f"DataLoader: the data set {type(dataset).__name__} is empty (0 samples); "
                "check the file or the split that produced it"
            )
        self.dataset = dataset
        self.batch_size = _check_batch_size(batch_size, num_samples)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.num_samples = num_samples
        if drop_last and isinstance(batch_size, (int, np.integer)) and batch_size > num_samples:
            raise ValueError(
                f"DataLoader: {batch_size=} with drop_last=True and {num_samples} samples "
                "would serve no batch at all; use drop_last=False or a smaller batch_size"
            )
        if isinstance(seed, np.random.Generator):
            self.generator = seed
        else:
            if seed is None:
                seed = int(default_generator().integers(2**63))
            self.generator = np.random.default_rng(seed)
        self._gather = getattr(dataset, "__getitems__", None)
        self._epoch = 0  # epochs begun before the current one
        self._position = 0  # batches served in the current epoch
        self._order = None  # the current epoch's sample order; None between epochs
        self._epoch_state = None  # generator state from which `_order` was drawn
        self._resume = False  # the next iteration continues `_order` at `_position`

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    @property
    def epoch(self) -> int:
        """How many epochs have been begun and finished (or abandoned) before the current one."""
        return self._epoch

    def _begin_epoch(self) -> None:
        if self._order is not None:  # an epoch left unfinished by a `break`
            self._epoch += 1
        self._epoch_state = self.generator.bit_generator.state
        if self.shuffle:
            self._order = self.generator.permutation(self.num_samples)
        else:
            self._order = np.arange(self.num_samples)
        self._position = 0

    def _fetch(self, indices: np.ndarray):
        if self._gather is not None:
            return self._gather(indices)
        return _collate([self.dataset[int(i)] for i in indices])

    def __iter__(self):
        if not self._resume:
            self._begin_epoch()
        self._resume = False
        order, size, count = self._order, self.batch_size, len(self)
        try:
            for batch in range(self._position, count):
                self._position = batch + 1
                if self._position == count:  # the epoch is over once its last batch is out
                    self._order, self._position = None, 0
                    self._epoch += 1
                yield self._fetch(order[batch * size : (batch + 1) * size])
        except GeneratorExit:
            # A `break` abandons the epoch: the next iteration, live or resumed from
            # state_dict(), starts a new one, as PyTorch's loader does.
            if self._order is order:
                self._order, self._position = None, 0
                self._epoch += 1
            raise

    # -- exact resume -----------------------------------------------------------

    def state_dict(self) -> dict:
        """Where the loader stands, as JSON-safe values: load it to serve the next batch."""
        if self._order is None:
            generator, position = self.generator.bit_generator.state, 0
        else:
            generator, position = self._epoch_state, self._position
        return {
            "epoch": self._epoch,
            "position": position,
            "generator": _jsonable(generator),
            "num_samples": self.num_samples,
            "batch_size": self.batch_size,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from `state`: the next iteration serves the rest of that epoch."""
        missing = [key for key in STATE_KEYS if key not in state]
        if missing:
            raise KeyError(f"DataLoader.load_state_dict: state lacks {missing}")
        saved = (state["num_samples"], state["batch_size"])
        if saved != (self.num_samples, self.batch_size):
            raise ValueError(
                f"DataLoader.load_state_dict: the state was saved for {saved[0]} samples in "
                f"batches of {saved[1]}, this loader has {self.num_samples} in batches of "
                f"{self.batch_size}; resume with the same data set and batch size"
            )
        position = int(state["position"])
        if not 0 <= position < max(len(self), 1):
            raise ValueError(f"DataLoader.load_state_dict: {position=} outside 0..{len(self) - 1}")
        self.generator.bit_generator.state = state["generator"]
        self._epoch = int(state["epoch"])
        self._order = None
        if position > 0:
            self._begin_epoch()  # redraws the saved epoch's order from the saved state
            self._epoch = int(state["epoch"])
            self._position = position
            self._resume = True
