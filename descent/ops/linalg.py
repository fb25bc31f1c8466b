"""Matrix multiplication with NumPy's rules: 1-d operands and broadcast batch dimensions."""

from descent.backend import array_module
from descent.errors import ShapeError
from descent.function import Function
from descent.tensor import Tensor, lift


class MatMul(Function):
    saves = ("a", "b")

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(
                f"matmul: {a.shape} @ {b.shape}: both operands need at least 1 dimension"
            )
        inner_a, inner_b = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
        if inner_a != inner_b:
            raise ShapeError(
                f"matmul: {a.shape} @ {b.shape}: inner dimensions {inner_a} and {inner_b} differ"
            )
        # Each operand is saved only for the other's gradient, as torch saves them.
        self.a = a if self.needs_grad[1] else None
        self.b = b if self.needs_grad[0] else None
        self.a_ndim, self.b_ndim = a.ndim, b.ndim
        return a @ b

    def backward(self, grad):
        a, b = self.a, self.b
        if self.a_ndim == 1 and self.b_ndim == 1:  # a dot product: grad is a scalar
            return (grad * b if b is not None else None), (grad * a if a is not None else None)
        # Treat a 1-d operand as a matrix with one row (a) or one column (b), as matmul does.
        if self.a_ndim == 1:
            grad = grad[..., None, :]
        if self.b_ndim == 1:
            grad = grad[..., None]
        grad_a = grad_b = None
        if self.needs_grad[0]:
            b2 = b[:, None] if self.b_ndim == 1 else b
            grad_a = _matmul(grad, b2.swapaxes(-1, -2))
            if self.a_ndim == 1:
                grad_a = grad_a.reshape(-1, grad_a.shape[-1]).sum(axis=0)
        if self.needs_grad[1]:
            a2 = a[None, :] if self.a_ndim == 1 else a
            grad_b = _matmul(a2.swapaxes(-1, -2), grad)
            if self.b_ndim == 1:
                grad_b = grad_b.reshape(-1, grad_b.shape[-2]).sum(axis=0)
        return grad_a, grad_b


def _matmul(x, y):
    """x @ y, routing an inner dimension of 1 (an outer product) around NumPy's matmul,
    which runs it in a loop without BLAS, 4x slower: `dot` calls BLAS for matrices (its
    rules differ from matmul's only for 3-d and up), a broadcast multiply does the rest,
    2x slower than BLAS on a (256, 1) @ (1, 784) product."""
    if x.shape[-1] != 1:
        return x @ y
    return array_module(x).dot(x, y) if x.ndim == 2 and y.ndim == 2 else x * y


def matmul(a, b) -> Tensor:
    if not isinstance(a, Tensor):
        a = lift(a, b)
    if not isinstance(b, Tensor):
        b = lift(b, a)
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(
            f"matmul: expected both operands to have the same dtype, but got {a.dtype} @ "
            f"{b.dtype}; convert one, e.g. b.to(a.dtype)"
        )
    return MatMul.apply(a, b)


def mm(a: Tensor, b: Tensor) -> Tensor:
    """The product of two matrices (2-d only, as torch's `mm`)."""
    _require_dims("mm", a, b, 2, 2)
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Batched matrix products of (B, n, m) and (B, m, p) (3-d only, as torch's `bmm`)."""
    _require_dims("bmm", a, b, 3, 3)
    if a.shape[0] != b.shape[0]:
        raise ShapeError(f"bmm: batch sizes {a.shape[0]} and {b.shape[0]} differ")
    return matmul(a, b)


def mv(a: Tensor, v: Tensor) -> Tensor:
    _require_dims("mv", a, v, 2, 1)
    return matmul(a, v)


def dot(a: Tensor, b: Tensor) -> Tensor:
    _require_dims("dot", a, b, 1, 1)
    return matmul(a, b)


def _require_dims(name: str, a: Tensor, b: Tensor, a_dims: int, b_dims: int) -> None:
    if a.ndim != a_dims or b.ndim != b_dims:
        raise ShapeError(
            f"{name}: expects {a_dims}-d and {b_dims}-d tensors, got shapes {a.shape} and {b.shape}"
        )
