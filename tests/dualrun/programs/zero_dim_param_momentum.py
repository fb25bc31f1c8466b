"""A 0-d nn.Parameter used twice in one graph, trained by SGD with momentum: grad stays a tensor."""

import numpy as np
import torch
from torch import nn

results = {}
rng = np.random.default_rng(7)
xs = torch.tensor(rng.normal(size=8), dtype=torch.float32)
ys = torch.tensor(3.0 * rng.normal(size=8) + 1.0, dtype=torch.float32)

w = nn.Parameter(torch.tensor(1.5))
results["w.shape"] = list(w.shape)
opt = torch.optim.SGD([w], lr=0.05, momentum=0.9)
grads, values, buffers = [], [], []
for _ in range(15):
    opt.zero_grad()
    loss = ((w * xs - ys) ** 2).mean() + 0.1 * w * w
    loss.backward()
    grads.append(w.grad.item())
    opt.step()
    values.append(w.item())
    buffers.append(opt.state[w]["momentum_buffer"].item())

results["grads"] = grads
results["values"] = values
results["momentum_buffers"] = buffers
results["grad_is_tensor"] = isinstance(w.grad, torch.Tensor)
results["grad.shape"] = list(w.grad.shape)
results["grad.dim"] = w.grad.dim()
results["buffer_is_tensor"] = isinstance(opt.state[w]["momentum_buffer"], torch.Tensor)


class Affine(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.5))
        self.b = nn.Parameter(torch.tensor(-0.25))

    def forward(self, x):
        return self.a * x + self.a**2 + self.b


model = Affine()
opt2 = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.8, nesterov=True)
for _ in range(10):
    opt2.zero_grad()
    loss = ((model(xs) - ys) ** 2).mean()
    loss.backward()
    opt2.step()
results["affine"] = [model.a.item(), model.b.item(), loss.item()]
results["affine_grad_shapes"] = [list(p.grad.shape) for p in model.parameters()]
