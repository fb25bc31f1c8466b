"""`Adam` and `AdamW`: steps scaled by running averages of the gradient and its square."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from descent.backend import array_module
from descent.optim.optimizer import Optimizer


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), PyTorch's `torch.optim.Adam` step for step.

        g = grad + weight_decay * w                  (-grad if maximize)
        m = beta1 * m + (1 - beta1) * g,   v = beta2 * v + (1 - beta2) * g**2
        w = w - lr / (1 - beta1**t) * m / (sqrt(v / (1 - beta2**t)) + eps)

    t counts this parameter's steps from 1; m and v start at zero, and the
    bias corrections undo that start. With amsgrad, v in the last line is
    the running maximum of v. With decoupled_weight_decay the decay leaves g
    alone and shrinks w directly, w = w * (1 - lr * weight_decay): AdamW.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        **unknown: Any,
    ) -> None:
        self.reject_unknown(unknown)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def check_options(self, options: dict[str, Any]) -> None:
        name = type(self).__name__
        lr, betas, eps = options["lr"], options["betas"], options["eps"]
        weight_decay = options["weight_decay"]
        if lr < 0:
            raise ValueError(f"{name}: {lr=} must be >= 0")
        if eps < 0:
            raise ValueError(f"{name}: {eps=} must be >= 0")
        if len(betas) != 2 or not all(0 <= beta < 1 for beta in betas):
            raise ValueError(f"{name}: {betas=} must be two numbers in [0, 1)")
        if weight_decay < 0:
            raise ValueError(f"{name}: {weight_decay=} must be >= 0")

    def init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        xp = array_module(param)
        state = {"step": 0, "exp_avg": xp.zeros_like(param), "exp_avg_sq": xp.zeros_like(param)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = xp.zeros_like(param)
        return state

    def update_step(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, t = group["weight_decay"], state["step"]
        if group["decoupled_weight_decay"]:
            if weight_decay != 0:
                param *= 1 - lr * weight_decay
            g = self.effective_grad(param, grad, 0, group["maximize"])
        else:
            g = self.effective_grad(param, grad, weight_decay, group["maximize"])
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp = self.scratch(param, 1)

        # m = beta1 * m + (1 - beta1) * g, as m += (1 - beta1) * (g - m) (PyTorch's lerp)
        np.subtract(g, m, out=tmp)
        tmp *= 1 - beta1
        m += tmp
        # v = beta2 * v + (1 - beta2) * g * g
        v *= beta2
        np.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        v += tmp
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])

        # w = w - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
        np.sqrt(v, out=tmp)
        tmp /= (1 - beta2**t) ** 0.5
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= lr / (1 - beta1**t)
        param -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019), as `torch.optim.AdamW`.

        m, v as in Adam, from g = grad (-grad if maximize)
        w = w * (1 - lr * weight_decay)
        w = w - lr / (1 - beta1**t) * m / (sqrt(v / (1 - beta2**t)) + eps)

    The decay shrinks w without passing through m and v, so it is not
    rescaled by Adam's per-coordinate step size. Its default is 1e-2.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        **unknown: Any,
    ) -> None:
        self.reject_unknown(unknown)
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )
