"""The model grammar and the ready-made networks."""

import numpy as np
import pytest

import descent as dc
from descent import nn
from descent.nn.models import build_model, format_model, parse_model


@pytest.mark.parametrize(
    "spec, parsed",
    [
        ("mlp", {"kind": "mlp", "hidden": [128], "activation": "relu"}),
        ("mlp:128,64", {"kind": "mlp", "hidden": [128, 64], "activation": "relu"}),
        ("mlp:128,64:tanh", {"kind": "mlp", "hidden": [128, 64], "activation": "tanh"}),
        ("mlp:gelu", {"kind": "mlp", "hidden": [128], "activation": "gelu"}),
        ("linear", {"kind": "linear", "hidden": [], "activation": "relu"}),
        ("lenet:tanh", {"kind": "lenet", "hidden": [], "activation": "tanh"}),
        ({"kind": "mlp", "hidden": [8]}, {"kind": "mlp", "hidden": [8], "activation": "relu"}),
    ],
)
def test_grammar(spec, parsed):
    assert parse_model(spec) == parsed
    assert parse_model(format_model(parsed)) == parsed


@pytest.mark.parametrize(
    "spec, message",
    [
        ("mpl:64", "unknown model 'mpl'; did you mean 'mlp'"),
        ("mlp:64,x", "hidden widths must be whole numbers"),
        ("mlp:0", "hidden widths must be at least 1"),
        ("mlp:-3", "hidden widths must be at least 1, got -3"),
        ("mlp:", "a hidden width is missing"),
        ("mlp:64,", "a hidden width is missing"),
        ("mlp:1000000000", "over the bound of 65536 units"),
        ({"kind": "mlp", "hidden": [2.5]}, "hidden widths must be whole numbers"),
        ({"kind": "mlp", "hidden": []}, "an mlp needs at least one hidden width"),
        ("mlp:64:tanh:relu", "too many ':' parts"),
        ("linear:64", "only mlp takes hidden widths"),
        ("mlp:64:sigmoidd", "unknown activation 'sigmoidd'; did you mean 'sigmoid'"),
        ("__import__('os')", "unknown model"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_model(spec)


def test_too_many_weights_fail_before_allocating():
    with pytest.raises(ValueError, match=r"would hold 129,000,008,320 weights \(481 GiB"):
        build_model("mlp:128", (64,), 1_000_000_000)


def test_mlp_layers_and_output():
    model = build_model("mlp:32,16:tanh", (64,), 10)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 32), (32, 16), (16, 10)]
    assert sum(isinstance(m, nn.Tanh) for m in model.modules()) == 2
    assert model(dc.zeros(5, 64)).shape == (5, 10)


def test_linear_flattens_images():
    model = build_model("linear", (1, 8, 8), 3)
    assert model(dc.zeros(2, 1, 8, 8)).shape == (2, 3)


@pytest.mark.parametrize("shape", [(64,), (8, 8), (1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_lenet_fits_any_image_size(shape):
    model = build_model("lenet", shape, 10)
    out = model(dc.tensor(np.random.default_rng(0).normal(size=(2, *shape)).astype(np.float32)))
    assert out.shape == (2, 10)


def test_lenet_refuses_what_is_not_an_image():
    with pytest.raises(ValueError, match="10 features are not a square image"):
        build_model("lenet", (10,), 2)
    with pytest.raises(ValueError, match="at least 4x4"):
        build_model("lenet", (1, 3, 3), 2)
