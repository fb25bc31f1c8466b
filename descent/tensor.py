"""`Tensor`: an array that remembers how it was computed, with PyTorch's semantics.

The array is `_data`; `.data` and `.grad` are Tensors, as in torch. Views
(`view`, `transpose`, basic indexing, ...) share their base's array and its
version counter; every in-place op bumps that counter, and a backward that
needs a value changed since it was saved raises, as torch does.

An in-place op under grad mode is recorded as its out-of-place twin whose
result is written back into the tensor's own array; the tensor then takes
the twin's node. When the tensor is a view, its base takes a node that
copies the new values into the viewed region (torch's CopySlices).
"""

from __future__ import annotations

import numpy as np

from descent import autograd, dtypes, random
from descent.autograd import RemovableHandle, grad_mode, inplace_clock, no_grad
from descent.backend import array_module
from descent.device import CPU, as_device
from descent.device import device as _device_type


def as_array(data, dtype=None):
    """User data as an array: floats become the default dtype (float32) unless `dtype` says."""
    if isinstance(data, Tensor):
        data = data._data
    xp = array_module(data)
    dtype = None if dtype is None else dtypes.as_dtype(dtype)
    try:
        array = xp.asarray(data, dtype=dtype)
    except ValueError as error:
        raise (_not_a_box(data) or error) from None
    if dtype is None and array.dtype.kind == "f" and array.dtype != dtypes.get_default_dtype():
        array = array.astype(dtypes.get_default_dtype())
    return array


def infer_array(data, dtype=None):
    """A new array for `tensor(data)`: a NumPy array keeps its dtype, Python numbers take
    torch's (float: the default dtype, int: int64, bool: bool); text is refused."""
    if isinstance(data, Tensor):
        data = data._data
    try:
        array = np.array(data, dtype=None if dtype is None else dtypes.as_dtype(dtype))
    except ValueError as error:
        raise (_not_a_box(data) or error) from None
    kind = array.dtype.kind
    if kind in "USV":
        raise _text_error({"U": "str", "S": "bytes", "V": "void"}[kind], data)
    if kind == "O":
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} {data!r:.60}")
    if dtype is None and not isinstance(data, np.ndarray | np.generic):
        if kind == "f":
            return array.astype(dtypes.get_default_dtype())
        if kind in "iu":
            return array.astype(np.int64)
    return array


def _text_error(kind: str, data) -> TypeError:
    return TypeError(
        f"tensor: invalid data type {kind!r} ({data!r:.40}): a tensor holds numbers; turn "
        "text into numbers first (float(s), or class indices)"
    )


def _not_a_box(data) -> Exception | None:
    """torch's error for data NumPy could not make an array of: text, or nested sequences
    that do not form a box (the first one whose length differs from its first sibling's).
    None when neither is the cause. Runs only after NumPy failed, so it may be slow."""
    if isinstance(data, str | bytes):
        return _text_error(type(data).__name__, data)
    sizes, first = [], data
    while isinstance(first, list | tuple):
        sizes.append(len(first))
        first = first[0] if first else None
    box = "nested lists must form a box (each row as long as the first)"
    stack = [(data, 0)]
    while stack:
        item, dim = stack.pop()
        if dim == len(sizes):
            if isinstance(item, list | tuple):
                return TypeError(f"tensor: a sequence at dim {dim} where the first row holds a "
                                 f"number; {box}")  # fmt: skip
            if isinstance(item, str | bytes):
                return _text_error(type(item).__name__, item)
            continue
        if not isinstance(item, list | tuple):
            return TypeError(f"tensor: {item!r:.20} at dim {dim} is not a sequence; {box}")
        if len(item) != sizes[dim]:
            return ValueError(f"expected sequence of length {sizes[dim]} at dim {dim} (got "
                              f"{len(item)}); {box}")  # fmt: skip
        stack.extend((part, dim + 1) for part in reversed(item))
    return None


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    `Tensor(data)` makes a tensor of the default floating dtype unless
    `dtype` says otherwise, as `torch.Tensor`; `descent.tensor(data)` infers
    the dtype from the data, as `torch.tensor`.
    """

    # The hot attributes are slots; the rare ones (views, hooks) live in __dict__ on demand.
    __slots__ = (
        "_data", "_grad", "_requires_grad", "_ctx", "_version_counter", "__dict__", "__weakref__"
    )  # fmt: skip
    __array_priority__ = 1000  # `ndarray + Tensor` defers to Tensor.__radd__

    # _version_counter is [version, in-place clock at the last change], one list shared by a
    # base, its views and detach(); None until one of them needs it.
    _base: Tensor | None = None  # the tensor whose array this view looks into
    _view_path: tuple = ()  # functions that redo this view from the base's array
    _view_version = 0  # the counter's value when this view's node was made
    _hooks: list | None = None  # a leaf's gradient hooks
    _retains_grad = False

    def __init__(self, data, dtype=None, requires_grad: bool = False, device=None):
        if device is not None:
            as_device(device)
        if isinstance(data, int) and not isinstance(data, bool) and dtype is None:
            raise TypeError(
                f"Tensor({data}): a bare int is data here, not a size; use descent.empty({data}) "
                f"or descent.zeros({data}) for a tensor of that size"
            )
        if dtype is None and not isinstance(data, Tensor):
            dtype = dtypes.get_default_dtype()
        self._data = as_array(data, dtype)
        self._grad = None
        self._ctx = None
        self._requires_grad = False
        self._version_counter = None
        self.requires_grad = requires_grad

    # -- what it holds --------------------------------------------------------------

    @property
    def data(self) -> Tensor:
        """The same array as a tensor outside the graph; changes through it are not tracked."""
        return wrap(self._data)

    @data.setter
    def data(self, value: Tensor | np.ndarray) -> None:
        if isinstance(value, Tensor):
            value = value._data
        if not isinstance(value, np.ndarray):
            raise TypeError(f"data must be a Tensor, not {type(value).__name__}")
        self._data = value

    @property
    def grad(self) -> Tensor | None:
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | np.ndarray | None) -> None:
        if value is None:
            self._grad = None
            return
        if isinstance(value, np.ndarray):
            value = wrap(value)  # beyond torch: an array is taken as it is
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got {type(value).__name__}"
                )
            if value.shape != self.shape:
                raise RuntimeError(
                    f"assigned grad has data of a different size: {value.shape}, the tensor "
                    f"{self.shape}"
                )
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                f"only Tensors of floating point and complex dtype can require gradients; this "
                f"one is {self._data.dtype}: make it with dtype=descent.float32"
            )
        if not value and self._ctx is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables; use detach() to "
                "take a tensor out of the graph"
            )
        self._requires_grad = bool(value)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        """The node that made this tensor (None for a leaf), as `torch.Tensor.grad_fn`."""
        if self._base is not None and self._requires_grad:
            self._refresh_view()
        return self._ctx

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def device(self):
        return CPU

    is_cuda = False

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def T(self) -> Tensor:
        return ops.transpose(self)

    @property
    def mT(self) -> Tensor:
        return self.transpose(-2, -1)

    @property
    def _version(self) -> int:
        counter = self._version_counter
        return 0 if counter is None else counter[0]

    def size(self, dim: int | None = None):
        return self._data.shape if dim is None else self._data.shape[dim]

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    def is_contiguous(self) -> bool:
        return self._data.flags.c_contiguous

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    # -- Python protocols -----------------------------------------------------------------

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))

    def __contains__(self, value) -> bool:
        return bool((self._data == _plain(value)).any())

    def __repr__(self) -> str:
        array = self._data
        kind = array.dtype.kind
        options = {"precision": 4, "separator": ", ", "prefix": "tensor("}
        if kind == "f":
            options["floatmode"] = "fixed" if (array != np.round(array)).any() else "unique"
        body = np.array2string(array, **options)
        extras = ""
        if (kind == "f" and array.dtype != dtypes.get_default_dtype()) or (
            kind not in "fb" and array.dtype != np.int64
        ):
            extras += f", dtype=descent.{array.dtype}"
        if self._ctx is not None:
            extras += f", grad_fn=<{self._ctx.name()}>"
        elif self._requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}{extras})"

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0 or spec == "":
            return format(self.item(), spec) if self._data.ndim == 0 else repr(self)
        raise TypeError(f"unsupported format string passed to Tensor.__format__: {spec!r}")

    __hash__ = object.__hash__  # identity, as ==, < ... compare elementwise

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous (shape "
                f"{self.shape}); use .any() or .all()"
            )
        return bool(self._data)

    def __float__(self) -> float:
        return float(self._single("float"))

    def __int__(self) -> int:
        return int(self._single("int"))

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._single("index"))

    def _single(self, what: str):
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to {what}; "
                "reduce it to one first (.sum(), .mean(), t[0]), or take them all with .tolist()"
            )
        return self._data.reshape(())[()]

    def __array__(self, dtype=None, copy=None):
        array = np.asarray(self._data) if dtype is None else self._data.astype(dtype, copy=False)
        return array.copy() if copy else array

    # -- leaving the graph ------------------------------------------------------------------

    def numpy(self, force: bool = False) -> np.ndarray:
        """The data as an array, sharing memory (torch refuses while it requires grad)."""
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self._data

    def item(self):
        return self._single("Scalar").item()

    def tolist(self):
        return self._data.tolist()

    def detach(self) -> Tensor:
        """The same array cut from the graph; it shares this tensor's version counter."""
        out = wrap(self._data)
        out._version_counter = self._counter()
        return out

    def detach_(self) -> Tensor:
        if self._base is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._ctx = None
        self._requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in `.grad` after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._ctx is not None:
            self._ctx.retained = self
            self._ctx.watched = True
        self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._ctx is not None and self._retains_grad

    def register_hook(self, hook) -> RemovableHandle:
        """Call `hook(grad)` when this tensor's gradient is computed; a returned tensor
        replaces the gradient."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._ctx is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            if self._ctx.hooks is None:
                self._ctx.hooks = []
                self._ctx.watched = True
            hooks = self._ctx.hooks
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        """Backpropagate from this tensor into the `.grad` of every leaf that requires grad."""
        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    # -- graph bookkeeping ----------------------------------------------------------------

    def _counter(self) -> list:
        counter = self._version_counter
        if counter is None:
            counter = self._version_counter = [0, 0]
        return counter

    def _bump_version(self) -> None:
        """Count an in-place change, and tell the node that made these values, which may
        have saved them for its gradient."""
        inplace_clock[0] += 1
        counter = self._counter()
        counter[0] += 1
        counter[1] = inplace_clock[0]
        maker = self._ctx if self._base is None else self._base._ctx
        if maker is not None:
            maker.output_changed = True

    def _edge(self):
        """Where a gradient for this tensor (which requires grad) goes: the node that made
        it, or the tensor itself, a leaf."""
        if self._base is not None:
            self._refresh_view()
        ctx = self._ctx
        return self if ctx is None else ctx

    def _refresh_view(self) -> None:
        """After an in-place change to its base, a view's node reads from the base's new node."""
        base = self._base
        if base._requires_grad and self._view_version != base._version:
            from descent.ops.shape import AsView

            self._ctx = AsView.apply(base, path=self._view_path)._ctx
            self._view_version = base._version

    def _mark_view_of(self, source: Tensor, view_fn) -> None:
        """Record that this tensor's array is a view into `source`'s."""
        base = source._base if source._base is not None else source
        self._base = base
        self._view_path = source._view_path + (view_fn,)
        self._version_counter = base._counter()
        self._view_version = base._version

    # -- in place ---------------------------------------------------------------------------

    def _check_inplace(self) -> None:
        """torch's rules for an in-place op that autograd records."""
        if self._ctx is None and self._requires_grad and self._base is None:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."
            )
        base = self._base
        if base is not None and base._requires_grad and base._ctx is None:
            raise RuntimeError(
                "a view of a leaf Variable that requires grad is being used in an in-place "
                "operation."
            )

    def _records(self, *others) -> bool:
        if not grad_mode.enabled:
            return False
        if self._requires_grad:
            return True
        return any(isinstance(o, Tensor) and o._requires_grad for o in others)

    def _snapshot(self) -> Tensor:
        """This tensor's value and node before an in-place op, as a tensor of its own."""
        before = wrap(self._data.copy())
        before._requires_grad = self._requires_grad
        before._ctx = self._ctx if self._base is None else self.grad_fn
        return before

    def _inplace(self, op, *args, **kwargs) -> Tensor:
        """Apply `op` (an out-of-place op) in place: autograd records it as torch does."""
        if self._records(*args):
            self._check_inplace()
            self._commit(op(self._snapshot(), *args, **kwargs))
        else:
            with no_grad():
                self._write(op(self, *args, **kwargs)._data)
        return self

    def _write(self, values) -> None:
        """Store `values` in this tensor's own array (reaching its base) and bump the version."""
        if values.shape != self._data.shape:
            raise RuntimeError(
                f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                f"{list(values.shape)}"
            )
        if dtypes.rank(values.dtype) > dtypes.rank(self._data.dtype):
            raise RuntimeError(
                f"result type {values.dtype} can't be cast to the desired output type "
                f"{self._data.dtype}"
            )
        if not self._data.flags.writeable:
            raise RuntimeError(
                "unsupported operation: more than one element of the written-to tensor refers to "
                "a single memory location. Please clone() the tensor before performing the "
                "operation."
            )
        self._data[...] = values
        self._bump_version()

    def _commit(self, result: Tensor) -> None:
        """Write a recorded out-of-place result into this tensor, which takes its node."""
        self._write(result._data)
        if result._ctx is None:
            return
        if self._base is None:
            self._ctx = result._ctx
            self._requires_grad = True
            return
        from descent.ops.shape import AsView, CopySlices

        base = self._base
        before = wrap(base._data)  # already written: only its node matters to CopySlices
        before._requires_grad, before._ctx = base._requires_grad, base._ctx
        base._ctx = CopySlices.apply(before, result, path=self._view_path)._ctx
        base._requires_grad = True
        self._ctx = AsView.apply(base, path=self._view_path)._ctx
        self._requires_grad = True
        self._view_version = base._version

    def __setitem__(self, index, value) -> None:
        index = plain_index(index)
        if self._records(value):
            self._check_inplace()
            value = lift(value, self)
            self._commit(ops.index_put(self._snapshot(), index, value))
            return
        try:
            self._data[index] = _plain(value)
        except ValueError as error:
            raise RuntimeError(f"setitem: a tensor of shape {self.shape}: {error}") from None
        self._bump_version()

    def __iadd__(self, other):
        return self._inplace(ops.add, other)

    def __isub__(self, other):
        return self._inplace(ops.sub, other)

    def __imul__(self, other):
        return self._inplace(ops.mul, other)

    def __itruediv__(self, other):
        return self._inplace(ops.div, other)

    def __ipow__(self, other):
        return self._inplace(ops.pow, other)

    def add_(self, other, *, alpha=1) -> Tensor:
        return self._inplace(ops.add, other if alpha == 1 else other * alpha)

    def sub_(self, other, *, alpha=1) -> Tensor:
        return self._inplace(ops.sub, other if alpha == 1 else other * alpha)

    def mul_(self, other) -> Tensor:
        return self._inplace(ops.mul, other)

    def div_(self, other) -> Tensor:
        return self._inplace(ops.div, other)

    def pow_(self, exponent) -> Tensor:
        return self._inplace(ops.pow, exponent)

    def addcmul_(self, tensor1, tensor2, *, value=1) -> Tensor:
        return self._inplace(ops.add, tensor1 * tensor2 * value)

    def addcdiv_(self, tensor1, tensor2, *, value=1) -> Tensor:
        return self._inplace(ops.add, tensor1 / tensor2 * value)

    def neg_(self) -> Tensor:
        return self._inplace(ops.neg)

    def abs_(self) -> Tensor:
        return self._inplace(ops.abs)

    def exp_(self) -> Tensor:
        return self._inplace(ops.exp)

    def log_(self) -> Tensor:
        return self._inplace(ops.log)

    def sqrt_(self) -> Tensor:
        return self._inplace(ops.sqrt)

    def relu_(self) -> Tensor:
        return self._inplace(ops.relu)

    def sigmoid_(self) -> Tensor:
        return self._inplace(ops.sigmoid)

    def tanh_(self) -> Tensor:
        return self._inplace(ops.tanh)

    def clamp_(self, min=None, max=None) -> Tensor:
        return self._inplace(ops.clip, min, max)

    clip_ = clamp_

    def copy_(self, src) -> Tensor:
        src = lift(src, self)
        return self._inplace(ops.copy_from, src)

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value) -> Tensor:
        if isinstance(value, Tensor) and value._requires_grad:
            return self.copy_(value.expand_as(self))
        if self._records():
            self._check_inplace()
            self._commit(ops.mul(self._snapshot(), 0.0))  # the old values get no gradient
        self._write(np.full(self.shape, _plain(value), self.dtype))
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
        rng = generator or random.default_generator()
        return self._fill_random(rng.uniform(a, b, self.shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
        rng = generator or random.default_generator()
        return self._fill_random(rng.normal(mean, std, self.shape))

    def _fill_random(self, values) -> Tensor:
        if self._records():
            self._check_inplace()
        self._write(values.astype(self.dtype))
        if grad_mode.enabled and self._ctx is not None:
            self._ctx = None  # new values depend on nothing
            self._requires_grad = False
        return self

    # -- arithmetic ---------------------------------------------------------------------------

    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(self, other)  # self first, so grad_fn's edges come in torch's order

    def __sub__(self, other):
        return ops.sub(self, other)

    def __rsub__(self, other):
        return ops.sub(other, self)

    def __mul__(self, other):
        return ops.mul(self, other)

    def __rmul__(self, other):
        return ops.mul(self, other)  # self first, so grad_fn's edges come in torch's order

    def __truediv__(self, other):
        return ops.div(self, other)

    def __rtruediv__(self, other):
        return ops.div(other, self)

    def __floordiv__(self, other):
        divisor = _plain(other)
        if self._data.dtype.kind in "iub" and (np.asarray(divisor) == 0).any():
            raise RuntimeError("ZeroDivisionError: integer floor division by zero")
        return _no_grad_result(np.floor_divide(self._data, divisor), self, other)

    def __mod__(self, other):
        return ops.remainder(self, other)

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

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.abs(self)

    def __invert__(self):
        if self.dtype.kind not in "biu":
            raise TypeError("~ (bitwise not) is only for integer and boolean tensors")
        return wrap(~self._data)

    def __and__(self, other):
        return wrap(self._data & _plain(other))

    def __or__(self, other):
        return wrap(self._data | _plain(other))

    def __xor__(self, other):
        return wrap(self._data ^ _plain(other))

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __getitem__(self, index):
        return ops.getitem(self, index)

    # Comparisons are not differentiable: boolean tensors outside the graph.
    def __eq__(self, other):
        return wrap(np.asarray(self._data == _plain(other)))

    def __ne__(self, other):
        return wrap(np.asarray(self._data != _plain(other)))

    def __lt__(self, other):
        return wrap(np.asarray(self._data < _plain(other)))

    def __le__(self, other):
        return wrap(np.asarray(self._data <= _plain(other)))

    def __gt__(self, other):
        return wrap(np.asarray(self._data > _plain(other)))

    def __ge__(self, other):
        return wrap(np.asarray(self._data >= _plain(other)))

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def equal(self, other) -> bool:
        other = lift(other)
        return self.shape == other.shape and bool((self._data == other._data).all())

    def allclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
        return bool(np.allclose(self._data, _plain(other), rtol, atol, equal_nan))

    def isclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> Tensor:
        return wrap(np.isclose(self._data, _plain(other), rtol, atol, equal_nan))

    def isnan(self) -> Tensor:
        return wrap(np.isnan(self._data))

    def isfinite(self) -> Tensor:
        return wrap(np.isfinite(self._data))

    def add(self, other, *, alpha=1):
        return ops.add(self, other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha=1):
        return ops.sub(self, other if alpha == 1 else other * alpha)

    def mul(self, other):
        return ops.mul(self, other)

    def div(self, other, *, rounding_mode=None):
        if rounding_mode is None:
            return ops.div(self, other)
        rounded = {"floor": np.floor_divide, "trunc": lambda a, b: np.trunc(a / b)}
        return _no_grad_result(rounded[rounding_mode](self._data, _plain(other)), self, other)

    true_divide = divide = div
    multiply = mul
    subtract = sub

    def pow(self, exponent):
        return ops.pow(self, exponent)

    def matmul(self, other):
        return ops.matmul(self, other)

    def mm(self, other):
        return ops.mm(self, other)

    def bmm(self, other):
        return ops.bmm(self, other)

    def dot(self, other):
        return ops.dot(self, other)

    def mv(self, vec):
        return ops.mv(self, vec)

    def maximum(self, other):
        return ops.maximum(self, other)

    def minimum(self, other):
        return ops.minimum(self, other)

    # -- elementwise functions ------------------------------------------------------------------

    def exp(self):
        return ops.exp(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return ops.sqrt(self)

    def abs(self):
        return ops.abs(self)

    def neg(self):
        return ops.neg(self)

    negative = neg

    def tanh(self):
        return ops.tanh(self)

    def sigmoid(self):
        return ops.sigmoid(self)

    def relu(self):
        return ops.relu(self)

    def sin(self):
        return ops.sin(self)

    def cos(self):
        return ops.cos(self)

    def tan(self):
        return ops.tan(self)

    def sinh(self):
        return ops.sinh(self)

    def cosh(self):
        return ops.cosh(self)

    def asin(self):
        return ops.asin(self)

    def acos(self):
        return ops.acos(self)

    def atan(self):
        return ops.atan(self)

    def atan2(self, other):
        return ops.atan2(self, other)

    def exp2(self):
        return ops.exp2(self)

    def log2(self):
        return ops.log2(self)

    def log10(self):
        return ops.log10(self)

    def log1p(self):
        return ops.log1p(self)

    def expm1(self):
        return ops.expm1(self)

    def floor(self):
        return ops.floor(self)

    def ceil(self):
        return ops.ceil(self)

    def round(self, decimals: int = 0):
        return ops.round(self, decimals)

    def trunc(self):
        return ops.trunc(self)

    def sign(self):
        return ops.sign(self)

    def rsqrt(self):
        return ops.rsqrt(self)

    def reciprocal(self):
        return ops.reciprocal(self)

    def square(self):
        return ops.square(self)

    def erf(self):
        return ops.erf(self)

    def clamp(self, min=None, max=None):
        return ops.clip(self, min, max)

    clip = clamp

    def clamp_min(self, min):
        return ops.clip(self, min, None)

    def clamp_max(self, max):
        return ops.clip(self, None, max)

    def where(self, condition, other):
        return ops.where(condition, self, other)

    def masked_fill(self, mask, value):
        return ops.where(mask, lift(value, self), self)

    def masked_fill_(self, mask, value):
        return self._inplace(ops.masked_fill, mask, value)

    def lerp(self, end, weight):
        return self + (end - self) * weight

    # -- reductions: torch's dim/keepdim, NumPy's axis/keepdims as aliases ------------------------

    def sum(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        x = self if dtype is None else self.to(dtype)
        if axis is not None or keepdims is not None:
            dim, keepdim = _dim(dim, axis), _keep(keepdim, keepdims)
        return ops.sum(x, dim, keepdim)

    def mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind != "f":
            raise RuntimeError(
                f"mean(): could not infer output dtype. Input dtype must be either a floating "
                f"point or complex dtype. Got: {x.dtype}"
            )
        if axis is not None or keepdims is not None:
            dim, keepdim = _dim(dim, axis), _keep(keepdim, keepdims)
        return ops.mean(x, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
            keepdims=None, ddof=None):  # fmt: skip
        return ops.var(self, _dim(dim, axis), _keep(keepdim, keepdims),
                       _correction(unbiased, correction, ddof))  # fmt: skip

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
            keepdims=None, ddof=None):  # fmt: skip
        return ops.sqrt(self.var(dim, unbiased, keepdim, correction=correction, axis=axis,
                                 keepdims=keepdims, ddof=ddof))  # fmt: skip

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        x = self if dtype is None else self.to(dtype)
        return ops.prod(x, dim, keepdim)

    def tril(self, diagonal: int = 0):
        return ops.mul(self, wrap(np.tri(*self.shape[-2:], k=diagonal, dtype=bool)))

    def triu(self, diagonal: int = 0):
        return ops.mul(self, wrap(~np.tri(*self.shape[-2:], k=diagonal - 1, dtype=bool)))

    def cumprod(self, dim, *, dtype=None):
        x = self if dtype is None else self.to(dtype)
        return ops.cumprod(x, dim)

    def fmod(self, other):
        return ops.fmod(self, other)

    def remainder(self, other):
        return ops.remainder(self, other)

    def nonzero(self, *, as_tuple: bool = False):
        where = np.nonzero(self._data)
        if as_tuple:
            return tuple(wrap(w.astype(np.int64)) for w in where)
        return wrap(np.stack(where, axis=-1).astype(np.int64))

    def flip(self, *dims):
        dims = tuple(dims[0]) if len(dims) == 1 and not isinstance(dims[0], int) else dims
        index = [slice(None)] * self.ndim
        for d in dims:
            index[d] = slice(None, None, -1)
        return ops.clone(self[tuple(index)])  # a copy, as torch's flip

    def cumsum(self, dim, *, dtype=None):
        x = self if dtype is None else self.to(dtype)
        return ops.cumsum(x, dim)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The largest element; with `dim`, (values, indices) along it; with a tensor,
        the elementwise maximum."""
        if isinstance(dim, Tensor):
            return ops.maximum(self, dim)
        dim = _dim(dim, axis)
        if dim is None:
            return ops.max(self)
        return ops.max_along(self, dim, _keep(keepdim, keepdims))

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        if isinstance(dim, Tensor):
            return ops.minimum(self, dim)
        dim = _dim(dim, axis)
        if dim is None:
            return ops.min(self)
        return ops.min_along(self, dim, _keep(keepdim, keepdims))

    def amax(self, dim=(), keepdim=False):
        return ops.max(self, None if dim == () else dim, keepdim)

    def amin(self, dim=(), keepdim=False):
        return ops.min(self, None if dim == () else dim, keepdim)

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.argmax(self, _dim(dim, axis), _keep(keepdim, keepdims))

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.argmin(self, _dim(dim, axis), _keep(keepdim, keepdims))

    def all(self, dim=None, keepdim=False, *, axis=None, keepdims=None, out=None):
        return wrap(
            np.asarray(self._data.all(axis=_dim(dim, axis), keepdims=_keep(keepdim, keepdims)))
        )

    def any(self, dim=None, keepdim=False, *, axis=None, keepdims=None, out=None):
        return wrap(
            np.asarray(self._data.any(axis=_dim(dim, axis), keepdims=_keep(keepdim, keepdims)))
        )

    def norm(self, p="fro", dim=None, keepdim=False):
        return ops.norm(self, p, dim, keepdim)

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.logsumexp(self, _dim(dim, axis), _keep(keepdim, keepdims))

    def softmax(self, dim=-1, *, axis=None):
        return ops.softmax(self, _dim(dim, axis))

    def log_softmax(self, dim=-1, *, axis=None):
        return ops.log_softmax(self, _dim(dim, axis))

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        return ops.topk(self, k, dim, largest, sorted)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        return ops.sort(self, dim, descending)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        return ops.sort(self, dim, descending).indices

    def gather(self, dim: int, index):
        return ops.gather(self, dim, index)

    def index_select(self, dim: int, index):
        return ops.index_select(self, dim, index)

    def unique(self, sorted: bool = True, return_counts: bool = False):
        values, counts = np.unique(self._data, return_counts=True)
        return (wrap(values), wrap(counts)) if return_counts else wrap(values)

    # -- shapes and views -----------------------------------------------------------------------

    def view(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], int):
            if isinstance(shape[0], np.dtype | type | str):
                raise NotImplementedError("view(dtype) is not supported; use .to(dtype)")
            shape = tuple(shape[0])
        return ops.view(self, shape)

    def view_as(self, other):
        return ops.view(self, other.shape)

    def reshape(self, *shape):
        return ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def reshape_as(self, other):
        return ops.reshape(self, other.shape)

    def unsqueeze(self, dim: int):
        return ops.expand_dims(self, dim)

    def squeeze(self, dim=None, *, axis=None):
        return ops.squeeze(self, _dim(dim, axis))

    def permute(self, *dims):
        return ops.transpose(self, tuple(dims[0]) if len(dims) == 1 else dims)

    def transpose(self, dim0: int, dim1: int):
        return ops.swapaxes(self, dim0, dim1)

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(
                f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D"
            )
        return ops.transpose(self)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return ops.flatten(self, start_dim, end_dim)

    def ravel(self):
        return ops.flatten(self)

    def expand(self, *sizes):
        sizes = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], int) else sizes
        return ops.expand(self, sizes)

    def expand_as(self, other):
        return ops.expand(self, other.shape)

    def repeat(self, *sizes):
        sizes = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], int) else sizes
        return ops.repeat(self, sizes)

    def contiguous(self):
        return self if self._data.flags.c_contiguous else ops.clone(self)

    def clone(self):
        return ops.clone(self)

    def narrow(self, dim: int, start: int, length: int):
        index = [slice(None)] * self.ndim
        index[dim] = slice(start, start + length)
        return self[tuple(index)]

    def select(self, dim: int, index: int):
        where = [slice(None)] * self.ndim
        where[dim] = index
        return self[tuple(where)]

    def chunk(self, chunks: int, dim: int = 0):
        size = -(-self.shape[dim] // chunks)
        return self.split(size, dim)

    def split(self, split_size_or_sections, dim: int = 0):
        length = self.shape[dim]
        if isinstance(split_size_or_sections, int):
            step = split_size_or_sections
            sizes = [min(step, length - start) for start in range(0, length, step)]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != length:
                raise RuntimeError(
                    f"split_with_sizes expects split_sizes to sum exactly to {length} (input "
                    f"tensor's size at dimension {dim}), but got split_sizes={sizes}"
                )
        starts = np.cumsum([0] + sizes[:-1])
        return tuple(self.narrow(dim, int(s), n) for s, n in zip(starts, sizes))

    def unbind(self, dim: int = 0):
        return tuple(self.select(dim, i) for i in range(self.shape[dim]))

    # -- dtype and device ------------------------------------------------------------------------

    def to(self, *args, **kwargs) -> Tensor:
        """`to(dtype)`, `to(device)`, `to(device, dtype)`, `to(other)`, as torch's."""
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        copy = kwargs.pop("copy", False)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif isinstance(arg, str | _device_type):
                device = arg
            else:
                dtype = arg
        if device is not None:
            as_device(device)
        out = self if dtype is None else self.type(dtype)
        return out.clone() if copy and out is self else out

    def type(self, dtype=None):
        if dtype is None:
            return f"descent.{self.dtype}"
        dtype = dtypes.as_dtype(dtype)
        return self if dtype == self.dtype else ops.astype(self, dtype)

    def cpu(self) -> Tensor:
        return self

    def cuda(self, device=None) -> Tensor:
        as_device("cuda")
        return self

    def float(self):
        return self.type(dtypes.float32)

    def double(self):
        return self.type(dtypes.float64)

    def half(self):
        return self.type(dtypes.float16)

    def long(self):
        return self.type(dtypes.int64)

    def int(self):
        return self.type(dtypes.int32)

    def short(self):
        return self.type(dtypes.int16)

    def byte(self):
        return self.type(dtypes.uint8)

    def bool(self):
        return self.type(dtypes.bool)

    def type_as(self, other):
        return self.type(other.dtype)

    def new_zeros(self, *size, dtype=None, requires_grad=False):
        size = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size
        return wrap(np.zeros(size, dtype or self.dtype), requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad=False):
        size = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size
        return wrap(np.ones(size, dtype or self.dtype), requires_grad)

    def new_tensor(self, data, dtype=None, requires_grad=False):
        return wrap(np.array(_plain(data), dtype=dtype or self.dtype), requires_grad)

    def new_full(self, size, fill_value, dtype=None, requires_grad=False):
        return wrap(np.full(tuple(size), fill_value, dtype or self.dtype), requires_grad)

    # -- NumPy-named conveniences the library uses ------------------------------------------------

    def astype(self, dtype):
        return ops.astype(self, dtype)

    def expand_dims(self, axis):
        return ops.expand_dims(self, axis)

    def broadcast_to(self, shape):
        return ops.broadcast_to(self, shape)


def wrap(array, requires_grad: bool = False) -> Tensor:
    """A tensor around `array` as it is: no copy, no dtype conversion (for descent's own use)."""
    out = Tensor.__new__(Tensor)
    out._data = array
    out._grad = None
    out._ctx = None
    out._requires_grad = False
    out._version_counter = None
    if requires_grad:
        out.requires_grad = True  # the setter refuses integer dtypes
    return out


def check_tensor(where: str, value) -> None:
    """Refuse a non-tensor input with torch's TypeError, in words that name the fix.

    Call it only where `type(value) is not Tensor`, so that the fast path costs a single
    comparison; a Tensor subclass (a Parameter) passes here."""
    if isinstance(value, Tensor):
        return
    kind = type(value)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    if isinstance(value, np.ndarray | np.generic):
        fix = "; make it one with descent.from_numpy(x) (shares its memory) or descent.tensor(x)"
    elif isinstance(value, list | tuple | int | float):
        fix = "; make it one with descent.tensor(x)"
    elif isinstance(value, str | bytes):
        fix = "; a tensor holds numbers, so turn the text into numbers first"
    else:
        fix = ""
    raise TypeError(f"{where}: the input must be a Tensor, not {name}{fix}")


def lift(value, like: Tensor | None = None) -> Tensor:
    """Make `value` a tensor; a Python number takes the floating dtype of `like`.

    This keeps `x * 2.0` in float32 for a float32 `x`, as PyTorch does.
    """
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, int | float) and not isinstance(value, bool):
        kind = like._data.dtype.kind
        if kind == "f" or (kind in "iu" and isinstance(value, int)):
            return wrap(array_module(like._data).asarray(value, dtype=like._data.dtype))
        return wrap(np.asarray(value, dtype=dtypes.scalar_dtype(value)))
    return wrap(infer_array(value))


def _plain(value):
    return value._data if isinstance(value, Tensor) else value


def plain_index(index):
    """An index with the tensors in it replaced by their arrays."""
    if isinstance(index, tuple):
        return tuple(part._data if isinstance(part, Tensor) else part for part in index)
    return index._data if isinstance(index, Tensor) else index


def _no_grad_result(array, *inputs) -> Tensor:
    """A tensor from an op with no gradient (floor division, rounding division)."""
    dtype = dtypes.result_type(*(_plain(x) for x in inputs))
    return wrap(np.asarray(array).astype(dtype, copy=False))


def _dim(dim, axis):
    return axis if dim is None else dim


def _keep(keepdim, keepdims) -> bool:
    return bool(keepdim if keepdims is None else keepdims)


def _correction(unbiased, correction, ddof) -> int:
    """torch's correction (1 unless unbiased=False), or NumPy's ddof."""
    if ddof is not None:
        return ddof
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


# The ops build on Tensor; importing them last closes that cycle.
from descent import ops  # noqa: E402
