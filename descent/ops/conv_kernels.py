"""conv2d's col2im, compiled: adding column gradients back onto the input pixels they were
read from. NumPy needs one strided add per kernel tap and chunk, 200 calls a backward on
LeNet's second layer, where this loop runs them in one.

Compiled on first call (descent.jit); conv_fast calls it only where jit.available(), and
keeps NumPy's loop over taps as the reference that tests compare it with.
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
