"""An optimizer's per-parameter state as torch keeps it: tensors, a float step count, and
what `state_dict` hands out and `load_state_dict` takes back."""

from __future__ import annotations

import numpy as np

from descent import dtypes
from descent.backend import array_module
from descent.tensor import Tensor, wrap


def zeros_field(param: np.ndarray) -> Tensor:
    """A state field shaped like `param`'s array, zero-filled, as a tensor over it."""
    return wrap(array_module(param).zeros_like(param))


def scalar_field(value: float = 0.0) -> Tensor:
    """A one-number state field (the step count) as torch keeps it: a 0-d tensor of
    float32, or float64 while that is the default dtype."""
    return wrap(np.array(value, dtype=_scalar_dtype()))


def _scalar_dtype() -> np.dtype:
    return np.dtype(np.float64 if dtypes.get_default_dtype() == np.float64 else np.float32)


def saved_value(value):
    """A state value as `state_dict` returns it: tensors and arrays copied."""
    if isinstance(value, Tensor):
        return wrap(value._data.copy())
    return value.copy() if hasattr(value, "shape") and hasattr(value, "copy") else value


def loaded_value(value, param: Tensor, scalar: bool, where: str):
    """A saved state value made ready for `param`: a tensor, checked, copied and cast."""
    if isinstance(value, Tensor):
        value = value._data
    elif hasattr(value, "detach") and hasattr(value, "numpy"):  # torch's (its __array__ is old)
        value = value.detach().cpu().numpy()
    if scalar:
        array = np.asarray(value)
        if array.size != 1:
            raise ValueError(f"{where} must be one number, got shape {array.shape}")
        floating = hasattr(value, "dtype") and array.dtype.kind == "f"
        return wrap(np.array(array.reshape(()), dtype=array.dtype if floating else _scalar_dtype()))
    if value is None or not hasattr(value, "shape"):
        return value
    if tuple(value.shape) != param._data.shape:
        raise ValueError(f"{where} has shape {tuple(value.shape)}, the parameter {param.shape}")
    return wrap(array_module(param._data).array(value, dtype=param._data.dtype, copy=True))
