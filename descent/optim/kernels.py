"""Fused optimizer steps: one pass over a parameter's elements instead of NumPy's dozen, for
the update rules written out plainly in the optimizers' modules (their `update_step`).

numba compiles a kernel on its first call (descent.jit), so optimizers call these only on
the compiled path (`Optimizer.fused_path`). Each kernel takes flat, contiguous arrays and
its scalars already cast to the parameter's dtype, so float32 parameters are updated in
float32 arithmetic, in the order the NumPy reference (and torch) runs it; tests hold the
two paths together. One difference is left: from `blas.BLAS_FROM` elements the reference
makes an update like `w - lr * d` in BLAS's axpy, rounded once (as torch's `add_` with
alpha), where a kernel rounds the product and the difference apart, so there the two paths
may differ by one ulp a step (torch's own fused and for-loop steps differ so too).
"""

from __future__ import annotations

import math

import numpy as np

from descent import jit

# Every kernel runs on the calling thread. Across numba's two threads, Adam's kernel on 1M
# elements took 0.13 ms against 0.22 ms on one, but 15-20 ms whenever other threads held the
# cores, and in a training loop they do: NumPy's BLAS threads spin for a while after each
# matrix product (an Adam step of a 269k-parameter MLP at batch 128 ran 5x slower threaded).
# error_model="numpy": a division by zero gives inf or NaN, as the reference does, and the
# loop is vectorized (with Python's, it checks each divisor and ran 30x slower).


def flat(*arrays: np.ndarray) -> tuple[np.ndarray, ...] | None:
    """The arrays of one fused update as flat views, or None unless each is a contiguous
    NumPy array of float32 or float64, of one dtype: what the kernels take, in place."""
    dtype = arrays[0].dtype
    if dtype not in jit.FLOAT_DTYPES:
        return None
    for array in arrays:
        if type(array) is not np.ndarray or array.dtype != dtype or not array.flags.c_contiguous:
            return None
    return tuple([array.reshape(-1) for array in arrays])


@jit.kernel(error_model="numpy")
def sgd(param, grad, buffer, scalars, flags):
    """g = grad + wd * w;  b = momentum * b + keep * g (b = g at first);
    d = g + momentum * b if nesterov else b;  w = w - lr * d.

    `scalars` is (lr, momentum, keep, weight_decay), `keep` being 1 - dampening; `flags`
    is (maximize, has_momentum, first, nesterov, damped).
    The common case, plain momentum, has a loop of its own: branches inside the loop left
    it 15% slower (128 us against 109 on 1M elements).
    """
    lr, momentum, keep, weight_decay = scalars[0], scalars[1], scalars[2], scalars[3]
    maximize, has_momentum, first, nesterov, damped = flags
    if has_momentum and not (maximize or first or nesterov or damped) and weight_decay == 0:
        for i in range(param.size):
            b = buffer[i] * momentum + grad[i]
            buffer[i] = b
            param[i] = param[i] - b * lr
        return
    for i in range(param.size):
        g = -grad[i] if maximize else grad[i]
        if weight_decay != 0:
            g = param[i] * weight_decay + g
        d = g
        if has_momentum:
            if first:
                b = g
            elif damped:
                b = buffer[i] * momentum + g * keep
            else:
                b = buffer[i] * momentum + g
            buffer[i] = b
            d = g + b * momentum if nesterov else b
        param[i] = param[i] - d * lr


@jit.kernel(error_model="numpy")
def adam(param, grad, m, v, v_max, scalars, flags):
    """g = grad + wd * w (or w = decay * w, AdamW);  m += (1 - beta1) * (g - m);
    v = beta2 * v + (1 - beta2) * g * g (v_max = max(v_max, v) with amsgrad);
    w = w - step_size * m / (sqrt(v) / bias2_sqrt + eps).

    `scalars` is (one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decay,
    step_size, bias2_sqrt); `flags` is (maximize, decoupled, amsgrad).
    """
    one_minus_beta1, beta2, one_minus_beta2, eps = scalars[0], scalars[1], scalars[2], scalars[3]
    weight_decay, decay, step_size, bias2_sqrt = scalars[4], scalars[5], scalars[6], scalars[7]
    maximize, decoupled, amsgrad = flags
    for i in range(param.size):
        g = -grad[i] if maximize else grad[i]
        w = param[i]
        if decoupled:
            w = w * decay
        elif weight_decay != 0:
            g = w * weight_decay + g
        mi = m[i] + (g - m[i]) * one_minus_beta1
        vi = v[i] * beta2 + g * one_minus_beta2 * g
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vi = max(v_max[i], vi)
            v_max[i] = vi
        param[i] = w - mi / (math.sqrt(vi) / bias2_sqrt + eps) * step_size


@jit.kernel(error_model="numpy")
def rmsprop(param, grad, v, a, b, scalars, flags):
    """g = grad + wd * w;  v = alpha * v + (1 - alpha) * g * g;  centered:
    a += (1 - alpha) * (g - a), v - a * a under the root;  d = g / (sqrt(.) + eps);
    b = momentum * b + d, w = w - lr * b (w = w - lr * d without momentum).

    `scalars` is (alpha, one_minus_alpha, eps, weight_decay, momentum, lr); `flags` is
    (maximize, centered, has_momentum).
    """
    alpha, one_minus_alpha, eps = scalars[0], scalars[1], scalars[2]
    weight_decay, momentum, lr = scalars[3], scalars[4], scalars[5]
    maximize, centered, has_momentum = flags
    for i in range(param.size):
        g = -grad[i] if maximize else grad[i]
        if weight_decay != 0:
            g = param[i] * weight_decay + g
        vi = v[i] * alpha + g * one_minus_alpha * g
        v[i] = vi
        if centered:
            ai = a[i] + (g - a[i]) * one_minus_alpha
            a[i] = ai
            vi = vi - ai * ai
        d = g / (math.sqrt(vi) + eps)
        if has_momentum:
            d = b[i] * momentum + d
            b[i] = d
        param[i] = param[i] - d * lr


@jit.kernel(error_model="numpy")
def adagrad(param, grad, s, eps, weight_decay, step_size, maximize):
    """g = grad + wd * w;  s = s + g * g;  w = w - step_size * g / (sqrt(s) + eps)."""
    for i in range(param.size):
        g = -grad[i] if maximize else grad[i]
        if weight_decay != 0:
            g = param[i] * weight_decay + g
        si = s[i] + g * g
        s[i] = si
        param[i] = param[i] - g / (math.sqrt(si) + eps) * step_size


@jit.kernel(error_model="numpy")
def adadelta(param, grad, v, u, scalars, maximize):
    """g = grad + wd * w;  v = rho * v + (1 - rho) * g * g;
    d = sqrt(u + eps) / sqrt(v + eps) * g;  u = rho * u + (1 - rho) * d * d;  w = w - lr * d.

    `scalars` is (rho, one_minus_rho, eps, weight_decay, lr).
    """
    rho, one_minus_rho, eps = scalars[0], scalars[1], scalars[2]
    weight_decay, lr = scalars[3], scalars[4]
    for i in range(param.size):
        g = -grad[i] if maximize else grad[i]
        if weight_decay != 0:
            g = param[i] * weight_decay + g
        vi = v[i] * rho + g * one_minus_rho * g
        v[i] = vi
        d = math.sqrt(u[i] + eps) / math.sqrt(vi + eps) * g
        u[i] = u[i] * rho + d * one_minus_rho * d
        param[i] = param[i] - d * lr


@jit.kernel(error_model="numpy")
def adamax(param, grad, m, u, scalars, maximize):
    """g = grad + wd * w;  m += (1 - beta1) * (g - m);  u = max(beta2 * u, |g| + eps);
    w = w - step_size * m / u.

    `scalars` is (one_minus_beta1, beta2, eps, weight_decay, step_size).
    """
    one_minus_beta1, beta2, eps = scalars[0], scalars[1], scalars[2]
    weight_decay, step_size = scalars[3], scalars[4]
    for i in range(param.size):
        g = -grad[i] if maximize else grad[i]
        if weight_decay != 0:
            g = param[i] * weight_decay + g
        mi = m[i] + (g - m[i]) * one_minus_beta1
        m[i] = mi
        ui = max(u[i] * beta2, abs(g) + eps)
        u[i] = ui
        param[i] = param[i] - mi * step_size / ui


@jit.kernel(error_model="numpy")
def nadam(param, grad, m, v, scalars, flags):
    """g, m, v as in `adam`;  d = sqrt(v / bias2) + eps;
    w = w - g_coef * g / d - m_coef * m / d (the coefficients from the momentum schedule).

    `scalars` is (one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decay, bias2,
    g_coef, m_coef); `flags` is (maximize, decoupled).
    """
    one_minus_beta1, beta2, one_minus_beta2, eps = scalars[0], scalars[1], scalars[2], scalars[3]
    weight_decay, decay, bias2, g_coef, m_coef = (
        scalars[4], scalars[5], scalars[6], scalars[7], scalars[8])  # fmt: skip
    maximize, decoupled = flags
    for i in range(param.size):
        g = -grad[i] if maximize else grad[i]
        w = param[i]
        if decoupled:
            w = w * decay
        elif weight_decay != 0:
            g = w * weight_decay + g
        mi = m[i] + (g - m[i]) * one_minus_beta1
        vi = v[i] * beta2 + g * one_minus_beta2 * g
        m[i] = mi
        v[i] = vi
        d = math.sqrt(vi / bias2) + eps
        w = w - g * g_coef / d
        param[i] = w - mi * m_coef / d


@jit.kernel(error_model="numpy")
def radam(param, grad, m, v, scalars, flags):
    """g, m, v as in `adam`;  s = m / bias1 * lr, times sqrt(bias2) / (sqrt(v) + eps) * r
    once the variance is tractable (`rectified`);  w = w - s.

    `scalars` is (one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decay, bias1,
    lr, bias2_sqrt, r, one); `flags` is (maximize, decoupled, rectified).
    """
    one_minus_beta1, beta2, one_minus_beta2, eps = scalars[0], scalars[1], scalars[2], scalars[3]
    weight_decay, decay, bias1, lr = scalars[4], scalars[5], scalars[6], scalars[7]
    bias2_sqrt, r, one = scalars[8], scalars[9], scalars[10]
    maximize, decoupled, rectified = flags
    for i in range(param.size):
        g = -grad[i] if maximize else grad[i]
        w = param[i]
        if decoupled:
            w = w * decay
        elif weight_decay != 0:
            g = w * weight_decay + g
        mi = m[i] + (g - m[i]) * one_minus_beta1
        vi = v[i] * beta2 + g * one_minus_beta2 * g
        m[i] = mi
        v[i] = vi
        s = mi / bias1 * lr
        if rectified:
            s = s * (one / (math.sqrt(vi) + eps) * bias2_sqrt) * r
        param[i] = w - s
