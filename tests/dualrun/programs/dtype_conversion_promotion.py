"""dtypes: .float() .long() .to(), and promotion between tensors, python scalars and 0-d tensors."""

import numpy as np
import torch

results = {}


def dt(t):
    return str(t.dtype).replace("torch.", "")


f = torch.tensor([1.5, 2.5, -3.7])
i = torch.tensor([1, 2, 3])
results["default"] = dt(f)
results["default_int"] = dt(i)
results["get_default_dtype"] = str(torch.get_default_dtype()).replace("torch.", "")
results["float"] = dt(f.double().float())
results["double"] = dt(f.double())
results["long"] = f.long().tolist()
results["long.dtype"] = dt(f.long())
results["int"] = dt(f.int())
results["to_f64"] = dt(f.to(torch.float64))
results["to_kw"] = dt(f.to(dtype=torch.float64))
results["i.float"] = i.float().tolist()
results["bool"] = torch.tensor([0.0, 2.0]).bool().tolist()
results["type_long"] = dt(f.type(torch.int64))
results["half_back"] = f.half().float().tolist()
results["aliases"] = [
    torch.float32 == torch.float,
    torch.int64 == torch.long,
    torch.float64 == torch.double,
]
results["is_floating"] = [
    f.is_floating_point(),
    i.is_floating_point(),
    f.dtype.is_floating_point,
    i.dtype.is_floating_point,
]

results["f32*i64"] = dt(f * i)
results["f32*pyfloat"] = dt(f * 2.0)
results["i64*pyfloat"] = dt(i * 2.5)
results["i64*pyfloat_vals"] = (i * 2.5).tolist()
results["i64*pyint"] = dt(i * 2)
results["i64/pyint"] = dt(i / 2)
results["i64/pyint_vals"] = (i / 2).tolist()
results["i64//pyint"] = dt(i // 2)
results["i64+bool"] = dt(i + True)
results["f64*f32"] = dt(f.double() * f)
results["f32*0d_f64"] = dt(f * torch.tensor(2.0, dtype=torch.float64))
results["i64*0d_f64"] = dt(i * torch.tensor(2.0, dtype=torch.float64))
results["i32+i64"] = dt(i.int() + i)
results["i32+pyint"] = dt(i.int() + 5)
results["i32*pyfloat"] = dt(i.int() * 0.5)
results["f32+np_f64_scalar"] = dt(f + np.float64(1.0))
results["bool+bool"] = dt(torch.tensor([True]) + torch.tensor([True]))
results["i64.sum"] = dt(i.sum())
results["i32.sum"] = dt(i.int().sum())
results["f32.sum"] = dt(f.sum())
results["cmp"] = dt(f > 0)
results["bool.sum"] = dt((f > 0).sum())
results["i64.pow2"] = dt(i**2)
results["i64.sqrt"] = dt(torch.sqrt(i))
results["arange_float_end"] = dt(torch.arange(3.0))
results["tensor_np_f32"] = dt(torch.tensor(np.float32(1.0)))
results["tensor_np_i32"] = dt(torch.tensor(np.array([1], dtype=np.int32)))
results["numpy_dtype"] = str(f.numpy().dtype)
results["numpy_int_dtype"] = str(i.numpy().dtype)
