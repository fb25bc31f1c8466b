"""Cubic fit of sin(x) with autograd; updates under no_grad, then `a.grad = None`."""

import math

import numpy as np
import torch

results = {}
dtype = torch.float
x = torch.tensor(np.linspace(-math.pi, math.pi, 2000), dtype=dtype)
y = torch.sin(x)
init = np.random.default_rng(1).normal(size=4)
a = torch.tensor(init[0], dtype=dtype, requires_grad=True)
b = torch.tensor(init[1], dtype=dtype, requires_grad=True)
c = torch.tensor(init[2], dtype=dtype, requires_grad=True)
d = torch.tensor(init[3], dtype=dtype, requires_grad=True)

learning_rate = 1e-6
losses = []
for t in range(500):
    y_pred = a + b * x + c * x**2 + d * x**3
    loss = (y_pred - y).pow(2).sum()
    if t % 100 == 99:
        losses.append(loss.item())
    loss.backward()
    with torch.no_grad():
        a -= learning_rate * a.grad
        b -= learning_rate * b.grad
        c -= learning_rate * c.grad
        d -= learning_rate * d.grad
        a.grad = None
        b.grad = None
        c.grad = None
        d.grad = None

results["losses"] = losses
results["coefs"] = [a.item(), b.item(), c.item(), d.item()]
results["still_leaves"] = [a.is_leaf, a.requires_grad, a.grad is None]
