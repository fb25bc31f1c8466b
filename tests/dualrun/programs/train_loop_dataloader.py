"""Quickstart-style train/test loops: TensorDataset, DataLoader (no shuffle), nn.Sequential."""

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

results = {}
rng = np.random.default_rng(13)
X_np = rng.normal(size=(96, 2, 3)).astype(np.float32)
y_np = (X_np.reshape(96, -1).sum(1) > 0).astype(np.int64) + (X_np[:, 0, 0] > 1)
train_data = TensorDataset(torch.from_numpy(X_np[:64]), torch.from_numpy(y_np[:64]))
test_data = TensorDataset(torch.from_numpy(X_np[64:]), torch.from_numpy(y_np[64:]))
train_dataloader = DataLoader(train_data, batch_size=16)
test_dataloader = DataLoader(test_data, batch_size=16)
results["len_dataset"] = len(train_data)
results["len_loader"] = len(train_dataloader)
first_X, first_y = next(iter(train_dataloader))
results["first_batch"] = [
    list(first_X.shape),
    list(first_y.shape),
    str(first_y.dtype).replace("torch.", ""),
]

model = nn.Sequential(nn.Flatten(), nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.normal(0, 0.3, tuple(p.shape)), dtype=torch.float32))
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def train(dataloader, model, loss_fn, optimizer):
    model.train()
    losses = []
    for _batch, (X, y) in enumerate(dataloader):
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


def test(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    return test_loss / num_batches, correct / size


history = []
for _ in range(4):
    history.append(train(train_dataloader, model, loss_fn, optimizer))
    history.append(list(test(test_dataloader, model, loss_fn)))
results["history"] = history
