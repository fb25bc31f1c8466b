"""Matrix multiplication with NumPy's rules: 1-d operands and broadcast batch dimensions."""

from descent.backend import array_module
from descent.errors import ShapeError
from descent.tensor import Function, Tensor, lift


class MatMul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(
                f"matmul: {a.shape} @ {b.shape}: both operands need at least 1 dimension"
            )
        inner_a, inner_b = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
        if inner_a != inner_b:
            raise ShapeError(
                f"matmul: {a.shape} @ {b.shape}: inner dimensions {inner_a} and {inner_b} differ"
            )
        return a @ b

    def backward(self, grad):
        a, b = self.a, self.b
        if a.ndim == 1 and b.ndim == 1:  # a dot product: grad is a scalar
            return grad * b, grad * a
        # Treat a 1-d operand as a matrix with one row (a) or one column (b), as matmul does.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1:
            grad = grad[..., None, :]
        if b.ndim == 1:
            grad = grad[..., None]
        grad_a = grad_b = None
        if self.needs_grad[0]:
            grad_a = _matmul(grad, b2.swapaxes(-1, -2))
            if a.ndim == 1:
                grad_a = grad_a.reshape(-1, a.shape[0]).sum(axis=0)
        if self.needs_grad[1]:
            grad_b = _matmul(a2.swapaxes(-1, -2), grad)
            if b.ndim == 1:
                grad_b = grad_b.reshape(-1, b.shape[0]).sum(axis=0)
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
    return MatMul.apply(a, b)
