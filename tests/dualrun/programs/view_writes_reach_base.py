"""Views share storage: writes through view/slice/t()/row views reach the base; copies do not."""

import numpy as np
import torch

results = {}
x = torch.arange(6.0)
v = x.view(2, 3)
v[0, 0] = 5
results["view_2d_write"] = x.tolist()
flat = x.view(-1)
flat[1] = 7
results["view_flat_write"] = x.tolist()
s = x[2:4]
s += 10
results["slice_iadd"] = x.tolist()
x[4:].fill_(-1)
results["slice_fill_"] = x.tolist()
x.view(2, 3)[1].view(3, 1)[0, 0] = 8
results["view_of_view"] = x.tolist()
r = x.reshape(3, 2)
r[0, 0] = -5
results["reshape_contiguous_write"] = x.tolist()

m = torch.zeros(2, 3)
m.t()[0, 1] = 4
results["t_write"] = m.tolist()
row = m[0]
row += 1
results["row_view_iadd"] = m.tolist()
m[0][1] = 3
results["chained_setitem"] = m.tolist()
m[:, 1] = torch.tensor([1.0, 2.0])
m[1] = 9
m[..., -1] = -1
results["setitem_basic"] = m.tolist()
m.unsqueeze(0)[0, 1, 0] = 6
results["unsqueeze_write"] = m.tolist()
c = m.t().contiguous()
c[0, 0] = 99
results["contiguous_copy"] = m.tolist()
cl = m.clone()
cl.zero_()
results["clone_copy"] = m.tolist()

rng = np.random.default_rng(5)
a = torch.tensor(rng.normal(size=6), dtype=torch.float32)
a[a < 0] = 0
results["mask_set_scalar"] = a.numpy().copy()
mask = a > 0
a[mask] = torch.arange(int(mask.sum()), dtype=torch.float32)
results["mask_set_tensor"] = a.tolist()
a[[0, 2]] = 100
results["list_index_set"] = a.tolist()
a[torch.tensor([1, 3])] += 1
results["tensor_index_iadd"] = a.tolist()
picked = a[[0, 1]]
picked[0] = -50
results["advanced_read_is_copy"] = a.tolist()
masked = a[a > 0]
masked.zero_()
results["mask_read_is_copy"] = a.tolist()
d = a.detach()
d[5] = 3
results["detach_shares"] = a.tolist()
n = a.numpy()
n[4] = 42
results["numpy_shares"] = a.tolist()
