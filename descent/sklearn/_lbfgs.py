"""scikit-learn's 'lbfgs' solver: SciPy's L-BFGS-B over the network's parameters as one vector.

SciPy works on a flat float64 vector; descent's forward and backward give the loss and
its gradient, the parameters unpacked from the vector (in the training dtype) and the
gradients packed back into one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.optimize
from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
from sklearn.utils.optimize import _check_optimize_result

from descent.tensor import Tensor


def pack(arrays) -> np.ndarray:
    """The arrays flattened and joined into one float64 vector."""
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])


def unpack(flat: np.ndarray, params: list[Tensor]) -> None:
    """Write consecutive pieces of `flat` into the parameters, each in its shape and dtype."""
    start = 0
    for param in params:
        end = start + param._data.size
        param._data = flat[start:end].reshape(param._data.shape).astype(param._data.dtype)
        start = end


def minimize(params: list[Tensor], loss: Callable[[], Tensor], *, max_iter: int,
             max_fun: int, tol: float, verbose: bool) -> tuple[float, int]:  # fmt: skip
    """Minimise over `params` as scikit-learn's `_fit_lbfgs` does, leaving the parameters at
    the minimum. `loss()` runs forward and backward (the gradients start cleared) and
    returns the loss. Returns (final loss, iterations); warns as scikit-learn does when
    max_iter or max_fun ran out."""

    def loss_and_grad(flat: np.ndarray) -> tuple[float, np.ndarray]:
        unpack(flat, params)
        for param in params:
            param.grad = None
        value = loss()
        grads = (np.zeros_like(p._data) if p.grad is None else p.grad._data for p in params)
        return float(value), pack(grads)

    result = scipy.optimize.minimize(
        loss_and_grad,
        pack(p._data for p in params),
        method="L-BFGS-B",
        jac=True,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol,
                 **_get_additional_lbfgs_options_dict("iprint", 1 if verbose else -1)},
    )  # fmt: skip
    n_iter = _check_optimize_result("lbfgs", result, max_iter)
    unpack(result.x, params)
    return float(result.fun), n_iter
