"""detach, no_grad (context and decorator), set_grad_enabled, enable_grad, requires_grad_()."""

# ruff: noqa: F821  (raises is provided by the dual-run harness)
import torch

results = {}
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x * x
u = y.detach()
results["u"] = [u.requires_grad, u.grad_fn is None, u.is_leaf]
z = u * x
z.sum().backward()
results["x.grad_detached"] = x.grad.tolist()
results["detach_numpy"] = x.detach().numpy().copy()
results["numpy_requires_grad"] = raises(lambda: x.numpy())

results["enabled_outside"] = torch.is_grad_enabled()
with torch.no_grad():
    w = x * 2
    results["enabled_inside"] = torch.is_grad_enabled()
    with torch.enable_grad():
        inner = x * 2
results["no_grad_result"] = [w.requires_grad, w.grad_fn is None]
results["enable_grad_inside"] = inner.requires_grad
results["enabled_after"] = torch.is_grad_enabled()


@torch.no_grad()
def doubled(t):
    return t * 2


results["decorated"] = doubled(x).requires_grad

with torch.set_grad_enabled(False):
    off = x + 1
results["set_grad_enabled_false"] = off.requires_grad
torch.set_grad_enabled(False)
flag_off = x + 1
torch.set_grad_enabled(True)
results["set_grad_enabled_call"] = [flag_off.requires_grad, torch.is_grad_enabled()]

t = torch.zeros(3)
ret = t.requires_grad_()
results["requires_grad_"] = [t.requires_grad, ret is t]
t.requires_grad_(False)
results["requires_grad_false"] = t.requires_grad
p = torch.ones(2)
p.requires_grad = True
(p * 3).sum().backward()
results["set_attribute"] = p.grad.tolist()
nonleaf = x * 2
results["nonleaf_flag_off"] = raises(lambda: nonleaf.requires_grad_(False))
results["detach_copy_"] = raises(lambda: x.detach().zero_())
results["x_after_detach_zero"] = x.detach().tolist()
