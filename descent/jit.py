"""Compiled kernels for the few loops NumPy cannot run in one pass (a fused optimizer step, a
direct convolution), through numba.

Every kernel has a plain-NumPy reference next to it, and tests compare the two. A kernel
costs numba's import (about 0.4 s) and a compile on its first call on a machine (cached on
disk afterwards), so callers take the compiled path only for work large enough to repay it
and keep the reference for the rest. `DESCENT_JIT=0` turns every kernel off, for a
reference run or a machine where numba misbehaves.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable


@functools.cache
def available() -> bool:
    """Whether compiled kernels may run: numba is installed and `DESCENT_JIT` is not "0"."""
    if os.environ.get("DESCENT_JIT", "1").strip() == "0":
        return False
    return importlib.util.find_spec("numba") is not None


class Kernel:
    """A Python function compiled by numba on its first call, not at import.

    `parallel=True` kernels run `numba.prange` loops on numba's threads; `threads(n)`
    caps them, as `backend.blas_threads` caps BLAS.
    """

    def __init__(self, function: Callable, **options):
        self.function = function
        self.options = {"cache": True, "nogil": True, **options}
        self._compiled: Callable | None = None
        functools.update_wrapper(self, function)

    def __call__(self, *args):
        if self._compiled is None:
            self._compiled = _numba().njit(**self.options)(self.function)
        return self._compiled(*args)


def kernel(function: Callable | None = None, **options) -> Kernel | Callable[[Callable], Kernel]:
    """Decorate a function to be compiled by numba on first use: `@kernel` or
    `@kernel(parallel=True, fastmath=True)`. Call it only when `available()` is true."""
    if function is None:
        return lambda f: Kernel(f, **options)
    return Kernel(function, **options)


def threads(limit: int) -> None:
    """Cap the threads of parallel kernels at `limit` (at most numba's own count)."""
    numba = _numba()
    numba.set_num_threads(max(1, min(limit, numba.config.NUMBA_NUM_THREADS)))


def _numba():
    """numba, imported with its error highlighting off: the highlighting (colorama) wrote
    terminal escapes into piped output at exit, e.g. after every rank under mpiexec."""
    os.environ.setdefault("NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING", "1")
    import numba

    return numba
