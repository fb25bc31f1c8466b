"""`RAdam`: Adam whose adaptive step is switched on, and rectified, once its variance is known."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from descent.optim import kernels
from descent.optim.optimizer import ADAM_RANGES, Optimizer
from descent.optim.state import scalar_field, zeros_field


class RAdam(Optimizer):
    """RAdam (Liu et al., 2020), PyTorch's `torch.optim.RAdam` step for step.

        g, m and v as in Adam;  rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        a = r * sqrt(1 - beta2**t) / (sqrt(v) + eps) if rho_t > 5 else 1, where
            r = sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) (rho_inf - 2) rho_t))
        w = w - lr * m / (1 - beta1**t) * a

    While rho_t <= 5 (the first steps: 6 with the default beta2) the step is
    plain momentum, without the adaptive scale. With decoupled_weight_decay
    the decay leaves g alone and shrinks w directly, w = w * (1 - lr *
    weight_decay) (RAdamW).
    """

    option_ranges = ADAM_RANGES

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": scalar_field(), "exp_avg": zeros_field(param),
                "exp_avg_sq": zeros_field(param)}  # fmt: skip

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
        tmp, step = self.scratch(param, 1), self.scratch(param, 2)

        # m = beta1 * m + (1 - beta1) * g, as m += (1 - beta1) * (g - m) (PyTorch's lerp)
        np.subtract(g, m, out=tmp)
        tmp *= 1 - beta1
        m += tmp
        # v = beta2 * v + (1 - beta2) * g * g
        v *= beta2
        np.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        v += tmp

        bias_correction1, bias_correction2 = 1 - beta1**t, 1 - beta2**t
        r = rectification(beta2, t)
        # step = m / (1 - beta1**t) * lr, in torch's order of operations
        np.divide(m, bias_correction1, out=step)
        step *= lr
        if r is not None:
            # step = step * (sqrt(1 - beta2**t) / (sqrt(v) + eps)) * r
            np.sqrt(v, out=tmp)
            tmp += eps
            np.reciprocal(tmp, out=tmp)
            tmp *= bias_correction2**0.5
            step *= tmp
            step *= r
        # w = w - step
        param -= step

    def fused_update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> bool:
        arrays = kernels.flat(param, grad, state["exp_avg"]._data, state["exp_avg_sq"]._data)
        if arrays is None:
            return False
        lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
        t, decoupled = state["step"]._data.item(), group["decoupled_weight_decay"]
        bias_correction1, bias_correction2 = 1 - beta1**t, 1 - beta2**t
        r = rectification(beta2, t)
        scalars = [1 - beta1, beta2, 1 - beta2, group["eps"], weight_decay,
                   1 - lr * weight_decay if decoupled else 1.0, bias_correction1, lr,
                   bias_correction2**0.5, 1.0 if r is None else r, 1.0]  # fmt: skip
        flags = (group["maximize"], decoupled, r is not None)
        kernels.radam(*arrays, np.array(scalars, param.dtype), flags)
        return True


def rectification(beta2: float, t: int) -> float | None:
    """RAdam's variance rectification r at step t, or None while the variance of the
    adaptive rate is intractable (rho_t <= 5) and the step is plain momentum."""
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * (beta2**t) / (1 - beta2**t)
    if rho_t <= 5.0:
        return None
    return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
