"""conv2d's col2im, compiled: adding column gradients back onto the input pixels they were read
from. NumPy needs one strided add per kernel tap, each with an innermost run of one output
row (10 floats on LeNet's second layer), and measured 3-4x slower than this loop there.

Compiled on first call (descent.jit); conv_fast calls it only where jit.available(), and
keeps the NumPy loop over taps as the reference that tests compare it with.
"""

from __future__ import annotations

from descent import jit


@jit.kernel
def col2im(grad_cols, start, stride, dilation, grad_padded):
    """grad_padded[start + b, c, y * sh + i * dh, x * sw + j * dw] += grad_cols[c, i, j, b,
    y, x] for every index of grad_cols, (C, kH, kW, n, H_out, W_out)."""
    channels, kh, kw, n, out_h, out_w = grad_cols.shape
    (sh, sw), (dh, dw) = stride, dilation
    for b in range(n):
        for c in range(channels):
            for i in range(kh):
                for j in range(kw):
                    for y in range(out_h):
                        row = grad_padded[start + b, c, y * sh + i * dh]
                        column_grads = grad_cols[c, i, j, b, y]
                        for x in range(out_w):
                            row[x * sw + j * dw] += column_grads[x]
