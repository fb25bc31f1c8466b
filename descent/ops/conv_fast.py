"""conv2d in chunks of the batch: the columns of a few samples at a time, side by side in one
small buffer, each chunk one matmul while its columns are still in cache.

ops/conv.py's whole-batch path copies the columns of the whole batch at once, (N, K, P) for
K = C * kH * kW and P = H_out * W_out: tens of megabytes written to fresh memory (page
faults on every step) and read back, and it multiplies them one sample at a time, N small
matmuls where one large one runs faster. Here a chunk of n samples is laid out as one
(K, n * P) matrix (Caffe's layout, batch inside the columns) in a buffer of about
`CHUNK_BYTES`, so that each of forward, weight gradient and column gradient is a single
matmul per chunk and group:

    out[:, chunk]  = W2 @ cols                    (C_out, n * P)
    grad_W2       += g[:, chunk] @ cols^T         (C_out, K)
    grad_cols      = W2^T @ g[:, chunk]           (K, n * P), then col2im per kernel tap

The outputs and output gradients are NCHW, so each chunk's (C_out, n * P) block is
transposed on its way out or in: one copy of an output-sized chunk, cheap next to the
columns where C_out <= K (ops.conv.runs_in_chunks). Backward rebuilds each chunk's columns
rather than keeping the whole batch's.

col2im runs compiled (conv_kernels) where jit.available(), else as NumPy's loop over kernel
taps, the reference. im2col stays NumPy's strided copy: a compiled copy loop measured 1.7x
slower than it on LeNet's second layer.
"""

from __future__ import annotations

from descent import jit
from descent.backend import array_module

CHUNK_BYTES = 1 << 20
"""The columns buffer's size: near a core's L2 cache, so that the matmul reads back what the
copy just wrote (256 KB to 4 MB measured within noise of each other, the whole batch at
once 1.5x slower on a 64 -> 64 channel layer)."""


def windows(
    padded, kernel: tuple, stride: tuple, dilation: tuple, out_size: tuple, writeable=False
):
    """The (N, C, kH, kW, H_out, W_out) view of a padded input: [..., i, j, h, w] is the
    pixel that kernel tap (i, j) reads for output (h, w). No copy."""
    n, c = padded.shape[:2]
    sn, sc, sy, sx = padded.strides
    (sh, sw), (dh, dw) = stride, dilation
    return array_module(padded).lib.stride_tricks.as_strided(
        padded,
        shape=(n, c, *kernel, *out_size),
        strides=(sn, sc, sy * dh, sx * dw, sy * sh, sx * sw),
        writeable=writeable,
    )


class Chunks:
    """The chunks of a batch whose windows (N, C, kH, kW, H_out, W_out) are `windows`, and
    the two buffers each chunk reuses: its columns and an output-sized block."""

    def __init__(self, windows, groups: int, c_out: int):
        xp = array_module(windows)
        n, c, kh, kw, ho, wo = windows.shape
        self.windows, self.groups, self.c_out, self.batch = windows, groups, c_out, n
        self.rows, self.pixels = c * kh * kw, ho * wo  # K over all groups, and P
        self.size = max(1, min(n, CHUNK_BYTES // (self.rows * self.pixels * windows.itemsize)))
        # flat, so that every chunk's block is contiguous, the last and shorter one too
        self._cols = xp.empty(self.rows * self.size * self.pixels, dtype=windows.dtype)
        self._outs = xp.empty(c_out * self.size * self.pixels, dtype=windows.dtype)

    def __iter__(self):
        """(start, stop) of consecutive chunks covering the batch."""
        for start in range(0, self.batch, self.size):
            yield start, min(self.batch, start + self.size)

    def cols(self, n: int):
        """The columns buffer for n samples, (C, kH, kW, n, H_out, W_out)."""
        c, kh, kw, ho, wo = self.windows.shape[1:]
        return self._cols[: self.rows * n * self.pixels].reshape(c, kh, kw, n, ho, wo)

    def outs(self, n: int):
        """The output-sized buffer for n samples, (G, C_out / G, n, P)."""
        shape = (self.groups, self.c_out // self.groups, n, self.pixels)
        return self._outs[: self.c_out * n * self.pixels].reshape(shape)

    def columns(self, start: int, stop: int):
        """The columns of samples [start, stop), copied into the buffer, (C, kH, kW, n,
        H_out, W_out)."""
        cols = self.cols(stop - start)
        array_module(cols).copyto(cols, self.windows[start:stop].transpose(1, 2, 3, 0, 4, 5))
        return cols


def forward(padded, w2, geometry: tuple):
    """The convolution (no bias) of a padded input (N, C, H_p, W_p) with w2, the weight as
    (G, C_out / G, K / G), as (N, G, C_out / G, P). `geometry` is (kernel, stride,
    dilation, out_size)."""
    xp = array_module(padded)
    groups, c_group = w2.shape[:2]
    chunks = Chunks(windows(padded, *geometry), groups, groups * c_group)
    out = xp.empty((chunks.batch, groups, c_group, chunks.pixels), dtype=padded.dtype)
    for start, stop in chunks:
        n = stop - start
        cols = chunks.columns(start, stop).reshape(groups, -1, n * chunks.pixels)
        block = chunks.outs(n)
        xp.matmul(w2, cols, out=block.reshape(groups, c_group, -1))
        out[start:stop] = block.transpose(2, 0, 1, 3)
    return out


def backward(padded, w2, g, geometry: tuple, grad_padded=None, weight: bool = True):
    """conv2d's gradients from g, the output's gradient as (N, G, C_out / G, P): the weight's,
    as (G, C_out / G, K / G), if `weight`, else None; and the input's, added into
    `grad_padded` (the zeroed gradient of the padded input) if given. `padded` is the
    padded input, `geometry` (kernel, stride, dilation, out_size)."""
    xp = array_module(g)
    groups, c_group = w2.shape[:2]
    stride, dilation = geometry[1:3]
    chunks = Chunks(windows(padded, *geometry), groups, groups * c_group)
    grad_w2 = xp.zeros(w2.shape, dtype=g.dtype) if weight else None
    w2_t = w2.swapaxes(1, 2)
    for start, stop in chunks:
        n = stop - start
        g_block = chunks.outs(n)
        g_block[...] = g[start:stop].transpose(1, 2, 0, 3)
        g_matrix = g_block.reshape(groups, c_group, -1)
        if weight:
            cols = chunks.columns(start, stop).reshape(groups, -1, n * chunks.pixels)
            grad_w2 += xp.matmul(g_matrix, cols.swapaxes(1, 2))
        if grad_padded is not None:
            grad_cols = chunks.cols(n)
            xp.matmul(w2_t, g_matrix, out=grad_cols.reshape(groups, -1, n * chunks.pixels))
            col2im(grad_cols, start, stride, dilation, grad_padded)
    return grad_w2


def col2im(grad_cols, start: int, stride: tuple, dilation: tuple, grad_padded) -> None:
    """Adds column gradients (C, kH, kW, n, H_out, W_out) onto the pixels of samples start
    to start + n of grad_padded, the padded input's gradient, that they were read from."""
    if jit.available():
        from descent.ops import conv_kernels

        conv_kernels.col2im(grad_cols, start, stride, dilation, grad_padded)
        return
    kernel, n, out_size = grad_cols.shape[1:3], grad_cols.shape[3], grad_cols.shape[4:]
    target = grad_padded[start : start + n]
    grad_windows = windows(target, kernel, stride, dilation, out_size, writeable=True)
    grad_windows = grad_windows.transpose(1, 2, 3, 0, 4, 5)  # as grad_cols: C, kH, kW, n, ...
    for i in range(grad_cols.shape[1]):
        for j in range(grad_cols.shape[2]):
            # one tap's windows touch no pixel twice, so += adds every term
            grad_windows[:, i, j] += grad_cols[:, i, j]
