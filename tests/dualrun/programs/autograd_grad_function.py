"""torch.autograd.grad: first and second derivatives, several inputs, grad_outputs, allow_unused."""

# ruff: noqa: F821  (raises is provided by the dual-run harness)
import torch

results = {}
x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
y = (x**3).sum()
(g,) = torch.autograd.grad(y, x, create_graph=True)
results["g"] = g.tolist()
results["g.requires_grad"] = g.requires_grad
results["x.grad_untouched"] = x.grad is None
(g2,) = torch.autograd.grad(g.sum(), x)
results["g2"] = g2.tolist()

a = torch.tensor([1.0, 2.0], requires_grad=True)
b = torch.tensor([3.0, -1.0], requires_grad=True)
f = (a * b + b.exp()).sum()
ga, gb = torch.autograd.grad(f, [a, b])
results["ga"] = ga.tolist()
results["gb"] = gb.numpy()
results["returns_tuple"] = type(torch.autograd.grad((a * 2).sum(), a)).__name__

v = a * b
(gv,) = torch.autograd.grad(v, a, grad_outputs=torch.tensor([1.0, 0.5]))
results["grad_outputs"] = gv.tolist()

unused = torch.tensor([1.0], requires_grad=True)
results["unused_raises"] = raises(lambda: torch.autograd.grad((a * 2).sum(), [a, unused]))
ga2, gu = torch.autograd.grad((a * 2).sum(), [a, unused], allow_unused=True)
results["allow_unused"] = [ga2.tolist(), gu is None]

s = torch.tensor(1.5, requires_grad=True)
t = s.sin()
(d1,) = torch.autograd.grad(t, s, create_graph=True)
(d2,) = torch.autograd.grad(d1, s)
results["sin_derivs"] = [d1.item(), d2.item()]
