"""`Adam` and `AdamW`: steps scaled by running averages of the gradient and its square."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from descent.optim import blas, kernels
from descent.optim.optimizer import ADAM_RANGES, Optimizer
from descent.optim.state import scalar_field, zeros_field


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

    option_ranges = ADAM_RANGES

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
    ) -> None:
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

    def init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        state = {"step": scalar_field(), "exp_avg": zeros_field(param),
                 "exp_avg_sq": zeros_field(param)}  # fmt: skip
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = zeros_field(param)
        return state

    def update_step(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, t = group["weight_decay"], state["step"]._data.item()
        if group["decoupled_weight_decay"]:
            if weight_decay != 0:
                param *= 1 - lr * weight_decay
            g = self.effective_grad(param, grad, 0, group["maximize"])
        else:
            g = self.effective_grad(param, grad, weight_decay, group["maximize"])
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        tmp = self.scratch(param, 1)

        # m = beta1 * m + (1 - beta1) * g, as m += (1 - beta1) * (g - m) (PyTorch's lerp)
        np.subtract(g, m, out=tmp)
        blas.axpy(1 - beta1, tmp, m, tmp)
        # v = beta2 * v + (1 - beta2) * g * g
        np.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        blas.xpby(tmp, beta2, v)
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"]._data
            v = np.maximum(v_max, v, out=v_max)

        # w = w - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
        np.sqrt(v, out=tmp)
        tmp /= (1 - beta2**t) ** 0.5
        tmp += eps
        np.divide(m, tmp, out=tmp)
        blas.axpy(-lr / (1 - beta1**t), tmp, param, tmp)

    def fused_update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> bool:
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        v_max = state["max_exp_avg_sq"]._data if group["amsgrad"] else v
        arrays = kernels.flat(param, grad, m, v, v_max)
        if arrays is None:
            return False
        lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
        t, decoupled = state["step"]._data.item(), group["decoupled_weight_decay"]
        scalars = [1 - beta1, beta2, 1 - beta2, group["eps"], weight_decay,
                   1 - lr * weight_decay if decoupled else 1.0,
                   lr / (1 - beta1**t), (1 - beta2**t) ** 0.5]  # fmt: skip
        flags = (group["maximize"], decoupled, group["amsgrad"])
        kernels.adam(*arrays, np.array(scalars, param.dtype), flags)
        return True


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
    ) -> None:
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
