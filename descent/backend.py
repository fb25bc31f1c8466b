"""Which array module a tensor's data lives on (NumPy today, CuPy later), and the library's
one thread policy.

Op code never names NumPy to make arrays for a tensor; it asks
`array_module(array)` so that the same op runs on any backend.

Threads: descent runs its ops on one Python thread and lets NumPy's BLAS
(matmul, conv) use its own pool. The one knob is `blas_threads(limit)`,
which every part that needs fewer BLAS threads (small layers, several
runs at once) goes through; `blas_threads_for(multiply_adds)` is the
rule for when a product is too small to be worth more than one thread.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
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


# -- threads ----------------------------------------------------------------------------------

ONE_THREAD_WORK = 1 << 23
"""Below this many multiply-adds per product, BLAS runs on one thread: for layers this
small, threads cost more than they save (an Adam step of a 64-100-10 MLP on a batch of
200 took 0.32 ms on one thread, 0.70 ms on two; of a 64-256-128-10 one, 1.4 ms and 45
ms, on a 2-core machine shared with other work). Larger products keep BLAS's own
threading."""


@functools.cache
def _blas_controller():
    """threadpoolctl's view of the loaded thread pools, found once and only when first
    needed: the search costs milliseconds, which `import descent` should not pay."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@functools.cache
def blas_libraries() -> tuple:
    """threadpoolctl's handles on the BLAS libraries loaded when first asked (reading one's
    thread count then takes a microsecond)."""
    return tuple(_blas_controller().select(user_api="blas").lib_controllers)


@contextlib.contextmanager
def blas_threads(limit: int | None) -> Iterator[None]:
    """Run the block with NumPy's BLAS on at most `limit` threads; None leaves it as it is.

    The previous limits come back when the block ends, even if it raises.
    """
    if limit is None:
        yield
        return
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"blas_threads: limit={limit!r} must be an int >= 1 or None")
    with _blas_controller().limit(limits=limit, user_api="blas"):
        yield


def blas_threads_for(multiply_adds: int) -> int | None:
    """The BLAS thread limit for products of about `multiply_adds` multiply-adds each:
    1 below `ONE_THREAD_WORK`, else None (BLAS's own choice)."""
    return 1 if multiply_adds < ONE_THREAD_WORK else None
