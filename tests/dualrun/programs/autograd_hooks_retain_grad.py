"""retain_grad on intermediates, register_hook (doubling a grad, removing it), grad_fn.name()."""

import warnings

import torch

results = {}
x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
y = x * 3
y.retain_grad()
z = (y**2).sum()
z.backward()
results["y.grad"] = y.grad.tolist()
results["x.grad"] = x.grad.tolist()
results["y.is_leaf"] = y.is_leaf
results["retains_grad"] = [y.retains_grad, x.retains_grad]

w = x * 2
(w * w).sum().backward()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # torch warns when .grad of a non-leaf is read
    results["nonleaf_grad_is_none"] = w.grad is None

x.grad = None
h = x * 3
handle = h.register_hook(lambda g: g * 2)
(h**2).sum().backward()
results["hooked"] = x.grad.tolist()
handle.remove()
x.grad = None
h2 = x * 3
(h2**2).sum().backward()
results["hook_removed"] = x.grad.tolist()

seen = []


def spy(g):
    seen.append(g.tolist())


x.grad = None
leaf_handle = x.register_hook(lambda g: g + 1)
m = x * x
m.register_hook(spy)
m.sum().backward()
leaf_handle.remove()
results["leaf_hook"] = x.grad.tolist()
results["spy"] = seen

a = torch.tensor(2.0, requires_grad=True)
b = torch.tensor(3.0, requires_grad=True)
results["names"] = [(a * b).grad_fn.name(), (a + b).grad_fn.name(), (a * b).sum().grad_fn.name()]
