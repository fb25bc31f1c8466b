"""Cubic fit with a custom nn.Module of four 0-d Parameters, plain SGD, and a string summary."""

import math

import numpy as np
import torch


class Polynomial3(torch.nn.Module):
    def __init__(self, init):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(init[0], dtype=torch.float32))
        self.b = torch.nn.Parameter(torch.tensor(init[1], dtype=torch.float32))
        self.c = torch.nn.Parameter(torch.tensor(init[2], dtype=torch.float32))
        self.d = torch.nn.Parameter(torch.tensor(init[3], dtype=torch.float32))

    def forward(self, x):
        return self.a + self.b * x + self.c * x**2 + self.d * x**3

    def string(self):
        return (
            f"y = {self.a.item():.3f} + {self.b.item():.3f} x + "
            f"{self.c.item():.3f} x^2 + {self.d.item():.3f} x^3"
        )


results = {}
x = torch.tensor(np.linspace(-math.pi, math.pi, 2000), dtype=torch.float32)
y = torch.sin(x)
model = Polynomial3(np.random.default_rng(16).normal(0, 0.5, 4))
results["param_names"] = [n for n, _ in model.named_parameters()]
results["param_shapes"] = [list(p.shape) for p in model.parameters()]
criterion = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
losses = []
for t in range(400):
    y_pred = model(x)
    loss = criterion(y_pred, y)
    if t % 100 == 99:
        losses.append(loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
results["losses"] = losses
results["coefs"] = [p.item() for p in model.parameters()]
results["string"] = model.string()
