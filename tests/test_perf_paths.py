"""Fast paths give the numbers of the plain ones: the outer product of a batch of one,
Linear's backward on 2-d and other inputs."""

import numpy as np
import pytest
import torch

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


@pytest.mark.parametrize("shape", [(7,), (1, 7), (4, 7), (2, 3, 7)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients_match_torch_for_any_leading_axes(shape, bias):
    """Linear's backward reshapes only inputs that are not (N, features)."""
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(shape), rng.standard_normal((5, 7)), rng.standard_normal(5)]
    arrays = arrays if bias else arrays[:2]
    upstream = rng.standard_normal(shape[:-1] + (5,))
    ours = [dc.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    dc.nn.functional.linear(*ours).backward(dc.tensor(upstream))
    torch.nn.functional.linear(*theirs).backward(torch.tensor(upstream))
    for our, their in zip(ours, theirs):
        np.testing.assert_allclose(our.grad.numpy(), their.grad.numpy(), rtol=1e-12)
