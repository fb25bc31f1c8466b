"""nn.Module's registry as torch's: what assignment registers, buffers, containers, hooks."""

import numpy as np
import pytest
import torch

import descent as dc
from descent import nn


def test_a_plain_list_of_layers_warns_and_names_the_container():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            with pytest.warns(UserWarning, match=r"self.layers = nn.ModuleList\(...\)"):
                self.layers = [nn.Linear(2, 2), nn.Linear(2, 1)]
            with pytest.warns(UserWarning, match=r"nn.ParameterDict"):
                self.scales = {"a": nn.Parameter(np.ones(2))}

    net = Net()
    assert list(net.parameters()) == []  # as torch: not registered


def test_a_tensor_cached_in_forward_is_no_buffer_unless_registered():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 2)
            self.register_buffer("steps", dc.zeros(()))
            self.register_buffer("scratch", dc.zeros(2), persistent=False)

        def forward(self, x):
            self.last_input = x  # a cache, not state
            self.steps += 1
            return self.linear(x)

    net, fresh = Net(), Net()
    net(dc.ones(1, 3))
    assert list(net.state_dict()) == ["steps", "linear.weight", "linear.bias"]
    assert [name for name, _ in net.named_buffers()] == ["steps", "scratch"]
    fresh.load_state_dict(net.state_dict())  # strict: loads into a fresh model
    assert fresh.steps.item() == 1.0


def test_state_dict_keys_and_order_equal_torchs():
    def build(lib):
        n = lib.nn
        return n.Sequential(
            n.Conv2d(1, 4, 3),
            n.BatchNorm2d(4),
            n.ReLU(),
            n.Flatten(),
            n.Linear(4 * 6 * 6, 10),
            n.LayerNorm(10),
        )

    assert list(build(dc).state_dict()) == list(build(torch).state_dict())


def test_containers_register_and_behave_like_torchs():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})
            self.scales = nn.ParameterList([nn.Parameter(np.ones(2)) for _ in range(2)])
            self.offsets = nn.ParameterDict({"x": nn.Parameter(np.zeros(2))})

    net = Net()
    assert len(list(net.parameters())) == 3 * 2 + 2 * 2 + 2 + 1
    assert list(net.state_dict())[:2] == ["blocks.0.weight", "blocks.0.bias"]
    assert "heads.b.bias" in net.state_dict() and "offsets.x" in net.state_dict()
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(seq[1], nn.ReLU) and len(seq[:2]) == 2 and seq[-1] is seq[2]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_load_state_dict_returns_missing_and_unexpected_keys():
    model = nn.Sequential(nn.Linear(2, 2))
    result = model.load_state_dict(
        {"0.weight": np.zeros((2, 2)), "extra": np.zeros(1)}, strict=False
    )
    assert result.missing_keys == ["0.bias"] and result.unexpected_keys == ["extra"]
    with pytest.raises(RuntimeError, match=r"missing keys \['0.bias'\]"):
        model.load_state_dict({"0.weight": np.zeros((2, 2))})


def test_forward_hooks_see_and_may_replace_inputs_and_outputs():
    layer = nn.Linear(2, 2)
    seen = []
    pre = layer.register_forward_pre_hook(lambda module, args: (args[0] * 0,))
    post = layer.register_forward_hook(lambda module, args, out: seen.append(out) or out + 1)
    out = layer(dc.ones(1, 2))
    np.testing.assert_allclose(out.detach().numpy(), layer.bias.detach().numpy()[None] + 1)
    assert len(seen) == 1
    pre.remove(), post.remove()
    np.testing.assert_allclose(
        layer(dc.ones(1, 2)).detach().numpy(),
        (dc.ones(1, 2) @ layer.weight.T + layer.bias).detach().numpy(),
    )


@pytest.mark.parametrize("lib", ["torch", "descent"])
def test_a_full_backward_hook_gets_the_gradients_of_inputs_and_outputs(lib):
    module = torch if lib == "torch" else dc
    layer = module.nn.Linear(3, 2)
    with module.no_grad():
        layer.weight.copy_(module.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]))
    seen = {}

    def hook(mod, grad_input, grad_output):
        seen["in"] = grad_input[0].detach().numpy().copy()
        seen["out"] = grad_output[0].detach().numpy().copy()

    layer.register_full_backward_hook(hook)
    x = module.tensor([[1.0, -1.0, 0.5]], requires_grad=True)
    (layer(x) * module.tensor([[2.0, 3.0]])).sum().backward()
    np.testing.assert_allclose(seen["out"], [[2.0, 3.0]])
    np.testing.assert_allclose(seen["in"], [[3.5, 1.0, 12.0]])
    np.testing.assert_allclose(x.grad.numpy(), seen["in"])


def test_module_to_a_dtype_casts_floating_parameters_and_buffers():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    assert model.double() is model
    assert {p.dtype for p in model.parameters()} == {dc.float64}
    assert model[1].running_mean.dtype == dc.float64
    assert model[1].num_batches_tracked.dtype == dc.int64
    with pytest.raises(RuntimeError, match="no GPU backend"):
        model.to("cuda")


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: nn.BatchNorm1d(3, **kw),
        lambda **kw: nn.BatchNorm2d(3, **kw),
        lambda **kw: nn.LayerNorm(3, **kw),
    ],  # fmt: skip
)
def test_normalisation_layers_take_dtype_and_device(make):
    layer = make(dtype=dc.float64, device="cpu")
    assert {t.dtype for t in layer.state_dict().values() if t.dtype.kind == "f"} == {dc.float64}
    with pytest.raises(RuntimeError, match="no GPU backend"):
        make(device="cuda")
