"""2-d convolution over NCHW input as one fused op: im2col by stride tricks, then matmuls.

im2col copies the receptive field of every output pixel into a column,
`cols[n, (c, i, j), (h, w)] = x_padded[n, c, h * sh + i * dh, w * sw + j * dw]`,
reading it through a strided view (no Python loop over pixels or samples).
The convolution is then one batched matmul, `out[n] = W2 @ cols[n]` with W2
the weight as a (C_out, C_in * kH * kW) matrix per group, which comes out in
NCHW order with no transpose. Backward is `sum_n cols[n] @ g[n]^T` for the
weight and, for the input, col2im of `W2^T @ g`: each kernel tap's slice of the
columns added onto the pixels it read, in one compiled pass on sizable float arrays
where numba runs (ops/conv_kernels.py), else a loop over the kH * kW taps.

That is the whole-batch path, kept for small layers, strided ones and those with
more output channels than column rows. Larger stride-1 layers run the same products
chunk by chunk (ops/conv_fast.py), in buffers kept between calls. Both run their
products on BLAS's threads and nothing on threads of their own (conv_fast says why).
"""

from __future__ import annotations

import math
import operator

import numpy as np

from descent import jit
from descent.backend import array_module
from descent.errors import ShapeError
from descent.function import Function
from descent.ops import conv_fast
from descent.ops.shape import pad, reshape
from descent.tensor import Tensor, lift


def ntuple(value, n: int, name: str, op: str) -> tuple[int, ...]:
    """An int (NumPy's too) repeated n times, or a sequence of n ints, as a tuple."""
    try:
        return (operator.index(value),) * n
    except TypeError:
        pass
    try:
        values = tuple(operator.index(v) for v in value)
    except TypeError:
        values = ()
    if len(values) != n:
        what = "an int or a pair of ints" if n == 2 else f"an int or {n} ints"
        raise ShapeError(f"{op}: {name}={value!r} must be {what}")
    return values


def pair(value, name: str, op: str) -> tuple[int, int]:
    """An int (NumPy's too) or a pair of ints as a pair (height, width)."""
    return ntuple(value, 2, name, op)


def check_4d(x: Tensor, op: str) -> None:
    if x.ndim != 4:
        raise ShapeError(f"{op}: input of shape {x.shape} must be 4-d (N, C, H, W)")


def output_size(
    op: str, shape: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple
) -> tuple[int, ...]:
    """The output's spatial size (one entry per kernel axis, read from the end of `shape`),
    or a ShapeError when the (dilated) kernel overhangs the padded input."""
    dims = len(kernel)
    spatial = shape[len(shape) - dims :]
    padded = [spatial[a] + 2 * padding[a] for a in range(dims)]
    spans = [dilation[a] * (kernel[a] - 1) + 1 for a in range(dims)]
    if any(span > size for span, size in zip(spans, padded)):
        dilated = "" if set(dilation) == {1} else f" with {dilation=} spans {by(spans)},"
        raise ShapeError(
            f"{op}: the kernel {by(kernel)}{dilated} is larger than the padded input "
            f"{by(padded)} (input {shape}, {padding=})"
        )
    return tuple((padded[a] - spans[a]) // stride[a] + 1 for a in range(dims))


def by(sizes) -> str:
    """Sizes written as 3x3 (or 3 for one axis)."""
    return "x".join(map(str, sizes))


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


class Conv2d(Function):
    """conv2d + bias as one node: a fused primitive for speed (im2col, matmul and bias as
    separate ops would copy the columns again and record three nodes). Two ways to run it,
    which compute the same products: over the whole batch at once (below), keeping the
    columns for backward, or chunk by chunk (conv_fast) for larger layers. Backward skips
    col2im when the input needs no gradient."""

    def forward(self, x, weight, bias=None, *, stride, padding, dilation, groups, out_size):
        n, c_out = x.shape[0], weight.shape[0]
        self.w2 = weight.reshape(groups, c_out // groups, -1)
        self.geometry = (weight.shape[2:], stride, dilation, out_size)
        padded = pad_hw(x, padding)
        self.chunked = runs_in_chunks(x, weight, stride, out_size)
        if self.chunked:
            self.padded = array_module(x).ascontiguousarray(padded)
            out = conv_fast.forward(self.padded, self.w2, self.geometry, bias)
        else:
            self.cols, out = whole_batch_forward(padded, self.w2, self.geometry, bias)
        out = out.reshape(n, c_out, *out_size)
        # x and weight are kept (no copy) so that the engine's version check catches an
        # in-place change to either before backward, as torch's does
        self.x, self.weight = x, weight
        self.x_shape, self.padded_shape, self.padding = x.shape, padded.shape, padding
        return out

    def backward(self, grad):
        wants_bias = len(self.needs_grad) > 2 and self.needs_grad[2]
        if not self.chunked:
            return self._whole_batch_grads(grad, wants_bias)
        grad_x, grad_weight = self._chunked_grads(grad)
        return grad_x, grad_weight, bias_grad(grad) if wants_bias else None

    def _whole_batch_grads(self, grad, wants_bias: bool):
        """The input's, the weight's and the bias's gradients (None where not asked); the
        last two from one product, the bias's from the columns' row of ones."""
        kernel, stride, dilation, out_size = self.geometry
        g = grad.reshape(
            grad.shape[0], *self.w2.shape[:2], math.prod(out_size)
        )  # (N, G, C_out / G, P)
        grad_x = grad_weight = grad_bias = None
        if self.needs_grad[0]:
            grad_padded = array_module(g).zeros(self.padded_shape, dtype=g.dtype)
            add_columns(grad_padded, self.w2, g, *self.geometry)
            grad_x = unpad_hw(grad_padded, self.padding)
        if self.needs_grad[1]:
            products, rows = weight_grad_sum(self.cols, g), self.w2.shape[2]
            grad_weight = as_weight(products[:, :rows], g.shape[2], kernel)
            if wants_bias:
                grad_bias = products[:, rows].reshape(-1)
        elif wants_bias:  # the bias alone: a pass over grad, not the weight's product
            grad_bias = bias_grad(grad)
        return grad_x, grad_weight, grad_bias

    def _chunked_grads(self, grad):
        g = grad.reshape(grad.shape[0], *self.w2.shape[:2], *grad.shape[2:])
        grad_x = grad_padded = None
        if self.needs_grad[0]:
            grad_padded = array_module(g).zeros(self.padded_shape, dtype=g.dtype)
            grad_x = unpad_hw(grad_padded, self.padding)
        if grad_padded is None and not self.needs_grad[1]:
            return None, None  # only the bias's gradient is asked for
        grad_w2 = conv_fast.backward(
            self.padded, self.w2, g, self.geometry, grad_padded, self.needs_grad[1]
        )
        grad_weight = None if grad_w2 is None else grad_w2.reshape(self.weight.shape)
        return grad_x, grad_weight


CHUNKED_MIN_WORK = 1 << 20
"""Multiply-adds per call from which conv2d may run in chunks (conv_fast): below it, the
whole batch's columns fit in cache anyway and the chunks' extra calls cost more."""


def runs_in_chunks(x, weight, stride, out_size) -> bool:
    """Whether conv_fast runs this convolution: a stride-1 one with enough work, more than
    one input channel per group, and no more output channels than rows in the columns
    (C_in / G * kH * kW). Measured otherwise on a 2-CPU machine, forward + backward, the
    whole batch won: conv_fast moves each chunk's output through a transposing copy, which
    costs more than it saves when the output is the larger (MNIST's 1 -> 32 channel 3x3
    layer: 3.3 ms against 1.5); with one input channel the columns are few and the whole
    batch's cheap to copy (LeNet's 1 -> 6 channel 5x5 layer: 5.0 ms against 1.9). A conv1d
    runs in chunks too: its 32 -> 32 channel layers took the MNIST-1D CNN's step from 6.3
    to 5.6 ms, though such a layer timed alone runs 2.2 against 2.0 ms."""
    multiply_adds = x.shape[0] * weight.size * out_size[0] * out_size[1]
    return (
        stride == (1, 1)
        and multiply_adds >= CHUNKED_MIN_WORK
        and weight.shape[1] > 1
        and weight.shape[0] <= weight[0].size
    )


def whole_batch_forward(padded, w2, geometry: tuple, bias=None) -> tuple:
    """The whole batch's columns, (N, G, K / G, P) or (N, G, K / G + 1, P) with a bias, and
    the convolution plus `bias` (if given), (N, G, C_out / G, P), one matmul per sample and
    group.

    With a bias the columns get one more row, of ones, and the weight one more column, the
    bias: the matmul adds it, where a pass of its own over the output took as long as the
    matmul on MNIST's 1 -> 32 channel layer (0.37 against 0.36 ms), and backward's
    weight-gradient product gives the bias's gradient in its last row."""
    xp = array_module(padded)
    n, c = padded.shape[:2]
    kernel, _, _, out_size = geometry
    groups, rows, pixels = w2.shape[0], w2.shape[2], out_size[0] * out_size[1]
    ones = 0 if bias is None else 1
    cols = xp.empty((n, groups, rows + ones, pixels), padded.dtype)
    out = xp.empty((n, *w2.shape[:2], pixels), padded.dtype)

    # straight into the columns: a temporary copy of this size page-faulted on every call,
    # 2 ms a call on MNIST-1D's 32 -> 32 channel layer, 5x its matmul
    part = windows(padded, *geometry)
    by_group = part.reshape(n, groups, c // groups, *part.shape[2:])
    xp.copyto(cols[:, :, :rows].reshape(by_group.shape), by_group)
    if bias is not None:
        cols[:, :, rows] = 1
        w2 = xp.concatenate([w2, bias.reshape(groups, -1, 1)], axis=2)
    xp.matmul(w2, cols, out=out)
    return cols, out


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


def columns(padded, kernel, stride, dilation, out_size, groups):
    """im2col: the (N, G, C / G * kH * kW, H_out * W_out) columns of a padded input."""
    n, c = padded.shape[:2]
    # The reshape copies the windows (a view) into the columns.
    cols = windows(padded, kernel, stride, dilation, out_size)
    return cols.reshape(n, groups, c // groups * kernel[0] * kernel[1], out_size[0] * out_size[1])


def weight_grad(cols, g, kernel):
    """sum_n g[n] @ cols[n]^T, as (C_out, C_in / G, kH, kW): the weight's gradient."""
    return as_weight(weight_grad_sum(cols, g), g.shape[2], kernel)


def weight_grad_sum(cols, g):
    """sum_n cols[n] @ g[n]^T, (G, rows, C_out / G) for the columns' rows: the weight's
    gradient, transposed, and below it the bias's where the columns end in a row of ones."""
    xp = array_module(g)
    shape = (*cols.shape[:3], g.shape[2])
    products = conv_fast.workspace("weight products", math.prod(shape), g).reshape(shape)
    # (cols @ g^T)^T summed over the batch: this orientation runs faster in BLAS
    return xp.matmul(cols, g.swapaxes(2, 3), out=products).sum(axis=0)


def as_weight(grad_sum, c_out_group: int, kernel):
    """weight_grad_sum's (G, K / G, C_out / G) as the weight's (C_out, C_in / G, kH, kW)."""
    groups = grad_sum.shape[0]
    return grad_sum.swapaxes(1, 2).reshape(groups * c_out_group, -1, *kernel)


def bias_grad(grad):
    """grad summed over every axis but the channels (axis 1)."""
    xp = array_module(grad)
    # a matrix-vector product with ones sums faster than grad.sum(axis=(0, 2, 3))
    rows = grad.reshape(*grad.shape[:2], math.prod(grad.shape[2:]))
    return (rows @ xp.ones(rows.shape[2], dtype=grad.dtype)).sum(axis=0)


def col2im(w2, g, x_shape, padded_shape, kernel, stride, dilation, padding, out_size):
    """The input gradient of a convolution, col2im(W2^T @ g) (`add_columns`), as x_shape.

    w2 is the weight as (G, C_out / G, C_in / G * kH * kW), g the output gradient as
    (N, G, C_out / G, H_out * W_out); x_shape is the input's shape, padded_shape its
    padded shape."""
    grad_padded = array_module(g).zeros(padded_shape, dtype=g.dtype)
    add_columns(grad_padded, w2, g, kernel, stride, dilation, out_size)
    return unpad_hw(grad_padded, padding)


COMPILED_COL2IM_MIN = 1 << 16
"""Column-gradient elements from which `add_columns` runs compiled: below it NumPy's loop
over taps costs less than numba's import would (0.4 s on a process's first kernel)."""


def add_columns(grad_padded, w2, g, kernel, stride, dilation, out_size) -> None:
    """grad_padded += col2im(W2^T @ g).

    Compiled (conv_kernels.add_windows) for NumPy arrays of float32 or float64 with at least
    `COMPILED_COL2IM_MIN` column gradients: every tap's column gradients from one matmul per
    block of samples (at most `conv_fast.KEEP_BYTES` of them, in a kept buffer), added in
    one pass: ConvTranspose2d 64 -> 32 k4 s2 10.7 -> 7.8 ms forward + backward. Otherwise
    NumPy's loop over taps, the reference: the columns of tap (i, j), W[:, :, i, j]^T @ g,
    are added onto the padded input's pixels that tap read; holding one tap's column
    gradients at a time, not all kH * kW, measured faster for that loop (less memory to
    fault in, each product still in cache when it is added)."""
    xp = array_module(g)
    (n, c), (kh, kw) = grad_padded.shape[:2], kernel
    per_sample = c * kh * kw * g.shape[3]  # column gradients of one sample
    if (
        xp is np
        and g.dtype in jit.FLOAT_DTYPES
        and n * per_sample >= COMPILED_COL2IM_MIN
        and jit.available()
    ):
        _add_columns_compiled(grad_padded, w2, g, stride, dilation, (kh, kw, *out_size))
        return
    grad_windows = windows(grad_padded, kernel, stride, dilation, out_size, writeable=True)
    # (kH, kW, G, C_in / G, C_out / G): per tap, each group's transposed weight
    groups, c_out_group = w2.shape[:2]
    taps = w2.reshape(groups, c_out_group, -1, kh, kw).transpose(3, 4, 0, 2, 1)
    taps = xp.ascontiguousarray(taps)
    # One buffer for every tap's product, kept between calls: fresh memory page-faults.
    shape = (*g.shape[:2], taps.shape[3], g.shape[3])
    tap_cols = conv_fast.workspace("tap grads", math.prod(shape), g).reshape(shape)
    tap_shape = (n, c) + tuple(out_size)
    for i in range(kh):
        for j in range(kw):
            xp.matmul(taps[i, j], g, out=tap_cols)
            # one tap's windows touch no pixel twice, so += adds every term
            grad_windows[:, :, i, j] += tap_cols.reshape(tap_shape)


def _add_columns_compiled(grad_padded, w2, g, stride, dilation, window: tuple) -> None:
    """`add_columns` in blocks of samples whose column gradients, (n, G, K / G, P) from one
    matmul, fit the kept buffer; `window` is (kH, kW, H_out, W_out)."""
    from descent.ops import conv_kernels

    n, c = grad_padded.shape[:2]
    per_sample = c * math.prod(window)
    block = max(1, min(n, conv_fast.KEEP_BYTES // (per_sample * g.itemsize)))
    buffer = conv_fast.workspace("column grads", block * per_sample, g)
    for start in range(0, n, block):
        stop = min(n, start + block)
        cols = buffer[: (stop - start) * per_sample].reshape(
            stop - start, g.shape[1], -1, g.shape[3]
        )
        np.matmul(w2.swapaxes(1, 2), g[start:stop], out=cols)
        grad_cols = cols.reshape(stop - start, c, *window)
        conv_kernels.add_windows(grad_cols, grad_padded[start:stop], tuple(stride), tuple(dilation))


# -- checked entry points ----------------------------------------------------------------

_LAYOUTS = {1: "(N, C, L)", 2: "(N, C, H, W)"}
_KERNELS = {1: "k", 2: "kH, kW"}


def check_conv(
    op: str, x: Tensor, weight: Tensor, bias, stride, padding, dilation, groups, dims: int
) -> tuple[dict, tuple]:
    """Checked options of a `dims`-d convolution: (stride, padding, dilation, groups and
    out_size as a dict; the zeros to add at the end of each spatial axis, which
    padding='same' needs when the kernel's span is even)."""
    if x.ndim != dims + 2:
        raise ShapeError(f"{op}: input of shape {x.shape} must be {dims + 2}-d {_LAYOUTS[dims]}")
    if weight.ndim != dims + 2:
        raise ShapeError(
            f"{op}: weight of shape {weight.shape} must be {dims + 2}-d "
            f"(out_channels, in_channels / groups, {_KERNELS[dims]})"
        )
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None and tensor.dtype != x.dtype:
            raise RuntimeError(
                f"{op}: input is {x.dtype} but {name} is {tensor.dtype}; convert one, e.g. "
                f"input.to({tensor.dtype}) or the module's .to({x.dtype})"
            )
    kernel = weight.shape[2:]
    stride = ntuple(stride, dims, "stride", op)
    dilation = ntuple(dilation, dims, "dilation", op)
    extra = (0,) * dims
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"{op}: {padding=} must be 'valid', 'same' or a number of zeros")
        if padding == "same" and set(stride) != {1}:
            raise ValueError(f"{op}: padding='same' needs stride 1, got {stride=}")
        # 'same': d * (k - 1) zeros in all, the odd one at the end, as torch places them
        total = [d * (k - 1) if padding == "same" else 0 for d, k in zip(dilation, kernel)]
        padding = tuple(t // 2 for t in total)
        extra = tuple(t - 2 * (t // 2) for t in total)
    else:
        padding = ntuple(padding, dims, "padding", op)
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ShapeError(f"{op}: {stride=} and {dilation=} must be >= 1, {padding=} must be >= 0")
    channels, c_out = x.shape[1], weight.shape[0]
    if not isinstance(groups, int) or groups < 1:
        raise ShapeError(f"{op}: {groups=} must be a positive int")
    if channels % groups or c_out % groups:
        raise ShapeError(
            f"{op}: {groups=} must divide the input channels ({channels}) and the output "
            f"channels ({c_out}); input {x.shape}, weight {weight.shape}"
        )
    if weight.shape[1] * groups != channels:
        raise ShapeError(
            f"{op}: input has {channels} channels, weight expects "
            f"{weight.shape[1] * groups} (in_channels * groups = {weight.shape[1]} * {groups}); "
            f"input {x.shape}, weight {weight.shape}"
        )
    if bias is not None and bias.shape != (c_out,):
        raise ShapeError(
            f"{op}: bias of shape {bias.shape} must be ({c_out},), one per output channel"
        )
    shape = x.shape[:2] + tuple(s + e for s, e in zip(x.shape[2:], extra))
    out_size = output_size(op, shape, kernel, stride, padding, dilation)
    options = dict(
        stride=stride, padding=padding, dilation=dilation, groups=groups, out_size=out_size
    )
    return options, extra


def _end_zeros(x: Tensor, extra: tuple) -> Tensor:
    if not any(extra):
        return x
    return pad(x, ((0, 0), (0, 0)) + tuple((0, e) for e in extra))


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Tensor:
    """2-d cross-correlation over NCHW input, as `torch.nn.functional.conv2d`.

    Args:
        x: (N, C_in, H, W).
        weight: (C_out, C_in / groups, kH, kW).
        bias: (C_out,) or None.
        stride, padding, dilation: an int or a pair (height, width); padding adds zeros,
            'valid' none, 'same' enough to keep the size (stride 1 only).
        groups: split the channels into this many independent convolutions.

    Returns:
        (N, C_out, H_out, W_out), H_out = (H + 2 * pad - dil * (kH - 1) - 1) // stride + 1.
    """
    x = lift(x)
    weight = lift(weight, x)
    bias = None if bias is None else lift(bias, x)
    options, extra = check_conv("conv2d", x, weight, bias, stride, padding, dilation, groups, 2)
    x = _end_zeros(x, extra)
    if bias is None:
        return Conv2d.apply(x, weight, **options)
    return Conv2d.apply(x, weight, bias, **options)


def conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] | str = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
) -> Tensor:
    """1-d cross-correlation over (N, C_in, L) input, as `torch.nn.functional.conv1d`.

    Composed: conv2d of the height-1 image (N, C_in, 1, L) with a (C_out, C_in / groups,
    1, k) kernel; the reshapes are views, and gradients flow back through them.
    """
    x = lift(x)
    weight = lift(weight, x)
    bias = None if bias is None else lift(bias, x)
    options, extra = check_conv("conv1d", x, weight, bias, stride, padding, dilation, groups, 1)
    x = _end_zeros(x, extra)
    (n, c, length), (c_out, c_group, k) = x.shape, weight.shape
    options2d = dict(
        stride=(1, *options["stride"]), padding=(0, *options["padding"]),
        dilation=(1, *options["dilation"]), groups=groups, out_size=(1, *options["out_size"]),
    )  # fmt: skip
    inputs = (reshape(x, (n, c, 1, length)), reshape(weight, (c_out, c_group, 1, k)))
    if bias is not None:
        inputs += (bias,)
    return reshape(Conv2d.apply(*inputs, **options2d), (n, c_out, options["out_size"][0]))
