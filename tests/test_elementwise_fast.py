"""ReLU's compiled kernels (descent/ops/elementwise_kernels.py) against the NumPy reference
in elementwise.py, bit for bit, and both against torch: values and gradients, odd sizes,
NaNs, infinities and signed zeros, float32 and float64."""

import numpy as np
import pytest
import torch

import descent as dc
from descent import jit
from descent.ops import elementwise, elementwise_kernels

pytest.importorskip("numba")


@pytest.fixture
def kernel_calls(monkeypatch):
    """The names of the kernels that ran, in order."""
    calls = []
    for name in ("relu_forward", "relu_backward", "dropout_scale"):
        kernel = getattr(elementwise_kernels, name)

        def spy(*args, kernel=kernel, name=name):
            calls.append(name)
            return kernel(*args)

        monkeypatch.setattr(elementwise_kernels, name, spy)
    return calls


def awkward(shape, dtype, seed):
    """Normal values with the special ones ReLU must get right: zeros of both signs, NaNs
    of both signs, infinities."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)
    special = [0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 1e-30]
    flat[: len(special)] = special[: flat.size]
    rng.shuffle(flat)
    return x


def relu_and_grad(lib, x, upstream, inplace=False):
    xt = lib.tensor(x, requires_grad=True)
    source = xt * 1 if inplace else xt  # relu_ on a non-leaf
    out = lib.nn.functional.relu(source, inplace=inplace)
    out.backward(lib.tensor(upstream))
    return out.detach().numpy(), xt.grad.numpy()


def relu_both_ways(x, upstream, monkeypatch, **options):
    monkeypatch.setattr(elementwise, "JIT_MIN_ELEMENTS", 0)
    compiled = relu_and_grad(dc, x, upstream, **options)
    monkeypatch.setattr(elementwise, "JIT_MIN_ELEMENTS", 1 << 62)
    reference = relu_and_grad(dc, x, upstream, **options)
    return compiled, reference


def same_bits(a, b):
    """Equal, NaNs where NaNs, and zeros of the same sign."""
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.signbit(a), np.signbit(b))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # 0 * inf, in the reference
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 5, 7, 11), (1,), (2, 1, 13)], ids=str)
def test_compiled_relu_equals_the_reference_and_torch(
    shape, dtype, monkeypatch, jit_on, kernel_calls
):
    x, upstream = awkward(shape, dtype, 0), awkward(shape, dtype, 1)
    (out, grad), (reference_out, reference_grad) = relu_both_ways(x, upstream, monkeypatch)
    assert kernel_calls == ["relu_forward", "relu_backward"]
    same_bits(out, reference_out)
    same_bits(grad, reference_grad)
    expected_out, expected_grad = relu_and_grad(torch, x, upstream)
    np.testing.assert_array_equal(out, expected_out)
    finite = np.isfinite(upstream)  # torch's backward selects, ours multiplies by the mask
    np.testing.assert_array_equal(grad[finite], expected_grad[finite])  # NaN inputs too


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_compiled_relu_in_place_equals_the_reference(monkeypatch, jit_on, kernel_calls):
    x, upstream = awkward((4, 9, 5), np.float32, 2), awkward((4, 9, 5), np.float32, 3)
    (out, grad), (reference_out, reference_grad) = relu_both_ways(
        x, upstream, monkeypatch, inplace=True
    )
    assert kernel_calls == ["relu_forward", "relu_backward"]
    same_bits(out, reference_out)
    same_bits(grad, reference_grad)


def test_small_strided_half_and_integer_inputs_run_the_reference(monkeypatch, jit_on, kernel_calls):
    x = awkward((6, 8), np.float32, 4)
    monkeypatch.setattr(elementwise, "JIT_MIN_ELEMENTS", x.size + 1)
    dc.relu(dc.tensor(x))
    monkeypatch.setattr(elementwise, "JIT_MIN_ELEMENTS", 0)
    dc.relu(dc.tensor(x).T)  # not contiguous
    dc.relu(dc.tensor(x, dtype=dc.float16))
    dc.relu(dc.tensor(np.arange(-3, 3)))
    assert kernel_calls == []


def test_an_upstream_gradient_of_another_dtype_runs_the_reference(
    monkeypatch, jit_on, kernel_calls
):
    monkeypatch.setattr(elementwise, "JIT_MIN_ELEMENTS", 0)
    node = elementwise.ReLU()
    node.needs_grad = (True,)
    node.forward(np.array([-1.0, 2.0], np.float32))
    grad = node.backward(np.array([3.0, 4.0]))
    assert kernel_calls == ["relu_forward"]
    np.testing.assert_array_equal(grad, [0.0, 4.0])


def test_only_huge_arrays_load_numba_for_the_kernels(monkeypatch, jit_on, kernel_calls):
    """numba's one-off cost repays on large arrays only if nothing else has paid it."""
    x = dc.tensor(awkward((6, 8), np.float32, 6))
    monkeypatch.setattr(elementwise, "JIT_MIN_ELEMENTS", 0)
    monkeypatch.setattr(jit, "loaded", lambda: False)  # as if no kernel had run yet
    dc.relu(x)
    assert kernel_calls == []
    monkeypatch.setattr(elementwise, "JIT_ALWAYS_ELEMENTS", x.numel())
    dc.relu(x)
    assert kernel_calls == ["relu_forward"]


def test_descent_jit_0_runs_the_reference(monkeypatch, jit_on, kernel_calls):
    monkeypatch.setattr(elementwise, "JIT_MIN_ELEMENTS", 0)
    monkeypatch.setenv("DESCENT_JIT", "0")
    jit.available.cache_clear()
    dc.relu(dc.tensor(awkward((5, 5), np.float32, 5)))
    assert kernel_calls == []


# -- dropout ---------------------------------------------------------------------------------


def seeded_dropout(x, upstream, p, inplace=False, name="dropout"):
    """Output and input gradient of a dropout drawn from generator seed 7."""
    xt = dc.tensor(x, requires_grad=True)
    source = xt * 1 if inplace else xt
    generator = np.random.default_rng(7)
    out = getattr(dc.nn.functional, name)(source, p, inplace=inplace, generator=generator)
    out.backward(dc.tensor(upstream))
    return out.detach().numpy(), xt.grad.numpy()


def expected_dropout(x, upstream, p, mask_shape=None):
    """The mask as descent has always drawn it: float32 uniforms from the generator, kept
    where >= p, scaled by 1 / (1 - p) rounded to x's dtype."""
    draws = np.random.default_rng(7).random(mask_shape or x.shape, dtype=np.float32)
    scale = np.multiply(draws >= p, x.dtype.type(1 / (1 - p)), dtype=x.dtype)
    return x * scale, upstream * scale


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 5, 7, 11), (1,), (2, 1, 13)], ids=str)
@pytest.mark.parametrize("p", [0.25, 0.5])
def test_compiled_dropout_draws_and_scales_as_the_reference(
    shape, p, dtype, monkeypatch, jit_on, kernel_calls
):
    x, upstream = awkward(shape, dtype, 0), awkward(shape, dtype, 1)
    expected_out, expected_grad = expected_dropout(x, upstream, p)
    for threshold, compiled in ((0, True), (1 << 62, False)):
        monkeypatch.setattr(elementwise, "JIT_MIN_ELEMENTS", threshold)
        kernel_calls.clear()
        for inplace in (False, True):
            out, grad = seeded_dropout(x, upstream, p, inplace)
            same_bits(out, expected_out)
            same_bits(grad, expected_grad)
        assert kernel_calls == (["dropout_scale"] * 4 if compiled else [])


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_dropout2d_draws_one_per_channel_on_the_reference_path(monkeypatch, jit_on):
    monkeypatch.setattr(elementwise, "JIT_MIN_ELEMENTS", 0)
    x, upstream = awkward((3, 4, 5, 6), np.float32, 2), awkward((3, 4, 5, 6), np.float32, 3)
    out, grad = seeded_dropout(x, upstream, 0.5, name="dropout2d")
    expected_out, expected_grad = expected_dropout(x, upstream, 0.5, mask_shape=(3, 4, 1, 1))
    same_bits(out, expected_out)
    same_bits(grad, expected_grad)
