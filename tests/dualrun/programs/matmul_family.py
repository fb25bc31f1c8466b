"""matmul, @, mm, bmm, mv, dot with broadcasting, their gradients and their shape/dtype errors."""

# ruff: noqa: F821  (raises is provided by the dual-run harness)
import numpy as np
import torch

results = {}
rng = np.random.default_rng(1)
a_np = rng.normal(size=(2, 3))
b_np = rng.normal(size=(3, 4))
a = torch.tensor(a_np, dtype=torch.float32, requires_grad=True)
b = torch.tensor(b_np, dtype=torch.float32, requires_grad=True)
v = torch.tensor(rng.normal(size=3), dtype=torch.float32)

results["matmul"] = torch.matmul(a, b).detach().numpy()
results["at"] = (a @ b).detach().numpy()
results["mm"] = a.mm(b).detach().numpy()
results["torch_mm"] = torch.mm(a, b).detach().numpy()
results["mat_vec"] = (a @ v).detach().numpy()
results["vec_mat"] = (v @ b).detach().numpy()
results["mv"] = torch.mv(a, v).detach().numpy()
results["dot"] = torch.dot(v, v).item()
results["vec_vec.shape"] = list((v @ v).shape)

batch1 = torch.tensor(rng.normal(size=(5, 2, 3)), dtype=torch.float32)
batch2 = torch.tensor(rng.normal(size=(5, 3, 4)), dtype=torch.float32)
results["bmm"] = torch.bmm(batch1, batch2).numpy()
results["batched_matmul"] = (batch1 @ batch2).numpy()
results["broadcast_matmul"] = (batch1 @ b.detach()).numpy()
results["broadcast_matmul.shape"] = list(torch.matmul(batch1, batch2[0]).shape)

loss = (a @ b).pow(2).sum()
loss.backward()
results["a.grad"] = a.grad.numpy()
results["b.grad"] = b.grad.numpy()
w = torch.tensor(rng.normal(size=(3, 4)), dtype=torch.float32, requires_grad=True)
(batch1 @ w).sum().backward()
results["w.grad_broadcast"] = w.grad.numpy()

ints = torch.tensor([[1, 2], [3, 4]])
results["int_matmul"] = (ints @ ints).tolist()
results["int_matmul.dtype"] = str((ints @ ints).dtype).replace("torch.", "")
results["mm_1d"] = raises(lambda: torch.mm(v, v))
results["shape_mismatch"] = raises(lambda: a @ a)
results["dtype_mismatch"] = raises(lambda: a.detach().double() @ b.detach())
results["bmm_2d"] = raises(lambda: torch.bmm(a, b))
