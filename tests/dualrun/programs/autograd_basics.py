"""Autograd basics (d2l 2.5 style): requires_grad, backward, .grad, accumulation, zero_, grad_fn."""

import torch

results = {}
x = torch.arange(4.0)
results["default_requires_grad"] = x.requires_grad
x.requires_grad_(True)
results["grad_before"] = x.grad is None
results["leaf"] = [x.is_leaf, x.grad_fn is None]
y = 2 * torch.dot(x, x)
results["y"] = y.item()
results["y_leaf"] = [y.is_leaf, y.grad_fn is not None, y.requires_grad]
y.backward()
results["grad"] = x.grad.tolist()
results["grad_check"] = (x.grad == 4 * x).all().item()
results["grad_requires_grad"] = x.grad.requires_grad
results["grad_is_leaf"] = x.grad.is_leaf

x.grad.zero_()
x.sum().backward()
results["grad_after_zero"] = x.grad.tolist()
(x * x).sum().backward()
results["accumulated"] = x.grad.tolist()
x.grad = None
(x**3).mean().backward()
results["after_none"] = x.grad.tolist()

w = torch.ones(2, 2, requires_grad=True)
b = torch.tensor([0.5, -0.5], requires_grad=True)
out = (w * 3 + b).relu().sum()
out.backward()
results["w.grad"] = w.grad.tolist()
results["b.grad"] = b.grad.tolist()


def f(a):
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    c = b if b.sum() > 0 else 100 * b
    return c


a = torch.tensor(0.75, requires_grad=True)
d = f(a)
d.backward()
results["control_flow"] = [d.item(), a.grad.item(), (a.grad == d / a).item()]
results["int_requires_grad_default"] = torch.tensor([1, 2]).requires_grad
