"""Ops that move elements without changing them: views, indexing, joins, pad, copies.

A view op (reshape, transpose, basic indexing, expand) returns an array
that shares memory with its input and says, in `view_fn`, how to take the
same view of another array: that lets a write through a view reach its
base in the graph too (`AsView`, `CopySlices`).
"""

import numpy as np

from descent.backend import array_module
from descent.errors import ShapeError
from descent.function import Function
from descent.tensor import Tensor, lift, plain_index


class Reshape(Function):
    saves = ()

    is_view = True

    def forward(self, x, shape):
        self.shape, self.new_shape = x.shape, shape
        return x.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.shape)

    def view_fn(self):
        shape = self.new_shape
        return lambda array: array.reshape(shape)


class View(Reshape):
    """reshape that refuses to copy, as torch's `view`."""

    def forward(self, x, shape):
        self.shape, self.new_shape = x.shape, shape
        out = x.view()
        try:
            out.shape = shape
        except AttributeError:
            raise ShapeError(
                f"view size is not compatible with input tensor's size and stride (shape "
                f"{list(x.shape)}, a non-contiguous view). Use .reshape(...) instead."
            ) from None
        return out


class Transpose(Function):
    saves = ()

    is_view = True

    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def view_fn(self):
        axes = self.axes
        return lambda array: array.transpose(axes)

    def backward(self, grad):
        if self.axes is None:
            return grad.transpose()
        inverse = [0] * len(self.axes)
        for position, axis in enumerate(self.axes):
            inverse[axis] = position
        return grad.transpose(inverse)


class BroadcastTo(Function):
    saves = ()

    is_view = True

    def forward(self, x, shape):
        self.shape = shape
        return array_module(x).broadcast_to(x, shape)

    def backward(self, grad):
        return grad  # the engine sums it back to the input's shape

    def view_fn(self):
        shape = self.shape
        return lambda array: array_module(array).broadcast_to(array, shape)


class Repeat(Function):
    """Tile `x`: the gradient sums the tiles back."""

    saves = ()

    def forward(self, x, repeats):
        self.shape = x.shape
        return array_module(x).tile(x, repeats)

    def backward(self, grad):
        lead = grad.ndim - len(self.shape)
        grad = grad.sum(axis=tuple(range(lead))) if lead else grad
        split = []
        for size, total in zip(self.shape, grad.shape):
            split += [total // size, size]
        return grad.reshape(split).sum(axis=tuple(range(0, len(split), 2)))


class Clone(Function):
    """A copy in new memory; the gradient passes unchanged."""

    saves = ()

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad


class CopyFrom(Function):
    """`x.copy_(src)` out of place: src's values in x's shape and dtype."""

    saves = ()

    def forward(self, x, src):
        self.src_dtype = src.dtype
        return array_module(x).broadcast_to(src, x.shape).astype(x.dtype)

    def backward(self, grad):
        return None, grad.astype(self.src_dtype, copy=False)


class IndexPut(Function):
    """`x[index] = value` out of place: the value's gradient is read from the written region."""

    saves = ()

    def forward(self, x, value, index):
        self.index = index
        out = x.copy()
        out[index] = value
        return out

    def backward(self, grad):
        grad_x = None
        if self.needs_grad[0]:
            grad_x = grad.copy()
            grad_x[self.index] = 0
        return grad_x, (grad[self.index] if self.needs_grad[1] else None)


class AsView(Function):
    """A view of `base` (redone through `path`), for a view whose base changed in place."""

    saves = ()

    def forward(self, base, path):
        self.shape, self.dtype, self.path = base.shape, base.dtype, path
        return _through(path, base)

    def backward(self, grad):
        full = array_module(grad).zeros(self.shape, self.dtype)
        _through(self.path, full)[...] = grad
        return full


class CopySlices(Function):
    """`base` with the region that `path` views replaced by `values` (torch's CopySlices)."""

    saves = ()

    def forward(self, base, values, path):
        self.path = path
        out = base.copy()
        _through(path, out)[...] = values
        return out

    def backward(self, grad):
        grad_base = grad.copy()
        region = _through(self.path, grad_base)
        grad_values = region.copy()
        region[...] = 0
        return grad_base, grad_values


def _through(path: tuple, array):
    for view_fn in path:
        array = view_fn(array)
    return array


class Concatenate(Function):
    saves = ()

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
    saves = ()

    is_view = True

    def forward(self, x, index):
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        return array_module(x).asarray(x[index])

    def view_fn(self):
        index = self.index
        return lambda array: array[index]

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
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.numel()} elements) "
            f"into {shape}"
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


def view(x: Tensor, shape) -> Tensor:
    """`x` in another shape without a copy (one -1 is inferred), as torch's `view`."""
    try:
        return View.apply(x, shape=tuple(shape))
    except ShapeError:
        raise
    except ValueError:
        raise ShapeError(
            f"view: shape {list(shape)} is invalid for input of size {x._data.size}"
        ) from None


def squeeze(x: Tensor, axis=None) -> Tensor:
    """Drop axes of size 1 (all of them, or those named; a named axis of another size stays,
    as in torch)."""
    if axis is None:
        return reshape(x, tuple(size for size in x.shape if size != 1))
    ndim = x.ndim or 1
    axes = {a % ndim for a in ((axis,) if isinstance(axis, int) else axis)}
    for a in (axis,) if isinstance(axis, int) else axis:
        if not -ndim <= a < ndim:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], "
                f"but got {a})"
            )
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in axes or s != 1))


def swapaxes(x: Tensor, axis0: int, axis1: int) -> Tensor:
    """Exchange two axes (torch's `transpose(dim0, dim1)`)."""
    if x.ndim == 0:
        return x
    axes = list(range(x.ndim))
    axes[axis0], axes[axis1] = axes[axis1], axes[axis0]
    return Transpose.apply(x, axes=tuple(axes))


def expand(x: Tensor, sizes) -> Tensor:
    """Broadcast `x` to `sizes` without copying; -1 keeps an axis as it is (torch's `expand`)."""
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ShapeError(
            f"expand: the number of sizes {list(sizes)} is less than x's {x.ndim} dims"
        )
    shape = tuple(
        x.shape[i - lead] if size == -1 and i >= lead else size for i, size in enumerate(sizes)
    )
    return broadcast_to(x, shape)


def repeat(x: Tensor, repeats) -> Tensor:
    """Tile `x` `repeats[i]` times along each axis (torch's `repeat`)."""
    if len(repeats) < x.ndim:
        raise ShapeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions "
            f"of tensor ({list(repeats)} for shape {list(x.shape)})"
        )
    return Repeat.apply(x, repeats=tuple(repeats))


def clone(x: Tensor) -> Tensor:
    return Clone.apply(x)


def copy_from(x: Tensor, src: Tensor) -> Tensor:
    """`src` broadcast to `x`'s shape and cast to its dtype: `x.copy_(src)` out of place."""
    try:
        return CopyFrom.apply(x, src)
    except ValueError:
        raise ShapeError(
            f"copy_: cannot broadcast a source of shape {src.shape} to {x.shape}"
        ) from None


def index_put(x: Tensor, index, value: Tensor) -> Tensor:
    """`x` with `x[index] = value` applied, out of place."""
    try:
        return IndexPut.apply(x, value, index=index)
    except (ValueError, IndexError) as error:
        raise ShapeError(
            f"setitem: cannot write a value of shape {value.shape} into a tensor of shape "
            f"{x.shape} at that index: {error}"
        ) from None


def index_select(x: Tensor, dim: int, index) -> Tensor:
    index = index._data if isinstance(index, Tensor) else index
    where = [slice(None)] * x.ndim
    where[dim] = array_module(x._data).asarray(index).reshape(-1)
    return getitem(x, tuple(where))


def gather(x: Tensor, dim: int, index) -> Tensor:
    """out[i][j] = x[index[i][j]][j] for dim 0 (and so on), as torch's `gather`."""
    index = index._data if isinstance(index, Tensor) else index
    xp = array_module(x._data)
    if index.ndim != x.ndim:
        raise ShapeError(
            f"gather: index has {index.ndim} dims but the input has {x.ndim}; they must agree"
        )
    axis = dim % x.ndim
    if index.size and (index.min() < -x.shape[axis] or index.max() >= x.shape[axis]):
        raise RuntimeError(
            f"gather: index {int(index.max())} is out of bounds for dimension {dim} with size "
            f"{x.shape[axis]}"
        )
    grids = list(xp.ix_(*[xp.arange(size) for size in index.shape]))
    grids[axis] = index
    return getitem(x, tuple(grids))


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
    try:
        return GetItem.apply(x, index=plain_index(index))
    except IndexError as error:
        raise IndexError(f"getitem: index into a tensor of shape {x.shape}: {error}") from None


def pad(x: Tensor, pad_width, value: float = 0.0) -> Tensor:
    """Pad with a constant; `pad_width` as in `numpy.pad` (an int, a pair, or a pair per axis)."""
    # pad_width is a handful of Python ints, not tensor data: NumPy is right here.
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
    if (widths < 0).any():
        raise ShapeError(f"pad: {pad_width=} must not be negative")
    return Pad.apply(x, pad_width=tuple(map(tuple, widths.tolist())), value=value)
