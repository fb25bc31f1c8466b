"""ReLU's and dropout's forward and backward compiled, one pass each over a conv net's
activations, for elementwise.py and fused.py, whose NumPy code is the reference.

NumPy's `maximum(x, 0)` runs at about a third of a copy's speed (it checks for NaNs
element by element), and the backward's mask and multiply are two passes; each loop here
is one pass that compiles to vector instructions. They run on the calling thread: the
work is memory-bound, and on a busy 2-core machine a second thread slowed it down. This
module imports numba, so its callers import it only when they take the compiled path.
The kernels give the reference's numbers bit for bit, NaNs and signed zeros included.
"""

from __future__ import annotations

from descent import jit


@jit.kernel
def relu_forward(x, out):
    """out = maximum(x, 0) over flat arrays: a NaN stays NaN, -0.0 becomes 0.0."""
    zero = x.dtype.type(0)
    for i in range(x.size):
        value = x[i]
        out[i] = value if value > zero or value != value else zero


@jit.kernel
def relu_backward(out, grad, result):
    """result = grad * (out != 0) over flat arrays, the mask's 0 or 1 multiplied in as the
    reference does (so a NaN gradient where out is 0 stays NaN, and -0.0 where negative)."""
    zero, one = grad.dtype.type(0), grad.dtype.type(1)
    for i in range(grad.size):
        result[i] = grad[i] * (one if out[i] != zero else zero)


@jit.kernel
def dropout_scale(x, draws, p, scale, out):
    """out = x * (scale where draws >= p, else 0) over flat arrays: the reference's mask,
    multiplied in the same order."""
    zero = x.dtype.type(0)
    for i in range(x.size):
        out[i] = x[i] * (scale if draws[i] >= p else zero)
