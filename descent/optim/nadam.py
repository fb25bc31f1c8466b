"""`NAdam`: Adam with Nesterov momentum, looking one momentum step ahead."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from descent.optim import kernels
from descent.optim.optimizer import ADAM_RANGES, NONNEGATIVE, Optimizer
from descent.optim.state import scalar_field, zeros_field


class NAdam(Optimizer):
    """NAdam (Dozat, 2016), PyTorch's `torch.optim.NAdam` step for step.

        g = grad + weight_decay * w                  (-grad if maximize)
        mu_t = beta1 * (1 - 0.96**(t * momentum_decay) / 2),   P = mu_1 * ... * mu_t
        m = beta1 * m + (1 - beta1) * g,   v = beta2 * v + (1 - beta2) * g**2
        w = w - lr * ((1 - mu_t) / (1 - P) * g + mu_{t+1} / (1 - P * mu_{t+1}) * m)
                / (sqrt(v / (1 - beta2**t)) + eps)

    t counts this parameter's steps from 1; m and v start at zero. P
    (torch's mu_product) is kept, as in torch, as a 0-d float32 tensor. With
    decoupled_weight_decay the decay leaves g alone and shrinks w directly,
    w = w * (1 - lr * weight_decay) (NAdamW).
    """

    scalar_fields = ("step", "mu_product")

    option_ranges = {**ADAM_RANGES, "momentum_decay": NONNEGATIVE}

    def __init__(
        self,
        params: Iterable,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": scalar_field(), "mu_product": scalar_field(1.0),
                "exp_avg": zeros_field(param), "exp_avg_sq": zeros_field(param)}  # fmt: skip

    @staticmethod
    def momentum(group: dict[str, Any], t: float) -> float:
        """mu_t = beta1 * (1 - 0.96**(t * momentum_decay) / 2): the momentum warms up to beta1."""
        return group["betas"][0] * (1.0 - 0.5 * (0.96 ** (t * group["momentum_decay"])))

    def advance(self, state: dict[str, Any], group: dict[str, Any]) -> None:
        super().advance(state, group)
        # P = P * mu_t, in P's own precision (float32), as torch's `mu_product *= mu`
        state["mu_product"]._data *= self.momentum(group, state["step"]._data.item())

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
        tmp, term = self.scratch(param, 1), self.scratch(param, 2)
        mu, mu_next = self.momentum(group, t), self.momentum(group, t + 1)
        product = state["mu_product"]._data.item()

        # m = beta1 * m + (1 - beta1) * g, as m += (1 - beta1) * (g - m) (PyTorch's lerp)
        np.subtract(g, m, out=tmp)
        tmp *= 1 - beta1
        m += tmp
        # v = beta2 * v + (1 - beta2) * g * g
        v *= beta2
        np.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        v += tmp

        # tmp = sqrt(v / (1 - beta2**t)) + eps
        np.divide(v, 1 - beta2**t, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += eps
        # w = w - lr * (1 - mu_t) / (1 - P) * g / tmp - lr * mu_{t+1} / (1 - P * mu_{t+1}) * m / tmp
        np.multiply(g, lr * (1.0 - mu) / (1.0 - product), out=term)
        term /= tmp
        param -= term
        np.multiply(m, lr * mu_next / (1.0 - product * mu_next), out=term)
        term /= tmp
        param -= term

    def fused_update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> bool:
        arrays = kernels.flat(param, grad, state["exp_avg"]._data, state["exp_avg_sq"]._data)
        if arrays is None:
            return False
        lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
        t, decoupled = state["step"]._data.item(), group["decoupled_weight_decay"]
        mu, mu_next = self.momentum(group, t), self.momentum(group, t + 1)
        product = state["mu_product"]._data.item()
        scalars = [1 - beta1, beta2, 1 - beta2, group["eps"], weight_decay,
                   1 - lr * weight_decay if decoupled else 1.0, 1 - beta2**t,
                   lr * (1.0 - mu) / (1.0 - product),
                   lr * mu_next / (1.0 - product * mu_next)]  # fmt: skip
        flags = (group["maximize"], decoupled)
        kernels.nadam(*arrays, np.array(scalars, param.dtype), flags)
        return True
