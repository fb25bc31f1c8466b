"""PyTorch's MNIST example (pytorch/examples, mnist/main.py), run by descent as written.

The model, the training and test loops and the flags are the official example's, with
`import descent as torch`. torchvision is not needed: by default the data are the
built-in 8x8 digits enlarged to MNIST's 28x28 (each pixel a 3x3 block, a 2-pixel border,
scaled to [0, 1] as ToTensor does), offline and in a second; `--data DIR` reads real MNIST
from its four IDX files instead (train-images-idx3-ubyte[.gz] and the others). Short by
default (--epochs 1) so that it runs in seconds.

    python examples/mnist.py                      # one epoch on the enlarged digits
    python examples/mnist.py --epochs 14 --data ~/mnist
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import descent as torch
import descent.nn as nn
import descent.nn.functional as F
import descent.optim as optim
from descent.optim.lr_scheduler import StepLR

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # the example's transforms.Normalize
IDX_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


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
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(args, model, device, train_loader, optimizer, epoch) -> list[float]:
    """One epoch, as the example's; returns the losses it logged."""
    model.train()
    logged = []
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            logged.append(loss.item())
            print(
                f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)} "
                f"({100.0 * batch_idx / len(train_loader):.0f}%)]\tLoss: {loss.item():.6f}"
            )
            if args.dry_run:
                break
    return logged


def test(model, device, test_loader) -> tuple[float, float]:
    """The mean loss and the accuracy on the test set, printed as the example prints them."""
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()

    size = len(test_loader.dataset)
    test_loss /= size
    print(
        f"\nTest set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{size} "
        f"({100.0 * correct / size:.0f}%)\n"
    )
    return test_loss, correct / size


# -- data: what torchvision's datasets.MNIST and transforms give the example ---------------


def enlarged_digits(train: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The built-in digits as MNIST-like images: (N, 28, 28) uint8 and (N,) int64 labels.

    Each 8x8 pixel (0-16) becomes a 3x3 block and a 2-pixel border pads 24x24 to 28x28,
    as MNIST centres 20x20 digits in 28x28. The train part has 1438 images, the test part 359.
    """
    train_part, test_part = torch.data.load_dataset("digits", seed=seed)
    part = train_part if train else test_part
    small = part.features.reshape(-1, 8, 8) * (255 / 16)
    large = np.kron(small, np.ones((3, 3), dtype=small.dtype))
    images = np.pad(large, ((0, 0), (2, 2), (2, 2)))
    return np.rint(images).astype(np.uint8), part.targets.astype(np.int64)


def mnist_idx(folder: str, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's images and labels read from its IDX files (gzipped or not) in `folder`."""
    arrays = []
    for name in IDX_FILES[train]:
        path = Path(folder, name)
        if not path.exists() and path.with_suffix(".gz").exists():
            path = path.with_suffix(".gz")
        arrays.append(torch.data.read_idx(path))
    images, labels = arrays
    return images, labels.astype(np.int64)


def as_dataset(images: np.ndarray, labels: np.ndarray):
    """ToTensor and Normalize((0.1307,), (0.3081,)) on every image at once."""
    pixels = images[:, None, :, :].astype(np.float32) / 255
    normalized = (pixels - MNIST_MEAN) / MNIST_STD
    return torch.utils.data.TensorDataset(torch.tensor(normalized), torch.tensor(labels))


def datasets(args):
    """The train and test sets: real MNIST with --data, else the enlarged digits."""
    if args.data:
        parts = mnist_idx(args.data, True), mnist_idx(args.data, False)
    else:
        parts = enlarged_digits(True, args.seed), enlarged_digits(False, args.seed)
    return [as_dataset(*part) for part in parts]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="PyTorch MNIST Example, run by descent")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=64,
        metavar="N",
        help="input batch size for training (default: 64)",
    )
    parser.add_argument(
        "--test-batch-size",
        type=int,
        default=1000,
        metavar="N",
        help="input batch size for testing (default: 1000)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=1,
        metavar="N",
        help="number of epochs to train (default: 1; the example's is 14)",
    )
    parser.add_argument(
        "--lr", type=float, default=1.0, metavar="LR", help="learning rate (default: 1.0)"
    )
    parser.add_argument(
        "--gamma",
        type=float,
        default=0.7,
        metavar="M",
        help="Learning rate step gamma (default: 0.7)",
    )
    parser.add_argument("--dry-run", action="store_true", help="quickly check a single pass")
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default: 1)")
    parser.add_argument(
        "--log-interval",
        type=int,
        default=10,
        metavar="N",
        help="how many batches to wait before logging training status",
    )
    parser.add_argument("--save-model", action="store_true", help="For Saving the current Model")
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="a folder with MNIST's IDX files (default: the enlarged digits)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    """Train and test as the example does; returns the logged losses and the last test."""
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    device = torch.device("cpu")

    dataset1, dataset2 = datasets(args)
    # The example shuffles only on an accelerator; shuffling here too trains better.
    train_loader = torch.utils.data.DataLoader(dataset1, batch_size=args.batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(dataset2, batch_size=args.test_batch_size)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    losses, result = [], None
    for epoch in range(1, args.epochs + 1):
        losses += train(args, model, device, train_loader, optimizer, epoch)
        result = test(model, device, test_loader)
        scheduler.step()

    if args.save_model:
        torch.save(model.state_dict(), "mnist_cnn.safetensors")
    return {"losses": losses, "test_loss": result[0], "accuracy": result[1]}


if __name__ == "__main__":
    main()
