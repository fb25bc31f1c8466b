"""Loss functions with torch.nn.functional's names and arguments (`nn.functional` re-exports
them; the `nn` loss modules hold their options)."""

from __future__ import annotations

import warnings

import numpy as np

from descent import ops
from descent.errors import DtypeError, LabelError, OutOfRangeError, ShapeError
from descent.ops.fused import softmax_cross_entropy
from descent.ops.loss import BinaryCrossEntropy
from descent.tensor import Tensor, check_tensor, lift, wrap

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(name: str, reduction: str, choices: tuple = REDUCTIONS) -> None:
    if reduction not in choices:
        quoted = ", ".join(f"'{c}'" for c in choices[:-1]) + f" or '{choices[-1]}'"
        raise ValueError(f"{name}: {reduction=} must be {quoted}")


def legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """torch's old `size_average` and `reduce` flags as a reduction, with torch's warning;
    `reduction` itself when both are None."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn(
        "size_average and reduce args will be deprecated, please use reduction='"
        + ("none" if reduce is False else "mean" if size_average is not False else "sum")
        + "' instead.",
        stacklevel=3,
    )
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _target_array(target):
    return target._data if isinstance(target, Tensor) else np.asarray(target)


def _class_labels(name: str, logits: Tensor, target, ignore_index: int) -> tuple:
    """Integer labels of shape (N,), checked against the number of classes, and whether
    they all lie in [0, C) (else some equal `ignore_index`)."""
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
    if _labels_in_range(target, classes):
        return target, True
    bad = (target != ignore_index) & ((target < 0) | (target >= classes))
    if bad.any():
        raise LabelError(
            f"{name}: label {target[bad][0]} is out of range for {classes} classes "
            f"(input of shape {logits.shape}); labels must lie in [0, {classes - 1}]"
        )
    return target, False


def _labels_in_range(labels, classes: int) -> bool:
    """Whether every integer label lies in [0, classes), in one pass: read as unsigned, a
    negative label is huge."""
    if labels.size == 0:
        return True
    if labels.dtype.kind == "i":
        labels = labels.view(labels.dtype.str.replace("i", "u"))
    return int(labels.max()) < classes


# -- classification -------------------------------------------------------------------------


def cross_entropy(
    input: Tensor,
    target,
    weight=None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between logits (N, C) and class labels (N,) or class probabilities (N, C)."""
    if type(input) is not Tensor:
        check_tensor("cross_entropy", input)
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("cross_entropy", reduction)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: {label_smoothing=} must be between 0 and 1")
    if input.ndim == 1:  # one sample of C scores
        input = ops.expand_dims(input, 0)
        target = np.asarray(_target_array(target)).reshape(-1)
        loss = cross_entropy(
            input, target, weight, ignore_index=ignore_index, reduction=reduction,
            label_smoothing=label_smoothing,
        )  # fmt: skip
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
    labels, in_range = _class_labels("cross_entropy", input, target_array, ignore_index)
    ignored = ignore_index if 0 <= ignore_index < input.shape[1] or not in_range else None
    return softmax_cross_entropy(input, labels, weight_array, ignored, label_smoothing, reduction)


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
    input: Tensor,
    target,
    weight=None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities (N, C) at class labels (N,)."""
    if type(input) is not Tensor:
        check_tensor("nll_loss", input)
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("nll_loss", reduction)
    labels, _ = _class_labels("nll_loss", input, target, ignore_index)
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
    check_reduction(name, reduction)
    if type(input) is not Tensor:
        check_tensor(name, input)
    if not isinstance(target, Tensor):
        target = wrap(np.asarray(target, dtype=input.dtype))
    if target.shape != input.shape:
        raise ShapeError(
            f"{name}: input of shape {input.shape} and target of shape {target.shape} differ; "
            "reshape one (for a column of predictions, y.reshape(-1, 1))"
        )
    return target


def binary_cross_entropy(
    input: Tensor,
    target,
    weight=None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy of probabilities in [0, 1], -(y log x + (1 - y) log(1 - x)),
    each log clamped at -100 as torch's (so a probability of exactly 0 or 1 costs 100)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    target = _regression_pair("binary_cross_entropy", input, target, reduction)
    probabilities = input._data
    if not ((probabilities >= 0) & (probabilities <= 1)).all():
        raise OutOfRangeError(
            "binary_cross_entropy: all elements of input should be between 0 and 1; for "
            "logits use binary_cross_entropy_with_logits (or BCEWithLogitsLoss)"
        )
    if not ((target._data >= 0) & (target._data <= 1)).all():
        raise OutOfRangeError(
            "binary_cross_entropy: all elements of target should be between 0 and 1 (they "
            "are probabilities or 0/1 labels)"
        )
    if target.dtype != input.dtype:
        target = ops.astype(target, input.dtype)
    losses = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        losses = losses * lift(weight, input)
    return _reduce(losses, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target,
    weight=None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight=None,
) -> Tensor:
    """Binary cross-entropy of logits, stable for any logit: (1-y) x + w_y softplus(-x)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    target = _regression_pair("binary_cross_entropy_with_logits", input, target, reduction)
    log_weight = 1.0
    if pos_weight is not None:
        log_weight = 1.0 + (lift(pos_weight, input) - 1.0) * target
    losses = (1.0 - target) * input + log_weight * ops.softplus(-input)
    if weight is not None:
        losses = losses * lift(weight, input)
    return _reduce(losses, reduction)


def kl_div(
    input: Tensor,
    target,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """KL(target || q) summed pointwise, with `input` = log q, as torch's:
    target (log target - input), or exp(target) (target - input) with `log_target`.

    reduction='batchmean' divides the sum by the batch size (the true KL divergence
    per sample); 'mean' divides by the number of elements, and warns as torch's does.
    """
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn(
            "kl_div: reduction='mean' divides the total loss by both the batch size and the "
            "support size; 'batchmean' divides only by the batch size, and aligns with the KL "
            "divergence's definition ('mean' will behave as 'batchmean' in a future torch).",
            stacklevel=2,
        )
    check_reduction("kl_div", reduction, ("mean", "batchmean", "sum", "none"))
    if type(input) is not Tensor:
        check_tensor("kl_div", input)
    target = lift(target, input)
    if log_target:
        losses = ops.exp(target) * (target - input)
    else:
        # xlogy(t, t) - t * input: t log t is 0 where t is 0 (log of 1 there, no NaN)
        nonzero = target._data != 0
        losses = target * (ops.log(ops.where(nonzero, target, 1.0)) - input)
    if reduction == "batchmean":
        total = losses.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(losses, reduction)


# -- regression -----------------------------------------------------------------------------


def mse_loss(
    input: Tensor,
    target,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    reduction = legacy_reduction(size_average, reduce, reduction)
    target = _regression_pair("mse_loss", input, target, reduction)
    difference = input - target
    return _reduce(difference * difference, reduction)


def l1_loss(
    input: Tensor,
    target,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    reduction = legacy_reduction(size_average, reduce, reduction)
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


def smooth_l1_loss(
    input: Tensor,
    target,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target): Huber's
    loss divided by beta; beta = 0 is the L1 loss."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: {beta=} must be >= 0")
    target = _regression_pair("smooth_l1_loss", input, target, reduction)
    difference = input - target
    size = ops.abs(difference)
    if beta == 0:
        return _reduce(size, reduction)
    quadratic = 0.5 * difference * difference / beta
    return _reduce(ops.where(size._data < beta, quadratic, size - 0.5 * beta), reduction)
