"""In-place modification of tensors saved for backward: which cases raise and which do not."""

# ruff: noqa: F821  (raises is provided by the dual-run harness)
import torch

results = {}


def leaf():
    return torch.tensor([1.0, 2.0, 3.0], requires_grad=True)


def case_mul_both_need_grad():
    a = leaf()
    b = a * 1
    c = b * a
    b.mul_(2)
    c.sum().backward()


def case_mul_python_scalar():
    a = leaf()
    b = a * 1
    c = b * 3
    b.mul_(2)
    c.sum().backward()
    return a.grad.tolist()


def case_mul_constant_factor_modified():
    a = leaf()
    k = torch.tensor([1.0, 2.0, 3.0])
    c = a * k
    k.mul_(2)
    c.sum().backward()


def case_add_input_modified():
    a = leaf()
    b = a * 1
    e = b + a
    b.add_(1)
    e.sum().backward()
    return a.grad.tolist()


def case_sum_input_modified():
    a = leaf()
    b = a * 2
    s = b.sum()
    b.zero_()
    s.backward()
    return a.grad.tolist()


def case_pow_input_modified():
    a = leaf()
    b = a * 1
    p = b**2
    b.add_(1)
    p.sum().backward()


def case_exp_input_modified():
    a = leaf()
    b = a * 1
    e = b.exp()
    b.add_(1)
    e.sum().backward()
    return a.grad.tolist()


def case_relu_output_modified():
    a = leaf()
    r = (a - 2).relu()
    r.add_(1)
    r.sum().backward()


def case_matmul_only_constant_saved():
    a = leaf()
    m = a.reshape(1, 3) * 1
    out = m @ torch.ones(3, 2)
    m.mul_(2)
    out.sum().backward()
    return a.grad.tolist()


def case_matmul_input_saved_for_weight():
    a = leaf()
    w = torch.ones(3, 2, requires_grad=True)
    m = a.reshape(1, 3) * 1
    out = m @ w
    m.mul_(2)
    out.sum().backward()


def case_modified_after_backward():
    a = leaf()
    b = a * 1
    c = b * a
    c.sum().backward()
    b.mul_(2)
    return a.grad.tolist()


for name, case in list(globals().items()):
    if name.startswith("case_"):
        holder = {}
        results[name] = raises(lambda case=case, holder=holder: holder.update(out=case()))
        if holder.get("out") is not None:
            results[name + ".grad"] = holder["out"]
