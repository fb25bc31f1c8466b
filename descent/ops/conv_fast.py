"""conv2d at stride 1 in chunks of the batch: the columns of some samples at a time, in one
buffer kept between calls, each chunk one matmul.

ops/conv.py's whole-batch path copies the columns of the whole batch at once: tens of
megabytes written to fresh memory (page faults on every step) and read back, by a strided
copy whose innermost run is one output row, and it multiplies them one sample at a time.
Here two things change.

Columns at the padded width. Output pixels are indexed by (row, column) of the padded input,
t = y * W_p + x, keeping the W_p - W_out columns past each output row as padding: then the
input pixel that kernel tap (i, j) reads for output t is padded[i * dH * W_p + j * dW + t],
so each tap's columns for one sample and channel are one contiguous run of the input, read
in one piece. The matmuls do W_p / W_out more work (1.08x on 26x26, 1.4x on LeNet's 14x14),
the copy is several times faster, and the extra outputs are dropped.

Chunks with the batch inside the columns (Caffe's layout). n samples' columns are one
(K, n * P) matrix, K = C * kH * kW and P = H_out * W_p, in a buffer of about
`CHUNK_BYTES`, so that each of forward, weight gradient and column gradient is one matmul
per chunk and group:

    out[:, chunk]  = W2 @ cols                    (C_out, n * P)
    grad_W2^T     += cols @ g[:, chunk]^T         (K, C_out), g zero past each output row
    grad_cols      = W2^T @ g[:, chunk]           (K, n * P), then col2im

Outputs and output gradients are NCHW, so each chunk's (C_out, n * P) block goes through
one transposing copy on its way out or in, cheap next to the columns where C_out <= K
(ops.conv.runs_in_chunks). Backward rebuilds each chunk's columns rather than keeping them.
col2im runs compiled (conv_kernels) where jit.available(), else as NumPy's loop over kernel
taps, the reference that tests compare it with. The chunks run one after another, each
chunk's matmul on BLAS's threads, in buffers kept between calls (`workspace`).

Why not a thread of descent's own per share of the chunks (each matmul on one BLAS thread,
the copies in parallel too), as this module did before: after any product on BLAS's
threads elsewhere in a step (a Linear layer), OpenBLAS's idle threads spin for a while on
the CPUs such a pool needs. On a 2-CPU machine, MNIST's 32 -> 64 channel layer ran forward
+ backward in 31.7 ms on the pool, 43.5 with one 0.8 ms product between calls; one chunk
after another on BLAS's threads (1 MB chunks), 37.1 and 37.4. The pool won on layers timed
alone (LeNet's 1 -> 6 layer 1.7 against 2.0 ms, 64 -> 64 on 32x32 46.9 against 58.2) and
lost in every model: quiet full benchmark runs before and after took the LeNet-5 step
from 12.7 to 11.0 ms, the MNIST example's net from 67.4 to 50.4 ms and its epoch from 1.5
to 1.2 s. Under another process's full load on those 2 CPUs the pool held up better on
LeNet (16.5 against 27.5 ms), worse on the MNIST-1D CNN (12.0 against 11.1).
"""

from __future__ import annotations

import threading

from descent import jit
from descent.backend import array_module

CHUNK_BYTES = 1 << 23
"""The columns buffer's size: each chunk's matmul large enough for BLAS's threads to share
(measured in the model steps on a 2-CPU machine: 1 MB chunks ran LeNet-5's step in 10.1
ms, 4 MB in 9.7, 8 MB in 9.5; the MNIST example's net in 63.0, 56.6 and 52.9 ms; the
whole batch as one chunk in 9.2 and 89.6 ms, its columns then too large to keep)."""


KEEP_BYTES = 1 << 24
"""The largest workspace kept between calls; a larger one (one sample's columns of a big
image) is allocated per call rather than held for the life of the thread."""

_workspaces = threading.local()


def workspace(name: str, size: int, like):
    """A flat buffer of `size` elements of like's dtype, kept between calls (per thread and
    name) and grown as needed: a fresh megabyte per call page-faults in every step, and
    measured a third of a LeNet layer's forward. It holds what the last call left."""
    xp, key = array_module(like), (name, like.dtype.str)
    if size * like.itemsize > KEEP_BYTES:
        return xp.empty(size, dtype=like.dtype)
    buffers = getattr(_workspaces, "buffers", None)
    if buffers is None:
        buffers = _workspaces.buffers = {}
    buffer = buffers.get(key)
    if buffer is None or buffer.size < size or array_module(buffer) is not xp:
        buffer = buffers[key] = xp.empty(size, dtype=like.dtype)
    return buffer[:size]


class Chunks:
    """A stride-1 convolution's chunks of samples and the two buffers each chunk reuses: its
    columns, (C, kH, kW, n, P), and an output-sized block, (G, C_out / G, n, P). `padded`
    is the padded input, w2 the weight as (G, C_out / G, K / G), `geometry` (kernel, stride,
    dilation, out_size)."""

    def __init__(self, padded, w2, geometry: tuple):
        dtype = padded.dtype
        n, c, _, width = padded.shape
        kernel, _, self.dilation, out_size = geometry
        self.kernel, self.out_size = kernel, out_size
        groups, c_group = w2.shape[:2]
        self.channels, self.width, self.batch = c, width, n
        self.groups, self.c_out = groups, groups * c_group
        self.pixels = out_size[0] * width  # P: output rows at the padded width
        self.run = (out_size[0] - 1) * width + out_size[1]  # the part of P each tap reads
        self.rows = c * kernel[0] * kernel[1]  # K over all groups
        fits = max(1, CHUNK_BYTES // (self.rows * self.pixels * dtype.itemsize))
        self.count = -(-n // fits)  # as few chunks as the buffer allows, none for no samples
        self.like = padded

    def __iter__(self):
        """(start, stop) of consecutive chunks covering the batch, sizes differing by at
        most one: not full chunks and a small last one."""
        n, count = self.batch, self.count
        for chunk in range(count):
            yield n * chunk // count, n * (chunk + 1) // count

    def cols(self, n: int):
        """The calling thread's columns buffer for n samples, (C, kH, kW, n, P)."""
        shape = (self.channels, *self.kernel, n, self.pixels)
        # flat, so that every chunk's block is contiguous, the last and shorter one too
        return workspace("columns", self.rows * n * self.pixels, self.like).reshape(shape)

    def outs(self, n: int):
        """The calling thread's output-sized buffer for n samples, (G, C_out / G, n, P)."""
        shape = (self.groups, self.c_out // self.groups, n, self.pixels)
        return workspace("outputs", self.c_out * n * self.pixels, self.like).reshape(shape)

    def each(self, work) -> list:
        """[work(start, stop) for each chunk], in order."""
        return [work(start, stop) for start, stop in self]

    def matrix(self, block):
        """A (C or C_out, ..., n, P) block as (G, rows / G, n * P), one matrix per group."""
        return block.reshape(self.groups, -1, block.shape[-2] * self.pixels)

    def runs(self, padded, start: int, stop: int, writeable=False):
        """The (C, kH, kW, n, run) view of samples [start, stop) of a contiguous padded array:
        [c, i, j, b, t] is the pixel tap (i, j) reads for output t of sample start + b."""
        sn, sc, sy, sx = padded.strides
        (dh, dw), part = self.dilation, padded[start:stop]
        return array_module(padded).lib.stride_tricks.as_strided(
            part,
            shape=(self.channels, *self.kernel, stop - start, self.run),
            strides=(sc, sy * dh, sx * dw, sn, sx),
            writeable=writeable,
        )

    def columns(self, padded, start: int, stop: int):
        """The columns of samples [start, stop), copied into the buffer, (C, kH, kW, n, P)."""
        cols = self.cols(stop - start)
        array_module(cols).copyto(cols[..., : self.run], self.runs(padded, start, stop))
        cols[..., self.run :] = 0  # read by no tap; zeros, not what the workspace held
        return cols

    def at_output_size(self, block):
        """A (..., n, P) block's real outputs, (..., n, H_out, W_out): a view."""
        return block.reshape(*block.shape[:-1], self.out_size[0], self.width)[
            ..., : self.out_size[1]
        ]


def forward(padded, w2, geometry: tuple, bias=None):
    """The convolution of a contiguous padded input (N, C, H_p, W_p) with w2, the weight as
    (G, C_out / G, K / G), plus `bias` (C_out,) if given, as (N, G, C_out / G, H_out, W_out).
    `geometry` is (kernel, stride, dilation, out_size), at stride 1. The bias is added in
    the copy that takes each chunk's outputs out, not in a pass of its own."""
    xp = array_module(padded)
    chunks = Chunks(padded, w2, geometry)
    out = xp.empty((chunks.batch, *w2.shape[:2], *chunks.out_size), dtype=padded.dtype)
    channel_bias = None if bias is None else bias.reshape(*w2.shape[:2], 1, 1)

    def convolve(start, stop):
        block = chunks.outs(stop - start)
        cols = chunks.columns(padded, start, stop)
        xp.matmul(w2, chunks.matrix(cols), out=chunks.matrix(block))
        outputs = chunks.at_output_size(block).transpose(2, 0, 1, 3, 4)
        if bias is None:
            out[start:stop] = outputs
        else:
            xp.add(outputs, channel_bias, out=out[start:stop])

    chunks.each(convolve)
    return out


def backward(padded, w2, g, geometry: tuple, grad_padded=None, weight: bool = True):
    """conv2d's gradients from g, the output's gradient as (N, G, C_out / G, H_out, W_out):
    the weight's, as (G, C_out / G, K / G), if `weight`, else None; and the input's, added
    into `grad_padded` (the zeroed gradient of the padded input) if given."""
    xp = array_module(g)
    chunks = Chunks(padded, w2, geometry)
    w2_t = w2.swapaxes(1, 2)

    def gradients(start, stop):
        """This chunk's share of the weight's gradient (None if not asked); its samples'
        input gradient, added into grad_padded."""
        n, part = stop - start, None
        g_block = chunks.outs(n)
        g_block.reshape(*g_block.shape[:3], -1, chunks.width)[..., chunks.out_size[1] :] = 0
        chunks.at_output_size(g_block)[...] = g[start:stop].transpose(1, 2, 0, 3, 4)
        if weight:  # transposed, (G, K / G, C_out / G): this orientation runs faster in BLAS
            cols = chunks.columns(padded, start, stop)
            part = xp.matmul(chunks.matrix(cols), chunks.matrix(g_block).swapaxes(1, 2))
        if grad_padded is not None:
            grad_cols = chunks.cols(n)
            xp.matmul(w2_t, chunks.matrix(g_block), out=chunks.matrix(grad_cols))
            col2im(grad_cols, chunks.runs(grad_padded, start, stop, True))
        return part

    parts = chunks.each(gradients)
    if not weight:
        return None
    total = xp.zeros(w2_t.shape, dtype=w2.dtype)  # zeros where there are no samples, no chunks
    for part in parts:
        total += part
    return total.swapaxes(1, 2)


def col2im(grad_cols, grad_runs) -> None:
    """grad_runs += grad_cols[..., :run], where grad_cols is a contiguous (C, kH, kW, n, P)
    block and grad_runs, (C, kH, kW, n, run), is `Chunks.runs` of the padded input's
    gradient: runs of different taps overlap, so one tap at a time."""
    run = grad_runs.shape[-1]
    if jit.available() and grad_runs.strides[-1] == grad_runs.itemsize:
        from descent.ops import conv_kernels

        strides = tuple(stride // grad_runs.itemsize for stride in grad_runs.strides[:4])
        conv_kernels.add_taps(grad_cols, flat_extent(grad_runs), (*strides, run))
        return
    for i in range(grad_cols.shape[1]):
        for j in range(grad_cols.shape[2]):
            # one tap's runs touch no pixel twice, so += adds every term
            grad_runs[:, i, j] += grad_cols[:, i, j, :, :run]


def flat_extent(view):
    """The memory a strided view spans (non-negative strides), as a flat contiguous view
    from its first element to its last."""
    last = sum((size - 1) * stride for size, stride in zip(view.shape, view.strides))
    return array_module(view).lib.stride_tricks.as_strided(
        view, shape=(last // view.itemsize + 1,), strides=(view.itemsize,), writeable=True
    )
