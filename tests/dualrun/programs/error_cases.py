"""Same errors: shape, index, dtype and autograd misuse raise the same exception family."""

# ruff: noqa: F821  (raises is provided by the dual-run harness)
import torch
import torch.nn as nn

results = {}
a = torch.ones(2, 3)
g = torch.ones(3, requires_grad=True)
cases = {
    "broadcast_mismatch": lambda: a + torch.ones(3, 2),
    "matmul_mismatch": lambda: a @ a,
    "index_out_of_range": lambda: torch.ones(3)[5],
    "index_2d_out_of_range": lambda: a[0, 3],
    "too_many_indices": lambda: a[0, 0, 0],
    "index_0d": lambda: torch.tensor(1.0)[0],
    "float_index_tensor": lambda: a[torch.tensor([0.5])],
    "view_bad_numel": lambda: torch.ones(3).view(2, 2),
    "reshape_bad": lambda: torch.ones(3, 4).reshape(5, -1),
    "two_minus_ones": lambda: torch.ones(4).view(-1, -1),
    "int_requires_grad": lambda: torch.tensor([1, 2]).requires_grad_(),
    "int_requires_grad_ctor": lambda: torch.tensor([1, 2], requires_grad=True),
    "item_many": lambda: torch.tensor([1.0, 2.0]).item(),
    "bool_many": lambda: bool(torch.tensor([1.0, 2.0])),
    "backward_nonscalar": lambda: (g * 2).backward(),
    "backward_no_grad": lambda: torch.ones(2).sum().backward(),
    "numpy_requires_grad": lambda: g.numpy(),
    "cat_mismatch": lambda: torch.cat([a, torch.ones(3, 2)]),
    "stack_mismatch": lambda: torch.stack([torch.ones(2), torch.ones(3)]),
    "sum_bad_dim": lambda: a.sum(dim=2),
    "squeeze_bad_dim": lambda: a.squeeze(3),
    "transpose_bad_dim": lambda: a.transpose(0, 2),
    "t_3d": lambda: torch.ones(2, 2, 2).t(),
    "ragged": lambda: torch.tensor([[1, 2], [3]]),
    "linear_in_features": lambda: nn.Linear(3, 2)(torch.ones(4, 5)),
    "len_0d": lambda: len(torch.tensor(1.0)),
    "int_mean": lambda: torch.tensor([1, 2]).mean(),
    "int_floordiv_zero": lambda: torch.tensor([1]) // 0,
    "float_div_zero": lambda: torch.tensor([1.0]) / 0,
    "matmul_dtype": lambda: torch.ones(2, 2, dtype=torch.float64) @ torch.ones(2, 2),
    "add_dtype_promotes": lambda: torch.ones(3) + torch.ones(3, dtype=torch.float64),
    "cross_entropy_float_target_shape": lambda: nn.functional.cross_entropy(
        torch.ones(4, 3), torch.ones(4)
    ),
    "cross_entropy_bad_class": lambda: nn.functional.cross_entropy(
        torch.ones(2, 3), torch.tensor([0, 3])
    ),
    "mse_fine_broadcast_shapes": lambda: nn.functional.mse_loss(torch.ones(4), torch.ones(4)),
    "grad_of_nonscalar_autograd": lambda: torch.autograd.grad(g * 2, g),
    "optimizer_empty": lambda: torch.optim.SGD([], lr=0.1),
    "optimizer_negative_lr": lambda: torch.optim.SGD([g], lr=-1.0),
    "expand_bad": lambda: torch.ones(2, 3).expand(3, 3),
    "gather_bad_index": lambda: torch.ones(2, 2).gather(1, torch.tensor([[0, 2]])),
}
for name, fn in cases.items():
    results[name] = raises(fn)
