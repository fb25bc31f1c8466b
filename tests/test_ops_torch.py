"""Every op's forward and gradient against PyTorch's, as property tests over shapes and values."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import (
    array_shapes,
    arrays,
    basic_indices,
    mutually_broadcastable_shapes,
    valid_tuple_axes,
)

import descent as dc

FAST = settings(max_examples=30, deadline=None)
SEEDS = st.integers(0, 2**32 - 1)
SHAPES = array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4)
# Fixed broadcasting cases that every binary op runs, besides the drawn ones.
BROADCAST_CASES = [((3, 1), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3)), ((5,), (1,)), ((2, 3), ())]


def values(low=-3.0, high=3.0):
    """Reals, half the time small integers, so that zeros and ties are common."""
    integers = [v for v in (-2.0, -1.0, 0.0, 1.0, 2.0) if low <= v <= high]
    return st.one_of(st.sampled_from(integers), st.floats(low, high, allow_subnormal=False))


POSITIVE = st.one_of(st.sampled_from([0.5, 1.0, 2.0]), st.floats(0.1, 3.0))
NONZERO = st.one_of(st.floats(0.3, 3.0), st.floats(-3.0, -0.3), st.sampled_from([-1.0, 2.0]))


def float_arrays(shape, elements=None):
    return arrays(np.float64, shape, elements=values() if elements is None else elements)


def several(shapes, elements=None):
    return st.tuples(*[float_arrays(shape, elements) for shape in shapes])


def helper_test_op(inputs, descent_fn, torch_fn=None, seed=0, rtol=1e-9, atol=1e-12):
    """Run both libraries on the same arrays; the output and every input's gradient must agree.

    Every array in `inputs` becomes a leaf that requires grad; indices, masks
    and options travel in the functions' closures. Both outputs are
    backpropagated with one random upstream gradient drawn from `seed`.
    """
    torch_fn = descent_fn if torch_fn is None else torch_fn
    ours = [dc.tensor(a, dtype=a.dtype, requires_grad=True) for a in inputs]
    theirs = [torch.tensor(a, requires_grad=True) for a in inputs]
    out, expected = descent_fn(*ours), torch_fn(*theirs)
    expected_data = expected.detach().numpy()
    assert out.shape == expected_data.shape, "forward shape"
    assert out.dtype == expected_data.dtype, "forward dtype"
    np.testing.assert_allclose(out.data, expected_data, rtol=rtol, atol=atol, err_msg="forward")

    upstream = np.asarray(np.random.default_rng(seed).standard_normal(out.shape), out.dtype)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    for i, (leaf, reference) in enumerate(zip(ours, theirs)):
        want = np.zeros(leaf.shape) if reference.grad is None else reference.grad.numpy()
        got = np.zeros(leaf.shape) if leaf.grad is None else leaf.grad
        assert got.shape == leaf.shape and got.dtype == leaf.dtype, f"input {i}: grad's form"
        np.testing.assert_allclose(
            got, want, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}"
        )


def all_axes(x):
    return tuple(range(x.ndim))


# -- elementwise ----------------------------------------------------------------------

UNARY = {
    "neg": (lambda x: -x, None, values()),
    "abs": (abs, None, values()),
    "exp": (lambda x: x.exp(), None, values()),
    "log": (lambda x: x.log(), None, POSITIVE),
    "sqrt": (lambda x: x.sqrt(), None, POSITIVE),
    "tanh": (lambda x: x.tanh(), None, values(-6.0, 6.0)),
    "sigmoid": (lambda x: x.sigmoid(), None, values(-12.0, 12.0)),
    "relu": (lambda x: x.relu(), None, values()),
    "leaky_relu": (dc.ops.leaky_relu, F.leaky_relu, values()),
    "leaky_relu 0.3": (
        lambda x: dc.ops.leaky_relu(x, 0.3),
        lambda x: F.leaky_relu(x, 0.3),
        values(),
    ),
    "gelu": (dc.ops.gelu, F.gelu, values(-5.0, 5.0)),
    "gelu tanh": (
        lambda x: dc.ops.gelu(x, approximate="tanh"),
        lambda x: F.gelu(x, approximate="tanh"),
        values(-5.0, 5.0),
    ),
    "softplus": (dc.ops.softplus, F.softplus, values(-30.0, 30.0)),
    # Integer inputs land on beta * x == threshold, where both switch to the linear branch.
    "softplus beta 2 threshold 2": (
        lambda x: dc.ops.softplus(x, beta=2.0, threshold=2.0),
        lambda x: F.softplus(x, beta=2.0, threshold=2.0),
        values(),
    ),
    "softplus beta 0.5 threshold 1": (
        lambda x: dc.ops.softplus(x, beta=0.5, threshold=1.0),
        lambda x: F.softplus(x, beta=0.5, threshold=1.0),
        values(),
    ),
    "scalar operands": (lambda x: (2.5 - x) * 1.5 + x / 4 - 0.5, None, values()),
    "scalar over tensor": (lambda x: 3.0 / x, None, NONZERO),
    "scalar ** tensor": (lambda x: 2.0**x + 0.5**x, None, values()),
}


@pytest.mark.parametrize("name", list(UNARY))
@FAST
@given(data=st.data(), seed=SEEDS)
def test_unary(name, data, seed):
    descent_fn, torch_fn, elements = UNARY[name]
    shape = data.draw(array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    x = data.draw(float_arrays(shape, elements))
    helper_test_op([x], descent_fn, torch_fn, seed)


BINARY = {
    "add": (lambda a, b: a + b, None, values()),
    "sub": (lambda a, b: a - b, None, values()),
    "mul": (lambda a, b: a * b, None, values()),
    "div": (lambda a, b: a / b, None, NONZERO),
    "pow": (lambda a, b: a**b, None, values(-2.0, 2.0)),
    "maximum": (dc.maximum, torch.maximum, values()),
    "minimum": (dc.minimum, torch.minimum, values()),
}


def binary_inputs(name, shapes):
    """Operands drawn for the op: a pow's base is positive, a divisor is away from 0."""
    first = POSITIVE if name == "pow" else values()
    return st.tuples(float_arrays(shapes[0], first), float_arrays(shapes[1], BINARY[name][2]))


DRAWN_PAIRS = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4)


@pytest.mark.parametrize("name", list(BINARY))
@FAST
@given(data=st.data(), seed=SEEDS)
def test_binary(name, data, seed):
    shapes = data.draw(
        st.one_of(
            st.sampled_from(BROADCAST_CASES), DRAWN_PAIRS.map(lambda drawn: drawn.input_shapes)
        )
    )
    a, b = data.draw(binary_inputs(name, shapes))
    descent_fn, torch_fn, _ = BINARY[name]
    helper_test_op([a, b], descent_fn, torch_fn, seed)


@pytest.mark.parametrize("shapes", BROADCAST_CASES, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_fixed_broadcasts_with_ties(name, shapes):
    rng = np.random.default_rng(0)
    a = np.asarray(rng.integers(1 if name == "pow" else -1, 3, size=shapes[0]), np.float64)
    b = np.asarray(rng.integers(1, 3, size=shapes[1]), np.float64)
    if name not in ("div", "pow"):
        b = -b  # meets a's -1s: ties for maximum and minimum
    descent_fn, torch_fn, _ = BINARY[name]
    helper_test_op([a, b], descent_fn, torch_fn, seed=1)


EXPONENTS = [0.0, 1.0, 2.0, 3.0, -1.0, -2.0, 0.5, 1.5, -0.5]


@FAST
@given(x=float_arrays(SHAPES), exponent=st.sampled_from(EXPONENTS), seed=SEEDS)
@example(x=np.array([0.0, 1.5, -2.0]), exponent=0.0, seed=0)  # torch: d(x**0)/dx = 0
def test_pow_scalar_exponent(x, exponent, seed):
    if exponent < 0 and exponent == int(exponent):
        x = np.where(x == 0, 1.0, x)  # 0 ** -1 is inf in both: no information
    elif exponent != int(exponent):
        x = np.abs(x) + 0.1  # a fractional power of a negative number is nan
    helper_test_op([x], lambda t: t**exponent, seed=seed)


@FAST
@given(data=st.data(), seed=SEEDS)
def test_pow_zero_base(data, seed):
    """torch sets d(x**y)/dy = 0 where x == 0 and y >= 0; y == 0 is test_pow_scalar_exponent's."""
    shapes = data.draw(DRAWN_PAIRS).input_shapes
    x = data.draw(float_arrays(shapes[0], st.sampled_from([0.0, 1.0, 2.0])))
    y = data.draw(float_arrays(shapes[1], st.sampled_from([1.0, 2.0, 3.0])))
    helper_test_op([x, y], lambda a, b: a**b, seed=seed)


@FAST
@given(data=st.data(), seed=SEEDS)
def test_clip(data, seed):
    """Integer values land on the bounds, where both let the gradient through."""
    x = data.draw(float_arrays(SHAPES))
    bounds = st.none() | st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0])
    low, high = data.draw(bounds), data.draw(bounds)
    if low is None and high is None:
        high = 1.0
    elif low is not None and high is not None and low > high:
        low, high = high, low
    helper_test_op([x], lambda t: dc.clip(t, low, high), lambda t: torch.clamp(t, low, high), seed)


@FAST
@given(data=st.data(), seed=SEEDS)
def test_where(data, seed):
    shapes = data.draw(mutually_broadcastable_shapes(num_shapes=3, max_dims=4, max_side=4))
    condition = data.draw(arrays(np.bool_, shapes.input_shapes[0]))
    x, y = data.draw(several(shapes.input_shapes[1:]))
    helper_test_op(
        [x, y],
        lambda a, b: dc.where(condition, a, b),
        lambda a, b: torch.where(torch.from_numpy(condition), a, b),
        seed,
    )
    helper_test_op(
        [x],
        lambda a: dc.where(condition, 0.5, a),
        lambda a: torch.where(torch.from_numpy(condition), 0.5, a),
        seed,
    )


@FAST
@given(data=st.data(), seed=SEEDS)
def test_astype(data, seed):
    x = data.draw(float_arrays(SHAPES))
    helper_test_op(
        [x],
        lambda t: t.astype("float32") * 3.0,
        lambda t: t.to(torch.float32) * 3.0,
        seed,
        rtol=1e-6,
        atol=1e-6,
    )
    helper_test_op([x], lambda t: t.astype("float64"), lambda t: t.to(torch.float64), seed)
    x32 = x.astype(np.float32)
    helper_test_op(
        [x32], lambda t: t.astype("float64"), lambda t: t.to(torch.float64), seed, rtol=1e-6
    )


# -- matmul ---------------------------------------------------------------------------


@st.composite
def matmul_operands(draw):
    """1-d operands or matrices with broadcast batch dimensions, as numpy.matmul allows."""
    m, k, n = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batches = draw(mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    batch_a, batch_b = batches.input_shapes
    a = (k,) if draw(st.booleans()) else batch_a + (m, k)
    b = (k,) if draw(st.booleans()) else batch_b + (k, n)
    return draw(several([a, b]))


@FAST
@given(operands=matmul_operands(), seed=SEEDS)
@example(operands=(np.arange(3.0), np.arange(3.0) - 1), seed=0)
@example(operands=(np.arange(3.0), np.ones((2, 3, 4))), seed=0)
@example(operands=(np.ones((2, 1, 3, 4)), np.arange(40.0).reshape(5, 4, 2)), seed=0)
@example(operands=(np.ones((2, 3, 4)), np.arange(4.0)), seed=0)
def test_matmul(operands, seed):
    helper_test_op(list(operands), lambda a, b: a @ b, seed=seed)


# -- reductions -----------------------------------------------------------------------


def axes_for(ndim):
    """None, an int or a tuple of distinct axes (possibly negative), never the empty tuple."""
    if ndim == 0:
        return st.none()
    return st.one_of(st.none(), st.integers(-ndim, ndim - 1), valid_tuple_axes(ndim, min_size=1))


REDUCTIONS = {
    "sum": (lambda x, a, k: x.sum(a, k), lambda t, a, k: t.sum(a, keepdim=k)),
    "mean": (lambda x, a, k: x.mean(a, k), lambda t, a, k: t.mean(a, keepdim=k)),
    "max": (lambda x, a, k: x.amax(a, k), lambda t, a, k: torch.amax(t, a, keepdim=k)),
    "min": (lambda x, a, k: x.amin(a, k), lambda t, a, k: torch.amin(t, a, keepdim=k)),
    "logsumexp": (
        lambda x, a, k: x.logsumexp(a, k),
        lambda t, a, k: torch.logsumexp(t, a, keepdim=k),
    ),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@FAST
@given(data=st.data(), seed=SEEDS)
def test_reduction(name, data, seed):
    x = data.draw(float_arrays(SHAPES))
    axis, keepdims = data.draw(axes_for(x.ndim)), data.draw(st.booleans())
    descent_fn, torch_fn = REDUCTIONS[name]
    dims = all_axes(x) if axis is None else axis  # torch has no axis=None for all of these
    helper_test_op(
        [x], lambda t: descent_fn(t, axis, keepdims), lambda t: torch_fn(t, dims, keepdims), seed
    )


@FAST
@given(data=st.data(), seed=SEEDS)
def test_var(data, seed):
    x = data.draw(float_arrays(SHAPES))
    axis, keepdims = data.draw(axes_for(x.ndim)), data.draw(st.booleans())
    axes = all_axes(x) if axis is None else (axis,) if isinstance(axis, int) else axis
    count = math.prod(x.shape[a] for a in axes)
    ddof = data.draw(st.integers(0, min(2, count - 1)))
    helper_test_op(
        [x],
        lambda t: t.var(axis, keepdim=keepdims, correction=ddof),
        lambda t: torch.var(t, axis, correction=ddof, keepdim=keepdims),
        seed,
    )


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@FAST
@given(data=st.data(), seed=SEEDS)
def test_softmax(name, data, seed):
    x = data.draw(float_arrays(array_shapes(min_dims=1, max_dims=4, max_side=4), values(-8, 8)))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    helper_test_op(
        [x],
        lambda t: getattr(t, name)(axis),
        lambda t: getattr(torch, name)(t, axis),
        seed,
    )


@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("name", ["sum", "max", "logsumexp", "softmax", "log_softmax"])
def test_axis_0_and_minus_1_of_a_0d_tensor(name, axis):
    """torch takes dim 0 or -1 on a 0-d tensor (softmax's default is -1)."""
    helper_test_op(
        [np.array(1.5)],
        lambda t: getattr(t, name if name != "max" else "amax")(axis),
        lambda t: getattr(torch, name if name != "max" else "amax")(t, axis),
        seed=2,
    )


# -- shapes ---------------------------------------------------------------------------


@st.composite
def reshape_target(draw, shape):
    """Another shape of the same size, with one -1 sometimes."""
    size, factors, p = math.prod(shape), [], 2
    while size > 1:
        while size % p == 0:
            factors.append(p)
            size //= p
        p += 1
    target = [1] * draw(st.integers(0 if not factors else 1, 4))
    for factor in factors:
        target[draw(st.integers(0, len(target) - 1))] *= factor
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return tuple(target)


@FAST
@given(data=st.data(), seed=SEEDS)
def test_reshape(data, seed):
    x = data.draw(float_arrays(SHAPES))
    target = data.draw(reshape_target(x.shape))
    helper_test_op([x], lambda t: t.reshape(target), seed=seed)


@FAST
@given(data=st.data(), seed=SEEDS)
def test_transpose(data, seed):
    x = data.draw(float_arrays(SHAPES))
    perm = data.draw(st.none() | st.permutations(range(x.ndim)).map(tuple))
    if perm is not None:
        perm = tuple(a - x.ndim if data.draw(st.booleans()) else a for a in perm)
    reverse = tuple(reversed(range(x.ndim)))
    helper_test_op(
        [x],
        lambda t: t.permute(perm) if perm is not None else t.T,
        lambda t: t.permute(reverse if perm is None else perm),
        seed,
    )


@FAST
@given(data=st.data(), seed=SEEDS)
def test_flatten(data, seed):
    x = data.draw(float_arrays(SHAPES))
    start, end = 0, -1
    if x.ndim:
        start, end = sorted(data.draw(st.lists(st.integers(0, x.ndim - 1), min_size=2, max_size=2)))
        start -= x.ndim * data.draw(st.booleans())
        end -= x.ndim * data.draw(st.booleans())
    helper_test_op([x], lambda t: t.flatten(start, end), lambda t: t.flatten(start, end), seed)


@FAST
@given(data=st.data(), seed=SEEDS)
def test_squeeze(data, seed):
    x = data.draw(float_arrays(array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3)))
    ones = [a for a, size in enumerate(x.shape) if size == 1]
    axis = None
    if ones and data.draw(st.booleans()):
        axis = tuple(data.draw(st.lists(st.sampled_from(ones), min_size=1, unique=True)))
        axis = axis[0] - x.ndim if len(axis) == 1 and data.draw(st.booleans()) else axis
    helper_test_op(
        [x],
        lambda t: t.squeeze(axis),
        lambda t: t.squeeze() if axis is None else t.squeeze(axis),
        seed,
    )


@FAST
@given(data=st.data(), seed=SEEDS)
def test_expand_dims(data, seed):
    x = data.draw(float_arrays(SHAPES))
    count = data.draw(st.integers(1, 2))
    ndim = x.ndim + count
    positions = data.draw(
        st.lists(st.integers(0, ndim - 1), min_size=count, max_size=count, unique=True)
    )
    axis = tuple(p - ndim if data.draw(st.booleans()) else p for p in positions)
    axis = axis[0] if count == 1 else axis

    def unsqueeze(t):
        for p in sorted(positions):
            t = t.unsqueeze(p)
        return t

    helper_test_op([x], lambda t: t.expand_dims(axis), unsqueeze, seed)


@FAST
@given(data=st.data(), seed=SEEDS)
def test_broadcast_to(data, seed):
    target = data.draw(SHAPES)
    kept = data.draw(st.integers(0, len(target)))
    source = tuple(1 if data.draw(st.booleans()) else s for s in target[len(target) - kept :])
    x = data.draw(float_arrays(source))
    helper_test_op([x], lambda t: t.broadcast_to(target), lambda t: t.expand(target), seed)


@FAST
@given(data=st.data(), seed=SEEDS)
def test_concatenate_and_stack(data, seed):
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, max_side=3))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    shapes = [shape[: axis % len(shape)] + (n,) + shape[axis % len(shape) + 1 :] for n in sizes]
    parts = data.draw(several(shapes))
    helper_test_op(
        list(parts), lambda *ts: dc.concatenate(ts, axis), lambda *ts: torch.cat(ts, axis), seed
    )
    same = data.draw(several([shape] * len(sizes)))
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    helper_test_op(
        list(same), lambda *ts: dc.stack(ts, axis), lambda *ts: torch.stack(ts, axis), seed
    )


@FAST
@given(data=st.data(), seed=SEEDS)
def test_pad(data, seed):
    x = data.draw(float_arrays(array_shapes(min_dims=1, max_dims=3, max_side=3)))
    widths = data.draw(
        st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=x.ndim, max_size=x.ndim)
    )
    value = data.draw(st.sampled_from([0.0, -1.5]))
    flat = [w for pair in reversed(widths) for w in pair]  # torch: last axis first
    helper_test_op(
        [x], lambda t: dc.ops.pad(t, widths, value), lambda t: F.pad(t, flat, value=value), seed
    )


# -- indexing -------------------------------------------------------------------------


def torch_take(t, index):
    """`t[index]` with NumPy's meaning (negative steps too): gather through flat positions."""
    positions = np.arange(t.numel()).reshape(tuple(t.shape))[index]
    return t.reshape(-1)[torch.from_numpy(np.array(positions))]  # a copy: no negative strides


@FAST
@given(data=st.data(), seed=SEEDS)
def test_basic_indexing(data, seed):
    x = data.draw(float_arrays(SHAPES))
    index = data.draw(basic_indices(x.shape, allow_newaxis=True))
    helper_test_op([x], lambda t: t[index], lambda t: torch_take(t, index), seed)


@FAST
@given(data=st.data(), seed=SEEDS)
def test_integer_array_indexing(data, seed):
    """Repeated indices must accumulate their gradients."""
    x = data.draw(float_arrays(array_shapes(min_dims=1, max_dims=3, max_side=4)))
    n = x.shape[0]
    first = data.draw(
        arrays(
            np.int64,
            array_shapes(min_dims=1, max_dims=2, max_side=5),
            elements=st.integers(-n, n - 1),
        )
    )
    index = first
    if x.ndim > 1 and data.draw(st.booleans()):
        m = x.shape[1]
        second = data.draw(arrays(np.int64, first.shape[-1:], elements=st.integers(-m, m - 1)))
        index = data.draw(st.sampled_from([(first, second), (slice(None), second)]))
    as_torch = tuple(
        torch.from_numpy(p) if isinstance(p, np.ndarray) else p
        for p in (index if isinstance(index, tuple) else (index,))
    )
    helper_test_op([x], lambda t: t[index], lambda t: t[as_torch], seed)
    listed = first.ravel().tolist()  # torch reads a nested list as a tuple: keep it flat
    helper_test_op([x], lambda t: t[listed], lambda t: t[listed], seed)


@FAST
@given(data=st.data(), seed=SEEDS)
def test_boolean_mask_indexing(data, seed):
    x = data.draw(float_arrays(array_shapes(min_dims=1, max_dims=3, max_side=4)))
    leading = data.draw(st.integers(1, x.ndim))
    mask = data.draw(arrays(np.bool_, x.shape[:leading]))
    helper_test_op([x], lambda t: t[mask], lambda t: t[torch.from_numpy(mask)], seed)


def test_sigmoid_keeps_relative_precision_in_the_tail():
    """sigmoid(-30) is about 9.4e-14; float64 holds it to 16 digits, and torch does."""
    x = np.linspace(-40.0, 40.0, 81)
    helper_test_op([x], lambda t: t.sigmoid(), seed=0, atol=0.0)
