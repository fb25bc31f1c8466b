"""Every op's gradient against central finite differences in float64, on random shapes."""

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


# (name, function of tensors, input shapes, value generator)
CASES = [
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
    ("max dim values", lambda a: a.max(dim=1).values, [(2, 3, 4)], distinct),
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
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
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
