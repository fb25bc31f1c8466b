"""The default random generator behind `randn`, `rand` and weight initialisation."""

import numpy as np

_generator = np.random.default_rng()


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
