"""Fit sin(x) with a custom autograd.Function (Legendre P3) using ctx.save_for_backward."""

import math

import numpy as np
import torch


class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input**3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input**2 - 1)


results = {}
x = torch.tensor(np.linspace(-math.pi, math.pi, 2000), dtype=torch.float32)
y = torch.sin(x)
a = torch.full((), 0.0, requires_grad=True)
b = torch.full((), -1.0, requires_grad=True)
c = torch.full((), 0.0, requires_grad=True)
d = torch.full((), 0.3, requires_grad=True)

learning_rate = 5e-6
losses = []
for t in range(300):
    P3 = LegendrePolynomial3.apply
    y_pred = a + b * P3(c + d * x)
    loss = (y_pred - y).pow(2).sum()
    if t % 50 == 49:
        losses.append(loss.item())
    loss.backward()
    with torch.no_grad():
        for p in (a, b, c, d):
            p -= learning_rate * p.grad
            p.grad = None

results["losses"] = losses
results["coefs"] = [a.item(), b.item(), c.item(), d.item()]
out = LegendrePolynomial3.apply(torch.tensor([0.5, 1.0], requires_grad=True))
results["out_grad_fn_set"] = out.grad_fn is not None
results["out"] = out.tolist()
