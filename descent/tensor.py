"""`Tensor`, an array that remembers how it was computed, and `Function`, one recorded op."""

from __future__ import annotations

import numpy as np

from descent import autograd
from descent.autograd import grad_mode
from descent.backend import array_module
from descent.errors import ShapeError

DEFAULT_FLOAT = np.dtype(np.float32)


def as_array(data, dtype=None, copy: bool = False):
    """Convert user data to an array: floats become float32 unless `dtype` says otherwise."""
    if isinstance(data, Tensor):
        data = data.data
    xp = array_module(data)
    array = xp.array(data, dtype=dtype, copy=True) if copy else xp.asarray(data, dtype=dtype)
    if dtype is None and array.dtype.kind == "f" and array.dtype != DEFAULT_FLOAT:
        array = array.astype(DEFAULT_FLOAT)
    return array


class Function:
    """One op in the graph: its forward and its gradient rule side by side.

    Subclasses write `forward(self, *arrays, **options) -> array`, saving on
    `self` whatever makes `backward` cheap, and `backward(self, grad)`
    returning one gradient (or None) per input, in the output's shape or
    broadcast-compatible with the input (the engine sums it back).
    `self.needs_grad[i]` says whether input i wants a gradient at all.
    """

    parents: tuple[Tensor, ...] | None = None  # set while recorded, None once freed

    def forward(self, *arrays, **options):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **options) -> Tensor:
        node = cls()
        try:
            data = node.forward(*[t.data for t in inputs], **options)
        except ShapeError:
            raise
        except ValueError as error:  # NumPy's own words, e.g. on broadcasting: name the op
            shapes = " and ".join(str(t.shape) for t in inputs)
            raise ShapeError(
                f"{cls.__name__.lower()}: inputs of shapes {shapes}: {error}"
            ) from None
        requires_grad = False
        if grad_mode.enabled:
            for t in inputs:
                if t._requires_grad:
                    requires_grad = True
                    break
        out = wrap(data)
        if requires_grad:
            node.parents = inputs
            node.needs_grad = [t._requires_grad for t in inputs]
            out._requires_grad = True
            out._ctx = node
        return out


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    `data` is the array; `grad` is filled by `backward()` for tensors that
    require grad and were not computed from others (leaves).
    """

    __slots__ = ("data", "grad", "_requires_grad", "_ctx", "__weakref__")
    __array_priority__ = 1000  # `ndarray + Tensor` defers to Tensor.__radd__

    def __init__(self, data, dtype=None, requires_grad: bool = False):
        self.data = as_array(data, dtype)
        self.grad = None
        self._ctx = None
        self._requires_grad = False
        self.requires_grad = requires_grad

    # -- attributes -------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"requires_grad: only floating point tensors can require gradients, this one "
                f"is {self.data.dtype}; create it with dtype='float32' or 'float64'"
            )
        self._requires_grad = bool(value)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def T(self) -> Tensor:
        return ops.transpose(self)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(np.asarray(self.data), separator=", ", prefix="tensor(")
        extras = ""
        if self.data.dtype != DEFAULT_FLOAT and self.data.dtype.kind == "f":
            extras += f", dtype={self.data.dtype}"
        if self._requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}{extras})"

    __hash__ = object.__hash__  # identity, as ==, < ... compare elementwise

    def __bool__(self) -> bool:
        return bool(self.data)  # raises for more than one element, as PyTorch

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __array__(self, dtype=None, copy=None):
        array = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return array.copy() if copy else array

    # -- leaving the graph ----------------------------------------------------------

    def numpy(self) -> np.ndarray:
        """The data as an array (shared, not copied)."""
        return self.data

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return wrap(self.data)

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor into the `.grad` of every leaf that requires grad."""
        autograd.backward(self, grad.data if isinstance(grad, Tensor) else grad, retain_graph)

    # -- arithmetic -----------------------------------------------------------------

    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return ops.sub(self, other)

    def __rsub__(self, other):
        return ops.sub(other, self)

    def __mul__(self, other):
        return ops.mul(self, other)

    def __rmul__(self, other):
        return ops.mul(other, self)

    def __truediv__(self, other):
        return ops.div(self, other)

    def __rtruediv__(self, other):
        return ops.div(other, self)

    def __pow__(self, other):
        return ops.pow(self, other)

    def __rpow__(self, other):
        return ops.pow(other, self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __neg__(self):
        return ops.neg(self)

    def __abs__(self):
        return ops.abs(self)

    def __getitem__(self, index):
        return ops.getitem(self, index)

    # Comparisons are not differentiable: they give boolean tensors outside the graph.
    def __eq__(self, other):
        return wrap(self.data == _plain(other))

    def __ne__(self, other):
        return wrap(self.data != _plain(other))

    def __lt__(self, other):
        return wrap(self.data < _plain(other))

    def __le__(self, other):
        return wrap(self.data <= _plain(other))

    def __gt__(self, other):
        return wrap(self.data > _plain(other))

    def __ge__(self, other):
        return wrap(self.data >= _plain(other))

    # -- ops as methods -------------------------------------------------------------

    def exp(self):
        return ops.exp(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return ops.sqrt(self)

    def abs(self):
        return ops.abs(self)

    def tanh(self):
        return ops.tanh(self)

    def sigmoid(self):
        return ops.sigmoid(self)

    def relu(self):
        return ops.relu(self)

    def clip(self, min=None, max=None):
        return ops.clip(self, min, max)

    def sum(self, axis=None, keepdims=False):
        return ops.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return ops.mean(self, axis, keepdims)

    def var(self, axis=None, keepdims=False, ddof=0):
        return ops.var(self, axis, keepdims, ddof)

    def max(self, axis=None, keepdims=False):
        return ops.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return ops.min(self, axis, keepdims)

    def logsumexp(self, axis=None, keepdims=False):
        return ops.logsumexp(self, axis, keepdims)

    def softmax(self, axis=-1):
        return ops.softmax(self, axis)

    def log_softmax(self, axis=-1):
        return ops.log_softmax(self, axis)

    def argmax(self, axis=None, keepdims=False) -> Tensor:
        return Tensor(self.data.argmax(axis=axis, keepdims=keepdims))

    def argmin(self, axis=None, keepdims=False) -> Tensor:
        return Tensor(self.data.argmin(axis=axis, keepdims=keepdims))

    def reshape(self, *shape):
        return ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes):
        return ops.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def flatten(self, start_axis=0, end_axis=-1):
        return ops.flatten(self, start_axis, end_axis)

    def squeeze(self, axis=None):
        return ops.squeeze(self, axis)

    def expand_dims(self, axis):
        return ops.expand_dims(self, axis)

    def broadcast_to(self, shape):
        return ops.broadcast_to(self, shape)

    def astype(self, dtype):
        return ops.astype(self, dtype)

    def matmul(self, other):
        return ops.matmul(self, other)


def wrap(array, requires_grad: bool = False) -> Tensor:
    """A tensor around `array` as it is: no copy, no dtype conversion (for descent's own use)."""
    out = Tensor.__new__(Tensor)
    out.data = array
    out.grad = None
    out._ctx = None
    out._requires_grad = False
    if requires_grad:
        out.requires_grad = True  # the setter refuses integer dtypes
    return out


def lift(value, like: Tensor | None = None) -> Tensor:
    """Make `value` a tensor; a Python number takes the floating dtype of `like`.

    This keeps `x * 2.0` in float32 for a float32 `x`, as PyTorch does.
    """
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, (int, float)) and like.data.dtype.kind == "f":
        return wrap(array_module(like.data).asarray(value, dtype=like.data.dtype))
    return Tensor(value)


def _plain(value):
    return value.data if isinstance(value, Tensor) else value


# The ops build on Tensor and Function above; importing them last closes that cycle.
from descent import ops  # noqa: E402
