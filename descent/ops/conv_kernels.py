"""conv2d's col2im, compiled: adding column gradients back onto the input pixels they were
read from. NumPy needs one strided add per kernel tap and chunk, 200 calls a backward on
LeNet's second layer, where these loops run them in one: `add_taps` for the chunked path's
columns at the padded width (conv_fast), `add_windows` for the whole-batch path's (conv).

Compiled on first call (descent.jit); callers take them only where jit.available(), and
keep NumPy's loop over taps as the reference that tests compare them with.
"""

from __future__ import annotations

from descent import jit


@jit.kernel
def add_taps(grad_cols, grad_flat, strides):
    """grad_flat[c * sc + i * si + j * sj + b * sb + t] += grad_cols[c, i, j, b, t] for t
    below the run, in order over the taps (i, j), with (sc, si, sj, sb) = strides:
    grad_flat is a flat view of the padded input's gradient, whose taps' runs overlap, so
    NumPy's one-shot += would lose the terms that land on one pixel. Both inner arrays
    are contiguous, so that the innermost loop compiles to vector instructions."""
    channels, kh, kw, n, _ = grad_cols.shape
    sc, si, sj, sb, run = strides
    for b in range(n):
        for c in range(channels):
            for i in range(kh):
                for j in range(kw):
                    source = grad_cols[c, i, j, b]
                    start = c * sc + i * si + j * sj + b * sb
                    target = grad_flat[start : start + run]
                    for t in range(run):
                        target[t] += source[t]


@jit.kernel
def add_windows(grad_cols, grad_padded, stride, dilation):
    """grad_padded[b, c, y * sh + i * dh, x * sw + j * dw] += grad_cols[b, c, i, j, y, x],
    in order over the taps (i, j) as NumPy's loop adds them: windows of different taps
    overlap, so a one-shot += would lose the terms that land on one pixel."""
    n, channels, kh, kw, out_h, out_w = grad_cols.shape
    (sh, sw), (dh, dw) = stride, dilation
    for b in range(n):
        for c in range(channels):
            for i in range(kh):
                for j in range(kw):
                    for y in range(out_h):
                        source = grad_cols[b, c, i, j, y]
                        target = grad_padded[b, c, y * sh + i * dh, j * dw :]
                        if sw == 1:  # a contiguous run: vector instructions
                            for x in range(out_w):
                                target[x] += source[x]
                        else:
                            for x in range(out_w):
                                target[x * sw] += source[x]
