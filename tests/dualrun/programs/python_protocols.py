"""Python protocols on tensors: int/float/bool/len/iter/__index__/__contains__/format/f-strings."""

# ruff: noqa: F821  (raises is provided by the dual-run harness)
import operator

import numpy as np
import torch

results = {}
s = torch.tensor(3.14159)
i = torch.tensor(3)
v = torch.tensor([1.5, -2.0, 4.0])
m = torch.tensor([[1, 2], [3, 4], [5, 6]])

results["int"] = int(s)
results["float"] = float(i)
results["float_1elem"] = float(torch.tensor([2.5]))
results["int_1x1"] = int(torch.tensor([[7]]))
results["bool_zero"] = bool(torch.tensor(0.0))
results["bool_one_elem"] = bool(torch.tensor([2]))
results["bool_many"] = raises(lambda: bool(v))
results["if_all"] = "yes" if (v > -3).all() else "no"
results["not_any"] = not (v > 10).any()
results["len"] = [len(v), len(m)]
results["len_0d"] = raises(lambda: len(s))
results["iter_rows"] = [row.tolist() for row in m]
results["iter_items"] = [x.item() for x in v]
results["iter_elem_dim"] = [x.dim() for x in v]
results["list_len"] = len(list(m))
results["unpack"] = [t.tolist() for t in (lambda a, b, c: (c, a))(*v)]
results["range_index"] = list(range(i))
results["list_index"] = [10, 20, 30, 40][i]
results["operator_index"] = operator.index(i)
results["float_index"] = raises(lambda: list(range(torch.tensor(2.0))))
results["slice_with_tensors"] = list(range(10))[torch.tensor(2) : torch.tensor(5)]
results["contains"] = [4.0 in v, 7.0 in v]
results["fstring_item"] = f"{s.item():.3f}"
results["format_0d"] = format(s, ".2f")
results["fstring_0d"] = f"loss {s:.4f}"
results["str_item"] = str(i.item())
results["builtin_sum"] = sum(v).item()
results["builtin_max"] = max(torch.tensor(1.0), torch.tensor(5.0)).item()
results["builtin_sorted"] = [t.item() for t in sorted(v)]
results["abs_neg"] = [abs(v).tolist(), (-v).tolist()]
results["np_asarray"] = np.asarray(v).tolist()
results["np_array_dtype"] = str(np.array(m).dtype)
results["round_item"] = round(s.item(), 2)
results["truthy_scalar_compare"] = bool(s > 3)
results["eq_is_tensor"] = isinstance(v == v, torch.Tensor)
results["int_times_list"] = [0] * int(i)
