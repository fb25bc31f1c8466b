"""descent.save / descent.load as torch's: state dicts and containers, safetensors, no pickle."""

import io

import numpy as np
import pytest
import torch

import descent as dc
from descent import checkpoint, nn
from descent.errors import CheckpointError


def small_model():
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def test_a_state_dict_round_trips_through_a_file(tmp_path):
    dc.manual_seed(0)
    model, fresh = small_model(), small_model()
    x = dc.randn(5, 4)
    model(x)  # moves the running statistics
    model.eval(), fresh.eval()
    dc.save(model.state_dict(), tmp_path / "m.pt")
    result = fresh.load_state_dict(dc.load(tmp_path / "m.pt", weights_only=True))
    assert result == ([], []) and result.missing_keys == []
    np.testing.assert_array_equal(fresh(x).detach().numpy(), model(x).detach().numpy())


def test_nested_containers_keep_their_types_and_values():
    state = {
        "epoch": 3,
        "lr": 0.5,
        "name": "run",
        "nothing": None,
        "weights": [dc.ones(2, 3), dc.tensor([1, 2], dtype=dc.int64)],
        "pair": (dc.tensor(1.5), 7),
        "nested": {"w": dc.tensor([1.0, 2.0], requires_grad=True), 3: "int key"},
    }
    buffer = io.BytesIO()
    dc.save(state, buffer)
    buffer.seek(0)
    loaded = dc.load(buffer)
    assert loaded["epoch"] == 3 and loaded["lr"] == 0.5 and loaded["name"] == "run"
    assert loaded["nothing"] is None and isinstance(loaded["pair"], tuple)
    assert isinstance(loaded["weights"][0], dc.Tensor) and loaded["weights"][1].dtype == dc.int64
    np.testing.assert_array_equal(loaded["weights"][0].numpy(), np.ones((2, 3)))
    assert loaded["pair"][0].item() == 1.5 and loaded["pair"][1] == 7
    assert loaded["nested"]["w"].requires_grad and loaded["nested"][3] == "int key"


def test_weights_move_between_torch_and_descent_by_name(tmp_path):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 2, 3)
            self.norm = torch.nn.BatchNorm2d(2)
            self.head = torch.nn.ModuleList([torch.nn.Linear(8, 4), torch.nn.Linear(4, 2)])

    class Ours(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)
            self.norm = nn.BatchNorm2d(2)
            self.head = nn.ModuleList([nn.Linear(8, 4), nn.Linear(4, 2)])

    theirs, ours = Net(), Ours()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for name, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[name].numpy(), value.numpy())


def test_loading_weights_leaves_the_random_state_alone(tmp_path):
    dc.save(small_model().state_dict(), tmp_path / "m.pt")
    dc.manual_seed(5)
    expected = dc.randn(3).numpy()
    dc.manual_seed(5)
    dc.load(tmp_path / "m.pt")
    np.testing.assert_array_equal(dc.randn(3).numpy(), expected)


def test_unpickling_is_refused_and_the_mistakes_are_named(tmp_path):
    path = tmp_path / "m.pt"
    with pytest.raises(TypeError, match=r"save model.state_dict\(\)"):
        dc.save(small_model(), path)
    with pytest.raises(TypeError, match="the object comes first"):
        dc.save(str(path), small_model().state_dict())
    dc.save({"w": dc.ones(2)}, path)
    with pytest.raises(ValueError, match="never unpickles"):
        dc.load(path, weights_only=False)
    with pytest.raises(TypeError, match=r"descent.checkpoint.load\(path, model="):
        dc.load(path, model=small_model())
    with pytest.raises(TypeError, match="never pickles"):
        dc.save({"f": lambda: 0}, path)


def test_a_pickle_written_by_torch_is_refused_unread(tmp_path):
    path = tmp_path / "torch.pt"
    torch.save({"w": torch.ones(2)}, path)  # a zip of pickles
    with pytest.raises(CheckpointError, match="torch.pt"):
        dc.load(path)


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_a_damaged_file_is_refused_with_its_name(tmp_path, damage):
    path = tmp_path / "m.pt"
    dc.save(small_model().state_dict(), path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[-5] ^= 0xFF
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="m.pt"):
        dc.load(path)


def test_a_training_checkpoint_is_pointed_to_its_own_loader(tmp_path):
    path = tmp_path / "run.ckpt"
    checkpoint.save(path, model=small_model())
    with pytest.raises(CheckpointError, match="descent.checkpoint.load"):
        dc.load(path)
