"""`axpy` (y += alpha * x) and `xpby` (y = x + beta * y) in one pass each, through the
OpenBLAS that NumPy itself runs.

NumPy makes two passes of an update like `w -= lr * d` (the product into a scratch
array, then the subtraction): 30 us on a 256x784 float32 weight, where BLAS's axpy takes
17 on one thread, and 178 against 94 us on 1M elements; a momentum buffer's
`b = m * b + g`, 24 us against BLAS's 18 on 200k elements. axpy also rounds as torch's
`w.add_(d, alpha=-lr)` does, once (a fused multiply-add), but for the last few elements
(fewer than 32), which OpenBLAS's Haswell kernel rounds twice: within one ulp of torch.
NumPy does not expose BLAS's level-1 routines, so the library is found through
threadpoolctl (once, at the first call: milliseconds) and called with ctypes; without an
OpenBLAS (NumPy built on another BLAS), or for arrays it cannot take, NumPy makes the
same update in two passes, rounded twice.

OpenBLAS splits an axpy of more than 10,000 elements across the threads its matrix products
use; they are the ones already spinning after a training step's matmuls, so the update
meets no other pool. On a 2-CPU Xeon, setting the thread count to one around each call
(which wakes and parks those threads) and leaving it as it is measured: a 200k-element
saxpy right after a matmul 56 -> 20 us; a 784-256-256-10 MLP's SGD update 79 -> 34 us
alone and 177 -> 91 us inside its training loop at batch 32. Under load from other
processes two threads can lose (93 against 38 us on one, on an AMD machine of an earlier
round), as torch's threads do; the quiet machine is the one tuned for."""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np

_AFFIXES = [("", ""), ("scipy_", "64_"), ("", "64_"), ("", "_64"), ("scipy_", "")]
"""How OpenBLAS builds name their symbols: `cblas_saxpy`, `scipy_cblas_saxpy64_` (the
scipy-openblas64 library of NumPy's wheels), ..."""
BLAS_FROM = 1 << 15
"""From this many elements on, BLAS's one pass repays its call (2.5 us through ctypes, where
NumPy's two passes take 1 us on 256 elements and 3.8 on 32k)."""


class OpenBLAS:
    """The routines `axpy` and `xpby` call, by name ("axpy", "axpby") and dtype."""

    def __init__(self, routines: dict[tuple[str, np.dtype], Callable], largest: int) -> None:
        self.routines = routines
        self.largest = largest  # the most elements its integers can count

    def run(self, name: str, y: np.ndarray, *arguments) -> None:
        """Routine `name` for y's dtype, on the threads BLAS runs on now."""
        self.routines[name, y.dtype](y.size, *arguments)


def axpy(alpha: float, x: np.ndarray, y: np.ndarray, scratch: np.ndarray) -> None:
    """y += alpha * x, in place, rounded once (a fused multiply-add) where BLAS runs it.

    `scratch`, shaped like `y` and not `y` itself, is used only on NumPy's path; it may be
    `x`, which is then overwritten.
    """
    blas = _blas_for(x, y)
    if blas is None:
        np.multiply(x, alpha, out=scratch)
        y += scratch
        return
    blas.run("axpy", y, alpha, x.ctypes.data, 1, y.ctypes.data, 1)


def xpby(x: np.ndarray, beta: float, y: np.ndarray) -> None:
    """y = x + beta * y, in place, in one pass where BLAS runs it (its axpby, alpha 1), to
    the bit NumPy's two passes and torch's `y.mul_(beta).add_(x)`: beta * y rounded, then
    the sum. (With another alpha, OpenBLAS's axpby rounds otherwise than torch.)"""
    blas = _blas_for(x, y)
    if blas is None:
        y *= beta
        y += x
        return
    blas.run("axpby", y, 1.0, x.ctypes.data, 1, beta, y.ctypes.data, 1)


def _blas_for(x: np.ndarray, y: np.ndarray) -> OpenBLAS | None:
    """NumPy's OpenBLAS where it takes x and y and repays its call, else None: NumPy
    arrays of one BLAS dtype, both C-contiguous (element i of one is element i of the
    other), of at least `BLAS_FROM` elements."""
    if y.size < BLAS_FROM:
        return None
    blas = _openblas()
    if blas is not None and y.size > blas.largest:
        return None
    takes = (
        blas is not None
        and type(x) is np.ndarray
        and type(y) is np.ndarray
        and x.dtype == y.dtype
        and ("axpy", y.dtype) in blas.routines
        and x.flags.c_contiguous
        and y.flags.c_contiguous
        and y.flags.writeable  # else NumPy's path raises, as NumPy does
    )
    return blas if takes else None


@functools.cache
def _openblas() -> OpenBLAS | None:
    """NumPy's OpenBLAS routines, or None where no OpenBLAS (or not all of them) is found."""
    library = _numpys_openblas()
    if library is None:
        return None
    names = ["openblas_get_config", "cblas_saxpy", "cblas_daxpy", "cblas_saxpby", "cblas_daxpby"]
    for prefix, suffix in _AFFIXES:
        found = [getattr(library, f"{prefix}{name}{suffix}", None) for name in names]
        if None not in found:
            break
    else:
        return None
    config, saxpy, daxpy, saxpby, daxpby = found
    config.restype = ctypes.c_char_p
    integer = ctypes.c_int64 if b"USE64BITINT" in config() else ctypes.c_int32
    routines = {}
    for dtype, scalar, axpy_routine, axpby_routine in (
        (np.dtype(np.float32), ctypes.c_float, saxpy, saxpby),
        (np.dtype(np.float64), ctypes.c_double, daxpy, daxpby),
    ):
        vector = [ctypes.c_void_p, integer]  # an array's address and stride
        axpy_routine.argtypes = [integer, scalar, *vector, *vector]
        axpby_routine.argtypes = [integer, scalar, *vector, scalar, *vector]
        for routine in (axpy_routine, axpby_routine):
            routine.restype = None
        routines["axpy", dtype], routines["axpby", dtype] = axpy_routine, axpby_routine
    largest = 2**63 - 1 if integer is ctypes.c_int64 else 2**31 - 1
    return OpenBLAS(routines, largest)


def _numpys_openblas() -> ctypes.CDLL | None:
    """The OpenBLAS library loaded in this process, NumPy's where several are (another's
    thread pool would compete with the one NumPy's matrix products keep spinning)."""
    from descent.backend import blas_libraries

    paths = [Path(lib.filepath) for lib in blas_libraries() if lib.internal_api == "openblas"]
    if not paths:
        return None
    numpys = [path for path in paths if "numpy" in str(path)]
    return ctypes.CDLL(str((numpys or paths)[0]))
