"""In-place ops and autograd: `+=` on non-leaves, saved-output errors, leaf in-place rules."""

# ruff: noqa: F821  (raises is provided by the dual-run harness)
import torch

results = {}
x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)

y = x * 2
y += 1
results["iadd_nonleaf_grad_fn"] = y.grad_fn.name()
results["iadd_nonleaf_is_leaf"] = y.is_leaf
y.sum().backward()
results["iadd_nonleaf_grad"] = x.grad.tolist()

x.grad = None
y = x * 2
y.mul_(3)
y.sum().backward()
results["mul_nonleaf_grad"] = x.grad.tolist()


def exp_then_add_():
    y = x.exp()
    y.add_(1)
    y.sum().backward()


def sigmoid_then_mul_():
    y = torch.sigmoid(x)
    y.mul_(2)
    y.sum().backward()


def tanh_then_sub_():
    y = x.tanh()
    y -= 1
    y.sum().backward()


results["exp_add_"] = raises(exp_then_add_)
results["sigmoid_mul_"] = raises(sigmoid_then_mul_)
results["tanh_isub"] = raises(tanh_then_sub_)

leaf = torch.tensor([1.0, 2.0], requires_grad=True)


def leaf_iadd():
    t = leaf
    t += 1


def leaf_setitem():
    leaf[0] = 5.0


results["leaf_add_"] = raises(lambda: leaf.add_(1))
results["leaf_iadd"] = raises(leaf_iadd)
results["leaf_setitem"] = raises(leaf_setitem)
results["leaf_zero_"] = raises(lambda: leaf.zero_())
results["leaf_unchanged"] = leaf.tolist()
with torch.no_grad():
    leaf.add_(1)
    leaf[0] = 0.0
    leaf *= 3
results["leaf_after_no_grad"] = leaf.tolist()
results["leaf_still"] = [leaf.is_leaf, leaf.requires_grad, leaf.grad_fn is None]
(leaf * leaf).sum().backward()
results["leaf_grad_after"] = leaf.grad.tolist()

plain = torch.tensor([1.0, 2.0])
plain.add_(1)
plain[1] = 10.0
results["plain_inplace"] = plain.tolist()
results["add_returns_self"] = plain.add_(1) is plain
