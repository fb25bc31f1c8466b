"""norm (p=2, p=1, dim), std/var (unbiased default, correction=0), F.normalize; values and grads."""

import warnings

import numpy as np
import torch
import torch.nn.functional as F

results = {}
rng = np.random.default_rng(9)
x = torch.tensor(rng.normal(size=(3, 5)), dtype=torch.float32, requires_grad=True)

results["norm"] = x.norm().item()
results["norm_dim1"] = x.norm(dim=1).detach().numpy()
results["norm_p1"] = torch.norm(x, p=1).item()
results["norm_keepdim.shape"] = list(x.norm(dim=0, keepdim=True).shape)
x.norm().backward()
results["norm_grad"] = x.grad.numpy().copy()

x.grad = None
results["std"] = x.std().item()
results["std_dim0"] = x.std(dim=0).detach().numpy()
results["std_biased"] = x.std(dim=1, unbiased=False).detach().numpy()
results["std_correction0"] = x.std(dim=1, correction=0).detach().numpy()
results["var"] = x.var().item()
results["var_dim1_keep"] = x.var(dim=1, keepdim=True).detach().numpy()
results["var_biased"] = x.var(unbiased=False).item()
x.std(dim=1).sum().backward()
results["std_grad"] = x.grad.numpy().copy()

x.grad = None
(x.var(0) * torch.arange(5.0)).sum().backward()
results["var_grad"] = x.grad.numpy().copy()

standardized = (x - x.mean(dim=1, keepdim=True)) / x.std(dim=1, keepdim=True)
results["standardized_std"] = standardized.std(dim=1).detach().numpy()
normalized = F.normalize(x, dim=1)
results["normalize"] = normalized.detach().numpy()
results["normalize_norms"] = normalized.norm(dim=1).detach().numpy()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # torch warns: degrees of freedom <= 0
    results["single_std_nan"] = torch.tensor([2.0]).std().item()
results["mean_var_pair"] = [t.detach().numpy() for t in (x.mean(dim=0), x.var(dim=0))]
