"""Broadcasting in forward passes and gradient reduction back to each input's shape."""

import numpy as np
import torch

results = {}
rng = np.random.default_rng(14)
a = torch.tensor(rng.normal(size=(3, 1)), dtype=torch.float32, requires_grad=True)
b = torch.tensor(rng.normal(size=(1, 4)), dtype=torch.float32, requires_grad=True)
c = a + b
results["c.shape"] = list(c.shape)
(c * c).sum().backward()
results["a.grad"] = a.grad.numpy()
results["b.grad"] = b.grad.numpy()

bias = torch.tensor([0.1, -0.2, 0.3, 0.0], requires_grad=True)
x = torch.tensor(rng.normal(size=(2, 3, 4)), dtype=torch.float32)
(torch.tanh(x + bias)).sum().backward()
results["bias.grad"] = bias.grad.numpy()
results["bias.grad.shape"] = list(bias.grad.shape)

s = torch.tensor(2.0, requires_grad=True)
v = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
(s * v).pow(2).sum().backward()
results["scalar.grad"] = s.grad.item()
results["scalar.grad.shape"] = list(s.grad.shape)
results["v.grad"] = v.grad.tolist()

e = torch.tensor([[1.0], [2.0]], requires_grad=True)
ex = e.expand(2, 3)
(ex * torch.arange(6.0).reshape(2, 3)).sum().backward()
results["expand.grad"] = e.grad.tolist()

col = torch.arange(3.0).reshape(3, 1)
row = torch.arange(4.0)
results["outer_by_broadcast"] = (col * row).tolist()
results["broadcast_to"] = torch.broadcast_to(row, (2, 4)).tolist()
results["div_broadcast"] = (x / x.sum(dim=-1, keepdim=True)).numpy()
m = torch.tensor(rng.normal(size=(4, 3)), dtype=torch.float32, requires_grad=True)
centered = m - m.mean(dim=0)
(centered**2).sum().backward()
results["centered.grad"] = m.grad.numpy()
k = torch.tensor([[2.0]], requires_grad=True)
(k * torch.ones(2, 5)).sum().backward()
results["1x1.grad"] = k.grad.tolist()
