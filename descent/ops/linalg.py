"""Matrix multiplication with NumPy's rules: 1-d operands and broadcast batch dimensions."""

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
    """x @ y, where an inner dimension of 1 (an outer product) broadcasts a multiply instead:
    NumPy's matmul runs outer products in a loop without BLAS, 6x slower."""
    return x * y if x.shape[-1] == 1 else x @ y


def matmul(a, b) -> Tensor:
    if not isinstance(a, Tensor):
        a = lift(a, b)
    if not isinstance(b, Tensor):
        b = lift(b, a)
    return MatMul.apply(a, b)
