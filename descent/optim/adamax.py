"""`Adamax`: Adam with the root mean square replaced by a decaying maximum (infinity norm)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from descent.optim import kernels
from descent.optim.optimizer import ADAM_RANGES, Optimizer
from descent.optim.state import scalar_field, zeros_field


class Adamax(Optimizer):
    """Adamax (Kingma and Ba, 2015, section 7), PyTorch's `torch.optim.Adamax` step for step.

        g = grad + weight_decay * w                  (-grad if maximize)
        m = beta1 * m + (1 - beta1) * g,   u = max(beta2 * u, |g| + eps)
        w = w - lr / (1 - beta1**t) * m / u

    t counts this parameter's steps from 1; m and u (torch's exp_avg and
    exp_inf) start at zero. u needs no bias correction; eps sits inside the
    maximum, as in torch, so u is never zero.
    """

    option_ranges = ADAM_RANGES

    def __init__(
        self,
        params: Iterable,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": scalar_field(), "exp_avg": zeros_field(param),
                "exp_inf": zeros_field(param)}  # fmt: skip

    def update_step(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        (beta1, beta2), t = group["betas"], state["step"]._data.item()
        g = self.effective_grad(param, grad, group["weight_decay"], group["maximize"])
        m, u = state["exp_avg"]._data, state["exp_inf"]._data
        tmp = self.scratch(param, 1)

        # m = beta1 * m + (1 - beta1) * g, as m += (1 - beta1) * (g - m) (PyTorch's lerp)
        np.subtract(g, m, out=tmp)
        tmp *= 1 - beta1
        m += tmp
        # u = max(beta2 * u, |g| + eps)
        u *= beta2
        np.abs(g, out=tmp)
        tmp += group["eps"]
        np.maximum(u, tmp, out=u)
        # w = w - lr / (1 - beta1**t) * m / u
        np.multiply(m, group["lr"] / (1 - beta1**t), out=tmp)
        tmp /= u
        param -= tmp

    def fused_update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> bool:
        arrays = kernels.flat(param, grad, state["exp_avg"]._data, state["exp_inf"]._data)
        if arrays is None:
            return False
        (beta1, beta2), t = group["betas"], state["step"]._data.item()
        scalars = [1 - beta1, beta2, group["eps"], group["weight_decay"],
                   group["lr"] / (1 - beta1**t)]  # fmt: skip
        kernels.adamax(*arrays, np.array(scalars, param.dtype), group["maximize"])
        return True
