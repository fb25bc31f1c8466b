"""torch.where, clamp, gather, masked_fill (attention-style), index_select, nonzero; grads."""

import numpy as np
import torch

results = {}
rng = np.random.default_rng(4)
x_np = np.round(rng.normal(size=(3, 4)), 2)
x = torch.tensor(x_np, dtype=torch.float32, requires_grad=True)

w = torch.where(x > 0, x, torch.zeros_like(x))
results["where"] = w.detach().numpy()
results["where_scalar"] = torch.where(x > 0, x, 0.0).detach().numpy()
results["where_both_scalars"] = torch.where(x > 0, 1.0, -1.0).tolist()
results["where_one_arg"] = [t.tolist() for t in torch.where(x > 0.5)]
results["nonzero"] = (x > 0.5).nonzero().tolist()
(w * 2).sum().backward()
results["where_grad"] = x.grad.numpy().copy()

x.grad = None
c = x.clamp(min=-0.5, max=0.5)
results["clamp"] = c.detach().numpy()
results["clamp_min"] = x.clamp(min=0).detach().numpy()
results["clamp_max"] = torch.clamp(x, max=0.2).detach().numpy()
results["clamp_pos"] = torch.clamp(x, -1, 1).detach().numpy()
c.sum().backward()
results["clamp_grad"] = x.grad.numpy().copy()
edge = torch.tensor([-1.0, 0.0, 0.5, 1.0, 2.0], requires_grad=True)
edge.clamp(0.0, 1.0).sum().backward()
results["clamp_grad_at_bounds"] = edge.grad.tolist()

x.grad = None
idx = torch.tensor([[0, 0], [3, 1], [2, 2]])
g = torch.gather(x, 1, idx)
results["gather"] = g.detach().numpy()
results["gather_method"] = x.gather(0, torch.tensor([[2, 1, 0, 0]])).detach().numpy()
(g * torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
results["gather_grad"] = x.grad.numpy().copy()

scores = torch.tensor(rng.normal(size=(2, 3, 3)), dtype=torch.float32, requires_grad=True)
causal = torch.tril(torch.ones(3, 3))
masked = scores.masked_fill(causal == 0, float("-inf"))
attn = torch.softmax(masked, dim=-1)
results["attn"] = attn.detach().numpy()
attn[:, :, 0].sum().backward()
results["attn_grad"] = scores.grad.numpy()
results["masked_fill_value"] = x.masked_fill(x < 0, -9.0).detach().numpy()
results["index_select_grad_free"] = torch.index_select(x.detach(), 0, torch.tensor([2, 0])).numpy()
results["triu"] = torch.triu(torch.ones(3, 3), diagonal=1).tolist()
