"""Functions that make tensors: from data, filled with a constant, a range or random numbers.

Each takes torch's `dtype=`, `device=` and `requires_grad=`; floating
tensors get the default dtype (float32) unless `dtype` says otherwise.
"""

import numpy as np

from descent.device import as_device
from descent.dtypes import as_dtype, get_default_dtype
from descent.random import default_generator
from descent.tensor import Tensor, infer_array, wrap


def _shape(shape: tuple) -> tuple:
    """Accept both `zeros(2, 3)` and `zeros((2, 3))`, as PyTorch does."""
    if len(shape) == 1 and not isinstance(shape[0], int | np.integer):
        shape = tuple(shape[0])
    for size in shape:
        if not isinstance(size, int | np.integer) or size < 0:
            raise ValueError(f"shape {shape} must be non-negative integers")
    return tuple(int(size) for size in shape)


def _float_dtype(dtype) -> np.dtype:
    return get_default_dtype() if dtype is None else as_dtype(dtype)


def _made(array, device, requires_grad: bool) -> Tensor:
    if device is not None:
        as_device(device)
    return wrap(array, requires_grad)


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of `data`, its dtype inferred as torch does: a NumPy
    array keeps its own, Python floats take the default (float32), ints int64."""
    return _made(infer_array(data, dtype), device, requires_grad)


def _legacy(dtype):
    """torch's typed constructors: `LongTensor([1, 2])` is `tensor([1, 2], dtype=long)`,
    `FloatTensor(2, 3)` a (2, 3) tensor of zeros."""

    def make(*data):
        if data and all(isinstance(d, int) for d in data):
            return zeros(*data, dtype=dtype)
        return tensor(data[0] if data else [], dtype=dtype)

    return make


FloatTensor = _legacy(np.float32)
DoubleTensor = _legacy(np.float64)
LongTensor = _legacy(np.int64)
IntTensor = _legacy(np.int32)
BoolTensor = _legacy(np.bool_)
ByteTensor = _legacy(np.uint8)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """`data` as a tensor, sharing memory with a NumPy array or tensor of that dtype."""
    if isinstance(data, Tensor) and (dtype is None or as_dtype(dtype) == data.dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or as_dtype(dtype) == data.dtype):
        return _made(data, device, False)
    return tensor(data, dtype, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares `array`'s memory and dtype: writes to one show in the other."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return wrap(array)


def zeros(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _made(np.zeros(_shape(shape), _float_dtype(dtype)), device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _made(np.ones(_shape(shape), _float_dtype(dtype)), device, requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    # Zero-filled rather than uninitialised: the same cost, and never garbage.
    return zeros(*shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """`size` filled with `fill_value`; the dtype follows the value (bool, int64 or float)."""
    size = _shape((size,) if isinstance(size, int) else (size,))
    if dtype is None:
        dtype = infer_array(fill_value).dtype
    return _made(np.full(size, fill_value, as_dtype(dtype)), device, requires_grad)


def _like(x, dtype):
    array = x._data if isinstance(x, Tensor) else np.asarray(x)
    return array, array.dtype if dtype is None else as_dtype(dtype)


def zeros_like(input, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    array, dtype = _like(input, dtype)
    return _made(np.zeros(array.shape, dtype), device, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    array, dtype = _like(input, dtype)
    return _made(np.ones(array.shape, dtype), device, requires_grad)


empty_like = zeros_like


def full_like(input, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    array, dtype = _like(input, dtype)
    return _made(np.full(array.shape, fill_value, dtype), device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad: bool = False):
    """Evenly spaced values in [start, end): int64 unless a bound, the step or `dtype` is
    a float."""
    if end is None:
        start, end = 0, start
    values = np.arange(start, end, step)
    if dtype is None:
        dtype = get_default_dtype() if values.dtype.kind == "f" else np.int64
    return _made(values.astype(as_dtype(dtype)), device, requires_grad)


def linspace(start, end, steps: int, dtype=None, device=None, requires_grad: bool = False):
    values = np.linspace(start, end, steps)
    return _made(values.astype(_float_dtype(dtype)), device, requires_grad)


def logspace(start, end, steps: int, base: float = 10.0, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:  # fmt: skip
    values = np.logspace(start, end, steps, base=base)
    return _made(values.astype(_float_dtype(dtype)), device, requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad: bool = False):
    return _made(np.eye(n, m, dtype=_float_dtype(dtype)), device, requires_grad)


def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    arrays = np.meshgrid(*(np.asarray(t) for t in tensors), indexing=indexing)
    return tuple(wrap(a.copy()) for a in arrays)


def randn(*shape, dtype=None, generator=None, device=None, requires_grad: bool = False):
    """Standard normal samples from `generator` (descent's default one unless given)."""
    rng = generator or default_generator()
    data = rng.standard_normal(_shape(shape), dtype=_float_dtype(dtype))
    return _made(data, device, requires_grad)


def rand(*shape, dtype=None, generator=None, device=None, requires_grad: bool = False):
    """Uniform samples in [0, 1) from `generator` (descent's default one unless given)."""
    rng = generator or default_generator()
    data = rng.random(_shape(shape), dtype=_float_dtype(dtype))
    return _made(data, device, requires_grad)


def randint(low, high=None, size=None, *, dtype=None, generator=None, device=None,
            requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Integers in [low, high) (`randint(high, size)` starts at 0), int64 by default."""
    if size is None:
        low, high, size = 0, low, high
    rng = generator or default_generator()
    data = rng.integers(low, high, _shape((size,))).astype(as_dtype(dtype or np.int64))
    return _made(data, device, requires_grad)


def randperm(n: int, *, dtype=None, generator=None, device=None) -> Tensor:
    rng = generator or default_generator()
    return _made(rng.permutation(n).astype(as_dtype(dtype or np.int64)), device, False)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Normal samples; `mean` and `std` may be tensors (the shape is theirs)."""
    rng = generator or default_generator()
    mean_array, std_array = np.asarray(mean), np.asarray(std)
    shape = _shape((size,)) if size is not None else np.broadcast(mean_array, std_array).shape
    data = rng.normal(mean_array, std_array, shape).astype(_float_dtype(dtype))
    return _made(data, device, requires_grad)


def rand_like(input, dtype=None, generator=None, requires_grad: bool = False) -> Tensor:
    array, dtype = _like(input, dtype)
    return rand(*array.shape, dtype=dtype, generator=generator, requires_grad=requires_grad)


def randn_like(input, dtype=None, generator=None, requires_grad: bool = False) -> Tensor:
    array, dtype = _like(input, dtype)
    return randn(*array.shape, dtype=dtype, generator=generator, requires_grad=requires_grad)


__all__ = [
    "BoolTensor", "ByteTensor", "DoubleTensor", "FloatTensor", "IntTensor", "LongTensor",
    "arange", "as_tensor", "empty", "empty_like", "eye", "from_numpy", "full", "full_like",
    "linspace", "logspace", "meshgrid", "normal", "ones", "ones_like", "rand", "rand_like",
    "randint", "randn", "randn_like", "randperm", "tensor", "zeros", "zeros_like",
]  # fmt: skip
