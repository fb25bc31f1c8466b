"""Linear regression from scratch (d2l 3.2 style): data_iter minibatches, squared_loss, sgd."""

import numpy as np
import torch

results = {}
rng = np.random.default_rng(0)
true_w = torch.tensor([2, -3.4])
true_b = 4.2
X_np = rng.normal(0, 1, (1000, 2))
y_np = X_np @ np.array([2, -3.4]) + 4.2 + rng.normal(0, 0.01, 1000)
features = torch.tensor(X_np, dtype=torch.float32)
labels = torch.tensor(y_np, dtype=torch.float32).reshape((-1, 1))
order = rng.permutation(len(features))


def data_iter(batch_size, features, labels):
    num_examples = len(features)
    indices = list(order)
    for i in range(0, num_examples, batch_size):
        batch_indices = torch.tensor(indices[i : min(i + batch_size, num_examples)])
        yield features[batch_indices], labels[batch_indices]


def linreg(X, w, b):
    return torch.matmul(X, w) + b


def squared_loss(y_hat, y):
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


w = torch.tensor(rng.normal(0, 0.01, (2, 1)), dtype=torch.float32, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr, num_epochs, batch_size = 0.03, 3, 10
net, loss = linreg, squared_loss
X, y = next(data_iter(batch_size, features, labels))
results["first_batch"] = [list(X.shape), list(y.shape), X[0].tolist()]
epoch_losses = []
for epoch in range(num_epochs):
    for X, y in data_iter(batch_size, features, labels):
        batch_loss = loss(net(X, w, b), y)
        batch_loss.sum().backward()
        sgd([w, b], lr, batch_size)
    with torch.no_grad():
        train_l = loss(net(features, w, b), labels)
        epoch_losses.append(float(train_l.mean()))
        print(f"epoch {epoch + 1}, loss {float(train_l.mean()):f}")

results["epoch_losses"] = epoch_losses
results["w"] = w.detach().numpy().copy()
results["b"] = b.item()
results["w_error"] = (true_w - w.reshape(true_w.shape)).tolist()
results["b_error"] = (true_b - b).item()
