"""The default random generator behind `randn`, `rand` and weight initialisation."""

import numpy as np

_generator = np.random.default_rng()


class Generator(np.random.Generator):
    """torch's `Generator`: a NumPy generator with `manual_seed`, taken by every
    `generator=` argument (`random_split(ds, [8, 2], generator=Generator().manual_seed(0))`)."""

    def __init__(self, device="cpu"):
        super().__init__(np.random.PCG64())
        self._seed: int | None = None

    def manual_seed(self, seed: int) -> "Generator":
        self.bit_generator.state = np.random.PCG64(int(seed)).state
        self._seed = int(seed)
        return self

    def initial_seed(self) -> int | None:
        return self._seed

    def get_state(self) -> dict:
        return self.bit_generator.state

    def set_state(self, state: dict) -> "Generator":
        self.bit_generator.state = state
        return self


def manual_seed(seed: int) -> np.random.Generator:
    """Seed descent's default generator, making `randn`, `rand` and init reproducible.

    The generator is reseeded in place, so references taken earlier follow the seed too.
    """
    _generator.bit_generator.state = np.random.default_rng(seed).bit_generator.state
    return _generator


def default_generator() -> np.random.Generator:
    """The generator used when no other is passed."""
    return _generator


def get_rng_state() -> dict:
    """The default generator's state, a JSON-serialisable dict (for checkpoints)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by `get_rng_state`."""
    _generator.bit_generator.state = state
