"""retain_graph, a second backward through freed buffers, backward(gradient=...) on non-scalars."""

# ruff: noqa: F821  (raises is provided by the dual-run harness)
import torch

results = {}
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
z = (x * x).sum()
z.backward(retain_graph=True)
results["first"] = x.grad.tolist()
z.backward()
results["second"] = x.grad.tolist()

x.grad = None
w = (x * x).sum()
w.backward()
results["second_without_retain"] = raises(lambda: w.backward())
e = x.exp().sum()
e.backward()
results["exp_second_without_retain"] = raises(lambda: e.backward())

y = x * 2
results["nonscalar_implicit"] = raises(lambda: y.backward())
x.grad = None
y.backward(torch.tensor([0.1, 1.0, 0.0001]))
results["gradient_arg"] = x.grad.numpy()
x.grad = None
y2 = x**2
y2.backward(gradient=torch.ones_like(y2))
results["ones_like_gradient"] = x.grad.tolist()
x.grad = None
m = torch.stack([x, x * x])
m.backward(torch.tensor([[1.0, 0.0, 1.0], [0.5, 0.5, 0.5]]))
results["matrix_gradient"] = x.grad.tolist()
x.grad = None
s = x.sum() * 3
s.backward(torch.tensor(2.0))
results["scalar_gradient"] = x.grad.tolist()
results["wrong_gradient_shape"] = raises(lambda: (x * 3).backward(torch.ones(2)))
