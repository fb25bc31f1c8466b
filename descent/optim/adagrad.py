"""`Adagrad`: per-coordinate steps divided by the root of all past squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from descent.backend import array_module
from descent.optim import kernels
from descent.optim.optimizer import EPSILON, LEARNING_RATE, NONNEGATIVE, Optimizer
from descent.optim.state import scalar_field
from descent.tensor import wrap


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), PyTorch's `torch.optim.Adagrad` step for step.

        g = grad + weight_decay * w                  (-grad if maximize)
        s = s + g**2                                 (s starts at initial_accumulator_value)
        w = w - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    t counts this parameter's steps from 1.
    """

    option_ranges = {
        "lr": LEARNING_RATE,
        "lr_decay": NONNEGATIVE,
        "weight_decay": NONNEGATIVE,
        "initial_accumulator_value": NONNEGATIVE,
        "eps": EPSILON,
    }

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "eps": eps,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        initial = array_module(param).full_like(param, group["initial_accumulator_value"])
        return {"step": scalar_field(), "sum": wrap(initial)}

    def update_step(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        g = self.effective_grad(param, grad, group["weight_decay"], group["maximize"])
        s, t, tmp = state["sum"]._data, state["step"]._data.item(), self.scratch(param, 1)
        # s = s + g * g
        np.multiply(g, g, out=tmp)
        s += tmp
        # w = w - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)
        np.sqrt(s, out=tmp)
        tmp += group["eps"]
        np.divide(g, tmp, out=tmp)
        tmp *= group["lr"] / (1 + (t - 1) * group["lr_decay"])
        param -= tmp

    def fused_update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> bool:
        arrays = kernels.flat(param, grad, state["sum"]._data)
        if arrays is None:
            return False
        t, scalar = state["step"]._data.item(), param.dtype.type
        step_size = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        kernels.adagrad(*arrays, scalar(group["eps"]), scalar(group["weight_decay"]),
                        scalar(step_size), group["maximize"])  # fmt: skip
        return True
