"""Time whole convolutional models in descent against PyTorch: training steps and an epoch.

Workloads, each run by both libraries in one process from torch's initial weights:

- mnist step: one training step of the official PyTorch MNIST example's net
  (Conv2d(1, 32, 3), ReLU, Conv2d(32, 64, 3), ReLU, max_pool2d(2),
  Dropout(0.25), flatten, Linear(9216, 128), ReLU, Dropout(0.5),
  Linear(128, 10), log_softmax; nll_loss; Adadelta, lr 1.0) on a batch of 64
  random 28x28 images;
- 1-D CNN step: a CNN for MNIST-1D (three Conv1d layers, 32 channels,
  kernel 5, padding 2, ReLU after each, flatten, Linear(1280, 10);
  cross-entropy; Adam, lr 1e-3) on a batch of 100 sequences of length 40;
- mnist epoch: one epoch of the example's training loop (a DataLoader at
  batch 64 over the built-in digits enlarged to 28x28, 1,438 images, each
  batch a full step as above), both loaders drawing one NumPy order.

The two libraries draw different dropout masks, so the agreement check runs the
first two calls with dropout off (model.eval()), the epoch row's for two batches
each; later calls, the timed ones, train with dropout on, whole epochs.

How the contenders are checked, timed and reported: benchmarks/harness.py.

    python benchmarks/models.py                 # full run, about a minute
    python benchmarks/models.py --quick         # a tenth of the epoch, for CI smoke runs
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python benchmarks/models.py`: import from this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness  # noqa: E402  (first: it sets NumPy's BLAS threads)

# isort: split
import numpy as np  # noqa: E402
import torch  # noqa: E402

import descent as dc  # noqa: E402
from benchmarks.harness import DESCENT, Step  # noqa: E402

MNIST_BATCH = 64
CNN1D_BATCH, CNN1D_LENGTH, CNN1D_CHANNELS = 100, 40, 32
CHECKED_CALLS = 2  # harness.check_agreement's calls, run with dropout off
CHECKED_BATCHES = 2  # the batches of each checked call of the epoch row
DIGITS_TRAIN_ROWS = 1438  # the enlarged digits' training part


def mnist_net(lib):
    """The official MNIST example's net, built from `lib` (descent or torch)."""
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            x = lib.flatten(self.dropout1(x), 1)
            x = self.fc2(self.dropout2(F.relu(self.fc1(x))))
            return F.log_softmax(x, dim=1)

    return Net()


def cnn1d(nn):
    """A 1-D CNN for MNIST-1D's length-40 sequences, built from `nn`."""
    c = CNN1D_CHANNELS
    return nn.Sequential(
        nn.Conv1d(1, c, 5, padding=2), nn.ReLU(),
        nn.Conv1d(c, c, 5, padding=2), nn.ReLU(),
        nn.Conv1d(c, c, 5, padding=2), nn.ReLU(),
        nn.Flatten(), nn.Linear(c * CNN1D_LENGTH, 10),
    )  # fmt: skip


def mnist_models(seed: int):
    """torch's MNIST net and descent's with its weights copied in, each with Adadelta."""
    torch.manual_seed(seed)
    torch_model = mnist_net(torch)
    model = harness.copy_weights(mnist_net(dc), torch_model)
    return (
        (model, dc.optim.Adadelta(model.parameters(), lr=1.0)),
        (torch_model, torch.optim.Adadelta(torch_model.parameters(), lr=1.0)),
    )


def mnist_steps(seed: int) -> dict[str, Step]:
    data = harness.random_batches(np.random.default_rng(seed), (MNIST_BATCH, 1, 28, 28), 10)
    (model, optimizer), (torch_model, torch_optimizer) = mnist_models(seed)
    return {
        DESCENT: nll_step(dc, model, optimizer, data),
        "the example's Net + Adadelta": nll_step(torch, torch_model, torch_optimizer, data),
    }


def nll_step(lib, model, optimizer, data: list) -> Step:
    """One step of the example's train(): zero grads, forward, nll_loss, backward, step,
    with dropout off for the checked calls."""
    batches = [(lib.tensor(x), lib.tensor(y)) for x, y in data]
    calls = iter(range(1 << 62))

    def step():
        call = next(calls)
        model.train(call >= CHECKED_CALLS)
        x, y = batches[call % len(batches)]
        optimizer.zero_grad()
        loss = lib.nn.functional.nll_loss(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def cnn1d_steps(seed: int) -> dict[str, Step]:
    torch.manual_seed(seed)
    torch_model = cnn1d(torch.nn)
    model = harness.copy_weights(cnn1d(dc.nn), torch_model)
    shape = (CNN1D_BATCH, 1, CNN1D_LENGTH)
    data = harness.random_batches(np.random.default_rng(seed), shape, 10)
    optimizer = dc.optim.Adam(model.parameters(), lr=1e-3)
    torch_optimizer = torch.optim.Adam(torch_model.parameters(), lr=1e-3)
    return {
        DESCENT: harness.training_step(dc, model, optimizer, data),
        "nn.Sequential + optim.Adam": harness.training_step(
            torch, torch_model, torch_optimizer, data
        ),
    }


# -- one epoch through a DataLoader --------------------------------------------------------


def enlarged_digits(rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `rows` training images of the example's enlarged digits, normalized as
    the example's transforms do: (rows, 1, 28, 28) float32 and (rows,) int64."""
    from examples import mnist

    images, labels = mnist.enlarged_digits(train=True)
    pixels = images[:rows, None].astype(np.float32) / 255
    return (pixels - mnist.MNIST_MEAN) / mnist.MNIST_STD, labels[:rows]


class SharedOrder:
    """A sampler that both libraries' loaders accept: a fresh NumPy permutation per epoch,
    the same sequence for every loader built with the same seed."""

    def __init__(self, size: int, seed: int):
        self.size, self.rng = size, np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        return iter(self.rng.permutation(self.size).tolist())


def mnist_epoch_steps(seed: int) -> dict[str, Step]:
    x, y = enlarged_digits(harness.scaled(DIGITS_TRAIN_ROWS, MNIST_BATCH))
    (model, optimizer), (torch_model, torch_optimizer) = mnist_models(seed)
    return {
        DESCENT: epoch(dc, model, optimizer, x, y, seed),
        "the example's loop, DataLoader": epoch(torch, torch_model, torch_optimizer, x, y, seed),
    }


def epoch(lib, model, optimizer, x: np.ndarray, y: np.ndarray, seed: int) -> Step:
    """One pass of the example's train() over a DataLoader of (x, y) at batch 64.

    The checked calls stop after CHECKED_BATCHES batches and return their losses: over
    whole epochs, float32 rounding amplified by Adadelta at lr 1.0 parts the libraries by
    more than the check's tolerance (0.001 after 24 steps, 0.008 after 45)."""
    dataset = lib.utils.data.TensorDataset(lib.tensor(x), lib.tensor(y))
    loader = lib.utils.data.DataLoader(
        dataset, batch_size=MNIST_BATCH, sampler=SharedOrder(len(x), seed)
    )
    calls = iter(range(1 << 62))
    nll_loss = lib.nn.functional.nll_loss

    def run():
        checking = next(calls) < CHECKED_CALLS
        model.train(not checking)
        losses = []
        for data, target in loader:
            optimizer.zero_grad()
            loss = nll_loss(model(data), target)
            loss.backward()
            optimizer.step()
            losses.append(loss)
            if checking and len(losses) == CHECKED_BATCHES:
                break
        return losses[:CHECKED_BATCHES]

    return run


WORKLOADS: dict[str, harness.Workload] = {
    f"mnist example's net, step, batch {MNIST_BATCH}, Adadelta": lambda: mnist_steps(seed=0),
    f"1-D CNN (MNIST-1D), step, batch {CNN1D_BATCH}, Adam": lambda: cnn1d_steps(seed=1),
    "mnist example, 1 epoch of enlarged digits (1,438)": lambda: mnist_epoch_steps(seed=2),
}


def main(argv: list[str] | None = None) -> int:
    return harness.main(argv, __doc__.splitlines()[0], {"models": WORKLOADS})


if __name__ == "__main__":
    sys.exit(main())
