"""`RMSprop`: steps divided by a running root mean square of the gradient."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from descent.optim import kernels
from descent.optim.optimizer import EPSILON, LEARNING_RATE, NONNEGATIVE, Optimizer
from descent.optim.state import scalar_field, zeros_field


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), PyTorch's `torch.optim.RMSprop` step for step.

        g = grad + weight_decay * w                  (-grad if maximize)
        v = alpha * v + (1 - alpha) * g**2;  centered: a = alpha * a + (1 - alpha) * g
        d = g / (sqrt(v) + eps);             centered: g / (sqrt(v - a**2) + eps)
        b = momentum * b + d;  w = w - lr * b        (w = w - lr * d without momentum)

    v, a and b start at zero. eps is added outside the square root, as in
    PyTorch (TensorFlow adds it inside).
    """

    option_ranges = {
        "lr": LEARNING_RATE,
        "eps": EPSILON,
        "momentum": NONNEGATIVE,
        "weight_decay": NONNEGATIVE,
        "alpha": NONNEGATIVE,
    }

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        state = {"step": scalar_field(), "square_avg": zeros_field(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = zeros_field(param)
        if group["centered"]:
            state["grad_avg"] = zeros_field(param)
        return state

    def update_step(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
        g = self.effective_grad(param, grad, group["weight_decay"], group["maximize"])
        v = state["square_avg"]._data
        tmp = self.scratch(param, 1)

        # v = alpha * v + (1 - alpha) * g * g
        v *= alpha
        np.multiply(g, 1 - alpha, out=tmp)
        tmp *= g
        v += tmp
        if group["centered"]:
            # a = alpha * a + (1 - alpha) * g, as a += (1 - alpha) * (g - a);  tmp = sqrt(v - a*a)
            a = state["grad_avg"]._data
            np.subtract(g, a, out=tmp)
            tmp *= 1 - alpha
            a += tmp
            np.multiply(a, a, out=tmp)
            np.subtract(v, tmp, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(v, out=tmp)
        tmp += eps

        # d = g / tmp
        np.divide(g, tmp, out=tmp)
        if momentum > 0:
            # b = momentum * b + d;  w = w - lr * b
            if state.get("momentum_buffer") is None:  # momentum was turned on after step 1
                state["momentum_buffer"] = zeros_field(param)
            buffer = state["momentum_buffer"]._data
            buffer *= momentum
            buffer += tmp
            np.multiply(buffer, lr, out=tmp)
        else:
            # w = w - lr * d
            tmp *= lr
        param -= tmp

    def fused_update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> bool:
        momentum, centered = group["momentum"], group["centered"]
        if momentum > 0 and state.get("momentum_buffer") is None:  # turned on after step 1
            state["momentum_buffer"] = zeros_field(param)
        v = state["square_avg"]._data
        a = state["grad_avg"]._data if centered else v
        b = state["momentum_buffer"]._data if momentum > 0 else v
        arrays = kernels.flat(param, grad, v, a, b)
        if arrays is None:
            return False
        alpha = group["alpha"]
        scalars = [alpha, 1 - alpha, group["eps"], group["weight_decay"], momentum, group["lr"]]
        flags = (group["maximize"], centered, momentum > 0)
        kernels.rmsprop(*arrays, np.array(scalars, param.dtype), flags)
        return True
