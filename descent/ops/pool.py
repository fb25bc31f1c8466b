"""2-d max and average pooling over NCHW input, as torch.nn.functional's.

Both walk the kernel taps, not the pixels: tap (i, j) of every window at
once is one strided slice of the padded input, so a kH x kW pool is kH * kW
whole-array operations, forward and backward alike.
"""

from __future__ import annotations

from descent.backend import array_module
from descent.errors import ShapeError
from descent.function import Function
from descent.ops.conv import check_4d, output_size, pad_hw, pair, unpad_hw
from descent.tensor import Tensor, lift


def _tap_slices(kernel: tuple, stride: tuple, out_size: tuple):
    """For each tap (i, j) in row-major order, the (rows, cols) slices that it reads."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out_size
    for i in range(kh):
        for j in range(kw):
            yield slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw)


class _Pool2d(Function):
    def save_geometry(self, padded, kernel, stride, padding, out_size) -> None:
        self.padded_shape = padded.shape
        self.kernel, self.stride, self.padding, self.out_size = kernel, stride, padding, out_size

    def taps(self):
        return _tap_slices(self.kernel, self.stride, self.out_size)


class MaxPool2d(_Pool2d):
    """The gradient goes to the first maximal element of each window in row-major order,
    as in PyTorch; a NaN is the maximum (the last NaN of a window takes the gradient)."""

    def forward(self, x, *, kernel, stride, padding, out_size):
        xp = array_module(x)
        lowest = -float("inf") if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
        padded = pad_hw(x, padding, lowest)
        self.save_geometry(padded, kernel, stride, padding, out_size)
        windows = [padded[:, :, rows, cols] for rows, cols in self.taps()]
        out = windows[0].copy()
        for values in windows[1:]:
            xp.maximum(out, values, out=out)
        # The winning tap of each window, found with arithmetic (masked copies are slow).
        index_dtype = xp.uint8 if len(windows) <= 256 else xp.int32
        winner = xp.zeros(out.shape, dtype=index_dtype)
        claimed = windows[0] == out
        for tap, values in enumerate(windows[1:], start=1):
            first = values == out
            first &= ~claimed
            claimed |= first
            winner += first * index_dtype(tap)
        if x.dtype.kind == "f" and xp.isnan(out).any():
            for tap, values in enumerate(windows):
                winner[xp.isnan(values)] = tap
        self.winner = winner
        return out

    def backward(self, grad):
        xp = array_module(grad)
        grad_padded = xp.zeros(self.padded_shape, dtype=grad.dtype)
        # grad where the tap won, else 0, selected bitwise: exact for any upstream gradient
        # (grad * mask would turn an inf or NaN gradient into NaN on the losing elements).
        bits = xp.dtype(f"u{grad.dtype.itemsize}")
        grad_bits, all_ones = grad.view(bits), xp.invert(bits.type(0))
        for tap, (rows, cols) in enumerate(self.taps()):
            picked = xp.bitwise_and(grad_bits, (self.winner == tap) * all_ones)
            grad_padded[:, :, rows, cols] += picked.view(grad.dtype)
        return unpad_hw(grad_padded, self.padding)


class AvgPool2d(_Pool2d):
    """The mean over each window, padding zeros included (count_include_pad=True)."""

    def forward(self, x, *, kernel, stride, padding, out_size):
        xp = array_module(x)
        padded = pad_hw(x, padding, 0)
        self.save_geometry(padded, kernel, stride, padding, out_size)
        taps = self.taps()
        dtype = x.dtype if x.dtype.kind in "fc" else xp.float64  # the mean of ints is a float
        out = padded[(slice(None), slice(None), *next(taps))].astype(dtype)
        for rows, cols in taps:
            out += padded[:, :, rows, cols]
        out /= kernel[0] * kernel[1]
        return out

    def backward(self, grad):
        xp = array_module(grad)
        grad_padded = xp.zeros(self.padded_shape, dtype=grad.dtype)
        share = grad / (self.kernel[0] * self.kernel[1])
        for rows, cols in self.taps():
            grad_padded[:, :, rows, cols] += share
        return unpad_hw(grad_padded, self.padding)


def _pool_options(op: str, x: Tensor, kernel_size, stride, padding) -> dict:
    check_4d(x, op)
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else pair(stride, "stride", op)
    padding = pair(padding, "padding", op)
    if min(kernel) < 1 or min(stride) < 1:
        raise ShapeError(f"{op}: kernel_size={kernel} and stride={stride} must be >= 1")
    if min(padding) < 0 or padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ShapeError(
            f"{op}: padding={padding} must be >= 0 and at most half the kernel size {kernel}"
        )
    out_size = output_size(op, x.shape, kernel, stride, padding, (1, 1))
    return dict(kernel=kernel, stride=stride, padding=padding, out_size=out_size)


def max_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> Tensor:
    """The maximum of each kH x kW window, as `torch.nn.functional.max_pool2d`.

    `stride` defaults to `kernel_size`; `padding` pads with -inf and may be
    at most half the kernel. (N, C, H, W) -> (N, C, H_out, W_out), with
    H_out = (H + 2 * padding - kH) // stride + 1.
    """
    x = lift(x)
    return MaxPool2d.apply(x, **_pool_options("max_pool2d", x, kernel_size, stride, padding))


def avg_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> Tensor:
    """The mean of each kH x kW window, as `torch.nn.functional.avg_pool2d`.

    `stride` defaults to `kernel_size`; `padding` pads with zeros, which
    count in the mean (PyTorch's count_include_pad=True).
    """
    x = lift(x)
    return AvgPool2d.apply(x, **_pool_options("avg_pool2d", x, kernel_size, stride, padding))
