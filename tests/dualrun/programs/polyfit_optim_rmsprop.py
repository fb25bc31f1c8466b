"""Cubic fit with nn.Linear and torch.optim.RMSprop, as in the 'Learning PyTorch' nn/optim step."""

import math

import numpy as np
import torch

results = {}
x = torch.tensor(np.linspace(-math.pi, math.pi, 2000), dtype=torch.float32)
y = torch.sin(x)
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)

model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
with torch.no_grad():
    model[0].weight.copy_(torch.tensor([[-0.3, 0.2, 0.1]]))
    model[0].bias.fill_(0.4)
loss_fn = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)

losses = []
for t in range(300):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    if t % 50 == 49:
        losses.append(loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

linear_layer = model[0]
results["losses"] = losses
results["coefs"] = [linear_layer.bias.item()] + linear_layer.weight.detach().flatten().tolist()
results["state_keys"] = sorted(optimizer.state[linear_layer.weight].keys())
results["square_avg"] = optimizer.state[linear_layer.weight]["square_avg"].numpy()
