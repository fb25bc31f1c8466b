"""`axpy`: y += alpha * x in one pass, through the OpenBLAS that NumPy itself runs.

NumPy makes two passes of an update like `w -= lr * d` (the product into a scratch
array, then the subtraction): 30 us on a 256x784 float32 weight, where BLAS's axpy takes
10, and 177 against 50 us on 1M elements. axpy also rounds as torch's
`w.add_(d, alpha=-lr)` does, once (a fused multiply-add), but for the last few elements
(fewer than 32), which OpenBLAS's Haswell kernel rounds twice: within one ulp of torch.
NumPy does not expose BLAS's level-1 routines, so the library is found through
threadpoolctl (once, at the first call: milliseconds) and called with ctypes; without an
OpenBLAS (NumPy built on another BLAS), or for arrays it cannot take, `axpy` makes NumPy's
two passes, the same update rounded twice.

OpenBLAS splits an axpy of more than 10,000 elements across its threads, and that made
it 2.5-4x slower on this 2-core machine shared with other work (a 200k-element saxpy:
93 us on two threads, 38 on one), as threads did for the compiled kernels
(descent.optim.kernels): a large axpy runs on one thread.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_AFFIXES = [("", ""), ("scipy_", "64_"), ("", "64_"), ("", "_64"), ("scipy_", "")]
"""How OpenBLAS builds name their symbols: `cblas_saxpy`, `scipy_cblas_saxpy64_` (the
scipy-openblas64 library of NumPy's wheels), ..."""
BLAS_FROM = 1 << 15
"""From this many elements on, BLAS's one pass repays its call (2.5 us through ctypes, 3.5
with the thread count set around it, where NumPy's two passes take 1 us on 256 elements
and 3.8 on 32k)."""


@dataclass(frozen=True)
class OpenBLAS:
    """The routines `axpy` calls: saxpy and daxpy by dtype, and the thread count's getter
    and setter."""

    axpy_by_dtype: dict[np.dtype, Callable]
    get_threads: Callable[[], int]
    set_threads: Callable[[int], None]


def axpy(alpha: float, x: np.ndarray, y: np.ndarray, scratch: np.ndarray) -> None:
    """y += alpha * x, in place, rounded once (a fused multiply-add) where BLAS runs it.

    `scratch` (shaped like `y`, not aliasing x or y) is used only on NumPy's path.
    """
    blas = _openblas() if y.size >= BLAS_FROM else None
    routine = blas.axpy_by_dtype.get(y.dtype) if blas is not None and _takes(x, y) else None
    if routine is None:
        np.multiply(x, alpha, out=scratch)
        y += scratch
        return
    threads = blas.get_threads()
    blas.set_threads(1)
    try:
        routine(y.size, alpha, x.ctypes.data, 1, y.ctypes.data, 1)
    finally:
        blas.set_threads(threads)


def _takes(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether BLAS can run on x and y as flat vectors: NumPy arrays of one dtype, both
    C-contiguous (element i of one is element i of the other)."""
    return (
        type(x) is np.ndarray
        and type(y) is np.ndarray
        and x.dtype == y.dtype
        and x.flags.c_contiguous
        and y.flags.c_contiguous
    )


@functools.cache
def _openblas() -> OpenBLAS | None:
    """NumPy's OpenBLAS routines, or None where no OpenBLAS (or not all of them) is found."""
    library = _numpys_openblas()
    if library is None:
        return None
    for prefix, suffix in _AFFIXES:
        names = ["openblas_get_config", "cblas_saxpy", "cblas_daxpy",
                 "openblas_get_num_threads", "openblas_set_num_threads"]  # fmt: skip
        found = [getattr(library, f"{prefix}{name}{suffix}", None) for name in names]
        if None not in found:
            break
    else:
        return None
    config, single, double, get_threads, set_threads = found
    config.restype = ctypes.c_char_p
    integer = ctypes.c_int64 if b"USE64BITINT" in config() else ctypes.c_int32
    for routine, scalar in ((single, ctypes.c_float), (double, ctypes.c_double)):
        routine.argtypes = [integer, scalar, ctypes.c_void_p, integer, ctypes.c_void_p, integer]
        routine.restype = None
    get_threads.restype, set_threads.argtypes = ctypes.c_int, [ctypes.c_int]
    routines = {np.dtype(np.float32): single, np.dtype(np.float64): double}
    return OpenBLAS(routines, get_threads, set_threads)


def _numpys_openblas() -> ctypes.CDLL | None:
    """The OpenBLAS library loaded in this process, NumPy's where several are (another's
    thread pool would compete with the one NumPy's matrix products keep spinning)."""
    from threadpoolctl import ThreadpoolController

    paths = [
        Path(controller.filepath)
        for controller in ThreadpoolController().select(internal_api="openblas").lib_controllers
    ]
    if not paths:
        return None
    numpys = [path for path in paths if "numpy" in str(path)]
    return ctypes.CDLL(str((numpys or paths)[0]))
