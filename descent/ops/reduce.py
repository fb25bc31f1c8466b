"""Reductions and normalisations over axes: sum, mean, var, max, min, logsumexp, softmax.

`axis` is None (all axes), an int or a tuple, and `keepdims` keeps the
reduced axes with size 1, as in NumPy. The gradient of max and min is
shared equally among tied maxima, as in PyTorch's amax and amin.
"""

import warnings
from typing import NamedTuple

from descent.backend import array_module
from descent.errors import ShapeError
from descent.function import Function
from descent.ops.elementwise import abs, sqrt
from descent.tensor import Tensor, wrap


def _normalize_axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        # A 0-d tensor takes axis 0 or -1, as in PyTorch.
        if not -(ndim or 1) <= a < (ndim or 1):
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-(ndim or 1)}, "
                f"{(ndim or 1) - 1}], but got {a})"
            )
    return tuple(sorted(a % ndim for a in axes)) if ndim else ()


def _keep_reduced(grad, axes: tuple, keepdims: bool):
    """Reinsert the reduced axes (size 1) so `grad` broadcasts against the input."""
    if keepdims or not axes:
        return grad
    return grad.reshape(_kept_shape(grad.shape, axes))


def _kept_shape(reduced_shape: tuple, axes: tuple) -> tuple:
    shape = list(reduced_shape)
    for a in axes:
        shape.insert(a, 1)
    return tuple(shape)


class Sum(Function):
    saves = ()

    def forward(self, x, axis, keepdims):
        self.shape, self.axes, self.keepdims = x.shape, _normalize_axes(axis, x.ndim), keepdims
        return array_module(x).asarray(x.sum(axis=self.axes, keepdims=keepdims))

    def backward(self, grad):
        # A filled array rather than a broadcast view: cheaper to make on small
        # tensors, and a leaf can keep it as its .grad without a copy.
        out = array_module(grad).empty(self.shape, grad.dtype)
        out[...] = _keep_reduced(grad, self.axes, self.keepdims)
        return out


class Mean(Function):
    # x.sum() / count: NumPy's own mean goes through Python and costs 4x more on small arrays.
    saves = ()

    def forward(self, x, axis, keepdims):
        self.shape, self.axes, self.keepdims = x.shape, _normalize_axes(axis, x.ndim), keepdims
        self.count = 1
        for a in self.axes:
            self.count *= x.shape[a]
        return array_module(x).asarray(x.sum(axis=self.axes, keepdims=keepdims) / self.count)

    def backward(self, grad):
        xp = array_module(grad)
        out = xp.empty(self.shape, grad.dtype)
        xp.divide(_keep_reduced(grad, self.axes, self.keepdims), self.count, out=out)
        return out


class _Extremum(Function):
    """amax / amin: the gradient is shared equally among the elements that reach the extreme."""

    def reduce(self, x, axes):
        raise NotImplementedError

    def forward(self, x, axis, keepdims):
        self.axes, self.keepdims = _normalize_axes(axis, x.ndim), keepdims
        if x.size == 0:
            raise ShapeError("cannot take the max or min of an empty tensor")
        out = self.reduce(x, self.axes)
        self.winners = x == out
        return (
            out if keepdims else array_module(x).asarray(out.reshape(_drop(out.shape, self.axes)))
        )

    def backward(self, grad):
        grad = _keep_reduced(grad, self.axes, self.keepdims)
        count = self.winners.sum(axis=self.axes, keepdims=True, dtype=grad.dtype)
        return self.winners * (grad / count)


def _drop(shape: tuple, axes: tuple) -> tuple:
    return tuple(size for i, size in enumerate(shape) if i not in axes)


class Max(_Extremum):
    def reduce(self, x, axes):
        return x.max(axis=axes, keepdims=True)


class Min(_Extremum):
    def reduce(self, x, axes):
        return x.min(axis=axes, keepdims=True)


def _stable_logsumexp(x, axes):
    """log(sum(exp(x))) with the maximum shifted out, so exp never overflows; keeps dims."""
    xp = array_module(x)
    shift = x.max(axis=axes, keepdims=True)
    shift = xp.where(xp.isfinite(shift), shift, 0)  # all -inf (or inf) rows: no shift
    return xp.log(xp.exp(x - shift).sum(axis=axes, keepdims=True)) + shift


class LogSumExp(Function):
    # A primitive for numerical stability: composed from exp and log it would overflow.
    saves = ("x", "out")

    def forward(self, x, axis, keepdims):
        self.x, self.axes, self.keepdims = x, _normalize_axes(axis, x.ndim), keepdims
        self.out = _stable_logsumexp(x, self.axes)
        if keepdims:
            return self.out
        return array_module(x).asarray(self.out.reshape(_drop(self.out.shape, self.axes)))

    def backward(self, grad):
        grad = _keep_reduced(grad, self.axes, self.keepdims)
        return grad * array_module(grad).exp(self.x - self.out)


class Softmax(Function):
    # A primitive for stability (shifted by the max) and a cheap backward from the output.
    saves = ("out",)

    def forward(self, x, axis):
        xp = array_module(x)
        exps = xp.exp(x - x.max(axis=axis, keepdims=True))
        self.out = exps / exps.sum(axis=axis, keepdims=True)
        self.axis = axis
        return self.out

    def backward(self, grad):
        return self.out * (grad - (grad * self.out).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    # A primitive for stability: log(softmax(x)) underflows to -inf where this does not.
    saves = ("out",)

    def forward(self, x, axis):
        self.out = x - _stable_logsumexp(x, axis)
        self.axis = axis
        return self.out

    def backward(self, grad):
        softmax = array_module(grad).exp(self.out)
        return grad - softmax * grad.sum(axis=self.axis, keepdims=True)


def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def var(x: Tensor, axis=None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance: divide by N - ddof (ddof=1 is PyTorch's default, and `Tensor.var`'s)."""
    axes = _normalize_axes(axis, x.ndim)
    count = 1
    for a in axes:
        count *= x.shape[a]
    centered = x - mean(x, axes, keepdims=True)
    squares = sum(centered * centered, axes, keepdims)
    if count - ddof > 0:
        return squares / (count - ddof)
    warnings.warn(f"var: {ddof=} leaves no degrees of freedom over {count} elements", stacklevel=3)
    with array_module(x._data).errstate(divide="ignore", invalid="ignore"):
        return squares / 0.0  # nan (or inf), as torch


class Prod(Function):
    """The product along one axis; each input's gradient is the product of the others,
    from exclusive cumulative products (right where inputs are 0, unlike out / x)."""

    def forward(self, x, axis, keepdims):
        self.x, self.axis, self.keepdims = x, axis, keepdims
        return array_module(x).asarray(x.prod(axis=axis, keepdims=keepdims))

    def backward(self, grad):
        xp = array_module(grad)
        x = xp.moveaxis(self.x, self.axis, -1)
        ones = xp.ones(x.shape[:-1] + (1,), x.dtype)
        before = xp.cumprod(xp.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
        after = xp.flip(xp.cumprod(xp.flip(xp.concatenate([x[..., 1:], ones], -1), -1), -1), -1)
        others = xp.moveaxis(before * after, -1, self.axis)
        return others * _keep_reduced(grad, (self.axis,), self.keepdims)


class CumSum(Function):
    def forward(self, x, axis):
        self.axis = axis
        return array_module(x).cumsum(x, axis=axis)

    def backward(self, grad):
        xp = array_module(grad)
        return xp.flip(xp.cumsum(xp.flip(grad, self.axis), axis=self.axis), self.axis)


def prod(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    if axis is None:
        return Prod.apply(x.reshape(-1), axis=0, keepdims=False)
    return Prod.apply(x, axis=_normalize_axes(axis, x.ndim)[0], keepdims=keepdims)


def cumsum(x: Tensor, axis: int) -> Tensor:
    return CumSum.apply(x, axis=_normalize_axes(axis, x.ndim)[0] if x.ndim else None)


def max(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return Max.apply(x, axis=axis, keepdims=keepdims)


def min(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return Min.apply(x, axis=axis, keepdims=keepdims)


class MaxMin(NamedTuple):
    """What `max(dim)` and `min(dim)` return, as torch's `torch.return_types.max`."""

    values: Tensor
    indices: Tensor


def max_along(x: Tensor, axis: int, keepdims: bool = False) -> MaxMin:
    """The maximum along `axis` and where it is; the gradient goes to that one element."""
    return _along(x, argmax(x, axis, True), axis, keepdims)


def min_along(x: Tensor, axis: int, keepdims: bool = False) -> MaxMin:
    return _along(x, argmin(x, axis, True), axis, keepdims)


def _along(x: Tensor, indices: Tensor, axis: int, keepdims: bool) -> MaxMin:
    from descent.ops.shape import gather, squeeze

    values = gather(x, axis, indices)
    if not keepdims:
        values, indices = squeeze(values, axis), squeeze(indices, axis)
    return MaxMin(values, indices)


def argmax(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return _arg(x, array_module(x._data).argmax, axis, keepdims)


def argmin(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return _arg(x, array_module(x._data).argmin, axis, keepdims)


def _arg(x: Tensor, find, axis, keepdims: bool) -> Tensor:
    if x._data.size == 0:
        raise ShapeError("argmax/argmin: the tensor is empty")
    if axis is not None:
        axis = _normalize_axes(axis, x.ndim)
        axis = axis[0] if axis else None
    out = find(x._data, axis=axis, keepdims=keepdims)
    return wrap(array_module(x._data).asarray(out, dtype="int64"))


def norm(x: Tensor, p="fro", axis=None, keepdims: bool = False) -> Tensor:
    """The p-norm over `axis` (all elements by default); 'fro' is the 2-norm."""
    if p in ("fro", 2):
        return sqrt(sum(x * x, axis, keepdims))
    if p in (float("inf"), "inf"):
        return max(abs(x), axis, keepdims)
    if p == 1:
        return sum(abs(x), axis, keepdims)
    return sum(abs(x) ** p, axis, keepdims) ** (1.0 / p)


class SortResult(NamedTuple):
    values: Tensor
    indices: Tensor


def sort(x: Tensor, axis: int = -1, descending: bool = False) -> SortResult:
    """Sorted values along `axis` and their positions (a stable sort)."""
    from descent.ops.shape import gather

    xp = array_module(x._data)
    data = -x._data if descending and x.dtype.kind != "b" else x._data
    indices = wrap(xp.argsort(data, axis=axis, kind="stable").astype("int64"))
    return SortResult(gather(x, axis, indices), indices)


def topk(x: Tensor, k: int, axis: int = -1, largest: bool = True, sorted: bool = True):
    """The k largest (or smallest) values along `axis` and their positions."""
    from descent.ops.shape import gather

    if not 0 <= k <= x.shape[axis]:
        raise ShapeError(f"topk: k={k} is out of range for a dimension of size {x.shape[axis]}")
    ordered = sort(x, axis, descending=largest)
    where = [slice(None)] * x.ndim
    where[axis] = slice(0, k)
    indices = wrap(ordered.indices._data[tuple(where)].copy())
    return SortResult(gather(x, axis, indices), indices)


def logsumexp(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return Softmax.apply(x, axis=_normalize_axes(axis, x.ndim))


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return LogSoftmax.apply(x, axis=_normalize_axes(axis, x.ndim))
