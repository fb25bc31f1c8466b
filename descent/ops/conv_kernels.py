"""conv2d's col2im, compiled: adding column gradients back onto the input pixels they were
read from. NumPy needs one strided add per kernel tap and chunk, 200 calls a backward on
LeNet's second layer, where this loop runs them in one.

Compiled on first call (descent.jit); conv_fast calls it only where jit.available(), and
keeps NumPy's loop over taps as the reference that tests compare it with.
"""

from __future__ import annotations

from descent import jit


@jit.kernel
def add_taps(grad_cols, grad_runs):
    """grad_runs[c, i, j, b, t] += grad_cols[c, i, j, b, t], in order over the taps (i, j):
    grad_runs is a strided view whose taps overlap in memory, so NumPy's one-shot += would
    lose the terms that land on one pixel."""
    channels, kh, kw, n, run = grad_cols.shape
    for b in range(n):
        for c in range(channels):
            for i in range(kh):
                for j in range(kw):
                    source = grad_cols[c, i, j, b]
                    target = grad_runs[c, i, j, b]
                    for t in range(run):
                        target[t] += source[t]
