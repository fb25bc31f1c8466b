"""Loss primitives whose composed form is unstable: binary cross-entropy of probabilities."""

from __future__ import annotations

import numpy as np

from descent.backend import array_module
from descent.function import Function

# torch's floor on x (1 - x) in the gradient's denominator
EPSILON = 1e-12


class BinaryCrossEntropy(Function):
    """-(t log x + (1 - t) log(1 - x)) elementwise, each log clamped at -100, as torch's.

    A primitive for stability: composed from log, log1p and clamp, the gradient at
    x = 0 or 1 (a saturated sigmoid in float32) is 0 * inf = NaN, where torch's rule
    (x - t) / max(x (1 - x), 1e-12) stays finite. The target's gradient is
    log(1 - x) - log(x), from the same clamped logs.
    """

    def forward(self, x, t):
        xp = array_module(x)
        with np.errstate(divide="ignore"):  # log(0) is -inf, then clamped
            log_x = xp.maximum(xp.log(x), -100.0)
            log_rest = xp.maximum(xp.log1p(-x), -100.0)
        if self.needs_grad[0]:
            self.x, self.t = x, t
        if self.needs_grad[1]:
            self.log_x, self.log_rest = log_x, log_rest
        return (t - 1) * log_rest - t * log_x

    def backward(self, grad):
        xp = array_module(grad)
        grad_x = grad_t = None
        if self.needs_grad[0]:
            x = self.x
            grad_x = grad * (x - self.t) / xp.maximum((1 - x) * x, EPSILON)
        if self.needs_grad[1]:
            grad_t = grad * (self.log_rest - self.log_x)
        return grad_x, grad_t
