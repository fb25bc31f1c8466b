"""Data types with PyTorch's names and its rules for the dtype of a mixed operation.

A descent dtype is a NumPy dtype, so `t.dtype == descent.float32` and
`t.numpy().dtype` agree. Promotion follows PyTorch, not NumPy: a float32
tensor combined with an integer tensor or a Python number stays float32
(NumPy would give float64), and a 0-d tensor or a Python number only
decides the dtype when it is of a higher kind (bool < integer < float)
than every tensor with dimensions.
"""

from __future__ import annotations

import builtins

import numpy as np

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
uint8 = np.dtype(np.uint8)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)

_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}
_default_float = [float32]


def get_default_dtype() -> np.dtype:
    """The dtype of tensors made from Python floats: float32 unless changed."""
    return _default_float[0]


def set_default_dtype(dtype) -> None:
    """Make `dtype` (float32 or float64) the dtype of new floating tensors."""
    dtype = as_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(
            f"set_default_dtype: {dtype} is not a floating dtype; use float32 or float64"
        )
    _default_float[0] = dtype


def as_dtype(dtype) -> np.dtype:
    """A NumPy dtype from a descent dtype, a NumPy one, a name ('float32') or a Python type."""
    if isinstance(dtype, np.dtype):
        return dtype
    if dtype is builtins.float:
        return get_default_dtype()  # torch: dtype=float means the default floating dtype
    if dtype is builtins.int:
        return int64
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{dtype!r} is not a dtype; use e.g. descent.float32 or 'int64'") from None


def rank(dtype: np.dtype) -> builtins.int:
    """0 for bool, 1 for integers, 2 for floats."""
    return _KIND_RANK.get(dtype.kind, 3)


def scalar_dtype(value) -> np.dtype:
    """The dtype PyTorch gives a Python number on its own."""
    if isinstance(value, builtins.bool | np.bool_):
        return bool
    if isinstance(value, builtins.int | np.integer):
        return int64
    return get_default_dtype()


def result_type(*operands) -> np.dtype:
    """The dtype of an operation on `operands` (arrays with dimensions, 0-d arrays, numbers)."""
    dims: list[np.dtype] = []
    zero_dims: list[np.dtype] = []
    numbers: list[np.dtype] = []
    for operand in operands:
        if isinstance(operand, np.ndarray):
            (dims if operand.ndim else zero_dims).append(operand.dtype)
        else:
            numbers.append(scalar_dtype(operand))
    result = None
    for group in (dims, zero_dims, numbers):
        if not group:
            continue
        candidate = group[0]
        for dtype in group[1:]:
            candidate = promote_types(candidate, dtype)
        if result is None or rank(candidate) > rank(result):
            result = candidate
    return result


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """torch.promote_types: the higher kind wins whole (float32 with int64 is float32);
    within one kind, the wider dtype."""
    if rank(a) != rank(b):
        return a if rank(a) > rank(b) else b
    return np.promote_types(a, b)
