"""Elementwise math functions beyond arithmetic: trigonometry, logs and exponentials of
other bases, rounding, and erf, each forward beside its gradient.

The composites (exp2, log2, log10, rsqrt, reciprocal, square) are built from
primitives; the rest are primitives because their derivative is cheap from
the input or the output. Rounding and sign have gradient 0, as in PyTorch.
"""

import math

from descent.backend import array_module
from descent.function import Function
from descent.ops.elementwise import _binary, div, exp, floating, log, mul, sqrt
from descent.tensor import Tensor


class Sin(Function):
    def forward(self, x):
        self.x = x
        return array_module(x).sin(x)

    def backward(self, grad):
        return grad * array_module(grad).cos(self.x)


class Cos(Function):
    def forward(self, x):
        self.x = x
        return array_module(x).cos(x)

    def backward(self, grad):
        return -grad * array_module(grad).sin(self.x)


class Tan(Function):
    def forward(self, x):
        self.out = array_module(x).tan(x)
        return self.out

    def backward(self, grad):
        return grad * (1 + self.out * self.out)


class Sinh(Function):
    def forward(self, x):
        self.x = x
        return array_module(x).sinh(x)

    def backward(self, grad):
        return grad * array_module(grad).cosh(self.x)


class Cosh(Function):
    def forward(self, x):
        self.x = x
        return array_module(x).cosh(x)

    def backward(self, grad):
        return grad * array_module(grad).sinh(self.x)


class Asin(Function):
    def forward(self, x):
        self.x = x
        return array_module(x).arcsin(x)

    def backward(self, grad):
        return grad / array_module(grad).sqrt(1 - self.x * self.x)


class Acos(Function):
    def forward(self, x):
        self.x = x
        return array_module(x).arccos(x)

    def backward(self, grad):
        return -grad / array_module(grad).sqrt(1 - self.x * self.x)


class Atan(Function):
    def forward(self, x):
        self.x = x
        return array_module(x).arctan(x)

    def backward(self, grad):
        return grad / (1 + self.x * self.x)


class Atan2(Function):
    """The angle of the point (x, y): d/dy = x / r^2, d/dx = -y / r^2."""

    def forward(self, y, x):
        self.y, self.x = y, x
        return array_module(y).arctan2(y, x)

    def backward(self, grad):
        scale = grad / (self.x * self.x + self.y * self.y)
        return scale * self.x, -scale * self.y


class Log1p(Function):
    # A primitive for precision: log(1 + x) loses the digits of a small x.
    def forward(self, x):
        self.x = x
        return array_module(x).log1p(x)

    def backward(self, grad):
        return grad / (1 + self.x)


class Expm1(Function):
    # A primitive for precision: exp(x) - 1 loses the digits of a small x.
    def forward(self, x):
        self.out = array_module(x).expm1(x)
        return self.out

    def backward(self, grad):
        return grad * (self.out + 1)


class Erf(Function):
    def forward(self, x):
        from scipy.special import erf  # SciPy loads only when erf runs

        self.x = x
        return erf(x).astype(x.dtype, copy=False)

    def backward(self, grad):
        xp = array_module(grad)
        return grad * (2 / math.sqrt(math.pi)) * xp.exp(-self.x * self.x)


class Flat(Function):
    """A piecewise-constant function (floor, ceil, round, trunc, sign): gradient 0."""

    def forward(self, x, fn):
        self.shape, self.dtype = x.shape, x.dtype
        return fn(x)

    def backward(self, grad):
        return array_module(grad).zeros(self.shape, self.dtype)


def sin(x: Tensor) -> Tensor:
    return Sin.apply(floating(x))


def cos(x: Tensor) -> Tensor:
    return Cos.apply(floating(x))


def tan(x: Tensor) -> Tensor:
    return Tan.apply(floating(x))


def sinh(x: Tensor) -> Tensor:
    return Sinh.apply(floating(x))


def cosh(x: Tensor) -> Tensor:
    return Cosh.apply(floating(x))


def asin(x: Tensor) -> Tensor:
    return Asin.apply(floating(x))


def acos(x: Tensor) -> Tensor:
    return Acos.apply(floating(x))


def atan(x: Tensor) -> Tensor:
    return Atan.apply(floating(x))


def atan2(y, x) -> Tensor:
    return _binary(Atan2, y, x)


def log1p(x: Tensor) -> Tensor:
    return Log1p.apply(floating(x))


def expm1(x: Tensor) -> Tensor:
    return Expm1.apply(floating(x))


def erf(x: Tensor) -> Tensor:
    return Erf.apply(floating(x))


def exp2(x: Tensor) -> Tensor:
    return exp(mul(x, math.log(2)))


def log2(x: Tensor) -> Tensor:
    return div(log(x), math.log(2))


def log10(x: Tensor) -> Tensor:
    return div(log(x), math.log(10))


def rsqrt(x: Tensor) -> Tensor:
    return div(1.0, sqrt(x))


def reciprocal(x: Tensor) -> Tensor:
    return div(1.0, x)


def square(x: Tensor) -> Tensor:
    return mul(x, x)


def floor(x: Tensor) -> Tensor:
    return Flat.apply(x, fn=array_module(x._data).floor)


def ceil(x: Tensor) -> Tensor:
    return Flat.apply(x, fn=array_module(x._data).ceil)


def trunc(x: Tensor) -> Tensor:
    return Flat.apply(x, fn=array_module(x._data).trunc)


def sign(x: Tensor) -> Tensor:
    return Flat.apply(x, fn=array_module(x._data).sign)


def round(x: Tensor, decimals: int = 0) -> Tensor:
    """Round half to even, as torch and NumPy do."""
    xp = array_module(x._data)
    return Flat.apply(x, fn=lambda a: xp.round(a, decimals))


class CumProd(Function):
    """Running products along `axis`: d out_j / d x_i = out_j / x_i for j >= i (x_i != 0)."""

    def forward(self, x, axis):
        xp = array_module(x)
        self.x, self.axis = x, axis
        self.out = xp.cumprod(x, axis=axis)
        return self.out

    def backward(self, grad):
        xp = array_module(grad)
        later = xp.flip(xp.cumsum(xp.flip(grad * self.out, self.axis), self.axis), self.axis)
        return later / self.x


def cumprod(x: Tensor, axis: int) -> Tensor:
    return CumProd.apply(x, axis=axis % (x.ndim or 1))


def fmod(x, y) -> Tensor:
    """The remainder of x / y with the sign of x (C's fmod): x - trunc(x / y) * y."""
    return _remainder(x, y, trunc, "fmod")


def remainder(x, y) -> Tensor:
    """The remainder of x / y with the sign of y (Python's %): x - floor(x / y) * y."""
    return _remainder(x, y, floor, "remainder")


def _remainder(x, y, rounding, name: str) -> Tensor:
    from descent.tensor import lift

    x = lift(x, y if isinstance(y, Tensor) else None)
    y = lift(y, x)
    if x._data.dtype.kind in "iub" and y._data.dtype.kind in "iub":
        xp = array_module(x._data)
        if (y._data == 0).any():
            raise RuntimeError(f"ZeroDivisionError in {name}: an integer divisor is 0")
        numpy_fn = xp.fmod if name == "fmod" else xp.remainder
        return Flat.apply(x, fn=lambda a: numpy_fn(a, y._data))
    return x - rounding(div(x, y)) * y
