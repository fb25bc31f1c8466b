"""The compiled 2x2 pools (descent/ops/pool_kernels.py) against the NumPy reference in
pool.py, bit for bit, and both against torch: values and gradients, odd sizes, ceil_mode,
padding, NaNs and ties."""

import numpy as np
import pytest
import torch

import descent as dc
from descent import jit
from descent.ops import pool

pytest.importorskip("numba")

CASES = {
    "max 2x2, 8x8": ("max_pool2d", (2, 3, 8, 8), {}),
    "max 2x2, odd 7x9": ("max_pool2d", (3, 2, 7, 9), {}),
    "max 2x2 ceil_mode, 7x7": ("max_pool2d", (2, 3, 7, 7), {"ceil_mode": True}),
    "max 2x2 padding 1, 7x6": ("max_pool2d", (2, 2, 7, 6), {"padding": 1}),
    "max 2x2 padding 1 ceil_mode, 5x7": (
        "max_pool2d", (1, 3, 5, 7), {"padding": 1, "ceil_mode": True},
    ),
    "avg 2x2, 8x8": ("avg_pool2d", (2, 3, 8, 8), {}),
    "avg 2x2, odd 7x9": ("avg_pool2d", (3, 2, 7, 9), {}),
    "avg 2x2 ceil_mode, 7x7": ("avg_pool2d", (2, 3, 7, 7), {"ceil_mode": True}),
    "avg 2x2 padding 1 ceil_mode, no pad count": (
        "avg_pool2d", (2, 2, 7, 6), {"padding": 1, "ceil_mode": True, "count_include_pad": False},
    ),
    "avg 2x2 divisor_override 3": ("avg_pool2d", (2, 2, 6, 5), {"divisor_override": 3}),
}  # fmt: skip


def inputs(shape, seed=0):
    """Post-ReLU-like input (ties at 0 in many windows) with a NaN and a window of equal
    values, and an upstream gradient."""
    rng = np.random.default_rng(seed)
    x = np.maximum(rng.standard_normal(shape, dtype=np.float32), 0)
    x[0, 0, 0, 0] = np.nan
    x[-1, -1, 2:4, 2:4] = 1.5
    return x


def run(lib, name, x, grad_seed, **options):
    """The pool's output, input gradient (for a seeded upstream gradient) and, in descent,
    whether it ran compiled."""
    xt = lib.tensor(x, requires_grad=True)
    out = getattr(lib.nn.functional, name)(xt, 2, **options)
    compiled = getattr(out.grad_fn, "compiled", None)  # read before backward frees the node
    upstream = np.random.default_rng(grad_seed).standard_normal(tuple(out.shape))
    out.backward(lib.tensor(upstream.astype(np.float32)))
    return out.detach().numpy(), xt.grad.numpy(), compiled


def pooled(name, x, compiled: bool, monkeypatch, **options):
    monkeypatch.setattr(pool, "JIT_MIN_ELEMENTS", 0 if compiled else 1 << 62)
    out, grad, ran_compiled = run(dc, name, x, 1, **options)
    assert ran_compiled is compiled
    return out, grad


@pytest.mark.parametrize("case", CASES)
def test_compiled_pool_equals_the_reference_and_torch(case, monkeypatch, jit_on):
    name, shape, options = CASES[case]
    x = inputs(shape)
    out, grad = pooled(name, x, True, monkeypatch, **options)
    reference_out, reference_grad = pooled(name, x, False, monkeypatch, **options)
    np.testing.assert_array_equal(out, reference_out)
    np.testing.assert_array_equal(grad, reference_grad)
    expected_out, expected_grad, _ = run(torch, name, x, 1, **options)
    np.testing.assert_allclose(out, expected_out, rtol=1e-6)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-6, atol=1e-7)


def test_compiled_max_pool_indices_are_torchs(monkeypatch, jit_on):
    monkeypatch.setattr(pool, "JIT_MIN_ELEMENTS", 0)
    x = inputs((2, 3, 7, 9))
    _, indices = dc.nn.functional.max_pool2d(dc.tensor(x), 2, ceil_mode=True, return_indices=True)
    _, expected = torch.nn.functional.max_pool2d(
        torch.tensor(x), 2, ceil_mode=True, return_indices=True
    )
    np.testing.assert_array_equal(indices.numpy(), expected.numpy())


def test_infinite_upstream_gradient_stays_on_the_winners(monkeypatch, jit_on):
    monkeypatch.setattr(pool, "JIT_MIN_ELEMENTS", 0)
    x = dc.tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4), requires_grad=True)
    dc.nn.functional.max_pool2d(x, 2).backward(dc.full((1, 1, 2, 2), float("inf")))
    assert np.isinf(x.grad.numpy()).sum() == 4 and not np.isnan(x.grad.numpy()).any()


@pytest.mark.parametrize(
    "options",
    [{"kernel_size": 3}, {"kernel_size": 2, "stride": 1}, {"kernel_size": 2, "dilation": 2}],
)
def test_other_geometries_and_small_inputs_run_the_reference(options, monkeypatch, jit_on):
    x = dc.tensor(inputs((2, 2, 9, 9)), requires_grad=True)
    monkeypatch.setattr(pool, "JIT_MIN_ELEMENTS", 0)
    assert not dc.nn.functional.max_pool2d(x, **options)._ctx.compiled
    monkeypatch.setattr(pool, "JIT_MIN_ELEMENTS", x.numel() + 1)
    assert not dc.nn.functional.max_pool2d(x, 2)._ctx.compiled


def test_half_precision_runs_the_reference(monkeypatch, jit_on):
    monkeypatch.setattr(pool, "JIT_MIN_ELEMENTS", 0)
    x = inputs((2, 2, 8, 8))
    out = dc.nn.functional.max_pool2d(dc.tensor(x, dtype=dc.float16, requires_grad=True), 2)
    assert not out.grad_fn.compiled
    expected = torch.nn.functional.max_pool2d(torch.tensor(x), 2).numpy().astype(np.float16)
    np.testing.assert_array_equal(out.detach().numpy(), expected)


def test_descent_jit_0_runs_the_reference(monkeypatch, jit_on):
    monkeypatch.setattr(pool, "JIT_MIN_ELEMENTS", 0)
    monkeypatch.setenv("DESCENT_JIT", "0")
    jit.available.cache_clear()
    x = dc.tensor(inputs((2, 2, 8, 8)), requires_grad=True)
    assert not dc.nn.functional.avg_pool2d(x, 2)._ctx.compiled
