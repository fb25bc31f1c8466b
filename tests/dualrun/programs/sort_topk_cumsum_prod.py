"""topk, sort, argsort, cumsum, cumprod, prod: values, indices and gradients."""

import numpy as np
import torch

results = {}
rng = np.random.default_rng(8)
x_np = rng.permutation(12).reshape(3, 4) / 4 + 0.5
x = torch.tensor(x_np, dtype=torch.float32, requires_grad=True)

values, indices = x.topk(2, dim=1)
results["topk_values"] = values.detach().numpy()
results["topk_indices"] = indices.tolist()
small = torch.topk(x, 2, dim=0, largest=False)
results["topk_smallest"] = [small.values.detach().numpy(), small.indices.tolist()]
values.sum().backward()
results["topk_grad"] = x.grad.numpy().copy()

s, order = torch.sort(x, dim=1)
results["sort"] = [s.detach().numpy(), order.tolist()]
sd = x.sort(dim=0, descending=True)
results["sort_desc"] = [sd.values.detach().numpy(), sd.indices.tolist()]
results["argsort"] = x.argsort(dim=1, descending=True).tolist()
results["sort_flat"] = torch.sort(x.flatten()).values.tolist()

x.grad = None
cs = torch.cumsum(x, dim=1)
results["cumsum"] = cs.detach().numpy()
results["cumsum0"] = x.cumsum(0).detach().numpy()
(cs * torch.arange(4.0)).sum().backward()
results["cumsum_grad"] = x.grad.numpy().copy()
results["cumprod"] = torch.cumprod(x.detach(), dim=1).numpy()

x.grad = None
p = x.prod(dim=1)
results["prod_dim"] = p.detach().numpy()
results["prod_all"] = x.prod().item()
results["prod_keepdim.shape"] = list(torch.prod(x, 0, keepdim=True).shape)
p.sum().backward()
results["prod_grad"] = x.grad.numpy().copy()
results["int_cumsum"] = torch.tensor([1, 2, 3]).cumsum(0).tolist()
results["int_cumsum.dtype"] = str(torch.tensor([1, 2, 3]).cumsum(0).dtype).replace("torch.", "")
results["int_prod"] = torch.tensor([2, 3, 4]).prod().item()
