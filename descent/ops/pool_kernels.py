"""Compiled 2x2 pools with stride 2 (LeNet's, the MNIST example's, VGG's): one pass over
each (H, W) plane instead of NumPy's passes per kernel tap, for pool.py, whose tap-by-tap
NumPy code is the reference.

Only this shape is compiled: with the taps written out the loops vectorize, while a kernel
generic in the kernel size and stride ran slower than NumPy. The kernels run on one
thread: the pools are memory-bound, and on a busy 2-core machine a second thread made
them 3-4x slower, not faster. This module imports numba, so pool.py imports it only when
it takes the compiled path. Each kernel reads the already padded input as (planes, H, W),
one plane per (sample, channel), and visits the taps in pool.py's order, (0, 0), (0, 1),
(1, 0), (1, 1), so the results are bit for bit the reference's.
"""

from __future__ import annotations

from descent import jit


@jit.kernel
def max_forward(padded, out, winner):
    """out = the maximum of each 2x2 window, winner = its tap (the first maximum; a NaN is
    the maximum and the last NaN of a window wins, as in the reference)."""
    planes, rows, cols = out.shape
    for p in range(planes):
        for r in range(rows):
            for c in range(cols):
                top, left = 2 * r, 2 * c
                best, tap = padded[p, top, left], 0
                value = padded[p, top, left + 1]
                if value > best or value != value:
                    best, tap = value, 1
                value = padded[p, top + 1, left]
                if value > best or value != value:
                    best, tap = value, 2
                value = padded[p, top + 1, left + 1]
                if value > best or value != value:
                    best, tap = value, 3
                out[p, r, c] = best
                winner[p, r, c] = tap


@jit.kernel
def max_backward(grad, winner, grad_padded):
    """Each window's gradient at its winning tap, zeros elsewhere (every element written)."""
    planes, rows, cols = grad.shape
    zero = grad.dtype.type(0)
    for p in range(planes):
        grad_padded[p] = zero  # rows and columns past the last window, if any
        for r in range(rows):
            for c in range(cols):
                tap, value = winner[p, r, c], grad[p, r, c]
                top, left = 2 * r, 2 * c
                grad_padded[p, top, left] = value if tap == 0 else zero
                grad_padded[p, top, left + 1] = value if tap == 1 else zero
                grad_padded[p, top + 1, left] = value if tap == 2 else zero
                grad_padded[p, top + 1, left + 1] = value if tap == 3 else zero


@jit.kernel
def avg_forward(padded, divisor, out):
    """out = each 2x2 window's sum, taps in order, over its divisor (H_out, W_out)."""
    planes, rows, cols = out.shape
    for p in range(planes):
        for r in range(rows):
            for c in range(cols):
                top, left = 2 * r, 2 * c
                total = padded[p, top, left] + padded[p, top, left + 1]
                total += padded[p, top + 1, left]
                total += padded[p, top + 1, left + 1]
                out[p, r, c] = total / divisor[r, c]


@jit.kernel
def avg_backward(share, grad_padded):
    """Each window's share of the gradient on its four taps, zeros elsewhere."""
    planes, rows, cols = share.shape
    for p in range(planes):
        grad_padded[p] = 0
        for r in range(rows):
            for c in range(cols):
                value = share[p, r, c]
                top, left = 2 * r, 2 * c
                grad_padded[p, top, left] = value
                grad_padded[p, top, left + 1] = value
                grad_padded[p, top + 1, left] = value
                grad_padded[p, top + 1, left + 1] = value
