"""`SGD`: gradient descent, with optional momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from descent.optim import blas, kernels
from descent.optim.optimizer import LEARNING_RATE, NONNEGATIVE, Optimizer
from descent.tensor import wrap


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's `torch.optim.SGD` step for step.

        g = grad + weight_decay * w              (-grad if maximize)
        b = momentum * b + (1 - dampening) * g   (b = g at the first step)
        d = g + momentum * b if nesterov else b  (d = g without momentum)
        w = w - lr * d

    This is PyTorch's momentum form (lr multiplies the velocity, not the
    gradient inside it; Sutskever et al. put lr inside). Plain SGD is exactly
    `w := w - lr * grad`.
    """

    fused_min_elements = 1_000_000
    """SGD's kernel saves one pass with momentum over the NumPy path, whose updates are
    BLAS's one-pass axpy and axpby (descent.optim.blas): 243 against 290 us a step on 1.07M
    elements, measured on a loaded machine, so the first fused step's 1 s pays back in
    about 20,000 steps; plain SGD, one axpy, gains nothing (122 against 120 us). Before the
    axpy (467 us with momentum) it paid back in 5,000."""

    option_ranges = {
        "lr": LEARNING_RATE,
        "momentum": NONNEGATIVE,
        "weight_decay": NONNEGATIVE,
    }

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def check_options(self, options: dict[str, Any]) -> None:
        super().check_options(options)
        momentum, dampening = options["momentum"], options["dampening"]
        if options["nesterov"] and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got {momentum=} "
                f"and {dampening=}"
            )

    def init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        # PyTorch starts the buffer at the first gradient, b = g rather than
        # (1 - dampening) * g, so it cannot start at zero: None until then.
        return {"momentum_buffer": None} if group["momentum"] != 0 else {}

    def update_step(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, momentum = group["lr"], group["momentum"]
        g = self.effective_grad(param, grad, group["weight_decay"], group["maximize"])
        tmp = self.scratch(param, 1)
        direction = g
        if momentum != 0:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = g.copy()
                state["momentum_buffer"] = wrap(buffer)
            else:
                buffer = buffer._data
                # b = momentum * b + (1 - dampening) * g
                if group["dampening"] == 0:
                    blas.xpby(g, momentum, buffer)
                else:
                    buffer *= momentum
                    blas.axpy(1 - group["dampening"], g, buffer, tmp)
            if group["nesterov"]:
                # d = g + momentum * b
                direction = self.scratch(param, 2)
                np.copyto(direction, g)
                blas.axpy(momentum, buffer, direction, tmp)
            else:
                direction = buffer
        # w = w - lr * d
        blas.axpy(-lr, direction, param, tmp)

    def fused_update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> bool:
        momentum, buffer = group["momentum"], state.get("momentum_buffer")
        first = momentum != 0 and buffer is None
        if momentum == 0:
            buffer = param  # a stand-in the kernel never reads
        elif first:
            buffer = np.empty_like(param)  # the kernel starts it at g, as torch
        else:
            buffer = buffer._data
        arrays = kernels.flat(param, grad, buffer)
        if arrays is None:
            return False
        if first:
            state["momentum_buffer"] = wrap(buffer)
        dampening = group["dampening"]
        scalars = np.array(
            [group["lr"], momentum, 1 - dampening, group["weight_decay"]], param.dtype
        )
        flags = (group["maximize"], momentum != 0, first, group["nesterov"], dampening != 0)
        kernels.sgd(*arrays, scalars, flags)
        return True
