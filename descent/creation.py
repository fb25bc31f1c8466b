"""Functions that make tensors: from data, filled with a constant, a range or random numbers."""

import numpy as np

from descent.random import default_generator
from descent.tensor import DEFAULT_FLOAT, Tensor, as_array, wrap


def _shape(shape: tuple) -> tuple:
    """Accept both `zeros(2, 3)` and `zeros((2, 3))`, as PyTorch does."""
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = tuple(shape[0])
    for size in shape:
        if not isinstance(size, (int, np.integer)) or size < 0:
            raise ValueError(f"shape {shape} must be non-negative integers")
    return shape


def _float_dtype(dtype) -> np.dtype:
    return DEFAULT_FLOAT if dtype is None else np.dtype(dtype)


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of `data`; floats become float32 unless `dtype` says."""
    return wrap(as_array(data, dtype, copy=True), requires_grad)


def zeros(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return wrap(np.zeros(_shape(shape), _float_dtype(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return wrap(np.ones(_shape(shape), _float_dtype(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    shape = _shape((shape,) if isinstance(shape, int) else (shape,))
    return wrap(np.full(shape, fill_value, _float_dtype(dtype)), requires_grad)


def zeros_like(x: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    xp_data = x.data if isinstance(x, Tensor) else np.asarray(x)
    return wrap(np.zeros_like(xp_data, dtype=dtype), requires_grad)


def ones_like(x: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    xp_data = x.data if isinstance(x, Tensor) else np.asarray(x)
    return wrap(np.ones_like(xp_data, dtype=dtype), requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, stop); integers unless a bound or `dtype` is a float."""
    values = np.arange(start, stop, step) if stop is not None else np.arange(start)
    return wrap(as_array(values, dtype), requires_grad)


def randn(*shape, dtype=None, generator=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from `generator` (descent's default one unless given)."""
    rng = generator or default_generator()
    data = rng.standard_normal(_shape(shape), dtype=_float_dtype(dtype))
    return wrap(data, requires_grad)


def rand(*shape, dtype=None, generator=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from `generator` (descent's default one unless given)."""
    rng = generator or default_generator()
    data = rng.random(_shape(shape), dtype=_float_dtype(dtype))
    return wrap(data, requires_grad)
