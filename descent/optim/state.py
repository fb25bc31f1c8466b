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


def check_field(value, param: Tensor, scalar, where: str) -> None:
    """Raise unless `value` would load as a state field of `param`: with `scalar` (the
    field's `Range`), one number in it; else an array (descent's, NumPy's or torch's) of
    the parameter's shape and a floating dtype."""
    value = _array(value)
    if scalar is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = np.asarray(value)  # an int or float count, as older states hold
    array = hasattr(value, "shape") and hasattr(value, "dtype")
    if scalar is not None:
        if not array or value.size != 1:
            raise ValueError(f"{where} must be one number, got {value!r}")
        scalar.check(where, "the field", value.reshape(()).item())
        return
    if not array:
        raise TypeError(
            f"{where} must be an array of the parameter's shape {param.shape}, not a "
            f"{type(value).__name__}"
        )
    if value.shape != param._data.shape:
        raise ValueError(f"{where} has shape {value.shape}, the parameter {param.shape}")
    if value.dtype.kind != "f":
        raise TypeError(f"{where} has dtype {value.dtype}; a state field is floating point")


def loaded_value(value, param: Tensor, scalar: bool) -> Tensor:
    """A saved state value, checked by `check_field`, as a tensor for `param`: copied and
    cast to its dtype, or for a scalar field, to a float count unless it is floating."""
    array = _array(value)
    if scalar:
        array = np.asarray(array)
        floating = array.dtype.kind == "f"
        return wrap(np.array(array.reshape(()), dtype=array.dtype if floating else _scalar_dtype()))
    return wrap(array_module(param._data).array(array, dtype=param._data.dtype, copy=True))


def _array(value):
    """A tensor's data, or a torch tensor's as a NumPy array; anything else as it is."""
    if isinstance(value, Tensor):
        return value._data
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # torch's (its __array__ is old)
        return value.detach().cpu().numpy()
    return value
