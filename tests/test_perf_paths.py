"""Fast paths give the numbers of the plain ones: the outer product of a batch of one."""

import numpy as np

import descent as dc


def test_batch_one_linear_gradient_is_the_outer_product():
    rng = np.random.default_rng(1)
    x = dc.tensor(rng.standard_normal((1, 7)).astype(np.float32), requires_grad=True)
    w = dc.tensor(rng.standard_normal((5, 7)).astype(np.float32), requires_grad=True)
    g = rng.standard_normal((1, 5)).astype(np.float32)
    dc.nn.functional.linear(x, w).backward(g)
    np.testing.assert_allclose(w.grad, g.T * x.data, rtol=1e-6)
    a = dc.tensor(rng.standard_normal((2, 3, 1)), dtype="float64", requires_grad=True)
    b = dc.tensor(rng.standard_normal((2, 1, 4)), dtype="float64", requires_grad=True)
    upstream = rng.standard_normal((2, 3, 4))
    (a @ b).backward(upstream)
    np.testing.assert_allclose(a.grad, upstream @ b.data.swapaxes(1, 2))
