"""Stateless forms of the layers and losses, with PyTorch's names (`dim`, `reduction`, ...).

Each takes torch.nn.functional's arguments in torch's order; inputs without a
batch axis (C, L) or (C, H, W) run as a batch of one where torch's do. The
loss functions live in `loss_functions` and are re-exported here.
"""

from __future__ import annotations

import warnings

import numpy as np

from descent import ops
from descent.autograd import no_grad
from descent.dtypes import as_dtype
from descent.errors import DtypeError, ShapeError
from descent.nn.loss_functions import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from descent.ops import conv as _conv
from descent.ops import fused
from descent.ops import pool as _pool
from descent.ops.conv_transpose import conv_transpose2d as _conv_transpose2d
from descent.ops.fused import embedding as _embedding
from descent.ops.fused import linear
from descent.random import default_generator
from descent.tensor import Tensor, check_tensor, lift, wrap

__all__ = [
    "linear", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softplus", "softmax",
    "log_softmax", "normalize", "dropout", "dropout2d", "batch_norm", "layer_norm", "embedding",
    "one_hot", "pad", "conv1d", "conv2d", "conv_transpose2d", "max_pool1d", "max_pool2d",
    "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "kl_div", "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss",
]  # fmt: skip

sigmoid, tanh, softplus = ops.sigmoid, ops.tanh, ops.softplus


# -- activations ----------------------------------------------------------------------------


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    if type(input) is not Tensor:
        check_tensor("relu", input)
    return input.relu_() if inplace else ops.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    if type(input) is not Tensor:
        check_tensor("leaky_relu", input)
    if inplace:
        return input._inplace(ops.leaky_relu, negative_slope)
    return ops.leaky_relu(input, negative_slope)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    if type(input) is not Tensor:
        check_tensor("gelu", input)
    return ops.gelu(input, approximate)


def softmax_dim(name: str, ndim: int, stacklevel: int = 3) -> int:
    """torch's implicit dim for a softmax called without one (with torch's warning):
    0 for 0-, 1- and 3-d inputs, else 1."""
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to "
        "include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """exp(x) / sum exp(x) along `dim`; `dtype` converts the input first."""
    if type(input) is not Tensor:
        check_tensor("softmax", input)
    if dim is None:
        dim = softmax_dim("softmax", input.ndim, _stacklevel)
    if dtype is not None:
        input = ops.astype(input, as_dtype(dtype))
    return ops.softmax(input, axis=dim)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """log(softmax(x)) along `dim`, computed stably; `dtype` converts the input first."""
    if type(input) is not Tensor:
        check_tensor("log_softmax", input)
    if dim is None:
        dim = softmax_dim("log_softmax", input.ndim, _stacklevel)
    if dtype is not None:
        input = ops.astype(input, as_dtype(dtype))
    return ops.log_softmax(input, axis=dim)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """`input` divided by its p-norm along `dim` (at least `eps`), as torch's."""
    return input / input.norm(p, dim, keepdim=True).clamp_min(eps)


# -- dropout --------------------------------------------------------------------------------


def dropout(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
    generator=None,
) -> Tensor:  # fmt: skip
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout)."""
    if type(input) is not Tensor:
        check_tensor("dropout", input)
    return _dropout("dropout", input, p, training, inplace, input.shape, generator)


def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
    generator=None,
) -> Tensor:  # fmt: skip
    """Zero whole channels: each (sample, channel) plane with probability p, the rest scaled
    by 1/(1-p). A 3-d input is read as (N, C, L), with torch's warning."""
    if type(input) is not Tensor:
        check_tensor("dropout2d", input)
    if input.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior and "
            "silence this warning, please use dropout instead.",
            stacklevel=2,
        )
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim.",
            stacklevel=2,
        )
    mask_shape = input.shape[:2] + (1,) * (input.ndim - 2)
    return _dropout("dropout2d", input, p, training, inplace, mask_shape, generator)


def _dropout(name, x: Tensor, p, training, inplace, mask_shape, generator) -> Tensor:
    if not 0 <= p <= 1:
        raise ValueError(f"{name}: {p=} must be between 0 and 1")
    if not training or p == 0:
        return x
    if p == 1:
        scale = wrap(np.zeros(mask_shape, dtype=x.dtype))
        return x.mul_(scale) if inplace else x * scale
    rng = generator if generator is not None else default_generator()
    draws = rng.random(mask_shape, dtype=np.float32)  # the element is kept where >= p
    return x._inplace(fused.dropout, draws, p) if inplace else fused.dropout(x, draws, p)


# -- normalisation and lookup --------------------------------------------------------------


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel (axis 1) over the batch and any spatial axes.

    In training the batch statistics are used and the running ones move
    toward them by `momentum` (the running variance is the unbiased one, as
    in PyTorch); in evaluation the running statistics are used.
    """
    if type(x) is not Tensor:
        check_tensor("batch_norm", x)
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: input of shape {x.shape} needs a batch and a channel axis")
    axes = (0,) + tuple(range(2, x.ndim))
    broadcast = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        count = x.numel() // x.shape[1]
        if count < 2:
            raise ValueError(
                f"batch_norm: training needs more than one value per channel, got input {x.shape}"
            )
        mean = x.mean(axis=axes, keepdims=True)
        var = ops.var(x, axis=axes, keepdims=True)
        if running_mean is not None:
            m = momentum
            running_mean._data *= 1 - m
            running_mean._data += m * mean._data.reshape(-1)
            running_var._data *= 1 - m
            running_var._data += m * var._data.reshape(-1) * (count / (count - 1))
    else:
        mean = running_mean.reshape(broadcast)
        var = running_var.reshape(broadcast)
    out = (x - mean) / ops.sqrt(var + eps)
    if weight is not None:
        out = out * weight.reshape(broadcast)
    if bias is not None:
        out = out + bias.reshape(broadcast)
    return out


def layer_norm(
    x: Tensor,
    normalized_shape: tuple,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the last len(normalized_shape) axes of each sample."""
    if type(x) is not Tensor:
        check_tensor("layer_norm", x)
    normalized_shape = tuple(normalized_shape)
    if x.shape[x.ndim - len(normalized_shape) :] != normalized_shape:
        raise ShapeError(f"layer_norm: input of shape {x.shape} does not end in {normalized_shape}")
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    out = (x - mean) / ops.sqrt(ops.var(x, axis=axes, keepdims=True) + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def embedding(
    input,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of `weight` picked by integer `input` of any shape.

    With `max_norm`, the rows looked up whose `norm_type`-norm exceeds it are first
    scaled down to it in place (torch's embedding_renorm_, which changes `weight`).
    """
    indices = np.asarray(input._data if isinstance(input, Tensor) else input)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {indices.dtype}")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError(
            "embedding: scale_grad_by_freq=True and sparse=True are not supported; descent's "
            "embedding gradients are dense and unscaled"
        )
    outside = (indices < 0) | (indices >= weight.shape[0])
    if outside.any():
        raise ValueError(
            f"embedding: index {indices[outside][0]} is out of range for {weight.shape[0]} "
            f"embeddings; indices must lie in [0, {weight.shape[0] - 1}]"
        )
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.shape[0]
    if max_norm is not None:
        _renorm_rows(weight, np.unique(indices), max_norm, norm_type)
    return _embedding(indices, weight, padding_idx)


def _renorm_rows(weight: Tensor, rows, max_norm: float, norm_type: float) -> None:
    with no_grad():
        values = weight._data[rows]
        norms = np.linalg.norm(values, ord=norm_type, axis=1)
        scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight._data[rows] = values * scale[:, None].astype(values.dtype)
        weight._bump_version()


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows: out[..., k] = 1 where tensor[...] == k, as torch's `one_hot`
    (`num_classes=-1` takes the largest value plus one)."""
    labels = tensor._data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if labels.dtype != np.int64:
        raise DtypeError(
            f"one_hot: the classes must be an int64 (long) tensor, got {labels.dtype}; "
            "convert them with .long()"
        )
    if num_classes == -1:
        if labels.size == 0:
            raise RuntimeError("one_hot: cannot infer the number of classes from an empty tensor")
        num_classes = int(labels.max()) + 1
    if labels.size and labels.min() < 0:
        raise RuntimeError(f"one_hot: class values must be non-negative, got {labels.min()}")
    if labels.size and labels.max() >= num_classes:
        raise RuntimeError(
            f"one_hot: class values must be smaller than {num_classes=}, got {labels.max()}"
        )
    classes = np.arange(num_classes, dtype=np.int64)
    return wrap((labels[..., None] == classes).astype(np.int64))


# -- padding --------------------------------------------------------------------------------


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad (or, with negative sizes, crop) the last len(pad) // 2 axes, as torch's `F.pad`:
    `pad` lists (before, after) for the last axis first, e.g. (left, right, top, bottom).

    mode 'constant' fills with `value` (0 unless given); 'reflect' mirrors the input
    without repeating its edge, 'replicate' repeats the edge, 'circular' wraps around.
    """
    x = lift(input)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise ShapeError(f"pad: {pad=} must have an even length, (before, after) per axis")
    if len(pad) // 2 > x.ndim:
        raise ShapeError(
            f"pad: {pad=} pads {len(pad) // 2} axes, but the input of shape {x.shape} has {x.ndim}"
        )
    widths = [(0, 0)] * (x.ndim - len(pad) // 2) + [
        (pad[i], pad[i + 1]) for i in range(len(pad) - 2, -1, -2)
    ]
    if mode == "constant":
        if any(before < 0 or after < 0 for before, after in widths):
            inside = tuple(
                slice(max(-before, 0), size - max(-after, 0))
                for (before, after), size in zip(widths, x.shape)
            )
            x = x[inside]
            widths = [(max(before, 0), max(after, 0)) for before, after in widths]
        if not any(before or after for before, after in widths):
            return x
        return ops.pad(x, widths, 0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: {mode=} must be 'constant', 'reflect', 'replicate' or 'circular'")
    if value is not None and value != 0:
        raise ValueError(f"pad: mode={mode!r} takes no value (got {value=})")
    if len(pad) // 2 > 3:
        raise NotImplementedError(f"pad: mode={mode!r} pads at most 3 axes, got {pad=}")
    for axis, (before, after) in enumerate(widths):
        if before or after:
            x = ops.index_select(x, axis, _pad_indices(mode, x.shape, axis, before, after))
    return x


def _pad_indices(mode: str, shape: tuple, axis: int, before: int, after: int) -> np.ndarray:
    """Which input index each output index of a reflect/replicate/circular pad reads."""
    size = shape[axis]
    limit = {"reflect": size - 1, "replicate": None, "circular": size}[mode]
    if min(before, after) < 0 or (limit is not None and max(before, after) > limit):
        most = "" if limit is None else f" and at most {limit}"
        raise ShapeError(
            f"pad: mode={mode!r} needs padding >= 0{most} on an axis of size {size}; got "
            f"({before}, {after}) for axis {axis} of input {shape}"
        )
    if size == 0:
        raise ShapeError(f"pad: mode={mode!r} cannot pad axis {axis} of size 0 ({shape})")
    index = np.arange(-before, size + after)
    if mode == "reflect":
        return (size - 1) - np.abs((size - 1) - np.abs(index))
    if mode == "replicate":
        return np.clip(index, 0, size - 1)
    return index % size


# -- convolution and pooling ----------------------------------------------------------------

_SPATIAL = {1: "L", 2: "H, W"}


def _batched(op: str, dims: int, run, x, *args):
    """run(x, *args) on (N, C, *spatial) input; a (C, *spatial) input runs as a batch of one."""
    if type(x) is not Tensor:
        check_tensor(op, x)
    if x.ndim == dims + 2:
        return run(x, *args)
    if x.ndim != dims + 1:
        raise ShapeError(
            f"{op}: input of shape {x.shape} must be {dims + 1}-d (C, {_SPATIAL[dims]}) or "
            f"{dims + 2}-d (N, C, {_SPATIAL[dims]})"
        )
    out = run(ops.expand_dims(x, 0), *args)
    if isinstance(out, tuple):
        return tuple(ops.squeeze(part, 0) for part in out)
    return ops.squeeze(out, 0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """1-d cross-correlation of (N, C_in, L) with (C_out, C_in / groups, k)."""
    options = (stride, padding, dilation, groups)
    return _batched("conv1d", 1, _conv.conv1d, input, weight, bias, *options)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """2-d cross-correlation of (N, C_in, H, W) with (C_out, C_in / groups, kH, kW)."""
    options = (stride, padding, dilation, groups)
    return _batched("conv2d", 2, _conv.conv2d, input, weight, bias, *options)


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups: int = 1,
    dilation=1,
):  # fmt: skip
    """Transposed 2-d convolution (the gradient of conv2d) of (N, C_in, H, W) with
    (C_in, C_out / groups, kH, kW)."""
    options = (stride, padding, output_padding, groups, dilation)
    return _batched("conv_transpose2d", 2, _conv_transpose2d, input, weight, bias, *options)


def max_pool1d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
    return_indices: bool = False,
):  # fmt: skip
    options = (kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    return _batched("max_pool1d", 1, _pool.max_pool1d, input, *options)


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
    return_indices: bool = False,
):  # fmt: skip
    options = (kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    return _batched("max_pool2d", 2, _pool.max_pool2d, input, *options)


def avg_pool1d(
    input, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
    count_include_pad: bool = True,
):  # fmt: skip
    options = (kernel_size, stride, padding, ceil_mode, count_include_pad)
    return _batched("avg_pool1d", 1, _pool.avg_pool1d, input, *options)


def avg_pool2d(
    input, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
    count_include_pad: bool = True, divisor_override: int | None = None,
):  # fmt: skip
    options = (kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    return _batched("avg_pool2d", 2, _pool.avg_pool2d, input, *options)


def adaptive_avg_pool1d(input, output_size) -> Tensor:
    return _pool.adaptive_avg_pool1d(input, output_size)


def adaptive_avg_pool2d(input, output_size) -> Tensor:
    return _pool.adaptive_avg_pool2d(input, output_size)
