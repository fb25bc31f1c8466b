"""Cubic fit: nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1)), MSELoss(sum), hand-written SGD."""

import math

import numpy as np
import torch

results = {}
x = torch.tensor(np.linspace(-math.pi, math.pi, 2000), dtype=torch.float32)
y = torch.sin(x)
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)
results["xx.shape"] = list(xx.shape)
results["xx.dtype"] = str(xx.dtype).replace("torch.", "")

model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
with torch.no_grad():
    model[0].weight.copy_(torch.tensor([[0.2, -0.1, 0.05]]))
    model[0].bias.copy_(torch.tensor([0.1]))
loss_fn = torch.nn.MSELoss(reduction="sum")
results["param_names"] = [name for name, _ in model.named_parameters()]
results["out.shape"] = list(model(xx).shape)

learning_rate = 1e-6
losses = []
for t in range(400):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        losses.append(loss.item())
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad

linear_layer = model[0]
results["losses"] = losses
results["bias"] = linear_layer.bias.item()
results["weights"] = [linear_layer.weight[:, i].item() for i in range(3)]
results["weight_is_param"] = isinstance(linear_layer.weight, torch.nn.Parameter)
