"""Compiled kernels for the few loops NumPy cannot run in one pass (a fused optimizer step,
a 2x2 pool, a convolution's col2im), through numba.

Every kernel has a plain-NumPy reference next to it, and tests compare the two. A process's
first kernel costs numba's import and set-up (about 1 s, its cached kernels loaded; more
for a compile on a machine's first call), so callers take the compiled path only for work
large enough to repay it and keep the reference for the rest. `DESCENT_JIT=0` turns every
kernel off, for a reference run or a machine where numba misbehaves.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import threading
from collections.abc import Callable

import numpy as np

FLOAT_DTYPES = frozenset([np.dtype(np.float32), np.dtype(np.float64)])
"""The dtypes the kernels are written for; others take the NumPy reference."""


@functools.cache
def available() -> bool:
    """Whether compiled kernels may run: numba is installed and `DESCENT_JIT` is not "0"."""
    if os.environ.get("DESCENT_JIT", "1").strip() == "0":
        return False
    return importlib.util.find_spec("numba") is not None


class Kernel:
    """A Python function compiled by numba on its first call, not at import. Kernels run on
    the calling thread (`nogil`, so several threads may run one at once)."""

    def __init__(self, function: Callable, **options):
        self.function = function
        self.options = {"cache": True, "nogil": True, **options}
        self._compiled: Callable | None = None
        self._compiling = threading.Lock()  # threads calling it first compile it once
        functools.update_wrapper(self, function)

    def __call__(self, *args):
        if self._compiled is None:
            with self._compiling:
                if self._compiled is None:
                    self._compiled = _numba().njit(**self.options)(self.function)
        return self._compiled(*args)


def kernel(function: Callable | None = None, **options) -> Kernel | Callable[[Callable], Kernel]:
    """Decorate a function to be compiled by numba on first use: `@kernel` or
    `@kernel(error_model="numpy")`. Call it only when `available()` is true."""
    if function is None:
        return lambda f: Kernel(f, **options)
    return Kernel(function, **options)


def loaded() -> bool:
    """Whether numba is imported in this process already: its import and set-up paid, a
    kernel may run on work too short to repay them alone."""
    return "numba" in sys.modules


def _numba():
    """numba, imported with its error highlighting off: the highlighting (colorama) wrote
    terminal escapes into piped output at exit, e.g. after every rank under mpiexec."""
    os.environ.setdefault("NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING", "1")
    import numba

    return numba
