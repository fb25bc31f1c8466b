"""Stateless forms of the layers and losses, with PyTorch's names (`dim`, `reduction`, ...)."""

from __future__ import annotations

import numpy as np

from descent import ops
from descent.errors import DtypeError, LabelError, ShapeError
from descent.ops.fused import embedding as _embedding
from descent.ops.fused import linear, softmax_cross_entropy
from descent.random import default_generator
from descent.tensor import Tensor, lift, wrap

__all__ = [
    "linear", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softplus", "softmax",
    "log_softmax", "dropout", "batch_norm", "layer_norm", "embedding", "cross_entropy",
    "nll_loss", "mse_loss", "l1_loss", "huber_loss", "binary_cross_entropy_with_logits",
    "conv2d", "max_pool2d", "avg_pool2d", "pad",
]  # fmt: skip

relu, sigmoid, tanh, gelu, softplus = ops.relu, ops.sigmoid, ops.tanh, ops.gelu, ops.softplus
conv2d, max_pool2d, avg_pool2d, pad = ops.conv2d, ops.max_pool2d, ops.avg_pool2d, ops.pad


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return ops.leaky_relu(x, negative_slope)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return ops.softmax(x, axis=dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return ops.log_softmax(x, axis=dim)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """`input` divided by its p-norm along `dim` (at least `eps`), as torch's."""
    return input / input.norm(p, dim, keepdim=True).clamp_min(eps)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, generator=None) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: {p=} must be between 0 and 1")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    rng = generator if generator is not None else default_generator()
    keep = rng.random(x.shape, dtype=np.float32) >= p
    return x * wrap((keep / (1 - p)).astype(x.dtype, copy=False))


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


def embedding(indices, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of `weight` picked by integer `indices` of any shape."""
    indices = np.asarray(indices._data if isinstance(indices, Tensor) else indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {indices.dtype}")
    outside = (indices < 0) | (indices >= weight.shape[0])
    if outside.any():
        raise ValueError(
            f"embedding: index {indices[outside][0]} is out of range for {weight.shape[0]} "
            f"embeddings; indices must lie in [0, {weight.shape[0] - 1}]"
        )
    return _embedding(indices, weight, padding_idx)


# -- losses --------------------------------------------------------------------------------


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{name}: {reduction=} must be 'mean', 'sum' or 'none'")


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _target_array(target):
    return target._data if isinstance(target, Tensor) else np.asarray(target)


def _class_labels(name: str, logits: Tensor, target, ignore_index: int):
    """Integer labels of shape (N,), checked against the number of classes."""
    target = _target_array(target)
    if target.dtype.kind not in "iu":
        raise DtypeError(
            f"{name}: class labels must be integers, got {target.dtype}; convert them with "
            "labels.astype('int64')"
        )
    if logits.ndim != 2 or target.shape != logits.shape[:1]:
        raise ShapeError(
            f"{name}: input of shape {logits.shape} needs (N, C) scores and labels of "
            f"shape (N,), got labels of shape {target.shape}"
        )
    classes = logits.shape[1]
    bad = (target != ignore_index) & ((target < 0) | (target >= classes))
    if bad.any():
        raise LabelError(
            f"{name}: label {target[bad][0]} is out of range for {classes} classes "
            f"(input of shape {logits.shape}); labels must lie in [0, {classes - 1}]"
        )
    return target


def cross_entropy(
    input: Tensor,
    target,
    weight=None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between logits (N, C) and class labels (N,) or class probabilities (N, C)."""
    _check_reduction("cross_entropy", reduction)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: {label_smoothing=} must be between 0 and 1")
    if input.ndim == 1:  # one sample of C scores
        input = ops.expand_dims(input, 0)
        target = np.asarray(_target_array(target)).reshape(-1)
        loss = cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)
        return loss[0] if reduction == "none" else loss
    weight_array = None if weight is None else _target_array(weight).astype(input.dtype)
    if weight_array is not None and weight_array.shape != (input.shape[-1],):
        raise ShapeError(
            f"cross_entropy: weight of shape {weight_array.shape} needs one value per class, "
            f"({input.shape[-1]},)"
        )
    target_array = _target_array(target)
    if target_array.dtype.kind == "f" and target_array.shape == input.shape:
        return _soft_cross_entropy(input, target_array, weight_array, reduction, label_smoothing)
    labels = _class_labels("cross_entropy", input, target_array, ignore_index)
    return softmax_cross_entropy(
        input, labels, weight_array, ignore_index, label_smoothing, reduction
    )


def _soft_cross_entropy(logits, probabilities, weight, reduction, label_smoothing):
    classes = logits.shape[1]
    if label_smoothing:
        probabilities = probabilities * (1 - label_smoothing) + label_smoothing / classes
    target = wrap(probabilities.astype(logits.dtype, copy=False))
    if weight is not None:
        target = target * wrap(weight)
    losses = -(ops.log_softmax(logits, axis=1) * target).sum(axis=1)
    return _reduce(losses, reduction)


def nll_loss(
    input: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """Negative log-likelihood of log-probabilities (N, C) at class labels (N,)."""
    _check_reduction("nll_loss", reduction)
    labels = _class_labels("nll_loss", input, target, ignore_index)
    keep = labels != ignore_index
    safe = np.where(keep, labels, 0)
    sample_weight = keep.astype(input.dtype)
    if weight is not None:
        sample_weight *= _target_array(weight).astype(input.dtype)[safe]
    losses = -input[np.arange(len(labels)), safe] * wrap(sample_weight)
    if reduction == "mean":
        return losses.sum() / sample_weight.sum()
    return _reduce(losses, reduction)


def _regression_pair(name: str, input: Tensor, target, reduction: str) -> Tensor:
    _check_reduction(name, reduction)
    if not isinstance(target, Tensor):
        target = wrap(np.asarray(target, dtype=input.dtype))
    if target.shape != input.shape:
        raise ShapeError(
            f"{name}: input of shape {input.shape} and target of shape {target.shape} differ; "
            "reshape one (for a column of predictions, y.reshape(-1, 1))"
        )
    return target


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    target = _regression_pair("mse_loss", input, target, reduction)
    difference = input - target
    return _reduce(difference * difference, reduction)


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    target = _regression_pair("l1_loss", input, target, reduction)
    return _reduce(ops.abs(input - target), reduction)


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Quadratic within `delta` of the target, linear beyond: robust to outliers."""
    if delta <= 0:
        raise ValueError(f"huber_loss: {delta=} must be > 0")
    target = _regression_pair("huber_loss", input, target, reduction)
    difference = input - target
    size = ops.abs(difference)
    quadratic = 0.5 * difference * difference
    linear_part = delta * (size - 0.5 * delta)
    return _reduce(ops.where(size._data < delta, quadratic, linear_part), reduction)


def binary_cross_entropy_with_logits(
    input: Tensor, target, weight=None, reduction: str = "mean", pos_weight=None
) -> Tensor:
    """Binary cross-entropy of logits, stable for any logit: (1-y) x + w_y softplus(-x)."""
    target = _regression_pair("binary_cross_entropy_with_logits", input, target, reduction)
    log_weight = 1.0
    if pos_weight is not None:
        log_weight = 1.0 + (lift(pos_weight, input) - 1.0) * target
    losses = (1.0 - target) * input + log_weight * ops.softplus(-input)
    if weight is not None:
        losses = losses * lift(weight, input)
    return _reduce(losses, reduction)
