"""Fit y = sin(x) with a cubic using raw tensors and hand-derived gradients (no autograd)."""

import math

import numpy as np
import torch

results = {}
x = torch.tensor(np.linspace(-math.pi, math.pi, 2000), dtype=torch.float32)
y = torch.sin(x)
init = np.random.default_rng(0).normal(size=4)
a, b, c, d = (torch.tensor(v, dtype=torch.float32) for v in init)
results["coef_dtype"] = str(a.dtype).replace("torch.", "")

learning_rate = 1e-6
losses = []
for t in range(500):
    y_pred = a + b * x + c * x**2 + d * x**3
    loss = (y_pred - y).pow(2).sum().item()
    if t % 100 == 99:
        losses.append(loss)
    grad_y_pred = 2.0 * (y_pred - y)
    grad_a = grad_y_pred.sum()
    grad_b = (grad_y_pred * x).sum()
    grad_c = (grad_y_pred * x**2).sum()
    grad_d = (grad_y_pred * x**3).sum()
    a -= learning_rate * grad_a
    b -= learning_rate * grad_b
    c -= learning_rate * grad_c
    d -= learning_rate * grad_d

results["losses"] = losses
results["coefs"] = [a.item(), b.item(), c.item(), d.item()]
results["summary"] = (
    f"y = {a.item():.3f} + {b.item():.3f} x + {c.item():.3f} x^2 + {d.item():.3f} x^3"
)
