"""Graph semantics: accumulation, broadcasting, unused inputs, freeing, no_grad, dtypes, errors."""

import gc
import weakref

import numpy as np
import pytest
import torch

import descent as dc


def test_the_design_example():
    x = dc.tensor([[1.0, 2.0]], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad, [[2.0, 4.0]])
    assert x.grad.dtype == np.float32 and x.grad.shape == x.shape


def test_fan_out_accumulates():
    x = dc.tensor([3.0], requires_grad=True)
    y = x * x + x  # x is used three times
    y.backward(np.ones(1))
    np.testing.assert_allclose(x.grad, [7.0])


def test_reused_intermediate_accumulates_before_flowing_back():
    x = dc.tensor([2.0], requires_grad=True)
    h = x.exp()
    (h * h + h).sum().backward()  # d/dx (e^2x + e^x)
    np.testing.assert_allclose(x.grad, [2 * np.exp(4.0) + np.exp(2.0)], rtol=1e-6)


def test_grad_accumulates_across_backward_calls():
    x = dc.tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])


def test_broadcast_gradients_are_summed_to_each_input_shape():
    a = dc.ones(2, 3, 4, requires_grad=True)
    b = dc.ones(3, 1, requires_grad=True)
    (a * b).sum().backward()
    assert b.grad.shape == (3, 1)
    np.testing.assert_array_equal(b.grad, np.full((3, 1), 8.0))


def test_unused_and_constant_inputs_get_no_grad():
    x = dc.tensor([1.0], requires_grad=True)
    unused = dc.tensor([1.0], requires_grad=True)
    constant = dc.tensor([5.0])
    (x * constant).sum().backward()
    assert unused.grad is None and constant.grad is None
    np.testing.assert_array_equal(x.grad, [5.0])


def test_non_scalar_backward_takes_an_upstream_gradient():
    x = dc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(np.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, -6.0])
    x.grad = None
    (x * x).backward(dc.tensor([0.5, 0.5, 0.5]))  # a tensor works as the upstream gradient too
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])


def test_leaf_gradients_never_share_memory():
    x = dc.tensor([1.0, 2.0], requires_grad=True)
    y = dc.tensor([1.0, 2.0], requires_grad=True)
    (x + y).sum().backward()
    x.grad *= 10  # what clip_grad_norm_ and friends do in place
    np.testing.assert_array_equal(y.grad, [1.0, 1.0])


def test_gradient_of_a_float32_input_mixed_with_float64_stays_float32():
    x = dc.tensor([1.0, 2.0], requires_grad=True)
    w = dc.tensor([0.5, 0.25], dtype="float64")
    out = x * w
    assert out.dtype == np.float64
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_python_scalars_do_not_upcast_float32():
    x = dc.tensor([1.0, 2.0], requires_grad=True)
    for out in (x * 2.5, 1 + x, x / 3, 2.0**x, x**2, dc.maximum(x, 0.5), dc.where(x > 1, x, 0.0)):
        assert out.dtype == np.float32


def test_float64_on_request_and_float32_by_default():
    assert dc.tensor([1.0]).dtype == np.float32
    assert dc.tensor(np.array([1.0])).dtype == np.float64  # a NumPy array keeps its dtype, as torch
    assert dc.Tensor(np.array([1.0])).dtype == np.float32  # torch.Tensor: the default dtype
    assert dc.tensor([1.0], dtype="float64").dtype == np.float64
    assert dc.zeros(2, 3).dtype == np.float32 and dc.randn(2).dtype == np.float32
    assert dc.tensor([1, 2]).dtype == np.int64


def test_tensor_copies_its_data():
    data = np.ones(3, dtype=np.float32)
    t = dc.tensor(data)
    data[0] = 5
    assert t.data[0] == 1


def test_a_100000_op_chain_backpropagates_without_recursion():
    x = dc.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0])


def test_no_grad_builds_no_graph_as_context_and_decorator():
    x = dc.tensor([1.0], requires_grad=True)
    with dc.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf

    @dc.no_grad()
    def double(t):
        return t * 2

    z = double(x)
    assert not z.requires_grad and z.is_leaf
    assert (x * 2).requires_grad  # recording is back on afterwards
    with dc.no_grad(), dc.enable_grad():
        assert (x * 2).requires_grad


def test_graph_is_freed_after_backward():
    x = dc.tensor(np.ones(1000), requires_grad=True)
    hidden = x.exp()
    watch_array = weakref.ref(hidden._data)
    loss = (hidden * 2).sum()
    del hidden
    assert watch_array() is not None  # the graph holds exp's output until backward
    loss.backward()
    gc.collect()
    assert watch_array() is None, "backward kept an array saved for the gradient alive"
    assert loss._ctx.__dict__ == {}  # the output keeps its node, emptied, as PyTorch's grad_fn


def test_retain_graph_allows_a_second_backward():
    x = dc.tensor([2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(x.grad, [8.0])


def test_second_backward_without_retain_graph_is_a_clear_error():
    x = dc.tensor([2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_backward_on_a_non_scalar_without_grad_is_a_clear_error():
    x = dc.ones(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar outputs.*shape \(3, 4\).*gradient="):
        (x * 2).backward()


def test_backward_with_a_grad_of_the_wrong_shape_is_a_clear_error():
    x = dc.ones(3, requires_grad=True)
    with pytest.raises(
        RuntimeError, match=r"gradient has shape \(2,\) but the output has shape \(3,\)"
    ):
        (x * 2).backward(np.ones(2))


def test_backward_on_a_tensor_without_graph_is_a_clear_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        dc.ones(2).sum().backward()


def test_requires_grad_on_an_integer_tensor_is_a_clear_error():
    with pytest.raises(
        RuntimeError, match="only Tensors of floating point .* can require gradients"
    ):
        dc.tensor([1, 2], requires_grad=True)
    t = dc.arange(3)
    with pytest.raises(RuntimeError, match="int64"):
        t.requires_grad = True


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: dc.randn(32, 784) @ dc.randn(100, 10),
         r"matmul: \(32, 784\) @ \(100, 10\): inner dimensions 784 and 100 differ"),
        (lambda: dc.ones(3, 4) + dc.ones(5), r"add: inputs of shapes \(3, 4\) and \(5,\)"),
        (lambda: dc.ones(3, 4) * dc.ones(2, 1), r"mul: inputs of shapes \(3, 4\) and \(2, 1\)"),
        (lambda: dc.ones(3, 4).reshape(5, 2), r"reshape: .*\(3, 4\) \(12 elements\) into \(5, 2\)"),
        (lambda: dc.cat([dc.ones(2, 3), dc.ones(3, 3)], dim=1),
         r"concatenate: shapes \(2, 3\), \(3, 3\) must agree on every axis but axis 1"),
        (lambda: dc.ones(2, 3).t().view(6), r"view size is not compatible"),
        (lambda: dc.ones(2, 3).broadcast_to((4, 3)), r"broadcast_to: .*\(2, 3\) to \(4, 3\)"),
        (lambda: dc.ones(2, 3).permute(0, 0), r"transpose: axes \(0, 0\) are not a permutation"),
    ],
)  # fmt: skip
def test_shape_errors_name_the_op_and_the_shapes(make, message):
    with pytest.raises(dc.ShapeError, match=message):
        make()


def test_index_errors_name_the_shape():
    with pytest.raises(IndexError, match=r"getitem: index into a tensor of shape \(2, 3\)"):
        dc.ones(2, 3)[5]


def test_detach_shares_data_and_leaves_the_graph():
    x = dc.tensor([1.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    np.testing.assert_array_equal(d.numpy(), [2.0])


def test_tensor_attributes_and_repr():
    x = dc.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    assert x.shape == (1, 3) and x.ndim == 2 and x.numel() == 3 and x.dtype == np.float32
    assert x.T.shape == (3, 1) and len(x) == 1
    assert x.sum().item() == 6.0
    assert repr(x) == "tensor([[1., 2., 3.]], requires_grad=True)"
    assert "float64" in repr(dc.tensor([1.0], dtype="float64"))


def test_comparisons_give_boolean_tensors_outside_the_graph():
    x = dc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    mask = x > 1.5
    assert mask.dtype == np.bool_ and not mask.requires_grad
    np.testing.assert_array_equal(mask.numpy(), [False, True, True])


def test_manual_seed_makes_random_tensors_reproducible():
    dc.manual_seed(7)
    first = dc.randn(3).numpy().copy()
    dc.manual_seed(7)
    np.testing.assert_array_equal(dc.randn(3).numpy(), first)
    assert 0 <= dc.rand(100).numpy().min() and dc.rand(100).numpy().max() < 1


def test_creation_functions():
    assert dc.zeros(2, 3).shape == (2, 3) and dc.zeros((2, 3)).shape == (2, 3)
    np.testing.assert_array_equal(dc.full((2,), 7.0).numpy(), [7.0, 7.0])
    np.testing.assert_array_equal(dc.arange(3).numpy(), [0, 1, 2])
    assert dc.arange(0.0, 1.0, 0.5).dtype == np.float32
    assert dc.ones_like(dc.zeros(2, dtype="float64")).dtype == np.float64
    with pytest.raises(ValueError, match="non-negative integers"):
        dc.zeros(-1, 2)


def test_no_grad_decorator_is_reentrant_and_set_grad_enabled_works_as_a_call():
    @dc.no_grad()
    def recurse(n):
        assert not dc.is_grad_enabled()
        if n:
            recurse(n - 1)

    recurse(2)
    assert dc.is_grad_enabled()
    dc.set_grad_enabled(False)
    assert not dc.is_grad_enabled()
    dc.set_grad_enabled(True)
    with dc.set_grad_enabled(False):
        assert not dc.is_grad_enabled()
    assert dc.is_grad_enabled()


def test_a_leaf_never_keeps_the_callers_upstream_array():
    x = dc.tensor([1.0, 2.0], requires_grad=True)
    upstream = np.ones(2, dtype=np.float32)
    (x + 0.0).backward(upstream)
    x.grad *= 5
    np.testing.assert_array_equal(upstream, [1.0, 1.0])


def test_python_conversions():
    assert bool(dc.tensor(1.0) > 0.5) and not bool(dc.tensor([0.0]) > 1)
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(dc.tensor([5.0, 6.0]) > 100)
    assert float(dc.tensor(2.5)) == 2.5 and int(dc.tensor(3)) == 3
    np.testing.assert_array_equal(np.asarray(dc.tensor([1.0, 2.0])), [1.0, 2.0])


def test_float32_gradients_stay_float32_through_max_and_clip():
    w = dc.randn(3, 4, requires_grad=True)
    hidden = (dc.randn(2, 3) @ w).amax(dim=1)
    assert hidden._ctx.backward(np.ones(2, dtype=np.float32)).dtype == np.float32
    assert dc.clip(w, np.float64(-0.5), np.float64(0.5)).dtype == np.float32


@pytest.mark.parametrize("lib", ["torch", "descent"])
def test_a_backward_through_weights_an_optimizer_changed_raises_as_in_torch(lib):
    module = torch if lib == "torch" else dc
    w = module.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()  # mul saved w
    loss.backward(retain_graph=True)
    module.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


@pytest.mark.parametrize("lib", ["torch", "descent"])
def test_the_update_rule_changes_the_weights_in_place(lib):
    module = torch if lib == "torch" else dc
    w = module.tensor([1.0, 2.0], requires_grad=True)
    before = w
    (w * w).sum().backward()
    with module.no_grad():
        w -= 0.25 * w.grad
    assert w is before and w._version == 1 and w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.detach().numpy(), [0.5, 1.0])
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w -= 0.25 * w.grad  # outside no_grad
