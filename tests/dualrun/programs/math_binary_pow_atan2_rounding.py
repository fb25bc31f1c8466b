"""Binary math: pow (tensor/scalar/rpow), atan2, div/floordiv/remainder, round half-even; grads."""

import torch

results = {}
x = torch.tensor([0.5, 1.0, 2.0, 3.0], requires_grad=True)
e = torch.tensor([2.0, 0.5, -1.0, 3.0], requires_grad=True)
p = torch.pow(x, e)
results["pow"] = p.detach().numpy()
p.sum().backward()
results["pow.grad_base"] = x.grad.numpy().copy()
results["pow.grad_exp"] = e.grad.numpy().copy()

x.grad = None
y = x**3 + x.pow(0.5) + 2**x + x**-1
results["pows"] = y.detach().numpy()
y.sum().backward()
results["pows.grad"] = x.grad.numpy().copy()

a = torch.tensor([1.0, -1.0, -2.0, 0.5], requires_grad=True)
b = torch.tensor([2.0, 1.0, -0.5, -3.0], requires_grad=True)
t = torch.atan2(a, b)
results["atan2"] = t.detach().numpy()
t.sum().backward()
results["atan2.grad_a"] = a.grad.numpy()
results["atan2.grad_b"] = b.grad.numpy()

n = torch.tensor([7.0, -7.0, 7.5, -0.5])
d = torch.tensor([2.0, 2.0, -2.0, 3.0])
results["div"] = (n / d).numpy()
results["floor_divide"] = (n // d).numpy()
results["remainder"] = (n % d).numpy()
results["fmod"] = torch.fmod(n, d).numpy()
results["div_floor_mode"] = torch.div(n, d, rounding_mode="floor").numpy()
results["div_trunc_mode"] = torch.div(n, d, rounding_mode="trunc").numpy()
results["int_floordiv"] = (torch.tensor([7, -7]) // 2).tolist()
results["int_mod"] = (torch.tensor([7, -7]) % 3).tolist()
results["int_truediv"] = (torch.tensor([7, -7]) / 2).tolist()
results["round_half_even"] = torch.round(torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 2.4])).tolist()
results["round_decimals"] = torch.round(torch.tensor([1.2345, 2.5678]), decimals=2).numpy()
results["minimum"] = torch.minimum(n, d).tolist()
results["hypot_like"] = torch.sqrt(n**2 + d**2).numpy()

q = torch.tensor([1.0, 4.0], requires_grad=True)
r = torch.tensor([2.0, 8.0], requires_grad=True)
(q / r).sum().backward()
results["div.grad"] = [q.grad.tolist(), r.grad.tolist()]
