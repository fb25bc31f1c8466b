"""`Adadelta`: steps scaled by the ratio of running roots of past steps and past gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from descent.optim import kernels
from descent.optim.optimizer import EPSILON, LEARNING_RATE, NONNEGATIVE, Optimizer, Range
from descent.optim.state import scalar_field, zeros_field


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), PyTorch's `torch.optim.Adadelta` step for step.

        g = grad + weight_decay * w                  (-grad if maximize)
        v = rho * v + (1 - rho) * g**2
        d = sqrt(u + eps) / sqrt(v + eps) * g,   u = rho * u + (1 - rho) * d**2
        w = w - lr * d

    v and u (torch's square_avg and acc_delta) start at zero. Zeiler's rule
    has no learning rate; torch's lr multiplies d, so the default 1.0 is his.
    """

    option_ranges = {
        "lr": LEARNING_RATE,
        "rho": Range(0.0, 1.0, closed=True),
        "eps": EPSILON,
        "weight_decay": NONNEGATIVE,
    }

    def __init__(
        self,
        params: Iterable,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": scalar_field(), "square_avg": zeros_field(param),
                "acc_delta": zeros_field(param)}  # fmt: skip

    def update_step(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        rho, eps = group["rho"], group["eps"]
        g = self.effective_grad(param, grad, group["weight_decay"], group["maximize"])
        v, u = state["square_avg"]._data, state["acc_delta"]._data
        tmp, d = self.scratch(param, 1), self.scratch(param, 2)

        # v = rho * v + (1 - rho) * g * g
        v *= rho
        np.multiply(g, 1 - rho, out=tmp)
        tmp *= g
        v += tmp
        # d = sqrt(u + eps) / sqrt(v + eps) * g
        np.add(v, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.add(u, eps, out=d)
        np.sqrt(d, out=d)
        d /= tmp
        d *= g
        # u = rho * u + (1 - rho) * d * d
        u *= rho
        np.multiply(d, 1 - rho, out=tmp)
        tmp *= d
        u += tmp
        # w = w - lr * d
        d *= group["lr"]
        param -= d

    def fused_update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> bool:
        arrays = kernels.flat(param, grad, state["square_avg"]._data, state["acc_delta"]._data)
        if arrays is None:
            return False
        rho = group["rho"]
        scalars = [rho, 1 - rho, group["eps"], group["weight_decay"], group["lr"]]
        kernels.adadelta(*arrays, np.array(scalars, param.dtype), group["maximize"])
        return True
