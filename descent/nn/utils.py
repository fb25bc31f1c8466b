"""`descent.nn.utils`, as `torch.nn.utils`: gradient clipping, in place on `.grad`, and a
model's parameters as one vector and back."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from descent.backend import array_module
from descent.dtypes import get_default_dtype
from descent.tensor import Tensor, wrap


def _grads(parameters: Tensor | Iterable[Tensor]) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p._grad._data for p in parameters if p._grad is not None]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients together so that their joint norm is at most about `max_norm`.

        total = norm([norm(g, p) for g in grads], p)     (the norm of all grads as one vector)
        g = g * min(max_norm / (total + 1e-6), 1)

    Parameters without a gradient are skipped. `norm_type` is p: a number,
    or inf for the largest absolute value. Computed in the gradients' dtype.

    Returns:
        The total norm before clipping, a 0-d tensor (`float(...)`, `.item()`).
    """
    grads = _grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: {max_norm=} must be >= 0")
    if not grads:
        return wrap(np.zeros((), get_default_dtype()))
    xp, dtype = array_module(grads[0]), np.result_type(*grads)
    norms = xp.stack([xp.linalg.norm(g.reshape(-1), norm_type).astype(dtype) for g in grads])
    total = xp.linalg.norm(norms, norm_type)
    if error_if_nonfinite and not xp.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, "
            "so they cannot be clipped; pass error_if_nonfinite=False to scale them anyway"
        )
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)  # in the gradients' dtype, as torch
    if not coef >= 1:  # multiplying by exactly 1 changes nothing; NaN still spreads, as in torch
        with np.errstate(invalid="ignore"):  # inf * 0 is NaN, silently, as in torch
            for g in grads:
                g *= coef
    return wrap(xp.asarray(total))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: {clip_value=} must be >= 0")
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Every parameter flattened and joined into one vector (a copy)."""
    from descent import ops

    return ops.concatenate([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of `vec` into `parameters`, in place."""
    start = 0
    for p in parameters:
        size = p.numel()
        p._data[...] = np.asarray(vec._data[start : start + size]).reshape(p.shape)
        p._bump_version()
        start += size
    if start != vec.numel():
        raise ValueError(f"vector_to_parameters: the vector has {vec.numel()} elements, the "
                         f"parameters {start}")  # fmt: skip
