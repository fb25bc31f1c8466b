"""Max, average and adaptive average pooling over NCHW and NCL input, as torch.nn.functional's.

The 2-d pools walk the kernel taps, not the pixels: tap (i, j) of every
window at once is one strided slice of the padded input, so a kH x kW pool
is kH * kW whole-array operations, forward and backward alike. That NumPy code
is the reference; on inputs of at least JIT_MIN_ELEMENTS elements the 2-d pools
run the compiled kernels of pool_kernels.py instead where the pool is 2x2 with
stride 2 (one pass per plane, the reference's numbers). The 1-d pools are the
2-d ones on a height-1 image; the adaptive pool is a reshape and a mean where
the sizes divide, else a product with an averaging matrix.
"""

from __future__ import annotations

import numpy as np

from descent import jit
from descent.backend import array_module
from descent.errors import ShapeError
from descent.function import Function
from descent.ops.conv import by, check_4d, ntuple, pair
from descent.ops.linalg import matmul
from descent.ops.reduce import mean
from descent.ops.shape import reshape, swapaxes
from descent.tensor import Tensor, lift, wrap

# Below this many input elements the NumPy reference runs: numba's import (about 0.4 s, once
# per process) repays only on sizable work, and small pools are cheap in NumPy anyway.
JIT_MIN_ELEMENTS = 1 << 16
COMPILED_GEOMETRY = dict(kernel=(2, 2), stride=(2, 2), dilation=(1, 1))


def _use_kernels(padded, options: dict) -> bool:
    """Whether a pool takes the compiled path: a 2x2 pool with stride 2 (the one shape
    compiled) over a sizable float32 or float64 array on the CPU."""
    return (
        all(options.get(name, value) == value for name, value in COMPILED_GEOMETRY.items())
        and padded.size >= JIT_MIN_ELEMENTS
        and padded.dtype in jit.FLOAT_DTYPES
        and array_module(padded) is np
        and jit.available()
    )


def _planes(x):
    """(N, C, H, W) as contiguous (N * C, H, W) planes, the compiled kernels' layout."""
    return np.ascontiguousarray(x).reshape(-1, *x.shape[2:])


def _tap_slices(kernel: tuple, stride: tuple, dilation: tuple, out_size: tuple):
    """For each tap (i, j) in row-major order, the (rows, cols) slices that it reads."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_size
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            yield slice(top, top + sh * (ho - 1) + 1, sh), slice(left, left + sw * (wo - 1) + 1, sw)


def _pad(x, padding: tuple, extra: tuple, value):
    """`x` with `padding` rows and columns of `value` on each side of every (H, W) plane,
    and `extra` more at the bottom and right (the last windows of ceil_mode)."""
    (ph, pw), (eh, ew) = padding, extra
    if ph == pw == eh == ew == 0:
        return x
    n, c, h, w = x.shape
    padded = array_module(x).full((n, c, h + 2 * ph + eh, w + 2 * pw + ew), value, x.dtype)
    padded[:, :, ph : ph + h, pw : pw + w] = x
    return padded


class _Pool2d(Function):
    def save_geometry(self, x, padded, options) -> None:
        self.x_shape, self.padded_shape = x.shape, padded.shape
        self.kernel, self.stride, self.dilation = options["kernel"], options["stride"], (1, 1)
        self.padding, self.out_size = options["padding"], options["out_size"]
        if "dilation" in options:
            self.dilation = options["dilation"]

    def taps(self):
        return _tap_slices(self.kernel, self.stride, self.dilation, self.out_size)

    def unpad(self, grad_padded):
        (ph, pw), (h, w) = self.padding, self.x_shape[2:]
        return grad_padded[:, :, ph : ph + h, pw : pw + w]


class MaxPool2d(_Pool2d):
    """The gradient goes to the first maximal element of each window in row-major order,
    as in PyTorch; a NaN is the maximum (the last NaN of a window takes the gradient)."""

    def forward(self, x, **options):
        out, self.winner = _max_and_winner(self, x, options)
        return out

    def backward(self, grad):
        if self.compiled:
            return self.unpad(self.compiled_backward(grad))
        xp = array_module(grad)
        grad_padded = xp.zeros(self.padded_shape, dtype=grad.dtype)
        # grad where the tap won, else 0, selected bitwise: exact for any upstream gradient
        # (grad * mask would turn an inf or NaN gradient into NaN on the losing elements).
        bits = xp.dtype(f"u{grad.dtype.itemsize}")
        grad_bits, all_ones = grad.view(bits), xp.invert(bits.type(0))
        for tap, (rows, cols) in enumerate(self.taps()):
            picked = xp.bitwise_and(grad_bits, (self.winner == tap) * all_ones)
            grad_padded[:, :, rows, cols] += picked.view(grad.dtype)
        return self.unpad(grad_padded)

    def compiled_backward(self, grad):
        from descent.ops import pool_kernels

        grad_padded = np.empty(self.padded_shape, dtype=grad.dtype)
        pool_kernels.max_backward(_planes(grad), _planes(self.winner), _planes(grad_padded))
        return grad_padded


def _max_and_winner(pool: _Pool2d, x, options: dict):
    """Each window's maximum, and the index of the tap that holds it."""
    xp = array_module(x)
    lowest = -float("inf") if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
    padded = _pad(x, options["padding"], options["extra"], lowest)
    pool.save_geometry(x, padded, options)
    pool.compiled = _use_kernels(padded, options)
    index_dtype = xp.uint8 if pool.kernel[0] * pool.kernel[1] <= 256 else xp.int32
    if pool.compiled:
        return _compiled_max(pool, padded, index_dtype)
    return _reference_max(pool, padded, index_dtype)


def _compiled_max(pool: _Pool2d, padded, index_dtype):
    from descent.ops import pool_kernels

    shape = (*padded.shape[:2], *pool.out_size)
    out, winner = np.empty(shape, padded.dtype), np.empty(shape, index_dtype)
    pool_kernels.max_forward(_planes(padded), _planes(out), _planes(winner))
    return out, winner


def _reference_max(pool: _Pool2d, padded, index_dtype):
    xp = array_module(padded)
    windows = [padded[:, :, rows, cols] for rows, cols in pool.taps()]
    out = windows[0].copy()
    for values in windows[1:]:
        xp.maximum(out, values, out=out)
    # The winning tap of each window, found with arithmetic (masked copies are slow).
    winner = xp.zeros(out.shape, dtype=index_dtype)
    claimed = windows[0] == out
    for tap, values in enumerate(windows[1:], start=1):
        first = values == out
        first &= ~claimed
        claimed |= first
        winner += first * index_dtype(tap)
    if padded.dtype.kind == "f" and xp.isnan(out).any():
        for tap, values in enumerate(windows):
            winner[xp.isnan(values)] = tap
    return out, winner


def _flat_indices(pool: _Pool2d, winner):
    """torch's return_indices: each winner's position in its (H * W) input plane."""
    xp = array_module(winner)
    kw = pool.kernel[1]
    i, j = winner // kw, winner % kw
    (ho, wo), (sh, sw), (dh, dw), (ph, pw) = pool.out_size, pool.stride, pool.dilation, pool.padding
    rows = xp.arange(ho)[:, None] * sh + i.astype(xp.int64) * dh - ph
    cols = xp.arange(wo)[None, :] * sw + j.astype(xp.int64) * dw - pw
    return rows * pool.x_shape[3] + cols


class AvgPool2d(_Pool2d):
    """The mean over each window: by default padding zeros count and the divisor is the
    window's size (torch's count_include_pad=True); `divisor` is that scalar or a
    (H_out, W_out) array of counts."""

    def forward(self, x, *, divisor, **options):
        xp = array_module(x)
        padded = _pad(x, options["padding"], options["extra"], 0)
        self.save_geometry(x, padded, options)
        dtype = x.dtype if x.dtype.kind in "fc" else xp.float64  # the mean of ints is a float
        self.divisor = divisor if isinstance(divisor, int) else divisor.astype(dtype)
        self.compiled = _use_kernels(padded, options)
        if self.compiled:
            return self.compiled_forward(padded)
        taps = self.taps()
        out = padded[(slice(None), slice(None), *next(taps))].astype(dtype)
        for rows, cols in taps:
            out += padded[:, :, rows, cols]
        out /= self.divisor
        return out

    def backward(self, grad):
        xp = array_module(grad)
        share = grad / self.divisor
        if self.compiled:
            return self.unpad(self.compiled_backward(share))
        grad_padded = xp.zeros(self.padded_shape, dtype=grad.dtype)
        for rows, cols in self.taps():
            grad_padded[:, :, rows, cols] += share
        return self.unpad(grad_padded)

    def compiled_forward(self, padded):
        from descent.ops import pool_kernels

        out = np.empty((*padded.shape[:2], *self.out_size), padded.dtype)
        divisor = np.empty(self.out_size, padded.dtype)
        divisor[...] = self.divisor  # a scalar or (H_out, W_out) counts, as one array
        pool_kernels.avg_forward(_planes(padded), divisor, _planes(out))
        return out

    def compiled_backward(self, share):
        from descent.ops import pool_kernels

        grad_padded = np.empty(self.padded_shape, dtype=share.dtype)
        pool_kernels.avg_backward(_planes(share), _planes(grad_padded))
        return grad_padded


def _pool_options(op, x, kernel_size, stride, padding, dilation, ceil_mode, dims=2) -> dict:
    """Checked geometry of a pool; `dims` = 1 checks a 1-d pool's arguments."""
    if dims == 2:
        check_4d(x, op)
        kernel = pair(kernel_size, "kernel_size", op)
        stride = kernel if stride is None or stride == [] else pair(stride, "stride", op)
        padding, dilation = pair(padding, "padding", op), pair(dilation, "dilation", op)
    else:  # the 1-d pool as a 2-d one over a height-1 image
        if x.ndim != 3:
            raise ShapeError(f"{op}: input of shape {x.shape} must be 3-d (N, C, L)")
        kernel = (1, *ntuple(kernel_size, 1, "kernel_size", op))
        if stride is not None and stride != []:
            stride = (1, *ntuple(stride, 1, "stride", op))
        stride = kernel if stride is None or stride == [] else stride
        padding = (0, *ntuple(padding, 1, "padding", op))
        dilation = (1, *ntuple(dilation, 1, "dilation", op))
    shown = slice(2 - dims, 2)  # the axes to name in messages
    spatial = x.shape[2:] if dims == 2 else (1, x.shape[2])
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise ShapeError(
            f"{op}: kernel_size={kernel[shown]}, stride={stride[shown]} and "
            f"dilation={dilation[shown]} must be >= 1"
        )
    if min(padding) < 0 or padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ShapeError(
            f"{op}: padding={padding[shown]} must be >= 0 and at most half the kernel size "
            f"{kernel[shown]}"
        )
    padded = [spatial[a] + 2 * padding[a] for a in (0, 1)]
    spans = [dilation[a] * (kernel[a] - 1) + 1 for a in (0, 1)]
    if spans[0] > padded[0] or spans[1] > padded[1]:
        raise ShapeError(
            f"{op}: the kernel {by(spans[shown])} is larger than the padded input "
            f"{by(padded[shown])} (input {x.shape}, padding={padding[shown]})"
        )
    out_size, extra = [], []
    for axis in (0, 1):
        size, span = spatial[axis], spans[axis]
        steps = (padded[axis] - span + (stride[axis] - 1 if ceil_mode else 0)) // stride[axis]
        # torch's ceil_mode rule: the last window must start inside the input or its padding
        if ceil_mode and steps * stride[axis] >= size + padding[axis]:
            steps -= 1
        out_size.append(steps + 1)
        extra.append(max(0, steps * stride[axis] + span - padded[axis]))
    return dict(
        kernel=kernel, stride=stride, padding=padding, dilation=dilation,
        out_size=tuple(out_size), extra=tuple(extra),
    )  # fmt: skip


def max_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """The maximum of each kH x kW window, as `torch.nn.functional.max_pool2d`.

    `stride` defaults to `kernel_size`; `padding` pads with -inf and may be
    at most half the kernel; `dilation` spreads the taps apart. (N, C, H, W) ->
    (N, C, H_out, W_out), H_out = (H + 2 * padding - dilation * (kH - 1) - 1) // stride
    + 1, rounded up with `ceil_mode`. With `return_indices`, also each maximum's
    position in its flattened (H * W) input plane, as torch's.
    """
    x = lift(x)
    options = _pool_options("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    out = MaxPool2d.apply(x, **options)
    if not return_indices:
        return out
    node = out._ctx
    if not isinstance(node, MaxPool2d):  # not recorded: find the winners once more
        node = MaxPool2d()
        node.winner = _max_and_winner(node, x._data, options)[1]
    return out, wrap(_flat_indices(node, node.winner))


def avg_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean of each kH x kW window, as `torch.nn.functional.avg_pool2d`.

    `stride` defaults to `kernel_size`; `padding` pads with zeros, which count in
    the mean unless `count_include_pad=False`; `divisor_override` replaces the
    window's size as the divisor.
    """
    x = lift(x)
    options = _pool_options("avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    options["divisor"] = _divisor(x.shape, options, count_include_pad, divisor_override)
    return AvgPool2d.apply(x, **options)


def _divisor(shape, options, count_include_pad, divisor_override):
    """The divisor of each window's sum, as torch counts it: the window's size where it
    fits, else the part inside the padded input (or the input alone without
    count_include_pad); a scalar where every window has the same."""
    if divisor_override is not None:
        if not isinstance(divisor_override, int) or divisor_override == 0:
            raise ValueError(f"avg_pool: {divisor_override=} must be a non-zero int")
        return divisor_override
    kernel, padding = options["kernel"], options["padding"]
    if count_include_pad and not any(options["extra"]):
        return kernel[0] * kernel[1]
    counts = []
    for axis in (0, 1):
        size, stride, pad = shape[2 + axis], options["stride"][axis], padding[axis]
        start = np.arange(options["out_size"][axis]) * stride - pad
        end = np.minimum(start + kernel[axis], size + pad)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        counts.append(end - start)
    return np.outer(*counts)


# -- 1-d pools: the 2-d ones on a (N, C, 1, L) image -------------------------------------


def max_pool1d(
    x: Tensor,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] | None = None,
    padding: int | tuple[int] = 0,
    dilation: int | tuple[int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """The maximum of each window of `kernel_size` along L, as torch's `max_pool1d`."""
    x = lift(x)
    options = _pool_options("max_pool1d", x, kernel_size, stride, padding, dilation, ceil_mode, 1)
    n, c, length = x.shape
    out = MaxPool2d.apply(reshape(x, (n, c, 1, length)), **options)
    flat = reshape(out, (n, c, out.shape[3]))
    if not return_indices:
        return flat
    node = out._ctx
    if not isinstance(node, MaxPool2d):
        node = MaxPool2d()
        node.winner = _max_and_winner(node, x._data.reshape(n, c, 1, length), options)[1]
    return flat, wrap(_flat_indices(node, node.winner).reshape(flat.shape))


def avg_pool1d(
    x: Tensor,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] | None = None,
    padding: int | tuple[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """The mean of each window of `kernel_size` along L, as torch's `avg_pool1d`."""
    x = lift(x)
    options = _pool_options("avg_pool1d", x, kernel_size, stride, padding, 1, ceil_mode, 1)
    n, c, length = x.shape
    image = reshape(x, (n, c, 1, length))
    options["divisor"] = _divisor(image.shape, options, count_include_pad, None)
    out = AvgPool2d.apply(image, **options)
    return reshape(out, (n, c, out.shape[3]))


# -- adaptive average pooling: composed ----------------------------------------------------


def adaptive_avg_pool(x: Tensor, output_size, dims: int, op: str) -> Tensor:
    """Average over the last `dims` axes into `output_size` cells, as torch's adaptive pools:
    cell i of an axis of length L averages [floor(i L / out), ceil((i + 1) L / out)).

    Where out divides L the cells are equal blocks: a reshape and a mean. Otherwise the
    cells overlap or differ in size, and the axis is multiplied by an (L, out) matrix
    whose column i holds 1 / count over cell i (differentiable through matmul).
    """
    x = lift(x)
    if x.ndim not in (dims + 1, dims + 2):
        raise ShapeError(
            f"{op}: input of shape {x.shape} must be {dims + 1}-d or {dims + 2}-d "
            f"({'C, L' if dims == 1 else 'C, H, W'}, with a batch axis first or not)"
        )
    sizes = (output_size,) * dims if output_size is None else output_size
    sizes = (sizes,) * dims if isinstance(sizes, int) else tuple(sizes)
    if len(sizes) != dims:
        raise ShapeError(f"{op}: {output_size=} must be an int or {dims} ints (or None)")
    spatial = x.shape[x.ndim - dims :]
    sizes = tuple(s if o is None else o for o, s in zip(sizes, spatial))
    if min(sizes) < 1 or min(spatial) < 1:
        raise ShapeError(f"{op}: {output_size=} and the input {x.shape} need sizes >= 1")
    if all(s % o == 0 for s, o in zip(spatial, sizes)):
        lead = x.shape[: x.ndim - dims]
        blocks = lead + tuple(v for o, s in zip(sizes, spatial) for v in (o, s // o))
        axes = tuple(len(lead) + 2 * a + 1 for a in range(dims))
        return mean(reshape(x, blocks), axes)
    for axis in range(x.ndim - dims, x.ndim):
        out = sizes[axis - (x.ndim - dims)]
        if x.shape[axis] != out:
            x = _average_cells(x, axis, out)
    return x


def _average_cells(x: Tensor, axis: int, out: int) -> Tensor:
    size = x.shape[axis]
    if size % out == 0:
        shape = x.shape[:axis] + (out, size // out) + x.shape[axis + 1 :]
        return mean(reshape(x, shape), axis + 1)
    cells = np.zeros((size, out), dtype=x.dtype)
    for i in range(out):
        start, end = (i * size) // out, -((-(i + 1) * size) // out)
        cells[start:end, i] = 1.0 / (end - start)
    last = x.ndim - 1
    moved = x if axis == last else swapaxes(x, axis, last)
    pooled = matmul(moved, wrap(cells))
    return pooled if axis == last else swapaxes(pooled, axis, last)


def adaptive_avg_pool1d(x: Tensor, output_size) -> Tensor:
    """(N, C, L) or (C, L) -> (..., output_size), as torch's `adaptive_avg_pool1d`."""
    return adaptive_avg_pool(x, ntuple(output_size, 1, "output_size", "adaptive_avg_pool1d"),
                             1, "adaptive_avg_pool1d")  # fmt: skip


def adaptive_avg_pool2d(x: Tensor, output_size) -> Tensor:
    """(N, C, H, W) or (C, H, W) -> (..., H_out, W_out), as torch's `adaptive_avg_pool2d`;
    an entry of `output_size` that is None keeps that axis's size."""
    return adaptive_avg_pool(x, output_size, 2, "adaptive_avg_pool2d")
