"""Cubic fit with nn.Linear and torch.optim.SGD (momentum), optimizer.zero_grad/step."""

import math

import numpy as np
import torch
from torch import nn

results = {}
x = torch.tensor(np.linspace(-math.pi, math.pi, 500), dtype=torch.float32)
y = torch.sin(x)
xx = torch.stack([x, x**2, x**3], dim=1)

model = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1))
with torch.no_grad():
    model[0].weight.copy_(torch.tensor([[0.5, 0.0, -0.05]]))
    model[0].bias.zero_()
loss_fn = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
results["defaults"] = [optimizer.defaults["lr"], optimizer.defaults["momentum"]]
results["n_groups"] = len(optimizer.param_groups)

losses = []
for t in range(300):
    loss = loss_fn(model(xx), y)
    if t % 30 == 0:
        losses.append(loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

results["losses"] = losses
results["weight"] = model[0].weight.detach().numpy().copy()
results["bias"] = model[0].bias.item()
optimizer.zero_grad()
results["grad_none_after_zero_grad"] = model[0].weight.grad is None
