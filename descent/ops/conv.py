"""2-d convolution in NCHW as one fused op: im2col by stride tricks, one batched matmul.

Forward lays the receptive fields of every output pixel out as columns,
`cols[n, (c, i, j), (h, w)] = x_padded[n, c, h * sh + i * dh, w * sw + j * dw]`,
so that the convolution is one matmul per group, `out[n] = W2 @ cols[n]`,
with W2 the weight as a (C_out, C_in * kH * kW) matrix. Keeping the batch
as the leading axis makes the product come out in NCHW order with no
transpose. Backward is two more matmuls (weight: `g @ cols^T` summed over
the batch; columns: `W2^T @ g`) and col2im, which adds the columns back
onto the input one kernel offset at a time (kH * kW strided slice adds).
"""

from __future__ import annotations

from descent.backend import array_module
from descent.errors import ShapeError
from descent.tensor import Function, Tensor, lift


def pair(value, name: str, op: str) -> tuple[int, int]:
    """An int or a pair of ints as a pair (height, width)."""
    if isinstance(value, int):
        return value, value
    try:
        height, width = value
    except (TypeError, ValueError):
        raise ShapeError(f"{op}: {name}={value!r} must be an int or a pair of ints") from None
    if not isinstance(height, int) or not isinstance(width, int):
        raise ShapeError(f"{op}: {name}={value!r} must be an int or a pair of ints")
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
            spans = f"{dilation[0] * (kernel[0] - 1) + 1}x{dilation[1] * (kernel[1] - 1) + 1}"
            raise ShapeError(
                f"{op}: the kernel ({kernel[0]}x{kernel[1]}, spanning {spans} with dilation) "
                f"is larger than the padded input ({shape[2] + 2 * padding[0]}x"
                f"{shape[3] + 2 * padding[1]}: input {shape}, padding {padding})"
            )
        sizes.append((padded - span) // stride[axis] + 1)
    return sizes[0], sizes[1]


def pad_hw(x, padding: tuple, value):
    """`x` with `padding` rows and columns of `value` around each (H, W) plane; `x` itself if 0."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    padded = array_module(x).full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    padded[:, :, ph : ph + h, pw : pw + w] = x
    return padded


def window_slice(offset: int, step: int, count: int) -> slice:
    """The input positions that kernel offset `offset` reads for `count` outputs `step` apart."""
    return slice(offset, offset + step * (count - 1) + 1, step)


class Conv2d(Function):
    """conv2d + bias in one node: a fused primitive, because im2col, the matmuls and the
    bias must share the column matrix between forward and backward to be fast."""

    def forward(self, x, weight, bias=None, *, stride, padding, dilation, groups, out_size):
        xp = array_module(x)
        n, c, h, w = x.shape
        c_out, c_group, kh, kw = weight.shape
        (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out_size
        padded = pad_hw(x, padding, 0)
        sn, sc, sy, sx = padded.strides
        # (N, C, kH, kW, H_out, W_out): a view; the reshape copies it into the column matrix.
        windows = xp.lib.stride_tricks.as_strided(
            padded,
            shape=(n, c, kh, kw, ho, wo),
            strides=(sn, sc, sy * dh, sx * dw, sy * sh, sx * sw),
            writeable=False,
        )
        cols = windows.reshape(n, groups, c_group * kh * kw, ho * wo)
        w2 = weight.reshape(groups, c_out // groups, c_group * kh * kw)
        out = xp.matmul(w2, cols).reshape(n, c_out, ho * wo)  # (N, G, C_out/G, P)
        if bias is not None:
            out += bias[:, None]
        self.cols, self.w2, self.padded_shape = cols, w2, padded.shape
        self.x_shape, self.weight_shape = x.shape, weight.shape
        self.stride, self.padding, self.dilation, self.out_size = (
            stride,
            padding,
            dilation,
            out_size,
        )
        return out.reshape(n, c_out, ho, wo)

    def backward(self, grad):
        xp = array_module(grad)
        n, c_out, ho, wo = grad.shape
        groups = self.w2.shape[0]
        g = grad.reshape(n, groups, c_out // groups, ho * wo)
        grad_x = grad_weight = grad_bias = None
        if self.needs_grad[0]:
            grad_x = self._col2im(xp.matmul(self.w2.swapaxes(1, 2), g))
        if self.needs_grad[1]:
            # sum over n of g[n] @ cols[n]^T: N small matmuls, then one reduction
            grad_weight = xp.matmul(g, self.cols.swapaxes(2, 3)).sum(axis=0)
            grad_weight = grad_weight.reshape(self.weight_shape)
        if len(self.needs_grad) > 2 and self.needs_grad[2]:
            grad_bias = grad.sum(axis=(0, 2, 3))
        return grad_x, grad_weight, grad_bias

    def _col2im(self, grad_cols):
        """Add each column entry back onto the input pixel it was copied from."""
        xp = array_module(grad_cols)
        n, c, h, w = self.x_shape
        _, _, kh, kw = self.weight_shape
        (sh, sw), (dh, dw), (ph, pw) = self.stride, self.dilation, self.padding
        ho, wo = self.out_size
        grad_cols = grad_cols.reshape(n, c, kh, kw, ho, wo)
        grad_padded = xp.zeros(self.padded_shape, dtype=grad_cols.dtype)
        for i in range(kh):
            rows = window_slice(i * dh, sh, ho)
            for j in range(kw):
                grad_padded[:, :, rows, window_slice(j * dw, sw, wo)] += grad_cols[:, :, i, j]
        if ph == 0 and pw == 0:
            return grad_padded
        return grad_padded[:, :, ph : ph + h, pw : pw + w]


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
