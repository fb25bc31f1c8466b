"""Ops that move elements without changing them: reshape, transpose, indexing, joins, pad."""

import numpy as np

from descent.backend import array_module
from descent.errors import ShapeError
from descent.tensor import Function, Tensor, lift


class Reshape(Function):
    def forward(self, x, shape):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.shape)


class Transpose(Function):
    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, grad):
        if self.axes is None:
            return grad.transpose()
        inverse = [0] * len(self.axes)
        for position, axis in enumerate(self.axes):
            inverse[axis] = position
        return grad.transpose(inverse)


class BroadcastTo(Function):
    def forward(self, x, shape):
        return array_module(x).broadcast_to(x, shape)

    def backward(self, grad):
        return grad  # the engine sums it back to the input's shape


class Concatenate(Function):
    def forward(self, *arrays, axis):
        self.axis = axis
        self.bounds = []
        end = 0
        for array in arrays:
            end += array.shape[axis] if array.ndim else 0
            self.bounds.append(end)
        return array_module(arrays[0]).concatenate(arrays, axis=axis)

    def backward(self, grad):
        return tuple(array_module(grad).split(grad, self.bounds[:-1], axis=self.axis))


class GetItem(Function):
    def forward(self, x, index):
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        return array_module(x).asarray(x[index])

    def backward(self, grad):
        xp = array_module(grad)
        full = xp.zeros(self.shape, dtype=self.dtype)
        if _is_basic(self.index):
            full[self.index] = grad  # a basic index never selects an element twice
        else:
            xp.add.at(full, self.index, grad)  # integer arrays may repeat an element
        return full


def _is_basic(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(part is None or part is Ellipsis or isinstance(part, (int, slice)) for part in parts)


class Pad(Function):
    def forward(self, x, pad_width, value):
        self.inside = tuple(
            slice(before, before + size) for (before, _), size in zip(pad_width, x.shape)
        )
        return array_module(x).pad(x, pad_width, mode="constant", constant_values=value)

    def backward(self, grad):
        return grad[self.inside]


# -- public functions -------------------------------------------------------------


def reshape(x: Tensor, shape) -> Tensor:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    try:
        return Reshape.apply(x, shape=shape)
    except ValueError:
        raise ShapeError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {shape}"
        ) from None


def transpose(x: Tensor, axes=None) -> Tensor:
    """Permute the axes (reverse them when `axes` is None), as `numpy.transpose`."""
    if axes is not None:
        axes = tuple(a % x.ndim if -x.ndim <= a < x.ndim else a for a in axes)
        if sorted(axes) != list(range(x.ndim)):
            raise ShapeError(f"transpose: axes {axes} are not a permutation of a {x.ndim}-d tensor")
    return Transpose.apply(x, axes=axes)


def flatten(x: Tensor, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """Merge the axes from `start_axis` to `end_axis` (inclusive) into one."""
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = start_axis % x.ndim, end_axis % x.ndim
    if start > end:
        raise ShapeError(f"flatten: {start_axis=} comes after {end_axis=}")
    merged = 1
    for size in x.shape[start : end + 1]:
        merged *= size
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1 :])


def squeeze(x: Tensor, axis=None) -> Tensor:
    """Drop axes of size 1 (all of them, or those named)."""
    if axis is None:
        return reshape(x, tuple(size for size in x.shape if size != 1))
    axes = {a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis)}
    for a in axes:
        if x.shape[a] != 1:
            raise ShapeError(f"squeeze: axis {a} of shape {x.shape} has size {x.shape[a]}, not 1")
    return reshape(x, tuple(size for i, size in enumerate(x.shape) if i not in axes))


def expand_dims(x: Tensor, axis) -> Tensor:
    """Insert axes of size 1 at `axis` (an int or a tuple), as `numpy.expand_dims`."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    ndim = x.ndim + len(axes)
    positions = sorted(a % ndim for a in axes)
    shape = list(x.shape)
    for a in positions:
        shape.insert(a, 1)
    return reshape(x, tuple(shape))


def broadcast_to(x: Tensor, shape) -> Tensor:
    try:
        return BroadcastTo.apply(x, shape=tuple(shape))
    except ValueError:
        raise ShapeError(
            f"broadcast_to: cannot broadcast shape {x.shape} to {tuple(shape)}"
        ) from None


def concatenate(tensors, axis: int = 0) -> Tensor:
    tensors = [lift(t) for t in tensors]
    if not tensors:
        raise ShapeError("concatenate: needs at least one tensor")
    try:
        return Concatenate.apply(*tensors, axis=axis)
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise ShapeError(
            f"concatenate: shapes {shapes} must agree on every axis but axis {axis}"
        ) from None


def stack(tensors, axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis."""
    tensors = [lift(t) for t in tensors]
    if not tensors:
        raise ShapeError("stack: needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors need one shape, got {sorted(shapes)}")
    return concatenate([expand_dims(t, axis) for t in tensors], axis=axis)


def getitem(x: Tensor, index) -> Tensor:
    """`x[index]` with NumPy's basic and advanced indexing; tensors in the index are data."""
    if isinstance(index, tuple):
        index = tuple(part.data if isinstance(part, Tensor) else part for part in index)
    elif isinstance(index, Tensor):
        index = index.data
    try:
        return GetItem.apply(x, index=index)
    except IndexError as error:
        raise IndexError(f"getitem: index into a tensor of shape {x.shape}: {error}") from None


def pad(x: Tensor, pad_width, value: float = 0.0) -> Tensor:
    """Pad with a constant; `pad_width` as in `numpy.pad` (an int, a pair, or a pair per axis)."""
    # pad_width is a handful of Python ints, not tensor data: NumPy is right here.
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
    if (widths < 0).any():
        raise ShapeError(f"pad: {pad_width=} must not be negative")
    return Pad.apply(x, pad_width=tuple(map(tuple, widths.tolist())), value=value)
