"""examples/mnist.py, PyTorch's MNIST example run by descent: its data, its model against
torch's, and a few batches of its training in-process (the loss must fall)."""

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

import descent as dc

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mnist.py"


@pytest.fixture(scope="module")
def mnist():
    spec = importlib.util.spec_from_file_location("mnist_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_enlarged_digits_are_mnist_shaped(mnist):
    images, labels = mnist.enlarged_digits(train=True)
    small, _ = dc.data.load_dataset("digits", seed=0)
    assert images.shape == (len(small), 28, 28) and images.dtype == np.uint8
    assert labels.shape == (len(small),) and set(np.unique(labels)) == set(range(10))
    assert not images[:, :2].any() and not images[:, :, -2:].any()  # the border
    # each 8x8 pixel is a 3x3 block: the top-left of every block gives the digit back
    first = small.features[0].reshape(8, 8) * 255 / 16
    np.testing.assert_array_equal(images[0, 2:26:3, 2:26:3], np.rint(first))
    np.testing.assert_array_equal(images[0, 3:26:3, 4:26:3], np.rint(first))


def test_mnist_idx_reads_the_four_files(mnist, tmp_path):
    rng = np.random.default_rng(0)
    for train, count in ((True, 5), (False, 3)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, count).astype(np.uint8)
        image_name, label_name = mnist.IDX_FILES[train]
        write_idx(tmp_path / image_name, images)
        write_idx(tmp_path / label_name, labels)
        read_images, read_labels = mnist.mnist_idx(str(tmp_path), train)
        np.testing.assert_array_equal(read_images, images)
        np.testing.assert_array_equal(read_labels, labels)
        assert read_labels.dtype == np.int64


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    path.write_bytes(header + array.tobytes())


def test_net_matches_torch(mnist):
    """The example's Net, from torch's weights, gives torch's log-probabilities and
    gradients (eval mode: dropout off)."""
    model = mnist.Net().eval()
    reference = torch_net(mnist).eval()
    model.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((3, 1, 28, 28), dtype=np.float32)
    y = np.array([0, 4, 9])
    out = model(dc.tensor(x))
    dc.nn.functional.nll_loss(out, dc.tensor(y)).backward()
    expected = reference(torch.tensor(x))
    torch.nn.functional.nll_loss(expected, torch.tensor(y)).backward()
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), atol=1e-5)
    for name, p in reference.named_parameters():
        ours = dict(model.named_parameters())[name].grad.numpy()
        np.testing.assert_allclose(ours, p.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


def torch_net(mnist):
    torch.manual_seed(0)
    net = torch.nn.Sequential()
    for name, layer in (
        ("conv1", torch.nn.Conv2d(1, 32, 3, 1)),
        ("conv2", torch.nn.Conv2d(32, 64, 3, 1)),
        ("fc1", torch.nn.Linear(9216, 128)),
        ("fc2", torch.nn.Linear(128, 10)),
    ):
        net.add_module(name, layer)

    def forward(x):
        x = torch.relu(net.conv1(x))
        x = torch.relu(net.conv2(x))
        x = torch.flatten(torch.nn.functional.max_pool2d(x, 2), 1)
        return torch.log_softmax(net.fc2(torch.relu(net.fc1(x))), dim=1)

    net.forward = forward
    return net


def test_a_few_batches_of_training_lower_the_loss(mnist, capsys):
    dc.manual_seed(0)
    images, labels = mnist.enlarged_digits(train=True)
    dataset = mnist.as_dataset(images[:48], labels[:48])
    loader = dc.utils.data.DataLoader(dataset, batch_size=16, shuffle=True)
    model = mnist.Net()
    optimizer = dc.optim.Adadelta(model.parameters(), lr=1.0)
    args = argparse.Namespace(log_interval=1, dry_run=False)
    before, _ = mnist.test(model, dc.device("cpu"), loader)
    for epoch in (1, 2):
        logged = mnist.train(args, model, dc.device("cpu"), loader, optimizer, epoch)
    after, _ = mnist.test(model, dc.device("cpu"), loader)
    assert after < 0.85 * before, (before, after)
    assert len(logged) == 3 and "Train Epoch: 2 [32/48 (67%)]" in capsys.readouterr().out


def test_main_runs_the_dry_run(mnist, capsys):
    result = mnist.main(["--dry-run", "--test-batch-size", "500"])
    assert len(result["losses"]) == 1 and 0 <= result["accuracy"] <= 1
    assert "Test set: Average loss" in capsys.readouterr().out
