"""Layers and losses against torch.nn with the same weights: outputs and every gradient."""

import numpy as np
import pytest
import torch

import descent as dc
from descent import nn
from descent.nn import functional as F

RNG = np.random.default_rng(0)


def copy_weights(ours: nn.Module, theirs: torch.nn.Module) -> None:
    """Give our module torch's float64 parameters and buffers, by name."""
    state = {name: value.detach().numpy() for name, value in theirs.state_dict().items()}
    for name, tensor in list(ours.named_parameters()) + list(ours.named_buffers()):
        tensor.data = state[name].astype(state[name].dtype).copy()


def assert_same_layer(ours, theirs, x, train=True, atol=1e-10):
    """Forward and backward (random upstream gradient) agree: output, input and parameter grads."""
    theirs = theirs.double()
    copy_weights(ours, theirs)
    ours.train(train)
    theirs.train(train)
    ours_x = dc.tensor(x, dtype="float64", requires_grad=True)
    theirs_x = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ours_out, theirs_out = ours(ours_x), theirs(theirs_x)
    np.testing.assert_allclose(ours_out.detach().numpy(), theirs_out.detach().numpy(), atol=atol)
    upstream = RNG.standard_normal(theirs_out.shape)
    ours_out.backward(upstream)
    theirs_out.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), atol=atol)
    theirs_params = dict(theirs.named_parameters())
    for name, parameter in ours.named_parameters():
        np.testing.assert_allclose(parameter.grad, theirs_params[name].grad.numpy(), atol=atol,
                                   err_msg=name)  # fmt: skip
    theirs_buffers = dict(theirs.named_buffers())
    for name, buffer in ours.named_buffers():
        np.testing.assert_allclose(buffer.data, theirs_buffers[name].numpy(), atol=atol,
                                   err_msg=name)  # fmt: skip


def lenet(library):
    """LeNet-5 (LeCun et al., 1998) with ReLU and max pooling, as either library builds it."""
    return library.Sequential(
        library.Conv2d(1, 6, 5, padding=2), library.ReLU(), library.MaxPool2d(2),
        library.Conv2d(6, 16, 5), library.ReLU(), library.MaxPool2d(2), library.Flatten(),
        library.Linear(400, 120), library.ReLU(), library.Linear(120, 84), library.ReLU(),
        library.Linear(84, 10),
    )  # fmt: skip


LAYERS = [
    ("linear", lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), (4, 5)),
    ("linear 3d", lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), (2, 4, 5)),
    ("linear no bias", lambda: nn.Linear(5, 3, bias=False),
     lambda: torch.nn.Linear(5, 3, bias=False), (4, 5)),
    ("batchnorm1d", lambda: nn.BatchNorm1d(3), lambda: torch.nn.BatchNorm1d(3), (6, 3)),
    ("batchnorm1d seq", lambda: nn.BatchNorm1d(3), lambda: torch.nn.BatchNorm1d(3), (4, 3, 5)),
    ("batchnorm2d", lambda: nn.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3), (2, 3, 4, 4)),
    ("batchnorm2d untracked", lambda: nn.BatchNorm2d(3, track_running_stats=False),
     lambda: torch.nn.BatchNorm2d(3, track_running_stats=False), (2, 3, 2, 2)),
    ("layernorm", lambda: nn.LayerNorm(5), lambda: torch.nn.LayerNorm(5), (3, 5)),
    ("layernorm 2 axes", lambda: nn.LayerNorm((3, 4)), lambda: torch.nn.LayerNorm((3, 4)),
     (2, 3, 4)),
    ("relu", nn.ReLU, torch.nn.ReLU, (3, 4)),
    ("leaky relu", lambda: nn.LeakyReLU(0.1), lambda: torch.nn.LeakyReLU(0.1), (3, 4)),
    ("sigmoid", nn.Sigmoid, torch.nn.Sigmoid, (3, 4)),
    ("tanh", nn.Tanh, torch.nn.Tanh, (3, 4)),
    ("gelu", nn.GELU, torch.nn.GELU, (3, 4)),
    ("softmax", lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1), (3, 4)),
    ("flatten", nn.Flatten, torch.nn.Flatten, (2, 3, 4)),
    ("identity", nn.Identity, torch.nn.Identity, (2, 3)),
    ("dropout eval", lambda: nn.Dropout(0.5), lambda: torch.nn.Dropout(0.5), (3, 4)),
    ("conv2d", lambda: nn.Conv2d(2, 4, 3, stride=2, padding=1),
     lambda: torch.nn.Conv2d(2, 4, 3, stride=2, padding=1), (2, 2, 7, 6)),
    ("conv2d groups dilation", lambda: nn.Conv2d(4, 6, (3, 2), dilation=2, groups=2, bias=False),
     lambda: torch.nn.Conv2d(4, 6, (3, 2), dilation=2, groups=2, bias=False), (2, 4, 8, 7)),
    ("maxpool2d", lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2), (2, 3, 6, 6)),
    ("avgpool2d", lambda: nn.AvgPool2d(3, stride=2, padding=1),
     lambda: torch.nn.AvgPool2d(3, stride=2, padding=1), (2, 3, 7, 7)),
    ("lenet", lambda: lenet(nn), lambda: lenet(torch.nn), (3, 1, 28, 28)),
    ("mlp", lambda: nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)),
     lambda: torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)),
     (5, 4)),
]  # fmt: skip


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name, ours, theirs, shape", LAYERS, ids=[case[0] for case in LAYERS])
def test_layer_matches_torch(name, ours, theirs, shape, train):
    if name == "dropout eval" and train:
        pytest.skip("dropout draws its own random mask in training; tested statistically below")
    x = RNG.standard_normal(shape)
    assert_same_layer(ours(), theirs(), x, train=train)


def test_batchnorm_running_statistics_follow_torch_over_several_steps():
    ours, theirs = nn.BatchNorm1d(4, momentum=0.3), torch.nn.BatchNorm1d(4, momentum=0.3).double()
    copy_weights(ours, theirs)
    for _ in range(5):
        x = RNG.standard_normal((8, 4)) * 3 + 1
        ours(dc.tensor(x, dtype="float64"))
        theirs(torch.from_numpy(x))
    for name, buffer in theirs.named_buffers():
        np.testing.assert_allclose(dict(ours.named_buffers())[name].data, buffer.numpy())


def test_embedding_matches_torch_and_skips_the_padding_row():
    ours, theirs = nn.Embedding(6, 3, padding_idx=0), torch.nn.Embedding(6, 3, padding_idx=0)
    theirs = theirs.double()
    copy_weights(ours, theirs)
    indices = np.array([[0, 2, 2], [5, 0, 1]])
    ours_out, theirs_out = ours(indices), theirs(torch.from_numpy(indices))
    np.testing.assert_allclose(ours_out.detach().numpy(), theirs_out.detach().numpy())
    upstream = RNG.standard_normal(theirs_out.shape)
    ours_out.backward(upstream)
    theirs_out.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy())
    with pytest.raises(ValueError, match="index 6 is out of range for 6 embeddings"):
        ours(np.array([6]))


def test_dropout_zeroes_p_of_the_elements_and_keeps_the_mean():
    dc.manual_seed(0)
    layer = nn.Dropout(0.3)
    out = layer(dc.ones(200, 500)).numpy()
    assert abs((out == 0).mean() - 0.3) < 0.01
    assert abs(out.mean() - 1.0) < 0.01
    np.testing.assert_array_equal(np.unique(out), np.array([0.0, 1 / 0.7], dtype=np.float32))


def test_default_initialisation_follows_pytorch_bounds():
    dc.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    for parameter in (layer.weight, layer.bias):
        assert (
            parameter.detach().numpy().max() <= bound and parameter.detach().numpy().min() >= -bound
        )
        assert parameter.detach().numpy().std() == pytest.approx(bound / np.sqrt(3), rel=0.05)
    assert nn.Embedding(100, 100).weight.detach().numpy().std() == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize(
    "scheme, check",
    [
        (lambda w: nn.init.xavier_uniform_(w), lambda w: np.sqrt(6 / 500) / np.sqrt(3)),
        (lambda w: nn.init.xavier_normal_(w), lambda w: np.sqrt(2 / 500)),
        (lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"), lambda w: np.sqrt(2 / 200)),
        (lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"), lambda w: np.sqrt(2 / 200)),
    ],
)
def test_init_schemes_have_the_right_spread(scheme, check):
    weight = nn.Parameter(np.zeros((300, 200), np.float32))
    scheme(weight)
    assert weight.detach().numpy().std() == pytest.approx(check(weight), rel=0.05)


# -- losses ---------------------------------------------------------------------------------

LOGITS = RNG.standard_normal((7, 5)) * 3
LABELS = np.array([0, 4, 2, 2, 1, 3, 0])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"label_smoothing": 0.1},
        {"weight": np.array([1.0, 2.0, 0.5, 1.0, 3.0])},
        {"ignore_index": 2},
        {"weight": np.array([1.0, 2.0, 0.5, 1.0, 3.0]), "label_smoothing": 0.2, "ignore_index": 0},
    ],
    ids=["plain", "smoothing", "weight", "ignore", "all"],
)
def test_cross_entropy_matches_torch(options, reduction):
    torch_options = {k: torch.from_numpy(v) if k == "weight" else v for k, v in options.items()}
    logits = dc.tensor(LOGITS, dtype="float64", requires_grad=True)
    theirs_logits = torch.tensor(LOGITS, requires_grad=True)
    ours = nn.CrossEntropyLoss(reduction=reduction, **options)(logits, LABELS)
    theirs = torch.nn.CrossEntropyLoss(reduction=reduction, **torch_options)(
        theirs_logits, torch.from_numpy(LABELS)
    )
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), atol=1e-12)
    upstream = RNG.standard_normal(theirs.shape)
    ours.backward(upstream)
    theirs.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(logits.grad, theirs_logits.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize(
    "labels",
    [
        np.array([0, 4, -100, 2, 1, -100, 0]),  # the default ignore_index, some ignored
        LABELS.astype(np.int32),
        LABELS.astype(np.uint8),
        np.array([], dtype=np.int64),
    ],
    ids=["ignored -100", "int32", "uint8", "empty"],
)
def test_cross_entropy_label_kinds_match_torch(labels):
    """The all-labels-in-range fast path and the general one, chosen by the labels."""
    logits_array = LOGITS[: len(labels)]
    logits = dc.tensor(logits_array, dtype="float64", requires_grad=True)
    theirs_logits = torch.tensor(logits_array, requires_grad=True)
    ours = F.cross_entropy(logits, labels)
    theirs = torch.nn.functional.cross_entropy(theirs_logits, torch.from_numpy(labels).long())
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(logits.grad, theirs_logits.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("n", [10, 37])
def test_cross_entropy_common_case_gives_the_general_paths_numbers(n, reduction, dtype):
    """No weights, smoothing or ignored labels take fewer passes, to the same bits as the
    general path (a weight of ones takes it)."""
    rng = np.random.default_rng(n)
    logits_array, labels = rng.standard_normal((n, 7)).astype(dtype), rng.integers(0, 7, n)
    fast, general = (dc.tensor(logits_array, requires_grad=True) for _ in range(2))
    fast_loss = F.cross_entropy(fast, labels, reduction=reduction)
    general_loss = F.cross_entropy(general, labels, reduction=reduction,
                                   weight=dc.ones(7, dtype=fast.dtype))  # fmt: skip
    upstream = dc.tensor(rng.standard_normal(fast_loss.shape).astype(dtype))
    fast_loss.backward(upstream)
    general_loss.backward(upstream)
    np.testing.assert_array_equal(fast_loss.detach().numpy(), general_loss.detach().numpy())
    np.testing.assert_array_equal(fast.grad.numpy(), general.grad.numpy())


def test_cross_entropy_with_probabilities_and_one_sample_matches_torch():
    probabilities = RNG.dirichlet(np.ones(5), size=7)
    for target, logits_array in ((probabilities, LOGITS), (np.array(3), LOGITS[0])):
        ours_logits = dc.tensor(logits_array, dtype="float64", requires_grad=True)
        theirs_logits = torch.tensor(logits_array, requires_grad=True)
        ours = F.cross_entropy(ours_logits, target, label_smoothing=0.1)
        theirs = torch.nn.functional.cross_entropy(
            theirs_logits, torch.from_numpy(np.asarray(target)), label_smoothing=0.1
        )
        ours.backward()
        theirs.backward()
        np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
        np.testing.assert_allclose(ours_logits.grad, theirs_logits.grad.numpy(), atol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = dc.tensor([[1000.0, -1000.0], [-1000.0, 1000.0]], requires_grad=True)
    loss = F.cross_entropy(logits, np.array([0, 0]))
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(1000.0)
    assert np.isfinite(logits.grad).all()


LOSS_PAIRS = [
    ("nll", lambda x, t: F.nll_loss(x.log_softmax(axis=1), t, weight=np.arange(1.0, 6.0)),
     lambda x, t: torch.nn.functional.nll_loss(
         x.log_softmax(1), t, weight=torch.arange(1.0, 6.0, dtype=torch.float64)), "labels"),
    ("mse", F.mse_loss, torch.nn.functional.mse_loss, "values"),
    ("l1", lambda x, t: F.l1_loss(x, t, reduction="sum"),
     lambda x, t: torch.nn.functional.l1_loss(x, t, reduction="sum"), "values"),
    ("huber", lambda x, t: F.huber_loss(x, t, delta=0.5),
     lambda x, t: torch.nn.functional.huber_loss(x, t, delta=0.5), "values"),
    ("bce", lambda x, t: F.binary_cross_entropy_with_logits(
         x, t, weight=np.arange(5.0), pos_weight=np.full(5, 3.0)),
     lambda x, t: torch.nn.functional.binary_cross_entropy_with_logits(
         x, t, weight=torch.arange(5.0, dtype=torch.float64),
         pos_weight=torch.full((5,), 3.0, dtype=torch.float64)), "binary"),
]  # fmt: skip


@pytest.mark.parametrize(
    "name, ours_fn, theirs_fn, kind", LOSS_PAIRS, ids=[c[0] for c in LOSS_PAIRS]
)
def test_loss_matches_torch(name, ours_fn, theirs_fn, kind):
    targets = {
        "labels": LABELS,
        "values": RNG.standard_normal(LOGITS.shape),
        "binary": (RNG.random(LOGITS.shape) > 0.5).astype(float),
    }[kind]
    logits = dc.tensor(LOGITS, dtype="float64", requires_grad=True)
    theirs_logits = torch.tensor(LOGITS, requires_grad=True)
    ours = ours_fn(logits, targets)
    theirs = theirs_fn(theirs_logits, torch.from_numpy(targets))
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    np.testing.assert_allclose(logits.grad, theirs_logits.grad.numpy(), atol=1e-12)


def test_cross_entropy_rejects_labels_out_of_range():
    with pytest.raises(ValueError, match=r"label 5 is out of range for 5 classes.*\[0, 4\]"):
        F.cross_entropy(dc.tensor(LOGITS), np.array([0, 1, 2, 3, 5, 0, 1]))
    with pytest.raises(ValueError, match="label -1 is out of range"):
        F.cross_entropy(dc.tensor(LOGITS), np.array([0, 1, 2, 3, -1, 0, 1]))


def test_cross_entropy_rejects_float_labels():
    with pytest.raises(TypeError, match=r"class labels must be integers, got float64.*astype"):
        F.cross_entropy(dc.tensor(LOGITS), LABELS.astype(float))


def test_cross_entropy_rejects_labels_of_the_wrong_length():
    with pytest.raises(dc.ShapeError, match=r"\(7, 5\).*labels of shape \(3,\)"):
        F.cross_entropy(dc.tensor(LOGITS), np.array([0, 1, 2]))


def test_regression_losses_reject_mismatched_shapes():
    with pytest.raises(
        dc.ShapeError, match=r"mse_loss: input of shape \(7, 1\) and target .*\(7,\)"
    ):
        F.mse_loss(dc.zeros(7, 1), np.zeros(7))


def test_unknown_reduction_is_rejected():
    with pytest.raises(ValueError, match="reduction='avg' must be"):
        nn.MSELoss(reduction="avg")


# -- Module ---------------------------------------------------------------------------------


def make_mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def test_linear_fed_the_wrong_number_of_features_names_the_layer_and_both_sizes():
    with pytest.raises(dc.ShapeError, match=r"layer 0: Linear\(in_features=4.*has 7 features.*4"):
        make_mlp()(dc.zeros(2, 7))


def test_parameters_buffers_and_state_dict_keys():
    model = make_mlp()
    assert [name for name, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"
    ]  # fmt: skip
    assert [name for name, _ in model.named_buffers()] == [
        "1.running_mean", "1.running_var", "1.num_batches_tracked"
    ]  # fmt: skip
    assert set(model.state_dict()) == {n for n, _ in model.named_parameters()} | {
        n for n, _ in model.named_buffers()
    }


def test_state_dict_round_trip_restores_outputs_exactly():
    dc.manual_seed(1)
    source, target = make_mlp(), make_mlp()
    x = dc.randn(5, 4)
    source(x)  # move the running statistics
    source.eval()
    target.load_state_dict({k: v.clone() for k, v in source.state_dict().items()})
    target.eval()
    np.testing.assert_array_equal(source(x).detach().numpy(), target(x).detach().numpy())


def test_load_state_dict_of_another_architecture_is_a_clear_error():
    model = make_mlp()
    other = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).state_dict()
    with pytest.raises(KeyError, match=r"missing keys \['1.weight'.*unexpected keys \['2.weight'"):
        model.load_state_dict(other)
    wider = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    with pytest.raises(dc.ShapeError, match=r"0.weight: saved \(16, 4\), model \(8, 4\)"):
        model.load_state_dict(wider.state_dict())
    missing, unexpected = model.load_state_dict(other, strict=False)
    assert "1.weight" in missing and "2.weight" in unexpected


def test_train_eval_zero_grad_and_repr():
    model = make_mlp()
    assert all(m.training for m in model.modules())
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    F.cross_entropy(model(dc.randn(4, 4)), np.array([0, 1, 2, 0])).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert repr(model).splitlines()[1] == "  (0): Linear(in_features=4, out_features=8, bias=True)"
    assert len(model) == 4 and isinstance(model[2], nn.ReLU)


def test_a_shared_layer_is_listed_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
