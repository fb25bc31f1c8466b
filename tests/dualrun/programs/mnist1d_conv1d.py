"""A 1-D CNN on MNIST-1D-like synthetic signals: Conv1d, ReLU, MaxPool1d, AvgPool1d, Linear,
trained with Adam on minibatches; loss and accuracy per epoch, a gradient, final weights."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

results = {}
rng = np.random.default_rng(40)
L, N_CLASSES = 40, 5
templates = rng.normal(size=(N_CLASSES, 12))


def make(n):
    """Each signal is a class template, padded, shifted, scaled, plus noise (MNIST-1D's recipe)."""
    y = rng.integers(0, N_CLASSES, size=n)
    x = np.zeros((n, L))
    for i, c in enumerate(y):
        shift = rng.integers(0, L - 12)
        x[i, shift : shift + 12] = templates[c] * rng.uniform(0.8, 1.2)
    x += rng.normal(0, 0.2, size=x.shape)
    return torch.tensor(x[:, None, :], dtype=torch.float32), torch.tensor(y)


x_train, y_train = make(160)
x_test, y_test = make(60)


class ConvBase(nn.Module):
    def __init__(self, channels=16, output_size=N_CLASSES):
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, 5, stride=1, padding=2)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=1, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.pool = nn.MaxPool1d(2)
        self.avg = nn.AvgPool1d(2)
        self.linear = nn.Linear(channels * 5, output_size)

    def forward(self, x):
        h1 = self.pool(F.relu(self.conv1(x)))  # 40 -> 20
        h2 = self.avg(F.relu(self.conv2(h1)))  # 20 -> 10
        h3 = F.relu(self.conv3(h2))  # 10 -> 5
        return self.linear(h3.view(h3.shape[0], -1))


model = ConvBase()
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.normal(0, 0.2, tuple(p.shape)), dtype=torch.float32))
results["shapes"] = [list(model.conv1(x_train[:2]).shape), list(model(x_train[:2]).shape)]
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
criterion = nn.CrossEntropyLoss()


def accuracy(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(-1) == y).float().mean().item()


history = []
for _epoch in range(5):
    model.train()
    epoch_loss = 0.0
    for i in range(0, 160, 32):
        xb, yb = x_train[i : i + 32], y_train[i : i + 32]
        loss = criterion(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        epoch_loss += loss.item() * len(xb)
    model.eval()
    with torch.no_grad():
        test_loss = criterion(model(x_test), y_test).item()
    history.append(
        [
            epoch_loss / 160,
            test_loss,
            accuracy(model, x_train, y_train),
            accuracy(model, x_test, y_test),
        ]
    )
results["history"] = history
results["conv1.weight.grad"] = model.conv1.weight.grad.numpy().copy()
results["conv3.bias"] = model.conv3.bias.detach().numpy().copy()
results["linear.weight"] = model.linear.weight.detach().numpy().copy()
