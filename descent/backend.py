"""Which array module a tensor's data lives on: NumPy today, CuPy later.

Op code never names NumPy to make arrays for a tensor; it asks
`array_module(array)` so that the same op runs on any backend.
"""

from types import ModuleType

import numpy as np


def array_module(array) -> ModuleType:
    """Return the array module (numpy or cupy) that owns `array`."""
    if type(array) is np.ndarray:  # the hot path: one type check
        return np
    if type(array).__module__.startswith("cupy"):
        import cupy  # only reached when the user already holds CuPy arrays

        return cupy
    return np


def shares_memory(a, b) -> bool:
    """Whether two arrays may overlap in memory (a view and its base do)."""
    return array_module(a).may_share_memory(a, b)
