"""conv2d, max_pool2d and avg_pool2d: gradcheck, parity with torch.nn.functional, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import descent as dc
from descent.autograd import gradcheck
from descent.errors import ShapeError
from descent.ops import conv as conv_module
from descent.ops.conv import conv2d
from descent.ops.pool import avg_pool2d, max_pool2d

# (name, x shape, weight shape, bias, stride, padding, dilation, groups)
CONV_CASES = [
    ("plain", (2, 3, 6, 5), (4, 3, 3, 3), True, 1, 0, 1, 1),
    ("no bias", (1, 2, 5, 5), (3, 2, 2, 2), False, 1, 0, 1, 1),
    ("padding", (2, 2, 4, 5), (3, 2, 3, 3), True, 1, 1, 1, 1),
    ("stride 2", (2, 2, 7, 6), (2, 2, 3, 3), True, 2, 0, 1, 1),
    ("stride pair, padding pair", (1, 2, 6, 7), (3, 2, 3, 2), True, (2, 1), (1, 2), 1, 1),
    ("dilation", (1, 2, 7, 7), (2, 2, 3, 3), True, 1, 1, 2, 1),
    ("dilation pair, stride", (2, 1, 8, 7), (2, 1, 2, 3), True, 2, (0, 1), (3, 1), 1),
    ("groups", (2, 4, 5, 5), (6, 2, 3, 3), True, 1, 1, 1, 2),
    ("depthwise", (1, 3, 5, 4), (3, 1, 3, 3), True, 1, 1, 1, 3),
    ("1x1", (2, 3, 4, 4), (5, 3, 1, 1), True, 1, 0, 1, 1),
    ("kernel fills the input", (2, 2, 3, 3), (2, 2, 3, 3), True, 1, 0, 1, 1),
    ("stride larger than kernel", (1, 2, 7, 7), (2, 2, 2, 2), False, 3, 1, 1, 1),
]

WHOLE_BATCH_CASES = [case for case in CONV_CASES if case[0] in ("stride 2", "groups")]

# (name, op, x shape, kernel_size, stride, padding)
POOL_CASES = [
    ("max 2x2", "max", (2, 3, 6, 6), 2, None, 0),
    ("max 3x3 stride 2 padding 1", "max", (2, 2, 7, 6), 3, 2, 1),
    ("max overlapping", "max", (1, 2, 5, 5), 3, 1, 0),
    ("max pairs", "max", (1, 2, 7, 8), (3, 2), (2, 1), (1, 0)),
    ("max odd size", "max", (2, 1, 5, 7), 2, None, 0),
    ("avg 2x2", "avg", (2, 3, 6, 6), 2, None, 0),
    ("avg 3x3 stride 2 padding 1", "avg", (2, 2, 7, 6), 3, 2, 1),
    ("avg overlapping", "avg", (1, 2, 5, 5), 3, 1, 0),
    ("avg pairs", "avg", (1, 2, 7, 8), (3, 2), (2, 1), (0, 1)),
]

POOLS = {"max": (max_pool2d, F.max_pool2d), "avg": (avg_pool2d, F.avg_pool2d)}


def conv_inputs(case, rng):
    _, x_shape, w_shape, bias, *_ = case
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[0]))
    return arrays


def conv_fn(case):
    *_, stride, padding, dilation, groups = case

    def fn(x, weight, bias=None):
        return conv2d(x, weight, bias, stride, padding, dilation, groups)

    def torch_fn(x, weight, bias=None):
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups)

    return fn, torch_fn


def distinct(shape, rng):
    """A permutation of well-separated values: no ties inside a max-pool window."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * 0.37 - size * 0.15).reshape(shape)


def check_against_torch(fn, torch_fn, arrays, rng, requires_grad=None):
    """Forward and every input's gradient, under a random upstream gradient, equal torch's."""
    requires_grad = requires_grad or [True] * len(arrays)
    ours = [dc.tensor(a, dtype="float64", requires_grad=r) for a, r in zip(arrays, requires_grad)]
    theirs = [torch.tensor(a, requires_grad=r) for a, r in zip(arrays, requires_grad)]
    out, expected = fn(*ours), torch_fn(*theirs)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    upstream = rng.standard_normal(expected.shape)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    for i, (mine, reference) in enumerate(zip(ours, theirs)):
        if reference.grad is None:
            assert mine.grad is None, f"input {i} got a gradient it does not need"
            continue
        assert mine.grad.shape == mine.shape and mine.grad.dtype == np.float64
        np.testing.assert_allclose(
            mine.grad, reference.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"input {i}"
        )


def rng_for(name: str) -> np.random.Generator:
    return np.random.default_rng(sum(map(ord, name)))


# -- conv2d -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv2d_gradcheck(case):
    rng = rng_for(case[0])
    inputs = [dc.tensor(a, dtype="float64", requires_grad=True) for a in conv_inputs(case, rng)]
    assert gradcheck(conv_fn(case)[0], inputs, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv2d_matches_torch(case):
    rng = rng_for(case[0])
    check_against_torch(*conv_fn(case), conv_inputs(case, rng), rng)


@pytest.mark.parametrize(
    "requires_grad",
    [[False, False, True], [False, True, False], [True, False, True]],
    ids=["bias only", "weight only", "input and bias"],
)
@pytest.mark.parametrize("case", WHOLE_BATCH_CASES, ids=[c[0] for c in WHOLE_BATCH_CASES])
def test_conv2d_any_subset_of_gradients_matches_torch(case, requires_grad):
    """The whole-batch path folds the bias into its product (a row of ones in the columns)
    and takes the bias's gradient from the weight's product: each asked alone is right."""
    _, x_shape, w_shape, _, *geometry, _ = case
    stride, padding, dilation = (conv_module.pair(value, "", "") for value in geometry)
    out_size = conv_module.output_size("", x_shape, w_shape[2:], stride, padding, dilation)
    x, weight = np.empty(x_shape), np.empty(w_shape)
    assert not conv_module.runs_in_chunks(x, weight, stride, out_size)
    rng = rng_for(case[0])
    check_against_torch(*conv_fn(case), conv_inputs(case, rng), rng, requires_grad)


def test_conv2d_first_layer_skips_the_input_gradient(monkeypatch):
    def fail(*args):
        raise AssertionError("computed an input gradient that no one needs")

    monkeypatch.setattr(conv_module, "add_columns", fail)
    rng = np.random.default_rng(0)
    case = CONV_CASES[2]
    arrays = conv_inputs(case, rng)
    check_against_torch(*conv_fn(case), arrays, rng, requires_grad=[False, True, True])


def test_conv2d_float32_in_float32_out():
    rng = np.random.default_rng(1)
    x = dc.tensor(rng.standard_normal((2, 3, 8, 8)), dc.float32, requires_grad=True)
    weight = dc.tensor(rng.standard_normal((4, 3, 3, 3)), dc.float32, requires_grad=True)
    bias = dc.tensor(rng.standard_normal(4), dc.float32, requires_grad=True)
    out = conv2d(x, weight, bias, padding=1)
    assert out.dtype == np.float32 and out.shape == (2, 4, 8, 8)
    out.sum().backward()
    for t in (x, weight, bias):
        assert t.grad.dtype == np.float32 and t.grad.shape == t.shape
    expected = F.conv2d(
        *(torch.from_numpy(t.detach().numpy()) for t in (x, weight, bias)), padding=1
    )
    np.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-4, atol=1e-4)


def test_conv2d_under_no_grad_builds_no_graph():
    x = dc.randn(1, 1, 4, 4)
    weight = dc.tensor(np.ones((1, 1, 2, 2), np.float32), requires_grad=True)
    with dc.no_grad():
        out = conv2d(x, weight)
    assert not out.requires_grad and out.shape == (1, 1, 3, 3)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 2),
    groups=st.integers(1, 2),
    c_per_group=st.integers(1, 2),
    c_out_per_group=st.integers(1, 2),
    size=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv2d_matches_torch_on_drawn_geometry(
    n, groups, c_per_group, c_out_per_group, size, kernel, stride, padding, dilation, bias, seed
):
    for axis in (0, 1):  # keep the dilated kernel inside the padded input
        assume(dilation[axis] * (kernel[axis] - 1) + 1 <= size[axis] + 2 * padding[axis])
    rng = np.random.default_rng(seed)
    c_in, c_out = groups * c_per_group, groups * c_out_per_group
    case = ("drawn", (n, c_in, *size), (c_out, c_per_group, *kernel), bias)
    case += (stride, padding, dilation, groups)
    check_against_torch(*conv_fn(case), conv_inputs(case, rng), rng)


# -- pooling ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pool_gradcheck(case):
    name, op, shape, kernel, stride, padding = case
    x = dc.tensor(distinct(shape, rng_for(name)), dtype="float64", requires_grad=True)
    pool = POOLS[op][0]
    assert gradcheck(lambda t: pool(t, kernel, stride, padding), [x], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "integer ties"])
@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pool_matches_torch(case, ties):
    name, op, shape, kernel, stride, padding = case
    rng = rng_for(name)
    # Small integers make many windows hold their maximum twice or more: torch gives the
    # gradient to the first of them in row-major order, and so must descent.
    x = rng.integers(-2, 3, shape).astype(float) if ties else rng.standard_normal(shape)
    ours, theirs = POOLS[op]
    check_against_torch(
        lambda t: ours(t, kernel, stride, padding),
        lambda t: theirs(t, kernel, stride, padding),
        [x],
        rng,
    )


@settings(max_examples=25, deadline=None)
@given(
    op=st.sampled_from(["max", "avg"]),
    size=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    padding=st.tuples(st.integers(0, 1), st.integers(0, 1)),
    ties=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_pool_matches_torch_on_drawn_geometry(op, size, kernel, stride, padding, ties, seed):
    for axis in (0, 1):  # torch's limits: padding at most half the kernel, kernel inside
        assume(2 * padding[axis] <= kernel[axis] <= size[axis] + 2 * padding[axis])
    rng = np.random.default_rng(seed)
    shape = (2, 2, *size)
    x = rng.integers(-1, 2, shape).astype(float) if ties else rng.standard_normal(shape)
    ours, theirs = POOLS[op]
    check_against_torch(
        lambda t: ours(t, kernel, stride, padding),
        lambda t: theirs(t, kernel, stride, padding),
        [x],
        rng,
    )


def test_max_pool2d_all_equal_window_sends_the_gradient_to_its_first_element():
    x = dc.tensor(np.ones((1, 1, 2, 4)), dtype="float64", requires_grad=True)
    max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [[[[1, 0, 1, 0], [0, 0, 0, 0]]]])


def test_max_pool2d_propagates_nan_like_torch():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = x[0, 0, 3, 3] = np.nan
    rng = np.random.default_rng(3)
    check_against_torch(lambda t: max_pool2d(t, 2), lambda t: F.max_pool2d(t, 2), [x], rng)


def test_max_pool2d_keeps_an_infinite_gradient_on_the_winner_only():
    x = dc.tensor([[[[1.0, 2.0], [3.0, 0.0]]]], dtype="float64", requires_grad=True)
    max_pool2d(x, 2).backward(np.full((1, 1, 1, 1), np.inf))
    np.testing.assert_array_equal(x.grad, [[[[0, 0], [np.inf, 0]]]])


def test_pools_keep_float32():
    x = dc.randn(2, 3, 6, 6, requires_grad=True)
    for pool in (max_pool2d, avg_pool2d):
        x.grad = None
        out = pool(x, 2)
        out.sum().backward()
        assert out.dtype == np.float32 and x.grad.dtype == np.float32


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: conv2d(dc.zeros(3, 28, 28), dc.zeros(6, 1, 5, 5)),
            r"conv2d: input of shape \(3, 28, 28\) must be 4-d \(N, C, H, W\)",
        ),
        (
            lambda: conv2d(dc.zeros(1, 1, 8, 8), dc.zeros(6, 5, 5)),
            r"conv2d: weight of shape \(6, 5, 5\)",
        ),
        (
            lambda: conv2d(dc.zeros(8, 3, 28, 28), dc.zeros(6, 1, 5, 5)),
            r"conv2d: input has 3 channels, weight expects 1 \(in_channels \* groups",
        ),
        (
            lambda: conv2d(dc.zeros(1, 4, 8, 8), dc.zeros(6, 1, 3, 3), groups=4),
            r"conv2d: groups=4 must divide .* output channels \(6\)",
        ),
        (
            lambda: conv2d(dc.zeros(1, 6, 8, 8), dc.zeros(4, 2, 3, 3), groups=4),
            r"conv2d: groups=4 must divide the input channels \(6\)",
        ),
        (
            lambda: conv2d(dc.zeros(1, 1, 4, 4), dc.zeros(1, 1, 5, 5), padding=0),
            r"conv2d: the kernel 5x5 is larger than the padded input 4x4 \(input \(1, 1, 4, 4\)",
        ),
        (
            lambda: conv2d(dc.zeros(1, 1, 4, 4), dc.zeros(1, 1, 3, 3), dilation=2),
            r"conv2d: the kernel 3x3 with dilation=\(2, 2\) spans 5x5, is larger",
        ),
        (
            lambda: conv2d(dc.zeros(1, 1, 4, 4), dc.zeros(2, 1, 3, 3), dc.zeros(3)),
            r"conv2d: bias of shape \(3,\) must be \(2,\)",
        ),
        (
            lambda: conv2d(dc.zeros(1, 1, 4, 4), dc.zeros(1, 1, 3, 3), stride=0),
            r"conv2d: stride=\(0, 0\)",
        ),
        (
            lambda: conv2d(dc.zeros(1, 1, 4, 4), dc.zeros(1, 1, 3, 3), padding=(1, 2, 3)),
            r"conv2d: padding=\(1, 2, 3\) must be an int or a pair",
        ),
        (
            lambda: max_pool2d(dc.zeros(6, 28, 28), 2),
            r"max_pool2d: input of shape \(6, 28, 28\) must be 4-d",
        ),
        (
            lambda: max_pool2d(dc.zeros(1, 1, 3, 3), 4),
            r"max_pool2d: the kernel 4x4 is larger than the padded input 3x3",
        ),
        (
            lambda: avg_pool2d(dc.zeros(1, 1, 8, 8), 2, padding=2),
            r"avg_pool2d: padding=\(2, 2\) must be >= 0 and at most half the kernel size",
        ),
        (
            lambda: avg_pool2d(dc.zeros(1, 1, 8, 8), 2, stride=0),
            r"avg_pool2d: kernel_size=\(2, 2\)",
        ),
    ],
)
def test_bad_arguments_raise_a_shape_error_naming_op_and_shapes(call, message):
    with pytest.raises(ShapeError, match=message):
        call()


@pytest.mark.parametrize("lib", [dc, torch], ids=["descent", "torch"])
@pytest.mark.parametrize("dims", [1, 2])
def test_input_and_weight_of_different_dtypes_are_refused_as_torch_refuses_them(lib, dims):
    # whatever the layer's size: a silent cast would depend on which path runs
    conv = lib.nn.functional.conv1d if dims == 1 else lib.nn.functional.conv2d
    x = lib.randn(2, 8, *(20,) * dims)
    weight = lib.randn(4, 8, *(3,) * dims, dtype=lib.float64)
    with pytest.raises(RuntimeError):
        conv(x, weight)
    with pytest.raises(RuntimeError):
        conv(x, weight.float(), lib.zeros(4, dtype=lib.float64))
