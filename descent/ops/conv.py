"""2-d convolution over NCHW input as one fused op: im2col by stride tricks, then matmuls.

im2col copies the receptive field of every output pixel into a column,
`cols[n, (c, i, j), (h, w)] = x_padded[n, c, h * sh + i * dh, w * sw + j * dw]`,
reading it through a strided view (no Python loop over pixels or samples).
The convolution is then one batched matmul, `out[n] = W2 @ cols[n]` with W2
the weight as a (C_out, C_in * kH * kW) matrix per group, which comes out in
NCHW order with no transpose. Backward is `sum_n cols[n] @ g[n]^T` for the
weight and, for the input, col2im of `W2^T @ g`: a loop over the kH * kW
kernel taps, each adding its slice of the columns onto the pixels it read.
"""

from __future__ import annotations

import operator

from descent.backend import array_module
from descent.errors import ShapeError
from descent.function import Function
from descent.tensor import Tensor, lift


def pair(value, name: str, op: str) -> tuple[int, int]:
    """An int (NumPy's too) or a pair of ints as a pair (height, width)."""
    try:
        return operator.index(value), operator.index(value)
    except TypeError:
        pass
    try:
        height, width = (operator.index(v) for v in value)
    except (TypeError, ValueError):
        raise ShapeError(f"{op}: {name}={value!r} must be an int or a pair of ints") from None
    return height, width


def check_4d(x: Tensor, op: str) -> None:
    if x.ndim != 4:
        raise ShapeError(f"{op}: input of shape {x.shape} must be 4-d (N, C, H, W)")


def output_size(
    op: str, shape: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple
) -> tuple[int, int]:
    """(H_out, W_out), or a ShapeError when the (dilated) kernel overhangs the padded input."""
    sizes = []
    for axis in (0, 1):
        padded = shape[2 + axis] + 2 * padding[axis]
        span = dilation[axis] * (kernel[axis] - 1) + 1
        if span > padded:
            spans = [dilation[a] * (kernel[a] - 1) + 1 for a in (0, 1)]
            dilated = (
                "" if dilation == (1, 1) else f" with {dilation=} spans {spans[0]}x{spans[1]},"
            )
            raise ShapeError(
                f"{op}: the kernel {kernel[0]}x{kernel[1]}{dilated} is larger than the padded "
                f"input {shape[2] + 2 * padding[0]}x{shape[3] + 2 * padding[1]} "
                f"(input {shape}, {padding=})"
            )
        sizes.append((padded - span) // stride[axis] + 1)
    return sizes[0], sizes[1]


def pad_hw(x, padding: tuple, value=0):
    """`x` with `padding` rows and columns of `value` around each (H, W) plane (`x` if none)."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    padded = array_module(x).full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    padded[:, :, ph : ph + h, pw : pw + w] = x
    return padded


def unpad_hw(padded, padding: tuple):
    """The inside of `pad_hw(x, padding)`: `padded` itself when there is no padding."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return padded
    return padded[:, :, ph : padded.shape[2] - ph, pw : padded.shape[3] - pw]


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


class Conv2d(Function):
    """conv2d + bias as one node: a fused primitive for speed (im2col, matmul and bias as
    separate ops would copy the columns again and record three nodes). Backward reuses
    the forward's columns and skips col2im when the input needs no gradient."""

    def forward(self, x, weight, bias=None, *, stride, padding, dilation, groups, out_size):
        xp = array_module(x)
        n, c_out, (ho, wo) = x.shape[0], weight.shape[0], out_size
        k = weight[0].size  # C_in / G * kH * kW
        padded = pad_hw(x, padding)
        # The reshape copies the windows (a view) into the (N, G, K, H_out * W_out) columns.
        cols = windows(padded, weight.shape[2:], stride, dilation, out_size)
        self.cols = cols.reshape(n, groups, k, ho * wo)
        self.w2 = weight.reshape(groups, c_out // groups, k)
        out = xp.matmul(self.w2, self.cols).reshape(n, c_out, ho, wo)  # one matmul per n, g
        if bias is not None:
            out += bias[:, None, None]
        self.x_shape, self.padded_shape, self.padding = x.shape, padded.shape, padding
        self.kernel, self.stride, self.dilation = weight.shape[2:], stride, dilation
        self.out_size = out_size
        return out

    def backward(self, grad):
        xp = array_module(grad)
        g = grad.reshape(self.cols.shape[:2] + (-1, self.cols.shape[3]))  # (N, G, C_out / G, P)
        grad_x = grad_weight = grad_bias = None
        if self.needs_grad[0]:
            grad_x = self._input_grad(g)
        if self.needs_grad[1]:
            # (cols @ g^T)^T summed over the batch: this orientation runs faster in BLAS
            grad_weight = xp.matmul(self.cols, g.swapaxes(2, 3)).sum(axis=0)
            grad_weight = grad_weight.swapaxes(1, 2).reshape(grad.shape[1], -1, *self.kernel)
        if len(self.needs_grad) > 2 and self.needs_grad[2]:
            # a matrix-vector product with ones sums faster than grad.sum(axis=(0, 2, 3))
            rows = grad.reshape(grad.shape[0], grad.shape[1], -1)
            grad_bias = (rows @ xp.ones(rows.shape[2], dtype=grad.dtype)).sum(axis=0)
        return grad_x, grad_weight, grad_bias

    def _input_grad(self, g):
        """col2im(W2^T @ g), one kernel tap at a time: the columns of tap (i, j),
        W[:, :, i, j]^T @ g, are added onto the input pixels that tap read. Holding one
        tap's column gradients at a time, not all kH * kW, measured faster: less memory
        to fault in, and each product is still in cache when it is added."""
        xp = array_module(g)
        (n, c), (kh, kw) = self.x_shape[:2], self.kernel
        groups, c_out_group = self.w2.shape[:2]
        # (kH, kW, G, C_in / G, C_out / G): per tap, each group's transposed weight
        taps = self.w2.reshape(groups, c_out_group, -1, kh, kw).transpose(3, 4, 0, 2, 1)
        taps = xp.ascontiguousarray(taps)
        grad_padded = xp.zeros(self.padded_shape, dtype=g.dtype)
        grad_windows = windows(
            grad_padded, self.kernel, self.stride, self.dilation, self.out_size, writeable=True
        )
        # One buffer for every tap's product: fresh memory per tap costs page faults.
        tap_cols = xp.empty(g.shape[:2] + (taps.shape[3], g.shape[3]), dtype=g.dtype)
        tap_shape = (n, c) + self.out_size
        for i in range(kh):
            for j in range(kw):
                xp.matmul(taps[i, j], g, out=tap_cols)
                # one tap's windows touch no pixel twice, so += adds every term
                grad_windows[:, :, i, j] += tap_cols.reshape(tap_shape)
        return unpad_hw(grad_padded, self.padding)


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Tensor:
    """2-d cross-correlation over NCHW input, as `torch.nn.functional.conv2d`.

    Args:
        x: (N, C_in, H, W).
        weight: (C_out, C_in / groups, kH, kW).
        bias: (C_out,) or None.
        stride, padding, dilation: an int or a pair (height, width); padding adds zeros.
        groups: split the channels into this many independent convolutions.

    Returns:
        (N, C_out, H_out, W_out), H_out = (H + 2 * pad - dil * (kH - 1) - 1) // stride + 1.
    """
    x = lift(x)
    weight = lift(weight, x)
    check_4d(x, "conv2d")
    if weight.ndim != 4:
        raise ShapeError(
            f"conv2d: weight of shape {weight.shape} must be 4-d "
            "(out_channels, in_channels / groups, kH, kW)"
        )
    stride, padding = pair(stride, "stride", "conv2d"), pair(padding, "padding", "conv2d")
    dilation = pair(dilation, "dilation", "conv2d")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ShapeError(f"conv2d: {stride=} and {dilation=} must be >= 1, {padding=} must be >= 0")
    channels, c_out = x.shape[1], weight.shape[0]
    if not isinstance(groups, int) or groups < 1:
        raise ShapeError(f"conv2d: {groups=} must be a positive int")
    if channels % groups or c_out % groups:
        raise ShapeError(
            f"conv2d: {groups=} must divide the input channels ({channels}) and the output "
            f"channels ({c_out}); input {x.shape}, weight {weight.shape}"
        )
    if weight.shape[1] * groups != channels:
        raise ShapeError(
            f"conv2d: input has {channels} channels, weight expects "
            f"{weight.shape[1] * groups} (in_channels * groups = {weight.shape[1]} * {groups}); "
            f"input {x.shape}, weight {weight.shape}"
        )
    out_size = output_size("conv2d", x.shape, weight.shape[2:], stride, padding, dilation)
    options = dict(
        stride=stride, padding=padding, dilation=dilation, groups=groups, out_size=out_size
    )
    if bias is None:
        return Conv2d.apply(x, weight, **options)
    bias = lift(bias, x)
    if bias.shape != (c_out,):
        raise ShapeError(
            f"conv2d: bias of shape {bias.shape} must be ({c_out},), one per output channel"
        )
    return Conv2d.apply(x, weight, bias, **options)
