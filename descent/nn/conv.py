"""Convolution and pooling layers over (N, C, L) and (N, C, H, W) inputs."""

from __future__ import annotations

from descent.errors import ShapeError
from descent.nn import functional as F
from descent.nn import init
from descent.nn.factory import floating_dtype, new_parameter
from descent.nn.layers import check_sizes
from descent.nn.module import Module
from descent.ops.conv import ntuple
from descent.tensor import Tensor

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What Conv1d, Conv2d and ConvTranspose2d share: arguments, parameters, init, repr.

    The weight is (out_channels, in_channels / groups, *kernel_size), or for a
    transposed convolution (in_channels, out_channels / groups, *kernel_size);
    both start as torch's do: kaiming_uniform_(a=sqrt(5)) and a bias drawn from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """

    dims: int = 2
    transposed: bool = False

    def __init__(
        self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
        padding_mode, device, dtype, output_padding=0,
    ):  # fmt: skip
        name, dims = type(self).__name__, self.dims
        check_sizes(name, 0, in_channels=in_channels, out_channels=out_channels)
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"{name}: {groups=} must be a positive int")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: {groups=} must divide {in_channels=} and {out_channels=}")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{name}: {padding_mode=} must be one of {PADDING_MODES}")
        if self.transposed and padding_mode != "zeros":
            raise ValueError(
                f'{name}: only padding_mode="zeros" is supported, got {padding_mode!r}'
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = ntuple(kernel_size, dims, "kernel_size", name)
        self.stride = ntuple(stride, dims, "stride", name)
        self.dilation = ntuple(dilation, dims, "dilation", name)
        self.output_padding = ntuple(output_padding, dims, "output_padding", name)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"{name}: {padding=} must be 'valid', 'same' or a size")
            if padding == "same" and set(self.stride) != {1}:
                raise ValueError(
                    f"{name}: padding='same' is not supported for strided convolutions"
                )
            self.padding = padding
        else:
            self.padding = ntuple(padding, dims, "padding", name)
        self.padding_mode = padding_mode
        dtype = floating_dtype(name, dtype, device)
        if self.transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = new_parameter(shape, dtype)
        self.bias = new_parameter((out_channels,), dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_layer_init_(self.weight, self.bias)

    def _padding_pairs(self) -> tuple[int, ...]:
        """F.pad's tuple for padding_mode (last axis first, each as before, after)."""
        pairs = ()
        for axis in reversed(range(self.dims)):
            if self.padding == "valid":
                before = after = 0
            elif self.padding == "same":
                total = self.dilation[axis] * (self.kernel_size[axis] - 1)
                before, after = total // 2, total - total // 2
            else:
                before = after = self.padding[axis]
            pairs += (before, after)
        return pairs

    def _check_input(self, x: Tensor) -> None:
        spatial = "L" if self.dims == 1 else "H, W"
        if x.ndim not in (self.dims + 1, self.dims + 2):
            raise ShapeError(
                f"{self!r}: input of shape {tuple(x.shape)} must be {self.dims + 2}-d "
                f"(N, C, {spatial}) or {self.dims + 1}-d (C, {spatial})"
            )
        channels = x.shape[x.ndim - self.dims - 1]
        if channels != self.in_channels:
            raise ShapeError(
                f"{self!r}: input of shape {tuple(x.shape)} has {channels} channels, the layer "
                f"expects {self.in_channels}"
            )

    def _conv_forward(self, conv, x: Tensor) -> Tensor:
        self._check_input(x)
        if self.padding_mode == "zeros":
            return conv(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)  # fmt: skip
        padded = F.pad(x, self._padding_pairs(), mode=self.padding_mode)
        return conv(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * self.dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self.dims:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self.dims:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv1d(_ConvNd):
    """1-d cross-correlation over (N, C, L), as PyTorch's Conv1d: weight (out, in / groups, k)."""

    dims = 1

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
        dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
        device=None, dtype=None,
    ):  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(F.conv1d, x)


class Conv2d(_ConvNd):
    """2-d cross-correlation, as PyTorch's Conv2d: weight (out, in / groups, kH, kW)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
        dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
        device=None, dtype=None,
    ):  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(F.conv2d, x)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-d convolution (the gradient of Conv2d; upsamples by `stride`), as
    PyTorch's: weight (in, out / groups, kH, kW)."""

    transposed = True

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
        output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
        padding_mode: str = "zeros", device=None, dtype=None,
    ):  # fmt: skip
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: {padding=} must be a size, not a string")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, output_padding)  # fmt: skip

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        """`output_size` (the last two entries count) picks among the sizes a stride > 1
        allows, by setting output_padding for this call."""
        self._check_input(x)
        output_padding = self._output_padding(x, output_size)
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)  # fmt: skip

    def _output_padding(self, x: Tensor, output_size) -> tuple[int, int]:
        if output_size is None:
            return self.output_padding
        size = tuple(output_size)[-2:]
        if len(size) != 2:
            raise ValueError(f"ConvTranspose2d: {output_size=} must end in (H_out, W_out)")
        padding = []
        for axis in (0, 1):
            least = ((x.shape[x.ndim - 2 + axis] - 1) * self.stride[axis]
                     - 2 * self.padding[axis]
                     + self.dilation[axis] * (self.kernel_size[axis] - 1) + 1)  # fmt: skip
            most = least + self.stride[axis] - 1
            if not least <= size[axis] <= most:
                raise ValueError(
                    f"ConvTranspose2d: requested an output size of {size}, but valid sizes "
                    f"for input {tuple(x.shape)} range from {least} to {most} on axis "
                    f"{axis - 2}"
                )
            padding.append(size[axis] - least)
        return tuple(padding)


# -- pooling --------------------------------------------------------------------------------


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):  # fmt: skip
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """The largest value in each window along L; the gradient goes to that element."""

    def forward(self, x: Tensor):
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)  # fmt: skip


class MaxPool2d(_MaxPoolNd):
    """The largest value in each window; the gradient goes to that element."""

    def forward(self, x: Tensor):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)  # fmt: skip


class AvgPool1d(Module):
    """The mean of each window along L (padding counts as zeros unless count_include_pad
    is False)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):  # fmt: skip
        self.kernel_size = ntuple(kernel_size, 1, "kernel_size", "AvgPool1d")
        self.stride = ntuple(stride if stride is not None else kernel_size, 1, "stride",
                             "AvgPool1d")  # fmt: skip
        self.padding = ntuple(padding, 1, "padding", "AvgPool1d")
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """The mean of each window (padding counts as zeros unless count_include_pad is False)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):  # fmt: skip
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptiveAvgPoolNd(Module):
    def __init__(self, output_size):
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average (N, C, L) down to (N, C, output_size), whatever L is."""

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(x, self.output_size)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average (N, C, H, W) down to (N, C, *output_size), whatever H and W are; None in
    output_size keeps that axis."""

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)
