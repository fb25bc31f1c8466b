"""Creation (tensor, zeros, ones, arange, linspace, eye, full, *_like, from_numpy) and sizes."""

import numpy as np
import torch

results = {}


def describe(name, t):
    results[name] = t.tolist()
    results[name + ".dtype"] = str(t.dtype).replace("torch.", "")
    results[name + ".shape"] = list(t.shape)


describe("tensor_floats", torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
describe("tensor_ints", torch.tensor([1, 2, 3]))
describe("tensor_mixed", torch.tensor([1, 2.5]))
describe("tensor_bools", torch.tensor([True, False]))
describe("tensor_scalar", torch.tensor(3.5))
describe("tensor_f64", torch.tensor([1.0, 2.0], dtype=torch.float64))
describe("zeros", torch.zeros(2, 3))
describe("zeros_tuple", torch.zeros((3, 2)))
describe("ones_int", torch.ones(2, 2, dtype=torch.int64))
describe("arange_end", torch.arange(5))
describe("arange_step", torch.arange(1, 10, 3))
describe("arange_float", torch.arange(0.0, 1.0, 0.25))
describe("linspace", torch.linspace(0, 1, steps=5))
describe("eye", torch.eye(3))
describe("eye_rect", torch.eye(2, 3))
describe("full", torch.full((2, 2), 7.0))
describe("full_int", torch.full((2,), 7))
base = torch.tensor([[1, 2, 3]], dtype=torch.float64)
describe("zeros_like", torch.zeros_like(base))
describe("ones_like", torch.ones_like(base))
describe("full_like", torch.full_like(base, 2))
describe("ones_like_int", torch.ones_like(torch.tensor([4, 5])))
results["empty.shape"] = list(torch.empty(2, 3).shape)

arr = np.arange(6, dtype=np.float32).reshape(2, 3)
t = torch.from_numpy(arr)
describe("from_numpy", t)
arr[0, 0] = 100.0  # from_numpy shares memory with the array
results["from_numpy_shares"] = t[0, 0].item()
copied = torch.tensor(arr)
arr[0, 1] = -1.0  # torch.tensor copies
results["tensor_copies"] = copied[0, 1].item()
describe("from_numpy_int32", torch.from_numpy(np.array([1, 2], dtype=np.int32)))
describe("tensor_of_f64_array", torch.tensor(np.array([1.5, 2.5])))
describe("as_tensor_f32", torch.as_tensor(np.array([1.5, 2.5]), dtype=torch.float32))

results["size"] = list(t.size())
results["size(1)"] = t.size(1)
results["size(-1)"] = t.size(-1)
results["shape[0]"] = t.shape[0]
results["dim"] = t.dim()
results["ndim"] = t.ndim
results["numel"] = t.numel()
results["size_is_tuple"] = isinstance(t.size(), tuple)
results["shape_eq_tuple"] = t.shape == (2, 3)
results["scalar_dim"] = torch.tensor(2.0).dim()
results["scalar_numel"] = torch.tensor(2.0).numel()
results["is_tensor"] = torch.is_tensor(t)
