"""Transposed 2-d convolution over NCHW input: conv2d's input gradient, run as a forward.

conv2d maps y (N, C_out, H_out, W_out) to x (N, C_in, H, W) with a weight of
shape (C_in, C_out / G, kH, kW); conv_transpose2d with the same weight is its
adjoint, x -> d<conv2d(y, W), x>/dy. So its forward is conv2d's col2im, and its
backward is conv2d itself: the input's gradient is conv2d(grad, W) and the
weight's gradient is conv2d's weight gradient, with `grad` in the role of the
convolution's input and x in that of its output gradient.
"""

from __future__ import annotations

from descent.backend import array_module
from descent.errors import ShapeError
from descent.function import Function
from descent.ops.conv import bias_grad, col2im, columns, ntuple, pad_hw, weight_grad
from descent.tensor import Tensor, lift


class ConvTranspose2d(Function):
    """A primitive, not a composition: its forward is a conv2d gradient, which no op
    computes, and both directions reuse conv2d's col2im and im2col."""

    def forward(self, x, weight, bias=None, *, stride, padding, dilation, groups, out_size):
        n, c_in, h, w = x.shape
        c_out, kernel = weight.shape[1] * groups, weight.shape[2:]
        out_shape = (n, c_out, *out_size)
        padded_shape = (n, c_out, out_size[0] + 2 * padding[0], out_size[1] + 2 * padding[1])
        self.w2 = weight.reshape(groups, c_in // groups, -1)
        g = x.reshape(n, groups, c_in // groups, h * w)
        out = col2im(self.w2, g, out_shape, padded_shape, kernel, stride, dilation, padding, (h, w))
        if bias is not None:
            out += bias[:, None, None]
        self.weight = weight  # kept for the engine's version check; w2 is its view
        if self.needs_grad[1]:
            self.x = x
        self.geometry = dict(kernel=kernel, stride=stride, dilation=dilation, out_size=(h, w))
        self.padding, self.groups, self.x_shape = padding, groups, x.shape
        return out

    def backward(self, grad):
        xp = array_module(grad)
        grad_x = grad_weight = grad_bias = None
        if self.needs_grad[0] or self.needs_grad[1]:
            padded = pad_hw(grad, self.padding)
            cols = columns(padded, groups=self.groups, **self.geometry)  # (N, G, K, H * W)
            if self.needs_grad[0]:
                grad_x = xp.matmul(self.w2, cols).reshape(self.x_shape)
            if self.needs_grad[1]:
                g = self.x.reshape(cols.shape[:2] + (-1, cols.shape[3]))
                grad_weight = weight_grad(cols, g, self.geometry["kernel"])
        if len(self.needs_grad) > 2 and self.needs_grad[2]:
            grad_bias = bias_grad(grad)
        return grad_x, grad_weight, grad_bias


def conv_transpose2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    groups: int = 1,
    dilation: int | tuple[int, int] = 1,
) -> Tensor:
    """Transposed 2-d convolution, as `torch.nn.functional.conv_transpose2d` (its argument
    order too: groups before dilation).

    Args:
        x: (N, C_in, H, W).
        weight: (C_in, C_out / groups, kH, kW).
        bias: (C_out,) or None.
        stride, padding, dilation: those of the conv2d this op is the gradient of.
        output_padding: rows and columns added at the bottom and right of the output,
            each smaller than the stride or the dilation.

    Returns:
        (N, C_out, H_out, W_out), H_out = (H - 1) * stride - 2 * padding
        + dilation * (kH - 1) + output_padding + 1.
    """
    op = "conv_transpose2d"
    x = lift(x)
    weight = lift(weight, x)
    if x.ndim != 4:
        raise ShapeError(f"{op}: input of shape {x.shape} must be 4-d (N, C, H, W)")
    if weight.ndim != 4:
        raise ShapeError(
            f"{op}: weight of shape {weight.shape} must be 4-d "
            "(in_channels, out_channels / groups, kH, kW)"
        )
    stride, padding = ntuple(stride, 2, "stride", op), ntuple(padding, 2, "padding", op)
    dilation = ntuple(dilation, 2, "dilation", op)
    output_padding = ntuple(output_padding, 2, "output_padding", op)
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 or min(output_padding) < 0:
        raise ShapeError(
            f"{op}: {stride=} and {dilation=} must be >= 1, {padding=} and "
            f"{output_padding=} must be >= 0"
        )
    for axis in (0, 1):
        if output_padding[axis] >= max(stride[axis], dilation[axis]):
            raise ShapeError(
                f"{op}: {output_padding=} must be smaller than the stride or the dilation "
                f"({stride=}, {dilation=})"
            )
    if not isinstance(groups, int) or groups < 1:
        raise ShapeError(f"{op}: {groups=} must be a positive int")
    channels = x.shape[1]
    if weight.shape[0] != channels or channels % groups:
        raise ShapeError(
            f"{op}: input has {channels} channels, weight expects {weight.shape[0]} "
            f"(in_channels, divisible by {groups=}); input {x.shape}, weight {weight.shape}"
        )
    c_out = weight.shape[1] * groups
    out_size = tuple(
        (x.shape[2 + a] - 1) * stride[a] - 2 * padding[a] + dilation[a] * (weight.shape[2 + a] - 1)
        + output_padding[a] + 1
        for a in (0, 1)
    )  # fmt: skip
    if min(out_size) < 1:
        raise ShapeError(
            f"{op}: the output would be {out_size[0]}x{out_size[1]}; {padding=} is too large "
            f"for input {x.shape} and kernel {weight.shape[2]}x{weight.shape[3]}"
        )
    options = dict(
        stride=stride, padding=padding, dilation=dilation, groups=groups, out_size=out_size
    )
    if bias is None:
        return ConvTranspose2d.apply(x, weight, **options)
    bias = lift(bias, x)
    if bias.shape != (c_out,):
        raise ShapeError(
            f"{op}: bias of shape {bias.shape} must be ({c_out},), one per output channel"
        )
    return ConvTranspose2d.apply(x, weight, bias, **options)
