"""Layers and nn.functional against torch: Conv1d, ConvTranspose2d, 1-d and adaptive pools,
Dropout2d, LogSoftmax, LazyLinear, BCE, SmoothL1 and KL losses, one_hot, pad, dtype=/device=.

Each layer case builds the layer in both libraries, copies torch's initial weights into
descent's, runs one input through both and compares the output and the gradients of the
input and of every parameter; each new op is gradchecked in float64.
"""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import descent as dc
from descent import nn
from descent.autograd import gradcheck
from descent.errors import ShapeError
from descent.nn import functional as F

F64 = {"dtype": dc.float64}
T64 = {"dtype": torch.float64}


def distinct(shape, rng):
    """Well-separated values in random order: no ties inside a max-pool window."""
    size = int(np.prod(shape))
    return (rng.permutation(size) - size / 2) * 0.37


def normal(shape, rng):
    return rng.standard_normal(shape)


def assert_same_layer(ours, theirs, x, rtol=1e-10, atol=1e-10, call=None):
    """Equal state_dict keys, then, from torch's weights, the same output and gradients."""
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    dtype = next(iter(theirs.parameters())).dtype if list(theirs.parameters()) else None
    x_ours = dc.tensor(x, dtype=str(dtype).removeprefix("torch.") if dtype else None)
    x_ours.requires_grad_()
    x_theirs = torch.tensor(x_ours.detach().numpy(), requires_grad=True)
    call = call or (lambda module, t: module(t))
    out, expected = call(ours, x_ours), call(theirs, x_theirs)
    assert out.dtype == x_ours.dtype and out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol, atol)
    upstream = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype)
    out.backward(dc.tensor(upstream))
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(x_ours.grad.numpy(), x_theirs.grad.numpy(), rtol, atol)
    theirs_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        assert param.dtype == x_ours.dtype, name
        np.testing.assert_allclose(
            param.grad.numpy(), theirs_params[name].grad.numpy(), rtol, atol, err_msg=name
        )


# (name, factory taking nn (descent.nn or torch.nn) and dtype keywords, input shape, values)
LAYERS = [
    ("conv1d", lambda nn, kw: nn.Conv1d(3, 4, 3, **kw), (2, 3, 9), normal),
    ("conv1d stride padding dilation groups",
     lambda nn, kw: nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2, **kw),
     (2, 4, 11), normal),
    ("conv1d same even kernel", lambda nn, kw: nn.Conv1d(2, 3, 4, padding="same", **kw),
     (2, 2, 7), normal),
    ("conv1d valid no bias", lambda nn, kw: nn.Conv1d(2, 3, 2, padding="valid", bias=False, **kw),
     (1, 2, 5), normal),
    ("conv1d reflect", lambda nn, kw: nn.Conv1d(2, 3, 3, padding=2, padding_mode="reflect", **kw),
     (2, 2, 6), normal),
    ("conv1d circular",
     lambda nn, kw: nn.Conv1d(2, 3, 3, padding=1, padding_mode="circular", **kw), (2, 2, 6),
     normal),
    ("conv1d unbatched", lambda nn, kw: nn.Conv1d(3, 2, 3, padding=1, **kw), (3, 8), normal),
    ("conv2d replicate same",
     lambda nn, kw: nn.Conv2d(2, 3, (3, 2), padding="same", padding_mode="replicate", **kw),
     (2, 2, 5, 6), normal),
    ("conv2d unbatched", lambda nn, kw: nn.Conv2d(2, 3, 3, stride=2, **kw), (2, 7, 6), normal),
    ("conv transpose2d", lambda nn, kw: nn.ConvTranspose2d(3, 2, 3, **kw), (2, 3, 4, 5), normal),
    ("conv transpose2d stride output_padding",
     lambda nn, kw: nn.ConvTranspose2d(2, 4, (3, 2), stride=2, padding=1, output_padding=1,
                                       **kw), (2, 2, 4, 3), normal),
    ("conv transpose2d groups dilation no bias",
     lambda nn, kw: nn.ConvTranspose2d(4, 6, 3, stride=(1, 2), groups=2, dilation=2,
                                       bias=False, **kw), (1, 4, 3, 4), normal),
    ("conv transpose2d unbatched", lambda nn, kw: nn.ConvTranspose2d(2, 3, 2, stride=2, **kw),
     (2, 3, 3), normal),
    ("maxpool1d", lambda nn, kw: nn.MaxPool1d(2), (2, 3, 9), distinct),
    ("maxpool1d stride padding dilation ceil",
     lambda nn, kw: nn.MaxPool1d(3, 2, 1, dilation=2, ceil_mode=True), (2, 3, 10), distinct),
    ("maxpool2d dilation ceil",
     lambda nn, kw: nn.MaxPool2d((3, 2), (2, 1), 1, dilation=(1, 2), ceil_mode=True),
     (1, 2, 7, 8), distinct),
    ("avgpool1d", lambda nn, kw: nn.AvgPool1d(3), (2, 3, 10), normal),
    ("avgpool1d exclude pad ceil",
     lambda nn, kw: nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False),
     (2, 3, 10), normal),
    ("avgpool2d divisor_override", lambda nn, kw: nn.AvgPool2d(2, divisor_override=3),
     (2, 2, 6, 5), normal),
    ("adaptive avgpool1d dividing", lambda nn, kw: nn.AdaptiveAvgPool1d(5), (2, 3, 10), normal),
    ("adaptive avgpool1d overlapping", lambda nn, kw: nn.AdaptiveAvgPool1d(4), (2, 3, 10), normal),
    ("adaptive avgpool1d growing", lambda nn, kw: nn.AdaptiveAvgPool1d(7), (2, 3, 5), normal),
    ("adaptive avgpool2d", lambda nn, kw: nn.AdaptiveAvgPool2d((3, 4)), (2, 3, 7, 9), normal),
    ("adaptive avgpool2d dividing", lambda nn, kw: nn.AdaptiveAvgPool2d(2), (2, 3, 6, 4), normal),
    ("adaptive avgpool2d none unbatched", lambda nn, kw: nn.AdaptiveAvgPool2d((None, 3)),
     (3, 5, 7), normal),
    ("dropout2d eval", lambda nn, kw: nn.Dropout2d(0.5).eval(), (2, 3, 4, 4), normal),
    ("logsoftmax", lambda nn, kw: nn.LogSoftmax(dim=1), (3, 5), normal),
    ("logsoftmax 3-d", lambda nn, kw: nn.LogSoftmax(-1), (2, 3, 4), normal),
    ("linear float64", lambda nn, kw: nn.Linear(4, 3, **kw), (5, 4), normal),
    ("conv1d classifier", lambda nn, kw: nn.Sequential(
        nn.Conv1d(1, 4, 5, padding=2, **kw), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(4, 8, 3, **kw), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
        nn.Linear(8, 3, **kw), nn.LogSoftmax(dim=1)), (4, 1, 20), normal),
]  # fmt: skip


@pytest.mark.parametrize("name, build, shape, values", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch_in_float64(name, build, shape, values):
    rng = np.random.default_rng(sum(map(ord, name)))
    torch.manual_seed(0)
    x = values(shape, rng).reshape(shape)
    assert_same_layer(build(nn, F64), build(torch.nn, T64), x)


@pytest.mark.parametrize("index", [0, 1, 9, 10, 29])
def test_layer_matches_torch_in_float32(index):
    name, build, shape, values = LAYERS[index]
    rng = np.random.default_rng(index)
    torch.manual_seed(0)
    x = values(shape, rng).reshape(shape).astype(np.float32)
    assert_same_layer(build(nn, {}), build(torch.nn, {}), x, rtol=1e-5, atol=1e-5)


def test_conv_transpose2d_output_size_picks_the_output_padding():
    torch.manual_seed(0)
    ours, theirs = (
        nn.ConvTranspose2d(2, 3, 3, stride=2, **F64),
        torch.nn.ConvTranspose2d(2, 3, 3, stride=2, **T64),
    )
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    call = lambda m, t: m(t, output_size=[1, 3, 10, 9])  # noqa: E731
    assert_same_layer(ours, theirs, x, call=call)
    with pytest.raises(ValueError, match="valid sizes"):
        ours(dc.zeros(1, 2, 4, 4, **F64), output_size=(11, 9))


@pytest.mark.parametrize("lib", [torch, dc], ids=["torch", "descent"])
def test_changing_a_conv_weight_before_backward_raises(lib):
    for layer, x in [(lib.nn.Conv1d(2, 3, 3), lib.ones(1, 2, 5)),
                     (lib.nn.ConvTranspose2d(2, 3, 3), lib.ones(1, 2, 4, 4))]:  # fmt: skip
        loss = layer(x).sum()
        with lib.no_grad():
            layer.weight.mul_(2.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()


def test_max_pool_return_indices_match_torch():
    x = distinct((2, 3, 7, 8), np.random.default_rng(0)).reshape(2, 3, 7, 8)
    for grad in (False, True):
        out, indices = F.max_pool2d(
            dc.tensor(x, requires_grad=grad), 3, 2, 1, dilation=(1, 2), return_indices=True
        )
        _, expected = TF.max_pool2d(torch.tensor(x), 3, 2, 1, dilation=(1, 2), return_indices=True)
        assert indices.dtype == np.int64 and np.array_equal(indices.numpy(), expected.numpy())
    out, indices = nn.MaxPool1d(3, 2, return_indices=True)(dc.tensor(x.reshape(2, 3, 56)))
    _, expected = torch.nn.MaxPool1d(3, 2, return_indices=True)(torch.tensor(x.reshape(2, 3, 56)))
    assert np.array_equal(indices.numpy(), expected.numpy())


def test_lazy_linear_infers_in_features_and_becomes_a_linear():
    ours, theirs = nn.LazyLinear(3, **F64), torch.nn.LazyLinear(3, **T64)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]
    assert repr(ours) == repr(theirs) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    weight = ours.weight
    optimizer = dc.optim.SGD(ours.parameters(), lr=0.1)  # made before the first call
    x = np.random.default_rng(0).standard_normal((4, 5))
    ours(dc.tensor(x)), theirs(torch.tensor(x))
    assert type(ours) is nn.Linear and ours.in_features == 5 and ours.weight is weight
    assert ours.weight.shape == (3, 5) and ours.weight.dtype == np.float64
    bound = 1 / np.sqrt(5)
    assert np.abs(ours.weight.detach().numpy()).max() <= bound
    assert repr(ours) == repr(theirs)
    assert_same_layer(ours, theirs, x)
    optimizer.step()  # the optimizer sees the materialised parameters
    assert not np.allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy())
    fresh = nn.LazyLinear(3, **F64)
    fresh.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert type(fresh) is nn.Linear and fresh.weight.shape == (3, 5)


def test_embedding_max_norm_and_from_pretrained_match_torch():
    table = np.random.default_rng(0).standard_normal((6, 3)) * 2
    indices = np.array([[0, 2], [2, 5]])
    ours = nn.Embedding.from_pretrained(dc.tensor(table), freeze=False, max_norm=1.5)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(table), freeze=False, max_norm=1.5)
    assert repr(ours) == repr(theirs) and ours.weight.requires_grad
    out, expected = ours(dc.tensor(indices)), theirs(torch.tensor(indices))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), 1e-12)
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), 1e-12)
    frozen = nn.Embedding.from_pretrained(dc.tensor(table))
    assert not frozen.weight.requires_grad


# -- losses ----------------------------------------------------------------------------------


def probabilities(shape, rng):
    return rng.uniform(0.05, 0.95, shape)


def log_probabilities(shape, rng):
    return np.log(rng.dirichlet(np.ones(shape[-1]), shape[:-1]))


# (name, descent loss, torch loss, input values, target values)
LOSSES = [
    ("bce", lambda: nn.BCELoss(), lambda: torch.nn.BCELoss(), probabilities, probabilities),
    ("bce sum weight", lambda: nn.BCELoss(dc.tensor(np.arange(1.0, 5.0)), reduction="sum"),
     lambda: torch.nn.BCELoss(torch.arange(1.0, 5.0, dtype=torch.float64), reduction="sum"),
     probabilities, probabilities),
    ("bce none", lambda: nn.BCELoss(reduction="none"),
     lambda: torch.nn.BCELoss(reduction="none"), probabilities, probabilities),
    ("smooth l1", lambda: nn.SmoothL1Loss(), lambda: torch.nn.SmoothL1Loss(), normal, normal),
    ("smooth l1 beta sum", lambda: nn.SmoothL1Loss(reduction="sum", beta=0.5),
     lambda: torch.nn.SmoothL1Loss(reduction="sum", beta=0.5), normal, normal),
    ("smooth l1 beta 0", lambda: nn.SmoothL1Loss(beta=0.0),
     lambda: torch.nn.SmoothL1Loss(beta=0.0), normal, normal),
    ("kl batchmean", lambda: nn.KLDivLoss(reduction="batchmean"),
     lambda: torch.nn.KLDivLoss(reduction="batchmean"), log_probabilities, probabilities),
    ("kl sum log_target", lambda: nn.KLDivLoss(reduction="sum", log_target=True),
     lambda: torch.nn.KLDivLoss(reduction="sum", log_target=True), log_probabilities,
     log_probabilities),
    ("kl none", lambda: nn.KLDivLoss(reduction="none"),
     lambda: torch.nn.KLDivLoss(reduction="none"), log_probabilities, probabilities),
]  # fmt: skip


@pytest.mark.parametrize("name, ours, theirs, x_values, t_values", LOSSES,
                         ids=[c[0] for c in LOSSES])  # fmt: skip
def test_loss_matches_torch_with_both_gradients(name, ours, theirs, x_values, t_values):
    rng = np.random.default_rng(sum(map(ord, name)))
    x, t = x_values((3, 4), rng), t_values((3, 4), rng)
    if name == "kl none":
        t[0, 0] = 0.0  # t log t is 0 at t = 0
    ours_x, ours_t = dc.tensor(x, requires_grad=True), dc.tensor(t, requires_grad=True)
    theirs_x, theirs_t = torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)
    out, expected = ours()(ours_x, ours_t), theirs()(theirs_x, theirs_t)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), 1e-10, 1e-12)
    upstream = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(dc.tensor(upstream))
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), 1e-10, 1e-12)
    if name != "kl none":  # torch's xlogy has no gradient at t = 0
        np.testing.assert_allclose(ours_t.grad.numpy(), theirs_t.grad.numpy(), 1e-10, 1e-12)
    assert repr(ours()) == repr(theirs())


def test_bce_at_probabilities_0_and_1_is_finite_like_torch():
    x, t = np.array([0.0, 1.0, 1.0, 0.0, 0.5]), np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    for dtype in ("float64", "float32"):
        ours = dc.tensor(x, dtype=dtype, requires_grad=True)
        theirs = torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)
        losses = F.binary_cross_entropy(ours, dc.tensor(t, dtype=dtype), reduction="none")
        target = torch.tensor(t, dtype=theirs.dtype)
        expected = TF.binary_cross_entropy(theirs, target, reduction="none")
        losses.sum().backward()
        expected.sum().backward()
        np.testing.assert_allclose(losses.detach().numpy(), expected.detach().numpy(), 1e-6)
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), 1e-6)
        assert ours.grad.dtype == dtype


def test_kl_div_mean_warns_as_torch_and_legacy_flags_pick_the_reduction():
    x, t = dc.tensor([[-1.0, -2.0]]), dc.tensor([[0.3, 0.7]])
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(x, t)
    with pytest.warns(UserWarning, match="size_average and reduce"):
        loss = nn.SmoothL1Loss(size_average=False)
    assert loss.reduction == "sum"
    with pytest.warns(UserWarning):
        assert F.mse_loss(x, t, reduce=False).shape == (1, 2)
    with pytest.raises(ValueError, match="reduction='batch' must be"):
        nn.KLDivLoss(reduction="batch")


# -- functional ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pad, mode, value, shape",
    [
        ((1, 2), "constant", None, (2, 3)),
        ((1, 0, 2, 1), "constant", 1.5, (2, 3, 4)),
        ((-1, 2, 0, -1), "constant", 9.0, (2, 3, 4)),
        ((1, 1, 1, 1, 1, 1), "constant", None, (2, 3, 4)),
        ((2, 1), "reflect", None, (2, 3, 4)),
        ((1, 2, 2, 0), "reflect", None, (1, 2, 3, 4)),
        ((2, 3, 1, 1), "replicate", None, (1, 2, 3, 4)),
        ((1, 0, 1, 2, 2, 1), "replicate", None, (1, 2, 3, 4, 3)),
        ((3, 1, 2, 2), "circular", None, (1, 2, 3, 4)),
    ],
)
def test_pad_matches_torch(pad, mode, value, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    ours, theirs = dc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = F.pad(ours, pad, mode, value), TF.pad(theirs, pad, mode, value)
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    upstream = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(dc.tensor(upstream))
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), 1e-12, 1e-12)


def test_one_hot_matches_torch_and_refuses_like_it():
    labels = np.array([[0, 2], [1, 4]])
    for classes in (-1, 6):
        expected = TF.one_hot(torch.tensor(labels), classes).numpy()
        out = F.one_hot(dc.tensor(labels), classes)
        assert out.dtype == np.int64 and np.array_equal(out.numpy(), expected)
    with pytest.raises(RuntimeError, match="int64"):
        F.one_hot(dc.tensor(labels, dtype="int32"))
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(dc.tensor([1, -1]))
    with pytest.raises(RuntimeError, match="smaller than num_classes=3"):
        F.one_hot(dc.tensor([1, 3]), 3)
    with pytest.raises(RuntimeError, match="empty"):
        F.one_hot(dc.tensor(np.zeros(0, np.int64)))


def test_softmax_without_dim_picks_torchs_dim_and_warns():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    for ours_fn, theirs_fn in [(F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax)]:
        with pytest.warns(UserWarning, match="Implicit dimension"):
            out = ours_fn(dc.tensor(x))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = theirs_fn(torch.tensor(x))
        np.testing.assert_allclose(out.numpy(), expected.numpy(), 1e-12)
    out = F.log_softmax(dc.tensor(x, dtype="float32"), dim=1, dtype=dc.float64)
    assert out.dtype == np.float64
    with pytest.warns(UserWarning):
        assert nn.Softmax()(dc.tensor(x)).shape == (2, 3, 4)


def test_dropout2d_zeroes_whole_channels_and_keeps_the_mean():
    dc.manual_seed(0)
    x = dc.ones(64, 32, 3, 3)
    out = nn.Dropout2d(0.25)(x).numpy()
    per_channel = out.reshape(64, 32, 9)
    assert np.all(per_channel.min(axis=2) == per_channel.max(axis=2))  # a channel is all or none
    assert set(np.unique(out).tolist()) <= {0.0, np.float32(1 / 0.75).item()}
    assert abs((out == 0).mean() - 0.25) < 0.03 and abs(out.mean() - 1.0) < 0.05
    with pytest.warns(UserWarning, match="3D input"):
        assert F.dropout2d(dc.ones(2, 3, 4)).shape == (2, 3, 4)
    y = dc.ones(4, 2, 2, 2)
    assert F.dropout2d(y, 0.5, inplace=True) is y


def test_functional_activations_take_torchs_inplace_argument():
    x = dc.tensor([-1.0, 2.0])
    assert F.relu(x, inplace=True) is x and x.tolist() == [0.0, 2.0]
    y = dc.tensor([-1.0, 2.0])
    assert F.leaky_relu(y, 0.5, True) is y and y.tolist() == [-0.5, 2.0]
    assert repr(nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))
    assert repr(nn.Dropout2d()) == repr(torch.nn.Dropout2d())


# -- gradcheck -------------------------------------------------------------------------------


def seeded_dropout2d(x):
    return F.dropout2d(x, 0.5, generator=np.random.default_rng(3))


# (name, function of float64 tensors, input shapes)
GRADCHECKS = [
    ("conv1d", lambda x, w, b: F.conv1d(x, w, b, 2, 1, 2, 2), [(2, 4, 9), (6, 2, 3), (6,)]),
    ("conv1d same", lambda x, w: F.conv1d(x, w, padding="same"), [(1, 2, 6), (3, 2, 4)]),
    ("conv_transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1, 2, (1, 2)),
     [(2, 4, 3, 3), (4, 3, 3, 2), (6,)]),
    ("conv_transpose2d plain", lambda x, w: F.conv_transpose2d(x, w), [(1, 2, 3, 2), (2, 2, 2, 2)]),
    ("max_pool1d", lambda x: F.max_pool1d(x, 3, 2, 1, 2, True), [(2, 2, 9)]),
    ("avg_pool1d", lambda x: F.avg_pool1d(x, 3, 2, 1, True, False), [(2, 2, 9)]),
    ("avg_pool2d ceil", lambda x: F.avg_pool2d(x, 3, 2, 1, True, False), [(1, 2, 6, 5)]),
    ("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 4), [(2, 2, 7)]),
    ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (3, 2)), [(1, 2, 5, 4)]),
    ("dropout2d", seeded_dropout2d, [(3, 4, 2, 2)]),
    ("smooth_l1_loss", lambda x, t: F.smooth_l1_loss(x, t, beta=0.7), [(3, 4), (3, 4)]),
    ("kl_div", lambda x, t: F.kl_div(x, t, reduction="batchmean"), [(3, 4), (3, 4)]),
    ("kl_div log_target", lambda x, t: F.kl_div(x, t, reduction="sum", log_target=True),
     [(3, 4), (3, 4)]),
    ("pad reflect", lambda x: F.pad(x, (2, 1, 1, 0), "reflect"), [(1, 2, 3, 4)]),
    ("pad constant crop", lambda x: F.pad(x, (-1, 2), value=0.5), [(2, 3)]),
]  # fmt: skip


@pytest.mark.parametrize("name, fn, shapes", GRADCHECKS, ids=[c[0] for c in GRADCHECKS])
def test_gradcheck(name, fn, shapes):
    rng = np.random.default_rng(sum(map(ord, name)))
    inputs = [dc.tensor(distinct(s, rng).reshape(s) * 0.1, requires_grad=True) for s in shapes]
    if name.startswith("kl_div") and "log" not in name:
        inputs[1] = dc.tensor(rng.uniform(0.1, 1.0, shapes[1]), requires_grad=True)
    assert gradcheck(fn, inputs, atol=1e-6, rtol=1e-5)


def test_binary_cross_entropy_gradcheck_in_both_inputs():
    rng = np.random.default_rng(0)
    x = dc.tensor(rng.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    t = dc.tensor(rng.uniform(0.0, 1.0, (3, 4)), requires_grad=True)
    weight = dc.tensor(rng.uniform(0.5, 2.0, 4))
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b, weight), [x, t], atol=1e-6)


# -- dtype=, device= and default initialisation ----------------------------------------------

FACTORIES = [
    lambda **kw: nn.Linear(3, 4, **kw),
    lambda **kw: nn.Conv1d(2, 4, 3, **kw),
    lambda **kw: nn.Conv2d(2, 4, 3, **kw),
    lambda **kw: nn.ConvTranspose2d(2, 4, 3, **kw),
    lambda **kw: nn.Embedding(5, 3, padding_idx=0, **kw),
    lambda **kw: nn.LazyLinear(3, **kw),
]


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f().__class__.__name__)
def test_layers_take_torchs_dtype_and_device(factory):
    for dtype in (np.float64, dc.float64, "float64"):
        layer = factory(dtype=dtype)
        if isinstance(layer, nn.LazyLinear):
            layer(dc.zeros(2, 5, dtype=dc.float64))
        assert all(p.dtype == np.float64 for p in layer.parameters())
    assert all(p.dtype == np.float32 for p in factory().parameters())
    factory(device="cpu"), factory(device=dc.device("cpu"))
    with pytest.raises(RuntimeError, match="cuda"):
        factory(device="cuda")
    with pytest.raises(TypeError, match="not a floating dtype"):
        factory(dtype=dc.int64)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: nn.Conv1d(6, 8, 5), lambda: torch.nn.Conv1d(6, 8, 5)),
        (lambda: nn.ConvTranspose2d(8, 6, 3, groups=2),
         lambda: torch.nn.ConvTranspose2d(8, 6, 3, groups=2)),
        (lambda: nn.Linear(30, 20), lambda: torch.nn.Linear(30, 20)),
    ],
)  # fmt: skip
def test_default_initialisation_has_torchs_bounds_and_follows_descents_seed(ours, theirs):
    dc.manual_seed(7)
    first = ours()
    dc.manual_seed(7)
    again = ours()
    reference = theirs()
    weight = reference.weight
    bound = 1 / np.sqrt(weight.shape[1] * np.prod(weight.shape[2:]))  # torch's, for both
    pairs = zip(first.named_parameters(), again.parameters(), reference.parameters())
    for (name, p), q, r in pairs:
        values = p.detach().numpy()
        assert np.array_equal(values, q.detach().numpy()), name
        assert np.abs(r.detach().numpy()).max() <= bound, name
        assert bound * 0.75 < np.abs(values).max() <= bound, name
        assert abs(values.std() - bound / np.sqrt(3)) < 0.25 * bound, name  # U(-b, b)


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: nn.Conv1d(3, 4, 3)(dc.zeros(1, 3, 5, 5)), ShapeError,
         r"Conv1d\(3, 4, kernel_size=\(3,\), stride=\(1,\)\): input of shape \(1, 3, 5, 5\) "
         r"must be 3-d \(N, C, L\) or 2-d"),
        (lambda: nn.Conv1d(3, 4, 3)(dc.zeros(2, 5, 8)), ShapeError,
         r"Conv1d\(3, 4.*input of shape \(2, 5, 8\) has 5 channels, the layer expects 3"),
        (lambda: nn.ConvTranspose2d(3, 4, 3)(dc.zeros(2, 4, 5, 5)), ShapeError,
         r"ConvTranspose2d\(3, 4.*\(2, 4, 5, 5\) has 4 channels, the layer expects 3"),
        (lambda: F.conv1d(dc.zeros(1, 2, 3), dc.zeros(4, 2, 5)), ShapeError,
         r"conv1d: the kernel 5 is larger than the padded input 3 \(input \(1, 2, 3\)"),
        (lambda: F.conv1d(dc.zeros(1, 2, 3, 3), dc.zeros(4, 2, 2)), ShapeError,
         r"conv1d: input of shape \(1, 2, 3, 3\) must be 2-d \(C, L\) or 3-d \(N, C, L\)"),
        (lambda: F.conv_transpose2d(dc.zeros(1, 2, 3, 3), dc.zeros(2, 2, 3, 3), stride=2,
                                    output_padding=2), ShapeError,
         r"conv_transpose2d: output_padding=\(2, 2\) must be smaller than the stride"),
        (lambda: F.max_pool1d(dc.zeros(1, 2, 3), 5), ShapeError,
         r"max_pool1d: the kernel 5 is larger than the padded input 3"),
        (lambda: F.adaptive_avg_pool2d(dc.zeros(2, 3), 2), ShapeError,
         r"adaptive_avg_pool2d: input of shape \(2, 3\) must be 3-d or 4-d"),
        (lambda: nn.BCELoss()(dc.tensor([0.5, 1.5]), dc.tensor([1.0, 0.0])), RuntimeError,
         r"between 0 and 1.*with_logits"),
        (lambda: nn.BCELoss()(dc.tensor([0.5, 0.5]), dc.tensor([1.0, 2.0])), RuntimeError,
         r"all elements of target should be between 0 and 1"),
        (lambda: nn.BCELoss()(dc.tensor([0.5, 0.2]), dc.tensor([1.0])), ShapeError,
         r"binary_cross_entropy: input of shape \(2,\) and target of shape \(1,\) differ"),
        (lambda: F.pad(dc.zeros(2, 3), (1, 2, 3)), ShapeError, r"pad: .*even length"),
        (lambda: F.pad(dc.zeros(2, 3), (1, 1, 1, 1, 1, 1)), ShapeError,
         r"pads 3 axes, but the input of shape \(2, 3\) has 2"),
        (lambda: F.pad(dc.zeros(2, 3), (3, 0), "reflect"), ShapeError,
         r"mode='reflect' needs padding >= 0 and at most 2"),
        (lambda: nn.Conv1d(3, 4, 3, stride=2, padding="same"), ValueError,
         r"padding='same' is not supported for strided"),
        (lambda: nn.Conv2d(4, 4, 3, groups=3), ValueError, r"groups=3 must divide"),
        (lambda: nn.LazyLinear(3)(dc.tensor(1.0)), ShapeError, r"0-d input"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
