""" "What is torch.nn really?": manual weights -> nn.Module -> nn.Linear -> optim ->
TensorDataset/DataLoader -> fit() with a validation loop, on sklearn's 8x8 digits."""

import math

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

results = {}
digits = load_digits()
X_np, y_np = (digits.data[:300] / 16.0).astype(np.float32), digits.target[:300].astype(np.int64)
x_train, y_train = torch.tensor(X_np[:200]), torch.tensor(y_np[:200])
x_valid, y_valid = torch.tensor(X_np[200:]), torch.tensor(y_np[200:])
n, c = x_train.shape
rng = np.random.default_rng(5)
w0, bs, lr = (rng.normal(size=(64, 10)) / math.sqrt(64)).astype(np.float32), 50, 0.5

# 1. from scratch: weights, log_softmax, nll, a manual update under no_grad
weights, bias = torch.tensor(w0).requires_grad_(), torch.zeros(10, requires_grad=True)


def log_softmax(x):
    return x - x.exp().sum(-1).log().unsqueeze(-1)


def model(xb):
    return log_softmax(xb @ weights + bias)


def nll(input, target):
    return -input[range(target.shape[0]), target].mean()


def accuracy(out, yb):
    return (torch.argmax(out, dim=1) == yb).float().mean()


for i in range((n - 1) // bs + 1):
    xb, yb = x_train[i * bs : i * bs + bs], y_train[i * bs : i * bs + bs]
    loss = nll(model(xb), yb)
    loss.backward()
    with torch.no_grad():
        weights -= weights.grad * lr
        bias -= bias.grad * lr
        weights.grad.zero_(), bias.grad.zero_()
results["scratch"] = [nll(model(x_valid), y_valid).item(), accuracy(model(x_valid), y_valid).item()]
loss_func = F.cross_entropy
results["F.cross_entropy"] = loss_func(x_valid @ weights + bias, y_valid).item()


# 2. nn.Module with nn.Parameter, then 3. nn.Linear
class Mnist_Logistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.tensor(w0))
        self.bias = nn.Parameter(torch.zeros(10))

    def forward(self, xb):
        return xb @ self.weights + self.bias


class Mnist_Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(64, 10)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor(w0.T.copy()))
            self.lin.bias.zero_()

    def forward(self, xb):
        return self.lin(xb)


model = Mnist_Logistic()
for i in range((n - 1) // bs + 1):
    xb, yb = x_train[i * bs : i * bs + bs], y_train[i * bs : i * bs + bs]
    loss = loss_func(model(xb), yb)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= p.grad * lr
        model.zero_grad()
results["module"] = loss_func(model(x_valid), y_valid).item()

# 4. optim, 5. TensorDataset + DataLoader, 6. fit() with validation
train_ds, valid_ds = TensorDataset(x_train, y_train), TensorDataset(x_valid, y_valid)


def loss_batch(model, loss_func, xb, yb, opt=None):
    loss = loss_func(model(xb), yb)
    if opt is not None:
        loss.backward()
        opt.step()
        opt.zero_grad()
    return loss.item(), len(xb)


def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
    history = []
    for _epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            loss_batch(model, loss_func, xb, yb, opt)
        model.eval()
        with torch.no_grad():
            losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
        history.append(float(np.sum(np.multiply(losses, nums)) / np.sum(nums)))
    return history


model = Mnist_Linear()
opt = optim.SGD(model.parameters(), lr=lr)
train_dl, valid_dl = DataLoader(train_ds, batch_size=bs), DataLoader(valid_ds, batch_size=bs * 2)
results["fit"] = fit(4, model, loss_func, opt, train_dl, valid_dl)
results["valid_acc"] = accuracy(model(x_valid), y_valid).item()
results["lin.bias"] = model.lin.bias.detach().numpy().copy()
