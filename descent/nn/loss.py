"""Loss modules: thin holders of options around the functions in `nn.functional`, with
torch's constructor arguments (the old `size_average` and `reduce` flags included)."""

from __future__ import annotations

import numpy as np

from descent.errors import unknown_name
from descent.nn import functional as F
from descent.nn.loss_functions import REDUCTIONS, check_reduction, legacy_reduction
from descent.nn.module import Module
from descent.tensor import Tensor, wrap


class _Loss(Module):
    reductions: tuple[str, ...] = REDUCTIONS

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        reduction = legacy_reduction(size_average, reduce, reduction)
        check_reduction(type(self).__name__, reduction, self.reductions)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return ""


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _as_tensor(weight))  # saved in state_dict, as torch's


def _as_tensor(value) -> Tensor | None:
    """A class weight as a tensor, keeping an array's dtype."""
    if value is None or isinstance(value, Tensor):
        return value
    return wrap(np.asarray(value))


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy from logits: log-softmax and negative log-likelihood in one stable step."""

    def __init__(
        self,
        weight=None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target) -> Tensor:
        return F.cross_entropy(
            input, target, self.weight, ignore_index=self.ignore_index,
            reduction=self.reduction, label_smoothing=self.label_smoothing,
        )  # fmt: skip


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities, e.g. the output of LogSoftmax."""

    def __init__(
        self,
        weight=None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
    ):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target) -> Tensor:
        return F.nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1], e.g. the output of Sigmoid."""

    def forward(self, input: Tensor, target) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy from logits, stable for any logit."""

    def __init__(
        self,
        weight=None,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
        pos_weight=None,
    ):
        super().__init__(weight, size_average, reduce, reduction)
        self.register_buffer("pos_weight", _as_tensor(pos_weight))

    def forward(self, input: Tensor, target) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class KLDivLoss(_Loss):
    """KL divergence of the target distribution from log-probabilities `input`; use
    reduction='batchmean' for the divergence per sample."""

    reductions = ("mean", "batchmean", "sum", "none")

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 log_target: bool = False):  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class MSELoss(_Loss):
    def forward(self, input: Tensor, target) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    def forward(self, input: Tensor, target) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """Quadratic within `beta` of the target, linear beyond: Huber's loss divided by beta."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 beta: float = 1.0):  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


LOSSES = {"cross_entropy": CrossEntropyLoss, "mse": MSELoss, "l1": L1Loss, "huber": HuberLoss}
"""The losses a run config, the command and the lab name, by torch's functional names."""


def loss_for_task(name: str | None, task: str, data: str = "the data") -> _Loss:
    """The named loss (default: cross_entropy to classify, mse to regress), checked against
    the task: cross_entropy needs class labels, the others compare numbers."""
    if name is None:
        name = "cross_entropy" if task == "classification" else "mse"
    if name not in LOSSES:
        raise unknown_name("loss", name, LOSSES)
    if name != "cross_entropy" and task == "classification":
        raise ValueError(f"loss {name} compares numbers, but {data} is a classification task "
                         "(class labels); use cross_entropy")  # fmt: skip
    if name == "cross_entropy" and task != "classification":
        raise ValueError(f"loss cross_entropy needs class labels, but {data} is a regression "
                         "task; use mse, l1 or huber")  # fmt: skip
    return LOSSES[name]()
