"""The stability limit: the sharpness above which an optimizer's step blows up on a quadratic.

On a quadratic with curvature h along some direction, gradient descent with step lr
multiplies the error there by (1 - lr h) each update, so it diverges once h > 2/lr; the
sharpness of a network trained that way rises to about that limit and hovers there (the
edge of stability, Cohen et al. 2021). Momentum moves the limit: heavy ball (PyTorch's
SGD) is stable while lr (1 - dampening) h < 2 + 2 momentum, Nesterov's form while
lr h < (2 + 2 momentum) / (1 + 2 momentum); weight decay adds its coefficient to every
curvature. Adaptive optimizers (Adam, RMSprop, ...) divide each step by a running
gradient scale, so no limit on the raw Hessian follows from lr alone: NaN, said so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

NO_LIMIT = "no closed-form stability limit: its step is rescaled by the gradients' history"
"""Why an adaptive optimizer has no limit (NaN), for sentences and reports."""


def stability_limit(optimizer: str, lr: float, options: Mapping | None = None) -> float:
    """The largest sharpness at which `optimizer` ('sgd', ...) with `lr` and its `options`
    (momentum, dampening, nesterov, weight_decay) is stable on a quadratic; NaN where no
    closed form exists (every optimizer but SGD)."""
    if optimizer != "sgd":
        return math.nan
    options = options or {}
    beta = float(options.get("momentum", 0.0))
    damped = 1.0 - float(options.get("dampening", 0.0)) if beta else 1.0
    if options.get("nesterov"):
        step = lr * (1.0 + 2.0 * beta) / (2.0 + 2.0 * beta)
    else:
        step = lr * damped / (2.0 + 2.0 * beta)
    return 1.0 / step - float(options.get("weight_decay", 0.0))
