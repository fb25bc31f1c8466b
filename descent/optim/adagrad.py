"""`Adagrad`: per-coordinate steps divided by the root of all past squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from descent.backend import array_module
from descent.optim.optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), PyTorch's `torch.optim.Adagrad` step for step.

        g = grad + weight_decay * w                  (-grad if maximize)
        s = s + g**2                                 (s starts at initial_accumulator_value)
        w = w - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    t counts this parameter's steps from 1.
    """

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
        **unknown: Any,
    ) -> None:
        self.reject_unknown(unknown)
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "eps": eps,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def check_options(self, options: dict[str, Any]) -> None:
        lr, lr_decay, eps = options["lr"], options["lr_decay"], options["eps"]
        weight_decay = options["weight_decay"]
        initial_accumulator_value = options["initial_accumulator_value"]
        if lr < 0:
            raise ValueError(f"Adagrad: {lr=} must be >= 0")
        if lr_decay < 0:
            raise ValueError(f"Adagrad: {lr_decay=} must be >= 0")
        if weight_decay < 0:
            raise ValueError(f"Adagrad: {weight_decay=} must be >= 0")
        if initial_accumulator_value < 0:
            raise ValueError(f"Adagrad: {initial_accumulator_value=} must be >= 0")
        if eps < 0:
            raise ValueError(f"Adagrad: {eps=} must be >= 0")

    def init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        xp = array_module(param)
        return {"step": 0, "sum": xp.full_like(param, group["initial_accumulator_value"])}

    def update_step(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        g = self.effective_grad(param, grad, group["weight_decay"], group["maximize"])
        s, tmp = state["sum"], self.scratch(param, 1)
        # s = s + g * g
        np.multiply(g, g, out=tmp)
        s += tmp
        # w = w - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)
        np.sqrt(s, out=tmp)
        tmp += group["eps"]
        np.divide(g, tmp, out=tmp)
        tmp *= group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        param -= tmp
