"""Every op's gradient against central finite differences in float64, on random shapes."""

import zlib

import numpy as np
import pytest

import descent as dc
from descent.autograd import GradcheckError, gradcheck


def away_from_kinks(shape, rng, low=-2.0, high=2.0, margin=0.1):
    """Random values kept `margin` away from 0, where relu, abs and friends have kinks."""
    values = rng.uniform(low, high, size=shape)
    values[np.abs(values) < margin] += 2 * margin
    return values


def positive(shape, rng):
    return rng.uniform(0.5, 2.0, size=shape)


def distinct(shape, rng):
    """A permutation of well-separated values: no ties for max, min, maximum or minimum."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * 0.37 - size * 0.15).reshape(shape)


def inside_unit(shape, rng):
    """Values in (-0.9, 0.9): the domain of asin and acos, away from its ends."""
    return rng.uniform(-0.9, 0.9, size=shape)


def set_rows(a, b):
    """`x[1:] = b * 2` on a non-leaf: the written rows take b's gradient, the rest a's."""
    x = a * 1.0
    x[1:] = b * 2.0
    return (x * x).sum()


def write_through_view(a):
    """A write through a view of a non-leaf reaches its base, in values and gradients."""
    x = a * 1.0
    x.view(-1)[:3].mul_(a[0, :3])
    return (x * x).sum()


def in_place_chain(a):
    x = a * 2.0  # not a.exp(): exp saves its output, and changing that in place is an error
    x.add_(1.0).mul_(a).div_(2.0)
    x -= a
    return x


# (name, function of tensors, input shapes, value generator)
CASES = [
    ("sin", lambda a: a.sin(), [(3, 4)], away_from_kinks),
    ("cos", lambda a: a.cos(), [(3, 4)], away_from_kinks),
    ("tan", lambda a: a.tan(), [(3, 4)], inside_unit),
    ("sinh cosh", lambda a: a.sinh() + a.cosh(), [(3, 4)], away_from_kinks),
    ("asin acos", lambda a: a.asin() * a.acos(), [(3, 4)], inside_unit),
    ("atan", lambda a: a.atan(), [(3, 4)], away_from_kinks),
    ("atan2", lambda a, b: dc.atan2(a, b), [(3, 4), (3, 4)], away_from_kinks),
    ("exp2 log2 log10", lambda a: a.exp2() + a.log2() * a.log10(), [(3, 4)], positive),
    ("log1p expm1", lambda a: a.log1p() * a.expm1(), [(3, 4)], positive),
    ("rsqrt reciprocal", lambda a: a.rsqrt() + a.reciprocal(), [(3, 4)], positive),
    ("square", lambda a: a.square(), [(3, 4)], away_from_kinks),
    ("erf", lambda a: a.erf(), [(3, 4)], away_from_kinks),
    (
        "floor ceil round sign",
        lambda a: a * (a.floor() + a.ceil() + a.round() + a.sign()),
        [(3, 4)],
        away_from_kinks,
    ),  # fmt: skip
    (
        "fmod remainder",
        lambda a, b: dc.fmod(a, b) + dc.remainder(a, b),
        [(3, 4), (3, 4)],
        positive,
    ),  # fmt: skip
    ("prod dim", lambda a: a.prod(1), [(3, 4)], away_from_kinks),
    (
        "prod all with a zero",
        lambda a: (a * dc.tensor([0.0, 1.0, 1.0], dc.float64)).prod(),
        [(3,)],
        away_from_kinks,
    ),  # fmt: skip
    ("cumsum", lambda a: a.cumsum(1), [(3, 4)], away_from_kinks),
    ("cumprod", lambda a: a.cumprod(0), [(3, 4)], positive),
    ("std", lambda a: a.std(0), [(5, 3)], away_from_kinks),
    ("norm", lambda a: a.norm() + a.norm(1, dim=1).sum(), [(3, 4)], away_from_kinks),
    (
        "gather",
        lambda a: a.gather(1, dc.tensor([[0, 0], [3, 1], [2, 2]])),
        [(3, 4)],
        away_from_kinks,
    ),  # fmt: skip
    (
        "index_select",
        lambda a: a.index_select(0, dc.tensor([2, 0, 2])),
        [(3, 4)],
        away_from_kinks,
    ),  # fmt: skip
    ("masked_fill", lambda a: a.masked_fill(a > 0, 0.5), [(3, 4)], away_from_kinks),
    (
        "sort values",
        lambda a: a.sort(1, descending=True).values * dc.arange(4.0),
        [(3, 4)],
        distinct,
    ),  # fmt: skip
    ("topk values", lambda a: a.topk(2).values, [(3, 4)], distinct),
    (
        "view unsqueeze permute",
        lambda a: a.view(2, 6).unsqueeze(0).permute(2, 0, 1),
        [(3, 4)],
        away_from_kinks,
    ),  # fmt: skip
    (
        "transpose expand repeat",
        lambda a: a.transpose(0, 1).expand(2, 4, 3) + a.repeat(1, 2).T[:4],
        [(3, 4)],
        away_from_kinks,
    ),  # fmt: skip
    (
        "flip narrow chunk",
        lambda a: a.flip(0).narrow(1, 1, 2) * a.chunk(2, 1)[0],
        [(3, 4)],
        away_from_kinks,
    ),  # fmt: skip
    (
        "split unbind",
        lambda a: a.split([1, 3], 1)[1].sum(1) * a.unbind(1)[0],
        [(3, 4)],
        away_from_kinks,
    ),  # fmt: skip
    ("clone contiguous", lambda a: a.t().contiguous().clone(), [(3, 4)], away_from_kinks),
    ("setitem on a non-leaf", set_rows, [(3, 4), (4,)], away_from_kinks),
    ("in-place through a view", write_through_view, [(3, 4)], away_from_kinks),
    ("in-place chain", in_place_chain, [(3, 4)], away_from_kinks),
    ("max dim values", lambda a: a.max(dim=1).values, [(2, 3, 4)], distinct),
    ("add", lambda a, b: a + b, [(3, 4), (3, 4)], away_from_kinks),
    ("add broadcast", lambda a, b: a + b, [(3, 1), (4,)], away_from_kinks),
    ("sub broadcast", lambda a, b: a - b, [(2, 3, 4), (3, 1)], away_from_kinks),
    ("mul broadcast", lambda a, b: a * b, [(2, 1, 4), (3, 1)], away_from_kinks),
    ("div", lambda a, b: a / b, [(3, 4), (4,)], positive),
    ("pow tensor", lambda a, b: a**b, [(3, 4), (3, 4)], positive),
    ("pow scalar", lambda a: a**3, [(5,)], away_from_kinks),
    ("rpow", lambda a: 2.0**a, [(5,)], away_from_kinks),
    ("rsub rdiv", lambda a: (1.0 - a) + 3.0 / a, [(2, 3)], positive),
    ("neg", lambda a: -a, [(4,)], away_from_kinks),
    ("abs", lambda a: abs(a), [(3, 4)], away_from_kinks),
    ("exp", dc.exp, [(3, 4)], away_from_kinks),
    ("log", dc.log, [(3, 4)], positive),
    ("sqrt", dc.sqrt, [(3, 4)], positive),
    ("tanh", dc.tanh, [(3, 4)], away_from_kinks),
    ("sigmoid", dc.sigmoid, [(3, 4)], away_from_kinks),
    ("relu", dc.relu, [(3, 4)], away_from_kinks),
    ("leaky_relu", lambda a: dc.ops.leaky_relu(a, 0.2), [(3, 4)], away_from_kinks),
    ("gelu", dc.ops.gelu, [(3, 4)], away_from_kinks),
    ("gelu tanh", lambda a: dc.ops.gelu(a, approximate="tanh"), [(3, 4)], away_from_kinks),
    ("softplus", lambda a: dc.ops.softplus(a, beta=2.0, threshold=3.0), [(3, 4)], away_from_kinks),
    ("maximum", dc.maximum, [(3, 4), (4,)], distinct),
    ("minimum", dc.minimum, [(3, 1), (3, 4)], distinct),
    ("clip", lambda a: dc.clip(a, -1.0, 1.0), [(3, 4)], distinct),
    ("where", lambda a, b: dc.where(a.data > 0, a, b), [(3, 4), (4,)], away_from_kinks),
    ("sum all", lambda a: a.sum(), [(3, 4)], away_from_kinks),
    ("sum axis", lambda a: a.sum(axis=1), [(2, 3, 4)], away_from_kinks),
    (
        "sum axes keepdims",
        lambda a: a.sum(axis=(0, 2), keepdims=True),
        [(2, 3, 4)],
        away_from_kinks,
    ),
    ("mean axis", lambda a: a.mean(axis=-1), [(2, 3, 4)], away_from_kinks),
    ("var", lambda a: a.var(axis=0, ddof=1), [(5, 3)], away_from_kinks),
    ("max all", lambda a: a.max(), [(3, 4)], distinct),
    ("amax axis", lambda a: a.amax(1, keepdim=True), [(2, 3, 4)], distinct),
    ("amin axis", lambda a: a.amin(0), [(3, 4)], distinct),
    ("min dim values", lambda a: a.min(0)[0], [(3, 4)], distinct),
    ("logsumexp", lambda a: a.logsumexp(axis=1), [(3, 4)], away_from_kinks),
    ("softmax", lambda a: a.softmax(axis=0), [(3, 4)], away_from_kinks),
    ("log_softmax", lambda a: a.log_softmax(), [(3, 4)], away_from_kinks),
    (
        "reshape",
        lambda a: a.reshape(4, 3) * dc.arange(3.0, dtype="float64"),
        [(3, 4)],
        away_from_kinks,
    ),
    ("transpose", lambda a: a.permute(2, 0, 1), [(2, 3, 4)], away_from_kinks),
    ("T", lambda a: a.T, [(2, 3)], away_from_kinks),
    ("flatten", lambda a: a.flatten(1), [(2, 3, 4)], away_from_kinks),
    ("squeeze", lambda a: a.squeeze(1), [(3, 1, 4)], away_from_kinks),
    ("expand_dims", lambda a: a.expand_dims(0), [(3, 4)], away_from_kinks),
    ("broadcast_to", lambda a: a.broadcast_to((2, 3, 4)), [(3, 1)], away_from_kinks),
    (
        "concatenate",
        lambda a, b: dc.cat([a, b, a], dim=1),
        [(2, 3), (2, 1)],
        away_from_kinks,
    ),
    ("stack", lambda a, b: dc.stack([a, b], dim=1), [(2, 3), (2, 3)], away_from_kinks),
    ("getitem basic", lambda a: a[1:, ::2, None], [(3, 4)], away_from_kinks),
    ("getitem repeated", lambda a: a[[0, 2, 0, 0]], [(3, 4)], away_from_kinks),
    ("getitem pairs", lambda a: a[np.arange(3), np.array([1, 3, 1])], [(3, 4)], away_from_kinks),
    ("getitem mask", lambda a: a[a.data > 0], [(3, 4)], away_from_kinks),
    ("pad", lambda a: dc.ops.pad(a, ((1, 0), (2, 1)), value=0.5), [(2, 3)], away_from_kinks),
    ("matmul", dc.matmul, [(3, 4), (4, 5)], away_from_kinks),
    ("matmul vector left", dc.matmul, [(4,), (4, 5)], away_from_kinks),
    ("matmul vector right", dc.matmul, [(2, 3, 4), (4,)], away_from_kinks),
    ("matmul vectors", dc.matmul, [(4,), (4,)], away_from_kinks),
    ("matmul batch broadcast", dc.matmul, [(2, 1, 3, 4), (5, 4, 2)], away_from_kinks),
    ("astype round trip", lambda a: (a.astype("float32") * 2).astype("float64"), [(3,)], distinct),
]


@pytest.mark.parametrize("name, fn, shapes, values", CASES, ids=[case[0] for case in CASES])
def test_gradient_matches_finite_differences(name, fn, shapes, values):
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # hash() is salted per process
    inputs = [
        dc.tensor(values(shape, rng), dtype="float64", requires_grad=True) for shape in shapes
    ]
    eps = 1e-3 if name == "astype round trip" else 1e-6  # float32 inside: coarser steps
    assert gradcheck(fn, inputs, eps=eps, atol=1e-5, rtol=1e-4)


def test_gradcheck_reports_input_element_and_both_values():
    def wrong_square(x):
        return (x * x.detach()).sum()  # drops half of the gradient

    x = dc.tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
    with pytest.raises(
        GradcheckError, match=r"input 0 element \(0,\): analytic gradient 1, numeric 2"
    ):
        gradcheck(wrong_square, [x])


def test_gradcheck_refuses_float32_inputs():
    x = dc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        gradcheck(dc.exp, [x])
