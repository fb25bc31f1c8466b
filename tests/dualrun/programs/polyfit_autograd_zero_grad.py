"""Cubic fit of sin(x) with autograd; updates under no_grad, then `.grad.zero_()` each step."""

import math

import numpy as np
import torch

results = {}
x = torch.tensor(np.linspace(-math.pi, math.pi, 1000), dtype=torch.float32)
y = torch.sin(x)
init = np.random.default_rng(2).normal(size=4)
params = [torch.tensor(v, dtype=torch.float32, requires_grad=True) for v in init]

learning_rate = 2e-6
losses = []
for t in range(400):
    a, b, c, d = params
    y_pred = a + b * x + c * x**2 + d * x**3
    loss = (y_pred - y).pow(2).sum()
    if t % 50 == 0:
        losses.append(loss.item())
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= learning_rate * p.grad
            p.grad.zero_()

results["losses"] = losses
results["coefs"] = [p.item() for p in params]
results["grads_zeroed"] = [p.grad.item() for p in params]
results["grad_shape"] = list(params[0].grad.shape)
