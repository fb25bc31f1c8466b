"""Softmax regression from scratch, d2l style: exp/sum softmax, gathered cross-entropy, accuracy."""

import numpy as np
import torch

results = {}
rng = np.random.default_rng(3)
num_inputs, num_outputs, n = 20, 3, 300
centers = rng.normal(0, 1.5, (num_outputs, num_inputs))
labels_np = rng.integers(0, num_outputs, n)
X_all = torch.tensor(centers[labels_np] + rng.normal(0, 1, (n, num_inputs)), dtype=torch.float32)
y_all = torch.tensor(labels_np)

W = torch.tensor(
    rng.normal(0, 0.01, (num_inputs, num_outputs)), dtype=torch.float32, requires_grad=True
)
b = torch.zeros(num_outputs, requires_grad=True)


def softmax(X):
    X_exp = torch.exp(X)
    partition = X_exp.sum(1, keepdim=True)
    return X_exp / partition


def net(X):
    return softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)


def cross_entropy(y_hat, y):
    return -torch.log(y_hat[range(len(y_hat)), y])


def accuracy(y_hat, y):
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


y = torch.tensor([0, 2])
y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
results["gathered"] = y_hat[[0, 1], y].tolist()
results["ce_demo"] = cross_entropy(y_hat, y).tolist()
results["acc_demo"] = accuracy(y_hat, y) / len(y)
results["softmax_rows"] = softmax(torch.tensor([[1.0, 2.0, 3.0]])).sum(1).tolist()

lr, batch_size = 0.1, 30
history = []
for _ in range(5):
    metric = [0.0, 0.0, 0]
    for i in range(0, n, batch_size):
        X, y = X_all[i : i + batch_size], y_all[i : i + batch_size]
        y_hat = net(X)
        batch_loss = cross_entropy(y_hat, y)
        batch_loss.mean().backward()
        with torch.no_grad():
            for param in (W, b):
                param -= lr * param.grad
                param.grad.zero_()
        metric[0] += float(batch_loss.sum())
        metric[1] += accuracy(y_hat, y)
        metric[2] += y.numel()
    history.append([metric[0] / metric[2], metric[1] / metric[2]])

results["history"] = history
results["W"] = W.detach().numpy().copy()
results["b"] = b.tolist()
results["test_acc"] = accuracy(net(X_all), y_all) / len(y_all)
