"""Elementwise ops: arithmetic, activations and selections, each forward beside its gradient.

Binary ops broadcast; their backward returns gradients in the output's
shape and the engine sums them back to each input's shape.
Ties and kinks follow PyTorch: relu'(0) = 0, abs'(0) = 0, maximum and
minimum split the gradient in half where the inputs are equal.
"""

import math

import numpy as np

from descent import dtypes, jit
from descent.backend import array_module
from descent.function import Function
from descent.tensor import Tensor, lift

# -- arithmetic ---------------------------------------------------------------------


class Add(Function):
    saves = ()

    def forward(self, x, y):
        return x + y

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    saves = ()

    def forward(self, x, y):
        return x - y

    def backward(self, grad):
        return grad, (-grad if self.needs_grad[1] else None)


class Mul(Function):
    saves = ("x", "y")

    def forward(self, x, y):
        # Each input is saved only for the other's gradient, as torch saves them.
        self.x = x if self.needs_grad[1] else None
        self.y = y if self.needs_grad[0] else None
        return x * y

    def backward(self, grad):
        return (
            grad * self.y if self.needs_grad[0] else None,
            grad * self.x if self.needs_grad[1] else None,
        )


class Div(Function):
    saves = ("y", "out")

    def forward(self, x, y):
        self.y = y
        out = x / y
        self.out = out if self.needs_grad[1] else None
        return out

    def backward(self, grad):
        grad_x = grad / self.y
        return grad_x, (-grad_x * self.out if self.needs_grad[1] else None)


class Pow(Function):
    saves = ("x", "y", "out")

    def forward(self, x, y):
        self.x, self.y = x, y
        self.out = x**y
        return self.out

    def backward(self, grad):
        xp = array_module(grad)
        grad_x = None
        if self.needs_grad[0]:
            # y x^(y-1) is 0 * inf at x = 0, y = 0; PyTorch defines the gradient there as 0.
            exponent = xp.where(self.y == 0, 1, self.y)  # any y != 0 keeps 0^(y-1) finite
            grad_x = xp.where(self.y == 0, 0, grad * exponent * self.x ** (exponent - 1))
        grad_y = None
        if self.needs_grad[1]:
            # d(x^y)/dy = x^y log x; PyTorch defines it as 0 where x == 0 and y >= 0.
            with_log = grad * self.out * xp.log(xp.where(self.x == 0, 1, self.x))
            grad_y = xp.where((self.x == 0) & (self.y >= 0), 0, with_log)
        return grad_x, grad_y


class Neg(Function):
    saves = ()

    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad


class Cast(Function):
    saves = ()

    def forward(self, x, dtype):
        self.source_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.source_dtype)


# -- unary functions --------------------------------------------------------------


class Abs(Function):
    saves = ("x",)

    def forward(self, x):
        self.x = x
        return array_module(x).abs(x)

    def backward(self, grad):
        return grad * array_module(grad).sign(self.x)


class Exp(Function):
    saves = ("out",)

    def forward(self, x):
        self.out = array_module(x).exp(x)
        return self.out

    def backward(self, grad):
        return grad * self.out


class Log(Function):
    saves = ("x",)

    def forward(self, x):
        self.x = x
        return array_module(x).log(x)

    def backward(self, grad):
        return grad / self.x


class Sqrt(Function):
    saves = ("out",)

    def forward(self, x):
        self.out = array_module(x).sqrt(x)
        return self.out

    def backward(self, grad):
        return grad / (2 * self.out)


class Tanh(Function):
    saves = ("out",)

    def forward(self, x):
        self.out = array_module(x).tanh(x)
        return self.out

    def backward(self, grad):
        return grad * (1 - self.out * self.out)


def _stable_sigmoid(x):
    """1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below: no overflow, precise in the tail."""
    xp = array_module(x)
    tail = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1, tail) / (1 + tail)


class Sigmoid(Function):
    saves = ("out",)

    def forward(self, x):
        self.out = _stable_sigmoid(x)
        return self.out

    def backward(self, grad):
        return grad * self.out * (1 - self.out)


class ReLU(Function):
    """max(x, 0). On large float arrays the compiled kernels of elementwise_kernels.py run
    instead of NumPy's code, the reference, with its numbers."""

    saves = ("out",)

    def forward(self, x):
        if use_kernels(x):
            from descent.ops import elementwise_kernels

            self.out = np.empty_like(x)
            elementwise_kernels.relu_forward(x.reshape(-1), self.out.reshape(-1))
        else:
            self.out = array_module(x).maximum(x, 0)
        return self.out

    def backward(self, grad):
        out = self.out
        if grad.dtype == out.dtype and use_kernels(grad) and out.flags.c_contiguous:
            from descent.ops import elementwise_kernels

            result = np.empty_like(grad)
            elementwise_kernels.relu_backward(out.reshape(-1), grad.reshape(-1), result.reshape(-1))
            return result
        # grad * (out != 0): out is x > 0, 0 or NaN, and torch passes the gradient on at a
        # NaN. The mask is written in grad's dtype into the result: one array allocated
        # instead of two (a full-batch MLP step: 3% less CPU, page faults mostly).
        result = array_module(grad).empty_like(grad)
        array_module(grad).not_equal(out, 0, out=result)
        result *= grad
        return result


# Below JIT_MIN_ELEMENTS elements NumPy runs. Up to JIT_ALWAYS_ELEMENTS the kernels run only
# once numba is loaded: its import and set-up (about 1 s, once per process) repay only on
# long work on large arrays (ReLU's kernels save about 0.5 ms a call on a million floats),
# and in a conv net the pool and conv kernels have paid it by the second step.
JIT_MIN_ELEMENTS = 1 << 16
JIT_ALWAYS_ELEMENTS = 1 << 22


def use_kernels(array) -> bool:
    """Whether an elementwise op takes the compiled path: a sizable contiguous float32 or
    float64 NumPy array, kernels available, and numba loaded or the array huge."""
    size = array.size
    return (
        size >= JIT_MIN_ELEMENTS
        and type(array) is np.ndarray
        and array.dtype in jit.FLOAT_DTYPES
        and array.flags.c_contiguous
        and jit.available()
        and (size >= JIT_ALWAYS_ELEMENTS or jit.loaded())
    )


class LeakyReLU(Function):
    def forward(self, x, negative_slope):
        self.positive = x > 0
        self.negative_slope = negative_slope
        return array_module(x).where(self.positive, x, x * negative_slope)

    def backward(self, grad):
        return array_module(grad).where(self.positive, grad, grad * self.negative_slope)


class GELU(Function):
    """x * Phi(x), exactly (with erf) or with PyTorch's tanh approximation."""

    def forward(self, x, approximate):
        xp = array_module(x)
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            self.inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
            self.tanh = xp.tanh(self.inner)
            return 0.5 * x * (1 + self.tanh)
        self.cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
        return x * self.cdf

    def backward(self, grad):
        xp = array_module(grad)
        x = self.x
        if self.approximate == "tanh":
            d_inner = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)
            return grad * (0.5 * (1 + self.tanh) + 0.5 * x * (1 - self.tanh**2) * d_inner)
        pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return grad * (self.cdf + x * pdf)


def _erf(x):
    from scipy.special import erf  # SciPy loads only when GELU runs

    return erf(x).astype(x.dtype, copy=False)


class Softplus(Function):
    """log(1 + e^(beta x)) / beta, linear above `threshold` as in PyTorch."""

    def forward(self, x, beta, threshold):
        xp = array_module(x)
        self.scaled = x * beta
        self.linear = self.scaled > threshold
        self.beta = beta
        return xp.where(self.linear, x, xp.logaddexp(0, self.scaled) / beta)

    def backward(self, grad):
        return array_module(grad).where(self.linear, grad, grad * _stable_sigmoid(self.scaled))


# -- selections -------------------------------------------------------------------


class Maximum(Function):
    saves = ("x", "y")

    def forward(self, x, y):
        self.x, self.y = x, y
        return array_module(x).maximum(x, y)

    def backward(self, grad):
        return _split_at_ties(grad, self.x > self.y, self.x == self.y)


class Minimum(Function):
    saves = ("x", "y")

    def forward(self, x, y):
        self.x, self.y = x, y
        return array_module(x).minimum(x, y)

    def backward(self, grad):
        return _split_at_ties(grad, self.x < self.y, self.x == self.y)


def _split_at_ties(grad, x_wins, tie):
    """The winner takes the gradient; equal inputs take half each (PyTorch's rule)."""
    xp = array_module(grad)
    half = grad * 0.5
    grad_x = xp.where(x_wins, grad, xp.where(tie, half, 0))
    grad_y = xp.where(x_wins, 0, xp.where(tie, half, grad))
    return grad_x, grad_y


class Clip(Function):
    def forward(self, x, low, high):
        xp = array_module(x)
        self.inside = xp.ones(x.shape, dtype=bool)
        if low is not None:
            self.inside &= x >= low
        if high is not None:
            self.inside &= x <= high
        return xp.clip(x, low, high)

    def backward(self, grad):
        return grad * self.inside


class Where(Function):
    saves = ()

    def forward(self, x, y, condition):
        self.condition = condition
        return array_module(x).where(condition, x, y)

    def backward(self, grad):
        xp = array_module(grad)
        return xp.where(self.condition, grad, 0), xp.where(self.condition, 0, grad)


# -- public functions ------------------------------------------------------------------


def _binary(op, x, y) -> Tensor:
    if not isinstance(x, Tensor):
        x = lift(x, y)
    elif not isinstance(y, Tensor):
        y = lift(y, x)
    if x._data.dtype is not y._data.dtype and x._data.dtype != y._data.dtype:
        x, y = promote(x, y)
    return op.apply(x, y)


def floating(x: Tensor) -> Tensor:
    """`x` itself if floating, else cast to the default float dtype: torch's exp, sqrt, sin
    ... of an integer tensor are float32."""
    if x._data.dtype.kind in "fc":
        return x
    return Cast.apply(x, dtype=dtypes.get_default_dtype())


def promote(*tensors: Tensor) -> list[Tensor]:
    """The tensors cast to the dtype PyTorch would compute in (float32 * int64 is float32)."""
    dtype = dtypes.result_type(*(t._data for t in tensors))
    return [t if t._data.dtype == dtype else Cast.apply(t, dtype=dtype) for t in tensors]


def add(x, y) -> Tensor:
    return _binary(Add, x, y)


def sub(x, y) -> Tensor:
    return _binary(Sub, x, y)


def mul(x, y) -> Tensor:
    return _binary(Mul, x, y)


def div(x, y) -> Tensor:
    """True division: integers divide into the default float dtype, as torch."""
    if not isinstance(x, Tensor):
        x = lift(x, y)
    if not isinstance(y, Tensor):
        y = lift(y, x)
    if x._data.dtype.kind not in "fc" and y._data.dtype.kind not in "fc":
        x, y = floating(x), floating(y)
    return _binary(Div, x, y)


def pow(x, y) -> Tensor:
    return _binary(Pow, x, y)


def maximum(x, y) -> Tensor:
    return _binary(Maximum, x, y)


def minimum(x, y) -> Tensor:
    return _binary(Minimum, x, y)


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


def abs(x: Tensor) -> Tensor:
    return Abs.apply(x)


def exp(x: Tensor) -> Tensor:
    return Exp.apply(x if x._data.dtype.kind in "fc" else floating(x))


def log(x: Tensor) -> Tensor:
    return Log.apply(x if x._data.dtype.kind in "fc" else floating(x))


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(x if x._data.dtype.kind in "fc" else floating(x))


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(x if x._data.dtype.kind in "fc" else floating(x))


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(x if x._data.dtype.kind in "fc" else floating(x))


def relu(x: Tensor) -> Tensor:
    return ReLU.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return LeakyReLU.apply(x, negative_slope=negative_slope)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: {approximate=} must be 'none' or 'tanh'")
    return GELU.apply(x, approximate=approximate)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return Softplus.apply(x, beta=beta, threshold=threshold)


def clip(x: Tensor, min=None, max=None) -> Tensor:
    """Limit `x` to [min, max]; the gradient passes where x lies inside (bounds included)."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    xp = array_module(x._data)
    # float64 bounds must not promote a float32 tensor; a tensor bound clamps elementwise.
    low, high = (
        None if b is None else xp.asarray(b._data if isinstance(b, Tensor) else b, x.dtype)
        for b in (min, max)
    )
    return Clip.apply(x, low=low, high=high)


def where(condition, x, y) -> Tensor:
    """`x` where `condition` holds, else `y`; the condition gets no gradient."""
    condition = condition._data if isinstance(condition, Tensor) else condition
    if not isinstance(x, Tensor):
        x = lift(x, y if isinstance(y, Tensor) else None)
    if not isinstance(y, Tensor):
        y = lift(y, x)
    if x._data.dtype != y._data.dtype:
        x, y = promote(x, y)
    return Where.apply(x, y, condition=array_module(x._data).asarray(condition, dtype=bool))


def masked_fill(x: Tensor, mask, value) -> Tensor:
    """`value` where `mask` holds, else `x`, in x's dtype."""
    return where(mask, lift(value, x), x)


def astype(x: Tensor, dtype) -> Tensor:
    """`x` converted to `dtype`; the gradient is converted back."""
    return Cast.apply(x, dtype=dtype)
