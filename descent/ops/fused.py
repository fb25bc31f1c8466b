"""Primitives that could be composed from others but are fused for speed or stability.

linear: x @ W.T + b in one node, two matmuls back, no broadcast bookkeeping.
softmax_cross_entropy: log-sum-exp for stability, and the closed-form
gradient (softmax - one-hot) instead of backpropagating through
log_softmax and an indexing op.
dropout: the mask applied in one compiled pass each way on large arrays.
embedding: a row lookup whose gradient skips the padding row.
"""

import numpy as np

from descent.backend import array_module
from descent.errors import ShapeError
from descent.function import Function
from descent.ops.elementwise import use_kernels
from descent.ops.linalg import _matmul
from descent.tensor import Tensor, check_tensor


class Linear(Function):
    """y = x W^T + b with PyTorch's weight layout (out_features, in_features)."""

    saves = ("x", "weight")

    def forward(self, x, weight, bias=None):
        if x.shape[-1] != weight.shape[1]:
            raise ShapeError(
                f"linear: input of shape {x.shape} has {x.shape[-1]} features, "
                f"the weight {weight.shape} expects {weight.shape[1]}"
            )
        self.x, self.weight = x, weight
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    def backward(self, grad):
        x, weight, needs = self.x, self.weight, self.needs_grad
        grad_x = grad @ weight if needs[0] else None
        grad_weight = grad_bias = None
        if grad.ndim != 2:  # (..., features): the leading axes are all samples
            grad, x = grad.reshape(-1, grad.shape[-1]), x.reshape(-1, x.shape[-1])
        if needs[1]:
            grad_weight = _matmul(grad.T, x)
        if len(needs) > 2 and needs[2]:
            grad_bias = array_module(grad).add.reduce(grad, axis=0)  # no ndarray.sum wrapper
        return grad_x, grad_weight, grad_bias


class SoftmaxCrossEntropy(Function):
    """Cross-entropy of logits (N, C) against class indices (N,), as PyTorch computes it.

    Per sample i with target y, class weights w and smoothing eps over C classes:
        loss_i = (1 - eps) * -w[y] log p[i, y]  +  (eps / C) * sum_c -w[c] log p[i, c]
    The mean divides by the sum of w[y] over the samples that are not ignored.
    `ignore_index` None says that no label is ignored.
    """

    def forward(self, logits, targets, weight, ignore_index, label_smoothing, reduction):
        if weight is None and ignore_index is None and not label_smoothing and len(targets):
            return self.plain_forward(logits, targets, reduction)
        if ignore_index is None:
            ignore_index = -1  # the labels lie in [0, C): none is -1
        xp = array_module(logits)
        n, classes = logits.shape
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = xp.exp(shifted)
        norm = probs.sum(axis=1, keepdims=True)
        log_probs = shifted - xp.log(norm)
        probs /= norm  # kept for backward: a division here is cheaper than exp there
        keep = targets != ignore_index
        safe_targets = xp.where(keep, targets, 0)
        rows = xp.arange(n)
        sample_weight = keep.astype(logits.dtype)
        if weight is not None:
            sample_weight *= weight[safe_targets]
        losses = -log_probs[rows, safe_targets] * sample_weight
        if label_smoothing:
            per_class = log_probs if weight is None else log_probs * weight
            smooth = -per_class.sum(axis=1) * keep
            losses = (1 - label_smoothing) * losses + (label_smoothing / classes) * smooth
        if reduction == "mean":
            denominator = sample_weight.sum()
            scale = 1.0 / denominator if denominator else float("nan")  # PyTorch's 0/0
        else:
            scale = 1.0
        self.saved = (probs, rows, safe_targets, sample_weight, keep, weight, scale)
        self.label_smoothing, self.reduction = label_smoothing, reduction
        if reduction == "none":
            return losses.astype(logits.dtype, copy=False)
        return xp.asarray(losses.sum() * scale, dtype=logits.dtype)

    def plain_forward(self, logits, targets, reduction):
        """The common case (no class weights, ignored labels or smoothing) in fewer passes:
        loss_i = log sum_c e^(x_ic - m_i) - (x_iy - m_i), with m_i the row's maximum.
        The same float operations as the general path, so the same numbers."""
        xp = array_module(logits)  # ufunc.reduce: no ndarray.max/sum wrappers, 0.4 us each
        shifted = logits - xp.maximum.reduce(logits, axis=1, keepdims=True)
        exps = xp.exp(shifted)
        norm = xp.add.reduce(exps, axis=1, keepdims=True)
        rows = xp.arange(len(targets))
        losses = xp.log(norm[:, 0]) - shifted[rows, targets]
        if self.needs_grad[0]:
            self.plain = (exps, norm, rows, targets)
        self.reduction = reduction
        if reduction == "none":
            return losses
        scale = logits.dtype.type(1 / len(targets)) if reduction == "mean" else 1
        return xp.asarray(xp.add.reduce(losses) * scale, dtype=logits.dtype)

    def backward(self, grad):
        if "plain" in self.__dict__:
            return self.plain_backward(grad)
        xp = array_module(grad)
        probs, rows, targets, sample_weight, keep, weight, scale = self.saved
        smoothing, classes = self.label_smoothing, probs.shape[1]
        # d(-w[y] log p_y)/dx = w[y] (p - onehot(y))
        grad_logits = probs * ((1 - smoothing) * sample_weight)[:, None]
        grad_logits[rows, targets] -= (1 - smoothing) * sample_weight
        if smoothing:
            # d(-(eps/C) sum_c w_c log p_c)/dx_k = (eps/C) (p_k sum_c w_c - w_k)
            class_weight = weight if weight is not None else xp.ones(classes, probs.dtype)
            smooth = probs * class_weight.sum() - class_weight
            grad_logits += (smoothing / classes) * smooth * keep[:, None]
        upstream = grad[:, None] if self.reduction == "none" else grad * scale
        return grad_logits * upstream

    def plain_backward(self, grad):
        """(softmax - one-hot) times the upstream gradient, divided by N for the mean: the
        general path's operations in its order, so its numbers."""
        exps, norm, rows, targets = self.plain
        grad_logits = exps / norm
        grad_logits[rows, targets] -= 1
        if self.reduction == "none":
            grad_logits *= grad[:, None]
        else:
            scale = exps.dtype.type(1 / len(targets)) if self.reduction == "mean" else 1
            grad_logits *= grad * scale
        return grad_logits


class Dropout(Function):
    """Inverted dropout, x * mask / (1 - p), the mask drawn by the caller as uniform
    `draws` >= p (one per element, or broadcast: one per channel). On large float arrays
    with a draw per element the compiled kernel runs, one pass each way and no mask array;
    the NumPy code, the reference, keeps the scaled mask for backward."""

    saves = ()  # the draws and the mask are neither an input nor the output

    def forward(self, x, draws, p):
        scale = x.dtype.type(1 / (1 - p))  # rounded once to x's dtype
        self.compiled = draws.shape == x.shape and use_kernels(x) and use_kernels(draws)
        if self.compiled:
            self.draws, self.p, self.scale = draws, draws.dtype.type(p), scale
            return self.masked(x)
        self.mask = scaled_mask(draws >= p, scale, x.dtype)
        return x * self.mask

    def backward(self, grad):
        if self.compiled and grad.dtype == self.scale.dtype and use_kernels(grad):
            return self.masked(grad)
        if self.compiled:
            self.mask = scaled_mask(self.draws >= self.p, self.scale, grad.dtype)
        return grad * self.mask

    def masked(self, x):
        from descent.ops import elementwise_kernels

        out = np.empty_like(x)
        draws, flat_out = self.draws.reshape(-1), out.reshape(-1)
        elementwise_kernels.dropout_scale(x.reshape(-1), draws, self.p, self.scale, flat_out)
        return out


def scaled_mask(keep, scale, dtype):
    """`scale` where `keep`, else 0, in `dtype`, in one pass (no float64 mask on the way)."""
    return array_module(keep).multiply(keep, scale, dtype=dtype)


class Embedding(Function):
    def forward(self, weight, indices, padding_idx):
        self.shape, self.indices, self.padding_idx = weight.shape, indices, padding_idx
        return weight[indices]

    def backward(self, grad):
        xp = array_module(grad)
        grad_weight = xp.zeros(self.shape, dtype=grad.dtype)
        xp.add.at(grad_weight, self.indices.reshape(-1), grad.reshape(-1, self.shape[1]))
        if self.padding_idx is not None:
            grad_weight[self.padding_idx] = 0
        return grad_weight


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    if type(x) is not Tensor:
        check_tensor("linear", x)
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)


def softmax_cross_entropy(
    logits: Tensor,
    targets,
    weight=None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """Checked inputs go to the fused op; see `descent.nn.functional.cross_entropy`.
    Each label lies in [0, C) or equals `ignore_index`; None there says none does."""
    return SoftmaxCrossEntropy.apply(
        logits,
        targets=targets,
        weight=weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        reduction=reduction,
    )


def dropout(x: Tensor, draws, p: float) -> Tensor:
    """x * (draws >= p) / (1 - p); see `descent.nn.functional.dropout`."""
    return Dropout.apply(x, draws=draws, p=p)


def embedding(indices, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    return Embedding.apply(weight, indices=indices, padding_idx=padding_idx)
